/*
 * filterd/ctl_dkim.c - filterctl dkim-keygen, dkim-sign and arc-seal
 *
 * dkim-keygen makes a key pair (plugins/dkim_sign.h), writes the private
 * key with mode 0600 (never over an existing file) and prints the TXT
 * record twice: in BIND zone form, split into quoted strings of at most
 * 255 octets (RFC 1035 3.3), and as one string for web DNS panels, plus
 * the dkim_key line for filterd.conf. dkim-sign signs messages with the
 * configured (or given) keys, the way the daemon signs originating mail;
 * arc-seal adds the ARC set the daemon adds with arc_seal = yes.
 * Exit status: 0 done, 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/ctl.h"
#include "plugins/arc.h"
#include "plugins/authres.h"
#include "plugins/dkim_sign.h"

static void
keygen_help(FILE *f)
{
	fprintf(f,
	    "usage: filterctl dkim-keygen --domain DOMAIN [--selector SEL]\n"
	    "           [--type rsa [--bits N] | --type ed25519] [--testing]\n"
	    "           [--out FILE]\n\n"
	    "Make a DKIM key pair, write the private key (mode 0600) and\n"
	    "print the DNS TXT record to publish at SEL._domainkey.DOMAIN.\n\n"
	    "  --domain D     signing domain (d=)\n"
	    "  --selector S   selector (s=); default: today as YYYYMMDD, so\n"
	    "                 a rotation gets a new name\n"
	    "  --type T       rsa (default) or ed25519 (RFC 8463; publish an\n"
	    "                 rsa key too: not every verifier knows ed25519)\n"
	    "  --bits N       RSA size, 1024..8192 (default 2048)\n"
	    "  --testing      add t=y (verifiers treat failures as unsigned);\n"
	    "                 remove it once signatures verify\n"
	    "  --out FILE     private key file (default SEL.DOMAIN.key in the\n"
	    "                 current directory; an existing file is kept)\n\n"
	    "Output: the BIND zone line (TXT split into <=255-octet quoted\n"
	    "strings), the single-string value for web DNS panels, and the\n"
	    "filterd.conf line: dkim_key = DOMAIN SEL FILE.\n");
}

int
ctl_dkim_keygen(int argc, char **argv)
{
	const char *domain = NULL, *sel = NULL, *type = "rsa", *out = NULL;
	char selbuf[16], path[4096];
	unsigned bits = 2048;
	bool testing = false;
	struct buf pem, pub, rec, split;
	enum dkim_keytype t;
	int rc, fd, st = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			keygen_help(stdout);
			return 0;
		} else if (!strcmp(a, "--testing"))
			testing = true;
		else if (v && !strcmp(a, "--domain"))
			domain = argv[++i];
		else if (v && !strcmp(a, "--selector"))
			sel = argv[++i];
		else if (v && !strcmp(a, "--type"))
			type = argv[++i];
		else if (v && !strcmp(a, "--out"))
			out = argv[++i];
		else if (v && !strcmp(a, "--bits")) {
			char *e;
			unsigned long b = strtoul(argv[++i], &e, 10);
			if (*e || b < 1024 || b > 8192) {
				fprintf(stderr,
				    "filterctl dkim-keygen: "
				    "--bits must be 1024..8192\n");
				return 2;
			}
			bits = (unsigned)b;
		} else {
			fprintf(stderr,
			    "filterctl dkim-keygen: bad argument "
			    "'%s'\n\n",
			    a);
			keygen_help(stderr);
			return 2;
		}
	}
	if (domain == NULL) {
		keygen_help(stderr);
		return 2;
	}
	if (!strcmp(type, "rsa"))
		t = DKIM_KEY_RSA;
	else if (!strcmp(type, "ed25519"))
		t = DKIM_KEY_ED25519;
	else {
		fprintf(stderr,
		    "filterctl dkim-keygen: --type rsa or "
		    "ed25519\n");
		return 2;
	}
	if (sel == NULL) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(selbuf, sizeof(selbuf), "%Y%m%d", &tm);
		sel = selbuf;
	}
	for (const char *c = sel; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '-' || *c == '.')) {
			fprintf(stderr,
			    "filterctl dkim-keygen: bad selector "
			    "'%s'\n",
			    sel);
			return 2;
		}
	if (out == NULL) {
		snprintf(path, sizeof(path), "%s.%s.key", sel, domain);
		out = path;
	}
	buf_init(&pem, 1 << 20);
	buf_init(&pub, 1 << 20);
	buf_init(&rec, 1 << 20);
	buf_init(&split, 1 << 20);
	if ((rc = dkim_keygen(t, bits, &pem, &pub)) < 0) {
		fprintf(stderr,
		    "filterctl dkim-keygen: key generation "
		    "failed (%s)\n",
		    strerror(-rc));
		goto done;
	}
	/* O_EXCL: an existing key is never overwritten (it may still be
	 * published and signing). */
	if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
	    0) {
		fprintf(stderr, "filterctl dkim-keygen: %s: %s\n", out,
		    strerror(errno));
		goto done;
	}
	if (fchmod(fd, 0600) < 0 ||
	    write(fd, pem.p, pem.len) != (ssize_t)pem.len || fsync(fd) < 0) {
		fprintf(stderr, "filterctl dkim-keygen: %s: %s\n", out,
		    strerror(errno));
		close(fd);
		unlink(out);
		goto done;
	}
	close(fd);
	if (dkim_txt_record(t, (const char *)pub.p, testing, &rec) < 0 ||
	    buf_cstr(&rec) < 0 ||
	    dkim_txt_split((const char *)rec.p, 255, "\n\t", &split) < 0 ||
	    buf_cstr(&split) < 0)
		goto done;
	printf("; private key: %s (mode 0600)\n", out);
	printf("; %s %u-bit key, selector %s%s\n",
	    t == DKIM_KEY_RSA ? "RSA" : "Ed25519",
	    t == DKIM_KEY_RSA ? bits : 256, sel,
	    testing ? ", testing (t=y)" : "");
	printf("; BIND zone file:\n%s._domainkey.%s. IN TXT (\n\t%s )\n\n", sel,
	    domain, split.p);
	printf("; single string (web DNS panels; name %s._domainkey):\n%s\n\n",
	    sel, rec.p);
	{
		char *abs = realpath(out, NULL);
		printf("; filterd.conf:\ndkim_key = %s %s %s\n", domain, sel,
		    abs ? abs : out);
		free(abs);
	}
	st = 0;
