/* tests/core_ctab.c: the per-ring container table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctab.h"

static struct ctab_item item_make(uint64_t hash, const char *key)
{
	return (struct ctab_item){ .hash = hash, .key = key, .keylen = strlen(key) };
}

Test(ctab, insert_lookup_remove)
{
	struct ctab t;
	struct ctab_item a = item_make(1, "a"), b = item_make(2, "b"), *out = NULL;

	cr_assert_eq(ctab_init(&t, 0), 0);
	cr_assert_eq(ctab_lookup(&t, 1, "a", 1, &out), -ENOENT);
	cr_assert_eq(ctab_insert(&t, &a), 0);
	cr_assert_eq(ctab_insert(&t, &b), 0);
	cr_assert_eq(t.count, 2);
	cr_assert_eq(ctab_lookup(&t, 1, "a", 1, &out), 0);
	cr_assert_eq(out, &a);
	cr_assert_eq(ctab_lookup(&t, 2, "b", 1, &out), 0);
	cr_assert_eq(out, &b);
	cr_assert_eq(ctab_remove(&t, 1), &a);
	cr_assert_null(ctab_remove(&t, 1));
	cr_assert_eq(ctab_lookup(&t, 1, "a", 1, &out), -ENOENT);
	cr_assert_eq(ctab_lookup(&t, 2, "b", 1, &out), 0);
	cr_assert_eq(t.count, 1);
	ctab_deinit(&t);
}

Test(ctab, colliding_hash_with_other_key_is_eexist)
{
	struct ctab t;
	struct ctab_item a = item_make(42, "first"), b = item_make(42, "second"), *out = NULL;

	cr_assert_eq(ctab_init(&t, 0), 0);
	cr_assert_eq(ctab_insert(&t, &a), 0);
	cr_assert_eq(ctab_lookup(&t, 42, "second", 6, &out), -EEXIST);
	cr_assert_eq(out, &a, "the holder of the hash is reported");
	cr_assert_eq(ctab_insert(&t, &b), -EEXIST);
	/* Same hash, key a prefix of the holder's: still a different key. */
	cr_assert_eq(ctab_lookup(&t, 42, "firs", 4, &out), -EEXIST);
	cr_assert_eq(t.count, 1);
	ctab_deinit(&t);
}

/* Many items whose hashes share their low bits (as one ring's do), removed in
 * an interleaved order: every survivor must stay findable (backward shift). */
Test(ctab, grows_and_survives_interleaved_removal)
{
	enum { N = 5000 };
	struct ctab t;
	struct ctab_item *items = calloc(N, sizeof(*items)), *out;
	char (*keys)[16] = calloc(N, 16);

	cr_assert_eq(ctab_init(&t, 0), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], 16, "k%d", i);
		items[i] = item_make((uint64_t)i * 4 + 2, keys[i]);
		cr_assert_eq(ctab_insert(&t, &items[i]), 0);
	}
	cr_assert_eq(t.count, N);
	for (int i = 0; i < N; i += 3)
		cr_assert_eq(ctab_remove(&t, items[i].hash), &items[i]);
	for (int i = 0; i < N; i++) {
		int ret = ctab_lookup(&t, items[i].hash, keys[i], strlen(keys[i]), &out);

		if (i % 3 == 0)
			cr_assert_eq(ret, -ENOENT, "removed %d", i);
		else
			cr_assert(ret == 0 && out == &items[i], "kept %d", i);
	}
	ctab_deinit(&t);
	free(items);
	free(keys);
}

Test(ctab, iteration_visits_each_item_once)
{
	struct ctab t;
	struct ctab_item it[10];
	char keys[10][4];
	unsigned seen = 0;
	size_t pos = 0;
	struct ctab_item *p;

	cr_assert_eq(ctab_init(&t, 4), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(keys[i], 4, "%d", i);
		it[i] = item_make(0x1000u + (unsigned)i, keys[i]);
		cr_assert_eq(ctab_insert(&t, &it[i]), 0);
	}
	while ((p = ctab_next(&t, &pos))) {
		unsigned idx = (unsigned)(p - it);

		cr_assert_lt(idx, 10);
		cr_assert_eq(seen & (1u << idx), 0, "visited twice");
		seen |= 1u << idx;
	}
	cr_assert_eq(seen, 0x3ff);
	ctab_deinit(&t);
}

