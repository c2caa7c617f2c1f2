/* tests/api_dircheck.c: the directories root creates sockets in (api/dircheck.c):
 * dmx_open refuses a socket directory that another user could write to or
 * swap (world- or group-writable, owned by someone else, a symlink, a
 * parent like that), says which component is wrong through the log callback,
 * and accepts root-owned 0700/0755 directories, also below the root-owned
 * sticky /tmp. dmx_dir_check is the same check for the daemon's own files.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "dockmux.h"

#define NOBODY 65534

static void suite_init(void)
{
	fx_setup("dmx-dir");
}

TestSuite(dircheck, .init = suite_init, .fini = fx_teardown, .timeout = 60);

static char last_msg[1024];

static void keep_msg(void *ud, int level, const char *msg)
{
	(void)ud;
	if (level <= 3)
		snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/* dmx_open with dir as the socket directory; the handle is closed again. */
static int open_in(const char *dir)
{
	struct dmx_config cfg;
	dmx *d = NULL;
	int ret;

	last_msg[0] = '\0';
	fx_config(&cfg);
	cfg.socket_dir = dir;
	cfg.log = keep_msg;
	ret = dmx_open(&cfg, &d);
	dmx_close(d);
	return ret;
}

static void make_dir(char *out, size_t cap, const char *name, mode_t mode)
{
	snprintf(out, cap, "%s/%s", fx.dir, name);
	cr_assert_eq(mkdir(out, 0700), 0, "%s: %s", out, strerror(errno));
	cr_assert_eq(chmod(out, mode), 0);
}

Test(dircheck, refuses_a_world_writable_socket_dir)
{
	char dir[256];

	make_dir(dir, sizeof(dir), "open", 0777);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert(strstr(last_msg, dir) && strstr(last_msg, "writable"), "message: %s", last_msg);
	cr_assert_eq(count_dir_entries(dir), 0);
}

Test(dircheck, refuses_a_group_writable_socket_dir)
{
	char dir[256];

	make_dir(dir, sizeof(dir), "group", 0770);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert(strstr(last_msg, "0770"), "message: %s", last_msg);
}

Test(dircheck, refuses_a_sticky_world_writable_socket_dir)
{
	char dir[256];

	/* Sticky protects others' names, not the names not made yet: anyone
	 * could create a container's socket name before dockmux does. */
	make_dir(dir, sizeof(dir), "sticky", 01777);
	cr_assert_eq(open_in(dir), -EPERM);
}

Test(dircheck, refuses_a_socket_dir_owned_by_another_user)
{
	char dir[256];

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	make_dir(dir, sizeof(dir), "theirs", 0755);
	cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert(strstr(last_msg, dir) && strstr(last_msg, "owned by uid 65534"),
		  "message: %s", last_msg);
}

Test(dircheck, refuses_a_symlinked_socket_dir)
{
	char dir[256], link[256];

	make_dir(dir, sizeof(dir), "real", 0700);
	snprintf(link, sizeof(link), "%s/link", fx.dir);
	cr_assert_eq(symlink(dir, link), 0);
	cr_assert_eq(open_in(link), -ENOTDIR);
	cr_assert(strstr(last_msg, link) && strstr(last_msg, "symbolic link"), "message: %s",
		  last_msg);
}

