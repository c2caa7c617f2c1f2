/* ring/conn.h: one proxied connection, container <-> upstream daemon.
 * conn.c: life cycle and dockmux's own error answers; conn_up.c: the request
 * direction (parse each head, swap in the token, frame bodies); conn_down.c:
 * the response direction (follow response framing, forward bytes verbatim,
 * bodies by splice). After an accepted upgrade, or a daemon's hijack without
 * one (attach, exec start), both directions are raw splice tunnels with
 * half-close. A conn lives on its container's ring only.
 */
#ifndef DMX_RING_CONN_H
#define DMX_RING_CONN_H

#include "chunked.h"
#include "resp.h"
#include "ring.h"

#define CONN_ERR_CAP 512
/* After an error answer, read at most this much more before closing hard. */
#define CONN_DRAIN_MAX (1024 * 1024)
/* Bodies with at least this many bytes still to come go by splice. */
#define CONN_SPLICE_MIN (16 * 1024)

enum conn_req {
	REQ_HEAD,        /* reading a request head */
	REQ_BODY,        /* body_left bytes of Content-Length body */
	REQ_CHUNKED,     /* chunked body, framed by http_chunked */
	REQ_UPGRADE_WAIT,/* a request that may upgrade or hijack went up (core/hijack.h):
	                  * hold what follows unparsed until the daemon's verdict */
	REQ_INSPECT,     /* isolation: reading a body whole to judge it (conn_iso.c);
	                  * nothing of this request is in out yet */
	REQ_INSPECT_OUT, /* isolation: the judged request going into out */
	REQ_TUNNEL,      /* after an accepted upgrade or a hijack: raw bytes */
	REQ_EOF,         /* client sent EOF; upstream write side shut */
};

struct conn {
	struct ring *ring;
	struct container *ctr;        /* NULL once closed */
	struct container *pool_owner; /* conn_close only: where the daemon side may park */
	struct conn *prev, *next;     /* the container's list */
	struct conn *reap_next;
	int cfd, ufd;
	unsigned inflight;            /* SQEs in flight; freed only at 0 */
	bool closing;
	bool connected;
	uint16_t connect_retries;     /* OP_CONNECT_RETRY timers so far (conn.c) */
	bool hijack_after;            /* the daemon may hijack after the current request */
	bool up_busy, down_busy;      /* one op chain per direction at a time... */
	bool down_sin_busy;           /* ...plus a daemon->pipe splice beside down_busy */
	bool up_sin_busy;             /* ...and a client->pipe splice beside up_busy */
	bool client_eof;              /* the client shut its write side */
	bool down_eof;
	bool down_tunnel;             /* the daemon accepted an upgrade: raw from here */
	bool d_partial;               /* dbuf ends in an incomplete response head */
	bool failing;                 /* sending dockmux's own error, then close */
	bool err_sent;                /* ... sent, and our write side shut */
	bool up_dead;                 /* nothing more will come from the daemon */
	bool up_shut;                 /* failing: the daemon's write side is shut */

	enum conn_req req;
	uint64_t body_left;
	uint64_t body_total;          /* bytes of the current chunked body, for max_body */
	uint64_t head_deadline;       /* CLOCK_MONOTONIC ms; 0: no head under way */
	struct __kernel_timespec head_ts;  /* read by the kernel at submit */
	uint64_t resp_deadline;       /* CLOCK_MONOTONIC ms the daemon's next response must
	                               * begin by; 0: none due (conn_down.c) */
	struct __kernel_timespec resp_ts;
	bool resp_timer;              /* an OP_RESP_TIMEOUT is in flight (at most one) */
	struct ucred peer;            /* SO_PEERCRED at accept */
	struct http_chunked chunked;
	struct pipe_pair *up_pipe, *down_pipe;
	uint32_t up_pipe_len, down_pipe_len;
	uint32_t up_pipe_len_dropped; /* failing: bytes left in the up pipe, never sent */
	uint32_t in_start, in_end, out_start, out_end;
	uint32_t head_scan;           /* in[] before this was searched for an end of head */
	uint32_t err_start, err_len;
	uint32_t drained;             /* bytes discarded after failing */
	struct resp_tracker track;    /* response framing, one entry per request sent */
	uint32_t d_end, d_fed, d_sent; /* dbuf: received, framed, sent to the client */
	char *in, *out, *dbuf;
	char err[CONN_ERR_CAP];
	/* access log (conn_access.c); NULL/0 unless configured */
	struct conn_access *access;
	uint8_t access_head, access_count, access_done;
	bool access_refused;          /* the failing request was logged already */
	struct conn_iso *iso;         /* tenant isolation (conn_iso.c); NULL until needed */
	uint64_t nbytes_up, nbytes_down;
};

