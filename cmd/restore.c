/* cmd/restore.c: the state file's containers back into the library at
 * start-up (see restore.h). dmx_spawn is thread-safe and each ring builds
 * its sockets on its own core, so a few threads restore 30,000 containers in
 * a fraction of the time one would; the order does not matter, keys are
 * distinct.
 */
#include "restore.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control_io.h"
#include "log.h"

#define RESTORE_THREADS_MAX 8

struct restore_rec {
	const uint8_t *frame;
	size_t len;
	int ret;                  /* the last try's result */
};

struct restore_job {
	dmx *d;
	struct restore_rec *recs;
	size_t n, first, step;    /* this thread's records: first, first + step, ... */
	bool retry;               /* only the records that answered -EADDRINUSE */
	bool last;                /* log a failure even if it is -EADDRINUSE */
};

static void restore_log(const struct ctl_request *req, int ret, const char *path)
{
	struct log_line l;

	log_begin(&l, ret < 0 ? "error" : "warn",
		  ret < 0 ? "restore failed"
			  : "socket re-created: recreate the container to get its Docker socket back");
	log_str(&l, "key", req->key);
	if (ret < 0)
		log_err(&l, ret);
	else
		log_str(&l, "path", path);
	log_end(&l);
}

static void *restore_thread(void *arg)
{
	struct restore_job *job = arg;
	struct ctl_request *req = malloc(sizeof(*req));
	char path[DMX_PATH_MAX];

	if (!req) {
		for (size_t i = job->first; i < job->n; i += job->step)
			job->recs[i].ret = -ENOMEM;
		return NULL;
	}
	for (size_t i = job->first; i < job->n; i += job->step) {
		struct restore_rec *r = &job->recs[i];
		struct dmx_policy pol;

		if (job->retry && r->ret != -EADDRINUSE)
			continue;
		if (ctl_request_decode(r->frame, r->len, req) != (int)r->len) {
			r->ret = -EBADMSG;   /* state.c decoded it once: cannot happen */
			continue;
		}
		ctl_request_policy(req, &pol);
		r->ret = dmx_spawn_policy(job->d, req->key, req->token, &pol, path, sizeof(path));
		if (r->ret != -EADDRINUSE || job->last)
			restore_log(req, r->ret, path);
		explicit_bzero(req, sizeof(*req));
	}
	free(req);
	return NULL;
}

/* One pass over the records (or the ones to retry) on nthreads threads. */
static void restore_pass(dmx *d, struct restore_rec *recs, size_t n, size_t nthreads,
			 bool retry, bool last)
{
	struct restore_job jobs[RESTORE_THREADS_MAX];
	pthread_t th[RESTORE_THREADS_MAX];
	bool started[RESTORE_THREADS_MAX] = { false };

	for (size_t t = 0; t < nthreads; t++) {
		jobs[t] = (struct restore_job){ .d = d, .recs = recs, .n = n, .first = t,
						.step = nthreads, .retry = retry, .last = last };
		/* The first job runs on this thread; so does any that cannot get one. */
		if (t > 0)
			started[t] = pthread_create(&th[t], NULL, restore_thread, &jobs[t]) == 0;
	}
	for (size_t t = 0; t < nthreads; t++)
		if (!started[t])
			restore_thread(&jobs[t]);
	for (size_t t = 1; t < nthreads; t++)
		if (started[t])
			pthread_join(th[t], NULL);
}

int restore_all(dmx *d, const struct state *s, int retry_ms, struct restore_counts *out)
{
	size_t n = state_count(s), i = 0, nthreads = dmx_rings(d), busy;
	int64_t deadline = ctl_now_ms() + retry_ms;
	struct restore_rec *recs;
	struct log_line l;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	recs = calloc(n, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (struct ctab_item *it = s->tab.first; it; it = it->next, i++)
		recs[i].frame = state_frame(s, it->key, &recs[i].len);
	if (nthreads > RESTORE_THREADS_MAX)
		nthreads = RESTORE_THREADS_MAX;
	if (nthreads > n)
		nthreads = n;
	if (nthreads == 0)
		nthreads = 1;
	restore_pass(d, recs, n, nthreads, false, retry_ms <= 0);
	for (bool said = false;;) {
		busy = 0;
		for (i = 0; i < n; i++)
			busy += recs[i].ret == -EADDRINUSE;
		if (busy == 0 || retry_ms <= 0)
			break;
		if (!said) {
			log_begin(&l, "warn", "restore: sockets still served by another process "
				  "(a daemon that just died?): retrying");
			log_num(&l, "containers", (long long)busy);
			log_num(&l, "for_ms", retry_ms);
			log_end(&l);
			said = true;
		}
		poll(NULL, 0, 50);
		bool last = ctl_now_ms() >= deadline;

		restore_pass(d, recs, n, 1, true, last);
		if (last)
			break;
	}
	for (i = 0; i < n; i++) {
		if (recs[i].ret < 0)
			out->failed++;
		else
			out->restored++;
	}
	free(recs);
	return 0;
}
