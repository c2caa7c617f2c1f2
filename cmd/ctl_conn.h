/* cmd/ctl_conn.h: one connection to the daemon's control socket, as the
 * control thread's poll loop sees it (ctl_conn.c): non-blocking buffers in
 * and out, the requests framed out of the bytes, replies held until the
 * state file has their records, and the deadlines that close a client which
 * stalls. It decides nothing about what a request does (serve_control.c).
 *
 * Deadlines, so that a client can only ever hold itself up:
 *   - a request must be whole CTL_CONN_REQ_MS after its first byte (a
 *     deadline for the whole request, not per recv: a byte every few
 *     seconds does not keep it alive);
 *   - replies ready to go must be taken CTL_CONN_OUT_MS after they are;
 *   - a connection with nothing under way is closed after CTL_CONN_IDLE_MS.
 * A client that does not read its replies is not read from either once
 * CTL_CONN_OUT_HIGH bytes wait for it, so its memory stays bounded.
 */
#ifndef DMX_CMD_CTL_CONN_H
#define DMX_CMD_CTL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"

#define CTL_CONN_REQ_MS 5000
#define CTL_CONN_OUT_MS 5000
#define CTL_CONN_IDLE_MS 30000
#define CTL_CONN_OUT_HIGH (64u * 1024)

struct ctl_conn {
	int fd;                /* non-blocking; owned */
	uid_t uid;             /* SO_PEERCRED at accept */
	pid_t pid;
	uint64_t serial;       /* accept order: the oldest goes first when full */
	uint8_t *in;           /* CTL_REQ_MAX bytes: at most one partial frame */
	size_t in_len;
	uint8_t *out;          /* replies; [out_off, out_len - held) may be sent */
	size_t out_off, out_len, out_cap;
	size_t held;           /* the last held bytes of out wait for a commit */
	int64_t req_since;     /* first byte of the request under way; 0: none */
	int64_t out_since;     /* since when sendable bytes wait; 0: none */
	int64_t idle_since;    /* last time something happened */
	bool any;              /* a byte ever arrived (a bare connect is no error) */
	bool eof;              /* the peer shut its side */
	bool closing;          /* send what is queued, then close (after an error) */
	bool dead;             /* close now: I/O error, deadline, or done */
};

/* A new connection on fd (taken over: closed by ctl_conn_free). NULL when
 * out of memory (fd is closed then too). */
struct ctl_conn *ctl_conn_new(int fd, uid_t uid, pid_t pid, uint64_t serial, int64_t now);
void ctl_conn_free(struct ctl_conn *c);

/* Read what the socket has (at most the room left in the request buffer).
 * 0, or the connection is marked dead/eof. */
void ctl_conn_recv(struct ctl_conn *c, int64_t now);

/* The next whole request in the buffer: 1 (req filled, its bytes consumed),
 * 0 (none yet), or a negative errno for bytes that cannot be a request (the
 * error is queued as a reply and the connection closes once it is sent). A
 * frame cut by the peer's EOF is -EBADMSG the same way. */
int ctl_conn_next(struct ctl_conn *c, struct ctl_request *req, int64_t now);

/* Queue a reply. held: it may only go once a commit says so
 * (ctl_conn_release / ctl_conn_fail_held); a reply queued behind a held one
 * is held too. 0 or -ENOMEM (then dead). */
int ctl_conn_reply(struct ctl_conn *c, int status, const void *payload, size_t len, bool held,
		   int64_t now);
/* The held replies may go now. */
void ctl_conn_release(struct ctl_conn *c, int64_t now);
/* The held replies' changes are not durable: each success becomes err. */
void ctl_conn_fail_held(struct ctl_conn *c, int err, int64_t now);

/* Send what may be sent, without blocking. */
void ctl_conn_flush(struct ctl_conn *c, int64_t now);

/* Unsent output above CTL_CONN_OUT_HIGH: read nothing more for now. */
bool ctl_conn_full(const struct ctl_conn *c);
/* Bytes wait to be sent (POLLOUT). */
bool ctl_conn_sending(const struct ctl_conn *c);
/* Nothing under way: no partial request, nothing to send or held. */
bool ctl_conn_idle(const struct ctl_conn *c);
/* The earliest deadline of c (0: none). */
int64_t ctl_conn_deadline(const struct ctl_conn *c);
/* Past its deadline, or done (closing and all sent, or EOF with nothing
 * left): mark it dead. Returns c->dead; *why says which deadline when one
 * passed (NULL otherwise). */
bool ctl_conn_expire(struct ctl_conn *c, int64_t now, const char **why);

#endif
