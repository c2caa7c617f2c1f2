/* tests/ring_container.c: a container's listener (ring/container.c) through
 * the public API: listeners as io_uring direct descriptors (more sockets than
 * RLIMIT_NOFILE allows fds), handoff of a live socket to another dmx handle
 * (dmx_handoff + dmx_adopt) with the inode kept and an open stream finishing
 * on the old one, draining, and the per-ring counters. Real rings, a real
 * upstream (tests/upstream.c), real sockets.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "dockmux.h"
#include "upstream.h"

static void suite_init(void)
{
	fx_setup("dmx-ctr");
}

TestSuite(ring_container, .init = suite_init, .fini = fx_teardown, .timeout = 120);

static ino_t inode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert(S_ISSOCK(st.st_mode));
	return st.st_ino;
}

static dmx *open_second(void)
{
	struct dmx_config cfg;
	dmx *d2;

	fx_config(&cfg);
	cr_assert_eq(dmx_open(&cfg, &d2), 0);
	return d2;
}

/* The density target: 30,000 sockets in one process whose
 * RLIMIT_NOFILE is 20,000, traffic working on the last one spawned. */
Test(ring_container, holds_30000_sockets_under_a_20000_fd_limit, .timeout = 300)
{
	struct rlimit old, rl;
	struct dmx_config cfg;
	char dir[64] = "/dev/shm/dmx-dense.XXXXXX", path[DMX_PATH_MAX], key[32];
	struct dmx_ring_stats rs;
	uint64_t slots = 0, used = 0;
	const unsigned n = 30000;
	dmx *d;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 20000)
		cr_skip_test("hard RLIMIT_NOFILE %lu < 20000", (unsigned long)old.rlim_max);
	rl.rlim_cur = 20000;
	rl.rlim_max = old.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_not_null(mkdtemp(dir));

	fx_config(&cfg);
	cfg.socket_dir = dir;
	cfg.rings = 2;   /* 2 x 20,000 slots: room for 30,000 */
	cr_assert_eq(dmx_open(&cfg, &d), 0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "dense-%u", i);
		int ret = dmx_spawn(d, key, "tok-dense", path, sizeof(path));
		cr_assert_eq(ret, 0, "spawn %u: %s", i, dmx_strerror(ret));
	}
	/* The process fd table stays far below the limit: listeners are not
	 * process fds. */
	cr_assert_lt(count_fds(), 1000, "fds: %d", count_fds());
	cr_assert_eq(count_dir_entries(dir), (int)n);
	for (unsigned i = 0; i < dmx_rings(d); i++) {
		cr_assert_eq(dmx_ring_stats(d, i, &rs), 0);
		cr_assert_eq(rs.files_total, 20000, "slots per ring follow RLIMIT_NOFILE");
		slots += rs.files_total;
		used += rs.files_used;
	}
	cr_assert_eq(used, n);
	cr_assert_geq(slots, n);

	/* traffic on the last one spawned, and on the first */
	ping(path);
	cr_assert_eq(dmx_path(d, "dense-0", path, sizeof(path)), 0);
	ping(path);
	cr_assert_eq(upstream_request_count(fx.up), 2);

	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "dense-%u", i);
		cr_assert_eq(dmx_teardown(d, key), 0);
	}
	cr_assert_eq(count_dir_entries(dir), 0);
	used = 0;
	for (unsigned i = 0; i < dmx_rings(d); i++) {
		cr_assert_eq(dmx_ring_stats(d, i, &rs), 0);
		used += rs.files_used;
	}
	cr_assert_eq(used, 0, "teardown frees the slots");
	/* freed slots are reused */
	cr_assert_eq(dmx_spawn(d, "again", "tok", path, sizeof(path)), 0);
	ping(path);
	dmx_close(d);
	rmdir(dir);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}

