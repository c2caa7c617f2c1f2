/* tests/ring_secret.c: tokens stay out of core dumps. Through the public API:
 * a process that spawned a container with a known token is dumped with gdb's
 * gcore (which honours MADV_DONTDUMP, as the kernel's dumper does) and the
 * core must not contain the token; without gdb, every copy of the token in
 * the process' memory must lie in a mapping marked "dd" in /proc/self/smaps.
 * Then the arena itself (ring/secret.c): reuse, wiping, sizes.
 * The test keeps the token only XOR-masked, so its own copy never counts.
 * Under ASan the two whole-memory tests are skipped: its shadow and
 * allocator reserve terabytes of address space, which a dump or a scan
 * walks for minutes (a core of 6.6 TB, 76 GB on disk, was seen).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "dockmux.h"
#include "secret.h"

#define MASK 0x5a
#define TOKEN_LEN 40
/* A plain build's core is ~200 MB: gcore may write at most this. */
#define CORE_MAX (2ul << 30)

#if defined(__SANITIZE_ADDRESS__)
/* A skipped test does not get the suite's .fini: clean up first. */
#define SKIP_UNDER_ASAN()                                                           \
	do {                                                                        \
		fx_teardown();                                                      \
		cr_skip_test("a whole-memory check under ASan takes minutes");      \
	} while (0)
#else
#define SKIP_UNDER_ASAN() ((void)0)
#endif

static void suite_init(void)
{
	fx_setup("dmx-secret");
}

TestSuite(secret, .init = suite_init, .fini = fx_teardown, .timeout = 120);

