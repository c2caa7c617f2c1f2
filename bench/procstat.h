/* bench/procstat.h: CPU time and memory of a process tree, read from /proc.
 * A proxy may be one process (dockmux, haproxy), a master + workers (nginx)
 * or one child per connection (socat), so every figure covers the root and
 * all its live descendants, plus the CPU of children it already reaped.
 * Linux only; 10 ms resolution (clock ticks) for CPU.
 */
#ifndef DMX_BENCH_PROCSTAT_H
#define DMX_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct procstat {
	double cpu_s;        /* utime + stime (+ reaped children) over the tree */
	uint64_t rss_kib;    /* sum of resident set sizes */
	uint64_t pss_kib;    /* sum of proportional set sizes (0 unless asked) */
	unsigned nprocs;
};

/* Fill out for root and its descendants; with_pss reads smaps_rollup too
 * (slower). Returns 0, or -ESRCH when root is gone. */
int procstat_tree(pid_t root, int with_pss, struct procstat *out);

/* utime + stime of this process, all threads, microsecond resolution. */
double procstat_self_cpu(void);

/* VmRSS of this process in KiB (0 if unreadable). */
uint64_t procstat_self_rss_kib(void);

#endif
