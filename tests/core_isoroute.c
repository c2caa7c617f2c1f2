/* tests/core_isoroute.c: the isolation router (core/isoroute.c), table-driven
 * over the Engine API's routes as moby 20.10 registers them (and the current
 * daemon's additions): every request target goes through policy_normalize
 * first, as the ring does, so version prefixes, dot segments and encodings
 * are part of the cases. Also the table's own shape (every template reached
 * by an instance of itself, no variable after an any-bytes one) and the
 * refusal messages' safety in a log line and a JSON string.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "isoroute.h"
#include "policy.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum { FWD = ISOROUTE_FORWARD, FILTER = ISOROUTE_FORCE_FILTER, BODY = ISOROUTE_INSPECT_BODY,
       BUILD = ISOROUTE_BUILD_QUERY, OWNER = ISOROUTE_NEEDS_OWNER, REFUSE = ISOROUTE_REFUSE };
enum { NONE = ISOROUTE_OBJ_NONE, CTR = ISOROUTE_OBJ_CONTAINER, EXEC = ISOROUTE_OBJ_EXEC,
       VOL = ISOROUTE_OBJ_VOLUME, NET = ISOROUTE_OBJ_NETWORK };

struct route_case {
	const char *method;
	const char *target;          /* as a client sends it: version, query */
	int action;
	int object;
	const char *name;            /* the object's name, NULL when none */
	int kind;                    /* INSPECT_BODY; -1 otherwise */
	const char *msg_has;         /* REFUSE: a part of the message; status 403 unless 400 said */
	int status;
};

#define F(m, t) { m, t, FWD, NONE, NULL, -1, NULL, 0 }
#define FF(m, t) { m, t, FILTER, NONE, NULL, -1, NULL, 0 }
#define OW(m, t, o, n) { m, t, OWNER, o, n, -1, NULL, 0 }
#define IB(m, t, o, n, k) { m, t, BODY, o, n, INSPECT_##k, NULL, 0 }
#define RF(m, t, has) { m, t, REFUSE, NONE, NULL, -1, has, 403 }
#define RF400(m, t, has) { m, t, REFUSE, NONE, NULL, -1, has, 400 }

