/* cmd/restore.h: `dockmux serve` without a takeover: every container of
 * the state file spawned again (restore.c). Their sockets are new inodes: a
 * container that bind-mounted the old one must be recreated (each is named
 * in the log).
 */
#ifndef DMX_CMD_RESTORE_H
#define DMX_CMD_RESTORE_H

#include <stddef.h>

#include "dockmux.h"
#include "state.h"

/* How long a socket still served by someone else is retried: a daemon
 * killed a moment ago holds its listeners until the kernel has torn its
 * io_uring instances down, which happens after the process is gone. */
#define RESTORE_RETRY_MS 5000

struct restore_counts {
	size_t restored, failed;
};

/* Spawn every record of s into d, on one thread per ring (at most 8);
 * sockets that answer as live (-EADDRINUSE) are retried for retry_ms. One
 * log line per container. 0, or -ENOMEM before anything was tried. */
int restore_all(dmx *d, const struct state *s, int retry_ms, struct restore_counts *out);

#endif
