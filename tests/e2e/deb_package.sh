#!/usr/bin/env bash
# tests/e2e/deb_package.sh - make deb (dpkg-buildpackage, incremental in
# the tree's build dir: ~10 s) and dist/deb_test.sh: install, run as the
# filterd user, purge. Skipped when not root, without dpkg-buildpackage,
# or when a filterd package is installed on this machine (never touched).
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" != 0 ] || ! command -v dpkg-buildpackage >/dev/null; then
	echo "1..0 # SKIP needs root and dpkg-buildpackage"
	exit 0
fi
if dpkg -s filterd >/dev/null 2>&1; then
	echo "1..0 # SKIP a filterd package is installed here"
	exit 0
fi
t0=$(date +%s)
if ! make --no-print-directory deb >/tmp/filterd-deb-build.$$.log 2>&1; then
	echo "not ok 1 - make deb"
	sed 's/^/# /' /tmp/filterd-deb-build.$$.log | tail -20
	rm -f /tmp/filterd-deb-build.$$.log
	echo "1..1"
	exit 1
fi
rm -f /tmp/filterd-deb-build.$$.log
echo "# make deb: $(( $(date +%s) - t0 )) s"
# the package test's own TAP lines, renumbered after ours
dist/deb_test.sh build/deb | awk '
	/^ok |^not ok / { n++; sub(/^(not )?ok [0-9]+/, ($1 == "not" ? "not ok " : "ok ") n + 1) }
	/^1\.\./ { next } { print } END { print "1.." n + 1 }' |
    sed '1i ok 1 - make deb (dpkg-buildpackage)'
exit "${PIPESTATUS[0]}"
