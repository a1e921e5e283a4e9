#!/usr/bin/env bash
# tests/e2e/dkim_sign.sh - the sender side of DKIM through the daemon:
# keys from `filterctl dkim-keygen` (RSA 2048 and Ed25519), their BIND
# output pasted as is into a zone served by knotd on 127.0.0.1, filterd with
# dkim_sign = yes. Checked: keygen's key file mode and record format
# (strings <= 255 octets, t=y with --testing); mail from mynetworks or with
# XFORWARD PROTO=ESMTPSA (RFC 3848) leaves dual-signed and unscored, other
# mail is scored and not signed; the signed copy verifies with filterd's own
# verifier (fed back in from outside: DKIM_VALID, DKIM_VALID_AU,
# A-R dkim=pass for rsa-sha256 and ed25519-sha256), with python3-dkim
# (dkim.verify, keys asked from the same knotd through dnspython) and
# with opendkim (test mode, the same keys as TestPublicKeys); a copy
# altered after signing, or with a second Subject added on top
# (over-signing), fails everywhere. ARC sealing (arc_seal = yes,
# arc_sealer = lists.test): originating mail that carries filterd's own
# Authentication-Results gets an ARC set (i=1 cv=none), which python3-dkim
# (dkim.arc_verify) and filterd's validator pass; fed back in and sent on
# again it gets i=2 cv=pass; mail without our A-R is not sealed; the milter
# inserts the three fields. No packet leaves 127.0.0.1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
root=$E2E_ROOT
serve=$root/../shared/conformance/dns/serve-zone.sh
py=/usr/bin/python3
ctl=$root/build/filterctl
work=$(mktemp -d /tmp/filterd-e2e-dkimsign.XXXXXX)
knot= sink=

