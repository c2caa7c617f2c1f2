/* cmd/control.h: the wire protocol between `dockmux` clients and `dockmux serve`
 * on the control socket. Encoding and decoding are pure functions over byte
 * buffers with every length bounded (control.c); the socket side is in
 * control_io.h. It knows nothing of sockets' permissions or of dmx.
 */
#ifndef DMX_CMD_CONTROL_H
#define DMX_CMD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "dockmux.h"

/*
 * All integers are big-endian. A connection carries any number of requests,
 * one after the other (a client may send the next before the last reply);
 * the replies come in request order. A client that sends one request and
 * closes after its reply is the simple case.
 *   request: u8 op | u16 key_len | key | u32 token_len | token [| tail]
 *   tail of SPAWN (its policy): u8 flags | u16 allow_len | allow | u16 deny_len
 *            | deny | u16 nuids | nuids x u32 uid
 *   tail of LIST_PAGE: CTL_CURSOR_LEN bytes of cursor | u16 max entries
 *            (1..CTL_PAGE_MAX)
 *   reply:   i32 status (0 or -errno) | u32 payload_len | payload
 * Keys, tokens and policy strings never contain NUL, so they are C strings
 * once decoded. An empty allow or deny string means none (NULL in dmx_policy).
 * Payload by op (an error reply carries none):
 *   SPAWN:     the socket path (1..DMX_PATH_MAX-1 bytes)
 *   TEARDOWN:  empty
 *   STATS:     CTL_STATS_LEN bytes: the dmx_stats fields as u64, in header order
 *   LIST_PAGE: the cursor after this page (CTL_CURSOR_LEN bytes), then u32
 *              count and per entry u16 key_len | key | u8 path_len | path |
 *              u8 policy_len | policy | u32 nuids | stats. A page of 0
 *              entries ends the listing (dmx_list_page).
 * A SPAWN or TEARDOWN is answered once it is durable in the state file.
 */
enum ctl_op {
	/* 1 was a spawn without a policy. Retired, not extended: a daemon that
	 * predates policies must refuse a spawn carrying one (unknown op), not
	 * read the frame up to the token and run the container unrestricted. */
	CTL_OP_TEARDOWN = 2, /* key 1..255, no token */
	/* 3 was LIST, every container in one reply: retired, it made the daemon
	 * hold the whole table at once. Its entry format lives on in LIST_PAGE. */
	CTL_OP_STATS = 4,    /* key 0..255 (0: host total), no token */
	CTL_OP_SPAWN = 5,    /* key 1..255, token 1..DMX_TOKEN_MAX, policy */
	CTL_OP_HANDOFF = 6,  /* no key, no token: `serve --takeover`; see takeover.h */
	CTL_OP_LIST_PAGE = 7,/* no key, no token, cursor */
};

/* The cursor is dmx_list_cursor's three u64; the daemon takes any value. */
#define CTL_CURSOR_LEN 24
/* At most this many entries a page: what the daemon holds for one listing. */
#define CTL_PAGE_MAX 256

/* Policy flags; any other bit is refused (-EOPNOTSUPP), never ignored: an
 * unknown bit would be a restriction this daemon cannot enforce. */
#define CTL_FLAG_READ_ONLY 0x01u
#define CTL_FLAG_ISOLATE 0x02u   /* dmx_policy.isolate */
#define CTL_FLAGS_KNOWN (CTL_FLAG_READ_ONLY | CTL_FLAG_ISOLATE)

/* Bounds of the policy fields, a little above what the library accepts so
 * that it, not the wire, names the problem: the 19 API area names with commas
 * are ~150 bytes; deny holds at most 64 rules of 512 bytes, each with its ';'.
 * 256 uids per socket is far more than a container's users. */
#define CTL_ALLOW_MAX 512
#define CTL_DENY_MAX (64 * (512 + 1))
#define CTL_UIDS_MAX 256

#define CTL_REQ_HEAD 3                                  /* op + key_len */
#define CTL_POLICY_MAX (1 + 2 + CTL_ALLOW_MAX + 2 + CTL_DENY_MAX + 2 + 4 * CTL_UIDS_MAX)
/* SPAWN's policy is the longest tail by far. */
#define CTL_REQ_MAX (CTL_REQ_HEAD + DMX_KEY_MAX + 4 + DMX_TOKEN_MAX + CTL_POLICY_MAX)
#define CTL_REPLY_HEAD 8                                /* status + payload_len */
#define CTL_STATS_FIELDS 14
#define CTL_STATS_LEN (CTL_STATS_FIELDS * 8)
/* Longest dmx_entry.policy description on the wire (it is a char[160]). */
#define CTL_DESC_MAX (sizeof(((struct dmx_entry *)0)->policy) - 1)
/* A page of CTL_PAGE_MAX entries with the longest keys is ~165 KiB; a client
 * refuses a reply announcing more before allocating it. */
#define CTL_PAYLOAD_MAX (1u << 20)
/* errno values travel as i32; anything outside 0..-4095 is not an errno. */
#define CTL_ERRNO_MAX 4095

