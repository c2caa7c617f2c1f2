/* ring/engine.c: the API side of the engine: start one ring thread per CPU,
 * send a struct ring_cmd to a ring as an IORING_OP_MSG_RING message and wait
 * for the ring's answer, stop everything. Callers share one small submit ring
 * under one lock: lifecycle calls are rare, the data path never comes here.
 */
#include "engine.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include <mimalloc.h>

#include "container.h"

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
	container_stage_remove(e->cfg.dir);
	mi_free(e->rings);
	io_uring_queue_exit(&e->api);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	mi_free(e);
}
