package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// validateAnchor checks the shape of an anchor body: an object with exactly
// statement (object), signature (string), substrate (string) and proof
// (object). Package anchor defines and verifies their content.
func validateAnchor(b json.RawMessage) error {
	var a struct {
		Statement json.RawMessage `json:"statement"`
		Signature *string         `json:"signature"`
		Substrate *string         `json:"substrate"`
		Proof     json.RawMessage `json:"proof"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("not an anchor body: %v", err)
	}
	switch {
	case len(a.Statement) == 0 || a.Statement[0] != '{':
		return errors.New("statement must be an object")
	case len(a.Proof) == 0 || a.Proof[0] != '{':
		return errors.New("proof must be an object")
	case a.Signature == nil || *a.Signature == "":
		return errors.New("no signature")
	case a.Substrate == nil || *a.Substrate == "":
		return errors.New("no substrate")
	}
	return nil
}
