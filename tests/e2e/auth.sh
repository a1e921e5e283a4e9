#!/usr/bin/env bash
# tests/e2e/auth.sh - SPF, DKIM, ARC and DMARC through the daemon against a real
# authoritative DNS server on 127.0.0.1 (knotd via
# ../shared/conformance/dns/serve-zone.sh), with mail signed at test time
# by dkimsign (python3-dkim, keys from dknewkey: RSA and ed25519) and by
# opendkim-testmsg (libopendkim, key from opendkim-genkey).
#
# Checked: an aligned, signed message from a permitted client gives
# SPF_PASS, DKIM_VALID, DKIM_VALID_AU and DMARC_PASS; the same message
# altered after signing from a client the SPF record does not list gives
# SPF_FAIL, DKIM_INVALID and DMARC_REJECT; a domain without records gives
# SPF_NONE and DMARC_MISSING; the Authentication-Results and Received-SPF
# headers carry the results, and a forged Authentication-Results claiming our
# authserv-id does not survive; with dmarc_policy_enforce = yes the
# p=reject failure is answered 550. ARC: a signed message a mailing list
# changed and sealed (arcsign, python3-dkim) gives ARC_SIGNED, ARC_VALID
# and arc=pass next to the DMARC failure; a second hop's seal gives
# arc=pass i=2; a change after sealing gives ARC_INVALID; with the list in
# arc_trusted_sealers the DMARC failure is overridden and delivered even
# with dmarc_policy_enforce. No packet leaves 127.0.0.1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
root=$E2E_ROOT
serve=$root/../shared/conformance/dns/serve-zone.sh
py=/usr/bin/python3
work=$(mktemp -d /tmp/filterd-e2e-auth.XXXXXX)
knot= sink=

