/* tests/core_http.c: request-head parser, rewriter, error responses and the
 * chunked framer (core/http.c), driven by tables of valid and hostile input:
 * request smuggling vectors, limits, byte-at-a-time delivery.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "http.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct http_head head;

static enum http_parse parse_n(const char *s, size_t n, const struct http_limits *lim)
{
	return http_head_parse(s, n, lim, &head);
}

static enum http_parse parse(const char *s)
{
	return parse_n(s, strlen(s), NULL);
}

static bool span_eq(const char *buf, struct http_span sp, const char *want)
{
	return sp.len == strlen(want) && memcmp(buf + sp.off, want, sp.len) == 0;
}

/* Value of the first header named name, or NULL (into a static buffer). */
static const char *header_value(const char *buf, const char *name)
{
	static char val[256];

	for (unsigned i = 0; i < head.nheaders; i++) {
		if (http_name_is(buf, head.headers[i].name, name, strlen(name))) {
			struct http_span v = head.headers[i].value;

			cr_assert_lt(v.len, sizeof(val));
			memcpy(val, buf + v.off, v.len);
			val[v.len] = '\0';
			return val;
		}
	}
	return NULL;
}

/* ---- valid heads ---------------------------------------------------------- */

Test(http, parses_simple_get)
{
	const char *req = "GET /v1.41/containers/json?all=1 HTTP/1.1\r\n"
			  "Host: api.moby.localhost\r\n"
			  "User-Agent: Docker-Client/24.0.7 (linux)\r\n"
			  "\r\n";

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	cr_assert(span_eq(req, head.method, "GET"));
	cr_assert(span_eq(req, head.target, "/v1.41/containers/json?all=1"));
	cr_assert_eq(head.minor, 1);
	cr_assert_eq(head.head_len, strlen(req));
	cr_assert_eq(head.body, HTTP_BODY_NONE);
	cr_assert_not(head.close);
	cr_assert_not(head.upgrade);
	cr_assert_eq(head.nheaders, 2);
	cr_assert(span_eq(req, head.headers[0].name, "Host"));
	cr_assert(span_eq(req, head.headers[0].value, "api.moby.localhost"));
	cr_assert(span_eq(req, head.headers[1].value, "Docker-Client/24.0.7 (linux)"));
	cr_assert_eq(head.status, 0);
	cr_assert_null(head.reason);
}

