/* core/ctab.c: per-ring container table (see ctab.h). */
#include "ctab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Fibonacci hashing: a ring only holds hashes with one residue modulo the
 * ring count, so the low bits are not uniform; the multiply mixes all bits. */
static size_t ctab_home(const struct ctab *t, uint64_t hash)
{
	return (size_t)((hash * 0x9E3779B97F4A7C15ull) >> 32) & t->mask;
}

int ctab_init(struct ctab *t, size_t hint)
{
	size_t cap = 16;

	while (cap < hint * 2)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	t->count = 0;
	t->first = t->last = NULL;
	t->serial = 0;
	return 0;
}

void ctab_deinit(struct ctab *t)
{
	if (!t)
		return;
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
	t->first = t->last = NULL;
}

static size_t ctab_find_slot(const struct ctab *t, uint64_t hash)
{
	size_t i = ctab_home(t, hash);

	while (t->slots[i] && t->slots[i]->hash != hash)
		i = (i + 1) & t->mask;
	return i;
}

int ctab_lookup(const struct ctab *t, uint64_t hash, const char *key, size_t keylen,
		struct ctab_item **out)
{
	struct ctab_item *it = t->slots[ctab_find_slot(t, hash)];

	if (!it)
		return -ENOENT;
	*out = it;
	if (it->keylen != keylen || memcmp(it->key, key, keylen) != 0)
		return -EEXIST;
	return 0;
}

static int ctab_grow(struct ctab *t)
{
	struct ctab old = *t;
	size_t i;

	t->slots = calloc((old.mask + 1) * 2, sizeof(*t->slots));
	if (!t->slots) {
		*t = old;
		return -ENOMEM;
	}
	t->mask = old.mask * 2 + 1;
	for (i = 0; i <= old.mask; i++)
		if (old.slots[i])
			t->slots[ctab_find_slot(t, old.slots[i]->hash)] = old.slots[i];
	free(old.slots);
	return 0;
}

int ctab_insert(struct ctab *t, struct ctab_item *item)
{
	size_t i;
	int ret;

	/* Keep the load factor under 1/2 so probes stay short. */
	if ((t->count + 1) * 2 > t->mask + 1) {
		ret = ctab_grow(t);
		if (ret < 0)
			return ret;
	}
	i = ctab_find_slot(t, item->hash);
	if (t->slots[i])
		return -EEXIST;
	t->slots[i] = item;
	t->count++;
	item->serial = ++t->serial;
	item->next = NULL;
	item->prev = t->last;
	if (t->last)
		t->last->next = item;
	else
		t->first = item;
	t->last = item;
	return 0;
}

struct ctab_item *ctab_remove(struct ctab *t, uint64_t hash)
{
	size_t i = ctab_find_slot(t, hash), j, home;
	struct ctab_item *it = t->slots[i];

	if (!it)
		return NULL;
	t->slots[i] = NULL;
	t->count--;
	if (it->prev)
		it->prev->next = it->next;
	else
		t->first = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		t->last = it->prev;
	it->prev = it->next = NULL;
	/* Backward-shift: move later members of the probe run into the hole when
	 * the hole lies between their home slot and where they sit. */
	for (j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
		home = ctab_home(t, t->slots[j]->hash);
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	return it;
}

struct ctab_item *ctab_next(const struct ctab *t, size_t *pos)
{
	while (*pos <= t->mask) {
		struct ctab_item *it = t->slots[(*pos)++];

		if (it)
			return it;
	}
	return NULL;
}

struct ctab_item *ctab_after(const struct ctab *t, uint64_t serial, uint64_t hash)
{
	struct ctab_item *it;

	if (serial == 0)
		return t->first;
	it = t->slots[ctab_find_slot(t, hash)];
	if (it && it->serial == serial)
		return it->next;
	/* The item we paused on is gone: the list is in serial order, so the
	 * walk resumes at the first item inserted after it. */
	for (it = t->first; it && it->serial <= serial; it = it->next)
		;
	return it;
}
