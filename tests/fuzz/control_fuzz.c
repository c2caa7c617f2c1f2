/* tests/fuzz/control_fuzz.c: libFuzzer target for cmd/control.c, the
 * control protocol's decoders, which read whatever a control client (or,
 * on the client side, the daemon) sends. Beyond "no crash": the input is a
 * stream of pipelined request frames, decoded the way the daemon does
 * (ctl_conn: decode from the front, consume, repeat); every frame decoded
 * re-encodes to exactly its bytes; every proper prefix of a frame asks for
 * more; an error never turns into success with more bytes; the reply side
 * (heads, pages, the failed-commit rewrite) stays within its bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static struct ctl_request req, again;
static uint8_t enc[CTL_REQ_MAX];
static struct dmx_entry entries[CTL_PAGE_MAX];

/* One frame at data: its verdict, with the prefix rules checked. */
static int frame(const uint8_t *data, size_t size)
{
	int n = ctl_request_decode(data, size, &req), m;

	CHECK(n <= (int)size && n <= CTL_REQ_MAX);
	if (n > 0) {
		/* The canonical encoding: what was decoded is what was sent. */
		m = ctl_request_encode(&req, enc, sizeof(enc));
		CHECK(m == n);
		CHECK(memcmp(enc, data, (size_t)n) == 0);
		CHECK(ctl_request_size(&req) == n);
		/* Every proper prefix wants more (sampled: the cost is quadratic). */
		for (int k = 0; k < n; k += 1 + n / 64) {
			m = ctl_request_decode(data, (size_t)k, &again);
			CHECK(m == 0);
		}
	} else if (n < 0) {
		/* An error is final: more bytes cannot repair it. */
		uint8_t *more = malloc(size + 64);

		memcpy(more, data, size);
		memset(more + size, 0x41, 64);
		CHECK(ctl_request_decode(more, size + 64, &again) == n);
		free(more);
	}
	return n;
}

static void replies(const uint8_t *data, size_t size)
{
	struct dmx_list_cursor cur;
	int st, n;
	size_t plen;

	if (size >= CTL_REPLY_HEAD && ctl_reply_head_decode(data, &st, &plen) == 0) {
		CHECK(st <= 0 && st >= -CTL_ERRNO_MAX && plen <= CTL_PAYLOAD_MAX);
		CHECK(st == 0 || plen == 0);
	}
	n = ctl_page_decode(data, size, &cur, entries, CTL_PAGE_MAX);
	if (n >= 0) {
		static uint8_t out[1 << 20];
		int m;

		CHECK(ctl_page_decode(data, size, &cur, NULL, 0) == n);
		/* Within the page we asked for: re-encoding gives the bytes back. */
		if (n <= CTL_PAGE_MAX) {
			m = ctl_page_encode(&cur, entries, (size_t)n, out, sizeof(out));
			CHECK(m == (int)size && memcmp(out, data, size) == 0);
		}
	}
	n = ctl_path_decode(data, size, (char *)enc, sizeof(enc));
	CHECK(n == 0 || n == -EBADMSG);
	if (size) {
		uint8_t *copy = malloc(size);

		memcpy(copy, data, size);
		n = ctl_replies_fail(copy, size, -EIO);
		CHECK(n == -EBADMSG || (n >= 0 && (size_t)n <= size && n % CTL_REPLY_HEAD == 0));
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	/* Pipelined requests, consumed from the front as the daemon does. */
	while (off < size) {
		int n = frame(data + off, size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	replies(data, size);
	return 0;
}
