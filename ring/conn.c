/* ring/conn.c: a connection's life cycle (accept, refuse, close, free), the
 * error answers dockmux sends itself, and the CQE dispatcher. The two
 * directions live in conn_up.c and conn_down.c; each is one chain of SQEs,
 * never two at once, so its state is a plain function of the last completion.
 * Sockets are O_NONBLOCK: io_uring runs splice in a worker, which must never
 * block, so every splice from a socket follows a linked poll and -EAGAIN
 * re-polls.
 */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mimalloc.h>

static int conn_pool_take(struct container *ctr);
static bool conn_pool_put(struct conn *c);
static void conn_connect(struct conn *c);

struct io_uring_sqe *conn_sqe(struct conn *c, enum ring_op op)
{
	struct io_uring_sqe *sqe = ring_sqe(c->ring);

	c->inflight++;
	io_uring_sqe_set_data64(sqe, ring_tag(c, op));
	return sqe;
}

/* poll(fd, mask) linked to splice(in -> out, len): the splice runs only once
 * the socket side is ready, in a worker that then does not block. */
void conn_poll_splice(struct conn *c, int pollfd, unsigned mask, enum ring_op pop,
			     int in, int out, unsigned len, enum ring_op sop)
{
	struct io_uring_sqe *sqe = conn_sqe(c, pop);

	io_uring_prep_poll_add(sqe, pollfd, mask);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = conn_sqe(c, sop);
	io_uring_prep_splice(sqe, in, -1, out, -1, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

void conn_splice(struct conn *c, int in, int out, unsigned len, enum ring_op sop)
{
	struct io_uring_sqe *sqe = conn_sqe(c, sop);

	io_uring_prep_splice(sqe, in, -1, out, -1, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

void conn_stat_status(struct conn *c, int status)
{
	if (c->ctr && status >= 100 && status < 600)
		c->ctr->stats.responses[status / 100]++;
}

void conn_stat_error(struct conn *c)
{
	if (c->ctr)
		c->ctr->stats.errors++;
}

static bool conn_uid_allowed(const struct container *ctr, uid_t uid)
{
	if (ctr->nuids == 0)
		return true;
	for (size_t i = 0; i < ctr->nuids; i++)
		if (ctr->uids[i] == uid)
			return true;
	return false;
}

void conn_start(struct ring *r, struct container *ctr, int cfd)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	struct conn *c;

	/* SO_PEERCRED: who connected, as the kernel saw it at connect(). */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	if (ctr->stats.conns_active >= r->cfg->max_conns) {
		/* No conn and no buffers for it: conn_refuse.c answers alone. */
		conn_refuse(r, ctr, cfd, 503, "dockmux: too many connections on this socket");
		return;
	}
	c = mi_zalloc_aligned(sizeof(*c), 32);
	if (!c) {
		close(cfd);
		ctr->stats.errors++;
		return;
	}
	c->ring = r;
	c->ctr = ctr;
	c->cfd = cfd;
	c->ufd = -1;
	c->peer = cred;
	c->in = mi_malloc(r->cfg->in_cap);
	c->out = mi_malloc(r->cfg->out_cap);
	c->dbuf = mi_malloc(CONN_DBUF_CAP);
	resp_tracker_init(&c->track);
	c->next = ctr->conns;
	if (ctr->conns)
		ctr->conns->prev = c;
	ctr->conns = c;
	ctr->stats.conns_active++;
	r->nconns++;
	if (!c->in || !c->out || !c->dbuf) {
		conn_fail(c, 503, "dockmux: out of memory");
		return;
	}
	conn_head_timer_start(c);
	if (!conn_uid_allowed(ctr, cred.uid)) {
		/* Answered as a response, after the client's request is read
		 * (conn_fail drains): a refusal sent right at accept reaches
		 * most clients as a reset, never as a message. */
		ring_log(r, 6, "refused uid %u path=%s", (unsigned)cred.uid, ctr->path);
		conn_fail(c, 403, "dockmux: this user may not use this socket");
		return;
	}
	c->ufd = conn_pool_take(ctr);
	if (c->ufd >= 0) {
		c->connected = true;
		conn_up_next(c);
		conn_down_next(c);
		return;
	}
	c->ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->ufd < 0) {
		ring_log(r, 4, "upstream socket: %s", strerror(errno));
		conn_fail(c, 502, "dockmux: cannot reach the Docker daemon (no socket)");
		return;
	}
	conn_connect(c);
	conn_up_next(c);
}

/* A Unix listener with a full backlog fails a non-blocking connect with
 * EAGAIN at once (net/unix/af_unix.c waits only for a blocking socket): a
 * daemon slower to accept than a burst of clients arrive. That is waited
 * out, CONNECT_RETRY_MS at a time, for up to CONNECT_WAIT_MS, then 503. */
#define CONNECT_RETRY_MS 10
#define CONNECT_WAIT_MS 5000

static void conn_connect(struct conn *c)
{
	struct io_uring_sqe *sqe = conn_sqe(c, OP_CONNECT);

	io_uring_prep_connect(sqe, c->ufd, (const struct sockaddr *)&c->ring->cfg->upstream,
			      c->ring->cfg->upstream_len);
}

static bool conn_connect_later(struct conn *c)
{
	static const struct __kernel_timespec delay = { .tv_nsec = CONNECT_RETRY_MS * 1000000L };
	struct io_uring_sqe *sqe;

	if (c->connect_retries >= CONNECT_WAIT_MS / CONNECT_RETRY_MS)
		return false;
	c->connect_retries++;
	sqe = conn_sqe(c, OP_CONNECT_RETRY);
	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&delay, 0, 0);
	return true;
}

static void conn_detach(struct conn *c)
{
	struct container *ctr = c->ctr;

	if (!ctr)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctr->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ctr->stats.conns_active--;
	c->ctr = NULL;
}

/* ---- the container's pool of idle daemon connections ----
 * The docker CLI opens a connection per command; reusing the daemon side saves
 * a connect per request. Per container, not per ring: an upstream that ties
 * identity to a connection never sees two containers on one. */

/* True when nothing of this conn's exchange is pending on the daemon side. */
bool conn_pool_idle(const struct conn *c)
{
	return c->connected && !c->failing && !c->up_dead && !c->down_tunnel && !c->down_eof &&
	       c->req == REQ_HEAD && c->in_start == c->in_end &&
	       c->out_start == c->out_end && c->up_pipe_len == 0 && c->down_pipe_len == 0 &&
	       c->d_end == 0 && resp_tracker_next(&c->track) == RESP_NEXT_IDLE;
}

bool conn_quiet(const struct conn *c)
{
	char byte;

	if (c->closing || c->failing || c->down_tunnel || c->req != REQ_HEAD ||
	    c->in_start != c->in_end || c->out_start != c->out_end || c->up_pipe_len ||
	    c->down_pipe_len || c->d_end || resp_tracker_next(&c->track) != RESP_NEXT_IDLE)
		return false;
	/* A request that arrived but is not read yet would be lost. */
	return !(recv(c->cfd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0);
}

static bool conn_pool_put(struct conn *c)
{
	struct container *ctr = c->pool_owner;

	if (!ctr || ctr->dead || ctr->npool >= CTR_POOL || !conn_pool_idle(c))
		return false;
	ctr->pool[ctr->npool++] = c->ufd;
	return true;
}

/* A parked connection the daemon closed meanwhile reads EOF (or an error):
 * drop those. EAGAIN means alive and silent. */
static int conn_pool_take(struct container *ctr)
{
	char byte;

	while (ctr->npool > 0) {
		int fd = ctr->pool[--ctr->npool];

		if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
			return fd;
		close(fd);
	}
	return -1;
}

void conn_close(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing)
		return;
	c->closing = true;
	c->pool_owner = c->ctr;
	conn_detach(c);
	/* shutdown() wakes every poll/recv/send on the sockets at once; the
	 * cancels catch whatever is still queued. */
	shutdown(c->cfd, SHUT_RDWR);
	sqe = conn_sqe(c, OP_CANCEL);
	io_uring_prep_cancel_fd(sqe, c->cfd, IORING_ASYNC_CANCEL_ALL);
	if (c->resp_timer) {
		/* A timer names no fd: remove it by its tag. */
		sqe = conn_sqe(c, OP_CANCEL);
		io_uring_prep_timeout_remove(sqe, ring_tag(c, OP_RESP_TIMEOUT), 0);
	}
	if (c->ufd >= 0) {
		if (conn_pool_put(c)) {
			/* Idle means the only op on the daemon side is the down
			 * chain's recv: cancel exactly that one (by user_data, not
			 * by fd: the next owner's ops are on the same fd). */
			if (c->down_busy) {
				sqe = conn_sqe(c, OP_CANCEL);
				io_uring_prep_cancel64(sqe, ring_tag(c, OP_U_RECV), 0);
			}
			c->ufd = -1;   /* the pool owns it now */
		} else {
			shutdown(c->ufd, SHUT_RDWR);
			sqe = conn_sqe(c, OP_CANCEL);
			io_uring_prep_cancel_fd(sqe, c->ufd, IORING_ASYNC_CANCEL_ALL);
		}
	}
	c->reap_next = c->ring->reap_conns;
	c->ring->reap_conns = c;
}

static void conn_free(struct conn *c)
{
	struct ring *r = c->ring;

	close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	ring_pipe_put(r, c->up_pipe, c->up_pipe_len == 0 && c->up_pipe_len_dropped == 0);
	ring_pipe_put(r, c->down_pipe, c->down_pipe_len == 0);
	/* The out buffer held the token line: wipe it. */
	if (c->out)
		explicit_bzero(c->out, c->ring->cfg->out_cap);
	mi_free(c->in);
	mi_free(c->out);
	mi_free(c->dbuf);
	conn_access_free(c);
	conn_iso_free(c);
	mi_free(c);
	r->nconns--;
}

void conn_reap(struct ring *r)
{
	struct conn **pp = &r->reap_conns;

	while (*pp) {
		struct conn *c = *pp;

		if (c->inflight == 0) {
			*pp = c->reap_next;
			conn_free(c);
		} else {
			pp = &c->reap_next;
		}
	}
}

/* ---- dockmux's own error answers ----
 * failing: relay what the daemon still sends for earlier requests until its
 * EOF (its write side was shut), then send our error, shut our write side and
 * read the client until it closes. Closing with unread input would make the
 * kernel report ECONNRESET/EPIPE to the client instead of our answer. */

void conn_err_next(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing || c->down_busy)
		return;   /* never interleave with daemon bytes */
	if (c->err_start >= c->err_len) {
		if (c->client_eof) {
			conn_close(c);
			return;
		}
		if (!c->err_sent) {
			c->err_sent = true;
			shutdown(c->cfd, SHUT_WR);
		}
		return;
	}
	c->down_busy = true;
	sqe = conn_sqe(c, OP_C_SEND);
	io_uring_prep_send(sqe, c->cfd, c->err + c->err_start, c->err_len - c->err_start,
			   MSG_NOSIGNAL);
}

