/* tests/core_chunked.c: the chunked body framer (core/chunked.c): valid
 * bodies end exactly at their last byte whether fed whole, bytewise or split
 * anywhere; malformed framing, oversized lines and trailers fail; a request's
 * token-named, hop-by-hop and framing trailer fields are refused before any
 * of their bytes is let through. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "http.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The request after a body must parse as one: the framer stopped exactly. */
static enum http_parse parse_n(const char *s, size_t n, const struct http_limits *lim)
{
	struct http_head head;

	return http_head_parse(s, n, lim, &head);
}

/* ---- chunked framer ------------------------------------------------------- */

static const char next_request[] = "GET /next HTTP/1.1\r\n\r\n";

struct chunked_case {
	const char *name;
	const char *body;
	size_t len;
};

#define C(name, body) { name, body, sizeof(body) - 1 }

static const struct chunked_case chunked_valid[] = {
	C("single chunk", "5\r\nhello\r\n0\r\n\r\n"),
	C("several chunks", "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n"),
	C("upper and lower hex", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n"),
	C("leading zeros", "0005\r\nhello\r\n000\r\n\r\n"),
	C("sixteen digits", "000000000000000A\r\n0123456789\r\n0000000000000000\r\n\r\n"),
	C("empty body", "0\r\n\r\n"),
	C("extension", "5;name=value\r\nhello\r\n0;last\r\n\r\n"),
	C("quoted extension", "5;n=\"a;b \\\" c\"\r\nhello\r\n0\r\n\r\n"),
	C("extension with BWS", "5 ;a = b\r\nhello\r\n0\t; x\r\n\r\n"),
	C("trailers", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n"),
	C("data containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n"),
	C("data looking like end", "5\r\n0\r\n\r\n\r\n0\r\n\r\n"),
	C("binary data", "3\r\n\0\n\r\r\n0\r\n\r\n"),
};

static void check_chunked_whole(const char *body, size_t blen, const char *name)
{
	char buf[512];
	struct http_chunked c;
	size_t used = 99;

	memcpy(buf, body, blen);
	memcpy(buf + blen, next_request, sizeof(next_request) - 1);
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, buf, blen + sizeof(next_request) - 1, &used),
		     HTTP_CHUNK_DONE, "%s", name);
	cr_assert_eq(used, blen, "%s: used %zu", name, used);
	/* Whatever follows is the next request, untouched. */
	cr_assert_eq(parse_n(buf + used, sizeof(next_request) - 1, NULL), HTTP_PARSE_DONE);
	/* Done stays done and consumes nothing more. */
	cr_assert_eq(http_chunked_feed(&c, buf + used, 5, &used), HTTP_CHUNK_DONE);
	cr_assert_eq(used, 0);
}

static void check_chunked_bytewise(const char *body, size_t blen, const char *name)
{
	struct http_chunked c;
	size_t used;

	http_chunked_init(&c);
	for (size_t i = 0; i < blen; i++) {
		enum http_chunk r = http_chunked_feed(&c, body + i, 1, &used);

		if (i + 1 < blen) {
			cr_assert_eq(r, HTTP_CHUNK_MORE, "%s: byte %zu", name, i);
		} else {
			cr_assert_eq(r, HTTP_CHUNK_DONE, "%s: last byte", name);
		}
		cr_assert_eq(used, 1);
	}
}

static void check_chunked_split(const char *body, size_t blen, const char *name)
{
	for (size_t cut = 0; cut <= blen; cut++) {
		struct http_chunked c;
		char buf[512];
		size_t used, total = blen + sizeof(next_request) - 1;

		memcpy(buf, body, blen);
		memcpy(buf + blen, next_request, sizeof(next_request) - 1);
		http_chunked_init(&c);
		if (cut < blen) {
			cr_assert_eq(http_chunked_feed(&c, buf, cut, &used), HTTP_CHUNK_MORE, "%s cut %zu", name, cut);
			cr_assert_eq(used, cut);
			cr_assert_eq(http_chunked_feed(&c, buf + cut, total - cut, &used), HTTP_CHUNK_DONE,
				     "%s cut %zu", name, cut);
			cr_assert_eq(cut + used, blen, "%s cut %zu", name, cut);
		}
	}
}

