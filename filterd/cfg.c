/*
 * filterd/cfg.c - filterd.conf parser and the one table of keys
 *
 * Every key the daemon and its checks read is one row in cfg_keys[] with
 * its type, default, bounds and a one-line doc (printed by filterd -h and
 * copied into README). A loaded config owns one value per row; accessors
 * find the row by name. Errors come back as -EINVAL with "file:line: why"
 * in the caller's buffer; nothing here logs.
 */
#include "filterd/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/netaddr.h"

/* The table. Keep it sorted by topic; the order is the order of -h/-n. */
const struct cfg_key cfg_keys[] = {
	/* name, type, default, min, max, doc */
	{ "listen", CFG_ADDR, "127.0.0.1:10024", NULL, NULL,
	    "address the MTA hands mail to (host:port)" },
	{ "protocol", CFG_ENUM, "smtp", "smtp|lmtp", NULL,
	    "protocol spoken on listen: smtp (RFC 5321) or lmtp (RFC 2033)" },
	{ "reinject", CFG_ADDR, "127.0.0.1:10025", NULL, NULL,
	    "SMTP server passed mail is sent back to (host:port)" },
	{ "workers", CFG_INT, "auto", "0", "256",
	    "worker processes; auto = one per online CPU" },
	{ "max_connections", CFG_INT, "500", "1", "100000",
	    "connections per worker; more get 421 4.3.2" },
	{ "smtp_timeout", CFG_TIME, "300s", "1s", "1h",
	    "time allowed for one client line, command or data (idle too)" },
	{ "reinject_timeout", CFG_TIME, "120s", "1s", "1h",
	    "time allowed per step of the downstream SMTP dialogue" },
	{ "reinject_pool", CFG_INT, "4", "0", "1000",
	    "idle downstream connections kept per worker for reuse; 0 = none" },
	{ "reinject_idle_timeout", CFG_TIME, "10s", "1s", "1h",
	    "an idle pooled downstream connection is closed after this" },
	{ "drain_timeout", CFG_TIME, "120s", "1s", "1h",
	    "on SIGTERM/SIGHUP, how long an old worker may finish its work" },
	{ "message_size_limit", CFG_SIZE, "64M", "1k", "2G",
	    "larger messages get 552 5.3.4" },
	{ "line_length_limit", CFG_SIZE, "65536", "512", "16M",
	    "longer command lines get 500 5.5.2, longer data lines 552 5.3.4" },
	{ "max_recipients", CFG_INT, "1000", "1", "100000",
	    "RCPT commands per transaction; more get 452 4.5.3" },
	{ "myhostname", CFG_STR, "", NULL, NULL,
	    "name in the greeting and EHLO; empty = gethostname()" },
	{ "xforward", CFG_BOOL, "yes", NULL, NULL,
	    "offer XFORWARD upstream and pass it on downstream" },
	/* front doors: spamd protocol (filterd/spamd.c), milter */
	{ "spamd_listen", CFG_STR, "127.0.0.1:783", NULL, NULL,
	    "spamc/Exim spamd protocol address (host:port); none = off" },
	{ "spamd_allowed_ips", CFG_NETLIST, "127.0.0.0/8 ::1", NULL, NULL,
	    "clients allowed on spamd_listen (others are closed)" },
	{ "spamd_allow_tell", CFG_BOOL, "no", NULL, NULL,
	    "accept spamc -L/-C (TELL: learn/forget through Bayes)" },
	{ "spamd_timeout", CFG_TIME, "30s", "1s", "1h",
	    "spamd: idle time allowed while reading a request" },
	{ "milter_socket", CFG_STR, "none", NULL, NULL,
	    "milter socket: inet:PORT@HOST or unix:/path; none = off" },
	{ "milter_timeout", CFG_TIME, "120s", "1s", "1h",
	    "milter: scan wait and MTA I/O timeout (< milter_content_timeout)"
	},
	{ "spool_dir", CFG_STR, "/var/spool/filterd", NULL, NULL,
	    "messages in flight over spool_memory_max (a buffer: the MTA "
	    "keeps them until our 250)" },
	{ "spool_memory_max", CFG_SIZE, "256k", "0", "64M",
	    "messages up to this size stay in memory (at most one per "
	    "connection), bigger ones go to spool_dir; 0 = every message "
	    "on disk" },
	{ "state_dir", CFG_STR, "/var/lib/filterd", NULL, NULL,
	    "pid file and the checks' state (Bayes DB)" },
	{ "quarantine_dir", CFG_STR, "/var/lib/filterd/quarantine", NULL,
	    NULL, "maildir for final_spam_destiny = quarantine" },
	{ "tag_level", CFG_DOUBLE, "-999", "-1000", "1000",
	    "score at which X-Spam-Status/-Score/-Level are added" },
	{ "tag2_level", CFG_DOUBLE, "5.0", "-1000", "1000",
	    "score at which mail is spam: X-Spam-Flag: YES, subject tag" },
	{ "kill_level", CFG_DOUBLE, "10.0", "-1000", "1000",
	    "score at which final_spam_destiny applies" },
	{ "final_spam_destiny", CFG_ENUM, "pass",
	    "pass|discard|reject|quarantine|bounce", NULL,
	    "what happens at kill_level (bounce: a DSN to authenticated "
	    "senders only, else discard)" },
	{ "spam_subject_tag", CFG_STR, "***SPAM*** ", NULL, NULL,
	    "prepended to Subject at tag2_level; empty = leave Subject" },
	{ "msg_deadline", CFG_TIME, "60s", "1s", "250s",
	    "per-message scan deadline (async checks give up after it)" },
	{ "log", CFG_ENUM, "syslog", "syslog|stderr", NULL,
	    "where log lines go (filterd -f forces stderr)" },
	{ "log_debug", CFG_BOOL, "no", NULL, NULL, "debug log lines" },
	{ "trusted_networks", CFG_NETLIST, "", NULL, NULL,
	    "relays trusted not to forge Received (SA trusted_networks)" },
	{ "internal_networks", CFG_NETLIST, "", NULL, NULL,
	    "relays inside the organisation (SA internal_networks)" },
	{ "msg_max_header_bytes", CFG_SIZE, "256k", "1k", "64M",
	    "header section scanned per message" },
	{ "msg_max_body_text", CFG_SIZE, "512k", "1k", "64M",
	    "cap on each decoded text view" },
	{ "msg_max_parts", CFG_INT, "1000", "1", "100000",
	    "MIME parts kept" },
	{ "msg_max_depth", CFG_INT, "16", "1", "64",
	    "multipart / message/rfc822 nesting" },
	{ "msg_max_uris", CFG_INT, "1000", "1", "100000", "URIs kept" },
	/* Rules (rules/, filterd/check_rules.c, filterctl lint) */
	{ "rules_dir", CFG_STR, "rules/default", NULL, NULL,
	    "rule files: directories (their *.cf, sorted) or .cf files, "
	    "comma-separated, loaded in order" },
	{ "rules_local", CFG_STR, "/etc/filterd/local.cf", NULL, NULL,
	    "loaded last when it exists; its score lines win (empty: none)" },
	{ "rules_cache_dir", CFG_STR, "", NULL, NULL,
	    "Hyperscan cache written by filterctl compile (empty: "
	    "state_dir/rules-cache; none = off)" },
	{ "rules_scoreset", CFG_INT, "0", "0", "3",
	    "SA score set: 0 plain, 1 +network, 2 +Bayes, 3 both" },
	/* Bayes (bayes/, filterd/check_bayes.c, filterctl learn|bayes) */
	{ "use_bayes", CFG_BOOL, "yes", NULL, NULL,
	    "run the Bayes classifier (BAYES_* hits)" },
	{ "bayes_store", CFG_STR, "bdb", NULL, NULL,
	    "Bayes backend: bdb, or redis://[[user]:password@]host[:port][/db] "
	    "(password percent-encoded; shown as *** in logs)" },
	{ "bayes_path", CFG_STR, "", NULL, NULL,
	    "BDB environment directory (empty: state_dir/bayes)" },
	{ "bayes_min_spam_num", CFG_INT, "200", "1", "1000000",
	    "spam learned before Bayes gives a result" },
	{ "bayes_min_ham_num", CFG_INT, "200", "1", "1000000",
	    "ham learned before Bayes gives a result" },
	{ "bayes_auto_learn", CFG_BOOL, "yes", NULL, NULL,
	    "learn from confident verdicts (SA autolearn)" },
	{ "bayes_auto_learn_threshold_nonspam", CFG_DOUBLE, "0.1", "-1000",
	    "1000", "autolearn as ham below this non-Bayes score" },
	{ "bayes_auto_learn_threshold_spam", CFG_DOUBLE, "12.0", "-1000",
	    "1000", "autolearn as spam at or above this non-Bayes score" },
	{ "bayes_expiry_max_db_size", CFG_INT, "150000", "1000", "100000000",
	    "token cap: expiry keeps the newest 75% (SA default)" },
	{ "bayes_auto_expire", CFG_BOOL, "yes", NULL, NULL,
	    "learning (filterctl, autolearn) expires over the cap, every 12h at most" },
	{ "dns_servers", CFG_STR, "", NULL, NULL,
	    "DNS servers host:port,... (empty: the system resolver config)" },
	{ "dns_timeout", CFG_TIME, "3s", "50ms", "60s",
	    "per-message DNS deadline: later answers count as no answer" },
	{ "dns_query_timeout", CFG_TIME, "1s", "50ms", "30s",
	    "per-try DNS query timeout" },
	{ "dns_tries", CFG_INT, "2", "1", "10", "DNS tries per server" },
	{ "dns_cache_size", CFG_INT, "10000", "1", "10000000",
	    "DNS cache entries per worker (TTL-honouring, negative too)" },
	{ "use_dnsbl", CFG_BOOL, "yes", NULL, NULL,
	    "DNSBL/URIBL lookups (the lists in dnsbl_config)" },
	{ "dnsbl_config", CFG_STR, "/etc/filterd/dnsbl.cf", NULL, NULL,
	    "DNSBL/URIBL list rules file (empty: none)" },
	{ "dnsbl_relays", CFG_ENUM, "lastexternal", "lastexternal|untrusted",
	    NULL, "relay IPs checked by lists without a -suffix" },
	{ "dnsbl_dqs_key", CFG_STR, "", NULL, NULL,
	    "Spamhaus DQS key: X.spamhaus.org -> KEY.X.dq.spamhaus.net" },
	{ "uribl_max_domains", CFG_INT, "20", "1", "1000",
	    "URI domains looked up per message" },
	{ "uribl_skip_domains", CFG_STR, "", NULL, NULL,
	    "extra domains never looked up in URI lists" },
	{ "psl_file", CFG_STR, "", NULL, NULL,
	    "Public Suffix List file (empty: the system list)" },
	{ "use_spf", CFG_BOOL, "yes", NULL, NULL,
	    "SPF checks of MAIL FROM and HELO (RFC 7208)" },
	{ "use_dkim", CFG_BOOL, "yes", NULL, NULL,
	    "DKIM signature verification (RFC 6376)" },
	{ "use_arc", CFG_BOOL, "yes", NULL, NULL,
	    "ARC chain validation (RFC 8617)" },
	{ "use_dmarc", CFG_BOOL, "yes", NULL, NULL,
	    "DMARC evaluation (RFC 7489)" },
	{ "authserv_id", CFG_STR, "", NULL, NULL,
	    "Authentication-Results authserv-id (empty: myhostname)" },
	{ "dmarc_policy_enforce", CFG_BOOL, "no", NULL, NULL,
	    "a DMARC p=reject failure rejects the message (no: score only)" },
	{ "arc_trusted_sealers", CFG_STR, "", NULL, NULL,
	    "ARC sealer domains whose pass overrides a DMARC failure" },
	/* Originating mail: DKIM signing (plugins/dkim_sign.c,
	 * filterd/check_dkimsign.c) */
	{ "mynetworks", CFG_NETLIST, "127.0.0.0/8 ::1", NULL, NULL,
	    "clients whose mail is originating (signed, not scored)" },
	{ "dkim_sign", CFG_BOOL, "no", NULL, NULL,
	    "DKIM-sign originating mail (mynetworks or SASL-authenticated)" },
	{ "dkim_key", CFG_STR, "", NULL, NULL,
	    "'domain selector keyfile' entries split by ',' or a key table" },
	{ "arc_seal", CFG_BOOL, "no", NULL, NULL,
	    "ARC-seal originating mail that carries our Authentication-Results "
	    "(lists, forwarders)" },
	{ "arc_sealer", CFG_STR, "", NULL, NULL,
	    "sealing domain: its RSA key comes from dkim_key" },
	{ "originating_scan", CFG_BOOL, "no", NULL, NULL,
	    "also spam-score originating mail (no: sign only)" },
	/* Production (.notes/production.md): privileges, metrics,
	 * policies */
	{ "user", CFG_STR, "", NULL, NULL,
	    "drop to this user (and its group) after binding; empty: stay" },
	{ "run_as_root", CFG_BOOL, "no", NULL, NULL,
	    "allow a root start without user (tests, containers)" },
	{ "metrics_listen", CFG_STR, "none", NULL, NULL,
	    "Prometheus endpoint host:port (GET /metrics); none = off" },
	{ "policy_banks", CFG_STR, "", NULL, NULL,
	    "file of 'BANK key = value' (MYNETS, ORIGINATING, port:N)" },
	{ "recipient_policy", CFG_STR, "", NULL, NULL,
	    "file of 'ADDR key=value...': per-recipient/domain levels" },
	{ "spam_admin", CFG_STR, "", NULL, NULL,
	    "address that gets a short report per message at kill_level" },
	{ "spam_admin_max_per_hour", CFG_INT, "20", "0", "100000",
	    "spam_admin reports per clock hour, all workers together" },
	{ "notify_recipient", CFG_BOOL, "no", NULL, NULL,
	    "filterctl quarantine digest mails recipients what was held" },
	{ "policy_listen", CFG_STR, "", NULL, NULL,
	    "more SMTP listeners host:port,... (bank port:N; restart to change)"
	},
};
const size_t cfg_nkeys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);

