/*
 * evals_fuzz - libFuzzer target: every built-in eval function (rules/
 * evals*.c: SA's HeaderEval, RelayEval, FreeMail, HTMLEval, MIMEEval,
 * BodyEval ...) on an arbitrary message. The evals read dates, Received
 * lines, addresses, HTML facts and MIME structure the message model
 * derived from hostile input; none may crash, hang or read out of
 * bounds. The rules are SA's own calls with SA's arguments
 * (evals_cf.h, tests/fuzz/gen_evals_cf.sh).
 * make check replays tests/fuzz/evals/ with replay_main.c; make fuzz runs
 * it under libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "util/hits.h"

#include "evals_cf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rule_set *rs;
	struct msg_opts o = { .max_parts = 64, .max_depth = 6,
		.max_body_text = 65536 };
	struct rule_err err;
	struct hits *h;
	struct msg *m;

	if (rs == NULL &&
	    (rs = rule_set_load_mem(evals_cf, sizeof(evals_cf) - 1, "f.cf",
		 &err)) == NULL)
		abort(); /* the generated rules must load */
	if (size > 1u << 20 || msg_parse(data, size, &o, &m) < 0)
		return 0;
	if ((h = hits_new(msg_arena(m))) != NULL)
		(void)rule_set_check(rs, m, h);
	msg_free(m);
	return 0;
}