/* Answer the client with Docker's JSON error, then close (see above). */
void conn_fail(struct conn *c, int status, const char *msg)
{
	ssize_t n;

	if (c->failing || c->closing)
		return;
	c->failing = true;
	conn_stat_error(c);
	conn_stat_status(c, status);
	/* Logged already if refused by conn_head_allowed; a 502 or a 504 is
	 * the answer to the oldest request sent; anything else to a request
	 * never read whole (408, 431, 400). */
	if (!c->access_refused) {
		if (status == 502 || status == 504)
			conn_access_done(c, status);
		else
			conn_access_own(c, status);
	}
	n = http_error_format(status, msg, c->err, sizeof(c->err));
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->err_len = (uint32_t)n;
	c->err_start = 0;
	/* Requests framed before the bad one still go up and get their answers
	 * first (an inspected body is not in out before it is judged). A
	 * half-forwarded body does not: the daemon sees it cut short. */
	if (c->req != REQ_HEAD && c->req != REQ_UPGRADE_WAIT && c->req != REQ_INSPECT) {
		c->out_start = c->out_end = 0;
		c->up_pipe_len_dropped = c->up_pipe_len;
		c->up_pipe_len = 0;
	}
	if (c->ufd < 0)
		c->up_dead = true;
	conn_up_next(c);
	conn_down_next(c);
}

