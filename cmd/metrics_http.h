/* cmd/metrics_http.h: the /metrics endpoint of `dockmux serve`: where it
 * listens and how one scrape is answered (metrics_http.c). The text itself
 * comes from metrics.h.
 */
#ifndef DMX_CMD_METRICS_HTTP_H
#define DMX_CMD_METRICS_HTTP_H

#include "metrics.h"

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
