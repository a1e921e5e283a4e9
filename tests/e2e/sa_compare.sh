#!/usr/bin/env bash
# tests/e2e/sa_compare.sh - mail/'s body, uri and relay views against
# SpamAssassin 4 on 200 messages of the 2002 corpus (tests/e2e/sa_compare.pl
# does the work). Fails when agreement drops below the floors below; the
# issue's goal is 99%, the remaining differences are listed in the
# closing note of issue 4 (charset guessing: SA keeps undecodable 8-bit
# octets raw, our views are always UTF-8). Skips without SA or the corpus.
cd "$(dirname "$0")/../.."
bin=${PARSE_BIN:-build/bench/parse}
echo "1..5"
if ! perl -MMail::SpamAssassin -e1 2>/dev/null || [ ! -d corpus/data/spam-1 ] ||
    [ ! -x "$bin" ]; then
	for i in 1 2 3 4 5; do echo "ok $i # skip no SpamAssassin, corpus or $bin"; done
	exit 0
fi
out=$(perl tests/e2e/sa_compare.pl -n 200 "$bin" 2>/dev/null)
echo "$out" | sed 's/^/# /'
n=1
for want in "body 90" "body_cs 97" "uri 97" "relay 97" "relay_full 90"; do
	set -- $want
	pct=$(echo "$out" | awk -v v="$1" '$1 == v { gsub(/[(%)]/, "", $4); print $4 }')
	if [ -n "$pct" ] && awk -v p="$pct" -v f="$2" 'BEGIN { exit !(p >= f) }'; then
		echo "ok $n - $1 agreement $pct% >= $2%"
	else
		echo "not ok $n - $1 agreement ${pct:-?}% < $2%"
	fi
	n=$((n + 1))
done
