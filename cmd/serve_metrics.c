/* cmd/serve_metrics.c: the daemon's /metrics endpoint on a thread of its
 * own (metrics_http.c serves, metrics.c renders): a scrape never shares a
 * thread with a spawn, so neither a slow scraper nor the rendering of
 * 30,000 containers can delay one. Containers are read page by page
 * (dmx_list_page), never all at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "metrics_http.h"

static int metrics_page(void *ud, struct dmx_list_cursor *cur, struct dmx_entry *out, size_t cap)
{
	struct daemon *dm = ud;

	return dmx_list_page(dm->dmx, cur, out, cap);
}

/* Everything but the containers: rings, totals, the control thread's counters. */
static int metrics_fill(void *ud, struct metrics_snapshot *s)
{
	struct daemon *dm = ud;
	struct metrics_ring *rings;
	unsigned nrings = dmx_rings(dm->dmx);
	int ret;

	rings = calloc(nrings ? nrings : 1, sizeof(*rings));
	if (!rings)
		return -ENOMEM;
	for (unsigned i = 0; i < nrings; i++) {
		struct dmx_ring_stats rs;

		if (dmx_ring_stats(dm->dmx, i, &rs) == 0) {
			rings[i].loops = rs.loops;
			rings[i].sqes = rs.sqes;
			rings[i].cqes = rs.cqes;
			rings[i].files_used = rs.files_used;
			rings[i].files_total = rs.files_total;
		}
	}
	s->rings = rings;
	s->nrings = nrings;
	ret = dmx_stats(dm->dmx, NULL, &s->total);
	pthread_mutex_lock(&dm->counters_lock);
	s->spawns = dm->spawns;
	s->spawn_errors = dm->spawn_errors;
	s->teardowns = dm->teardowns;
	s->spawn_latency = dm->spawn_latency;
	s->teardown_latency = dm->teardown_latency;
	pthread_mutex_unlock(&dm->counters_lock);
	s->start_time_seconds = dm->start_time;
	return ret < 0 ? ret : 0;
}

static void metrics_release(void *ud, struct metrics_snapshot *s)
{
	(void)ud;
	free((void *)s->rings);
}

static void metrics_error(void *ud, const char *what, int err)
{
	struct log_line l;

	(void)ud;
	log_begin(&l, "warn", what);
	log_err(&l, err);
	log_end(&l);
}

void *metrics_thread(void *arg)
{
	struct daemon *dm = arg;
	const struct metrics_source src = {
		.fill = metrics_fill,
		.release = metrics_release,
		.page = metrics_page,
		.error = metrics_error,
		.ud = dm,
	};
	int ret = metrics_serve(dm->metrics_fd, dm->wake_fd, &src);

	if (ret < 0)
		metrics_error(dm, "metrics poll", ret);
	return NULL;
}
