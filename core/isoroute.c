/* core/isoroute.c: the isolation router. One table of the Engine API's routes
 * in dockerd's registration order (moby 20.10 cmd/dockerd/daemon.go
 * initRouter: checkpoint, container, image, system, volume, build, session,
 * swarm, plugin, distribution, grpc, network; then /debug), matched the way
 * gorilla/mux does (first match, case-sensitive), each with its action.
 * A route dockerd does not have is refused: under isolation nothing passes
 * that nobody has looked at.
 */
#include "isoroute.h"

#include "filters.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MSG_UNKNOWN "dockmux isolation: endpoint not available to an isolated container"
#define MSG_SWARM "dockmux isolation: swarm endpoints are not available to an isolated container"
#define MSG_PLUGIN "dockmux isolation: plugins cannot be changed from an isolated container"
#define MSG_BUILDKIT "dockmux isolation: BuildKit sessions are refused (their stream can " \
		     "ask for network.host); build with DOCKER_BUILDKIT=0"
#define MSG_CHECKPOINT "dockmux isolation: checkpoints name host directories and are refused"
#define MSG_BUILD_PRUNE "dockmux isolation: the build cache is shared by every tenant: " \
			"its prune is refused"
#define MSG_DEBUG "dockmux isolation: the daemon's debug endpoints are refused"
#define MSG_IMPORT_URL "dockmux isolation: an image import from a URL (fromSrc) makes " \
		       "dockerd fetch it from its own network: refused"
#define MSG_BUILD_REMOTE "dockmux isolation: a build from a remote context makes dockerd " \
			 "fetch it from its own network: refused"

/* Query checks a route's action depends on. */
enum route_query { Q_NONE, Q_IMPORT, Q_BUILD };

struct route {
	const char *route;            /* "METHOD template", for isoroute.route */
	const char *method;
	size_t mlen;
	const char *tpl;              /* moby's path template */
	enum isoroute_action action;
	enum isoroute_object object;  /* the object the template's first variable names */
	enum inspect_kind kind;       /* INSPECT_BODY */
	const char *msg;              /* REFUSE */
	enum route_query query;
};

