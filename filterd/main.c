/*
 * filterd/main.c - the daemon: master process and its workers
 *
 * The master loads the config (refusing to start on any error, with
 * file:line), initialises the checks, opens the listening socket and forks
 * `workers` children. Each worker runs one libevent loop with the SMTP/LMTP
 * front door (filterd/smtp.c). The master restarts a worker that died
 * (at most one restart per second per slot), reloads on SIGHUP (a new
 * generation of workers with the new config; the old ones stop accepting,
 * finish their connections and exit) and drains on SIGTERM/SIGINT.
 * When the rules load found no Hyperscan cache that would help (filterctl
 * compile, .notes/rules.md), the master forks one low-priority builder
 * that writes it and, once it has, reloads itself like on SIGHUP, once
 * per cache file name.
 * Messages left in spool_dir by a crash were never acknowledged upstream
 * (or were, and were delivered): a dead worker's go when it is reaped
 * (its pid is in their ids), any others at start; the upstream MTA
 * retries the former.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/check_rules.h"
#include "filterd/metrics.h"
#include "filterd/metrics_http.h"
#include "filterd/milter.h"
#include "filterd/policy.h"
#include "filterd/scan.h"
#include "filterd/sdnotify.h"
#include "filterd/smtp.h"
#include "filterd/spamd.h"
#include "filterd/spool.h"
#include "rules/rules.h"
#include "util/fs.h"
#include "util/log.h"

#define MAX_WORKERS 256
#define MAX_PLISTEN 16

struct worker_slot {
	pid_t pid;
	unsigned gen;
	time_t started;
	char *spool_dir; /* its generation's, cleaned when it ends */
};

static struct {
	struct cfg *cfg;
	struct checks *checks;
	int lfd;
	char *listen_addr;
	unsigned gen;
	struct worker_slot w[MAX_WORKERS * 2];
	size_t nworkers; /* wanted in the current generation */
	bool stopping, foreground;
	pid_t master_pid;
	struct event_base *base;
	struct event *respawn_timer;
	char pidfile[4096];
	const char *cfgpath;
	char **overrides;
	int noverrides;
	/* front doors (.notes/frontdoors.md): spamd listener shared by the
	 * workers, one milter process */
	int sfd;
	pid_t milter_pid;
	time_t milter_started;
	/* production (.notes/production.md): metrics endpoint */
	int mfd;
	struct metrics_http *mhttp;
	/* policy_listen: more SMTP listeners (bank port:N) */
	int pfd[MAX_PLISTEN];
	size_t npfd;
	/* the background Hyperscan cache builder and the file it was
	 * started for (never twice for one file) */
	pid_t hs_builder;
	char hs_tried[512];
} M = { .lfd = -1, .sfd = -1, .mfd = -1 };

static void
usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    filterd - spam-scoring mail content filter (SMTP/LMTP proxy)\n"
"\n"
"SYNOPSIS\n"
"    filterd [-f] [-c FILE] [-k key=value]...\n"
"    filterd -t [-c FILE]    check the configuration and exit\n"
"    filterd -n [-c FILE]    print the keys that differ from their defaults\n"
"    filterd -h              this help, with every configuration key\n"
"\n"
"DESCRIPTION\n"
"    filterd accepts mail from an MTA over SMTP or LMTP on `listen`\n"
"    (Postfix content_filter), spools it to disk, scores it with\n"
"    the checks, adds X-Spam-* headers (amavis semantics: tag_level,\n"
"    tag2_level, kill_level and final_spam_destiny) and hands it back over\n"
"    SMTP to `reinject`. The client gets 250 only after the reinjection\n"
"    returned 250; any failure gives 451 4.x.x, so the MTA keeps the mail.\n"
"\n"
"OPTIONS\n"
"    -c FILE   configuration file (default /etc/filterd/filterd.conf)\n"
"    -f        stay in the foreground and log to stderr\n"
"    -k K=V    override one key after reading the file (repeatable)\n"
"    -t        test the configuration: exit 0, or 1 with FILE:LINE: why\n"
"    -n        print non-default settings as key = value\n"
"    -h        help\n"
"\n"
"SIGNALS\n"
"    SIGHUP    reload the configuration; on an error the old one stays\n"
"    SIGTERM   stop accepting, finish messages in flight, exit\n"
"\n"
"CONFIGURATION KEYS (key = value, # comments)\n");
	for (size_t i = 0; i < cfg_nkeys; i++)
		fprintf(f, "    %-22s %-18s %s\n", cfg_keys[i].name,
		    *cfg_keys[i].def ? cfg_keys[i].def : "\"\"",
		    cfg_keys[i].doc);
	fprintf(f,
"\n"
"    Sizes take k/M/G suffixes, times ms/s/m/h/d (a bare number is seconds).\n"
"\n"
"FILES\n"
"    spool_dir/QID             messages in flight\n"
"    state_dir/filterd.pid     the master's pid\n"
"    quarantine_dir/new/       quarantined messages (maildir)\n");
}