/* A random token, masked: masked[i] ^ MASK is the token. */
static void token_masked(char masked[TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[TOKEN_LEN];

	cr_assert_eq(getrandom(rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
	for (int i = 0; i < TOKEN_LEN; i++)
		masked[i] = (char)(hex[rnd[i] & 15] ^ MASK);
	masked[TOKEN_LEN] = (char)MASK;   /* the NUL, masked */
	explicit_bzero(rnd, sizeof(rnd));
}

/* Spawn key with the token whose masked form is given; no plain copy stays
 * in this test's memory afterwards. */
static void spawn_masked(const char *key, const char masked[TOKEN_LEN + 1])
{
	char tok[TOKEN_LEN + 1], path[DMX_PATH_MAX];
	int ret;

	for (int i = 0; i <= TOKEN_LEN; i++)
		tok[i] = (char)(masked[i] ^ MASK);
	ret = dmx_spawn(fx.d, key, tok, path, sizeof(path));
	explicit_bzero(tok, sizeof(tok));
	cr_assert_eq(ret, 0, "spawn: %s", dmx_strerror(ret));
}

/* Is the token (given masked) anywhere in [p, p + len)? buf is scratch of len bytes. */
static bool holds_token(const char *p, size_t len, const char masked[TOKEN_LEN + 1], char *buf)
{
	bool found;

	if (!buf || !p)
		return false;   /* (GCC cannot see that cr_assert does not return) */
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(p[i] ^ MASK);
	found = memmem(buf, len, masked, TOKEN_LEN) != NULL;
	explicit_bzero(buf, len);
	return found;
}

static const char *find_gcore(void)
{
	static const char *const where[] = { "/usr/bin/gcore", "/usr/local/bin/gcore" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

Test(secret, a_core_dump_of_the_process_does_not_hold_the_token)
{
	char masked[TOKEN_LEN + 1], core[200], pid[32], marker[64], mmarker[64];
	const char *gcore = find_gcore();
	struct stat st;
	char *heap, *map, *buf;
	pid_t child;
	int status, fd;
	size_t mlen;

	SKIP_UNDER_ASAN();
	if (!gcore) {
		fx_teardown();
		cr_skip_test("gdb's gcore is not installed");
	}
	fx_open();
	token_masked(masked);
	spawn_masked("dumped", masked);
	/* A marker on the ordinary heap: the dump must have it, or the check
	 * below would pass on an empty core. Kept masked too until placed. */
	snprintf(mmarker, sizeof(mmarker), "dmx-core-marker-%ld", (long)getpid());
	mlen = strlen(mmarker);
	heap = malloc(mlen + 1);
	cr_assert_not_null(heap);
	memcpy(heap, mmarker, mlen + 1);
	for (size_t i = 0; i < mlen; i++)
		mmarker[i] = (char)(mmarker[i] ^ MASK);

	snprintf(core, sizeof(core), "%s/core", fx.dir);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct rlimit fsize = { .rlim_cur = CORE_MAX, .rlim_max = CORE_MAX };
		int null = open("/dev/null", O_WRONLY);

		/* Never fill the disk, whatever the process looks like. */
		setrlimit(RLIMIT_FSIZE, &fsize);
		dup2(null, 1);
		dup2(null, 2);
		execl(gcore, "gcore", "-o", core, pid, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	free(heap);
	snprintf(core + strlen(core), sizeof(core) - strlen(core), ".%s", pid);
	/* Open, then unlink at once: the file goes whatever happens next. */
	fd = open(core, O_RDONLY | O_CLOEXEC);
	unlink(core);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gcore failed: %#x", status);
	cr_assert_geq(fd, 0, "%s: %s", core, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	close(fd);
	buf = malloc(1 << 20);
	cr_assert_not_null(buf);
	bool has_token = false, has_marker = false;

	for (off_t off = 0; off < st.st_size; off += (1 << 20) - 64) {
		size_t n = (size_t)(st.st_size - off) < (1u << 20) ? (size_t)(st.st_size - off)
								   : (1u << 20);

		has_token |= holds_token(map + off, n, masked, buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(map[off + i] ^ MASK);
		has_marker |= memmem(buf, n, mmarker, mlen) != NULL;
		if (n < (1u << 20))
			break;
	}
	free(buf);
	munmap(map, (size_t)st.st_size);
	snprintf(marker, sizeof(marker), "%zu bytes of core", (size_t)st.st_size);
	cr_assert(has_marker, "the heap marker is not in the core (%s): the check means nothing",
		  marker);
	cr_assert(!has_token, "the token is in the core dump (%s)", marker);
}

/* One mapping of /proc/self/smaps. */
struct mapping {
	unsigned long start, end;
	bool readable, dontdump;
	char name[64];
};

/* Every readable mapping, with its VmFlags' "dd". Returns how many. */
static size_t read_smaps(struct mapping *m, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	size_t n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8], name[64] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %63s", &a, &b, perms, name) >= 3 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (n == cap)
				break;
			m[n].start = a;
			m[n].end = b;
			m[n].readable = perms[0] == 'r';
			m[n].dontdump = false;
			snprintf(m[n].name, sizeof(m[n].name), "%s", name);
			n++;
		} else if (n > 0 && strncmp(line, "VmFlags:", 8) == 0) {
			m[n - 1].dontdump = strstr(line, " dd") != NULL;
		}
	}
	fclose(f);
	return n;
}

Test(secret, every_copy_of_the_token_in_memory_is_in_a_dontdump_mapping)
{
	static struct mapping maps[4096];
	char masked[TOKEN_LEN + 1];
	const size_t chunk = 1 << 20;
	unsigned copies = 0;
	size_t n;
	char *buf, *scratch;
	int fd;

	SKIP_UNDER_ASAN();
	fx_open();
	token_masked(masked);
	spawn_masked("scanned", masked);
	/* Scratch outside the heap, skipped below: it holds what was read. */
	buf = mmap(NULL, 2 * chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	scratch = buf + chunk;
	n = read_smaps(maps, sizeof(maps) / sizeof(maps[0]));
	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < n; i++) {
		struct mapping *m = &maps[i];

		if (!m->readable || (m->start <= (unsigned long)buf && (unsigned long)buf < m->end) ||
		    strcmp(m->name, "[vvar]") == 0 || strcmp(m->name, "[vsyscall]") == 0)
			continue;
		/* Overlapping reads so a copy across a chunk boundary is seen. */
		for (unsigned long at = m->start; at < m->end; at += chunk - TOKEN_LEN) {
			size_t want = m->end - at < chunk ? m->end - at : chunk;
			ssize_t got = pread(fd, buf, want, (off_t)at);

			if (got <= 0)
				break;
			if (holds_token(buf, (size_t)got, masked, scratch)) {
				copies++;
				cr_expect(m->dontdump, "a copy of the token at %#lx in %lx-%lx %s "
					  "(no dd in VmFlags)", at, m->start, m->end, m->name);
			}
			explicit_bzero(buf, (size_t)got);
			if ((size_t)got < want || want < chunk)
				break;
		}
	}
	close(fd);
	munmap(buf, 2 * chunk);
	cr_assert_gt(copies, 0, "the token line was not found at all: the scan means nothing");
}

/* ---- the arena itself ---- */

Test(secret, slots_are_reused_wiped_and_sized_by_class)
{
	struct secret_arena a;
	char *p, *q, *big;

	secret_arena_init(&a);
	p = secret_alloc(&a, 40);
	cr_assert_not_null(p);
	memset(p, 'x', 40);
	secret_free(&a, p, 40);
	/* past the free list's link in its first bytes */
	for (size_t i = sizeof(void *); i < 64; i++)
		cr_assert_eq(p[i], 0, "byte %zu of a freed slot is not wiped", i);
	q = secret_alloc(&a, 64);
	cr_assert_eq(q, p, "the 64-byte slot is reused");
	for (size_t i = 0; i < 64; i++)
		cr_assert_eq(q[i], 0, "a reused slot is handed out zeroed");
	big = secret_alloc(&a, 4096 + 128 + 128 + 5);   /* the longest token line */
	cr_assert_not_null(big);
	memset(big, 'y', 4357);
	cr_assert_null(secret_alloc(&a, 8193), "more than 8 KiB is refused");
	cr_assert_null(secret_alloc(&a, 0));
	secret_free(&a, NULL, 10);
	secret_free(&a, q, 64);
	secret_free(&a, big, 4357);
	secret_arena_deinit(&a);
}

Test(secret, many_slots_span_chunks_and_all_come_back)
{
	struct secret_arena a;
	static char *slots[5000];

	secret_arena_init(&a);
	for (int i = 0; i < 5000; i++) {
		slots[i] = secret_alloc(&a, (size_t)(1 + i % 300));
		cr_assert_not_null(slots[i]);
		memset(slots[i], 'z', (size_t)(1 + i % 300));
	}
	for (int i = 0; i < 5000; i++)
		for (int j = i + 1; j < i + 4 && j < 5000; j++)
			cr_assert_neq(slots[i], slots[j]);
	for (int i = 0; i < 5000; i++)
		secret_free(&a, slots[i], (size_t)(1 + i % 300));
	secret_arena_deinit(&a);
}