Test(http, parses_head_ping_from_traefik)
{
	cr_assert_eq(parse("HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_eq(head.body, HTTP_BODY_NONE);
}

Test(http, trims_whitespace_around_header_values)
{
	const char *req = "GET / HTTP/1.1\r\nHost: h\r\nX-A: \t v a l \t \r\nX-Empty:\r\n"
			  "X-Blank: \t \r\nX-Obs: caf\xc3\xa9\r\n\r\n";

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	cr_assert_str_eq(header_value(req, "x-a"), "v a l");
	cr_assert_str_eq(header_value(req, "x-empty"), "");
	cr_assert_str_eq(header_value(req, "x-blank"), "");
	cr_assert_str_eq(header_value(req, "x-obs"), "caf\xc3\xa9");
}

Test(http, parses_post_with_content_length_and_body)
{
	const char *req = "POST /v1.41/containers/create HTTP/1.1\r\n"
			  "Host: api.moby.localhost\r\n"
			  "Content-Type: application/json\r\n"
			  "Content-Length: 15\r\n"
			  "\r\n"
			  "{\"Image\":\"abc\"}";

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	cr_assert(span_eq(req, head.method, "POST"));
	cr_assert_eq(head.body, HTTP_BODY_LENGTH);
	cr_assert_eq(head.content_length, 15);
	cr_assert_eq(head.head_len + 15, strlen(req));
	cr_assert_eq(memcmp(req + head.head_len, "{\"Image\"", 8), 0);
}

Test(http, content_length_zero_is_a_length_body)
{
	cr_assert_eq(parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_eq(head.body, HTTP_BODY_LENGTH);
	cr_assert_eq(head.content_length, 0);
}

Test(http, accepts_largest_content_length)
{
	cr_assert_eq(parse("PUT /x HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n"),
		     HTTP_PARSE_DONE);
	cr_assert_eq(head.content_length, 9223372036854775807ULL);
	cr_assert_eq(parse("PUT /x HTTP/1.1\r\nContent-Length: 0009\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_eq(head.content_length, 9);
}

Test(http, accepts_identical_duplicate_content_length)
{
	static const char *reqs[] = {
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5,5\r\nContent-Length: 5\r\n\r\n",
	};

	for (size_t i = 0; i < N_ELEMS(reqs); i++) {
		cr_assert_eq(parse(reqs[i]), HTTP_PARSE_DONE, "case %zu", i);
		cr_assert_eq(head.body, HTTP_BODY_LENGTH);
		cr_assert_eq(head.content_length, 5);
	}
}

Test(http, parses_chunked_transfer_encoding)
{
	static const char *reqs[] = {
		"POST /build HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /build HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
		"POST /build HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n",
		"POST /build HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked \t\r\n\r\n",
	};

	for (size_t i = 0; i < N_ELEMS(reqs); i++) {
		cr_assert_eq(parse(reqs[i]), HTTP_PARSE_DONE, "case %zu: %s", i, head.reason);
		cr_assert_eq(head.body, HTTP_BODY_CHUNKED, "case %zu", i);
	}
}

Test(http, http10_without_keep_alive_sets_close)
{
	cr_assert_eq(parse("GET /_ping HTTP/1.0\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_eq(head.minor, 0);
	cr_assert(head.close);
}

Test(http, http10_with_keep_alive_stays_open)
{
	cr_assert_eq(parse("GET /_ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_not(head.close);
}

Test(http, connection_close_sets_close)
{
	static const char *reqs[] = {
		"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: te\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
	};

	for (size_t i = 0; i < N_ELEMS(reqs); i++) {
		cr_assert_eq(parse(reqs[i]), HTTP_PARSE_DONE, "case %zu", i);
		cr_assert(head.close, "case %zu", i);
	}
	cr_assert_eq(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_not(head.close);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"), HTTP_PARSE_DONE);
	cr_assert_not(head.close);
}

Test(http, parses_pipelined_keep_alive_requests)
{
	const char *buf = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
			  "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
			  "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	size_t off = 0, len = strlen(buf);

	cr_assert_eq(parse_n(buf, len, NULL), HTTP_PARSE_DONE);
	cr_assert(span_eq(buf, head.target, "/a"));
	cr_assert_eq(head.content_length, 3);
	cr_assert_not(head.close);
	off = head.head_len + 3;

	cr_assert_eq(parse_n(buf + off, len - off, NULL), HTTP_PARSE_DONE);
	cr_assert(span_eq(buf + off, head.target, "/b"));
	cr_assert_eq(head.body, HTTP_BODY_NONE);
	off += head.head_len;

	cr_assert_eq(parse_n(buf + off, len - off, NULL), HTTP_PARSE_DONE);
	cr_assert(span_eq(buf + off, head.target, "/c"));
	cr_assert(head.close);
	cr_assert_eq(off + head.head_len, len);
}

Test(http, skips_empty_lines_before_request_line)
{
	const char *req = "\r\n\r\nGET /x HTTP/1.1\r\n\r\n";

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	cr_assert(span_eq(req, head.method, "GET"));
	cr_assert_eq(head.head_len, strlen(req));
}

static const char *valid_heads[] = {
	"GET /_ping HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /v1.41/containers/create HTTP/1.1\r\nHost: api.moby.localhost\r\n"
	"Content-Type: application/json\r\nContent-Length: 120\r\n\r\n",
	"POST /v1.41/containers/abc/attach?stream=1&stdin=1 HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
	"Content-Type: text/plain\r\n\r\n",
	"POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"\r\nOPTIONS * HTTP/1.1\r\nX:\r\n\r\n",
};

Test(http, incomplete_head_returns_more_at_every_prefix)
{
	for (size_t i = 0; i < N_ELEMS(valid_heads); i++) {
		const char *req = valid_heads[i];
		size_t len = strlen(req);

		for (size_t n = 0; n < len; n++) {
			/* Heap copy of exactly n bytes: ASan catches any overread. */
			char *copy = malloc(n ? n : 1);

			memcpy(copy, req, n);
			cr_assert_eq(parse_n(copy, n, NULL), HTTP_PARSE_MORE,
				     "head %zu prefix %zu: %s", i, n, head.reason);
			free(copy);
		}
		cr_assert_eq(parse_n(req, len, NULL), HTTP_PARSE_DONE, "head %zu", i);
		cr_assert_eq(head.head_len, len);
	}
}

/* ---- upgrade -------------------------------------------------------------- */

static const struct {
	const char *req;
	bool upgrade;
} upgrade_cases[] = {
	/* docker attach / exec start hijack */
	{ "POST /v1.41/containers/0123abcd/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n"
	  "Host: api.moby.localhost\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
	  "Content-Type: text/plain\r\n\r\n", true },
	{ "POST /v1.44/exec/0123/start HTTP/1.1\r\nHost: api.moby.localhost\r\n"
	  "Content-Length: 26\r\nContent-Type: application/json\r\n"
	  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n", true },
	/* BuildKit */
	{ "POST /session HTTP/1.1\r\nHost: api.moby.localhost\r\nUpgrade: h2c\r\n"
	  "Connection: Upgrade\r\nX-Docker-Expose-Session-Uuid: x\r\n\r\n", true },
	{ "POST /grpc HTTP/1.1\r\nHost: api.moby.localhost\r\nUpgrade: h2c\r\n"
	  "Connection: Upgrade\r\n\r\n", true },
	/* list form and case */
	{ "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: tcp\r\n\r\n", true },
	{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: UPGRADE\r\nupgrade: tcp\r\n\r\n", true },
	/* one half only */
	{ "GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", false },
	{ "GET / HTTP/1.1\r\nUpgrade: tcp\r\n\r\n", false },
	{ "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade:\r\n\r\n", false },
	{ "GET / HTTP/1.1\r\nConnection: Upgraded\r\nUpgrade: tcp\r\n\r\n", false },
	/* RFC 9110 §7.8: ignored in HTTP/1.0 */
	{ "GET / HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", false },
};

Test(http, detects_upgrade_for_hijack_and_buildkit)
{
	for (size_t i = 0; i < N_ELEMS(upgrade_cases); i++) {
		cr_assert_eq(parse(upgrade_cases[i].req), HTTP_PARSE_DONE, "case %zu: %s", i, head.reason);
		cr_assert_eq(head.upgrade, upgrade_cases[i].upgrade, "case %zu", i);
	}
}

/* ---- rewrite -------------------------------------------------------------- */

static const char inject_line[] = "Authorization: Bearer tok-123\r\n";

static ssize_t rewrite(const char *req, char *out, size_t cap)
{
	return http_head_rewrite(req, &head, "Authorization", 13, inject_line,
				 sizeof(inject_line) - 1, out, cap);
}

static unsigned count_occurrences(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strcasestr(p, needle)); p++)
		n++;
	return n;
}

Test(http, rewrite_removes_every_client_token_header_and_injects_one)
{
	const char *req = "POST /v1.41/containers/create?name=x HTTP/1.1\r\n"
			  "Host: api.moby.localhost\r\n"
			  "authorization: Bearer stolen-1\r\n"
			  "Content-Length: 2\r\n"
			  "AUTHORIZATION: Bearer stolen-2\r\n"
			  "X-Keep:   kept value  \r\n"
			  "Authorization: Basic c3RvbGVu\r\n"
			  "Authorization-Extra: stays\r\n"
			  "\r\n{}";
	const char *want = "POST /v1.41/containers/create?name=x HTTP/1.1\r\n"
			   "Host: api.moby.localhost\r\n"
			   "Content-Length: 2\r\n"
			   "X-Keep: kept value\r\n"
			   "Authorization-Extra: stays\r\n"
			   "Authorization: Bearer tok-123\r\n"
			   "\r\n";
	char out[1024];
	ssize_t n;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = rewrite(req, out, sizeof(out));
	cr_assert_eq(n, (ssize_t)strlen(want));
	out[n] = '\0';
	cr_assert_str_eq(out, want);
	cr_assert_null(strstr(out, "stolen"));
	cr_assert_eq(count_occurrences(out, "authorization:"), 1);

	/* The output is itself a valid head with the injected value. */
	cr_assert_eq(parse_n(out, (size_t)n, NULL), HTTP_PARSE_DONE);
	cr_assert_str_eq(header_value(out, "authorization"), "Bearer tok-123");
	cr_assert_eq(head.content_length, 2);
	cr_assert_eq(head.head_len, (size_t)n);
}

Test(http, rewrite_keeps_http10_version_and_empty_values)
{
	const char *req = "GET /x HTTP/1.0\r\nX-Empty:\r\n\r\n";
	char out[256];
	ssize_t n;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = http_head_rewrite(req, &head, NULL, 0, NULL, 0, out, sizeof(out));
	cr_assert_eq(n, (ssize_t)strlen(req));
	cr_assert_eq(memcmp(out, req, (size_t)n), 0);
}

Test(http, rewrite_with_custom_token_header)
{
	const char *req = "GET /x HTTP/1.1\r\nx-container-token: evil\r\nAuthorization: Basic a\r\n\r\n";
	const char inj[] = "X-Container-Token: good\r\n";
	char out[256];
	ssize_t n;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = http_head_rewrite(req, &head, "X-Container-Token", 17, inj, sizeof(inj) - 1,
			      out, sizeof(out));
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_str_eq(out, "GET /x HTTP/1.1\r\nAuthorization: Basic a\r\nX-Container-Token: good\r\n\r\n");
}

Test(http, rewrite_ex_sends_another_target_and_keeps_everything_else)
{
	const char *req = "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: h\r\n"
			  "Authorization: Bearer stolen\r\n\r\n";
	const char target[] = "/v1.41/containers/json?all=1&filters=%7B%7D";
	struct http_rewrite rw = { .strip_name = "Authorization", .strip_len = 13,
				   .inject = inject_line, .inject_len = sizeof(inject_line) - 1,
				   .target = target, .target_len = sizeof(target) - 1 };
	char out[512];
	ssize_t n;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = http_head_rewrite_ex(req, &head, &rw, out, sizeof(out));
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_str_eq(out, "GET /v1.41/containers/json?all=1&filters=%7B%7D HTTP/1.1\r\n"
			      "Host: h\r\nAuthorization: Bearer tok-123\r\n\r\n");
}

Test(http, rewrite_ex_reframe_drops_every_framing_field_for_the_callers_own)
{
	const char *req = "POST /containers/create HTTP/1.1\r\nHost: h\r\n"
			  "Transfer-Encoding: chunked\r\nTRAILER: X-Sum\r\n"
			  "expect: 100-continue\r\nContent-Type: application/json\r\n"
			  "Content-Lengthy: stays\r\n\r\n";
	const char frame[] = "Content-Length: 2\r\n";
	struct http_rewrite rw = { .inject = frame, .inject_len = sizeof(frame) - 1,
				   .reframe = true };
	char out[512];
	ssize_t n;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = http_head_rewrite_ex(req, &head, &rw, out, sizeof(out));
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_str_eq(out, "POST /containers/create HTTP/1.1\r\nHost: h\r\n"
			      "Content-Type: application/json\r\nContent-Lengthy: stays\r\n"
			      "Content-Length: 2\r\n\r\n");
	cr_assert_eq(parse_n(out, (size_t)n, NULL), HTTP_PARSE_DONE);
	cr_assert_eq(head.body, HTTP_BODY_LENGTH);
	cr_assert_eq(head.content_length, 2);

	/* a Content-Length body too */
	req = "POST /volumes/create HTTP/1.1\r\nContent-Length: 99\r\n\r\n";
	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	n = http_head_rewrite_ex(req, &head, &rw, out, sizeof(out));
	out[n] = '\0';
	cr_assert_str_eq(out, "POST /volumes/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
}

Test(http, rewrite_returns_enospc_and_never_writes_past_cap)
{
	const char *req = "GET /v1.41/info HTTP/1.1\r\nHost: h\r\nAuthorization: x\r\n\r\n";
	char out[512];
	ssize_t full;

	cr_assert_eq(parse(req), HTTP_PARSE_DONE);
	full = rewrite(req, out, sizeof(out));
	cr_assert_gt(full, 0);
	for (size_t cap = 0; cap < (size_t)full; cap++) {
		memset(out, 0x5a, sizeof(out));
		cr_assert_eq(rewrite(req, out, cap), -ENOSPC, "cap %zu", cap);
		for (size_t i = cap; i < sizeof(out); i++)
			cr_assert_eq(out[i], 0x5a, "cap %zu wrote byte %zu", cap, i);
	}
	cr_assert_eq(rewrite(req, out, (size_t)full), full);
}

Test(http, name_is_compares_case_insensitively)
{
	const char *buf = "Content-LENGTH";
	struct http_span sp = { 0, 14 };

	cr_assert(http_name_is(buf, sp, "content-length", 14));
	cr_assert_not(http_name_is(buf, sp, "content-lengt", 13));
	cr_assert_not(http_name_is(buf, sp, "content-lengthx", 15));
	cr_assert_not(http_name_is(buf, sp, "content_length", 14));
}

/* ---- rejects -------------------------------------------------------------- */

struct reject {
	const char *name;
	const char *req;
	size_t len;  /* 0: strlen(req); set for inputs with NUL bytes */
	int status;
};

#define R(name, req, status) { name, req, 0, status }
#define RN(name, req, status) { name, req, sizeof(req) - 1, status }

static const struct reject rejects[] = {
	/* request line */
	R("empty request line", "\r\nX\r\n\r\n", 400),
	R("missing target", "GET HTTP/1.1\r\n\r\n", 400),
	R("missing version", "GET /\r\n\r\n", 400),
	R("double space", "GET  / HTTP/1.1\r\n\r\n", 400),
	R("space before target end", "GET / x HTTP/1.1\r\n\r\n", 400),
	R("trailing space", "GET / HTTP/1.1 \r\n\r\n", 400),
	R("tab separator", "GET\t/ HTTP/1.1\r\n\r\n", 400),
	R("leading space", " GET / HTTP/1.1\r\n\r\n", 400),
	R("bad method char", "G(T / HTTP/1.1\r\n\r\n", 400),
	/* methods dockerd does not route (case-sensitive, RFC 9110 §9.1) */
	R("lower-case delete", "delete /containers/x HTTP/1.1\r\n\r\n", 405),
	R("lower-case get", "get /_ping HTTP/1.1\r\n\r\n", 405),
	R("mixed-case Post", "Post /containers/create HTTP/1.1\r\n\r\n", 405),
	R("PATCH", "PATCH /containers/x HTTP/1.1\r\n\r\n", 405),
	R("TRACE", "TRACE / HTTP/1.1\r\n\r\n", 405),
	R("CONNECT", "CONNECT docker:2375 HTTP/1.1\r\n\r\n", 405),
	R("PROPFIND", "PROPFIND / HTTP/1.1\r\n\r\n", 405),
	R("GET with a suffix", "GETX / HTTP/1.1\r\n\r\n", 405),
	R("DELETE cut short", "DELET / HTTP/1.1\r\n\r\n", 405),
	R("method of tchars", "M-SEARCH * HTTP/1.1\r\n\r\n", 405),
	R("unknown method with headers", "BREW / HTTP/1.1\r\nX: a\r\n\r\n", 405),
	R("version judged before the method", "delete / HTTP/2.0\r\n\r\n", 505),
	R("lower-case version", "GET / http/1.1\r\n\r\n", 400),
	R("version garbage", "GET / HTTP/1.1x\r\n\r\n", 400),
	R("version short", "GET / HTTP/1\r\n\r\n", 400),
	R("version letters", "GET / HTTP/a.b\r\n\r\n", 400),
	R("version two digits", "GET / HTTP/10.1\r\n\r\n", 400),
	R("non-ascii target", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
	R("http/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
	R("http/1.2", "GET / HTTP/1.2\r\n\r\n", 505),
	R("http/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
	R("http/3.0", "GET / HTTP/3.0\r\n\r\n", 505),
	/* line ends and control characters */
	R("bare LF after request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
	R("bare LF after header", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400),
	R("bare LF end of head", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
	R("LF only head", "GET / HTTP/1.1\n\n", 400),
	R("bare CR in header", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
	R("CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", 400),
	RN("NUL in header value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
	RN("NUL in target", "GET /\0 HTTP/1.1\r\n\r\n", 400),
	RN("NUL in name", "GET / HTTP/1.1\r\nX\0: a\r\n\r\n", 400),
	R("escape in value", "GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", 400),
	R("DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400),
	R("vertical tab in value", "GET / HTTP/1.1\r\nX: a\vb\r\n\r\n", 400),
	/* header lines */
	R("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
	R("obs-fold tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400),
	R("whitespace before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400),
	R("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
	R("tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400),
	R("no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),
	R("empty name", "GET / HTTP/1.1\r\n: h\r\n\r\n", 400),
	R("separator in name", "GET / HTTP/1.1\r\nX(y): h\r\n\r\n", 400),
	R("non-ascii name", "GET / HTTP/1.1\r\nX\xc3\xa9: h\r\n\r\n", 400),
	R("duplicate host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
	/* Content-Length */
	R("CL negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
	R("CL plus sign", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400),
	R("CL hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
	R("CL empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400),
	R("CL inner space", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400),
	R("CL decimal", "POST / HTTP/1.1\r\nContent-Length: 1.0\r\n\r\n", 400),
	R("CL 2^63", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400),
	R("CL 2^64", "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
	R("CL huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 400),
	R("CL duplicate differing", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	R("CL list differing", "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400),
	R("CL list empty element", "POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n", 400),
	R("CL duplicate one empty", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:\r\n\r\n", 400),
	/* Transfer-Encoding */
	R("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("TE chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
	R("TE chunked twice in two headers",
	  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("TE last not chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
	R("TE gzip only", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
	R("TE xchunked", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
	R("TE chunked with param", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400),
	R("TE empty", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", 400),
	R("TE empty element", "POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r\n\r\n", 400),
	R("TE gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
	R("TE gzip then chunked headers",
	  "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	R("TE identity, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 501),
};

/* Request smuggling corpus (CL.TE, TE.CL, TE.TE obfuscations). */
static const struct reject smuggling[] = {
	R("CL.TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\n\r\nSMUGGLED", 400),
	R("TE.CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
	  "8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
	R("CL.TE with bad CL", "POST / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("TE.TE xchunked", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
	R("TE.TE xchunked + CL", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n", 400),
	R("TE.TE space before colon", "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n", 400),
	R("TE.TE chunked, identity", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
	R("TE.TE LF before colon", "POST / HTTP/1.1\r\nTransfer-Encoding\n: chunked\r\n\r\n", 400),
	R("TE.TE obs-fold value", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n", 400),
	R("TE.TE two headers, one junk",
	  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n", 400),
	R("TE.TE vertical tab", "POST / HTTP/1.1\r\nTransfer-Encoding:\vchunked\r\n\r\n", 400),
	R("TE.TE quoted", "POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
	R("TE.TE underscore name", "POST / HTTP/1.1\r\nTransfer_Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 0),
	R("CL.CL", "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n", 400),
	R("bare LF header end", "POST / HTTP/1.1\r\nContent-Length: 0\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("bare LF head end", "GET / HTTP/1.1\r\nHost: h\n\nGET /admin HTTP/1.1\r\n\r\n", 400),
	RN("NUL in TE", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\0\r\n\r\n", 400),
	RN("NUL before colon", "POST / HTTP/1.1\r\nContent-Length\0: 5\r\n\r\n", 400),
};

static void check_reject(const struct reject *r)
{
	size_t len = r->len ? r->len : strlen(r->req);
	enum http_parse res = parse_n(r->req, len, NULL);

	if (r->status == 0) {
		/* Legal but harmless: must not be taken as framing. */
		cr_assert_eq(res, HTTP_PARSE_DONE, "%s: %s", r->name, head.reason);
		cr_assert_neq(head.body, HTTP_BODY_CHUNKED, "%s", r->name);
		return;
	}
	cr_assert_eq(res, HTTP_PARSE_ERROR, "%s: got %d", r->name, res);
	cr_assert_eq(head.status, r->status, "%s: status %d (%s)", r->name, head.status, head.reason);
	cr_assert_not_null(head.reason, "%s", r->name);
	cr_assert_gt(strlen(head.reason), 0);
	cr_assert_lt(strlen(head.reason), 64);
}

Test(http, rejects_malformed_heads_with_the_right_status)
{
	for (size_t i = 0; i < N_ELEMS(rejects); i++)
		check_reject(&rejects[i]);
}

Test(http, rejects_request_smuggling_corpus)
{
	for (size_t i = 0; i < N_ELEMS(smuggling); i++)
		check_reject(&smuggling[i]);
}

Test(http, rejects_duplicate_content_length)
{
	cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
		     HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 400);
	cr_assert_str_eq(head.reason, "invalid Content-Length");
}

Test(http, rejects_both_content_length_and_transfer_encoding)
{
	cr_assert_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"),
		     HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 400);
	cr_assert_str_eq(head.reason, "both Content-Length and Transfer-Encoding");
}

Test(http, reason_never_echoes_request_bytes)
{
	const char *bad[] = {
		"GET /SECRET HTTP/9.9\r\n\r\n",
		"GET / HTTP/1.1\r\nAuthorization: SECRET\r\nX : y\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: SECRET\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: SECRET, chunked\r\n\r\n",
	};

	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		cr_assert_eq(parse(bad[i]), HTTP_PARSE_ERROR, "case %zu", i);
		cr_assert_null(strcasestr(head.reason, "secret"), "case %zu", i);
	}
	for (size_t i = 0; i < N_ELEMS(rejects); i++) {
		const struct reject *r = &rejects[i];

		parse_n(r->req, r->len ? r->len : strlen(r->req), NULL);
		/* A static string never points into the request buffer. */
		cr_assert(head.reason < r->req || head.reason >= r->req + strlen(r->req), "%s", r->name);
	}
}

Test(http, rejects_control_chars_even_while_incomplete)
{
	cr_assert_eq(parse_n("GET / HTTP/1.1\r\nX: \0", 20, NULL), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 400);
	cr_assert_eq(parse("GET / HTTP/1.1\nHo"), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 400);
}

/* ---- limits --------------------------------------------------------------- */

static char *make_head(size_t target_len, unsigned nheaders, size_t value_len, size_t *len)
{
	size_t cap = target_len + (size_t)nheaders * (value_len + 16) + 64;
	char *buf = malloc(cap);
	size_t n = 0;

	if (!buf)
		abort();
	n += (size_t)sprintf(buf + n, "GET /");
	memset(buf + n, 'a', target_len - 1);
	n += target_len - 1;
	n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n");
	for (unsigned i = 0; i < nheaders; i++) {
		n += (size_t)sprintf(buf + n, "X-%05u: ", i);
		memset(buf + n, 'v', value_len);
		n += value_len;
		buf[n++] = '\r';
		buf[n++] = '\n';
	}
	buf[n++] = '\r';
	buf[n++] = '\n';
	cr_assert_leq(n, cap);
	*len = n;
	return buf;
}

Test(http, accepts_request_line_of_exactly_max_line)
{
	struct http_limits lim = { .max_line = 100, .max_head = 4096 };
	size_t len;
	/* "GET " + target + " HTTP/1.1" = 13 + target */
	char *buf = make_head(87, 0, 0, &len);

	cr_assert_eq(parse_n(buf, len, &lim), HTTP_PARSE_DONE, "%s", head.reason);
	free(buf);
	buf = make_head(88, 0, 0, &len);
	cr_assert_eq(parse_n(buf, len, &lim), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	cr_assert_str_eq(head.reason, "request line too long");
	free(buf);
}

Test(http, rejects_long_request_line_before_it_ends)
{
	struct http_limits lim = { .max_line = 100, .max_head = 4096 };
	char buf[200];

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	cr_assert_eq(parse_n(buf, 100, &lim), HTTP_PARSE_MORE);
	cr_assert_eq(parse_n(buf, 101, &lim), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	cr_assert_eq(parse_n(buf, sizeof(buf), &lim), HTTP_PARSE_ERROR);
}

Test(http, rejects_long_header_line_before_it_ends)
{
	struct http_limits lim = { .max_line = 64, .max_head = 4096 };
	char buf[256];
	size_t pre = strlen("GET / HTTP/1.1\r\n");

	memset(buf, 'v', sizeof(buf));
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", pre + 3);
	cr_assert_eq(parse_n(buf, pre + 64, &lim), HTTP_PARSE_MORE);
	cr_assert_eq(parse_n(buf, pre + 65, &lim), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	cr_assert_str_eq(head.reason, "header line too long");
	/* A line of exactly max_line is fine, also with its CR pending. */
	memcpy(buf + pre + 64, "\r\n\r\n", 4);
	cr_assert_eq(parse_n(buf, pre + 65, &lim), HTTP_PARSE_MORE);
	cr_assert_eq(parse_n(buf, pre + 68, &lim), HTTP_PARSE_DONE);
}

Test(http, rejects_head_larger_than_max_head_even_incomplete)
{
	struct http_limits lim = { .max_line = 8192, .max_head = 1000 };
	size_t len;
	char *buf = make_head(10, 100, 20, &len);  /* ~3 KB, many short lines */

	cr_assert_gt(len, 1000);
	for (size_t n = 0; n < 1000; n++)
		cr_assert_eq(parse_n(buf, n, &lim), HTTP_PARSE_MORE, "prefix %zu", n);
	for (size_t n = 1000; n <= len; n++) {
		cr_assert_eq(parse_n(buf, n, &lim), HTTP_PARSE_ERROR, "prefix %zu", n);
		cr_assert_eq(head.status, 431);
	}
	free(buf);
}

Test(http, accepts_head_of_exactly_max_head)
{
	size_t len;
	char *buf = make_head(10, 3, 20, &len);
	struct http_limits lim = { .max_line = 8192, .max_head = len };

	cr_assert_eq(parse_n(buf, len, &lim), HTTP_PARSE_DONE);
	lim.max_head = len - 1;
	cr_assert_eq(parse_n(buf, len, &lim), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	free(buf);
}

Test(http, accepts_max_headers_and_rejects_one_more)
{
	size_t len;
	char *buf = make_head(2, HTTP_MAX_HEADERS, 4, &len);

	cr_assert_eq(parse_n(buf, len, NULL), HTTP_PARSE_DONE);
	cr_assert_eq(head.nheaders, HTTP_MAX_HEADERS);
	free(buf);
	buf = make_head(2, HTTP_MAX_HEADERS + 1, 4, &len);
	cr_assert_eq(parse_n(buf, len, NULL), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	cr_assert_str_eq(head.reason, "too many headers");
	free(buf);
}

Test(http, default_limits_apply_with_null_or_zero)
{
	struct http_limits lim = { 0 }, def;
	size_t len;
	char *buf = make_head(HTTP_DEFAULT_MAX_LINE, 0, 0, &len);

	http_limits_default(&def);
	cr_assert_eq(def.max_line, HTTP_DEFAULT_MAX_LINE);
	cr_assert_eq(def.max_head, HTTP_DEFAULT_MAX_HEAD);
	cr_assert_eq(parse_n(buf, len, NULL), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	cr_assert_eq(parse_n(buf, len, &lim), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 431);
	free(buf);
}

/* ---- error responses ------------------------------------------------------ */

/* Checks that resp is a complete response with a correct Content-Length and
 * returns its body (NUL-terminated, static). */
static const char *check_response(const char *resp, size_t n, int status, const char *text)
{
	static char body[1024];
	char line[128];
	const char *end = strstr(resp, "\r\n\r\n");
	const char *cl;
	unsigned long clen;

	cr_assert_not_null(end);
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, text);
	cr_assert_eq(strncmp(resp, line, strlen(line)), 0, "status line of %d", status);
	cr_assert_not_null(strstr(resp, "\r\nContent-Type: application/json\r\n"));
	cr_assert_not_null(strstr(resp, "\r\nConnection: close\r\n"));
	cl = strstr(resp, "\r\nContent-Length: ");
	cr_assert_not_null(cl);
	cr_assert_lt(cl, end);
	clen = strtoul(cl + 18, NULL, 10);
	cr_assert_eq((size_t)(end + 4 - resp) + clen, n, "Content-Length matches body");
	cr_assert_lt(clen, sizeof(body));
	memcpy(body, end + 4, clen);
	body[clen] = '\0';
	/* No bare LF or CR in the head. */
	for (const char *p = resp; p < end + 4; p++)
		if (*p == '\n')
			cr_assert_eq(p[-1], '\r');
	return body;
}

Test(http, error_format_has_status_text_and_json_body)
{
	static const struct {
		int status;
		const char *text;
	} codes[] = {
		{ 400, "Bad Request" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 413, "Content Too Large" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" }, { 418, "Error" }, { 599, "Error" },
	};
	char out[512];

	for (size_t i = 0; i < N_ELEMS(codes); i++) {
		ssize_t n = http_error_format(codes[i].status, "malformed request line", out, sizeof(out) - 1);

		cr_assert_gt(n, 0);
		out[n] = '\0';
		cr_assert_str_eq(check_response(out, (size_t)n, codes[i].status, codes[i].text),
				 "{\"message\":\"malformed request line\"}\n");
	}
}

Test(http, accepts_exactly_the_methods_dockerd_routes)
{
	/* moby's router registers GET, HEAD, POST, PUT, DELETE and OPTIONS
	 * (an OPTIONS route on every path, for CORS); nothing else. */
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS" };
	char req[128];

	for (size_t i = 0; i < N_ELEMS(known); i++) {
		int n = snprintf(req, sizeof(req), "%s /containers/json HTTP/1.1\r\nHost: d\r\n\r\n",
				 known[i]);

		cr_expect_eq(parse_n(req, (size_t)n, NULL), HTTP_PARSE_DONE, "%s", known[i]);
		cr_expect(http_method_known(req, strlen(known[i])), "%s", known[i]);
	}
	cr_expect_not(http_method_known("OPTION", 6));
	cr_expect_not(http_method_known("options", 7));
	cr_expect_not(http_method_known("", 0));
}

Test(http, refused_method_is_405_with_allow_and_a_reason)
{
	static const char req[] = "delete /containers/x HTTP/1.1\r\nHost: d\r\n\r\n";
	char out[512];
	ssize_t n;

	cr_assert_eq(parse_n(req, sizeof(req) - 1, NULL), HTTP_PARSE_ERROR);
	cr_assert_eq(head.status, 405);
	cr_assert_str_eq(head.reason, "method is not GET, HEAD, POST, PUT, DELETE or OPTIONS");
	/* A partial head is answered as soon as its request line is whole. */
	cr_assert_eq(parse_n(req, 31, NULL), HTTP_PARSE_ERROR);   /* through the LF */
	cr_assert_eq(head.status, 405);
	/* RFC 9110 §15.5.6: a 405 carries Allow. */
	n = http_error_format(405, head.reason, out, sizeof(out) - 1);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_not_null(strstr(out, "\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"),
			   "%s", out);
	check_response(out, (size_t)n, 405, "Method Not Allowed");
	/* ... and nothing else does. */
	n = http_error_format(400, "x", out, sizeof(out) - 1);
	out[n] = '\0';
	cr_assert_null(strstr(out, "Allow:"));
}

Test(http, error_format_escapes_json)
{
	char out[512];
	ssize_t n = http_error_format(400, "a \"q\" \\ b\n\x01\x1f\t end", out, sizeof(out) - 1);

	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_str_eq(check_response(out, (size_t)n, 400, "Bad Request"),
			 "{\"message\":\"a \\\"q\\\" \\\\ b\\u000a\\u0001\\u001f\\u0009 end\"}\n");

	n = http_error_format(502, NULL, out, sizeof(out) - 1);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_str_eq(check_response(out, (size_t)n, 502, "Bad Gateway"), "{\"message\":\"\"}\n");
}

Test(http, error_format_exact_output)
{
	char out[256];
	const char *want = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: 35\r\n"
			   "Connection: close\r\n"
			   "\r\n"
			   "{\"message\":\"header line too long\"}\n";
	ssize_t n = http_error_format(431, "header line too long", out, sizeof(out));

	cr_assert_eq(n, (ssize_t)strlen(want));
	cr_assert_eq(memcmp(out, want, (size_t)n), 0);
}

Test(http, error_format_returns_enospc_and_never_writes_past_cap)
{
	char out[512];
	ssize_t full = http_error_format(503, "upstream \"down\"", out, sizeof(out));

	cr_assert_gt(full, 0);
	for (size_t cap = 0; cap < (size_t)full; cap++) {
		memset(out, 0x5a, sizeof(out));
		cr_assert_eq(http_error_format(503, "upstream \"down\"", out, cap), -ENOSPC, "cap %zu", cap);
		for (size_t i = cap; i < sizeof(out); i++)
			cr_assert_eq(out[i], 0x5a, "cap %zu wrote byte %zu", cap, i);
	}
	cr_assert_eq(http_error_format(503, "upstream \"down\"", out, (size_t)full), full);
	cr_assert_eq(http_error_format(99, "x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(http_error_format(1000, "x", out, sizeof(out)), -EINVAL);
}

Test(http, error_format_round_trips_every_parser_reason)
{
	char out[512];

	for (size_t i = 0; i < N_ELEMS(rejects); i++) {
		const struct reject *r = &rejects[i];
		char reason[128];
		ssize_t n;

		parse_n(r->req, r->len ? r->len : strlen(r->req), NULL);
		snprintf(reason, sizeof(reason), "{\"message\":\"%s\"}\n", head.reason);
		n = http_error_format(head.status, head.reason, out, sizeof(out) - 1);
		cr_assert_gt(n, 0);
		out[n] = '\0';
		/* Parser reasons are plain ASCII: they need no escaping. */
		cr_assert_str_eq(strstr(out, "\r\n\r\n") + 4, reason, "%s", r->name);
	}
}

Test(http, chunked_request_then_pipelined_request)
{
	const char *buf = "POST /build HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "3\r\nabc\r\n0\r\n\r\n"
			  "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t len = strlen(buf), off, used;
	struct http_chunked c;

	cr_assert_eq(parse_n(buf, len, NULL), HTTP_PARSE_DONE);
	cr_assert_eq(head.body, HTTP_BODY_CHUNKED);
	off = head.head_len;
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, buf + off, len - off, &used), HTTP_CHUNK_DONE);
	off += used;
	cr_assert_eq(parse_n(buf + off, len - off, NULL), HTTP_PARSE_DONE);
	cr_assert(span_eq(buf + off, head.target, "/after"));
	cr_assert_eq(off + head.head_len, len);
}
