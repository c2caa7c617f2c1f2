/* core/pathmatch.c: path patterns as bit-parallel automata (the shift-and
 * idea of Baeza-Yates and Gonnet, over segments instead of bytes). State bit
 * j of a pattern means "its first j positions matched the segments so far".
 * One path segment moves every live bit at once: a literal or '*' position
 * that accepts the segment passes its bit on, a '**' keeps its own and lets
 * it through without consuming (epsilon). No backtracking, so 64 patterns of
 * 32 segments against a 256-segment path cost at most 64 * 256 word steps.
 * The literal segments of all patterns sit in one sorted table: a path
 * segment is looked up once (binary search, not a hash a client could aim
 * collisions at) and yields, per pattern, the positions it satisfies.
 * Patterns run one after the other, so the first match ends the search and a
 * pattern that can no longer match (no state left) stops costing.
 */
#include "pathmatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One distinct literal and the patterns that use it. */
struct pm_lit {
	uint32_t off;    /* into pool */
	uint16_t len;
	uint16_t first;  /* uses[first .. first + count) */
	uint8_t count;
};

struct pm_use {
	uint8_t pat;
	uint32_t mask;   /* positions of pat that are this literal */
};

/* Pattern i's automaton is one[i], any[i], npos[i]. */
struct pathmatch {
	unsigned npat, nlits;
	uint64_t one[PATHMATCH_MAX_PATTERNS];  /* bit j: position j is '*' */
	uint64_t any[PATHMATCH_MAX_PATTERNS];  /* bit j: position j is '**' (never two in a row) */
	uint8_t npos[PATHMATCH_MAX_PATTERNS];  /* positions once runs of '**' are merged;
	                                        * bit npos of the state: matched */
	struct pm_lit *lits;   /* sorted by (len, bytes) */
	struct pm_use *uses;
	char *pool;
};

/* A literal position while building the table. */
struct pm_entry {
	const char *s;
	uint16_t len;
	uint8_t pat, pos;
};

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int entry_cmp(const void *x, const void *y)
{
	const struct pm_entry *a = x, *b = y;
	int c = bytes_cmp(a->s, a->len, b->s, b->len);

	if (c)
		return c;
	if (a->pat != b->pat)
		return a->pat < b->pat ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static bool seg_is(const struct pathmatch_seg *g, const char *lit)
{
	size_t n = strlen(lit);

	return g->len == n && memcmp(g->s, lit, n) == 0;
}

/* Pattern i into its automaton; its literal positions appended to e. */
static void compile_one(struct pathmatch *m, unsigned i, const struct pathmatch_pattern *p,
			struct pm_entry *e, size_t *ne)
{
	unsigned n = 0;

	for (unsigned k = 0; k < p->nseg; k++) {
		const struct pathmatch_seg *g = &p->seg[k];

		if (seg_is(g, "**")) {
			/* "**" "**" matches what one "**" does. */
			if (n && (m->any[i] >> (n - 1) & 1))
				continue;
			m->any[i] |= UINT64_C(1) << n;
		} else if (seg_is(g, "*")) {
			m->one[i] |= UINT64_C(1) << n;
		} else {
			e[*ne].s = g->s;
			e[*ne].len = g->len;
			e[*ne].pat = (uint8_t)i;
			e[*ne].pos = (uint8_t)n;
			++*ne;
		}
		n++;
	}
	m->npos[i] = (uint8_t)n;
}

int pathmatch_new(const struct pathmatch_pattern *pats, unsigned n, struct pathmatch **out)
{
	struct pm_entry *e = NULL;
	struct pathmatch *m;
	size_t nlit = 0, bytes = 0, ne = 0, o = 0;

	if (!pats || n == 0 || n > PATHMATCH_MAX_PATTERNS || !out)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (pats[i].nseg > PATHMATCH_MAX_SEGS)
			return -EINVAL;
		for (unsigned k = 0; k < pats[i].nseg; k++) {
			nlit++;
			bytes += pats[i].seg[k].len;
		}
	}
	/* One block: the set, its literal table, the uses, the bytes. */
	m = calloc(1, sizeof(*m) + nlit * (sizeof(struct pm_lit) + sizeof(struct pm_use)) + bytes);
	if (nlit)
		e = malloc(nlit * sizeof(*e));
	if (!m || (nlit && !e)) {
		free(m);
		free(e);
		return -ENOMEM;
	}
	m->npat = n;
	m->lits = (struct pm_lit *)(m + 1);
	m->uses = (struct pm_use *)(m->lits + nlit);
	m->pool = (char *)(m->uses + nlit);
	for (unsigned i = 0; i < n; i++)
		compile_one(m, i, &pats[i], e, &ne);
	if (ne)
		qsort(e, ne, sizeof(*e), entry_cmp);
	for (size_t k = 0, nuse = 0; k < ne; k++) {
		struct pm_lit *l = m->nlits ? &m->lits[m->nlits - 1] : NULL;

		if (!l || bytes_cmp(m->pool + l->off, l->len, e[k].s, e[k].len) != 0) {
			l = &m->lits[m->nlits++];
			l->off = (uint32_t)o;
			l->len = e[k].len;
			l->first = (uint16_t)nuse;
			memcpy(m->pool + o, e[k].s, e[k].len);
			o += e[k].len;
		}
		/* Sorted by pattern within a literal: one use per pattern. */
		if (l->count && m->uses[nuse - 1].pat == e[k].pat) {
			m->uses[nuse - 1].mask |= 1u << e[k].pos;
		} else {
			m->uses[nuse].pat = e[k].pat;
			m->uses[nuse++].mask = 1u << e[k].pos;
			l->count++;
		}
	}
	free(e);
	*out = m;
	return 0;
}

