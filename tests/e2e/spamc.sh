#!/usr/bin/env bash
# tests/e2e/spamc.sh - Debian's spamc against filterd's spamd front door
# (spamd_listen on a free loopback port)
#
# Checks every command spamc can send (CHECK -c, SYMBOLS -y, REPORT -R,
# REPORT_IFSPAM -r, PROCESS, HEADERS --headers, PING -K, TELL -L/-C),
# exit codes (-c: 1 for spam), scores and symbols identical to what
# `filterctl check` prints for the same files, a 6 MB message through
# PROCESS byte for byte, zlib bodies ("Compress: zlib": Debian's spamc is
# built without -z, so a small Python client sends those), the oversize
# and allowed_ips refusals (an answer, never a hang), TELL gating by
# spamd_allow_tell, and spamc's fallback with filterd stopped (-x or not).
set -u
cd "$(dirname "$0")"
. ./lib_filterd.sh

e2e_workdir spamc
e2e_require spamc

# Test rules on top of the shipped ones: a kill-level and a tag2-level token.
cat >"$work/local.cf" <<'EOF'
body     T_FD_KILLTOKEN  /\bXKILLTOKENX\b/
describe T_FD_KILLTOKEN  test rule: kill-level spam token
score    T_FD_KILLTOKEN  20.0
body     T_FD_TAGTOKEN   /\bXTAGTOKENX\b/
describe T_FD_TAGTOKEN   test rule: tag2-level spam token
score    T_FD_TAGTOKEN   6.0
EOF

mkmsg() # file subject body-line
{
	printf '%s\r\n' \
	    "Received: from mx.sender.test (mx.sender.test [192.0.2.10])" \
	    "	by mx.e2e.test with ESMTP id 4AbCdE; Fri, 27 Nov 2026 12:00:00 +0000" \
	    "From: Sender <sender@sender.test>" \
	    "To: rcpt@e2e.test" \
	    "Subject: $2" \
	    "Message-Id: <$RANDOM.$RANDOM@sender.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000" \
	    "X-Spam-Flag: YES" \
	    "" \
	    "Hello," \
	    "$3" \
	    "regards" >"$1"
}
mkmsg "$work/ham.eml" "lunch" "shall we meet for lunch on Friday?"
mkmsg "$work/spam.eml" "offer" "XKILLTOKENX cheap offer"
mkmsg "$work/tag.eml" "maybe" "XTAGTOKENX something"
cp /usr/share/doc/spamc/sample-spam.txt "$work/sample.eml"

# a private copy: others may relink build/filterd while this runs
cp "$FILTERD_BIN" "$work/filterd" && FILTERD_BIN=$work/filterd
cp "$E2E_ROOT/build/filterctl" "$work/filterctl"
read -r fd_port re_port sp_port m_port < <(e2e_ports 4)
EXTRA="spamd_listen = 127.0.0.1:$sp_port
metrics_listen = 127.0.0.1:$m_port
rules_dir = $E2E_ROOT/rules/default
rules_local = $work/local.cf
dnsbl_config = $E2E_ROOT/etc/dnsbl.cf
use_dnsbl = no
message_size_limit = 8M"
if ! fd_start "$fd_port" "$re_port" "$EXTRA"; then
	not_ok "filterd starts with spamd on 127.0.0.1:$sp_port"
	tap_done
	exit 1
fi
ok "filterd up, spamd protocol on 127.0.0.1:$sp_port"
SPAMC="timeout 20 spamc -d 127.0.0.1 -p $sp_port"
CTL="$work/filterctl -c $FD_CONF"

