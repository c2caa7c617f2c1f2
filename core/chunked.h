/* core/chunked.h: the chunked body framer (chunked.c), used for request
 * bodies (ring/conn_up.c, with trailer checks) and response bodies (resp.c). */
#ifndef DMX_CORE_CHUNKED_H
#define DMX_CORE_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define HTTP_CHUNK_MAX_LINE 4096               /* chunk-size line (with extensions) or trailer line */
#define HTTP_CHUNK_MAX_TRAILERS HTTP_MAX_HEADERS /* trailer field lines per body */
#define HTTP_CHUNK_MAX_TRAILER_BYTES HTTP_DEFAULT_MAX_HEAD

/* Incremental chunked-body framer: tells where a chunked body ends so the next
 * request on the connection starts at the right byte. */
struct http_chunked {
	int state;
	uint64_t remaining;   /* data bytes left in the current chunk */
	unsigned digits;      /* hex digits in the current size line */
	size_t line;          /* bytes in the current size/trailer line */
	unsigned trailers;    /* trailer field lines seen */
	size_t trailer_bytes; /* bytes of the trailer section so far */
	/* Request bodies only (http_chunked_init_request); hold 0: a response. */
	const char *token_name;
	size_t token_len;
	size_t hold;          /* longest trailer line, CRLF included, the caller keeps */
	const char *reason;   /* after ERROR: static message */
};

enum http_chunk {
	HTTP_CHUNK_MORE = 0,   /* consumed *used bytes, all of them body; need more */
	HTTP_CHUNK_DONE = 1,   /* body ended after *used bytes */
	HTTP_CHUNK_ERROR = 2,  /* malformed framing or size overflow: answer 400 */
};

/* After DONE, further feeds return DONE with *used 0; after ERROR, ERROR.
 * On ERROR *used is the offset of the offending byte. Limits: at most 16 hex
 * digits per chunk size, HTTP_CHUNK_MAX_LINE per size or trailer line,
 * HTTP_CHUNK_MAX_TRAILERS trailer lines, HTTP_CHUNK_MAX_TRAILER_BYTES in all.
 * A response framer (http_chunked_init) uses every byte it is given on MORE. */
void http_chunked_init(struct http_chunked *c);

/* A framer for a request body from a container: a trailer field line is let
 * through only whole and only if its name is none of token_name (the
 * container's token header, any case), Authorization, the hop-by-hop fields
 * (Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade)
 * and the framing, routing and content fields (Content-Length, -Type,
 * -Encoding, -Range, Host, Expect, Max-Forwards, Range); such a field is an
 * ERROR at the start of its line. So on MORE, *used may be less than len:
 * buf[*used..len) is the start of a trailer line, shorter than hold bytes,
 * which the caller must keep and feed again, followed by more bytes. A
 * trailer line longer than hold bytes (CRLF included) is an ERROR: hold is
 * what the caller can keep (its buffer), at least 3. */
void http_chunked_init_request(struct http_chunked *c, const char *token_name, size_t token_len,
			       size_t hold);
enum http_chunk http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
				  size_t *used);
/* Decode, in place, a whole chunked body a framer said DONE to (buf[0..len)
 * is every byte it used): the chunks' data, concatenated, moves to the start
 * of buf; extensions and trailer lines are dropped. *out_len gets the data
 * bytes. 0, or -EINVAL for bytes that are not such a body. */
int http_chunked_decode(char *buf, size_t len, size_t *out_len);

/* Why the framer said ERROR (a static message for Docker's JSON body). */
const char *http_chunked_reason(const struct http_chunked *c);

#endif
