/* ring/secret.c: an arena for the token lines (see secret.h). Memory comes
 * from mmap in 64 KiB runs marked MADV_DONTDUMP, so neither the kernel's core
 * dump nor gdb's gcore writes it out, and MADV_WIPEONFORK, so a child forked
 * by the program sees zeros. Each run serves one size class (64 B .. 8 KiB,
 * powers of two); freed slots are wiped and reused. Runs go back to the
 * kernel only with the arena: a ring's peak, not a leak. Not a general
 * allocator, and nothing here keeps secrets out of swap (no mlock).
 */
#include "secret.h"

#include <string.h>
#include <sys/mman.h>

#define SECRET_RUN (64 * 1024)

/* The first slot of a run holds this: the list of runs. */
struct secret_chunk {
	struct secret_chunk *next;
};

struct secret_slot {
	struct secret_slot *next;
};

void secret_arena_init(struct secret_arena *a)
{
	memset(a, 0, sizeof(*a));
}

void secret_arena_deinit(struct secret_arena *a)
{
	while (a->chunks) {
		struct secret_chunk *c = a->chunks;

		a->chunks = c->next;
		/* munmap hands the pages back as they are: wipe them first. */
		explicit_bzero(c, SECRET_RUN);
		munmap(c, SECRET_RUN);
	}
	memset(a->free, 0, sizeof(a->free));
}

static int secret_class(size_t len)
{
	for (int c = 0; c < SECRET_CLASSES; c++)
		if (len <= (size_t)64 << c)
			return c;
	return -1;
}

/* A new run for class c, carved into slots on its free list. */
static int secret_grow(struct secret_arena *a, int c)
{
	size_t size = (size_t)64 << c;
	struct secret_chunk *run;

	run = mmap(NULL, SECRET_RUN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (run == MAP_FAILED)
		return -1;
	/* Both since Linux 3.4 / 4.14; on an older kernel the run is an
	 * ordinary one and everything else still works. */
	(void)madvise(run, SECRET_RUN, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
	(void)madvise(run, SECRET_RUN, MADV_WIPEONFORK);
#endif
	run->next = a->chunks;
	a->chunks = run;
	for (size_t off = SECRET_RUN - size; off >= size; off -= size) {
		struct secret_slot *s = (struct secret_slot *)((char *)run + off);

		s->next = a->free[c];
		a->free[c] = s;
	}
	return 0;
}

void *secret_alloc(struct secret_arena *a, size_t len)
{
	int c = secret_class(len);
	struct secret_slot *s;

	if (len == 0 || c < 0)
		return NULL;
	if (!a->free[c] && secret_grow(a, c) < 0)
		return NULL;
	s = a->free[c];
	a->free[c] = s->next;
	s->next = NULL;   /* slots are handed out all zero */
	return s;
}

void secret_free(struct secret_arena *a, void *p, size_t len)
{
	int c = secret_class(len);
	struct secret_slot *s = p;

	if (!p || c < 0)
		return;
	explicit_bzero(p, (size_t)64 << c);
	s->next = a->free[c];
	a->free[c] = s;
}
