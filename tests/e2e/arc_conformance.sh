#!/usr/bin/env bash
# tests/e2e/arc_conformance.sh - the ValiMail ARC validation suite in
# $CONFORMANCE_DIR/arc (default ../shared/conformance) through
# plugins/arc.c: the YAML is turned into JSON here (python3-yaml), then
# build/tests/arc_test runs every test with keys from its scenario's
# txt-records, and once more with arc-keys.zone served by knotd on
# 127.0.0.1 and every lookup through plugins/dns. Prints TAP lines.
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
rc=0
"$bin" --suite "$tmp/suite.json" || rc=1
serve=$dir/dns/serve-zone.sh
if [ -x "$serve" ] && command -v knotd >/dev/null 2>&1; then
	"$bin" --suite-dns "$tmp/suite.json" "$serve" "$dir/arc/arc-keys.zone" ||
	    rc=1
else
	echo "ok - arc suite through knotd # SKIP knotd or $serve missing"
fi
exit $rc
