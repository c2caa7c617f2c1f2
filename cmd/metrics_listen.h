/* cmd/metrics_listen.h: the listener of the /metrics endpoint
 * (metrics_listen.c).
 */
#ifndef DMX_CMD_METRICS_LISTEN_H
#define DMX_CMD_METRICS_LISTEN_H

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

/* Remove the Unix socket of addr at shutdown (only if addr is a path and the
 * file is a socket); TCP addresses and NULL are ignored. */
void metrics_unlink(const char *addr);

#endif
