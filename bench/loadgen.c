/* bench/loadgen.c: dockmux-bench, the io_uring load generator. Spreads N
 * connections over a list of Unix socket paths (thousands of container
 * sockets, or the one socket of a conventional proxy), runs one scenario
 * (keep-alive pings, one request per connection, bulk GET or POST), records
 * every request's latency in a log-linear histogram and prints one JSON line.
 * With --pid it also measures the CPU time and memory of that process tree
 * over the measured window. It does not start or configure any proxy.
 */
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "procstat.h"

#define LG_MAX_PATHS 100000
#define LG_MAX_LABELS 16
#define LG_SMALL_BUF (16 * 1024)
#define LG_BULK_BUF (1024 * 1024)
#define LG_REQ_CAP 1024
/* A failed connection waits this long before it reconnects. */
#define LG_RETRY_NS (1000 * 1000)
/* After the deadline, how long in-flight requests may take to finish. */
#define LG_GRACE_NS (2ull * 1000 * 1000 * 1000)

enum lg_mode {
	LG_PING,      /* keep-alive GET /_ping */
	LG_CHURN,     /* one GET /_ping per connection */
	LG_GET,       /* bulk: GET /stream?bytes=S */
	LG_POST,      /* bulk: POST /sink with S bytes */
	LG_IDLE,      /* no traffic: only measure --pid */
};

enum lg_op {
	LG_OP_SEND = 1,
	LG_OP_RECV,
	LG_OP_RETRY,
};

struct lg_opts {
	enum lg_mode mode;
	char **paths;
	unsigned npaths;
	unsigned conns;
	unsigned threads;
	double duration_s;
	double warmup_s;
	uint64_t bytes;
	unsigned transfers;
	double timeout_s;
	const char *auth;
	pid_t pid;
	const char *labels[LG_MAX_LABELS][2];
	unsigned nlabels;
};

struct lg_counters {
	uint64_t requests;       /* responses completed in the measured window */
	uint64_t errors;         /* failed connects, resets, non-200 answers */
	uint64_t auth_failures;  /* answers whose X-Auth-Seen was not 1 */
	uint64_t bytes;          /* response + request body bytes moved */
	uint64_t connects;
	char first_error[160];
};

struct lg_worker;

struct lg_conn {
	struct lg_worker *w;
	unsigned idx;
	int fd;
	unsigned path;
	bool busy;               /* an SQE of this conn is in flight */
	bool done;               /* bulk: all transfers finished */
	uint64_t t_start;
	/* request side */
	size_t head_sent;
	uint64_t body_sent;
	/* response side */
	size_t rlen;             /* bytes in rbuf while the head is incomplete */
	bool head_done;
	int status;
	int auth_seen;
	uint64_t body_left;
	uint64_t resp_bytes;
	unsigned transfers;
	char *rbuf;
	size_t rcap;
};

struct lg_worker {
	const struct lg_opts *o;
	unsigned id;
	pthread_t thread;
	struct io_uring ring;
	struct lg_conn *conns;
	unsigned nconns;
	unsigned next_path;      /* churn: round-robin cursor */
	unsigned active;         /* conns not yet finished (bulk) */
	uint64_t measure_from, deadline;
	uint64_t done_at;        /* when its loop ended: a bulk run's end */
	bool stopping;
	struct hist hist;
	struct lg_counters c;
	int err;
};

static char lg_req[LG_REQ_CAP];
static size_t lg_req_len;
static char *lg_pattern;         /* POST body bytes */