Test(dircheck, refuses_a_file_as_socket_dir)
{
	char file[256];
	int fd;

	snprintf(file, sizeof(file), "%s/file", fx.dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(open_in(file), -ENOTDIR);
}

Test(dircheck, refuses_a_dir_below_a_world_writable_parent)
{
	char parent[256], dir[300];

	/* The directory is fine, but anyone may rename it away and put
	 * their own in its place. */
	make_dir(parent, sizeof(parent), "open-parent", 0777);
	snprintf(dir, sizeof(dir), "%s/socks", parent);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert(strstr(last_msg, parent) && strstr(last_msg, "0777"), "message: %s", last_msg);
	/* nor does it create one there */
	snprintf(dir, sizeof(dir), "%s/new", parent);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert_eq(access(dir, F_OK), -1, "created below an unsafe parent");
}

Test(dircheck, refuses_a_dir_below_a_parent_owned_by_another_user)
{
	char parent[256], dir[300];

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	make_dir(parent, sizeof(parent), "their-parent", 0755);
	cr_assert_eq(chown(parent, NOBODY, NOBODY), 0);
	snprintf(dir, sizeof(dir), "%s/socks", parent);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(open_in(dir), -EPERM);
	cr_assert(strstr(last_msg, parent), "message: %s", last_msg);
}

Test(dircheck, accepts_root_owned_0755_and_0700_dirs_below_sticky_tmp)
{
	char dir[256];
	struct stat st;

	/* fx.dir is mkdtemp's 0700 under /tmp (root-owned, 1777) */
	cr_assert_eq(stat("/tmp", &st), 0);
	cr_assert(st.st_mode & S_ISVTX, "/tmp is not sticky here");
	make_dir(dir, sizeof(dir), "ok755", 0755);
	cr_assert_eq(open_in(dir), 0, "%s", last_msg);
	make_dir(dir, sizeof(dir), "ok700", 0700);
	cr_assert_eq(open_in(dir), 0, "%s", last_msg);
	make_dir(dir, sizeof(dir), "ok750", 0750);
	cr_assert_eq(open_in(dir), 0, "%s", last_msg);
}

Test(dircheck, follows_a_root_owned_symlink_on_the_way)
{
	char dir[256], link[256], via[300];

	/* /var/run -> /run on Debian: a symlink above the directory that
	 * only root can change is fine. */
	make_dir(dir, sizeof(dir), "target", 0755);
	snprintf(link, sizeof(link), "%s/var-run", fx.dir);
	cr_assert_eq(symlink(dir, link), 0);
	snprintf(via, sizeof(via), "%s/dockmux", link);
	cr_assert_eq(open_in(via), 0, "%s", last_msg);
	snprintf(via, sizeof(via), "%s/dockmux", dir);
	cr_assert_eq(access(via, F_OK), 0, "created through the link");
}

Test(dircheck, refuses_a_symlink_on_the_way_owned_by_another_user)
{
	char dir[256], link[256], via[300];

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	make_dir(dir, sizeof(dir), "target2", 0755);
	snprintf(link, sizeof(link), "%s/their-link", fx.dir);
	cr_assert_eq(symlink(dir, link), 0);
	cr_assert_eq(lchown(link, NOBODY, NOBODY), 0);
	snprintf(via, sizeof(via), "%s/dockmux", link);
	cr_assert_eq(open_in(via), -EPERM);
	cr_assert(strstr(last_msg, link), "message: %s", last_msg);
}

Test(dircheck, refuses_a_symlink_on_the_way_to_an_unsafe_place)
{
	char dir[256], link[256], via[300];

	make_dir(dir, sizeof(dir), "open-target", 0777);
	snprintf(link, sizeof(link), "%s/to-open", fx.dir);
	cr_assert_eq(symlink("open-target", link), 0);   /* relative */
	snprintf(via, sizeof(via), "%s/dockmux", link);
	cr_assert_eq(open_in(via), -EPERM);
	cr_assert(strstr(last_msg, "open-target") && strstr(last_msg, "0777"), "message: %s",
		  last_msg);
}

Test(dircheck, creates_missing_dirs_0700)
{
	char dir[256];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/a/b/c", fx.dir);
	cr_assert_eq(open_in(dir), 0, "%s", last_msg);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	snprintf(dir, sizeof(dir), "%s/a", fx.dir);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
}

Test(dircheck, dir_check_names_the_component_and_creates_only_when_asked)
{
	char dir[256], why[512], sub[300];

	make_dir(dir, sizeof(dir), "chk", 0755);
	cr_assert_eq(dmx_dir_check(dir, 0, why, sizeof(why)), 0);
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	cr_assert_eq(dmx_dir_check(sub, 0, why, sizeof(why)), -ENOENT);
	cr_assert(strstr(why, sub), "why: %s", why);
	cr_assert_eq(access(sub, F_OK), -1);
	cr_assert_eq(dmx_dir_check(sub, DMX_DIR_CREATE, why, sizeof(why)), 0);
	cr_assert_eq(access(sub, F_OK), 0);
	cr_assert_eq(chmod(dir, 0757), 0);
	cr_assert_eq(dmx_dir_check(sub, 0, why, sizeof(why)), -EPERM);
	cr_assert(strncmp(why, dir, strlen(dir)) == 0 && strstr(why, "0757") &&
		  strstr(why, "writable by others"), "why: %s", why);
	/* a too small buffer is cut, NULL is fine */
	cr_assert_eq(dmx_dir_check(sub, 0, why, 8), -EPERM);
	cr_assert_eq(strlen(why), 7);
	cr_assert_eq(dmx_dir_check(sub, 0, NULL, 0), -EPERM);
	cr_assert_eq(dmx_dir_check("", 0, NULL, 0), -EINVAL);
	cr_assert_eq(dmx_dir_check(NULL, 0, NULL, 0), -EINVAL);
}

Test(dircheck, relative_dirs_are_checked_from_the_working_directory)
{
	char why[512], cwd[4096];

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(fx.dir), 0);
	cr_assert_eq(dmx_dir_check("rel/sub", DMX_DIR_CREATE, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(access("rel/sub", F_OK), 0);
	cr_assert_eq(chmod(".", 0777), 0);
	cr_assert_eq(dmx_dir_check("rel/sub", 0, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, fx.dir), "why: %s", why);
	cr_assert_eq(chmod(".", 0700), 0);
	cr_assert_eq(chdir(cwd), 0);
}
