/* tests/client.c: the shared helpers of the integration tests (see client.h):
 * fixture, timed AF_UNIX client, response reader, process probes. Plain
 * blocking sockets only; nothing here knows dockmux's internals, so a test
 * sees exactly what a container would.
 */
#include "client.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct fixture fx;

/* ---- fixture ---- */

void fx_setup(const char *name)
{
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.up_path, sizeof(fx.up_path), "%s/docker.sock", fx.dir);
	snprintf(fx.sock_dir, sizeof(fx.sock_dir), "%s/s", fx.dir);
	cr_assert_eq(upstream_new(fx.up_path, 0, &fx.up), 0);
	fx.d = NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fx_teardown(void)
{
	dmx_close(fx.d);
	fx.d = NULL;
	upstream_free(fx.up);
	fx.up = NULL;
	nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fx_config(struct dmx_config *cfg)
{
	dmx_config_init(cfg);
	cfg->upstream = fx.up_path;
	cfg->socket_dir = fx.sock_dir;
	cfg->rings = 2;
}

void fx_open_cfg(const struct dmx_config *cfg)
{
	int ret = dmx_open(cfg, &fx.d);

	cr_assert_eq(ret, 0, "dmx_open: %d (%s)", ret, dmx_strerror(ret));
	cr_assert_not_null(fx.d);
}

void fx_open(void)
{
	struct dmx_config cfg;

	fx_config(&cfg);
	fx_open_cfg(&cfg);
}

/* Spawn key and return its path in a static-lifetime buffer of the caller. */
void spawn(const char *key, const char *token, char path[DMX_PATH_MAX])
{
	int ret = dmx_spawn(fx.d, key, token, path, DMX_PATH_MAX);

	cr_assert_eq(ret, 0, "dmx_spawn(%s): %d (%s)", key, ret, dmx_strerror(ret));
}

void restart_upstream(unsigned flags)
{
	upstream_free(fx.up);
	cr_assert_eq(upstream_new(fx.up_path, flags, &fx.up), 0);
}


struct dmx_stats stats_of(const char *key)
{
	struct dmx_stats s;
	int ret = dmx_stats(fx.d, key, &s);

	cr_assert_eq(ret, 0, "dmx_stats(%s): %d", key ? key : "NULL", ret);
	return s;
}

/* ---- a plain client with timeouts ---- */

int client_open(struct client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_MS / 1000 };
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	c->fd = fd;
	return 0;
}

void client_connect(struct client *c, const char *path)
{
	int ret = client_open(c, path);

	cr_assert_eq(ret, 0, "connect %s: %s", path, strerror(-ret));
}