Test(ring_container, full_table_is_enfile_not_a_crash)
{
	struct rlimit old, rl;
	struct dmx_config cfg;
	char path[DMX_PATH_MAX], key[32];
	int ret = 0;
	unsigned i;
	dmx *d;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl.rlim_cur = 64;
	rl.rlim_max = old.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	fx_config(&cfg);
	cfg.rings = 1;
	ret = dmx_open(&cfg, &d);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert_eq(ret, 0, "%s", dmx_strerror(ret));
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		ret = dmx_spawn(d, key, "tok", path, sizeof(path));
		if (ret < 0)
			break;
	}
	cr_assert_eq(i, 64, "a 64-slot table holds 64 sockets");
	cr_assert_eq(ret, -ENFILE, "%s", dmx_strerror(ret));
	cr_assert_eq(count_dir_entries(fx.sock_dir), 64, "no file left by the failed spawn");
	cr_assert_eq(dmx_teardown(d, "k3"), 0);
	cr_assert_eq(dmx_spawn(d, key, "tok", path, sizeof(path)), 0, "a freed slot is reused");
	ping(path);
	dmx_close(d);
}

/* Read up to the end of a response head; the body stays buffered. */
static void read_head(struct client *c, char *status_line, size_t cap)
{
	for (;;) {
		char *end = c->buf ? memmem(c->buf + c->start, c->end - c->start, "\r\n\r\n", 4)
				   : NULL;

		if (end) {
			size_t len = strcspn(c->buf + c->start, "\r");

			snprintf(status_line, cap, "%.*s", (int)len, c->buf + c->start);
			c->start = (size_t)(end + 4 - c->buf);
			return;
		}
		cr_assert_gt(client_fill(c), 0, "response head");
	}
}

static void check_pattern(const char *body, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)body[i] != upstream_pattern(off + i))
			cr_assert_fail("body byte %zu differs", off + i);
}

/* Takeover in one process: two handles play the old and the new daemon. */
Test(ring_container, handoff_keeps_the_inode_and_lets_open_streams_finish)
{
	const size_t total = 32 * MiB, first = 1 * MiB;
	char path[DMX_PATH_MAX], path2[DMX_PATH_MAX], req[128], line[128];
	struct client old_conn, idle_conn, c;
	struct dmx_stats s;
	struct resp r;
	char *body;
	ino_t ino;
	int fd = -1;
	dmx *d2;

	fx_open();
	spawn("web-1", "tok-old", path);
	ino = inode_of(path);

	/* A long response under way, and an idle keep-alive connection, on
	 * the old handle. */
	client_connect(&old_conn, path);
	snprintf(req, sizeof(req), "GET /big?n=%zu HTTP/1.1\r\nHost: d\r\n\r\n", total);
	cr_assert_eq(client_sends(&old_conn, req), 0);
	read_head(&old_conn, line, sizeof(line));
	cr_assert_str_eq(line, "HTTP/1.1 200 OK");
	body = malloc(total);
	cr_assert_not_null(body);
	cr_assert_eq(client_read_exact(&old_conn, body, first), 0);
	client_connect(&idle_conn, path);
	cr_assert_eq(client_sends(&idle_conn, REQ_PING), 0);
	expect_response(&idle_conn, &r, 200);
	resp_free(&r);

	/* hand the listener over */
	cr_assert_eq(dmx_handoff(fx.d, "web-1", &fd), 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(dmx_handoff(fx.d, "web-1", &fd) , -ENOENT, "gone from the old handle");
	d2 = open_second();
	cr_assert_eq(dmx_adopt(d2, "web-1", "tok-new", NULL, fd, path2, sizeof(path2)), 0);
	cr_assert_str_eq(path2, path);
	cr_assert_eq(inode_of(path), ino, "the socket file was never re-created");

	/* new connections reach the new handle, with its token */
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, REQ_PING), 0);
	expect_response(&c, &r, 200);
	resp_free(&r);
	client_close(&c);
	cr_assert_eq(upstream_header_value(fx.up, -1, "Authorization", line, sizeof(line)), 0);
	cr_assert_str_eq(line, "Bearer tok-new");
	cr_assert_eq(dmx_stats(d2, "web-1", &s), 0);
	cr_assert_eq(s.requests, 1);

	/* the old handle still serves what it had: the idle keep-alive
	 * connection (with the old token) and the stream, to its end */
	cr_assert_eq(client_sends(&idle_conn, REQ_PING), 0);
	expect_response(&idle_conn, &r, 200);
	resp_free(&r);
	cr_assert_eq(upstream_header_value(fx.up, -1, "Authorization", line, sizeof(line)), 0);
	cr_assert_str_eq(line, "Bearer tok-old");
	cr_assert_eq(dmx_drain(fx.d), 0);
	cr_assert_eq(client_wait_closed(&idle_conn, PROMPT_MS), 0, "drain closes idle conns");
	cr_assert_eq(client_read_exact(&old_conn, body + first, total - first), 0);
	check_pattern(body, 0, total);
	free(body);
	cr_assert_eq(client_wait_closed(&old_conn, PROMPT_MS), 0,
		     "closed once its response is complete");
	STATS_EVENTUALLY(NULL, s, s.conns_active == 0);
	cr_assert_eq(s.conns_active, 0);
	client_close(&old_conn);
	client_close(&idle_conn);

	/* the old handle goes; the file and the new listener stay */
	dmx_close(fx.d);
	fx.d = NULL;
	cr_assert_eq(inode_of(path), ino);
	ping(path);
	dmx_close(d2);
	cr_assert_eq(access(path, F_OK), -1, "the last owner's close unlinks");
}