static const struct route_case cases[] = {
	/* reads that need no check */
	F("GET", "/_ping"),
	F("HEAD", "/_ping"),
	F("GET", "/v1.41/_ping"),
	F("GET", "/v1.24/version"),
	F("GET", "/info"),
	F("POST", "/auth"),
	/* OPTIONS: dockerd's CORS preflight on every path, even unknown ones */
	F("OPTIONS", "/containers/create"),
	F("OPTIONS", "/swarm/init"),
	/* images are shared */
	F("GET", "/images/json?all=1"),
	F("GET", "/v1.41/images/search?term=alpine"),
	F("GET", "/images/get?names=alpine"),
	F("GET", "/images/alpine/get"),
	F("GET", "/images/alpine/history"),
	F("GET", "/images/docker.io/library/alpine:3.19/json"),
	F("GET", "/images/alpine/attestations"),
	F("POST", "/images/load?quiet=1"),
	F("POST", "/images/create?fromImage=alpine&tag=3.19"),
	F("POST", "/images/create?fromSrc=-&repo=mine"),
	F("POST", "/images/create?fromSrc=%2D"),
	F("POST", "/images/ghcr.io/x/y/push?tag=1"),
	F("POST", "/images/alpine/tag?repo=mine&tag=1"),
	F("DELETE", "/images/alpine:3.19"),
	F("GET", "/distribution/docker.io/library/alpine/json"),
	F("POST", "/build/cancel?id=abc"),
	F("GET", "/plugins"),
	F("GET", "/plugins/vieux/sshfs:latest/json"),
	F("GET", "/plugins/privileges?remote=vieux/sshfs"),
	/* lists, events and prunes: the owner label forced */
	FF("GET", "/containers/json?all=1&filters=%7B%7D"),
	FF("GET", "/v1.41/containers/json"),
	FF("GET", "/volumes"),
	FF("GET", "/networks"),
	FF("GET", "/networks/"),
	FF("GET", "/events?since=0"),
	FF("GET", "/system/df"),
	FF("POST", "/containers/prune"),
	FF("POST", "/volumes/prune"),
	FF("POST", "/networks/prune"),
	FF("POST", "/images/prune?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"),
	/* bodies to inspect */
	IB("POST", "/containers/create", NONE, NULL, CONTAINER_CREATE),
	IB("POST", "/v1.41/containers/create?name=web", NONE, NULL, CONTAINER_CREATE),
	IB("POST", "/containers/web/start", CTR, "web", CONTAINER_START),
	IB("POST", "/v1.23/containers/4f5e1c/start", CTR, "4f5e1c", CONTAINER_START),
	IB("POST", "/containers/web/exec", CTR, "web", EXEC_CREATE),
	IB("POST", "/containers/web/db/exec", CTR, "web/db", EXEC_CREATE),
	IB("POST", "/volumes/create", NONE, NULL, VOLUME_CREATE),
	IB("POST", "/networks/create", NONE, NULL, NETWORK_CREATE),
	IB("POST", "/networks/n1/connect", NET, "n1", NETWORK_CONNECT),
	IB("POST", "/networks/n1/disconnect", NET, "n1", NETWORK_CONNECT),
	{ "POST", "/build?t=x&networkmode=host", BUILD, NONE, NULL, -1, NULL, 0 },
	{ "POST", "/build?remote=", BUILD, NONE, NULL, -1, NULL, 0 },
	/* requests naming an object ({name:.*} spans segments, as dockerd routes) */
	OW("GET", "/containers/web/json", CTR, "web"),
	OW("GET", "/containers/json/json", CTR, "json"),
	OW("GET", "/containers/web/db/json", CTR, "web/db"),
	OW("GET", "/containers/web/json/logs", CTR, "web/json"),
	OW("GET", "/containers/web/export", CTR, "web"),
	OW("GET", "/containers/web/changes", CTR, "web"),
	OW("GET", "/containers/web/top?ps_args=aux", CTR, "web"),
	OW("GET", "/containers/web/logs?follow=1", CTR, "web"),
	OW("GET", "/containers/web/stats?stream=0", CTR, "web"),
	OW("GET", "/containers/web/attach/ws", CTR, "web"),
	OW("GET", "/containers/web/archive?path=/etc", CTR, "web"),
	OW("HEAD", "/containers/web/archive?path=/etc", CTR, "web"),
	OW("PUT", "/containers/web/archive?path=/tmp", CTR, "web"),
	OW("POST", "/containers/web/kill?signal=HUP", CTR, "web"),
	OW("POST", "/containers/web/pause", CTR, "web"),
	OW("POST", "/containers/web/unpause", CTR, "web"),
	OW("POST", "/containers/web/restart", CTR, "web"),
	OW("POST", "/containers/web/stop?t=3", CTR, "web"),
	OW("POST", "/containers/web/wait?condition=removed", CTR, "web"),
	OW("POST", "/containers/web/resize?h=40&w=80", CTR, "web"),
	OW("POST", "/containers/web/attach?stream=1", CTR, "web"),
	OW("POST", "/containers/web/rename?name=www", CTR, "web"),
	OW("POST", "/containers/web/update", CTR, "web"),
	OW("DELETE", "/containers/web?force=1", CTR, "web"),
	OW("DELETE", "/containers/web/db", CTR, "web/db"),
	OW("DELETE", "/containers/prune", CTR, "prune"),
	OW("GET", "/exec/9b1d0c/json", EXEC, "9b1d0c"),
	OW("POST", "/exec/9b1d0c/start", EXEC, "9b1d0c"),
	OW("POST", "/exec/9b1d0c/resize?h=1&w=1", EXEC, "9b1d0c"),
	OW("GET", "/volumes/data", VOL, "data"),
	OW("DELETE", "/volumes/data?force=1", VOL, "data"),
	OW("GET", "/networks/n1", NET, "n1"),
	OW("GET", "/networks/a/b", NET, "a/b"),
	OW("DELETE", "/networks/n1", NET, "n1"),
	/* normalised first: dot segments, doubled slashes, encodings */
	OW("GET", "/v1.41/../containers/web/json", CTR, "web"),
	OW("GET", "//containers//web/./json", CTR, "web"),
	OW("GET", "/containers/%77eb/json", CTR, "web"),
	/* refused: swarm (reads too), plugin changes, BuildKit, checkpoints */
	RF("GET", "/swarm", "swarm"),
	RF("GET", "/swarm/unlockkey", "swarm"),
	RF("POST", "/swarm/init", "swarm"),
	RF("POST", "/swarm/join", "swarm"),
	RF("POST", "/swarm/leave?force=1", "swarm"),
	RF("POST", "/swarm/update", "swarm"),
	RF("POST", "/swarm/unlock", "swarm"),
	RF("GET", "/services", "swarm"),
	RF("GET", "/services/s1", "swarm"),
	RF("POST", "/services/create", "swarm"),
	RF("POST", "/services/s1/update", "swarm"),
	RF("DELETE", "/services/s1", "swarm"),
	RF("GET", "/services/s1/logs", "swarm"),
	RF("GET", "/nodes", "swarm"),
	RF("POST", "/nodes/n1/update", "swarm"),
	RF("DELETE", "/nodes/n1", "swarm"),
	RF("GET", "/tasks/t1/logs", "swarm"),
	RF("GET", "/secrets", "swarm"),
	RF("POST", "/secrets/create", "swarm"),
	RF("POST", "/secrets/s1/update", "swarm"),
	RF("DELETE", "/secrets/s1", "swarm"),
	RF("GET", "/configs/c1", "swarm"),
	RF("POST", "/configs/create", "swarm"),
	RF("PUT", "/volumes/data", "swarm"),
	RF("POST", "/plugins/pull?remote=vieux/sshfs", "plugins"),
	RF("POST", "/plugins/create?name=x", "plugins"),
	RF("POST", "/plugins/vieux/sshfs/enable", "plugins"),
	RF("POST", "/plugins/sshfs/disable", "plugins"),
	RF("POST", "/plugins/sshfs/set", "plugins"),
	RF("POST", "/plugins/sshfs/upgrade", "plugins"),
	RF("POST", "/plugins/sshfs/push", "plugins"),
	RF("DELETE", "/plugins/sshfs", "plugins"),
	RF("POST", "/session", "BuildKit"),
	RF("POST", "/grpc", "BuildKit"),
	RF("POST", "/build/prune", "build cache"),
	RF("GET", "/containers/web/checkpoints", "checkpoints"),
	RF("POST", "/containers/web/checkpoints", "checkpoints"),
	RF("DELETE", "/containers/web/checkpoints/cp1?dir=/etc", "checkpoints"),
	/* the daemon fetches a URL from its own network */
	RF("POST", "/images/create?fromSrc=http://169.254.169.254/latest", "fromSrc"),
	RF("POST", "/images/create?fromSrc=", "fromSrc"),
	RF("POST", "/images/create?fromSrc=-&fromSrc=http://x/", "fromSrc"),
	RF("POST", "/images/create?fromImage=alpine&fromSrc=http://x/", "fromSrc"),
	RF("POST", "/build?remote=https://example.com/ctx.tar", "remote"),
	RF("POST", "/build?t=x&remote=git%3A%2F%2Fh%2Fr", "remote"),
	RF400("POST", "/images/create?fromSrc=%zz", "parse"),
	RF400("POST", "/build?remote=a;b", "parse"),
	/* unknown to dockerd, or not with this method */
	RF("GET", "/", "endpoint not available"),
	RF("GET", "/containers", "endpoint not available"),
	RF("HEAD", "/containers/json", "endpoint not available"),
	RF("POST", "/containers/json", "endpoint not available"),
	RF("PUT", "/containers/create", "endpoint not available"),
	RF("POST", "/containers/web/copy", "endpoint not available"),
	RF("DELETE", "/networks", "endpoint not available"),
	RF("GET", "/Containers/json", "endpoint not available"),
	RF("GET", "/containers/JSON/x", "endpoint not available"),
	RF("GET", "/libpod/containers/json", "endpoint not available"),
	RF("GET", "/v4.0.0/libpod/containers/json", "endpoint not available"),
	RF("GET", "/v1/containers/json", "endpoint not available"),
	RF("GET", "/v1.41.0/containers/json", "endpoint not available"),
	RF("GET", "/V1.41/containers/json", "endpoint not available"),
	RF("GET", "/v1.41/v1.41/containers/json", "endpoint not available"),
	RF("GET", "/vars", "endpoint not available"),
	RF("GET", "/debug/pprof/", "debug"),
	RF("POST", "/debug/vars", "debug"),
	RF("GET", "/debug", "debug"),
};

