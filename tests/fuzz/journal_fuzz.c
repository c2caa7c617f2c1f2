/* tests/fuzz/journal_fuzz.c: libFuzzer target for cmd/journal.c's reader
 * of the state file, applied as state.c applies it (each record decoded as
 * a control frame). Beyond "no crash": a good file is read whole or up to a
 * tail that is then dropped, and nothing else (valid + dropped = the file);
 * and reading just the part kept gives the same records and drops nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "journal.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static struct ctl_request req;

struct seen {
	size_t n;
	uint32_t crc;     /* over the records' bytes, in order */
};

static int apply(void *ud, const uint8_t *p, size_t n)
{
	struct seen *s = ud;

	if (ctl_request_decode(p, n, &req) != (int)n ||
	    (req.op != CTL_OP_SPAWN && req.op != CTL_OP_TEARDOWN))
		return -EBADMSG;
	s->n++;
	s->crc = journal_crc(s->crc, p, n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_scan a, b;
	struct seen sa = { 0 }, sb = { 0 };
	int ret = journal_scan(data, size, CTL_REQ_MAX, apply, &sa, &a);

	CHECK(ret == 0 || ret == -EBADMSG);
	if (ret < 0) {
		CHECK(a.why != NULL);
		return 0;
	}
	CHECK(a.valid + a.dropped == size);
	CHECK(a.records == sa.n);
	CHECK(a.version == 1 || a.version == 2);
	CHECK(a.version == 2 || a.dropped == 0);
	/* What was kept reads back alone, the same, with nothing to drop. */
	ret = journal_scan(data, a.valid, CTL_REQ_MAX, apply, &sb, &b);
	CHECK(ret == 0 && b.dropped == 0 && sb.n == sa.n && sb.crc == sa.crc);
	return 0;
}
