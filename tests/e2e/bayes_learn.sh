#!/usr/bin/env bash
# tests/e2e/bayes_learn.sh - filterctl learn / bayes on a BDB store:
# every folder format, idempotent relearn, move, forget, bad input,
# classification of unseen mail, min counts, expiry, kill -9 mid-learn.
set -u
cd "$(dirname "$0")/../.."
t=$(mktemp -d /tmp/bayes_learn.XXXXXX)
. tests/e2e/lib_bayes.sh
ctl=$(bayes_ctl "$t")
trap 'rm -rf "$t"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

# gen KIND SEED COUNT - synthetic messages on stdout, separated by \0
gen() {
	awk -v kind="$1" -v seed="$2" -v count="$3" 'BEGIN {
		srand(seed);
		split("meeting project report schedule kernel patch review " \
		    "lunch budget release notes thanks attached minutes " \
		    "agenda build test merge branch debian package", ham);
		split("viagra cheap pills winner lottery cash mortgage free " \
		    "offer click unsubscribe refinance casino prize million " \
		    "guaranteed bonus pharmacy discount", spam);
		for (i = 0; i < count; i++) {
			printf "From: %s%d@%s\n", kind, i,
			    kind == "spam" ? "bulk-offers.example" : "lists.example.org";
			printf "To: user@example.net\n";
			printf "Subject: %s %d\n", kind == "spam" ? "Amazing offer" : "Weekly sync", i;
			printf "Message-ID: <%s.%d.%d@example>\n", kind, seed, i;
			printf "Date: Mon, 1 Sep 2025 10:00:00 +0000\n\n";
			for (w = 0; w < 40; w++) {
				if (kind == "spam") printf "%s ", spam[int(rand() * 20) + 1];
				else printf "%s ", ham[int(rand() * 21) + 1];
				if (w % 10 == 9) printf "\n";
			}
			printf "\nword%d%d\n", seed, i;
			printf "%c", 0;
		}
	}'
}
# split NUL-separated messages into files DIR/PREFIX<n>
split_to() {
	mkdir -p "$1"
	awk -v d="$1" -v p="${2:-}" 'BEGIN { RS = "\0"; i = 1 }
		length($0) > 0 { f = d "/" p i; printf "%s", $0 > f; close(f); i++ }'
}
# mbox: From_ line + message + blank line
to_mbox() {
	awk 'BEGIN { RS = "\0" } length($0) > 0 {
		printf "From sender@example Mon Sep  1 10:00:00 2025\n%s\n", $0 }'
}
conf=$t/f.conf
cat >"$conf" <<EOC
state_dir = $t/state
bayes_min_spam_num = 200
bayes_min_ham_num = 200
EOC
st=$t/state/bayes
L() { "$ctl" learn -c "$conf" "$@"; }
B() { "$ctl" bayes -c "$conf" "$@"; }

# formats: maildir (cur+new), MH (numeric), plain dir, mbox, stdin
gen spam 1 150 | split_to "$t/md/cur" "m."
gen spam 2 60 | split_to "$t/md/new" "n."
mkdir -p "$t/md/tmp"
gen ham 3 120 | split_to "$t/mh"
touch "$t/mh/.mh_sequences"
gen ham 4 100 | to_mbox >"$t/ham.mbox"
gen ham 5 1 | tr -d '\0' >"$t/one.eml"
out=$(L --spam "$t/md")
check "maildir: cur and new learned" \
    '[ "$out" = "learned 210, already known 0, skipped (bad) 0, 210 messages in ${out##* in }" ]'
out=$(L --ham "$t/mh" "$t/ham.mbox")
check "MH folder and mbox learned (220)" '[[ $out == "learned 220, already known 0,"* ]]'
# a terminal gets a progress line (count, percent, rate, ETA); a pipe not
tty=$(script -qc "$ctl learn --store $t/tty --spam $t/md" /dev/null | tr '\r' '\n')
pipe=$("$ctl" learn --store "$t/tty2" --spam "$t/md" 2>&1)
check "progress on a tty, quiet otherwise" \
    '[[ $tty == *"210/210 100%"*"msg/s  ETA 0:00"* && $pipe != *ETA* ]]'