/* While failing, the request direction only reads and discards. */
void conn_drain_next(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing || c->up_busy || c->up_sin_busy || c->client_eof)
		return;
	c->in_start = c->in_end = 0;
	c->up_busy = true;
	sqe = conn_sqe(c, OP_C_RECV);
	io_uring_prep_recv(sqe, c->cfd, c->in, c->ring->cfg->in_cap, 0);
}

void conn_drain_complete(struct conn *c, int res)
{
	if (res <= 0) {
		c->client_eof = true;
		if (c->err_start >= c->err_len || res < 0)
			conn_close(c);
		return;
	}
	c->drained += (uint32_t)res;
	if (c->drained > CONN_DRAIN_MAX) {
		conn_close(c);
		return;
	}
	conn_drain_next(c);
}

/* An I/O error or reset on either socket ends the whole connection. */
void conn_io_error(struct conn *c, const char *what, int res)
{
	if (res != -ECONNRESET && res != -EPIPE && res != -ECANCELED && !c->closing)
		ring_log(c->ring, 7, "%s: %s", what, strerror(-res));
	if (res != -ECANCELED && res != -ECONNRESET && res != -EPIPE)
		conn_stat_error(c);
	conn_close(c);
}

void conn_complete(struct conn *c, enum ring_op op, int res, unsigned flags)
{
	(void)flags;
	c->inflight--;
	switch (op) {
	case OP_CONNECT_RETRY:
		if (!c->closing)
			conn_connect(c);
		return;
	case OP_CONNECT:
		if (c->closing)
			return;
		if (res == -EAGAIN && conn_connect_later(c))
			return;
		if (c->failing) {
			/* Failed while connecting: requests framed before the
			 * failure still go up if the daemon is there. */
			if (res < 0)
				c->up_dead = true;
			else
				c->connected = true;
			conn_up_next(c);
			conn_down_next(c);
			return;
		}
		if (res < 0) {
			ring_log(c->ring, 4, "upstream %s unreachable: %s",
				 c->ring->cfg->upstream.sun_path, strerror(-res));
			if (res == -EAGAIN)
				conn_fail(c, 503, "dockmux: the Docker daemon accepts no more connections (its listen backlog stayed full)");
			else
				conn_fail(c, 502, res == -ENOENT || res == -ECONNREFUSED
						  ? "dockmux: the Docker daemon is not reachable (connection refused)"
						  : "dockmux: the Docker daemon is not reachable");
			return;
		}
		c->connected = true;
		conn_up_next(c);
		conn_down_next(c);
		return;
	case OP_C_RECV:
	case OP_C_SPLICE_IN:
	case OP_U_SEND:
	case OP_U_SPLICE_OUT:
		conn_up_complete(c, op, res);
		return;
	case OP_U_RECV:
	case OP_U_SPLICE_IN:
	case OP_D_SEND:
	case OP_C_SPLICE_OUT:
		conn_down_complete(c, op, res);
		return;
	case OP_C_SEND:
		c->down_busy = false;
		if (c->closing)
			return;
		if (res <= 0) {
			conn_close(c);
			return;
		}
		c->err_start += (uint32_t)res;
		conn_err_next(c);
		conn_drain_next(c);
		return;
	case OP_RESP_TIMEOUT:
		conn_resp_timer_complete(c, res);
		return;
	case OP_HEAD_TIMEOUT:
	case OP_C_POLLIN:
	case OP_U_POLLOUT:
	case OP_U_POLLIN:
	case OP_C_POLLOUT:
		/* The linked splice reports the outcome (-ECANCELED if the poll
		 * failed); nothing to do here. */
		return;
	default:
		return;
	}
}
