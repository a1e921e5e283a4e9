#!/usr/bin/env bash
# corpus/cv.sh - k-fold cross-validation on the 2002 sets only
#
# The development yardstick for the Bayes tokenizer, combining parameters
# and rules/default: spam-1, easy-ham-1 and hard-ham-1 are split into K
# folds by file order (file i goes to fold i mod K); for each fold the
# Bayes store learns the other folds and the fold itself is classified
# (filterctl bayes classify) and scanned with the full local score
# (filterctl check: rules + Bayes, score set 2, network tests off). The
# 2003 sets are never touched here. Prints FP/FN summed over the folds:
#   Bayes p >= 0.50, full score >= 5.0, and the hard-ham FPs separately.
# CV_FOLDS=K (default 5), CV_KEEP=1 keeps the work dir, CV_RULES=DIR
# selects another rules_dir, CV_LOCAL=FILE loads a local score file,
# CV_NOFULL=1 skips the (slower) full-score scans, CV_BOGO=1 adds
# bogofilter on the same folds, CV_FN=FILE writes the full-score errors.
set -u
cd "$(dirname "$0")/.."
data=$(corpus/fetch.sh) || exit 1
ctl=${FILTERCTL:-$PWD/build/filterctl}
[ -x "$ctl" ] || { echo "cv: build/filterctl missing (make)" >&2; exit 1; }
K=${CV_FOLDS:-5}
work=$(mktemp -d /tmp/filterd-cv.XXXXXX)
trap '[ -n "${CV_KEEP:-}" ] && echo "cv: work dir $work" || rm -rf "$work"' EXIT

# fold SET K: the files of SET whose index mod K is (=K) or is not (!K)
fold() {
	find "$data/$1" -type f | sort | awk -v k="$2" -v K="$K" -v want="$3" \
	    '((NR - 1) % K == k) == (want == 1)'
}
for k in $(seq 0 $((K - 1))); do
	d=$work/f$k
	mkdir -p "$d"
	cat >"$d/conf" <<EOC
state_dir = $d/state
rules_dir = ${CV_RULES:-$PWD/rules/default}
bayes_auto_learn = no
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local = ${CV_LOCAL:-}
rules_scoreset = 2
EOC
	(
		"$ctl" learn -q -c "$d/conf" --spam $(fold spam-1 $k 0) \
		    >/dev/null || exit 1
		"$ctl" learn -q -c "$d/conf" --ham $(fold easy-ham-1 $k 0) \
		    $(fold hard-ham-1 $k 0) >/dev/null || exit 1
		for s in easy-ham-1 hard-ham-1 spam-1; do
			"$ctl" bayes -c "$d/conf" classify $(fold $s $k 1) |
			    awk '{print $1}' >"$d/b.$s"
			[ -n "${CV_NOFULL:-}" ] && continue
			FILTERD_CONF=$d/conf "$ctl" check $(fold $s $k 1) \
			    2>/dev/null | sed -n \
			    's/^\(.*\): score=\([-0-9.]*\)\/.*/\2 \1/p' \
			    >"$d/c.$s"
		done
		[ -n "${CV_BOGO:-}" ] || exit 0
		bogofilter -d "$d/bogo" -s -B $(fold spam-1 $k 0)
		bogofilter -d "$d/bogo" -n -B $(fold easy-ham-1 $k 0) \
		    $(fold hard-ham-1 $k 0)
		for s in easy-ham-1 hard-ham-1 spam-1; do
			bogofilter -d "$d/bogo" -t -B $(fold $s $k 1) |
			    awk '{print $2}' >"$d/g.$s"
		done
	) &
	# two at a time: the machine is shared
	(( k % 2 == 1 )) && wait
done
wait
# count SET PREFIX CUTOFF SIDE: messages on SIDE (ge|lt) of the cutoff
count() {
	cat "$work"/f*/"$2.$1" 2>/dev/null | awk -v c="$3" -v s="$4" '
	    { spam = ($1 != "none" && $1 != "bad" && $1 + 0 >= c) }
	    s == "ge" && spam { n++ } s == "lt" && !spam { n++ }
	    END { print n + 0 }'
}
n() { cat "$work"/f*/"$2.$1" 2>/dev/null | wc -l; }
report() { # name prefix cutoff
	local fpe fph fn
	fpe=$(count easy-ham-1 "$2" "$3" ge)
	fph=$(count hard-ham-1 "$2" "$3" ge)
	fn=$(count spam-1 "$2" "$3" lt)
	printf "%-28s FP %3d (easy %d, hard %d) of %d   FN %3d of %d\n" \
	    "$1" $((fpe + fph)) "$fpe" "$fph" \
	    $(( $(n easy-ham-1 "$2") + $(n hard-ham-1 "$2") )) "$fn" \
	    "$(n spam-1 "$2")"
}
echo "cv: $K folds over the 2002 sets"
report "Bayes p >= 0.50" b 0.5
report "Bayes p >= 0.90" b 0.9
report "Bayes p >= 0.99" b 0.99
if [ -n "${CV_BOGO:-}" ]; then
	report "bogofilter p >= 0.50" g 0.5
	report "bogofilter p >= 0.99" g 0.99
fi
if [ -z "${CV_NOFULL:-}" ]; then
	report "rules+Bayes score >= 5" c 5.0
	if [ -n "${CV_FN:-}" ]; then
		cat "$work"/f*/c.spam-1 | awk '$1 < 5' >"$CV_FN"
		cat "$work"/f*/c.*ham-1 | awk '$1 >= 5' >>"$CV_FN"
	fi
fi
