/* bench/relay.c: dockmux-relay, the cheapest proxy there is, as a benchmark
 * target: accept on a Unix socket, connect to the upstream socket, then copy
 * bytes both ways with recv/send on io_uring. It parses nothing, injects
 * nothing and splices nothing, so whatever a real proxy costs above it is the
 * cost of its own logic (bench/README.md). Not a product: no limits, no
 * timeouts, no logging after start-up.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RELAY_BUF (64 * 1024)
#define RELAY_ENTRIES 1024
#define RELAY_BACKLOG 4096

/* user_data: a struct relay_pair pointer (malloc'd, so 8-aligned) with the
 * op in bits 1-2 and the direction in bit 0. Accepts carry no pair. */
enum relay_op { RELAY_ACCEPT, RELAY_CONNECT, RELAY_RECV, RELAY_SEND };

/* One direction: recv into buf, then send buf[off, len) until it is all
 * gone, then recv again. One SQE at most in flight per direction. */
struct relay_dir {
	unsigned len, off;
	bool ended;                 /* recv saw EOF: the other side got SHUT_WR */
	char buf[RELAY_BUF];
};

struct relay_pair {
	int fd[2];                  /* 0: the client, 1: the upstream */
	unsigned inflight;          /* SQEs not completed yet: freed only at 0 */
	bool dead;                  /* an error: both fds shut down, no new SQEs */
	struct relay_pair *next;    /* on its thread's free list */
	struct relay_dir dir[2];    /* dir[d] carries fd[d] -> fd[!d] */
};

struct relay_thread {
	struct io_uring ring;
	struct relay_pair *free;    /* reused pairs: no malloc per connection */
	int cpu;                    /* pinned to it, or -1 */
	pthread_t tid;
};

static int relay_lfd;
static struct sockaddr_un relay_up = { .sun_family = AF_UNIX };

static struct io_uring_sqe *relay_sqe(struct relay_thread *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe) {                 /* SQ full: hand it to the kernel, retry */
		io_uring_submit(&t->ring);
		sqe = io_uring_get_sqe(&t->ring);
	}
	return sqe;
}

static void relay_tag(struct io_uring_sqe *sqe, struct relay_pair *p, enum relay_op op, unsigned d)
{
	io_uring_sqe_set_data64(sqe, (uintptr_t)p | (uintptr_t)op << 1 | d);
	if (p)
		p->inflight++;
}

/* Every thread accepts on the same listening socket. A single-shot accept,
 * armed again after each connection, and not a multishot one: the listener
 * wakes one waiter per connection, the first in its queue, and a multishot
 * accept never leaves that place, so one thread took every connection
 * (measured: the other thread's CPU stayed at 0). Re-armed, a thread goes to
 * the back of the queue and connections alternate, as dockmux spreads them
 * over its rings. */
static void relay_accept(struct relay_thread *t)
{
	struct io_uring_sqe *sqe = relay_sqe(t);

	io_uring_prep_accept(sqe, relay_lfd, NULL, NULL, SOCK_CLOEXEC);
	relay_tag(sqe, NULL, RELAY_ACCEPT, 0);
}

static void relay_recv(struct relay_thread *t, struct relay_pair *p, unsigned d)
{
	struct io_uring_sqe *sqe = relay_sqe(t);

	io_uring_prep_recv(sqe, p->fd[d], p->dir[d].buf, RELAY_BUF, 0);
	relay_tag(sqe, p, RELAY_RECV, d);
}

static void relay_send(struct relay_thread *t, struct relay_pair *p, unsigned d)
{
	struct relay_dir *dir = &p->dir[d];
	struct io_uring_sqe *sqe = relay_sqe(t);

	io_uring_prep_send(sqe, p->fd[!d], dir->buf + dir->off, dir->len - dir->off, MSG_NOSIGNAL);
	relay_tag(sqe, p, RELAY_SEND, d);
}

/* An error on either side ends the pair: shutting both sockets down
 * completes their pending recv/send, and the last completion frees it. */
