/* core/http.h: HTTP/1.1 request head parser and rewriter, and chunked body
 * framing, for bytes that arrive from an untrusted container. Pure: no I/O,
 * no allocation. It does not parse responses: dockmux forwards those untouched.
 */
#ifndef DMX_CORE_HTTP_H
#define DMX_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 128
#define HTTP_DEFAULT_MAX_LINE (8 * 1024)
#define HTTP_DEFAULT_MAX_HEAD (64 * 1024)

struct http_limits {
	size_t max_line;   /* longest request/header line, CRLF excluded */
	size_t max_head;   /* longest head, final CRLFCRLF included */
};

enum http_body {
	HTTP_BODY_NONE,     /* no body (no CL, no TE) */
	HTTP_BODY_LENGTH,   /* Content-Length: content_length bytes (may be 0) */
	HTTP_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
};

/* Offsets are into the buffer given to http_head_parse. */
struct http_span {
	uint32_t off;
	uint32_t len;
};

struct http_header {
	struct http_span name;
	struct http_span value;  /* leading/trailing whitespace trimmed */
};

struct http_head {
	struct http_span method;
	struct http_span target;
	int minor;                /* HTTP/1.<minor>: 0 or 1 */
	size_t head_len;          /* bytes of the head, final empty line included */
	enum http_body body;
	uint64_t content_length;  /* valid when body == HTTP_BODY_LENGTH */
	bool upgrade;             /* "Connection: upgrade" token and an Upgrade header:
	                           * after this request the connection is a raw tunnel */
	bool close;               /* "Connection: close", or HTTP/1.0 without keep-alive */
	unsigned nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
	/* When http_head_parse returns HTTP_PARSE_ERROR: */
	int status;               /* HTTP status to answer: 400, 431, 501, 505 */
	const char *reason;       /* static message for Docker's JSON error body */
};

enum http_parse {
	HTTP_PARSE_MORE = 0,      /* head incomplete, read more */
	HTTP_PARSE_DONE = 1,      /* head complete, *out filled */
	HTTP_PARSE_ERROR = 2,     /* out->status and out->reason say why */
};

void http_limits_default(struct http_limits *lim);

/* Parse the request head at the start of buf[0..len). lim NULL: defaults. */
enum http_parse http_head_parse(const char *buf, size_t len,
				const struct http_limits *lim, struct http_head *out);

/* Case-insensitive ASCII compare of a header name span with name. */
bool http_name_is(const char *buf, struct http_span name, const char *want, size_t want_len);

/* Re-serialise a parsed head into out: request line, every header except those
 * named strip_name (any case), then the line inject (already "Name: value\r\n",
 * may be NULL), then the empty line. Returns bytes written or -ENOSPC. */
ssize_t http_head_rewrite(const char *buf, const struct http_head *h,
			  const char *strip_name, size_t strip_len,
			  const char *inject, size_t inject_len,
			  char *out, size_t cap);

/* Format Docker's error response: "HTTP/1.1 <status> <text>", Content-Type:
 * application/json, Content-Length, Connection: close, body {"message":"<msg>"}
 * with msg JSON-escaped. Returns bytes written or -ENOSPC. */
ssize_t http_error_format(int status, const char *msg, char *out, size_t cap);

/* Incremental chunked-body framer: tells where a chunked body ends so the next
 * request on the connection starts at the right byte. */
struct http_chunked {
	int state;
	uint64_t remaining;   /* data bytes left in the current chunk */
	unsigned digits;      /* hex digits in the current size line */
	size_t line;          /* bytes in the current size/trailer line */
};

enum http_chunk {
	HTTP_CHUNK_MORE = 0,   /* consumed *used bytes, all of them body; need more */
	HTTP_CHUNK_DONE = 1,   /* body ended after *used bytes */
	HTTP_CHUNK_ERROR = 2,  /* malformed framing or size overflow: answer 400 */
};

void http_chunked_init(struct http_chunked *c);
enum http_chunk http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
				  size_t *used);

#endif
