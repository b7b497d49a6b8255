// Package archtest holds the architecture test: the import rules between
// vmc-git's packages, checked on the real import graph (go list) so that a
// change breaking one fails the suite. The rules:
//
//   - nothing imports a command (cmd/...);
//   - merkle, internal/canon, internal/digest and provider import no other
//     project package except internal leaves (internal packages that
//     import no project package themselves, such as internal/fsutil and
//     internal/lock);
//   - hooks and anchor never import provider;
//   - only workspace and apply import both provider and gitledger: the
//     ledger meets the cloud in those two places (and in the benchmark
//     programs under bench/, which drive packages directly to measure them).
//
// Rules are about direct imports of non-test files, except the first, which
// counts test files too.
package archtest
