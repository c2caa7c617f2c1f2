/* cmd/client_batch.c: `dockmux spawn --batch`: lines of KEY<TAB>TOKEN on
 * stdin, one spawn each, the policy options applying to all; for every line
 * one line on stdout, the socket path or an empty line when that line
 * failed (why: on stderr, with the line number). Requests are pipelined on
 * one connection, up to BATCH_WINDOW in flight, so a restore of thousands
 * of containers shares the daemon's disk flushes; each path printed is
 * durable in the daemon's state file. Tokens never touch argv.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "control_io.h"
#include "dockmux.h"

/* Requests in flight. Their replies (~120 bytes each) stay far below what
 * the daemon lets queue for a client before it stops reading from it, so
 * the two sides can never wait on each other. */
#define BATCH_WINDOW 64
/* The longest line worth reading: a key, a tab, a token, "\r\n". */
#define BATCH_LINE_MAX (DMX_KEY_MAX + 1 + DMX_TOKEN_MAX + 2)

/* A line read and sent (or refused here), waiting for its output line. */
struct batch_slot {
	unsigned long line;
	int err;                 /* refused before sending: -errno; 0: sent */
	const char *why;         /* ... and why */
	char key[DMX_KEY_MAX + 1];
};

struct batch {
	const char *control;
	int fd, timeout_ms;
	struct ctl_request *req;            /* the template: op and policy set */
	struct batch_slot slot[BATCH_WINDOW];
	size_t head, count, sent;           /* FIFO of slots; sent: awaiting a reply */
	unsigned long line;
	bool eof, failed;
	uint8_t frame[CTL_REQ_MAX];
	char buf[BATCH_LINE_MAX + 1];
};

/* The next line of stdin without its line ending, at most BATCH_LINE_MAX
 * bytes: its length, -EMSGSIZE (the rest of it skipped), or -1 at EOF. */
static ssize_t batch_line(struct batch *b)
{
	size_t n = 0;
	int c;
	bool over = false;

	while ((c = getchar()) != EOF && c != '\n') {
		if (n < BATCH_LINE_MAX)
			b->buf[n++] = (char)c;
		else
			over = true;
	}
	if (c == EOF && n == 0 && !over)
		return -1;
	if (n && b->buf[n - 1] == '\r')
		n--;
	b->buf[n] = '\0';
	return over ? -EMSGSIZE : (ssize_t)n;
}

static void batch_print(struct batch *b, const struct batch_slot *s, int err, const char *path)
{
	char esc[KEY_ESCAPED_MAX];

	if (err == 0 && path) {
		printf("%s\n", path);
		return;
	}
	b->failed = true;
	putchar('\n');
	key_escape(s->key, false, esc, sizeof(esc));
	if (s->why)
		fprintf(stderr, "dockmux: spawn --batch: line %lu: %s: %s\n", s->line, s->why,
			strerror(-err));
	else
		fprintf(stderr, "dockmux: spawn --batch: line %lu: spawn \"%s\"%s: %s\n", s->line, esc,
			client_why("spawn", err), strerror(-err));
}

/* Read, check and send one line; a line refused here takes a slot too, so
 * the output keeps the input's order. */
