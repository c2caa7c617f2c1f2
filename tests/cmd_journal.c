/* tests/cmd_journal.c: the state file's journal (cmd/journal.c): the record
 * format and its checksum, the torn-tail rule on every cut and every damaged
 * byte of hand-built files, refusing what is not a regular file without
 * blocking, and the atomic rewrite. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"

#define REC_MAX 1000

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/dmx-journal.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
}

static void teardown(void)
{
	char tmp[160];

	unlink(path);
	rmdir(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 30);

/* A file image of n records "rec-0", "rec-1", ... (lengths differ). */
struct image {
	uint8_t buf[4096];
	size_t len;
	size_t start[16];   /* where record i starts */
};

static void image_make(struct image *im, int n)
{
	memcpy(im->buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	im->len = JOURNAL_MAGIC_LEN;
	for (int i = 0; i < n; i++) {
		char rec[64];
		int k = snprintf(rec, sizeof(rec), "rec-%d%.*s", i, i * 3, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

		im->start[i] = im->len;
		journal_rec_head(im->buf + im->len, rec, (uint32_t)k);
		memcpy(im->buf + im->len + JOURNAL_REC_HEAD, rec, (size_t)k);
		im->len += JOURNAL_REC_HEAD + (size_t)k;
	}
	im->start[n] = im->len;
}

struct got {
	int n;
	char recs[16][64];
	int fail_at;        /* the callback fails on this record (-1: never) */
};

static int collect(void *ud, const uint8_t *p, size_t n)
{
	struct got *g = ud;

	if (g->n == g->fail_at)
		return -ENOMEM;
	cr_assert_lt(g->n, 16);
	cr_assert_lt(n, 64);
	memcpy(g->recs[g->n], p, n);
	g->recs[g->n][n] = '\0';
	g->n++;
	return 0;
}

Test(journal, crc32c_matches_the_known_check_value)
{
	/* The CRC-32C check value (RFC 3720 B.4's polynomial). */
	cr_assert_eq(journal_crc(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(journal_crc(journal_crc(0, "1234", 4), "56789", 5), 0xE3069283u);
	cr_assert_eq(journal_crc(0, "", 0), 0);
}

Test(journal, whole_records_are_read_in_order)
{
	struct image im;
	struct got g = { .fail_at = -1 };
	struct journal_scan sc;

	image_make(&im, 5);
	cr_assert_eq(journal_scan(im.buf, im.len, REC_MAX, collect, &g, &sc), 0);
	cr_assert_eq(sc.version, 2);
	cr_assert_eq(sc.records, 5);
	cr_assert_eq(sc.valid, im.len);
	cr_assert_eq(sc.dropped, 0);
	cr_assert_eq(g.n, 5);
	cr_assert_str_eq(g.recs[0], "rec-0");
	cr_assert_str_eq(g.recs[4], "rec-4xxxxxxxxxxxx");
	/* the bare header is an empty journal */
	g.n = 0;
	cr_assert_eq(journal_scan(im.buf, JOURNAL_MAGIC_LEN, REC_MAX, collect, &g, &sc), 0);
	cr_assert_eq(g.n, 0);
}

Test(journal, every_cut_inside_the_last_record_drops_only_it)
{
	struct image im;
	struct journal_scan sc;

	image_make(&im, 4);
	for (size_t cut = im.start[3] + 1; cut < im.len; cut++) {
		struct got g = { .fail_at = -1 };

		cr_assert_eq(journal_scan(im.buf, cut, REC_MAX, collect, &g, &sc), 0, "cut %zu", cut);
		cr_assert_eq(g.n, 3, "cut %zu", cut);
		cr_assert_eq(sc.valid, im.start[3]);
		cr_assert_eq(sc.dropped, cut - im.start[3]);
		cr_assert_eq(sc.at, im.start[3]);
		cr_assert_not_null(sc.why);
	}
	/* A cut anywhere: whatever is whole before it is kept. */
	for (size_t cut = JOURNAL_MAGIC_LEN; cut <= im.len; cut++) {
		struct got g = { .fail_at = -1 };
		int whole = 0;

		while (whole < 4 && im.start[whole + 1] <= cut)
			whole++;
		cr_assert_eq(journal_scan(im.buf, cut, REC_MAX, collect, &g, &sc), 0, "cut %zu", cut);
		cr_assert_eq(g.n, whole, "cut %zu", cut);
	}
}

Test(journal, every_damaged_byte_of_the_last_record_drops_only_it)
{
	struct image im;
	struct journal_scan sc;

	image_make(&im, 4);
	for (size_t i = im.start[3]; i < im.len; i++) {
		struct got g = { .fail_at = -1 };

		im.buf[i] ^= 0x20;
		cr_assert_eq(journal_scan(im.buf, im.len, REC_MAX, collect, &g, &sc), 0, "byte %zu", i);
		cr_assert_eq(g.n, 3, "byte %zu", i);
		cr_assert_gt(sc.dropped, 0);
		im.buf[i] ^= 0x20;
	}
}

Test(journal, a_damaged_byte_before_the_tail_refuses_the_file)
{
	struct image im;
	struct journal_scan sc;

	image_make(&im, 4);
	for (size_t i = JOURNAL_MAGIC_LEN; i < im.start[3]; i++) {
		struct got g = { .fail_at = -1 };

		im.buf[i] ^= 0x01;
		cr_assert_eq(journal_scan(im.buf, im.len, REC_MAX, collect, &g, &sc), -EBADMSG,
			     "byte %zu", i);
		cr_assert_not_null(sc.why);
		cr_assert_leq(sc.at, i);
		im.buf[i] ^= 0x01;
	}
}

Test(journal, zeros_or_garbage_after_the_records_are_a_torn_tail)
{
	struct image im;
	struct journal_scan sc;
	struct got g = { .fail_at = -1 };
	size_t good;

	image_make(&im, 3);
	good = im.len;
	/* A power loss: the file grew, its last blocks were never written. */
	memset(im.buf + good, 0, 1000);
	cr_assert_eq(journal_scan(im.buf, good + 1000, REC_MAX, collect, &g, &sc), 0);
	cr_assert_eq(g.n, 3);
	cr_assert_eq(sc.valid, good);
	cr_assert_eq(sc.dropped, 1000);
	/* bytes that are no record at all */
	g.n = 0;
	memcpy(im.buf + good, "\xff\xff\xff\xff garbage", 12);
	cr_assert_eq(journal_scan(im.buf, good + 12, REC_MAX, collect, &g, &sc), 0);
	cr_assert_eq(g.n, 3);
	cr_assert_eq(sc.dropped, 12);
}

Test(journal, the_callback_error_stops_the_scan)
{
	struct image im;
	struct journal_scan sc;
	struct got g = { .fail_at = 2 };

	image_make(&im, 4);
	cr_assert_eq(journal_scan(im.buf, im.len, REC_MAX, collect, &g, &sc), -ENOMEM);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(sc.at, im.start[2]);
}

Test(journal, records_over_the_maximum_are_damage)
{
	struct image im;
	struct journal_scan sc;
	struct got g = { .fail_at = -1 };

	image_make(&im, 3);
	/* rec-2 is 11 bytes: with a maximum of 10 it cannot have been written */
	cr_assert_eq(journal_scan(im.buf, im.len, 10, collect, &g, &sc), 0);
	cr_assert_eq(g.n, 2, "the last record over the maximum is a bad tail");
	g.n = 0;
	cr_assert_eq(journal_scan(im.buf, im.len, 4, collect, &g, &sc), 0);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(sc.dropped, im.len - JOURNAL_MAGIC_LEN);
}

Test(journal, format_1_is_all_or_nothing)
{
	uint8_t buf[256];
	size_t len = JOURNAL_MAGIC_LEN;
	struct journal_scan sc;
	struct got g = { .fail_at = -1 };

	memcpy(buf, JOURNAL_MAGIC_V1, JOURNAL_MAGIC_LEN);
	for (int i = 0; i < 3; i++) {
		buf[len] = buf[len + 1] = buf[len + 2] = 0;
		buf[len + 3] = 5;
		memcpy(buf + len + 4, "abcd0", 5);
		buf[len + 8] = (uint8_t)('0' + i);
		len += 9;
	}
	cr_assert_eq(journal_scan(buf, len, REC_MAX, collect, &g, &sc), 0);
	cr_assert_eq(sc.version, 1);
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(g.recs[2], "abcd2");
	/* written whole and renamed: a cut is damage, not a torn tail */
	for (size_t cut = JOURNAL_MAGIC_LEN + 1; cut < len; cut++) {
		if ((cut - JOURNAL_MAGIC_LEN) % 9 == 0)
			continue;
		g.n = 0;
		cr_assert_eq(journal_scan(buf, cut, REC_MAX, collect, &g, &sc), -EBADMSG, "cut %zu", cut);
	}
	cr_assert_eq(journal_scan((const uint8_t *)"dockmux-state 3\n", 16, REC_MAX, collect, &g, &sc),
		     -EBADMSG);
	cr_assert_eq(journal_scan((const uint8_t *)"dock", 4, REC_MAX, collect, &g, &sc), -EBADMSG);
}

/* ---- files ---- */

static int fill_three(void *ud, struct journal_writer *w)
{
	(void)ud;
	for (int i = 0; i < 3; i++) {
		char rec[16];
		int n = snprintf(rec, sizeof(rec), "rec-%d", i);
		int ret = journal_put(w, rec, (uint32_t)n);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int fill_fail(void *ud, struct journal_writer *w)
{
	(void)ud;
	journal_put(w, "half", 4);
	return -EIO;
}

static void read_back(struct got *g, struct journal_scan *sc)
{
	uint8_t *buf;
	size_t len;
	const char *why;

	cr_assert_eq(journal_read(path, &buf, &len, &why), 0);
	cr_assert_eq(journal_scan(buf, len, REC_MAX, collect, g, sc), 0);
	free(buf);
}

Test(journal, rewrite_then_appends_read_back_and_the_file_is_0600)
{
	struct journal j;
	struct journal_scan sc;
	struct got g = { .fail_at = -1 };
	uint8_t rec[64];
	struct stat st;
	char tmp[160];

	umask(0);
	journal_init(&j, path);
	cr_assert_eq(journal_rewrite(&j, fill_three, NULL), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(access(tmp, F_OK), -1, "the temporary file is gone");
	journal_rec_head(rec, "appended", 8);
	memcpy(rec + JOURNAL_REC_HEAD, "appended", 8);
	cr_assert_eq(journal_append(&j, rec, JOURNAL_REC_HEAD + 8), 0);
	read_back(&g, &sc);
	cr_assert_eq(g.n, 4);
	cr_assert_str_eq(g.recs[3], "appended");
	cr_assert_eq(sc.valid, j.size);
	journal_close(&j);
}

Test(journal, a_failed_rewrite_keeps_the_old_file)
{
	struct journal j;
	struct journal_scan sc;
	struct got g = { .fail_at = -1 };

	journal_init(&j, path);
	cr_assert_eq(journal_rewrite(&j, fill_three, NULL), 0);
	cr_assert_eq(journal_rewrite(&j, fill_fail, NULL), -EIO);
	read_back(&g, &sc);
	cr_assert_eq(g.n, 3);
	journal_close(&j);
}

Test(journal, after_a_failed_append_only_a_rewrite_writes)
{
	struct journal j;
	uint8_t rec[16];
	int ro;

	journal_init(&j, path);
	cr_assert_eq(journal_rewrite(&j, fill_three, NULL), 0);
	/* make the next write fail: the fd is swapped for a read-only one */
	ro = open(path, O_RDONLY);
	cr_assert_geq(ro, 0);
	close(j.fd);
	j.fd = ro;
	journal_rec_head(rec, "x", 1);
	rec[JOURNAL_REC_HEAD] = 'x';
	cr_assert_lt(journal_append(&j, rec, JOURNAL_REC_HEAD + 1), 0);
	cr_assert_lt(j.err, 0);
	cr_assert_lt(journal_append(&j, rec, JOURNAL_REC_HEAD + 1), 0, "no append after a failure");
	cr_assert_eq(journal_rewrite(&j, fill_three, NULL), 0);
	cr_assert_eq(j.err, 0);
	cr_assert_eq(journal_append(&j, rec, JOURNAL_REC_HEAD + 1), 0);
	journal_close(&j);
}

static void on_alarm(int sig)
{
	(void)sig;
	cr_assert_fail("journal_read blocked");
}

Test(journal, fifo_socket_directory_and_symlink_are_refused_without_blocking)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t *buf = NULL;
	size_t len;
	const char *why;
	int s;

	signal(SIGALRM, on_alarm);
	alarm(5);
	cr_assert_eq(journal_read(path, &buf, &len, &why), -ENOENT);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(journal_read(path, &buf, &len, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert(strstr(why, "regular"), "%s", why);
	unlink(path);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(journal_read(path, &buf, &len, &why), -EINVAL);
	rmdir(path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(journal_read(path, &buf, &len, &why), -EINVAL);
	close(s);
	unlink(path);
	cr_assert_eq(symlink("/etc/hostname", path), 0);
	cr_assert_eq(journal_read(path, &buf, &len, &why), -ELOOP);
	unlink(path);
	alarm(0);
	cr_assert_null(buf);
}
