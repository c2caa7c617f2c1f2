/* bench/upstream.c: dockmux-upstream, the fast HTTP/1.1 stub daemon the
 * benchmark proxies to. Serves GET /_ping, GET /stream?bytes=N, POST /sink and
 * POST /echo on a Unix socket, keep-alive, from N epoll threads; each answer
 * carries X-Auth-Seen: <how many Authorization headers matched the token>.
 * It is a load target, not a validating server: it trusts its clients' framing
 * (Content-Length only, no chunked bodies) and never logs per request.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define UP_IN_CAP (64 * 1024)
#define UP_OUT_CAP 512
/* Large writes: few syscalls per streamed MiB. */
#define UP_CHUNK (1024 * 1024)
#define UP_EVENTS 256
#define UP_BACKLOG 4096

enum up_state {
	UP_HEAD,       /* waiting for a request head */
	UP_SINK,       /* reading body_left bytes, answer when done */
	UP_ECHO,       /* reading body_left bytes and sending them back */
	UP_STREAM,     /* sending out[] then stream_left pattern bytes */
};

struct up_conn {
	int fd;
	enum up_state state;
	uint64_t body_left;
	uint64_t body_total;
	uint64_t stream_left;
	unsigned auth_seen;
	uint32_t in_start, in_end;
	uint32_t out_start, out_end;   /* response head (and small bodies) */
	uint32_t echo_start, echo_end; /* body bytes read, not yet echoed (in in[]) */
	bool close_after;
	char out[UP_OUT_CAP];
	char in[UP_IN_CAP];
};

struct up_counters {
	uint64_t requests;
	uint64_t auth_ok;
	uint64_t auth_missing;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t conns;
};

struct up_thread {
	pthread_t thread;
	int epfd;
	int lfd;
	struct up_counters c;
	char *scratch;                 /* UP_CHUNK: sink bodies land here */
};

static const char *up_token = NULL;    /* expected Authorization value, NULL: any */
static size_t up_token_len;
static char *up_pattern;               /* UP_CHUNK bytes streamed by /stream */
static volatile sig_atomic_t up_stop;

static void up_on_signal(int sig)
{
	(void)sig;
	up_stop = 1;
}

