#!/usr/bin/env bash
# The whole vmc-git test suite, from a fresh machine: installs what the tests
# need (Debian packages, Go tools), then vets, tests, and runs each fuzz
# target briefly. README.md and .ci/run call exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
command -v ssh-agent >/dev/null || need_apt+=(openssh-client)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v shellcheck >/dev/null || need_apt+=(shellcheck) # actionlint checks the workflows' scripts with it
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)     # cgo, for Gitea's SQLite
command -v npm >/dev/null || need_apt+=(nodejs npm)        # the MCP TypeScript client interop test
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v act >/dev/null; then
  echo "== installing act (GitHub Actions runner, for the workflow tests)"
  go install github.com/nektos/act@v0.2.89
fi
# litewitness + witnessctl (C2SP tlog-witness, pure-Go SQLite) for the witness
# tests; the newest torchwood needs Go 1.27, v0.6.1 builds on 1.26.
# Cold: about 35 s of build (plus module downloads); cached after.
if ! command -v litewitness >/dev/null || ! command -v witnessctl >/dev/null; then
  echo "== installing litewitness and witnessctl (filippo.io/torchwood v0.6.1)"
  go install filippo.io/torchwood/cmd/litewitness@v0.6.1 filippo.io/torchwood/cmd/witnessctl@v0.6.1
fi

# The official MCP TypeScript client for mcpserver's TestTypeScriptClient,
# pinned by internal/mcpinterop/package-lock.json: npm ci only when
# node_modules is missing or older than the lock file (about 30 s cold).
mcpi=internal/mcpinterop
lock_sum=$(sha256sum "$mcpi/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$mcpi/node_modules/.vmc-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  echo "== npm ci ($mcpi)"
  (cd "$mcpi" && npm ci --no-audit --no-fund --loglevel=error) && echo "$lock_sum" >"$mcpi/node_modules/.vmc-lock-sha256"
fi

# Gitea v1.26.0 for the forge end-to-end test (cmd/vmc-git TestGitea): built
# once per machine, cached in the Go build cache directory (about 7 minutes cold on
# 2 cores, nothing after); .ci/gitea/build.sh prints its directory.
echo "== Gitea (cached build)"
VMC_GITEA_DIR="$(bash .ci/gitea/build.sh)"
export VMC_GITEA_DIR

# The anchor substrates' real nodes (anchor/btc, anchor/eth and the anchor
# end-to-end tests): btcd and btcctl v0.24.2 (about 1 minute cold) and geth
# v1.17.10 (10 to 30 minutes cold on 2 cores; cached in GOPATH/bin, and its
# packages in the Go build cache). Each is built only when GOPATH/bin lacks
# that exact module version.
install_tool() { # binary module-path version package
  if ! go version -m "$(go env GOPATH)/bin/$1" 2>/dev/null | grep -qE "^\s+mod\s+$2\s+$3\s"; then
    echo "== installing $1 $3"
    go install "$4@$3"
  fi
}
install_tool btcd github.com/btcsuite/btcd v0.24.2 github.com/btcsuite/btcd
install_tool btcctl github.com/btcsuite/btcd v0.24.2 github.com/btcsuite/btcd/cmd/btcctl
install_tool geth github.com/ethereum/go-ethereum v1.17.10 github.com/ethereum/go-ethereum/cmd/geth

# The shared test vectors (RFC 8785, RFC 6962) live in shared/ beside the
# repository; a checkout elsewhere finds them through VMC_VECTORS.
if [ -z "${VMC_VECTORS:-}" ]; then
  for d in "$PWD/../shared/vectors" /work/shared/vectors; do
    if [ -d "$d" ]; then export VMC_VECTORS="$(cd "$d" && pwd)"; break; fi
  done
fi

# Tests make commits; give git an identity where the machine has none.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-vmc-git test}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-test@vmc-git.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-vmc-git test}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-test@vmc-git.invalid}"

echo "== go vet"
go vet ./...

echo "== go test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -count=1 -timeout 20m ./... 2>&1 | tee "$log"

echo "== fuzz (brief)"
# A fuzz run fails for real when it writes a failing input; a fuzzer that
# only stalled on a loaded machine ("hung or terminated") gets one more try.
fuzz() {
  for try in 1 2; do
    if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" -fuzzminimizetime 2s "$1" 2>&1); then
      echo "fuzz $2 ok"; return 0
    fi
    echo "$out"
    if echo "$out" | grep -q "Failing input written to"; then break; fi
    echo "fuzz $2: no failing input found; the fuzzer itself failed (try $try)"
  done
  echo "fuzz $2 FAILED"; return 1
}
fuzz ./internal/canon FuzzCanonicalize
fuzz ./internal/digest FuzzParse
fuzz ./anchor FuzzParseBody
# anchor/eth has FuzzVerify and FuzzProofParts too; they are left out here
# because their fuzzing build instruments go-ethereum (many minutes cold).
# So is mcpserver's FuzzToolArguments (each fuzz process builds the CLI and
# makes a ledger before its first input). Run them by hand (README, Fuzzing).
for pkg in rfc3161 btc; do fuzz ./anchor/$pkg FuzzVerify; done
# The same parsers fed their bytes directly (DER token and TSA reply; raw
# bitcoin transaction), and armored SSHSIGs with a real one to start from.
fuzz ./anchor/rfc3161 FuzzCheckToken
fuzz ./anchor/rfc3161 FuzzCheckReply
fuzz ./anchor/btc FuzzVerifyRawTx
fuzz ./keys FuzzParseSignature
# The hook's input and the objects it reads; remote locks and intents.
fuzz ./hooks FuzzParseUpdates
fuzz ./hooks FuzzHookObjects
fuzz ./apply/remoteref FuzzParseLock
fuzz ./apply/remoteref FuzzParseIntent
fuzz ./policy FuzzCompile
fuzz ./state FuzzParseAdopt
# ParseSignature's direct armor and wire parsers against the general parse.
fuzz ./keys FuzzParseSignatureFastPaths
for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' gitledger/*_test.go internal/gitobj/*_test.go receipt/*_test.go merkle/*_test.go plans/*_test.go provider/*_test.go witness/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
  pkg=$(grep -l "^func $t(" gitledger/*_test.go internal/gitobj/*_test.go receipt/*_test.go merkle/*_test.go plans/*_test.go provider/*_test.go witness/*_test.go | head -1 | xargs dirname)
  fuzz "./$pkg" "$t"
done
passed=$(grep -c '^ok ' "$log" || true)
echo "== all tests passed"
echo "packages: $passed passed, 0 failed"