static struct cfg *
load_cfg(const char *path, char *err, size_t errsz)
{
	struct cfg *c = NULL;

	if (cfg_load(path, &c, err, errsz) < 0)
		return NULL;
	for (int i = 0; i < M.noverrides; i++) {
		char *kv = M.overrides[i], *eq = strchr(kv, '='), why[400];

		if (eq == NULL) {
			snprintf(err, errsz, "-k %s: expected key=value", kv);
			return cfg_free(c);
		}
		*eq = '\0';
		if (cfg_set(c, kv, eq + 1, why, sizeof(why)) < 0) {
			snprintf(err, errsz, "-k %s: %s", kv, why);
			*eq = '=';
			return cfg_free(c);
		}
		*eq = '=';
	}
	return c;
}

static int
open_listener(const char *addr)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &sslen) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) < 0 ||
	    listen(fd, 1024) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	evutil_make_socket_nonblocking(fd);
	return fd;
}

/* Worker ---------------------------------------------------------------- */

static struct event_base *wbase;
static struct smtp_server *wsrv;
static struct smtp_server *wpsrv[MAX_PLISTEN]; /* policy_listen */
static struct spamd_server *wspamd;
static int widle_wait; /* servers still draining */

static void
worker_idle(void *arg)
{
	(void)arg;
	if (--widle_wait <= 0)
		event_base_loopexit(wbase, NULL);
}

static void
worker_force_exit(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev, (void)arg;
	log_warn("drain timeout: %zu connections cut",
	    smtp_server_conns(wsrv));
	event_base_loopexit(wbase, NULL);
}

static void
worker_sigterm(evutil_socket_t fd, short ev, void *arg)
{
	static bool once;
	uint64_t ms = cfg_time_ms(M.cfg, "drain_timeout");
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)(ms % 1000) * 1000 };

	(void)fd, (void)ev, (void)arg;
	if (once)
		return;
	once = true;
	event_base_once(wbase, -1, EV_TIMEOUT, worker_force_exit, NULL, &tv);
	widle_wait = (wspamd ? 2 : 1) + (int)M.npfd;
	for (size_t i = 0; i < M.npfd; i++) {
		smtp_server_drain(wpsrv[i], worker_idle, NULL);
		close(M.pfd[i]);
	}
	if (wspamd)
		spamd_server_drain(wspamd, worker_idle, NULL);
	smtp_server_drain(wsrv, worker_idle, NULL);
	/* The listeners are gone; give up our copies of the sockets so a
	 * new master can bind the port while we finish (after kill -9 of
	 * the old master). */
	if (M.lfd >= 0)
		close(M.lfd);
	if (M.sfd >= 0)
		close(M.sfd);
	M.lfd = M.sfd = -1;
}

