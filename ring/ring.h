/* ring/ring.h: the io_uring engine. One ring + thread per CPU; a container
 * lives on ring (hash % nrings) and so do its listener and connections.
 * The API side reaches a ring only through IORING_OP_MSG_RING messages
 * carrying a struct ring_cmd; the ring answers with a MSG_RING back.
 * Internal: cmd/ and users see only api/dockmux.h.
 */
#ifndef DMX_RING_H
#define DMX_RING_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "ctab.h"
#include "inspect.h"
#include "keypath.h"
#include "policy.h"
#include "dockmux.h"
#include "http.h"
#include "secret.h"

/* Read-only after engine_new: shared by all rings without locks. */
struct engine_cfg {
	struct sockaddr_un upstream;
	socklen_t upstream_len;
	char dir[KEYPATH_DIR_MAX];
	char token_header[128];
	size_t token_header_len;
	char token_prefix[128];
	unsigned socket_mode;
	uid_t socket_uid;
	gid_t socket_gid;
	struct http_limits limits;
	uint64_t max_body;            /* 0: unlimited */
	unsigned head_timeout_ms;
	unsigned response_timeout_ms; /* 0: none */
	unsigned max_conns;           /* per container */
	size_t in_cap, out_cap;       /* conn buffers, from limits.max_head */
	dmx_log_fn log;
	void *log_userdata;
	dmx_access_fn access_log;
	void *access_userdata;
};

enum ring_cmd_op {
	RING_CMD_SPAWN,
	RING_CMD_TEARDOWN,
	RING_CMD_STATS,     /* one key, or the ring's total when key == NULL */
	RING_CMD_LIST,
	RING_CMD_STOP,      /* tear down every container and leave the loop */
	RING_CMD_HANDOFF,   /* give key's listener away: result fd in adopt_fd */
	RING_CMD_DRAIN,     /* stop accepting, close connections as they go idle */
	RING_CMD_RSTATS,    /* the ring's own counters */
	RING_CMD_LIST_PAGE, /* up to cap entries after the cursor, in spawn order */
};

/* One request to a ring. Lives on the caller's stack until the reply; the
 * ring writes only the result fields. 32-byte aligned: user_data tags use
 * the low 5 bits. */
struct ring_cmd {
	enum ring_cmd_op op;
	const char *key;
	size_t keylen;
	uint64_t hash;
	const char *token;
	size_t tokenlen;
	struct policy *policy;         /* RING_CMD_SPAWN: handed over (NULL: none) */
	struct inspect_policy *inspect;/* RING_CMD_SPAWN: handed over (NULL: no isolation) */
	bool audit;                    /* RING_CMD_SPAWN */
	uid_t *uids;                   /* RING_CMD_SPAWN: handed over (mi_malloc) */
	size_t nuids;
	bool adopt;                    /* RING_CMD_SPAWN: listen on adopt_fd (taken over) */
	int adopt_fd;                  /* ... and RING_CMD_HANDOFF's result; -1: none */
	struct container *ctr;         /* RING_CMD_HANDOFF, ring side */
	/* results */
	int result;
	char path[DMX_PATH_MAX];
	struct dmx_stats stats;
	struct dmx_entry *entries;     /* RING_CMD_LIST: fill from entries[count] on */
	size_t cap;
	size_t count;                  /* RING_CMD_LIST: in and out */
	uint64_t cursor_serial;        /* RING_CMD_LIST_PAGE: in and out (ctab_after) */
	uint64_t cursor_hash;
	bool more;                     /* RING_CMD_LIST_PAGE: the ring has more after it */
	struct dmx_ring_stats rstats;  /* RING_CMD_RSTATS */
	/* reply bookkeeping, API side only */
	bool sent, replied;
} __attribute__((aligned(32)));

struct engine;

int engine_new(const struct engine_cfg *cfg, unsigned nrings, struct engine **out);
/* Stops every ring (containers torn down), joins threads, frees. NULL ok. */
void engine_free(struct engine *e);
unsigned engine_rings(const struct engine *e);
/* Send cmd to ring idx and wait for its reply; returns cmd->result. */
int engine_call(struct engine *e, unsigned idx, struct ring_cmd *cmd);


/* ---- Internal to ring/: shared by ring.c and conn.c. ---- */