out=$(L --ham - <"$t/one.eml")
check "stdin message learned" '[[ $out == "learned 1, "* ]]'
out=$(L --ham "$t/mh")
check "relearning the same class is a no-op" \
    '[[ $out == "learned 0, already known 120, skipped (bad) 0,"* ]]'
stats=$(B stats)
check "stats totals 210 spam / 221 ham" \
    '[[ $stats == *"nspam	210"* && $stats == *"nham	221"* && $stats == *"consistent	yes"* ]]'

# mboxrd: ">From " in a body is unquoted, so the same message learned from
# an mbox and from a file is one message (same seen id: already known)
printf 'From: q@x.example\nSubject: quoted\nMessage-ID: <q@x>\n\nhello\nFrom the start\n>From here\nbye\n' >"$t/q.eml"
{ printf 'From a@b Mon Sep  1 10:00:00 2025\n'; sed 's/^\(>*From \)/>\1/' "$t/q.eml"; printf '\n'; } >"$t/q.mbox"
out1=$(L --ham "$t/q.mbox")
out2=$(L --ham "$t/q.eml")
check "mbox >From unquoting: same message as the file" \
    '[[ $out1 == "learned 1,"* && $out2 == "learned 0, already known 1,"* ]]'

# worker threads change nothing: the same folders (maildir, MH, mbox, a
# duplicate, a forget) learned inline and with 3 workers give the same
# tokens, counts and summary lines
for th in 1 3; do
	s=$t/thr$th
	{
		FILTERCTL_THREADS=$th "$ctl" learn --store "$s" --spam "$t/md" "$t/md"
		FILTERCTL_THREADS=$th "$ctl" learn --store "$s" --ham "$t/mh" "$t/ham.mbox"
		FILTERCTL_THREADS=$th "$ctl" learn --store "$s" --forget "$t/ham.mbox"
	} | sed 's/ messages in .*//' >"$t/thr$th.out"
	"$ctl" bayes --store "$s" dump | cut -f1-3,5 | sort >"$t/thr$th.dump"
done
check "1 or 3 learning threads: same store and summaries" \
    'cmp -s "$t/thr1.dump" "$t/thr3.dump" && cmp -s "$t/thr1.out" "$t/thr3.out" && [ -s "$t/thr1.dump" ] && grep -q "already known 210" "$t/thr1.out"'

# bad input never aborts: empty file, dangling symlink, headerless junk
mkdir -p "$t/bad"
: >"$t/bad/empty"
ln -s "$t/nowhere" "$t/bad/dangling"
gen spam 6 3 | split_to "$t/bad" "good."
out=$(L --spam "$t/bad" "$t/missing-path" 2>"$t/bad.err"); rc=$?
check "bad messages counted, run completes (rc=$rc)" \
    '[ $rc -eq 0 ] && [[ $out == "learned 3, already known 0, skipped (bad) 3,"* ]]'
check "a PATH that does not exist is named on stderr" \
    'grep -q "missing-path: No such file or directory" "$t/bad.err"'
# a folder of folders: not searched recursively, and said so
mkdir -p "$t/tree/Junk" "$t/tree/Spam"
gen spam 9 2 | split_to "$t/tree/Junk"
out=$(L --spam "$t/tree" 2>"$t/tree.err")
check "a folder of folders: nothing learned, stderr names the subfolders" \
    '[[ $out == "learned 0, already known 0, skipped (bad) 0,"* ]] && grep -q "tree: no messages; its 2 subfolders .* are not searched: name each folder" "$t/tree.err"'