static _Noreturn void
worker_main(void)
{
	struct event *sterm, *sint;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
#ifdef __linux__
	/* A worker outliving its master would keep the port: drain and go
	 * when the master dies (kill -9 included). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != M.master_pid)
		_exit(0); /* it died before prctl: nothing in flight yet */
#endif
	/* The master's loop is not ours: a fresh base after fork. */
	if ((wbase = event_base_new()) == NULL)
		log_fatal("worker: event_base_new failed");
	wsrv = smtp_server_new(wbase, M.lfd, M.cfg, M.checks);
	if (wsrv == NULL)
		log_fatal("worker: cannot listen");
	for (size_t i = 0; i < M.npfd; i++)
		if ((wpsrv[i] = smtp_server_new(wbase, M.pfd[i], M.cfg,
		    M.checks)) == NULL)
			log_fatal("worker: cannot listen (policy_listen)");
	if (M.sfd >= 0 && (wspamd = spamd_server_new(wbase, M.sfd, M.cfg,
	    M.checks)) == NULL)
		log_fatal("worker: cannot listen (spamd)");
	sterm = evsignal_new(wbase, SIGTERM, worker_sigterm, NULL);
	sint = evsignal_new(wbase, SIGINT, worker_sigterm, NULL);
	evsignal_add(sterm, NULL);
	evsignal_add(sint, NULL);
	event_base_dispatch(wbase);
	wsrv = smtp_server_free(wsrv);
	for (size_t i = 0; i < M.npfd; i++)
		wpsrv[i] = smtp_server_free(wpsrv[i]);
	wspamd = spamd_server_free(wspamd);
	event_free(sterm);
	event_free(sint);
	event_base_free(wbase);
	_exit(0);
}

/* Master ---------------------------------------------------------------- */

static size_t
want_workers(const struct cfg *c)
{
	long long n = cfg_int(c, "workers");

	if (n <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 0 ? cpus : 1;
	}
	return n > MAX_WORKERS ? MAX_WORKERS : (size_t)n;
}

static void
spawn(struct worker_slot *s)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* Give up the master's loop without touching its epoll fd
		 * (shared after fork): reinit makes a private one first. */
		event_reinit(M.base);
		event_base_free(M.base);
		M.base = NULL;
		signal(SIGCHLD, SIG_DFL);
		worker_main();
	}
	s->pid = pid;
	s->gen = M.gen;
	s->started = time(NULL);
	free(s->spool_dir);
	s->spool_dir = strdup(cfg_str(M.cfg, "spool_dir"));
}

/* clean_spool - remove what an ended process left in dir (pid 0: every
 * file, at start), with one log line */
static void
clean_spool(const char *dir, pid_t pid)
{
	int n = spool_clean(dir, pid);

	if (n > 0 && pid > 0)
		log_warn("worker %ld: removed %d spool file%s of messages it "
			 "had in flight (not acknowledged upstream, which "
			 "retries them, or already delivered)",
		    (long)pid, n, n == 1 ? "" : "s");
	else if (n > 0)
		log_warn("removed %d stale spool files from %s (never "
			 "acknowledged upstream, or already delivered)",
		    n, dir);
}

/* reaped - a worker has ended: what it had in flight is not its any
 * more (a crash, kill -9, a drain cut short): its spool files go now
 * instead of at the next start */
static void
reaped(struct worker_slot *s, pid_t pid)
{
	metrics_forget(pid);
	if (s->spool_dir == NULL)
		return;
	clean_spool(s->spool_dir, pid);
	free(s->spool_dir);
	s->spool_dir = NULL;
}

static size_t
live_workers(void)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(M.w) / sizeof(M.w[0]); i++)
		if (M.w[i].pid > 0)
			n++;
	return n + (M.milter_pid > 0);
}

/* fill - start workers until the current generation has nworkers;
 * slots that died less than a second ago wait for the timer. */