/* One decoded request: ~40 KiB, keep it static or on a thread's stack. For
 * ops other than SPAWN the policy fields are zero and the strings empty; for
 * ops other than LIST_PAGE the cursor and page_max are zero. */
struct ctl_request {
	uint8_t op;
	uint16_t key_len;
	uint32_t token_len;
	char key[DMX_KEY_MAX + 1];          /* NUL-terminated after decode */
	char token[DMX_TOKEN_MAX + 1];      /* secret: wipe with explicit_bzero after use */
	uint8_t flags;                      /* CTL_FLAG_* */
	uint16_t allow_len;
	uint16_t deny_len;
	uint16_t nuids;
	char allow[CTL_ALLOW_MAX + 1];      /* NUL-terminated after decode */
	char deny[CTL_DENY_MAX + 1];
	uid_t uids[CTL_UIDS_MAX];           /* none is (uid_t)-1, the kernel's "no uid" */
	struct dmx_list_cursor cursor;      /* LIST_PAGE */
	uint16_t page_max;                  /* LIST_PAGE: 1..CTL_PAGE_MAX */
};

/* Copy policy into req (a SPAWN): -EMSGSIZE when allow, deny or the uid list
 * is over its bound, -EINVAL for a uid of (uid_t)-1. The strings are not
 * judged: dmx_policy_check does that. req is written only on success. */
int ctl_request_set_policy(struct ctl_request *req, const struct dmx_policy *policy);

/* The policy a decoded SPAWN carries, pointing into req (which must outlive it). */
void ctl_request_policy(const struct ctl_request *req, struct dmx_policy *out);

/* Bytes needed to encode req, or -EINVAL if it breaks the per-op rules. */
int ctl_request_size(const struct ctl_request *req);

/* Encode req into buf: the frame length, -EINVAL for a bad request, -ENOSPC
 * when cap is too small. */
int ctl_request_encode(const struct ctl_request *req, void *buf, size_t cap);

/* Decode one request from the first len bytes of buf. Returns the frame's
 * length when complete, 0 when more bytes are needed, or a negative errno as
 * soon as the bytes seen so far cannot start a valid frame: -EOPNOTSUPP for an
 * unknown op or policy flag, -EMSGSIZE for a length, uid count or page size
 * over its bound or not allowed for the op, -EBADMSG for a NUL inside a
 * string or a uid of (uid_t)-1. A frame is never longer than CTL_REQ_MAX, so
 * a reader holding that many bytes always has a verdict. out is written only
 * when complete. */
int ctl_request_decode(const void *buf, size_t len, struct ctl_request *out);

/* Reply head: status must be 0 or a negative errno, and an error carries no payload. */
int ctl_reply_head_encode(int status, size_t payload_len, uint8_t out[CTL_REPLY_HEAD]);
/* -EBADMSG for a status that is not 0/-errno or an error with a payload,
 * -EMSGSIZE for payload_len over CTL_PAYLOAD_MAX. */
int ctl_reply_head_decode(const uint8_t in[CTL_REPLY_HEAD], int *status, size_t *payload_len);

/* A SPAWN payload into a C string: -EBADMSG if empty, too long for
 * DMX_PATH_MAX or holding a NUL; -ENOSPC when cap is too small. */
int ctl_path_decode(const void *payload, size_t len, char *path, size_t cap);

void ctl_stats_encode(const struct dmx_stats *st, uint8_t out[CTL_STATS_LEN]);
/* -EBADMSG unless len == CTL_STATS_LEN. */
int ctl_stats_decode(const void *payload, size_t len, struct dmx_stats *out);

/* Bytes the entry list of n entries needs (entries must hold valid keys). */
size_t ctl_list_size(const struct dmx_entry *entries, size_t n);
/* Encode n entries: the list's length, -EINVAL for an entry with an empty or
 * over-long key or path, or an unterminated policy, -ENOSPC when cap is too small. */
int ctl_list_encode(const struct dmx_entry *entries, size_t n, void *buf, size_t cap);
/* Validate a whole entry list and fill up to cap entries (like dmx_list):
 * returns the entry count, or -EBADMSG for any malformed byte or trailing data. */
int ctl_list_decode(const void *payload, size_t len, struct dmx_entry *out, size_t cap);

/* A LIST_PAGE payload: the cursor, then the entry list. Same returns as
 * ctl_list_encode/ctl_list_decode; decode writes *cur only on success. */
int ctl_page_encode(const struct dmx_list_cursor *cur, const struct dmx_entry *entries, size_t n,
		    void *buf, size_t cap);
int ctl_page_decode(const void *payload, size_t len, struct dmx_list_cursor *cur,
		    struct dmx_entry *out, size_t cap);

/* Replies already encoded back to back in buf[0, len) whose changes did not
 * become durable: turn every success into err (no payload; errors stay as
 * they are), in place. Returns the new length, or -EBADMSG if buf does not
 * hold whole replies. */
int ctl_replies_fail(uint8_t *buf, size_t len, int err);

#endif
