/* cmd/metrics_http.c: the /metrics endpoint's small non-blocking HTTP/1.1
 * server for the text of metrics.c (see metrics_http.h): one poll loop,
 * every client a state machine with deadlines, the body rendered a page at a
 * time as the client takes it. Not a general HTTP server: no keep-alive, no
 * request bodies. Where it listens: metrics_listen.c.
 */
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- serving ---- */

#define METRICS_HEAD_MAX 8192
#define METRICS_READ_MS 2000
#define METRICS_WRITE_MS 30000
#define METRICS_CONNS_MAX 16
#define METRICS_ACCEPTS 16

static int64_t metrics_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool metrics_tchar(unsigned char c)
{
	/* RFC 9110 §5.6.2 token characters. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct metrics_req {
	int status;   /* 200, 400, 404, 405 */
	bool head;    /* HEAD: no body in the answer */
};

/* Next line of [p, end): returns its length without the line ending and sets
 * *next; -1 for a bare CR (RFC 9112 §2.2: reject). A line always ends in LF
 * here because the head was cut after its final empty line. */
static ssize_t metrics_line(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	size_t n;

	if (!lf)
		return -1;
	n = (size_t)(lf - p);
	if (n && p[n - 1] == '\r')
		n--;
	if (memchr(p, '\r', n))
		return -1;
	*next = lf + 1;
	return (ssize_t)n;
}

static void metrics_parse(const char *h, size_t len, struct metrics_req *r)
{
	const char *end = h + len, *p = h, *next, *sp, *target, *q;
	size_t mlen, tlen, i;
	ssize_t n;

	r->status = 400;
	r->head = false;
	if (memchr(h, '\0', len))
		return;
	/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3) */
	n = metrics_line(p, end, &next);
	if (n <= 0)
		return;
	sp = memchr(p, ' ', (size_t)n);
	if (!sp || sp == p || sp - p > 32)
		return;
	for (q = p; q < sp; q++)
		if (!metrics_tchar((unsigned char)*q))
			return;
	mlen = (size_t)(sp - p);
	target = sp + 1;
	sp = memchr(target, ' ', (size_t)(p + n - target));
	if (!sp || sp == target)
		return;
	tlen = (size_t)(sp - target);
	for (i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return;
	if (p + n - (sp + 1) != 8 || (memcmp(sp + 1, "HTTP/1.1", 8) && memcmp(sp + 1, "HTTP/1.0", 8)))
		return;
	if (target[0] != '/')
		return; /* only origin-form: no proxy requests, no '*' */
	/* field-name ":" OWS field-value OWS; no obs-fold, no space before ':' (§5) */
	for (p = next; p < end; p = next) {
		n = metrics_line(p, end, &next);
		if (n < 0)
			return;
		if (n == 0)
			break;
		q = memchr(p, ':', (size_t)n);
		if (!q || q == p)
			return;
		for (sp = p; sp < q; sp++)
			if (!metrics_tchar((unsigned char)*sp))
				return;
		for (q++; q < p + n; q++)
			if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
				return;
	}

	/* Methods are case-sensitive (RFC 9110 §9.1): "get" is another method. */
	r->head = mlen == 4 && !memcmp(h, "HEAD", 4);
	if (!r->head && !(mlen == 3 && !memcmp(h, "GET", 3))) {
		r->status = 405;
		return;
	}
	q = memchr(target, '?', tlen);
	if (q)
		tlen = (size_t)(q - target);
	r->status = tlen == 8 && !memcmp(target, "/metrics", 8) ? 200 : 404;
}

/* End of the head (just past the empty line) in buf[0, len), or 0. */
static size_t metrics_head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static const char *metrics_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	default:  return "Service Unavailable";
	}
}


/* One client. Reading its head, then sending the answer: a head of our own,
 * then (a 200 to GET) the exposition, one piece per send as it drains. */
struct mconn {
	int fd;
	bool sending;               /* the head is read; the answer goes out */
	int64_t deadline;           /* the whole head, then the whole answer */
	uint64_t serial;            /* accept order */
	size_t head_len;
	char head[METRICS_HEAD_MAX];
	char hdr[320];              /* our response head (or a whole error answer) */
	const char *out;
	size_t out_off, out_len;
	struct metrics_stream *st;  /* the body still to render; NULL: none */
	struct metrics_snapshot snap;
	bool filled;                /* snap needs release */
	bool done;                  /* everything sent, or given up: close */
};

struct metrics_server {
	const struct metrics_source *src;
	struct mconn *conns[METRICS_CONNS_MAX];
	size_t n;
	uint64_t serial;
	int reserve_fd;             /* /dev/null: let go to answer an accept when out of fds */
};