# classification of unseen mail
gen spam 7 5 | split_to "$t/newspam"
gen ham 8 5 | split_to "$t/newham"
cls=$(B classify "$t/newspam" "$t/newham")
spamhi=$(echo "$cls" | awk -v d="$t/newspam" 'index($2, d) == 1 && $1 > 0.99' | wc -l)
hamlo=$(echo "$cls" | awk -v d="$t/newham" 'index($2, d) == 1 && $1 < 0.01' | wc -l)
check "unseen spam > 0.99 ($spamhi/5), unseen ham < 0.01 ($hamlo/5)" \
    '[ "$spamhi" = 5 ] && [ "$hamlo" = 5 ]'

# relearn as the other class moves counts; forget removes them
before=$(B stats | awk '$1=="ntokens"{print $2}')
out=$(L --spam "$t/mh")
st2=$(B stats)
check "relearning ham as spam moves 120 messages" \
    '[[ $out == "learned 120,"* && $st2 == *"nspam	333"* && $st2 == *"nham	102"* ]]'
out=$(L --forget "$t/mh")
st3=$(B stats)
check "forget removes them" \
    '[[ $out == "forgot 120,"* && $st3 == *"nspam	213"* && $st3 == *"nham	102"* && $st3 == *"consistent	yes"* ]]'
out=$(L --forget "$t/mh")
check "forgetting again: nothing to forget" '[[ $out == "forgot 0, not learned 120,"* ]]'
L --ham "$t/mh" >/dev/null
after=$(B stats | awk '$1=="ntokens"{print $2}')
check "learn, move, forget, relearn: same token count ($before = $after)" \
    '[ -n "$before" ] && [ "$before" -gt 0 ] && [ "$before" = "$after" ]'

# too little training: no result
cat >"$t/min.conf" <<EOC
state_dir = $t/state
bayes_min_spam_num = 1000
EOC
cls=$("$ctl" bayes -c "$t/min.conf" classify "$t/newspam" | awk '{print $1}' | sort -u)
check "below bayes_min_spam_num: no result" '[ "$cls" = none ]'

# backup / restore into a fresh BDB store is byte-identical
B backup "$t/b1.txt"
"$ctl" bayes -c "$conf" --store "$t/copy" restore "$t/b1.txt"
"$ctl" bayes -c "$conf" --store "$t/copy" backup "$t/b2.txt"
check "BDB backup -> restore -> backup identical" 'cmp -s "$t/b1.txt" "$t/b2.txt"'

# a damaged store: stats says so and exits 1 (a BDB error used to end it
# in silence)
cp -r "$t/copy" "$t/damaged"
rm -f "$t/damaged"/__db.*
python3 - "$t/damaged/tokens.db" <<'EOP'
import os, sys
p = sys.argv[1]
with open(p, 'r+b') as f:
    for pg in range(1, os.path.getsize(p) // 4096):
        f.seek(pg * 4096 + 8)  # the page header: its number, type, counts
        f.write(b'\xa5' * 24)
EOP
"$ctl" bayes --store "$t/damaged" stats >/dev/null 2>"$t/damaged.err"; rc=$?
check "damaged store: stats exits 1 and names the problem (rc=$rc)" \
    '[ $rc -eq 1 ] && grep -q "^filterctl: bayes stats: .*damaged store" "$t/damaged.err"'

# expire: give every token its own atime, cap at 400 -> the newest 300
awk -F'\t' -v OFS='\t' '$1 == "t" { $5 = 1000000 + NR } { print }' \
    "$t/b1.txt" >"$t/b3.txt"
"$ctl" bayes -c "$conf" --store "$t/copy" restore "$t/b3.txt"
"$ctl" bayes -c "$conf" --store "$t/copy" expire --max-tokens 400 >"$t/exp.txt"
left=$("$ctl" bayes -c "$conf" --store "$t/copy" stats | awk '$1=="ntokens"{print $2}')
oldest=$("$ctl" bayes -c "$conf" --store "$t/copy" stats | awk '$1=="oldest_atime"{print $2}')
want=$(awk -F'\t' '$1 == "t" { n++; a[n] = $5 } END { print a[n - 299] }' "$t/b3.txt")
check "expire --max-tokens 400 keeps the 300 newest ($left, oldest $oldest)" \
    '[ "$left" = 300 ] && [ "$oldest" = "$want" ] && grep -q "^expired $((before - 300)) tokens" "$t/exp.txt"'

# auto-expiry after learning (SA bayes_auto_expire): 3000 tokens with
# distinct old atimes and a cap of 1000: the newest 750 stay (the new
# message's tokens among them)
awk 'BEGIN { print "filterd-bayes-backup 1"; print "v\tnspam\t300";
	print "v\tnham\t300"; print "v\tlast_expire\t0";
	for (i = 1; i <= 3000; i++)
		printf "t\t%016x\t1\t0\t%d\n", i * 7919, 1000000 + i }' >"$t/many.txt"
