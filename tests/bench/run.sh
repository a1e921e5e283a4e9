#!/usr/bin/env bash
# tests/bench/run.sh - make bench: every benchmark, one after the other.
#
# Each tests/bench/<name>.sh measures filterd against a peer started by the
# script itself (spamd, rspamd, bogofilter, sa-learn, Postfix) on the same
# messages in the same run, and prints its own figures. BENCH_ONLY=name runs
# one. The machine is shared: read ratios, not absolute rates. Exit status:
# the number of benches that failed to run or missed a goal they check.
set -u
cd "$(dirname "$0")/../.."
corpus/fetch.sh >/dev/null
failed=0
for s in tests/bench/*.sh; do
	n=$(basename "$s" .sh)
	case $n in run | lib_*) continue ;; esac
	[ -n "${BENCH_ONLY:-}" ] && [ "$n" != "$BENCH_ONLY" ] && continue
	echo "=== bench $n ($(date -u +%H:%M:%S))"
	if ! bash "$s"; then
		echo "=== bench $n: FAILED"
		failed=$((failed + 1))
	fi
done
echo "benches failed: $failed"
exit "$failed"
