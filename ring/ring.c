/* ring/ring.c: the engine. One io_uring + thread per CPU; lifecycle commands
 * arrive as IORING_OP_MSG_RING messages and are answered the same way, so all
 * state of a container (table entry, listener, connections) is touched by its
 * own ring thread only. The data path (conn.c) takes no locks; the only lock
 * here guards the small API-side submit ring that callers share.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mimalloc.h>

#include "conn.h"
#include "keypath.h"

#define RING_ENTRIES 1024
#define RING_CQ_ENTRIES 8192
#define RING_PIPE_POOL 128
#define RING_PIPE_SIZE (256 * 1024)
#define RING_LISTEN_BACKLOG 1024

struct engine {
	struct engine_cfg cfg;
	unsigned nrings;
	struct ring *rings;
	/* API side: callers share one submit ring; whoever holds `reaping` reads
	 * its CQ and wakes the others. Not on the data path. */
	struct io_uring api;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool reaping;
	/* start-up handshake */
	unsigned started;
};

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

/* ---- containers ---- */

static void container_accept_arm(struct container *ctr)
{
	struct io_uring_sqe *sqe = ring_sqe(ctr->ring);

	io_uring_prep_multishot_accept(sqe, ctr->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT));
	ctr->inflight++;
}

/* After an accept error (EMFILE, ENOMEM) wait before re-arming, or a full
 * fd table would make accept fail and re-arm in a busy loop. */
static void container_accept_later(struct container *ctr)
{
	static const struct __kernel_timespec delay = { .tv_nsec = 100 * 1000 * 1000 };
	struct io_uring_sqe *sqe = ring_sqe(ctr->ring);

	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&delay, 0, 0);
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT_RETRY));
	ctr->inflight++;
}

static int container_token_set(struct container *ctr, const struct engine_cfg *cfg,
			       const char *token, size_t tokenlen)
{
	size_t hlen = cfg->token_header_len, plen = strlen(cfg->token_prefix);
	size_t len = hlen + 2 + plen + tokenlen + 2;
	char *line = mi_malloc(len + 1);

	if (!line)
		return -ENOMEM;
	memcpy(line, cfg->token_header, hlen);
	memcpy(line + hlen, ": ", 2);
	memcpy(line + hlen + 2, cfg->token_prefix, plen);
	memcpy(line + hlen + 2 + plen, token, tokenlen);
	memcpy(line + len - 2, "\r\n", 3);
	if (ctr->token_line) {
		explicit_bzero(ctr->token_line, ctr->token_len);
		mi_free(ctr->token_line);
	}
	ctr->token_line = line;
	ctr->token_len = len;
	return 0;
}

static bool container_token_equals(const struct container *ctr, const struct engine_cfg *cfg,
				   const char *token, size_t tokenlen)
{
	size_t off = cfg->token_header_len + 2 + strlen(cfg->token_prefix);

	return ctr->token_len == off + tokenlen + 2 &&
	       memcmp(ctr->token_line + off, token, tokenlen) == 0;
}

/* Take the spawn's policy and uid set (replacing the old ones: like the
 * token, they apply to requests and connections from now on). */
static void container_policy_set(struct container *ctr, struct ring_cmd *cmd)
{
	policy_free(ctr->policy);
	mi_free(ctr->uids);
	ctr->policy = cmd->policy;
	ctr->uids = cmd->uids;
	ctr->nuids = cmd->nuids;
	cmd->policy = NULL;
	cmd->uids = NULL;
	cmd->nuids = 0;
}

static void container_free(struct container *ctr)
{
	policy_free(ctr->policy);
	mi_free(ctr->uids);
	if (ctr->token_line) {
		explicit_bzero(ctr->token_line, ctr->token_len);
		mi_free(ctr->token_line);
	}
	mi_free(ctr);
}

/* Bind the container's socket with its final mode and owner in place before
 * listen(): until listen() nobody can connect, so there is no window in which
 * the socket is reachable with looser permissions. */