cleanup()
{
	fd_cleanup
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	[ -n "${od_pid:-}" ] && kill "$od_pid" 2>/dev/null
	[ -n "${proxy:-}" ] && kill "$proxy" 2>/dev/null
	[ -n "$knot" ] && "$serve" stop "$knot" >/dev/null 2>&1
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$serve" ] || ! command -v dkimsign >/dev/null 2>&1; then
	not_ok "knotd ($serve) and dkimsign (python3-dkim) available"
	tap_done
	exit 1
fi

# Keys and the zone, made fresh for this run.
(cd "$work" && dknewkey rsa >/dev/null 2>&1 &&
    dknewkey arc >/dev/null 2>&1 &&
    dknewkey --ktype ed25519 ed >/dev/null 2>&1) ||
	{ not_ok "dknewkey made the test keys"; tap_done; exit 1; }
odgen=$(command -v opendkim-genkey || echo /usr/sbin/opendkim-genkey)
odmsg=$(command -v opendkim-testmsg || echo /usr/sbin/opendkim-testmsg)
have_od=no
[ -x "$odgen" ] && [ -x "$odmsg" ] &&
    "$odgen" -D "$work" -d signer.test -s od 2>/dev/null && have_od=yes
txt() # one TXT record as 200-octet strings
{
	tr -d '\n' | sed 's/^[^"]*"\(.*\)"[^"]*$/\1/; s/" *"//g' |
	    fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' '
}
{
	echo '$ORIGIN .'
	echo '$TTL 300'
	echo 'signer.test. TXT "v=spf1 ip4:192.0.2.10 -all"'
	echo 'signer.test. A 192.0.2.10'
	echo "rsa._domainkey.signer.test. TXT $(txt <"$work/rsa.dns")"
	echo "ed._domainkey.signer.test. TXT $(txt <"$work/ed.dns")"
	echo "drop._domainkey.signer.test. TXT $(txt <"$work/ed.dns")"
	[ $have_od = yes ] && echo "od._domainkey.signer.test. TXT $(grep -o '"[^"]*"' "$work/od.txt" | tr -d '"\n' | txt)"
	echo '_dmarc.signer.test. TXT "v=DMARC1; p=reject; adkim=r; aspf=r"'
	echo 'mail.signer.test. TXT "v=spf1 a:signer.test -all"'
	echo 'mail.signer.test. A 192.0.2.10'
	echo 'nodmarc.test. A 192.0.2.20'
	echo "arc._domainkey.lists.test. TXT $(txt <"$work/arc.dns")"
	echo "arc._domainkey.fwd.test. TXT $(txt <"$work/arc.dns")"
} >"$work/auth.zone"

read -r knot_port fd_port sink_port < <(e2e_ports 3)
knot=$("$serve" -p "$knot_port" "$work/auth.zone" 2>"$work/knot.err") ||
	{ not_ok "knotd started"; sed 's/^/# /' "$work/knot.err"; tap_done; exit 1; }
ok "knotd serves SPF, DKIM and DMARC records on 127.0.0.1:$knot_port"

e2e_msg_sink "$sink_port" "$work/out"
sink=$MSINK_PID

# SpamAssassin's way of naming the auth results in a rule file (its
# 25_spf.cf / 25_dkim.cf): metas over them must see the auth module's hits
mkdir -p "$work/sa-style"
cat >"$work/sa-style/50_auth_meta.cf" <<'CF'
header SPF_PASS   eval:check_for_spf_pass()
header DKIM_VALID eval:check_dkim_valid()
meta   AUTH_META_PASS  SPF_PASS && DKIM_VALID
score  AUTH_META_PASS  0.01
CF

if ! fd_start "$fd_port" "$sink_port" "dns_servers = 127.0.0.1:$knot_port
rules_dir = $E2E_ROOT/rules/default, $work/sa-style
dns_timeout = 3s
use_dnsbl = no
spamd_listen = none
authserv_id = mx.e2e.test
msg_deadline = 20s"; then
	not_ok "filterd started"
	tap_done
	exit 1
fi
ok "filterd started with SPF/DKIM/DMARC on"

# msg NAME FROM [extra header line]
msg()
{
	{
		[ -n "${3:-}" ] && printf '%s\r\n' "$3"
		printf 'From: Alice <%s>\r\nTo: rcpt@e2e.test\r\n' "$2"
		printf 'Subject: auth %s\r\nDate: Thu, 26 Nov 2026 10:00:01 +0000\r\n' "$1"
		printf 'Message-ID: <%s@e2e.test>\r\n\r\n' "$1"
		printf 'Hello,\r\nthis is the %s test.\r\n' "$1"
	} >"$work/$1.eml"
}
sign() # NAME SELECTOR KEYFILE [ALG]
{
	dkimsign ${4:+--signalg "$4"} --hcanon relaxed --bcanon relaxed \
	    "$2" signer.test "$work/$3" <"$work/$1.eml" >"$work/$1.signed" &&
	    mv "$work/$1.signed" "$work/$1.eml"
}
# send NAME ADDR MAILFROM HELO -> delivered copy in $work/got-NAME
send()
{
	local before after
	before=$(ls "$work/out" | wc -l)
	$py - "$fd_port" "$2" "$3" "$4" "$work/$1.eml" >"$work/$1.res" 2>&1 <<'PY'
import smtplib, sys
port, addr, mfrom, helo, path = sys.argv[1:6]
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.ehlo("e2e.test")
s.docmd("XFORWARD", "ADDR=%s NAME=[UNAVAILABLE] HELO=%s" % (addr, helo))
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
	tr -d '\r' <"$work/got-$1" | sed '/^$/q' |
	    awk '/^[ \t]/ { sub(/^[ \t]+/, " "); f = f $0; next }
		{ if (f != "") print f; f = $0 } END { if (f != "") print f }' |
	    grep -i "^$2:"
}
has_test() { hdr "$1" X-Spam-Status | sed "s/, /,/g" | grep -Eq "tests=([^ ]*,)?$2(,| |$)"; }

msg good alice@signer.test
sign good rsa rsa.key
send good 192.0.2.10 alice@signer.test mail.signer.test
check "signed, aligned, permitted client: delivered" grep -q '^250' "$work/good.res"
for t in SPF_PASS SPF_HELO_PASS DKIM_SIGNED DKIM_VALID DKIM_VALID_AU DMARC_PASS; do
	check "good: $t" has_test good "$t"
done
diag "$(hdr good X-Spam-Status)"
check "good: a rule-file meta over SPF_PASS && DKIM_VALID fires" \
    has_test good AUTH_META_PASS

msg ed alice@signer.test
sign ed ed ed.key ed25519-sha256
send ed 192.0.2.10 alice@signer.test mail.signer.test
check "ed25519-sha256 signature: DKIM_VALID" has_test ed DKIM_VALID

# opendkim: the milter (rsa-sha256, driven by miltertest) signs od and
# odbad; opendkim-testmsg, which is hard-wired to rsa-sha1, signs odsha1.
od_sign() # NAME: the message msg() would write, signed by the milter
{
	cat >"$work/$1.lua" <<LUA
conn = mt.connect("inet:$od_port@127.0.0.1", 40, 0.25)
if conn == nil then error "connect" end
mt.macro(conn, SMFIC_CONNECT, "j", "mx.e2e.test")
if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then error "conninfo" end
mt.macro(conn, SMFIC_MAIL, "i", "Q$1")
if mt.mailfrom(conn, "<alice@signer.test>") ~= nil then error "mailfrom" end
if mt.rcptto(conn, "<rcpt@e2e.test>") ~= nil then error "rcptto" end
mt.header(conn, "From", "Alice <alice@signer.test>")
mt.header(conn, "To", "rcpt@e2e.test")
mt.header(conn, "Subject", "auth $1")
mt.header(conn, "Date", "Thu, 26 Nov 2026 10:00:01 +0000")
mt.header(conn, "Message-ID", "<$1@e2e.test>")
mt.eoh(conn)
mt.bodystring(conn, "Hello,\r\nthis is the $1 test.\r\n")
mt.eom(conn)
print(mt.getheader(conn, "DKIM-Signature", 0))
mt.disconnect(conn)
LUA
	miltertest -s "$work/$1.lua" >"$work/$1.sig" 2>"$work/$1.mterr" &&
	    grep -q 'a=rsa-sha256' "$work/$1.sig" || return 1
	msg "$1" alice@signer.test
	{ printf 'DKIM-Signature:'; sed 's/$/\r/' "$work/$1.sig"; cat "$work/$1.eml"; } \
	    >"$work/$1.signed" && mv "$work/$1.signed" "$work/$1.eml"
}
odbin=$(command -v opendkim || echo /usr/sbin/opendkim)
if [ $have_od = yes ] && [ -x "$odbin" ] && command -v miltertest >/dev/null; then
	read -r od_port < <(e2e_ports 1)
	cat >"$work/od.conf" <<CONF
Mode s
Domain signer.test
Selector od
KeyFile $work/od.private
Socket inet:$od_port@127.0.0.1
SignatureAlgorithm rsa-sha256
Canonicalization relaxed/relaxed
Background no
Syslog no
RequireSafeKeys false
PidFile $work/od.pid
UserID $(id -un)
CONF
	"$odbin" -f -x "$work/od.conf" >"$work/od.log" 2>&1 &
	od_pid=$!
	if od_sign od; then
		ok "opendkim milter signed a message (rsa-sha256)"
		send od 192.0.2.10 alice@signer.test mail.signer.test
		check "opendkim-signed: DKIM_VALID" has_test od DKIM_VALID
		check "opendkim-signed: DKIM_VALID_AU" has_test od DKIM_VALID_AU
		check "opendkim-signed: A-R dkim=pass header.s=od" eval \
		    "hdr od Authentication-Results | grep -q 'dkim=pass header.d=signer.test header.i=@signer.test header.s=od'"
	else
		not_ok "opendkim milter signed a message"
		sed 's/^/# /' "$work/od.log" "$work/od.mterr"
	fi
	if od_sign odbad; then
		sed -i 's/^Subject: auth odbad/Subject: auth ODBAD/' "$work/odbad.eml"
		send odbad 192.0.2.10 alice@signer.test mail.signer.test
		check "opendkim-signed, Subject altered: DKIM_INVALID" has_test odbad DKIM_INVALID
	else
		not_ok "opendkim milter signed a second message"
	fi
	kill "$od_pid" 2>/dev/null
	msg odsha1 alice@signer.test
	if "$odmsg" -C -d signer.test -s od -k "$work/od.private" \
	    <"$work/odsha1.eml" >"$work/odsha1.signed" &&
	    grep -q 'a=rsa-sha1' "$work/odsha1.signed"; then
		mv "$work/odsha1.signed" "$work/odsha1.eml"
		send odsha1 192.0.2.10 alice@signer.test mail.signer.test
		check "opendkim-testmsg rsa-sha1: DKIM_INVALID (RFC 8301)" has_test odsha1 DKIM_INVALID
		check "opendkim-testmsg rsa-sha1: A-R dkim=permerror" eval \
		    "hdr odsha1 Authentication-Results | grep -q 'dkim=permerror (rsa-sha1 not accepted'"
	else
		ok "opendkim-testmsg rsa-sha1 # SKIP it signed with another algorithm"
	fi
else
	ok "opendkim round trip # SKIP opendkim/miltertest not installed"
fi

msg bad alice@signer.test
sign bad rsa rsa.key
sed -i 's/this is the bad test/this is the BAD test/' "$work/bad.eml"
send bad 203.0.113.5 alice@signer.test mail.signer.test
for t in SPF_FAIL SPF_HELO_FAIL DKIM_SIGNED DKIM_INVALID DMARC_REJECT; do
	check "altered, unlisted client: $t" has_test bad "$t"
done
has_test bad DKIM_VALID && not_ok "altered: no DKIM_VALID" || ok "altered: no DKIM_VALID"
has_test bad AUTH_META_PASS && not_ok "altered: no AUTH_META_PASS" || ok "altered: no AUTH_META_PASS"
diag "$(hdr bad X-Spam-Status)"

# ARC: the list lists.test saw the signed message pass DKIM and DMARC,
# tagged its Subject and added a footer (the author's signature breaks),
# then sealed (i=1); fwd.test forwarded it and sealed again (i=2).
arcseal() # NAME DOMAIN AR-RESULTS: prepend our A-R, seal as DOMAIN
{
	{ printf 'Authentication-Results: %s; %s\r\n' "$2" "$3"
	  cat "$work/$1.eml"; } >"$work/$1.ar" &&
	    arcsign arc "$2" "$work/arc.key" "$2" <"$work/$1.ar" \
		>"$work/$1.eml" 2>"$work/$1.arcerr" &&
	    grep -qi '^ARC-Seal:' "$work/$1.eml"
}
listify() # NAME: the list's changes after it checked the message
{
	sed -i 's/^Subject: auth /Subject: [list] auth /' "$work/$1.eml" &&
	    printf -- '-- \r\nlist footer\r\n' >>"$work/$1.eml"
}
have_arc=yes
for n in arc1 arc2 arcbad; do
	msg $n alice@signer.test && sign $n rsa rsa.key && listify $n &&
	    arcseal $n lists.test "dkim=pass header.d=signer.test; dmarc=pass header.from=signer.test" ||
	    have_arc=no
done
[ $have_arc = yes ] && arcseal arc2 fwd.test "arc=pass; dmarc=fail header.from=signer.test" || have_arc=no
sed -i 's/list footer/LIST FOOTER/' "$work/arcbad.eml"
if [ $have_arc = yes ]; then
	ok "arcsign sealed the test messages (i=1, i=2)"
	for n in arc1 arc2 arcbad; do
		send $n 198.51.100.7 list-bounces@lists.test mail.lists.test
	done
	for t in ARC_SIGNED ARC_VALID DKIM_INVALID DMARC_REJECT; do
		check "list-changed, sealed: $t" has_test arc1 $t
	done
	diag "$(hdr arc1 Authentication-Results)"
	check "A-R: arc=pass (i=1 d=lists.test), dmarc still fails" eval \
	    "hdr arc1 Authentication-Results | grep -q 'arc=pass (i=1 d=lists.test); dmarc=fail (p=reject dis=reject)'"
	check "two hops: arc=pass (i=2 d=fwd.test)" eval \
	    "hdr arc2 Authentication-Results | grep -q 'arc=pass (i=2 d=fwd.test)'"
	check "two hops: ARC_VALID" has_test arc2 ARC_VALID
	check "changed after sealing: ARC_INVALID, no ARC_VALID" eval \
	    "has_test arcbad ARC_INVALID && ! has_test arcbad ARC_VALID"
	check "changed after sealing: arc=fail (AMS body hash)" eval \
	    "hdr arcbad Authentication-Results | grep -q 'arc=fail (ARC-Message-Signature i=1: body hash mismatch)'"
	check "no ARC headers: arc=none, no ARC_SIGNED" eval \
	    "hdr good Authentication-Results | grep -q 'arc=none' && ! has_test good ARC_SIGNED"
else
	not_ok "arcsign sealed the test messages"
	sed 's/^/# /' "$work"/*.arcerr
fi

msg none bob@nodmarc.test "Authentication-Results: mx.e2e.test; spf=pass smtp.mailfrom=forged@signer.test; dkim=pass header.d=signer.test"
send none 192.0.2.20 bob@nodmarc.test host.nodmarc.test
check "no records: SPF_NONE" has_test none SPF_NONE
check "no records: DMARC_MISSING" has_test none DMARC_MISSING

if hdr good Authentication-Results | grep -q 'mx.e2e.test'; then
	check "A-R: spf=pass for the good message" eval \
	    "hdr good Authentication-Results | grep -q 'spf=pass smtp.mailfrom=alice@signer.test'"
	check "A-R: dkim=pass header.d=signer.test header.s=rsa" eval \
	    "hdr good Authentication-Results | grep -q 'dkim=pass header.d=signer.test header.i=@signer.test header.s=rsa'"
	check "A-R: dmarc=pass header.from=signer.test" eval \
	    "hdr good Authentication-Results | grep -q 'dmarc=pass (p=reject dis=none) header.from=signer.test'"
	check "A-R: altered message dkim=fail, dmarc=fail" eval \
	    "hdr bad Authentication-Results | grep -q 'dkim=fail (body hash mismatch).*dmarc=fail (p=reject dis=reject)'"
	check "Received-SPF: Pass for the good message" eval \
	    "hdr good Received-SPF | grep -q '^Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=mail.signer.test; envelope-from=\"alice@signer.test\"; receiver=mx.e2e.test'"
	check "forged A-R claiming mx.e2e.test removed" eval \
	    "! grep -q 'forged@signer.test' '$work/got-none'"
	check "exactly one A-R with our authserv-id" eval \
	    "test \$(hdr none Authentication-Results | grep -c 'mx.e2e.test') -eq 1"
else
	not_ok "Authentication-Results: mx.e2e.test ... written by the action code"
fi
# dmarc_policy_enforce = yes: the p=reject failure is refused in SMTP.
fd_stop
printf 'dmarc_policy_enforce = yes\narc_trusted_sealers = Lists.test, other.example\n' >>"$FD_CONF"
if fd_restart; then
	if [ $have_arc = yes ]; then
		send arc1 198.51.100.7 list-bounces@lists.test mail.lists.test
		check "trusted sealer: DMARC failure overridden, delivered ($(cat "$work/arc1.res"))" \
		    grep -q '^250' "$work/arc1.res"
		check "trusted sealer: no DMARC_REJECT, ARC_VALID" eval \
		    "! has_test arc1 DMARC_REJECT && has_test arc1 ARC_VALID"
		check "trusted sealer: A-R says why" eval \
		    "hdr arc1 Authentication-Results | grep -q 'dmarc=fail (p=reject dis=none arc override: lists.test sealed a pass)'"
		send arcbad 198.51.100.7 list-bounces@lists.test mail.lists.test
		check "trusted sealer, broken chain: still 550" \
		    grep -q '^550.*DMARC' "$work/arcbad.res"
		send arc2 198.51.100.7 list-bounces@lists.test mail.lists.test
		check "newest sealer not trusted (fwd.test): still 550" \
		    grep -q '^550.*DMARC' "$work/arc2.res"
	fi
	send bad 203.0.113.5 alice@signer.test mail.signer.test
	check "dmarc_policy_enforce: p=reject failure answered 550 ($(cat "$work/bad.res"))" \
	    grep -q '^550.*DMARC' "$work/bad.res"
	send good 192.0.2.10 alice@signer.test mail.signer.test
	check "dmarc_policy_enforce: passing message still delivered" \
	    grep -q '^250' "$work/good.res"
else
	not_ok "filterd restarted with dmarc_policy_enforce = yes"
fi


# A key lookup that is never answered (a UDP proxy drops it): the message
# waits at most dns_timeout, DKIM says temperror, the rest still works.
read -r proxy_port < <(e2e_ports 1)
python3 "$here/dnsbl_helper.py" proxy --port "$proxy_port" --upstream "$knot_port" \
    --drop drop._domainkey. >"$work/proxy.out" 2>&1 &
proxy=$!
for i in $(seq 50); do grep -q ready "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
fd_stop
printf 'dns_servers = 127.0.0.1:%s\ndns_timeout = 1s\n' "$proxy_port" >>"$FD_CONF"
if fd_restart; then
	msg late alice@signer.test
	sign late drop ed.key ed25519-sha256
	t0=$(date +%s.%N)
	send late 192.0.2.10 alice@signer.test mail.signer.test
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	check "dropped key lookup: delivered in ${secs}s (dns_timeout 1s, msg_deadline 20s)" \
	    awk -v s="$secs" 'BEGIN { exit !(s < 8) }'
	check "dropped key lookup: A-R dkim=temperror" eval \
	    "hdr late Authentication-Results | grep -q 'dkim=temperror (key lookup failed) header.d=signer.test'"
	check "dropped key lookup: SPF and DMARC still pass" eval \
	    "hdr late Authentication-Results | grep -q 'spf=pass.*dmarc=pass'"
	check "dropped key lookup: no DKIM_VALID, no DKIM_INVALID" eval \
	    "! has_test late DKIM_VALID && ! has_test late DKIM_INVALID"
else
	not_ok "filterd restarted behind the dropping proxy"
fi
kill "$proxy" 2>/dev/null

tap_done