static void up_conn_free(struct up_thread *t, struct up_conn *c)
{
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void up_reply(struct up_conn *c, const char *status, const char *body, size_t body_len,
		     uint64_t content_len)
{
	int n = snprintf(c->out, sizeof(c->out),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nX-Auth-Seen: %u\r\n"
			 "Content-Length: %llu\r\n%s\r\n",
			 status, c->auth_seen, (unsigned long long)content_len,
			 c->close_after ? "Connection: close\r\n" : "");

	if (body_len && (size_t)n + body_len < sizeof(c->out)) {
		memcpy(c->out + n, body, body_len);
		n += (int)body_len;
	}
	c->out_start = 0;
	c->out_end = (uint32_t)n;
}

/* Case-insensitive header name match at p (len bytes up to the colon). */
static bool up_name_is(const char *p, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

static uint64_t up_parse_u64(const char *p, const char *end)
{
	uint64_t v = 0;

	while (p < end && *p == ' ')
		p++;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* Parse the head in in[in_start, head_end) and set up the answer. */
static void up_request(struct up_thread *t, struct up_conn *c, const char *head, size_t len)
{
	const char *end = head + len, *line, *eol, *sp1, *sp2;
	uint64_t content_length = 0;
	bool http10 = false;

	t->c.requests++;
	c->auth_seen = 0;
	c->close_after = false;
	eol = memchr(head, '\n', len);
	if (!eol)
		eol = end;
	sp1 = memchr(head, ' ', (size_t)(eol - head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2) {
		c->close_after = true;
		up_reply(c, "400 Bad Request", "bad request\n", 12, 12);
		c->state = UP_STREAM;
		c->stream_left = 0;
		return;
	}
	if (eol - sp2 >= 9 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		http10 = true;
	for (line = eol + 1; line < end; line = eol + 1) {
		const char *colon, *v, *vend;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		vend = eol;
		if (vend > line && vend[-1] == '\r')
			vend--;
		if (vend == line)
			break;
		colon = memchr(line, ':', (size_t)(vend - line));
		if (!colon)
			continue;
		v = colon + 1;
		while (v < vend && (*v == ' ' || *v == '\t'))
			v++;
		if (up_name_is(line, (size_t)(colon - line), "content-length")) {
			content_length = up_parse_u64(v, vend);
		} else if (up_name_is(line, (size_t)(colon - line), "authorization")) {
			if (!up_token || ((size_t)(vend - v) == up_token_len &&
					  memcmp(v, up_token, up_token_len) == 0))
				c->auth_seen++;
		} else if (up_name_is(line, (size_t)(colon - line), "connection")) {
			if ((size_t)(vend - v) == 5 && strncasecmp(v, "close", 5) == 0)
				c->close_after = true;
		}
	}
	if (http10)
		c->close_after = true;
	if (c->auth_seen)
		t->c.auth_ok++;
	else
		t->c.auth_missing++;

	size_t target_len = (size_t)(sp2 - sp1 - 1);
	const char *target = sp1 + 1;
	size_t method_len = (size_t)(sp1 - head);

	c->stream_left = 0;
	if (method_len == 4 && memcmp(head, "POST", 4) == 0 &&
	    ((target_len == 5 && memcmp(target, "/sink", 5) == 0) ||
	     (target_len == 5 && memcmp(target, "/echo", 5) == 0))) {
		c->body_left = content_length;
		c->body_total = content_length;
		if (target[1] == 'e') {
			up_reply(c, "200 OK", NULL, 0, content_length);
			c->state = UP_ECHO;
		} else {
			c->state = UP_SINK;
		}
		return;
	}
	/* Any other body is read and dropped before the answer. */
	if (content_length) {
		c->body_left = content_length;
		c->body_total = content_length;
		c->state = UP_SINK;
		c->close_after = true;
		return;
	}
	c->state = UP_STREAM;
	if (method_len == 3 && memcmp(head, "GET", 3) == 0 && target_len >= 7 &&
	    memcmp(target, "/stream", 7) == 0) {
		const char *q = memmem(target, target_len, "bytes=", 6);
		uint64_t n = q ? up_parse_u64(q + 6, target + target_len) : 0;

		up_reply(c, "200 OK", NULL, 0, n);
		c->stream_left = n;
	} else if (target_len >= 6 && memcmp(target, "/_ping", 6) == 0) {
		up_reply(c, "200 OK", "OK", 2, 2);
	} else {
		up_reply(c, "404 Not Found", "not found\n", 10, 10);
	}
}

/* Write pending output. Returns 1 when all is sent, 0 when the socket is
 * full, -1 when the connection is dead. */
static int up_flush(struct up_thread *t, struct up_conn *c)
{
	for (;;) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (c->out_start < c->out_end) {
			iov[n].iov_base = c->out + c->out_start;
			iov[n].iov_len = c->out_end - c->out_start;
			n++;
		}
		if (c->state == UP_ECHO && c->echo_start < c->echo_end) {
			iov[n].iov_base = c->in + c->echo_start;
			iov[n].iov_len = c->echo_end - c->echo_start;
			n++;
		} else if (c->state == UP_STREAM && c->stream_left) {
			iov[n].iov_base = up_pattern;
			iov[n].iov_len = c->stream_left < UP_CHUNK ? c->stream_left : UP_CHUNK;
			n++;
		}
		if (n == 0)
			return 1;
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };

		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		t->c.bytes_out += (uint64_t)w;
		size_t left = (size_t)w;
		if (c->out_start < c->out_end) {
			size_t k = c->out_end - c->out_start;

			k = k < left ? k : left;
			c->out_start += (uint32_t)k;
			left -= k;
		}
		if (c->state == UP_ECHO)
			c->echo_start += (uint32_t)left;
		else if (c->state == UP_STREAM)
			c->stream_left -= left;
	}
}

/* Advance the state machine over buffered input. Returns false when the
 * connection must wait for output space. */
static bool up_process(struct up_thread *t, struct up_conn *c)
{
	for (;;) {
		switch (c->state) {
		case UP_HEAD: {
			char *p = c->in + c->in_start;
			size_t avail = c->in_end - c->in_start;
			char *hend = memmem(p, avail, "\r\n\r\n", 4);

			if (!hend)
				return true;
			size_t hlen = (size_t)(hend + 4 - p);

			up_request(t, c, p, hlen);
			c->in_start += (uint32_t)hlen;
			break;
		}
		case UP_SINK:
		case UP_ECHO: {
			uint64_t avail = c->in_end - c->in_start;
			uint64_t take = avail < c->body_left ? avail : c->body_left;

			if (c->state == UP_ECHO) {
				/* Echo bytes are sent from in[] itself: consume them only once
				 * sent. */
				if (c->echo_start == c->echo_end && take) {
					c->echo_start = c->in_start;
					c->echo_end = c->in_start + (uint32_t)take;
					c->in_start += (uint32_t)take;
					c->body_left -= take;
					t->c.bytes_in += take;
				}
				if (c->echo_start < c->echo_end || c->out_start < c->out_end)
					return false;
			} else {
				c->in_start += (uint32_t)take;
				c->body_left -= take;
				t->c.bytes_in += take;
			}
			if (c->body_left)
				return true;
			if (c->state == UP_SINK) {
				char body[32];
				int n = snprintf(body, sizeof(body), "%llu\n",
						 (unsigned long long)c->body_total);

				up_reply(c, "200 OK", body, (size_t)n, (uint64_t)n);
			}
			c->state = UP_STREAM;
			c->stream_left = 0;
			break;
		}
		case UP_STREAM:
			if (c->out_start < c->out_end || c->stream_left)
				return false;
			if (c->close_after)
				return false;
			c->state = UP_HEAD;
			break;
		}
	}
}

static bool up_done(const struct up_conn *c)
{
	return c->state == UP_STREAM && c->close_after && !c->stream_left &&
	       c->out_start == c->out_end;
}

/* Run one connection as far as it can go. Returns 0 to wait for the next
 * epoll edge, -1 to close it. */
static int up_run(struct up_thread *t, struct up_conn *c)
{
	bool drained = false;

	for (;;) {
		/* Progress on what is buffered until input is needed. */
		for (;;) {
			bool need_input = up_process(t, c);
			int ret = up_flush(t, c);

			if (ret < 0)
				return -1;
			if (ret == 0)
				return 0;             /* socket full: EPOLLOUT resumes us */
			if (up_done(c))
				return -1;
			if (need_input)
				break;
		}
		/* A short read drained the socket: edge-triggered epoll reports any
		 * later data as a new edge, so skip the EAGAIN round trip. */
		if (drained)
			return 0;
		if (c->in_start == c->in_end) {
			c->in_start = c->in_end = 0;
			if (c->state == UP_SINK) {
				/* Large sink bodies skip in[]: never read past the body. */
				size_t want = c->body_left < UP_CHUNK ? c->body_left : UP_CHUNK;
				ssize_t r = recv(c->fd, t->scratch, want, MSG_DONTWAIT);

				if (r < 0) {
					if (errno == EINTR)
						continue;
					return errno == EAGAIN ? 0 : -1;
				}
				if (r == 0)
					return -1;
				c->body_left -= (uint64_t)r;
				t->c.bytes_in += (uint64_t)r;
				drained = (size_t)r < want;
				continue;
			}
		} else if (c->in_end == UP_IN_CAP) {
			memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
			c->in_end -= c->in_start;
			c->in_start = 0;
			if (c->in_end == UP_IN_CAP)
				return -1;            /* head larger than the buffer */
		}
		size_t room = UP_IN_CAP - c->in_end;
		ssize_t r = recv(c->fd, c->in + c->in_end, room, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (r == 0)
			return -1;
		c->in_end += (uint32_t)r;
		drained = (size_t)r < room;
	}
}

static void up_accept(struct up_thread *t)
{
	for (;;) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct up_conn *c;
		struct epoll_event ev;

		if (fd < 0)
			return;
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = UP_HEAD;
		c->in_start = c->in_end = c->out_start = c->out_end = 0;
		c->echo_start = c->echo_end = 0;
		c->stream_left = c->body_left = 0;
		c->close_after = false;
		t->c.conns++;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		if (up_run(t, c) < 0)
			up_conn_free(t, c);
	}
}

static void *up_thread_main(void *arg)
{
	struct up_thread *t = arg;
	struct epoll_event evs[UP_EVENTS];

	while (!up_stop) {
		int n = epoll_wait(t->epfd, evs, UP_EVENTS, 200);

		for (int i = 0; i < n; i++) {
			struct up_conn *c = evs[i].data.ptr;

			if (!c) {
				up_accept(t);
				continue;
			}
			if (up_run(t, c) < 0)
				up_conn_free(t, c);
		}
	}
	return NULL;
}

static int up_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, UP_BACKLOG) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void up_usage(FILE *f)
{
	fprintf(f,
		"usage: dockmux-upstream --listen PATH [--threads N] [--token VALUE]\n"
		"  GET /_ping -> 200 OK; GET /stream?bytes=N -> N bytes;\n"
		"  POST /sink -> body byte count; POST /echo -> the body back.\n"
		"  Every answer has X-Auth-Seen: <Authorization headers equal to VALUE\n"
		"  (any value without --token)>. SIGTERM/SIGINT: print counters as JSON.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "token", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL;
	unsigned nthreads = 1;
	struct up_thread *threads;
	struct up_counters total = { 0 };
	struct sigaction sa = { .sa_handler = up_on_signal };
	int opt, lfd;

	while ((opt = getopt_long(argc, argv, "l:t:k:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			path = optarg;
			break;
		case 't':
			nthreads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			up_token = optarg;
			up_token_len = strlen(optarg);
			break;
		case 'h':
			up_usage(stdout);
			return 0;
		default:
			up_usage(stderr);
			return 2;
		}
	}
	if (!path || nthreads == 0 || nthreads > 64) {
		up_usage(stderr);
		return 2;
	}
	up_pattern = malloc(UP_CHUNK);
	if (!up_pattern)
		return 1;
	memset(up_pattern, 'x', UP_CHUNK);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lfd = up_listen(path);
	if (lfd < 0) {
		fprintf(stderr, "dockmux-upstream: listen %s: %s\n", path, strerror(-lfd));
		return 1;
	}
	threads = calloc(nthreads, sizeof(*threads));
	if (!threads)
		return 1;
	for (unsigned i = 0; i < nthreads; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL };

		threads[i].lfd = lfd;
		threads[i].scratch = malloc(UP_CHUNK);
		if (!threads[i].scratch)
			return 1;
		threads[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (threads[i].epfd < 0 || epoll_ctl(threads[i].epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
			perror("dockmux-upstream: epoll");
			return 1;
		}
		if (pthread_create(&threads[i].thread, NULL, up_thread_main, &threads[i]) != 0) {
			fprintf(stderr, "dockmux-upstream: cannot start threads\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		total.requests += threads[i].c.requests;
		total.auth_ok += threads[i].c.auth_ok;
		total.auth_missing += threads[i].c.auth_missing;
		total.bytes_in += threads[i].c.bytes_in;
		total.bytes_out += threads[i].c.bytes_out;
		total.conns += threads[i].c.conns;
	}
	unlink(path);
	printf("{\"requests\": %llu, \"auth_ok\": %llu, \"auth_missing\": %llu, "
	       "\"conns\": %llu, \"bytes_in\": %llu, \"bytes_out\": %llu}\n",
	       (unsigned long long)total.requests, (unsigned long long)total.auth_ok,
	       (unsigned long long)total.auth_missing, (unsigned long long)total.conns,
	       (unsigned long long)total.bytes_in, (unsigned long long)total.bytes_out);
	return 0;
}
