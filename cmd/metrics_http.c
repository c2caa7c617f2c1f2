/* cmd/metrics_http.c: the /metrics endpoint: a loopback-only or Unix
 * listener and a one-connection-per-call HTTP/1.1 server for the text of
 * metrics.c (see metrics_http.h). Not a general HTTP server: no keep-alive,
 * no bodies, no chunking.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- listening ---- */

static int metrics_fail(const char **why, const char *msg, int err)
{
	if (why)
		*why = msg;
	return err;
}

/* bind() said EADDRINUSE: replace the file only if it is a socket nobody
 * accepts on (left by a crashed daemon). Never unlink anything else. */
static int metrics_unix_stale(const char *path, const struct sockaddr_un *sa, const char **why)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return metrics_fail(why, "cannot stat the metrics socket path", -errno);
	if (!S_ISSOCK(st.st_mode))
		return metrics_fail(why, "the metrics socket path exists and is not a socket", -EEXIST);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	/* A full backlog (EAGAIN) still means somebody listens. */
	if (ret == 0 || ret == -EAGAIN)
		return metrics_fail(why, "another process is listening on the metrics socket",
				    -EADDRINUSE);
	if (ret != -ECONNREFUSED)
		return metrics_fail(why, "cannot probe the existing metrics socket", ret);
	if (unlink(path) < 0 && errno != ENOENT)
		return metrics_fail(why, "cannot remove the stale metrics socket", -errno);
	return 0;
}

static int metrics_listen_unix(const char *path, int *fd_out, const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, ret;

	if (n >= sizeof(sa.sun_path))
		return metrics_fail(why, "metrics socket path too long", -ENAMETOOLONG);
	memcpy(sa.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (ret != -EADDRINUSE) {
			metrics_fail(why, "cannot bind the metrics socket", ret);
			goto err;
		}
		ret = metrics_unix_stale(path, &sa, why);
		if (ret < 0)
			goto err;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = metrics_fail(why, "cannot bind the metrics socket", -errno);
			goto err;
		}
	}
	/* Before listen(), so nobody can connect while the umask's mode holds. */
	if (chmod(path, 0660) < 0) {
		ret = metrics_fail(why, "cannot chmod the metrics socket", -errno);
		goto err_unlink;
	}
	if (listen(fd, 16) < 0) {
		ret = metrics_fail(why, "cannot listen on the metrics socket", -errno);
		goto err_unlink;
	}
	*fd_out = fd;
	return 0;
err_unlink:
	unlink(path);
err:
	close(fd);
	return ret;
}