/* The paused walk (ctab_after): a pause after every item, random inserts and
 * removals at each pause (the item paused on included), many rounds. Every
 * item present from the walk's start to its end is met exactly once, and no
 * item that stayed is met twice. */
Test(ctab, paused_walk_meets_every_survivor_exactly_once)
{
	enum { N = 3000, ROUNDS = 20 };
	struct ctab_item *items = calloc(N, sizeof(*items));
	char (*keys)[16] = calloc(N, 16);
	bool *in = calloc(N, 1), *start = calloc(N, 1), *removed = calloc(N, 1);
	unsigned *seen = calloc(N, sizeof(unsigned));
	unsigned seed = 7;
	struct ctab t;

	cr_assert_eq(ctab_init(&t, 0), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], 16, "k%zu", i);
		/* Shared low bits, like one ring's hashes. */
		items[i] = item_make(((uint64_t)i << 8) * 3 + 1, keys[i]);
	}
	for (int round = 0; round < ROUNDS; round++) {
		struct ctab_item *it;
		uint64_t serial = 0, hash = 0;
		size_t steps = 0;

		for (size_t i = 0; i < N; i++)
			if (!in[i] && rand_r(&seed) % 2) {
				cr_assert_eq(ctab_insert(&t, &items[i]), 0);
				in[i] = true;
			}
		for (size_t i = 0; i < N; i++) {
			start[i] = in[i];
			removed[i] = false;
			seen[i] = 0;
		}
		while ((it = ctab_after(&t, serial, hash))) {
			size_t i = (size_t)(it - items);

			seen[i]++;
			serial = it->serial;
			hash = it->hash;
			/* The table changes at every pause (for a while: items
			 * inserted meanwhile are met too, so a walk that always
			 * inserts would never end). */
			for (int k = 0; k < 3 && steps++ < 3 * N; k++) {
				size_t j = (size_t)rand_r(&seed) % N;

				if (in[j]) {
					cr_assert_eq(ctab_remove(&t, items[j].hash), &items[j]);
					in[j] = false;
					removed[j] = true;
				} else {
					cr_assert_eq(ctab_insert(&t, &items[j]), 0);
					in[j] = true;
				}
			}
		}
		/* A removed item inserted again is a new item (a new serial):
		 * it may be met once per insertion. */
		for (size_t i = 0; i < N; i++) {
			if (!removed[i])
				cr_assert_leq(seen[i], 1, "item %zu met %u times", i, seen[i]);
			if (start[i] && !removed[i])
				cr_assert_eq(seen[i], 1, "survivor %zu never met", i);
		}
	}
	ctab_deinit(&t);
	free(items);
	free(keys);
	free(in);
	free(start);
	free(removed);
	free(seen);
}

Test(ctab, paused_walk_is_insertion_order_and_survives_growth)
{
	enum { N = 100 };
	struct ctab_item items[N], *it;
	char keys[N][8];
	struct ctab t;
	size_t n = 0;

	cr_assert_eq(ctab_init(&t, 0), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], 8, "%zu", i);
		items[i] = item_make(1000 - i, keys[i]);
		cr_assert_eq(ctab_insert(&t, &items[i]), 0);   /* grows several times */
	}
	for (it = ctab_after(&t, 0, 0); it; it = ctab_after(&t, it->serial, it->hash))
		cr_assert_eq(it, &items[n++], "out of insertion order at %zu", n);
	cr_assert_eq(n, N);
	/* Re-inserted: a new serial, so it goes to the end. */
	cr_assert_eq(ctab_remove(&t, items[0].hash), &items[0]);
	cr_assert_eq(ctab_insert(&t, &items[0]), 0);
	cr_assert_eq(t.last, &items[0]);
	cr_assert_eq(t.first, &items[1]);
	ctab_deinit(&t);
}
