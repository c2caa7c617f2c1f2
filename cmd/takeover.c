/* cmd/takeover.c: both sides of the listener handoff (see takeover.h). */
#include "takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_io.h"
#include "log.h"

/* Send u32 len | data with fd attached. */
static int send_with_fd(int conn, const void *data, uint32_t len, int fd)
{
	uint8_t head[4] = { len >> 24, len >> 16, len >> 8, len };
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = 4 },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = iov, .msg_iovlen = len ? 2 : 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	size_t total = 4 + (size_t)len;
	ssize_t n;

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(conn, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The fd went with the first bytes; the rest is plain data. */
	if ((size_t)n < total) {
		uint8_t *rest = malloc(total - (size_t)n);
		int ret;

		if (!rest)
			return -ENOMEM;
		for (size_t i = (size_t)n; i < total; i++)
			rest[i - (size_t)n] = i < 4 ? head[i] : ((const uint8_t *)data)[i - 4];
		ret = ctl_send_all(conn, rest, total - (size_t)n, 0);
		explicit_bzero(rest, total - (size_t)n);
		free(rest);
		return ret;
	}
	return 0;
}

static int recv_exact(int conn, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(conn, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receive u32 len and the fd attached to it. */
static int recv_len_fd(int conn, uint32_t *len, int *fd)
{
	uint8_t head[4];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = head, .iov_len = 4 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	ssize_t n;
	int ret;

	*fd = -1;
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < nfd; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = f;
			else
				close(f);   /* one per message, by protocol */
		}
	}
	if (n < 4) {
		ret = recv_exact(conn, head + n, 4 - (size_t)n);
		if (ret < 0) {
			if (*fd >= 0)
				close(*fd);
			return ret;
		}
	}
	*len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
	if (*fd < 0)
		return -EBADMSG;
	return 0;
}

/* 0 with *refused = 0 or the peer's -errno; or an I/O error. */
static int recv_ack(int conn, int *refused)
{
	uint8_t ack;
	int ret = recv_exact(conn, &ack, 1);

	*refused = -(int)ack;
	return ret;
}

static int send_ack(int conn, int err)
{
	uint8_t ack = (uint8_t)(err < 0 && -err < 256 ? -err : err < 0 ? EIO : 0);

	return ctl_send_all(conn, &ack, 1, 0);
}

struct send_ctx {
	int conn;
	dmx *d;
	const struct state *s;
	struct takeover_counts *counts;
	int failed;
};

static void log_kept(const char *key, int err)
{
	struct log_line l;

	log_begin(&l, "error", "handoff failed: container stays with this process");
	log_str(&l, "key", key);
	log_err(&l, err);
	log_end(&l);
}

static int send_one(void *ud, struct ctl_request *req)
{
	struct send_ctx *x = ud;
	struct dmx_policy pol;
	char path[DMX_PATH_MAX];
	const void *frame;
	size_t len;
	int fd, ret, refused = 0;

	if (x->failed) {
		x->counts->kept++;
		return 0;
	}
	frame = state_frame(x->s, req->key, &len);
	ret = frame ? dmx_handoff(x->d, req->key, &fd) : -ENOENT;
	if (ret < 0) {
		/* In the state but not served (its spawn failed at start-up):
		 * the new daemon has no socket to adopt for it either. */
		if (ret != -ENOENT) {
			log_kept(req->key, ret);
			x->counts->kept++;
		}
		return 0;
	}
	ret = send_with_fd(x->conn, frame, (uint32_t)len, fd);
	if (ret == 0)
		ret = recv_ack(x->conn, &refused);
	if (ret < 0 || refused < 0) {
		/* Ours again: the listener never stopped existing. */
		ctl_request_policy(req, &pol);
		if (dmx_adopt(x->d, req->key, req->token, &pol, fd, path, sizeof(path)) < 0)
			close(fd);
		log_kept(req->key, ret < 0 ? ret : refused);
		x->counts->kept++;
		/* A broken connection ends the handoff; a refusal does not. */
		if (ret < 0)
			x->failed = ret;
		return 0;
	}
	close(fd);
	x->counts->moved++;
	return 0;
}

