# tests/e2e/lib_milter.sh - shared bits of the spamd/milter front door
# tests (spamc.sh, exim_spam.sh, milter_postfix.sh, miltertest.sh,
# tests/bench/spamc.sh). Source after lib_filterd.sh (and lib_postfix.sh
# for pf_milter).
#
#   fe_local_cf FILE        test rules on top of the shipped set: the body
#                           token XKILLTOKENX scores 20 (kill_level),
#                           XTAGTOKENX 6 (tag2_level)
#   fe_extra DIR SPAMD MILTER   the fd_start extra lines: rules from this
#                           tree + DIR/local.cf, no DNSBL, spamd on
#                           127.0.0.1:SPAMD ("none" = off), milter on
#                           inet:MILTER@127.0.0.1 ("none" = off)
#   fe_private_bins DIR     copy build/filterd and build/filterctl to DIR
#                           (others may relink build/ during a test run)
#   fe_mkmsg FILE SUBJECT LINE   a small CRLF message with LINE in the body
#   pf_milter PORT [ACTION] smtpd_milters = inet:127.0.0.1:PORT on the
#                           private Postfix, milter_default_action = ACTION
#                           (default tempfail), then postfix reload

fe_local_cf()
{
	cat >"$1" <<'EOF2'
body     T_FD_KILLTOKEN  /\bXKILLTOKENX\b/
describe T_FD_KILLTOKEN  test rule: kill-level spam token
score    T_FD_KILLTOKEN  20.0
body     T_FD_TAGTOKEN   /\bXTAGTOKENX\b/
describe T_FD_TAGTOKEN   test rule: tag2-level spam token
score    T_FD_TAGTOKEN   6.0
EOF2
}

fe_extra()
{
	local dir=$1 sp=$2 mi=$3
	[ -f "$dir/local.cf" ] || fe_local_cf "$dir/local.cf"
	echo "rules_dir = $E2E_ROOT/rules/default"
	echo "rules_local = $dir/local.cf"
	echo "dnsbl_config = $E2E_ROOT/etc/dnsbl.cf"
	echo "use_dnsbl = no"
	if [ "$sp" = none ]; then
		echo "spamd_listen = none"
	else
		echo "spamd_listen = 127.0.0.1:$sp"
	fi
	if [ "$mi" = none ]; then
		echo "milter_socket = none"
	else
		echo "milter_socket = inet:$mi@127.0.0.1"
	fi
}

fe_private_bins()
{
	cp "$FILTERD_BIN" "$1/filterd" && FILTERD_BIN=$1/filterd
	cp "$E2E_ROOT/build/filterctl" "$1/filterctl"
}

fe_mkmsg()
{
	printf '%s\r\n' \
	    "Received: from mx.sender.test (mx.sender.test [192.0.2.10])" \
	    "	by mx.e2e.test with ESMTP id 4AbCdE; Fri, 27 Nov 2026 12:00:00 +0000" \
	    "From: Sender <sender@sender.test>" \
	    "To: rcpt@e2e.test" \
	    "Subject: $2" \
	    "Message-Id: <$RANDOM.$RANDOM@sender.test>" \
	    "Date: Fri, 27 Nov 2026 12:00:00 +0000" \
	    "" \
	    "Hello," \
	    "$3" \
	    "regards" >"$1"
}

# fe_wait_port PORT - until something listens on 127.0.0.1:PORT (10 s)
fe_wait_port()
{
	local i
	for i in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

pf_milter()
{
	postconf -c "$PF_CONF" -e \
	    "smtpd_milters = inet:127.0.0.1:$1" \
	    "milter_default_action = ${2:-tempfail}" \
	    "milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr} {client_name}" \
	    "milter_content_timeout = 300s" >/dev/null &&
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
}
