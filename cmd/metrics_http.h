/* cmd/metrics_http.h: the /metrics endpoint of `dockmux serve`: how scrapes
 * are answered (metrics_http.c). Where it listens: metrics_listen.h; the
 * text itself: metrics.h.
 */
#ifndef DMX_CMD_METRICS_HTTP_H
#define DMX_CMD_METRICS_HTTP_H

#include "metrics.h"

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

#endif