cleanup()
{
	fd_cleanup
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	[ -n "$knot" ] && "$serve" stop "$knot" >/dev/null 2>&1
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$serve" ] || [ ! -x "$ctl" ]; then
	not_ok "knotd ($serve) and build/filterctl available"
	tap_done
	exit 1
fi

# 1. keys
(cd "$work" && "$ctl" dkim-keygen --domain sender.test --selector rsa1 \
    >rsa.out 2>&1 && "$ctl" dkim-keygen --domain sender.test \
    --selector ed1 --type ed25519 >ed.out 2>&1 &&
    "$ctl" dkim-keygen --domain sender.test --selector tst --testing \
    --bits 1024 >tst.out 2>&1 &&
    "$ctl" dkim-keygen --domain lists.test --selector arc1 >arc.out 2>&1)
check "dkim-keygen made rsa, ed25519 and a testing key" \
    test -s "$work/rsa1.sender.test.key" -a -s "$work/ed1.sender.test.key" \
    -a -s "$work/tst.sender.test.key"
check "private key mode 0600" \
    test "$(stat -c %a "$work/rsa1.sender.test.key")" = 600
check "existing key file is not overwritten (exit 1)" eval \
    "! (cd '$work' && '$ctl' dkim-keygen --domain sender.test --selector rsa1 >/dev/null 2>&1)"
# every quoted string of the BIND form <= 255 octets, at least two for RSA
strings=$(sed -n '/IN TXT (/,/)/p' "$work/rsa.out" | grep -o '"[^"]*"')
check "BIND form: RSA 2048 record split into $(echo "$strings" | wc -l) strings of <= 255" \
    eval "[ \$(echo \"\$strings\" | wc -l) -ge 2 ] && ! echo \"\$strings\" | awk '{ if (length(\$0) - 2 > 255) exit 0; } END { exit 1 }'"
single=$(grep -A1 '^; single string' "$work/rsa.out" | tail -1)
check "single-string form = the BIND strings joined" \
    test "$single" = "$(echo "$strings" | tr -d '"\n')"
check "--testing: t=y in the record" grep -q 'k=rsa; t=y; p=' "$work/tst.out"
check "ed25519 record: k=ed25519, 44-character p=" \
    grep -Eq '^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$' "$work/ed.out"
check "dkim-keygen --help" eval "'$ctl' dkim-keygen --help | grep -q -- --selector"
mkdir "$work/def"
d0=$(date -u +%Y%m%d)
(cd "$work/def" && "$ctl" dkim-keygen --domain sender.test --type ed25519 >out 2>&1)
d1=$(date -u +%Y%m%d)
check "default selector is today (UTC): $d0" eval \
    "[ -f '$work/def/$d0.sender.test.key' ] || [ -f '$work/def/$d1.sender.test.key' ]"
check "dkim_key line with the absolute key path" \
    grep -q "^dkim_key = sender.test $d0 $work/def/$d0.sender.test.key\$" "$work/def/out"

{
	echo '$ORIGIN .'
	echo '$TTL 300'
	sed -n '/IN TXT (/,/)/p' "$work/rsa.out"
	sed -n '/IN TXT (/,/)/p' "$work/ed.out"
	sed -n '/IN TXT (/,/)/p' "$work/arc.out"
	echo 'sender.test. TXT "v=spf1 ip4:192.0.2.10 -all"'
	echo '_dmarc.sender.test. TXT "v=DMARC1; p=reject"'
} >"$work/z.zone"

read -r knot_port fd_port sink_port < <(e2e_ports 3)
knot=$("$serve" -p "$knot_port" "$work/z.zone" 2>"$work/knot.err") ||
	{ not_ok "knotd serves the keygen records"; sed 's/^/# /' "$work/knot.err"; tap_done; exit 1; }
ok "knotd loaded the zone with keygen's BIND lines pasted in"

e2e_msg_sink "$sink_port" "$work/out"
sink=$MSINK_PID

if ! fd_start "$fd_port" "$sink_port" "dns_servers = 127.0.0.1:$knot_port
use_dnsbl = no
use_bayes = no
authserv_id = mx.e2e.test
mynetworks = 10.0.0.0/8
dkim_sign = yes
dkim_key = sender.test rsa1 $work/rsa1.sender.test.key, sender.test ed1 $work/ed1.sender.test.key, lists.test arc1 $work/arc1.lists.test.key
arc_seal = yes
arc_sealer = lists.test
msg_deadline = 20s"; then
	not_ok "filterd started with dkim_sign = yes"
	tap_done
	exit 1
fi
ok "filterd started with dkim_sign = yes, two keys"

msg() # NAME FROM
{
	{
		printf 'From: Alice <%s>\r\nTo: rcpt@e2e.test\r\n' "$2"
		printf 'Subject: sign %s\r\nDate: Thu, 26 Nov 2026 10:00:01 +0000\r\n' "$1"
		printf 'Message-ID: <%s@e2e.test>\r\nMIME-Version: 1.0\r\n' "$1"
		printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
		printf 'Hello,\r\n\r\nthis is the  %s test.\t\r\n\r\n\r\n' "$1"
	} >"$work/$1.eml"
}
# send NAME XFORWARD-ATTRS MAILFROM -> delivered copy in $work/got-NAME
send()
{
	local before after
	before=$(ls "$work/out" | wc -l)
	$py - "$fd_port" "$2" "$3" "$work/$1.eml" >"$work/$1.res" 2>&1 <<'PY'
import smtplib, sys
port, xf, mfrom, path = sys.argv[1:5]
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.ehlo("e2e.test")
s.docmd("XFORWARD", xf)
try:
    s.sendmail(mfrom, ["rcpt@e2e.test"], open(path, "rb").read())
    print("250")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
s.quit()
PY
	grep -q '^250' "$work/$1.res" || { : >"$work/got-$1"; return; }
	for i in $(seq 80); do
		after=$(ls "$work/out" | wc -l)
		[ "$after" -gt "$before" ] && break
		sleep 0.1
	done
	cp "$work/out/$after.eml" "$work/got-$1" 2>/dev/null || : >"$work/got-$1"
}
hdr() # NAME HEADER -> the value(s), unfolded
{
	tr -d '\r' <"$work/got-$1" | sed '/^$/q' | sed ':a;N;$!ba;s/\n[ \t]\+/ /g' |
	    grep -i "^$2:"
}
has_test() { hdr "$1" X-Spam-Status | sed "s/, /,/g" | grep -Eq "tests=([^ ]*,)?$2(,| |$)"; }

msg out alice@sender.test
send out "ADDR=10.1.2.3 NAME=client.sender.test HELO=client.sender.test PROTO=ESMTP" alice@sender.test
check "originating (mynetworks): delivered" grep -q '^250' "$work/out.res"
check "originating: two DKIM-Signature fields" \
    test "$(hdr out DKIM-Signature | wc -l)" -eq 2
check "originating: rsa-sha256 and ed25519-sha256, relaxed/relaxed, d=sender.test" eval \
    "hdr out DKIM-Signature | grep -q 'a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=rsa1' &&
     hdr out DKIM-Signature | grep -q 'a=ed25519-sha256; c=relaxed/relaxed; d=sender.test; s=ed1'"
check "originating: From/To/Subject/Date over-signed" eval \
    "hdr out DKIM-Signature | head -1 | tr -d ' ' | grep -q 'h=from:from:.*subject:subject:date:date:.*to:to'"
check "originating: not scored (tests=FD_DKIM_SIGNED_OUT only)" eval \
    "hdr out X-Spam-Status | grep -q 'score=0.0 .*tests=FD_DKIM_SIGNED_OUT '"
check "originating: no Authentication-Results (not checked)" eval \
    "! hdr out Authentication-Results | grep -q ."
diag "$(hdr out X-Spam-Status)"

msg auth alice@sender.test
send auth "ADDR=198.51.100.9 NAME=[UNAVAILABLE] HELO=laptop PROTO=ESMTPSA" alice@sender.test
check "SASL-authenticated (PROTO=ESMTPSA) from outside mynetworks: signed" \
    test "$(hdr auth DKIM-Signature | wc -l)" -eq 2

msg in alice@sender.test
send in "ADDR=192.0.2.99 NAME=[UNAVAILABLE] HELO=elsewhere PROTO=ESMTP" alice@sender.test
check "inbound (not mynetworks): not signed" eval "! hdr in DKIM-Signature | grep -q ."
check "inbound: scored (SPF_FAIL from the zone's -all)" has_test in SPF_FAIL

msg other bob@unsigned.test
send other "ADDR=10.9.9.9 NAME=x HELO=x PROTO=ESMTP" bob@unsigned.test
check "originating without a key for the From domain: passed unsigned" eval \
    "grep -q '^250' '$work/other.res' && ! hdr other DKIM-Signature | grep -q ."

# The signed copy, fed back in from outside: filterd's own verifier.
cp "$work/got-out" "$work/back.eml"
send back "ADDR=192.0.2.10 NAME=[UNAVAILABLE] HELO=mail.sender.test PROTO=ESMTP" alice@sender.test
for t in DKIM_SIGNED DKIM_VALID DKIM_VALID_AU DMARC_PASS; do
	check "signed copy back in: $t" has_test back "$t"
done
check "signed copy back in: A-R dkim=pass for rsa-sha256 and ed25519-sha256" eval \
    "hdr back Authentication-Results | grep -q 'dkim=pass header.d=sender.test header.i=@sender.test header.s=rsa1 header.a=rsa-sha256' &&
     hdr back Authentication-Results | grep -q 'dkim=pass header.d=sender.test header.i=@sender.test header.s=ed1 header.a=ed25519-sha256'"
diag "$(hdr back Authentication-Results)"

# python3-dkim against the same knotd (dnspython pointed at its port):
# knotdns.dnsfunc for dkim.verify / dkim.arc_verify
cat >"$work/knotdns.py" <<PY
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = $knot_port
def dnsfunc(name, timeout=5):
    try:
        a = r.resolve(name.decode() if isinstance(name, bytes) else name, "TXT")
    except Exception:
        return None
    return b"".join(b"".join(x.strings) for x in a)
PY
pyverify() # FILE -> "True True" / ...
{
	PYTHONPATH=$work $py - "$1" <<'PY'
import sys, dkim
from knotdns import dnsfunc
path = sys.argv[1]
m = open(path, "rb").read()
d = dkim.DKIM(m)
def one(i):
    try:
        return d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        return False
print(" ".join(str(one(i)) for i in range(2)))
PY
}
res=$(pyverify "$work/got-out" 2>&1)
check "python3-dkim verifies both signatures ($res)" test "$res" = "True True"
sed 's/this is the  out test/this is the  OUT test/' "$work/got-out" >"$work/altered"
res=$(pyverify "$work/altered" 2>&1)
check "python3-dkim: altered body fails both ($res)" test "$res" = "False False"
{ printf 'Subject: added on top\r\n'; cat "$work/got-out"; } >"$work/oversigned"
res=$(pyverify "$work/oversigned" 2>&1)
check "python3-dkim: a second Subject on top fails both (over-signing) ($res)" \
    test "$res" = "False False"

# ARC sealing: a list on this host sends on a message filterd received and
# checked (our A-R on it); python3-dkim's arc_verify with the same knotd
pyarc() # FILE -> "pass i=N" / "fail ..." / ...
{
	PYTHONPATH=$work $py - "$1" <<'PY'
import sys, dkim
from knotdns import dnsfunc
cv, res, why = dkim.arc_verify(open(sys.argv[1], "rb").read(), dnsfunc=dnsfunc)
print(cv.decode(), "i=%d" % len(res), why)
PY
}
msg list bob@elsewhere.test
{ printf 'Authentication-Results: mx.e2e.test; spf=pass smtp.mailfrom=bob@elsewhere.test;\r\n\tdkim=pass header.d=elsewhere.test; arc=none; dmarc=pass header.from=elsewhere.test\r\n'
  cat "$work/list.eml"; } >"$work/list.ar" && mv "$work/list.ar" "$work/list.eml"
send list "ADDR=10.1.2.3 NAME=lists.sender.test HELO=lists.sender.test PROTO=ESMTP" list-bounces@lists.test
check "list mail with our A-R: ARC-sealed (i=1 cv=none d=lists.test), no DKIM key for its From" eval \
    "hdr list ARC-Seal | grep -q 'a=rsa-sha256; b=.*; cv=none; d=lists.test; i=1; s=arc1; t=' &&
     ! hdr list DKIM-Signature | grep -q ."
check "list mail: the AAR carries our A-R's results" eval \
    "hdr list ARC-Authentication-Results | grep -q 'i=1; mx.e2e.test; spf=pass smtp.mailfrom=bob@elsewhere.test; dkim=pass header.d=elsewhere.test; arc=none; dmarc=pass'"
check "list mail: FD_ARC_SEALED_OUT" has_test list FD_ARC_SEALED_OUT
res=$(pyarc "$work/got-list" 2>&1)
check "python3-dkim arc_verify: pass ($res)" eval "echo '$res' | grep -q '^pass i=1'"
sed 's/this is the  list test/this is the  LIST test/' "$work/got-list" >"$work/list-altered"
res=$(pyarc "$work/list-altered" 2>&1)
check "python3-dkim arc_verify: altered after sealing fails ($res)" eval "echo '$res' | grep -q '^fail'"
# back in from outside: filterd's validator, and a new A-R of ours
cp "$work/got-list" "$work/list2.eml"
send list2 "ADDR=192.0.2.77 NAME=[UNAVAILABLE] HELO=lists.test PROTO=ESMTP" list-bounces@lists.test
check "sealed copy back in: arc=pass (i=1 d=lists.test), ARC_VALID" eval \
    "hdr list2 Authentication-Results | grep -q 'arc=pass (i=1 d=lists.test)' && has_test list2 ARC_VALID"
# ... and sent on once more: the second set says cv=pass
cp "$work/got-list2" "$work/list3.eml"
send list3 "ADDR=10.1.2.3 NAME=lists.sender.test HELO=lists.sender.test PROTO=ESMTP" list-bounces@lists.test
check "sent on again: i=2 cv=pass" eval "hdr list3 ARC-Seal | grep -q 'cv=pass; d=lists.test; i=2'"
res=$(pyarc "$work/got-list3" 2>&1)
check "python3-dkim arc_verify of the two-set chain: pass ($res)" eval "echo '$res' | grep -q '^pass i=2'"
check "originating mail without our A-R: not sealed" eval "! hdr out ARC-Seal | grep -q ."

# opendkim, test mode, with keygen's records as TestPublicKeys
odbin=$(command -v opendkim || echo /usr/sbin/opendkim)
if [ -x "$odbin" ]; then
	{
		printf 'rsa1._domainkey.sender.test %s\n' "$(grep -A1 '^; single string' "$work/rsa.out" | tail -1)"
		printf 'ed1._domainkey.sender.test %s\n' "$(grep -A1 '^; single string' "$work/ed.out" | tail -1)"
	} >"$work/keys.txt"
	printf 'Mode v\nTestPublicKeys %s\nSyslog no\n' "$work/keys.txt" >"$work/od.conf"
	"$odbin" -x "$work/od.conf" -t "$work/got-out" -vvv >"$work/od.log" 2>&1
	check "opendkim: dkim=pass for rsa-sha256" \
	    grep -q 'dkim=pass (2048-bit key) header.d=sender.test header.i=@sender.test header.a=rsa-sha256 header.s=rsa1' "$work/od.log"
	check "opendkim: dkim=pass for ed25519-sha256" \
	    grep -q 'dkim=pass header.d=sender.test header.i=@sender.test header.a=ed25519-sha256 header.s=ed1' "$work/od.log"
	"$odbin" -x "$work/od.conf" -t "$work/altered" -vvv >"$work/od2.log" 2>&1
	check "opendkim: altered body: dkim=fail, no pass" eval \
	    "grep -q 'dkim=fail' '$work/od2.log' && ! grep -q 'dkim=pass' '$work/od2.log'"
	[ $t_failed -eq 0 ] || sed -n '1,40p' "$work/od.log" | sed 's/^/# /'
else
	ok "opendkim round trip # SKIP opendkim not installed"
fi

# The milter front door: {auth_authen} makes the message originating;
# the DKIM-Signature fields come back as header insertions.
if command -v miltertest >/dev/null 2>&1; then
	read -r mport < <(e2e_ports 1)
	fd_stop
	echo "milter_socket = inet:$mport@127.0.0.1" >>"$FD_CONF"
	if fd_restart; then
		cat >"$work/m.lua" <<LUA
conn = mt.connect("inet:$mport@127.0.0.1", 40, 0.25)
if conn == nil then error "connect" end
mt.macro(conn, SMFIC_CONNECT, "j", "mx.e2e.test")
mt.macro(conn, SMFIC_CONNECT, "{client_addr}", "198.51.100.9",
    "{client_name}", "laptop.example")
if mt.conninfo(conn, "laptop.example", "198.51.100.9") ~= nil then error "conninfo" end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error "conninfo reply" end
if mt.helo(conn, "laptop.example") ~= nil then error "helo" end
mt.macro(conn, SMFIC_MAIL, "i", "QMILT1", "{mail_addr}", "alice@sender.test",
    "{auth_authen}", "alice")
if mt.mailfrom(conn, "<alice@sender.test>") ~= nil then error "mailfrom" end
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "rcpt@e2e.test")
if mt.rcptto(conn, "<rcpt@e2e.test>") ~= nil then error "rcptto" end
mt.header(conn, "From", "Alice <alice@sender.test>")
mt.header(conn, "To", "rcpt@e2e.test")
mt.header(conn, "Subject", "milter signed")
mt.header(conn, "Date", "Thu, 26 Nov 2026 10:00:01 +0000")
mt.eoh(conn)
mt.bodystring(conn, "Hello,\r\nsigned at the milter.\r\n")
mt.eom(conn)
for i = 0, 1 do
	local v = mt.getheader(conn, "DKIM-Signature", i)
	if v ~= nil then print("DKIM-Signature: " .. v) end
