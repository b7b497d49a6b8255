#!/bin/sh
# Runs the benchmarks under bench/ and prints their tables one after another.
# Arguments go to the ledger benchmark (e.g. -runs 5 -sizes 1000,10000).
# The ledger benchmark generates (and caches under bench/out/) the 1k, 10k
# and 100k ledgers the snapshot and hook benchmarks use. A benchmark that
# misses a target (or fails) does not stop the others: every table is
# printed, then the ones that did not pass are named and the exit status
# is 1.
cd "$(dirname "$0")/.." || exit 1
failed=""
go run ./bench/ledger "$@" || failed="$failed ledger"
for b in snapshot merkle apply hook hookbomb policy drift; do
	if [ -f "bench/$b/main.go" ]; then
		echo
		go run "./bench/$b" || failed="$failed $b"
	fi
done
if [ -n "$failed" ]; then
	echo
	echo "benchmarks that missed a target or failed:$failed"
	exit 1
fi
