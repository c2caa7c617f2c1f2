/* ring/conn_down.c: the response direction, daemon -> container. Bytes are
 * forwarded verbatim; the resp_tracker only reads them to know where each
 * response ends (upgrade verdicts, pipelining limit, status counts). Heads and
 * chunked bodies pass through dbuf by recv/send (no io-wq hop for small
 * answers); Content-Length and until-close bodies go by splice with the exact
 * length left, so the next response's head is never swallowed into the pipe.
 * After an accepted upgrade everything is a raw splice tunnel. The optional
 * response timeout (time to the first byte of a response owed) lives here.
 */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

/* ---- response timeout ----
 * One plain IORING_OP_TIMEOUT per conn at most, at an absolute deadline. The
 * deadline moves by plain stores (set when the up side has sent everything
 * and a response is owed with none of it seen, cleared by any daemon byte);
 * a timer that fires early re-arms for the rest. So a keep-alive connection
 * costs at most one timer per response_timeout_ms, and none when it is off. */

/* The oldest outstanding response has not begun: not a byte of it seen. */
static bool conn_resp_owed(const struct conn *c)
{
	return c->connected && !c->failing && !c->down_tunnel && !c->down_eof &&
	       resp_tracker_next(&c->track) == RESP_NEXT_HEAD &&
	       resp_tracker_head_need(&c->track) == 1 && c->d_fed == c->d_end;
}

static void conn_resp_timer_arm(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->resp_timer)
		return;   /* it fires at or before the deadline and re-arms */
	c->resp_timer = true;
	c->resp_ts.tv_sec = (long long)(c->resp_deadline / 1000);
	c->resp_ts.tv_nsec = (long long)(c->resp_deadline % 1000) * 1000000;
	sqe = conn_sqe(c, OP_RESP_TIMEOUT);
	io_uring_prep_timeout(sqe, &c->resp_ts, 0, IORING_TIMEOUT_ABS);
}

void conn_resp_timer_check(struct conn *c)
{
	unsigned ms = c->ring->cfg->response_timeout_ms;

	/* Measured from the request's last byte: never during an upload. */
	if (!ms || c->closing || c->resp_deadline || c->out_start != c->out_end ||
	    c->up_pipe_len || c->req == REQ_BODY || c->req == REQ_CHUNKED ||
	    c->req == REQ_INSPECT_OUT || !conn_resp_owed(c))
		return;
	c->resp_deadline = conn_now_ms() + ms;
	conn_resp_timer_arm(c);
}

void conn_resp_timer_complete(struct conn *c, int res)
{
	uint64_t now;

	(void)res;   /* -ETIME, or -ECANCELED from conn_close */
	c->resp_timer = false;
	if (c->closing || !c->resp_deadline)
		return;
	now = conn_now_ms();
	if (now < c->resp_deadline) {
		conn_resp_timer_arm(c);
		return;
	}
	c->resp_deadline = 0;
	if (!conn_resp_owed(c))
		return;
	ring_log(c->ring, 4, "daemon sent no response in %u ms path=%s",
		 c->ring->cfg->response_timeout_ms, c->ctr ? c->ctr->path : "-");
	/* Our answer replaces the daemon's: its connection must never serve
	 * again (a late answer would be taken for the next request's). */
	c->up_dead = true;
	shutdown(c->ufd, SHUT_RDWR);
	conn_fail(c, 504, "dockmux: the Docker daemon did not answer in time");
}

static void conn_down_status(struct conn *c, int status)
{
	conn_stat_status(c, status);
	conn_access_done(c, status);
	/* The next response owed is timed from the end of this one. */
	c->resp_deadline = 0;
	conn_resp_timer_check(c);
	/* A response ended: a blocked request direction may go on. */
	if (c->req == REQ_UPGRADE_WAIT && resp_tracker_outstanding(&c->track) == 0)
		conn_up_upgrade_done(c, false);
	else
		conn_up_next(c);
}