static uint64_t lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void lg_sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static struct io_uring_sqe *lg_sqe(struct lg_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static uint64_t lg_tag(const struct lg_conn *c, enum lg_op op)
{
	return ((uint64_t)c->idx << 8) | (uint64_t)op;
}

static void lg_note_error(struct lg_worker *w, const char *what, int err)
{
	w->c.errors++;
	if (!w->c.first_error[0])
		snprintf(w->c.first_error, sizeof(w->c.first_error), "%s: %s", what,
			 err ? strerror(err) : "protocol");
}

static bool lg_counting(const struct lg_worker *w, uint64_t now)
{
	return now >= w->measure_from && now < w->deadline;
}

static void lg_close(struct lg_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void lg_send_more(struct lg_conn *c);
static void lg_begin(struct lg_conn *c);

static void lg_recv(struct lg_conn *c)
{
	struct io_uring_sqe *sqe = lg_sqe(c->w);

	if (!c->head_done) {
		io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	} else {
		/* Body bytes are counted, not kept: each recv reuses the buffer.
		 * MSG_WAITALL: the kernel completes a whole buffer at once, and
		 * never past this answer (want <= body_left). */
		size_t want = c->body_left < c->rcap ? (size_t)c->body_left : c->rcap;

		io_uring_prep_recv(sqe, c->fd, c->rbuf, want, MSG_WAITALL);
	}
	io_uring_sqe_set_data64(sqe, lg_tag(c, LG_OP_RECV));
	c->busy = true;
}

/* Give up on this connection; keep-alive and churn reconnect after a pause. */
static void lg_fail(struct lg_conn *c, const char *what, int err)
{
	struct lg_worker *w = c->w;

	if (lg_now() < w->deadline || w->o->mode == LG_GET || w->o->mode == LG_POST)
		lg_note_error(w, what, err);
	lg_close(c);
	if (w->o->mode == LG_GET || w->o->mode == LG_POST) {
		c->done = true;
		__atomic_sub_fetch(&w->active, 1, __ATOMIC_RELAXED);
		return;
	}
	if (w->stopping)
		return;
	static struct __kernel_timespec retry = { .tv_nsec = LG_RETRY_NS };
	struct io_uring_sqe *sqe = lg_sqe(w);

	io_uring_prep_timeout(sqe, &retry, 0, 0);
	io_uring_sqe_set_data64(sqe, lg_tag(c, LG_OP_RETRY));
	c->busy = true;
}

static int lg_connect(struct lg_conn *c)
{
	const struct lg_opts *o = c->w->o;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	strcpy(sa.sun_path, o->paths[c->path]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Blocking connect: a Unix connect completes at once unless the
	 * listener's backlog is full, which then is part of the latency. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	c->fd = fd;
	c->w->c.connects++;
	return 0;
}

/* Start the next request on c (connecting first when needed). */
static void lg_begin(struct lg_conn *c)
{
	int ret;

	c->t_start = lg_now();
	if (c->fd < 0) {
		ret = lg_connect(c);
		if (ret < 0) {
			lg_fail(c, "connect", -ret);
			return;
		}
	}
	c->head_sent = 0;
	c->body_sent = 0;
	c->rlen = 0;
	c->head_done = false;
	c->status = 0;
	c->auth_seen = -1;
	c->body_left = 0;
	c->resp_bytes = 0;
	lg_send_more(c);
}

static void lg_send_more(struct lg_conn *c)
{
	struct io_uring_sqe *sqe = lg_sqe(c->w);

	if (c->head_sent < lg_req_len) {
		io_uring_prep_send(sqe, c->fd, lg_req + c->head_sent, lg_req_len - c->head_sent,
				   MSG_NOSIGNAL | MSG_WAITALL);
	} else {
		uint64_t left = c->w->o->bytes - c->body_sent;
		size_t n = left < LG_BULK_BUF ? (size_t)left : LG_BULK_BUF;

		io_uring_prep_send(sqe, c->fd, lg_pattern, n, MSG_NOSIGNAL | MSG_WAITALL);
	}
	io_uring_sqe_set_data64(sqe, lg_tag(c, LG_OP_SEND));
	c->busy = true;
}

static void lg_on_send(struct lg_conn *c, int res)
{
	if (res < 0) {
		lg_fail(c, "send", -res);
		return;
	}
	if (c->head_sent < lg_req_len) {
		c->head_sent += (size_t)res;
	} else {
		c->body_sent += (uint64_t)res;
	}
	if (c->head_sent < lg_req_len ||
	    (c->w->o->mode == LG_POST && c->body_sent < c->w->o->bytes)) {
		lg_send_more(c);
		return;
	}
	lg_recv(c);
}

static uint64_t lg_parse_u64(const char *p, const char *end)
{
	uint64_t v = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* Parse a complete response head in rbuf[0, hlen). Returns the Content-Length,
 * or -1 when there is none. */
static int64_t lg_parse_head(struct lg_conn *c, size_t hlen)
{
	const char *p = c->rbuf, *end = c->rbuf + hlen, *eol;
	int64_t cl = -1;

	if (hlen < 12 || memcmp(p, "HTTP/1.", 7) != 0)
		return -2;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (p = memchr(p, '\n', hlen); p && p < end; p = eol) {
		const char *line = p + 1;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		if (eol - line > 15 && strncasecmp(line, "content-length:", 15) == 0)
			cl = (int64_t)lg_parse_u64(line + 15, eol);
		else if (eol - line > 12 && strncasecmp(line, "x-auth-seen:", 12) == 0)
			c->auth_seen = (int)lg_parse_u64(line + 12, eol);
	}
	return cl;
}

static void lg_finish(struct lg_conn *c)
{
	struct lg_worker *w = c->w;
	const struct lg_opts *o = w->o;
	uint64_t now = lg_now();
	bool bulk = o->mode == LG_GET || o->mode == LG_POST;

	if (bulk || lg_counting(w, now)) {
		hist_record(&w->hist, now - c->t_start);
		w->c.requests++;
		w->c.bytes += c->resp_bytes + c->body_sent;
		if (c->status != 200) {
			char what[32];

			snprintf(what, sizeof(what), "status %d", c->status);
			lg_note_error(w, what, 0);
		}
		if (c->auth_seen != 1)
			w->c.auth_failures++;
	}
	switch (o->mode) {
	case LG_PING:
		if (now >= w->deadline)
			w->stopping = true;
		if (!w->stopping)
			lg_begin(c);
		return;
	case LG_CHURN:
		lg_close(c);
		if (now >= w->deadline)
			w->stopping = true;
		if (w->stopping)
			return;
		c->path = w->next_path;
		w->next_path = (w->next_path + o->threads) % o->npaths;
		lg_begin(c);
		return;
	case LG_GET:
	case LG_POST:
		lg_close(c);
		if (++c->transfers < o->transfers) {
			lg_begin(c);
		} else {
			c->done = true;
			__atomic_sub_fetch(&w->active, 1, __ATOMIC_RELAXED);
		}
		return;
	case LG_IDLE:
		return;
	}
}

static void lg_on_recv(struct lg_conn *c, int res)
{
	if (res < 0) {
		lg_fail(c, "recv", -res);
		return;
	}
	if (res == 0) {
		lg_fail(c, "recv: connection closed before the response ended", 0);
		return;
	}
	if (!c->head_done) {
		size_t scan = c->rlen > 3 ? c->rlen - 3 : 0;
		char *hend;

		c->rlen += (size_t)res;
		hend = memmem(c->rbuf + scan, c->rlen - scan, "\r\n\r\n", 4);
		if (!hend) {
			if (c->rlen == c->rcap) {
				lg_fail(c, "response head too large", 0);
				return;
			}
			lg_recv(c);
			return;
		}
		size_t hlen = (size_t)(hend + 4 - c->rbuf);
		int64_t cl = lg_parse_head(c, hlen);
		uint64_t have = c->rlen - hlen;

		if (cl < 0 || (uint64_t)cl < have) {
			/* No length (a proxy's own error page), or more bytes than
			 * one answer: either way this connection is done. */
			char what[64];

			snprintf(what, sizeof(what), "unframed response, status %d", c->status);
			lg_fail(c, what, 0);
			return;
		}
		if (c->w->o->mode == LG_POST && c->status == 200 && (uint64_t)cl == have &&
		    lg_parse_u64(c->rbuf + hlen, c->rbuf + c->rlen) != c->w->o->bytes) {
			lg_fail(c, "sink byte count differs", 0);
			return;
		}
		c->head_done = true;
		c->resp_bytes = (uint64_t)cl;
		c->body_left = (uint64_t)cl - have;
	} else {
		c->body_left -= (uint64_t)res < c->body_left ? (uint64_t)res : c->body_left;
	}
	if (c->body_left) {
		lg_recv(c);
		return;
	}
	lg_finish(c);
}

static void lg_dispatch(struct lg_worker *w, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct lg_conn *c;

	if (data == 0)
		return;
	c = &w->conns[data >> 8];
	c->busy = false;
	switch ((enum lg_op)(data & 0xff)) {
	case LG_OP_SEND:
		lg_on_send(c, cqe->res);
		break;
	case LG_OP_RECV:
		lg_on_recv(c, cqe->res);
		break;
	case LG_OP_RETRY:
		if (!w->stopping)
			lg_begin(c);
		break;
	}
}

static int lg_ring_init(struct lg_worker *w, unsigned entries)
{
	static const unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct io_uring_params p = { .flags = flags[i] | IORING_SETUP_CQSIZE,
					     .cq_entries = entries * 2 };

		ret = io_uring_queue_init_params(entries, &w->ring, &p);
		if (ret == 0)
			return 0;
	}
	return ret;
}

static bool lg_all_idle(const struct lg_worker *w)
{
	for (unsigned i = 0; i < w->nconns; i++)
		if (w->conns[i].busy)
			return false;
	return true;
}

static void *lg_worker_main(void *arg)
{
	struct lg_worker *w = arg;
	const struct lg_opts *o = w->o;
	bool bulk = o->mode == LG_GET || o->mode == LG_POST;
	uint64_t hard_stop;
	unsigned entries = 64;
	int ret;

	while (entries < w->nconns * 2 + 16)
		entries *= 2;
	ret = lg_ring_init(w, entries);
	if (ret < 0) {
		w->err = ret;
		return NULL;
	}
	for (unsigned i = 0; i < w->nconns; i++)
		lg_begin(&w->conns[i]);
	hard_stop = bulk ? lg_now() + (uint64_t)(o->timeout_s * 1e9) : w->deadline + LG_GRACE_NS;
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		uint64_t now = lg_now();
		uint64_t wake;

		if (bulk && w->active == 0)
			break;
		if (!bulk && now >= w->deadline) {
			w->stopping = true;
			if (lg_all_idle(w))
				break;
		}
		if (now >= hard_stop) {
			if (bulk)
				lg_note_error(w, "timeout", ETIMEDOUT);
			break;
		}
		wake = bulk ? hard_stop : (now < w->deadline ? w->deadline : hard_stop);
		uint64_t wait_ns = wake > now ? wake - now : 0;
		struct __kernel_timespec ts = { .tv_sec = (long long)(wait_ns / 1000000000ull),
						.tv_nsec = (long long)(wait_ns % 1000000000ull) };

		ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			w->err = ret;
			break;
		}
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			lg_dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
	}
	w->done_at = lg_now();
	for (unsigned i = 0; i < w->nconns; i++)
		lg_close(&w->conns[i]);
	io_uring_queue_exit(&w->ring);
	return NULL;
}

static void lg_usage(FILE *f)
{
	fprintf(f,
"usage: dockmux-bench --mode ping|churn|get|post|idle (--path P ... | --paths FILE)\n"
"                     [--conns N] [--threads T] [--duration S] [--warmup S]\n"
"                     [--bytes N] [--transfers R] [--timeout S]\n"
"                     [--auth VALUE] [--pid PID] [--label KEY=VALUE ...]\n"
"  ping   N keep-alive connections (connection i on path i*paths/N) loop GET /_ping\n"
"  churn  N concurrent clients, each GET /_ping on a new connection, paths round-robin\n"
"  get    N parallel GET /stream?bytes=N, R times each (new connection each time)\n"
"  post   N parallel POST /sink with N body bytes, R times each\n"
"  idle   no traffic: only measure --pid over --duration\n"
"  --auth VALUE   send 'Authorization: VALUE' (for targets that do not inject it)\n"
"  --pid PID      report CPU seconds and memory of that process tree over the window\n"
"Prints one JSON object; every answer must carry X-Auth-Seen: 1 or it counts as an\n"
"auth failure.\n");
}

static int lg_read_paths(struct lg_opts *o, const char *file)
{
	char line[4096];
	FILE *f = fopen(file, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");

		line[len] = '\0';
		if (len == 0)
			continue;
		if (len >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
		    o->npaths >= LG_MAX_PATHS) {
			fclose(f);
			return -ENAMETOOLONG;
		}
		o->paths[o->npaths++] = strdup(line);
	}
	fclose(f);
	return 0;
}

static void lg_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *lg_mode_name(enum lg_mode m)
{
	static const char *names[] = { "ping", "churn", "get", "post", "idle" };

	return names[m];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'p' },
		{ "paths", required_argument, NULL, 'P' },
		{ "conns", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "transfers", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "auth", required_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'i' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct lg_opts o = { .mode = LG_PING, .conns = 32, .threads = 1, .duration_s = 5,
			     .warmup_s = 1, .bytes = 256ull << 20, .transfers = 1,
			     .timeout_s = 300 };
	struct lg_worker *workers;
	struct lg_counters total = { 0 };
	struct hist *hist;
	struct procstat ps0 = { 0 }, ps1 = { 0 }, peak = { 0 };
	bool have_ps = false, bulk;
	uint64_t t0, measure_from, deadline, t_end;
	double client_cpu0, elapsed;
	int opt, ret;

	o.paths = calloc(LG_MAX_PATHS, sizeof(*o.paths));
	if (!o.paths)
		return 1;
	while ((opt = getopt_long(argc, argv, "m:p:P:c:t:d:w:b:r:T:a:i:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "ping"))
				o.mode = LG_PING;
			else if (!strcmp(optarg, "churn"))
				o.mode = LG_CHURN;
			else if (!strcmp(optarg, "get"))
				o.mode = LG_GET;
			else if (!strcmp(optarg, "post"))
				o.mode = LG_POST;
			else if (!strcmp(optarg, "idle"))
				o.mode = LG_IDLE;
			else {
				lg_usage(stderr);
				return 2;
			}
			break;
		case 'p':
			if (o.npaths >= LG_MAX_PATHS ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fprintf(stderr, "dockmux-bench: bad path %s\n", optarg);
				return 2;
			}
			o.paths[o.npaths++] = optarg;
			break;
		case 'P':
			ret = lg_read_paths(&o, optarg);
			if (ret < 0) {
				fprintf(stderr, "dockmux-bench: %s: %s\n", optarg, strerror(-ret));
				return 2;
			}
			break;
		case 'c':
			o.conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.duration_s = strtod(optarg, NULL);
			break;
		case 'w':
			o.warmup_s = strtod(optarg, NULL);
			break;
		case 'b':
			o.bytes = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			o.transfers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			o.timeout_s = strtod(optarg, NULL);
			break;
		case 'a':
			o.auth = optarg;
			break;
		case 'i':
			o.pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'l': {
			char *eq = strchr(optarg, '=');

			if (!eq || o.nlabels == LG_MAX_LABELS) {
				lg_usage(stderr);
				return 2;
			}
			*eq = '\0';
			o.labels[o.nlabels][0] = optarg;
			o.labels[o.nlabels][1] = eq + 1;
			o.nlabels++;
			break;
		}
		case 'h':
			lg_usage(stdout);
			return 0;
		default:
			lg_usage(stderr);
			return 2;
		}
	}
	if (o.mode == LG_IDLE)
		o.conns = 0;
	if ((o.mode != LG_IDLE && (o.npaths == 0 || o.conns == 0)) || o.threads == 0 ||
	    o.threads > 64 || o.transfers == 0 || o.duration_s <= 0) {
		lg_usage(stderr);
		return 2;
	}
	if (o.threads > o.conns && o.conns)
		o.threads = o.conns;
	if (o.mode == LG_IDLE)
		o.threads = 0;
	bulk = o.mode == LG_GET || o.mode == LG_POST;
	signal(SIGPIPE, SIG_IGN);

	switch (o.mode) {
	case LG_PING:
	case LG_CHURN:
	case LG_IDLE:
		lg_req_len = (size_t)snprintf(lg_req, sizeof(lg_req),
			"GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmux-bench\r\n%s%s%s\r\n",
			o.auth ? "Authorization: " : "", o.auth ? o.auth : "", o.auth ? "\r\n" : "");
		break;
	case LG_GET:
		lg_req_len = (size_t)snprintf(lg_req, sizeof(lg_req),
			"GET /stream?bytes=%llu HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmux-bench\r\n%s%s%s\r\n",
			(unsigned long long)o.bytes,
			o.auth ? "Authorization: " : "", o.auth ? o.auth : "", o.auth ? "\r\n" : "");
		break;
	case LG_POST:
		lg_req_len = (size_t)snprintf(lg_req, sizeof(lg_req),
			"POST /sink HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmux-bench\r\n"
			"Content-Type: application/x-tar\r\nContent-Length: %llu\r\n%s%s%s\r\n",
			(unsigned long long)o.bytes,
			o.auth ? "Authorization: " : "", o.auth ? o.auth : "", o.auth ? "\r\n" : "");
		lg_pattern = malloc(LG_BULK_BUF);
		if (!lg_pattern)
			return 1;
		memset(lg_pattern, 'y', LG_BULK_BUF);
		break;
	}
	if (lg_req_len >= sizeof(lg_req)) {
		fprintf(stderr, "dockmux-bench: --auth too long\n");
		return 2;
	}

	workers = calloc(o.threads ? o.threads : 1, sizeof(*workers));
	hist = malloc(sizeof(*hist));
	if (!workers || !hist)
		return 1;
	hist_init(hist);
	t0 = lg_now();
	measure_from = bulk ? t0 : t0 + (uint64_t)(o.warmup_s * 1e9);
	deadline = bulk ? UINT64_MAX : measure_from + (uint64_t)(o.duration_s * 1e9);
	client_cpu0 = procstat_self_cpu();
	if (o.pid > 0 && bulk)
		have_ps = procstat_tree(o.pid, 0, &ps0) == 0;

	for (unsigned t = 0; t < o.threads; t++) {
		struct lg_worker *w = &workers[t];
		unsigned first = o.conns * t / o.threads, last = o.conns * (t + 1) / o.threads;
		size_t rcap = bulk ? LG_BULK_BUF : LG_SMALL_BUF;

		w->o = &o;
		w->id = t;
		w->nconns = last - first;
		w->measure_from = measure_from;
		w->deadline = deadline;
		w->next_path = (o.conns + t) % o.npaths;
		w->active = w->nconns;   /* before the thread starts: main polls it */
		hist_init(&w->hist);
		w->conns = calloc(w->nconns, sizeof(*w->conns));
		if (!w->conns)
			return 1;
		for (unsigned i = 0; i < w->nconns; i++) {
			struct lg_conn *c = &w->conns[i];
			unsigned global = first + i;

			c->w = w;
			c->idx = i;
			c->fd = -1;
			/* Spread the first connections evenly over all paths. */
			c->path = (unsigned)((uint64_t)global * o.npaths / o.conns);
			c->rcap = rcap;
			c->rbuf = malloc(rcap);
			if (!c->rbuf)
				return 1;
		}
		if (pthread_create(&w->thread, NULL, lg_worker_main, w) != 0) {
			fprintf(stderr, "dockmux-bench: cannot start threads\n");
			return 1;
		}
	}

	/* The measuring thread: proxy CPU at both ends of the window, memory sampled
	 * every 200 ms (peak kept) and once with PSS just before the deadline. */
	if (o.pid > 0 && !bulk) {
		lg_sleep_until(measure_from);
		have_ps = procstat_tree(o.pid, 0, &ps0) == 0;
		for (uint64_t t = measure_from + 200000000ull; t + 100000000ull < deadline;
		     t += 200000000ull) {
			struct procstat s;

			lg_sleep_until(t);
			if (procstat_tree(o.pid, 0, &s) == 0 && s.rss_kib > peak.rss_kib)
				peak.rss_kib = s.rss_kib;
		}
		lg_sleep_until(deadline - 50000000ull);
		if (have_ps && procstat_tree(o.pid, 1, &ps1) == 0) {
			if (ps1.rss_kib > peak.rss_kib)
				peak.rss_kib = ps1.rss_kib;
		} else {
			have_ps = false;
		}
		lg_sleep_until(deadline);
		if (have_ps) {
			struct procstat s;

			if (procstat_tree(o.pid, 0, &s) == 0)
				ps1.cpu_s = s.cpu_s;
		}
	} else if (o.pid > 0 && bulk && have_ps) {
		bool running = true;

		while (running) {
			struct procstat s;
			struct timespec ts = { .tv_nsec = 100000000 };

			nanosleep(&ts, NULL);
			if (procstat_tree(o.pid, 1, &s) == 0) {
				if (s.rss_kib > peak.rss_kib)
					peak = s;
			}
			running = false;
			for (unsigned t = 0; t < o.threads; t++)
				if (__atomic_load_n(&workers[t].active, __ATOMIC_RELAXED))
					running = true;
		}
	}
	if (!o.threads && o.mode == LG_IDLE)
		lg_sleep_until(deadline);
	for (unsigned t = 0; t < o.threads; t++) {
		struct lg_worker *w = &workers[t];

		pthread_join(w->thread, NULL);
		if (w->err) {
			fprintf(stderr, "dockmux-bench: io_uring: %s\n", strerror(-w->err));
			return 1;
		}
		hist_merge(hist, &w->hist);
		total.requests += w->c.requests;
		total.errors += w->c.errors;
		total.auth_failures += w->c.auth_failures;
		total.bytes += w->c.bytes;
		total.connects += w->c.connects;
		if (!total.first_error[0] && w->c.first_error[0])
			memcpy(total.first_error, w->c.first_error, sizeof(total.first_error));
	}
	t_end = lg_now();
	/* Bulk: the run ends when the last worker's transfers did, not when the
	 * measuring loop above noticed (it looks every 100 ms, which rounded
	 * every measured bulk run up to the next tick). */
	if (bulk) {
		uint64_t last = 0;

		for (unsigned t = 0; t < o.threads; t++)
			last = workers[t].done_at > last ? workers[t].done_at : last;
		if (last > t0)
			t_end = last;
	}
	if (o.pid > 0 && bulk && have_ps) {
		if (procstat_tree(o.pid, 0, &ps1) < 0)
			have_ps = false;
		ps1.pss_kib = peak.pss_kib;
	}
	elapsed = bulk ? (double)(t_end - t0) / 1e9 : o.duration_s;

	printf("{");
	for (unsigned i = 0; i < o.nlabels; i++) {
		lg_json_str(stdout, o.labels[i][0]);
		printf(": ");
		lg_json_str(stdout, o.labels[i][1]);
		printf(", ");
	}
	printf("\"mode\": \"%s\", \"conns\": %u, \"paths\": %u, \"threads\": %u, "
	       "\"elapsed_s\": %.3f, \"requests\": %llu, \"errors\": %llu, "
	       "\"auth_failures\": %llu, \"connects\": %llu, \"bytes\": %llu, "
	       "\"rps\": %.1f, \"mib_per_s\": %.1f, "
	       "\"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f, \"lat_p999_us\": %.1f, "
	       "\"lat_max_us\": %.1f, \"lat_mean_us\": %.1f, \"client_cpu_s\": %.3f",
	       lg_mode_name(o.mode), o.conns, o.npaths, o.threads, elapsed,
	       (unsigned long long)total.requests, (unsigned long long)total.errors,
	       (unsigned long long)total.auth_failures, (unsigned long long)total.connects,
	       (unsigned long long)total.bytes,
	       elapsed > 0 ? (double)total.requests / elapsed : 0.0,
	       elapsed > 0 ? (double)total.bytes / elapsed / 1048576.0 : 0.0,
	       (double)hist_quantile(hist, 0.5) / 1e3, (double)hist_quantile(hist, 0.99) / 1e3,
	       (double)hist_quantile(hist, 0.999) / 1e3, (double)hist->max / 1e3,
	       hist->count ? (double)hist->sum / (double)hist->count / 1e3 : 0.0,
	       procstat_self_cpu() - client_cpu0);
	if (have_ps)
		printf(", \"proxy_cpu_s\": %.2f, \"proxy_rss_kib\": %llu, \"proxy_pss_kib\": %llu, "
		       "\"proxy_procs\": %u",
		       ps1.cpu_s - ps0.cpu_s, (unsigned long long)peak.rss_kib,
		       (unsigned long long)ps1.pss_kib, ps1.nprocs);
	if (total.first_error[0]) {
		printf(", \"first_error\": ");
		lg_json_str(stdout, total.first_error);
	}
	printf("}\n");
	return 0;
}
