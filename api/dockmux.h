/* dockmux.h: the public C API of libdockmux, the only header a user includes.
 *
 * dockmux gives each container its own Docker Engine API Unix socket and
 * forwards every request on it to one upstream daemon with the container's
 * token injected. Every function returns 0 (or a count) on success and a
 * negative errno on failure, liburing's convention; nothing sets errno.
 * All functions are thread-safe unless stated otherwise.
 */
#ifndef DOCKMUX_H
#define DOCKMUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMX_VERSION_MAJOR 0
#define DMX_VERSION_MINOR 1

/* Longest container key, in bytes (keys are 1..DMX_KEY_MAX bytes, any bytes but NUL). */
#define DMX_KEY_MAX 255
/* Longest token, in bytes. */
#define DMX_TOKEN_MAX 4096
/* Buffer size that always fits a socket path (sizeof(sun_path)). */
#define DMX_PATH_MAX 108

typedef struct dmx dmx;

/* Logging callback: the library never writes to stderr itself. level uses
 * syslog numbers (3 error, 4 warning, 6 info, 7 debug). Messages never
 * contain a token. Called from any dockmux thread. */
typedef void (*dmx_log_fn)(void *userdata, int level, const char *msg);

/* One request as the access log sees it (dmx_config.access_log). */
struct dmx_access {
	const char *key;          /* the container */
	const char *method;       /* "-" when no request head was read */
	const char *path;         /* normalised (policy_normalize rules: no query, no
	                           * version prefix), at most 200 bytes + "..."; "-" if none */
	int status;               /* the daemon's, or dockmux's own (403, 502, ...);
	                           * 101: a hijacked stream, logged when it starts */
	uint64_t bytes_up;        /* bytes from the client on this connection meanwhile */
	uint64_t bytes_down;      /* bytes to the client on this connection meanwhile */
	uint64_t duration_us;     /* head read -> response complete */
	pid_t pid;                /* peer, SO_PEERCRED */
	uid_t uid;
};
/* Called on a ring thread once per answered request; must be quick and must
 * not call back into dmx. Never given a token. */
typedef void (*dmx_access_fn)(void *userdata, const struct dmx_access *a);

struct dmx_config {
	const char *upstream;      /* upstream Docker API socket; NULL: /var/run/docker.sock */
	const char *socket_dir;    /* where container sockets live; NULL: /run/dockmux (created 0700;
	                            * checked: see dmx_dir_check) */
	unsigned    rings;         /* rings (threads, one per CPU); 0: online CPUs */
	const char *token_header;  /* header carrying the token; NULL: "Authorization" */
	const char *token_prefix;  /* value before the token; NULL: "Bearer " if token_header is
	                            * NULL or "Authorization", else "" (raw: "X-Container-Token: <token>") */
	unsigned    socket_mode;   /* mode of container sockets; 0: 0660 */
	uid_t       socket_uid;    /* owner of container sockets; (uid_t)-1: unchanged */
	gid_t       socket_gid;    /* group of container sockets; (gid_t)-1: unchanged */
	dmx_log_fn  log;           /* optional */
	void       *log_userdata;
	/* Limits on what a container may send (it is untrusted). */
	unsigned    max_line;      /* longest request or header line; 0: 8 KiB (over: 431) */
	unsigned    max_head;      /* longest request head; 0: 64 KiB, at most 1 MiB (over: 431) */
	uint64_t    max_body;      /* longest request body; 0: unlimited (over: 413) */
	unsigned    head_timeout_ms; /* a head must arrive within this; 0: 30000 (then 408).
	                            * Bodies and hijacked streams have no timeout; responses
	                            * only response_timeout_ms below. */
	unsigned    max_conns;     /* open connections per container; 0: 1024 (over: 503) */
	dmx_access_fn access_log;  /* optional: one call per request (costs a clock read
	                            * and a path normalisation per request) */
	void       *access_userdata;
	unsigned    response_timeout_ms; /* the daemon's first response byte must come within
	                            * this of the request's last byte going up; 0: no limit
	                            * (default). Over: 504, daemon connection closed. Never
	                            * once a response has begun (logs -f, events, attach
	                            * streams), nor while a request body is still going up.
	                            * Set it above the slowest non-streaming call (a stop's
	                            * grace period, a commit, an image resolve). */
	/* Tenant isolation (dmx_policy.isolate), for every container that has it: */
	const char *owner_label;   /* label stamped on what a container creates; NULL:
	                            * "org.dockmux.owner" (printable ASCII, no blank, '=',
	                            * '"' or '\\'). Its value is the key's 16-hex XXH3 hash,
	                            * the name of its socket file. */
	uint64_t    max_inspect_body; /* longest create body read and judged whole; 0: 1 MiB
	                            * (dockerd's authorization plugins see as much), at most
	                            * 64 MiB (over: 413). A chunked body counts its framing. */
};

/* Fill cfg with defaults (all fields as documented above, uid/gid -1). */
void dmx_config_init(struct dmx_config *cfg);

