/* tests/core_hijack.c: the request side of the hijack verdict (core/hijack.c):
 * which requests dockerd or podman may answer by taking over the connection,
 * so that what the client sends next must be held unparsed. Tables of paths
 * as clients send them (versions, libpod, encodings, names with slashes) and
 * whole request heads through the real parser.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hijack.h"
#include "http.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct path_case {
	const char *method;
	const char *target;
	bool may;
};

static const struct path_case path_cases[] = {
	/* dockerd's attach and exec start, as the CLI and the SDKs send them */
	{ "POST", "/containers/4f5e1c2b9a7d/attach?stream=1&stdin=1&stdout=1&stderr=1", true },
	{ "POST", "/v1.41/containers/web/attach?stream=1&stdin=1", true },
	{ "POST", "/v1.45/exec/9b1d0c/start", true },
	{ "POST", "/exec/9b1d0c/start", true },
	/* podman: compat and libpod routes, semver versions */
	{ "POST", "/v4.0.0/libpod/containers/web/attach?stream=true", true },
	{ "POST", "/v4.3.1/libpod/exec/9b1d0c/start", true },
	{ "POST", "/libpod/containers/web/attach", true },
	/* what normalises to them */
	{ "POST", "//containers//web//attach", true },
	{ "POST", "/containers/web/./attach", true },
	{ "POST", "/containers/x/../web/attach", true },
	{ "POST", "/v1.41/../containers/web/attach", true },
	{ "POST", "/containers/web/%61ttach", true },
	{ "POST", "/containers/web/attach/", true },
	{ "POST", "/V1.41.0/containers/web/attach", true },
	{ "POST", "/v1.41/v1.41.0/containers/web/attach", true },
	{ "post", "/containers/web/attach", true },
	{ "POST", "/CONTAINERS/web/ATTACH", true },
	/* dockerd's "{name:.*}": a name may span segments (legacy links) */
	{ "POST", "/containers/web/db/attach", true },
	{ "POST", "/containers//attach", true },
	{ "POST", "/containers/attach", true },   /* the same once normalised */
	{ "POST", "/exec//start", true },
	/* not normalisable, yet Go may still route it: assumed to hijack */
	{ "POST", "/containers/a%2Fb/attach", true },
	{ "POST", "http://docker/containers/web/attach", true },
	{ "POST", "/containers/web/attach%", true },
	{ "POST", "*", true },
	/* not a hijacking route */
	{ "GET", "/containers/web/attach", false },
	{ "HEAD", "/containers/web/attach", false },
	{ "PUT", "/exec/9b1d0c/start", false },
	{ "POST", "/containers/web/attach/ws", false },
	{ "GET", "/containers/web/attach/ws", false },
	{ "POST", "/containers/web/start", false },
	{ "POST", "/containers/web/exec", false },
	{ "POST", "/exec/9b1d0c/resize?h=40&w=80", false },
	{ "POST", "/exec/9b1d0c", false },
	{ "POST", "/containers", false },
	{ "POST", "/exec", false },
	{ "POST", "/", false },
	{ "POST", "/images/create?fromImage=attach", false },
	{ "POST", "/build?t=start", false },
	{ "POST", "/v1.41/libpod/images/attach", false },
	{ "POST", "/libpod/libpod/containers/web/attach", false },
	{ "POST", "/attach", false },
	{ "POSTX", "/containers/web/attach", false },
};

Test(hijack, path_table)
{
	for (size_t i = 0; i < N_ELEMS(path_cases); i++) {
		const struct path_case *c = &path_cases[i];

		cr_assert_eq(hijack_path_may(c->method, strlen(c->method), c->target,
					     strlen(c->target)),
			     c->may, "%s %s: want %s", c->method, c->target, c->may ? "yes" : "no");
	}
}

Test(hijack, target_too_long_to_normalise_is_assumed_to_hijack)
{
	static char target[HTTP_DEFAULT_MAX_LINE + 64];

	memset(target, 'a', sizeof(target) - 1);
	target[0] = '/';
	cr_assert(hijack_path_may("POST", 4, target, strlen(target)));
	cr_assert_not(hijack_path_may("GET", 3, target, strlen(target)));
}

Test(hijack, empty_or_missing_method_never_hijacks)
{
	cr_assert_not(hijack_path_may(NULL, 0, "/exec/x/start", 13));
	cr_assert_not(hijack_path_may("", 0, "/exec/x/start", 13));
}

static bool head_may(const char *head)
{
	struct http_head h;

	cr_assert_eq(http_head_parse(head, strlen(head), NULL, &h), HTTP_PARSE_DONE, "%s", head);
	return hijack_request_may(head, &h);
}

Test(hijack, request_heads)
{
	/* the docker CLI's own attach: an upgrade anyway */
	cr_assert(head_may("POST /v1.41/containers/web/attach?stream=1&stdin=1 HTTP/1.1\r\n"
			   "Host: api.moby.localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
	/* an older client or a raw API user: no Upgrade, dockerd hijacks with a 200 */
	cr_assert(head_may("POST /containers/web/attach?stream=1&stdin=1 HTTP/1.1\r\n"
			   "Host: docker\r\n\r\n"));
	cr_assert(head_may("POST /exec/9b1d/start HTTP/1.1\r\nHost: docker\r\n"
			   "Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"));
	/* dockerd answers 101 to an Upgrade header alone (attach, /grpc, /session) */
	cr_assert(head_may("POST /grpc HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\n\r\n"));
	cr_assert(head_may("GET /_ping HTTP/1.1\r\nHost: docker\r\nupgrade:\r\n\r\n"));
	cr_assert(head_may("POST /session HTTP/1.1\r\nHost: docker\r\nUPGRADE: h2c\r\n"
			   "X-Docker-Expose-Session-Uuid: 1\r\n\r\n"));
	/* ordinary requests */
	cr_assert_not(head_may("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"));
	cr_assert_not(head_may("POST /containers/create HTTP/1.1\r\nHost: docker\r\n"
			       "Content-Length: 2\r\n\r\n"));
	cr_assert_not(head_may("GET /containers/web/logs?follow=1 HTTP/1.1\r\nHost: docker\r\n"
			       "Connection: keep-alive\r\nX-Upgrade: tcp\r\n\r\n"));
}
