# tests/e2e/lib_spamd.sh - sourced by the scripts that start SpamAssassin's
# spamd as a peer (e2e sa_parity, benches rules and spamc, corpus/sa_diff)
#
#   spamd_up LOG   wait until the spamd logging to LOG (-s stderr) says
#                  "server started": 0, or 1 after 120 s (loading the
#                  stock rules takes 5-30 s on a busy machine)
spamd_up()
{
	for _ in $(seq 1 240); do
		grep -q "server started" "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
