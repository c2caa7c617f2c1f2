/* core/pathmatch.h: a compiled set of path patterns (pathmatch.c), the deny
 * rules' matcher behind policy.c. A pattern is a list of segments: a literal
 * matches itself only, "*" exactly one path segment, "**" zero or more. Each
 * pattern becomes a bit-parallel automaton, so matching costs at most one
 * step per path segment per pattern, whatever the patterns look like: no
 * backtracking. Pure: no I/O; only pathmatch_new allocates.
 * Tests: tests/core_pathmatch.c (the module's edges), tests/core_policy.c
 * (whole policies against a reference matcher).
 */
#ifndef DMX_CORE_PATHMATCH_H
#define DMX_CORE_PATHMATCH_H

#include <stddef.h>
#include <stdint.h>

#define PATHMATCH_MAX_PATTERNS 64   /* one bit each in a uint64_t */
#define PATHMATCH_MAX_SEGS 32       /* segments per pattern: states fit a uint64_t */
#define PATHMATCH_MAX_PATH 256      /* segments of a path pathmatch_first reads */

/* A segment: bytes s[0..len), not NUL-terminated. */
struct pathmatch_seg {
	const char *s;
	uint16_t len;
};

struct pathmatch_pattern {
	unsigned nseg;                                  /* 0: only the root "/" */
	struct pathmatch_seg seg[PATHMATCH_MAX_SEGS];
};

struct pathmatch;   /* immutable once built */

/* Compile n patterns (1..PATHMATCH_MAX_PATTERNS, each at most
 * PATHMATCH_MAX_SEGS segments) into *out; their bytes are copied. 0, -EINVAL
 * or -ENOMEM (*out untouched on error). */
int pathmatch_new(const struct pathmatch_pattern *pats, unsigned n, struct pathmatch **out);
void pathmatch_free(struct pathmatch *m);   /* NULL ok */

/* Split a normalised path ("/" or "/a/b": no empty segment) into segs: the
 * count (0 for "/"), or -1 when it has more than max segments or one longer
 * than UINT16_MAX bytes. Segments point into path. */
int pathmatch_split(const char *path, struct pathmatch_seg *segs, unsigned max);

/* The lowest index i with bit i set in candidates whose pattern matches the
 * whole of segs[0..nsegs), or -1 (also when nsegs > PATHMATCH_MAX_PATH).
 * Adds to *steps (if steps) one per segment each candidate read: it reads
 * until it cannot match any more, and none after the first that matches. So
 * at most nsegs * popcount(candidates). */
int pathmatch_first(const struct pathmatch *m, uint64_t candidates,
		    const struct pathmatch_seg *segs, unsigned nsegs, unsigned long *steps);

#endif