static void
fill(void)
{
	size_t have = 0;
	time_t now = time(NULL);
	bool later = false;

	if (M.stopping)
		return;
	if (M.milter_pid == 0 && milter_enabled(M.cfg)) {
		if (now - M.milter_started < 1) {
			later = true;
		} else {
			M.milter_started = now;
			M.milter_pid = milter_spawn(M.cfg, M.checks, M.base);
			if (M.milter_pid < 0)
				M.milter_pid = 0, later = true;
		}
	}
	for (size_t i = 0; i < sizeof(M.w) / sizeof(M.w[0]); i++)
		if (M.w[i].pid > 0 && M.w[i].gen == M.gen)
			have++;
	for (size_t i = 0; i < sizeof(M.w) / sizeof(M.w[0]) &&
	    have < M.nworkers; i++) {
		if (M.w[i].pid > 0)
			continue;
		if (M.w[i].pid < 0 && now - M.w[i].started < 1) {
			later = true; /* crashed just now: back off */
			continue;
		}
		spawn(&M.w[i]);
		have++;
	}
	if (later || have < M.nworkers) {
		struct timeval tv = { 1, 0 };

		evtimer_add(M.respawn_timer, &tv);
	}
}

static void
on_respawn(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev, (void)arg;
	fill();
}

/* maybe_build_hs_cache - after a rules load without a helpful cache:
 * one nice'd child compiles and writes it (rules_cache_build); on_sigchld
 * reloads when it succeeded. The child shares nothing with the loop. */
static void
maybe_build_hs_cache(void)
{
	char file[512], why[600];
	pid_t pid;

	if (M.stopping || M.hs_builder > 0 ||
	    !rules_cache_wanted(file, sizeof(file)) ||
	    strcmp(file, M.hs_tried) == 0)
		return;
	snprintf(M.hs_tried, sizeof(M.hs_tried), "%s", file);
	if ((pid = fork()) < 0) {
		log_warn("rules: cannot fork the Hyperscan cache builder: %s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		struct rule_hs_info hi;
		int rc;

		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* no listener stays open in a process that never accepts */
		if (M.lfd >= 0)
			close(M.lfd);
		if (M.sfd >= 0)
			close(M.sfd);
		if (M.mfd >= 0)
			close(M.mfd);
		for (size_t i = 0; i < M.npfd; i++)
			close(M.pfd[i]);
		if (setpriority(PRIO_PROCESS, 0, 10) < 0)
			(void)0; /* unprivileged and already niced: fine */
		rc = rules_cache_build(M.cfg, &hi, why, sizeof(why));
		if (rc < 0)
			log_warn("rules: Hyperscan cache not written: %s", why);
		else
			log_info("rules: Hyperscan cache for %zu rules written "
				 "to %s (%.1f s CPU)",
			    hi.patterns, hi.cache_file, hi.compile_ms / 1e3);
		_exit(rc < 0 ? 1 : 0);
	}
	M.hs_builder = pid;
	log_info("rules: building the Hyperscan cache in the background "
		 "(pid %ld); filterd reloads when it is done",
	    (long)pid);
}

static void on_sighup(evutil_socket_t fd, short ev, void *arg);

static void
on_sigchld(evutil_socket_t fd, short ev, void *arg)
{
	pid_t pid;
	int st;

	(void)fd, (void)ev, (void)arg;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == M.hs_builder) {
			M.hs_builder = 0;
			if (!M.stopping && WIFEXITED(st) &&
			    WEXITSTATUS(st) == 0) {
				log_info("rules: Hyperscan cache ready; "
					 "reloading");
				on_sighup(-1, 0, NULL);
			}
			continue;
		}
		if (pid == M.milter_pid) {
			if (!M.stopping && !(WIFEXITED(st) &&
			    WEXITSTATUS(st) == 0))
				log_error("milter process %ld died (status "
				    "%d); restarting", (long)pid, st);
			M.milter_pid = 0;
			continue;
		}
		for (size_t i = 0; i < sizeof(M.w) / sizeof(M.w[0]); i++) {
			struct worker_slot *s = &M.w[i];

			if (s->pid != pid)
				continue;
			reaped(s, pid);
			if (s->gen == M.gen && !M.stopping) {
				if (WIFSIGNALED(st))
					log_error("worker %ld killed by "
					    "signal %d; restarting", (long)pid,
					    WTERMSIG(st));
				else
					log_error("worker %ld exited with %d; "
					    "restarting", (long)pid,
					    WEXITSTATUS(st));
				s->pid = -1; /* "died" for the back-off */
				metrics_worker_restart();
			} else {
				s->pid = 0;
			}
		}
	}
	if (M.stopping && live_workers() == 0) {
		event_base_loopexit(M.base, NULL);
		return;
	}
	fill();
}