static void conn_down_framing_error(struct conn *c)
{
	const char *why = resp_tracker_error(&c->track);

	ring_log(c->ring, 4, "daemon response framing error path=%s: %s",
		 c->ctr ? c->ctr->path : "-", why ? why : "unknown");
	conn_stat_error(c);
	conn_close(c);
}

/* Frame the bytes waiting in dbuf. Returns false when the conn went away. */
static bool conn_down_feed(struct conn *c)
{
	enum resp_track r;
	size_t used = 0;
	int status = 0;

	r = resp_tracker_feed(&c->track, c->dbuf + c->d_fed, c->d_end - c->d_fed, &used, &status);
	c->d_fed += (uint32_t)used;
	switch (r) {
	case RESP_TRACK_MORE:
		if (c->d_fed < c->d_end)
			c->d_partial = true;   /* the rest is the start of a head */
		return true;
	case RESP_TRACK_END:
		conn_down_status(c, status);
		return !c->closing;
	case RESP_TRACK_TUNNEL:
		conn_access_done(c, 101);
		c->down_tunnel = true;
		c->d_fed = c->d_end;       /* whatever follows the 101 is raw */
		conn_up_upgrade_done(c, true);
		return !c->closing;
	case RESP_TRACK_ERROR:
	case RESP_TRACK_CLOSED:
		break;
	}
	conn_down_framing_error(c);
	return false;
}

static void conn_down_eof(struct conn *c)
{
	int status = 0;

	if (!c->down_tunnel && !c->failing &&
	    resp_tracker_eof(&c->track, &status) == RESP_TRACK_END)
		conn_down_status(c, status);
	if (c->closing)
		return;
	if (c->down_tunnel && c->req != REQ_EOF) {
		/* Half-close: the daemon is done writing; the client may still be
		 * sending (stdin of attach/exec). */
		shutdown(c->cfd, SHUT_WR);
		return;
	}
	/* A plain HTTP connection the daemon closed, or a tunnel whose two
	 * halves are done: nothing more can be answered. */
	conn_close(c);
}

/* Splice costs an io-wq hop: worth it for bulk, not for a small rest. */
static bool conn_down_bulk(const struct conn *c)
{
	return c->down_tunnel || (resp_tracker_next(&c->track) == RESP_NEXT_SPLICE &&
				  resp_tracker_body_left(&c->track) >= CONN_SPLICE_MIN);
}

/* daemon -> pipe, at most what is left of the body (the tracker's count is
 * exact: only one splice-in is ever in flight). */
static void conn_down_splice_in(struct conn *c)
{
	uint64_t len = c->down_tunnel ? CONN_SPLICE_MAX : resp_tracker_body_left(&c->track);

	if (len > CONN_SPLICE_MAX)
		len = CONN_SPLICE_MAX;
	c->down_sin_busy = true;
	conn_poll_splice(c, c->ufd, POLLIN, OP_U_POLLIN, c->ufd, c->down_pipe->wfd, (unsigned)len,
			 OP_U_SPLICE_IN);
}

/* While the pipe drains to the client, fill it from the daemon: the two
 * halves of a bulk body overlap instead of taking turns. */
static void conn_down_prefetch(struct conn *c)
{
	if (c->down_sin_busy || c->down_eof || c->failing || !c->down_pipe ||
	    c->down_pipe_len >= RING_PIPE_SIZE || !conn_down_bulk(c))
		return;
	conn_down_splice_in(c);
}

