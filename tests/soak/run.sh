#!/usr/bin/env bash
# tests/soak/run.sh - make soak: the long versions of the fault tests
#
# Runs tests/e2e/postfix_faults.sh with SOAK_COUNT (default 1000) messages
# per round and SOAK_ROUNDS (default 5) kill rounds, then
# tests/e2e/smtp_robustness.sh SOAK_ROBUST_ROUNDS (default 3) times, each
# against a real Postfix / filterd pair on free 127.0.0.1 ports. Logs go
# to build/test-logs/soak-*.log; the last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
logdir=build/test-logs
mkdir -p "$logdir"
pass=0 fail=0

run() # NAME CMD...
{
	local name=$1 p f
	shift
	"$@" >"$logdir/soak-$name.log" 2>&1
	p=$(grep -Ec '^ok ' "$logdir/soak-$name.log")
	f=$(grep -Ec '^not ok ' "$logdir/soak-$name.log")
	[ "$f" -eq 0 ] && [ "$p" -eq 0 ] && f=1 # nothing ran: a failure
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		echo "FAIL soak-$name (log: $logdir/soak-$name.log)"
		grep -E '^not ok ' "$logdir/soak-$name.log" | sed 's/^/    /'
	else
		echo "ok   soak-$name ($p passed)"
	fi
	grep -E '^# round [0-9]+: delivered' "$logdir/soak-$name.log" |
	    sed 's/^#/    /'
}

run faults env FAULT_COUNT="${SOAK_COUNT:-1000}" \
    FAULT_ROUNDS="${SOAK_ROUNDS:-5}" bash tests/e2e/postfix_faults.sh
for i in $(seq "${SOAK_ROBUST_ROUNDS:-3}"); do
	run "robustness-$i" bash tests/e2e/smtp_robustness.sh
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
