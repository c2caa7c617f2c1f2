/* tests/upstream.h: a small, real HTTP/1.1 server on a Unix socket that plays
 * the Docker daemon in the API integration tests. One thread accepts, one
 * thread serves each connection (keep-alive, Content-Length and chunked bodies,
 * upgrade to a raw echo tunnel). Every request head it reads is logged so a
 * test can check what dockmux forwarded. Not a Docker API: only the endpoints
 * below exist, everything else gets 404.
 *
 *   GET  /_ping        200 "OK"
 *   GET  /big?n=N      200, N bytes of upstream_pattern(0..N-1)
 *   POST /echo         200, the request body (decoded if chunked)
 *   GET  /hang         no answer; the server reads until the peer closes
 *   GET  /slow?ms=M    200 "OK" after M ms of silence
 *   GET  /trickle?n=N&ms=M  a chunked 200 head at once, then N chunks "tick\n"
 *                      M ms apart (a stream, like logs -f), then its end
 *   GET  /noupgrade    200 "no upgrade", even with "Connection: Upgrade" (a refused upgrade)
 *   GET  /garbage      a malformed response: two differing Content-Lengths, then
 *                      the connection stays open
 *   any request with "Connection: Upgrade" (or, to /grpc and /session, with
 *   just an Upgrade header, as dockerd's BuildKit routes): 101, then echoes raw
 *   bytes until EOF, then writes UPSTREAM_BYE and shuts its write side (half-close).
 *   Without it, as dockerd answers older clients (an optional "/v1.NN" first):
 *   POST /containers/missing/attach   404 JSON with a length, keep-alive (podman)
 *   POST /containers/ID/attach        200, Content-Type application/vnd.docker.raw-stream,
 *                                     no length, then the same echo tunnel
 *   POST /exec/ID/start               body {"Detach":true}: 200 with Content-Length 0,
 *                                     keep-alive; else 200 raw-stream plus the daemon's
 *                                     own headers (dockerd copies them), then the echo
 */
#ifndef DMX_TESTS_UPSTREAM_H
#define DMX_TESTS_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPSTREAM_BYE "BYE\n"
#define UPSTREAM_BODY_KEPT (64 * 1024)   /* bodies up to this are logged (req.body) */

/* upstream_new flags */
#define UPSTREAM_CLOSE_AFTER_RESPONSE 1u   /* answer "Connection: close", then close */

struct upstream;

struct upstream_header {
	char *name;
	char *value;
};

/* One logged request head (a deep copy owned by the caller of
 * upstream_request_get; release it with upstream_request_deinit). */
struct upstream_req {
	char *method;
	char *target;
	char *version;
	struct upstream_header *headers;
	size_t nheaders;
	uint64_t body_len;       /* decoded body bytes read */
	bool chunked;
	char *trailers;          /* chunked: the trailer section as received (lines with
	                          * their CRLF, and a partial line cut by EOF); NUL-terminated,
	                          * NULL if none */
	size_t trailers_len;
	char *body;              /* the decoded body, NUL-terminated, when at most
	                          * UPSTREAM_BODY_KEPT bytes; else NULL */
	unsigned conn_id;        /* upstream connection it arrived on, from 1 */
};

/* Byte i of the /big body. */
static inline unsigned char upstream_pattern(uint64_t i)
{
	return (unsigned char)((i % 251) ^ (i >> 16));
}

/* Listen on path (unlinked first) and start serving. 0 or -errno. */
int upstream_new(const char *path, unsigned flags, struct upstream **out);
/* Stop accepting, shut every connection, join every thread, unlink the socket,
 * free the log. NULL is fine. */
void upstream_free(struct upstream *u);

/* Number of request heads logged so far. */
size_t upstream_request_count(struct upstream *u);
/* Wait until at least n requests are logged; false on timeout. */
bool upstream_wait_requests(struct upstream *u, size_t n, int timeout_ms);
/* Copy request idx (0-based; negative counts from the end). 0 or -ENOENT. */
int upstream_request_get(struct upstream *u, long idx, struct upstream_req *out);
void upstream_request_deinit(struct upstream_req *r);
/* Headers named name (case-insensitive) in request idx; -1 if no such request. */
int upstream_count_header(struct upstream *u, long idx, const char *name);
/* Copy the value of the first header named name in request idx into buf.
 * 0, -ENOENT (no request or no header) or -ENOSPC. */
int upstream_header_value(struct upstream *u, long idx, const char *name, char *buf, size_t cap);
/* Helpers over a copied request. */
int upstream_req_count(const struct upstream_req *r, const char *name);
const char *upstream_req_value(const struct upstream_req *r, const char *name);

/* Connections accepted so far, and those still being served. */
unsigned upstream_conns_accepted(struct upstream *u);
unsigned upstream_conns_active(struct upstream *u);
/* Wait until no connection is being served; false on timeout. */
bool upstream_wait_idle(struct upstream *u, int timeout_ms);

#endif
