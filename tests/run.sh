#!/usr/bin/env bash
# tests/run.sh - run every test make check knows and print one summary line.
#
#   unit   build/tests/*_test and build-asan/tests/*_test (cmocka)
#   fuzz   build-asan/fuzz/*_replay over tests/fuzz/<name>/ seeds and
#          corpus/regress/<name>/ crashers
#   e2e    tests/e2e/*.sh (TAP lines "ok N - ..." / "not ok N - ...")
#
# TESTS_ONLY=unit|fuzz|e2e restricts; a pattern as $1 filters by name.
# The last line is "N passed, N failed" for CI.
set -u
cd "$(dirname "$0")/.."
pat=${1:-}
only=${TESTS_ONLY:-}
pass=0 fail=0 failed_names=()
logdir=build/test-logs
mkdir -p "$logdir"

record() { # name rc passed failed
	pass=$((pass + $3)); fail=$((fail + $4))
	if [ "$4" -gt 0 ] || [ "$2" -ne 0 -a "$4" -eq 0 ]; then
		[ "$4" -eq 0 ] && fail=$((fail + 1))
		failed_names+=("$1")
		echo "FAIL $1 (log: $logdir/$1.log)"
		tail -n 30 "$logdir/$1.log" | sed 's/^/    /'
	else
		echo "ok   $1 ($3 passed)"
	fi
}

run_cmocka() { # name binary
	local name=$1 bin=$2 rc p f
	CMOCKA_MESSAGE_OUTPUT=stdout timeout 600 "$bin" >"$logdir/$name.log" 2>&1
	rc=$?
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$logdir/$name.log" | awk '{s+=$4} END {print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$logdir/$name.log" | awk '{s+=$4} END {print s+0}')
	record "$name" "$rc" "$p" "$f"
}

if [ -z "$only" -o "$only" = unit ]; then
	for b in build/tests/*_test build-asan/tests/*_test; do
		[ -x "$b" ] || continue
		n=$(basename "$b")
		case $b in build-asan/*) n="asan-$n" ;; esac
		[ -n "$pat" ] && [[ $n != *$pat* ]] && continue
		run_cmocka "$n" "$b"
	done
fi

if [ -z "$only" -o "$only" = fuzz ]; then
	for b in build-asan/fuzz/*_replay; do
		[ -x "$b" ] || continue
		t=$(basename "$b" _replay)
		[ -n "$pat" ] && [[ $t != *$pat* ]] && continue
		files=()
		for d in tests/fuzz/$t corpus/regress/$t; do
			[ -d "$d" ] && while IFS= read -r -d '' f; do files+=("$f"); done \
				< <(find "$d" -type f -print0)
		done
		timeout 600 "$b" "${files[@]}" >"$logdir/fuzz-$t.log" 2>&1
		rc=$?
		record "fuzz-$t" "$rc" $((rc == 0)) 0
	done
fi

if [ -z "$only" -o "$only" = e2e ]; then
	for s in tests/e2e/*.sh; do
		[ -f "$s" ] || continue
		n=$(basename "$s" .sh)
		case $n in lib*) continue ;; esac
		[ -n "$pat" ] && [[ $n != *$pat* ]] && continue
		timeout 1200 bash "$s" >"$logdir/e2e-$n.log" 2>&1
		rc=$?
		p=$(grep -Ec '^ok ' "$logdir/e2e-$n.log")
		f=$(grep -Ec '^not ok ' "$logdir/e2e-$n.log")
		record "e2e-$n" "$rc" "$p" "$f"
	done
fi

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
