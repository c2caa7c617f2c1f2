/* ring/conn_up.c: the request direction, container -> daemon. Parses each
 * head strictly, refuses what the policy or limits forbid, re-serialises the
 * head with the container's token, and frames the body so the next head starts
 * at the right byte. Bodies of CONN_SPLICE_MIN and more go by splice. After a
 * request the daemon may hijack (an upgrade, or attach and exec start without
 * one) nothing more is parsed or forwarded until the daemon has answered it.
 */
#include "conn.h"

#include "hijack.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

uint64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The head timeout runs from the first byte of a head (or from accept, for
 * the first request) to its end. An idle keep-alive connection between
 * requests has no timer: no per-connection CPU while nothing happens. */
void conn_head_timer_start(struct conn *c)
{
	if (c->head_deadline == 0)
		c->head_deadline = conn_now_ms() + c->ring->cfg->head_timeout_ms;
}

void conn_head_timer_stop(struct conn *c)
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

void conn_up_body_done(struct conn *c)
{
	/* Nothing after a request that may hijack is parsed or forwarded
	 * before the daemon's head says what it did. Parsed too early, stdin
	 * would be rewritten with the token and echoed back by a `cat`; turned
	 * into a tunnel too early, a refused upgrade would smuggle unparsed
	 * requests past the token swap and the policy. */
	c->req = c->hijack_after ? REQ_UPGRADE_WAIT : REQ_HEAD;
}

void conn_up_upgrade_done(struct conn *c, bool accepted)
{
	if (c->req != REQ_UPGRADE_WAIT)
		return;
	c->req = accepted ? REQ_TUNNEL : REQ_HEAD;
	conn_up_next(c);
}

/* Waiting on the daemon: for its answer to an upgrade, or for responses when
 * RESP_TRACK_FIFO requests are already outstanding. */
static bool conn_up_blocked(const struct conn *c)
{
	return c->req == REQ_UPGRADE_WAIT ||
	       (c->req == REQ_HEAD && resp_tracker_outstanding(&c->track) >= RESP_TRACK_FIFO);
}

void conn_up_book(struct conn *c, const char *method, size_t mlen, const char *target,
		  size_t tlen, bool hijack)
{
	c->hijack_after = hijack;
	c->body_total = 0;
	conn_head_timer_stop(c);
	conn_access_push(c, method, mlen, target, tlen);
	/* Cannot fail: conn_up_blocked() kept us from parsing with a full FIFO. */
	(void)resp_tracker_push(&c->track, mlen == 4 && strncasecmp(method, "HEAD", 4) == 0,
				hijack);
	if (c->ctr)
		c->ctr->stats.requests++;
}

static void conn_head_done(struct conn *c, const struct http_head *h)
{
	const char *buf = c->in + c->in_start;

	conn_up_book(c, buf + h->method.off, h->method.len, buf + h->target.off, h->target.len,
		     hijack_request_may(buf, h));
	switch (h->body) {
	case HTTP_BODY_LENGTH:
		c->body_left = h->content_length;
		if (c->body_left > 0) {
			c->req = REQ_BODY;
			return;
		}
		break;
	case HTTP_BODY_CHUNKED:
		/* Trailer lines are judged whole (the token's name refused), so an
		 * incomplete one waits in `in`: at most in_cap bytes. */
		http_chunked_init_request(&c->chunked, c->ring->cfg->token_header,
					  c->ring->cfg->token_header_len, c->ring->cfg->in_cap);
		c->req = REQ_CHUNKED;
		return;
	case HTTP_BODY_NONE:
		break;
	}
	conn_up_body_done(c);
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

	const char *buf = c->in + c->in_start;
	char why[256];

#define REFUSE(status) conn_access_refused(c, buf + h->method.off, h->method.len, \
					    buf + h->target.off, h->target.len, status)
	if (cap && h->body == HTTP_BODY_LENGTH && h->content_length > cap) {
		REFUSE(413);
		conn_fail(c, 413, "request body larger than this socket allows");
		return false;
	}
	switch (policy_check(c->ctr->policy, buf + h->method.off, h->method.len,
			     buf + h->target.off, h->target.len, why, sizeof(why))) {
	case POLICY_ALLOW:
		return true;
	case POLICY_DENY:
		if (c->ctr->audit) {
			conn_audit_log(c, buf + h->method.off, h->method.len, buf + h->target.off,
				       h->target.len, 403, why);
			return true;
		}
		c->ctr->stats.denied++;
		REFUSE(403);
		conn_fail(c, 403, why);
		return false;
	case POLICY_BAD_PATH:
		REFUSE(400);
		conn_fail(c, 400, why);
		return false;
	}
