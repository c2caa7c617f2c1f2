/* cmd/metrics.h: the Prometheus /metrics text of `dockmux serve`: a snapshot
 * the daemon fills, containers it lists page by page, and a renderer to the
 * text exposition format 0.0.4 that goes one page at a time, so a scrape of
 * 30,000 containers never holds more than a page of them (metrics.c). It
 * never touches dmx: the daemon gathers the numbers (metrics_http.h's
 * callbacks).
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
	const struct dmx_entry *entries; /* when no page function lists them; keys distinct */
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

/* Containers page by page, as dmx_list_page: up to cap entries after *cur
 * (zeroed to start), 0 at the end, or -errno. */
typedef int (*metrics_page_fn)(void *ud, struct dmx_list_cursor *cur, struct dmx_entry *out,
			       size_t cap);

/* Entries a stream holds at once. */
#define METRICS_PAGE 256

/* The same text as metrics_render, a piece at a time. page (NULL: s's own
 * entries) is walked once per per-container family, each family's samples
 * one contiguous group; a container spawned or torn down meanwhile may be
 * in some families and not others. s must live until metrics_stream_free. */
struct metrics_stream;
int metrics_stream_new(const struct metrics_snapshot *s, metrics_page_fn page, void *ud,
		       struct metrics_stream **out);
/* The next piece: 1 with *text and *len (valid until the next call), 0 at the
 * end, or a negative errno (from page, or -ENOMEM). */
int metrics_stream_next(struct metrics_stream *st, const char **text, size_t *len);
void metrics_stream_free(struct metrics_stream *st);

#endif
