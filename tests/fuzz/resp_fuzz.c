/* tests/fuzz/resp_fuzz.c: libFuzzer target for core/resp.c, which frames the
 * daemon's responses. Beyond "no crash": the tracker reaches the same verdicts
 * at the same offsets whether the stream arrives whole or one byte at a time.
 * The first input byte picks the outstanding requests (HEAD / upgrade flags).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct verdicts {
	size_t at[64];
	int what[64];
	unsigned n;
};

/* Run the tracker over data in pieces of `step` bytes (0: whole), holding a
 * partial head the way the engine does (present it again with more after). */
static void track(const uint8_t *data, size_t len, uint8_t flags, size_t step,
		  struct verdicts *v)
{
	struct resp_tracker t;
	size_t off = 0, avail_end = 0, used;
	int status;

	resp_tracker_init(&t);
	for (unsigned i = 0; i < 4; i++)
		CHECK(resp_tracker_push(&t, flags & (1u << i), flags & (16u << i)) == 0);
	v->n = 0;
	while (off < len && v->n < 64) {
		enum resp_track r;

		if (avail_end <= off)
			avail_end = off;
		avail_end = step ? avail_end + step : len;
		if (avail_end > len)
			avail_end = len;
		r = resp_tracker_feed(&t, (const char *)data + off, avail_end - off, &used, &status);
		CHECK(used <= avail_end - off);
		off += used;
		if (r == RESP_TRACK_MORE) {
			if (avail_end == len && off < len)
				break;      /* partial head at the end: nothing more comes */
			continue;
		}
		v->at[v->n] = off;
		v->what[v->n++] = (int)r;
		if (r == RESP_TRACK_ERROR || r == RESP_TRACK_TUNNEL)
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdicts whole, bytewise;
	struct resp_head h;
	char *copy;

	if (size < 1)
		return 0;
	copy = malloc(size);
	CHECK(copy);
	memcpy(copy, data + 1, size - 1);
	(void)resp_head_parse(copy, size - 1, data[0] & 1, data[0] & 2, &h);
	track((const uint8_t *)copy, size - 1, data[0], 0, &whole);
	track((const uint8_t *)copy, size - 1, data[0], 1, &bytewise);
	CHECK(whole.n == bytewise.n);
	for (unsigned i = 0; i < whole.n; i++) {
		CHECK(whole.what[i] == bytewise.what[i]);
		if (whole.what[i] != RESP_TRACK_ERROR)
			CHECK(whole.at[i] == bytewise.at[i]);
	}
	free(copy);
	return 0;
}