#undef REFUSE
	return true;
}

/* Move what the in buffer holds into the out buffer, as far as framing and
 * space allow. Returns false when the conn failed. */
static bool conn_up_process(struct conn *c)
{
	struct http_head h;
	struct http_rewrite rw;
	enum http_parse pr;
	enum http_chunk cr;
	size_t avail, space, n, used;
	ssize_t w;

	/* An inspected request goes into out from its own buffers, whatever in holds. */
	while ((c->in_start < c->in_end || c->req == REQ_INSPECT_OUT) && !c->failing) {
		avail = c->in_end - c->in_start;
		space = c->ring->cfg->out_cap - c->out_end;
		switch (c->req) {
		case REQ_HEAD:
			if (conn_up_blocked(c))
				return true;
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
			rw = (struct http_rewrite){ .strip_name = c->ring->cfg->token_header,
						    .strip_len = c->ring->cfg->token_header_len,
						    .inject = c->ctr->token_line,
						    .inject_len = c->ctr->token_len };
			switch (c->ctr->inspect ? conn_iso_head(c, &h, &rw) : CONN_ISO_PASS) {
			case CONN_ISO_PASS:
				break;
			case CONN_ISO_BODY:
				c->in_start += (uint32_t)h.head_len;
				c->head_scan = c->in_start;
				continue;
			case CONN_ISO_REFUSED:
				return false;
			}
			w = http_head_rewrite_ex(c->in + c->in_start, &h, &rw, c->out + c->out_end,
						 space);
			if (w < 0) {
				if (c->out_end == 0) {
					conn_fail(c, 431, "request header fields too large");
					return false;
				}
				return true;   /* wait for out to drain */
			}
			c->out_end += (uint32_t)w;
			if (rw.target)
				conn_iso_target_done(c);
			conn_head_done(c, &h);   /* spans are relative to in_start */
			c->in_start += (uint32_t)h.head_len;
			c->head_scan = c->in_start;
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
				conn_up_body_done(c);
			break;
		case REQ_CHUNKED:
			n = avail < space ? avail : space;
			if (n == 0)
				return true;
			cr = http_chunked_feed(&c->chunked, c->in + c->in_start, n, &used);
			if (cr == HTTP_CHUNK_ERROR) {
				conn_fail(c, 400, http_chunked_reason(&c->chunked));
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
				conn_up_body_done(c);
			else if (used < n)
				return true;   /* a trailer line's start: keep it, read more */
			break;
		case REQ_INSPECT:
			if (!conn_iso_feed(c))
				return !c->failing && !c->closing;
			break;
		case REQ_INSPECT_OUT:
			if (!conn_iso_emit(c))
				return !c->failing;   /* out full: it drains first */
			break;
		case REQ_TUNNEL:
			n = avail < space ? avail : space;
			if (n == 0)
				return true;
			memcpy(c->out + c->out_end, c->in + c->in_start, n);
			c->out_end += (uint32_t)n;
			c->in_start += (uint32_t)n;
			break;
		case REQ_UPGRADE_WAIT:
		case REQ_EOF:
			return true;
		}
	}
	if (c->in_start == c->in_end)
		c->in_start = c->in_end = c->head_scan = 0;
	return true;
}

/* While failing: forward what was framed before the failure, then shut the
 * daemon's write side, then drain the client. Returns true when the caller
 * should go on with a normal flush step. */
static bool conn_fail_flush(struct conn *c)
{
	if (c->closing || c->up_busy)
		return false;
	if (!c->up_shut && !c->up_dead) {
		if (!c->connected)
			return false;      /* OP_CONNECT resumes us */
		if (c->out_start < c->out_end || c->up_pipe_len > 0)
			return true;
		shutdown(c->ufd, SHUT_WR);
		c->up_shut = true;
	}
	conn_drain_next(c);
	return false;
}

/* Large bodies and tunnels move by splice; heads and small bodies by recv. */
static bool conn_up_bulk(const struct conn *c)
{
	return c->in_start == c->in_end &&
	       (c->req == REQ_TUNNEL || (c->req == REQ_BODY && c->body_left >= CONN_SPLICE_MIN));
}

/* client -> pipe, at most what is left of the body (exact: one splice-in at
 * a time, body_left counts down at its completion). */
static void conn_up_splice_in(struct conn *c)
{
	uint64_t len = c->req == REQ_BODY ? c->body_left : CONN_SPLICE_MAX;

	if (len > CONN_SPLICE_MAX)
		len = CONN_SPLICE_MAX;
	c->up_sin_busy = true;
	conn_poll_splice(c, c->cfd, POLLIN, OP_C_POLLIN, c->cfd, c->up_pipe->wfd, (unsigned)len,
			 OP_C_SPLICE_IN);
}

/* While the pipe drains to the daemon, fill it from the client (as
 * conn_down_prefetch does the other way). */
static void conn_up_prefetch(struct conn *c)
{
	if (c->up_sin_busy || c->failing || c->client_eof || !c->up_pipe ||
	    c->up_pipe_len >= RING_PIPE_SIZE || !conn_up_bulk(c))
		return;
	conn_up_splice_in(c);
}

void conn_up_next(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->failing && !conn_fail_flush(c))
		return;
	for (;;) {
		if (c->closing)
			return;
		if (c->up_busy) {
			conn_up_prefetch(c);
			return;
		}
		if (c->failing && c->out_start == c->out_end && c->up_pipe_len == 0) {
			conn_fail_flush(c);
			return;
		}
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
			conn_up_prefetch(c);
			return;
		}
		/* Everything below goes in order: wait for the splice-in. */
		if (c->up_sin_busy)
			return;
		if ((c->in_start == c->in_end && c->req != REQ_INSPECT_OUT) || c->req == REQ_EOF)
			break;
		if (!conn_up_process(c))
			return;
		if (c->out_end == 0)
			break;        /* need more input */
	}
	if (c->closing || c->up_busy || c->up_sin_busy || c->failing)
		return;
	if (conn_up_blocked(c))
		return;               /* conn_down resumes us */
	if (c->client_eof) {
		/* Everything the client sent before its EOF has gone upstream; a
		 * partial head or truncated body left in `in` is dropped. Then the
		 * EOF itself travels on as a write shutdown. */
		if (conn_pool_idle(c)) {
			/* Between requests: the daemon side can serve someone else. */
			conn_close(c);
			return;
		}
		c->req = REQ_EOF;
		if (!c->connected)
			return;
		shutdown(c->ufd, SHUT_WR);
		/* A tunnel whose daemon side already ended is now done. */
		if (c->down_eof && c->down_pipe_len == 0 && c->d_sent == c->d_end && !c->down_busy &&
		    !c->down_sin_busy)
			conn_close(c);
		return;
	}
	if (conn_up_bulk(c)) {
		if (!c->up_pipe && !(c->up_pipe = ring_pipe_get(c->ring))) {
			conn_fail(c, 503, "dockmux: out of pipes");
			return;
		}
		conn_up_splice_in(c);
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

void conn_up_complete(struct conn *c, enum ring_op op, int res)
{
	if (op == OP_C_SPLICE_IN)
		c->up_sin_busy = false;
	else
		c->up_busy = false;
	if (c->closing)
		return;
	if (c->failing) {
		/* Client bytes read after the failure are dropped. */
		if (op == OP_C_RECV || op == OP_C_SPLICE_IN) {
			if (op == OP_C_SPLICE_IN && res > 0)
				c->up_pipe_len_dropped += (uint32_t)res;
			conn_drain_complete(c, res == -EAGAIN ? 1 : res);
			return;
		}
		/* A flush of what was framed before it. */
		if (res < 0 && res != -EAGAIN) {
			c->up_dead = true;
			conn_up_next(c);
			conn_down_next(c);
			return;
		}
		if (res > 0 && op == OP_U_SEND)
			c->out_start += (uint32_t)res;
		else if (res > 0 && op == OP_U_SPLICE_OUT)
			c->up_pipe_len -= (uint32_t)res;
		conn_up_next(c);
		return;
	}
	if (res == -EAGAIN && op == OP_C_SPLICE_IN) {
		/* Pipe full while it drains: the splice-out's completion
		 * prefetches again (re-polling the readable client would spin).
		 * Otherwise a spurious wake-up: poll again. */
		if (c->up_busy)
			return;
		conn_up_next(c);
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
				conn_up_body_done(c);
		}
		break;
	case OP_U_SEND:
		c->out_start += (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_up += (uint64_t)res;
		c->nbytes_up += (uint64_t)res;
		conn_resp_timer_check(c);
		break;
	case OP_U_SPLICE_OUT:
		c->up_pipe_len -= (uint32_t)res;
		if (c->ctr)
			c->ctr->stats.bytes_up += (uint64_t)res;
		c->nbytes_up += (uint64_t)res;
		conn_resp_timer_check(c);
		break;
	default:
		break;
	}
	conn_up_next(c);
}

