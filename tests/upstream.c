/* tests/upstream.c: the fake Docker daemon of the API tests (see upstream.h).
 * Plain blocking sockets and a thread per connection: simple enough to trust
 * as the reference side of an integration test. It does not aim to be a
 * robust server: malformed input just closes the connection.
 */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define UPSTREAM_MAX_HEAD (64 * 1024)
#define UPSTREAM_IO_CHUNK (64 * 1024)

struct uconn {
	struct upstream *u;
	int fd;                  /* -1 once the serving thread closed it (under u->lock) */
	unsigned id;
	bool done;
	pthread_t thread;
	struct uconn *next;
};

struct upstream {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned flags;
	int lfd;
	int wake[2];             /* upstream_free writes here to stop the accept thread */
	pthread_t acceptor;

	pthread_mutex_t lock;    /* guards everything below */
	pthread_cond_t cond;     /* log grew or a connection ended */
	struct uconn *conns;     /* not yet joined */
	unsigned accepted, active;
	bool stopping;
	struct upstream_req *log;
	size_t nlog, caplog;
};

/* Receive buffer: bytes [start, end) are unread. */
struct rbuf {
	char *data;
	size_t start, end, cap;
};

/* Growable body buffer. */
struct body {
	char *data;
	size_t len, cap;
};

