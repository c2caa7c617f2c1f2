/* tests/ctl_storm.c: the client side of tests/cmd_crash.sh. `storm` spawns
 * and tears down keys as fast as the daemon answers, over 8 connections with
 * requests in flight, until the daemon dies (kill -9), then writes what every
 * key must be after a restart: its last answered state and, if a request on
 * it was in flight, what that request would have made it. `verify` lists the
 * restarted daemon and checks each key against that file.
 *   ctl_storm storm CONTROL KEYS EXPECT_FILE
 *   ctl_storm verify CONTROL EXPECT_FILE
 * A key's state is "-" (absent), "none" or "read-only" (its policy, which
 * alternates so that a respawn's record is told from the one it replaced).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_io.h"

#define CONNS 8
#define WINDOW 16
#define KEYS_MAX 4096

enum kstate { K_ABSENT, K_NONE, K_RO };
static const char *const kname[] = { "-", "none", "read-only" };

struct key {
	enum kstate answered;     /* as of the last reply */
	bool inflight;
	enum kstate pending;      /* what the request in flight would make it */
};

struct conn {
	int fd;
	bool dead;
	int fifo[WINDOW];         /* keys of the requests in flight, in order */
	enum kstate fifo_to[WINDOW];
	int head, n;
	uint8_t in[4096];
	size_t in_len;
};

static struct key keys[KEYS_MAX];
static int nkeys;
static unsigned long answered, refused;

static void key_name(int k, char *out, size_t cap)
{
	snprintf(out, cap, "crash-%d", k);
}

static int send_op(struct conn *c, int k, enum kstate to)
{
	static struct ctl_request req;
	uint8_t buf[512];
	int n;

	memset(&req, 0, sizeof(req));
	req.op = to == K_ABSENT ? CTL_OP_TEARDOWN : CTL_OP_SPAWN;
	key_name(k, req.key, sizeof(req.key));
	req.key_len = (uint16_t)strlen(req.key);
	if (to != K_ABSENT) {
		req.token_len = (uint32_t)snprintf(req.token, sizeof(req.token), "tok-%d-%lu", k,
						   answered);
		req.flags = to == K_RO ? CTL_FLAG_READ_ONLY : 0;
	}
	n = ctl_request_encode(&req, buf, sizeof(buf));
	if (n < 0 || ctl_send_all(c->fd, buf, (size_t)n, ctl_now_ms() + 5000) < 0)
		return -1;
	keys[k].inflight = true;
	keys[k].pending = to;
	c->fifo[(c->head + c->n) % WINDOW] = k;
	c->fifo_to[(c->head + c->n) % WINDOW] = to;
	c->n++;
	return 0;
}

