/* cmd/control_io.h: the client side of the control socket (control_io.c):
 * connect, send a request, read its reply, every step bounded by a deadline
 * so that no daemon state (out of fds, a full backlog, a stopped process)
 * can hang a command. The daemon's side is serve_control.c.
 */
#ifndef DMX_CMD_CONTROL_IO_H
#define DMX_CMD_CONTROL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"

/* What a command waits for the daemon by default (--timeout overrides):
 * long enough for a start-up that restores tens of thousands of containers
 * before it accepts, short enough that a script notices a wedged daemon. */
#define CTL_TIMEOUT_MS_DEFAULT 30000

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline here. */
int64_t ctl_now_ms(void);

/* Send all of buf: retry on EINTR, never raise SIGPIPE; on a non-blocking fd
 * wait for room until deadline_ms (0: forever), then -ETIMEDOUT. */
int ctl_send_all(int fd, const void *buf, size_t len, int64_t deadline_ms);
/* An error reply or a reply with a payload, as ctl_send_all. */
int ctl_send_reply(int fd, int status, const void *payload, size_t len, int64_t deadline_ms);
/* Read one reply; *payload is malloc'd (NULL when empty), the caller frees
 * it. -EBADMSG if the peer closed mid-reply (or before it), -EMSGSIZE for a
 * payload over CTL_PAYLOAD_MAX (before allocating), -ETIMEDOUT at the
 * deadline (0: none). */
int ctl_recv_reply(int fd, int *status, void **payload, size_t *len, int64_t deadline_ms);

/* Connect to the control socket at path: a non-blocking fd, or -errno
 * (-ENAMETOOLONG if path does not fit sun_path). A backlog that stays full
 * (a daemon that does not accept) is retried until deadline_ms, then
 * -ETIMEDOUT. */
int ctl_connect(const char *path, int64_t deadline_ms);

/* Connect, send req, read the reply, close, all within timeout_ms: 0 with
 * the reply's *status and payload (caller frees), or a negative errno for a
 * transport failure. */
/* Send one request frame on fd and read its reply (ctl_recv_reply): 0 with
 * *status, or a transport error. A refusal the daemon sent before closing is
 * read even when the send itself failed with EPIPE. */
int ctl_exchange(int fd, const void *frame, size_t flen, int *status, void **payload,
		 size_t *len, int64_t deadline_ms);
int ctl_call(const char *path, const struct ctl_request *req, int *status,
	     void **payload, size_t *len, int timeout_ms);

#endif
