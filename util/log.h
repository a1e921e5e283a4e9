/* util/log.h - syslog (LOG_MAIL) or stderr logging */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stddef.h>

#define LOG_TO_SYSLOG 1
#define LOG_TO_STDERR 2

void log_init(const char *ident, int where, int debug);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
_Noreturn void log_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* log_escape - copy untrusted bytes into out (size outsz, NUL-terminated),
 * non-printables as \xNN, truncated with "..." when it does not fit. */
const char *log_escape(char *out, size_t outsz, const void *p, size_t len);

#endif
