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

/* Create a listening, non-blocking, close-on-exec socket for the endpoint.
 * addr is either
 *   - an absolute Unix socket path: created mode 0660; an existing socket
 *     file is replaced only if nobody accepts on it (a stale one), any other
 *     file is left alone (-EEXIST);
 *   - HOST:PORT or [V6]:PORT with a numeric loopback host (127.0.0.0/8, ::1)
 *     or "localhost" (127.0.0.1); PORT 0..65535, 0 picks a free one.
 * Anything else is refused: the endpoint is unauthenticated, so it is never
 * bound to an address other hosts can reach (-EPERM), or is malformed
 * (-EINVAL). On failure *why (if why is not NULL) gets a static message.
 * On success *fd_out is the listener; the caller closes it. */
int metrics_listen(const char *addr, int *fd_out, const char **why);

/* Accept at most ONE connection on listen_fd (non-blocking) and answer it:
 * GET or HEAD /metrics (any query) -> 200 text/plain; version=0.0.4; other
 * methods -> 405, other paths -> 404, a malformed head -> 400, a head over
 * 8 KiB -> 431, no complete head within 2 s -> 408. Every answer carries
 * Content-Length and Connection: close, then the connection is closed; the
 * whole exchange is bounded (2 s to read, 5 s to write), so a slow or
 * hostile client costs at most about 7 s of the caller's thread.
 * For a 200, fill(ud, s) is called on a zeroed snapshot, the snapshot is
 * rendered, then release(ud, s) (if not NULL) is called, even when fill failed.
 * Returns 1 when a connection was handled (including clients that timed out,
 * sent garbage or went away: expected outcomes, not errors), 0 when none was
 * pending, or a negative errno: from accept (the listener is unusable or the
 * process is out of fds; the connection stays queued), or from fill or
 * rendering (the client got a 503). */
int metrics_handle(int listen_fd, int (*fill)(void *ud, struct metrics_snapshot *s),
		   void (*release)(void *ud, struct metrics_snapshot *s), void *ud);

/* Remove the Unix socket of addr at shutdown (only if addr is a path and the
 * file is a socket); TCP addresses and NULL are ignored. */
void metrics_unlink(const char *addr);

#endif
