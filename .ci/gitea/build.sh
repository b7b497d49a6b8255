#!/usr/bin/env bash
# Builds Gitea v1.26.0 (with SQLite) for the forge end-to-end test and prints
# the directory holding it: gitea (the binary), options/ and templates/
# (copied from the module cache; a build without bindata reads them from its
# work directory). The result is cached in the Go build cache directory,
# keyed by this module's go.mod and go.sum, so it is built once per machine:
# about 7 minutes cold on 2 idle cores with cgo (7 CPU-minutes), nothing after.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=v1.26.0
key=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
# Inside the Go build cache directory, so whatever keeps that cache between
# CI runs (actions/setup-go's cache, a runner's disk) keeps Gitea too; go's
# own cache trimming only touches its 00…ff entries.
out="$(go env GOCACHE)/vmc-git-tools/gitea-$version-$key"
if [ -x "$out/gitea" ] && [ -d "$out/options" ] && [ -d "$out/templates" ]; then
  echo "$out"; exit 0
fi
command -v gcc >/dev/null || { echo "build.sh: gcc is needed (cgo, for SQLite)" >&2; exit 1; }
mkdir -p "$out"
# One build per machine: a second run waits for the first, then finds it.
exec 9>"$out.lock"
flock 9
if [ -x "$out/gitea" ] && [ -d "$out/options" ] && [ -d "$out/templates" ]; then
  echo "$out"; exit 0
fi
tmp="$out/.building.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
echo "== building Gitea $version into $out (about 7 minutes cold)" >&2
(cd "$here" && CGO_ENABLED=1 go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
  -ldflags "-X main.Version=${version#v}" \
  -o "$tmp/gitea" code.gitea.io/gitea) >&2
src="$(cd "$here" && go list -m -f '{{.Dir}}' code.gitea.io/gitea)"
cp -R "$src/options" "$src/templates" "$tmp/"
chmod -R u+w "$tmp"
rm -rf "$out/options" "$out/templates"
mv "$tmp/options" "$tmp/templates" "$out/"
mv "$tmp/gitea" "$out/gitea"
echo "$out"
