#!/usr/bin/env bash
# tests/bench/bayes.sh - Bayes speed, in one run on the same machine:
#   learning the 2002 sets (3250 messages): filterctl learn vs bogofilter
#   -s/-n vs sa-learn (messages/s and ratios), then the classification
#   cost per message (build/bench/bayes, p99 must stay under 1 ms) on the
#   BDB store just trained, over the 2003 sets.
# BENCH_SKIP_SA=1 skips sa-learn (about 80 s).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
data=$(corpus/fetch.sh) || exit 1
ctl=$root/build/filterctl
t=$(mktemp -d /tmp/bayes-bench.XXXXXX)
trap 'rm -rf "$t"' EXIT
spam=$data/spam-1
ham=("$data/easy-ham-1" "$data/hard-ham-1")
n=$(find "$spam" "${ham[@]}" -type f | wc -l)
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

a=$(now)
"$ctl" learn -q --store "$t/fd" --spam "$spam" >/dev/null || exit 1
"$ctl" learn -q --store "$t/fd" --ham "${ham[@]}" >/dev/null || exit 1
b=$(now)
fd=$(secs "$a" "$b")

mkdir -p "$t/bogo"
a=$(now)
bogofilter -d "$t/bogo" -s -B "$spam"
bogofilter -d "$t/bogo" -n -B "${ham[@]}"
b=$(now)
bg=$(secs "$a" "$b")

sa=
if [ -z "${BENCH_SKIP_SA:-}" ]; then
	mkdir -p "$t/sa/site" "$t/sa/home"
	cp /etc/spamassassin/*.pre "$t/sa/site/"
	printf 'use_bayes 1\nbayes_auto_learn 0\nbayes_path %s\n' \
	    "$t/sa/bayes/bayes" >"$t/sa/site/local.cf"
	a=$(now)
	HOME=$t/sa/home sa-learn --siteconfigpath="$t/sa/site" --spam "$spam" \
	    >/dev/null 2>&1
	HOME=$t/sa/home sa-learn --siteconfigpath="$t/sa/site" --ham "${ham[@]}" \
	    >/dev/null 2>&1
	b=$(now)
	sa=$(secs "$a" "$b")
fi

echo "bayes learn: $n messages (2002 sets), wall clock"
printf "  %-18s %6.2f s %7.0f msg/s\n" "filterctl learn" "$fd" "$(echo "$n / $fd" | bc -l)"
printf "  %-18s %6.2f s %7.0f msg/s  (filterd %.2fx)\n" "bogofilter -s/-n" \
    "$bg" "$(echo "$n / $bg" | bc -l)" "$(echo "$bg / $fd" | bc -l)"
if [ -n "$sa" ]; then
	printf "  %-18s %6.2f s %7.0f msg/s  (filterd %.1fx)\n" "sa-learn" "$sa" \
	    "$(echo "$n / $sa" | bc -l)" "$(echo "$sa / $fd" | bc -l)"
fi
"$root/build/bench/bayes" "$t/fd" "$data/easy-ham-2" "$data/spam-2"
