#!/usr/bin/env bash
# tests/bench/tune.sh - filterctl tune on the SpamAssassin corpus, as
# corpus/eval.sh scores filterd: Bayes learns the 2002 sets, tune fits
# the default rules' scores on the 2002 sets (easy-ham-1, hard-ham-1,
# spam-1) and the full local score (rules + Bayes, score set 2, network
# tests off, tag2_level 5) is measured on the held-out 2003 sets
# (easy-ham-2, spam-2) before and after. The 2003 sets are only scanned
# to report; tune never sees them. TUNE_KEEP=1 keeps the work directory.
set -u
cd "$(dirname "$0")/../.."
data=$(corpus/fetch.sh) || exit 1
ctl=$PWD/build/filterctl
[ -x "$ctl" ] || { echo "tune bench: build/filterctl missing (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/filterd-tune.XXXXXX)
trap '[ -n "${TUNE_KEEP:-}" ] && echo "work dir $work" || rm -rf "$work"' EXIT
conf=$work/filterd.conf
cat >"$conf" <<EOC
state_dir = $work/state
rules_dir = $PWD/rules/default
bayes_auto_learn = no
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local =
rules_scoreset = 2
EOC
"$ctl" learn -q -c "$conf" --spam "$data/spam-1" >/dev/null || exit 1
"$ctl" learn -q -c "$conf" --ham "$data/easy-ham-1" "$data/hard-ham-1" \
    >/dev/null || exit 1
t0=$(date +%s.%N)
"$ctl" -c "$conf" tune -q --no-net --spam "$data/spam-1" \
    --ham "$data/easy-ham-1" "$data/hard-ham-1" --out "$work/local-scores.cf" \
    >"$work/tune.out" 2>&1 || { cat "$work/tune.out"; exit 1; }
t1=$(date +%s.%N)
# heldout CONF: "FP FN" of score >= 5 on the 2003 sets
heldout() {
	local fp fn
	fp=$(FILTERD_CONF=$1 "$ctl" check $(find "$data/easy-ham-2" -type f | sort) \
	    2>/dev/null | sed -n 's/^.*: score=\([-0-9.]*\)\/.*/\1/p' |
	    awk '$1 >= 5' | wc -l)
	fn=$(FILTERD_CONF=$1 "$ctl" check $(find "$data/spam-2" -type f | sort) \
	    2>/dev/null | sed -n 's/^.*: score=\([-0-9.]*\)\/.*/\1/p' |
	    awk '$1 < 5' | wc -l)
	echo "$fp $fn"
}
sed "s|^rules_local =.*|rules_local = $work/local-scores.cf|" "$conf" \
    >"$work/tuned.conf"
read -r fp0 fn0 < <(heldout "$conf")
read -r fp1 fn1 < <(heldout "$work/tuned.conf")
nh=$(find "$data/easy-ham-2" -type f | wc -l)
ns=$(find "$data/spam-2" -type f | wc -l)
sed -n '/cross-validated\|training/p' "$work/tune.out"
printf "tune (scan + CV + fit): %.1fs\n" "$(echo "$t1 - $t0" | bc -l)"
printf "held-out 2003, rules+Bayes, score >= 5:  %13s   %13s\n" \
    "FP (ham)" "FN (spam)"
printf "  %-38s %5d %6.2f%%   %5d %6.2f%%\n" "default scores" "$fp0" \
    "$(echo "100 * $fp0 / $nh" | bc -l)" "$fn0" "$(echo "100 * $fn0 / $ns" | bc -l)"
printf "  %-38s %5d %6.2f%%   %5d %6.2f%%\n" "tuned on 2002 (filterctl tune)" \
    "$fp1" "$(echo "100 * $fp1 / $nh" | bc -l)" "$fn1" \
    "$(echo "100 * $fn1 / $ns" | bc -l)"
