package anchor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

// Tag is the 4 bytes before the digest in a transaction payload (eth
// calldata, btc OP_RETURN data): "vmc1".
var Tag = [4]byte{'v', 'm', 'c', '1'}

// PayloadSize is len(Payload(d)).
const PayloadSize = len(Tag) + 32

// Payload returns Tag followed by the digest.
func Payload(d [32]byte) []byte { return append(Tag[:], d[:]...) }

// MaxProof bounds a substrate proof, in bytes.
const MaxProof = 1 << 20

// Body is the body of an anchor receipt (see the package doc).
type Body struct {
	Statement json.RawMessage `json:"statement"`
	Signature string          `json:"signature"`
	Substrate string          `json:"substrate"`
	Proof     json.RawMessage `json:"proof"`
}

var substrateRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// NewBody builds a body from a statement's bytes, its signature and a proof.
// The result is what a receipt's anchor member holds.
func NewBody(stmt, sig []byte, substrate string, proof json.RawMessage) (json.RawMessage, error) {
	p, err := canon.Canonicalize(proof)
	if err != nil {
		return nil, fmt.Errorf("anchor proof: %w", err)
	}
	b, err := canon.Marshal(Body{Statement: stmt, Signature: string(sig), Substrate: substrate, Proof: p})
	if err != nil {
		return nil, err
	}
	if _, err := ParseBody(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseBody decodes an anchor body strictly (canonical, no unknown members,
// bounded proof).
func ParseBody(b []byte) (*Body, error) {
	if len(b) > MaxProof+64<<10 {
		return nil, fmt.Errorf("anchor body: %d bytes, at most %d", len(b), MaxProof+64<<10)
	}
	var body Body
	if err := canon.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("anchor body: %w", err)
	}
	switch {
	case !substrateRE.MatchString(body.Substrate):
		return nil, fmt.Errorf("anchor body: substrate %q: want a short lower-case name such as rfc3161", body.Substrate)
	case len(body.Statement) == 0 || body.Statement[0] != '{':
		return nil, errors.New("anchor body: statement must be an object")
	case len(body.Proof) == 0 || body.Proof[0] != '{':
		return nil, errors.New("anchor body: proof must be an object")
	case len(body.Proof) > MaxProof:
		return nil, fmt.Errorf("anchor body: proof of %d bytes, at most %d", len(body.Proof), MaxProof)
	case body.Signature == "":
		return nil, errors.New("anchor body: no signature")
	}
	return &body, nil
}

// Evidence is what a substrate proof shows: where the digest is and from
// when.
type Evidence struct {
	Substrate string    `json:"substrate"`
	Time      time.Time `json:"time"`  // TSA genTime, or the block's timestamp
	Where     string    `json:"where"` // TSA name, or chain and transaction
	Block     uint64    `json:"block,omitempty"`
}

// Verifier checks stored proofs of one substrate. Verify must work offline:
// it checks that proof commits to digest using only proof (and the
// verifier's own configuration, such as trusted roots), and returns what the
// proof shows. Each failure names its cause.
type Verifier interface {
	Substrate() string
	Verify(proof json.RawMessage, digest [32]byte) (*Evidence, error)
}

// Anchorer commits a digest to its substrate and returns the proof, once it
// is final enough for its substrate (a token checked against its trust
// roots, a transaction with its confirmations). Anchor may block; ctx bounds
// it.
type Anchorer interface {
	Substrate() string
	Anchor(ctx context.Context, digest [32]byte) (json.RawMessage, error)
}

// LiveChecker checks a proof against a live endpoint, beyond what Verify
// shows offline (the block is on the node's best chain with enough
// confirmations).
type LiveChecker interface {
	CheckLive(ctx context.Context, proof json.RawMessage) error
}

var (
	regMu    sync.RWMutex
	registry = map[string]Verifier{}
)

// Register makes v the default verifier of its substrate. Sub-packages call
// it from init; a second registration of a name panics.
func Register(v Verifier) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[v.Substrate()]; dup {
		panic("anchor: substrate " + v.Substrate() + " registered twice")
	}
	registry[v.Substrate()] = v
}

// Substrates lists the registered substrate names, sorted.
func Substrates() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RootFunc returns the ledger's Merkle root over its first size receipts and
// the blake3 of receipt size-1.
type RootFunc func(size uint64) (merkle.Hash, digest.Digest, error)

// Options control CheckBody.
type Options struct {
	// Verifiers override the registered ones by substrate name (for example
	// an rfc3161 verifier with the caller's own trusted roots).
	Verifiers map[string]Verifier
}

// Checked is a verified anchor body.
type Checked struct {
	Statement *Statement `json:"statement"`
	Digest    string     `json:"digest"` // hex SHA-256 of the statement bytes
	Substrate string     `json:"substrate"`
	Evidence  *Evidence  `json:"evidence"`
}

// ErrUnknownSubstrate is a proof of a substrate this binary has no verifier for.
var ErrUnknownSubstrate = errors.New("no verifier for this substrate in this build")

// CheckBody verifies the anchor body of receipt seq of ledger, signed by
// signer (see the package doc for the order of the checks).
func CheckBody(raw []byte, ledger string, seq uint64, signer ssh.PublicKey, rootAt RootFunc, opt *Options) (*Checked, error) {
	b, err := ParseBody(raw)
	if err != nil {
		return nil, err
	}
	st, err := Parse(b.Statement)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b.Statement, mustEncode(st)) {
		return nil, errors.New("anchor statement: not in canonical form")
	}
	if st.Ledger != ledger {
		return nil, fmt.Errorf("anchor statement: for ledger %q, this is %q", st.Ledger, ledger)
	}
	if st.LeafCount > seq {
		return nil, fmt.Errorf("anchor statement: covers %d receipts, but the anchor receipt is receipt %d (a statement covers only receipts before it)", st.LeafCount, seq)
	}
	if err := keys.Verify(signer, keys.NamespaceAnchor, b.Statement, []byte(b.Signature)); err != nil {
		return nil, fmt.Errorf("anchor statement: signature (namespace %s) by the receipt's key: %w (was the statement altered after it was signed?)", keys.NamespaceAnchor, err)
	}
	root, head, err := rootAt(st.LeafCount)
	if err != nil {
		return nil, fmt.Errorf("anchor statement: %w", err)
	}
	if st.Root != root {
		return nil, fmt.Errorf("anchor statement: root %s is not the ledger's root %s at size %d", st.Root, root, st.LeafCount)
	}
	if st.HeadBlake3 != head {
		return nil, fmt.Errorf("anchor statement: head_blake3 %s is not the blake3 %s of receipt %d", st.HeadBlake3, head, st.LeafCount-1)
	}
	v := lookup(b.Substrate, opt)
	if v == nil {
		return nil, fmt.Errorf("anchor substrate %q: %w (known: %v)", b.Substrate, ErrUnknownSubstrate, Substrates())
	}
	d := Digest(b.Statement)
	ev, err := v.Verify(b.Proof, d)
	if err != nil {
		return nil, fmt.Errorf("anchor %s proof: %w", b.Substrate, err)
	}
	return &Checked{Statement: st, Digest: fmt.Sprintf("%x", d), Substrate: b.Substrate, Evidence: ev}, nil
}

func lookup(name string, opt *Options) Verifier {
	if opt != nil {
		if v, ok := opt.Verifiers[name]; ok {
			return v
		}
	}
	regMu.RLock()
	defer regMu.RUnlock()
	return registry[name]
}

func mustEncode(st *Statement) []byte {
	b, err := st.Encode()
	if err != nil {
		return nil
	}
	return b
}