void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int client_send(struct client *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int client_sends(struct client *c, const char *s)
{
	return client_send(c, s, strlen(s));
}

/* Read more into the buffer: >0 bytes, 0 EOF, -errno (-EAGAIN: timed out). */
int client_fill(struct client *c)
{
	ssize_t n;

	if (c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap && c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *buf = realloc(c->buf, cap);

		if (!buf)
			return -ENOMEM;
		c->buf = buf;
		c->cap = cap;
	}
	do {
		n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	c->end += (size_t)n;
	return (int)(n > 0 ? n : 0);
}

/* Exactly n bytes into out (buffered bytes first). 0 or -errno (-EPIPE: EOF). */
int client_read_exact(struct client *c, void *out, size_t n)
{
	char *p = out;

	while (n > 0) {
		size_t avail = c->end - c->start;
		int ret;

		if (avail == 0) {
			ret = client_fill(c);
			if (ret < 0)
				return ret;
			if (ret == 0)
				return -EPIPE;
			continue;
		}
		if (avail > n)
			avail = n;
		memcpy(p, c->buf + c->start, avail);
		c->start += avail;
		p += avail;
		n -= avail;
	}
	return 0;
}

/* Everything up to EOF into a malloc'd buffer; -errno on error or timeout. */
int client_read_to_eof(struct client *c, char **out, size_t *len)
{
	int ret;

	do
		ret = client_fill(c);
	while (ret > 0);
	if (ret < 0)
		return ret;
	*len = c->end - c->start;
	*out = malloc(*len + 1);
	memcpy(*out, c->buf + c->start, *len);
	(*out)[*len] = '\0';
	c->start = c->end;
	return 0;
}

/* Wait for the peer to end the connection: 0 on EOF or reset, -ETIMEDOUT,
 * or 1 when data arrived instead. */
int client_wait_closed(struct client *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char ch;
	ssize_t n;

	if (c->end > c->start)
		return 1;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	n = recv(c->fd, &ch, 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
		return 0;
	return n > 0 ? 1 : -ETIMEDOUT;
}

void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Value of header name in r->head, copied into buf; NULL if absent. */
const char *resp_header(const struct resp *r, const char *name, char *buf, size_t cap)
{
	const char *line = strstr(r->head, "\r\n");
	size_t nlen = strlen(name);

	while (line && line[2] != '\r') {
		const char *p = line + 2, *eol = strstr(p, "\r\n");

		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t len;

			while (*v == ' ' || *v == '\t')
				v++;
			len = (size_t)(eol - v);
			while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			if (len + 1 > cap)
				len = cap - 1;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return buf;
		}
		line = eol;
	}
	return NULL;
}

static int body_append(struct resp *r, const char *p, size_t n)
{
	char *b = realloc(r->body, r->body_len + n + 1);

	if (!b)
		return -ENOMEM;
	r->body = b;
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/* Read one chunk-size/trailer line (without CRLF) into line. */
static int client_line(struct client *c, char *line, size_t cap)
{
	for (;;) {
		char *s = c->buf + c->start;
		char *nl = c->end > c->start ? memmem(s, c->end - c->start, "\r\n", 2) : NULL;
		int ret;

		if (nl) {
			size_t len = (size_t)(nl - s);

			if (len + 1 > cap)
				return -E2BIG;
			memcpy(line, s, len);
			line[len] = '\0';
			c->start += len + 2;
			return 0;
		}
		ret = client_fill(c);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EPIPE;
	}
}

/* Read one response: head, then a body framed by Content-Length, chunked or
 * EOF. A 101 has no body: the bytes after its head stay in the buffer. */
int client_response(struct client *c, struct resp *r)
{
	char val[64], ctype[96];
	const char *cl, *te;
	size_t head_len;
	char *end;
	int ret;

	memset(r, 0, sizeof(*r));
	for (;;) {
		end = c->end > c->start ? memmem(c->buf + c->start, c->end - c->start, "\r\n\r\n", 4)
					: NULL;
		if (end)
			break;
		ret = client_fill(c);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EPIPE;
	}
	head_len = (size_t)(end + 4 - (c->buf + c->start));
	r->head = malloc(head_len + 1);
	memcpy(r->head, c->buf + c->start, head_len);
	r->head[head_len] = '\0';
	c->start += head_len;
	r->wire_len = head_len;
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	r->body = calloc(1, 1);
	if (r->status == 101 || r->status == 204 || r->status == 304 || r->status / 100 == 1)
		return 0;
	te = resp_header(r, "Transfer-Encoding", val, sizeof(val));
	cl = resp_header(r, "Content-Length", val, sizeof(val));
	/* dockerd's hijack without an upgrade: a 200 with a stream type and no
	 * length; what follows is the raw stream (left in the buffer). */
	if (r->status == 200 && !te && !cl &&
	    resp_header(r, "Content-Type", ctype, sizeof(ctype)) &&
	    strstr(ctype, "application/vnd.docker."))
		return 0;
	if (te && strcasestr(te, "chunked")) {
		char line[256];

		for (;;) {
			unsigned long long size;
			char *chunk;

			ret = client_line(c, line, sizeof(line));
			if (ret < 0)
				return ret;
			r->wire_len += strlen(line) + 2;
			size = strtoull(line, NULL, 16);
			if (size == 0)
				break;
			chunk = malloc(size);
			ret = client_read_exact(c, chunk, size);
			if (ret == 0)
				ret = body_append(r, chunk, size);
			free(chunk);
			if (ret < 0)
				return ret;
			r->wire_len += size;
			ret = client_line(c, line, sizeof(line));
			if (ret < 0)
				return ret;
			r->wire_len += 2;
		}
		do {
			ret = client_line(c, line, sizeof(line));
			if (ret < 0)
				return ret;
			r->wire_len += strlen(line) + 2;
		} while (line[0]);
	} else if (cl) {
		size_t n = strtoull(cl, NULL, 10);

		free(r->body);
		r->body = malloc(n + 1);
		if (!r->body)
			return -ENOMEM;
		ret = client_read_exact(c, r->body, n);
		if (ret < 0)
			return ret;
		r->body[n] = '\0';
		r->body_len = n;
		r->wire_len += n;
	} else {
		char *all;
		size_t n;

		ret = client_read_to_eof(c, &all, &n);
		if (ret < 0)
			return ret;
		free(r->body);
		r->body = all;
		r->body_len = n;
		r->wire_len += n;
	}
	return 0;
}

void expect_response(struct client *c, struct resp *r, int status)
{
	int ret = client_response(c, r);

	cr_assert_eq(ret, 0, "reading response: %s", strerror(-ret));
	cr_assert_eq(r->status, status, "status %d, want %d; head:\n%s", r->status, status, r->head);
}

/* One request on a fresh connection; expects 200 "OK" to /_ping. */
void ping(const char *path)
{
	struct client c;
	struct resp r;

	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, REQ_PING), 0);
	expect_response(&c, &r, 200);
	cr_assert_str_eq(r.body, "OK");
	resp_free(&r);
	client_close(&c);
}

/* The value of header name in the upstream's latest request. */
void last_header(const char *name, char *buf, size_t cap)
{
	int ret = upstream_header_value(fx.up, -1, name, buf, cap);

	cr_assert_eq(ret, 0, "upstream saw no %s header (%d)", name, ret);
}

/* POST /echo with a Content-Length body; returns the response's wire size. */
size_t post_echo_cl(struct client *c, const char *body, size_t len)
{
	size_t wire;
	char head[256];
	struct resp r;
	int n = snprintf(head, sizeof(head),
			 "POST /echo HTTP/1.1\r\nHost: docker\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Length: %zu\r\n\r\n", len);

	cr_assert_eq(client_send(c, head, (size_t)n), 0);
	cr_assert_eq(client_send(c, body, len), 0);
	expect_response(c, &r, 200);
	cr_assert_eq(r.body_len, len, "echo of %zu bytes returned %zu", len, r.body_len);
	cr_assert(memcmp(r.body, body, len) == 0, "echo of %zu bytes differs", len);
	wire = r.wire_len;
	resp_free(&r);
	return wire;
}

char *pattern_buf(size_t len, unsigned seed)
{
	char *p = malloc(len);

	for (size_t i = 0; i < len; i++)
		p[i] = (char)((i * 31 + seed + (i >> 12)) & 0xff);
	return p;
}

/* ---- upgrade / hijack ---- */

/* Send src and receive the same number of bytes at the same time. */
int tunnel_echo(struct client *c, const char *src, size_t len, char *dst)
{
	size_t sent = 0, got = 0;
	long deadline = now_ms() + 20000;
	int flags = fcntl(c->fd, F_GETFL);

	/* buffered bytes first */
	while (c->end > c->start && got < len) {
		dst[got++] = c->buf[c->start++];
	}
	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	while (got < len) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
		ssize_t n;

		if (now_ms() > deadline)
			break;
		if (poll(&pfd, 1, 1000) < 0)
			break;
		if (sent < len && (pfd.revents & POLLOUT)) {
			n = send(c->fd, src + sent, len - sent > 65536 ? 65536 : len - sent,
				 MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(c->fd, dst + got, len - got, 0);
			if (n > 0)
				got += (size_t)n;
			else if (n == 0 || errno != EAGAIN)
				break;
		}
	}
	fcntl(c->fd, F_SETFL, flags);
	return got == len ? 0 : -EIO;
}

void open_tunnel(struct client *c, const char *path)
{
	struct resp r;
	char val[128];

	client_connect(c, path);
	cr_assert_eq(client_sends(c, "POST /containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n"
				  "Host: docker\r\nAuthorization: Bearer evil\r\n"
				  "Content-Type: text/plain\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
		     0);
	expect_response(c, &r, 101);
	cr_assert_not_null(resp_header(&r, "Upgrade", val, sizeof(val)));
	cr_assert_str_eq(val, "tcp");
	cr_assert_not_null(resp_header(&r, "Content-Type", val, sizeof(val)));
	cr_assert_str_eq(val, "application/vnd.docker.raw-stream");
	resp_free(&r);
}

/* ---- the process ---- */

int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dir);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n - 1;   /* the DIR's own fd */
}

int count_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dir);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Poll count_fds() until it equals want (closes may complete asynchronously). */
int fds_settle(int want, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int n;

	while ((n = count_fds()) != want && now_ms() < deadline)
		sleep_ms(10);
	return n;
}

int threads_settle(int want, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int n;

	while ((n = count_threads()) != want && now_ms() < deadline)
		sleep_ms(10);
	return n;
}

long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int count_dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -errno;
	/* ".dmx" is the library's staging directory (ring/container.c). */
	while ((de = readdir(dir)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		     strcmp(de->d_name, ".dmx") != 0;
	closedir(dir);
	return n;
}

