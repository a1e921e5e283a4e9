/* dmarcreport_fuzz - plugins/dmarc_report.c: format sniffing, gzip and zip
 * (central directory, stored/deflate, CRC) and the report XML reader on
 * arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "plugins/dmarc_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_report *rp = NULL;
	char err[256];
	unsigned long n = 0;

	if (dmarc_report_parse(data, size, &rp, err, sizeof(err)) == 0) {
		/* touch every row: the reader must have bounded them */
		for (size_t i = 0; i < rp->nrows; i++)
			n += rp->rows[i].count + rp->rows[i].ndkim +
			    rp->rows[i].nspf;
		(void)n;
	}
	dmarc_report_free(rp);
	return 0;
}