Test(chunked, frames_valid_bodies_and_stops_at_the_boundary)
{
	for (size_t i = 0; i < N_ELEMS(chunked_valid); i++) {
		const char *body = chunked_valid[i].body;
		size_t blen = chunked_valid[i].len;

		check_chunked_whole(body, blen, chunked_valid[i].name);
		check_chunked_bytewise(body, blen, chunked_valid[i].name);
		check_chunked_split(body, blen, chunked_valid[i].name);
	}
}

Test(chunked, large_chunk_reports_more_until_done)
{
	struct http_chunked c;
	char data[4096];
	size_t used;

	memset(data, 'x', sizeof(data));
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "10000\r\n", 7, &used), HTTP_CHUNK_MORE);
	cr_assert_eq(c.remaining, 0x10000);
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(http_chunked_feed(&c, data, sizeof(data), &used), HTTP_CHUNK_MORE);
		cr_assert_eq(used, sizeof(data));
	}
	cr_assert_eq(c.remaining, 0);
	cr_assert_eq(http_chunked_feed(&c, "\r\n0\r\n\r\nGET", 10, &used), HTTP_CHUNK_DONE);
	cr_assert_eq(used, 7);
}

Test(chunked, accepts_largest_chunk_size)
{
	struct http_chunked c;
	size_t used;

	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "FFFFFFFFFFFFFFFF\r\nab", 20, &used), HTTP_CHUNK_MORE);
	cr_assert_eq(c.remaining, UINT64_MAX - 2);
}