Test(ring_container, adopt_refuses_what_is_not_that_keys_listener)
{
	char path[DMX_PATH_MAX], other[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, lfd;

	fx_open();
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, -1, path, sizeof(path)), -EBADF);
	/* not a socket */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, fd, path, sizeof(path)), -ENOTSOCK);
	close(fd);
	/* a socket bound elsewhere */
	cr_assert_eq(dmx_path(fx.d, "k", path, sizeof(path)), 0);
	snprintf(other, sizeof(other), "%s/other.sock", fx.sock_dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_lt(strlen(other), sizeof(sa.sun_path));
	memcpy(sa.sun_path, other, strlen(other) + 1);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 8), 0);
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, lfd, path, sizeof(path)), -EINVAL);
	close(lfd);
	unlink(other);
	/* bound to the right path but not listening */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, lfd, path, sizeof(path)), -EINVAL);
	cr_assert_eq(access(path, F_OK), 0, "a refused adoption leaves the file");
	/* once listening it is adopted; a second adoption of the key is refused */
	cr_assert_eq(listen(lfd, 8), 0);
	fd = dup(lfd);
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, lfd, path, sizeof(path)), 0);
	cr_assert_eq(dmx_adopt(fx.d, "k", "tok", NULL, fd, path, sizeof(path)), -EEXIST);
	close(fd);
	ping(path);
	cr_assert_eq(dmx_handoff(fx.d, "unknown", &fd), -ENOENT);
	cr_assert_eq(dmx_handoff(fx.d, "", &fd), -EINVAL);
}

Test(ring_container, drain_stops_accepting_and_lets_requests_finish)
{
	char path[DMX_PATH_MAX];
	struct client busy, idle, late;
	struct dmx_stats s;
	struct resp r;

	fx_open();
	spawn("drain-1", "tok", path);
	client_connect(&idle, path);
	cr_assert_eq(client_sends(&idle, REQ_PING), 0);
	expect_response(&idle, &r, 200);
	resp_free(&r);
	/* a request whose body is still coming when the drain starts */
	client_connect(&busy, path);
	cr_assert_eq(client_sends(&busy, "POST /echo HTTP/1.1\r\nHost: d\r\n"
				     "Content-Length: 10\r\n\r\nhello"), 0);
	STATS_EVENTUALLY("drain-1", s, s.requests == 2);

	cr_assert_eq(dmx_drain(fx.d), 0);
	cr_assert_eq(client_wait_closed(&idle, PROMPT_MS), 0, "idle: closed");
	cr_assert_eq(client_wait_closed(&busy, 300), -ETIMEDOUT, "busy: still open");
	cr_assert_eq(client_sends(&busy, "world"), 0);
	expect_response(&busy, &r, 200);
	cr_assert_eq(r.body_len, 10);
	cr_assert_eq(memcmp(r.body, "helloworld", 10), 0);
	resp_free(&r);
	cr_assert_eq(client_wait_closed(&busy, PROMPT_MS), 0, "closed after its response");

	/* no more accepts: a new connection waits in the backlog */
	cr_assert_eq(client_open(&late, path), 0);
	cr_assert_eq(client_sends(&late, REQ_PING), 0);
	cr_assert_eq(client_wait_closed(&late, 300), -ETIMEDOUT);
	STATS_EVENTUALLY(NULL, s, s.conns_active == 0);
	cr_assert_eq(s.conns_active, 0);
	cr_assert_eq(s.conns_accepted, 2);
	char p2[DMX_PATH_MAX];
	cr_assert_eq(dmx_spawn(fx.d, "drain-2", "tok", p2, sizeof(p2)), -ESHUTDOWN);
	client_close(&idle);
	client_close(&busy);
	client_close(&late);
}