printf 'state_dir = %s/state\nbayes_expiry_max_db_size = 1000\n' "$t" >"$t/exp.conf"
"$ctl" bayes -c "$t/exp.conf" --store "$t/ae" restore "$t/many.txt"
out=$("$ctl" learn -c "$t/exp.conf" --store "$t/ae" --ham "$t/one.eml" 2>&1)
s=$("$ctl" bayes -c "$t/exp.conf" --store "$t/ae" stats)
left=$(echo "$s" | awk '$1=="ntokens"{print $2}')
oldest=$(echo "$s" | awk '$1=="oldest_atime"{print $2}')
check "learn auto-expires over bayes_expiry_max_db_size ($left left)" \
    '[[ $out =~ expired\ (22[5-9][0-9])\ tokens ]] && [ "$left" = 750 ] && [ "$oldest" -gt 1002250 ]'
out=$("$ctl" learn -c "$t/exp.conf" --store "$t/ae" --spam "$t/one.eml" 2>&1)
check "no second expiry within 12 hours" '[[ $out != *expired* ]]'

# the buffer cache: 256 MB (+25 % Berkeley DB adds), or a DB_CONFIG's
"$ctl" learn -q --store "$t/bc1" --spam "$t/one.eml" >/dev/null
mkdir -p "$t/bc2"
echo "set_cachesize 0 67108864 1" >"$t/bc2/DB_CONFIG"
"$ctl" learn -q --store "$t/bc2" --spam "$t/one.eml" >/dev/null
c1=$("$ctl" bayes --store "$t/bc1" stats | awk -F'\t' '$1 == "buffer_cache" {print $2}')
c2=$("$ctl" bayes --store "$t/bc2" stats | awk -F'\t' '$1 == "buffer_cache" {print $2}')
check "stats: buffer_cache $c1 by default, $c2 with a DB_CONFIG of 64 MB" \
    '[ "$c1" = "320 MB" ] && [ "$c2" = "80 MB" ]'

