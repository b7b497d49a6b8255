#!/bin/sh
# Runs the benchmarks under bench/ and prints their tables one after another.
# Arguments go to the ledger benchmark (e.g. -runs 5 -sizes 1000,10000).
# The ledger benchmark generates (and caches under bench/out/) the 1k, 10k
# and 100k ledgers the snapshot and hook benchmarks use.
set -e
cd "$(dirname "$0")/.."
go run ./bench/ledger "$@"
for b in snapshot merkle apply hook hookbomb policy drift; do
	if [ -f "bench/$b/main.go" ]; then
		echo
		go run "./bench/$b"
	fi
done