/* The ring's steps: normalise the target, cut the query, classify. */
static enum isoroute_action classify_target(const char *method, const char *target,
					    struct isoroute *out, char *path, size_t cap)
{
	const char *q = strchr(target, '?');
	size_t qlen = q ? strlen(q + 1) : 0;

	cr_assert_eq(policy_normalize(target, strlen(target), path, cap), 0, "%s", target);
	return isoroute_classify(method, strlen(method), path, q ? q + 1 : "", qlen, out);
}

Test(isoroute, routes_every_engine_api_endpoint_to_its_action)
{
	char path[1024], name[256];

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct route_case *c = &cases[i];
		struct isoroute r;

		classify_target(c->method, c->target, &r, path, sizeof(path));
		cr_expect_eq((int)r.action, c->action, "%s %s: %s (route %s), want %s", c->method,
			     c->target, isoroute_action_name(r.action), r.route,
			     isoroute_action_name(c->action));
		cr_expect_eq((int)r.object, c->object, "%s %s: object %d", c->method, c->target,
			     r.object);
		if (c->name) {
			snprintf(name, sizeof(name), "%.*s", (int)r.name_len, path + r.name_off);
			cr_expect_str_eq(name, c->name, "%s %s", c->method, c->target);
		}
		if (c->kind >= 0)
			cr_expect_eq((int)r.kind, c->kind, "%s %s: kind %d", c->method, c->target,
				     r.kind);
		if (c->action == REFUSE) {
			cr_expect_eq(r.status, c->status, "%s %s: status %d", c->method, c->target,
				     r.status);
			cr_expect(r.msg && strstr(r.msg, c->msg_has), "%s %s: msg %s", c->method,
				  c->target, r.msg ? r.msg : "(null)");
		} else {
			cr_expect_null(r.msg, "%s %s", c->method, c->target);
			cr_expect_neq(r.route[0], '\0', "%s %s: no route named", c->method,
				      c->target);
		}
	}
}

