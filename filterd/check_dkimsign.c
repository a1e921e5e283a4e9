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
 * With arc_seal = yes, originating mail that carries our own
 * Authentication-Results (mail filterd received and checked, now sent on
 * by a list manager or a forwarder on this host) also gets the next ARC
 * set (plugins/arc.h, RFC 8617 5.1), sealed by arc_sealer with its RSA key
 * from dkim_key; the three fields go on top of the same note.
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
#include "plugins/arc.h"
#include "plugins/authres.h"
#include "plugins/dkim_sign.h"
#include "util/buf.h"
#include "util/hits.h"
#include "util/log.h"
#include "util/netaddr.h"

#define NOTE_DONE "originating"

struct sign_state {
	struct dkim_keyset *ks;
	bool dkim;		  /* dkim_sign */
	struct evp_pkey_st *seal_key; /* arc_seal: arc_sealer's key (in ks) */
	const char *seal_sel;
	char sealer[256], servid[256];
};

static void
sign_free(void *arg)
{
	struct sign_state *st = arg;

	if (st == NULL)
		return;
	dkim_keyset_free(st->ks);
	free(st);
}

static int
sign_init(const struct cfg *cfg, void **state)
{
	struct sign_state *st;
	char err[1024];
	int rc;

	*state = NULL;
	if (!cfg_bool(cfg, "dkim_sign") && !cfg_bool(cfg, "arc_seal"))
		return 0;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->ks = dkim_keyset_new()) == NULL) {
		sign_free(st);
		return -ENOMEM;
	}
	st->dkim = cfg_bool(cfg, "dkim_sign");
	if ((rc = dkim_keyset_load(
		 st->ks, cfg_str(cfg, "dkim_key"), err, sizeof(err))) < 0) {
		/* the config path is the boundary: say why once */
		log_error("dkim_key: %s", err);
		sign_free(st);
		return rc;
	}
	if (dkim_keyset_count(st->ks) == 0) {
		log_error("%s = yes but dkim_key names no key",
		    st->dkim ? "dkim_sign" : "arc_seal");
		sign_free(st);
		return -EINVAL;
	}
	if (cfg_bool(cfg, "arc_seal")) {
		const char *d = cfg_str(cfg, "arc_sealer");
		snprintf(st->sealer, sizeof(st->sealer), "%s", d ? d : "");
		if (*st->sealer == '\0' ||
		    (st->seal_key = dkim_keyset_rsa(
			 st->ks, st->sealer, &st->seal_sel)) == NULL) {
			log_error("arc_seal = yes needs arc_sealer = DOMAIN "
				  "with an RSA key in dkim_key ('%s' has "
				  "none)",
			    st->sealer);
			sign_free(st);
			return -EINVAL;
		}
		if (authres_servid(cfg_str(cfg, "authserv_id"),
			cfg_str(cfg, "myhostname"), st->servid,
			sizeof(st->servid)) < 0) {
			log_error("authserv_id: '%s' is not a usable token",
			    st->servid);
			sign_free(st);
			return -EINVAL;
		}
	}
	*state = st;
	return 0;
}

/* originating - client in mynetworks, or authenticated */
static bool
originating(struct scan *s)
{
	const struct envelope *env = scan_envelope(s);
	struct netaddr a;

	if (scan_env_authenticated(env))
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
	const struct sign_state *st = state;
	const struct cfg *cfg = scan_cfg(s);
	const struct envelope *env = scan_envelope(s);
	const char *qid = env->qid ? env->qid : "-";
	struct dkim_sign_opts o = { .now = time(NULL) };
	struct buf out, sigs;
	size_t n = 0;
	struct bstr raw;
	int rc;

	if (st == NULL || scan_note_get(s, NOTE_DONE) || !originating(s))
		return;
	scan_note(s, NOTE_DONE, "yes");
	if (!cfg_bool(cfg, "originating_scan"))
		scan_skip_rest(s);
	raw.p = scan_raw(s, &raw.len);
	buf_init(&out, 1 << 20);
	buf_init(&sigs, 1 << 20);
	if (st->seal_key) {
		struct arc_seal_req rq = { .msg = raw.p,
			.len = raw.len,
			.srv_id = st->servid,
			.domain = st->sealer,
			.selector = st->seal_sel,
			.key = st->seal_key,
			.t = (long long)o.now };
		const char *why;
		rc = arc_seal(&rq, &out, &why);
		if (rc < 0)
			log_warn("%s: arc sealing failed: %s", qid,
			    strerror(-rc));
		else if (rc == 1)
			hits_add_score(
			    scan_hits(s), "FD_ARC_SEALED_OUT", 0, NULL);
		else if (why != arc_seal_not_ours)
			log_info("%s: not ARC-sealed: %s", qid, why);
		if (rc != 1)
			buf_reset(&out);
	}
	rc = st->dkim ? dkim_keyset_sign(st->ks, raw.p, raw.len, &o, &sigs, &n)
		      : 0;
	if (rc < 0)
		log_warn("%s: dkim signing failed: %s", qid, strerror(-rc));
	else if (n > 0) {
		hits_add_score(scan_hits(s), "FD_DKIM_SIGNED_OUT", 0, NULL);
		if (buf_append(&out, sigs.p, sigs.len) < 0)
			buf_reset(&out);
	}
	/* the ARC set on top, then the DKIM-Signatures (neither signs the
	 * other) */
	if (out.len && buf_cstr(&out) == 0)
		scan_note(s, "dkim-signature", (const char *)out.p);
	buf_free(&sigs);
	buf_free(&out);
}

const struct check check_dkimsign = {
	.name = "dkimsign",
	.init = sign_init,
	.start = handle,
	.run = handle,
	.free = sign_free,
};
