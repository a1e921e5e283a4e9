#!/usr/bin/env bash
# tests/bench/parse.sh - message-model parse throughput (mail/), one core:
# every message of the 2002 training sets (easy-ham-1, hard-ham-1, spam-1)
# read into memory, then parsed BENCH_ITERS times (default 5) with all
# views (headers, MIME, decoded/rendered text, body/rawbody lines, URIs,
# HTML facts, relays). Prints MB/s and messages/s by CPU time (the one-core
# figure) and by wall time. Goal: >= 200 MB/s.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
data=$(corpus/fetch.sh 2>/dev/null | tail -n 1)
[ -d "$data" ] || data=corpus/data
bench=${PARSE_BENCH:-build/bench/parse}
[ -x "$bench" ] || { echo "parse bench: $bench missing (make)"; exit 1; }
exec taskset -c 0 "$bench" -n "${BENCH_ITERS:-5}" "$data/easy-ham-1" \
    "$data/hard-ham-1" "$data/spam-1"
