/* bench/hist.h: a log-linear latency histogram in the spirit of HdrHistogram:
 * 64 linear sub-buckets per power of two, so any recorded value is reported
 * within 1/64 (1.6%) of itself, from 1 ns up to 2^44 ns (4.9 hours), in a
 * fixed 18 KiB array. No allocation, no locking: one per thread, merged after.
 */
#ifndef DMX_BENCH_HIST_H
#define DMX_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 44
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t buckets[HIST_BUCKETS];
};

static inline void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Values below 64 get one bucket each; above, bucket (exponent, top 6 bits). */
static inline unsigned hist_index(uint64_t v)
{
	unsigned exp;

	if (v < HIST_SUB)
		return (unsigned)v;
	exp = 63u - (unsigned)__builtin_clzll(v);
	if (exp >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	return (exp - HIST_SUB_BITS + 1) * HIST_SUB +
	       (unsigned)((v >> (exp - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The largest value that lands in bucket i. */
static inline uint64_t hist_bucket_high(unsigned i)
{
	unsigned row = i / HIST_SUB, sub = i % HIST_SUB, exp;

	if (row == 0)
		return i;
	exp = row + HIST_SUB_BITS - 1;
	return ((uint64_t)(HIST_SUB + sub) << (exp - HIST_SUB_BITS)) +
	       ((uint64_t)1 << (exp - HIST_SUB_BITS)) - 1;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static inline void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}

/* Value at quantile q (0..1): the high edge of the bucket that holds it, capped at max. */
static inline uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t hi = hist_bucket_high(i);

			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

#endif
