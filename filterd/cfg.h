/*
 * filterd/cfg.h - filterd.conf: one table of keys, typed accessors by name
 *
 * Adding a key is one row in cfg_keys[] (filterd/cfg.c). Accessors look
 * the key up by name; a name that is not in the table or has another type
 * is our bug and panics.
 */
#ifndef FILTERD_CFG_H
#define FILTERD_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct netlist;

enum cfg_type {
	CFG_STR,     /* any text; surrounding double quotes are removed */
	CFG_INT,     /* decimal; "auto" = 0 when the default is "auto" */
	CFG_SIZE,    /* bytes: 512, 64k, 10M, 1G */
	CFG_TIME,    /* 250ms, 30s, 5m, 1h, 1d; bare number = seconds */
	CFG_BOOL,    /* yes/no, true/false, on/off, 1/0 */
	CFG_DOUBLE,  /* -999, 5.0 */
	CFG_ADDR,    /* host:port, [v6]:port, or an absolute unix socket path */
	CFG_NETLIST, /* util/netaddr.h netlist syntax */
	CFG_ENUM,    /* one of the '|'-separated words in min */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *def;  /* default, in the file syntax */
	const char *min;  /* NULL = unbounded; CFG_ENUM: "a|b|c" */
	const char *max;
	const char *doc;  /* one line */
};

struct cfg;

/* cfg_keys / cfg_nkeys - the table, for help output and docs */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

/* cfg_new - every key at its default; NULL on ENOMEM */
struct cfg *cfg_new(void);
/* cfg_load - defaults, then path; 0 or -EINVAL/-errno with "file:line: why"
 * in err. *out is only set on success. */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errsz);
/* cfg_set - set one key from text; 0 or -EINVAL/-ENOENT with a reason */
int cfg_set(struct cfg *, const char *key, const char *value, char *err,
    size_t errsz);
struct cfg *cfg_free(struct cfg *);
/* cfg_path - the file it was loaded from, or NULL */
const char *cfg_path(const struct cfg *);

const char *cfg_str(const struct cfg *, const char *key);
long long cfg_int(const struct cfg *, const char *key);
size_t cfg_size(const struct cfg *, const char *key);
uint64_t cfg_time_ms(const struct cfg *, const char *key);
bool cfg_bool(const struct cfg *, const char *key);
double cfg_double(const struct cfg *, const char *key);
const struct netlist *cfg_netlist(const struct cfg *, const char *key);
/* cfg_text - the value as written (any type) */
const char *cfg_text(const struct cfg *, const char *key);
bool cfg_is_default(const struct cfg *, const char *key);

/* cfg_print - "key = value" lines; only_changed: only non-defaults */
void cfg_print(const struct cfg *, FILE *, bool only_changed);

/* cfg_addr_split - "host:port" / "[v6]:port" into host (NUL-terminated)
 * and port; 0 or -EINVAL. */
int cfg_addr_split(const char *addr, char *host, size_t hostsz,
    unsigned *port);

#endif
