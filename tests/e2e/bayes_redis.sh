#!/usr/bin/env bash
# tests/e2e/bayes_redis.sh - the Redis backend against a real redis-server
# on a loopback port: learn/relearn/forget, the same probabilities as BDB,
# and backup -> restore BDB -> Redis -> BDB byte-identical; a server with
# requirepass and an ACL user (AUTH from the URL, the password never shown).
set -u
cd "$(dirname "$0")/../.."
t=$(mktemp -d /tmp/bayes_redis.XXXXXX)
. tests/e2e/lib_bayes.sh
ctl=$(bayes_ctl "$t")
rpid= rpid2=
cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	[ -n "$rpid2" ] && kill "$rpid2" 2>/dev/null && wait "$rpid2" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

if ! command -v redis-server >/dev/null; then
	echo "not ok 1 - redis-server not installed (make deps)"
	echo "1..1"
	exit 1
fi
# a free loopback port
port=
for p in $(shuf -i 20000-40000 -n 20); do
	if ! (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null; then port=$p; break; fi
done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$t" --daemonize no >"$t/redis.log" 2>&1 &
rpid=$!
for i in $(seq 50); do
	redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
R="redis://127.0.0.1:$port/3"

gen() {
	awk -v kind="$1" -v seed="$2" -v count="$3" -v dir="$4" 'BEGIN {
		srand(seed);
		split("meeting project report schedule kernel patch review " \
		    "lunch budget release notes thanks attached minutes " \
		    "agenda build test merge branch debian package", ham);
		split("viagra cheap pills winner lottery cash mortgage free " \
		    "offer click unsubscribe refinance casino prize million " \
		    "guaranteed bonus pharmacy discount", spam);
		for (i = 0; i < count; i++) {
			f = dir "/" i;
			dom = kind == "spam" ? "bulk.example" : "lists.example.org";
			subj = kind == "spam" ? "Offer" : "Sync";
			printf "From: %s%d@%s\nTo: user@example.net\n", kind, i,
			    dom > f;
			printf "Subject: %s %d\nMessage-ID: <%s.%d.%d@x>\n\n",
			    subj, i, kind, seed, i > f;
			for (w = 0; w < 30; w++) {
				wd = kind == "spam" ? spam[int(rand() * 20) + 1] : \
				    ham[int(rand() * 21) + 1];
				printf "%s ", wd > f;
			}
			printf "\nword%d%d\n", seed, i > f;
			close(f);
		}
	}'
}
mkdir -p "$t/spam" "$t/ham" "$t/new/s" "$t/new/h"
gen spam 1 220 "$t/spam"
gen ham 2 230 "$t/ham"
gen spam 3 4 "$t/new/s"
gen ham 4 4 "$t/new/h"
cat >"$t/f.conf" <<EOC
state_dir = $t/state
bayes_store = $R
EOC

out=$("$ctl" learn -c "$t/f.conf" --spam "$t/spam")
check "learn into Redis via bayes_store = redis://" '[[ $out == "learned 220, already known 0,"* ]]'
"$ctl" learn --store "$R" --ham "$t/ham" >/dev/null
out=$("$ctl" learn --store "$R" --ham "$t/ham")
check "relearn same class: no-op" '[[ $out == "learned 0, already known 230,"* ]]'
s=$("$ctl" bayes -c "$t/f.conf" stats)
check "stats: 220 spam, 230 ham, consistent" \
    '[[ $s == *"nspam	220"* && $s == *"nham	230"* && $s == *"consistent	yes"* && $s == *"(redis)"* ]]'
tok1=$(echo "$s" | awk '$1=="ntokens"{print $2}')
"$ctl" learn --store "$R" --spam "$t/ham" >/dev/null
s=$("$ctl" bayes -c "$t/f.conf" stats)
check "relearn as spam moves the counts" '[[ $s == *"nspam	450"* && $s == *"nham	0"* ]]'
"$ctl" learn --store "$R" --forget "$t/ham" >/dev/null
"$ctl" learn --store "$R" --ham "$t/ham" >/dev/null
s=$("$ctl" bayes -c "$t/f.conf" stats)
tok2=$(echo "$s" | awk '$1=="ntokens"{print $2}')
check "forget + relearn: back to the same model ($tok1 = $tok2 tokens)" \
    '[ "$tok1" -gt 0 ] && [ "$tok1" = "$tok2" ] && [[ $s == *"nspam	220"* && $s == *"nham	230"* && $s == *"consistent	yes"* ]]'