end
mt.disconnect(conn)
-- a list message with our A-R: sealed, the ARC set inserted on top
conn = mt.connect("inet:$mport@127.0.0.1", 40, 0.25)
mt.macro(conn, SMFIC_CONNECT, "{client_addr}", "198.51.100.9")
if mt.conninfo(conn, "laptop.example", "198.51.100.9") ~= nil then error "conninfo" end
if mt.helo(conn, "laptop.example") ~= nil then error "helo" end
mt.macro(conn, SMFIC_MAIL, "i", "QMILT2", "{auth_authen}", "lists")
if mt.mailfrom(conn, "<list-bounces@lists.test>") ~= nil then error "mailfrom" end
if mt.rcptto(conn, "<rcpt@e2e.test>") ~= nil then error "rcptto" end
mt.header(conn, "Authentication-Results", "mx.e2e.test; arc=none; dmarc=pass header.from=elsewhere.test")
mt.header(conn, "From", "Bob <bob@elsewhere.test>")
mt.header(conn, "Subject", "milter sealed")
mt.eoh(conn)
mt.bodystring(conn, "Hello,\r\nsealed at the milter.\r\n")
mt.eom(conn)
for _, h in ipairs({ "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results" }) do
	if mt.eom_check(conn, MT_HDRINSERT, h) then print("inserted " .. h) end