done:
	buf_free(&pem);
	buf_free(&pub);
	buf_free(&rec);
	buf_free(&split);
	return st;
}

static void
sign_help(FILE *f)
{
	fprintf(f,
	    "usage: filterctl [-c FILE] dkim-sign [--key 'DOMAIN SEL KEYFILE']...\n"
	    "           [--no-time] FILE|-\n\n"
	    "Sign a message as filterd signs originating mail (relaxed/relaxed,\n"
	    "From/To/Subject/Date over-signed, one signature per key of the\n"
	    "From domain) and print it with the DKIM-Signature fields on top.\n"
	    "Keys: --key (repeatable), else dkim_key of the configuration.\n"
	    "  --no-time   no t= tag (reproducible output)\n");
}

/* The command line of dkim-sign and arc-seal (the --sealer, --authserv-id
 * and --time options only for arc-seal). */
struct sign_args {
	const char *cmd, *file, *sealer, *servid;
	bool keys, no_time;
	long long t;
};

/* parse_args - -1 to go on; else the exit status (help shown: 0, usage
 * error: 2, a key that does not load: 1) */
static int
parse_args(int argc, char **argv, bool arc, void (*help)(FILE *),
    struct dkim_keyset *ks, struct sign_args *a)
{
	char err[1024];

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		bool more = i + 1 < argc;

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			help(stdout);
			return 0;
		} else if (!arc && !strcmp(o, "--no-time"))
			a->no_time = true;
		else if (arc && !strcmp(o, "--time") && more)
			a->t = strtoll(argv[++i], NULL, 10);
		else if (arc && !strcmp(o, "--sealer") && more)
			a->sealer = argv[++i];
		else if (arc && !strcmp(o, "--authserv-id") && more)
			a->servid = argv[++i];
		else if (!strcmp(o, "--key") && more) {
			if (dkim_keyset_load(ks, argv[++i], err, sizeof(err)) <
			    0) {
				fprintf(
				    stderr, "filterctl %s: %s\n", a->cmd, err);
				return 1;
			}
			a->keys = true;
		} else if (a->file == NULL && (o[0] != '-' || !strcmp(o, "-")))
			a->file = o;
		else {
			help(stderr);
			return 2;
		}
	}
	if (a->file == NULL) {
		help(stderr);
		return 2;
	}
	return -1;
}