Test(isoroute, commit_names_its_container_by_the_query)
{
	char path[64];
	struct isoroute r;

	cr_assert_eq(classify_target("POST", "/v1.41/commit?container=web&repo=x", &r, path,
				     sizeof(path)), ISOROUTE_NEEDS_OWNER);
	cr_assert_eq(r.object, ISOROUTE_OBJ_CONTAINER);
	cr_assert_str_eq(r.name_param, "container");
	cr_assert_eq(r.name_len, 0);
}

Test(isoroute, names_the_moby_route_that_matched)
{
	char path[64];
	struct isoroute r;

	classify_target("DELETE", "/containers/web/checkpoints/cp", &r, path, sizeof(path));
	/* the checkpoint router comes first, "or the DELETE gets masked" */
	cr_assert_str_eq(r.route, "DELETE /containers/{name}/checkpoints/{checkpoint}");
	classify_target("DELETE", "/containers/web/db/checkpoints", &r, path, sizeof(path));
	cr_assert_str_eq(r.route, "DELETE /containers/{name:.*}");
	classify_target("GET", "/networks/x/json", &r, path, sizeof(path));
	cr_assert_str_eq(r.route, "GET /networks/{id:.+}");
	classify_target("OPTIONS", "/anything/at/all", &r, path, sizeof(path));
	cr_assert_str_eq(r.route, "OPTIONS /{anyroute:.*}");
}