void pathmatch_free(struct pathmatch *m)
{
	free(m);
}

int pathmatch_split(const char *path, struct pathmatch_seg *segs, unsigned max)
{
	const char *sp = path + 1, *q;
	int n = 0;

	if (!*sp)
		return 0;
	/* One pass over the bytes: segments are short, a call per segment is not. */
	for (q = sp;; q++) {
		if (*q != '/' && *q)
			continue;
		if ((unsigned)n == max || q - sp > UINT16_MAX)
			return -1;
		segs[n].s = sp;
		segs[n++].len = (uint16_t)(q - sp);
		if (!*q)
			return n;
		sp = q + 1;
	}
}

static int lit_find(const struct pathmatch *m, const struct pathmatch_seg *g)
{
	unsigned lo = 0, hi = m->nlits;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct pm_lit *l = &m->lits[mid];
		int c = bytes_cmp(m->pool + l->off, l->len, g->s, g->len);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int pathmatch_first(const struct pathmatch *m, uint64_t candidates,
		    const struct pathmatch_seg *segs, unsigned nsegs, unsigned long *steps)
{
	/* Segment j's literal's uses are [cur[j], end[j]) (empty: no literal);
	 * sorted by pattern, and patterns run in order, so cur only moves on. */
	uint16_t cur[PATHMATCH_MAX_PATH], end[PATHMATCH_MAX_PATH];
	unsigned long n = 0;
	int found = -1;

	if (!m || nsegs > PATHMATCH_MAX_PATH)
		return -1;
	if (m->npat < 64)
		candidates &= (UINT64_C(1) << m->npat) - 1;
	/* Each segment is looked up once, for every pattern. */
	for (unsigned j = 0; j < nsegs && candidates; j++) {
		int li = lit_find(m, &segs[j]);

		cur[j] = end[j] = 0;
		if (li >= 0) {
			cur[j] = m->lits[li].first;
			end[j] = (uint16_t)(m->lits[li].first + m->lits[li].count);
		}
	}
	/* Pattern by pattern, in order: the first that matches is the answer,
	 * and a pattern stops costing once no state is left. */
	for (uint64_t b = candidates; b && found < 0; b &= b - 1) {
		unsigned r = (unsigned)__builtin_ctzll(b);
		uint64_t one = m->one[r], any = m->any[r];
		/* State 0, closed under the epsilon moves: a live '**' position
		 * also lets its bit through (runs of '**' are merged, so one
		 * shift closes the set). */
		uint64_t st = 1 | (1 & any) << 1;

		for (unsigned j = 0; j < nsegs && st; j++) {
			uint64_t mk = one, x;
			unsigned c = cur[j];

			while (c < end[j] && m->uses[c].pat < r)
				c++;   /* a pattern that was skipped or died early */
			if (c < end[j] && m->uses[c].pat == r)
				mk |= m->uses[c++].mask;
			cur[j] = (uint16_t)c;
			x = (st & mk) << 1 | (st & any);
			st = x | (x & any) << 1;
			n++;
		}
		if (st >> m->npos[r] & 1)
			found = (int)r;
	}
	if (steps)
		*steps += n;
	return found;
}
