/*
 * mail_corpus_test - parse the whole 2002 training corpus (corpus/data/
 * easy-ham-1, hard-ham-1, spam-1) and check invariants on every message:
 * the parse succeeds, the views exist and are UTF-8, parts link to their
 * parents, relays carry addresses. Skips when corpus/fetch.sh has not run.
 * make check runs it in the ASan+UBSan build too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_int.h"
#include "mail/msg.h"

static const char *const groups[] = { "easy-ham-1", "hard-ham-1", "spam-1" };

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long l = 0;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (l = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)l + 1)) != NULL &&
	    fread(p, 1, (size_t)l, f) != (size_t)l) {
		free(p);
		p = NULL;
	}
	*len = (size_t)l;
	fclose(f);
	return p;
}

static void
check_one(const char *path, size_t *nparts, size_t *nuris, size_t *nrel)
{
	size_t len = 0, n;
	unsigned char *raw = slurp(path, &len);
	struct msg *m;

	if (raw == NULL)
		fail_msg("%s: cannot read", path);
	if (msg_parse(raw, len, NULL, &m) != 0)
		fail_msg("%s: parse failed", path);
	struct bstr b = msg_body_text(m);

	if (!msg__utf8_valid(b.p, b.len))
		fail_msg("%s: body view is not UTF-8", path);
	msg_body_lines(m, &n);
	if (n < 1)
		fail_msg("%s: no body lines", path);
	if (msg_part_count(m) < 1 || msg_part_at(m, 0)->parent != -1)
		fail_msg("%s: no root part", path);
	for (size_t i = 1; i < msg_part_count(m); i++) {
		const struct msg_part *p = msg_part_at(m, i);

		if (p->parent < 0 || (size_t)p->parent >= i ||
		    p->depth != msg_part_at(m, (size_t)p->parent)->depth + 1)
			fail_msg("%s: part %zu badly linked", path, i);
		if (p->is_text && !msg__utf8_valid(p->text.p, p->text.len))
			fail_msg("%s: part %zu text not UTF-8", path, i);
	}
	*nparts += msg_part_count(m);
	const struct msg_uri *u = msg_uris(m, &n);

	for (size_t i = 0; i < n; i++)
		if (u[i].uri.len == 0)
			fail_msg("%s: empty URI", path);
	*nuris += n;
	const struct msg_relay *r = msg_relays(m, &n);

	for (size_t i = 0; i < n; i++)
		if (r[i].parsed && !r[i].has_ip)
			fail_msg("%s: parsed relay without address", path);
	*nrel += n;
	if (msg_header_count(m) == 0)
		fail_msg("%s: no headers", path);
	msg_free(m);
	free(raw);
}

static void
test_corpus(void **state)
{
	(void)state;
	size_t msgs = 0, parts = 0, uris = 0, relays = 0;

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		char dir[256], path[512];
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "corpus/data/%s", groups[g]);
		if ((d = opendir(dir)) == NULL) {
			print_message("corpus %s missing (run corpus/fetch.sh)"
			    "\n", dir);
			skip();
		}
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			check_one(path, &parts, &uris, &relays);
			msgs++;
		}
		closedir(d);
	}
	print_message("corpus: %zu messages, %zu parts, %zu uris, %zu relays"
	    "\n", msgs, parts, uris, relays);
	/* the 2002 sets hold 3250 messages; all of them must have parsed */
	assert_true(msgs >= 3000);
	assert_true(parts >= msgs);
	assert_true(relays >= msgs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
