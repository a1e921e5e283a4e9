/*
 * log - syslog (facility LOG_MAIL) and/or stderr logging
 *
 * One process-wide sink set by log_init(). Lines go to syslog, to stderr
 * (with a timestamp and pid, for foreground runs and tests) or both.
 * log_fatal() exits 1 (bad config, cannot bind); log_panic() aborts (our
 * own bug). Untrusted text must pass through log_escape() first.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int log_where = LOG_TO_STDERR;
static int log_dbg;
static const char *log_ident = "filterd";

void
log_init(const char *ident, int where, int debug)
{
	log_ident = ident;
	log_where = where;
	log_dbg = debug;
	if (where & LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	if (log_where & LOG_TO_SYSLOG) {
		va_list cp;

		va_copy(cp, ap);
		vsyslog(prio, fmt, cp);
		va_end(cp);
	}
	if (log_where & LOG_TO_STDERR) {
		char line[8192], ts[32];
		struct timespec now;
		struct tm tm;
		int n;

		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ld %s[%ld]: %s", ts,
		    now.tv_nsec / 1000000, log_ident, (long)getpid(), tag);
		if (n > 0 && (size_t)n < sizeof(line))
			vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		/* One write per line so workers' lines do not interleave. */
		fprintf(stderr, "%s\n", line);
	}
}

#define LOG_FN(name, prio, tag)                                             \
	void name(const char *fmt, ...)                                     \
	{                                                                   \
		va_list ap;                                                 \
		va_start(ap, fmt);                                          \
		vlog(prio, tag, fmt, ap);                                   \
		va_end(ap);                                                 \
	}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_dbg)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

LOG_FN(log_info, LOG_INFO, "")
LOG_FN(log_warn, LOG_WARNING, "warning: ")
LOG_FN(log_error, LOG_ERR, "error: ")

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}

const char *
log_escape(char *out, size_t outsz, const void *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > outsz) {
			if (o + 3 < outsz) {
				out[o++] = '.';
				out[o++] = '.';
				out[o++] = '.';
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
