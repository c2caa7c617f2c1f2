/* cmd/state.h: what `dockmux serve` must remember across its own restarts:
 * every container's key, token and policy, as the SPAWN request that made it.
 * Kept in memory and in a state file (mode 0600): an append-only journal
 * (journal.h) of SPAWN and TEARDOWN request frames (control.h), compacted
 * by an atomic rewrite when it outgrows about twice the live records.
 *
 * Changes are recorded in memory at once (state_put, state_del) and reach
 * the file together at the next state_commit: one write and one fdatasync
 * for however many changes came in since, which is what lets the daemon
 * answer a burst of spawns with one disk flush (group commit).
 */
#ifndef DMX_CMD_STATE_H
#define DMX_CMD_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "ctab.h"
#include "journal.h"

/* The journal is compacted when it would grow past twice the bytes of the
 * live records plus this much: a small state is not rewritten on every
 * change, and the rewrites of a big one cost O(1) per change on average. */
#define STATE_COMPACT_SLACK (64u * 1024)

struct state {
	const char *path;     /* NULL: in memory only */
	struct ctab tab;      /* key -> record, in spawn order */
	struct journal j;
	uint8_t *pend;        /* records since the last commit, file format */
	size_t pend_len, pend_cap;
	size_t live_bytes;    /* what a rewrite would write, header included */
	size_t compactions;   /* rewrites done by state_commit (for tests) */
};

/* What state_load found, for its log line. */
struct state_load_info {
	int version;          /* of the file read: 1 or 2 */
	size_t records;       /* records applied */
	size_t dropped;       /* bytes of a torn tail dropped (0: none) */
	size_t at;            /* offset of the tail dropped, or of the damage */
};

int state_init(struct state *s, const char *path);
/* Frees every record, wiping the tokens; closes the file. */
void state_deinit(struct state *s);
/* Read the file into memory (records replace those with the same key).
 * -ENOENT if there is none; -EINVAL/-ELOOP/-EFBIG (with *why) for a file
 * that is not a regular one or too big; -EBADMSG (with *why and info->at)
 * if it is not a state file or is damaged before its tail: nothing is loaded
 * then. A torn tail is dropped: info->dropped says how much (and *why why). */
int state_load(struct state *s, const char **why, struct state_load_info *info);
/* Remember req (a SPAWN), replacing key's previous record. */
int state_put(struct state *s, const struct ctl_request *req);
/* Forget key: 0, or -ENOENT if there was nothing to forget. */
int state_del(struct state *s, const char *key);
size_t state_count(const struct state *s);
/* Something is waiting for state_commit: records, or a rewrite after a
 * failed write. */
bool state_pending(const struct state *s);
/* Make every change since the last commit durable: append them and
 * fdatasync, or rewrite the file when it is due for compaction or an
 * earlier write failed. 0 or -errno; on failure the changes stay in memory
 * and the next commit rewrites the whole file. No path: 0. */
int state_commit(struct state *s);
/* Rewrite the file from memory now (start-up, after a takeover). */
int state_save(struct state *s);
/* Stop writing for good: the new daemon of a takeover owns the file. */
void state_detach(struct state *s);
/* Call fn for each record in spawn order, decoded into a scratch request
 * (wiped after); stops at fn's first non-zero return and returns it. */
int state_each(const struct state *s, int (*fn)(void *ud, struct ctl_request *req), void *ud);
/* The encoded frame of key's record, or NULL. */
const void *state_frame(const struct state *s, const char *key, size_t *len);

#endif