static int rbuf_fill(int fd, struct rbuf *rb)
{
	ssize_t n;

	if (rb->start > 0 && rb->start == rb->end)
		rb->start = rb->end = 0;
	if (rb->end == rb->cap && rb->start > 0) {
		memmove(rb->data, rb->data + rb->start, rb->end - rb->start);
		rb->end -= rb->start;
		rb->start = 0;
	}
	if (rb->end == rb->cap) {
		size_t cap = rb->cap ? rb->cap * 2 : UPSTREAM_IO_CHUNK;
		char *data = realloc(rb->data, cap);

		if (!data)
			return -ENOMEM;
		rb->data = data;
		rb->cap = cap;
	}
	do {
		n = recv(fd, rb->data + rb->end, rb->cap - rb->end, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	rb->end += (size_t)n;
	return (int)(n > 0);
}

static int body_add(struct body *b, const char *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *data;

		while (cap < b->len + len)
			cap *= 2;
		data = realloc(b->data, cap);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait for a CRLF-terminated line; *len excludes the CRLF. 1, 0 on EOF, -errno. */
static int rbuf_line(int fd, struct rbuf *rb, char **line, size_t *len)
{
	for (;;) {
		char *s = rb->data + rb->start;
		char *nl = rb->end > rb->start ? memmem(s, rb->end - rb->start, "\r\n", 2) : NULL;
		int ret;

		if (nl) {
			*line = s;
			*len = (size_t)(nl - s);
			rb->start += *len + 2;
			return 1;
		}
		if (rb->end - rb->start > UPSTREAM_MAX_HEAD)
			return -E2BIG;
		ret = rbuf_fill(fd, rb);
		if (ret <= 0)
			return ret;
	}
}

/* Consume exactly n body bytes into b (NULL: discard). 0 or -errno (-EPIPE on EOF). */
static int rbuf_take(int fd, struct rbuf *rb, uint64_t n, struct body *b)
{
	while (n > 0) {
		size_t avail = rb->end - rb->start;
		int ret;

		if (avail == 0) {
			ret = rbuf_fill(fd, rb);
			if (ret < 0)
				return ret;
			if (ret == 0)
				return -EPIPE;
			continue;
		}
		if (avail > n)
			avail = (size_t)n;
		if (b && body_add(b, rb->data + rb->start, avail) < 0)
			return -ENOMEM;
		rb->start += avail;
		n -= avail;
	}
	return 0;
}

static char *dup_range(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

void upstream_request_deinit(struct upstream_req *r)
{
	if (!r)
		return;
	free(r->method);
	free(r->target);
	free(r->version);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->trailers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Parse the head [p, p+len) (request line + header lines, CRLF separated,
 * without the final empty line). 0 or -EINVAL. */
static int head_parse(const char *p, size_t len, struct upstream_req *r)
{
	const char *end = p + len;
	const char *eol = memmem(p, len, "\r\n", 2);
	const char *sp1, *sp2;

	memset(r, 0, sizeof(*r));
	if (!eol)
		eol = end;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2)
		return -EINVAL;
	r->method = dup_range(p, (size_t)(sp1 - p));
	r->target = dup_range(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	r->version = dup_range(sp2 + 1, (size_t)(eol - sp2 - 1));
	if (!r->method || !r->target || !r->version)
		goto err;
	p = eol == end ? end : eol + 2;
	while (p < end) {
		const char *colon, *v, *ve;
		struct upstream_header *h;

		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			goto err;
		v = colon + 1;
		while (v < eol && is_ows(*v))
			v++;
		ve = eol;
		while (ve > v && is_ows(ve[-1]))
			ve--;
		h = realloc(r->headers, (r->nheaders + 1) * sizeof(*h));
		if (!h)
			goto err;
		r->headers = h;
		h = &r->headers[r->nheaders];
		h->name = dup_range(p, (size_t)(colon - p));
		h->value = dup_range(v, (size_t)(ve - v));
		r->nheaders++;
		if (!h->name || !h->value)
			goto err;
		p = eol == end ? end : eol + 2;
	}
	return 0;
err:
	upstream_request_deinit(r);
	return -EINVAL;
}

int upstream_req_count(const struct upstream_req *r, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < r->nheaders; i++)
		n += strcasecmp(r->headers[i].name, name) == 0;
	return n;
}

const char *upstream_req_value(const struct upstream_req *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Does any header named name hold token (comma-separated, case-insensitive)? */
static bool req_has_token(const struct upstream_req *r, const char *name, const char *token)
{
	size_t tlen = strlen(token);

	for (size_t i = 0; i < r->nheaders; i++) {
		const char *v = r->headers[i].value;

		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		while (*v) {
			size_t n;

			while (*v == ',' || is_ows(*v))
				v++;
			n = strcspn(v, ",");
			while (n > 0 && is_ows(v[n - 1]))
				n--;
			if (n == tlen && strncasecmp(v, token, tlen) == 0)
				return true;
			v += strcspn(v, ",");
		}
	}
	return false;
}

/* Takes ownership of r's contents. */
static void log_add(struct upstream *u, struct upstream_req *r)
{
	pthread_mutex_lock(&u->lock);
	if (u->nlog == u->caplog) {
		size_t cap = u->caplog ? u->caplog * 2 : 64;
		struct upstream_req *log = realloc(u->log, cap * sizeof(*log));

		if (!log) {
			pthread_mutex_unlock(&u->lock);
			upstream_request_deinit(r);
			return;
		}
		u->log = log;
		u->caplog = cap;
	}
	u->log[u->nlog++] = *r;
	memset(r, 0, sizeof(*r));
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

/* The trailer section up to the empty line, kept raw in tr. On EOF the bytes
 * of a line cut short are kept too: a test checks nothing of a field came. */
static int read_trailers(int fd, struct rbuf *rb, struct body *tr)
{
	char *line;
	size_t len;
	int ret;

	for (;;) {
		ret = rbuf_line(fd, rb, &line, &len);
		if (ret <= 0) {
			if (rb->end > rb->start)
				(void)body_add(tr, rb->data + rb->start, rb->end - rb->start);
			return ret < 0 ? ret : -EPIPE;
		}
		if (len == 0)
			return 0;
		if (body_add(tr, line, len + 2) < 0)
			return -ENOMEM;
	}
}

static int read_chunked(int fd, struct rbuf *rb, struct body *b, struct body *tr)
{
	for (;;) {
		char *line, *endp;
		size_t len;
		unsigned long long size;
		int ret = rbuf_line(fd, rb, &line, &len);

		if (ret <= 0)
			return ret < 0 ? ret : -EPIPE;
		if (len == 0 || !strchr("0123456789abcdefABCDEF", line[0]))
			return -EINVAL;
		size = strtoull(line, &endp, 16);
		if (size == 0)
			return read_trailers(fd, rb, tr);
		ret = rbuf_take(fd, rb, size, b);
		if (ret < 0)
			return ret;
		ret = rbuf_line(fd, rb, &line, &len);
		if (ret <= 0 || len != 0)
			return -EINVAL;
	}
}

static int respond(int fd, int status, const char *reason, const char *ctype,
		   const void *body, size_t len, bool close_after)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Api-Version: 1.45\r\nServer: dmx-test-upstream\r\n%s\r\n",
			 status, reason, ctype, len, close_after ? "Connection: close\r\n" : "");

	if (send_all(fd, head, (size_t)n) < 0)
		return -EPIPE;
	return len ? send_all(fd, body, len) : 0;
}

static int respond_big(int fd, uint64_t n, bool close_after)
{
	char head[256];
	char *chunk;
	uint64_t off = 0;
	int len = snprintf(head, sizeof(head),
			   "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Length: %" PRIu64 "\r\n%s\r\n",
			   n, close_after ? "Connection: close\r\n" : "");

	if (send_all(fd, head, (size_t)len) < 0)
		return -EPIPE;
	chunk = malloc(UPSTREAM_IO_CHUNK);
	if (!chunk)
		return -ENOMEM;
	while (off < n) {
		size_t k = n - off < UPSTREAM_IO_CHUNK ? (size_t)(n - off) : UPSTREAM_IO_CHUNK;

		for (size_t i = 0; i < k; i++)
			chunk[i] = (char)upstream_pattern(off + i);
		if (send_all(fd, chunk, k) < 0) {
			free(chunk);
			return -EPIPE;
		}
		off += k;
	}
	free(chunk);
	return 0;
}

/* A stream: the head now, then n chunks ms apart, then the last chunk. */
static int respond_trickle(int fd, uint64_t n, uint64_t ms)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

	if (send_all(fd, head, strlen(head)) < 0)
		return -EPIPE;
	for (uint64_t i = 0; i < n; i++) {
		nanosleep(&ts, NULL);
		if (send_all(fd, "5\r\ntick\n\r\n", 10) < 0)
			return -EPIPE;
	}
	return send_all(fd, "0\r\n\r\n", 5);
}

/* After a 101: echo until EOF, then say goodbye and half-close. */
static void tunnel(int fd, struct rbuf *rb)
{
	char buf[UPSTREAM_IO_CHUNK];

	if (rb->end > rb->start && send_all(fd, rb->data + rb->start, rb->end - rb->start) < 0)
		return;
	rb->start = rb->end = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		if (n == 0)
			break;
		if (send_all(fd, buf, (size_t)n) < 0)
			return;
	}
	if (send_all(fd, UPSTREAM_BYE, strlen(UPSTREAM_BYE)) == 0)
		shutdown(fd, SHUT_WR);
}

/* Read and drop everything until the peer closes. */
static void drain(int fd, struct rbuf *rb)
{
	int ret;

	rb->start = rb->end = 0;
	do {
		ret = rbuf_fill(fd, rb);
		rb->start = rb->end = 0;
	} while (ret > 0);
}

static uint64_t query_u64(const char *target, const char *name)
{
	const char *q = strchr(target, '?');
	size_t nlen = strlen(name);

	while (q) {
		q++;
		if (strncmp(q, name, nlen) == 0 && q[nlen] == '=')
			return strtoull(q + nlen + 1, NULL, 10);
		q = strchr(q, '&');
	}
	return 0;
}

static bool path_is(const char *target, const char *path)
{
	size_t len = strlen(path);

	return strncmp(target, path, len) == 0 && (target[len] == '\0' || target[len] == '?');
}

/* "/v1.NN/<area>/ID/<verb>" or "/<area>/ID/<verb>" (query ignored): the
 * routes dockerd hijacks. ID (one segment) into id. */
static bool docker_route(const char *target, const char *area, const char *verb, char *id,
			 size_t cap)
{
	const char *p = target, *slash, *end = target + strcspn(target, "?");
	size_t alen = strlen(area), vlen = strlen(verb);

	if (p[0] == '/' && p[1] == 'v' && p[2] >= '0' && p[2] <= '9')
		p = strchr(p + 1, '/');
	if (!p || p[0] != '/' || strncmp(p + 1, area, alen) != 0 || p[1 + alen] != '/')
		return false;
	p += alen + 2;
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash || slash == p || (size_t)(end - slash - 1) != vlen ||
	    strncmp(slash + 1, verb, vlen) != 0 || (size_t)(slash - p) >= cap)
		return false;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	return true;
}

/* After a hijacking 200 (no Upgrade asked): the head dockerd writes by hand,
 * then the same echo tunnel as after a 101. */
static void hijack_200(int fd, struct rbuf *rb, const char *extra_headers)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n%s\r\n",
			 extra_headers);

	if (send_all(fd, head, (size_t)n) == 0)
		tunnel(fd, rb);
}