static void metrics_report(const struct metrics_server *sv, const char *what, int err)
{
	if (sv->src->error)
		sv->src->error(sv->src->ud, what, err);
}

static void mconn_release(struct metrics_server *sv, struct mconn *c)
{
	metrics_stream_free(c->st);
	c->st = NULL;
	if (c->filled && sv->src->release)
		sv->src->release(sv->src->ud, &c->snap);
	c->filled = false;
}

/* Closing with unread bytes makes TCP send a RST, which can destroy the
 * answer before the client reads it: half-close, then drop what is already
 * queued (never wait for more). */
static void mconn_free(struct metrics_server *sv, struct mconn *c)
{
	char drain[4096];

	mconn_release(sv, c);
	shutdown(c->fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(c->fd, drain, sizeof(drain), MSG_DONTWAIT) > 0; i++)
		;
	close(c->fd);
	free(c);
}

/* Queue our head: with a body of blen bytes (errors), or lengthless for the
 * exposition, which ends with the connection. */
static void mconn_answer(struct mconn *c, int status, bool head_only, const char *body, size_t blen,
			 bool stream, int64_t now)
{
	int n;

	if (stream)
		n = snprintf(c->hdr, sizeof(c->hdr),
			     "HTTP/1.1 200 OK\r\n"
			     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			     "Connection: close\r\n\r\n");
	else
		n = snprintf(c->hdr, sizeof(c->hdr),
			     "HTTP/1.1 %d %s\r\n"
			     "Content-Type: text/plain; charset=utf-8\r\n"
			     "Content-Length: %zu\r\n"
			     "%s"
			     "Connection: close\r\n\r\n%s",
			     status, metrics_reason(status), blen,
			     status == 405 ? "Allow: GET, HEAD\r\n" : "", head_only ? "" : body);
	c->out = c->hdr;
	c->out_off = 0;
	c->out_len = (size_t)n;
	c->sending = true;
	c->deadline = now + METRICS_WRITE_MS;
}

static void mconn_error(struct mconn *c, int status, bool head_only, int64_t now)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, metrics_reason(status));

	mconn_answer(c, status, head_only, body, (size_t)n, false, now);
}

/* The head is whole: answer it. */
static void mconn_route(struct metrics_server *sv, struct mconn *c, size_t hend, int64_t now)
{
	struct metrics_req req;
	int ret;

	metrics_parse(c->head, hend, &req);
	if (req.status != 200) {
		mconn_error(c, req.status, req.head, now);
		return;
	}
	memset(&c->snap, 0, sizeof(c->snap));
	ret = sv->src->fill(sv->src->ud, &c->snap);
	c->filled = true;
	if (ret >= 0 && !req.head)
		ret = metrics_stream_new(&c->snap, sv->src->page, sv->src->ud, &c->st);
	if (ret < 0) {
		mconn_release(sv, c);
		metrics_report(sv, "metrics snapshot", ret);
		mconn_error(c, 503, req.head, now);
		return;
	}
	if (req.head)
		mconn_release(sv, c);
	mconn_answer(c, 200, req.head, NULL, 0, true, now);
}

static void mconn_read(struct metrics_server *sv, struct mconn *c, int64_t now)
{
	for (;;) {
		size_t from, hend;
		ssize_t r;

		if (c->head_len == sizeof(c->head)) {
			mconn_error(c, 431, false, now);
			return;
		}
		r = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->done = true;   /* reset by the client */
			return;
		}
		if (r == 0) {
			/* A half-closed client may still read an answer to its fragment. */
			if (c->head_len)
				mconn_error(c, 400, false, now);
			else
				c->done = true;
			return;
		}
		/* Rescan a little before the new bytes: the terminator may straddle. */
		from = c->head_len >= 3 ? c->head_len - 3 : 0;
		c->head_len += (size_t)r;
		hend = metrics_head_end(c->head + from, c->head_len - from);
		if (hend) {
			mconn_route(sv, c, hend + from, now);
			return;
		}
	}
}

static void mconn_write(struct metrics_server *sv, struct mconn *c)
{
	int ret;

	for (;;) {
		while (c->out_off < c->out_len) {
			ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					c->done = true;   /* it went away: it just loses the rest */
				return;
			}
			c->out_off += (size_t)w;
		}
		if (!c->st)
			break;
		/* One piece at a time, rendered only when the client has taken
		 * the last: a slow reader costs a page of memory, not the text. */
		ret = metrics_stream_next(c->st, &c->out, &c->out_len);
		c->out_off = 0;
		if (ret <= 0) {
			c->out_len = 0;
			if (ret < 0)
				metrics_report(sv, "metrics rendering", ret);
			break;    /* the body is cut short: the client sees it end early */
		}
	}
	mconn_release(sv, c);
	c->done = true;
}

