#!/usr/bin/env bash
# corpus/eval.sh - `make eval`: held-out accuracy of filterd against
# bogofilter and SpamAssassin+Bayes, all in one run.
#
# Every system is trained on the 2002 sets (spam-1; easy-ham-1 + hard-ham-1)
# and tested on the 2003 sets (easy-ham-2, spam-2), which nothing ever
# trains or tunes on. Autolearn is off everywhere, network tests too. Rows:
#   filterd Bayes alone      filterctl bayes classify, spam iff p >= cutoff
#                            (0.50: the chi-square midpoint; 0.99:
#                            bogofilter's default spam_cutoff)
#   filterd rules+Bayes      filterctl check, spam iff score >= 5.0: the
#                            shipped scores (tuned on 2002, see
#                            rules/default/90_tuned_scores.cf) and, for
#                            comparison, the hand-set ones (that file
#                            left out, SA's BAYES_* scores)
#   filterd with SA's rules  filterctl check with rules_dir = links to the
#                            stock SpamAssassin rules (read where they are
#                            installed, never copied), alone and with
#                            rules/default: what an admin switching from
#                            SpamAssassin would run; score >= 5.0; and the
#                            same with rules/with-sa last (the scores
#                            corpus/tune2002.sh fitted for that mix on the
#                            2002 sets), as rules_dir lists them
#   bogofilter               bogofilter -t, spam iff p >= cutoff (same two)
#   at equal FP              filterd's FN at the lowest cutoff where its FP
#                            is no more than bogofilter's at p >= 0.50, and
#                            bogofilter's FN where its FP is no more than
#                            filterd's at 0.50 (both directions, so neither
#                            side picks its cutoff alone)
#   paired                   filterd's Bayes against bogofilter's message by
#                            message at both cutoffs: the ham only one of
#                            them calls spam, the spam only one misses, and
#                            the exact McNemar p of that split (is the
#                            difference more than chance?)
#   SpamAssassin+Bayes       spamassassin -L after sa-learn, score >= 5.0
# FP = ham called spam, FN = spam not called spam ("no result" is not
# spam). EVAL_KEEP=1 keeps the work directory; EVAL_SKIP_SA=1 skips the
# slow SpamAssassin run (about 10 minutes).
set -u
cd "$(dirname "$0")/.."
data=$(corpus/fetch.sh) || exit 1
ctl=${FILTERCTL:-$PWD/build/filterctl} # FILTERCTL: a copy, so a rebuild mid-run cannot race
[ -x "$ctl" ] || { echo "eval: build/filterctl missing (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/filterd-eval.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${EVAL_KEEP:-}" ] && echo "eval: work dir $work" || rm -rf "$work"
}
trap cleanup EXIT
trs=$data/spam-1
trh=("$data/easy-ham-1" "$data/hard-ham-1")
tsh=$data/easy-ham-2
tss=$data/spam-2
nh=$(find "$tsh" -type f | wc -l)
ns=$(find "$tss" -type f | wc -l)
ntrain=$(find "$trs" "${trh[@]}" -type f | wc -l)
now() { date +%s.%N; }