static const struct chunked_case chunked_invalid[] = {
	C("empty size", "\r\nhello\r\n0\r\n\r\n"),
	C("invalid hex", "5g\r\nhello\r\n0\r\n\r\n"),
	C("not hex at all", "x\r\n"),
	C("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
	C("negative", "-5\r\nhello\r\n"),
	C("plus sign", "+5\r\nhello\r\n"),
	C("leading space", " 5\r\nhello\r\n"),
	C("trailing space without ext", "5 \r\nhello\r\n0\r\n\r\n"),
	C("seventeen digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"),
	C("overflow", "10000000000000000\r\n"),
	C("bare LF after size", "5\nhello\r\n0\r\n\r\n"),
	C("bare CR after size", "5\rhello\r\n0\r\n\r\n"),
	C("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"),
	C("bare LF after data", "5\r\nhello\n0\r\n\r\n"),
	C("CR without LF after data", "5\r\nhello\rX0\r\n\r\n"),
	C("data longer than size", "3\r\nhello\r\n0\r\n\r\n"),
	C("bare LF ext", "5;a\nhello\r\n0\r\n\r\n"),
	C("NUL in ext", "5;a\0\r\nhello\r\n"),
	C("bare LF final", "0\r\n\n"),
	C("bare LF trailer", "0\r\nX: a\n\r\n"),
	C("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"),
	C("trailer without name", "0\r\n: a\r\n\r\n"),
	C("trailer space before colon", "0\r\nX : a\r\n\r\n"),
	C("trailer control char", "0\r\nX: a\x01\r\n\r\n"),
	C("trailer without colon", "0\r\nGET / HTTP/1.1\r\n\r\n"),
};

Test(chunked, rejects_malformed_framing)
{
	for (size_t i = 0; i < N_ELEMS(chunked_invalid); i++) {
		const char *body = chunked_invalid[i].body;
		const char *name = chunked_invalid[i].name;
		size_t blen = chunked_invalid[i].len;
		struct http_chunked c;
		enum http_chunk r = HTTP_CHUNK_MORE;
		size_t used, err_at = 0;

		http_chunked_init(&c);
		cr_assert_eq(http_chunked_feed(&c, body, blen, &used), HTTP_CHUNK_ERROR, "%s", name);
		err_at = used;
		cr_assert_lt(err_at, blen, "%s", name);
		/* Errors stick. */
		cr_assert_eq(http_chunked_feed(&c, "0\r\n\r\n", 5, &used), HTTP_CHUNK_ERROR, "%s", name);
		cr_assert_eq(http_chunked_feed(&c, "", 0, &used), HTTP_CHUNK_ERROR, "%s", name);

		/* Same verdict at the same byte when fed one byte at a time. */
		http_chunked_init(&c);
		for (size_t j = 0; j < blen && r == HTTP_CHUNK_MORE; j++) {
			r = http_chunked_feed(&c, body + j, 1, &used);
			if (r == HTTP_CHUNK_ERROR) {
				cr_assert_eq(j, err_at, "%s", name);
				cr_assert_eq(used, 0);
			}
		}
		cr_assert_eq(r, HTTP_CHUNK_ERROR, "%s bytewise", name);
	}
}

static enum http_chunk feed_all(const char *s, size_t n, size_t *used)
{
	struct http_chunked c;

	http_chunked_init(&c);
	return http_chunked_feed(&c, s, n, used);
}

Test(chunked, limits_size_line_length)
{
	static char buf[HTTP_CHUNK_MAX_LINE + 64];
	size_t used, n;

	/* "1;" + 'x' * k: line of 2 + k bytes */
	memcpy(buf, "1;", 2);
	memset(buf + 2, 'x', HTTP_CHUNK_MAX_LINE - 2);
	n = HTTP_CHUNK_MAX_LINE;
	memcpy(buf + n, "\r\nZ\r\n0\r\n\r\n", 10);
	cr_assert_eq(feed_all(buf, n + 10, &used), HTTP_CHUNK_DONE);
	cr_assert_eq(used, n + 10);

	memset(buf + 2, 'x', HTTP_CHUNK_MAX_LINE - 1);
	n = HTTP_CHUNK_MAX_LINE + 1;
	memcpy(buf + n, "\r\nZ\r\n0\r\n\r\n", 10);
	cr_assert_eq(feed_all(buf, n + 10, &used), HTTP_CHUNK_ERROR);
	cr_assert_eq(used, HTTP_CHUNK_MAX_LINE);
}

Test(chunked, limits_trailer_line_and_count)
{
	static char buf[HTTP_CHUNK_MAX_TRAILER_BYTES * 2];
	size_t used, n = 0;

	/* One trailer line of exactly the limit, then one too long. */
	n = (size_t)sprintf(buf, "0\r\nX:");
	memset(buf + n, 'v', HTTP_CHUNK_MAX_LINE - 2);
	n += HTTP_CHUNK_MAX_LINE - 2;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	cr_assert_eq(feed_all(buf, n, &used), HTTP_CHUNK_DONE);
	cr_assert_eq(used, n);
	n = (size_t)sprintf(buf, "0\r\nX:");
	memset(buf + n, 'v', HTTP_CHUNK_MAX_LINE - 1);
	n += HTTP_CHUNK_MAX_LINE - 1;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	cr_assert_eq(feed_all(buf, n, &used), HTTP_CHUNK_ERROR);

	/* Trailer line count. */
	n = (size_t)sprintf(buf, "0\r\n");
	for (unsigned i = 0; i < HTTP_CHUNK_MAX_TRAILERS; i++)
		n += (size_t)sprintf(buf + n, "T%u: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	cr_assert_eq(feed_all(buf, n + 2, &used), HTTP_CHUNK_DONE);
	n += (size_t)sprintf(buf + n, "T: v\r\n\r\n");
	cr_assert_eq(feed_all(buf, n, &used), HTTP_CHUNK_ERROR);

	/* Total trailer bytes: HTTP_CHUNK_MAX_TRAILERS lines of a full line
	 * each would exceed the section limit. */
	n = (size_t)sprintf(buf, "0\r\n");
	for (unsigned i = 0; i < HTTP_CHUNK_MAX_TRAILER_BYTES / 1000 + 1; i++) {
		n += (size_t)sprintf(buf + n, "T:");
		memset(buf + n, 'v', 998);
		n += 998;
		n += (size_t)sprintf(buf + n, "\r\n");
	}
	n += (size_t)sprintf(buf + n, "\r\n");
	cr_assert_eq(feed_all(buf, n, &used), HTTP_CHUNK_ERROR);
}

Test(chunked, empty_feed_needs_more)
{
	struct http_chunked c;
	size_t used = 7;

	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "", 0, &used), HTTP_CHUNK_MORE);
	cr_assert_eq(used, 0);
}