static int batch_add(struct batch *b)
{
	struct batch_slot *s = &b->slot[(b->head + b->count) % BATCH_WINDOW];
	struct ctl_request *req = b->req;
	const char *tab, *why = NULL;
	ssize_t n = batch_line(b);
	size_t klen;
	int ret;

	if (n == -1) {
		b->eof = true;
		return 0;
	}
	memset(s, 0, sizeof(*s));
	s->line = ++b->line;
	b->count++;
	if (n < 0) {
		s->err = -EMSGSIZE;
		s->why = "line longer than a key, a tab and a 4096-byte token";
		goto out;
	}
	tab = memchr(b->buf, '\t', (size_t)n);
	klen = tab ? (size_t)(tab - b->buf) : 0;
	if (!tab || klen == 0 || klen > DMX_KEY_MAX || memchr(b->buf, '\0', klen)) {
		s->err = -EINVAL;
		s->why = "expected KEY<TAB>TOKEN with a key of 1..255 bytes";
		goto out;
	}
	memcpy(s->key, b->buf, klen);
	s->key[klen] = '\0';
	ret = client_token_check(tab + 1, (size_t)n - klen - 1, &why);
	if (ret < 0) {
		s->err = ret;
		s->why = why;
		goto out;
	}
	memcpy(req->key, s->key, klen + 1);
	req->key_len = (uint16_t)klen;
	memcpy(req->token, tab + 1, (size_t)n - klen - 1);
	req->token[n - klen - 1] = '\0';
	req->token_len = (uint32_t)(n - klen - 1);
	ret = ctl_request_encode(req, b->frame, sizeof(b->frame));
	explicit_bzero(req->token, sizeof(req->token));
	if (ret > 0) {
		int len = ret;

		ret = ctl_send_all(b->fd, b->frame, (size_t)len,
				   b->timeout_ms > 0 ? ctl_now_ms() + b->timeout_ms : 0);
		explicit_bzero(b->frame, (size_t)len);
		if (ret < 0) {
			explicit_bzero(b->buf, sizeof(b->buf));
			return ret;   /* the connection is gone */
		}
		b->sent++;
	} else {
		s->err = ret;
		s->why = "cannot encode the request";
	}
out:
	explicit_bzero(b->buf, sizeof(b->buf));
	return 0;
}

/* Print every line refused here at the head of the FIFO, then the reply of
 * the first one sent. */
static int batch_reply(struct batch *b)
{
	struct batch_slot *s;
	char path[DMX_PATH_MAX];
	void *payload = NULL;
	size_t plen;
	int status, ret;

	while (b->count && (s = &b->slot[b->head])->err) {
		batch_print(b, s, s->err, NULL);
		b->head = (b->head + 1) % BATCH_WINDOW;
		b->count--;
	}
	if (!b->count)
		return 0;
	ret = ctl_recv_reply(b->fd, &status, &payload, &plen,
			     b->timeout_ms > 0 ? ctl_now_ms() + b->timeout_ms : 0);
	if (ret < 0)
		return ret;
	if (status == 0) {
		ret = ctl_path_decode(payload, plen, path, sizeof(path));
		if (ret < 0)
			status = ret;
	}
	free(payload);
	batch_print(b, s, status, path);
	b->head = (b->head + 1) % BATCH_WINDOW;
	b->count--;
	b->sent--;
	return 0;
}

int spawn_batch(const char *control, struct ctl_request *req, int timeout_ms)
{
	/* ~70 KiB: not on the stack. */
	static struct batch b;
	int ret = 0;

	b.control = control;
	b.timeout_ms = timeout_ms;
	b.req = req;
	if (isatty(STDIN_FILENO))
		fputs("dockmux: reading KEY<TAB>TOKEN lines from stdin (end with Ctrl-D)\n", stderr);
	b.fd = ctl_connect(control, timeout_ms > 0 ? ctl_now_ms() + timeout_ms : 0);
	if (b.fd < 0)
		return client_fail_transport(control, b.fd);
	while (ret == 0 && (!b.eof || b.count)) {
		if (!b.eof && b.count < BATCH_WINDOW)
			ret = batch_add(&b);
		else
			ret = batch_reply(&b);
		if (ret == 0)
			fflush(stdout);
	}
	close(b.fd);
	if (ret < 0) {
		/* Lines in flight may or may not have been spawned: say so for
		 * each, then stop (the rest of stdin is not read). */
		client_fail_transport(control, ret);
		while (b.count) {
			struct batch_slot *s = &b.slot[b.head];

			if (!s->err) {
				s->err = ret;
				s->why = "connection lost: unknown whether it was spawned";
			}
			batch_print(&b, s, s->err, NULL);
			b.head = (b.head + 1) % BATCH_WINDOW;
			b.count--;
		}
		return 1;
	}
	if (fflush(stdout) != 0)
		return fail("stdout", -errno);
	return b.failed ? 1 : 0;
}