# the same training in BDB gives the same probabilities
"$ctl" learn --store "$t/bdb" --spam "$t/spam" >/dev/null
"$ctl" learn --store "$t/bdb" --ham "$t/ham" >/dev/null
"$ctl" bayes -c "$t/f.conf" classify "$t/new/s" "$t/new/h" >"$t/c.redis"
"$ctl" bayes -c "$t/f.conf" --store "$t/bdb" classify "$t/new/s" "$t/new/h" >"$t/c.bdb"
check "Redis and BDB classify alike ($(awk '{printf "%s ", $1}' "$t/c.redis"))" \
    'cmp -s "$t/c.redis" "$t/c.bdb" && [ $(awk "\$1 > 0.99" "$t/c.redis" | wc -l) = 4 ] && [ $(awk "\$1 < 0.01" "$t/c.redis" | wc -l) = 4 ]'

# BDB -> Redis -> BDB round trip
"$ctl" bayes -c "$t/f.conf" --store "$t/bdb" backup "$t/b.bdb"
"$ctl" bayes -c "$t/f.conf" --store "redis://127.0.0.1:$port/4" restore "$t/b.bdb"
"$ctl" bayes -c "$t/f.conf" --store "redis://127.0.0.1:$port/4" backup "$t/b.redis"
"$ctl" bayes -c "$t/f.conf" --store "$t/bdb2" restore "$t/b.redis"
"$ctl" bayes -c "$t/f.conf" --store "$t/bdb2" backup "$t/b.bdb2"
check "backup BDB -> Redis -> BDB identical ($(grep -c '^t' "$t/b.bdb") tokens)" \
    '[ $(grep -c "^t" "$t/b.bdb") -gt 100 ] && cmp -s "$t/b.bdb" "$t/b.redis" && cmp -s "$t/b.bdb" "$t/b.bdb2"'
# a restore replaces what was there; Redis keeps the learned messages
"$ctl" bayes -c "$t/f.conf" --store "redis://127.0.0.1:$port/4" restore "$t/b.bdb"
out=$("$ctl" learn --store "redis://127.0.0.1:$port/4" --spam "$t/spam")
check "restored store knows its seen messages" '[[ $out == "learned 0, already known 220,"* ]]'
# the learned Redis model equals the BDB one trained the same way
"$ctl" bayes -c "$t/f.conf" backup | grep -v '^t' | grep -v last_expire >"$t/r.meta"
grep -v '^t' "$t/b.bdb" | grep -v last_expire >"$t/b.meta"
"$ctl" bayes -c "$t/f.conf" backup | awk -F'\t' '$1=="t"{print $2,$3,$4}' >"$t/r.tok"
awk -F'\t' '$1=="t"{print $2,$3,$4}' "$t/b.bdb" >"$t/b.tok"
check "Redis and BDB learned the same counts" \
    '[ -s "$t/r.tok" ] && cmp -s "$t/r.meta" "$t/b.meta" && cmp -s "$t/r.tok" "$t/b.tok"'

# two learners at once on one Redis model (many hosts): totals add up
mkdir -p "$t/s2" "$t/s3"
gen spam 5 150 "$t/s2"
gen spam 6 150 "$t/s3"
"$ctl" learn --store "$R" --spam "$t/s2" >/dev/null &
p1=$!
"$ctl" learn --store "$R" --spam "$t/s3" >/dev/null
wait $p1
s=$("$ctl" bayes -c "$t/f.conf" stats)
check "concurrent learners: nspam 520, consistent" \
    '[[ $s == *"nspam	520"* && $s == *"consistent	yes"* ]]'

