/* core/chunked.h: the chunked body framer (chunked.c), used for request
 * bodies (ring/conn_up.c) and response bodies (resp.c). */
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
};

enum http_chunk {
	HTTP_CHUNK_MORE = 0,   /* consumed *used bytes, all of them body; need more */
	HTTP_CHUNK_DONE = 1,   /* body ended after *used bytes */
	HTTP_CHUNK_ERROR = 2,  /* malformed framing or size overflow: answer 400 */
};

/* After DONE, further feeds return DONE with *used 0; after ERROR, ERROR.
 * On ERROR *used is the offset of the offending byte. Limits: at most 16 hex
 * digits per chunk size, HTTP_CHUNK_MAX_LINE per size or trailer line,
 * HTTP_CHUNK_MAX_TRAILERS trailer lines, HTTP_CHUNK_MAX_TRAILER_BYTES in all. */
void http_chunked_init(struct http_chunked *c);
enum http_chunk http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
				  size_t *used);

#endif
