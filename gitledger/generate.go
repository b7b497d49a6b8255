package gitledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"

	"github.com/vmc-git/vmc-git/internal/gitobj"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	Summary  string           // summary of every receipt; "generated" if empty
	Now      func() time.Time // the clock; time.Now if nil
	Progress func(done, total int)
}

// Generate appends n manual receipts signed by s as kid to an existing
// ledger, for benchmarks and load tests. Each receipt, tree and commit is
// byte for byte what Append writes with the same clock, but all objects go
// into one packfile (trees delta-compressed against their previous
// version), written and fsynced once, and the ref moves once at the end.
// Until then nothing is visible; if the branch moved meanwhile, Generate
// returns ErrConflict and the pack is left unreferenced.
//
// It returns the last receipt written. Only manual receipts are generated:
// apply receipts would need the plans/ tree of a commit still in the pack.
//
// The pack is not what a git server serves: it has no reachability bitmap,
// and only trees are deltified (against the previous commit's), where git's
// own delta search also finds deltas between neighbouring commits, receipts
// and signatures (125 MB instead of 163 MB at 100k receipts). A server gets
// those from its gc, since pushed objects reach it loose or in the pusher's
// pack; bench/ledger times clones from a copy with the serving config of
// `vmc-git hook install` (hooks.ServeConfig) after `git repack -a -d -f`,
// README "Serving a large ledger".
func Generate(l *Ledger, s *keys.Signer, kid string, n int, opt GenerateOptions) (*Written, error) {
	if n <= 0 {
		return nil, fmt.Errorf("generate %d receipts: want at least one", n)
	}
	if opt.Summary == "" {
		opt.Summary = "generated"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	start, err := l.Tip()
	if err != nil {
		return nil, err
	}
	pw, err := gitobj.NewPackWriter(l.objs.ObjectsDir)
	if err != nil {
		return nil, err
	}
	defer pw.Abort()
	build := func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: opt.Summary, Manual: &receipt.Manual{}}}, nil
	}
	tip := start
	var w *Written
	for i := 0; i < n; i++ {
		if w, tip, err = l.writeReceipt(tip, s, kid, build, opt.Now(), pw.Put); err != nil {
			return nil, err
		}
		if opt.Progress != nil && (i%1000 == 999 || i == n-1) {
			opt.Progress(i+1, n)
		}
	}
	if _, err := pw.Finish(); err != nil {
		return nil, fmt.Errorf("write pack: %w", err)
	}
	l.objs.Reindex()
	if err := l.casRef(start.Commit, w.Commit); err != nil {
		if errors.Is(err, errRaced) {
			return nil, ErrConflict
		}
		return nil, err
	}
	return w, nil
}
