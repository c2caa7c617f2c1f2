/* bench/control_client.c: dockmux-bench-control, the `control` scenario's
 * client: spawns (and tears down) N containers through a running `dockmux
 * serve`, speaking the control protocol (cmd/control.c's encoder) with
 * requests in flight on several connections, as an orchestrator restoring a
 * dense host would. Every reply it counts is durable in the daemon's state
 * file. Prints one JSON line: the rate over the first and the last bucket of
 * completions (is the cost per spawn flat as the host fills?) and overall.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_io.h"

#define CONNS_MAX 64

struct bconn {
	int fd;
	size_t next;           /* index into this connection's keys */
	size_t inflight;
	uint8_t in[65536];
	size_t in_len;
};

struct bench {
	const char *control, *prefix;
	size_t n, nconns, window, bucket;
	bool read_only;
	struct bconn conns[CONNS_MAX];
	double *done_at;       /* completion times, in completion order */
	size_t ndone, errors;
	int first_err;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Key k (0-based) goes to connection k % nconns. */
static int bench_send(struct bench *b, struct bconn *c, size_t ci, uint8_t op)
{
	static struct ctl_request req;
	uint8_t buf[1024];
	size_t k = ci + c->next * b->nconns;
	int n;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.key_len = (uint16_t)snprintf(req.key, sizeof(req.key), "%s-%zu", b->prefix, k + 1);
	if (op == CTL_OP_SPAWN) {
		req.token_len = (uint32_t)snprintf(req.token, sizeof(req.token),
						   "bench-token-%zu-0123456789abcdef", k + 1);
		req.flags = b->read_only ? CTL_FLAG_READ_ONLY : 0;
	}
	n = ctl_request_encode(&req, buf, sizeof(buf));
	if (n < 0)
		return n;
	n = ctl_send_all(c->fd, buf, (size_t)n, ctl_now_ms() + 30000);
	if (n < 0)
		return n;
	c->next++;
	c->inflight++;
	return 0;
}

static int bench_replies(struct bench *b, struct bconn *c)
{
	size_t off = 0, plen;
	int st;

	while (c->in_len - off >= CTL_REPLY_HEAD) {
		if (ctl_reply_head_decode(c->in + off, &st, &plen) < 0)
			return -EBADMSG;
		if (c->in_len - off - CTL_REPLY_HEAD < plen)
			break;
		if (st < 0) {
			if (!b->errors)
				b->first_err = st;
			b->errors++;
		}
		b->done_at[b->ndone++] = now_s();
		c->inflight--;
		off += CTL_REPLY_HEAD + plen;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

/* One phase: every key once with op. 0, or a transport error. */
static int bench_phase(struct bench *b, uint8_t op)
{
	struct pollfd pfd[CONNS_MAX];
	size_t per = (b->n + b->nconns - 1) / b->nconns;

	b->ndone = 0;
	for (size_t i = 0; i < b->nconns; i++) {
		b->conns[i].next = 0;
		b->conns[i].inflight = 0;
		b->conns[i].in_len = 0;
	}
	while (b->ndone < b->n) {
		for (size_t i = 0; i < b->nconns; i++) {
			struct bconn *c = &b->conns[i];

			while (c->inflight < b->window && c->next < per && i + c->next * b->nconns < b->n) {
				int ret = bench_send(b, c, i, op);

				if (ret < 0)
					return ret;
			}
			pfd[i] = (struct pollfd){ .fd = c->fd, .events = c->inflight ? POLLIN : 0 };
		}
		if (poll(pfd, b->nconns, 30000) <= 0)
			return -ETIMEDOUT;
		for (size_t i = 0; i < b->nconns; i++) {
			struct bconn *c = &b->conns[i];
			ssize_t r;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
			if (r == 0)
				return -EPIPE;
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				return -errno;
			}
			c->in_len += (size_t)r;
			if (bench_replies(b, c) < 0)
				return -EBADMSG;
		}
	}
	return 0;
}

/* The phase's rates: overall, over the first and the last bucket. */
static void bench_rates(const struct bench *b, double t0, const char *name, bool comma)
{
	size_t k = b->bucket < b->n ? b->bucket : b->n;
	double total = b->done_at[b->n - 1] - t0;

	if (getenv("BENCH_CONTROL_BUCKETS")) {
		/* Every bucket's rate, for a look at the curve. */
		for (size_t i = 0; i + k <= b->n; i += k)
			fprintf(stderr, "%s %zu-%zu: %.0f/s\n", name, i + 1, i + k,
				(double)k / (b->done_at[i + k - 1] - (i ? b->done_at[i - 1] : t0)));
	}
	double first = b->done_at[k - 1] - t0;
	double last = b->n > k ? b->done_at[b->n - 1] - b->done_at[b->n - k - 1] : first;

	printf("\"%s_s\": %.4f, \"%s_per_s\": %.0f, \"%s_per_s_first\": %.0f, \"%s_per_s_last\": %.0f%s",
	       name, total, name, (double)b->n / total, name, (double)k / first, name,
	       (double)k / last, comma ? ", " : "");
}

static void usage(FILE *f)
{
	fputs("usage: dockmux-bench-control --control PATH --containers N [--conns 8] [--window 32]\n"
	      "         [--bucket 1000] [--prefix bench] [--mode storm|spawn|teardown] [--read-only]\n"
	      "  storm: spawn N keys PREFIX-1..PREFIX-N, then tear them down; spawn or teardown: one\n"
	      "  phase. Prints one JSON line: rates over the first and the last BUCKET completions.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "containers", required_argument, NULL, 'n' },
		{ "conns", required_argument, NULL, 'k' },
		{ "window", required_argument, NULL, 'w' },
		{ "bucket", required_argument, NULL, 'b' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b = calloc(1, sizeof(*b));
	const char *mode = "storm";
	double t0;
	int opt, ret = 0;

	b->prefix = "bench";
	b->nconns = 8;
	b->window = 32;
	b->bucket = 1000;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': b->control = optarg; break;
		case 'n': b->n = strtoul(optarg, NULL, 10); break;
		case 'k': b->nconns = strtoul(optarg, NULL, 10); break;
		case 'w': b->window = strtoul(optarg, NULL, 10); break;
		case 'b': b->bucket = strtoul(optarg, NULL, 10); break;
		case 'p': b->prefix = optarg; break;
		case 'm': mode = optarg; break;
		case 'r': b->read_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!b->control || b->n == 0 || b->nconns == 0 || b->nconns > CONNS_MAX || b->window == 0 ||
	    b->bucket == 0 || (strcmp(mode, "storm") && strcmp(mode, "spawn") && strcmp(mode, "teardown"))) {
		usage(stderr);
		return 2;
	}
	b->done_at = calloc(b->n, sizeof(*b->done_at));
	for (size_t i = 0; i < b->nconns; i++) {
		b->conns[i].fd = ctl_connect(b->control, ctl_now_ms() + 30000);
		if (b->conns[i].fd < 0) {
			fprintf(stderr, "dockmux-bench-control: connect %s: %s\n", b->control,
				strerror(-b->conns[i].fd));
			return 1;
		}
	}
	printf("{\"containers\": %zu, \"conns\": %zu, \"window\": %zu, \"bucket\": %zu, ", b->n,
	       b->nconns, b->window, b->bucket);
	if (strcmp(mode, "teardown") != 0) {
		t0 = now_s();
		ret = bench_phase(b, CTL_OP_SPAWN);
		if (ret == 0)
			bench_rates(b, t0, "spawn", true);
	}
	if (ret == 0 && strcmp(mode, "spawn") != 0) {
		t0 = now_s();
		ret = bench_phase(b, CTL_OP_TEARDOWN);
		if (ret == 0)
			bench_rates(b, t0, "teardown", true);
	}
	printf("\"errors\": %zu, \"first_error\": \"%s\", \"transport\": \"%s\"}\n", b->errors,
	       b->errors ? strerror(-b->first_err) : "", ret < 0 ? strerror(-ret) : "");
	for (size_t i = 0; i < b->nconns; i++)
		close(b->conns[i].fd);
	return ret < 0 || b->errors ? 1 : 0;
}