void conn_down_next(struct conn *c)
{
	struct io_uring_sqe *sqe;

	for (;;) {
		/* Checked each round: framing a response may resume the request
		 * direction, which may fail the conn and re-enter here. */
		if (c->closing)
			return;
		if (c->down_busy) {
			conn_down_prefetch(c);
			return;
		}
		if (c->down_pipe_len > 0) {
			c->down_busy = true;
			conn_splice(c, c->down_pipe->rfd, c->cfd, c->down_pipe_len, OP_C_SPLICE_OUT);
			conn_down_prefetch(c);
			return;
		}
		/* Everything below reads or writes in order: wait for the
		 * splice-in under way. */
		if (c->down_sin_busy)
			return;
		if (c->d_sent < c->d_fed) {
			c->down_busy = true;
			sqe = conn_sqe(c, OP_D_SEND);
			io_uring_prep_send(sqe, c->cfd, c->dbuf + c->d_sent, c->d_fed - c->d_sent,
					   MSG_NOSIGNAL);
			return;
		}
		if (c->d_sent > 0) {
			/* All framed bytes are out: keep only a partial head. */
			memmove(c->dbuf, c->dbuf + c->d_fed, c->d_end - c->d_fed);
			c->d_end -= c->d_fed;
			c->d_fed = c->d_sent = 0;
		}
		if (c->failing && (c->down_eof || c->up_dead || !c->connected ||
				   resp_tracker_outstanding(&c->track) == 0)) {
			conn_err_next(c);
			return;
		}
		if (!c->connected)
			return;               /* OP_CONNECT starts us */
		if (c->down_tunnel && c->d_end > 0) {
			c->d_fed = c->d_end;
			continue;
		}
		if (!c->down_tunnel && c->d_fed < c->d_end && !c->d_partial) {
			if (!conn_down_feed(c))
				return;
			continue;
		}
		break;
	}
	if (c->closing || c->down_busy || c->down_sin_busy)
		return;
	if (c->down_eof) {
		conn_down_eof(c);
		return;
	}
	if (conn_down_bulk(c)) {
		if (!c->down_pipe && !(c->down_pipe = ring_pipe_get(c->ring))) {
			c->up_dead = true;
			conn_fail(c, 503, "dockmux: out of pipes");
			return;
		}
		conn_down_splice_in(c);
		return;
	}
	/* A head, a chunked body, or bytes nobody asked for (an error the
	 * tracker reports): read into dbuf. */
	c->down_busy = true;
	sqe = conn_sqe(c, OP_U_RECV);
	io_uring_prep_recv(sqe, c->ufd, c->dbuf + c->d_end, CONN_DBUF_CAP - c->d_end, 0);
}

void conn_down_complete(struct conn *c, enum ring_op op, int res)
{
	enum resp_track r;
	int status = 0;

	if (op == OP_U_SPLICE_IN)
		c->down_sin_busy = false;
	else
		c->down_busy = false;
	if (c->closing)
		return;
	if (res == -EAGAIN && op == OP_U_SPLICE_IN) {
		/* Pipe full (it counts buffers, not bytes) while it drains: the
		 * splice-out's completion prefetches again. Re-polling now
		 * would spin: the daemon socket stays readable. */
		if (c->down_busy)
			return;
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
		if (c->failing && (op == OP_U_SPLICE_IN || op == OP_U_RECV)) {
			c->up_dead = true;    /* the daemon side broke: just answer */
			conn_down_next(c);
			return;
		}
		conn_io_error(c, "response direction", res);
		return;
	}
	switch (op) {
	case OP_U_RECV:
		if (res == 0)
			c->down_eof = true;
		else
			c->resp_deadline = 0;   /* a response has begun */
		c->d_end += (uint32_t)res;
		c->d_partial = false;
		break;
	case OP_U_SPLICE_IN:
		if (res == 0) {
			c->down_eof = true;
			break;
		}
		c->resp_deadline = 0;
		c->down_pipe_len += (uint32_t)res;
		if (c->down_tunnel)
			break;
		r = resp_tracker_skip(&c->track, (uint64_t)res, &status);
		if (r == RESP_TRACK_ERROR) {
			conn_down_framing_error(c);
			return;
		}
		if (r == RESP_TRACK_END) {
			conn_down_status(c, status);
			if (c->closing)
				return;
		}
		break;
	case OP_D_SEND:
		c->d_sent += (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_down += (uint64_t)res;
		c->nbytes_down += (uint64_t)res;
		if (c->access_done)
			conn_access_flush(c, false);
		break;
	case OP_C_SPLICE_OUT:
		c->down_pipe_len -= (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_down += (uint64_t)res;
		c->nbytes_down += (uint64_t)res;
		if (c->access_done)
			conn_access_flush(c, false);
		break;
	default:
		break;
	}
	conn_down_next(c);
}