/* Replies in c->in: each settles the oldest request in flight. */
static void take_replies(struct conn *c)
{
	size_t off = 0, plen;
	int st;

	while (c->in_len - off >= CTL_REPLY_HEAD && c->n) {
		if (ctl_reply_head_decode(c->in + off, &st, &plen) < 0) {
			c->dead = true;
			return;
		}
		if (c->in_len - off - CTL_REPLY_HEAD < plen)
			break;
		int k = c->fifo[c->head];

		keys[k].inflight = false;
		if (st == 0) {
			keys[k].answered = c->fifo_to[c->head];
			answered++;
		} else {
			refused++;   /* answered with an error: nothing changed */
		}
		c->head = (c->head + 1) % WINDOW;
		c->n--;
		off += CTL_REPLY_HEAD + plen;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

/* A key of this connection's share with nothing in flight. */
static int pick(int ci, unsigned *seed)
{
	for (int tries = 0; tries < 64; tries++) {
		int k = ci + CONNS * (int)((unsigned)rand_r(seed) % (unsigned)(nkeys / CONNS));

		if (k < nkeys && !keys[k].inflight)
			return k;
	}
	return -1;
}

static int storm(const char *control, const char *expect)
{
	struct conn conns[CONNS];
	struct pollfd pfd[CONNS];
	unsigned seed = (unsigned)getpid();
	int alive = CONNS;
	FILE *f;

	/* What the daemon holds now: the previous round left it so. */
	f = fopen(expect, "r");
	if (f) {
		char name[64], st[16], pend[16];

		while (fscanf(f, "%63s %15s %15s", name, st, pend) == 3) {
			int k;

			if (sscanf(name, "crash-%d", &k) != 1 || k < 0 || k >= nkeys)
				continue;
			/* verify has settled what was in flight: the daemon's answer */
			keys[k].answered = !strcmp(st, "none") ? K_NONE : !strcmp(st, "read-only") ? K_RO
												      : K_ABSENT;
		}
		fclose(f);
	}
	for (int i = 0; i < CONNS; i++) {
		memset(&conns[i], 0, sizeof(conns[i]));
		conns[i].fd = ctl_connect(control, ctl_now_ms() + 5000);
		if (conns[i].fd < 0) {
			fprintf(stderr, "ctl_storm: connect: %s\n", strerror(-conns[i].fd));
			return 2;
		}
	}
	while (alive) {
		for (int i = 0; i < CONNS; i++) {
			struct conn *c = &conns[i];

			while (!c->dead && c->n < WINDOW) {
				int k = pick(i, &seed);
				enum kstate to;

				if (k < 0)
					break;
				if (keys[k].answered == K_ABSENT)
					to = rand_r(&seed) % 2 ? K_NONE : K_RO;
				else
					to = rand_r(&seed) % 2 ? K_ABSENT
							       : keys[k].answered == K_NONE ? K_RO : K_NONE;
				if (send_op(c, k, to) < 0)
					c->dead = true;
			}
			pfd[i] = (struct pollfd){ .fd = c->dead ? -1 : c->fd, .events = POLLIN };
		}
		if (poll(pfd, CONNS, 5000) <= 0)
			break;   /* a daemon that answers nobody for 5 s is as good as dead */
		for (int i = 0; i < CONNS; i++) {
			struct conn *c = &conns[i];
			ssize_t n;

			if (c->dead || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
			if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
				c->dead = true;
				continue;
			}
			if (n > 0) {
				c->in_len += (size_t)n;
				take_replies(c);
			}
		}
		alive = 0;
		for (int i = 0; i < CONNS; i++)
			alive += !conns[i].dead;
	}
	f = fopen(expect, "w");
	if (!f)
		return 2;
	for (int k = 0; k < nkeys; k++)
		fprintf(f, "crash-%d %s %s\n", k, kname[keys[k].answered],
			keys[k].inflight ? kname[keys[k].pending] : "=");
	fclose(f);
	printf("answered %lu refused %lu\n", answered, refused);
	return 0;
}

/* The daemon's containers, as a policy per key (K_ABSENT: not listed). */
static int list_all(const char *control, enum kstate *now)
{
	static struct dmx_entry page[CTL_PAGE_MAX];
	struct ctl_request req = { .op = CTL_OP_LIST_PAGE, .page_max = CTL_PAGE_MAX };
	int fd = ctl_connect(control, ctl_now_ms() + 10000), n;

	if (fd < 0)
		return fd;
	for (;;) {
		uint8_t buf[64];
		void *payload;
		size_t plen;
		int st;

		n = ctl_request_encode(&req, buf, sizeof(buf));
		if (n < 0 || (n = ctl_send_all(fd, buf, (size_t)n, ctl_now_ms() + 10000)) < 0 ||
		    (n = ctl_recv_reply(fd, &st, &payload, &plen, ctl_now_ms() + 10000)) < 0)
			break;
		n = st < 0 ? st : ctl_page_decode(payload, plen, &req.cursor, page, CTL_PAGE_MAX);
		free(payload);
		if (n > CTL_PAGE_MAX)
			n = -EBADMSG;
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			int k;

			if (sscanf(page[i].key, "crash-%d", &k) == 1 && k >= 0 && k < KEYS_MAX)
				now[k] = strstr(page[i].policy, "read-only") ? K_RO : K_NONE;
		}
	}
	close(fd);
	return n;
}

static int verify(const char *control, const char *expect)
{
	static enum kstate now[KEYS_MAX];
	char name[64], st[16], pend[16];
	unsigned long checked = 0, bad = 0, undecided = 0;
	FILE *f = fopen(expect, "r"), *out;
	char tmp[4096];
	int ret = list_all(control, now);

	if (ret < 0) {
		fprintf(stderr, "ctl_storm: list: %s\n", strerror(-ret));
		return 2;
	}
	if (!f)
		return 0;   /* the first round: nothing to check yet */
	snprintf(tmp, sizeof(tmp), "%s.new", expect);
	out = fopen(tmp, "w");
	while (fscanf(f, "%63s %15s %15s", name, st, pend) == 3) {
		int k;
		const char *got;

		if (sscanf(name, "crash-%d", &k) != 1 || k < 0 || k >= KEYS_MAX)
			continue;
		got = kname[now[k]];
		checked++;
		if (strcmp(got, st) != 0 && (strcmp(pend, "=") == 0 || strcmp(got, pend) != 0)) {
			bad++;
			fprintf(stderr, "ctl_storm: %s is %s; answered %s, in flight %s\n", name, got,
				st, pend);
		}
		undecided += strcmp(pend, "=") != 0;
		/* What the daemon holds now is what the next round starts from. */
		fprintf(out, "%s %s =\n", name, got);
	}
	fclose(f);
	fclose(out);
	rename(tmp, expect);
	printf("checked %lu keys (%lu had a request in flight), %lu wrong\n", checked, undecided, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "storm") == 0) {
		nkeys = atoi(argv[3]);
		if (nkeys < CONNS || nkeys > KEYS_MAX)
			return 2;
		return storm(argv[2], argv[4]);
	}
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2], argv[3]);
	fprintf(stderr, "usage: ctl_storm storm CONTROL KEYS EXPECT | verify CONTROL EXPECT\n");
	return 2;
}
