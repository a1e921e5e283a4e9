/*
 * conf_fuzz - libFuzzer target:
 *   filterd.conf itself (filterd/cfg.c cfg_load: "key = value" lines,
 *   comments, sizes, times, addresses, lists), fed through a memfd
 *   (/proc/self/fd/N); a config that loads is printed back
 *   (filterd -n) into a second memfd and must load again to the same
 *   text: what cfg_print writes, cfg_load reads.
 * make check replays tests/fuzz/conf/ with replay_main.c.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* print - cfg_print's text of c (every key), malloc'd */
static char *
print(const struct cfg *c, size_t *len)
{
	char *p = NULL;
	FILE *f = open_memstream(&p, len);

	if (f == NULL)
		return NULL;
	cfg_print(c, f, false);
	fclose(f);
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct cfg *cfg, *again;
	char *t1, *t2;
	size_t l1 = 0, l2 = 0;
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	if (cfg_load(path, &cfg, err, sizeof(err)) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	if ((t1 = print(cfg, &l1)) == NULL)
		goto out;
	if ((fd = fuzz_memfd((const uint8_t *)t1, l1, path, sizeof(path))) <
	    0) {
		free(t1);
		goto out;
	}
	if (cfg_load(path, &again, err, sizeof(err)) < 0) {
		fprintf(stderr, "printed config does not load: %s\n", err);
		abort();
	}
	if ((t2 = print(again, &l2)) == NULL || l1 != l2 ||
	    memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "printed config loads to another text\n");
		abort();
	}
	free(t2);
	cfg_free(again);
	close(fd);
	free(t1);
out:
	cfg_free(cfg);
	return 0;
}
