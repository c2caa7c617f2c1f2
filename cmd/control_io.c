/* cmd/control_io.c: the client side of the control socket (see control_io.h).
 * Every socket is non-blocking and every wait is a poll() up to a deadline.
 */
#include "control_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline_ms (0: forever): 0 ready, -ETIMEDOUT. */
static int ctl_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline_ms ? deadline_ms - ctl_now_ms() : -1;
		int ret;

		if (deadline_ms && left <= 0)
			return -ETIMEDOUT;
		ret = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

int ctl_send_all(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
	const uint8_t *p = buf;
	int ret;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = ctl_wait(fd, POLLOUT, deadline_ms);
			if (ret < 0)
				return ret;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_send_reply(int fd, int status, const void *payload, size_t len, int64_t deadline_ms)
{
	uint8_t head[CTL_REPLY_HEAD];
	int ret = ctl_reply_head_encode(status, len, head);

	if (ret < 0)
		return ret;
	ret = ctl_send_all(fd, head, sizeof(head), deadline_ms);
	if (ret < 0 || len == 0)
		return ret;
	return ctl_send_all(fd, payload, len, deadline_ms);
}

/* Read exactly len bytes: 0, -EBADMSG on EOF first, -ETIMEDOUT, or -errno. */
static int ctl_recv_all(int fd, void *buf, size_t len, int64_t deadline_ms)
{
	uint8_t *p = buf;
	int ret;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = ctl_wait(fd, POLLIN, deadline_ms);
			if (ret < 0)
				return ret;
			continue;
		}
		if (n == 0)
			return -EBADMSG;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_recv_reply(int fd, int *status, void **payload, size_t *len, int64_t deadline_ms)
{
	uint8_t head[CTL_REPLY_HEAD];
	size_t plen;
	void *buf = NULL;
	int st, ret;

	ret = ctl_recv_all(fd, head, sizeof(head), deadline_ms);
	if (ret < 0)
		return ret;
	ret = ctl_reply_head_decode(head, &st, &plen);
	if (ret < 0)
		return ret;
	if (plen) {
		buf = malloc(plen);
		if (!buf)
			return -ENOMEM;
		ret = ctl_recv_all(fd, buf, plen, deadline_ms);
		if (ret < 0) {
			free(buf);
			return ret;
		}
	}
	*status = st;
	*payload = buf;
	*len = plen;
	return 0;
}

int ctl_connect(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, ret;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		ret = -errno;
		if (ret == -EINTR)
			continue;
		/* A Unix socket's connect is done or refused at once, except
		 * that a full backlog says EAGAIN and wakes no poll: retry. */
		if (ret != -EAGAIN)
			break;
		if (deadline_ms && ctl_now_ms() >= deadline_ms) {
			ret = -ETIMEDOUT;
			break;
		}
		poll(NULL, 0, 10);
	}
	close(fd);
	return ret;
}

int ctl_exchange(int fd, const void *frame, size_t flen, int *status, void **payload,
		 size_t *len, int64_t deadline_ms)
{
	int ret = ctl_send_all(fd, frame, flen, deadline_ms);

	/* The daemon may refuse (SO_PEERCRED, out of fds) and close before
	 * reading all of the request: its answer is still queued for us, and
	 * says more than EPIPE does. */
	if (ret == 0 || ret == -EPIPE || ret == -ECONNRESET) {
		int err = ctl_recv_reply(fd, status, payload, len, deadline_ms);

		if (ret == 0 || err == 0)
			ret = err;
	}
	return ret;
}

int ctl_call(const char *path, const struct ctl_request *req, int *status,
	     void **payload, size_t *len, int timeout_ms)
{
	uint8_t buf[CTL_REQ_MAX];
	int64_t deadline = timeout_ms > 0 ? ctl_now_ms() + timeout_ms : 0;
	int fd, n, ret;

	n = ctl_request_encode(req, buf, sizeof(buf));
	if (n < 0)
		return n;
	fd = ctl_connect(path, deadline);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	ret = ctl_exchange(fd, buf, (size_t)n, status, payload, len, deadline);
	close(fd);
out:
	/* The frame may hold a token. */
	explicit_bzero(buf, (size_t)n);
	return ret;
}
