/* tests/core_resp.c: response-head parser and response-stream tracker
 * (core/resp.c), driven by tables of dockerd's real answers and of broken
 * framing; pipelined streams are fed whole, in pieces, byte by byte and with
 * LENGTH bodies spliced unseen, and must give the same verdicts every way.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define DOCKERD_HDRS "Api-Version: 1.41\r\n" \
		     "Docker-Experimental: false\r\n" \
		     "Ostype: linux\r\n" \
		     "Server: Docker/20.10.24 (linux)\r\n" \
		     "Date: Tue, 14 May 2024 09:12:31 GMT\r\n"

/* GET /_ping */
#define PING "HTTP/1.1 200 OK\r\n" \
	     "Api-Version: 1.41\r\n" \
	     "Content-Type: application/json\r\n" \
	     "Docker-Experimental: false\r\n" \
	     "Ostype: linux\r\n" \
	     "Server: Docker/20.10.24 (linux)\r\n" \
	     "Date: Tue, 14 May 2024 09:12:31 GMT\r\n" \
	     "Content-Length: 2\r\n" \
	     "\r\n"

/* HEAD /_ping: the length of the GET body, and no body. */
#define HEAD_PING "HTTP/1.1 200 OK\r\n" \
		  "Api-Version: 1.41\r\n" \
		  "Cache-Control: no-cache, no-store, must-revalidate\r\n" \
		  "Content-Length: 2\r\n" \
		  "Content-Type: text/plain; charset=utf-8\r\n" \
		  "Docker-Experimental: false\r\n" \
		  "Ostype: linux\r\n" \
		  "Pragma: no-cache\r\n" \
		  "Server: Docker/20.10.24 (linux)\r\n" \
		  "Date: Tue, 14 May 2024 09:12:31 GMT\r\n" \
		  "\r\n"

/* POST /containers/{id}/start */
#define STARTED "HTTP/1.1 204 No Content\r\n" DOCKERD_HDRS "\r\n"
#define ALREADY_STARTED "HTTP/1.1 304 Not Modified\r\n" DOCKERD_HDRS "\r\n"

/* GET /events?until=...: chunked, one JSON event per chunk. */
#define EVENTS "HTTP/1.1 200 OK\r\n" \
	       "Api-Version: 1.41\r\n" \
	       "Content-Type: application/json\r\n" \
	       "Docker-Experimental: false\r\n" \
	       "Ostype: linux\r\n" \
	       "Server: Docker/20.10.24 (linux)\r\n" \
	       "Date: Tue, 14 May 2024 09:12:31 GMT\r\n" \
	       "Transfer-Encoding: chunked\r\n" \
	       "\r\n"

/* POST /containers/{id}/attach?stream=1&stdin=1&stdout=1 with Upgrade: tcp */
#define UPGRADED "HTTP/1.1 101 UPGRADED\r\n" \
		 "Content-Type: application/vnd.docker.raw-stream\r\n" \
		 "Connection: Upgrade\r\n" \
		 "Upgrade: tcp\r\n" \
		 "Api-Version: 1.41\r\n" \
		 "Docker-Experimental: false\r\n" \
		 "Ostype: linux\r\n" \
		 "Server: Docker/20.10.24 (linux)\r\n" \
		 "\r\n"

/* The same request to a daemon that hijacks with a 200: what dockerd's
 * postContainersAttach writes when the request had no Upgrade header. */
#define HIJACK_200 "HTTP/1.1 200 OK\r\n" \
		   "Content-Type: application/vnd.docker.raw-stream\r\n" \
		   "\r\n"

/* POST /exec/{id}/start without Upgrade: dockerd copies the headers its
 * middleware set (postContainerExecStart) after its hand-written line. */
#define EXEC_HIJACK_200 "HTTP/1.1 200 OK\r\n" \
			"Content-Type: application/vnd.docker.raw-stream\r\n" \
			"Api-Version: 1.41\r\n" \
			"Docker-Experimental: false\r\n" \
			"Ostype: linux\r\n" \
			"Server: Docker/20.10.24 (linux)\r\n" \
			"\r\n"

/* podman (writeHijackHeader) for a non-tty attach or exec at API >= 1.42. */
#define PODMAN_HIJACK_200 "HTTP/1.1 200 OK\r\n" \
			  "Content-Type: application/vnd.docker.multiplexed-stream\r\n" \
			  "\r\n"

/* podman's 101 names the media type where the protocol belongs (its
 * format arguments are swapped): still a 101 with an Upgrade header. */
#define PODMAN_UPGRADED "HTTP/1.1 101 UPGRADED\r\n" \
			"Content-Type: tcp\r\n" \
			"Connection: Upgrade\r\n" \
			"Upgrade: application/vnd.docker.multiplexed-stream\r\n" \
			"\r\n"

/* dockerd's attach to a missing container: it writes the error by hand on
 * the hijacked connection, with the stream type and no length, then closes. */
#define ATTACH_MISSING "HTTP/1.1 404 Not Found\r\n" \
		       "Content-Type: application/vnd.docker.raw-stream\r\n" \
		       "\r\n" \
		       "No such container: web\r\n"

/* POST /exec/{id}/start with {"Detach":true}: the handler writes nothing. */
#define EXEC_DETACHED "HTTP/1.1 200 OK\r\n" DOCKERD_HDRS "Content-Length: 0\r\n\r\n"

static const char event_start[] =
	"{\"status\":\"start\",\"id\":\"4f5e1c2b9a7d\",\"from\":\"alpine:3.19\","
	"\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"4f5e1c2b9a7d\","
	"\"Attributes\":{\"image\":\"alpine:3.19\",\"name\":\"web\"}},\"scope\":\"local\","
	"\"time\":1715677951,\"timeNano\":1715677951123456789}\n";
