/* tests/fuzz/http_fuzz.c: libFuzzer target for core/http.c, the code that
 * reads container bytes. Beyond "no crash", it checks properties: a parsed
 * head rewrites into a head that parses the same way, spans stay inside the
 * head, and the chunked framer gives the same verdict whole or byte by byte
 * (the request framer too, fed as the ring feeds it, and never looser).
 * The hijack verdict (core/hijack.c) must be the same for the head dockerd
 * sees (the rewrite) as for the one it was judged on. Isolation: a re-framed
 * head with another target parses with exactly the caller's framing, the
 * router's verdict on any normalised target is well formed, and a chunked
 * body the request framer ended decodes.
 * Build: clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *        -Icore core/http.c core/chunked.c core/policy.c core/hijack.c
 *        tests/fuzz/http_fuzz.c -o http_fuzz
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "hijack.h"
#include "http.h"
#include "isoroute.h"
#include "policy.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static const char inject[] = "Authorization: Bearer fuzz-token\r\n";

static void span_inside(struct http_span sp, size_t head_len)
{
	CHECK((size_t)sp.off + sp.len <= head_len);
}

/* A copy of exactly len bytes so ASan sees any read past the input. */
static char *dup_exact(const uint8_t *data, size_t len)
{
	char *p = malloc(len ? len : 1);

	CHECK(p);
	if (len)
		memcpy(p, data, len);
	return p;
}

/* Tenant isolation's view of a parsed head: the router and the re-framing. */
static void fuzz_isolation(const char *buf, const struct http_head *h)
{
	static const char frame[] = "Content-Length: 5\r\n";
	static char path[POLICY_MAX_PATH], out[HTTP_DEFAULT_MAX_HEAD * 2];
	static struct http_head h2;
	const char *t = buf + h->target.off, *q = memchr(t, '?', h->target.len);
	struct http_rewrite rw = { .inject = frame, .inject_len = sizeof(frame) - 1,
				   .target = "/x?y", .target_len = 4, .reframe = true };
	struct http_limits big = { .max_line = sizeof(out), .max_head = sizeof(out) };
	struct isoroute r;
	ssize_t n;

	if (policy_normalize(t, h->target.len, path, sizeof(path)) == 0) {
		isoroute_classify(buf + h->method.off, h->method.len, path, q ? q + 1 : "",
				  q ? h->target.len - (size_t)(q - t) - 1 : 0, &r);
		CHECK(r.route);
		CHECK(r.object == ISOROUTE_OBJ_NONE || r.name_off + r.name_len <= strlen(path));
		if (r.action == ISOROUTE_REFUSE) {
			CHECK(r.msg && !strncmp(r.msg, "dockmux", 7));
			CHECK(r.status == 400 || r.status == 403 || r.status == 503);
		} else {
			CHECK(!r.msg && r.route[0]);
		}
	}
	n = http_head_rewrite_ex(buf, h, &rw, out, sizeof(out));
	CHECK(n > 0);
	CHECK(http_head_parse(out, (size_t)n, &big, &h2) == HTTP_PARSE_DONE);
	CHECK(h2.head_len == (size_t)n);
	CHECK(h2.body == HTTP_BODY_LENGTH && h2.content_length == 5);
	CHECK(h2.target.len == 4 && !memcmp(out + h2.target.off, "/x?y", 4));
	for (unsigned i = 0; i < h2.nheaders; i++)
		CHECK(!http_name_is(out, h2.headers[i].name, "expect", 6) &&
		      !http_name_is(out, h2.headers[i].name, "trailer", 7));
}

static void fuzz_head(const char *buf, size_t len, const struct http_limits *lim)
{
	static struct http_head h, h2;
	static char out[HTTP_DEFAULT_MAX_HEAD + sizeof(inject) + 64];
	size_t max_head = lim ? lim->max_head : HTTP_DEFAULT_MAX_HEAD;
	enum http_parse r = http_head_parse(buf, len, lim, &h);
	ssize_t n;

	if (r == HTTP_PARSE_MORE) {
		CHECK(len < max_head);
		return;
	}
	if (r == HTTP_PARSE_ERROR) {
		CHECK(h.reason && h.reason[0]);
		CHECK(h.status == 400 || h.status == 405 || h.status == 431 || h.status == 501 ||
		      h.status == 505);
		n = http_error_format(h.status, h.reason, out, sizeof(out));
		CHECK(n > 0);
		return;
	}
	CHECK(r == HTTP_PARSE_DONE);
	CHECK(h.head_len <= len && h.head_len <= max_head);
	CHECK(h.minor == 0 || h.minor == 1);
	CHECK(h.nheaders <= HTTP_MAX_HEADERS);
	span_inside(h.method, h.head_len);
	span_inside(h.target, h.head_len);
	for (unsigned i = 0; i < h.nheaders; i++) {
		span_inside(h.headers[i].name, h.head_len);
		span_inside(h.headers[i].value, h.head_len);
	}

	n = http_head_rewrite(buf, &h, "Authorization", 13, inject, sizeof(inject) - 1,
			      out, sizeof(out));
	CHECK(n > 0);
	/* Too small by one byte must fail cleanly. */
	CHECK(http_head_rewrite(buf, &h, "Authorization", 13, inject, sizeof(inject) - 1,
				out, (size_t)n - 1) == -ENOSPC);

	/* The rewritten head must frame the request exactly as the original:
	 * otherwise dockmux and dockerd could disagree about the body. The
	 * rewrite can only shrink a head (trimmed whitespace, skipped CRLFs)
	 * or add the inject line, so default limits plus slack always fit. */
	unsigned kept = 0;

	for (unsigned i = 0; i < h.nheaders; i++)
		kept += !http_name_is(buf, h.headers[i].name, "authorization", 13);
	/* One more header than the parser allows: nothing to compare. */
	if (kept == HTTP_MAX_HEADERS)
		return;
	{
		struct http_limits big = { .max_line = HTTP_DEFAULT_MAX_HEAD * 2,
					   .max_head = HTTP_DEFAULT_MAX_HEAD * 2 };
		char *copy = dup_exact((const uint8_t *)out, (size_t)n);
		unsigned auth = 0;

		CHECK(http_head_parse(copy, (size_t)n, &big, &h2) == HTTP_PARSE_DONE);
		CHECK(h2.head_len == (size_t)n);
		CHECK(h2.minor == h.minor);
		CHECK(h2.body == h.body);
		CHECK(h2.body != HTTP_BODY_LENGTH || h2.content_length == h.content_length);
		CHECK(h2.upgrade == h.upgrade);
		CHECK(h2.close == h.close);
		CHECK(hijack_request_may(copy, &h2) == hijack_request_may(buf, &h));
		CHECK(!h.upgrade || hijack_request_may(buf, &h));
		for (unsigned i = 0; i < h2.nheaders; i++)
			auth += http_name_is(copy, h2.headers[i].name, "authorization", 13);
		CHECK(auth == 1);
		free(copy);
	}
	fuzz_isolation(buf, &h);
}

