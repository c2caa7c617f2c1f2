/* ring/ring.c: one ring's thread: its event loop, its commands (arriving as
 * IORING_OP_MSG_RING messages and answered the same way), its pipes and its
 * registered file table, so all state of a container (table entry, listener,
 * connections) is touched by its own ring thread only. The data path
 * (conn*.c) takes no locks. The API side that sends the commands is
 * engine.c.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mimalloc.h>

#include "conn.h"
#include "container.h"
#include "engine.h"
#include "keypath.h"

#define RING_ENTRIES 1024
#define RING_CQ_ENTRIES 8192
#define RING_PIPE_POOL 128
/* Registered file slots per ring (listeners), at most RLIMIT_NOFILE: the
 * kernel refuses a bigger table. 8 bytes of kernel memory per slot. */
#define RING_FILES_MAX 65536
/* While draining, idle connections are looked for this often. */
#define RING_DRAIN_TICK_MS 50


void ring_log(struct ring *r, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->cfg->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->cfg->log(r->cfg->log_userdata, level, msg);
}

struct io_uring_sqe *ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	while (!sqe) {
		/* SQ full: flush it; completions are reaped by the loop later. */
		io_uring_submit(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	return sqe;
}

struct pipe_pair *ring_pipe_get(struct ring *r)
{
	struct pipe_pair *p = r->pipes;
	int fds[2];

	if (p) {
		r->pipes = p->next;
		r->npipes--;
		return p;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return NULL;
	/* Bigger than the default 64 KiB so one splice moves more per round
	 * trip; failure (pipe-max-size, per-user quota) leaves the default. */
	(void)fcntl(fds[0], F_SETPIPE_SZ, RING_PIPE_SIZE);
	p = mi_malloc(sizeof(*p));
	if (!p) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->next = NULL;
	return p;
}

void ring_pipe_put(struct ring *r, struct pipe_pair *p, bool empty)
{
	if (!p)
		return;
	/* A pipe that still holds bytes of a dead conn is not reusable. */
	if (empty && r->npipes < RING_PIPE_POOL && !r->stopping) {
		p->next = r->pipes;
		r->pipes = p;
		r->npipes++;
		return;
	}
	close(p->rfd);
	close(p->wfd);
	mi_free(p);
}

static void ring_pipes_free(struct ring *r)
{
	while (r->pipes) {
		struct pipe_pair *p = r->pipes;

		r->pipes = p->next;
		close(p->rfd);
		close(p->wfd);
		mi_free(p);
	}
	r->npipes = 0;
}

/* ---- the registered file table ---- */

int ring_file_register(struct ring *r, int fd)
{
	unsigned slot;
	int ret;

	if (r->files_nfree > 0)
		slot = r->files_free[--r->files_nfree];
	else if (r->files_next < r->files_total)
		slot = r->files_next++;
	else
		return -ENFILE;
	ret = io_uring_register_files_update(&r->uring, slot, &fd, 1);
	if (ret < 0) {
		ring_file_unregister(r, (int)slot);
		r->files_used++;   /* undone by the unregister above */
		return ret;
	}
	r->files_used++;
	return (int)slot;
}

void ring_file_unregister(struct ring *r, int slot)
{
	int none = -1;

	(void)io_uring_register_files_update(&r->uring, (unsigned)slot, &none, 1);
	r->files_used--;
	if (r->files_nfree == r->files_free_cap) {
		unsigned cap = r->files_free_cap ? r->files_free_cap * 2 : 64;
		uint32_t *p = mi_realloc(r->files_free, cap * sizeof(*p));

		if (!p)
			return;   /* the slot is lost until restart: only on ENOMEM */
		r->files_free = p;
		r->files_free_cap = cap;
	}
	r->files_free[r->files_nfree++] = (uint32_t)slot;
}

static int ring_files_setup(struct ring *r)
{
	struct rlimit rl;
	unsigned n = RING_FILES_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	r->files_total = n;
	return io_uring_register_files_sparse(&r->uring, n);
}

void ring_stats_add(struct dmx_stats *to, const struct dmx_stats *from)
{
	to->containers += from->containers;
	to->conns_accepted += from->conns_accepted;
	to->conns_active += from->conns_active;
	to->requests += from->requests;
	to->bytes_up += from->bytes_up;
	to->bytes_down += from->bytes_down;
	to->errors += from->errors;
	for (int i = 0; i < 6; i++)
		to->responses[i] += from->responses[i];
	to->denied += from->denied;
}

static int ring_stats(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	size_t pos = 0;

	memset(&cmd->stats, 0, sizeof(cmd->stats));
	if (cmd->key) {
		if (ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it) != 0)
			return -ENOENT;
		cmd->stats = ((struct container *)it)->stats;
		return 0;
	}
	cmd->stats = r->retired;
	while ((it = ctab_next(&r->ctab, &pos)))
		ring_stats_add(&cmd->stats, &((struct container *)it)->stats);
	/* Handed-off containers still serving their last connections. */
	for (struct container *ctr = r->reap_ctrs; ctr; ctr = ctr->reap_next) {
		if (ctr->handed) {
			ring_stats_add(&cmd->stats, &ctr->stats);
			cmd->stats.containers--;
		}
	}
	return 0;
}

/* ---- draining: SIGTERM and handoff ---- */

static void ring_drain_tick_arm(struct ring *r)
{
	static const struct __kernel_timespec tick = {
		.tv_nsec = RING_DRAIN_TICK_MS * 1000 * 1000,
	};
	struct io_uring_sqe *sqe;

	if (r->drain_tick || r->nconns == 0)
		return;
	r->drain_tick = true;
	sqe = ring_sqe(r);
	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&tick, 0, 0);
	io_uring_sqe_set_data64(sqe, ring_tag(NULL, OP_DRAIN_TICK));
}