# metrics: a spamd scan is counted as the verdict it answers (issue 12)
metric() # action: filterd_messages_total{action=...} from metrics_listen
{
	curl -s "http://127.0.0.1:$m_port/metrics" |
	    awk -v k="filterd_messages_total{action=\"$1\"}" \
	    '$1 == k { print $2 }'
}
p0=$(metric pass)
s0=$(metric pass-spam)
$SPAMC -c <"$work/ham.eml" >/dev/null 2>&1
$SPAMC -c <"$work/spam.eml" >/dev/null 2>&1
check "metrics: spamd scans counted, pass ${p0:-?}->$(metric pass), pass-spam ${s0:-?}->$(metric pass-spam)" \
    [ -n "$p0" -a -n "$s0" -a "$(metric pass)" = $((p0 + 1)) \
    -a "$(metric pass-spam)" = $((s0 + 1)) ]

# --- PING ---------------------------------------------------------------
out=$($SPAMC -K 2>&1)
rc=$?
check "PING: spamc -K gets PONG (exit 0)" \
    [ $rc -eq 0 -a -n "$(echo "$out" | grep -F 'SPAMD/1.5 0')" ]

# --- CHECK / SYMBOLS parity with filterctl check ----------------------------
for m in ham spam tag sample; do
	f=$work/$m.eml
	line=$($CTL check "$f" 2>/dev/null | head -1)
	want_score=$(echo "$line" | sed -n 's/.* score=\([^ ]*\) .*/\1/p')
	want_tests=$(echo "$line" | sed -n 's/.* tests=\([^ ]*\)$/\1/p')
	[ "$want_tests" = none ] && want_tests=
	got=$($SPAMC -c <"$f")
	rc=$?
	spam=$(awk -v s="${want_score%/*}" -v r="${want_score#*/}" \
	    'BEGIN { print (s >= r) ? 1 : 0 }')
	check "CHECK $m: spamc -c prints $want_score as filterctl check" \
	    [ "$got" = "$want_score" ]
	check "CHECK $m: exit $spam (1 = spam)" [ "$rc" -eq "$spam" ]
	got=$($SPAMC -y <"$f")
	check "SYMBOLS $m: spamc -y = filterctl tests ($want_tests)" \
	    [ "$got" = "$want_tests" ]
done

# --- REPORT, REPORT_IFSPAM ----------------------------------------------------
out=$($SPAMC -R <"$work/spam.eml")
check "REPORT: spamc -R prints the score line first" \
    [ "$(echo "$out" | head -1)" = "$($SPAMC -c <"$work/spam.eml")" ]
check "REPORT: the rule table lists T_FD_KILLTOKEN with 20.0 points" \
    grep -Eq '^20\.0 T_FD_KILLTOKEN' <<<"$out"
check "REPORT: SpamAssassin's 'Content analysis details' block" \
    grep -q 'Content analysis details:   (2[0-9.]* points, 5.0 required)' <<<"$out"
out=$($SPAMC -r <"$work/ham.eml")
check "REPORT_IFSPAM: spamc -r on ham prints only the score" \
    [ "$(echo "$out" | wc -l)" -eq 1 ]
out=$($SPAMC -r <"$work/spam.eml")
check "REPORT_IFSPAM: spamc -r on spam prints the report" \
    grep -q T_FD_KILLTOKEN <<<"$out"

# --- PROCESS, HEADERS ----------------------------------------------------------
$SPAMC <"$work/tag.eml" >"$work/tag.out"
check "PROCESS: X-Spam-Flag: YES and the subject tag on tag2-level mail" \
    grep -q '^X-Spam-Flag: YES' "$work/tag.out" -a \
    -n "$(grep '^Subject: \*\*\*SPAM\*\*\* maybe' "$work/tag.out")"
check "PROCESS: the message's own X-Spam-Flag was replaced (one left)" \
    [ "$(grep -c '^X-Spam-Flag' "$work/tag.out")" -eq 1 ]
check "PROCESS: body unchanged" \
    cmp -s <(sed '1,/^\r$/d' "$work/tag.eml") <(sed '1,/^\r$/d' "$work/tag.out")
