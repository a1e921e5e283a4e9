#!/usr/bin/env bash
# corpus/tune2002.sh - refit the shipped scores of rules/default on the
# 2002 sets (spam-1; easy-ham-1 + hard-ham-1) with out-of-sample Bayes
#
# filterctl tune scans with one Bayes store; if that store learned the
# same messages, BAYES_99 fires on nearly all spam and no ham and the fit
# trusts it far too much. Here each message's hits come from a store
# that did not learn it: the 2002 sets are split into K folds (file i in
# fold i mod K, as corpus/cv.sh), fold k is scanned (tune --save-hits)
# with a store that learned the other folds, the K hit tables are merged
# and one fit runs on the merged table (tune --hits --tune-bayes),
# cross-validated by tune itself. The 2003 sets are never read.
# Usage: corpus/tune2002.sh OUT.cf [extra tune options]; TUNE_KEEP=1
# keeps the work dir. Network tests off, score set 2, as corpus/eval.sh.
set -u
cd "$(dirname "$0")/.."
out=${1:?usage: corpus/tune2002.sh OUT.cf [tune options]}
shift
data=$(corpus/fetch.sh) || exit 1
ctl=${FILTERCTL:-$PWD/build/filterctl}
K=${TUNE_FOLDS:-5}
work=$(mktemp -d /tmp/filterd-tune2002.XXXXXX)
trap '[ -n "${TUNE_KEEP:-}" ] && echo "work dir $work" >&2 || rm -rf "$work"' EXIT
fold() { # SET K 1|0: files of SET in (1) or not in (0) fold K
	find "$data/$1" -type f | sort | awk -v k="$2" -v K="$K" -v want="$3" \
	    '((NR - 1) % K == k) == (want == 1)'
}
for k in $(seq 0 $((K - 1))); do
	d=$work/f$k
	mkdir -p "$d/spam" "$d/ham"
	cat >"$d/conf" <<EOC
state_dir = $d/state
rules_dir = ${TUNE_RULES:-$PWD/rules/default}
bayes_auto_learn = no
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local =
rules_scoreset = 2
EOC
	cp $(fold spam-1 $k 1) "$d/spam/"
	cp $(fold easy-ham-1 $k 1) $(fold hard-ham-1 $k 1) "$d/ham/"
	(
		"$ctl" learn -q -c "$d/conf" --spam $(fold spam-1 $k 0) \
		    >/dev/null &&
		"$ctl" learn -q -c "$d/conf" --ham $(fold easy-ham-1 $k 0) \
		    $(fold hard-ham-1 $k 0) >/dev/null &&
		"$ctl" -c "$d/conf" tune -q --no-net --dry-run \
		    --spam "$d/spam" --ham "$d/ham" --save-hits "$d/hits" \
		    >"$d/tune.out" 2>&1 || { cat "$d/tune.out" >&2; exit 1; }
	) &
	(( k % 2 == 1 )) && wait
done
wait
# merge: the column sets differ per fold, so renumber by name
awk '
BEGIN { nc = 0; nm = 0 }
FNR == 1 { nl = 0 }
$1 == "col" {
	name = $3
	local[nl++] = name
	if (!(name in pos)) { pos[name] = nc; score[nc] = $2; cname[nc++] = name }
	next
}
$1 == "msg" {
	idx = "-"
	if ($3 != "-") {
		n = split($3, a, ",")
		idx = ""
		for (i = 1; i <= n; i++)
			idx = idx (i > 1 ? "," : "") pos[local[a[i]]]
	}
	rest = $0
	sub(/^msg [SH] [^ ]+ ?/, "", rest)
	msgs[nm++] = "msg " $2 " " idx " " rest
}
END {
	print "filterd-tune-hits 1"
	for (i = 0; i < nc; i++) print "col " score[i] " " cname[i]
	for (i = 0; i < nm; i++) print msgs[i]
}' "$work"/f*/hits >"$work/merged.hits"
"$ctl" -c "$work/f0/conf" tune --hits "$work/merged.hits" --tune-bayes \
    --out "$out" "$@"