/* user_data = object pointer | op; every object is 32-byte aligned. */
enum ring_op {
	OP_IGNORE = 0,       /* completions nobody waits for */
	OP_CMD,              /* a ring_cmd arrived by MSG_RING (ptr: cmd) */
	OP_REPLY,            /* API side: the ring's answer to a cmd (ptr: cmd) */
	OP_SENT,             /* API side: our MSG_RING was delivered (ptr: cmd) */
	OP_ACCEPT,           /* multishot accept (ptr: container) */
	OP_ACCEPT_CANCEL,    /* ptr: container */
	OP_ACCEPT_RETRY,     /* timer before re-arming a failed accept */
	OP_CONNECT,          /* ptr: conn, and the rest too */
	OP_CONNECT_RETRY,    /* timer: the daemon's listen backlog was full */
	OP_C_RECV,
	OP_C_POLLIN,
	OP_C_SPLICE_IN,      /* client -> up pipe */
	OP_U_SEND,
	OP_U_POLLOUT,
	OP_U_SPLICE_OUT,     /* up pipe -> upstream */
	OP_U_POLLIN,
	OP_U_SPLICE_IN,      /* upstream -> down pipe */
	OP_C_POLLOUT,
	OP_C_SPLICE_OUT,     /* down pipe -> client */
	OP_C_SEND,           /* dockmux's own error response */
	OP_U_RECV,           /* daemon -> dbuf (heads, chunked bodies) */
	OP_D_SEND,           /* dbuf -> client */
	OP_HEAD_TIMEOUT,     /* linked to a head recv */
	OP_RESP_TIMEOUT,     /* response_timeout_ms: a plain timer, conn_down.c */
	OP_CANCEL,
	OP_FD_INSTALL,       /* handoff: a listener back as a process fd (ptr: cmd) */
	OP_DRAIN_TICK,       /* while draining: close idle conns (ptr: NULL) */
	OP_R_RECV,           /* a connection over max_conns (ptr: conn_refusal) */
	OP_R_TIMEOUT,        /* linked to OP_R_RECV */
	OP_MAX
};
_Static_assert(OP_MAX <= 32, "ring ops must fit the 5 tag bits");
#define RING_OP_MASK 31u

static inline uint64_t ring_tag(const void *ptr, enum ring_op op)
{
	return (uint64_t)(uintptr_t)ptr | (uint64_t)op;
}
static inline void *ring_tag_ptr(uint64_t data)
{
	return (void *)(uintptr_t)(data & ~(uint64_t)RING_OP_MASK);
}
static inline enum ring_op ring_tag_op(uint64_t data)
{
	return (enum ring_op)(data & RING_OP_MASK);
}

/* Pipes are resized to this (F_SETPIPE_SZ): one splice moves up to this. */
#define RING_PIPE_SIZE (256 * 1024)

struct pipe_pair {
	int rfd, wfd;
	struct pipe_pair *next;
};

struct conn;
struct conn_refusal;

#define CTR_POOL 4

struct container {
	struct ctab_item item;        /* hash + key (points at key below) */
	struct ring *ring;
	int lfd;                      /* listener: registered file slot; -1: none */
	unsigned inflight;            /* SQEs referencing this container */
	bool dead;                    /* torn down: connections closed, file unlinked */
	bool listening;               /* a multishot accept is (to be) armed */
	bool handing;                 /* RING_CMD_HANDOFF under way */
	bool handed;                  /* listener given away; lives on for its conns */
	char *token_line;             /* "<Header>: <prefix><token>\r\n" in the ring's
	                               * secrets (token_len + 1 bytes), wiped on change */
	size_t token_len;
	struct conn *conns;           /* doubly linked via conn->prev/next */
	int pool[CTR_POOL];           /* idle daemon connections, see conn.c */
	unsigned npool;
	struct dmx_stats stats;
	struct policy *policy;        /* NULL: allow everything */
	struct inspect_policy *inspect; /* tenant isolation (conn_iso.c); NULL: off */
	bool audit;                   /* forward and log what would be refused */
	uid_t *uids;                  /* allowed peer uids; nuids 0: any */
	size_t nuids;
	struct container *reap_next;
	char path[DMX_PATH_MAX];
	char key[];
};

struct ring {
	struct io_uring uring;
	unsigned id;
	int cpu;
	int fd;                       /* ring fd, target of MSG_RING */
	pthread_t thread;
	struct engine *engine;
	const struct engine_cfg *cfg;
	struct ctab ctab;
	struct secret_arena secrets;  /* token lines: out of core dumps */
	struct dmx_stats retired;     /* counters of torn-down containers */
	struct pipe_pair *pipes;      /* pool of empty pipes */
	unsigned npipes;
	unsigned nconns;              /* live conns, for the stop condition */
	struct conn *reap_conns;      /* closed, freed once their SQEs are done */
	struct conn_refusal *refusals;/* connections over max_conns being answered */
	unsigned nrefusals;
	struct container *reap_ctrs;
	bool stopping;
	bool draining;                /* RING_CMD_DRAIN: no accepts, idle conns closed */
	bool drain_tick;              /* OP_DRAIN_TICK armed */
	int start_err;
	/* registered file table: listeners are direct descriptors */
	unsigned files_total;         /* slots registered at setup */
	unsigned files_used;
	unsigned files_next;          /* slots below this were handed out once */
	uint32_t *files_free;         /* freed slots, reused first */
	unsigned files_nfree, files_free_cap;
	/* counters for dmx_ring_stats */
	uint64_t loops, sqes, cqes;
};

struct io_uring_sqe *ring_sqe(struct ring *r);
void ring_log(struct ring *r, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct pipe_pair *ring_pipe_get(struct ring *r);
void ring_stats_add(struct dmx_stats *to, const struct dmx_stats *from);
void ring_pipe_put(struct ring *r, struct pipe_pair *p, bool empty);
/* Put fd in a free slot of the registered file table: the slot, or -ENFILE
 * when the table is full. The caller still owns (and closes) fd. */
int ring_file_register(struct ring *r, int fd);
void ring_file_unregister(struct ring *r, int slot);

#endif