static void fuzz_chunked(const char *buf, size_t len)
{
	struct http_chunked whole, bytes;
	enum http_chunk rw, rb = HTTP_CHUNK_MORE;
	size_t used_w, used, at = 0;

	http_chunked_init(&whole);
	rw = http_chunked_feed(&whole, buf, len, &used_w);
	CHECK(used_w <= len);
	if (rw == HTTP_CHUNK_MORE)
		CHECK(used_w == len);

	/* Byte at a time must agree on the verdict and on the boundary. */
	http_chunked_init(&bytes);
	while (at < len && rb == HTTP_CHUNK_MORE) {
		rb = http_chunked_feed(&bytes, buf + at, 1, &used);
		CHECK(used <= 1);
		at += used;
	}
	CHECK(rb == rw);
	CHECK(at == used_w);
}

/* The request framer as the ring drives it: bytes it did not use are kept and
 * fed again with the next piece of step bytes. *fwd: bytes let through. */
static enum http_chunk feed_request(const char *buf, size_t len, size_t hold, size_t step,
				    size_t *fwd)
{
	struct http_chunked c;
	enum http_chunk r = HTTP_CHUNK_MORE;
	size_t start = 0, end = 0, used;

	http_chunked_init_request(&c, "X-Token", 7, hold);
	while (r == HTTP_CHUNK_MORE && end < len) {
		end = end + step < len ? end + step : len;
		r = http_chunked_feed(&c, buf + start, end - start, &used);
		CHECK(used <= end - start);
		/* A held rest is the start of one trailer line, shorter than hold. */
		if (r == HTTP_CHUNK_MORE)
			CHECK(end - start - used < hold);
		start += used;
	}
	if (r == HTTP_CHUNK_ERROR)
		CHECK(http_chunked_reason(&c)[0]);
	*fwd = start;
	return r;
}

/* Request framing agrees however the bytes arrive, and is never looser than
 * the response framer's: what it ends, that one ends at the same byte. */
static void fuzz_chunked_request(const char *buf, size_t len, size_t hold)
{
	struct http_chunked resp;
	enum http_chunk rw, r1, r7, rr;
	size_t fw, f1, f7, used;

	rw = feed_request(buf, len, hold, len ? len : 1, &fw);
	r1 = feed_request(buf, len, hold, 1, &f1);
	r7 = feed_request(buf, len, hold, 7, &f7);
	CHECK(rw == r1 && rw == r7);
	CHECK(fw == f1 && fw == f7);
	http_chunked_init(&resp);
	rr = http_chunked_feed(&resp, buf, len, &used);
	if (rw == HTTP_CHUNK_DONE)
		CHECK(rr == HTTP_CHUNK_DONE && used == fw);
	if (rr == HTTP_CHUNK_ERROR)
		CHECK(rw != HTTP_CHUNK_DONE);
	if (rw == HTTP_CHUNK_DONE) {
		/* What isolation reads whole it decodes: never more than it got. */
		char *copy = dup_exact((const uint8_t *)buf, fw);
		size_t dlen = 0;

		CHECK(http_chunked_decode(copy, fw, &dlen) == 0);
		CHECK(dlen <= fw);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = dup_exact(data, size);
	struct http_limits small = { .max_line = 64, .max_head = 256 };

	fuzz_head(buf, size, NULL);
	fuzz_head(buf, size, &small);
	fuzz_chunked(buf, size);
	fuzz_chunked_request(buf, size, HTTP_CHUNK_MAX_LINE + 2);
	fuzz_chunked_request(buf, size, 64);

	/* Errors answer with static reasons, but the JSON escaper must cope
	 * with any message: feed it the input as a C string. */
	if (size < 4096) {
		static char out[4096 * 6 + 256];
		char *msg = malloc(size + 1);

		CHECK(msg);
		if (size)
			memcpy(msg, data, size);
		msg[size] = '\0';
		CHECK(http_error_format(400, msg, out, sizeof(out)) > 0);
		free(msg);
	}
	free(buf);
	return 0;
}