/* ---- request bodies: trailer fields are judged before they pass ----------- */

#define TOKEN_NAME "Authorization"
#define HOLD_BIG (HTTP_CHUNK_MAX_LINE + 2)

static void init_request(struct http_chunked *c, const char *token_name, size_t hold)
{
	http_chunked_init_request(c, token_name, strlen(token_name), hold);
}

/* Feed s the way the ring does: bytes the framer did not use are kept and
 * fed again with the next piece (here: pieces of step bytes). Returns the
 * verdict; *fwd is the number of bytes let through (forwarded). */
static enum http_chunk feed_request(struct http_chunked *c, const char *s, size_t n, size_t step,
				    size_t *fwd)
{
	enum http_chunk r = HTTP_CHUNK_MORE;
	size_t start = 0, end = 0, used;

	*fwd = 0;
	while (r == HTTP_CHUNK_MORE && end < n) {
		end = end + step < n ? end + step : n;
		r = http_chunked_feed(c, s + start, end - start, &used);
		cr_assert_leq(used, end - start);
		start += used;
		*fwd = start;
	}
	return r;
}

static const char *const token_trailers[] = {
	"Authorization: Bearer FAKE",
	"authorization: Bearer FAKE",
	"AUTHORIZATION:Bearer FAKE",
	"AuThOrIzAtIoN: Bearer FAKE ",
	"authorization:",
};

Test(chunked, request_framer_refuses_the_token_header_in_trailers_in_any_case)
{
	for (size_t i = 0; i < N_ELEMS(token_trailers); i++) {
		char body[256];
		int n = snprintf(body, sizeof(body), "5\r\nhello\r\n0\r\nX-Ok: 1\r\n%s\r\n\r\n",
				 token_trailers[i]);
		size_t line = strstr(body, token_trailers[i]) - body;

		for (size_t step = 1; step <= (size_t)n; step++) {
			struct http_chunked c;
			size_t fwd;

			init_request(&c, TOKEN_NAME, HOLD_BIG);
			cr_expect_eq(feed_request(&c, body, (size_t)n, step, &fwd), HTTP_CHUNK_ERROR,
				     "%s, pieces of %zu", token_trailers[i], step);
			/* Not one byte of the field went through. */
			cr_expect_eq(fwd, line, "%s, pieces of %zu: %zu let through",
				     token_trailers[i], step, fwd);
			cr_expect_str_eq(http_chunked_reason(&c),
					 "chunked trailer field not allowed (token, framing or hop-by-hop)");
		}
	}
}

