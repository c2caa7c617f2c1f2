/* tests/api_policy.c: per-container policy and identity through the public API
 * and real rings: read-only, area allowlists, deny rules on normalised paths
 * (with the bypasses other proxies suffered), peer-uid sets, and the safety of
 * socket files (stale sockets replaced, a live one of another process and
 * other files never unlinked).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "dockmux.h"
#include "upstream.h"

static void suite_init(void)
{
	fx_setup("dmx-policy");
}

TestSuite(policy, .init = suite_init, .fini = fx_teardown, .timeout = 60);

static void spawn_with(const char *key, const struct dmx_policy *p, char path[DMX_PATH_MAX])
{
	int ret = dmx_spawn_policy(fx.d, key, "tok-policy", p, path, DMX_PATH_MAX);

	cr_assert_eq(ret, 0, "dmx_spawn_policy: %s", dmx_strerror(ret));
}

/* One request on a fresh connection; returns the status, body into msg. */
static int request(const char *path, const char *method, const char *target, char *msg,
		   size_t cap)
{
	char req[1024];
	struct client c;
	struct resp r;
	int status;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n",
		 method, target);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, req), 0);
	cr_assert_eq(client_response(&c, &r), 0, "no response to %s %s", method, target);
	status = r.status;
	if (msg)
		snprintf(msg, cap, "%s", r.body ? r.body : "");
	resp_free(&r);
	client_close(&c);
	return status;
}

Test(policy, read_only_allows_get_and_head_and_denies_writes)
{
	struct dmx_policy p = { .read_only = 1 };
	char path[DMX_PATH_MAX], msg[512];
	size_t before;

	fx_open();
	spawn_with("ro", &p, path);
	cr_assert_eq(request(path, "GET", "/_ping", NULL, 0), 200);
	before = upstream_request_count(fx.up);
	cr_assert_eq(request(path, "POST", "/v1.41/containers/create", msg, sizeof(msg)), 403);
	cr_assert(strstr(msg, "\"message\"") && strstr(msg, "read-only"), "body: %s", msg);
	cr_assert_eq(request(path, "DELETE", "/containers/x", NULL, 0), 403);
	cr_assert_eq(upstream_request_count(fx.up), before, "a denied request reached the daemon");
	cr_assert_eq(stats_of("ro").denied, 2);
	cr_assert_geq(stats_of("ro").responses[4], 2);
}

Test(policy, allowlist_names_the_area)
{
	struct dmx_policy p = { .allow = "ping,version" };
	char path[DMX_PATH_MAX], msg[512];

	fx_open();
	spawn_with("allow", &p, path);
	cr_assert_eq(request(path, "GET", "/_ping", NULL, 0), 200);
	/* the test upstream has no /version: 404 proves it was forwarded */
	cr_assert_eq(request(path, "GET", "/v1.41/version", NULL, 0), 404);
	cr_assert_eq(request(path, "GET", "/containers/json", msg, sizeof(msg)), 403);
	cr_assert(strstr(msg, "containers"), "body: %s", msg);
}

Test(policy, deny_rules_match_normalised_paths)
{
	struct dmx_policy p = { .deny = "POST /containers/**/exec; /containers/*/export" };
	const char *denied[][2] = {
		{ "POST", "/containers/abc/exec" },
		{ "POST", "/v1.41/containers/abc/exec" },
		{ "POST", "//containers//abc//exec" },
		{ "POST", "/containers/abc/../abc/exec" },
		{ "POST", "/v1.41/../containers/abc/exec" },
		{ "POST", "/containers/abc/%65xec" },
		{ "POST", "/containers/web/db/exec" },
		{ "POST", "/containers/abc/exec?x=/../" },
		{ "GET", "/containers/abc/export" },
		{ "HEAD", "/containers/abc/export" },
	};
	char path[DMX_PATH_MAX], msg[512];

	fx_open();
	spawn_with("deny", &p, path);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		int st = request(path, denied[i][0], denied[i][1], msg, sizeof(msg));

		cr_assert_eq(st, 403, "%s %s -> %d", denied[i][0], denied[i][1], st);
	}
	/* over-match: neighbours of the rules still pass (404 from the upstream) */
	cr_assert_eq(request(path, "GET", "/containers/abc/json", NULL, 0), 404);
	cr_assert_eq(request(path, "GET", "/containers/abc/exports-list", NULL, 0), 404);
	cr_assert_eq(request(path, "GET", "/containers/abc/exec", NULL, 0), 404);
	/* paths that do not normalise are refused, not guessed at */
	cr_assert_eq(request(path, "GET", "/containers%2Fabc/json", NULL, 0), 400);
	cr_assert_eq(request(path, "GET", "/../../etc", NULL, 0), 400);
	cr_assert_eq(request(path, "POST", "/v1.41/v1.40/containers/abc/exec", NULL, 0), 400);
}

