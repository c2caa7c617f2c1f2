/* tests/cmd_state.c: the daemon's state (cmd/state.c): records follow
 * put/del, reach the journal only at a commit (one append for a batch), are
 * compacted when the journal outgrows the live set, read back exactly after a
 * restart, a torn tail is dropped and damage before it refuses the file. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "state.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/dmx-state.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
}

static void teardown(void)
{
	char tmp[160];

	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
}

TestSuite(cmd_state, .init = setup, .fini = teardown);

static struct ctl_request *req_new(const char *key, const char *token, int ro, const char *deny)
{
	struct ctl_request *r = calloc(1, sizeof(*r));

	r->op = CTL_OP_SPAWN;
	r->key_len = (uint16_t)strlen(key);
	memcpy(r->key, key, r->key_len + 1);
	r->token_len = (uint32_t)strlen(token);
	memcpy(r->token, token, r->token_len + 1);
	r->flags = ro ? CTL_FLAG_READ_ONLY : 0;
	if (deny) {
		r->deny_len = (uint16_t)strlen(deny);
		memcpy(r->deny, deny, r->deny_len + 1);
	}
	return r;
}

struct seen {
	int n;
	char keys[8][64];
	char tokens[8][64];
	int ro[8];
	char deny[8][64];
	uint16_t nuids[8];
	uid_t uid0[8];
};

static int collect(void *ud, struct ctl_request *req)
{
	struct seen *s = ud;

	cr_assert_lt(s->n, 8);
	snprintf(s->keys[s->n], 64, "%.63s", req->key);
	snprintf(s->tokens[s->n], 64, "%.63s", req->token);
	snprintf(s->deny[s->n], 64, "%.63s", req->deny);
	s->ro[s->n] = req->flags & CTL_FLAG_READ_ONLY;
	s->nuids[s->n] = req->nuids;
	s->uid0[s->n] = req->nuids ? req->uids[0] : 0;
	s->n++;
	return 0;
}

static int find(const struct seen *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return i;
	return -1;
}


static int load(struct state *s, const char **why)
{
	struct state_load_info info;

	return state_load(s, why, &info);
}

static off_t file_size(void)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static char *read_all(size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	cr_assert_not_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void write_file(const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

Test(cmd_state, round_trip_through_the_journal)
{
	struct state a, b;
	struct ctl_request *r1 = req_new("web-1", "tok-1", 0, NULL);
	struct ctl_request *r2 = req_new("ro \"odd\"\nkey", "tok-2", 1, "DELETE /images/**");
	struct ctl_request *r3 = req_new("gone", "tok-3", 0, NULL);
	struct seen s = { 0 };
	const char *why;
	struct stat st;
	int i;

	r2->nuids = 2;
	r2->uids[0] = 1000;
	r2->uids[1] = 0;
	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);   /* start-up writes the file */
	cr_assert_eq(state_put(&a, r1), 0);
	cr_assert_eq(state_put(&a, r2), 0);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(state_put(&a, r3), 0);
	cr_assert_eq(state_del(&a, "gone"), 0);
	cr_assert_eq(state_del(&a, "never-there"), -ENOENT);
	/* a second put replaces: token rotation */
	snprintf(r1->token, sizeof(r1->token), "tok-1b");
	r1->token_len = 6;
	cr_assert_eq(state_put(&a, r1), 0);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(a.compactions, 0, "small changes are appended");
	cr_assert_eq(state_count(&a), 2);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);

	/* a crash now: the next process reads the journal */
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), 2);
	cr_assert_eq(state_each(&b, collect, &s), 0);
	cr_assert_eq(s.n, 2);
	i = find(&s, "web-1");
	cr_assert_geq(i, 0);
	cr_assert_str_eq(s.tokens[i], "tok-1b");
	cr_assert_eq(s.ro[i], 0);
	i = find(&s, "ro \"odd\"\nkey");
	cr_assert_geq(i, 0);
	cr_assert_str_eq(s.tokens[i], "tok-2");
	cr_assert_neq(s.ro[i], 0);
	cr_assert_str_eq(s.deny[i], "DELETE /images/**");
	cr_assert_eq(s.nuids[i], 2);
	cr_assert_eq(s.uid0[i], 1000);
	cr_assert_eq(find(&s, "gone"), -1);
	state_deinit(&a);
	state_deinit(&b);
	free(r1);
	free(r2);
	free(r3);
}

Test(cmd_state, nothing_reaches_the_file_before_the_commit_and_a_batch_is_one_append)
{
	struct state a, b;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	const char *why;
	off_t before;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	before = file_size();
	for (int i = 0; i < 100; i++) {
		snprintf(r->key, sizeof(r->key), "key-%d", i);
		r->key_len = (uint16_t)strlen(r->key);
		cr_assert_eq(state_put(&a, r), 0);
	}
	cr_assert(state_pending(&a));
	cr_assert_eq(file_size(), before, "written before the commit");
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), 0);
	state_deinit(&b);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert(!state_pending(&a));
	cr_assert_eq(a.compactions, 0);
	cr_assert_eq((size_t)file_size(), a.j.size);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), 100);
	state_deinit(&b);
	/* nothing to do: nothing written */
	before = file_size();
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(file_size(), before);
	state_deinit(&a);
	free(r);
}