static int container_listen(const struct engine_cfg *cfg, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) == 0) {
		/* A leftover from a previous run: nobody in this process owns the
		 * hash (the table said so), so a socket file is stale. Anything
		 * else at that path is not ours to delete. */
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux creates the socket file with the socket inode's mode minus the
	 * umask: narrow it first so the file is never looser than asked. */
	(void)fchmod(fd, cfg->socket_mode & 0600);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if ((cfg->socket_uid != (uid_t)-1 || cfg->socket_gid != (gid_t)-1) &&
	    chown(path, cfg->socket_uid, cfg->socket_gid) < 0)
		goto fail_unlink;
	if (chmod(path, cfg->socket_mode) < 0)
		goto fail_unlink;
	if (listen(fd, RING_LISTEN_BACKLOG) < 0)
		goto fail_unlink;
	return fd;
fail_unlink:
	ret = -errno;
	unlink(path);
	close(fd);
	return ret;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

static int container_spawn(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	struct container *ctr;
	int ret;

	ret = ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it);
	if (ret == 0) {
		ctr = (struct container *)it;
		if (!container_token_equals(ctr, r->cfg, cmd->token, cmd->tokenlen)) {
			ret = container_token_set(ctr, r->cfg, cmd->token, cmd->tokenlen);
			if (ret < 0)
				return ret;
			ring_log(r, 6, "token rotated path=%s", ctr->path);
		}
		container_policy_set(ctr, cmd);
		memcpy(cmd->path, ctr->path, sizeof(cmd->path));
		return 0;
	}
	if (ret == -EEXIST) {
		ring_log(r, 4, "hash collision: another key owns %016llx",
			 (unsigned long long)cmd->hash);
		return -EEXIST;
	}

	ctr = mi_zalloc_aligned(sizeof(*ctr) + cmd->keylen + 1, 32);
	if (!ctr)
		return -ENOMEM;
	ctr->ring = r;
	memcpy(ctr->key, cmd->key, cmd->keylen);
	ctr->item.hash = cmd->hash;
	ctr->item.key = ctr->key;
	ctr->item.keylen = cmd->keylen;
	ctr->stats.containers = 1;
	ret = keypath_format_hash(r->cfg->dir, cmd->hash, ctr->path, sizeof(ctr->path));
	if (ret < 0)
		goto err;
	ret = container_token_set(ctr, r->cfg, cmd->token, cmd->tokenlen);
	if (ret < 0)
		goto err;
	ctr->lfd = container_listen(r->cfg, ctr->path);
	if (ctr->lfd < 0) {
		ret = ctr->lfd;
		goto err;
	}
	ret = ctab_insert(&r->ctab, &ctr->item);
	if (ret < 0) {
		unlink(ctr->path);
		close(ctr->lfd);
		goto err;
	}
	container_policy_set(ctr, cmd);
	container_accept_arm(ctr);
	memcpy(cmd->path, ctr->path, sizeof(cmd->path));
	return 0;
err:
	container_free(ctr);
	return ret;
}

static void container_kill(struct ring *r, struct container *ctr)
{
	struct io_uring_sqe *sqe;

	ctab_remove(&r->ctab, ctr->item.hash);
	ctr->dead = true;
	/* Unlink first: from here on connect() fails with ENOENT. */
	unlink(ctr->path);
	sqe = ring_sqe(r);
	io_uring_prep_cancel64(sqe, ring_tag(ctr, OP_ACCEPT), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT_CANCEL));
	ctr->inflight++;
	/* The pending accept holds its own file reference until cancelled. */
	close(ctr->lfd);
	ctr->lfd = -1;
	while (ctr->conns)
		conn_close(ctr->conns);
	while (ctr->npool > 0)
		close(ctr->pool[--ctr->npool]);
	explicit_bzero(ctr->token_line, ctr->token_len);
	ring_stats_add(&r->retired, &ctr->stats);
	r->retired.containers--;
	ctr->reap_next = r->reap_ctrs;
	r->reap_ctrs = ctr;
}

