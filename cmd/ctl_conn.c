/* cmd/ctl_conn.c: a control connection's buffers and deadlines (see
 * ctl_conn.h). Nothing here blocks: every recv and send is MSG_DONTWAIT.
 */
#include "ctl_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ctl_conn *ctl_conn_new(int fd, uid_t uid, pid_t pid, uint64_t serial, int64_t now)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->in = malloc(CTL_REQ_MAX);
	if (!c || !c->in) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->uid = uid;
	c->pid = pid;
	c->serial = serial;
	c->idle_since = now;
	return c;
}

void ctl_conn_free(struct ctl_conn *c)
{
	if (!c)
		return;
	/* Requests hold tokens. */
	explicit_bzero(c->in, c->in_len);
	free(c->in);
	free(c->out);
	close(c->fd);
	free(c);
}

void ctl_conn_recv(struct ctl_conn *c, int64_t now)
{
	ssize_t n;

	if (c->dead || c->eof || c->closing || c->in_len == CTL_REQ_MAX)
		return;
	n = recv(c->fd, c->in + c->in_len, CTL_REQ_MAX - c->in_len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (n == 0) {
		c->eof = true;
		return;
	}
	if (c->in_len == 0)
		c->req_since = now;
	c->in_len += (size_t)n;
	c->any = true;
	c->idle_since = now;
}

/* An error for the peer, then close once it is out. */
static void ctl_conn_refuse(struct ctl_conn *c, int err, int64_t now)
{
	explicit_bzero(c->in, c->in_len);
	c->in_len = 0;
	c->req_since = 0;
	ctl_conn_reply(c, err, NULL, 0, false, now);
	c->closing = true;
}

int ctl_conn_next(struct ctl_conn *c, struct ctl_request *req, int64_t now)
{
	int n;

	if (c->dead || c->closing || c->in_len == 0)
		return 0;
	n = ctl_request_decode(c->in, c->in_len, req);
	if (n == 0 && c->eof)
		n = -EBADMSG;    /* cut short: it will never be whole */
	if (n < 0) {
		ctl_conn_refuse(c, n, now);
		return n;
	}
	if (n == 0)
		return 0;
	/* Pipelined requests: the next one's bytes move to the front. */
	memmove(c->in, c->in + n, c->in_len - (size_t)n);
	explicit_bzero(c->in + c->in_len - n, (size_t)n);
	c->in_len -= (size_t)n;
	c->req_since = c->in_len ? now : 0;
	c->idle_since = now;
	return 1;
}

static void ctl_conn_sendable(struct ctl_conn *c, int64_t now)
{
	if (c->out_len - c->held > c->out_off && !c->out_since)
		c->out_since = now;
}

int ctl_conn_reply(struct ctl_conn *c, int status, const void *payload, size_t len, bool held,
		   int64_t now)
{
	size_t need = CTL_REPLY_HEAD + len;
	int ret;

	/* Behind a held reply everything is held: replies keep their order. */
	held = held || c->held;
	if (c->out_cap - c->out_len < need) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *p;

		/* Sent bytes go first, then the buffer grows. */
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (cap - c->out_len < need)
			cap *= 2;
		if (cap > c->out_cap) {
			p = realloc(c->out, cap);
			if (!p) {
				c->dead = true;
				return -ENOMEM;
			}
			c->out = p;
			c->out_cap = cap;
		}
	}
	ret = ctl_reply_head_encode(status, len, c->out + c->out_len);
	if (ret < 0)
		return ret;
	if (len)
		memcpy(c->out + c->out_len + CTL_REPLY_HEAD, payload, len);
	c->out_len += need;
	if (held)
		c->held += need;
	ctl_conn_sendable(c, now);
	return 0;
}

void ctl_conn_release(struct ctl_conn *c, int64_t now)
{
	c->held = 0;
	ctl_conn_sendable(c, now);
}

void ctl_conn_fail_held(struct ctl_conn *c, int err, int64_t now)
{
	int n;

	if (!c->held)
		return;
	n = ctl_replies_fail(c->out + c->out_len - c->held, c->held, err);
	if (n < 0) {
		c->dead = true;
		return;
	}
	c->out_len = c->out_len - c->held + (size_t)n;
	ctl_conn_release(c, now);
}

void ctl_conn_flush(struct ctl_conn *c, int64_t now)
{
	while (!c->dead && c->out_len - c->held > c->out_off) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->held - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)n;
		c->idle_since = now;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		c->out_since = 0;
	} else if (c->out_off == c->out_len - c->held) {
		c->out_since = 0;   /* what is left waits for the commit, not the peer */
	}
}

bool ctl_conn_full(const struct ctl_conn *c)
{
	return c->out_len - c->out_off > CTL_CONN_OUT_HIGH;
}

bool ctl_conn_sending(const struct ctl_conn *c)
{
	return c->out_len - c->held > c->out_off;
}

bool ctl_conn_idle(const struct ctl_conn *c)
{
	return c->in_len == 0 && c->out_len == c->out_off;
}

int64_t ctl_conn_deadline(const struct ctl_conn *c)
{
	int64_t d = 0;

	if (c->in_len && c->req_since)
		d = c->req_since + CTL_CONN_REQ_MS;
	if (c->out_since && (!d || c->out_since + CTL_CONN_OUT_MS < d))
		d = c->out_since + CTL_CONN_OUT_MS;
	if (ctl_conn_idle(c) && !c->closing && (!d || c->idle_since + CTL_CONN_IDLE_MS < d))
		d = c->idle_since + CTL_CONN_IDLE_MS;
	return d;
}

bool ctl_conn_expire(struct ctl_conn *c, int64_t now, const char **why)
{
	*why = NULL;
	if (c->dead)
		return true;
	if (c->held)
		return false;    /* a commit is due this very iteration */
	if (c->in_len && c->req_since && now >= c->req_since + CTL_CONN_REQ_MS)
		*why = "request not whole in time";
	else if (c->out_since && now >= c->out_since + CTL_CONN_OUT_MS)
		*why = "replies not read in time";
	else if (ctl_conn_idle(c) && !c->closing && now >= c->idle_since + CTL_CONN_IDLE_MS)
		*why = "idle";
	if (*why || ((c->closing || c->eof) && c->out_len == c->out_off && c->in_len == 0))
		c->dead = true;
	return c->dead;
}