# a scan touches the tokens it used (SA): old atimes become "now"
awk -F'\t' -v OFS='\t' '$1 == "t" { $5 = 1000 } { print }' "$t/b.bdb" >"$t/old.txt"
"$ctl" bayes -c "$t/f.conf" restore "$t/old.txt"
cat >"$t/scan.conf" <<EOC
state_dir = $t/state
bayes_store = $R
bayes_min_spam_num = 10
bayes_min_ham_num = 10
bayes_auto_learn = no
use_dnsbl = no
use_spf = no
use_dkim = no
use_dmarc = no
rules_local =
EOC
out=$(FILTERD_CONF=$t/scan.conf "$ctl" check "$t/new/s/0" 2>/dev/null)
s=$("$ctl" bayes -c "$t/f.conf" stats)
newest=$(echo "$s" | awk '$1=="newest_atime"{print $2}')
oldest=$(echo "$s" | awk '$1=="oldest_atime"{print $2}')
check "a scan on Redis: BAYES_99 and its tokens touched (atime $oldest -> $newest)" \
    '[[ $out == *BAYES_99* ]] && [ "$oldest" = 1000 ] && [ "$newest" -gt $(( $(date +%s) - 600 )) ]'

# a server that wants a password (requirepass, and a Redis 6 ACL user):
# the URL's userinfo, percent-decoded; every message shows it as ***
for p2 in $(shuf -i 20000-40000 -n 20); do
	if ! (echo >/dev/tcp/127.0.0.1/$p2) 2>/dev/null; then port2=$p2; break; fi
done
redis-server --port "$port2" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$t" --daemonize no --requirepass 's3cr:t@x/y' \
    --user alice on '>al1ce' '~*' '&*' '+@all' >"$t/redis2.log" 2>&1 &
rpid2=$!
for i in $(seq 50); do
	redis-cli -h 127.0.0.1 -p "$port2" --no-auth-warning -a 's3cr:t@x/y' ping \
	    2>/dev/null | grep -q PONG && break
	sleep 0.1
done
"$ctl" learn --store "redis://127.0.0.1:$port2/0" --spam "$t/spam" >/dev/null 2>"$t/err"
rc=$?
check "password wanted, none given: refused (rc=$rc: $(cat "$t/err"))" \
    '[ $rc = 1 ] && grep -q "Permission denied" "$t/err"'
"$ctl" learn --store "redis://:wrongpw@127.0.0.1:$port2/0" --spam "$t/spam" >/dev/null 2>"$t/err"
rc=$?
check "wrong password: refused, shown as *** ($(cat "$t/err"))" \
    '[ $rc = 1 ] && grep -q "redis://:\*\*\*@127.0.0.1:$port2/0: Permission denied" "$t/err" && ! grep -q wrongpw "$t/err"'
P="redis://:s3cr%3At%40x%2Fy@127.0.0.1:$port2/0"
out=$("$ctl" learn --store "$P" --spam "$t/spam" 2>&1)
s=$("$ctl" bayes --store "$P" stats 2>&1)
check "requirepass (percent-encoded in the URL): learns; stats shows ***" \
    '[[ $out == "learned 220,"* ]] && [[ $s == *"store	redis://:***@127.0.0.1:$port2/0 (redis)"* ]] && [[ $s == *"nspam	220"* ]]'
out=$("$ctl" learn --store "redis://alice:al1ce@127.0.0.1:$port2/0" --ham "$t/ham" 2>&1)
check "ACL user alice: learns into the same model ($out)" \
    '[[ $out == "learned 230,"* ]]'
cat >"$t/pw.conf" <<EOC
state_dir = $t/state
bayes_store = redis://:leakedpw@127.0.0.1:$port2/0
EOC
out=$(FILTERD_CONF=$t/pw.conf "$ctl" check "$t/new/s/0" 2>&1)
check "a scan with a wrong password: Bayes off, the log shows *** not it" \
    '[[ $out == *"bayes: "*"redis://:***@127.0.0.1:$port2/0: Permission denied; scans go on without Bayes"* ]] && [[ $out != *leakedpw* ]]'
kill "$rpid2"; wait "$rpid2" 2>/dev/null; rpid2=

# a dead server is an error, not a crash
kill "$rpid"; wait "$rpid" 2>/dev/null; rpid=
"$ctl" learn --store "$R" --spam "$t/spam" >/dev/null 2>"$t/err"
rc=$?
check "server gone: learn fails cleanly (rc=$rc)" '[ $rc = 1 ] && grep -q "cannot open bayes store" "$t/err"'
echo "1..$n"