# --- SpamAssassin (slowest: started first, runs beside the others) -------
sa_run() {
	local site=$work/sa/site home=$work/sa/home t0 t1
	mkdir -p "$site" "$home"
	cp /etc/spamassassin/*.pre "$site/"
	cat >"$site/local.cf" <<EOC
use_bayes 1
bayes_auto_learn 0
bayes_path $work/sa/bayes/bayes
skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
add_header all Eval _YESNO_ _SCORE_
EOC
	export HOME=$home
	t0=$(now)
	sa-learn --siteconfigpath="$site" --spam "$trs" >/dev/null 2>&1
	sa-learn --siteconfigpath="$site" --ham "${trh[@]}" >/dev/null 2>&1
	t1=$(now)
	echo "$t0 $t1" >"$work/sa.learntime"
	# two scanners, one per test set; output order = argument order
	for set in ham spam; do
		d=$tsh; [ $set = spam ] && d=$tss
		spamassassin -L -x --siteconfigpath="$site" \
		    $(find "$d" -type f | sort) 2>/dev/null |
		    grep -a '^X-Spam-Eval:' | awk '{print $3}' >"$work/sa.$set" &
	done
	wait
}
if [ -z "${EVAL_SKIP_SA:-}" ] && command -v spamassassin >/dev/null; then
	sa_run &
	pids+=($!)
fi

# --- filterd -------------------------------------------------------------
conf=$work/filterd.conf
cat >"$conf" <<EOC
state_dir = $work/state
bayes_auto_learn = no
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local =
rules_scoreset = 2
EOC
# the training files read once before any learner is timed: the first
# one would otherwise pay for reading them from disk (filterctl learn
# came out ~10 % behind bogofilter here, ~20 % ahead with both warm)
find "$trs" "${trh[@]}" -type f -exec cat {} + >/dev/null
t0=$(now)
"$ctl" learn -q -c "$conf" --spam "$trs" >"$work/fd.learn" || exit 1
"$ctl" learn -q -c "$conf" --ham "${trh[@]}" >>"$work/fd.learn" || exit 1
t1=$(now)
echo "$t0 $t1" >"$work/fd.learntime"
for s in ham spam; do
	d=$tsh; [ $s = spam ] && d=$tss
	"$ctl" bayes -c "$conf" classify "$d" >"$work/fd.$s.raw"
	awk '{print $1}' "$work/fd.$s.raw" >"$work/fd.$s"
	awk '{n = split($2, a, "/"); print a[n], $1}' "$work/fd.$s.raw" \
	    >"$work/fd.$s.named"
done
full=no
if FILTERD_CONF=$conf "$ctl" check $(find "$tsh" -type f | sort) \
    >"$work/fc.ham.raw" 2>/dev/null &&
    FILTERD_CONF=$conf "$ctl" check $(find "$tss" -type f | sort) \
    >"$work/fc.spam.raw" 2>/dev/null; then
	for s in ham spam; do
		sed -n 's/^.*: score=\([-0-9.]*\)\/.*/\1/p' "$work/fc.$s.raw" \
		    >"$work/fc.$s"
	done
	[ "$(wc -l <"$work/fc.ham")" = "$nh" ] && full=yes
fi
# the hand-set scores: rules/default without 90_tuned_scores.cf, SA's
# BAYES_* scores (bayes/classify.c carries the tuned ones)
mkdir -p "$work/rules-hand"
for f in rules/default/*.cf; do
	case $f in */90_tuned_scores.cf) ;; *) cp "$f" "$work/rules-hand/" ;; esac
done
cat >"$work/hand-bayes.cf" <<EOC
score BAYES_00 -1.9
score BAYES_05 -0.5
score BAYES_50 0.8
score BAYES_60 1.5
score BAYES_80 2.0
score BAYES_95 3.0
score BAYES_99 3.5
score BAYES_999 0.2
EOC
sed -e "s|^rules_local =.*|rules_local = $work/hand-bayes.cf|" "$conf" >"$work/hand.conf"
echo "rules_dir = $work/rules-hand" >>"$work/hand.conf"
hand=no
if FILTERD_CONF=$work/hand.conf "$ctl" check $(find "$tsh" -type f | sort) \
    >"$work/fh.ham.raw" 2>/dev/null &&
    FILTERD_CONF=$work/hand.conf "$ctl" check $(find "$tss" -type f | sort) \
    >"$work/fh.spam.raw" 2>/dev/null; then
	for s in ham spam; do
		sed -n 's/^.*: score=\([-0-9.]*\)\/.*/\1/p' "$work/fh.$s.raw" \
		    >"$work/fh.$s"
	done
	[ "$(wc -l <"$work/fh.ham")" = "$nh" ] && hand=yes
fi