/* Spawn and tear down one key after another for a long time: the journal
 * stays within about twice the live set, and reads back as memory. */
Test(cmd_state, the_journal_is_compacted_when_it_outgrows_twice_the_live_set)
{
	struct state a, b;
	struct ctl_request *r = req_new("k", "a-token-of-some-length-0123456789", 0, NULL);
	const char *why;
	size_t len;
	char *buf;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(r->key, sizeof(r->key), "key-%d", i % 700);
		r->key_len = (uint16_t)strlen(r->key);
		if (i % 3 == 2) {
			int ret = state_del(&a, r->key);

			cr_assert(ret == 0 || ret == -ENOENT);
		} else
			cr_assert_eq(state_put(&a, r), 0);
		if (i % 7 == 0)
			cr_assert_eq(state_commit(&a), 0);
		cr_assert_leq((size_t)file_size(),
			      2 * a.live_bytes + STATE_COMPACT_SLACK + 8 * 4096,
			      "journal of %lld bytes for %zu live", (long long)file_size(), a.live_bytes);
	}
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_gt(a.compactions, 0);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), state_count(&a));
	for (struct ctab_item *it = a.tab.first; it; it = it->next)
		cr_assert_not_null(state_frame(&b, it->key, &len));
	state_deinit(&b);
	/* A rewrite leaves the tokens of torn-down keys behind it. */
	snprintf(r->key, sizeof(r->key), "key-1");
	r->key_len = 5;
	cr_assert_eq(state_put(&a, r), 0);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(state_del(&a, "key-1"), 0);
	cr_assert_eq(state_save(&a), 0);
	buf = read_all(&len);
	cr_assert_null(memmem(buf, len, "key-1\0", 6));
	free(buf);
	state_deinit(&a);
	free(r);
}

/* A crash between write and fdatasync: every cut inside the last batch
 * loses at most that batch, never a record before it, never half a record. */
Test(cmd_state, a_torn_tail_is_dropped_and_everything_before_it_kept)
{
	struct state a, b;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	struct state_load_info info;
	const char *why;
	size_t len, durable;
	char *buf;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(r->key, sizeof(r->key), "durable-%d", i);
		r->key_len = (uint16_t)strlen(r->key);
		cr_assert_eq(state_put(&a, r), 0);
	}
	cr_assert_eq(state_commit(&a), 0);
	durable = (size_t)file_size();
	snprintf(r->key, sizeof(r->key), "late-1");
	r->key_len = 6;
	cr_assert_eq(state_put(&a, r), 0);
	cr_assert_eq(state_del(&a, "durable-0"), 0);
	cr_assert_eq(state_commit(&a), 0);
	buf = read_all(&len);
	state_deinit(&a);
	for (size_t cut = durable + 1; cut < len; cut++) {
		write_file(buf, cut);
		cr_assert_eq(state_init(&b, path), 0);
		cr_assert_eq(state_load(&b, &why, &info), 0, "cut %zu", cut);
		cr_assert_gt(info.dropped, 0, "cut %zu", cut);
		cr_assert_not_null(why);
		/* the first record of the batch is whole from some cut on */
		cr_assert(state_count(&b) == 5 || state_count(&b) == 6, "cut %zu: %zu", cut,
			  state_count(&b));
		for (int i = 1; i < 5; i++) {
			snprintf(r->key, sizeof(r->key), "durable-%d", i);
			cr_assert_not_null(state_frame(&b, r->key, &len), "cut %zu lost %s", cut, r->key);
		}
		state_deinit(&b);
	}
	free(buf);
	free(r);
}

Test(cmd_state, damage_before_the_tail_loads_nothing)
{
	struct state a, b;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	struct state_load_info info;
	const char *why;
	size_t len;
	char *buf;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(r->key, sizeof(r->key), "k-%d", i);
		r->key_len = (uint16_t)strlen(r->key);
		cr_assert_eq(state_put(&a, r), 0);
		cr_assert_eq(state_commit(&a), 0);
	}
	state_deinit(&a);
	buf = read_all(&len);
	/* one flipped byte in the first record's frame */
	buf[JOURNAL_MAGIC_LEN + JOURNAL_REC_HEAD + 4] ^= 0x40;
	write_file(buf, len);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(state_load(&b, &why, &info), -EBADMSG);
	cr_assert_not_null(why);
	cr_assert_eq(info.at, JOURNAL_MAGIC_LEN);
	cr_assert_eq(state_count(&b), 0, "nothing loaded from a damaged file");
	state_deinit(&b);
	write_file("not a state file\n", 17);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), -EBADMSG);
	cr_assert_not_null(why);
	state_deinit(&b);
	free(buf);
	free(r);
}

