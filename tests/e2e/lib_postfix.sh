# tests/e2e/lib_postfix.sh - a private Postfix instance for e2e tests
#
# Sourced by tests/e2e/postfix_*.sh, tests/bench and tests/soak. Starts a
# Postfix master under a temporary directory (config, queue, data, maildir,
# maillog), listening only on 127.0.0.1:
#
#   inbound     127.0.0.1:$PF_IN_PORT     content_filter=smtp-filterd:
#                                         [127.0.0.1]:$PF_FILTER_PORT
#   reinjection 127.0.0.1:$PF_RE_PORT     the overrides of FILTER_README /
#                                         etc/postfix/master.cf (no filter,
#                                         XFORWARD allowed from 127.0.0.0/8)
#   smtp-filterd                          smtp client with XFORWARD
#
# Every recipient in the domain $PF_DOMAIN is delivered by virtual(8) to
# the one maildir $PF_MAILDIR. Retry timing is shrunk to seconds so a test
# can watch a deferred message get delivered.
#
#   pf_start IN FILTER REINJECT [nofilter]   start (nofilter: the inbound
#                                            smtpd has no content_filter)
#   pf_stop                                  stop and remove the temp dir
#   pf_flush                                 postqueue -f
#   pf_queued                                messages in the queue (number)
#   pf_delivered                             delivered files (number)
#   pf_wait_queue_empty SECONDS              0 when the queue drained
#   pf_reinject_down / pf_reinject_up        remove / restore the 10025
#                                            listener (postfix reload)
#
# postfix -c DIR only accepts a directory listed in the default main.cf's
# alternate_config_directories, so pf_start adds its directory there (under
# a lock, shared with other tests) and pf_stop removes it again.

PF_DOMAIN=${PF_DOMAIN:-example.test}
PF_DEFAULT_MAIN=/etc/postfix/main.cf
PF_LOCK=/etc/postfix/.filterd-e2e.lock

# pf__alt_dirs add|del DIR - edit the default main.cf's directory list
pf__alt_dirs()
{
	local op=$1 dir=$2
	(
		flock 9
		[ -f "$PF_DEFAULT_MAIN" ] || : >"$PF_DEFAULT_MAIN"
		local cur new d
		cur=$(postconf -c /etc/postfix -h alternate_config_directories \
		    2>/dev/null)
		new=""
		for d in ${cur//,/ }; do
			# drop our own entry and those of tests that died
			[ "$d" = "$dir" ] && continue
			case $d in
			/tmp/filterd-e2e-pf.*) [ -d "$d" ] || continue ;;
			esac
			new="$new${new:+ }$d"
		done
		[ "$op" = add ] && new="$new${new:+ }$dir"
		postconf -c /etc/postfix -e \
		    "alternate_config_directories = $new" \
		    "maillog_file_prefixes = /var, /tmp"
	) 9>"$PF_LOCK"
}