# stock SpamAssassin rules, linked from where they are installed
sarules=${EVAL_SA_RULES:-/usr/share/spamassassin}
sa_rows=no
if [ -d "$sarules" ] && ls "$sarules"/*.cf >/dev/null 2>&1; then
	mkdir -p "$work/rules-sa" "$work/rules-sa-fd"
	ln -s "$sarules"/*.cf "$work/rules-sa/"
	ln -s "$sarules"/*.cf "$work/rules-sa-fd/"
	ln -s "$PWD"/rules/default/*.cf "$work/rules-sa-fd/"
	sa_rows=yes
	for v in sa sa-fd sa-fd-tuned; do
		sed -e "/^rules_dir =/d" "$conf" >"$work/$v.conf"
		if [ $v = sa-fd-tuned ]; then
			# as an admin runs it: the stock rules, filterd's own,
			# then the scores fitted for the two together on 2002
			# (rules/with-sa, corpus/tune2002.sh)
			echo "rules_dir = $sarules, $PWD/rules/default, $PWD/rules/with-sa" \
			    >>"$work/$v.conf"
		else
			echo "rules_dir = $work/rules-$v" >>"$work/$v.conf"
		fi
		for s in ham spam; do
			d=$tsh; [ $s = spam ] && d=$tss
			FILTERD_CONF=$work/$v.conf "$ctl" check \
			    $(find "$d" -type f | sort) 2>/dev/null |
			    sed -n 's/^.*: score=\([-0-9.]*\)\/.*/\1/p' \
			    >"$work/f$v.$s"
		done
	done
fi

# --- bogofilter ----------------------------------------------------------
mkdir -p "$work/bogo"
t0=$(now)
bogofilter -d "$work/bogo" -s -B "$trs"
bogofilter -d "$work/bogo" -n -B "${trh[@]}"
t1=$(now)
echo "$t0 $t1" >"$work/bogo.learntime"
# -v: each line names its file ("path class p"), in directory order
for s in ham spam; do
	d=$tsh; [ $s = spam ] && d=$tss
	bogofilter -d "$work/bogo" -v -t -B "$d" >"$work/bogo.$s.raw"
	awk '{print $3}' "$work/bogo.$s.raw" >"$work/bogo.$s"
	awk '{n = split($1, a, "/"); print a[n], $3}' "$work/bogo.$s.raw" \
	    >"$work/bogo.$s.named"
done

for p in "${pids[@]}"; do wait "$p"; done
pids=()

# --- report --------------------------------------------------------------
# row NAME HAMFILE SPAMFILE CUTOFF: values >= cutoff are spam, "none" ham
row() {
	local fp fn
	fp=$(awk -v c="$4" '$1 != "none" && $1 != "bad" && $1 + 0 >= c' "$2" | wc -l)
	fn=$(awk -v c="$4" '$1 == "none" || $1 == "bad" || $1 + 0 < c' "$3" | wc -l)
	local sh=$(wc -l <"$2") ss=$(wc -l <"$3")
	if [ "$sh" != "$nh" ] || [ "$ss" != "$ns" ]; then
		printf "%-34s (incomplete: %s/%s ham, %s/%s spam scored)\n" \
		    "$1" "$sh" "$nh" "$ss" "$ns"
		return
	fi
	printf "%-34s %5d %6.2f%%   %5d %6.2f%%\n" "$1" "$fp" \
	    "$(echo "100 * $fp / $nh" | bc -l)" "$fn" \
	    "$(echo "100 * $fn / $ns" | bc -l)"
}
# fpcount HAMFILE CUTOFF: ham at or above the cutoff
fpcount() {
	awk -v c="$2" '$1 != "none" && $1 != "bad" && $1 + 0 >= c' "$1" | wc -l
}
# at_fp NAME HAMFILE SPAMFILE K: spam iff p > t, t the (K+1)-th highest
# ham value, so at most K ham are called spam
at_fp() {
	local t
	t=$(awk '$1 != "none" && $1 != "bad" { print $1 + 0 }' "$2" |
	    sort -gr | sed -n "$(($4 + 1))p")
	[ -n "$t" ] || t=-1
	local fp fn
	fp=$(awk -v t="$t" '$1 != "none" && $1 != "bad" && $1 + 0 > t' "$2" | wc -l)
	fn=$(awk -v t="$t" '$1 == "none" || $1 == "bad" || $1 + 0 <= t' "$3" | wc -l)
	printf "%-34s %5d %6.2f%%   %5d %6.2f%%\n" "$1 (p > $t)" "$fp" \
	    "$(echo "100 * $fp / $nh" | bc -l)" "$fn" \
	    "$(echo "100 * $fn / $ns" | bc -l)"
}
# paired NAME CUTOFF - filterd's Bayes against bogofilter's at one cutoff,
# message by message (joined on the file name): ham only one of them
# calls spam, spam only one of them misses, and the exact McNemar p
paired() {
	python3 - "$work" "$2" "$1" <<'PY'
import math, sys
work, cut, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def load(f):
    d = {}
    for line in open(f):
        k, v = line.split()
        d[k] = float(v) if v not in ("none", "bad") else None
    return d
def mcnemar(b, c):
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
def fp(v):
    return v is not None and v >= cut
def fn(v):
    return v is None or v < cut
out = []
for kind, s, wrong in (("ham called spam", "ham", fp),
                       ("spam missed", "spam", fn)):
    f = load(f"{work}/fd.{s}.named")
    b = load(f"{work}/bogo.{s}.named")
    keys = f.keys() & b.keys()
    only_f = sum(1 for k in keys if wrong(f[k]) and not wrong(b[k]))
    only_b = sum(1 for k in keys if wrong(b[k]) and not wrong(f[k]))
    out.append(f"{kind}: only filterd {only_f}, only bogofilter {only_b}, "
               f"p = {mcnemar(only_f, only_b):.2g}")
print(f"{name}: " + "; ".join(out))
PY
}
rate() { # name file: messages/s of a learn run
	read -r a b <"$2"
	printf "  %-20s %6.0f msg/s\n" "$1" "$(echo "$ntrain / ($b - $a)" | bc -l)"
}
echo
echo "filterd eval: trained on 2002 ($(find "$trs" -type f | wc -l) spam," \
    "$(find "${trh[@]}" -type f | wc -l) ham), tested on 2003 ($nh ham, $ns spam)"