$SPAMC <"$work/ham.eml" >"$work/ham.out"
check "PROCESS: ham gets X-Spam-Status: No and keeps its Subject" \
    grep -q '^X-Spam-Status: No' "$work/ham.out" -a \
    -n "$(grep '^Subject: lunch' "$work/ham.out")"
$SPAMC --headers <"$work/tag.eml" >"$work/tag.hdr"
check "HEADERS: spamc --headers gives the PROCESS output" \
    cmp -s "$work/tag.out" "$work/tag.hdr"

# --- big message ------------------------------------------------------------
{
	sed '/^\r$/q' "$work/ham.eml"
	for i in $(seq 75000); do
		printf 'line %06d of a big message, filler filler filler filler\r\n' "$i"
	done
} >"$work/big.eml"
t0=$(date +%s%N)
$SPAMC -s 20000000 <"$work/big.eml" >"$work/big.out"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "big: $(($(stat -c %s "$work/big.eml") / 1024)) KB through PROCESS in ${ms} ms, exit 0" \
    [ $rc -eq 0 ]
check "big: body back byte for byte" \
    cmp -s <(sed '1,/^\r$/d' "$work/big.eml") <(sed '1,/^\r$/d' "$work/big.out")
check "big: CHECK score as filterctl check" \
    [ "$($SPAMC -s 20000000 -c <"$work/big.eml")" = \
    "$($CTL check "$work/big.eml" 2>/dev/null | head -1 | sed -n 's/.* score=\([^ ]*\) .*/\1/p')" ]

# --- oversize: message_size_limit = 8M --------------------------------------
{
	cat "$work/big.eml"
	cat "$work/big.eml" | sed '1,/^\r$/d'
	cat "$work/big.eml" | sed '1,/^\r$/d'
} >"$work/huge.eml"
t0=$(date +%s)
$SPAMC -s 40000000 -x -c <"$work/huge.eml" >/dev/null 2>&1
rc=$?
dt=$(($(date +%s) - t0))
check "oversize ($(($(stat -c %s "$work/huge.eml") >> 20)) MB > 8M): spamd error, spamc -x exit $rc (not 0/1), ${dt}s" \
    [ $rc -ne 0 -a $rc -ne 1 -a $rc -ne 124 -a $dt -lt 15 ]
check "oversize: filterd logged the refusal" \
    grep -q 'error 69: (message larger than message_size_limit)' "$FD_LOG"

# --- zlib (Compress: zlib) and the raw protocol -----------------------------
# client.py PORT CMD FILE z|n [one|trickle|nolen|extra]: one request, the
# reply on stdout; trickle sends it in pieces (head split mid-line), nolen
# without Content-length and in pieces (the body ends at EOF), extra with
# bytes past Content-length
cat >"$work/client.py" <<'EOF'
import socket, sys, time, zlib
port, cmd, path, compress = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "z"
mode = sys.argv[5] if len(sys.argv) > 5 else "one"
body = open(path, "rb").read() if path != "-" else b""
hdr = b""
if compress:
    body = zlib.compress(body)
    hdr += b"Compress: zlib\r\n"
if mode != "nolen":
    hdr = b"Content-length: %d\r\n" % len(body) + hdr
req = b"%s SPAMC/1.5\r\n%sUser: e2e\r\n\r\n" % (cmd.encode(), hdr)
s = socket.create_connection(("127.0.0.1", port), timeout=15)
if mode in ("trickle", "nolen"):
    n = len(body) // 3
    for piece in (req[:9], req[9:], body[:n], body[n:2 * n], body[2 * n:]):
        s.sendall(piece)
        time.sleep(0.1)
else:
    s.sendall(req + body + (b"trailing junk\r\n" if mode == "extra" else b""))
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
EOF
PY="timeout 20 python3 $work/client.py $sp_port"
for m in ham spam; do
	plain=$($PY SYMBOLS "$work/$m.eml" n)
	z=$($PY SYMBOLS "$work/$m.eml" z)
	check "zlib: SYMBOLS $m compressed = uncompressed" \
	    [ -n "$plain" -a "$plain" = "$z" ]
