/* tests/core_ctab.c: the per-ring container table. */
#include <criterion/criterion.h>
#include <errno.h>
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