static int container_teardown(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;

	if (ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it) != 0)
		return 0;   /* unknown key, or another key's hash: nothing of ours */
	container_kill(r, (struct container *)it);
	return 0;
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
	return 0;
}

static int ring_list(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	size_t pos = 0;

	while ((it = ctab_next(&r->ctab, &pos))) {
		struct container *ctr = (struct container *)it;

		if (cmd->count < cmd->cap) {
			struct dmx_entry *e = &cmd->entries[cmd->count];

			memcpy(e->key, ctr->key, ctr->item.keylen + 1);
			memcpy(e->path, ctr->path, sizeof(e->path));
			e->stats = ctr->stats;
			policy_describe(ctr->policy, e->policy, sizeof(e->policy));
			e->nuids = ctr->nuids;
		}
		cmd->count++;
	}
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
}

static void ring_command(struct ring *r, struct ring_cmd *cmd)
{
	struct io_uring_sqe *sqe;

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
	case RING_CMD_STOP:
		ring_stop(r);
		cmd->result = 0;
		break;
	default:
		cmd->result = -EINVAL;
	}
	/* The answer goes back as a message too; cmd stays valid until the
	 * caller has seen it. */
	sqe = ring_sqe(r);
	io_uring_prep_msg_ring(sqe, r->engine->api.ring_fd, 0, ring_tag(cmd, OP_REPLY), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(NULL, OP_IGNORE));
}

static void ring_accept(struct ring *r, struct container *ctr, struct io_uring_cqe *cqe)
{
	ctr->inflight -= !(cqe->flags & IORING_CQE_F_MORE);
	if (cqe->res >= 0) {
		if (ctr->dead) {
			close(cqe->res);
			return;
		}
		ctr->stats.conns_accepted++;
		conn_start(r, ctr, cqe->res);
	} else if (cqe->res != -ECANCELED && !ctr->dead) {
		/* EMFILE/ENFILE/ENOMEM: log; the multishot ends and is re-armed
		 * below, so accepting resumes once resources free up. */
		ring_log(r, 4, "accept failed path=%s: %s", ctr->path, strerror(-cqe->res));
		ctr->stats.errors++;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && !ctr->dead) {
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			container_accept_later(ctr);
		else
			container_accept_arm(ctr);
	}
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
		ring_accept(r, ptr, cqe);
		break;
	case OP_ACCEPT_CANCEL:
		((struct container *)ptr)->inflight--;
		break;
	case OP_ACCEPT_RETRY: {
		struct container *ctr = ptr;

		ctr->inflight--;
		if (!ctr->dead)
			container_accept_arm(ctr);
		break;
	}
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

		if (ctr->inflight == 0) {
			*pp = ctr->reap_next;
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
	ret = ctab_init(&r->ctab, 64);
	if (ret < 0) {
		io_uring_queue_exit(&r->uring);
		return ret;
	}
	if (r->id == 0)
		ring_log(r, 7, "ring setup flags=%#x", p.flags);
	return 0;
}

static void *ring_main(void *arg)
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
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			ring_log(r, 3, "ring %u: submit failed: %s", r->id, strerror(-ret));
		n = 0;
		io_uring_for_each_cqe(&r->uring, head, cqe) {
			ring_dispatch(r, cqe);
			n++;
		}
		io_uring_cq_advance(&r->uring, n);
		/* Free only after the batch: a CQE later in it may name them. */
		conn_reap(r);
		ring_reap_containers(r);
		if (r->stopping && r->ctab.count == 0 && !r->reap_ctrs && !r->reap_conns &&
		    r->nconns == 0)
			break;
	}
	/* Flush the last replies (the STOP answer) before the ring goes away. */
	io_uring_submit(&r->uring);
	ring_pipes_free(r);
	ctab_deinit(&r->ctab);
	io_uring_queue_exit(&r->uring);
	return NULL;
}

/* ---- API side ---- */

