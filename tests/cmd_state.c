/* tests/cmd_state.c: the daemon's state file (cmd/state.c): records follow
 * put/del, the file is written whole with mode 0600 and read back exactly,
 * and anything malformed is refused as a whole. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

Test(cmd_state, round_trip_through_the_file)
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
	cr_assert_eq(state_put(&a, r1), 0);
	cr_assert_eq(state_put(&a, r2), 0);
	cr_assert_eq(state_put(&a, r3), 0);
	state_del(&a, "gone");
	state_del(&a, "never-there");
	/* a second put replaces: token rotation */
	snprintf(r1->token, sizeof(r1->token), "tok-1b");
	r1->token_len = 6;
	cr_assert_eq(state_put(&a, r1), 0);
	cr_assert_eq(state_count(&a), 2);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);

	cr_assert_eq(state_init(&b, path), 0);
	cr_assert_eq(state_load(&b, &why), 0);
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

Test(cmd_state, missing_file_is_enoent_and_empty_state_round_trips)
{
	struct state a;
	const char *why;

	cr_assert_eq(state_init(&a, path), 0);
	cr_assert_eq(state_load(&a, &why), -ENOENT);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(state_load(&a, &why), 0);
	cr_assert_eq(state_count(&a), 0);
	state_deinit(&a);
}

static void write_file(const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

Test(cmd_state, malformed_files_load_nothing)
{
	struct state a, good;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	const char *why;
	char *buf;
	size_t len;
	FILE *f;

	/* a good file to start from */
	cr_assert_eq(state_init(&good, path), 0);
	cr_assert_eq(state_put(&good, r), 0);
	cr_assert_eq(state_save(&good), 0);
	state_deinit(&good);
	f = fopen(path, "rb");
	buf = malloc(4096);
	len = fread(buf, 1, 4096, f);
	fclose(f);

	cr_assert_eq(state_init(&a, path), 0);
	write_file("not a state file\n", 17);
	cr_assert_eq(state_load(&a, &why), -EBADMSG);
	cr_assert_not_null(why);
	/* truncated: every prefix but the whole and the bare header fails */
	for (size_t cut = strlen("dockmux-state 1\n") + 1; cut < len; cut++) {
		write_file(buf, cut);
		cr_assert_eq(state_load(&a, &why), -EBADMSG, "cut at %zu", cut);
		cr_assert_eq(state_count(&a), 0, "nothing loaded from a bad file");
	}
	/* a uid count that does not match the bytes */
	buf[len - 1] ^= 0x55;
	write_file(buf, len);
	buf[len - 1] ^= 0x55;
	cr_assert_eq(state_load(&a, &why), -EBADMSG);
	/* the intact file loads */
	write_file(buf, len);
	cr_assert_eq(state_load(&a, &why), 0);
	cr_assert_eq(state_count(&a), 1);
	state_deinit(&a);
	cr_assert_eq(state_init(&a, path), 0);
	/* a record that is not a spawn */
	buf[strlen("dockmux-state 1\n") + 4] = CTL_OP_TEARDOWN;
	write_file(buf, len);
	cr_assert_eq(state_load(&a, &why), -EBADMSG);
	cr_assert_eq(state_count(&a), 0);
	/* a symlink is not followed */
	unlink(path);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_assert_lt(state_load(&a, &why), 0);
	unlink(path);
	state_deinit(&a);
	free(buf);
	free(r);
}

Test(cmd_state, no_path_means_memory_only)
{
	struct state a;
	struct ctl_request *r = req_new("k", "t", 0, NULL);
	const char *why;

	cr_assert_eq(state_init(&a, NULL), 0);
	cr_assert_eq(state_put(&a, r), 0);
	cr_assert_eq(state_save(&a), 0);
	cr_assert_eq(state_load(&a, &why), -ENOENT);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(state_count(&a), 1);
	r->op = CTL_OP_TEARDOWN;
	cr_assert_eq(state_put(&a, r), -EINVAL);
	state_deinit(&a);
	free(r);
}