struct cval {
	char *text;
	union {
		long long i;
		double d;
		uint64_t u; /* size, time in ms */
		bool b;
	} v;
	struct netlist *nl;
};

struct cfg {
	char *path;
	struct cval *vals;
};

static void
fmt_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int
key_index(const char *name)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* parse_num - decimal with an optional unit suffix from units[] */
struct unit {
	const char *sfx;
	uint64_t mul;
};

static const struct unit size_units[] = { { "", 1 }, { "b", 1 },
	{ "k", 1024 }, { "kb", 1024 }, { "m", 1024 * 1024 },
	{ "mb", 1024 * 1024 }, { "g", 1024ull * 1024 * 1024 },
	{ "gb", 1024ull * 1024 * 1024 }, { NULL, 0 } };
static const struct unit time_units[] = { { "", 1000 }, { "ms", 1 },
	{ "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 }, { NULL, 0 } };

static int
parse_unit(const char *s, const struct unit *u, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (; u->sfx; u++) {
		if (strcasecmp(end, u->sfx) == 0) {
			if (n > UINT64_MAX / u->mul)
				return -EINVAL;
			*out = n * u->mul;
			return 0;
		}
	}
	return -EINVAL;
}

static bool
enum_has(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

int
cfg_addr_split(const char *addr, char *host, size_t hostsz, unsigned *port)
{
	const char *colon;
	const char *h = addr;
	size_t hlen;
	char *end;
	unsigned long p;

	if (*addr == '[') {
		const char *rb = strchr(addr, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - addr);
		if (memchr(addr, ':', hlen))
			return -EINVAL; /* bare IPv6 needs brackets */
	}
	if (hlen == 0 || hlen >= hostsz)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (unsigned)p;
	return 0;
}

/* convert - text to the typed value of row k, bounds checked */
static int
convert(int k, const char *text, struct cval *out, char *err, size_t errsz)
{
	const struct cfg_key *key = &cfg_keys[k];
	struct cval v = { 0 };
	char *end;
	int rc = 0;

	switch (key->type) {
	case CFG_STR:
		break;
	case CFG_ENUM:
		if (!enum_has(key->min, text)) {
			fmt_err(err, errsz, "%s: '%s' is not one of %s",
			    key->name, text, key->min);
			return -EINVAL;
		}
		break;
	case CFG_INT: {
		long long mn, mx;

		if (strcmp(text, "auto") == 0 && strcmp(key->def, "auto") == 0)
			break; /* 0 = auto */
		errno = 0;
		v.v.i = strtoll(text, &end, 10);
		if (errno || *end || end == text) {
			fmt_err(err, errsz, "%s: '%s' is not an integer",
			    key->name, text);
			return -EINVAL;
		}
		mn = key->min ? strtoll(key->min, NULL, 10) : LLONG_MIN;
		mx = key->max ? strtoll(key->max, NULL, 10) : LLONG_MAX;
		if (v.v.i < mn || v.v.i > mx) {
			fmt_err(err, errsz, "%s: %lld is outside %s..%s",
			    key->name, v.v.i, key->min ? key->min : "",
			    key->max ? key->max : "");
			return -EINVAL;
		}
		break;
	}
	case CFG_SIZE:
	case CFG_TIME: {
		const struct unit *u =
		    key->type == CFG_SIZE ? size_units : time_units;
		uint64_t mn = 0, mx = UINT64_MAX;

		if (parse_unit(text, u, &v.v.u) < 0) {
			fmt_err(err, errsz, "%s: '%s' is not a %s", key->name,
			    text,
			    key->type == CFG_SIZE ? "size (512, 64k, 10M)"
						  : "time (250ms, 30s, 5m)");
			return -EINVAL;
		}
		if (key->min)
			parse_unit(key->min, u, &mn);
		if (key->max)
			parse_unit(key->max, u, &mx);
		if (v.v.u < mn || v.v.u > mx) {
			fmt_err(err, errsz, "%s: '%s' is outside %s..%s",
			    key->name, text, key->min ? key->min : "",
			    key->max ? key->max : "");
			return -EINVAL;
		}
		break;
	}
	case CFG_BOOL:
		if (!strcasecmp(text, "yes") || !strcasecmp(text, "true") ||
		    !strcasecmp(text, "on") || !strcmp(text, "1"))
			v.v.b = true;
		else if (!strcasecmp(text, "no") ||
		    !strcasecmp(text, "false") || !strcasecmp(text, "off") ||
		    !strcmp(text, "0"))
			v.v.b = false;
		else {
			fmt_err(err, errsz, "%s: '%s' is not yes/no",
			    key->name, text);
			return -EINVAL;
		}
		break;
	case CFG_DOUBLE: {
		double mn, mx;

		errno = 0;
		v.v.d = strtod(text, &end);
		if (errno || *end || end == text || !isfinite(v.v.d)) {
			fmt_err(err, errsz, "%s: '%s' is not a number",
			    key->name, text);
			return -EINVAL;
		}
		mn = key->min ? strtod(key->min, NULL) : -HUGE_VAL;
		mx = key->max ? strtod(key->max, NULL) : HUGE_VAL;
		if (v.v.d < mn || v.v.d > mx) {
			fmt_err(err, errsz, "%s: %s is outside %s..%s",
			    key->name, text, key->min ? key->min : "",
			    key->max ? key->max : "");
			return -EINVAL;
		}
		break;
	}
	case CFG_ADDR: {
		char host[256];
		unsigned port;

		if (text[0] == '/')
			break; /* unix socket path */
		if (cfg_addr_split(text, host, sizeof(host), &port) < 0) {
			fmt_err(err, errsz,
			    "%s: '%s' is not host:port or [v6]:port",
			    key->name, text);
			return -EINVAL;
		}
		break;
	}
	case CFG_NETLIST: {
		size_t bad = 0;

		v.nl = netlist_parse(text, &bad);
		if (v.nl == NULL) {
			fmt_err(err, errsz, "%s: bad network at '%.40s'",
			    key->name, text + bad);
			return -EINVAL;
		}
		break;
	}
	}
	v.text = strdup(text);
	if (v.text == NULL) {
		netlist_free(v.nl);
		fmt_err(err, errsz, "out of memory");
		return -ENOMEM;
	}
	netlist_free(out->nl);
	free(out->text);
	*out = v;
	return rc;
}

struct cfg *
cfg_new(void)
{
	struct cfg *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->vals = calloc(cfg_nkeys, sizeof(*c->vals));
	if (c->vals == NULL)
		return cfg_free(c);
	for (size_t i = 0; i < cfg_nkeys; i++) {
		char err[256];

		/* A default that does not convert is a bug in the table. */
		if (convert((int)i, cfg_keys[i].def, &c->vals[i], err,
		    sizeof(err)) < 0)
			log_panic("cfg default: %s", err);
	}
	return c;
}

struct cfg *
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return NULL;
	if (c->vals) {
		for (size_t i = 0; i < cfg_nkeys; i++) {
			free(c->vals[i].text);
			netlist_free(c->vals[i].nl);
		}
		free(c->vals);
	}
	free(c->path);
	free(c);
	return NULL;
}

int
cfg_set(struct cfg *c, const char *key, const char *value, char *err,
    size_t errsz)
{
	int k = key_index(key);

	if (k < 0) {
		fmt_err(err, errsz, "unknown key '%s'", key);
		return -ENOENT;
	}
	return convert(k, value, &c->vals[k], err, errsz);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* strip_comment - a '#' at the start or after white space, outside double
 * quotes, starts a comment */
static void
strip_comment(char *s)
{
	bool q = false;

	for (char *p = s; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '#' && !q &&
		    (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* split_line - a config line (changed in place) into key and value:
 * comment cut, white space trimmed, one pair of enclosing double quotes
 * taken off the value. 0 for a blank line, 1 with *key and *val set, -1
 * when there is no '=' */
static int
split_line(char *line, char **key, char **val)
{
	char *s, *eq;
	size_t vl;

	strip_comment(line);
	s = trim(line);
	if (*s == '\0')
		return 0;
	if ((eq = strchr(s, '=')) == NULL)
		return -1;
	*eq = '\0';
	*key = trim(s);
	*val = trim(eq + 1);
	vl = strlen(*val);
	if (vl >= 2 && (*val)[0] == '"' && (*val)[vl - 1] == '"') {
		(*val)[vl - 1] = '\0';
		(*val)++;
	}
	return 1;
}

int
cfg_load(const char *path, struct cfg **out, char *err, size_t errsz)
{
	struct cfg *c;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		rc = -errno;
		fmt_err(err, errsz, "%s: %s", path, strerror(errno));
		return rc;
	}
	if ((c = cfg_new()) == NULL || (c->path = strdup(path)) == NULL) {
		fclose(f);
		cfg_free(c);
		fmt_err(err, errsz, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *key, *val, why[512];
		int k;

		lineno++;
		if ((k = split_line(line, &key, &val)) == 0)
			continue;
		if (k < 0) {
			fmt_err(err, errsz, "%s:%u: expected 'key = value'",
			    path, lineno);
			rc = -EINVAL;
			break;
		}
		if ((rc = cfg_set(c, key, val, why, sizeof(why))) < 0) {
			fmt_err(err, errsz, "%s:%u: %s", path, lineno, why);
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		rc = -EIO;
		fmt_err(err, errsz, "%s: read error", path);
	}
	free(line);
	fclose(f);
	if (rc < 0) {
		cfg_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

const char *
cfg_path(const struct cfg *c)
{
	return c->path;
}

static const struct cval *
get(const struct cfg *c, const char *key, enum cfg_type t1, enum cfg_type t2)
{
	int k = key_index(key);

	if (k < 0)
		log_panic("cfg: no key '%s' in cfg_keys[]", key);
	if (cfg_keys[k].type != t1 && cfg_keys[k].type != t2)
		log_panic("cfg: key '%s' read with the wrong type", key);
	return &c->vals[k];
}

const char *
cfg_str(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_STR, CFG_ENUM)->text;
}

const char *
cfg_text(const struct cfg *c, const char *key)
{
	int k = key_index(key);

	if (k < 0)
		log_panic("cfg: no key '%s' in cfg_keys[]", key);
	return c->vals[k].text;
}

long long
cfg_int(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_INT, CFG_INT)->v.i;
}

size_t
cfg_size(const struct cfg *c, const char *key)
{
	uint64_t u = get(c, key, CFG_SIZE, CFG_SIZE)->v.u;

	return u > SIZE_MAX ? SIZE_MAX : (size_t)u;
}

uint64_t
cfg_time_ms(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_TIME, CFG_TIME)->v.u;
}

bool
cfg_bool(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_BOOL, CFG_BOOL)->v.b;
}

double
cfg_double(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_DOUBLE, CFG_DOUBLE)->v.d;
}

const struct netlist *
cfg_netlist(const struct cfg *c, const char *key)
{
	return get(c, key, CFG_NETLIST, CFG_NETLIST)->nl;
}

bool
cfg_is_default(const struct cfg *c, const char *key)
{
	int k = key_index(key);

	if (k < 0)
		log_panic("cfg: no key '%s' in cfg_keys[]", key);
	return strcmp(c->vals[k].text, cfg_keys[k].def) == 0;
}

/* reads_back - the line fmt (a "k = ..." form of t) loads as the value t */
static bool
reads_back(const char *fmt, const char *t)
{
	size_t n = strlen(t) + 8;
	char *line = malloc(n), *key, *val;
	bool ok;

	if (line == NULL)
		return false;
	snprintf(line, n, fmt, t);
	ok = split_line(line, &key, &val) == 1 && strcmp(val, t) == 0;
	free(line);
	return ok;
}

void
cfg_print(const struct cfg *c, FILE *f, bool only_changed)
{
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const char *t = c->vals[i].text;

		if (only_changed && strcmp(t, cfg_keys[i].def) == 0)
			continue;
		/* as written if that reads back the same, else in quotes
		 * (empty, edge white space, a " #" that would start a
		 * comment, enclosing quotes of its own), else the same with
		 * no space after '=' (a value starting with '#'): a value was
		 * read from a line of one of these forms */
		static const char *const form[] = { "k = %s", "k = \"%s\"",
			"k =%s", "k =\"%s\"" };
		size_t w = 0;

		while (w < 3 && !reads_back(form[w], t))
			w++;
		fprintf(f, "%s", cfg_keys[i].name);
		fprintf(f, form[w] + 1, t);
		fputc('\n', f);
	}
}
