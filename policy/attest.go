package policy

import (
	"encoding/json"
	"fmt"

	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
)

// PredicateType is the predicateType of a policy check attestation.
const PredicateType = "https://vmc-git.dev/attestation/policy-check/v1"

// InputSubject names the subject of an input that holds no resource (a
// Statement needs at least one subject).
const InputSubject = "input"

// Predicate is a policy check attestation's predicate.
type Predicate struct {
	Policy struct {
		Blake3 digest.Digest `json:"blake3"`
		Files  []string      `json:"files"`
		// Pin is the bundle the ledger's trust state pinned when the
		// check ran (a blake3 in hex, or "none"; absent in a ledger made
		// before pins), and Pinned whether Blake3 is that pin: a check
		// of a policy no admin pinned says so.
		Pin    string `json:"pin,omitempty"`
		Pinned bool   `json:"pinned"`
	} `json:"policy"`
	Input struct {
		V      int           `json:"v"`
		Source string        `json:"source"`
		Plan   string        `json:"plan,omitempty"`
		Blake3 digest.Digest `json:"blake3"`
		SHA256 digest.Digest `json:"sha256"`
	} `json:"input"`
	Result struct {
		Pass bool      `json:"pass"`
		Deny []Finding `json:"deny"`
		Warn []Finding `json:"warn"`
	} `json:"result"`
}

// Statement returns the canonical JSON of the in-toto Statement v1 that
// attests res: bundle b evaluated over doc (see the package doc), under
// the trust state's policy pin (keys.Policy.PolicyBundle: "" for none
// known). It validates with the in-toto library before it is returned.
func Statement(b *Bundle, pin string, doc *Document, res *Result) ([]byte, error) {
	raw, err := doc.Encode()
	if err != nil {
		return nil, err
	}
	subs, err := doc.Subjects()
	if err != nil {
		return nil, err
	}
	in := digest.Of(raw)
	if len(subs) == 0 {
		subs = []Subject{{InputSubject, in}}
	}
	var p Predicate
	p.Policy.Blake3, p.Policy.Files = b.Blake3(), b.Names()
	p.Policy.Pin, p.Policy.Pinned = pin, pin == p.Policy.Blake3.String()
	p.Input.V, p.Input.Source, p.Input.Plan, p.Input.Blake3, p.Input.SHA256 = doc.V, doc.Source, doc.Plan, in.Blake3, in.SHA256
	p.Result.Pass, p.Result.Deny, p.Result.Warn = res.Pass(), res.Deny, res.Warn
	return NewStatement(subs, PredicateType, p)
}

// NewStatement returns the canonical JSON of an in-toto Statement v1 with
// these subjects (their sha256 and blake3), predicateType and predicate (a
// value that encodes as a JSON object), validated with the in-toto library.
func NewStatement(subs []Subject, predicateType string, predicate any) ([]byte, error) {
	pj, err := json.Marshal(predicate)
	if err != nil {
		return nil, err
	}
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(pj, pred); err != nil {
		return nil, fmt.Errorf("attestation predicate: %w", err)
	}
	st := &ita.Statement{Type: ita.StatementTypeUri, PredicateType: predicateType, Predicate: pred}
	for _, s := range subs {
		st.Subject = append(st.Subject, &ita.ResourceDescriptor{Name: s.Name, Digest: map[string]string{
			"sha256": s.Sums.SHA256.String(), "blake3": s.Sums.Blake3.String()}})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("attestation: %w", err)
	}
	out, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	return canon.Canonicalize(out)
}

// ParseStatement decodes an attestation's in-toto Statement with the
// in-toto library and validates it.
func ParseStatement(b []byte) (*ita.Statement, error) {
	st := &ita.Statement{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	return st, nil
}
