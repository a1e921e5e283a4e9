#!/usr/bin/env bash
# tests/e2e/milter_postfix.sh - a private Postfix with
# smtpd_milters = inet:127.0.0.1:PORT talking to filterd's milter door
#
# Checks, through Postfix's own smtpd: ham is delivered with
# X-Spam-Status: No; tag2-level spam is delivered tagged (X-Spam-Flag,
# Subject); with final_spam_destiny = reject kill-level spam is refused in
# the SMTP dialogue (550 5.7.1) and never queued; with quarantine it goes
# to Postfix's hold queue; with filterd stopped Postfix applies
# milter_default_action = tempfail (4xx to the client, nothing queued,
# nothing lost: the client still has the message and it goes through once
# filterd is back); the macros give filterd the Postfix queue id and the
# client; header values reach filterd with their leading space as sent
# (SMFIP_HDR_LEADSPC).
set -u
cd "$(dirname "$0")"
. ./lib_postfix.sh
. ./lib_filterd.sh
. ./lib_milter.sh

work=$(mktemp -d /tmp/filterd-e2e-mpf.XXXXXX)
cleanup()
{
	fd_cleanup
	pf_stop
	if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# send PORT FILE - one SMTP transaction; prints the final reply line
send()
{
	timeout 60 python3 - "$1" "$2" <<'PY'
import smtplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
try:
    s = smtplib.SMTP("127.0.0.1", port, timeout=50)
    s.ehlo("client.e2e.test")
    code, msg = s.mail("sender@sender.test")
    if code != 250:
        print(code, msg.decode(errors="replace"))
        sys.exit(0)
    code, msg = s.rcpt("rcpt@example.test")
    if code != 250:
        print(code, msg.decode(errors="replace"))
        sys.exit(0)
    code, msg = s.data(data)
    print(code, msg.decode(errors="replace"))
    s.quit()
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except Exception as e:
    print("ERR", e)
PY
}

fe_private_bins "$work"
# full rules that see the header section byte for byte: filterd asks
# Postfix for header values with their leading space (SMFIP_HDR_LEADSPC),
# so "Name:value" and "Name:<TAB>value" are rebuilt as sent, as DKIM
# c=simple and ARC need them
fe_local_cf "$work/local.cf"
cat >>"$work/local.cf" <<'CF'
full  T_FD_HDR_TIGHT  /^X-Probe-Tight:tight\r?\n/m
score T_FD_HDR_TIGHT  0.01
full  T_FD_HDR_TAB    /^X-Probe-Tab:\tTAB\r?\n/m
score T_FD_HDR_TAB    0.01
full  T_FD_HDR_SPACED /^X-Probe-Spaced:  two\r?\n/m
score T_FD_HDR_SPACED 0.01
CF
fe_mkmsg "$work/ham.eml" "lunch" "shall we meet for lunch on Friday?"
sed -i 's/^\(From: .*\)$/\1\nX-Probe-Tight:tight\r\nX-Probe-Tab:\tTAB\r\nX-Probe-Spaced:  two\r/' "$work/ham.eml"
fe_mkmsg "$work/tag.eml" "maybe" "XTAGTOKENX something"
fe_mkmsg "$work/kill.eml" "offer" "XKILLTOKENX cheap offer"

read -r in_port fd_port re_port mi_port m_port < <(e2e_ports 5)
if ! pf_start "$in_port" "$fd_port" "$re_port" nofilter ||
    ! pf_milter "$mi_port" tempfail; then
	not_ok "private postfix starts with smtpd_milters"
	tap_done
	exit 1
fi
if ! fd_start "$fd_port" "$re_port" "$(fe_extra "$work" none "$mi_port")
metrics_listen = 127.0.0.1:$m_port
final_spam_destiny = reject" || ! fe_wait_port "$mi_port"; then
	not_ok "filterd starts with milter_socket = inet:$mi_port@127.0.0.1"
	tap_done
	exit 1
fi
ok "postfix (in $in_port, smtpd_milters inet:127.0.0.1:$mi_port) and filterd up"

hdrs_of() # file: the header section of the newest delivered message
{
	sed '/^\r\?$/q' "$1"
}

r=$(send "$in_port" "$work/ham.eml")
check "ham: 250 from Postfix ($r)" grep -q '^250' <<<"$r"
r=$(send "$in_port" "$work/tag.eml")
check "tag2 spam: 250 from Postfix ($r)" grep -q '^250' <<<"$r"
pf_wait_delivered 2 20
check "ham and tag2 spam delivered (2 in the maildir)" [ "$(pf_delivered)" -eq 2 ]
hamf=$(grep -l '^Subject: lunch' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
tagf=$(grep -l 'XTAGTOKENX' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "ham: X-Spam-Status: No added by the milter" \
    grep -q '^X-Spam-Status: No, score=' "${hamf:-/dev/null}"
check "ham: no X-Spam-Flag" bash -c "! grep -q '^X-Spam-Flag' '${hamf:-/dev/null}'"
for t in T_FD_HDR_TIGHT T_FD_HDR_TAB T_FD_HDR_SPACED; do
	check "ham: the milter rebuilt the header of $t byte for byte" \
	    bash -c "sed -n '/^X-Spam-Status/,/^[^ \t]/p' '${hamf:-/dev/null}' | grep -q $t"
done
check "tag2 spam: X-Spam-Flag: YES" grep -q '^X-Spam-Flag: YES' "${tagf:-/dev/null}"
check "tag2 spam: Subject tagged" \
    grep -q '^Subject: \*\*\*SPAM\*\*\* maybe' "${tagf:-/dev/null}"
check "tag2 spam: X-Spam-Status lists T_FD_TAGTOKEN" \
    bash -c "sed -n '/^X-Spam-Status/,/^[^ \t]/p' '${tagf:-/dev/null}' | grep -q T_FD_TAGTOKEN"
qid=$(grep -o 'postfix/smtpd\[[0-9]*\]: [0-9A-F]*: client=' "$PF_LOG" | tail -1 |
    sed 's/.*: \([0-9A-F]*\): client=/\1/')
check "filterd logged the Postfix queue id ($qid) and client from the macros" \
    grep -q "$qid: milter client=localhost\[127.0.0.1\] from=<sender@sender.test> rcpts=1 " "$FD_LOG"

queued0=$(pf_queued)
r=$(send "$in_port" "$work/kill.eml")
check "kill spam, destiny reject: 550 5.7.1 in the SMTP dialogue ($r)" \
    grep -q '^550 .*5.7.1 Message rejected as spam (score 2[0-9.]*)' <<<"$r"
sleep 1
check "kill spam: not queued, not delivered" \
    [ "$(pf_queued)" -eq "$queued0" -a "$(pf_delivered)" -eq 2 ]
# the milter counts its messages like the SMTP door (issue 12); Postfix
# has no content_filter here, so these are the milter's alone
metric() # action: filterd_messages_total{action=...} from metrics_listen
{
	curl -s "http://127.0.0.1:$m_port/metrics" |
	    awk -v k="filterd_messages_total{action=\"$1\"}" \
	    '$1 == k { print $2 }'
}
mc="$(metric pass)/$(metric pass-spam)/$(metric reject)"
check "metrics: milter messages by action pass/pass-spam/reject = 1/1/1 ($mc)" \
    [ "$mc" = 1/1/1 ]

# quarantine -> Postfix hold queue
fd_stop
sed -i 's/^final_spam_destiny = .*/final_spam_destiny = quarantine/' "$FD_CONF"
fd_restart && fe_wait_port "$mi_port"
r=$(send "$in_port" "$work/kill.eml")
check "kill spam, destiny quarantine: 250 ($r)" grep -q '^250' <<<"$r"
for i in $(seq 50); do
	[ "$(find "$PF_QUEUE/hold" -type f | wc -l)" -ge 1 ] && break
	sleep 0.2
done
check "kill spam: in Postfix's hold queue (smfi_quarantine)" \
    [ "$(find "$PF_QUEUE/hold" -type f | wc -l)" -eq 1 ]

# fault: filterd down -> milter_default_action = tempfail
fd_stop
r=$(send "$in_port" "$work/ham.eml")
check "filterd down: Postfix answers 4xx (milter_default_action=tempfail): $r" \
    grep -q '^451 4.7.1' <<<"$r"
sleep 1
check "filterd down: nothing queued or delivered" \
    [ "$(pf_delivered)" -eq 2 -a "$(find "$PF_QUEUE/hold" -type f | wc -l)" -eq 1 \
    -a "$(pf_queued)" -eq 1 ]
fd_restart && fe_wait_port "$mi_port"
r=$(send "$in_port" "$work/ham.eml")
check "filterd back: the client's retry is accepted ($r)" grep -q '^250' <<<"$r"
pf_wait_delivered 3 20
check "filterd back: delivered (3 in the maildir)" [ "$(pf_delivered)" -eq 3 ]

# a big message (30 MB: ~470 body chunks of 64 KB through the milter, a
# base64 attachment as real mail has) comes out whole and scanned
fe_mkmsg "$work/big.eml" "big attachment" "the report is attached"
python3 - "$work/big.eml" <<'PY'
import base64, os, sys
p = sys.argv[1]
head, body = open(p, "rb").read().split(b"\r\n\r\n", 1)
b = b"--BB\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n--BB\r\n"
b += b"Content-Type: application/octet-stream; name=r.bin\r\n"
b += b"Content-Transfer-Encoding: base64\r\n\r\n"
raw = base64.encodebytes(os.urandom(22 << 20)).replace(b"\n", b"\r\n")
b += raw + b"--BB--\r\n"
head += b'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="BB"'
open(p, "wb").write(head + b"\r\n\r\n" + b)
PY
t0=$(date +%s%N)
r=$(send "$in_port" "$work/big.eml")
ms=$((($(date +%s%N) - t0) / 1000000))
check "big: $(($(stat -c %s "$work/big.eml") >> 20)) MB through the milter: 250 in ${ms} ms ($r)" \
    grep -q '^250' <<<"$r"
pf_wait_delivered 4 60
bigf=$(grep -l '^Subject: big attachment' "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
check "big: delivered with X-Spam-Status" \
    grep -q '^X-Spam-Status: No, score=' "${bigf:-/dev/null}"
check "big: body byte for byte" \
    cmp -s <(sed '1,/^\r\?$/d' "$work/big.eml" | tr -d '\r') \
    <(sed '1,/^\r\?$/d' "${bigf:-/dev/null}" | tr -d '\r')
tap_done