static void
signal_gen(int sig, bool old_only)
{
	for (size_t i = 0; i < sizeof(M.w) / sizeof(M.w[0]); i++)
		if (M.w[i].pid > 0 && (!old_only || M.w[i].gen != M.gen))
			kill(M.w[i].pid, sig);
}

static void
on_stop_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev, (void)arg;
	log_error("stop: %zu processes still running after drain_timeout; "
	    "killing them", live_workers());
	signal_gen(SIGKILL, false);
	if (M.milter_pid > 0)
		kill(M.milter_pid, SIGKILL);
}

static void
on_sigterm(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev, (void)arg;
	if (M.stopping)
		return;
	log_info("stopping: draining %zu workers", live_workers());
	sdnotify("STOPPING=1");
	M.stopping = true;
	signal_gen(SIGTERM, false);
	if (M.hs_builder > 0)
		kill(M.hs_builder, SIGTERM);
	if (M.milter_pid > 0)
		kill(M.milter_pid, SIGTERM);
	if (live_workers() == 0) {
		event_base_loopexit(M.base, NULL);
		return;
	}
	/* Workers give up after drain_timeout themselves; one that hangs
	 * anyway is killed a little later so the stop always ends. */
	uint64_t ms = cfg_time_ms(M.cfg, "drain_timeout") + 5000;
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)(ms % 1000) * 1000 };

	event_base_once(M.base, -1, EV_TIMEOUT, on_stop_timeout, NULL, &tv);
}

static void
on_sighup(evutil_socket_t fd, short ev, void *arg)
{
	char err[1024];
	struct cfg *c;
	struct checks *ck;
	struct policy *pol = NULL;
	int lfd = M.lfd;

	(void)fd, (void)ev, (void)arg;
	if (M.stopping)
		return;
	if ((c = load_cfg(M.cfgpath, err, sizeof(err))) == NULL) {
		log_error("reload refused, old config stays: %s", err);
		return;
	}
	if (geteuid() == 0 && !*cfg_str(c, "user") &&
	    !cfg_bool(c, "run_as_root")) {
		log_error("reload refused, old config stays: %s: running as "
		    "root without user: set user = filterd, or run_as_root = "
		    "yes", M.cfgpath);
		cfg_free(c);
		return;
	}
	if ((ck = checks_init(c, err, sizeof(err))) == NULL) {
		log_error("reload refused, old config stays: %s", err);
		cfg_free(c);
		return;
	}
	if (policy_load(c, ck, &pol, err, sizeof(err)) < 0) {
		log_error("reload refused, old config stays: %s", err);
		checks_free(ck);
		cfg_free(c);
		return;
	}
	if (strcmp(cfg_text(c, "listen"), M.listen_addr) != 0 &&
	    (lfd = open_listener(cfg_text(c, "listen"))) < 0) {
		log_error("reload refused: cannot listen on %s: %s",
		    cfg_text(c, "listen"), strerror(-lfd));
		policy_free(pol);
		checks_free(ck);
		cfg_free(c);
		return;
	}
	fs_mkdirs(cfg_str(c, "spool_dir"), 0750);
	if (strcmp(cfg_str(c, "policy_listen"), cfg_str(M.cfg,
	    "policy_listen")) != 0)
		log_warn("policy_listen changed: takes effect at restart");
	/* Old workers keep their copies (fork); ours can go. */
	policy_current = policy_free(policy_current);
	policy_current = pol;
	checks_free(M.checks);
	cfg_free(M.cfg);
	M.cfg = c;
	M.checks = ck;
	if (lfd != M.lfd) {
		close(M.lfd);
		M.lfd = lfd;
		free(M.listen_addr);
		M.listen_addr = strdup(cfg_text(c, "listen"));
	}
	M.gen++;
	M.nworkers = want_workers(c);
	/* the milter process restarts with the new config when it exits */
	if (M.milter_pid > 0)
		kill(M.milter_pid, SIGTERM);
	fill();
	signal_gen(SIGTERM, true);
	log_info("reloaded %s: generation %u, %zu workers", M.cfgpath,
	    M.gen, M.nworkers);
	sdnotify("STATUS=reloaded");
	maybe_build_hs_cache();
}