/* Replace each template variable with one segment ("x"), or two for an
 * any-bytes one ("x/y"), so the instance exercises the multi-segment case. */
static void instantiate(const char *tpl, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *t = tpl; *t && o + 4 < cap;) {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			bool any = strstr(t, ":.") && strstr(t, ":.") < close;

			o += (size_t)snprintf(out + o, cap - o, any ? "x/y" : "x");
			t = close + 1;
		} else {
			out[o++] = *t++;
		}
	}
	out[o] = '\0';
}

Test(isoroute, every_template_is_reached_by_an_instance_of_itself)
{
	char path[512];
	const char *rt;

	for (size_t i = 0; (rt = isoroute_route_at(i)); i++) {
		const char *sp = strchr(rt, ' ');
		char method[16];
		struct isoroute r;

		cr_assert_not_null(sp, "%s", rt);
		snprintf(method, sizeof(method), "%.*s", (int)(sp - rt), rt);
		instantiate(sp + 1, path, sizeof(path));
		isoroute_classify(method, strlen(method), path, "", 0, &r);
		cr_expect_str_eq(r.route, rt, "%s %s is masked by an earlier route", method, path);
	}
}

Test(isoroute, templates_have_no_variable_after_an_any_bytes_one)
{
	const char *rt;
	size_t n = 0;

	for (size_t i = 0; (rt = isoroute_route_at(i)); i++, n++) {
		const char *tpl = strchr(rt, ' ') + 1, *any = strstr(tpl, ":.");

		cr_expect_eq(tpl[0], '/', "%s", rt);
		cr_expect(http_method_known(rt, (size_t)(tpl - 1 - rt)), "%s", rt);
		if (any)
			cr_expect_null(strchr(any, '{'), "%s: a variable after an any-bytes one", rt);
		for (const char *p = tpl; (p = strchr(p, '{')); p++)
			cr_expect_not_null(strchr(p, '}'), "%s", rt);
	}
	/* moby 20.10 registers 114 routes besides /debug; the table drops three
	 * (OPTIONS, answered first; the retired copy; "/networks/", the same path
	 * once normalised) and adds the current daemon's two */
	cr_expect_eq(n, 113, "%zu routes", n);
}

Test(isoroute, refusal_messages_are_safe_in_a_log_line_and_a_json_string)
{
	static const char *const probes[][2] = {
		{ "GET", "/nope" }, { "GET", "/debug/vars" }, { "GET", "/swarm" },
		{ "POST", "/plugins/pull" }, { "POST", "/session" }, { "POST", "/build/prune" },
		{ "GET", "/containers/x/checkpoints" }, { "POST", "/images/create?fromSrc=u" },
		{ "POST", "/build?remote=u" }, { "POST", "/build?remote=%" },
	};
	char path[64];

	for (size_t i = 0; i < N_ELEMS(probes); i++) {
		struct isoroute r;

		cr_assert_eq(classify_target(probes[i][0], probes[i][1], &r, path, sizeof(path)),
			     ISOROUTE_REFUSE, "%s %s", probes[i][0], probes[i][1]);
		cr_expect_eq(strncmp(r.msg, "dockmux isolation: ", 19), 0, "%s", r.msg);
		for (const char *p = r.msg; *p; p++)
			cr_expect(*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\', "%s", r.msg);
	}
}

Test(isoroute, every_action_has_a_name)
{
	for (int a = ISOROUTE_FORWARD; a <= ISOROUTE_REFUSE; a++)
		cr_expect_neq(strcmp(isoroute_action_name((enum isoroute_action)a), "?"), 0);
}