# pf_start IN FILTER REINJECT [nofilter] - start the private instance
pf_start()
{
	PF_IN_PORT=$1 PF_FILTER_PORT=$2 PF_RE_PORT=$3
	local nofilter=${4:-}
	local uid gid
	uid=$(id -u postfix) gid=$(id -g postfix)
	PF_DIR=$(mktemp -d /tmp/filterd-e2e-pf.XXXXXX) || return 1
	chmod 755 "$PF_DIR"
	PF_CONF=$PF_DIR/etc
	PF_QUEUE=$PF_DIR/queue
	PF_MAILDIR=$PF_DIR/mail/box
	PF_LOG=$PF_DIR/maillog
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DIR/data" "$PF_DIR/mail"
	chown postfix:postfix "$PF_DIR/data" "$PF_DIR/mail"
	: >"$PF_LOG"

	cat >"$PF_CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF_QUEUE
data_directory = $PF_DIR/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_LOG
maillog_file_prefixes = /var, /tmp
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = pf-e2e.test
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_relay_restrictions =
virtual_mailbox_domains = $PF_DOMAIN
virtual_mailbox_base = $PF_DIR/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
smtputf8_enable = no
biff = no
smtp_dns_support_level = disabled
message_size_limit = 104857600
virtual_mailbox_limit = 0
# retries within seconds: the fault tests watch deferred mail get through
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
smtp_connect_timeout = 5s
in_flow_delay = 0
default_process_limit = 100
EOF
	# the reinjection listener refuses refused-downstream@ for good and
	# defers deferred-downstream@ (pf_release_deferred lets it through)
	printf '%s\n' "refused-downstream@$PF_DOMAIN REJECT" \
	    "deferred-downstream@$PF_DOMAIN DEFER" >"$PF_DIR/reinject_access"
	# ... and defers a-a-eod-deferred@ after the final dot (end of data)
	printf '%s\n' "a-a-eod-deferred@$PF_DOMAIN DEFER" >"$PF_DIR/eod_access"
	local filter="-o content_filter=smtp-filterd:[127.0.0.1]:$PF_FILTER_PORT"
	[ "$nofilter" = nofilter ] && filter="-o content_filter="
	cat >"$PF_CONF/master.cf" <<EOF
127.0.0.1:$PF_IN_PORT inet n - n - - smtpd
  $filter
127.0.0.1:$PF_RE_PORT inet n - n - - smtpd
  -o syslog_name=postfix/reinject
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$PF_DIR/reinject_access,permit_mynetworks,reject
  -o smtpd_data_restrictions=
  -o smtpd_end_of_data_restrictions=check_recipient_access,texthash:$PF_DIR/eod_access
smtp-filterd unix - - n - 20 smtp
  -o syslog_name=postfix/smtp-filterd
  -o smtp_send_xforward_command=yes
  -o smtp_data_done_timeout=120s
  -o max_use=20
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	pf__alt_dirs add "$PF_CONF" || return 1
	postfix -c "$PF_CONF" set-permissions >/dev/null 2>&1
	if ! postfix -c "$PF_CONF" start >"$PF_DIR/start.log" 2>&1; then
		echo "# postfix start failed:" >&2
		sed 's/^/#   /' "$PF_DIR/start.log" "$PF_LOG" >&2
		return 1
	fi
	local i
	for i in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$PF_IN_PORT") 2>/dev/null &&
		    (exec 3<>/dev/tcp/127.0.0.1/"$PF_RE_PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "# postfix did not listen on $PF_IN_PORT/$PF_RE_PORT" >&2
	return 1
}

# pf_stop - stop the instance; keep the dir if E2E_KEEP is set
pf_stop()
{
	[ -n "${PF_DIR:-}" ] || return 0
	postfix -c "$PF_CONF" stop >/dev/null 2>&1
	# the master waits for its children; give it a moment
	local i
	for i in $(seq 50); do
		[ -f "$PF_QUEUE/pid/master.pid" ] || break
		kill -0 "$(cat "$PF_QUEUE/pid/master.pid" 2>/dev/null)" \
		    2>/dev/null || break
		sleep 0.1
	done
	if [ -n "${E2E_KEEP:-}" ]; then
		echo "# postfix dir kept: $PF_DIR" >&2
	else
		rm -rf "$PF_DIR"
	fi
	pf__alt_dirs del "$PF_CONF"
	PF_DIR=
}

# pf_flush - attempt delivery of every queued message now
pf_flush()
{
	postqueue -c "$PF_CONF" -f >/dev/null 2>&1
}

# pf_queued - number of messages anywhere in the queue
pf_queued()
{
	find "$PF_QUEUE/maildrop" "$PF_QUEUE/incoming" "$PF_QUEUE/active" \
	    "$PF_QUEUE/deferred" "$PF_QUEUE/hold" -type f 2>/dev/null | wc -l
}

# pf_deferred - number of messages in the deferred queue
pf_deferred()
{
	find "$PF_QUEUE/deferred" -type f 2>/dev/null | wc -l
}

# pf_delivered - number of messages in the maildir
pf_delivered()
{
	find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -type f 2>/dev/null | wc -l
}

# pf_wait_queue_empty SECONDS - flush until the queue is empty
pf_wait_queue_empty()
{
	local end=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(pf_queued)" -eq 0 ] && return 0
		pf_flush
		sleep 1
	done
	[ "$(pf_queued)" -eq 0 ]
}

# pf_wait_delivered N SECONDS - wait until N messages are in the maildir
pf_wait_delivered()
{
	local end=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(pf_delivered)" -ge "$1" ] && return 0
		sleep 0.2
	done
	[ "$(pf_delivered)" -ge "$1" ]
}

# pf_release_deferred - the reinjection listener stops deferring
# deferred-downstream@ and a-a-eod-deferred@ (postfix reload: texthash is
# read at start)
pf_release_deferred()
{
	sed -i '/^deferred-downstream@/d' "$PF_DIR/reinject_access"
	sed -i '/^a-a-eod-deferred@/d' "$PF_DIR/eod_access"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
}

# pf_reinject_down - remove the reinjection listener (postfix reload)
pf_reinject_down()
{
	sed -i "s/^127.0.0.1:$PF_RE_PORT inet/#&/; /^#127.0.0.1:$PF_RE_PORT/,/^[a-z]/{s/^  -o/#  -o/}" \
	    "$PF_CONF/master.cf"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
	local i
	for i in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/"$PF_RE_PORT") 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# pf_reinject_up - restore the reinjection listener
pf_reinject_up()
{
	sed -i "s/^#//" "$PF_CONF/master.cf"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
	local i
	for i in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/"$PF_RE_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
