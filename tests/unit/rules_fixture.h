/*
 * rules_fixture.h - the cmocka group fixture the rules unit tests share:
 * setup() loads the including file's rules_cf[] (define it before the
 * #include) into fx.rs, teardown() frees it. Test functions get the
 * struct fx through *state. check_names() fails the test when a name of
 * a space-separated list did (want false) or did not (want true) fire.
 */
#ifndef RULES_FIXTURE_H
#define RULES_FIXTURE_H

struct fx {
	struct rule_set *rs;
};

static int
setup(void **state)
{
	static struct fx fx;
	struct rule_err e;

	fx.rs = rule_set_load_mem(rules_cf, sizeof(rules_cf) - 1, "t.cf", &e);
	if (fx.rs == NULL)
		return -1;
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	rule_set_free(fx->rs);
	return 0;
}

static inline void
check_names(const struct hits *h, const char *names, bool want, size_t ci)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", names);
	for (char *t = strtok_r(buf, " ", &save); t != NULL;
	     t = strtok_r(NULL, " ", &save))
		if (hits_has(h, t) != want) {
			print_error("case %zu: %s %s\n", ci, t,
			    want ? "did not fire" : "fired");
			fail();
		}
}

#endif
