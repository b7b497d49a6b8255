#!/bin/sh
# Runs the benchmarks under bench/ and prints their tables one after another.
# Arguments go to the ledger benchmark (e.g. -runs 5 -sizes 1000,10000).
set -e
cd "$(dirname "$0")/.."
go run ./bench/ledger "$@"
for b in merkle provider; do
	if [ -f "bench/$b/main.go" ]; then
		echo
		go run "./bench/$b"
	fi
done
