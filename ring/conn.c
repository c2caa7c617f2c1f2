/* ring/conn.c: the per-connection state machine (see conn.h).
 * Each direction is one chain of SQEs, never two at once, so its state is a
 * plain function of the last completion:
 *   up:   recv head -> rewrite -> send; bodies by copy or splice; tunnel by splice
 *   down: poll+splice upstream -> pipe, splice pipe -> client, until EOF
 * Sockets are O_NONBLOCK: io_uring runs splice in a worker, which must never
 * block, so every splice is preceded by a poll and -EAGAIN re-polls.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mimalloc.h>

static void conn_up_next(struct conn *c);
static void conn_down_next(struct conn *c);
static void conn_fail(struct conn *c, int status, const char *msg);

static struct io_uring_sqe *conn_sqe(struct conn *c, enum ring_op op)
{
	struct io_uring_sqe *sqe = ring_sqe(c->ring);

	c->inflight++;
	io_uring_sqe_set_data64(sqe, ring_tag(c, op));
	return sqe;
}

/* poll(fd, mask) linked to splice(in -> out, len): the splice runs only once
 * the socket side is ready, in a worker that then does not block. */
static void conn_poll_splice(struct conn *c, int pollfd, unsigned mask, enum ring_op pop,
			     int in, int out, unsigned len, enum ring_op sop)
{
	struct io_uring_sqe *sqe = conn_sqe(c, pop);

	io_uring_prep_poll_add(sqe, pollfd, mask);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = conn_sqe(c, sop);
	io_uring_prep_splice(sqe, in, -1, out, -1, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

static void conn_splice(struct conn *c, int in, int out, unsigned len, enum ring_op sop)
{
	struct io_uring_sqe *sqe = conn_sqe(c, sop);

	io_uring_prep_splice(sqe, in, -1, out, -1, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

static void conn_stat_error(struct conn *c)
{
	if (c->ctr)
		c->ctr->stats.errors++;
}

static uint64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The head timeout runs from the first byte of a head (or from accept, for
 * the first request) to its end. An idle keep-alive connection between
 * requests has no timer: no per-connection CPU while nothing happens. */
static void conn_head_timer_start(struct conn *c)
{
	if (c->head_deadline == 0)
		c->head_deadline = conn_now_ms() + c->ring->cfg->head_timeout_ms;
}

static void conn_head_timer_stop(struct conn *c)
{
	c->head_deadline = 0;
}

/* Issue the recv of a head, linked to a timeout when a head is under way.
 * A deadline already passed still gets a 1 ms timer: one code path. */
static void conn_recv_head(struct conn *c)
{
	struct io_uring_sqe *sqe;
	uint64_t now, left;

	sqe = conn_sqe(c, OP_C_RECV);
	io_uring_prep_recv(sqe, c->cfd, c->in + c->in_end,
			   (unsigned)(c->ring->cfg->in_cap - c->in_end), 0);
	if (c->head_deadline == 0)
		return;
	now = conn_now_ms();
	left = c->head_deadline > now ? c->head_deadline - now : 1;
	sqe->flags |= IOSQE_IO_LINK;
	c->head_ts.tv_sec = (long long)(left / 1000);
	c->head_ts.tv_nsec = (long long)(left % 1000) * 1000000;
	sqe = conn_sqe(c, OP_HEAD_TIMEOUT);
	io_uring_prep_link_timeout(sqe, &c->head_ts, 0);
}

/* Refuse a connection before allocating anything for it: a container that
 * floods its socket costs one small send and a close. */
static void conn_refuse(struct ring *r, struct container *ctr, int cfd, int status,
			const char *msg)
{
	char buf[CONN_ERR_CAP];
	ssize_t n = http_error_format(status, msg, buf, sizeof(buf));

	if (n > 0)
		(void)send(cfd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(cfd, SHUT_WR);
	close(cfd);
	ctr->stats.errors++;
	ring_log(r, 6, "refused connection path=%s status=%d: %s", ctr->path, status, msg);
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
	struct io_uring_sqe *sqe;
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	struct conn *c;

	/* SO_PEERCRED: who connected, as the kernel saw it at connect(). */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	if (!conn_uid_allowed(ctr, cred.uid)) {
		conn_refuse(r, ctr, cfd, 403, "dockmux: this user may not use this socket");
		return;
	}
	if (ctr->stats.conns_active >= r->cfg->max_conns) {
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
	c->next = ctr->conns;
	if (ctr->conns)
		ctr->conns->prev = c;
	ctr->conns = c;
	ctr->stats.conns_active++;
	r->nconns++;
	if (!c->in || !c->out) {
		conn_fail(c, 503, "dockmux: out of memory");
		return;
	}
	conn_head_timer_start(c);
	c->ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->ufd < 0) {
		ring_log(r, 4, "upstream socket: %s", strerror(errno));
		conn_fail(c, 502, "dockmux: cannot reach the Docker daemon (no socket)");
		return;
	}
	sqe = conn_sqe(c, OP_CONNECT);
	io_uring_prep_connect(sqe, c->ufd, (const struct sockaddr *)&r->cfg->upstream,
			      r->cfg->upstream_len);
	conn_up_next(c);
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

void conn_close(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing)
		return;
	c->closing = true;
	conn_detach(c);
	/* shutdown() wakes every poll/recv/send on the sockets at once; the
	 * cancels catch whatever is still queued. */
	shutdown(c->cfd, SHUT_RDWR);
	sqe = conn_sqe(c, OP_CANCEL);
	io_uring_prep_cancel_fd(sqe, c->cfd, IORING_ASYNC_CANCEL_ALL);
	if (c->ufd >= 0) {
		shutdown(c->ufd, SHUT_RDWR);
		sqe = conn_sqe(c, OP_CANCEL);
		io_uring_prep_cancel_fd(sqe, c->ufd, IORING_ASYNC_CANCEL_ALL);
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
	ring_pipe_put(r, c->up_pipe, c->up_pipe_len == 0);
	ring_pipe_put(r, c->down_pipe, c->down_pipe_len == 0);
	/* The out buffer held the token line: wipe it. */
	if (c->out)
		explicit_bzero(c->out, c->ring->cfg->out_cap);
	mi_free(c->in);
	mi_free(c->out);
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

static void conn_err_next(struct conn *c)
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
static void conn_fail(struct conn *c, int status, const char *msg)
{
	ssize_t n;

	if (c->failing || c->closing)
		return;
	c->failing = true;
	conn_stat_error(c);
	n = http_error_format(status, msg, c->err, sizeof(c->err));
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->err_len = (uint32_t)n;
	c->err_start = 0;
	if (c->connected && !c->down_eof)
		shutdown(c->ufd, SHUT_WR);
	else
		c->up_dead = true;
	conn_up_next(c);
	conn_down_next(c);
}

/* While failing, the request direction only reads and discards. */
static void conn_drain_next(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing || c->up_busy || c->client_eof)
		return;
	c->in_start = c->in_end = 0;
	c->up_busy = true;
	sqe = conn_sqe(c, OP_C_RECV);
	io_uring_prep_recv(sqe, c->cfd, c->in, c->ring->cfg->in_cap, 0);
}

static void conn_drain_complete(struct conn *c, int res)
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

/* ---- request direction ---- */

static void conn_body_done(struct conn *c)
{
	c->req = c->upgrade_after ? REQ_TUNNEL : REQ_HEAD;
}

static void conn_head_done(struct conn *c, const struct http_head *h)
{
	c->upgrade_after = h->upgrade;
	c->body_total = 0;
	conn_head_timer_stop(c);
	if (c->ctr)
		c->ctr->stats.requests++;
	switch (h->body) {
	case HTTP_BODY_LENGTH:
		c->body_left = h->content_length;
		if (c->body_left > 0) {
			c->req = REQ_BODY;
			return;
		}
		break;
	case HTTP_BODY_CHUNKED:
		http_chunked_init(&c->chunked);
		c->req = REQ_CHUNKED;
		return;
	case HTTP_BODY_NONE:
		break;
	}
	conn_body_done(c);
}

static bool conn_head_may_end(struct conn *c)
{
	uint32_t from = c->head_scan > c->in_start + 2 ? c->head_scan - 2 : c->in_start;
	const char *p = c->in + from, *end = c->in + c->in_end;

	c->head_scan = c->in_end;
	if (c->in_end - c->in_start >= c->ring->cfg->in_cap)
		return true;
	while ((p = memchr(p, '\n', (size_t)(end - p))) && p + 1 < end) {
		if (p[1] == '\n' || (p[1] == '\r' && p + 2 < end && p[2] == '\n'))
			return true;
		p++;
	}
	return false;
}

/* Checks on a parsed head before any of it goes upstream. */
static bool conn_head_allowed(struct conn *c, const struct http_head *h)
{
	uint64_t cap = c->ring->cfg->max_body;

	if (cap && h->body == HTTP_BODY_LENGTH && h->content_length > cap) {
		conn_fail(c, 413, "request body larger than this socket allows");
		return false;
	}
	return true;
}

/* Move what the in buffer holds into the out buffer, as far as framing and
 * space allow. Returns false when the conn failed. */
static bool conn_up_process(struct conn *c)
{
	struct http_head h;
	enum http_parse pr;
	enum http_chunk cr;
	size_t avail, space, n, used;
	ssize_t w;

	while (c->in_start < c->in_end && !c->failing) {
		avail = c->in_end - c->in_start;
		space = c->ring->cfg->out_cap - c->out_end;
		switch (c->req) {
		case REQ_HEAD:
			/* The parser keeps no state, so re-running it on every read
			 * of a trickled head would be quadratic: wait for a possible
			 * end of head (LF LF, or LF CR LF) or a full buffer. */
			if (!conn_head_may_end(c))
				return true;
			pr = http_head_parse(c->in + c->in_start, avail, &c->ring->cfg->limits, &h);
			if (pr == HTTP_PARSE_ERROR) {
				conn_fail(c, h.status, h.reason);
				return false;
			}
			if (pr == HTTP_PARSE_MORE) {
				if (avail == c->ring->cfg->in_cap) {
					conn_fail(c, 431, "request header fields too large");
					return false;
				}
				return true;
			}
			if (!c->ctr) {
				conn_close(c);
				return false;
			}
			if (!conn_head_allowed(c, &h))
				return false;
			w = http_head_rewrite(c->in + c->in_start, &h,
					      c->ring->cfg->token_header,
					      c->ring->cfg->token_header_len,
					      c->ctr->token_line, c->ctr->token_len,
					      c->out + c->out_end, space);
			if (w < 0) {
				if (c->out_end == 0) {
					conn_fail(c, 431, "request header fields too large");
					return false;
				}
				return true;   /* wait for out to drain */
			}
			c->out_end += (uint32_t)w;
			c->in_start += (uint32_t)h.head_len;
			c->head_scan = c->in_start;
			conn_head_done(c, &h);
			break;
		case REQ_BODY:
			n = avail < space ? avail : space;
			if (n > c->body_left)
				n = c->body_left;
			if (n == 0)
				return true;
			memcpy(c->out + c->out_end, c->in + c->in_start, n);
			c->out_end += (uint32_t)n;
			c->in_start += (uint32_t)n;
			c->body_left -= n;
			if (c->body_left == 0)
				conn_body_done(c);
			break;
		case REQ_CHUNKED:
			n = avail < space ? avail : space;
			if (n == 0)
				return true;
			cr = http_chunked_feed(&c->chunked, c->in + c->in_start, n, &used);
			if (cr == HTTP_CHUNK_ERROR) {
				conn_fail(c, 400, "malformed chunked request body");
				return false;
			}
			c->body_total += used;
			if (c->ring->cfg->max_body && c->body_total > c->ring->cfg->max_body) {
				/* Framing bytes count too: a cap is a cap. */
				conn_fail(c, 413, "request body larger than this socket allows");
				return false;
			}
			memcpy(c->out + c->out_end, c->in + c->in_start, used);
			c->out_end += (uint32_t)used;
			c->in_start += (uint32_t)used;
			if (cr == HTTP_CHUNK_DONE)
				conn_body_done(c);
			break;
		case REQ_TUNNEL:
			n = avail < space ? avail : space;
			if (n == 0)
				return true;
			memcpy(c->out + c->out_end, c->in + c->in_start, n);
			c->out_end += (uint32_t)n;
			c->in_start += (uint32_t)n;
			break;
		case REQ_EOF:
			return true;
		}
	}
	if (c->in_start == c->in_end)
		c->in_start = c->in_end = c->head_scan = 0;
	return true;
}

static void conn_up_next(struct conn *c)
{
	struct io_uring_sqe *sqe;
	uint64_t len;

	if (c->failing) {
		conn_drain_next(c);
		return;
	}
	if (c->closing || c->up_busy)
		return;
	for (;;) {
		if (c->out_start < c->out_end) {
			if (!c->connected)
				return;       /* OP_CONNECT resumes us */
			c->up_busy = true;
			sqe = conn_sqe(c, OP_U_SEND);
			io_uring_prep_send(sqe, c->ufd, c->out + c->out_start,
					   c->out_end - c->out_start, MSG_NOSIGNAL);
			return;
		}
		c->out_start = c->out_end = 0;
		if (c->up_pipe_len > 0) {
			if (!c->connected)
				return;
			c->up_busy = true;
			conn_splice(c, c->up_pipe->rfd, c->ufd, c->up_pipe_len, OP_U_SPLICE_OUT);
			return;
		}
		if (c->in_start == c->in_end || c->req == REQ_EOF)
			break;
		if (!conn_up_process(c))
			return;
		if (c->out_end == 0)
			break;        /* need more input */
	}
	if (c->client_eof) {
		/* Everything the client sent before its EOF has gone upstream; a
		 * partial head or truncated body left in `in` is dropped. Then the
		 * EOF itself travels on as a write shutdown. */
		c->req = REQ_EOF;
		if (!c->connected)
			return;
		shutdown(c->ufd, SHUT_WR);
		/* A tunnel whose daemon side already ended is now done. */
		if (c->down_eof && c->down_pipe_len == 0 && !c->down_busy)
			conn_close(c);
		return;
	}
	/* Large bodies and tunnels move by splice; heads and small bodies by recv. */
	if (c->in_start == c->in_end &&
	    (c->req == REQ_TUNNEL || (c->req == REQ_BODY && c->body_left >= CONN_SPLICE_MIN))) {
		if (!c->up_pipe && !(c->up_pipe = ring_pipe_get(c->ring))) {
			conn_fail(c, 503, "dockmux: out of pipes");
			return;
		}
		len = c->req == REQ_BODY ? c->body_left : (1u << 30);
		if (len > (1u << 30))
			len = 1u << 30;
		c->up_busy = true;
		conn_poll_splice(c, c->cfd, POLLIN, OP_C_POLLIN, c->cfd, c->up_pipe->wfd,
				 (unsigned)len, OP_C_SPLICE_IN);
		return;
	}
	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
		c->in_end -= c->in_start;
		c->head_scan = c->head_scan > c->in_start ? c->head_scan - c->in_start : 0;
		c->in_start = 0;
	}
	c->up_busy = true;
	if (c->req == REQ_HEAD) {
		if (c->in_end > c->in_start)
			conn_head_timer_start(c);
		conn_recv_head(c);
		return;
	}
	sqe = conn_sqe(c, OP_C_RECV);
	io_uring_prep_recv(sqe, c->cfd, c->in + c->in_end, (unsigned)(c->ring->cfg->in_cap - c->in_end), 0);
}

static void conn_client_eof(struct conn *c)
{
	c->client_eof = true;
}

/* An I/O error or reset on either socket ends the whole connection. */
static void conn_io_error(struct conn *c, const char *what, int res)
{
	if (res != -ECONNRESET && res != -EPIPE && res != -ECANCELED && !c->closing)
		ring_log(c->ring, 7, "%s: %s", what, strerror(-res));
	if (res != -ECANCELED && res != -ECONNRESET && res != -EPIPE)
		conn_stat_error(c);
	conn_close(c);
}

static void conn_up_complete(struct conn *c, enum ring_op op, int res)
{
	c->up_busy = false;
	if (c->closing)
		return;
	if (c->failing) {
		/* Whatever was in flight when we failed: its data is dropped. */
		if (op == OP_C_RECV || op == OP_C_SPLICE_IN)
			conn_drain_complete(c, res == -EAGAIN ? 1 : res);
		else
			conn_drain_next(c);
		return;
	}
	if (res == -EAGAIN && op == OP_C_SPLICE_IN) {
		conn_up_next(c);    /* spurious wake-up: poll again */
		return;
	}
	if (res == -EAGAIN && op == OP_U_SPLICE_OUT) {
		c->up_busy = true;   /* upstream full: wait until writable */
		conn_poll_splice(c, c->ufd, POLLOUT, OP_U_POLLOUT, c->up_pipe->rfd, c->ufd,
				 c->up_pipe_len, OP_U_SPLICE_OUT);
		return;
	}
	if (res == -ECANCELED && op == OP_C_RECV && c->head_deadline &&
	    conn_now_ms() >= c->head_deadline) {
		conn_fail(c, 408, "dockmux: request head not received in time");
		return;
	}
	if (res < 0) {
		conn_io_error(c, "request direction", res);
		return;
	}
	switch (op) {
	case OP_C_RECV:
		if (res > 0 && c->req == REQ_HEAD)
			conn_head_timer_start(c);
		if (res == 0)
			conn_client_eof(c);
		c->in_end += (uint32_t)res;
		break;
	case OP_C_SPLICE_IN:
		if (res == 0) {
			conn_client_eof(c);
			break;
		}
		c->up_pipe_len += (uint32_t)res;
		if (c->req == REQ_BODY) {
			c->body_left -= (uint64_t)res;
			if (c->body_left == 0)
				conn_body_done(c);
		}
		break;
	case OP_U_SEND:
		c->out_start += (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_up += (uint64_t)res;
		break;
	case OP_U_SPLICE_OUT:
		c->up_pipe_len -= (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_up += (uint64_t)res;
		break;
	default:
		break;
	}
	conn_up_next(c);
}

/* ---- response direction ---- */

static void conn_down_next(struct conn *c)
{
	if (c->closing || c->down_busy)
		return;
	if (c->down_pipe_len > 0) {
		c->down_busy = true;
		conn_splice(c, c->down_pipe->rfd, c->cfd, c->down_pipe_len, OP_C_SPLICE_OUT);
		return;
	}
	if (c->failing && (c->down_eof || c->up_dead || !c->connected)) {
		conn_err_next(c);
		return;
	}
	if (c->down_eof) {
		if (c->req == REQ_TUNNEL) {
			/* Half-close: the daemon is done writing; the client may still
			 * be sending (stdin of attach/exec). */
			shutdown(c->cfd, SHUT_WR);
			return;
		}
		/* A plain HTTP connection the daemon closed (or the tunnel after
		 * both sides finished): nothing more can be answered. */
		conn_close(c);
		return;
	}
	if (!c->down_pipe && !(c->down_pipe = ring_pipe_get(c->ring))) {
		c->up_dead = true;
		conn_fail(c, 503, "dockmux: out of pipes");
		conn_err_next(c);
		return;
	}
	c->down_busy = true;
	conn_poll_splice(c, c->ufd, POLLIN, OP_U_POLLIN, c->ufd, c->down_pipe->wfd,
			 1u << 30, OP_U_SPLICE_IN);
}

static void conn_down_complete(struct conn *c, enum ring_op op, int res)
{
	c->down_busy = false;
	if (c->closing)
		return;
	if (res == -EAGAIN && op == OP_U_SPLICE_IN) {
		conn_down_next(c);
		return;
	}
	if (res == -EAGAIN && op == OP_C_SPLICE_OUT) {
		c->down_busy = true;   /* client slow: wait until writable */
		conn_poll_splice(c, c->cfd, POLLOUT, OP_C_POLLOUT, c->down_pipe->rfd, c->cfd,
				 c->down_pipe_len, OP_C_SPLICE_OUT);
		return;
	}
	if (res < 0) {
		if (c->failing && op == OP_U_SPLICE_IN) {
			c->up_dead = true;    /* the daemon side broke: just answer */
			conn_down_next(c);
			return;
		}
		conn_io_error(c, "response direction", res);
		return;
	}
	if (op == OP_U_SPLICE_IN) {
		if (res == 0)
			c->down_eof = true;
		c->down_pipe_len += (uint32_t)res;
	} else {
		c->down_pipe_len -= (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_down += (uint64_t)res;
	}
	/* Both halves of a tunnel finished: the conn is done. */
	if (!c->failing && c->down_eof && c->down_pipe_len == 0 && c->req == REQ_EOF) {
		conn_close(c);
		return;
	}
	conn_down_next(c);
}

void conn_complete(struct conn *c, enum ring_op op, int res, unsigned flags)
{
	(void)flags;
	c->inflight--;
	switch (op) {
	case OP_CONNECT:
		if (c->closing)
			return;
		if (c->failing) {
			/* Failed before the daemon answered the connect: only our
			 * error goes to the client. */
			c->up_dead = true;
			conn_down_next(c);
			return;
		}
		if (res < 0) {
			ring_log(c->ring, 4, "upstream %s unreachable: %s",
				 c->ring->cfg->upstream.sun_path, strerror(-res));
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
	case OP_U_SPLICE_IN:
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