printf "%-34s %13s   %13s\n" "system" "FP (ham)" "FN (spam)"
row "filterd Bayes alone, p >= 0.50" "$work/fd.ham" "$work/fd.spam" 0.5
row "filterd Bayes alone, p >= 0.99" "$work/fd.ham" "$work/fd.spam" 0.99
row "bogofilter, p >= 0.50" "$work/bogo.ham" "$work/bogo.spam" 0.5
row "bogofilter, p >= 0.99 (default)" "$work/bogo.ham" "$work/bogo.spam" 0.99
echo "at equal FP (cutoff set by the other's FP at p >= 0.50):"
at_fp "  filterd Bayes" "$work/fd.ham" "$work/fd.spam" \
    "$(fpcount "$work/bogo.ham" 0.5)"
at_fp "  bogofilter" "$work/bogo.ham" "$work/bogo.spam" \
    "$(fpcount "$work/fd.ham" 0.5)"
echo "paired, on the same messages (exact McNemar test, two-sided): the"
echo "messages only one of the two gets wrong, and the chance of a split at"
echo "least that uneven if both were equally good:"
paired "  Bayes p >= 0.50" 0.5
paired "  Bayes p >= 0.99" 0.99
if [ $full = yes ]; then
	row "filterd rules+Bayes, score >= 5" "$work/fc.ham" "$work/fc.spam" 5.0
else
	echo "filterd rules+Bayes                (filterctl check failed; see $work)"
fi
if [ $hand = yes ]; then
	row "  same, hand-set scores" "$work/fh.ham" "$work/fh.spam" 5.0
else
	echo "  same, hand-set scores            (filterctl check failed; see $work)"
fi
if [ $sa_rows = yes ]; then
	row "filterd SA rules+Bayes, >= 5" "$work/fsa.ham" "$work/fsa.spam" 5.0
	row "  + rules/default" "$work/fsa-fd.ham" "$work/fsa-fd.spam" 5.0
	row "  + rules/with-sa scores (2002 fit)" "$work/fsa-fd-tuned.ham" \
	    "$work/fsa-fd-tuned.spam" 5.0
else
	echo "filterd SA rules+Bayes             (no SpamAssassin rules in $sarules)"
fi
if [ -f "$work/sa.ham" ]; then
	row "SpamAssassin+Bayes, score >= 5" "$work/sa.ham" "$work/sa.spam" 5.0
else
	echo "SpamAssassin+Bayes                 (skipped)"
fi
echo "learning the 2002 sets ($ntrain messages):"
rate "filterctl learn" "$work/fd.learntime"
rate "bogofilter -s/-n" "$work/bogo.learntime"
[ -f "$work/sa.learntime" ] && rate "sa-learn" "$work/sa.learntime"
exit 0
