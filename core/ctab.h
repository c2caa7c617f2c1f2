/* core/ctab.h: the container table of one ring, keyed by the key's 64-bit hash.
 * The socket path is derived from the hash alone, so a hash names at most one
 * container; the item keeps the key so a colliding key is told apart (-EEXIST).
 * Open addressing with linear probing and backward-shift deletion. Not
 * thread-safe: each ring owns its table. Items are embedded by the caller.
 */
#ifndef DMX_CORE_CTAB_H
#define DMX_CORE_CTAB_H

#include <stddef.h>
#include <stdint.h>

struct ctab_item {
	uint64_t hash;
	const char *key;      /* owned by the embedding object */
	size_t keylen;
	/* Set by ctab_insert: the insertion order, for walks that pause
	 * (ctab_after). serial grows by one per insert and is never 0. */
	uint64_t serial;
	struct ctab_item *prev, *next;
};

struct ctab {
	struct ctab_item **slots;
	size_t mask;          /* capacity - 1, capacity a power of two */
	size_t count;
	struct ctab_item *first, *last;   /* insertion order, serials increasing */
	uint64_t serial;      /* of the last insert */
};

int ctab_init(struct ctab *t, size_t hint);
void ctab_deinit(struct ctab *t);

/* 0 and *out when key is present; -ENOENT when its hash is free; -EEXIST when
 * another key holds the hash (with *out set to that item). */
int ctab_lookup(const struct ctab *t, uint64_t hash, const char *key, size_t keylen,
		struct ctab_item **out);

/* -EEXIST if the hash is taken, -ENOMEM if the table cannot grow. */
int ctab_insert(struct ctab *t, struct ctab_item *item);

/* Removes and returns the item with this hash, NULL if none. */
struct ctab_item *ctab_remove(struct ctab *t, uint64_t hash);

/* Iteration: *pos starts at 0; returns NULL at the end. The table must not
 * change during an iteration. */
struct ctab_item *ctab_next(const struct ctab *t, size_t *pos);

/* A walk in insertion order that may pause while the table changes: the
 * first item inserted after the one that was (serial, hash) when the walk
 * paused, or the first item for serial 0; NULL at the end (follow ->next
 * from there while the table does not change). Every item present during
 * the whole walk is met exactly once; items inserted or removed meanwhile
 * may or may not be. O(1) while the item the walk paused on is still in the
 * table, else O(count) once. */
struct ctab_item *ctab_after(const struct ctab *t, uint64_t serial, uint64_t hash);

#endif
