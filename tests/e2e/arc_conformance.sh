#!/usr/bin/env bash
# tests/e2e/arc_conformance.sh - the ValiMail ARC suites in
# $CONFORMANCE_DIR/arc (default ../shared/conformance) through
# plugins/arc.c: the YAML is turned into JSON here (python3-yaml), then
# build/tests/arc_test runs every validation test with keys from its
# scenario's txt-records, once more with arc-keys.zone served by knotd on
# 127.0.0.1 and every lookup through plugins/dns, and every signing test
# (the sealed fields must be the expected ones, and pass our validator).
# Prints TAP lines.
set -u
cd "$(dirname "$0")/../.."
dir=${CONFORMANCE_DIR:-../shared/conformance}
bin=build/tests/arc_test
yml=$dir/arc/arc-draft-validation-tests.yml
if [ ! -f "$yml" ]; then
	echo "ok 1 - arc conformance # SKIP no $yml"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "not ok 1 - arc conformance: $bin not built"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 - "$yml" >"$tmp/suite.json" <<'PY'; then
import json, sys, yaml
out = []
for doc in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")):
    if not doc:
        continue
    keys = {k.lower(): v for k, v in (doc.get("txt-records") or {}).items()}
    for name, t in doc["tests"].items():
        out.append({"scenario": doc.get("description", ""), "name": name,
                    # the signatures are over CRLF text (suite README)
                    "message": t.get("message", "").replace("\n", "\r\n"),
                    "cv": (t.get("cv") or "").lower(), "keys": keys})
json.dump(out, sys.stdout)
PY
	echo "not ok 1 - arc conformance: cannot convert $yml (python3-yaml?)"
	exit 1
fi
sign=$dir/arc/arc-draft-sign-tests.yml
if [ -f "$sign" ] && ! python3 - "$sign" >"$tmp/sign.json" <<'PY'; then
import json, re, sys, yaml
out = []
for doc in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")):
    if not doc:
        continue
    txt = doc.get("txt-records") or {}
    pub = txt.get("%s._domainkey.%s" % (doc["sel"], doc["domain"]), "")
    for name, t in doc["tests"].items():
        out.append({"scenario": doc.get("description", ""), "name": name,
                    "message": t["message"].replace("\n", "\r\n"),
                    "t": int(t["t"]), "headers": t["sig-headers"],
                    "srv_id": t["srv-id"], "domain": doc["domain"],
                    "sel": doc["sel"], "key": doc["privatekey"], "pub": pub,
                    "AS": t.get("AS") or "", "AMS": t.get("AMS") or "",
                    "AAR": t.get("AAR") or ""})
json.dump(out, sys.stdout)
PY
	echo "not ok 1 - arc conformance: cannot convert $sign"
	exit 1
fi
rc=0
"$bin" --suite "$tmp/suite.json" || rc=1
if [ -f "$sign" ]; then
	"$bin" --sign-suite "$tmp/sign.json" || rc=1
fi
serve=$dir/dns/serve-zone.sh
if [ -x "$serve" ] && command -v knotd >/dev/null 2>&1; then
	"$bin" --suite-dns "$tmp/suite.json" "$serve" "$dir/arc/arc-keys.zone" ||
	    rc=1
else
	echo "ok - arc suite through knotd # SKIP knotd or $serve missing"
fi
exit $rc
