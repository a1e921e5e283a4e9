#!/usr/bin/env bash
# tests/e2e/full_state.sh - filterd starting with its state_dir on a full
# file system (a filled 256 KB tmpfs): the shared metrics file was made by
# ftruncate, a hole, and the master's first write into its mapping was a
# SIGBUS, so filterd died at startup. It must start with metrics and Bayes
# off (one warning each), scan through the spamd door and pass mail
# through the SMTP door (the spool is elsewhere), no process dying; a
# message to quarantine there gets 451 (the MTA keeps it), not a 250.
set -u
cd "$(dirname "$0")" || exit 1
. ./lib_filterd.sh

e2e_workdir fst

if [ "$(id -u)" != 0 ]; then
	not_ok "root needed to mount a tmpfs"
	tap_done
	exit 1
fi
if ! e2e_sink; then
	not_ok "smtp-sink starts"
	tap_done
	exit 1
fi
read -r fd_port sp_port < <(e2e_ports 2)
printf 'body T_FD_KILLTOKEN /\\bXKILLTOKENX\\b/\nscore T_FD_KILLTOKEN 20.0\n' \
    >"$work/local.cf"
if ! FD_STATE_TMPFS=256k FD_STATE_FULL=1 fd_start "$fd_port" "$SINK_PORT" \
    "spamd_listen = 127.0.0.1:$sp_port
rules_local = $work/local.cf
final_spam_destiny = quarantine
quarantine_dir = $work/q"; then
	not_ok "filterd starts with a full state_dir"
	tap_done
	exit 1
fi
ok "filterd starts with a full state_dir ($(df -h "$FD_DIR/state" | awk 'NR == 2 {print $4}') free)"
check "warning: metrics off: No space left on device" \
    grep -q 'metrics off: .*metrics.shm: No space left on device' "$FD_LOG"
check "spamc PING answered" bash -c "spamc -d 127.0.0.1 -p $sp_port -K >/dev/null"
printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\nMessage-ID: <fs1@example.org>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nhello there\r\n' >"$FD_DIR/m.eml"
out=$(spamc -d 127.0.0.1 -p "$sp_port" -c <"$FD_DIR/m.eml")
check "spamc -c scores a message ($out)" grep -Eq '^-?[0-9.]+/[0-9.]+$' <<<"$out"
check "warning: Bayes off (its store cannot be created)" \
    grep -q 'bayes: cannot open .*: No space left on device; scans go on without Bayes' "$FD_LOG"
check "SMTP door: a transaction passes to the downstream" fd_answers "$fd_port"
# the quarantine on the full file system (it is created at the first
# message: point it there now that the tmpfs is mounted)
fd_stop
sed -i "s|^quarantine_dir = .*|quarantine_dir = $FD_DIR/state/q|" "$FD_CONF"
fd_restart
r=$(timeout 30 python3 - "$fd_port" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("client.test")
try:
    s.sendmail("a@example.org", ["b@example.net"],
               b"From: a@example.org\r\nTo: b@example.net\r\n"
               b"Subject: offer\r\nMessage-ID: <fs2@example.org>\r\n\r\n"
               b"XKILLTOKENX cheap\r\n")
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
PY
)
check "kill-level spam, quarantine on the full disk: 451, not taken ($r)" \
    grep -q '^451 ' <<<"$r"
check "no process died (no signal or worker restart in the log)" \
    bash -c "! grep -Eiq 'signal|died|restart' '$FD_LOG'"
check "master alive" kill -0 "$FD_PID"
tap_done
