#!/usr/bin/env bash
# tests/e2e/ctl_help.sh - filterd --help and -h, and every filterctl
# command's --help and -h, answer with the usage on stdout and exit 0
# (nothing on stderr, nothing done: no file named "--help" looked up, no
# rules linted); a usage error still goes to stderr with exit 2. The command list is read from
# `filterctl --help`, so a new command is covered when it is added.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_filterd.sh"
ctl=${FILTERCTL_BIN:-$E2E_ROOT/build/filterctl}
work=$(mktemp -d /tmp/filterd-e2e-help.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$ctl" --help >"$work/top" 2>"$work/top.err"
check "filterctl --help: exit 0, usage on stdout" \
    sh -c "[ \$? -eq 0 ] && grep -q '^usage: filterctl' '$work/top' && [ ! -s '$work/top.err' ]"
cmds=$(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' "$work/top")
check "command list read from --help ($(echo $cmds | wc -w) commands)" \
    [ "$(echo $cmds | wc -w)" -ge 10 ]
for c in $cmds; do
	for h in --help -h; do
		# from an empty directory: no etc/filterd.conf to pick up
		(cd "$work" && FILTERD_CONF=/nonexistent "$ctl" "$c" "$h" \
		    >"$work/out" 2>"$work/err")
		rc=$?
		check "filterctl $c $h: exit 0 (got $rc), usage on stdout, stderr empty" \
		    sh -c "[ $rc -eq 0 ] && grep -q '^usage: filterctl' '$work/out' && [ ! -s '$work/err' ]"
	done
done
(cd "$work" && "$ctl" learn --no-such-option >"$work/out" 2>"$work/err")
rc=$?
check "a usage error: exit 2, usage on stderr" \
    sh -c "[ $rc -eq 2 ] && grep -q '^usage: filterctl learn' '$work/err' && [ ! -s '$work/out' ]"
for h in --help -h; do
	"$E2E_ROOT/build/filterd" "$h" >"$work/out" 2>"$work/err"
	rc=$?
	check "filterd $h: exit 0 (got $rc), manual on stdout, stderr empty" \
	    sh -c "[ $rc -eq 0 ] && grep -q 'filterd - spam-scoring' '$work/out' && [ ! -s '$work/err' ]"
done
tap_done