Test(ring_container, ring_counters_move)
{
	struct dmx_ring_stats a[2], b[2];
	char path[DMX_PATH_MAX];
	uint64_t used = 0;

	fx_open();
	cr_assert_eq(dmx_rings(fx.d), 2);
	cr_assert_eq(dmx_ring_stats(fx.d, 2, &a[0]), -EINVAL);
	cr_assert_eq(dmx_ring_stats(NULL, 0, &a[0]), -EINVAL);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(dmx_ring_stats(fx.d, i, &a[i]), 0);
	spawn("c1", "t", path);
	for (int i = 0; i < 10; i++)
		ping(path);
	spawn("c2", "t", path);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(dmx_ring_stats(fx.d, i, &b[i]), 0);
		cr_assert_gt(b[i].loops, a[i].loops);
		cr_assert_gt(b[i].sqes, a[i].sqes);
		cr_assert_gt(b[i].cqes, a[i].cqes);
		cr_assert_eq(b[i].files_total, a[i].files_total);
		used += b[i].files_used;
	}
	cr_assert_eq(used, 2);
}

/* ---- a hostile writer of the socket directory ---- */

struct hostile {
	char path[DMX_PATH_MAX];    /* the container's socket name */
	char stage[160];            /* where dockmux stages it (a name in the dir) */
	char path_link[200];        /* ready symlinks, exchanged with those names */
	char stage_link[200];
	char moved[200];            /* where an exchanged staging directory goes */
	char evil_dir[256];         /* holds the staged name -> victim */
	char victim[256];
	atomic_bool stop;
	atomic_bool stage_too;      /* this round, attack the staging directory as well */
	atomic_uint swaps;
};

/* Exchange name with the ready symlink link (one syscall, the moment name
 * exists); true when what came out is of type want: a real swap. */
static bool exchange(const char *link, const char *name, const char *target, mode_t want)
{
	struct stat st;

	if (lstat(link, &st) < 0 && symlink(target, link) < 0)
		return false;
	if (renameat2(AT_FDCWD, link, AT_FDCWD, name, RENAME_EXCHANGE) < 0)
		return false;
	return lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == want;
}

/* Only paths, as an unprivileged writer of the directory could: the moment
 * a socket shows up at the container's name, it becomes a symlink to the
 * victim (root's chown/chmod by name would follow it); the moment the
 * staging directory shows up, it becomes a symlink to a directory where the
 * staged name points at the victim. */
static void *hostile_run(void *arg)
{
	struct hostile *h = arg;

	while (!atomic_load(&h->stop)) {
		if (exchange(h->path_link, h->path, h->victim, S_IFSOCK)) {
			atomic_fetch_add(&h->swaps, 1);
			unlink(h->path_link);
		}
		if (atomic_load(&h->stage_too) &&
		    exchange(h->stage_link, h->stage, h->evil_dir, S_IFDIR)) {
			atomic_fetch_add(&h->swaps, 1);
			rename(h->stage_link, h->moved);
		}
	}
	unlink(h->path_link);
	unlink(h->stage_link);
	return NULL;
}

static void pin_to_last_cpu(pthread_t thread)
{
	cpu_set_t set;
	int last = -1;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			last = i;
	if (last < 0 || CPU_COUNT(&set) < 2)
		return;   /* one CPU: the race is rarely met, but the checks hold */
	CPU_ZERO(&set);
	CPU_SET(last, &set);
	(void)pthread_setaffinity_np(thread, sizeof(set), &set);
}

