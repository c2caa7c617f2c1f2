/* core/http.h: HTTP/1.1 request head parser and rewriter (chunked body
 * framing: chunked.h), for bytes that arrive from an untrusted container. Pure: no I/O,
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
	size_t max_line;   /* longest request/header line, CRLF excluded; 0: default */
	size_t max_head;   /* longest head, final CRLFCRLF included; 0: default
	                    * (values above UINT32_MAX are clamped: spans are 32-bit) */
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

/* Parse the request head at the start of buf[0..len). lim NULL: defaults.
 * Stateless: call again with the whole buffer when more bytes arrive. MORE is
 * only returned while len < max_head, so a buffer of max_head bytes never
 * fills up without an answer. On MORE the contents of *out are unspecified.
 * Errors: 400 malformed or ambiguous framing (also Transfer-Encoding whose
 * final coding is not chunked, RFC 9112 §6.3), 405 a method other than
 * HTTP_METHODS (http_method_known), 431 a limit, 501 a transfer coding other
 * than chunked (RFC 9112 §6.1), 505 an HTTP version other than 1.0/1.1. A
 * head with several Host headers is a 400; a missing Host is left to the
 * daemon. Empty lines before the request line are skipped (§2.2). */
enum http_parse http_head_parse(const char *buf, size_t len,
				const struct http_limits *lim, struct http_head *out);

/* The methods dockerd routes (moby's daemon/server/router: GET, HEAD, POST,
 * PUT, DELETE, and OPTIONS on every path for CORS preflights; no PATCH), as
 * a 405's Allow value. Methods are case-sensitive (RFC 9110 §9.1). */
#define HTTP_METHODS "GET, HEAD, POST, PUT, DELETE, OPTIONS"

/* Is m[0..len) exactly one of HTTP_METHODS (same case)? */
bool http_method_known(const char *m, size_t len);

/* ascii.h's byte classes as one table lookup, for the hot byte loops of
 * http.c and resp.c (internal to core/, not exported):
 *   HTTP_CT_TCHAR  is_tchar(c)
 *   HTTP_CT_CTL    is_ctl(c) && c != '\t': a byte no head line may carry
 *                  (CR and LF included: they end a line, never sit in one) */
#define HTTP_CT_TCHAR 0x01
#define HTTP_CT_CTL 0x02
extern const uint8_t http_ctype[256];

/* The first i in [from, end) with http_ctype[buf[i]] & HTTP_CT_CTL, or end.
 * Eight bytes per step: a head line is 20 to 100 bytes of VCHAR and SP, and
 * this is the one loop that sees every byte of a head. A word is clean when
 * no byte is below 0x20 and none is 0x7f (the "has less than" and "has zero"
 * bit tests, exact as to whether such a byte exists); a word that is not (a
 * CTL or an HTAB in it) is looked at byte by byte. The last partial word is
 * tested as the word ending at end, which overlaps clean bytes already seen.
 * Reads only buf[from, end). */
static inline bool http_word_maybe_ctl(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x, y;

	__builtin_memcpy(&x, p, 8);
	y = x ^ (0x7f * ones);
	return ((x - 0x20 * ones) & ~x & highs) | ((y - ones) & ~y & highs);
}

static inline size_t http_ctl_find(const char *buf, size_t from, size_t end)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t i = from;

	for (; end - i >= 8; i += 8)
		if (http_word_maybe_ctl(b + i))
			for (size_t k = i; k < i + 8; k++)
				if (http_ctype[b[k]] & HTTP_CT_CTL)
					return k;
	if (i < end && end - from >= 8 && !http_word_maybe_ctl(b + end - 8))
		return end;
	for (; i < end; i++)
		if (http_ctype[b[i]] & HTTP_CT_CTL)
			return i;
	return end;
}

/* Case-insensitive ASCII compare of a header name span with name. */
bool http_name_is(const char *buf, struct http_span name, const char *want, size_t want_len);

/* http_name_is for a lowercase literal (only the span's bytes are folded),
 * inline for the parsers' per-header name dispatch. */
static inline bool http_name_is_lower(const char *buf, struct http_span name, const char *lit,
				      size_t n)
{
	const unsigned char *a = (const unsigned char *)buf + name.off;

	if (name.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = a[i] >= 'A' && a[i] <= 'Z' ? (unsigned char)(a[i] + 32) : a[i];

		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* Re-serialise a parsed head into out: request line, every header except those
 * named strip_name (any case), then the line inject (already "Name: value\r\n",
 * may be NULL), then the empty line. Returns bytes written or -ENOSPC. */
ssize_t http_head_rewrite(const char *buf, const struct http_head *h,
			  const char *strip_name, size_t strip_len,
			  const char *inject, size_t inject_len,
			  char *out, size_t cap);

/* What http_head_rewrite_ex changes; every field optional (zero: unchanged). */
struct http_rewrite {
	const char *strip_name;   /* headers of this name dropped, any case */
	size_t strip_len;
	const char *inject;       /* "Name: value\r\n" lines put before the empty line */
	size_t inject_len;
	const char *target;       /* the request-target sent instead of the client's */
	size_t target_len;
	bool reframe;             /* drop Content-Length, Transfer-Encoding, Trailer and
	                           * Expect: the caller's inject frames the body it sends */
};

/* http_head_rewrite with a new target and re-framing (tenant isolation: a
 * rewritten query, an inspected body sent with a length of its own). The
 * result always ends in the empty line. Returns bytes written or -ENOSPC. */
ssize_t http_head_rewrite_ex(const char *buf, const struct http_head *h,
			     const struct http_rewrite *rw, char *out, size_t cap);

/* Format Docker's error response: "HTTP/1.1 <status> <text>", Content-Type:
 * application/json, Content-Length, Connection: close (and for a 405, Allow:
 * HTTP_METHODS, RFC 9110 §15.5.6), body {"message":"<msg>"}
 * with msg JSON-escaped (msg NULL: empty), the body ends in "\n" like dockerd's.
 * Returns bytes written, -ENOSPC, or -EINVAL for a status outside 100..999. */
ssize_t http_error_format(int status, const char *msg, char *out, size_t cap);

#endif
