/* ring/conn_refuse.c: connections over max_conns. Each gets Docker's JSON
 * 503 only after its request head has arrived, then a write shutdown, then
 * its input is read and dropped until it closes. A 503 written at accept
 * raced the request: a client writing after our close got EPIPE/ECONNRESET
 * instead of the answer, and Go's transport (the docker CLI) drops a response
 * that arrives before its request as "unsolicited". Deliberately small: no
 * per-connection buffers, no parser (the head is only looked for: an empty
 * line), one 512-byte object. Bounded: the head timeout for the head and
 * again for the drain, CONN_DRAIN_MAX bytes, CONN_REFUSALS_MAX per ring at
 * once (past that, the old answer at accept: a flood gets resets).
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mimalloc.h>

#define CONN_REFUSALS_MAX 256
#define CONN_REFUSE_BUF 512

struct conn_refusal {
	struct ring *ring;
	struct conn_refusal *prev, *next;   /* the ring's list of refusals */
	int fd;
	int status;
	const char *msg;                    /* static */
	unsigned inflight;                  /* SQEs in flight; freed only at 0 */
	bool answered;                      /* 503 sent, write side shut: draining */
	bool done;                          /* no more SQEs; freed at inflight 0 */
	uint8_t eol;                        /* head scan: 0 in a line, 1 after LF, 2 after LF CR */
	uint32_t seen;                      /* head bytes, then drained bytes */
	uint64_t deadline;                  /* CLOCK_MONOTONIC ms: head, then drain */
	struct __kernel_timespec ts;        /* read by the kernel at submit */
	char buf[CONN_REFUSE_BUF];          /* input (dropped), then the answer */
} __attribute__((aligned(32)));

/* The old answer, for when no refusal object can be had: send, shut, read
 * what already arrived (closing with unread input resets the peer), close. */
static void refuse_at_once(int fd, int status, const char *msg)
{
	char buf[CONN_REFUSE_BUF];
	ssize_t n = http_error_format(status, msg, buf, sizeof(buf));

	if (n > 0)
		(void)send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

/* recv linked to a timeout at f->deadline (1 ms if already past). */
static void refusal_recv(struct conn_refusal *f)
{
	struct io_uring_sqe *sqe = ring_sqe(f->ring);
	uint64_t now = conn_now_ms();
	uint64_t left = f->deadline > now ? f->deadline - now : 1;

	f->inflight += 2;
	io_uring_prep_recv(sqe, f->fd, f->buf, sizeof(f->buf), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(f, OP_R_RECV));
	sqe->flags |= IOSQE_IO_LINK;
	f->ts.tv_sec = (long long)(left / 1000);
	f->ts.tv_nsec = (long long)(left % 1000) * 1000000;
	sqe = ring_sqe(f->ring);
	io_uring_prep_link_timeout(sqe, &f->ts, 0);
	io_uring_sqe_set_data64(sqe, ring_tag(f, OP_R_TIMEOUT));
}

/* True once buf[0..n) completes an empty line (LF LF or LF CR LF). A leading
 * CRLF is taken as a line of its own, not as the end. */
static bool refusal_head_ends(struct conn_refusal *f, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (f->eol)
				return true;
			f->eol = 1;
		} else {
			f->eol = buf[i] == '\r' && f->eol == 1 ? 2 : 0;
		}
	}
	return false;
}

/* The request is in (or will never be): answer, shut our write side, and
 * drain for at most another head timeout. */
static void refusal_answer(struct conn_refusal *f)
{
	ssize_t n = http_error_format(f->status, f->msg, f->buf, sizeof(f->buf));

	f->answered = true;
	/* The socket's send buffer is empty: a few hundred bytes always fit. */
	if (n <= 0 || send(f->fd, f->buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		f->done = true;
		return;
	}
	shutdown(f->fd, SHUT_WR);
	f->seen = 0;
	f->deadline = conn_now_ms() + f->ring->cfg->head_timeout_ms;
}

static void refusal_free(struct conn_refusal *f)
{
	struct ring *r = f->ring;

	if (f->prev)
		f->prev->next = f->next;
	else
		r->refusals = f->next;
	if (f->next)
		f->next->prev = f->prev;
	r->nrefusals--;
	close(f->fd);
	mi_free(f);
}

void conn_refuse(struct ring *r, struct container *ctr, int fd, int status, const char *msg)
{
	struct conn_refusal *f = NULL;

	ctr->stats.errors++;
	ctr->stats.responses[status / 100]++;
	ring_log(r, 6, "refused connection path=%s status=%d: %s", ctr->path, status, msg);
	if (r->nrefusals < CONN_REFUSALS_MAX)
		f = mi_zalloc_aligned(sizeof(*f), 32);
	if (!f) {
		refuse_at_once(fd, status, msg);
		return;
	}
	f->ring = r;
	f->fd = fd;
	f->status = status;
	f->msg = msg;
	f->deadline = conn_now_ms() + r->cfg->head_timeout_ms;
	f->next = r->refusals;
	if (r->refusals)
		r->refusals->prev = f;
	r->refusals = f;
	r->nrefusals++;
	refusal_recv(f);
}

void conn_refusal_complete(struct conn_refusal *f, enum ring_op op, int res)
{
	f->inflight--;
	if (op == OP_R_RECV && !f->done) {
		if (res > 0 && !f->answered) {
			f->seen += (uint32_t)res;
			if (refusal_head_ends(f, f->buf, (size_t)res) ||
			    f->seen >= f->ring->cfg->limits.max_head)
				refusal_answer(f);
		} else if (res > 0) {
			f->seen += (uint32_t)res;
			f->done = f->seen > CONN_DRAIN_MAX;
		} else if (!f->answered && (res == 0 || res == -ECANCELED)) {
			/* The client half-closed, or its head is late: it may
			 * still read the answer. */
			refusal_answer(f);
			f->done |= res == 0;
		} else {
			f->done = true;   /* drained to EOF, drain timed out, or an error */
		}
		if (!f->done)
			refusal_recv(f);
	}
	if (f->done && f->inflight == 0)
		refusal_free(f);
}

void conn_refusals_stop(struct ring *r)
{
	for (struct conn_refusal *f = r->refusals; f; f = f->next) {
		f->done = true;
		/* Wakes the pending recv; its CQE (and its timeout's) free f. */
		shutdown(f->fd, SHUT_RDWR);
	}
}
