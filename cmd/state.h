/* cmd/state.h: what `dockmux serve` must remember across its own restarts:
 * every container's key, token and policy, as the SPAWN request that made it.
 * Kept in memory and in a state file (mode 0600) that is rewritten whole and
 * atomically (write, fsync, rename, fsync of the directory) after each change.
 *
 * File format: the line "dockmux-state 1\n", then one record per container:
 * u32 big-endian length | a CTL_OP_SPAWN request frame (control.h). The frame
 * codec is the control protocol's, with all its bounds checks.
 */
#ifndef DMX_CMD_STATE_H
#define DMX_CMD_STATE_H

#include <stddef.h>

#include "control.h"
#include "ctab.h"

struct state {
	const char *path;     /* NULL: in memory only */
	struct ctab tab;
};

int state_init(struct state *s, const char *path);
/* Frees every record, wiping the tokens. */
void state_deinit(struct state *s);
/* Read the file into memory (records replace those with the same key).
 * -ENOENT if there is none; -EBADMSG (with *why) if it is not a state file or
 * a record is malformed: nothing is loaded then. */
int state_load(struct state *s, const char **why);
/* Remember req (a SPAWN), replacing key's previous record. */
int state_put(struct state *s, const struct ctl_request *req);
void state_del(struct state *s, const char *key);
size_t state_count(const struct state *s);
/* Write the file atomically. 0 or -errno. No path: 0. */
int state_save(const struct state *s);
/* Call fn for each record, decoded into a scratch request (wiped after);
 * stops at fn's first non-zero return and returns it. */
int state_each(const struct state *s, int (*fn)(void *ud, struct ctl_request *req), void *ud);
/* The encoded frame of key's record, or NULL. */
const void *state_frame(const struct state *s, const char *key, size_t *len);

#endif