static int metrics_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int metrics_listen_inet(const char *addr, int *fd_out, const char **why)
{
	static const char refuse[] =
		"refusing a non-loopback metrics address: /metrics is unauthenticated; "
		"use 127.0.0.1:PORT, [::1]:PORT or a Unix socket path";
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
	const char *host, *port_s;
	char hostbuf[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	uint16_t port;
	socklen_t salen;
	int fd, ret, one = 1;
	bool v6 = addr[0] == '[';

	memset(&u, 0, sizeof(u));
	if (v6) {
		const char *close_br = strchr(addr, ']');

		if (!close_br || close_br[1] != ':')
			return metrics_fail(why, "expected [IPV6]:PORT", -EINVAL);
		host = addr + 1;
		hlen = (size_t)(close_br - host);
		port_s = close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (!colon)
			return metrics_fail(why, "expected /path, HOST:PORT or [IPV6]:PORT", -EINVAL);
		host = addr;
		hlen = (size_t)(colon - addr);
		port_s = colon + 1;
		if (memchr(host, ':', hlen))
			return metrics_fail(why, "an IPv6 metrics address needs brackets: [::1]:PORT",
					    -EINVAL);
	}
	if (hlen == 0)
		return metrics_fail(why, refuse, -EPERM); /* ":9100" means every address */
	if (hlen >= sizeof(hostbuf))
		return metrics_fail(why, "metrics host is not a numeric address", -EINVAL);
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	if (metrics_parse_port(port_s, &port) < 0)
		return metrics_fail(why, "metrics port must be a number 0..65535", -EINVAL);

	if (v6) {
		if (inet_pton(AF_INET6, hostbuf, &u.in6.sin6_addr) != 1)
			return metrics_fail(why, "metrics host is not a numeric IPv6 address", -EINVAL);
		/* Only ::1: a v4-mapped 127.x would need a dual-stack socket. */
		if (!IN6_IS_ADDR_LOOPBACK(&u.in6.sin6_addr))
			return metrics_fail(why, refuse, -EPERM);
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons(port);
		salen = sizeof(u.in6);
	} else {
		if (strcmp(hostbuf, "localhost") == 0)
			strcpy(hostbuf, "127.0.0.1");
		if (inet_pton(AF_INET, hostbuf, &u.in4.sin_addr) != 1)
			return metrics_fail(why,
					    "metrics host must be a numeric loopback address or localhost",
					    -EINVAL);
		if ((ntohl(u.in4.sin_addr.s_addr) >> 24) != 127)
			return metrics_fail(why, refuse, -EPERM);
		u.in4.sin_family = AF_INET;
		u.in4.sin_port = htons(port);
		salen = sizeof(u.in4);
	}

	fd = socket(u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	/* A restarted daemon must rebind while old connections sit in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		ret = metrics_fail(why, "cannot set socket options", -errno);
		goto err;
	}
	if (bind(fd, &u.sa, salen) < 0) {
		ret = metrics_fail(why, "cannot bind the metrics address", -errno);
		goto err;
	}
	if (listen(fd, 16) < 0) {
		ret = metrics_fail(why, "cannot listen on the metrics address", -errno);
		goto err;
	}
	*fd_out = fd;
	return 0;
err:
	close(fd);
	return ret;
}

int metrics_listen(const char *addr, int *fd_out, const char **why)
{
	if (!addr || !addr[0])
		return metrics_fail(why, "empty metrics address", -EINVAL);
	if (addr[0] == '/')
		return metrics_listen_unix(addr, fd_out, why);
	return metrics_listen_inet(addr, fd_out, why);
}

void metrics_unlink(const char *addr)
{
	struct stat st;

	if (!addr || addr[0] != '/')
		return;
	if (lstat(addr, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(addr);
}

/* ---- serving one connection ---- */

#define METRICS_HEAD_MAX 8192
#define METRICS_READ_MS 2000
#define METRICS_WRITE_MS 5000

static int64_t metrics_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 ready, 0 deadline passed, negative errno. The fd is non-blocking, so a
 * slow client costs at most the deadline, however it trickles bytes. */
static int metrics_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int ret;

	for (;;) {
		left = deadline - metrics_now_ms();
		if (left <= 0)
			return 0;
		ret = poll(&p, 1, (int)left);
		if (ret > 0)
			return 1;
		if (ret == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
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

/* Best effort: a client that stops reading or goes away just loses it. */
static void metrics_send(int fd, int status, bool head, const char *body, size_t blen)
{
	char hdr[256];
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int64_t deadline = metrics_now_ms() + METRICS_WRITE_MS;
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n\r\n",
		     status, metrics_reason(status),
		     status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
				   : "text/plain; charset=utf-8",
		     blen, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	iov[0] = (struct iovec){ hdr, (size_t)n };
	iov[1] = (struct iovec){ (void *)body, head ? 0 : blen };
	while (iov[0].iov_len + iov[1].iov_len) {
		ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || metrics_wait(fd, POLLOUT, deadline) <= 0)
				return;
			continue;
		}
		for (int i = 0; i < 2 && w > 0; i++) {
			size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			w -= (ssize_t)k;
		}
	}
}

static void metrics_error(int fd, int status, bool head)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, metrics_reason(status));

	metrics_send(fd, status, head, body, (size_t)n);
}

static int metrics_serve(int fd, int (*fill)(void *ud, struct metrics_snapshot *s),
			 void (*release)(void *ud, struct metrics_snapshot *s), void *ud)
{
	char buf[METRICS_HEAD_MAX];
	int64_t deadline = metrics_now_ms() + METRICS_READ_MS;
	struct metrics_req req;
	struct metrics_snapshot snap;
	size_t len = 0, hend = 0;
	char *body = NULL;
	size_t blen = 0;
	int ret;

	while (!hend) {
		ssize_t r;

		if (len == sizeof(buf)) {
			metrics_error(fd, 431, false);
			return 1;
		}
		r = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return 1; /* reset by the client */
			ret = metrics_wait(fd, POLLIN, deadline);
			if (ret == 0)
				metrics_error(fd, 408, false);
			if (ret <= 0)
				return 1;
			continue;
		}
		if (r == 0) {
			/* A half-closed client may still read an answer to its fragment. */
			if (len)
				metrics_error(fd, 400, false);
			return 1;
		}
		/* Rescan a little before the new bytes: the terminator may straddle. */
		size_t from = len >= 3 ? len - 3 : 0;

		len += (size_t)r;
		hend = metrics_head_end(buf + from, len - from);
		if (hend)
			hend += from;
	}

	metrics_parse(buf, hend, &req);
	if (req.status != 200) {
		metrics_error(fd, req.status, req.head);
		return 1;
	}
	memset(&snap, 0, sizeof(snap));
	ret = fill(ud, &snap);
	if (ret >= 0)
		ret = metrics_render(&snap, &body, &blen);
	if (release)
		release(ud, &snap);
	if (ret < 0) {
		metrics_error(fd, 503, req.head);
		return ret;
	}
	metrics_send(fd, 200, req.head, body, blen);
	free(body);
	return 1;
}

int metrics_handle(int listen_fd, int (*fill)(void *ud, struct metrics_snapshot *s),
		   void (*release)(void *ud, struct metrics_snapshot *s), void *ud)
{
	char drain[4096];
	int fd, ret, i;

	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
			return 0;
		/* accept(2): errors of the pending connection, not of the listener. */
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			return 1;
		default:
			return -errno;
		}
	}
	ret = metrics_serve(fd, fill, release, ud);
	/* Closing with unread bytes makes TCP send a RST, which can destroy the
	 * answer before the client reads it: half-close, then drop what is
	 * already queued (never wait for more). */
	shutdown(fd, SHUT_WR);
	for (i = 0; i < 16 && recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
	return ret;
}