/* Start the rings. cfg may be NULL for all defaults. On success *out is set. */
int dmx_open(const struct dmx_config *cfg, dmx **out);

/* Tear down every container (sockets unlinked), stop the rings, free all. NULL is fine. */
void dmx_close(dmx *d);

/* Pure: the socket path of key: <socket dir>/<16 hex of XXH3_64bits(key)>.sock.
 * -EINVAL for an empty key or one over DMX_KEY_MAX bytes, -ENAMETOOLONG when the
 * path would not fit sun_path, -ENOSPC when cap is too small. */
int dmx_path(const dmx *d, const char *key, char *buf, size_t cap);

/* Same as dmx_path for a given socket directory (NULL: /run/dockmux), without
 * a handle: what `dockmux path` uses. */
int dmx_path_in(const char *socket_dir, const char *key, char *buf, size_t cap);

/* Optional per-container policy, given at spawn. All-zero: allow everything
 * (the upstream enforces the token's scope). */
struct dmx_policy {
	int         read_only;     /* only GET and HEAD */
	const char *allow;         /* NULL: every API area; else a comma list of areas:
	                            * ping,version,info,events,system,containers,exec,images,
	                            * build,networks,volumes,plugins,swarm,nodes,services,
	                            * tasks,secrets,configs,distribution */
	const char *deny;          /* NULL: none; else at most 64 ';'-separated rules
	                            * "[METHOD ]/path" (METHOD: GET HEAD POST PUT DELETE
	                            * OPTIONS or '*'; a rule at most 512 bytes and 32
	                            * segments), where '*' matches one segment and '**'
	                            * zero or more, anywhere (examples in README.md) */
	const uid_t *uids;         /* peers (SO_PEERCRED uid) allowed to connect; */
	size_t      nuids;         /* 0: any */
	/* Tenant isolation (README "Tenant isolation", in progress; off by default
	 * until ownership checks land). A request the isolation router does not
	 * know is refused 403; swarm, plugin changes, BuildKit sessions,
	 * checkpoints are refused; lists, events and prunes see only objects
	 * carrying the owner label (dmx_config.owner_label); container, exec,
	 * volume and network create bodies, container start and network connect
	 * are read whole (max_inspect_body) and judged (docs/design.md
	 * "Isolation: body inspection": Privileged, host namespaces, devices, binds,
	 * capabilities, ... refused 403 with Docker's JSON message), then sent
	 * re-serialised with the owner label set. Not yet: requests naming an
	 * existing object are not checked for its owner. */
	int         isolate;
	int         audit;         /* forward what the policy or isolation would refuse
	                            * and log it instead (warning, "policy: would deny");
	                            * malformed requests and 413s are still refused */
	const char *const *allow_caps;     /* isolate: CapAdd entries let through */
	size_t      nallow_caps;           /* ("NET_ADMIN", "cap_net_raw", "ALL") */
	const char *const *allow_runtimes; /* isolate: runtimes let through (exact names) */
	size_t      nallow_runtimes;
	const char *const *allow_binds;    /* isolate: host directories binds may use */
	size_t      nallow_binds;          /* (absolute; whole segments below them) */
};

/* Create (or find) the container's socket, listening before this returns.
 * Idempotent per key; a different token rotates the token for new requests.
 * -EEXIST when another key with the same hash already owns the path;
 * -ENFILE when the ring's table of listeners is full (each ring holds up to
 * min(RLIMIT_NOFILE, 65536) sockets as io_uring direct descriptors, which do
 * not count against RLIMIT_NOFILE). */
int dmx_spawn(dmx *d, const char *key, const char *token, char *path_out, size_t cap);

/* dmx_spawn with a policy (NULL: none). On an existing key the policy is
 * replaced for new requests, like the token. -EINVAL (malformed) and -E2BIG
 * (over a limit) name no reason: use dmx_policy_check to get a message. */
int dmx_spawn_policy(dmx *d, const char *key, const char *token, const struct dmx_policy *policy,
		     char *path_out, size_t cap);

/* Validate a policy without spawning: 0, or -EINVAL (malformed; also an
 * allowlist without isolate, or an entry --allow-cap/--allow-runtime/--allow-bind
 * would refuse) or -E2BIG (more than 64 rules, a rule over 512 bytes or 32
 * segments) with a static message in *why. */
int dmx_policy_check(const struct dmx_policy *policy, const char **why);

/* Close the listener and every connection of key, unlink its socket, wipe its
 * token. Unknown key: 0. */
int dmx_teardown(dmx *d, const char *key);

struct dmx_stats {
	uint64_t containers;          /* 1 for one container; live containers for the total */
	uint64_t conns_accepted;
	uint64_t conns_active;
	uint64_t requests;            /* request heads forwarded upstream */
	uint64_t bytes_up;            /* container -> daemon */
	uint64_t bytes_down;          /* daemon -> container */
	uint64_t errors;              /* 4xx/5xx answered by dockmux itself, I/O errors */
	uint64_t responses[6];        /* responses seen by class: [1] 1xx ... [5] 5xx, the
	                               * daemon's and dockmux's own; [0] unused */
	uint64_t denied;              /* requests refused by the policy or isolation (403) */
};

