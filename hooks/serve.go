package hooks

// Serving a ledger: the git configuration `vmc-git hook install` sets in a
// server's bare repository (workspace.ApplyServeConfig), so that the
// server's own maintenance (git gc: by hand, from cron, Gitea's "garbage
// collect all repositories", or receive.autogc after pushes) leaves packs
// that a clone of a long ledger reads cheaply.
//
// Where a clone's time goes (bench/ledger, 100k receipts, 1M objects: 600k
// trees, 300k blobs, 100k commits, 393 MB of object bytes, git 2.39):
//   - the serving side (pack-objects) without a bitmap walks every commit
//     and tree to list what to send: about 6.5 s of CPU and 523 MB; with a
//     reachability bitmap it reads the list from the bitmap: 0.6 s and
//     164 MB (after git repack -a -d -f; 200 MB on top of Generate's
//     deltas, a pack 30% larger);
//   - the client side (index-pack --check-self-contained-and-connected)
//     inflates and hashes every object and parses every tree and commit
//     (that check is what spares the clone a connectivity walk afterwards):
//     7 to 10 s of CPU, whatever the server does, except for the pack's
//     bytes and delta chains, which the server's delta search decides.

// ConfigSetting is one git configuration value for a serving repository.
type ConfigSetting struct {
	Key, Value string
	Why        string // one line: what it changes for a clone or a fetch
}

// ServeConfig is what `vmc-git hook install` sets in a bare repository's own
// config (only the keys that config does not set already: an
// administrator's value stays).
var ServeConfig = []ConfigSetting{
	{"repack.writeBitmaps", "true",
		"git gc and git repack -a write a reachability bitmap: a clone's pack-objects reads what to send from it instead of walking every commit and tree (serving side of a 100k clone: 6.5 s of CPU and 523 MB without, 0.6 s and 164 MB with)"},
	{"pack.writeBitmapHashCache", "true",
		"the bitmap carries name hashes, so that fetches on top of it still find good deltas"},
	{"gc.writeCommitGraph", "true",
		"git gc writes the commit-graph: incremental fetches negotiate and walk commits without inflating them"},
}
