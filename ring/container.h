/* ring/container.h: a container's listener and its life cycle on its ring
 * (container.c). Internal to ring/.
 */
#ifndef DMX_RING_CONTAINER_H
#define DMX_RING_CONTAINER_H

#include "ring.h"

/* RING_CMD_SPAWN: create (or adopt cmd->adopt_fd) or update; 0 or -errno. */
int container_spawn(struct ring *r, struct ring_cmd *cmd);
/* RING_CMD_TEARDOWN: unknown keys are fine. */
int container_teardown(struct ring *r, struct ring_cmd *cmd);
/* Close the listener and every connection, unlink the socket file. */
void container_kill(struct ring *r, struct container *ctr);
/* RING_CMD_HANDOFF: 1 when the answer comes later (container_handoff_done),
 * else a result to reply with now. */
int container_handoff_start(struct ring *r, struct ring_cmd *cmd);
void container_handoff_done(struct ring *r, struct ring_cmd *cmd, int res);
/* Stop accepting (the listener stays open and bound). */
void container_quiesce(struct ring *r, struct container *ctr);
void container_accept_arm(struct container *ctr);
void container_accept(struct ring *r, struct container *ctr, struct io_uring_cqe *cqe);
void container_free(struct container *ctr);
/* Remove dir's staging directory if nothing is being placed in it (at the
 * end of a handle: see container.c). */
void container_stage_remove(const char *dir);

#endif
