/*
 * prodcfg_fuzz - libFuzzer target:
 *   the production config files: the recipient_policy map and the
 *   policy_banks file (filterd/policy.c) and the welcome/block list
 *   directives in rule files (filterd/check_wblist.c), each fed the input
 *   through a memfd (/proc/self/fd/N)
 * make check replays tests/fuzz/prodcfg/ with replay_main.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "tests/fuzz/fuzz_memfd.h"
#include "filterd/checks.h"
#include "filterd/policy.h"
#include "filterd/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct check *const wb[] = { &check_wblist, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct cfg *cfg;
	struct checks *ck;
	struct policy *p = NULL;
	const char *keys[] = { "recipient_policy", "policy_banks" };

	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	for (size_t k = 0; k < 2; k++) {
		if ((cfg = cfg_new()) == NULL)
			break;
		if (cfg_set(cfg, keys[k], path, err, sizeof(err)) == 0 &&
		    cfg_set(cfg, "use_dnsbl", "no", err, sizeof(err)) == 0 &&
		    (ck = checks_init_table(cfg, wb, err, sizeof(err)))) {
			if (policy_load(cfg, ck, &p, err, sizeof(err)) == 0 &&
			    p) {
				static const char *const r[] = { "a@b.test",
					"X@Y.Z", "@", "" };
				struct envelope env = { .client_addr =
					"127.0.0.1", .proto = "ESMTPA" };
				const struct policy_bank *b =
				    policy_bank_for(p, &env, 25);
				struct policy_group *g;
				size_t ng;

				if (b && policy_groups(p, b, r, 4, &g, &ng) == 0)
					policy_groups_free(g, ng);
				policy_free(p);
			}
			checks_free(ck);
		}
		cfg_free(cfg);
	}
	/* the same bytes as a rule file for the welcome/block lists */
	if ((cfg = cfg_new()) != NULL) {
		if (cfg_set(cfg, "rules_dir", path, err, sizeof(err)) == 0 &&
		    cfg_set(cfg, "rules_local", "", err, sizeof(err)) == 0 &&
		    (ck = checks_init_table(cfg, wb, err, sizeof(err))))
			checks_free(ck);
		cfg_free(cfg);
	}
	close(fd);
	return 0;
}