end
mt.disconnect(conn)
LUA
		miltertest -s "$work/m.lua" >"$work/m.sig" 2>"$work/m.err"
		check "milter, SASL login: two DKIM-Signature fields inserted" \
		    test "$(grep -c '^DKIM-Signature: ' "$work/m.sig")" -eq 2
		check "milter, list mail with our A-R: the ARC set inserted" \
		    test "$(grep -c '^inserted ARC-' "$work/m.sig")" -eq 3
		[ "$(grep -c '^inserted ARC-' "$work/m.sig")" -eq 3 ] ||
		    sed 's/^/# /' "$work/m.sig" "$work/m.err"
		sed -i '/^inserted /d' "$work/m.sig"
		{
			sed 's/$/\r/' "$work/m.sig"
			printf 'From: Alice <alice@sender.test>\r\nTo: rcpt@e2e.test\r\n'
			printf 'Subject: milter signed\r\nDate: Thu, 26 Nov 2026 10:00:01 +0000\r\n\r\n'
			printf 'Hello,\r\nsigned at the milter.\r\n'
		} >"$work/m.eml"
		res=$(pyverify "$work/m.eml" 2>&1)
		check "milter-signed message verifies with python3-dkim ($res)" \
		    test "$res" = "True True"
		[ "$res" = "True True" ] || sed 's/^/# /' "$work/m.sig" "$work/m.err"
	else
		not_ok "filterd restarted with the milter front door"
	fi
