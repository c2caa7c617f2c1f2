/* tests/api_shared.c: the smallest full use of libdockmux.so (open, path, spawn,
 * one request through, teardown, close), linked against the shared library so
 * it proves that what libdockmux.map exports is enough and nothing else leaks.
 * Behaviour in depth is tested in api_dockmux.c against the static library.
 */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dockmux.h"
#include "upstream.h"

static struct {
	char dir[64];
	char up_path[128];
	char sock_dir[128];
	struct upstream *up;
	dmx *d;
} fx;

static void fx_init(void)
{
	struct dmx_config cfg;
	int ret;

	strcpy(fx.dir, "/tmp/dmx-so.XXXXXX");
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.up_path, sizeof(fx.up_path), "%s/docker.sock", fx.dir);
	snprintf(fx.sock_dir, sizeof(fx.sock_dir), "%s/s", fx.dir);
	cr_assert_eq(upstream_new(fx.up_path, 0, &fx.up), 0);
	dmx_config_init(&cfg);
	cfg.upstream = fx.up_path;
	cfg.socket_dir = fx.sock_dir;
	cfg.rings = 2;
	ret = dmx_open(&cfg, &fx.d);
	cr_assert_eq(ret, 0, "dmx_open: %s", dmx_strerror(ret));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fx_fini(void)
{
	dmx_close(fx.d);
	upstream_free(fx.up);
	nftw(fx.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(shared, .init = fx_init, .fini = fx_fini, .timeout = 30);

/* Connect, send req, read until the head and a Content-Length body are in. */
static int roundtrip(const char *path, const char *req, char *out, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	size_t len = 0;
	int fd, ret = -EPROTO;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		ret = -errno;
		goto out;
	}
	while (len + 1 < cap) {
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		char *body, *cl;

		if (n <= 0) {
			ret = n < 0 ? -errno : -EPIPE;
			break;
		}
		len += (size_t)n;
		out[len] = '\0';
		body = strstr(out, "\r\n\r\n");
		cl = strcasestr(out, "\r\nContent-Length:");
		if (body && cl && cl < body &&
		    (size_t)(out + len - (body + 4)) >= strtoul(cl + 17, NULL, 10)) {
			ret = 0;
			break;
		}
	}
out:
	close(fd);
	return ret;
}

Test(shared, exported_api_runs_a_container_end_to_end)
{
	char path[DMX_PATH_MAX], want[DMX_PATH_MAX], resp[4096], val[128];
	struct dmx_stats s;
	struct dmx_entry e[2];
	struct stat st;

	/* an independent vector: printf ci-runner-1 | xxhsum -H3 */
	cr_assert_eq(dmx_path_in(NULL, "ci-runner-1", want, sizeof(want)), 0);
	cr_assert_str_eq(want, "/run/dockmux/05804f4591ec6266.sock");
	cr_assert_eq(dmx_path(fx.d, "ci-runner-1", want, sizeof(want)), 0);
	cr_assert_eq(strlen(want), strlen(fx.sock_dir) + 22);

	cr_assert_eq(dmx_spawn(fx.d, "ci-runner-1", "shared-token", path, sizeof(path)), 0);
	cr_assert_str_eq(path, want);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));

	cr_assert_eq(roundtrip(path, "GET /_ping HTTP/1.1\r\nHost: docker\r\n"
				     "Authorization: Bearer evil\r\n\r\n", resp, sizeof(resp)), 0);
	cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "response: %s", resp);
	cr_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "OK");
	cr_assert_eq(upstream_count_header(fx.up, -1, "Authorization"), 1);
	cr_assert_eq(upstream_header_value(fx.up, -1, "Authorization", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "Bearer shared-token");

	cr_assert_eq(dmx_stats(fx.d, "ci-runner-1", &s), 0);
	cr_assert_eq(s.requests, 1);
	cr_assert_eq(dmx_list(fx.d, e, 2), 1);
	cr_assert_str_eq(e[0].key, "ci-runner-1");
	cr_assert_str_eq(e[0].path, path);
	{
		struct dmx_list_cursor cur = { { 0 } };

		cr_assert_eq(dmx_list_page(fx.d, &cur, e, 2), 1);
		cr_assert_str_eq(e[0].key, "ci-runner-1");
		cr_assert_eq(dmx_list_page(fx.d, &cur, e, 2), 0);
	}

	cr_assert_eq(dmx_teardown(fx.d, "ci-runner-1"), 0);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(dmx_list(fx.d, NULL, 0), 0);
	cr_assert_eq(dmx_stats(fx.d, NULL, &s), 0);
	cr_assert_eq(s.requests, 1);
	cr_assert_not_null(dmx_strerror(-EINVAL));
	dmx_close(fx.d);
	fx.d = NULL;
}

Test(shared, only_the_public_api_is_exported)
{
	static const char *public[] = { "dmx_config_init", "dmx_open", "dmx_close",
					"dmx_path", "dmx_path_in", "dmx_spawn",
					"dmx_teardown", "dmx_stats", "dmx_list", "dmx_list_page",
					"dmx_strerror", "dmx_dir_check" };
	static const char *internal[] = { "engine_new", "engine_free", "engine_call",
					  "ring_sqe", "ring_log", "conn_start", "conn_close",
					  "keypath_format", "keypath_check", "keypath_hash",
					  "ctab_init", "ctab_after", "http_head_parse", "http_head_rewrite",
					  "http_limits_default" };
	void *so = dlopen("libdockmux.so.0", RTLD_NOW | RTLD_NOLOAD);

	cr_assert_not_null(so, "libdockmux.so.0 is not loaded: %s", dlerror());
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
		cr_assert_not_null(dlsym(so, public[i]), "%s not exported", public[i]);
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		cr_assert_null(dlsym(so, internal[i]), "%s is exported", internal[i]);
	dlclose(so);
}
