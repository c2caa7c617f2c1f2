/* ring/secret.h: memory for secrets (token lines) that stays out of core
 * dumps and forked children (secret.c). One arena per ring, used by that
 * ring's thread only: no locks. Internal to ring/.
 */
#ifndef DMX_RING_SECRET_H
#define DMX_RING_SECRET_H

#include <stddef.h>

#define SECRET_CLASSES 8          /* slots of 64 B << 0..7: up to 8 KiB */
#define SECRET_MAX (64u << (SECRET_CLASSES - 1))

struct secret_chunk;
struct secret_slot;

/* All-zero is an empty arena. */
struct secret_arena {
	struct secret_chunk *chunks;               /* every page run, for deinit */
	struct secret_slot *free[SECRET_CLASSES];  /* wiped slots per size class */
};

void secret_arena_init(struct secret_arena *a);
/* Wipes and unmaps everything, slots still allocated too. */
void secret_arena_deinit(struct secret_arena *a);
/* len (1..SECRET_MAX) bytes of zeroed memory, or NULL (too big, ENOMEM). */
void *secret_alloc(struct secret_arena *a, size_t len);
/* Wipe p's slot and keep it for reuse; len as given to secret_alloc. NULL ok. */
void secret_free(struct secret_arena *a, void *p, size_t len);

#endif