Test(chunked, request_framer_refuses_a_configured_token_header_name)
{
	static const char body[] = "0\r\nx-CONTAINER-token: FAKE\r\n\r\n";
	static const char auth[] = "0\r\nAuthorization: Bearer FAKE\r\n\r\n";
	struct http_chunked c;
	size_t used;

	init_request(&c, "X-Container-Token", HOLD_BIG);
	cr_expect_eq(http_chunked_feed(&c, body, sizeof(body) - 1, &used), HTTP_CHUNK_ERROR);
	cr_expect_eq(used, 3);
	/* Authorization stays refused whatever the token header is. */
	init_request(&c, "X-Container-Token", HOLD_BIG);
	cr_expect_eq(http_chunked_feed(&c, auth, sizeof(auth) - 1, &used), HTTP_CHUNK_ERROR);
	cr_expect_eq(used, 3);
}

Test(chunked, request_framer_refuses_hop_by_hop_and_framing_trailers)
{
	static const char *const names[] = {
		"Connection", "keep-alive", "Proxy-Connection", "Proxy-Authorization",
		"proxy-authenticate", "Proxy-Anything", "TE", "te", "Transfer-Encoding",
		"Upgrade", "Content-Length", "content-length", "Host", "HOST", "Trailer",
		"Content-Type", "Content-Encoding", "Content-Range", "Expect", "Max-Forwards",
		"Range",
	};

	for (size_t i = 0; i < N_ELEMS(names); i++) {
		char body[128];
		int n = snprintf(body, sizeof(body), "1\r\nx\r\n0\r\n%s: v\r\n\r\n", names[i]);
		struct http_chunked c;
		size_t used;

		init_request(&c, TOKEN_NAME, HOLD_BIG);
		cr_expect_eq(http_chunked_feed(&c, body, (size_t)n, &used), HTTP_CHUNK_ERROR,
			     "%s", names[i]);
		cr_expect_eq(used, 9, "%s", names[i]);
	}
}

Test(chunked, request_framer_passes_allowed_trailers_and_stops_at_the_boundary)
{
	static const struct chunked_case ok[] = {
		C("checksum", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"),
		C("several", "0\r\nX-A: 1\r\nDigest: sha-256=x\r\nServer-Timing: a;dur=1\r\n\r\n"),
		C("token-like names", "0\r\nX-Authorization: a\r\nAuthorization-Info: b\r\n"
				      "Proxy: c\r\nHosts: d\r\nTEx: e\r\n\r\n"),
		C("empty value", "0\r\nX-Other:\r\n\r\n"),
	};

	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		char buf[512];
		size_t total = ok[i].len + sizeof(next_request) - 1;

		memcpy(buf, ok[i].body, ok[i].len);
		memcpy(buf + ok[i].len, next_request, sizeof(next_request) - 1);
		for (size_t step = 1; step <= total; step++) {
			struct http_chunked c;
			size_t fwd;

			init_request(&c, TOKEN_NAME, HOLD_BIG);
			cr_expect_eq(feed_request(&c, buf, total, step, &fwd), HTTP_CHUNK_DONE,
				     "%s, pieces of %zu", ok[i].name, step);
			cr_expect_eq(fwd, ok[i].len, "%s, pieces of %zu", ok[i].name, step);
		}
	}
	/* Every body the response framer takes, the request framer takes too. */
	for (size_t i = 0; i < N_ELEMS(chunked_valid); i++) {
		struct http_chunked c;
		size_t fwd;

		init_request(&c, TOKEN_NAME, HOLD_BIG);
		cr_expect_eq(feed_request(&c, chunked_valid[i].body, chunked_valid[i].len, 1, &fwd),
			     HTTP_CHUNK_DONE, "%s", chunked_valid[i].name);
		cr_expect_eq(fwd, chunked_valid[i].len, "%s", chunked_valid[i].name);
	}
}

