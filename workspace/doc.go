// Package workspace holds every use case of vmc-git: a ledger repository as
// its operator uses it, opened once (Open: work tree root, .vmc/config.json,
// the ledger branch, and on first use the provider), with one function per
// use case. It takes values and returns values and typed errors (*Error with
// a Kind and hints); it never prints, prompts or exits. The CLI
// (cmd/vmc-git) and any other shell (an MCP server) parse their input, call
// one of these, and format the result.
//
// The use cases, what each reads, writes and refuses:
//
//	Init         reads  Dir (git init if it is not a repository)
//	             writes the genesis receipt on the ledger branch, then
//	                    .vmc/config.json (pinning the genesis) and the caller
//	                    workflows, committed on the main branch
//	             refuses an invalid ledger id (usage); a repository with a
//	                    config or a ledger branch (refused)
//	Sync         reads  refs/remotes/origin/<ledger branch>
//	             writes the local ledger branch, only when it is missing
//	Record       reads  the ledger tip
//	             writes one manual receipt (break-glass)
//	             refuses a bad summary (usage); a signer without the role,
//	                    a writer that keeps losing the race (refused)
//	MakePlan     reads  the ledger head; every server the actions touch, from
//	                    the provider
//	             writes the plan file (create-only)
//	             refuses a dry run that cannot work (refused); an invalid
//	                    action (usage); an existing plan file (refused)
//	Approve      reads  the plan file; the trust state at the ledger head
//	             writes <id>.approvals/<kid>.sig beside the plan
//	             refuses a key that would not count as an approver (refused)
//	Status       reads  a plan file, its approvals, the trust state, the
//	                    ledger's plans/ (applied?)
//	ApplyPlan,   reads  the plan (file, or every plan on the main branch
//	ApplyPending        without a receipt), its approvals, the ledger (verified
//	                    first), the provider; with Push the remote
//	             writes intents under .git/vmc/intents, provider actions,
//	                    one apply receipt per plan; with Push the remote's
//	                    lock refs and ledger branch
//	             refuses per plan (in the errors list, not err): unapproved,
//	                    stale, already applied, withdrawn
//	                    (apply.WithdrawnError), other ledger, lock held;
//	                    ApplyError gives those errors their one kind and
//	                    hint for every shell (hints.go), OutcomeError a
//	                    receipt that did not succeed
//	Review       reads  git diff base...head under plans/, the plans and
//	                    approvals at head, the trust state, the provider
//	             writes nothing
//	             reports broken rules as Violations (a changed or deleted
//	                    merged plan, a non-plan file, an approval changed,
//	                    a new approval or override the hook refuses for
//	                    its signature: hooks.CheckApprovalSigner and
//	                    CheckOverrideSigner, each file by name)
//	ProposeTrust reads  the ledger head and trust state
//	             writes nothing (WriteChange writes the proposal file)
//	             refuses a malformed change (usage); one that does not apply
//	                    to the trust state (refused); rotating an unknown key
//	                    (not found)
//	CosignTrust  reads  the proposal, the ledger head
//	             writes the signature into the proposal (WriteChange)
//	             refuses a proposal for another head; a key that is not a
//	                    trusted admin (refused)
//	ApplyTrust,  reads  the proposal and the ledger head
//	ChangeTrust  writes one keys receipt (ChangeTrust: propose, co-sign and
//	                    apply in one step, admin_threshold 1 only)
//	             refuses another head; too few admin co-signatures (refused)
//	PolicyPin    reads  policy/*.rego at a revision, the pin at the tip
//	             (read only: whether apply judges with that bundle)
//	PolicyPinChange  the TrustChange (op policy_bundle) that pins a
//	             revision's bundle, for ChangeTrust or ProposeTrust
//	             refuses a bundle that does not compile (invalid); one
//	                    pinned already (refused)
//	Snapshot     reads  the receipts
//	             writes with tag the signed tag vmc/merkle/<N>
//	             refuses anything that fails (refused)
//	PublishSnapshot  Snapshot under the witness policy; with Push, Sync
//	             (pushed) first and the tag pushed (create-only) after
//	             refuses Push without Tag (usage); a tag on the remote (refused)
//	ProveInclusion, ProveConsistency: reads the tree of the receipts;
//	             refuses a seq or size past the ledger (not found)
//	CheckProof   reads  only its arguments (no repository): an inclusion
//	             proof, the receipt, a signed checkpoint, witness keys
//	             refuses a bad key (usage); any check that fails (invalid)
//	InstallHook  reads  the repository (bare or not), its config at HEAD
//	             writes hooks/pre-receive (bare) or .git/hooks/pre-push
//	             refuses to replace a hook vmc-git did not write (refused)
//	CheckPush    reads  the pushed refs and objects (git's quarantine)
//	             refuses every update that breaks a rule (invalid)
//	Follow       reads  refs/remotes/<remote>/<ledger branch> (what git fetch
//	                    or git pull brought)
//	             writes the local ledger branch, fast-forwarded to it once
//	                    the new receipts verify from the remembered head
//	             refuses a remote ledger that does not verify (invalid;
//	                    nothing moves)
//	Sync         reads  the remote's ledger and main branches (git fetch)
//	             writes the local ledger: fast-forwarded (verified), or the
//	                    operator's own unpushed receipts re-written on top of
//	                    the remote's (new seq, re-signed, same content); with
//	                    Push the remote's ledger branch (compare-and-swap)
//	             refuses others' unpushed receipts, or any without a key
//	                    (refused); a remote that does not verify (invalid)
//	Publishing   the one push path of record, keys, withdraw: Sync, the
//	                    write, Sync with Push (a lost race re-writes)
//	Withdraw     reads  plans/<id>.json on the main branch; the ledger
//	             writes one apply receipt with status withdrawn (approver)
//	             refuses a plan not merged (not found), already in the
//	                    ledger or a signer who is not an approver (refused)
//	Verify, Log, Receipt, VerifyReceipt, Leaves, Keys: reads only.
//
// Open changes nothing in the repository except, in a fresh clone, the
// missing local ledger branch, created from origin's, and the local ledger
// branch following origin's (Follow) when git fetched it ahead.
package workspace