/* The method apart (no scan of the string per request), and joined for logs. */
#define R(m, t) #m " " t, #m, sizeof(#m) - 1, t
#define FWD(m, t) { R(m, t), ISOROUTE_FORWARD, ISOROUTE_OBJ_NONE, 0, NULL, Q_NONE }
#define FILTER(m, t) { R(m, t), ISOROUTE_FORCE_FILTER, ISOROUTE_OBJ_NONE, 0, NULL, Q_NONE }
#define OWNER(m, t, o) { R(m, t), ISOROUTE_NEEDS_OWNER, ISOROUTE_OBJ_##o, 0, NULL, Q_NONE }
#define BODY(m, t, o, k) \
	{ R(m, t), ISOROUTE_INSPECT_BODY, ISOROUTE_OBJ_##o, INSPECT_##k, NULL, Q_NONE }
#define REFUSE(m, t, msg) { R(m, t), ISOROUTE_REFUSE, ISOROUTE_OBJ_NONE, 0, msg, Q_NONE }

/* moby 20.10's routes (api/server/router/<name>/<name>.go initRoutes), and
 * the two the current daemon added (GET /images/{name}/attestations, PUT
 * /volumes/{name}: cluster volumes). A template variable is "{x}" (one
 * segment) or "{x:.*}" / "{x:.+}" (any bytes, '/' included); a ".*" or ".+"
 * one is always followed by literal text only (tests/core_isoroute.c checks). */
static const struct route routes[] = {
	/* checkpoint (experimental; before container "or the DELETE gets masked") */
	REFUSE(GET, "/containers/{name:.*}/checkpoints", MSG_CHECKPOINT),
	REFUSE(POST, "/containers/{name:.*}/checkpoints", MSG_CHECKPOINT),
	REFUSE(DELETE, "/containers/{name}/checkpoints/{checkpoint}", MSG_CHECKPOINT),
	/* container */
	OWNER(HEAD, "/containers/{name:.*}/archive", CONTAINER),
	FILTER(GET, "/containers/json"),
	OWNER(GET, "/containers/{name:.*}/export", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/changes", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/json", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/top", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/logs", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/stats", CONTAINER),
	OWNER(GET, "/containers/{name:.*}/attach/ws", CONTAINER),
	OWNER(GET, "/exec/{id:.*}/json", EXEC),
	OWNER(GET, "/containers/{name:.*}/archive", CONTAINER),
	BODY(POST, "/containers/create", NONE, CONTAINER_CREATE),
	OWNER(POST, "/containers/{name:.*}/kill", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/pause", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/unpause", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/restart", CONTAINER),
	BODY(POST, "/containers/{name:.*}/start", CONTAINER, CONTAINER_START),
	OWNER(POST, "/containers/{name:.*}/stop", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/wait", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/resize", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/attach", CONTAINER),
	/* POST /containers/{name:.*}/copy: gone since API 1.12 (an error in
	 * 20.10, no route today): left to the refusal of unknown routes. */
	BODY(POST, "/containers/{name:.*}/exec", CONTAINER, EXEC_CREATE),
	OWNER(POST, "/exec/{name:.*}/start", EXEC),
	OWNER(POST, "/exec/{name:.*}/resize", EXEC),
	OWNER(POST, "/containers/{name:.*}/rename", CONTAINER),
	OWNER(POST, "/containers/{name:.*}/update", CONTAINER),
	FILTER(POST, "/containers/prune"),
	OWNER(POST, "/commit", CONTAINER),   /* ?container=: name_param */
	OWNER(PUT, "/containers/{name:.*}/archive", CONTAINER),
	OWNER(DELETE, "/containers/{name:.*}", CONTAINER),
	/* image: images are shared (pulled once for every tenant); tag and
	 * remove rules are for later (docs/NOTES.md) */
	FWD(GET, "/images/json"),
	FWD(GET, "/images/search"),
	FWD(GET, "/images/get"),
	FWD(GET, "/images/{name:.*}/get"),
	FWD(GET, "/images/{name:.*}/history"),
	FWD(GET, "/images/{name:.*}/json"),
	FWD(GET, "/images/{name:.*}/attestations"),
	FWD(POST, "/images/load"),
	{ R(POST, "/images/create"), ISOROUTE_FORWARD, ISOROUTE_OBJ_NONE, 0, NULL, Q_IMPORT },
	FWD(POST, "/images/{name:.*}/push"),
	FWD(POST, "/images/{name:.*}/tag"),
	FILTER(POST, "/images/prune"),
	FWD(DELETE, "/images/{name:.*}"),
	/* system (OPTIONS "/{anyroute:.*}" is handled before the table) */
	FWD(GET, "/_ping"),
	FWD(HEAD, "/_ping"),
	FILTER(GET, "/events"),
	FWD(GET, "/info"),
	FWD(GET, "/version"),
	/* dockerd 20.10 reads no filters here: forced anyway, for daemons that
	 * do; what it still shows is listed in docs/NOTES.md */
	FILTER(GET, "/system/df"),
	FWD(POST, "/auth"),
	/* volume */
	FILTER(GET, "/volumes"),
	OWNER(GET, "/volumes/{name:.*}", VOLUME),
	BODY(POST, "/volumes/create", NONE, VOLUME_CREATE),
	FILTER(POST, "/volumes/prune"),
	REFUSE(PUT, "/volumes/{name:.*}", MSG_SWARM),
	OWNER(DELETE, "/volumes/{name:.*}", VOLUME),
	/* build */
	{ R(POST, "/build"), ISOROUTE_BUILD_QUERY, ISOROUTE_OBJ_NONE, 0, NULL, Q_BUILD },
	REFUSE(POST, "/build/prune", MSG_BUILD_PRUNE),
	FWD(POST, "/build/cancel"),   /* by a build's random id */
	/* session */
	REFUSE(POST, "/session", MSG_BUILDKIT),
	/* swarm: reads too (service specs carry the operator's Env) */
	REFUSE(POST, "/swarm/init", MSG_SWARM),
	REFUSE(POST, "/swarm/join", MSG_SWARM),
	REFUSE(POST, "/swarm/leave", MSG_SWARM),
	REFUSE(GET, "/swarm", MSG_SWARM),
	REFUSE(GET, "/swarm/unlockkey", MSG_SWARM),
	REFUSE(POST, "/swarm/update", MSG_SWARM),
	REFUSE(POST, "/swarm/unlock", MSG_SWARM),
	REFUSE(GET, "/services", MSG_SWARM),
	REFUSE(GET, "/services/{id}", MSG_SWARM),
	REFUSE(POST, "/services/create", MSG_SWARM),
	REFUSE(POST, "/services/{id}/update", MSG_SWARM),
	REFUSE(DELETE, "/services/{id}", MSG_SWARM),
	REFUSE(GET, "/services/{id}/logs", MSG_SWARM),
	REFUSE(GET, "/nodes", MSG_SWARM),
	REFUSE(GET, "/nodes/{id}", MSG_SWARM),
	REFUSE(DELETE, "/nodes/{id}", MSG_SWARM),
	REFUSE(POST, "/nodes/{id}/update", MSG_SWARM),
	REFUSE(GET, "/tasks", MSG_SWARM),
	REFUSE(GET, "/tasks/{id}", MSG_SWARM),
	REFUSE(GET, "/tasks/{id}/logs", MSG_SWARM),
	REFUSE(GET, "/secrets", MSG_SWARM),
	REFUSE(POST, "/secrets/create", MSG_SWARM),
	REFUSE(DELETE, "/secrets/{id}", MSG_SWARM),
	REFUSE(GET, "/secrets/{id}", MSG_SWARM),
	REFUSE(POST, "/secrets/{id}/update", MSG_SWARM),
	REFUSE(GET, "/configs", MSG_SWARM),
	REFUSE(POST, "/configs/create", MSG_SWARM),
	REFUSE(DELETE, "/configs/{id}", MSG_SWARM),
	REFUSE(GET, "/configs/{id}", MSG_SWARM),
	REFUSE(POST, "/configs/{id}/update", MSG_SWARM),
	/* plugin */
	FWD(GET, "/plugins"),
	FWD(GET, "/plugins/{name:.*}/json"),
	FWD(GET, "/plugins/privileges"),
	REFUSE(DELETE, "/plugins/{name:.*}", MSG_PLUGIN),
	REFUSE(POST, "/plugins/{name:.*}/enable", MSG_PLUGIN),
	REFUSE(POST, "/plugins/{name:.*}/disable", MSG_PLUGIN),
	REFUSE(POST, "/plugins/pull", MSG_PLUGIN),
	REFUSE(POST, "/plugins/{name:.*}/push", MSG_PLUGIN),
	REFUSE(POST, "/plugins/{name:.*}/upgrade", MSG_PLUGIN),
	REFUSE(POST, "/plugins/{name:.*}/set", MSG_PLUGIN),
	REFUSE(POST, "/plugins/create", MSG_PLUGIN),
	/* distribution */
	FWD(GET, "/distribution/{name:.*}/json"),
	/* grpc */
	REFUSE(POST, "/grpc", MSG_BUILDKIT),
	/* network */
	FILTER(GET, "/networks"),
	OWNER(GET, "/networks/{id:.+}", NETWORK),
	BODY(POST, "/networks/create", NONE, NETWORK_CREATE),
	BODY(POST, "/networks/{id:.*}/connect", NETWORK, NETWORK_CONNECT),
	BODY(POST, "/networks/{id:.*}/disconnect", NETWORK, NETWORK_CONNECT),
	FILTER(POST, "/networks/prune"),
	OWNER(DELETE, "/networks/{id:.*}", NETWORK),
};

/* Match path against a template; the first variable's span into *off and
 * *len. A one-segment variable takes one or more bytes up to the next '/';
 * an any-bytes one (pattern ".*" or ".+") takes everything but the literal
 * text after it, which must end the path (the table has no variable after
 * such a one). */
static bool template_match(const char *tpl, const char *path, size_t *off, size_t *len)
{
	const char *p = path, *t = tpl;
	bool first = true;

	while (*t) {
		const char *close, *var;
		size_t vlen, rest, plen;
		bool any, plus;

		if (*t != '{') {
			if (*p != *t)
				return false;
			p++;
			t++;
			continue;
		}
		close = strchr(t, '}');
		if (!close)
			return false;
		/* "{x:.*}" and "{x:.+}": the pattern ends the variable */
		any = close - t > 3 && close[-3] == ':' && close[-2] == '.' && close[-1] == '*';
		plus = close - t > 3 && close[-3] == ':' && close[-2] == '.' && close[-1] == '+';
		var = p;
		if (any || plus) {
			rest = strlen(close + 1);
			plen = strlen(p);
			if (plen < rest || strcmp(p + plen - rest, close + 1) != 0)
				return false;
			vlen = plen - rest;
			if (plus && vlen == 0)
				return false;
			p += plen;   /* the literal tail matched too */
			t = close + 1 + rest;
		} else {
			vlen = strcspn(p, "/");
			if (vlen == 0)
				return false;
			p += vlen;
			t = close + 1;
		}
		if (first) {
			*off = (size_t)(var - path);
			*len = vlen;
			first = false;
		}
	}
	return *p == '\0';
}

struct query_find {
	enum route_query what;
	bool refused;
};

/* Go's r.FormValue takes a parameter's first value; any value that would
 * fetch counts here, wherever it stands, so a repeat cannot hide one. */
static int query_find_fn(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct query_find *q = arg;

	if (q->what == Q_IMPORT && kl == 7 && memcmp(k, "fromSrc", 7) == 0)
		q->refused |= !(vl == 1 && v[0] == '-');   /* "-": the request body */
	if (q->what == Q_BUILD && kl == 6 && memcmp(k, "remote", 6) == 0)
		q->refused |= vl > 0;
	return 0;
}

/* The route's query check: true when it refuses (out filled). */
static bool route_query_refuses(const struct route *r, const char *query, size_t qlen,
				struct isoroute *out)
{
	struct query_find q = { .what = r->query };
	int ret;

	if (r->query == Q_NONE)
		return false;
	ret = filters_query_each(query, qlen, query_find_fn, &q, NULL, 0);
	if (ret == 0 && !q.refused)
		return false;
	out->action = ISOROUTE_REFUSE;
	if (ret == -ENOMEM) {
		out->status = 503;
		out->msg = "dockmux: out of memory";
	} else if (ret != 0) {
		/* dockerd's ParseForm fails on the same query: a 400 either way. */
		out->status = 400;
		out->msg = "dockmux isolation: the query does not parse";
	} else {
		out->status = 403;
		out->msg = r->query == Q_IMPORT ? MSG_IMPORT_URL : MSG_BUILD_REMOTE;
	}
	return true;
}

enum isoroute_action isoroute_classify(const char *method, size_t mlen, const char *path,
				       const char *query, size_t qlen, struct isoroute *out)
{
	memset(out, 0, sizeof(*out));
	out->route = "";
	if (mlen == 7 && memcmp(method, "OPTIONS", 7) == 0) {
		/* system router: OPTIONS "/{anyroute:.*}", a CORS preflight
		 * answered without touching anything */
		out->route = "OPTIONS /{anyroute:.*}";
		out->action = ISOROUTE_FORWARD;
		return out->action;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t off = 0, len = 0;

		/* Templates start with '/': the byte after it rejects most at once. */
		if (r->mlen != mlen || r->tpl[1] != path[1] || memcmp(r->method, method, mlen) != 0 ||
		    !template_match(r->tpl, path, &off, &len))
			continue;
		out->route = r->route;
		out->action = r->action;
		out->kind = r->kind;
		out->object = r->object;
		if (r->object != ISOROUTE_OBJ_NONE) {
			out->name_off = off;
			out->name_len = len;
		}
		if (r->action == ISOROUTE_NEEDS_OWNER && strcmp(r->tpl, "/commit") == 0)
			out->name_param = "container";
		if (r->action == ISOROUTE_REFUSE) {
			out->status = 403;
			out->msg = r->msg;
		}
		route_query_refuses(r, query, qlen, out);
		return out->action;
	}
	out->action = ISOROUTE_REFUSE;
	out->status = 403;
	/* Mounted by dockerd with any method when it runs with --debug. */
	out->msg = strncmp(path, "/debug/", 7) == 0 || strcmp(path, "/debug") == 0 ? MSG_DEBUG
										    : MSG_UNKNOWN;
	return out->action;
}

const char *isoroute_action_name(enum isoroute_action a)
{
	switch (a) {
	case ISOROUTE_FORWARD: return "forward";
	case ISOROUTE_FORCE_FILTER: return "force-filter";
	case ISOROUTE_INSPECT_BODY: return "inspect-body";
	case ISOROUTE_BUILD_QUERY: return "build-query";
	case ISOROUTE_NEEDS_OWNER: return "needs-owner";
	case ISOROUTE_REFUSE: return "refuse";
	}
	return "?";
}

const char *isoroute_route_at(size_t i)
{
	return i < sizeof(routes) / sizeof(routes[0]) ? routes[i].route : NULL;
}
