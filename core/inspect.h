/* core/inspect.h: tenant isolation for request bodies. A create body is decoded
 * the way dockerd decodes it (Go's encoding/json into moby's structs: keys
 * matched to fields case-insensitively, HostConfig fields honoured at the top
 * level), refused when it lifts the container's confinement or reads two
 * ways, stamped with the owner label, and re-serialised from exactly the
 * tree that was checked. Names of other objects the body uses are returned
 * for the caller's ownership checks. Pure: no I/O; allocates (jansson).
 * It does not resolve names, look at the path, or frame HTTP.
 */
#ifndef DMX_CORE_INSPECT_H
#define DMX_CORE_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#define INSPECT_DEFAULT_MAX_BODY (1u << 20)   /* dockerd's authz plugins see 1 MiB */
#define INSPECT_MSG_MAX 256                   /* a msg no message is cut in */
#define INSPECT_FIELD_MAX 96                  /* a ref's field, cut if longer */

/* What the body is, from the method and the normalised path. */
enum inspect_kind {
	INSPECT_CONTAINER_CREATE,   /* POST /containers/create */
	INSPECT_CONTAINER_START,    /* POST /containers/{name}/start: API < 1.24 still
				     * decodes a HostConfig from the body and applies it */
	INSPECT_EXEC_CREATE,        /* POST /containers/{name}/exec */
	INSPECT_VOLUME_CREATE,      /* POST /volumes/create */
	INSPECT_NETWORK_CREATE,     /* POST /networks/create */
	INSPECT_NETWORK_CONNECT,    /* POST /networks/{id}/connect and /disconnect */
};

/* Per container, given at spawn. Every list may be empty (the default):
 * nothing is allowed beyond what the table in docs/design.md lets through. */
struct inspect_config {
	const char *const *caps;      /* --allow-cap: "NET_ADMIN", "cap_net_raw", "ALL" */
	size_t ncaps;
	const char *const *runtimes;  /* --allow-runtime: exact names, e.g. "runsc" */
	size_t nruntimes;
	const char *const *binds;     /* --allow-bind: absolute host directories */
	size_t nbinds;
	const char *label_name;       /* e.g. "org.dockmux.owner" */
	const char *label_value;      /* e.g. the key's 16-hex hash */
	size_t max_body;              /* 0: INSPECT_DEFAULT_MAX_BODY */
};

struct inspect_policy;   /* compiled, immutable, shareable between threads */

/* Compile cfg: caps normalised as dockerd does (upper case, "CAP_" prefix
 * added, "ALL" kept), bind directories cleaned. A label name or value that is
 * empty or holds a blank, '=', '"', '\\' or a non-printable byte, a cap that
 * is not [A-Za-z0-9_], an empty or non-printable runtime, or a bind directory
 * that is not absolute, holds a "..", a '\\', a ':' or a control byte is
 * -EINVAL with *why (if why) a static message. *out written only on success. */
int inspect_policy_new(const struct inspect_config *cfg, struct inspect_policy **out,
		       const char **why);
void inspect_policy_free(struct inspect_policy *p);   /* NULL ok */

enum inspect_ref_kind { INSPECT_REF_CONTAINER, INSPECT_REF_VOLUME, INSPECT_REF_NETWORK };

/* A name the body uses, as the client wrote it (a name, an id or an id prefix:
 * dockerd resolves all three). creates: the body creates an object of that
 * name (a volume's or network's Name): dockerd hands back an existing volume
 * of that name instead of failing, so the caller must check it too. */
struct inspect_ref {
	enum inspect_ref_kind kind;
	bool creates;
	char field[INSPECT_FIELD_MAX];   /* e.g. "HostConfig.VolumesFrom[0]" */
	char *name;                      /* NUL-terminated, owned by the result */
};

struct inspect_result {
	int status;                  /* 400, 403 or 413 when refused, else 0 */
	char msg[INSPECT_MSG_MAX];   /* when refused: "dockmux isolation: ..." */
	char *body;                  /* when forwarded: NUL-terminated, malloc'd */
	size_t body_len;             /* strlen(body): send with this Content-Length */
	struct inspect_ref *refs;    /* when forwarded */
	size_t nrefs;
};

/* Expected outcomes (negative: errno). */
enum { INSPECT_FORWARD = 0, INSPECT_REFUSE = 1 };

/* Judge one body of `kind`. Always initialises *res (inspect_result_deinit is
 * then safe, whatever the return). INSPECT_FORWARD: res->body is the body to
 * send instead of the client's (re-serialised, compact, the owner label set
 * in the Labels of a container/volume/network create and of each volume
 * mount's VolumeOptions), res->refs the names to check.
 * INSPECT_REFUSE: res->status and res->msg are the answer (msg printable ASCII,
 * no '\\', '"' only around a quoted client value, so safe in a log line and a
 * JSON string). -EINVAL (NULL policy, unknown kind), -ENOMEM. An empty body is
 * forwarded as it is for INSPECT_CONTAINER_START only (dockerd reads none),
 * refused 400 for the rest (dockerd fails on EOF too). */
int inspect_body(const struct inspect_policy *p, enum inspect_kind kind, const char *body,
		 size_t len, struct inspect_result *res);

/* POST /build: judge the query (the bytes after '?'). Refused 403: networkmode
 * other than "", "default", "bridge" or "none" (host, container:<x> and other
 * tenants' networks), a non-empty cgroupparent, any securityopt. The owner
 * label is stamped into `labels` (filters_stamp_labels). INSPECT_FORWARD:
 * res->body is the new query. Refused 400: what filters_query_each refuses,
 * a repeated `labels`, bad `labels` JSON. Same returns as inspect_body.
 * The BuildKit session (/session, /grpc) asks for entitlements such as
 * network.host inside its gRPC stream, which no query check sees. */
int inspect_build_query(const struct inspect_policy *p, const char *query, size_t qlen,
			struct inspect_result *res);

void inspect_result_deinit(struct inspect_result *res);   /* NULL ok; zeroes it */

/* jansson seeds its hash function from /dev/urandom on first use (once per
 * process). A caller that wants no file access on a ring thread calls this
 * once at start-up, before any thread inspects, with a random seed. */
void inspect_seed(size_t seed);

#endif