int takeover_send(int conn, dmx *d, const struct state *s, int control_fd,
		  struct takeover_counts *counts)
{
	struct send_ctx x = { .conn = conn, .d = d, .s = s, .counts = counts };
	int ret;

	memset(counts, 0, sizeof(*counts));
	ret = state_each(s, send_one, &x);
	if (ret < 0)
		return ret;
	if (x.failed)
		return x.failed;
	ret = send_with_fd(conn, NULL, 0, control_fd);
	if (ret == 0) {
		int refused;

		ret = recv_ack(conn, &refused);
		if (ret == 0)
			ret = refused;
	}
	return ret;
}

int takeover_receive(const char *control_path, dmx *d, struct state *s, int *control_fd,
		     struct takeover_counts *counts)
{
	struct ctl_request *req = calloc(1, sizeof(*req));
	struct dmx_policy pol;
	char path[DMX_PATH_MAX];
	uint8_t *frame = NULL;
	uint32_t len = 0;
	int conn, fd, ret, adopted;

	memset(counts, 0, sizeof(*counts));
	*control_fd = -1;
	if (!req)
		return -ENOMEM;
	conn = ctl_connect(control_path, ctl_now_ms() + CTL_TIMEOUT_MS_DEFAULT);
	if (conn < 0) {
		free(req);
		return conn;
	}
	/* The handoff is one blocking conversation; the old side bounds it. */
	fcntl(conn, F_SETFL, fcntl(conn, F_GETFL) & ~O_NONBLOCK);
	{
		/* Tokens and listeners are only taken from a daemon of root or of
		 * our own uid, as the old side only hands them to such a peer. */
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			close(conn);
			free(req);
			return -EACCES;
		}
	}
	req->op = CTL_OP_HANDOFF;
	{
		uint8_t buf[CTL_REQ_HEAD + 4];
		int n = ctl_request_encode(req, buf, sizeof(buf));

		ret = n < 0 ? n : ctl_send_all(conn, buf, (size_t)n, 0);
	}
	while (ret == 0) {
		ret = recv_len_fd(conn, &len, &fd);
		if (ret < 0)
			break;
		if (len == 0) {
			*control_fd = fd;
			ret = send_ack(conn, 0);
			break;
		}
		if (len > CTL_REQ_MAX) {
			close(fd);
			ret = -EMSGSIZE;
			break;
		}
		frame = malloc(len);
		if (!frame) {
			close(fd);
			ret = -ENOMEM;
			break;
		}
		ret = recv_exact(conn, frame, len);
		if (ret == 0 && (ctl_request_decode(frame, len, req) != (int)len ||
				 req->op != CTL_OP_SPAWN))
			ret = -EBADMSG;
		explicit_bzero(frame, len);
		free(frame);
		frame = NULL;
		if (ret < 0) {
			close(fd);
			break;
		}
		ctl_request_policy(req, &pol);
		adopted = dmx_adopt(d, req->key, req->token, &pol, fd, path, sizeof(path));
		if (adopted == 0)
			adopted = state_put(s, req);
		if (adopted < 0) {
			struct log_line l;

			close(fd);
			log_begin(&l, "error", "takeover: cannot adopt a socket; the old daemon keeps it");
			log_str(&l, "key", req->key);
			log_err(&l, adopted);
			log_end(&l);
			counts->kept++;
		} else {
			counts->moved++;
		}
		explicit_bzero(req, sizeof(*req));
		ret = send_ack(conn, adopted);
	}
	explicit_bzero(req, sizeof(*req));
	free(req);
	close(conn);
	if (ret == 0 && *control_fd < 0)
		ret = -EBADMSG;
	return ret;
}