static void engine_reap(struct engine *e)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&e->api, head, cqe) {
		struct ring_cmd *cmd = ring_tag_ptr(cqe->user_data);

		switch (ring_tag_op(cqe->user_data)) {
		case OP_SENT:
			cmd->sent = true;
			if (cqe->res < 0) {
				cmd->result = cqe->res;
				cmd->replied = true;
			}
			break;
		case OP_REPLY:
			cmd->replied = true;
			break;
		default:
			break;
		}
		n++;
	}
	io_uring_cq_advance(&e->api, n);
}

int engine_call(struct engine *e, unsigned idx, struct ring_cmd *cmd)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (idx >= e->nrings)
		return -EINVAL;
	cmd->sent = cmd->replied = false;
	cmd->result = 0;
	pthread_mutex_lock(&e->lock);
	while (!(sqe = io_uring_get_sqe(&e->api)))
		io_uring_submit(&e->api);
	io_uring_prep_msg_ring(sqe, e->rings[idx].fd, 0, ring_tag(cmd, OP_CMD), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(cmd, OP_SENT));
	ret = io_uring_submit(&e->api);
	if (ret < 0) {
		pthread_mutex_unlock(&e->lock);
		return ret;
	}
	while (!(cmd->sent && cmd->replied)) {
		if (e->reaping) {
			pthread_cond_wait(&e->cond, &e->lock);
			continue;
		}
		/* Become the reaper: wait for any completion without the lock,
		 * then hand every finished cmd to its waiter. */
		e->reaping = true;
		pthread_mutex_unlock(&e->lock);
		struct io_uring_cqe *cqe;
		do
			ret = io_uring_wait_cqe(&e->api, &cqe);
		while (ret == -EINTR);
		pthread_mutex_lock(&e->lock);
		engine_reap(e);
		e->reaping = false;
		pthread_cond_broadcast(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
	return cmd->result;
}

unsigned engine_rings(const struct engine *e)
{
	return e->nrings;
}

static int engine_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (int i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	return (int)n;
}

int engine_new(const struct engine_cfg *cfg, unsigned nrings, struct engine **out)
{
	struct engine *e;
	int cpus[1024], ncpus, ret;
	unsigned i, started = 0;

	if (nrings == 0 || nrings > 1024)
		return -EINVAL;
	e = mi_zalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->nrings = nrings;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	ret = io_uring_queue_init(64, &e->api, 0);
	if (ret < 0)
		goto err_lock;
	e->rings = mi_zalloc_aligned(sizeof(*e->rings) * nrings, 64);
	if (!e->rings) {
		ret = -ENOMEM;
		goto err_api;
	}
	ncpus = engine_cpus(cpus, 1024);
	for (i = 0; i < nrings; i++) {
		struct ring *r = &e->rings[i];

		r->id = i;
		r->cpu = ncpus > 0 ? cpus[i % (unsigned)ncpus] : -1;
		r->engine = e;
		r->cfg = &e->cfg;
		ret = -pthread_create(&r->thread, NULL, ring_main, r);
		if (ret < 0)
			break;
		started++;
	}
	pthread_mutex_lock(&e->lock);
	while (e->started < started)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	for (i = 0; i < started && ret == 0; i++)
		if (e->rings[i].start_err < 0)
			ret = e->rings[i].start_err;
	if (ret < 0) {
		e->nrings = started;
		engine_free(e);
		return ret;
	}
	*out = e;
	return 0;
err_api:
	io_uring_queue_exit(&e->api);
err_lock:
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	mi_free(e);
	return ret;
}

void engine_free(struct engine *e)
{
	unsigned i;

	if (!e)
		return;
	for (i = 0; i < e->nrings; i++) {
		struct ring_cmd cmd = { .op = RING_CMD_STOP };

		if (e->rings[i].start_err == 0)
			engine_call(e, i, &cmd);
	}
	for (i = 0; i < e->nrings; i++)
		pthread_join(e->rings[i].thread, NULL);
	mi_free(e->rings);
	io_uring_queue_exit(&e->api);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	mi_free(e);
}
