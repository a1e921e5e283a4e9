#!/usr/bin/env bash
# tests/e2e/hs_cache.sh - the Hyperscan cache end to end: filterd without
# one (budget compile, a log line saying so) builds it in the background
# and reloads itself; `filterctl compile` writes it too; a damaged file is
# ignored (and not rebuilt in a loop); the scores and symbols spamc gets
# are the same every time.
set -u
cd "$(dirname "$0")"
. ./lib_filterd.sh

e2e_workdir hscache
e2e_require spamc
cp "$FILTERD_BIN" "$work/filterd" && FILTERD_BIN=$work/filterd
cp "$E2E_ROOT/build/filterctl" "$work/filterctl"

# messages that fire rules of every kind the cache covers (body, uri,
# rawbody) and some that do not fire
mk() # file subject body
{
	printf 'From: A <a@sender.test>\r\nTo: b@e2e.test\r\nSubject: %s\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-Id: <%s@sender.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<html><body>%s</body></html>\r\n' \
	    "$2" "$RANDOM" "$3" >"$1"
}
mk "$work/m1.eml" "lunch" "shall we meet on Friday? <a href=\"http://example.org/\">menu</a>"
mk "$work/m2.eml" "WORK FROM HOME" "Earn \$5,000 per week working from home! Click here, 100% guaranteed, no risk. Buy V1AGRA and replica rolex watches. To be removed reply REMOVE. <a href=\"http://192.0.2.7/login.php\">verify your account</a>"
mk "$work/m3.eml" "Your account" "Dear customer, your account has been suspended. Verify your password within 24 hours or lose access to your mailbox <font color=\"#ffffff\">hidden</font>"
cp /usr/share/doc/spamc/sample-spam.txt "$work/m4.eml"

read -r fd_port re_port sp_port < <(e2e_ports 3)
fd_start "$fd_port" "$re_port" "spamd_listen = 127.0.0.1:$sp_port
rules_dir = $E2E_ROOT/rules/default
rules_local =
rules_cache_dir = $work/cache
use_dnsbl = no" || { not_ok "filterd starts"; tap_done; exit 1; }
chmod 644 "$FD_CONF"
SPAMC="timeout 20 spamc -d 127.0.0.1 -p $sp_port"
symbols() # -> one line per message: file score symbols
{
	for f in "$work"/m*.eml; do
		printf '%s %s %s\n' "${f##*/}" "$($SPAMC -c <"$f")" "$($SPAMC -y <"$f")"
	done
}
check "no cache yet: the log says so and how to build it" \
    grep -q "no Hyperscan cache for these rules in $work/cache.*filterctl compile" "$FD_LOG"
check "filterd starts a background builder" \
    grep -q "building the Hyperscan cache in the background" "$FD_LOG"
symbols >"$work/before"
check "scans answer meanwhile (4 messages, a spam among them)" \
    [ "$(wc -l <"$work/before")" -eq 4 -a -n "$(awk '$2+0 >= 5' "$work/before")" ]
diag "$(cat "$work/before")"
for _ in $(seq 1 300); do
	grep -q "Hyperscan databases for" "$FD_LOG" && break
	sleep 0.1
done
check "the builder wrote the cache and filterd reloaded with it" \
    sh -c "grep -q 'Hyperscan cache ready; reloading' '$FD_LOG' &&
        grep -q 'Hyperscan databases for [0-9]* rules from $work/cache/' '$FD_LOG'"
file=$(ls "$work"/cache/*.hsdb 2>/dev/null | head -1)
check "one cache file in rules_cache_dir" [ -n "$file" -a "$(ls "$work"/cache | wc -l)" -eq 1 ]
sleep 0.5
symbols >"$work/cached"
check "with the cache: the same scores and symbols as without" \
    cmp -s "$work/before" "$work/cached"

rm -f "$file"
out=$("$work/filterctl" -c "$FD_CONF" compile 2>&1)
rc=$?
diag "$out"
check "filterctl compile exits 0 and names the file it wrote" \
    [ $rc -eq 0 -a -n "$(echo "$out" | grep -E "rules in Hyperscan, compiled in .* written to $file")" ]

# a damaged file (the CPU or Hyperscan changed, a disk error): ignored
truncate -s 1000 "$file"
lines=$(wc -l <"$FD_LOG")
kill -HUP "$FD_PID"
for _ in $(seq 1 100); do
	tail -n +$((lines + 1)) "$FD_LOG" | grep -q "no Hyperscan cache" && break
	sleep 0.1
done
check "a truncated cache file is ignored (budget compile, log line)" \
    sh -c "tail -n +$((lines + 1)) '$FD_LOG' | grep -q 'no Hyperscan cache'"
sleep 1
check "and not rebuilt in a loop (one try per cache file)" \
    [ -z "$(tail -n +$((lines + 1)) "$FD_LOG" | grep 'building the Hyperscan cache')" ]
symbols >"$work/damaged"
check "with the damaged file: still the same answers" \
    cmp -s "$work/before" "$work/damaged"
check "filterd still running" kill -0 "$FD_PID"

# a rebuild replaces the damaged file (same key, same name)
"$work/filterctl" -c "$FD_CONF" compile -q
check "filterctl compile rewrites it (a whole file again)" \
    [ "$(stat -c %s "$file")" -gt 1000 ]

# rules_dir lists several paths, loaded in order (later score lines win)
printf 'body FD_E2E_EXTRA /XEXTRATOKENX/\nscore FD_E2E_EXTRA 3.5\nscore FD_HTML_ONLY 0.05\n' \
    >"$work/extra.cf"
printf 'rules_dir = %s/rules/default, %s/extra.cf\nrules_local =\nrules_cache_dir = none\nuse_bayes = no\n' \
    "$E2E_ROOT" "$work" >"$work/two.conf"
mk "$work/extra.eml" "hello" "a XEXTRATOKENX here"
out=$("$work/filterctl" -c "$work/two.conf" check "$work/extra.eml" 2>/dev/null | head -3)
diag "$out"
# 3.5 + FD_HTML_ONLY at 0.05 (not its shipped score) + FD_HTML_MESSAGE
check "rules_dir with two paths: the second's rule fires, its score line wins" \
    sh -c "echo '$out' | grep -q 'score=3\.6/5\.0 .*FD_E2E_EXTRA'"

printf 'rules_dir = %s/rules/default\nrules_local =\nrules_cache_dir = none\n' \
    "$E2E_ROOT" >"$work/none.conf"
out=$("$work/filterctl" -c "$work/none.conf" compile 2>&1)
rc=$?
check "rules_cache_dir = none: filterctl compile says so, exit 1" \
    [ $rc -eq 1 -a -n "$(echo "$out" | grep 'none')" ]
tap_done