else
	ok "milter signing # SKIP miltertest not installed"
fi

# filterctl dkim-sign: the same signer from the command line
(cd "$work" && "$ctl" dkim-sign --key "sender.test ed1 ed1.sender.test.key" \
    other.eml >/dev/null 2>&1)
check "filterctl dkim-sign: no key for the From domain -> exit 1" test $? -eq 1
msg cli alice@sender.test
"$ctl" dkim-sign --key "sender.test ed1 $work/ed1.sender.test.key" \
    "$work/cli.eml" >"$work/cli.signed" 2>"$work/cli.err"
res=$(PYTHONPATH=$work $py - "$work/cli.signed" <<'PY'
import sys, dkim
from knotdns import dnsfunc
print(dkim.verify(open(sys.argv[1], "rb").read(), dnsfunc=dnsfunc))
PY
)
check "filterctl dkim-sign output verifies with python3-dkim ($res)" test "$res" = "True"

# filterctl arc-seal: the daemon's sealer from the command line
"$ctl" arc-seal --key "lists.test arc1 $work/arc1.lists.test.key" \
    --sealer lists.test --authserv-id mx.e2e.test "$work/list.eml" \
    >"$work/cli-sealed" 2>"$work/cli-seal.err"
res=$(pyarc "$work/cli-sealed" 2>&1)
check "filterctl arc-seal output passes python3-dkim arc_verify ($res)" \
    eval "echo '$res' | grep -q '^pass i=1'"
"$ctl" arc-seal --key "lists.test arc1 $work/arc1.lists.test.key" \
    --sealer lists.test --authserv-id elsewhere.test "$work/list.eml" \
    >/dev/null 2>"$work/cli-seal.err"
check "filterctl arc-seal without our A-R: exit 1, says why" eval \
    "[ $? -eq 1 ] && grep -q 'not sealed: no Authentication-Results of ours' '$work/cli-seal.err'"

tap_done
