#!/usr/bin/env bash
# tests/e2e/dmarc_report.sh - filterctl dmarc-report over the sample reports
# of tests/data/dmarc (as mailed: a deflated .zip from Google, a .xml.gz
# from Outlook, a stored .zip with a README first and the DMARCbis
# namespace): per-source totals merged across reports, the sources that
# fail DMARC (and so would bounce under p=reject) with a hint each, --json,
# --fail-only, errors for unreadable files. No network.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
root=$E2E_ROOT
ctl=${FILTERCTL_BIN:-$root/build/filterctl}
data=$root/tests/data/dmarc
work=$(mktemp -d /tmp/filterd-e2e-dmarcrep.XXXXXX)
trap 'rm -rf "$work"' EXIT

files=("$data/google.com!example.org!1795651200!1795737599.zip"
    "$data/enterprise.protection.outlook.com!example.org!1795651200!1795737600.xml.gz"
    "$data/stored.zip")
"$ctl" dmarc-report "${files[@]}" >"$work/out.txt" 2>"$work/err.txt"
check "three reports read, exit 0" test $? -eq 0
check "report lines: org, policy, records, messages" eval \
    "grep -q 'from google.com (id 4821937716245712960): example.org p=none sp=none pct=100 adkim=r aspf=r, 2026-11-26 00:00 .. 2026-11-26 23:59 UTC, 4 records, 146 messages' '$work/out.txt' &&
     grep -q 'from Enterprise Outlook .* 2 records, 32 messages' '$work/out.txt' &&
     grep -q 'from Yahoo .*p=quarantine pct=50 adkim=s aspf=r.* 1 records, 3 messages' '$work/out.txt'"
row() { grep -E "^$1 +" "$work/out.txt"; }
check "192.0.2.10: 120 + 30 messages merged, all aligned" eval \
    "row 192.0.2.10 | grep -Eq '^192.0.2.10 +150 +150 +150 +150  example.org$'"
check "198.51.100.7: passes by DKIM only (forwarded)" eval \
    "row 198.51.100.7 | grep -Eq ' 15 +15 +0 +15 '"
check "203.0.113.66: 4 + 2 + 3 messages, fails DMARC" eval \
    "row 203.0.113.66 | grep -Eq ' 9 +0 +0 +0 .*FAILS DMARC'"
check "203.0.113.66: raw SPF softfail 6, fail 3; dispositions none 6, quarantine 3" \
    grep -q 'spf: softfail 6, fail 3 (example.org); dkim: none 9; disposition: none 6, quarantine 3' "$work/out.txt"
check "totals: 181 messages, 16 failed (8.8%)" \
    grep -q '^181 messages from 4 sources; 16 (8.8%) failed DMARC' "$work/out.txt"
check "p=reject section names both failing sources" eval \
    "grep -q '^would fail under p=reject (2 sources):' '$work/out.txt' &&
     grep -q '^  203.0.113.66: 9 of 9 messages: no SPF or DKIM pass' '$work/out.txt' &&
     grep -q '^  2001:db8::25: 7 of 7 messages: authenticated as esp.example, not aligned with example.org' '$work/out.txt'"
[ "$t_failed" -eq 0 ] || sed 's/^/# /' "$work/out.txt"

"$ctl" dmarc-report --json "${files[@]}" >"$work/out.json"
check "--json: totals, per-source fields, fails_under_reject" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = {x["source_ip"]: x for x in j["sources"]}
ok = (j["messages"] == 181 and j["dmarc_fail"] == 16 and len(j["reports"]) == 3
      and s["192.0.2.10"]["messages"] == 150 and not s["192.0.2.10"]["fails_under_reject"]
      and s["203.0.113.66"]["disposition"] == {"none": 6, "quarantine": 3}
      and s["2001:db8::25"]["fails_under_reject"] and "esp.example" in s["2001:db8::25"]["dkim_domains"]
      and s["198.51.100.7"]["spf_aligned_pass"] == 0 and s["198.51.100.7"]["dkim_aligned_pass"] == 15)
sys.exit(0 if ok else 1)' "$work/out.json"
"$ctl" dmarc-report --json --fail-only "${files[@]}" >"$work/fail.json"
check "--fail-only: only the two failing sources" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if sorted(x["source_ip"] for x in j["sources"]) == ["2001:db8::25", "203.0.113.66"] else 1)' "$work/fail.json"
check "plain XML from stdin" eval \
    "'$ctl' dmarc-report - <'$data/google.xml' | grep -q '146 messages'"
printf 'not a report' >"$work/junk.xml"
"$ctl" dmarc-report "$work/junk.xml" "$data/google.xml" >"$work/mixed.txt" 2>"$work/mixed.err"
check "a bad file: exit 1, reason on stderr, the good one still summarised" eval \
    "[ $? -eq 1 ] && grep -q 'junk.xml: not well-formed XML' '$work/mixed.err' && grep -q '146 messages' '$work/mixed.txt'"
check "dmarc-report --help" eval "'$ctl' dmarc-report --help | grep -q -- --json"
tap_done
