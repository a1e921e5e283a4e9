/* dmarcrec_fuzz - plugins/dmarc.c record parser (and, for a record that
 * parses, the policy discovery that uses it). */
#include <stddef.h>
#include <stdint.h>

#include "plugins/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	enum dmarc_verdict v = dmarc_record_parse(bstr_make(data, size), &r);

	/* Values stay within their domains whatever the input. */
	if (v <= DMARC_REC_NONE_VIA_RUA &&
	    (r.pct > 100 || (r.adkim != 'r' && r.adkim != 's') ||
		(r.aspf != 'r' && r.aspf != 's') || r.p > DMARC_P_REJECT ||
		r.sp > DMARC_P_REJECT))
		__builtin_trap();
	return 0;
}