Test(policy, methods_outside_dockerds_are_refused_before_the_rules)
{
	struct dmx_policy p = { .deny = "DELETE /containers/*" };
	static const char *const refused[] = { "delete", "Delete", "PATCH", "BREW" };
	char path[DMX_PATH_MAX], val[128];
	struct client c;
	struct resp r;

	fx_open();
	spawn_with("methods", &p, path);
	cr_assert_eq(request(path, "DELETE", "/containers/x", NULL, 0), 403);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char req[128];

		snprintf(req, sizeof(req), "%s /containers/x HTTP/1.1\r\nHost: docker\r\n\r\n",
			 refused[i]);
		client_connect(&c, path);
		cr_assert_eq(client_sends(&c, req), 0);
		expect_response(&c, &r, 405);
		cr_assert(r.body && strstr(r.body, "{\"message\":\"method is not GET, HEAD"),
			  "%s: %s", refused[i], r.body);
		cr_assert_not_null(resp_header(&r, "Allow", val, sizeof(val)), "%s", refused[i]);
		cr_assert_str_eq(val, "GET, HEAD, POST, PUT, DELETE, OPTIONS");
		resp_free(&r);
		cr_assert_eq(client_wait_closed(&c, PROMPT_MS), 0);
		client_close(&c);
	}
	/* OPTIONS is dockerd's (CORS preflight on every path): forwarded. */
	cr_assert_eq(request(path, "OPTIONS", "/containers/x", NULL, 0), 404);
	cr_assert_eq(upstream_request_count(fx.up), 1, "a refused method reached the daemon");
}

Test(policy, denial_after_a_forwarded_request_keeps_order)
{
	struct dmx_policy p = { .read_only = 1 };
	char path[DMX_PATH_MAX];
	struct client c;
	struct resp r;

	fx_open();
	spawn_with("order", &p, path);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, REQ_PING "POST /containers/create HTTP/1.1\r\n"
				   "Host: docker\r\nContent-Length: 0\r\n\r\n"), 0);
	expect_response(&c, &r, 200);
	resp_free(&r);
	expect_response(&c, &r, 403);
	resp_free(&r);
	cr_assert_eq(client_wait_closed(&c, PROMPT_MS), 0);
	client_close(&c);
}

Test(policy, bad_policies_are_refused_with_a_reason)
{
	struct dmx_policy bad_area = { .allow = "containers,nosuch" };
	struct dmx_policy bad_rule = { .deny = "POST containers" };
	struct dmx_policy no_uids = { .nuids = 2 };
	char path[DMX_PATH_MAX];
	const char *why = NULL;

	fx_open();
	cr_assert_eq(dmx_policy_check(&bad_area, &why), -EINVAL);
	cr_assert(why && *why);
	why = NULL;
	cr_assert_eq(dmx_policy_check(&bad_rule, &why), -EINVAL);
	cr_assert(why && *why);
	cr_assert_eq(dmx_spawn_policy(fx.d, "bad", "tok", &bad_area, path, sizeof(path)), -EINVAL);
	cr_assert_eq(dmx_spawn_policy(fx.d, "bad", "tok", &no_uids, path, sizeof(path)), -EINVAL);
	cr_assert_eq(access(path, F_OK), -1, "nothing was created");
}

Test(policy, policies_over_the_limits_are_refused_at_spawn_with_e2big)
{
	static char deny[80 * 12];
	struct dmx_policy many = { .deny = deny };
	struct dmx_policy lower = { .deny = "delete /images/**" };
	char path[DMX_PATH_MAX];
	const char *why = NULL;

	fx_open();
	deny[0] = '\0';
	for (int i = 0; i < 65; i++)
		strcat(deny, "GET /info;");
	cr_assert_eq(dmx_policy_check(&many, &why), -E2BIG);
	cr_assert_str_eq(why, "policy: more than 64 deny rules");
	cr_assert_eq(dmx_spawn_policy(fx.d, "many", "tok", &many, path, sizeof(path)), -E2BIG);
	cr_assert_eq(access(path, F_OK), -1, "nothing was created");
	/* A rule for a method no request can have is a mistake, not a no-op. */
	cr_assert_eq(dmx_policy_check(&lower, &why), -EINVAL);
	cr_assert(strstr(why, "method is not GET, HEAD"), "%s", why);
	/* 64 is fine. */
	deny[strlen(deny) - strlen("GET /info;")] = '\0';
	spawn_with("many", &many, path);
	cr_assert_eq(request(path, "GET", "/info", NULL, 0), 403);
}

Test(policy, path_of_too_many_segments_gets_400_before_the_rules)
{
	struct dmx_policy p = { .deny = "POST /containers/**/exec" };
	char path[DMX_PATH_MAX], msg[512];
	static char target[2 * 300 + 32];
	size_t n;

	fx_open();
	spawn_with("segs", &p, path);
	n = (size_t)sprintf(target, "/containers");
	for (int i = 0; i < 255; i++)
		n += (size_t)sprintf(target + n, "/a");
	cr_assert_eq(request(path, "POST", target, msg, sizeof(msg)), 404, "%s", msg);
	strcat(target, "/exec");
	cr_assert_eq(request(path, "POST", target, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "more than 256 segments"), "body: %s", msg);
	cr_assert_eq(upstream_request_count(fx.up), 1, "the refused one reached the daemon");
}

