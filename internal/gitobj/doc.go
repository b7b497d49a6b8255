// Package gitobj is vmc-git's own access to git's object database: what the
// ledger writer, its verifier and the pre-receive hook read and write
// without going through go-git's slower general-purpose paths.
//
// It owns:
//
//   - Store: loose objects (zlib, "<type> <size>\x00<content>", fsynced and
//     renamed into objects/xx/yyyy… before any ref can point at them) and
//     packfiles (version 2 packs and .idx files, offset and ref deltas, a
//     bounded delta depth and object size), with go-git as the fallback for
//     anything else (alternates). AddQuarantine adds git's pre-receive
//     object quarantine.
//   - PackBatch: the objects of one commit as one small pack and its index
//     (both fsynced at once, renamed into place, the directory fsynced)
//     before CASRefAfter moves the ref: two files to make durable, not
//     one per object and its directory. Every MergeFanIn packs of a level
//     that the Store wrote ride in the next batch's pack and are removed
//     once it is durable, so a run leaves O(log n) packs (packmerge.go).
//     What ledger appends write.
//   - PackWriter: one new pack for a batch of objects (trees stored as
//     deltas against recent trees), visible only once Finish has written and
//     fsynced the pack and its index.
//   - The tree codec: EncodeTree and the strict ParseTree of ledger trees
//     (modes 100644 and 40000 only, git's order, unique names, no path-like
//     names), and ParseAnyTree for trees of any content (main-branch trees),
//     which checks only the framing.
//   - The commit codec: CommitInfo.Encode writes the exact commit bytes the
//     ledger uses (and the payload its SSHSIG covers); ParseCommitHeaders
//     reads tree, parents and gpgsig back for a byte-for-byte comparison.
//   - CASRef: a compare-and-swap ref update with git's lock-file protocol,
//     so concurrent writers (vmc-git or git) never both win.
//
// Every object read from a repository is bounded and validated here before
// a caller sees it: anyone who can push is assumed hostile. The ledger
// format itself (layout, receipts, rules) is package gitledger's.
package gitobj
