/* core/isoroute.h: what tenant isolation does with one request, decided from
 * its method, normalised path and query alone: the Engine API's routes as
 * dockerd registers them (moby api/server/router/, first match wins, as
 * gorilla/mux does), each mapped to an action. Pure: no I/O; only the query
 * walk of two routes allocates (filters_query_each's scratch).
 * It does not rewrite anything, read bodies or resolve names: it says which
 * of core/filters.c, core/inspect.c or a later ownership check applies.
 */
#ifndef DMX_CORE_ISOROUTE_H
#define DMX_CORE_ISOROUTE_H

#include <stddef.h>

#include "inspect.h"

enum isoroute_action {
	ISOROUTE_FORWARD,       /* nothing to check: /_ping, /version, /info, image reads, ... */
	ISOROUTE_FORCE_FILTER,  /* a list, events or prune: the owner label forced into
	                         * `filters` (filters_force_label) */
	ISOROUTE_INSPECT_BODY,  /* a create, container start, network connect: the body
	                         * judged by inspect_body(kind) */
	ISOROUTE_BUILD_QUERY,   /* POST /build: the query judged by inspect_build_query */
	ISOROUTE_NEEDS_OWNER,   /* names an object the tenant must own (object, name) */
	ISOROUTE_REFUSE,        /* status and msg are the answer */
};

/* The kind of object a request names (its path, or for /commit its query). */
enum isoroute_object {
	ISOROUTE_OBJ_NONE,
	ISOROUTE_OBJ_CONTAINER,
	ISOROUTE_OBJ_EXEC,
	ISOROUTE_OBJ_VOLUME,
	ISOROUTE_OBJ_NETWORK,
};

struct isoroute {
	enum isoroute_action action;
	enum inspect_kind kind;        /* INSPECT_BODY */
	/* NEEDS_OWNER, and the INSPECT_BODY routes that name an object too
	 * (container start, exec create, network connect/disconnect): */
	enum isoroute_object object;
	size_t name_off, name_len;     /* the name in path, as dockerd's mux var
	                                * holds it ({name:.*} may span segments) */
	const char *name_param;        /* the object is named by this query parameter
	                                * instead ("container" for POST /commit); NULL */
	int status;                    /* REFUSE: 403, or 400 for a query that does not parse */
	const char *msg;               /* REFUSE: static, "dockmux isolation: ...",
	                                * printable ASCII without '"' or '\\' */
	const char *route;             /* static: the moby route that matched, e.g.
	                                * "POST /containers/{name:.*}/start"; "" if none */
};

/* Classify one request. method[0..mlen) as the parser let it through (exact
 * case); path NUL-terminated, normalised by policy_normalize (version prefix
 * stripped: a first segment that still looks like a version matches no route
 * and is refused); query the bytes after '?' (qlen may be 0), read as Go's
 * url.ParseQuery only where a route's action depends on it: POST /images/create
 * with `fromSrc` other than "-" and POST /build with a `remote` make dockerd
 * fetch a URL from its own network (refused). OPTIONS is forwarded on every
 * path (dockerd's CORS preflight handler does nothing else). Routes match
 * case-sensitively, methods exactly; anything dockerd does not route is
 * refused, as are swarm, plugin writes, BuildKit sessions (/session, /grpc:
 * their gRPC stream can ask for network.host, which dockerd grants by
 * default), checkpoints (they name host directories), the shared build
 * cache's prune, and /debug. Always fills *out; returns out->action. */
enum isoroute_action isoroute_classify(const char *method, size_t mlen, const char *path,
				       const char *query, size_t qlen, struct isoroute *out);

/* Route i of the table ("METHOD template", moby's syntax), NULL past its end:
 * for tests of the table's shape. */
const char *isoroute_route_at(size_t i);

/* A static name for an action ("forward", "force-filter", ...), for logs. */
const char *isoroute_action_name(enum isoroute_action a);

#endif
