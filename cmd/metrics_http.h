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

/* Where a scrape's numbers come from. fill(ud, s) is called on a zeroed
 * snapshot for each GET or HEAD of /metrics, release(ud, s) (if not NULL)
 * once its answer is done, even when fill failed. page lists the containers
 * (NULL: the snapshot's entries). error (if not NULL) hears of failures
 * worth a log line: fill, rendering, accept. */
struct metrics_source {
	int (*fill)(void *ud, struct metrics_snapshot *s);
	void (*release)(void *ud, struct metrics_snapshot *s);
	metrics_page_fn page;
	void (*error)(void *ud, const char *what, int err);
	void *ud;
};

/* Serve listen_fd (non-blocking) until stop_fd is readable; 0 then, or a
 * negative errno from poll. Clients are served side by side, none waits for
 * another: GET or HEAD /metrics (any query) -> 200 text/plain;
 * version=0.0.4, the body streamed to the end of the connection (no
 * Content-Length: it is rendered as the client reads); other methods -> 405,
 * other paths -> 404, a malformed head -> 400, a head over 8 KiB -> 431, no
 * whole head within 2 s of connecting -> 408; an answer not taken within
 * 30 s is cut. Errors carry Content-Length; every answer ends with the
 * connection. At most 16 clients at once: one more makes the oldest still
 * sending its head go; out of fds, a waiting client gets a 503. */
int metrics_serve(int listen_fd, int stop_fd, const struct metrics_source *src);

/* Remove the Unix socket of addr at shutdown (only if addr is a path and the
 * file is a socket); TCP addresses and NULL are ignored. */
void metrics_unlink(const char *addr);

#endif
