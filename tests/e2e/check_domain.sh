#!/usr/bin/env bash
# tests/e2e/check_domain.sh - filterctl check-domain against knotd on
# 127.0.0.1 (../shared/conformance/dns/serve-zone.sh) serving a zone written
# here: good.test has everything right (MX with an address, SPF -all within
# the lookup limit, a 2048-bit key from dkim-keygen, DMARC p=reject with an
# authorized external rua, forward-confirmed PTR for its IP); bad.test has
# the usual mistakes (two SPF records), weak.test others (~all, 12 lookups,
# t=y, a 1024-bit key, a revoked key, p=none, pct=50, no rua, strict
# alignment, an MX host without address, PTR that does not resolve back),
# none.test nothing at all. Every finding must show with its severity and a
# fix; exit status 0 for good.test, 1 for the others; --json parses.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
root=$E2E_ROOT
serve=$root/../shared/conformance/dns/serve-zone.sh
ctl=${FILTERCTL_BIN:-$root/build/filterctl}
work=$(mktemp -d /tmp/filterd-e2e-checkdomain.XXXXXX)
knot=

cleanup()
{
	[ -n "$knot" ] && "$serve" stop "$knot" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$serve" ] || [ ! -x "$ctl" ]; then
	not_ok "knotd ($serve) and filterctl available"
	tap_done
	exit 1
fi

(cd "$work" && "$ctl" dkim-keygen --domain good.test --selector s2048 \
    >good.out 2>&1 && "$ctl" dkim-keygen --domain weak.test --selector old \
    --bits 1024 --testing >weak.out 2>&1 && "$ctl" dkim-keygen \
    --domain good.test --selector ed --type ed25519 >ed.out 2>&1) ||
	{ not_ok "dkim-keygen made the keys"; tap_done; exit 1; }
{
	echo '$ORIGIN .'
	echo '$TTL 300'
	# good.test
	echo 'good.test. MX 10 mx.good.test.'
	echo 'mx.good.test. A 192.0.2.25'
	echo 'good.test. TXT "v=spf1 mx ip4:192.0.2.10 include:_spf.esp.test -all"'
	echo '_spf.esp.test. TXT "v=spf1 ip4:198.51.100.0/24 -all"'
	sed -n '/IN TXT (/,/)/p' "$work/good.out"
	sed -n '/IN TXT (/,/)/p' "$work/ed.out"
	echo '_dmarc.good.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test,mailto:agg@reports.test"'
	echo 'good.test._report._dmarc.reports.test. TXT "v=DMARC1"'
	echo '10.2.0.192.in-addr.arpa. PTR mail.good.test.'
	echo 'mail.good.test. A 192.0.2.10'
	# bad.test: two SPF records, no DMARC, no MX and no A
	echo 'bad.test. TXT "v=spf1 -all"'
	echo 'bad.test. TXT "v=spf1 +all"'
	# weak.test
	echo 'weak.test. MX 10 gone.weak.test.'
	echo 'weak.test. TXT "v=spf1 include:a.spf.test include:b.spf.test include:c.spf.test include:d.spf.test ~all"'
	for x in a b c d; do
		echo "$x.spf.test. TXT \"v=spf1 a:h1.$x.spf.test a:h2.$x.spf.test -all\""
		echo "h1.$x.spf.test. A 203.0.113.1"
		echo "h2.$x.spf.test. A 203.0.113.2"
	done
	sed -n '/IN TXT (/,/)/p' "$work/weak.out"
	echo 'revoked._domainkey.weak.test. TXT "v=DKIM1; k=rsa; p="'
	echo '_dmarc.weak.test. TXT "v=DMARC1; p=none; pct=50; adkim=s; aspf=s"'
	echo '20.2.0.192.in-addr.arpa. PTR host-20.isp.test.'
	echo 'host-20.isp.test. A 192.0.2.99'
	# none.test: exists, nothing else
	echo 'none.test. A 192.0.2.30'
} >"$work/z.zone"

read -r port < <(e2e_ports 1)
knot=$("$serve" -p "$port" "$work/z.zone" 2>"$work/knot.err") ||
	{ not_ok "knotd started"; sed 's/^/# /' "$work/knot.err"; tap_done; exit 1; }
ok "knotd serves good.test, bad.test, weak.test, none.test"

cd_run() # NAME DOMAIN ARGS... -> $work/NAME.out, $work/NAME.rc
{
	local n=$1
	shift
	"$ctl" check-domain "$@" --dns-server "127.0.0.1:$port" \
	    >"$work/$n.txt" 2>&1
	echo $? >"$work/$n.rc"
}
has() # NAME SEVERITY AREA REGEX
{
	grep -Eq "^  $2 +$3 +.*$4" "$work/$1.txt"
}
fix_after() # NAME REGEX: the finding matching REGEX is followed by a fix
{
	grep -EA1 "$2" "$work/$1.txt" | grep -q 'fix: '
}

cd_run good good.test --selector s2048 --selector ed --ip 192.0.2.10
check "good.test: exit 0 ($(cat "$work/good.rc"))" test "$(cat "$work/good.rc")" = 0
check "good.test: MX host resolves" has good ok MX 'MX 10 mx.good.test -> 192.0.2.25'
check "good.test: SPF -all" has good ok SPF 'ends in -all'
check "good.test: SPF lookups counted (mx + include = 2 of 10)" has good ok SPF '2 of 10 DNS lookups'
check "good.test: the IP passes SPF" has good ok SPF '192.0.2.10 passes'
check "good.test: 2048-bit RSA key" has good ok DKIM 's2048._domainkey.good.test: RSA key of 2048 bits'
check "good.test: ed25519 key" has good ok DKIM 'ed._domainkey.good.test: ed25519 key'
check "good.test: p=reject" has good ok DMARC 'p=reject'
check "good.test: external rua authorized" has good ok DMARC 'rua to reports.test: authorized'
check "good.test: FCrDNS" has good ok PTR '192.0.2.10 -> mail.good.test -> 192.0.2.10: forward-confirmed'
check "good.test: no error, no warning" grep -q '^0 errors, 0 warnings' "$work/good.txt"
[ "$t_failed" -eq 0 ] || sed 's/^/# /' "$work/good.txt"

cd_run bad bad.test --ip 192.0.2.10
check "bad.test: exit 1" test "$(cat "$work/bad.rc")" = 1
check "bad.test: no MX and no A" has bad ERROR MX 'no MX record'
check "bad.test: two SPF records = permerror" has bad ERROR SPF '2 SPF records'
check "bad.test: fix for the two records" fix_after bad '2 SPF records'
check "bad.test: no DMARC record" has bad ERROR DMARC 'no DMARC record at _dmarc.bad.test'
check "bad.test: DMARC fix names a record to publish" fix_after bad 'no DMARC record'
check "bad.test: no selector given -> info" has bad info DKIM 'no --selector'

cd_run weak weak.test --selector old --selector revoked --selector missing --ip 192.0.2.20
check "weak.test: exit 1" test "$(cat "$work/weak.rc")" = 1
check "weak.test: MX host without address" has weak ERROR MX 'gone.weak.test has no address'
check "weak.test: ~all warned" has weak WARN SPF 'ends in ~all'
check "weak.test: 12 lookups = over the limit" has weak ERROR SPF 'permerror'
check "weak.test: 1024-bit key warned" has weak WARN DKIM 'RSA key of 1024 bits'
check "weak.test: t=y warned" has weak WARN DKIM 't=y still on'
check "weak.test: revoked key" has weak WARN DKIM 'revoked'
check "weak.test: missing selector" has weak ERROR DKIM 'no key at missing._domainkey.weak.test'
check "weak.test: p=none warned" has weak WARN DMARC 'p=none'
check "weak.test: pct=50 warned" has weak WARN DMARC 'pct=50'
check "weak.test: no rua warned" has weak WARN DMARC 'no rua='
check "weak.test: strict alignment noted" has weak info DMARC 'strict alignment'
check "weak.test: the IP is not permitted" has weak ERROR SPF '192.0.2.20 is not permitted'
check "weak.test: PTR not forward-confirmed" has weak ERROR PTR 'does not resolve back'
check "weak.test: every WARN/ERROR has a fix" eval \
    "[ \$(grep -cE '^  (WARN|ERROR) ' '$work/weak.txt') -eq \$(grep -EA1 '^  (WARN|ERROR) ' '$work/weak.txt' | grep -c 'fix: ') ]"
[ "$t_failed" -eq 0 ] || sed 's/^/# /' "$work/weak.txt"

cd_run none none.test --ip 192.0.2.30
check "none.test: no SPF" has none ERROR SPF 'no SPF record'
check "none.test: no PTR" has none ERROR PTR 'no PTR record'
cd_run nx nx.test
check "nx.test: NXDOMAIN" has nx ERROR MX 'does not exist'

"$ctl" check-domain weak.test --selector old --json --dns-server "127.0.0.1:$port" >"$work/j.json" 2>&1
check "--json parses, 'fix' on the t=y finding" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
f = [x for x in j["findings"] if "t=y" in x["text"]]
sys.exit(0 if j["domain"] == "weak.test" and j["errors"] > 0 and f and f[0]["severity"] == "warn" and f[0]["fix"] else 1)' "$work/j.json"
check "check-domain --help" eval "'$ctl' check-domain --help | grep -q -- --selector"
check "check-domain without a domain: usage, exit 2" eval \
    "'$ctl' check-domain >/dev/null 2>&1; [ \$? -eq 2 ]"

tap_done
