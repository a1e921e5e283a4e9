#!/usr/bin/env bash
# tests/fuzz/run.sh - make fuzz: run every libFuzzer target for a while.
#
#   tests/fuzz/run.sh [long|short] [target...]
#
# long: FUZZ_SECONDS (default 600) per target; short: 30 s. FUZZ_JOBS
# targets run side by side (default 2). Each target starts from its seeds
# in tests/fuzz/<name>/ plus corpus/regress/<name>/ and writes new inputs to
# build-fuzz/corpus/<name>/ (the seed folder stays small). A crash, leak or
# timeout (-timeout=10 s per input, -rss_limit_mb=2048) is copied to
# corpus/regress/<name>/ so make check replays it from then on.
# Exit status: the number of targets that found something.
set -u
cd "$(dirname "$0")/../.."
mode=${1:-long}
shift || true
case $mode in
long) secs=${FUZZ_SECONDS:-600} ;;
short) secs=${FUZZ_SECONDS:-30} ;;
*) echo "usage: $0 [long|short] [target...]" >&2; exit 2 ;;
esac
jobs=${FUZZ_JOBS:-2}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/*_fuzz.c; do
		targets+=("$(basename "$f" _fuzz.c)")
	done
fi
make fuzz-bins >/dev/null || { echo "fuzz: build failed" >&2; exit 1; }
for t in "${targets[@]}"; do
	[ -x "build-fuzz/${t}_fuzz" ] || {
		echo "fuzz: no target '$t' (tests/fuzz/${t}_fuzz.c)" >&2
		exit 2
	}
done

run_one() {
	local t=$1 out=build-fuzz/corpus/$1 log=build-fuzz/logs/$1.log
	local art=build-fuzz/artifacts/$1/
	mkdir -p "$out" "$art" build-fuzz/logs
	local seeds=()
	for d in "tests/fuzz/$t" "corpus/regress/$t"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	"build-fuzz/${t}_fuzz" -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$art" "$out" "${seeds[@]}" >"$log" 2>&1
	local rc=$?
	local runs
	runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$art")" ]; then
		mkdir -p "corpus/regress/$t"
		cp "$art"* "corpus/regress/$t/" 2>/dev/null
		echo "FAIL $t: rc=$rc runs=${runs:-?} (log $log; inputs saved in corpus/regress/$t)"
		return 1
	fi
	echo "ok   $t: ${runs:-?} runs in ${secs}s, no crash, leak or timeout"
}

failed=0
pids=()
for t in "${targets[@]}"; do
	run_one "$t" &
	pids+=($!)
	if [ ${#pids[@]} -ge "$jobs" ]; then
		wait "${pids[0]}" || failed=$((failed + 1))
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || failed=$((failed + 1))
done
echo "fuzz targets with findings: $failed"
exit "$failed"