/* raise_nofile - every connection costs a socket, a spool file and a
 * downstream socket: take the hard limit of descriptors */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit NOFILE: %s", strerror(errno));
	}
}

static void
write_pidfile(void)
{
	FILE *f;

	if (snprintf(M.pidfile, sizeof(M.pidfile), "%s/filterd.pid",
	    cfg_str(M.cfg, "state_dir")) >= (int)sizeof(M.pidfile))
		return;
	if ((f = fopen(M.pidfile, "w")) == NULL) {
		log_warn("cannot write %s: %s", M.pidfile, strerror(errno));
		M.pidfile[0] = '\0';
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* Privileges (.notes/production.md) ------------------------------------ */

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	if (lchown(path, chown_uid, chown_gid) < 0)
		log_warn("chown %s: %s", path, strerror(errno));
	return 0;
}

/* drop_privileges - after every socket is bound: the state the daemon
 * writes (spool, state incl. Bayes, quarantine) is handed to the user,
 * then the groups, gid and uid are set; a failure stops the start. */
static int
drop_privileges(const char *user, char *err, size_t errsz)
{
	struct passwd *pw = getpwnam(user);
	const char *dirs[] = { cfg_str(M.cfg, "spool_dir"),
		cfg_str(M.cfg, "state_dir"), cfg_str(M.cfg, "quarantine_dir") };

	if (pw == NULL) {
		snprintf(err, errsz, "user = %s: no such user", user);
		return -ENOENT;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0; /* already that user (started by it) */
		snprintf(err, errsz, "user = %s: cannot switch users when not "
		    "started as root", user);
		return -EPERM;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		fs_mkdirs(dirs[i], 0750);
		nftw(dirs[i], chown_one, 16, FTW_PHYS | FTW_MOUNT);
	}
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errsz, "user = %s: %s", user, strerror(errno));
		return -EPERM;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(err, errsz, "user = %s: root could be regained", user);
		return -EPERM;
	}
	return 0;
}

/* warn_below - log that level lo is below level hi, and what that does */
static void
warn_below(const char *path, const char *lo, const char *hi, const char *what)
{
	double l = cfg_double(M.cfg, lo), h = cfg_double(M.cfg, hi);

	if (l < h)
		log_warn("%s: %s %.1f is below %s %.1f: %s", path, lo, l, hi, h,
		    what);
}

