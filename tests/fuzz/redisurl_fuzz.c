/*
 * redisurl_fuzz - libFuzzer target:
 *   the Redis store URL (bayes_store = redis://[[user]:password@]host...)
 *   through bayes__redis_url and bayes_store_redact. A parsed URL's parts
 *   fit their buffers; a redacted spec never holds a parsed password that
 *   the rest of the spec does not hold too.
 * make check replays tests/fuzz/redisurl/ and corpus/regress/redisurl/
 * with replay_main.c; make fuzz runs it under libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bayes_redis_url u;
	char *s, out[1200];

	if (size > 1000 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	bayes_store_redact(s, out, sizeof(out));
	if (strlen(out) > strlen(s) + 3)
		abort();
	if (bayes__redis_url(s, &u) == 0) {
		if (strlen(u.host) >= sizeof(u.host) ||
		    strlen(u.pass) >= sizeof(u.pass) || u.port <= 0 ||
		    u.port > 65535 || u.db < 0 || u.db > 1000)
			abort();
		/* the password (as written, between ':' and '@') is gone */
		const char *at = strchr(s + 8, '@');
		const char *colon = at ? memchr(s + 8, ':', (size_t)(at - s - 8))
				       : NULL;
		if (u.pass[0] != '\0' && colon != NULL &&
		    strstr(out, "***@") == NULL)
			abort();
	}
	free(s);
	return 0;
}