Test(ring_container, owner_and_mode_never_reach_a_file_swapped_in_for_the_socket)
{
	struct dmx_config cfg;
	struct hostile h = { 0 };
	char path[DMX_PATH_MAX], link[300];
	struct stat before, after;
	pthread_t thread;
	unsigned ok = 0;
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root: socket_owner is a chown");
	snprintf(h.victim, sizeof(h.victim), "%s/victim", fx.dir);
	fd = open(h.victim, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chmod(h.victim, 0600), 0);
	cr_assert_eq(stat(h.victim, &before), 0);

	fx_config(&cfg);
	cfg.socket_uid = 65534;
	cfg.socket_gid = 65534;
	cfg.socket_mode = 0666;
	/* One ring, pinned to the first CPU of our mask (ring/engine.c); the
	 * writer runs on another one, as an attacker's process would. */
	cfg.rings = 1;
	fx_open_cfg(&cfg);
	cr_assert_eq(dmx_path(fx.d, "target", h.path, sizeof(h.path)), 0);
	/* the staging directory and the staged name (ring/container.c) */
	snprintf(h.stage, sizeof(h.stage), "%s/.dmx", fx.sock_dir);
	snprintf(h.evil_dir, sizeof(h.evil_dir), "%s/evil", fx.dir);
	cr_assert_eq(mkdir(h.evil_dir, 0755), 0);
	snprintf(link, sizeof(link), "%s/%.16s", h.evil_dir, strrchr(h.path, '/') + 1);
	cr_assert_eq(symlink(h.victim, link), 0);
	snprintf(h.moved, sizeof(h.moved), "%s.moved", h.stage);
	snprintf(h.path_link, sizeof(h.path_link), "%s.evil", h.path);
	snprintf(h.stage_link, sizeof(h.stage_link), "%s.evil", h.stage);
	cr_assert_eq(pthread_create(&thread, NULL, hostile_run, &h), 0);
	pin_to_last_cpu(thread);
	for (unsigned i = 0; i < 1000; i++) {
		/* every 4th round the staging directory is made by the spawn,
		 * with the writer racing it */
		if (i % 4 == 3)
			rmdir(h.stage);
		atomic_store(&h.stage_too, i % 4 == 3);
		if (dmx_spawn(fx.d, "target", "tok", path, sizeof(path)) == 0)
			ok++;
		cr_assert_eq(dmx_teardown(fx.d, "target"), 0);
		/* what the swaps left: the next round starts clean */
		unlink(h.path);
		if (lstat(h.stage, &after) == 0 && S_ISLNK(after.st_mode))
			unlink(h.stage);
		rmdir(h.moved);
	}
	atomic_store(&h.stop, true);
	pthread_join(thread, NULL);
	cr_assert_eq(stat(h.victim, &after), 0);
	cr_assert_eq(after.st_uid, before.st_uid, "victim chowned to %u after %u swaps",
		     (unsigned)after.st_uid, atomic_load(&h.swaps));
	cr_assert_eq(after.st_gid, before.st_gid, "victim chgrped to %u", (unsigned)after.st_gid);
	cr_assert_eq(after.st_mode & 07777, 0600, "victim chmodded to %o after %u swaps",
		     after.st_mode & 07777, atomic_load(&h.swaps));
	cr_assert_gt(atomic_load(&h.swaps), 0, "the hostile writer never got in");
	cr_assert_gt(ok, 0, "no spawn succeeded");
}

Test(ring_container, spawned_socket_has_its_owner_and_mode_and_no_leftovers)
{
	struct dmx_config cfg;
	char path[DMX_PATH_MAX], stage[160];
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root: socket_owner is a chown");
	fx_config(&cfg);
	cfg.socket_uid = 65534;
	cfg.socket_gid = 65534;
	cfg.socket_mode = 0606;
	fx_open_cfg(&cfg);
	spawn("owned", "tok", path);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(st.st_gid, 65534);
	cr_assert_eq(st.st_mode & 07777, 0606);
	cr_assert_eq(count_dir_entries(fx.sock_dir), 1);
	snprintf(stage, sizeof(stage), "%s/.dmx", fx.sock_dir);
	cr_assert_eq(count_dir_entries(stage), 0, "the staged name was left");
	ping(path);
	dmx_close(fx.d);
	fx.d = NULL;
	cr_assert_eq(access(stage, F_OK), -1, "the staging directory outlived the handle");
}