static void ring_close_quiet(struct container *ctr)
{
	struct conn *c = ctr->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (conn_quiet(c))
			conn_close(c);
	}
}

/* Close every connection that has nothing in flight; the rest are looked at
 * again each tick until they finish (or the caller gives up and closes). */
static void ring_drain_tick(struct ring *r)
{
	struct ctab_item *it;
	size_t pos = 0;

	r->drain_tick = false;
	while ((it = ctab_next(&r->ctab, &pos)))
		ring_close_quiet((struct container *)it);
	for (struct container *ctr = r->reap_ctrs; ctr; ctr = ctr->reap_next)
		ring_close_quiet(ctr);
	ring_drain_tick_arm(r);
}

static void ring_drain(struct ring *r)
{
	struct ctab_item *it;
	size_t pos = 0;

	r->draining = true;
	while ((it = ctab_next(&r->ctab, &pos)))
		container_quiesce(r, (struct container *)it);
	ring_drain_tick(r);
}

static void ring_rstats(struct ring *r, struct ring_cmd *cmd)
{
	cmd->rstats.loops = r->loops;
	cmd->rstats.sqes = r->sqes;
	cmd->rstats.cqes = r->cqes;
	cmd->rstats.files_used = r->files_used;
	cmd->rstats.files_total = r->files_total;
	cmd->rstats.conns = r->nconns;
}

/* dmx_entry.policy: policy_describe's text, then the isolation flags. */
static void ring_policy_describe(const struct container *ctr, char *buf, size_t cap)
{
	size_t len;

	policy_describe(ctr->policy, buf, cap);
	if (!ctr->inspect && !ctr->audit)
		return;
	if (strcmp(buf, "none") == 0)
		buf[0] = '\0';
	len = strlen(buf);
	snprintf(buf + len, cap - len, "%s%s%s%s", len ? "," : "", ctr->inspect ? "isolate" : "",
		 ctr->inspect && ctr->audit ? "," : "", ctr->audit ? "audit" : "");
}

