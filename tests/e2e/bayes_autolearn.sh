#!/usr/bin/env bash
# tests/e2e/bayes_autolearn.sh - the Bayes check inside a real scan
# (filterctl check runs the daemon's scan): BAYES_* hits once trained,
# none below the minimum counts, and SA-style autolearn shown in
# X-Spam-Status (autolearn=ham|spam|no) and written to the store.
set -u
cd "$(dirname "$0")/../.."
t=$(mktemp -d /tmp/bayes_autolearn.XXXXXX)
. tests/e2e/lib_bayes.sh
ctl=$(bayes_ctl "$t")
trap 'rm -rf "$t"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

base="state_dir = $t/state
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local =
bayes_min_spam_num = 5
bayes_min_ham_num = 5"
printf '%s\nbayes_auto_learn = no\n' "$base" >"$t/nolearn.conf"
printf '%s\n' "$base" >"$t/learn.conf"
# spam threshold low enough for a handful of structural hits
printf '%s\nbayes_auto_learn_threshold_spam = 1.0\n' "$base" >"$t/spam.conf"

ham() { # N -> a complete, clean message
	printf 'From: Alice <alice@team.example>\nTo: bob@team.example\n'
	printf 'Subject: build report %s\nDate: Mon, 1 Sep 2025 10:00:00 +0000\n' "$1"
	printf 'Message-ID: <ham%s@team.example>\n\n' "$1"
	printf 'kernel patch review merged, thanks for the release notes %s\n' "$1"
}
spam() { # N -> no Date, no Message-ID: structural hits
	printf 'From: winner@bulk.example\nTo: bob@team.example\n'
	printf 'Subject: cheap pills lottery %s\n\n' "$1"
	printf 'viagra casino lottery winner cash prize million %s\n' "$1"
}
for i in 1 2 3 4 5 6; do
	ham $i >"$t/h$i.eml"
	spam $i >"$t/s$i.eml"
done
C() { FILTERD_CONF=$1 "$ctl" check -v "${@:2}" 2>/dev/null; }
S() { "$ctl" bayes -c "$t/learn.conf" stats 2>/dev/null | awk -v k="$1" '$1==k{print $2}'; }

out=$(C "$t/nolearn.conf" "$t/h1.eml")
check "untrained: no BAYES hit, autolearn=no with bayes_auto_learn = no" \
    '[[ $out != *BAYES_* && $out == *"autolearn=no"* ]]'
out=$(C "$t/learn.conf" "$t/h1.eml")
check "clean message autolearns as ham" '[[ $out == *"autolearn=ham"* ]] && [ "$(S nham)" = 1 ]'
out=$(C "$t/learn.conf" "$t/h1.eml")
check "the same message again: autolearn=no, nothing counted twice" \
    '[[ $out == *"autolearn=no"* ]] && [ "$(S nham)" = 1 ]'
out=$(C "$t/learn.conf" "$t/s1.eml")
check "spammy but under 12 points: autolearn=no" '[[ $out == *"autolearn=no"* ]] && [ "$(S nspam)" = 0 ]'
out=$(C "$t/spam.conf" "$t/s1.eml")
check "over bayes_auto_learn_threshold_spam: autolearn=spam" \
    '[[ $out == *"autolearn=spam"* ]] && [ "$(S nspam)" = 1 ]'

"$ctl" learn -c "$t/learn.conf" --ham "$t"/h[2-6].eml >/dev/null
"$ctl" learn -c "$t/learn.conf" --spam "$t"/s[2-6].eml >/dev/null
ham 99 >"$t/hnew.eml"
spam 99 >"$t/snew.eml"
out=$(C "$t/nolearn.conf" "$t/snew.eml")
check "trained: unseen spam gets BAYES_99 with its score (4.188, bayes/classify.c)" \
    '[[ $out == *"BAYES_99"* && $out =~ 4\.1[89]\ BAYES_99 ]]'
out=$(C "$t/nolearn.conf" "$t/hnew.eml")
check "trained: unseen ham gets BAYES_00" '[[ $out == *"BAYES_00"* ]]'
# autolearn ignores the Bayes score itself (SA: tflags learn): put the
# spam threshold between the rules-only score and the total
spam 98 >"$t/s98.eml"
out=$(C "$t/nolearn.conf" "$t/s98.eml")
total=$(echo "$out" | sed -n 's/.*: score=\([-0-9.]*\)\/.*/\1/p')
bay=$(echo "$out" | awk '$2 ~ /^BAYES_/ { s += $1 } END { print s + 0 }')
thr=$(echo "$total - $bay / 2" | bc -l)
printf '%s\nbayes_auto_learn_threshold_spam = %.2f\n' "$base" "$thr" >"$t/spam3.conf"
out=$(C "$t/spam3.conf" "$t/s98.eml")
check "Bayes points do not count toward autolearn (total $total, Bayes $bay)" \
    '[[ $out == *"BAYES_99"* && $out == *"autolearn=no"* ]] && [ "$(echo "$bay > 0" | bc)" = 1 ]'
echo "1..$n"
