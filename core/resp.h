/* core/resp.h: framing of the upstream daemon's HTTP/1.1 responses: where each
 * head and body ends, so the engine can pair responses with requests (pool),
 * count statuses and see an upgrade accepted before it tunnels. Pure: no I/O,
 * no allocation. It only reads: the engine forwards the bytes verbatim, so a
 * head it could not forward safely is an error, never repaired.
 */
#ifndef DMX_CORE_RESP_H
#define DMX_CORE_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunked.h"
#include "http.h"

#define RESP_MAX_HEAD HTTP_DEFAULT_MAX_HEAD   /* head bytes, final empty line included */
#define RESP_MAX_HEADERS HTTP_MAX_HEADERS
#define RESP_TRACK_FIFO 16                    /* requests outstanding on one connection */

enum resp_body {
	RESP_BODY_NONE,         /* HEAD, 1xx, 204, 304 */
	RESP_BODY_LENGTH,       /* content_length bytes (never 0 in the tracker: ends at the head) */
	RESP_BODY_CHUNKED,      /* Transfer-Encoding ending in chunked */
	RESP_BODY_UNTIL_CLOSE,  /* no length: ends at EOF (also TE not ending in chunked) */
	RESP_BODY_TUNNEL,       /* accepted upgrade: after the head the stream is opaque */
};

struct resp_head {
	int status;               /* 100..999 */
	int minor;                /* HTTP/1.<minor>: 0 or 1 */
	size_t head_len;          /* bytes of the head, final empty line included */
	enum resp_body body;
	uint64_t content_length;  /* RESP_BODY_LENGTH */
	bool interim;             /* 1xx other than 101: another response follows for the same request */
	bool close;               /* Connection: close (or HTTP/1.0 without keep-alive) */
	const char *error;        /* on HTTP_PARSE_ERROR: static reason, for the log */
};

/* Parse a response head at buf[0..len). head_request: the request was HEAD;
 * hijack_request: the daemon may hijack after it (core/hijack.h: an upgrade
 * asked for, an Upgrade header, or attach/exec start). Stateless: call again with the
 * whole buffer when more bytes arrive (MORE only while len < RESP_MAX_HEAD and
 * the bytes so far can start a response). On MORE the other fields of *out are
 * unspecified. Lines may end in CRLF or a bare LF; anything that frames the
 * body ambiguously is an error. Body (RFC 9112 §6.3), first match wins:
 *   101: TUNNEL if hijack_request and an Upgrade header, else error
 *   other 1xx: interim, NONE
 *   200 to hijack_request, Content-Type application/vnd.docker.raw-stream or
 *     .multiplexed-stream, no CL/TE: TUNNEL (dockerd and podman hijack after a
 *     200 when no upgrade was asked for; old daemons always did)
 *   HEAD, 204, 304: NONE
 *   Transfer-Encoding: CHUNKED if chunked is last, else UNTIL_CLOSE
 *   Content-Length: LENGTH (identical repeats allowed, lists and differing values not)
 *   otherwise UNTIL_CLOSE
 * Errors also: CL with TE, TE in HTTP/1.0, chunked twice, obs-fold, space
 * before a colon, bare CR or control characters, a version other than 1.0/1.1,
 * more than RESP_MAX_HEADERS header lines or RESP_MAX_HEAD bytes. */
enum http_parse resp_head_parse(const char *buf, size_t len, bool head_request,
				bool hijack_request, struct resp_head *out);

/* ---- response stream tracker ----------------------------------------------
 * Follows one upstream connection's response stream, pipelined or not, and
 * says where each response ends. It never holds bytes: a head must be shown
 * to it whole and contiguous, so while a head is incomplete the caller keeps
 * the unconsumed bytes and presents them again, at the front, with more after
 * them (the tracker remembers how far it looked: every byte is scanned once).
 * The engine's loop asks resp_tracker_next() what it may do:
 *
 *	while (len) {                        // p[0..len): bytes not yet looked at
 *		switch (resp_tracker_next(t)) {
 *		case RESP_NEXT_SPLICE:           // LENGTH or UNTIL_CLOSE body: blind
 *			n = MIN(len, resp_tracker_body_left(t));   // (or splice(2) up to it)
 *			r = resp_tracker_skip(t, n, &status);
 *			break;
 *		case RESP_NEXT_TUNNEL:           // p[0..len) is already tunnel data
 *			return conn_tunnel(c, p, len);
 *		case RESP_NEXT_ERROR:
 *			return conn_fail(c, resp_tracker_error(t));
 *		default:                         // HEAD, FEED (chunked), IDLE, CLOSE
 *			r = resp_tracker_feed(t, p, len, &n, &status);
 *			break;
 *		}
 *		forward(p, n); p += n; len -= n;
 *		if (r == RESP_TRACK_END)
 *			count(status);               // NEXT_IDLE now: may go back to the pool
 *		else if (r == RESP_TRACK_MORE && len)
 *			break;                       // partial head: keep p[0..len), read more
 *	}
 *	// upstream EOF: resp_tracker_eof(t, &status)
 */

