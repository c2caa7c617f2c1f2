/* tests/core_pathmatch.c: the compiled deny-rule matcher (core/pathmatch.c):
 * literal, "*" and "**" segments against split paths, first match by index,
 * the candidate mask, the limits refused at compile time, and the step bound
 * (one step per path segment per candidate pattern, whatever the patterns).
 * tests/core_policy.c drives it through whole policies and a reference
 * matcher; these are the module's own edges.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pathmatch.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* pattern_of(TEXT, P): TEXT split into P's segments, which point into TEXT. */
static void pattern_of(const char *text, struct pathmatch_pattern *p)
{
	int n = pathmatch_split(text, p->seg, PATHMATCH_MAX_SEGS);

	cr_assert(n >= 0, "split %s", text);
	p->nseg = (unsigned)n;
}

static int first_of(const char *const *pats, unsigned npats, const char *path,
		    unsigned long *steps)
{
	struct pathmatch_pattern p[PATHMATCH_MAX_PATTERNS];
	struct pathmatch_seg segs[PATHMATCH_MAX_PATH];
	struct pathmatch *m = NULL;
	int n, r;

	for (unsigned i = 0; i < npats; i++)
		pattern_of(pats[i], &p[i]);
	cr_assert_eq(pathmatch_new(p, npats, &m), 0);
	n = pathmatch_split(path, segs, PATHMATCH_MAX_PATH);
	cr_assert(n >= 0, "split %s", path);
	r = pathmatch_first(m, npats == 64 ? UINT64_MAX : (UINT64_C(1) << npats) - 1, segs,
			    (unsigned)n, steps);
	pathmatch_free(m);
	return r;
}

struct match_case {
	const char *pattern;
	const char *path;
	bool match;
};

static const struct match_case match_cases[] = {
	{ "/", "/", true },
	{ "/", "/a", false },
	{ "/containers/json", "/containers/json", true },
	{ "/containers/json", "/containers/jso", false },
	{ "/containers/json", "/containers/json/x", false },
	{ "/containers/*/exec", "/containers/web/exec", true },
	{ "/containers/*/exec", "/containers/exec", false },
	{ "/containers/*/exec", "/containers/a/b/exec", false },
	{ "/containers/**/exec", "/containers/exec", true },
	{ "/containers/**/exec", "/containers/a/b/c/exec", true },
	{ "/containers/**/exec", "/containers/a/b/c/exec/x", false },
	{ "/**", "/", true },
	{ "/**", "/any/thing/at/all", true },
	{ "/**/b", "/a/b/a/b", true },
	{ "/**/b", "/a/b/a", false },
	{ "/**/**/b", "/b", true },
	{ "/a/**/b/**/c", "/a/x/b/y/z/c", true },
	{ "/a/**/b/**/c", "/a/x/c/y/b", false },
	{ "/*", "/", false },
	{ "/*/*", "/a/b", true },
	/* literals are exact bytes: case matters, "*" inside a segment is literal */
	{ "/Containers/json", "/containers/json", false },
	{ "/con*/json", "/containers/json", false },
	{ "/con*/json", "/con*/json", true },
};

Test(pathmatch, matches_literals_stars_and_double_stars_as_the_table_says)
{
	for (size_t i = 0; i < N_ELEMS(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		const char *pats[] = { c->pattern };
		int r = first_of(pats, 1, c->path, NULL);

		cr_expect_eq(r, c->match ? 0 : -1, "%s vs %s: got %d", c->pattern, c->path, r);
	}
}

Test(pathmatch, answers_the_lowest_matching_index_of_the_candidates)
{
	const char *pats[] = { "/images/**", "/containers/*/kill", "/containers/**", "/**" };
	struct pathmatch_pattern p[4];
	struct pathmatch_seg segs[8];
	struct pathmatch *m = NULL;
	int n;

	cr_assert_eq(first_of(pats, 4, "/containers/web/kill", NULL), 1);
	cr_assert_eq(first_of(pats, 4, "/containers/web/stop", NULL), 2);
	cr_assert_eq(first_of(pats, 4, "/volumes", NULL), 3);
	for (unsigned i = 0; i < 4; i++)
		pattern_of(pats[i], &p[i]);
	cr_assert_eq(pathmatch_new(p, 4, &m), 0);
	n = pathmatch_split("/containers/web/kill", segs, 8);
	cr_assert_eq(n, 3);
	/* a pattern left out of the candidates is never the answer */
	cr_expect_eq(pathmatch_first(m, 0xd, segs, 3, NULL), 2);
	cr_expect_eq(pathmatch_first(m, 0x1, segs, 3, NULL), -1);
	cr_expect_eq(pathmatch_first(m, 0, segs, 3, NULL), -1);
	pathmatch_free(m);
}

Test(pathmatch, refuses_no_patterns_too_many_and_too_long_ones)
{
	static struct pathmatch_pattern p[PATHMATCH_MAX_PATTERNS + 1];
	struct pathmatch *m = (struct pathmatch *)&m;   /* must stay untouched */

	pattern_of("/a", &p[0]);
	for (unsigned i = 1; i <= PATHMATCH_MAX_PATTERNS; i++)
		p[i] = p[0];
	cr_expect_eq(pathmatch_new(p, 0, &m), -EINVAL);
	cr_expect_eq(pathmatch_new(p, PATHMATCH_MAX_PATTERNS + 1, &m), -EINVAL);
	p[0].nseg = PATHMATCH_MAX_SEGS + 1;
	cr_expect_eq(pathmatch_new(p, 1, &m), -EINVAL);
	cr_expect_eq(m, (struct pathmatch *)&m);
	pathmatch_free(NULL);
}

Test(pathmatch, split_counts_segments_and_refuses_more_than_max)
{
	struct pathmatch_seg segs[4];

	cr_expect_eq(pathmatch_split("/", segs, 4), 0);
	cr_expect_eq(pathmatch_split("/a", segs, 4), 1);
	cr_assert_eq(pathmatch_split("/ab/c/d", segs, 4), 3);
	cr_expect_eq(segs[0].len, 2);
	cr_expect(memcmp(segs[0].s, "ab", 2) == 0);
	cr_expect_eq(pathmatch_split("/a/b/c/d", segs, 4), 4);
	cr_expect_eq(pathmatch_split("/a/b/c/d/e", segs, 4), -1);
}

/* The cost bound that replaced ~4 ms of backtracking per request: 64
 * pathological "**" patterns against the longest path read cost at most one
 * step per segment per pattern. */
Test(pathmatch, costs_at_most_one_step_per_segment_per_pattern)
{
	static char path[PATHMATCH_MAX_PATH * 2 + 1];
	const char *pats[PATHMATCH_MAX_PATTERNS];
	unsigned long steps = 0;

	for (unsigned i = 0; i < PATHMATCH_MAX_PATTERNS; i++)
		pats[i] = "/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b";
	for (unsigned i = 0; i < PATHMATCH_MAX_PATH; i++)
		memcpy(path + 2 * i, "/a", 2);
	cr_assert_eq(first_of(pats, PATHMATCH_MAX_PATTERNS, path, &steps), -1);
	cr_expect_leq(steps, (unsigned long)PATHMATCH_MAX_PATH * PATHMATCH_MAX_PATTERNS,
		      "steps %lu", steps);
	cr_expect_gt(steps, 0);
}