done
$PY PROCESS "$work/big.eml" z >"$work/bigz.out"
check "zlib: 4 MB PROCESS compressed: Content-length matches the body" \
    python3 - "$work/bigz.out" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
head, _, body = d.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
cl = [int(l.split(b":")[1]) for l in lines if l.startswith(b"Content-length:")]
sys.exit(0 if lines[0] == b"SPAMD/1.1 0 EX_OK" and cl and cl[0] == len(body) else 1)
EOF
out=$($PY CHECK "$work/spam.eml" z)
check "zlib: CHECK spam -> 'Spam: True ; 2x.x / 5.0'" \
    grep -q '^Spam: True ; 2[0-9]\.[0-9] / 5\.0' <<<"${out//$'\r'/}"
printf 'junk' >"$work/notzlib"
out=$($PY CHECK "$work/notzlib" n | head -1)
check "CHECK of a 4-byte non-message still answers EX_OK" \
    grep -q '^SPAMD/1.1 0 EX_OK' <<<"$out"
out=$(printf 'CHECK SPAMC/1.5\r\nContent-length: 10\r\nCompress: zlib\r\n\r\n0123456789' |
    timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode(errors="replace"))' "$sp_port")
check "broken zlib stream: SPAMD/1.0 69 error" grep -q '^SPAMD/1.0 69 ' <<<"$out"
out=$(printf 'FROB SPAMC/1.5\r\n\r\n' | timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.stdin.buffer.read())
print(s.recv(4096).decode(errors="replace"))' "$sp_port")
check "unknown command: SPAMD/1.0 76 Bad header line" \
    grep -q '^SPAMD/1.0 76 Bad header line' <<<"$out"
out=$(printf 'CHECK SPAMC/1.5\r\nContent-length: 1000\r\n\r\nshort' | timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode(errors="replace"))' "$sp_port")
check "short body: Content-Length mismatch error, no hang" \
    grep -q 'Content-Length mismatch: Expected 1000 bytes, got 5 bytes' <<<"$out"

# the door reads with plain recv (filterd/spamd.c fill): a request that
# trickles in (head split mid-line, body in pieces), one without
# Content-length (body to EOF, also trickling in: spamd reads to EOF) and
# one with bytes past Content-length all get the answer of the one-shot
# request
one=$($PY SYMBOLS "$work/spam.eml" n)
for mode in trickle nolen extra; do
	got=$($PY SYMBOLS "$work/spam.eml" n $mode)
	check "request $mode: SYMBOLS as the one-shot request" \
	    [ -n "$one" -a "$got" = "$one" ]
done

# --- TELL is off by default ---------------------------------------------------
out=$($SPAMC -x -L spam <"$work/spam.eml" 2>&1)
rc=$?
check "TELL refused without spamd_allow_tell (spamc -L exit $rc)" \
    [ $rc -ne 0 -a -n "$(grep 'TELL commands have not been enabled' "$FD_LOG")" ]

# --- restart with TELL on and allowed_ips excluding us -------------------------
fd_stop
printf 'spamd_allow_tell = yes\nbayes_min_spam_num = 1\nbayes_min_ham_num = 1\n' \
    >>"$FD_CONF"
fd_restart || not_ok "filterd restarts with spamd_allow_tell = yes"
# fresh messages: the scans above autolearned spam.eml and ham.eml
mkmsg "$work/tspam.eml" "tell me" "XKILLTOKENX tell $RANDOM"
mkmsg "$work/tham.eml" "tell ham" "a ham to tell $RANDOM"
out=$($SPAMC -L spam <"$work/tspam.eml" 2>&1)
check "TELL: spamc -L spam learns ($out)" \
    grep -q 'Message successfully un/learned' <<<"$out"
out=$($SPAMC -L spam <"$work/tspam.eml" 2>&1)
check "TELL: the same message again: already learned ($out)" \
    grep -q 'Message was already un/learned' <<<"$out"