static void relay_kill(struct relay_pair *p)
{
	if (p->dead)
		return;
	p->dead = true;
	for (unsigned i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			shutdown(p->fd[i], SHUT_RDWR);
}

/* Close and recycle p once nothing of it is in flight and it is over. */
static void relay_put(struct relay_thread *t, struct relay_pair *p)
{
	if (p->inflight || !(p->dead || (p->dir[0].ended && p->dir[1].ended)))
		return;
	for (unsigned i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	p->next = t->free;
	t->free = p;
}

static void relay_on_accept(struct relay_thread *t, struct io_uring_cqe *cqe)
{
	struct relay_pair *p;
	struct io_uring_sqe *sqe;

	relay_accept(t);            /* single-shot: the next connection */
	if (cqe->res < 0)
		return;
	p = t->free;
	if (p)
		t->free = p->next;
	else if (!(p = malloc(sizeof(*p)))) {
		close(cqe->res);
		return;
	}
	p->inflight = 0;
	p->dead = false;
	p->dir[0].ended = p->dir[1].ended = false;
	p->fd[0] = cqe->res;
	p->fd[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd[1] < 0) {
		relay_kill(p);
		relay_put(t, p);
		return;
	}
	sqe = relay_sqe(t);
	io_uring_prep_connect(sqe, p->fd[1], (struct sockaddr *)&relay_up, sizeof(relay_up));
	relay_tag(sqe, p, RELAY_CONNECT, 0);
}

static void relay_complete(struct relay_thread *t, struct io_uring_cqe *cqe)
{
	struct relay_pair *p = (struct relay_pair *)(uintptr_t)(cqe->user_data & ~(uint64_t)7);
	enum relay_op op = (cqe->user_data >> 1) & 3;
	unsigned d = cqe->user_data & 1;
	struct relay_dir *dir;
	int res = cqe->res;

	if (op == RELAY_ACCEPT) {
		relay_on_accept(t, cqe);
		return;
	}
	p->inflight--;
	dir = &p->dir[d];
	if (p->dead) {
		/* Only waiting for the in-flight SQEs to come back. */
	} else if (res < 0) {
		relay_kill(p);
	} else if (op == RELAY_CONNECT) {
		relay_recv(t, p, 0);
		relay_recv(t, p, 1);
	} else if (op == RELAY_RECV && res == 0) {
		/* Half-close: the other side gets this side's EOF. */
		dir->ended = true;
		shutdown(p->fd[!d], SHUT_WR);
	} else if (op == RELAY_RECV) {
		dir->len = (unsigned)res;
		dir->off = 0;
		relay_send(t, p, d);
	} else {
		dir->off += (unsigned)res;
		if (dir->off < dir->len)
			relay_send(t, p, d);        /* a short send: the rest */
		else
			relay_recv(t, p, d);
	}
	relay_put(t, p);
}

static int relay_ring_init(struct relay_thread *t)
{
	/* As dockmux's rings (ring/ring.c): SINGLE_ISSUER + DEFER_TASKRUN
	 * (6.1+), else COOP_TASKRUN, else none. Made here: this thread is the
	 * ring's only issuer. */
	static const unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (unsigned i = 0; i < 3 && ret == -EINVAL; i++)
		ret = io_uring_queue_init(RELAY_ENTRIES, &t->ring, flags[i] | IORING_SETUP_SUBMIT_ALL);
	return ret;
}

static void *relay_main(void *arg)
{
	struct relay_thread *t = arg;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int ret;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	ret = relay_ring_init(t);
	if (ret < 0) {
		fprintf(stderr, "dockmux-relay: io_uring_queue_init: %s\n", strerror(-ret));
		exit(1);
	}
	relay_accept(t);
	for (;;) {
		ret = io_uring_submit_and_wait(&t->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "dockmux-relay: io_uring_submit_and_wait: %s\n", strerror(-ret));
			exit(1);
		}
		n = 0;
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			relay_complete(t, cqe);
			n++;
		}
		io_uring_cq_advance(&t->ring, n);
	}
	return NULL;
}

static int relay_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, RELAY_BACKLOG) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void relay_usage(FILE *f)
{
	fprintf(f, "usage: dockmux-relay --listen PATH --upstream PATH [--threads N]\n"
		"  Copies bytes between each client of PATH and a new connection to the\n"
		"  upstream socket; N threads (default: online CPUs), one io_uring each,\n"
		"  all accepting on the same listening socket.\n");
}

int main(int argc, char **argv)
{
	const char *listen_path = NULL, *up_path = NULL;
	long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	struct relay_thread *threads;
	cpu_set_t allowed;
	int cpus[CPU_SETSIZE], ncpus = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_path = argv[++i];
		else if (!strcmp(argv[i], "--upstream") && i + 1 < argc)
			up_path = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			relay_usage(stdout);
			return 0;
		} else {
			relay_usage(stderr);
			return 2;
		}
	}
	if (!listen_path || !up_path || nthreads < 1 || nthreads > 1024 ||
	    strlen(up_path) >= sizeof(relay_up.sun_path)) {
		relay_usage(stderr);
		return 2;
	}
	strcpy(relay_up.sun_path, up_path);
	signal(SIGPIPE, SIG_IGN);
	relay_lfd = relay_listen(listen_path);
	if (relay_lfd < 0) {
		fprintf(stderr, "dockmux-relay: %s: %s\n", listen_path, strerror(-relay_lfd));
		return 1;
	}
	/* Thread i on the i-th allowed CPU, as dockmux pins ring i. */
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed))
				cpus[ncpus++] = c;
	threads = calloc((size_t)nthreads, sizeof(*threads));
	if (!threads)
		return 1;
	for (long i = 0; i < nthreads; i++) {
		threads[i].cpu = ncpus ? cpus[i % ncpus] : -1;
		if (pthread_create(&threads[i].tid, NULL, relay_main, &threads[i]) != 0) {
			fprintf(stderr, "dockmux-relay: pthread_create failed\n");
			return 1;
		}
	}
	pthread_join(threads[0].tid, NULL);   /* never returns: SIGTERM ends it */
	return 0;
}