/* A record that checks but is no frame the daemon writes was written like
 * that: damage, wherever it is (also as the last record). */
Test(cmd_state, a_checking_record_that_is_not_a_spawn_or_teardown_is_refused)
{
	struct state b;
	uint8_t buf[64];
	const char *why;
	/* a STATS frame: op 4, empty key, empty token */
	static const uint8_t frame[] = { CTL_OP_STATS, 0, 0, 0, 0, 0, 0 };

	memcpy(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	journal_rec_head(buf + JOURNAL_MAGIC_LEN, frame, sizeof(frame));
	memcpy(buf + JOURNAL_MAGIC_LEN + JOURNAL_REC_HEAD, frame, sizeof(frame));
	write_file(buf, JOURNAL_MAGIC_LEN + JOURNAL_REC_HEAD + sizeof(frame));
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), -EBADMSG);
	state_deinit(&b);
}

/* Files of the previous release: "dockmux-state 1", written whole. */
Test(cmd_state, a_format_1_file_loads_all_or_nothing)
{
	struct state b;
	struct ctl_request *r = req_new("old-key", "old-token", 1, NULL);
	uint8_t buf[512];
	size_t len = JOURNAL_MAGIC_LEN;
	const char *why;
	int n;

	memcpy(buf, JOURNAL_MAGIC_V1, JOURNAL_MAGIC_LEN);
	n = ctl_request_encode(r, buf + len + 4, sizeof(buf) - len - 4);
	cr_assert_gt(n, 0);
	buf[len] = 0, buf[len + 1] = 0, buf[len + 2] = (uint8_t)(n >> 8), buf[len + 3] = (uint8_t)n;
	len += 4 + (size_t)n;
	write_file(buf, len);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), 1);
	cr_assert_not_null(state_frame(&b, "old-key", &len));
	/* the next save writes format 2 */
	cr_assert_eq(state_save(&b), 0);
	state_deinit(&b);
	{
		size_t flen;
		char *f = read_all(&flen);

		cr_assert_eq(memcmp(f, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN), 0);
		free(f);
	}
	/* a cut format 1 file is refused whole */
	write_file(buf, JOURNAL_MAGIC_LEN + 10);
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), -EBADMSG);
	cr_assert_eq(state_count(&b), 0);
	state_deinit(&b);
	free(r);
}

/* A write that fails (disk full, I/O error): the commit says so, and the
 * next commit rewrites the file from memory rather than appending after a
 * partial record. */
Test(cmd_state, after_a_failed_commit_the_next_one_rewrites_the_file)
{
	struct state a, b;
	struct ctl_request *r = req_new("k1", "t", 0, NULL);
	const char *why;
	int ro;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(state_put(&a, r), 0);
	ro = open(path, O_RDONLY);
	close(a.j.fd);
	a.j.fd = ro;
	cr_assert_lt(state_commit(&a), 0);
	cr_assert(state_pending(&a), "the file is behind memory");
	cr_assert_eq(state_del(&a, "k1"), 0);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(a.compactions, 1);
	cr_assert(!state_pending(&a));
	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(load(&b, &why), 0);
	cr_assert_eq(state_count(&b), 0);
	state_deinit(&b);
	state_deinit(&a);
	free(r);
}

Test(cmd_state, a_fifo_or_symlink_at_the_path_is_refused_without_blocking)
{
	struct state a;
	const char *why;

	alarm(5);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(load(&a, &why), -EINVAL);
	cr_assert_not_null(why);
	unlink(path);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_assert_eq(load(&a, &why), -ELOOP);
	unlink(path);
	alarm(0);
	state_deinit(&a);
}

Test(cmd_state, a_detached_state_never_writes_again)
{
	struct state a;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	off_t before;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_save(&a), 0);
	before = file_size();
	state_detach(&a);
	cr_assert_eq(state_put(&a, r), 0);
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(file_size(), before);
	state_deinit(&a);
	free(r);
}

Test(cmd_state, missing_file_is_enoent_and_empty_state_round_trips)
{
	struct state a;
	const char *why;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(load(&a, &why), -ENOENT);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(load(&a, &why), 0);
	cr_assert_eq(state_count(&a), 0);
	state_deinit(&a);
}

Test(cmd_state, no_path_means_memory_only)
{
	struct state a;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	const char *why;

	cr_assert_eq(state_init(&a, NULL), 0);
	cr_assert_eq(state_put(&a, r), 0);
	cr_assert(!state_pending(&a));
	cr_assert_eq(state_commit(&a), 0);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(load(&a, &why), -ENOENT);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(state_count(&a), 1);
	r->op = CTL_OP_TEARDOWN;
	cr_assert_eq(state_put(&a, r), -EINVAL);
	state_deinit(&a);
	free(r);
}
