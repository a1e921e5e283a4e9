#!/usr/bin/env bash
# tests/e2e/bayes_autoexpire.sh - SpamAssassin's opportunistic expiry
# (bayes_auto_expire) in the running daemon: a message autolearned over
# the SMTP door, with the store over bayes_expiry_max_db_size and its last
# expiry older than 12 hours, makes a worker expire on a thread of its
# own (the message is delivered, the log says what went), once a round;
# bayes_auto_expire = no leaves the store alone. (filterctl learn's own
# expiry is in bayes_learn.sh.)
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib_filterd.sh
. tests/e2e/lib_bayes.sh
e2e_require swaks
e2e_workdir bayes_autoexpire
ctl=$(bayes_ctl "$work")

read -r in_port sink_port <<<"$(e2e_ports 2)"
e2e_msg_sink "$sink_port" "$work/out" || { not_ok "message sink"; tap_done; exit 1; }
trap 'kill $MSINK_PID 2>/dev/null; e2e_workdir_cleanup' EXIT

# 3000 tokens, each with its own old atime, and an expiry never run
awk 'BEGIN { print "filterd-bayes-backup 1"; print "v\tnspam\t300";
	print "v\tnham\t300"; print "v\tlast_expire\t0";
	for (i = 1; i <= 3000; i++)
		printf "t\t%016x\t1\t0\t%d\n", i * 7919, 1000000 + i }' >"$work/many.txt"

msg() { # N -> a plain message that scores low enough to autolearn as ham
	printf 'From: Alice <alice@team.example>\nTo: bob@team.example\n'
	printf 'Subject: build report %s\nDate: %s\n' "$1" "$(date -R)"
	printf 'Message-ID: <expire%s.%s@team.example>\n\n' "$1" "$RANDOM"
	printf 'kernel patch %s review merged, thanks for the release notes\n' "$1"
	printf 'words of its own: alpha%s bravo%s charlie%s\n' "$1" "$1" "$1"
}
send() { # N -> 0 when filterd answered 250
	msg "$1" >"$work/m$1.eml"
	swaks -s 127.0.0.1 -p "$in_port" -f alice@team.example \
	    -t bob@team.example --data @"$work/m$1.eml" >"$work/swaks$1.log" 2>&1 &&
	    grep -q '^<-  250 ' "$work/swaks$1.log"
}
stat_of() { "$ctl" bayes -c "$FD_CONF" stats 2>/dev/null | awk -v k="$1" '$1==k{print $2}'; }
# wait_log RE - up to 20 s for a line of filterd's log
wait_log() {
	local i
	for i in $(seq 200); do
		grep -Eq "$1" "$FD_LOG" && return 0
		sleep 0.1
	done
	return 1
}

fd_start "$in_port" "$sink_port" "bayes_expiry_max_db_size = 1000
bayes_auto_learn_threshold_nonspam = 3.0" ||
    { not_ok "filterd starts"; tap_done; exit 1; }
"$ctl" bayes -c "$FD_CONF" restore "$work/many.txt"
check "store restored with 3000 tokens" [ "$(stat_of ntokens)" = 3000 ]

send 1
check "message 1 accepted (250) and delivered autolearned as ham" \
    sh -c "sleep 0.5; grep -l 'autolearn=ham' '$work'/out/* >/dev/null 2>&1"
check "a worker logged the expiry" \
    wait_log 'bayes: expired 2[2-3][0-9][0-9] tokens \(the store was over bayes_expiry_max_db_size 1000\) in [0-9.]+ s'
left=$(stat_of ntokens)
last=$(stat_of last_expire)
check "the newest 750 tokens are left ($left), last_expire set ($last)" \
    sh -c "[ '$left' = 750 ] && [ '$last' -gt 1000000000 ]"
diag "$(grep 'bayes: expired' "$FD_LOG")"

send 2
sleep 1
grown=$(stat_of ntokens)
check "message 2 autolearned: no second expiry within 12 hours ($grown tokens)" \
    sh -c "[ \$(grep -c 'bayes: expired' '$FD_LOG') = 1 ] && [ '$grown' -gt 750 ] && [ \$(grep -l 'autolearn=ham' '$work'/out/* | wc -l) = 2 ]"

# bayes_auto_expire = no: the same store state, no expiry
fd_stop
"$ctl" bayes -c "$FD_CONF" restore "$work/many.txt"
echo "bayes_auto_expire = no" >>"$FD_CONF"
fd_restart || { not_ok "filterd restarts"; tap_done; exit 1; }
send 3
sleep 2
n=$(stat_of ntokens)
check "bayes_auto_expire = no: autolearned, nothing expired ($n tokens)" \
    sh -c "[ '$n' -gt 3000 ] && [ \$(grep -c 'bayes: expired' '$FD_LOG') = 1 ]"
tap_done