# a full disk: the store on a 64 MB tmpfs, a learn whose cache and
# tables outgrow it (6000 messages of tests/bench/gen_zipf.py: 322k
# tokens, 71 MB of store). Berkeley DB's region files are mapped
# memory; with their growth left sparse, a cache page the full file system
# could not back killed filterctl with SIGBUS (exit 135). It must end
# with an error, then finish once there is room.
if [ "$(id -u)" = 0 ] && mkdir -p "$t/fs" &&
    mount -t tmpfs -o size=64m,mode=700 tmpfs "$t/fs" 2>/dev/null; then
	trap 'umount "$t/fs" 2>/dev/null; rm -rf "$t"' EXIT
	python3 tests/bench/gen_zipf.py 6000 "$t/zipf.mbox"
	out=$("$ctl" learn -q --store "$t/fs/st" --spam "$t/zipf.mbox" 2>&1)
	rc=$?
	check "full disk: learn ends with an error, no signal (rc=$rc: ${out##*$'\n'})" \
	    '[ $rc = 1 ] && [[ $out == *"No space left on device"* ]]'
	mount -o remount,size=512m "$t/fs"
	out=$("$ctl" learn -q --store "$t/fs/st" --spam "$t/zipf.mbox" 2>&1)
	s=$("$ctl" bayes -c "$conf" --store "$t/fs/st" stats 2>&1)
	check "full disk: with room again the learn finishes, store consistent" \
	    '[[ $out == *", 6000 messages"* ]] && [[ $s == *"nspam	6000"* ]] && [[ $s == *"consistent	yes"* ]]'
	# reading, as a filterd worker does: the store's files (not its
	# region files) in a fresh directory, the file system then cut to
	# 10 MB free, so the environment is made anew and its cache cannot
	# grow as the lookups need; the old code died of SIGBUS here
	gen ham 77 300 | to_mbox >"$t/zham.mbox"
	"$ctl" learn -q --store "$t/fs/st" --ham "$t/zham.mbox" >/dev/null
	mkdir "$t/fs/rd"
	cp "$t/fs/st/"*.db "$t/fs/st/"log.* "$t/fs/rd/"
	rm -rf "$t/fs/st"
	used=$(df -k "$t/fs" | awk 'NR == 2 {print $3}')
	mount -o remount,size=$((used + 10240))k "$t/fs"
	"$ctl" bayes -c "$conf" --store "$t/fs/rd" classify "$t/zipf.mbox" \
	    >"$t/cls" 2>&1
	rc=$?
	check "full disk: classifying reads the store, no signal (rc=$rc, $(grep -c '^[01]\.' "$t/cls") results)" \
	    '[ $rc = 0 ] && [ "$(grep -c "^[01]\." "$t/cls")" = 6000 ]'
	umount "$t/fs"
else
	nok "full disk: cannot mount a tmpfs (root needed)"
fi

# an mbox that shrinks while it is learned (a mail client expunging it
# rewrites it in place): files over 1 MB are mapped, and the pages past
# the new end were a SIGBUS (exit 135). It must say so and go on.
python3 tests/bench/gen_zipf.py 6000 "$t/shrink.mbox" 3
(sleep 0.3; truncate -s 1000000 "$t/shrink.mbox") &
out=$("$ctl" learn --store "$t/shr" --spam "$t/shrink.mbox" 2>&1)
rc=$?
wait
check "an mbox cut short while learned: said, no signal (rc=$rc)" \
    '[ $rc = 0 ] && [[ $out == *"shrank while read; the rest of it is skipped"* ]]'
s=$("$ctl" bayes -c "$conf" --store "$t/shr" stats 2>&1)
check "  what was read is learned, store consistent" \
    '[[ $s == *"consistent	yes"* ]] && [[ $out =~ learned\ ([1-9][0-9]*) ]]'


# kill -9 during learning, three times: stats stay consistent
gen spam 9 60000 | to_mbox >"$t/big.mbox"
good=1 mid=0
"$ctl" learn --store "$t/k" --spam /dev/null >/dev/null 2>&1 # create it
for round in 1 2 3; do
	"$ctl" learn --store "$t/k" --spam "$t/big.mbox" >/dev/null 2>&1 &
	pid=$!
	sleep 0.$((round * 2 - 1))
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	s=$("$ctl" bayes -c "$conf" --store "$t/k" stats 2>&1) || {
		good=0; echo "# round $round: stats failed: $s"; }
	[[ $s == *"consistent	yes"* ]] || { good=0; echo "# round $round: $s"; }
	ns=$(echo "$s" | awk '$1=="nspam"{print $2}')
	[ "${ns:-0}" -lt 60000 ] && mid=1
done
echo "$s" | sed 's/^/# /'
check "kill -9 mid-learn (x3): store consistent, stats exit 0" \
    '[ $good = 1 ] && [ $mid = 1 ]'
out=$("$ctl" learn --store "$t/k" --spam "$t/big.mbox")
check "after the kills a full learn completes" \
    '[[ $out == *"skipped (bad) 0, 60000 messages"* ]] && [[ $("$ctl" bayes -c "$conf" --store "$t/k" stats) == *"nspam	60000"* ]]'
echo "1..$n"