enum resp_track {
	RESP_TRACK_MORE = 0,    /* consumed *used; any bytes after are an incomplete head */
	RESP_TRACK_END = 1,     /* a response ended after *used bytes; FIFO popped, *status set */
	RESP_TRACK_TUNNEL = 2,  /* an upgrade's head ended after *used bytes; FIFO popped,
	                         * *status set; the rest of the stream is opaque and
	                         * requests pipelined after it stay unanswered */
	RESP_TRACK_ERROR = 3,   /* malformed framing, or bytes with no request outstanding;
	                         * *used: offset of the bad head or body byte; sticky */
	RESP_TRACK_CLOSED = 4,  /* resp_tracker_eof only: EOF at a response boundary;
	                         * resp_tracker_outstanding() requests went unanswered */
};

enum resp_next {
	RESP_NEXT_HEAD,    /* a head is due: feed it from its first byte, contiguous */
	RESP_NEXT_SPLICE,  /* LENGTH/UNTIL_CLOSE body: skip up to body_left bytes, or feed them */
	RESP_NEXT_FEED,    /* chunked body: feed every byte */
	RESP_NEXT_IDLE,    /* no request outstanding: the connection may be pooled */
	RESP_NEXT_CLOSE,   /* the last response closes the connection: only EOF may follow */
	RESP_NEXT_TUNNEL,  /* an upgrade was accepted: stop feeding */
	RESP_NEXT_ERROR,   /* framing error: resp_tracker_error() says why; close */
};

/* Embedded, no allocation. The fields are private to resp.c. */
struct resp_tracker {
	int state;
	uint8_t fifo[RESP_TRACK_FIFO];  /* flags of outstanding requests, oldest at first */
	unsigned first;
	unsigned count;
	size_t scan;                    /* head bytes already searched for the empty line */
	size_t line_start;              /* start of the line being searched, within the head */
	bool interim;                   /* a 1xx of the current request was consumed */
	uint64_t left;                  /* LENGTH body bytes not yet seen */
	struct http_chunked chunked;
	struct resp_head last;          /* head of the current (or last) response */
	const char *error;
};

void resp_tracker_init(struct resp_tracker *t);

/* A request was forwarded upstream: push its flags (as resp_head_parse's).
 * 0, or -ENOBUFS when RESP_TRACK_FIFO are already outstanding. */
int resp_tracker_push(struct resp_tracker *t, bool head_request, bool hijack_request);
unsigned resp_tracker_outstanding(const struct resp_tracker *t);

enum resp_next resp_tracker_next(const struct resp_tracker *t);

/* Feed stream bytes, split anywhere. Returns at each END, TUNNEL or ERROR:
 * call again with the bytes after *used. *used is always written, *status
 * only on END and TUNNEL. Interim (1xx) heads are consumed silently. */
enum resp_track resp_tracker_feed(struct resp_tracker *t, const char *buf, size_t len,
				  size_t *used, int *status);

/* In RESP_NEXT_HEAD: the least number of contiguous head bytes worth
 * presenting next (bytes already scanned + 1; never above RESP_MAX_HEAD). 0 otherwise. */
size_t resp_tracker_head_need(const struct resp_tracker *t);

/* Body bytes the caller may pass without showing them: the rest of a LENGTH
 * body, UINT64_MAX for UNTIL_CLOSE, 0 otherwise. */
uint64_t resp_tracker_body_left(const struct resp_tracker *t);

/* n body bytes went by unseen. END when they complete a LENGTH body, MORE,
 * or ERROR when n exceeds resp_tracker_body_left(). */
enum resp_track resp_tracker_skip(struct resp_tracker *t, uint64_t n, int *status);

/* The upstream closed. END: an UNTIL_CLOSE body completed (*status set);
 * CLOSED: EOF at a boundary, after a closing response or in a tunnel;
 * ERROR: EOF cut a head, a body or a 1xx-to-final gap short. */
enum resp_track resp_tracker_eof(struct resp_tracker *t, int *status);

/* Head of the response being read, or of the last one that ended (valid
 * after END/TUNNEL, e.g. last->close). */
const struct resp_head *resp_tracker_last(const struct resp_tracker *t);

/* Static reason after RESP_TRACK_ERROR, NULL before. */
const char *resp_tracker_error(const struct resp_tracker *t);

#endif