int
main(int argc, char **argv)
{
	const char *path = "/etc/filterd/filterd.conf";
	bool test = false, nondef = false;
	char err[1024];
	int opt, rc;
	struct event *ev[4];

	M.overrides = calloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
	while ((opt = getopt(argc, argv, "c:fhk:nt")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			M.foreground = true;
			break;
		case 'k':
			M.overrides[M.noverrides++] = optarg;
			break;
		case 'n':
			nondef = true;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	M.cfgpath = path;
	if ((M.cfg = load_cfg(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filterd: %s\n", err);
		return 1;
	}
	if (nondef) {
		cfg_print(M.cfg, stdout, true);
		return 0;
	}
	/* -t answers on the terminal: a check's own reason for failing
	 * (a rule file's FILE:LINE) must not go to syslog only */
	log_init("filterd", M.foreground || test ||
		!strcmp(cfg_str(M.cfg, "log"), "stderr") ? LOG_TO_STDERR
							  : LOG_TO_SYSLOG,
	    cfg_bool(M.cfg, "log_debug"));
	/* amavis allows any order; an inverted one is mostly a typo */
	warn_below(path, "kill_level", "tag2_level", "mail scoring between "
	    "them gets final_spam_destiny without being marked as spam");
	warn_below(path, "tag2_level", "tag_level", "spam scoring between "
	    "them gets the subject tag but no X-Spam-* header");
	if ((M.checks = checks_init(M.cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filterd: %s: %s\n", path, err);
		return 1;
	}
	/* policy banks / recipient map (filterd/policy.c) */
	if (policy_load(M.cfg, M.checks, &policy_current, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "filterd: %s: %s\n", path, err);
		return 1;
	}
	if (milter_check(M.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "filterd: %s: %s\n", path, err);
		return 1;
	}
	if (*cfg_str(M.cfg, "user") && getpwnam(cfg_str(M.cfg, "user")) ==
	    NULL) {
		fprintf(stderr, "filterd: %s: user = %s: no such user\n", path,
		    cfg_str(M.cfg, "user"));
		return 1;
	}
	/* issue 12: a root start must be a decision, not a default left
	 * alone; -t reports it too, so the unit's ExecStartPre catches it */
	if (geteuid() == 0 && !*cfg_str(M.cfg, "user") &&
	    !cfg_bool(M.cfg, "run_as_root")) {
		fprintf(stderr, "filterd: %s: refusing to run as root without "
		    "user: set user = filterd, or run_as_root = yes for a test "
		    "or container setup\n", path);
		return 1;
	}
	if (test) {
		printf("filterd: %s: configuration ok\n", path);
		return 0;
	}
	if ((rc = fs_mkdirs(cfg_str(M.cfg, "spool_dir"), 0750)) < 0 ||
	    (rc = fs_mkdirs(cfg_str(M.cfg, "state_dir"), 0750)) < 0) {
		fprintf(stderr, "filterd: cannot create spool/state dir: %s\n",
		    strerror(-rc));
		return 1;
	}
	clean_spool(cfg_str(M.cfg, "spool_dir"), 0);
	if ((M.lfd = open_listener(cfg_text(M.cfg, "listen"))) < 0) {
		fprintf(stderr, "filterd: cannot listen on %s: %s\n",
		    cfg_text(M.cfg, "listen"), strerror(-M.lfd));
		return 1;
	}
	M.listen_addr = strdup(cfg_text(M.cfg, "listen"));
	{
		/* policy_listen: one more SMTP listener per address */
		char pl[4096], *save, *a;

		snprintf(pl, sizeof(pl), "%s", cfg_str(M.cfg,
		    "policy_listen"));
		for (a = strtok_r(pl, ", \t", &save); a;
		    a = strtok_r(NULL, ", \t", &save)) {
			if (M.npfd == MAX_PLISTEN ||
			    (M.pfd[M.npfd] = open_listener(a)) < 0) {
				fprintf(stderr, "filterd: cannot listen on %s "
				    "(policy_listen): %s\n", a,
				    M.npfd == MAX_PLISTEN ? "too many"
				    : strerror(-M.pfd[M.npfd]));
				return 1;
			}
			M.npfd++;
		}
	}
	if (strcmp(cfg_str(M.cfg, "spamd_listen"), "none") != 0 &&
	    (M.sfd = open_listener(cfg_str(M.cfg, "spamd_listen"))) < 0) {
		/* The default port may belong to a real spamd (or another
		 * filterd): only an explicit spamd_listen is fatal. */
		if (!cfg_is_default(M.cfg, "spamd_listen")) {
			fprintf(stderr, "filterd: cannot listen on %s "
			    "(spamd_listen): %s\n",
			    cfg_str(M.cfg, "spamd_listen"), strerror(-M.sfd));
			return 1;
		}
		log_warn("spamd front door off: cannot listen on %s: %s",
		    cfg_str(M.cfg, "spamd_listen"), strerror(-M.sfd));
		M.sfd = -1;
	}
	{
		/* metrics (.notes/production.md): counters mapped before
		 * the first fork, the endpoint bound before the drop */
		char mp[4096];
		const char *ml = cfg_str(M.cfg, "metrics_listen");

		snprintf(mp, sizeof(mp), "%s/metrics.shm",
		    cfg_str(M.cfg, "state_dir"));
		if ((rc = metrics_init(mp)) < 0)
			log_warn("metrics off: %s: %s", mp, strerror(-rc));
		if (strcmp(ml, "none") != 0 && *ml &&
		    (M.mfd = open_listener(ml)) < 0) {
			fprintf(stderr, "filterd: cannot listen on %s "
			    "(metrics_listen): %s\n", ml, strerror(-M.mfd));
			return 1;
		}
		if (*cfg_str(M.cfg, "user") &&
		    drop_privileges(cfg_str(M.cfg, "user"), err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "filterd: %s\n", err);
			return 1;
		}
		if (geteuid() == 0 && !*cfg_str(M.cfg, "user"))
			log_info("running as root (run_as_root = yes)");
	}
	if (!M.foreground && daemon(1, 0) < 0) {
		fprintf(stderr, "filterd: daemon: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((M.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	ev[0] = evsignal_new(M.base, SIGCHLD, on_sigchld, NULL);
	ev[1] = evsignal_new(M.base, SIGTERM, on_sigterm, NULL);
	ev[2] = evsignal_new(M.base, SIGINT, on_sigterm, NULL);
	ev[3] = evsignal_new(M.base, SIGHUP, on_sighup, NULL);
	for (int i = 0; i < 4; i++)
		evsignal_add(ev[i], NULL);
	M.respawn_timer = evtimer_new(M.base, on_respawn, NULL);
	if (M.mfd >= 0 && (M.mhttp = metrics_http_new(M.base, M.mfd,
	    (const struct cfg *const *)&M.cfg)) == NULL)
		log_fatal("metrics_listen: cannot serve");
	write_pidfile();
	M.nworkers = want_workers(M.cfg);
	M.master_pid = getpid();
	fill();
	maybe_build_hs_cache();
	log_info("ready pid=%ld listen=%s protocol=%s reinject=%s workers=%zu "
	    "spamd=%s milter=%s",
	    (long)getpid(), M.listen_addr, cfg_str(M.cfg, "protocol"),
	    cfg_text(M.cfg, "reinject"), M.nworkers,
	    M.sfd >= 0 ? cfg_str(M.cfg, "spamd_listen") : "none",
	    cfg_str(M.cfg, "milter_socket"));
	sdnotify("READY=1\nSTATUS=accepting mail"); /* Type=notify */
	event_base_dispatch(M.base);
	log_info("stopped");
	if (M.pidfile[0])
		unlink(M.pidfile);
	for (int i = 0; i < 4; i++)
		event_free(ev[i]);
	event_free(M.respawn_timer);
	M.mhttp = metrics_http_free(M.mhttp);
	event_base_free(M.base);
	close(M.lfd);
	for (size_t i = 0; i < M.npfd; i++)
		close(M.pfd[i]);
	if (M.sfd >= 0)
		close(M.sfd);
	policy_current = policy_free(policy_current);
	checks_free(M.checks);
	cfg_free(M.cfg);
	free(M.listen_addr);
	free(M.overrides);
	return 0;
}
