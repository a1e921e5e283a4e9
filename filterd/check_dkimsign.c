/*
 * filterd/check_dkimsign.c - originating mail is DKIM-signed instead of
 * spam-scored (amavis's ORIGINATING policy bank)
 *
 * A message is originating when the client (XFORWARD ADDR, the milter's
 * connect address) is in mynetworks, or the client authenticated: a SASL
 * login from the milter macro {auth_authen}, or an XFORWARD PROTO that
 * says so (RFC 3848: ESMTPA, ESMTPSA, ...). With dkim_sign = yes such a
 * message gets the signatures of plugins/dkim_sign.c for its From domain
 * as the scan note "dkim-signature" (complete header fields, CRLF), which
 * the action code prepends, and a 0-point hit FD_DKIM_SIGNED_OUT for the
 * log line; with originating_scan = no (the default) the checks after
 * this one (it is first in the table) do not run: outbound mail is not
 * scored, greylisted by Bayes or autolearned.
 * State: the key set, loaded in init() (in the master, before fork; keys
 * are read-only afterwards). A key that does not load refuses the config.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "plugins/dkim_sign.h"
#include "util/buf.h"
#include "util/hits.h"
#include "util/log.h"
#include "util/netaddr.h"

#define NOTE_DONE "originating"

static int
sign_init(const struct cfg *cfg, void **state)
{
	struct dkim_keyset *ks;
	char err[1024];
	int rc;

	*state = NULL;
	if (!cfg_bool(cfg, "dkim_sign"))
		return 0;
	if ((ks = dkim_keyset_new()) == NULL)
		return -ENOMEM;
	if ((rc = dkim_keyset_load(
		 ks, cfg_str(cfg, "dkim_key"), err, sizeof(err))) < 0) {
		/* the config path is the boundary: say why once */
		log_error("dkim_key: %s", err);
		dkim_keyset_free(ks);
		return rc;
	}
	if (dkim_keyset_count(ks) == 0) {
		log_error("dkim_sign = yes but dkim_key names no key");
		dkim_keyset_free(ks);
		return -EINVAL;
	}
	*state = ks;
	return 0;
}

static void
sign_free(void *state)
{
	dkim_keyset_free(state);
}

/* originating - client in mynetworks, or authenticated */
static bool
originating(struct scan *s)
{
	const struct envelope *env = scan_envelope(s);
	struct netaddr a;
	size_t n;

	if (env->auth && env->auth[0])
		return true;
	/* RFC 3848 2: the "A" suffix = SMTP AUTH was used */
	if (env->proto && (n = strlen(env->proto)) > 1 &&
	    (env->proto[n - 1] == 'A' || env->proto[n - 1] == 'a') &&
	    strncasecmp(env->proto, "ESMTP", 5) == 0)
		return true;
	if (env->client_addr == NULL ||
	    netaddr_parse(env->client_addr, strlen(env->client_addr), &a) < 0)
		return false;
	return netlist_match(cfg_netlist(scan_cfg(s), "mynetworks"), &a);
}

/* handle - once per scan, from start() (with an event base) or run() */
static void
handle(struct scan *s, void *state)
{
	const struct cfg *cfg = scan_cfg(s);
	struct dkim_sign_opts o = { .now = time(NULL) };
	struct buf out;
	size_t n = 0;
	struct bstr raw;
	int rc;

	if (state == NULL || scan_note_get(s, NOTE_DONE) || !originating(s))
		return;
	scan_note(s, NOTE_DONE, "yes");
	if (!cfg_bool(cfg, "originating_scan"))
		scan_skip_rest(s);
	raw.p = scan_raw(s, &raw.len);
	buf_init(&out, 1 << 20);
	rc = dkim_keyset_sign(state, raw.p, raw.len, &o, &out, &n);
	if (rc < 0) {
		const struct envelope *env = scan_envelope(s);
		log_warn("%s: dkim signing failed: %s",
		    env->qid ? env->qid : "-", strerror(-rc));
	} else if (n > 0 && buf_cstr(&out) == 0) {
		scan_note(s, "dkim-signature", (const char *)out.p);
		hits_add_score(scan_hits(s), "FD_DKIM_SIGNED_OUT", 0, NULL);
	}
	buf_free(&out);
}

const struct check check_dkimsign = {
	.name = "dkimsign",
	.init = sign_init,
	.start = handle,
	.run = handle,
	.free = sign_free,
};
