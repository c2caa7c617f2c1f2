/* cmd/metrics.h: the Prometheus /metrics endpoint of `dockmux serve`.
 * A snapshot the daemon fills, a renderer to the text exposition format 0.0.4,
 * and a tiny blocking HTTP/1.1 server meant for the daemon's control thread:
 * one connection per call, bounded in bytes and time. It keeps no state of its
 * own and never touches dmx: the daemon gathers the numbers (fill callback).
 */
#ifndef DMX_CMD_METRICS_H
#define DMX_CMD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dockmux.h"

/* Latency histogram buckets: upper bounds in seconds (le, inclusive), the last
 * one +Inf. Fixed so that every scrape and every process agree on them. */
#define METRICS_HIST_BUCKETS 13
extern const double metrics_hist_bounds[METRICS_HIST_BUCKETS];

/* buckets[] are NOT cumulative (buckets[i] counts observations in
 * (bound[i-1], bound[i]]); the renderer accumulates. All-zero is empty.
 * _count is rendered as the sum of buckets[], so it always equals the +Inf
 * bucket even if count was filled inconsistently. */
struct metrics_hist {
	uint64_t buckets[METRICS_HIST_BUCKETS];
	uint64_t count;      /* sum of buckets[] */
	double sum_seconds;
};

/* Record one duration. NaN and infinities are dropped (they would poison
 * _sum forever); a negative duration (a clock step) counts as 0. */
void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* One ring's counters (dmx_ring_stats without conns). */
struct metrics_ring {
	uint64_t loops, sqes, cqes, files_used, files_total;
};

/* Everything one scrape shows. The daemon owns every pointer in it. */
struct metrics_snapshot {
	const struct dmx_entry *entries; /* from dmx_list(); keys must be distinct */
	size_t nentries;
	const struct metrics_ring *rings; /* ring i gets label ring="i" */
	size_t nrings;
	struct dmx_stats total;           /* dmx_stats(d, NULL, &total) */
	uint64_t spawns, spawn_errors, teardowns;
	struct metrics_hist spawn_latency, teardown_latency;
	double start_time_seconds;        /* process start, unix time */
};

/* Render s in the Prometheus text exposition format 0.0.4 into a malloc'd,
 * NUL-terminated buffer (*out, the caller frees; *len excludes the NUL).
 * The `key` label is the container key, made safe for the format this way:
 *   '%', C0 control bytes other than '\n', DEL and every byte that is not part
 *   of valid UTF-8 (overlong forms, surrogates, > U+10FFFF, stray bytes)
 *   become %XX (uppercase hex); then '\\', '"' and '\n' get the exposition
 *   escapes \\ \" \n. Valid UTF-8 passes through.
 * The mapping is injective (distinct keys never share a series) and undone by
 * unescaping then percent-decoding. Keys without '%', control bytes or
 * invalid UTF-8 read as themselves. 0 or -ENOMEM; *out and *len only on success. */
int metrics_render(const struct metrics_snapshot *s, char **out, size_t *len);

#endif