static void ring_entry_fill(struct dmx_entry *e, const struct container *ctr)
{
	memcpy(e->key, ctr->key, ctr->item.keylen + 1);
	memcpy(e->path, ctr->path, sizeof(e->path));
	e->stats = ctr->stats;
	ring_policy_describe(ctr, e->policy, sizeof(e->policy));
	e->nuids = ctr->nuids;
}

static int ring_list(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	size_t pos = 0;

	while ((it = ctab_next(&r->ctab, &pos))) {
		if (cmd->count < cmd->cap)
			ring_entry_fill(&cmd->entries[cmd->count], (struct container *)it);
		cmd->count++;
	}
	return 0;
}

/* One page of a paused walk in spawn order (ctab_after): the cost is the
 * page's, not the table's, so a listing of every container can go page by
 * page without a snapshot of the whole table anywhere. */
static int ring_list_page(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it = ctab_after(&r->ctab, cmd->cursor_serial, cmd->cursor_hash);

	cmd->count = 0;
	for (; it && cmd->count < cmd->cap; it = it->next) {
		ring_entry_fill(&cmd->entries[cmd->count++], (struct container *)it);
		cmd->cursor_serial = it->serial;
		cmd->cursor_hash = it->hash;
	}
	cmd->more = it != NULL;
	return 0;
}

static void ring_stop(struct ring *r)
{
	struct ctab_item *it;
	size_t pos = 0;

	r->stopping = true;
	while ((it = ctab_next(&r->ctab, &pos))) {
		container_kill(r, (struct container *)it);
		pos = 0;    /* the table changed: start over */
	}
	/* Handed-off containers' last connections end now too. */
	for (struct container *ctr = r->reap_ctrs; ctr; ctr = ctr->reap_next)
		while (ctr->conns)
			conn_close(ctr->conns);
	conn_refusals_stop(r);
}

static void ring_reply(struct ring *r, struct ring_cmd *cmd)
{
	struct io_uring_sqe *sqe = ring_sqe(r);

	/* The answer goes back as a message too; cmd stays valid until the
	 * caller has seen it. */
	io_uring_prep_msg_ring(sqe, r->engine->api.ring_fd, 0, ring_tag(cmd, OP_REPLY), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(NULL, OP_IGNORE));
}

static void ring_command(struct ring *r, struct ring_cmd *cmd)
{
	switch (cmd->op) {
	case RING_CMD_SPAWN:
		cmd->result = container_spawn(r, cmd);
		break;
	case RING_CMD_TEARDOWN:
		cmd->result = container_teardown(r, cmd);
		break;
	case RING_CMD_STATS:
		cmd->result = ring_stats(r, cmd);
		break;
	case RING_CMD_LIST:
		cmd->result = ring_list(r, cmd);
		break;
	case RING_CMD_LIST_PAGE:
		cmd->result = ring_list_page(r, cmd);
		break;
	case RING_CMD_STOP:
		ring_stop(r);
		cmd->result = 0;
		break;
	case RING_CMD_HANDOFF:
		cmd->result = container_handoff_start(r, cmd);
		if (cmd->result == 1)
			return;   /* answered from OP_FD_INSTALL */
		break;
	case RING_CMD_DRAIN:
		ring_drain(r);
		cmd->result = 0;
		break;
	case RING_CMD_RSTATS:
		ring_rstats(r, cmd);
		cmd->result = 0;
		break;
	default:
		cmd->result = -EINVAL;
	}
	ring_reply(r, cmd);
}