out=$($SPAMC -L forget <"$work/tspam.eml" 2>&1)
check "TELL: spamc -L forget ($out)" \
    grep -q 'Message successfully un/learned' <<<"$out"
out=$($SPAMC -L ham <"$work/tham.eml" 2>&1)
check "TELL: spamc -L ham ($out)" \
    grep -q 'Message successfully un/learned' <<<"$out"

# Bayes is on now (min 1 of each): the workers' token caches answer the
# tokens they looked up before; a worker that scans the message again
# reads none of them from the database (metrics, and filterctl status)
bmetric() # cache|db: filterd_bayes_token_lookups_total{source=...}
{
	curl -s "http://127.0.0.1:$m_port/metrics" |
	    awk -v k="filterd_bayes_token_lookups_total{source=\"$1\"}" \
	    '$1 == k { print $2 }'
}
c0=$(bmetric cache)
d0=$(bmetric db)
for i in 1 2 3 4 5 6; do $SPAMC -c <"$work/tham.eml" >/dev/null 2>&1; done
c1=$(bmetric cache)
d1=$(bmetric db)
check "metrics: Bayes token lookups from the database ($d0->$d1) and the workers' caches ($c0->$c1)" \
    [ -n "$c0" -a -n "$d0" -a "${c1:-0}" -gt "${c0:-0}" -a "${d1:-0}" -gt "${d0:-0}" ]
st=$($CTL status 2>/dev/null)
check "filterctl status: the caches' share of Bayes token lookups" \
    grep -q "^bayes token lookups: [0-9]*, [0-9]*% from the workers' caches" \
    <<<"$st"

# a client that connects and says nothing gets spamd's timeout error
sed -i 's/^spamd_timeout = .*//' "$FD_CONF"
fd_stop
printf 'spamd_timeout = 2s\n' >>"$FD_CONF"
fd_restart || not_ok "filterd restarts with spamd_timeout = 2s"
out=$(timeout 15 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=12)
s.sendall(b"CHECK SPAMC/1.5\r\nContent-length: 100\r\n\r\nSubject: x\r\n")
print(s.recv(4096).decode(errors="replace"))' "$sp_port")
check "silent client: SPAMD/1.0 79 Timeout after spamd_timeout ($out)" \
    grep -q '^SPAMD/1.0 79 Timeout: (2 second socket timeout' <<<"$out"

fd_stop
printf 'spamd_allowed_ips = 192.0.2.0/24\n' >>"$FD_CONF"
fd_restart || not_ok "filterd restarts with spamd_allowed_ips = 192.0.2.0/24"
t0=$(date +%s)
$SPAMC -x -c <"$work/ham.eml" >/dev/null 2>&1
rc=$?
check "allowed_ips: 127.0.0.1 refused, spamc -x exit $rc in $(($(date +%s) - t0))s" \
    [ $rc -ne 0 -a $rc -ne 1 -a $rc -ne 124 ]
check "allowed_ips: filterd logged the unauthorized connection" \
    grep -q 'spamd: unauthorized connection from \[127.0.0.1\]' "$FD_LOG"

# --- filterd down: spamc's fallback -------------------------------------------
fd_stop
out=$($SPAMC <"$work/spam.eml" 2>/dev/null)
rc=$?
check "filterd down: spamc (no -x) passes the message through unchanged, exit 0" \
    [ $rc -eq 0 -a "$out" = "$(cat "$work/spam.eml")" ]
$SPAMC -x <"$work/spam.eml" >/dev/null 2>&1
rc=$?
check "filterd down: spamc -x exits 69 (EX_UNAVAILABLE), got $rc" [ $rc -eq 69 ]
$SPAMC -c <"$work/spam.eml" >/dev/null 2>&1
rc=$?
check "filterd down: spamc -c exits 0 (ham: safe fallback), got $rc" [ $rc -eq 0 ]

tap_done
