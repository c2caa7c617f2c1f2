/* bench/procstat.c: see procstat.h. Scans /proc once per call to find the
 * descendants of a pid; cheap enough for a few thousand processes.
 */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct procstat_entry {
	pid_t pid, ppid;
	uint64_t ticks;      /* utime + stime + cutime + cstime */
	int in_tree;
};

static ssize_t procstat_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Fields after the command name, which may itself hold spaces and ')'. */
static int procstat_parse_stat(const char *buf, struct procstat_entry *e)
{
	const char *p = strrchr(buf, ')');
	unsigned long long v[17];
	int field = 0;

	if (!p)
		return -EINVAL;
	p += 2;                              /* ") " -> state */
	p = strchr(p, ' ');                  /* skip state (field 3) */
	while (p && field < 17) {
		char *end;

		v[field++] = strtoull(p + 1, &end, 10);
		p = *end ? end : NULL;
	}
	if (field < 15)
		return -EINVAL;
	/* v[0] = field 4 (ppid); utime..cstime are fields 14..17 = v[10..13]. */
	e->ppid = (pid_t)v[0];
	e->ticks = v[10] + v[11] + v[12] + v[13];
	return 0;
}

static uint64_t procstat_rss_kib(pid_t pid)
{
	char path[64], buf[256];
	unsigned long long size, resident;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if (procstat_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

static uint64_t procstat_pss_kib(pid_t pid)
{
	char path[64], buf[4096];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (procstat_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, "\nPss:");
	return p ? strtoull(p + 5, NULL, 10) : 0;
}

static int procstat_cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct procstat_entry *)a)->pid;
	pid_t y = ((const struct procstat_entry *)b)->pid;

	return (x > y) - (x < y);
}

int procstat_tree(pid_t root, int with_pss, struct procstat *out)
{
	struct procstat_entry *es = NULL;
	size_t n = 0, cap = 0;
	struct procstat res = { 0 };
	uint64_t ticks = 0;
	struct dirent *de;
	DIR *dir;
	int changed, found = 0;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char path[64], buf[1024];
		struct procstat_entry e = { 0 };
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (procstat_read(path, buf, sizeof(buf)) <= 0)
			continue;
		e.pid = (pid_t)pid;
		if (procstat_parse_stat(buf, &e) < 0)
			continue;
		e.in_tree = e.pid == root;
		found |= e.in_tree;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 512;
			struct procstat_entry *nes = realloc(es, ncap * sizeof(*es));

			if (!nes) {
				closedir(dir);
				free(es);
				return -ENOMEM;
			}
			es = nes;
			cap = ncap;
		}
		es[n++] = e;
	}
	closedir(dir);
	if (!found) {
		free(es);
		return -ESRCH;
	}
	/* Mark descendants until nothing changes (trees here are 1-2 levels
	 * deep); parents are found by binary search over the sorted pids. */
	qsort(es, n, sizeof(*es), procstat_cmp_pid);
	do {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			struct procstat_entry key = { .pid = es[i].ppid }, *parent;

			if (es[i].in_tree)
				continue;
			parent = bsearch(&key, es, n, sizeof(*es), procstat_cmp_pid);
			if (parent && parent->in_tree) {
				es[i].in_tree = 1;
				changed = 1;
			}
		}
	} while (changed);
	for (size_t i = 0; i < n; i++) {
		if (!es[i].in_tree)
			continue;
		res.nprocs++;
		ticks += es[i].ticks;
		res.rss_kib += procstat_rss_kib(es[i].pid);
		if (with_pss)
			res.pss_kib += procstat_pss_kib(es[i].pid);
	}
	free(es);
	res.cpu_s = (double)ticks / (double)sysconf(_SC_CLK_TCK);
	*out = res;
	return 0;
}

double procstat_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

uint64_t procstat_self_rss_kib(void)
{
	char buf[4096];
	const char *p;

	if (procstat_read("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, "\nVmRSS:");
	return p ? strtoull(p + 7, NULL, 10) : 0;
}