static void ring_dispatch(struct ring *r, struct io_uring_cqe *cqe)
{
	void *ptr = ring_tag_ptr(cqe->user_data);
	enum ring_op op = ring_tag_op(cqe->user_data);

	switch (op) {
	case OP_IGNORE:
		if (cqe->res < 0)
			ring_log(r, 3, "ring %u: reply not delivered: %s", r->id, strerror(-cqe->res));
		break;
	case OP_CMD:
		ring_command(r, ptr);
		break;
	case OP_ACCEPT:
		container_accept(r, ptr, cqe);
		break;
	case OP_FD_INSTALL:
		container_handoff_done(r, ptr, cqe->res);
		ring_reply(r, ptr);
		break;
	case OP_DRAIN_TICK:
		ring_drain_tick(r);
		break;
	case OP_ACCEPT_CANCEL:
		((struct container *)ptr)->inflight--;
		break;
	case OP_ACCEPT_RETRY: {
		struct container *ctr = ptr;

		ctr->inflight--;
		if (ctr->listening)
			container_accept_arm(ctr);
		break;
	}
	case OP_R_RECV:
	case OP_R_TIMEOUT:
		conn_refusal_complete(ptr, op, cqe->res);
		break;
	case OP_REPLY:
	case OP_SENT:
	case OP_MAX:
		break;
	default:
		conn_complete(ptr, op, cqe->res, cqe->flags);
	}
}

static void ring_reap_containers(struct ring *r)
{
	struct container **pp = &r->reap_ctrs;

	while (*pp) {
		struct container *ctr = *pp;

		/* A handed-off container goes once its last conn has. */
		if (ctr->inflight == 0 && !ctr->conns) {
			*pp = ctr->reap_next;
			if (ctr->handed) {
				ring_stats_add(&r->retired, &ctr->stats);
				r->retired.containers--;
			}
			container_free(ctr);
		} else {
			pp = &ctr->reap_next;
		}
	}
}

static int ring_setup(struct ring *r)
{
	struct io_uring_params p;
	cpu_set_t set;
	int ret;

	if (r->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(r->cpu, &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	/* SINGLE_ISSUER + DEFER_TASKRUN (6.1+): completions run only when this
	 * thread waits, no IPIs. Older kernels: fall back to COOP_TASKRUN, then
	 * to nothing. The ring is created here so this thread is its issuer. */
	unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flags[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = RING_CQ_ENTRIES;
		ret = io_uring_queue_init_params(RING_ENTRIES, &r->uring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		return ret;
	r->fd = r->uring.ring_fd;
	ret = ring_files_setup(r);
	if (ret == 0)
		ret = ctab_init(&r->ctab, 64);
	secret_arena_init(&r->secrets);
	if (ret < 0) {
		io_uring_queue_exit(&r->uring);
		return ret;
	}
	if (r->id == 0)
		ring_log(r, 7, "ring setup flags=%#x", p.flags);
	return 0;
}

void *ring_main(void *arg)
{
	struct ring *r = arg;
	struct engine *e = r->engine;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int ret;

	ret = ring_setup(r);
	pthread_mutex_lock(&e->lock);
	r->start_err = ret;
	e->started++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (ret < 0)
		return NULL;

	for (;;) {
		ret = io_uring_submit_and_wait(&r->uring, 1);
		if (ret > 0)
			r->sqes += (unsigned)ret;
		else if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			ring_log(r, 3, "ring %u: submit failed: %s", r->id, strerror(-ret));
		n = 0;
		io_uring_for_each_cqe(&r->uring, head, cqe) {
			ring_dispatch(r, cqe);
			n++;
		}
		io_uring_cq_advance(&r->uring, n);
		r->loops++;
		r->cqes += n;
		/* Free only after the batch: a CQE later in it may name them. */
		conn_reap(r);
		ring_reap_containers(r);
		if (r->stopping && r->ctab.count == 0 && !r->reap_ctrs && !r->reap_conns &&
		    r->nconns == 0 && !r->refusals)
			break;
	}
	/* Flush the last replies (the STOP answer) before the ring goes away. */
	io_uring_submit(&r->uring);
	ring_pipes_free(r);
	/* Every container is freed by now: their slots are wiped already. */
	secret_arena_deinit(&r->secrets);
	mi_free(r->files_free);
	ctab_deinit(&r->ctab);
	io_uring_queue_exit(&r->uring);
	return NULL;
}