/* Counters of one container (key != NULL; -ENOENT if unknown), or the
 * host-wide total over live containers plus those torn down (key == NULL). */
int dmx_stats(dmx *d, const char *key, struct dmx_stats *out);

/* One container as seen by dmx_list. */
struct dmx_entry {
	char key[DMX_KEY_MAX + 1];
	char path[DMX_PATH_MAX];
	struct dmx_stats stats;
	char policy[160];              /* e.g. "read-only,allow=containers+images" or "none";
	                                * ",isolate" and ",audit" when set */
	size_t nuids;                  /* allowed peer uids (0: any) */
};

/* Snapshot of the live containers: fills up to cap entries and returns the
 * number of live containers (which may exceed cap), or a negative errno. */
int dmx_list(dmx *d, struct dmx_entry *entries, size_t cap);

/* Where a paged listing stands. Zero it to start; otherwise opaque. */
struct dmx_list_cursor {
	uint64_t pos[3];
};

/* The next page of live containers: fills up to cap (>= 1) entries after
 * *cur, moves *cur past them and returns how many; 0 once every container
 * was listed. A container that lives during the whole walk is listed exactly
 * once, whatever is spawned or torn down between pages; one spawned or torn
 * down meanwhile may or may not be. A page costs O(cap), not O(containers)
 * (O(containers) once on a ring whose container the cursor stopped at was
 * torn down), so a listing of 30,000 containers needs one page of memory. A
 * cursor that did not come from this handle lists nothing or anything, but
 * never fails. -EINVAL for a NULL argument or cap 0. */
int dmx_list_page(dmx *d, struct dmx_list_cursor *cur, struct dmx_entry *entries, size_t cap);

/* ---- restarts without losing a socket (takeover) ----
 * A container's socket file is bind-mounted into it: the inode must live on
 * across a dockmux upgrade. The old process hands each listener over as an
 * fd (dmx_handoff), the new one serves it (dmx_adopt); neither unlinks the
 * file. The old one then drains (dmx_drain) and closes. */

/* Like dmx_spawn_policy, but serve fd, a listening socket already bound to
 * key's path (from another process's dmx_handoff), instead of creating one.
 * On success the library owns fd (it is closed); on failure the caller does.
 * -EEXIST if key is already served here, -EINVAL if fd is not a listening
 * Unix stream socket bound to key's path. */
int dmx_adopt(dmx *d, const char *key, const char *token, const struct dmx_policy *policy,
	      int fd, char *path_out, size_t cap);

/* Stop serving key's socket in this process and return its listener as a new
 * fd (O_CLOEXEC, the caller's to send and close). Connections already open go
 * on here until they end; the socket file stays. -ENOENT for unknown keys. */
int dmx_handoff(dmx *d, const char *key, int *fd_out);

/* Stop accepting on every socket (listeners stay bound; new connections wait
 * in the backlog) and close each connection as soon as nothing is in flight
 * on it. Open requests and streams finish. Poll dmx_stats(d, NULL, ..)
 * .conns_active for 0, then dmx_close. New spawns fail with -ESHUTDOWN. */
int dmx_drain(dmx *d);

/* ---- per-ring counters ---- */
struct dmx_ring_stats {
	uint64_t loops;          /* event loop iterations */
	uint64_t sqes;           /* SQEs submitted */
	uint64_t cqes;           /* CQEs reaped */
	uint64_t files_used;     /* registered file slots in use (one per listener) */
	uint64_t files_total;    /* registered file slots (min(RLIMIT_NOFILE, 65536)) */
	uint64_t conns;          /* open connections */
};

/* Number of rings (threads). */
unsigned dmx_rings(const dmx *d);
/* Counters of ring 0..dmx_rings()-1. */
int dmx_ring_stats(dmx *d, unsigned ring, struct dmx_ring_stats *out);

/* ---- directories root trusts by name ----
 * dmx_open refuses a socket directory that another user could change under
 * it (-EPERM, -ENOTDIR): it and every directory above it must be owned by
 * root or by this process's euid and writable by nobody else (a directory
 * above it may be sticky and world-writable, like /tmp), every symlink on the
 * way owned by root or the euid, and the directory itself not a symlink.
 * The reason goes to the log callback. dmx_dir_check is that same check, for
 * a program's own files (a state file's directory, a control socket's). */
#define DMX_DIR_CREATE 1u   /* create missing directories, mode 0700 */

/* 0, or -EPERM / -ENOTDIR / -ENOENT / -ELOOP / -EINVAL (NULL or empty dir,
 * unknown flag) or another errno from lstat/mkdir. why (cap bytes, may be
 * NULL) gets "<the component at fault>: <what is wrong with it>". */
int dmx_dir_check(const char *dir, unsigned flags, char *why, size_t cap);

/* A static, human-readable description of a negative errno returned by dmx_*. */
const char *dmx_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