/* keys_from_cfg - dkim_key of the configuration c into ks; 0 or -1 */
static int
keys_from_cfg(const struct cfg *c, struct dkim_keyset *ks, const char *cmd)
{
	char err[1024];

	if (dkim_keyset_load(ks, cfg_str(c, "dkim_key"), err, sizeof(err)) <
	    0) {
		fprintf(stderr, "filterctl %s: dkim_key: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

/* print_on_top - the new fields, in the message's own line ends, then
 * the message */
static void
print_on_top(const struct buf *f, const unsigned char *m, size_t len)
{
	bool lf = memmem(m, len, "\r\n", 2) == NULL;

	for (size_t i = 0; i < f->len; i++)
		if (!(lf && f->p[i] == '\r'))
			putchar(f->p[i]);
	fwrite(m, 1, len, stdout);
}

int
ctl_dkim_sign(int argc, char **argv)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	struct sign_args a = { .cmd = "dkim-sign" };
	struct dkim_sign_opts o = { .now = time(NULL) };
	int st = 1, rc;

	if (ks == NULL)
		return 1;
	if ((rc = parse_args(argc, argv, false, sign_help, ks, &a)) >= 0) {
		st = rc;
		goto out;
	}
	if (a.no_time)
		o.now = 0;
	if (!a.keys) {
		struct cfg *c = ctl_load_cfg(NULL);
		rc = c ? keys_from_cfg(c, ks, a.cmd) : -1;
		cfg_free(c);
		if (rc < 0)
			goto out;
	}
	size_t len, n = 0;
	unsigned char *m = ctl_read_file(a.file, &len);
	struct buf sig;
	if (m == NULL) {
		fprintf(stderr, "filterctl dkim-sign: %s: %s\n", a.file,
		    strerror(errno));
		goto out;
	}
	buf_init(&sig, 1 << 20);
	if ((rc = dkim_keyset_sign(ks, m, len, &o, &sig, &n)) < 0)
		fprintf(stderr, "filterctl dkim-sign: %s: %s\n", a.file,
		    strerror(-rc));
	else if (n == 0)
		fprintf(stderr,
		    "filterctl dkim-sign: %s: no key for the "
		    "From domain\n",
		    a.file);
	else {
		print_on_top(&sig, m, len);
		st = 0;
	}
	buf_free(&sig);
	free(m);
out:
	dkim_keyset_free(ks);
	return st;
}

static void
seal_help(FILE *f)
{
	fprintf(f,
	    "usage: filterctl [-c FILE] arc-seal [--key 'DOMAIN SEL KEYFILE']...\n"
	    "           [--sealer DOMAIN] [--authserv-id ID] [--time T] "
	    "FILE|-\n\n"
	    "Add the next ARC set (RFC 8617) to a message as filterd does with\n"
	    "arc_seal = yes, and print it with ARC-Seal, ARC-Message-Signature\n"
	    "and ARC-Authentication-Results on top. The AAR is made of the\n"
	    "message's Authentication-Results with our authserv-id; their arc=\n"
	    "result is the cv=. Without such a header nothing is sealed (exit 1,\n"
	    "with the reason).\n"
	    "  --key          (repeatable) else dkim_key of the configuration\n"
	    "  --sealer       the sealing domain (an RSA key); else arc_sealer\n"
	    "  --authserv-id  else authserv_id, myhostname, the host name\n"
	    "  --time T       t= (default now)\n");
}

int
ctl_arc_seal(int argc, char **argv)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	struct sign_args a = { .cmd = "arc-seal", .t = (long long)time(NULL) };
	struct cfg *c = NULL;
	const char *why;
	char id[256];
	int st = 1, rc;

	if (ks == NULL)
		return 1;
	if ((rc = parse_args(argc, argv, true, seal_help, ks, &a)) >= 0) {
		st = rc;
		goto out;
	}
	if (!a.keys || a.sealer == NULL || a.servid == NULL) {
		if ((c = ctl_load_cfg(NULL)) == NULL ||
		    (!a.keys && keys_from_cfg(c, ks, a.cmd) < 0))
			goto out;
		if (a.sealer == NULL)
			a.sealer = cfg_str(c, "arc_sealer");
	}
	if (authres_servid(a.servid ? a.servid : cfg_str(c, "authserv_id"),
		a.servid ? NULL : cfg_str(c, "myhostname"), id,
		sizeof(id)) < 0) {
		fprintf(stderr,
		    "filterctl arc-seal: authserv-id '%s' is not a usable "
		    "token\n",
		    id);
		goto out;
	}
	struct arc_seal_req rq = { .srv_id = id, .domain = a.sealer, .t = a.t };
	if (a.sealer == NULL || *a.sealer == '\0' ||
	    (rq.key = dkim_keyset_rsa(ks, a.sealer, &rq.selector)) == NULL) {
		fprintf(stderr,
		    "filterctl arc-seal: no RSA key for the sealer '%s' "
		    "(--sealer, --key or arc_sealer, dkim_key)\n",
		    a.sealer ? a.sealer : "");
		goto out;
	}
	size_t len;
	unsigned char *m = ctl_read_file(a.file, &len);
	struct buf set;
	if (m == NULL) {
		fprintf(stderr, "filterctl arc-seal: %s: %s\n", a.file,
		    strerror(errno));
		goto out;
	}
	rq.msg = m;
	rq.len = len;
	buf_init(&set, 1 << 20);
	if ((rc = arc_seal(&rq, &set, &why)) < 0)
		fprintf(stderr, "filterctl arc-seal: %s: %s\n", a.file,
		    strerror(-rc));
	else if (rc == 0)
		fprintf(stderr, "filterctl arc-seal: %s: not sealed: %s\n",
		    a.file, why);
	else {
		print_on_top(&set, m, len);
		st = 0;
	}
	buf_free(&set);
	free(m);
out:
	cfg_free(c);
	dkim_keyset_free(ks);
	return st;
}