/* Take over an accepted client fd; on failure the fd is closed. */
void conn_start(struct ring *r, struct container *ctr, int cfd);
/* Handle one CQE of this conn. */
void conn_complete(struct conn *c, enum ring_op op, int res, unsigned flags);
/* Start closing: shut both sockets, cancel their SQEs, detach from the container. */
void conn_close(struct conn *c);
/* Nothing in flight either way and no request bytes waiting: closing it
 * now loses nothing (draining: SIGTERM, handoff). */
bool conn_quiet(const struct conn *c);
/* Free closed conns whose SQEs have all completed. */
void conn_reap(struct ring *r);

/* conn_refuse.c: answer a connection over max_conns with status and msg
 * (static) once its request head is in; takes fd (closed when done). */
void conn_refuse(struct ring *r, struct container *ctr, int fd, int status, const char *msg);
void conn_refusal_complete(struct conn_refusal *f, enum ring_op op, int res);
/* The ring stops: end every refusal now (each is freed by its last CQE). */
void conn_refusals_stop(struct ring *r);

/* ---- internal to conn*.c ---- */
#define CONN_DBUF_CAP RESP_MAX_HEAD   /* a response head must fit whole */
#define CONN_SPLICE_MAX (1u << 30)

struct io_uring_sqe *conn_sqe(struct conn *c, enum ring_op op);
void conn_poll_splice(struct conn *c, int pollfd, unsigned mask, enum ring_op pop,
		      int in, int out, unsigned len, enum ring_op sop);
void conn_splice(struct conn *c, int in, int out, unsigned len, enum ring_op sop);
void conn_stat_error(struct conn *c);
void conn_stat_status(struct conn *c, int status);
void conn_io_error(struct conn *c, const char *what, int res);
void conn_fail(struct conn *c, int status, const char *msg);
void conn_err_next(struct conn *c);
void conn_drain_next(struct conn *c);
void conn_drain_complete(struct conn *c, int res);
void conn_head_timer_start(struct conn *c);
uint64_t conn_now_ms(void);          /* CLOCK_MONOTONIC */
/* response_timeout_ms: the up side has sent everything so far; start timing
 * the oldest response if the daemon owes one and has sent none of it. */
void conn_resp_timer_check(struct conn *c);
void conn_resp_timer_complete(struct conn *c, int res);
bool conn_pool_idle(const struct conn *c);

void conn_up_next(struct conn *c);
void conn_up_complete(struct conn *c, enum ring_op op, int res);
void conn_head_timer_stop(struct conn *c);
/* A request head went into out: the access record, the response tracker's
 * entry (room is ensured before a head is parsed), the counters. */
void conn_up_book(struct conn *c, const char *method, size_t mlen, const char *target,
		  size_t tlen, bool hijack);
/* The current request's body has gone into out (or it had none). */
void conn_up_body_done(struct conn *c);

/* conn_iso.c: tenant isolation, for a container with ctr->inspect. */
enum conn_iso_verdict {
	CONN_ISO_PASS,     /* forward the head (rw->target may be set: a rewritten query) */
	CONN_ISO_BODY,     /* the head is kept: its body is read and judged (REQ_INSPECT,
	                    * or REQ_INSPECT_OUT for an empty one); consume the head */
	CONN_ISO_REFUSED,  /* the conn is failing */
};
enum conn_iso_verdict conn_iso_head(struct conn *c, const struct http_head *h,
				    struct http_rewrite *rw);
/* REQ_INSPECT: take body bytes from in. False when no progress can be made
 * (more input needed, or the conn failed). */
bool conn_iso_feed(struct conn *c);
/* REQ_INSPECT_OUT: move the request into out. False when out is full (or
 * the conn failed). */
bool conn_iso_emit(struct conn *c);
/* The rewritten target went into out: drop its buffer if it is a large one. */
void conn_iso_target_done(struct conn *c);
void conn_iso_free(struct conn *c);
/* Audit: what would have been refused, at warning level, never a token. */
void conn_audit_log(struct conn *c, const char *method, size_t mlen, const char *target,
		    size_t tlen, int status, const char *why);
/* The daemon answered the request that may hijack: it did (tunnel) or not. */
void conn_up_upgrade_done(struct conn *c, bool accepted);

struct conn_access;
void conn_access_push(struct conn *c, const char *method, size_t mlen, const char *target,
		      size_t tlen);
void conn_access_done(struct conn *c, int status);
void conn_access_own(struct conn *c, int status);
void conn_access_flush(struct conn *c, bool all);
void conn_access_refused(struct conn *c, const char *method, size_t mlen, const char *target,
			 size_t tlen, int status);
void conn_access_free(struct conn *c);

void conn_down_next(struct conn *c);
void conn_down_complete(struct conn *c, enum ring_op op, int res);

#endif
