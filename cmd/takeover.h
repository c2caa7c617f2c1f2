/* cmd/takeover.h: `dockmux serve --takeover`, a restart that keeps every
 * socket inode. The new daemon connects to the old one's control socket and
 * sends a CTL_OP_HANDOFF request; the old one answers on that connection:
 *
 *   old -> new  per container: u32 len | SPAWN frame (control.h), with the
 *               listening socket attached (SCM_RIGHTS) to those bytes
 *   new -> old  one byte: 0 adopted, else an errno (1..255) it failed with
 *   ...
 *   old -> new  u32 0, with the control socket's listener attached
 *   new -> old  one byte: 0
 *
 * The old daemon keeps its copy of a listener until the new one has adopted
 * it, and takes it back (dmx_adopt) if the new one fails, so a failed
 * takeover loses no socket. Neither side unlinks or re-binds a socket file.
 */
#ifndef DMX_CMD_TAKEOVER_H
#define DMX_CMD_TAKEOVER_H

#include <stddef.h>

#include "dockmux.h"
#include "state.h"

struct takeover_counts {
	size_t moved;      /* containers now served by the new daemon */
	size_t kept;       /* containers the old daemon had to keep */
};

/* Old side, on the connection that sent CTL_OP_HANDOFF: hand every container
 * in s over, then control_fd. 0 when all of it (the control socket too) moved;
 * then the caller must stop serving, drain and exit without unlinking. */
int takeover_send(int conn, dmx *d, const struct state *s, int control_fd,
		  struct takeover_counts *counts);

/* New side: take everything over from the daemon at control_path into d and
 * s (records as received); *control_fd is the control socket's listener. */
int takeover_receive(const char *control_path, dmx *d, struct state *s, int *control_fd,
		     struct takeover_counts *counts);

#endif