static const char event_die[] =
	"{\"status\":\"die\",\"id\":\"4f5e1c2b9a7d\",\"from\":\"alpine:3.19\","
	"\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"4f5e1c2b9a7d\","
	"\"Attributes\":{\"exitCode\":\"0\",\"image\":\"alpine:3.19\",\"name\":\"web\"}},"
	"\"scope\":\"local\",\"time\":1715677953,\"timeNano\":1715677953000000001}\n";

/* ---- a growable byte string ---------------------------------------------- */

struct bytes {
	char *p;
	size_t len;
};

static void put_n(struct bytes *b, const void *s, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	cr_assert_not_null(b->p);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put(struct bytes *b, const char *s)
{
	put_n(b, s, strlen(s));
}

static void putf(struct bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct bytes *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < sizeof(tmp));
	put_n(b, tmp, (size_t)n);
}

/* dockerd's JSON answer: standard headers, Content-Length computed. */
static void put_json(struct bytes *b, const char *status_line, const char *body)
{
	putf(b, "%s\r\n" DOCKERD_HDRS "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	     status_line, strlen(body), body);
}

static void put_chunk(struct bytes *b, const char *data)
{
	putf(b, "%zx\r\n", strlen(data));
	put(b, data);
	put(b, "\r\n");
}

/* ---- resp_head_parse: table ------------------------------------------------ */

struct head_case {
	const char *name;
	const char *text;     /* the head, then `tail` bytes that are not part of it */
	size_t tail;
	bool head_req, upgrade_req;
	enum http_parse want;
	int status;
	enum resp_body body;
	uint64_t cl;
	bool interim, close;
};

#define OK(n, t, tl, hr, ur, st, bd, cl_, im, cls) \
	{ n, t, tl, hr, ur, HTTP_PARSE_DONE, st, bd, cl_, im, cls }
#define BAD(n, t, hr, ur) { n, t, 0, hr, ur, HTTP_PARSE_ERROR, 0, RESP_BODY_NONE, 0, false, false }

static const struct head_case head_cases[] = {
	/* bodies by status and request */
	OK("200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 5,
	   false, false, 200, RESP_BODY_LENGTH, 5, false, false),
	OK("200 with Content-Length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 0, false, false),
	OK("largest Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 9223372036854775807ULL, false, false),
	OK("identical duplicate Content-Length",
	   "HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length:7 \r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 7, false, false),
	OK("204 ignores Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0,
	   false, false, 204, RESP_BODY_NONE, 0, false, false),
	OK("304 carries the representation's length",
	   "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0,
	   false, false, 304, RESP_BODY_NONE, 0, false, false),
	OK("HEAD with Content-Length has no body", HEAD_PING, 0,
	   true, false, 200, RESP_BODY_NONE, 0, false, false),
	OK("HEAD with chunked has no body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	   true, false, 200, RESP_BODY_NONE, 0, false, false),
	OK("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 15,
	   false, false, 200, RESP_BODY_CHUNKED, 0, false, false),
	OK("gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_CHUNKED, 0, false, false),
	OK("coding not ending in chunked reads until close",
	   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	OK("no length reads until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbye", 3,
	   false, false, 200, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	OK("HTTP/1.0 without keep-alive closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK", 2,
	   false, false, 200, RESP_BODY_LENGTH, 2, false, true),
	OK("HTTP/1.0 with keep-alive stays open",
	   "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 2, false, false),
	OK("Connection: close", "HTTP/1.1 500 Internal Server Error\r\nConnection: te, Close\r\nContent-Length: 0\r\n\r\n", 0,
	   false, false, 500, RESP_BODY_LENGTH, 0, false, true),
	/* interim and upgrades */
	OK("100 Continue is interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 17,
	   false, false, 100, RESP_BODY_NONE, 0, true, false),
	OK("103 Early Hints is interim", "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", 0,
	   false, false, 103, RESP_BODY_NONE, 0, true, false),
	OK("100 to an upgrade request is interim", "HTTP/1.1 100 Continue\r\n\r\n", 0,
	   false, true, 100, RESP_BODY_NONE, 0, true, false),
	OK("101 to an upgrade request tunnels", UPGRADED "$ ls\n", 5,
	   false, true, 101, RESP_BODY_TUNNEL, 0, false, false),
	OK("101 with Content-Length 0 tunnels",
	   "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n", 0,
	   false, true, 101, RESP_BODY_TUNNEL, 0, false, false),
	OK("200 raw-stream to an upgrade request tunnels", HIJACK_200 "$ ", 2,
	   false, true, 200, RESP_BODY_TUNNEL, 0, false, false),
	OK("200 multiplexed-stream to an upgrade request tunnels",
	   "HTTP/1.1 200 OK\r\nContent-Type: Application/Vnd.Docker.Multiplexed-Stream ; x=1\r\n\r\n", 0,
	   false, true, 200, RESP_BODY_TUNNEL, 0, false, false),
	OK("200 raw-stream without an upgrade request reads until close", HIJACK_200, 0,
	   false, false, 200, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	OK("200 raw-stream with a length is not a hijack",
	   "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nContent-Length: 3\r\n\r\n", 0,
	   false, true, 200, RESP_BODY_LENGTH, 3, false, false),
	OK("200 json to an upgrade request is a plain response",
	   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", 0,
	   false, true, 200, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	OK("404 declines an upgrade",
	   "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n", 0,
	   false, true, 404, RESP_BODY_LENGTH, 45, false, false),
	/* hijacks of attach and exec start without an upgrade asked for */
	OK("dockerd exec start hijack with its own headers", EXEC_HIJACK_200 "# ", 2,
	   false, true, 200, RESP_BODY_TUNNEL, 0, false, false),
	OK("podman multiplexed hijack", PODMAN_HIJACK_200, 0,
	   false, true, 200, RESP_BODY_TUNNEL, 0, false, false),
	OK("podman 101 with its swapped values", PODMAN_UPGRADED, 0,
	   false, true, 101, RESP_BODY_TUNNEL, 0, false, false),
	OK("dockerd attach to a missing container reads until close", ATTACH_MISSING, 24,
	   false, true, 404, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	OK("dockerd detached exec start is a plain empty 200", EXEC_DETACHED, 0,
	   false, true, 200, RESP_BODY_LENGTH, 0, false, false),
	OK("200 raw-stream to HEAD is no hijack", HIJACK_200, 0,
	   true, true, 200, RESP_BODY_NONE, 0, false, false),
	OK("200 raw-stream chunked is a stream, no hijack",
	   "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
	   "Transfer-Encoding: chunked\r\n\r\n", 0,
	   false, true, 200, RESP_BODY_CHUNKED, 0, false, false),
	/* dockerd */
	OK("dockerd ping", PING "OK", 2, false, false, 200, RESP_BODY_LENGTH, 2, false, false),
	OK("dockerd start", STARTED, 0, false, false, 204, RESP_BODY_NONE, 0, false, false),
	OK("dockerd already started", ALREADY_STARTED, 0, false, false, 304, RESP_BODY_NONE, 0, false, false),
	OK("dockerd events", EVENTS, 0, false, false, 200, RESP_BODY_CHUNKED, 0, false, false),
	/* leniency */
	OK("bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", 1,
	   false, false, 200, RESP_BODY_LENGTH, 1, false, false),
	OK("mixed line ends", "HTTP/1.1 200 OK\r\nContent-Length: 1\n\r\nx", 1,
	   false, false, 200, RESP_BODY_LENGTH, 1, false, false),
	OK("no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 0, false, false),
	OK("empty reason phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0,
	   false, false, 200, RESP_BODY_LENGTH, 0, false, false),
	OK("odd status and obs-text", "HTTP/1.1 999 Caf\xc3\xa9\r\nX-A: \t b \xff\r\nX-B:\r\n\r\n", 0,
	   false, false, 999, RESP_BODY_UNTIL_CLOSE, 0, false, false),
	/* errors */
	BAD("101 without an upgrade request", UPGRADED, false, false),
	BAD("101 without Upgrade header", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", false, true),
	BAD("101 over HTTP/1.0", "HTTP/1.0 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\n", false, true),
	BAD("differing Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false, false),
	BAD("Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", false, false),
	BAD("signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", false, false),
	BAD("empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", false, false),
	BAD("Content-Length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", false, false),
	BAD("Content-Length with Transfer-Encoding",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false, false),
	BAD("Content-Length with Transfer-Encoding to HEAD",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", true, false),
	BAD("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", false, false),
	BAD("chunked twice across lines",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, false),
	BAD("empty coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n", false, false),
	BAD("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, false),
	BAD("obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", false, false),
	BAD("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", false, false),
	BAD("space in header name", "HTTP/1.1 200 OK\r\nContent Length: 5\r\n\r\n", false, false),
	BAD("empty header name", "HTTP/1.1 200 OK\r\n: 5\r\n\r\n", false, false),
	BAD("header line without colon", "HTTP/1.1 200 OK\r\nContent-Length\r\n\r\n", false, false),
	BAD("bare CR", "HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 5\r\n\r\n", false, false),
	BAD("CR before CRLF", "HTTP/1.1 200 OK\r\nX-A: a\r\r\n\r\n", false, false),
	BAD("control character", "HTTP/1.1 200 OK\r\nX-A: \x01\r\n\r\n", false, false),
	BAD("DEL in reason", "HTTP/1.1 200 O\x7fK\r\n\r\n", false, false),
	BAD("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", false, false),
	BAD("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", false, false),
	BAD("lower-case version", "http/1.1 200 OK\r\n\r\n", false, false),
	BAD("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", false, false),
	BAD("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", false, false),
	BAD("status below 100", "HTTP/1.1 099 Nope\r\n\r\n", false, false),
	BAD("status with sign", "HTTP/1.1 +20 OK\r\n\r\n", false, false),
	BAD("two spaces after version", "HTTP/1.1  200 OK\r\n\r\n", false, false),
	BAD("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", false, false),
	BAD("a request, not a response", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", false, false),
};

static enum http_parse parse_n(const char *s, size_t n, bool hr, bool ur, struct resp_head *h)
{
	return resp_head_parse(s, n, hr, ur, h);
}

Test(resp, head_table)
{
	for (size_t i = 0; i < N_ELEMS(head_cases); i++) {
		const struct head_case *c = &head_cases[i];
		size_t len = strlen(c->text);
		struct resp_head h;
		enum http_parse r = parse_n(c->text, len, c->head_req, c->upgrade_req, &h);

		cr_assert_eq(r, c->want, "%s: got %d (%s)", c->name, r, h.error ? h.error : "");
		if (r == HTTP_PARSE_ERROR) {
			cr_assert_not_null(h.error, "%s", c->name);
			continue;
		}
		cr_assert_eq(h.head_len, len - c->tail, "%s", c->name);
		cr_assert_eq(h.status, c->status, "%s", c->name);
		cr_assert_eq(h.body, c->body, "%s: body %d", c->name, h.body);
		cr_assert_eq(h.content_length, c->cl, "%s", c->name);
		cr_assert_eq(h.interim, c->interim, "%s", c->name);
		cr_assert_eq(h.close, c->close, "%s", c->name);
	}
}

/* A head is never DONE before its last byte, and never wrongly ERROR before
 * the byte that makes it wrong: every prefix of a valid head is MORE. */
Test(resp, head_prefixes_are_more)
{
	for (size_t i = 0; i < N_ELEMS(head_cases); i++) {
		const struct head_case *c = &head_cases[i];
		size_t head_len = strlen(c->text) - c->tail;
		struct resp_head h;

		for (size_t n = 0; n < head_len; n++) {
			enum http_parse r = parse_n(c->text, n, c->head_req, c->upgrade_req, &h);

			if (c->want == HTTP_PARSE_DONE)
				cr_assert_eq(r, HTTP_PARSE_MORE, "%s: prefix %zu", c->name, n);
			else
				cr_assert_neq(r, HTTP_PARSE_DONE, "%s: prefix %zu", c->name, n);
		}
	}
}

Test(resp, rejects_garbage_before_the_head_ends)
{
	struct resp_head h;

	cr_assert_eq(parse_n("HTTX", 4, false, false, &h), HTTP_PARSE_ERROR);
	cr_assert_str_eq(h.error, "not an HTTP response");
	cr_assert_eq(parse_n("\x01\x00\x00\x00", 4, false, false, &h), HTTP_PARSE_ERROR);
	cr_assert_eq(parse_n("HTT", 3, false, false, &h), HTTP_PARSE_MORE);
	cr_assert_eq(parse_n("", 0, false, false, &h), HTTP_PARSE_MORE);
}

Test(resp, rejects_nul_in_head)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n";
	struct resp_head h;

	cr_assert_eq(parse_n(s, sizeof(s) - 1, false, false, &h), HTTP_PARSE_ERROR);
}

/* Head of exactly `len` bytes made of filler headers. */
static void put_big_head(struct bytes *b, size_t len)
{
	static const char start[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
	size_t room = len - (sizeof(start) - 1) - 2;

	put(b, start);
	while (room) {
		/* "X: " + value + "\r\n", at least 6 bytes, at most 1000 */
		size_t line = room > 1000 ? 1000 : room;

		if (room - line > 0 && room - line < 6)
			line -= 6;
		char value[1000];

		memset(value, 'v', line - 5);
		put(b, "X: ");
		put_n(b, value, line - 5);
		put(b, "\r\n");
		room -= line;
	}
	put(b, "\r\n");
	cr_assert_eq(b->len, len);
}

Test(resp, head_size_limit)
{
	struct bytes b = { 0 };
	struct resp_head h;

	put_big_head(&b, RESP_MAX_HEAD);
	cr_assert_eq(parse_n(b.p, b.len, false, false, &h), HTTP_PARSE_DONE);
	cr_assert_eq(h.head_len, RESP_MAX_HEAD);
	cr_assert_eq(parse_n(b.p, b.len - 1, false, false, &h), HTTP_PARSE_MORE);
	free(b.p);

	b = (struct bytes){ 0 };
	put_big_head(&b, RESP_MAX_HEAD + 1);
	cr_assert_eq(parse_n(b.p, b.len, false, false, &h), HTTP_PARSE_ERROR);
	cr_assert_str_eq(h.error, "response head too large");
	cr_assert_eq(parse_n(b.p, RESP_MAX_HEAD, false, false, &h), HTTP_PARSE_ERROR);
	cr_assert_eq(parse_n(b.p, RESP_MAX_HEAD - 1, false, false, &h), HTTP_PARSE_MORE);
	free(b.p);
}

Test(resp, header_count_limit)
{
	struct bytes b = { 0 };
	struct resp_head h;

	put(&b, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < RESP_MAX_HEADERS - 1; i++)
		putf(&b, "X-%d: v\r\n", i);
	put(&b, "Content-Length: 0\r\n");
	put(&b, "\r\n");
	cr_assert_eq(parse_n(b.p, b.len, false, false, &h), HTTP_PARSE_DONE);
	b.len -= 2;
	put(&b, "X-Last: v\r\n\r\n");
	cr_assert_eq(parse_n(b.p, b.len, false, false, &h), HTTP_PARSE_ERROR);
	cr_assert_str_eq(h.error, "too many headers");
	free(b.p);
}

/* ---- tracker: a miniature engine ------------------------------------------ */

struct req {
	bool head, upgrade;
};

struct ev {
	enum resp_track r;
	size_t at;     /* stream offset after the verdict */
	int status;    /* END/TUNNEL; else -1 */
};

struct run {
	struct ev ev[64];
	size_t n;
	unsigned outstanding;
	const char *error;
};

static void record(struct run *out, enum resp_track r, size_t at, int status)
{
	cr_assert_lt(out->n, N_ELEMS(out->ev));
	out->ev[out->n++] = (struct ev){ r, at,
		r == RESP_TRACK_END || r == RESP_TRACK_TUNNEL ? status : -1 };
}

/* Bytes arrive `step` at a time (0: all at once). Like the engine, the
 * driver keeps unconsumed bytes (a partial head) and presents them again
 * with the next arrival. splice: LENGTH and UNTIL_CLOSE bodies are skipped
 * unseen. eof: the upstream closes after the last byte. */
static void drive(struct run *out, const char *s, size_t len, const struct req *reqs,
		  size_t nreq, size_t step, bool splice, bool eof)
{
	struct resp_tracker t;
	size_t start = 0, avail = 0;
	int status;

	memset(out, 0, sizeof(*out));
	resp_tracker_init(&t);
	for (size_t i = 0; i < nreq; i++)
		cr_assert_eq(resp_tracker_push(&t, reqs[i].head, reqs[i].upgrade), 0);
	for (;;) {
		avail = step && len - avail > step ? avail + step : len;
		for (;;) {
			enum resp_track r;

			status = -1;
			if (splice && resp_tracker_next(&t) == RESP_NEXT_SPLICE) {
				uint64_t k = avail - start, left = resp_tracker_body_left(&t);

				cr_assert_gt(left, 0);
				if (k > left)
					k = left;
				if (!k)
					break;
				r = resp_tracker_skip(&t, k, &status);
				start += (size_t)k;
				if (r == RESP_TRACK_MORE)
					continue;
			} else {
				size_t used = 12345;

				r = resp_tracker_feed(&t, s + start, avail - start, &used, &status);
				cr_assert_leq(used, avail - start);
				start += used;
				if (r == RESP_TRACK_MORE) {
					if (start < avail) {
						cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_HEAD);
						cr_assert_leq(resp_tracker_head_need(&t), avail - start + 1);
					}
					break;
				}
			}
			record(out, r, start, status);
			if (r == RESP_TRACK_TUNNEL || r == RESP_TRACK_ERROR)
				goto done;
		}
		if (avail == len)
			break;
	}
	if (eof) {
		enum resp_track r = resp_tracker_eof(&t, &status);

		record(out, r, start, status);
	}
done:
	out->outstanding = resp_tracker_outstanding(&t);
	out->error = resp_tracker_error(&t);
}

static void assert_runs_equal(const struct run *a, const struct run *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %zu events vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_eq(a->ev[i].r, b->ev[i].r, "%s: event %zu verdict", what, i);
		cr_assert_eq(a->ev[i].at, b->ev[i].at, "%s: event %zu at %zu vs %zu", what, i,
			     a->ev[i].at, b->ev[i].at);
		cr_assert_eq(a->ev[i].status, b->ev[i].status, "%s: event %zu status", what, i);
	}
	cr_assert_eq(a->outstanding, b->outstanding, "%s: outstanding", what);
}

/* Run whole, then in every split listed, with and without splicing: all
 * must agree with the whole-buffer run, which is returned. */
static void drive_all(struct run *whole, const char *s, size_t len, const struct req *reqs,
		      size_t nreq, bool eof)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 1000 };
	struct run other;
	char what[64];

	drive(whole, s, len, reqs, nreq, 0, false, eof);
	drive(&other, s, len, reqs, nreq, 0, true, eof);
	assert_runs_equal(whole, &other, "whole, spliced");
	for (size_t i = 0; i < N_ELEMS(steps); i++) {
		for (int sp = 0; sp < 2; sp++) {
			snprintf(what, sizeof(what), "step %zu%s", steps[i], sp ? ", spliced" : "");
			drive(&other, s, len, reqs, nreq, steps[i], sp, eof);
			assert_runs_equal(whole, &other, what);
		}
	}
}

static void assert_events(const struct run *r, const struct ev *want, size_t n)
{
	cr_assert_eq(r->n, n, "%zu events, want %zu", r->n, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(r->ev[i].r, want[i].r, "event %zu: verdict %d", i, r->ev[i].r);
		cr_assert_eq(r->ev[i].at, want[i].at, "event %zu: at %zu, want %zu", i,
			     r->ev[i].at, want[i].at);
		cr_assert_eq(r->ev[i].status, want[i].status, "event %zu: status", i);
	}
}

/* One docker CLI session's worth of pipelined answers. Offsets in *ends. */
static void put_session(struct bytes *b, size_t *ends, struct req *reqs)
{
	size_t k = 0;

	put(b, PING "OK");                                     /* GET /_ping */
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put(b, HEAD_PING);                                     /* HEAD /_ping */
	reqs[k] = (struct req){ .head = true }, ends[k++] = b->len;
	put(b, "HTTP/1.1 100 Continue\r\n\r\n");               /* POST /containers/create */
	put_json(b, "HTTP/1.1 201 Created",
		 "{\"Id\":\"4f5e1c2b9a7d0e6f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f\",\"Warnings\":[]}\n");
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put(b, STARTED);                                       /* POST .../start */
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put(b, ALREADY_STARTED);                               /* POST .../start again */
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put(b, EVENTS);                                        /* GET /events?until=... */
	put_chunk(b, event_start);
	put_chunk(b, event_die);
	put(b, "0\r\n\r\n");
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put_json(b, "HTTP/1.1 404 Not Found",                  /* an upgrade, declined */
		 "{\"message\":\"No such container: deadbeef\"}\n");
	reqs[k] = (struct req){ .upgrade = true }, ends[k++] = b->len;
	put(b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Status\r\n\r\n"
	       "3;ext=1\r\nabc\r\n0\r\nX-Status: done\r\n\r\n");  /* chunked with trailers */
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	put_json(b, "HTTP/1.1 200 OK", "[]\n");                /* GET /containers/json */
	reqs[k] = (struct req){ 0 }, ends[k++] = b->len;
	cr_assert_eq(k, 9);
}

static const int session_status[9] = { 200, 200, 201, 204, 304, 200, 404, 200, 200 };

Test(resp, pipelined_session_any_split)
{
	struct bytes b = { 0 };
	size_t ends[9];
	struct req reqs[9];
	struct ev want[10];
	struct run run;

	put_session(&b, ends, reqs);
	for (size_t i = 0; i < 9; i++)
		want[i] = (struct ev){ RESP_TRACK_END, ends[i], session_status[i] };
	want[9] = (struct ev){ RESP_TRACK_CLOSED, b.len, -1 };
	drive_all(&run, b.p, b.len, reqs, 9, true);
	assert_events(&run, want, 10);
	cr_assert_eq(run.outstanding, 0);
	free(b.p);
}

/* The same session, but the connection is reused: requests are pushed as
 * they are sent, and the FIFO wraps many times. */
Test(resp, fifo_wraps_and_keeps_request_flags)
{
	struct resp_tracker t;
	struct bytes b = { 0 };
	size_t ends[9], pos = 0;
	struct req reqs[9];

	resp_tracker_init(&t);
	put_session(&b, ends, reqs);
	for (int round = 0; round < 5; round++) {
		for (size_t i = 0; i < 9; i++)
			cr_assert_eq(resp_tracker_push(&t, reqs[i].head, reqs[i].upgrade), 0);
		pos = 0;
		for (size_t i = 0; i < 9; i++) {
			size_t used;
			int status = 0;

			cr_assert_eq(resp_tracker_feed(&t, b.p + pos, b.len - pos, &used, &status),
				     RESP_TRACK_END, "round %d response %zu", round, i);
			pos += used;
			cr_assert_eq(pos, ends[i]);
			cr_assert_eq(status, session_status[i]);
			cr_assert_eq(resp_tracker_outstanding(&t), 8 - i);
		}
		cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_IDLE);
	}
	free(b.p);
}

Test(resp, attach_upgrade_tunnels_at_head_end)
{
	static const char s[] = UPGRADED "\x01\x00\x00\x00\x00\x00\x00\x06hello\n";
	const struct req reqs[] = { { .upgrade = true } };
	const struct ev want[] = { { RESP_TRACK_TUNNEL, sizeof(UPGRADED) - 1, 101 } };
	struct run run;

	drive_all(&run, s, sizeof(s) - 1, reqs, 1, true);
	assert_events(&run, want, 1);
	cr_assert_eq(run.outstanding, 0);
}

Test(resp, old_daemon_200_hijack_tunnels)
{
	static const char s[] = HIJACK_200 "root@4f5e1c2b9a7d:/# ";
	const struct req reqs[] = { { 0 }, { .upgrade = true } };
	struct bytes b = { 0 };
	struct run run;

	put(&b, PING "OK");
	put(&b, s);
	{
		const struct ev want[] = {
			{ RESP_TRACK_END, sizeof(PING) + 1, 200 },
			{ RESP_TRACK_TUNNEL, sizeof(PING) + 1 + sizeof(HIJACK_200) - 1, 200 },
		};

		drive_all(&run, b.p, b.len, reqs, 2, true);
		assert_events(&run, want, 2);
	}
	free(b.p);
}

/* A detached exec start, then a request pipelined behind it: the tracker
 * says END for the empty 200 (the engine then parses what it held). */
Test(resp, detached_exec_start_ends_and_the_next_response_follows)
{
	const struct req reqs[] = { { .upgrade = true }, { 0 } };
	struct bytes b = { 0 };
	struct run run;

	put(&b, EXEC_DETACHED);
	put(&b, PING "OK");
	{
		const struct ev want[] = {
			{ RESP_TRACK_END, sizeof(EXEC_DETACHED) - 1, 200 },
			{ RESP_TRACK_END, sizeof(EXEC_DETACHED) - 1 + sizeof(PING) + 1, 200 },
		};

		drive_all(&run, b.p, b.len, reqs, 2, false);
		assert_events(&run, want, 2);
	}
	cr_assert_eq(run.outstanding, 0);
	free(b.p);
}

Test(resp, podman_multiplexed_hijack_tunnels_at_head_end)
{
	static const char s[] = PODMAN_HIJACK_200 "\x01\0\0\0\0\0\0\x06hello\n";
	const struct req reqs[] = { { .upgrade = true } };
	const struct ev want[] = { { RESP_TRACK_TUNNEL, sizeof(PODMAN_HIJACK_200) - 1, 200 } };
	struct run run;

	drive_all(&run, s, sizeof(s) - 1, reqs, 1, true);
	assert_events(&run, want, 1);
	cr_assert_eq(run.outstanding, 0);
}

Test(resp, tunnel_stays_a_tunnel)
{
	struct resp_tracker t;
	size_t used;
	int status = 0;

	resp_tracker_init(&t);
	cr_assert_eq(resp_tracker_push(&t, false, true), 0);
	cr_assert_eq(resp_tracker_feed(&t, UPGRADED "xy", sizeof(UPGRADED) + 1, &used, &status),
		     RESP_TRACK_TUNNEL);
	cr_assert_eq(used, sizeof(UPGRADED) - 1);
	cr_assert_eq(status, 101);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_TUNNEL);
	cr_assert_eq(resp_tracker_feed(&t, "xy", 2, &used, &status), RESP_TRACK_TUNNEL);
	cr_assert_eq(used, 0);
	cr_assert_eq(resp_tracker_eof(&t, &status), RESP_TRACK_CLOSED);
}

Test(resp, upgrade_101_without_request_is_an_error)
{
	const struct req reqs[] = { { 0 } };
	const struct ev want[] = { { RESP_TRACK_ERROR, 0, -1 } };
	struct run run;

	drive_all(&run, UPGRADED, sizeof(UPGRADED) - 1, reqs, 1, true);
	assert_events(&run, want, 1);
	cr_assert_str_eq(run.error, "101 to a request without upgrade");
	cr_assert_eq(run.outstanding, 1);
}

Test(resp, continue_then_final_pops_once)
{
	static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n"
				"HTTP/1.1 102 Processing\n\n"
				"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	const struct req reqs[] = { { 0 } };
	const struct ev want[] = { { RESP_TRACK_END, sizeof(s) - 1, 200 },
				   { RESP_TRACK_CLOSED, sizeof(s) - 1, -1 } };
	struct run run;

	drive_all(&run, s, sizeof(s) - 1, reqs, 1, true);
	assert_events(&run, want, 2);
	cr_assert_eq(run.outstanding, 0);
}

Test(resp, eof_after_interim_is_an_error)
{
	static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const struct req reqs[] = { { 0 } };
	const struct ev want[] = { { RESP_TRACK_ERROR, sizeof(s) - 1, -1 } };
	struct run run;

	drive_all(&run, s, sizeof(s) - 1, reqs, 1, true);
	assert_events(&run, want, 1);
}

Test(resp, until_close_ends_at_eof)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nline 1\nline 2\n";
	const struct req reqs[] = { { 0 }, { 0 } };
	const struct ev want[] = { { RESP_TRACK_END, sizeof(s) - 1, 200 } };
	struct run run;

	drive_all(&run, s, sizeof(s) - 1, reqs, 2, true);
	assert_events(&run, want, 1);
	cr_assert_eq(run.outstanding, 1, "the second request went unanswered");
}

Test(resp, eof_verdicts)
{
	static const struct {
		const char *name;
		const char *s;
		enum resp_track want;
	} cases[] = {
		{ "nothing sent", "", RESP_TRACK_CLOSED },
		{ "inside a head", "HTTP/1.1 200 OK\r\nContent-Le", RESP_TRACK_ERROR },
		{ "inside a LENGTH body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", RESP_TRACK_ERROR },
		{ "inside a chunked body", EVENTS "5\r\nab", RESP_TRACK_ERROR },
		{ "before the last chunk", EVENTS "2\r\nab\r\n", RESP_TRACK_ERROR },
		{ "after a response", PING "OK", RESP_TRACK_CLOSED },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct req reqs[] = { { 0 } };
		struct run run;

		drive_all(&run, cases[i].s, strlen(cases[i].s), reqs, 1, true);
		cr_assert_gt(run.n, 0, "%s", cases[i].name);
		cr_assert_eq(run.ev[run.n - 1].r, cases[i].want, "%s", cases[i].name);
	}
}

Test(resp, connection_close_response_ends_the_stream)
{
	static const char close_resp[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nOK";
	const struct req reqs[] = { { 0 }, { 0 } };
	struct bytes b = { 0 };
	struct run run;

	/* EOF after it: clean, one request unanswered. */
	{
		const struct ev want[] = { { RESP_TRACK_END, sizeof(close_resp) - 1, 200 },
					   { RESP_TRACK_CLOSED, sizeof(close_resp) - 1, -1 } };

		drive_all(&run, close_resp, sizeof(close_resp) - 1, reqs, 2, true);
		assert_events(&run, want, 2);
		cr_assert_eq(run.outstanding, 1);
	}
	/* Another response after it: error. */
	put(&b, close_resp);
	put(&b, PING "OK");
	{
		const struct ev want[] = { { RESP_TRACK_END, sizeof(close_resp) - 1, 200 },
					   { RESP_TRACK_ERROR, sizeof(close_resp) - 1, -1 } };

		drive_all(&run, b.p, b.len, reqs, 2, true);
		assert_events(&run, want, 2);
	}
	free(b.p);
}

Test(resp, response_with_nothing_outstanding_is_an_error)
{
	struct bytes b = { 0 };
	const struct req reqs[] = { { 0 } };
	struct run run;

	drive_all(&run, PING "OK", sizeof(PING) + 1, NULL, 0, true);
	{
		const struct ev want[] = { { RESP_TRACK_ERROR, 0, -1 } };

		assert_events(&run, want, 1);
		cr_assert_str_eq(run.error, "response with no request outstanding");
	}
	/* one request, two responses */
	put(&b, PING "OK");
	put(&b, STARTED);
	drive_all(&run, b.p, b.len, reqs, 1, true);
	{
		const struct ev want[] = { { RESP_TRACK_END, sizeof(PING) + 1, 200 },
					   { RESP_TRACK_ERROR, sizeof(PING) + 1, -1 } };

		assert_events(&run, want, 2);
	}
	free(b.p);
}

Test(resp, framing_errors_in_a_stream)
{
	static const struct {
		const char *name;
		const char *s;
		size_t at;   /* offset of the error, after one good response */
	} cases[] = {
		{ "differing Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 0 },
		{ "Content-Length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 0 },
		{ "chunk size not hex", EVENTS "zz\r\n", sizeof(EVENTS) - 1 },
		{ "chunk data too long", EVENTS "2\r\nabc\r\n0\r\n\r\n", sizeof(EVENTS) - 1 + 5 },
		{ "bare LF in chunk framing", EVENTS "2\nab", sizeof(EVENTS) - 1 + 1 },
		{ "not HTTP", "\x01\x00\x00\x00\x00\x00\x00\x02hi", 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct req reqs[] = { { 0 }, { 0 } };
		struct bytes b = { 0 };
		struct run run;

		put(&b, STARTED);
		put(&b, cases[i].s);
		drive_all(&run, b.p, b.len, reqs, 2, true);
		cr_assert_eq(run.n, 2, "%s", cases[i].name);
		cr_assert_eq(run.ev[0].r, RESP_TRACK_END, "%s", cases[i].name);
		cr_assert_eq(run.ev[1].r, RESP_TRACK_ERROR, "%s", cases[i].name);
		cr_assert_eq(run.ev[1].at, sizeof(STARTED) - 1 + cases[i].at, "%s: at %zu",
			     cases[i].name, run.ev[1].at);
		cr_assert_not_null(run.error);
		free(b.p);
	}
}

Test(resp, oversized_head_fails_at_the_limit_byte_by_byte)
{
	struct bytes b = { 0 };
	const struct req reqs[] = { { 0 } };
	struct run run;

	put(&b, "HTTP/1.1 200 OK\r\n");
	while (b.len < RESP_MAX_HEAD + 100)
		put(&b, "X-Filler: 0123456789abcdef0123456789abcdef\r\n");
	drive(&run, b.p, b.len, reqs, 1, 1, false, false);
	cr_assert_eq(run.n, 1);
	cr_assert_eq(run.ev[0].r, RESP_TRACK_ERROR);
	cr_assert_str_eq(run.error, "response head too large");
	free(b.p);
}

Test(resp, splice_skips_exactly_the_length_body)
{
	struct resp_tracker t;
	struct bytes b = { 0 };
	size_t used;
	int status = 0;

	static const char info[] = "{\"Containers\":3,\"Images\":12,\"Driver\":\"overlay2\"}\n";
	const size_t cl = sizeof(info) - 1;

	put_json(&b, "HTTP/1.1 200 OK", info);
	put(&b, STARTED);
	resp_tracker_init(&t);
	cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_HEAD);
	cr_assert_eq(resp_tracker_head_need(&t), 1);

	/* The engine shows only the head... */
	cr_assert_eq(resp_tracker_feed(&t, b.p, 40, &used, &status), RESP_TRACK_MORE);
	cr_assert_eq(used, 0);
	cr_assert_eq(resp_tracker_head_need(&t), 41);
	const char *body = strstr(b.p, "\r\n\r\n") + 4;
	size_t head_len = (size_t)(body - b.p);
	cr_assert_eq(resp_tracker_feed(&t, b.p, head_len, &used, &status), RESP_TRACK_MORE);
	cr_assert_eq(used, head_len);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_SPLICE);
	cr_assert_eq(resp_tracker_body_left(&t), cl);
	cr_assert_eq(resp_tracker_last(&t)->content_length, cl);

	/* ...splices the body in two goes... */
	cr_assert_eq(resp_tracker_skip(&t, cl - 1, &status), RESP_TRACK_MORE);
	cr_assert_eq(resp_tracker_body_left(&t), 1);
	status = 0;
	cr_assert_eq(resp_tracker_skip(&t, 1, &status), RESP_TRACK_END);
	cr_assert_eq(status, 200);
	cr_assert_eq(resp_tracker_outstanding(&t), 1);

	/* ...and resumes feeding at the next head. */
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_HEAD);
	cr_assert_eq(resp_tracker_body_left(&t), 0);
	cr_assert_eq(resp_tracker_feed(&t, body + cl, b.len - head_len - cl, &used, &status),
		     RESP_TRACK_END);
	cr_assert_eq(status, 204);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_IDLE);
	free(b.p);
}

Test(resp, skip_past_the_body_is_an_error)
{
	struct resp_tracker t;
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
	size_t used;
	int status;

	resp_tracker_init(&t);
	cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_skip(&t, 0, &status), RESP_TRACK_MORE);
	cr_assert_eq(resp_tracker_feed(&t, s, sizeof(s) - 1, &used, &status), RESP_TRACK_MORE);
	cr_assert_eq(resp_tracker_skip(&t, 5, &status), RESP_TRACK_ERROR);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_ERROR);
	cr_assert_eq(resp_tracker_feed(&t, "abcd", 4, &used, &status), RESP_TRACK_ERROR);
	cr_assert_eq(used, 0);
}

Test(resp, until_close_body_may_be_spliced)
{
	struct resp_tracker t;
	static const char s[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
	size_t used;
	int status = 0;

	resp_tracker_init(&t);
	cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_feed(&t, s, sizeof(s) - 1, &used, &status), RESP_TRACK_MORE);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_SPLICE);
	cr_assert_eq(resp_tracker_body_left(&t), UINT64_MAX);
	cr_assert_eq(resp_tracker_skip(&t, 1u << 30, &status), RESP_TRACK_MORE);
	cr_assert_eq(resp_tracker_eof(&t, &status), RESP_TRACK_END);
	cr_assert_eq(status, 200);
	cr_assert(resp_tracker_last(&t)->close);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_CLOSE);
}

Test(resp, fifo_full_is_enobufs)
{
	struct resp_tracker t;
	size_t used;
	int status;

	resp_tracker_init(&t);
	cr_assert_eq(resp_tracker_outstanding(&t), 0);
	cr_assert_eq(resp_tracker_next(&t), RESP_NEXT_IDLE);
	for (int i = 0; i < RESP_TRACK_FIFO; i++)
		cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_outstanding(&t), RESP_TRACK_FIFO);
	cr_assert_eq(resp_tracker_push(&t, false, false), -ENOBUFS);
	cr_assert_eq(resp_tracker_outstanding(&t), RESP_TRACK_FIFO);
	cr_assert_eq(resp_tracker_feed(&t, STARTED, sizeof(STARTED) - 1, &used, &status), RESP_TRACK_END);
	cr_assert_eq(resp_tracker_outstanding(&t), RESP_TRACK_FIFO - 1);
	cr_assert_eq(resp_tracker_push(&t, false, false), 0);
	cr_assert_eq(resp_tracker_push(&t, false, false), -ENOBUFS);
}

/* Damage the session one byte at a time: whatever the verdicts, every split
 * and splicing must reach the same ones at the same offsets. */
Test(resp, damaged_streams_agree_across_splits)
{
	struct bytes b = { 0 };
	size_t ends[9];
	struct req reqs[9];
	unsigned seed = 12345;

	put_session(&b, ends, reqs);
	char *copy = malloc(b.len);
	cr_assert_not_null(copy);
	for (int i = 0; i < 300; i++) {
		static const char bytes[] = "\r\n :0aF;,\x00\x7f";
		struct run whole, other;
		size_t at;

		memcpy(copy, b.p, b.len);
		seed = seed * 1103515245 + 12345;
		at = (seed >> 8) % b.len;
		seed = seed * 1103515245 + 12345;
		copy[at] = bytes[(seed >> 8) % (sizeof(bytes) - 1)];
		drive(&whole, copy, b.len, reqs, 9, 0, false, true);
		for (size_t step = 1; step <= 5; step += 4) {
			drive(&other, copy, b.len, reqs, 9, step, step == 5, true);
			assert_runs_equal(&whole, &other, "damaged");
		}
	}
	free(copy);
	free(b.p);
}