Test(chunked, request_framer_holds_an_incomplete_trailer_line)
{
	static const char head[] = "5\r\nhello\r\n0\r\nAuthoriz";
	static const char part[] = "5\r\nhello\r\n0\r\nX-Tr";
	static const char rest[] = "X-Trailer: ok\r\n\r\n";
	struct http_chunked c;
	size_t used;

	/* The framing before the trailer line passes; the line waits whole. */
	init_request(&c, TOKEN_NAME, HOLD_BIG);
	cr_expect_eq(http_chunked_feed(&c, head, sizeof(head) - 1, &used), HTTP_CHUNK_MORE);
	cr_expect_eq(used, 13);
	cr_expect_eq(http_chunked_feed(&c, "Authorization: x\r\n", 18, &used), HTTP_CHUNK_ERROR);
	cr_expect_eq(used, 0);

	init_request(&c, TOKEN_NAME, HOLD_BIG);
	cr_expect_eq(http_chunked_feed(&c, part, sizeof(part) - 1, &used), HTTP_CHUNK_MORE);
	cr_expect_eq(used, 13);
	cr_expect_eq(http_chunked_feed(&c, "X-Tr", 4, &used), HTTP_CHUNK_MORE);
	cr_expect_eq(used, 0);
	cr_expect_eq(http_chunked_feed(&c, rest, sizeof(rest) - 1, &used), HTTP_CHUNK_DONE);
	cr_expect_eq(used, sizeof(rest) - 1);

	/* The response framer does not hold: its bytes are the daemon's. */
	http_chunked_init(&c);
	cr_expect_eq(http_chunked_feed(&c, head, sizeof(head) - 1, &used), HTTP_CHUNK_MORE);
	cr_expect_eq(used, sizeof(head) - 1);
}

Test(chunked, request_framer_trailer_line_fits_what_the_caller_can_hold)
{
	char buf[128];
	struct http_chunked c;
	size_t used, n;

	/* hold 32: a line of 30 bytes plus CRLF fits, 31 does not. */
	n = (size_t)sprintf(buf, "0\r\nX:");
	memset(buf + n, 'v', 28);
	n += 28;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	init_request(&c, TOKEN_NAME, 32);
	cr_expect_eq(http_chunked_feed(&c, buf, n, &used), HTTP_CHUNK_DONE);
	cr_expect_eq(used, n);

	n = (size_t)sprintf(buf, "0\r\nX:");
	memset(buf + n, 'v', 29);
	n += 29;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	init_request(&c, TOKEN_NAME, 32);
	cr_expect_eq(http_chunked_feed(&c, buf, n, &used), HTTP_CHUNK_ERROR);
	/* ... and so does a line that has not ended within hold bytes. */
	init_request(&c, TOKEN_NAME, 32);
	cr_expect_eq(http_chunked_feed(&c, buf, 3 + 32, &used), HTTP_CHUNK_ERROR);
	cr_expect_eq(used, 3 + 31);   /* the 32nd byte, which is not the LF */
	cr_expect_str_eq(http_chunked_reason(&c), "chunked trailer line too long");
	init_request(&c, TOKEN_NAME, 32);
	cr_expect_eq(http_chunked_feed(&c, buf, 3 + 31, &used), HTTP_CHUNK_MORE);
	cr_expect_eq(used, 3);
}

Test(chunked, request_framer_rejects_what_the_response_framer_rejects)
{
	for (size_t i = 0; i < N_ELEMS(chunked_invalid); i++) {
		struct http_chunked c;
		size_t fwd;

		init_request(&c, TOKEN_NAME, HOLD_BIG);
		cr_expect_eq(feed_request(&c, chunked_invalid[i].body, chunked_invalid[i].len, 1, &fwd),
			     HTTP_CHUNK_ERROR, "%s", chunked_invalid[i].name);
		cr_expect_str_eq(http_chunked_reason(&c), "malformed chunked body");
	}
}

/* ---- decoding a framed body (tenant isolation inspects the data) ---------- */

struct decode_case {
	const char *body;
	size_t len;
	const char *data;
	size_t dlen;
};

#define D(body, data) { body, sizeof(body) - 1, data, sizeof(data) - 1 }