/* Serve one connection until it closes or asks to. */
static void serve(struct upstream *u, struct uconn *c)
{
	struct rbuf rb = { 0 };
	int fd = c->fd;

	for (;;) {
		struct upstream_req r;
		struct body b = { 0 }, tr = { 0 };
		const char *end, *te, *cl;
		char method[16], target[1024], id[128];
		bool close_after, upgrade;
		int ret;

		/* the head: up to the empty line */
		for (;;) {
			end = rb.end > rb.start ?
				memmem(rb.data + rb.start, rb.end - rb.start, "\r\n\r\n", 4) : NULL;
			if (end)
				break;
			if (rb.end - rb.start > UPSTREAM_MAX_HEAD)
				goto out;
			ret = rbuf_fill(fd, &rb);
			if (ret <= 0)
				goto out;
		}
		if (head_parse(rb.data + rb.start, (size_t)(end - (rb.data + rb.start)), &r) < 0)
			goto out;
		rb.start = (size_t)(end - rb.data) + 4;
		r.conn_id = c->id;

		te = upstream_req_value(&r, "Transfer-Encoding");
		cl = upstream_req_value(&r, "Content-Length");
		if (te && strcasestr(te, "chunked")) {
			r.chunked = true;
			ret = read_chunked(fd, &rb, &b, &tr);
			if (tr.len && body_add(&tr, "", 1) == 0) {
				r.trailers = tr.data;
				r.trailers_len = tr.len - 1;
			} else {
				free(tr.data);
			}
		} else if (cl) {
			ret = rbuf_take(fd, &rb, strtoull(cl, NULL, 10), &b);
		} else {
			ret = 0;
		}
		r.body_len = b.len;
		if (b.len <= UPSTREAM_BODY_KEPT && (r.body = malloc(b.len + 1))) {
			if (b.len)
				memcpy(r.body, b.data, b.len);
			r.body[b.len] = '\0';
		}
		/* dockerd's BuildKit routes upgrade on the Upgrade header alone. */
		upgrade = req_has_token(&r, "Connection", "upgrade") ||
			  ((path_is(r.target, "/grpc") || path_is(r.target, "/session")) &&
			   upstream_req_value(&r, "Upgrade"));
		close_after = (u->flags & UPSTREAM_CLOSE_AFTER_RESPONSE) ||
			      req_has_token(&r, "Connection", "close") ||
			      strcmp(r.version, "HTTP/1.1") != 0;
		snprintf(method, sizeof(method), "%s", r.method);
		snprintf(target, sizeof(target), "%s", r.target);
		log_add(u, &r);
		if (ret < 0) {
			free(b.data);
			goto out;
		}

		/* /noupgrade plays a daemon that refuses an upgrade: a plain 200
		 * with a length, and the connection stays HTTP. */
		if (strcmp(method, "GET") == 0 && path_is(target, "/noupgrade"))
			upgrade = false;
		if (!upgrade && strcmp(method, "POST") == 0 &&
		    docker_route(target, "containers", "attach", id, sizeof(id))) {
			if (strcmp(id, "missing") == 0) {
				static const char msg[] = "{\"message\":\"No such container: missing\"}\n";

				ret = respond(fd, 404, "Not Found", "application/json", msg, strlen(msg),
					      close_after);
				free(b.data);
				if (ret < 0 || close_after)
					goto out;
				continue;
			}
			free(b.data);
			hijack_200(fd, &rb, "");
			goto out;
		}
		if (!upgrade && strcmp(method, "POST") == 0 &&
		    docker_route(target, "exec", "start", id, sizeof(id))) {
			bool detach = b.data && memmem(b.data, b.len, "\"Detach\":true", 13);

			if (detach) {
				ret = respond(fd, 200, "OK", "text/plain", NULL, 0, close_after);
				free(b.data);
				if (ret < 0 || close_after)
					goto out;
				continue;
			}
			free(b.data);
			hijack_200(fd, &rb, "Api-Version: 1.41\r\nOstype: linux\r\nServer: Docker/20.10\r\n");
			goto out;
		}
		if (upgrade) {
			static const char up[] =
				"HTTP/1.1 101 UPGRADED\r\n"
				"Content-Type: application/vnd.docker.raw-stream\r\n"
				"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";

			free(b.data);
			if (send_all(fd, up, strlen(up)) == 0)
				tunnel(fd, &rb);
			goto out;
		}
		if (strcmp(method, "GET") == 0 && path_is(target, "/_ping")) {
			ret = respond(fd, 200, "OK", "text/plain; charset=utf-8", "OK", 2, close_after);
		} else if (strcmp(method, "GET") == 0 && path_is(target, "/big")) {
			ret = respond_big(fd, query_u64(target, "n"), close_after);
		} else if (strcmp(method, "POST") == 0 && path_is(target, "/echo")) {
			ret = respond(fd, 200, "OK", "application/octet-stream", b.data, b.len,
				      close_after);
		} else if (strcmp(method, "GET") == 0 && path_is(target, "/noupgrade")) {
			ret = respond(fd, 200, "OK", "text/plain; charset=utf-8", "no upgrade", 10,
				      close_after);
		} else if (strcmp(method, "GET") == 0 && path_is(target, "/garbage")) {
			/* Two differing Content-Lengths: a framing no proxy may guess
			 * at. The connection stays open, so only the proxy can end
			 * its client's connection. */
			static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
						  "Content-Length: 6\r\n\r\nhello!";

			ret = send_all(fd, bad, strlen(bad));
		} else if (strcmp(method, "GET") == 0 && path_is(target, "/slow")) {
			struct timespec ts = { .tv_sec = (time_t)(query_u64(target, "ms") / 1000),
					       .tv_nsec = (long)(query_u64(target, "ms") % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			ret = respond(fd, 200, "OK", "text/plain; charset=utf-8", "OK", 2, close_after);
		} else if (strcmp(method, "GET") == 0 && path_is(target, "/trickle")) {
			ret = respond_trickle(fd, query_u64(target, "n"), query_u64(target, "ms"));
		} else if (path_is(target, "/hang")) {
			free(b.data);
			drain(fd, &rb);
			goto out;
		} else {
			static const char msg[] = "{\"message\":\"page not found\"}\n";

			ret = respond(fd, 404, "Not Found", "application/json", msg,
				      strlen(msg), close_after);
		}
		free(b.data);
		if (ret < 0 || close_after)
			goto out;
	}
out:
	free(rb.data);
}

static void *conn_main(void *arg)
{
	struct uconn *c = arg;
	struct upstream *u = c->u;

	serve(u, c);
	pthread_mutex_lock(&u->lock);
	close(c->fd);
	c->fd = -1;
	c->done = true;
	u->active--;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Join connection threads that have finished (called by the acceptor). */
static void reap_done(struct upstream *u)
{
	struct uconn *done = NULL, **pp;

	pthread_mutex_lock(&u->lock);
	for (pp = &u->conns; *pp;) {
		struct uconn *c = *pp;

		if (c->done) {
			*pp = c->next;
			c->next = done;
			done = c;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&u->lock);
	while (done) {
		struct uconn *next = done->next;

		pthread_join(done->thread, NULL);
		free(done);
		done = next;
	}
}

static void *accept_main(void *arg)
{
	struct upstream *u = arg;
	struct pollfd pfd[2] = {
		{ .fd = u->lfd, .events = POLLIN },
		{ .fd = u->wake[0], .events = POLLIN },
	};

	for (;;) {
		struct uconn *c;
		int fd;

		if (poll(pfd, 2, 200) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		reap_done(u);
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->u = u;
		c->fd = fd;
		pthread_mutex_lock(&u->lock);
		c->id = ++u->accepted;
		u->active++;
		if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			u->active--;
			pthread_mutex_unlock(&u->lock);
			close(fd);
			free(c);
			continue;
		}
		c->next = u->conns;
		u->conns = c;
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

int upstream_new(const char *path, unsigned flags, struct upstream **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct upstream *u;
	int ret;

	if (!path || !out || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->lfd = u->wake[0] = u->wake[1] = -1;
	u->flags = flags;
	strcpy(u->path, path);
	strcpy(sa.sun_path, path);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	if (pipe2(u->wake, O_CLOEXEC) < 0)
		goto err_errno;
	u->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->lfd < 0)
		goto err_errno;
	unlink(path);
	if (bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(u->lfd, 512) < 0)
		goto err_errno;
	ret = -pthread_create(&u->acceptor, NULL, accept_main, u);
	if (ret < 0)
		goto err;
	*out = u;
	return 0;
err_errno:
	ret = -errno;
err:
	if (u->lfd >= 0) {
		close(u->lfd);
		unlink(path);
	}
	if (u->wake[0] >= 0) {
		close(u->wake[0]);
		close(u->wake[1]);
	}
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u);
	return ret;
}

void upstream_free(struct upstream *u)
{
	struct uconn *c;

	if (!u)
		return;
	if (write(u->wake[1], "x", 1) != 1)
		abort();
	pthread_join(u->acceptor, NULL);
	pthread_mutex_lock(&u->lock);
	u->stopping = true;
	for (c = u->conns; c; c = c->next)
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&u->lock);
	/* the acceptor is gone, so the list no longer changes */
	while ((c = u->conns)) {
		u->conns = c->next;
		pthread_join(c->thread, NULL);
		free(c);
	}
	close(u->lfd);
	unlink(u->path);
	close(u->wake[0]);
	close(u->wake[1]);
	for (size_t i = 0; i < u->nlog; i++)
		upstream_request_deinit(&u->log[i]);
	free(u->log);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

size_t upstream_request_count(struct upstream *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = u->nlog;
	pthread_mutex_unlock(&u->lock);
	return n;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool upstream_wait_requests(struct upstream *u, size_t n, int timeout_ms)
{
	struct timespec ts;
	bool ok;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&u->lock);
	while (u->nlog < n && pthread_cond_timedwait(&u->cond, &u->lock, &ts) == 0)
		;
	ok = u->nlog >= n;
	pthread_mutex_unlock(&u->lock);
	return ok;
}

bool upstream_wait_idle(struct upstream *u, int timeout_ms)
{
	struct timespec ts;
	bool ok;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&u->lock);
	while (u->active > 0 && pthread_cond_timedwait(&u->cond, &u->lock, &ts) == 0)
		;
	ok = u->active == 0;
	pthread_mutex_unlock(&u->lock);
	return ok;
}

/* Resolve idx under u->lock; NULL if out of range. */
static struct upstream_req *log_at(struct upstream *u, long idx)
{
	if (idx < 0)
		idx += (long)u->nlog;
	if (idx < 0 || (size_t)idx >= u->nlog)
		return NULL;
	return &u->log[idx];
}

static int req_copy(const struct upstream_req *src, struct upstream_req *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->method = strdup(src->method);
	dst->target = strdup(src->target);
	dst->version = strdup(src->version);
	dst->body_len = src->body_len;
	dst->chunked = src->chunked;
	if (src->body) {
		dst->body = malloc(src->body_len + 1);
		if (!dst->body)
			goto err;
		memcpy(dst->body, src->body, src->body_len + 1);
	}
	dst->conn_id = src->conn_id;
	if (src->trailers) {
		dst->trailers = malloc(src->trailers_len + 1);
		if (!dst->trailers)
			goto err;
		memcpy(dst->trailers, src->trailers, src->trailers_len + 1);
		dst->trailers_len = src->trailers_len;
	}
	dst->headers = calloc(src->nheaders ? src->nheaders : 1, sizeof(*dst->headers));
	if (!dst->method || !dst->target || !dst->version || !dst->headers)
		goto err;
	for (size_t i = 0; i < src->nheaders; i++) {
		dst->headers[i].name = strdup(src->headers[i].name);
		dst->headers[i].value = strdup(src->headers[i].value);
		dst->nheaders++;
		if (!dst->headers[i].name || !dst->headers[i].value)
			goto err;
	}
	return 0;
err:
	upstream_request_deinit(dst);
	return -ENOMEM;
}

int upstream_request_get(struct upstream *u, long idx, struct upstream_req *out)
{
	struct upstream_req *r;
	int ret;

	pthread_mutex_lock(&u->lock);
	r = log_at(u, idx);
	ret = r ? req_copy(r, out) : -ENOENT;
	pthread_mutex_unlock(&u->lock);
	return ret;
}

int upstream_count_header(struct upstream *u, long idx, const char *name)
{
	struct upstream_req *r;
	int n;

	pthread_mutex_lock(&u->lock);
	r = log_at(u, idx);
	n = r ? upstream_req_count(r, name) : -1;
	pthread_mutex_unlock(&u->lock);
	return n;
}

int upstream_header_value(struct upstream *u, long idx, const char *name, char *buf, size_t cap)
{
	struct upstream_req *r;
	const char *v = NULL;
	int ret = -ENOENT;

	pthread_mutex_lock(&u->lock);
	r = log_at(u, idx);
	if (r)
		v = upstream_req_value(r, name);
	if (v) {
		if (strlen(v) + 1 > cap) {
			ret = -ENOSPC;
		} else {
			memcpy(buf, v, strlen(v) + 1);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return ret;
}

unsigned upstream_conns_accepted(struct upstream *u)
{
	unsigned n;

	pthread_mutex_lock(&u->lock);
	n = u->accepted;
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned upstream_conns_active(struct upstream *u)
{
	unsigned n;

	pthread_mutex_lock(&u->lock);
	n = u->active;
	pthread_mutex_unlock(&u->lock);
	return n;
}
