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

int
ctl_dkim_sign(int argc, char **argv)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	struct dkim_sign_opts o = { .now = time(NULL) };
	const char *file = NULL;
	char err[1024];
	bool keys = false;
	int st = 1, rc;

	if (ks == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			sign_help(stdout);
			st = 0;
			goto out;
		} else if (!strcmp(argv[i], "--no-time"))
			o.now = 0;
		else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			if (dkim_keyset_load(ks, argv[++i], err, sizeof(err)) <
			    0) {
				fprintf(
				    stderr, "filterctl dkim-sign: %s\n", err);
				goto out;
			}
			keys = true;
		} else if (file == NULL &&
		    (argv[i][0] != '-' || !strcmp(argv[i], "-")))
			file = argv[i];
		else {
			sign_help(stderr);
			st = 2;
			goto out;
		}
	}
	if (file == NULL) {
		sign_help(stderr);
		st = 2;
		goto out;
	}
	if (!keys) {
		struct cfg *c = ctl_load_cfg(NULL);
		if (c == NULL)
			goto out;
		rc = dkim_keyset_load(
		    ks, cfg_str(c, "dkim_key"), err, sizeof(err));
		cfg_free(c);
		if (rc < 0) {
			fprintf(
			    stderr, "filterctl dkim-sign: dkim_key: %s\n", err);
			goto out;
		}
	}
	size_t len, n = 0;
	unsigned char *m = ctl_read_file(file, &len);
	struct buf sig;
	if (m == NULL) {
		fprintf(stderr, "filterctl dkim-sign: %s: %s\n", file,
		    strerror(errno));
		goto out;
	}
	buf_init(&sig, 1 << 20);
	if ((rc = dkim_keyset_sign(ks, m, len, &o, &sig, &n)) < 0)
		fprintf(stderr, "filterctl dkim-sign: %s: %s\n", file,
		    strerror(-rc));
	else if (n == 0)
		fprintf(stderr,
		    "filterctl dkim-sign: %s: no key for the "
		    "From domain\n",
		    file);
	else {
		/* the message's own line ends for the added fields */
		bool lf = memmem(m, len, "\r\n", 2) == NULL;
		for (size_t i = 0; i < sig.len; i++)
			if (!(lf && sig.p[i] == '\r'))
				putchar(sig.p[i]);
		fwrite(m, 1, len, stdout);
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
	struct cfg *c = NULL;
	const char *file = NULL, *sealer = NULL, *servid = NULL, *why;
	long long t = (long long)time(NULL);
	char err[1024], id[256];
	bool keys = false;
	int st = 1, rc;

	if (ks == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			seal_help(stdout);
			st = 0;
			goto out;
		} else if (!strcmp(argv[i], "--time") && i + 1 < argc)
			t = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--sealer") && i + 1 < argc)
			sealer = argv[++i];
		else if (!strcmp(argv[i], "--authserv-id") && i + 1 < argc)
			servid = argv[++i];
		else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			if (dkim_keyset_load(ks, argv[++i], err, sizeof(err)) <
			    0) {
				fprintf(
				    stderr, "filterctl arc-seal: %s\n", err);
				goto out;
			}
			keys = true;
		} else if (file == NULL &&
		    (argv[i][0] != '-' || !strcmp(argv[i], "-")))
			file = argv[i];
		else {
			seal_help(stderr);
			st = 2;
			goto out;
		}
	}
	if (file == NULL) {
		seal_help(stderr);
		st = 2;
		goto out;
	}
	if (!keys || sealer == NULL || servid == NULL) {
		if ((c = ctl_load_cfg(NULL)) == NULL)
			goto out;
		if (!keys &&
		    dkim_keyset_load(
			ks, cfg_str(c, "dkim_key"), err, sizeof(err)) < 0) {
			fprintf(
			    stderr, "filterctl arc-seal: dkim_key: %s\n", err);
			goto out;
		}
		if (sealer == NULL)
			sealer = cfg_str(c, "arc_sealer");
	}
	if (authres_servid(servid ? servid : cfg_str(c, "authserv_id"),
		servid ? NULL : cfg_str(c, "myhostname"), id, sizeof(id)) < 0) {
		fprintf(stderr,
		    "filterctl arc-seal: authserv-id '%s' is not a usable "
		    "token\n",
		    id);
		goto out;
	}
	struct arc_seal_req rq = { .srv_id = id, .domain = sealer, .t = t };
	if (sealer == NULL || *sealer == '\0' ||
	    (rq.key = dkim_keyset_rsa(ks, sealer, &rq.selector)) == NULL) {
		fprintf(stderr,
		    "filterctl arc-seal: no RSA key for the sealer '%s' "
		    "(--sealer, --key or arc_sealer, dkim_key)\n",
		    sealer ? sealer : "");
		goto out;
	}
	size_t len;
	unsigned char *m = ctl_read_file(file, &len);
	struct buf set;
	if (m == NULL) {
		fprintf(stderr, "filterctl arc-seal: %s: %s\n", file,
		    strerror(errno));
		goto out;
	}
	rq.msg = m;
	rq.len = len;
	buf_init(&set, 1 << 20);
	if ((rc = arc_seal(&rq, &set, &why)) < 0)
		fprintf(stderr, "filterctl arc-seal: %s: %s\n", file,
		    strerror(-rc));
	else if (rc == 0)
		fprintf(stderr, "filterctl arc-seal: %s: not sealed: %s\n",
		    file, why);
	else {
		/* the message's own line ends for the added fields */
		bool lf = memmem(m, len, "\r\n", 2) == NULL;
		for (size_t i = 0; i < set.len; i++)
			if (!(lf && set.p[i] == '\r'))
				putchar(set.p[i]);
		fwrite(m, 1, len, stdout);
		st = 0;
	}
	buf_free(&set);
	free(m);
out:
	cfg_free(c);
	dkim_keyset_free(ks);
	return st;
}
