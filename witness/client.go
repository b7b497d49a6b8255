package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/merkle"
)

// Client bounds.
const (
	// DefaultTimeout bounds one add-checkpoint call, connection included.
	DefaultTimeout = 10 * time.Second
	// MaxResponse bounds the body read from a witness.
	MaxResponse = 16 << 10
	// maxCosigLines bounds the cosignature lines accepted in one answer.
	maxCosigLines = 16
)

// Client talks to witnesses. The zero value is ready: http.DefaultTransport
// and DefaultTimeout per call.
type Client struct {
	HTTP    *http.Client  // nil: a client on http.DefaultTransport
	Timeout time.Duration // per call; 0: DefaultTimeout
}

// ConflictError is a 409 answer: the witness's latest cosigned checkpoint
// for the origin has Size (which is not the old size sent, or is the same
// size with another root).
type ConflictError struct {
	Witness string
	Size    uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness %s: 409 conflict: its latest cosigned checkpoint has size %d", e.Witness, e.Size)
}

// StatusError is any other non-200 answer.
type StatusError struct {
	Witness string
	Code    int
	Body    string // the first line, clipped
}

func (e *StatusError) Error() string {
	hint := map[int]string{
		http.StatusBadRequest:          "the request was malformed",
		http.StatusForbidden:           "the witness does not know this log or its key (register the origin and the snapshot signers' keys with the witness)",
		http.StatusNotFound:            "the witness does not know this origin",
		http.StatusUnprocessableEntity: "the consistency proof does not verify against what the witness has seen: a fork",
	}[e.Code]
	s := fmt.Sprintf("witness %s: HTTP %d", e.Witness, e.Code)
	if hint != "" {
		s += ": " + hint
	}
	if e.Body != "" {
		s += fmt.Sprintf(" (%q)", e.Body)
	}
	return s
}

// ErrGarbage is wrapped for a 200 or 409 answer that does not follow the
// protocol.
var ErrGarbage = errors.New("answer does not follow c2sp.org/tlog-witness")

// AddCheckpointBody returns the request body: the old size line, the proof
// lines, a blank line and the signed checkpoint note.
func AddCheckpointBody(oldSize uint64, proof []merkle.Hash, signed []byte) ([]byte, error) {
	if len(proof) > MaxProofLines {
		return nil, fmt.Errorf("add-checkpoint: %d proof hashes, at most %d", len(proof), MaxProofLines)
	}
	if oldSize == 0 && len(proof) > 0 {
		return nil, errors.New("add-checkpoint: a proof from size 0 must be empty")
	}
	var b bytes.Buffer
	b.WriteString("old ")
	b.WriteString(strconv.FormatUint(oldSize, 10))
	b.WriteByte('\n')
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(signed)
	return b.Bytes(), nil
}

// AddCheckpoint submits signed (a signed checkpoint note) to w with the
// witness's old size and a consistency proof from it. On 200 it returns the
// answer's signature lines as they came (each "— name base64\n"), checked
// for form only: the caller verifies them (Check). A 409 is a
// *ConflictError, any other status a *StatusError. The call is bounded by
// the client's timeout and the context, the answer by MaxResponse.
func (c *Client) AddCheckpoint(ctx context.Context, w Witness, oldSize uint64, proof []merkle.Hash, signed []byte) ([]byte, error) {
	body, err := AddCheckpointBody(oldSize, proof, signed)
	if err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+AddCheckpointPath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("witness %s: no answer within %s: %w", w.Name, timeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("witness %s: answer not complete within %s: %w", w.Name, timeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("witness %s: reading the answer: %w", w.Name, err)
	}
	if len(data) > MaxResponse {
		return nil, fmt.Errorf("witness %s: answer longer than %d bytes: %w", w.Name, MaxResponse, ErrGarbage)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := checkSigLines(data); err != nil {
			return nil, fmt.Errorf("witness %s: %v: %w", w.Name, err, ErrGarbage)
		}
		return data, nil
	case http.StatusConflict:
		size, err := parseSizeAnswer(resp.Header.Get("Content-Type"), data)
		if err != nil {
			return nil, fmt.Errorf("witness %s: 409: %v: %w", w.Name, err, ErrGarbage)
		}
		return nil, &ConflictError{Witness: w.Name, Size: size}
	default:
		line, _, _ := strings.Cut(string(data), "\n")
		return nil, &StatusError{Witness: w.Name, Code: resp.StatusCode, Body: clip(strings.TrimSpace(line))}
	}
}

// checkSigLines checks the form of a 200 body: 1 to maxCosigLines lines,
// each "— <name> <base64>\n".
func checkSigLines(data []byte) error {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return errors.New("200 without newline-terminated signature lines")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	if len(lines) > maxCosigLines {
		return fmt.Errorf("%d signature lines, at most %d", len(lines), maxCosigLines)
	}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "— ")
		name, b64, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 || ValidName(name) != nil {
			return fmt.Errorf("line %q is not a signature line", clip(l))
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(raw) < 5 {
			return fmt.Errorf("line %q: bad base64 signature", clip(l))
		}
	}
	return nil
}

// parseSizeAnswer parses a 409 body: a decimal size and a newline, with
// Content-Type text/x.tlog.size.
func parseSizeAnswer(ctype string, data []byte) (uint64, error) {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil || mt != ContentTypeSize {
		return 0, fmt.Errorf("Content-Type %q, want %s", clip(ctype), ContentTypeSize)
	}
	s, ok := strings.CutSuffix(string(data), "\n")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("body %q is not a size", clip(string(data)))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("body %q is not a size", clip(string(data)))
	}
	return n, nil
}