static const struct decode_case decode_cases[] = {
	D("5\r\nhello\r\n0\r\n\r\n", "hello"),
	D("5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n", "hello 0123456789"),
	D("0005\r\nhello\r\n000\r\n\r\n", "hello"),
	D("000000000000000A\r\n0123456789\r\n0000000000000000\r\n\r\n", "0123456789"),
	D("0\r\n\r\n", ""),
	D("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
	D("5;n=\"a;b \\\" c\"\r\nhello\r\n0\r\n\r\n", "hello"),
	D("5 ;a = b\r\nhello\r\n0\t; x\r\n\r\n", "hello"),
	D("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n", "hello"),
	D("4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"),
	D("5\r\n0\r\n\r\n\r\n0\r\n\r\n", "0\r\n\r\n"),
	D("3\r\n\0\n\r\r\n0\r\n\r\n", "\0\n\r"),
};

Test(chunked, decodes_a_framed_body_to_its_data_in_place)
{
	for (size_t i = 0; i < N_ELEMS(decode_cases); i++) {
		const struct decode_case *d = &decode_cases[i];
		struct http_chunked c;
		char buf[256];
		size_t used, n = 99;

		memcpy(buf, d->body, d->len);
		http_chunked_init_request(&c, "Authorization", 13, 4096);
		cr_assert_eq(http_chunked_feed(&c, buf, d->len, &used), HTTP_CHUNK_DONE, "case %zu", i);
		cr_assert_eq(used, d->len, "case %zu", i);
		cr_assert_eq(http_chunked_decode(buf, used, &n), 0, "case %zu", i);
		cr_assert_eq(n, d->dlen, "case %zu: %zu bytes", i, n);
		cr_assert_eq(memcmp(buf, d->data, n), 0, "case %zu", i);
	}
}

Test(chunked, decode_refuses_bytes_that_are_not_a_whole_body)
{
	static const char *const bad[] = {
		"", "5\r\nhel", "5\r\nhelloXY0\r\n\r\n", "zz\r\n", "5", "10000000000000000\r\n",
	};

	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		char buf[64];
		size_t n = 7;

		memcpy(buf, bad[i], strlen(bad[i]));
		cr_expect_eq(http_chunked_decode(buf, strlen(bad[i]), &n), -EINVAL, "%s", bad[i]);
		cr_expect_eq(n, 7, "out_len written on failure");
	}
}

Test(chunked, decode_gives_back_random_data_cut_into_random_chunks)
{
	static char data[20000], body[20000 * 2 + 65536];
	unsigned seed = 11;

	for (int round = 0; round < 200; round++) {
		size_t dlen = (size_t)rand_r(&seed) % sizeof(data), blen = 0, used, n;
		struct http_chunked c;

		for (size_t i = 0; i < dlen; i++)
			data[i] = (char)rand_r(&seed);
		for (size_t off = 0; off < dlen;) {
			size_t k = 1 + (size_t)rand_r(&seed) % (round % 2 ? 7 : 3000);

			if (k > dlen - off)
				k = dlen - off;
			blen += (size_t)sprintf(body + blen, "%zx%s\r\n", k,
						rand_r(&seed) % 4 ? "" : ";ext=1");
			memcpy(body + blen, data + off, k);
			blen += k;
			memcpy(body + blen, "\r\n", 2);
			blen += 2;
			off += k;
		}
		blen += (size_t)sprintf(body + blen, "0\r\n%s\r\n",
					round % 3 ? "" : "X-Sum: 1\r\n");
		http_chunked_init_request(&c, "Authorization", 13, 4096);
		cr_assert_eq(http_chunked_feed(&c, body, blen, &used), HTTP_CHUNK_DONE, "round %d",
			     round);
		cr_assert_eq(http_chunked_decode(body, used, &n), 0, "round %d", round);
		cr_assert_eq(n, dlen, "round %d", round);
		cr_assert_eq(memcmp(body, data, dlen), 0, "round %d", round);
	}
}