/* Out of fds: give the reserve up for one accept so the client gets a 503
 * instead of waiting in the backlog. */
static void metrics_refuse_nofd(struct metrics_server *sv, int listen_fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	int fd;

	if (sv->reserve_fd < 0) {
		poll(NULL, 0, 10);   /* nothing to give up: do not spin */
		return;
	}
	close(sv->reserve_fd);
	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
	}
	sv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Room for one more: the oldest client still sending its head goes (a
 * scraper sends its head at once; one that does not is the one to drop). */
static bool metrics_make_room(struct metrics_server *sv)
{
	size_t victim = sv->n;

	for (size_t i = 0; i < sv->n; i++)
		if (!sv->conns[i]->sending && !sv->conns[i]->done &&
		    (victim == sv->n || sv->conns[i]->serial < sv->conns[victim]->serial))
			victim = i;
	if (victim == sv->n)
		return false;
	sv->conns[victim]->done = true;
	return true;
}

static void metrics_accept(struct metrics_server *sv, int listen_fd, int64_t now)
{
	for (int k = 0; k < METRICS_ACCEPTS && sv->n < METRICS_CONNS_MAX; k++) {
		struct mconn *c;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				metrics_refuse_nofd(sv, listen_fd);
				continue;
			}
			/* accept(2): errors of the pending connection, not of the
			 * listener, and EAGAIN: nothing (more) to do now. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    errno != EPROTO && errno != ENETDOWN && errno != ENOPROTOOPT &&
			    errno != EHOSTDOWN && errno != ENONET && errno != EHOSTUNREACH &&
			    errno != EOPNOTSUPP && errno != ENETUNREACH) {
				metrics_report(sv, "metrics accept", -errno);
				poll(NULL, 0, 10);
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->serial = ++sv->serial;
		c->deadline = now + METRICS_READ_MS;
		sv->conns[sv->n++] = c;
	}
}

int metrics_serve(int listen_fd, int stop_fd, const struct metrics_source *src)
{
	struct metrics_server sv = { .src = src };
	struct pollfd pfd[2 + METRICS_CONNS_MAX];
	int ret = 0;

	sv.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (;;) {
		int64_t now = metrics_now_ms(), wake = 0;
		size_t n = sv.n;
		bool room = sv.n < METRICS_CONNS_MAX;

		/* At the limit, the listener is watched only while some client
		 * that has not sent its head could make room. */
		for (size_t i = 0; i < n && !room; i++)
			room = !sv.conns[i]->sending && !sv.conns[i]->done;
		pfd[0] = (struct pollfd){ .fd = listen_fd, .events = room ? POLLIN : 0 };
		pfd[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		for (size_t i = 0; i < n; i++) {
			struct mconn *c = sv.conns[i];
			int64_t d = c->done ? now : c->deadline;

			pfd[2 + i] = (struct pollfd){ .fd = c->fd,
						      .events = c->done ? 0 : c->sending ? POLLOUT : POLLIN };
			if (!wake || d < wake)
				wake = d;
		}
		ret = poll(pfd, 2 + n, wake ? (wake > now ? (int)(wake - now) : 0) : -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		ret = 0;
		if (pfd[1].revents)
			break;
		now = metrics_now_ms();
		for (size_t i = 0; i < n; i++) {
			struct mconn *c = sv.conns[i];

			if (c->done)
				continue;
			if (!c->sending && (pfd[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				mconn_read(&sv, c, now);
			else if (c->sending && (pfd[2 + i].revents & (POLLOUT | POLLHUP | POLLERR)))
				mconn_write(&sv, c);
			if (!c->done && now >= c->deadline) {
				/* A head not whole in time gets a 408; an answer not
				 * taken in time is just cut. */
				if (!c->sending) {
					mconn_error(c, 408, false, now);
					mconn_write(&sv, c);
				}
				c->done = true;
			}
		}
		if ((pfd[0].revents & POLLIN) && sv.n == METRICS_CONNS_MAX)
			metrics_make_room(&sv);
		for (size_t i = 0; i < sv.n;) {
			if (sv.conns[i]->done) {
				mconn_free(&sv, sv.conns[i]);
				sv.conns[i] = sv.conns[--sv.n];
			} else {
				i++;
			}
		}
		if (pfd[0].revents & POLLIN)
			metrics_accept(&sv, listen_fd, now);
	}
	for (size_t i = 0; i < sv.n; i++)
		mconn_free(&sv, sv.conns[i]);
	if (sv.reserve_fd >= 0)
		close(sv.reserve_fd);
	return ret;
}