Test(policy, respawn_replaces_the_policy)
{
	struct dmx_policy ro = { .read_only = 1 };
	char path[DMX_PATH_MAX], again[DMX_PATH_MAX];

	fx_open();
	spawn_with("swap", &ro, path);
	cr_assert_eq(request(path, "POST", "/echo", NULL, 0), 403);
	spawn_with("swap", NULL, again);
	cr_assert_str_eq(path, again);
	cr_assert_eq(request(path, "POST", "/echo", NULL, 0), 200);
}

Test(policy, uid_set_refuses_other_peers)
{
	uid_t other = getuid() + 1, mine = getuid();
	struct dmx_policy only_other = { .uids = &other, .nuids = 1 };
	struct dmx_policy only_me = { .uids = &mine, .nuids = 1 };
	char path[DMX_PATH_MAX], msg[512];

	struct client c;
	struct resp r;

	fx_open();
	spawn_with("uids", &only_other, path);
	/* The refusal is sent right after accept, before any request: read it
	 * without writing (a write may meet the already-closed socket). */
	client_connect(&c, path);
	cr_assert_eq(client_response(&c, &r), 0);
	cr_assert_eq(r.status, 403);
	snprintf(msg, sizeof(msg), "%s", r.body ? r.body : "");
	cr_assert(strstr(msg, "\"message\""), "body: %s", msg);
	resp_free(&r);
	client_close(&c);
	cr_assert_eq(upstream_request_count(fx.up), 0);
	spawn_with("uids", &only_me, path);
	cr_assert_eq(request(path, "GET", "/_ping", NULL, 0), 200);
}

Test(policy, stale_socket_is_replaced_and_other_files_are_kept)
{
	char path[DMX_PATH_MAX], got[DMX_PATH_MAX];
	struct stat st;
	int fd;

	fx_open();
	/* a regular file where a container's socket would go */
	cr_assert_eq(dmx_path(fx.d, "squatted", path, sizeof(path)), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(dmx_spawn(fx.d, "squatted", "tok", got, sizeof(got)), -EEXIST);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "a non-socket was unlinked");

	/* a stale socket from a previous run (nobody listening) is replaced */
	cr_assert_eq(dmx_path(fx.d, "stale", path, sizeof(path)), 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		memcpy(sa.sun_path, path, strlen(path) + 1);
		cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
	}
	spawn_with("stale", NULL, got);
	cr_assert_str_eq(got, path);
	ping(path);
}

/* Bind and listen at path as "another process" would. */
static int foreign_listener(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, backlog), 0);
	return fd;
}

/* A connection to path reaches the listener lfd. */
static void foreign_still_answers(const char *path, int lfd)
{
	struct client c;
	int afd;

	client_connect(&c, path);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(afd, 0, "the foreign listener lost its connections: %s", strerror(errno));
	cr_assert_eq(send(afd, "x", 1, 0), 1);
	cr_assert_eq(client_fill(&c), 1);
	close(afd);
	client_close(&c);
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0);
	return st.st_ino;
}

Test(policy, live_socket_of_another_process_is_never_replaced)
{
	char path[DMX_PATH_MAX], got[DMX_PATH_MAX];
	ino_t ino;
	int lfd, afd;

	fx_open();
	cr_assert_eq(dmx_path(fx.d, "taken", path, sizeof(path)), 0);
	lfd = foreign_listener(path, 16);
	ino = ino_of(path);
	cr_assert_eq(dmx_spawn(fx.d, "taken", "tok", got, sizeof(got)), -EADDRINUSE);
	cr_assert(strstr(dmx_strerror(-EADDRINUSE), "another process"));
	cr_assert_eq(ino_of(path), ino, "the foreign socket file was replaced");
	cr_assert_eq(count_dir_entries(fx.sock_dir), 1, "the refused spawn left a file");
	/* dockmux's probe connected once: take that one, then a real client */
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (afd >= 0)
		close(afd);
	foreign_still_answers(path, lfd);
	cr_assert_eq(dmx_list(fx.d, NULL, 0), 0, "a refused spawn is not listed");
	cr_assert_eq(upstream_request_count(fx.up), 0);

	/* once the other process is gone, its socket is stale and replaced */
	close(lfd);
	spawn_with("taken", NULL, got);
	cr_assert_str_eq(got, path);
	cr_assert_neq(ino_of(path), ino);
	ping(path);
}

Test(policy, live_socket_with_a_full_backlog_is_still_live)
{
	char path[DMX_PATH_MAX], got[DMX_PATH_MAX];
	int lfd, fds[64], n = 0;

	fx_open();
	cr_assert_eq(dmx_path(fx.d, "busy", path, sizeof(path)), 0);
	lfd = foreign_listener(path, 0);
	/* fill its backlog: further connects would block (EAGAIN) */
	for (; n < 64; n++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, path, strlen(path) + 1);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			cr_assert_eq(errno, EAGAIN, "connect: %s", strerror(errno));
			close(fds[n]);
			break;
		}
	}
	cr_assert_lt(n, 64, "the backlog never filled");
	cr_assert_eq(dmx_spawn(fx.d, "busy", "tok", got, sizeof(got)), -EADDRINUSE);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
}
