/* cmd/control.c: encode/decode of the control-socket protocol (see control.h).
 * Pure functions over bytes. Decoders treat the peer as hostile: every length
 * is checked against its bound before anything is copied or allocated. Who
 * may connect, and how bytes move, is not decided here (control_io.c, the
 * daemon's serve_control.c).
 */
#include "control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void ctl_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ctl_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void ctl_put64(uint8_t *p, uint64_t v)
{
	ctl_put32(p, (uint32_t)(v >> 32));
	ctl_put32(p + 4, (uint32_t)v);
}

static uint16_t ctl_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t ctl_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t ctl_get64(const uint8_t *p)
{
	return ((uint64_t)ctl_get32(p) << 32) | ctl_get32(p + 4);
}

/* The per-op length rules, shared by encode and decode so they cannot drift. */
static int ctl_key_ok(uint8_t op, size_t key_len)
{
	switch (op) {
	case CTL_OP_SPAWN:
	case CTL_OP_TEARDOWN:
		return key_len >= 1 && key_len <= DMX_KEY_MAX ? 0 : -EMSGSIZE;
	case CTL_OP_LIST_PAGE:
	case CTL_OP_HANDOFF:
		return key_len == 0 ? 0 : -EMSGSIZE;
	case CTL_OP_STATS:
		return key_len <= DMX_KEY_MAX ? 0 : -EMSGSIZE;
	default:
		return -EOPNOTSUPP;
	}
}

static int ctl_token_ok(uint8_t op, size_t token_len)
{
	if (op == CTL_OP_SPAWN)
		return token_len >= 1 && token_len <= DMX_TOKEN_MAX ? 0 : -EMSGSIZE;
	return token_len == 0 ? 0 : -EMSGSIZE;
}

static bool ctl_uids_ok(const uid_t *uids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uids[i] == (uid_t)-1)
			return false;
	return true;
}

_Static_assert(sizeof(uid_t) == 4, "uids travel as u32");

int ctl_request_set_policy(struct ctl_request *req, const struct dmx_policy *policy)
{
	size_t allow_len = policy->allow ? strlen(policy->allow) : 0;
	size_t deny_len = policy->deny ? strlen(policy->deny) : 0;

	if (allow_len > CTL_ALLOW_MAX || deny_len > CTL_DENY_MAX || policy->nuids > CTL_UIDS_MAX)
		return -EMSGSIZE;
	if (policy->nuids && (!policy->uids || !ctl_uids_ok(policy->uids, policy->nuids)))
		return -EINVAL;
	req->flags = (policy->read_only ? CTL_FLAG_READ_ONLY : 0) |
		     (policy->isolate ? CTL_FLAG_ISOLATE : 0);
	req->allow_len = (uint16_t)allow_len;
	memcpy(req->allow, policy->allow ? policy->allow : "", allow_len + 1);
	req->deny_len = (uint16_t)deny_len;
	memcpy(req->deny, policy->deny ? policy->deny : "", deny_len + 1);
	req->nuids = (uint16_t)policy->nuids;
	if (policy->nuids)
		memcpy(req->uids, policy->uids, policy->nuids * sizeof(uid_t));
	return 0;
}

void ctl_request_policy(const struct ctl_request *req, struct dmx_policy *out)
{
	*out = (struct dmx_policy){
		.read_only = (req->flags & CTL_FLAG_READ_ONLY) != 0,
		.isolate = (req->flags & CTL_FLAG_ISOLATE) != 0,
		.allow = req->allow_len ? req->allow : NULL,
		.deny = req->deny_len ? req->deny : NULL,
		.uids = req->nuids ? req->uids : NULL,
		.nuids = req->nuids,
	};
}

static bool ctl_cursor_zero(const struct dmx_list_cursor *c)
{
	return !c->pos[0] && !c->pos[1] && !c->pos[2];
}

/* The tail's size, or -EINVAL: only SPAWN (a policy) and LIST_PAGE (a
 * cursor) have one, and its fields must be what the decoder accepts. */
static int ctl_tail_size(const struct ctl_request *req)
{
	bool policy = req->flags || req->allow_len || req->deny_len || req->nuids;
	bool page = req->page_max || !ctl_cursor_zero(&req->cursor);

	if (req->op == CTL_OP_LIST_PAGE)
		return policy || req->page_max < 1 || req->page_max > CTL_PAGE_MAX ? -EINVAL
										      : CTL_CURSOR_LEN + 2;
	if (page)
		return -EINVAL;
	if (req->op != CTL_OP_SPAWN)
		return policy ? -EINVAL : 0;
	if ((req->flags & ~CTL_FLAGS_KNOWN) || req->allow_len > CTL_ALLOW_MAX ||
	    req->deny_len > CTL_DENY_MAX || req->nuids > CTL_UIDS_MAX ||
	    memchr(req->allow, '\0', req->allow_len) || memchr(req->deny, '\0', req->deny_len) ||
	    !ctl_uids_ok(req->uids, req->nuids))
		return -EINVAL;
	return 1 + 2 + req->allow_len + 2 + req->deny_len + 2 + 4 * req->nuids;
}

int ctl_request_size(const struct ctl_request *req)
{
	int tail = ctl_tail_size(req);

	if (ctl_key_ok(req->op, req->key_len) < 0 || ctl_token_ok(req->op, req->token_len) < 0 ||
	    tail < 0)
		return -EINVAL;
	if (memchr(req->key, '\0', req->key_len) || memchr(req->token, '\0', req->token_len))
		return -EINVAL;
	return CTL_REQ_HEAD + req->key_len + 4 + (int)req->token_len + tail;
}

int ctl_request_encode(const struct ctl_request *req, void *buf, size_t cap)
{
	uint8_t *p = buf;
	int size = ctl_request_size(req);

	if (size < 0)
		return size;
	if ((size_t)size > cap)
		return -ENOSPC;
	p[0] = req->op;
	ctl_put16(p + 1, req->key_len);
	memcpy(p + CTL_REQ_HEAD, req->key, req->key_len);
	p += CTL_REQ_HEAD + req->key_len;
	ctl_put32(p, req->token_len);
	memcpy(p + 4, req->token, req->token_len);
	p += 4 + req->token_len;
	if (req->op == CTL_OP_LIST_PAGE) {
		for (int i = 0; i < 3; i++)
			ctl_put64(p + 8 * i, req->cursor.pos[i]);
		ctl_put16(p + CTL_CURSOR_LEN, req->page_max);
		return size;
	}
	if (req->op != CTL_OP_SPAWN)
		return size;
	*p++ = req->flags;
	ctl_put16(p, req->allow_len);
	memcpy(p + 2, req->allow, req->allow_len);
	p += 2 + req->allow_len;
	ctl_put16(p, req->deny_len);
	memcpy(p + 2, req->deny, req->deny_len);
	p += 2 + req->deny_len;
	ctl_put16(p, req->nuids);
	p += 2;
	for (size_t i = 0; i < req->nuids; i++, p += 4)
		ctl_put32(p, req->uids[i]);
	return size;
}

/* Where a field lies in a frame being decoded. */
struct ctl_span {
	size_t off, len;
};

/* A u16-length string at *off, at most max bytes without NUL: 1 when whole
 * (*off then moves past it), 0 when more bytes are needed, or an error as
 * soon as the length or the bytes are visible. */
static int ctl_str_scan(const uint8_t *p, size_t len, size_t *off, size_t max,
			struct ctl_span *out)
{
	size_t n;

	if (len - *off < 2)
		return 0;
	n = ctl_get16(p + *off);
	if (n > max)
		return -EMSGSIZE;
	if (len - *off - 2 < n)
		return 0;
	if (memchr(p + *off + 2, '\0', n))
		return -EBADMSG;
	out->off = *off + 2;
	out->len = n;
	*off += 2 + n;
	return 1;
}

struct ctl_policy_spans {
	struct ctl_span allow, deny, uids;   /* uids.len counts uids */
};

/* The SPAWN policy tail starting at p[off]: the frame's end offset when whole,
 * 0 when more bytes are needed, or a negative errno, each field judged as soon
 * as it is visible. */
static int ctl_policy_scan(const uint8_t *p, size_t len, size_t off, struct ctl_policy_spans *s)
{
	size_t n;
	int ret;

	if (len - off < 1)
		return 0;
	if (p[off] & ~CTL_FLAGS_KNOWN)
		return -EOPNOTSUPP;
	off++;
	ret = ctl_str_scan(p, len, &off, CTL_ALLOW_MAX, &s->allow);
	if (ret <= 0)
		return ret;
	ret = ctl_str_scan(p, len, &off, CTL_DENY_MAX, &s->deny);
	if (ret <= 0)
		return ret;
	if (len - off < 2)
		return 0;
	n = ctl_get16(p + off);
	if (n > CTL_UIDS_MAX)
		return -EMSGSIZE;
	off += 2;
	s->uids.off = off;
	s->uids.len = n;
	for (size_t i = 0; i < n; i++, off += 4) {
		if (len - off < 4)
			return 0;
		if (ctl_get32(p + off) == UINT32_MAX)
			return -EBADMSG;
	}
	return (int)off;
}

static void ctl_str_copy(char *dst, const uint8_t *p, const struct ctl_span *sp)
{
	memcpy(dst, p + sp->off, sp->len);
	dst[sp->len] = '\0';
}

int ctl_request_decode(const void *buf, size_t len, struct ctl_request *out)
{
	const uint8_t *p = buf;
	struct ctl_policy_spans pol = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
	struct dmx_list_cursor cursor = { { 0, 0, 0 } };
	size_t key_len, token_len, off, end;
	uint16_t page_max = 0;
	int ret;

	/* Judge each field as soon as it is visible, so a hostile length fails
	 * before the reader waits for (or buffers) the bytes it announces. */
	if (len < 1)
		return 0;
	ret = ctl_key_ok(p[0], 0);
	if (ret == -EOPNOTSUPP)
		return ret;
	if (len < CTL_REQ_HEAD)
		return 0;
	key_len = ctl_get16(p + 1);
	ret = ctl_key_ok(p[0], key_len);
	if (ret < 0)
		return ret;
	off = CTL_REQ_HEAD;
	if (len < off + key_len)
		return 0;
	if (memchr(p + off, '\0', key_len))
		return -EBADMSG;
	off += key_len;
	if (len < off + 4)
		return 0;
	token_len = ctl_get32(p + off);
	ret = ctl_token_ok(p[0], token_len);
	if (ret < 0)
		return ret;
	off += 4;
	if (len < off + token_len)
		return 0;
	if (memchr(p + off, '\0', token_len))
		return -EBADMSG;
	end = off + token_len;
	if (p[0] == CTL_OP_SPAWN) {
		ret = ctl_policy_scan(p, len, end, &pol);
		if (ret <= 0)
			return ret;
		end = (size_t)ret;
	} else if (p[0] == CTL_OP_LIST_PAGE) {
		if (len - end < CTL_CURSOR_LEN + 2)
			return 0;
		page_max = ctl_get16(p + end + CTL_CURSOR_LEN);
		if (page_max < 1 || page_max > CTL_PAGE_MAX)
			return -EMSGSIZE;
		for (int i = 0; i < 3; i++)
			cursor.pos[i] = ctl_get64(p + end + 8 * i);
		end += CTL_CURSOR_LEN + 2;
	}

	out->op = p[0];
	out->key_len = (uint16_t)key_len;
	memcpy(out->key, p + CTL_REQ_HEAD, key_len);
	out->key[key_len] = '\0';
	out->token_len = (uint32_t)token_len;
	memcpy(out->token, p + off, token_len);
	out->token[token_len] = '\0';
	out->flags = p[0] == CTL_OP_SPAWN ? p[off + token_len] : 0;
	out->allow_len = (uint16_t)pol.allow.len;
	ctl_str_copy(out->allow, p, &pol.allow);
	out->deny_len = (uint16_t)pol.deny.len;
	ctl_str_copy(out->deny, p, &pol.deny);
	out->nuids = (uint16_t)pol.uids.len;
	for (size_t i = 0; i < pol.uids.len; i++)
		out->uids[i] = ctl_get32(p + pol.uids.off + 4 * i);
	out->cursor = cursor;
	out->page_max = page_max;
	return (int)end;
}

int ctl_reply_head_encode(int status, size_t payload_len, uint8_t out[CTL_REPLY_HEAD])
{
	if (status > 0 || status < -CTL_ERRNO_MAX || (status < 0 && payload_len) ||
	    payload_len > CTL_PAYLOAD_MAX)
		return -EINVAL;
	ctl_put32(out, (uint32_t)status);
	ctl_put32(out + 4, (uint32_t)payload_len);
	return 0;
}

int ctl_reply_head_decode(const uint8_t in[CTL_REPLY_HEAD], int *status, size_t *payload_len)
{
	int32_t st = (int32_t)ctl_get32(in);
	uint32_t plen = ctl_get32(in + 4);

	if (st > 0 || st < -CTL_ERRNO_MAX || (st < 0 && plen))
		return -EBADMSG;
	if (plen > CTL_PAYLOAD_MAX)
		return -EMSGSIZE;
	*status = st;
	*payload_len = plen;
	return 0;
}

int ctl_path_decode(const void *payload, size_t len, char *path, size_t cap)
{
	if (len == 0 || len >= DMX_PATH_MAX || memchr(payload, '\0', len))
		return -EBADMSG;
	if (len + 1 > cap)
		return -ENOSPC;
	memcpy(path, payload, len);
	path[len] = '\0';
	return 0;
}

/* The wire order of the stats fields: struct dmx_stats' declaration order. */
static void ctl_stats_fields(const struct dmx_stats *st, uint64_t v[CTL_STATS_FIELDS])
{
	v[0] = st->containers;
	v[1] = st->conns_accepted;
	v[2] = st->conns_active;
	v[3] = st->requests;
	v[4] = st->bytes_up;
	v[5] = st->bytes_down;
	v[6] = st->errors;
	for (int i = 0; i < 6; i++)
		v[7 + i] = st->responses[i];
	v[13] = st->denied;
}

void ctl_stats_encode(const struct dmx_stats *st, uint8_t out[CTL_STATS_LEN])
{
	uint64_t v[CTL_STATS_FIELDS];

	ctl_stats_fields(st, v);
	for (int i = 0; i < CTL_STATS_FIELDS; i++)
		ctl_put64(out + 8 * i, v[i]);
}

int ctl_stats_decode(const void *payload, size_t len, struct dmx_stats *out)
{
	const uint8_t *p = payload;
	struct dmx_stats st;

	if (len != CTL_STATS_LEN)
		return -EBADMSG;
	st.containers = ctl_get64(p);
	st.conns_accepted = ctl_get64(p + 8);
	st.conns_active = ctl_get64(p + 16);
	st.requests = ctl_get64(p + 24);
	st.bytes_up = ctl_get64(p + 32);
	st.bytes_down = ctl_get64(p + 40);
	st.errors = ctl_get64(p + 48);
	for (int i = 0; i < 6; i++)
		st.responses[i] = ctl_get64(p + 56 + 8 * i);
	st.denied = ctl_get64(p + 104);
	*out = st;
	return 0;
}

/* The field lengths of an entry, or -EINVAL when one is out of bounds. */
static int ctl_entry_lens(const struct dmx_entry *e, size_t *key_len, size_t *path_len,
			  size_t *desc_len)
{
	*key_len = strnlen(e->key, sizeof(e->key));
	*path_len = strnlen(e->path, sizeof(e->path));
	*desc_len = strnlen(e->policy, sizeof(e->policy));
	if (*key_len == 0 || *key_len > DMX_KEY_MAX || *path_len == 0 ||
	    *path_len >= DMX_PATH_MAX || *desc_len > CTL_DESC_MAX || e->nuids > UINT32_MAX)
		return -EINVAL;
	return 0;
}

/* An entry's bytes after its key, path and policy description. */
#define CTL_ENTRY_FIXED (2 + 1 + 1 + 4 + CTL_STATS_LEN)

size_t ctl_list_size(const struct dmx_entry *entries, size_t n)
{
	size_t size = 4, key_len, path_len, desc_len;

	for (size_t i = 0; i < n; i++) {
		if (ctl_entry_lens(&entries[i], &key_len, &path_len, &desc_len) < 0)
			continue;
		size += CTL_ENTRY_FIXED + key_len + path_len + desc_len;
	}
	return size;
}

int ctl_list_encode(const struct dmx_entry *entries, size_t n, void *buf, size_t cap)
{
	uint8_t *p = buf;
	size_t off = 4, key_len, path_len, desc_len;

	if (n > UINT32_MAX)
		return -EINVAL;
	if (cap > INT32_MAX)
		cap = INT32_MAX;    /* the return value is an int */
	if (cap < 4)
		return -ENOSPC;
	ctl_put32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct dmx_entry *e = &entries[i];

		if (ctl_entry_lens(e, &key_len, &path_len, &desc_len) < 0)
			return -EINVAL;
		if (cap - off < CTL_ENTRY_FIXED + key_len + path_len + desc_len)
			return -ENOSPC;
		ctl_put16(p + off, (uint16_t)key_len);
		memcpy(p + off + 2, e->key, key_len);
		off += 2 + key_len;
		p[off] = (uint8_t)path_len;
		memcpy(p + off + 1, e->path, path_len);
		off += 1 + path_len;
		p[off] = (uint8_t)desc_len;
		memcpy(p + off + 1, e->policy, desc_len);
		off += 1 + desc_len;
		ctl_put32(p + off, (uint32_t)e->nuids);
		off += 4;
		ctl_stats_encode(&e->stats, p + off);
		off += CTL_STATS_LEN;
	}
	return (int)off;
}

/* A u8-length string at *off of 1..max bytes (min 0 when empty_ok) without
 * NUL: its span, *off moved past it; -EBADMSG if it is cut or malformed. */
static int ctl_str8_scan(const uint8_t *p, size_t len, size_t *off, size_t max, bool empty_ok,
			 struct ctl_span *out)
{
	size_t n;

	if (len - *off < 1)
		return -EBADMSG;
	n = p[*off];
	if ((n == 0 && !empty_ok) || n > max || len - *off - 1 < n ||
	    memchr(p + *off + 1, '\0', n))
		return -EBADMSG;
	out->off = *off + 1;
	out->len = n;
	*off += 1 + n;
	return 0;
}

int ctl_list_decode(const void *payload, size_t len, struct dmx_entry *out, size_t cap)
{
	const uint8_t *p = payload;
	struct ctl_span key, path, desc;
	size_t off = 4;
	uint32_t count;

	if (len < 4 || len > CTL_PAYLOAD_MAX)
		return -EBADMSG;
	count = ctl_get32(p);
	/* Smallest entry: 1-byte key and path, empty description. Rejects a
	 * huge count up front. */
	if (count > (len - 4) / (CTL_ENTRY_FIXED + 2))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		if (len - off < 2)
			return -EBADMSG;
		key.len = ctl_get16(p + off);
		key.off = off + 2;
		off += 2;
		if (key.len == 0 || key.len > DMX_KEY_MAX || len - off < key.len ||
		    memchr(p + off, '\0', key.len))
			return -EBADMSG;
		off += key.len;
		if (ctl_str8_scan(p, len, &off, DMX_PATH_MAX - 1, false, &path) < 0 ||
		    ctl_str8_scan(p, len, &off, CTL_DESC_MAX, true, &desc) < 0 ||
		    len - off < 4 + CTL_STATS_LEN)
			return -EBADMSG;
		if (i < cap) {
			ctl_str_copy(out[i].key, p, &key);
			ctl_str_copy(out[i].path, p, &path);
			ctl_str_copy(out[i].policy, p, &desc);
			out[i].nuids = ctl_get32(p + off);
			ctl_stats_decode(p + off + 4, CTL_STATS_LEN, &out[i].stats);
		}
		off += 4 + CTL_STATS_LEN;
	}
	if (off != len)
		return -EBADMSG;
	return (int)count;
}

int ctl_page_encode(const struct dmx_list_cursor *cur, const struct dmx_entry *entries, size_t n,
		    void *buf, size_t cap)
{
	uint8_t *p = buf;
	int ret;

	if (cap < CTL_CURSOR_LEN)
		return -ENOSPC;
	for (int i = 0; i < 3; i++)
		ctl_put64(p + 8 * i, cur->pos[i]);
	ret = ctl_list_encode(entries, n, p + CTL_CURSOR_LEN, cap - CTL_CURSOR_LEN);
	return ret < 0 ? ret : ret + CTL_CURSOR_LEN;
}

int ctl_page_decode(const void *payload, size_t len, struct dmx_list_cursor *cur,
		    struct dmx_entry *out, size_t cap)
{
	const uint8_t *p = payload;
	int ret;

	if (len < CTL_CURSOR_LEN)
		return -EBADMSG;
	ret = ctl_list_decode(p + CTL_CURSOR_LEN, len - CTL_CURSOR_LEN, out, cap);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 3; i++)
		cur->pos[i] = ctl_get64(p + 8 * i);
	return ret;
}

int ctl_replies_fail(uint8_t *buf, size_t len, int err)
{
	size_t in = 0, out = 0, plen;
	int status;

	if (ctl_reply_head_encode(err, 0, (uint8_t[CTL_REPLY_HEAD]){ 0 }) < 0 || err == 0)
		return -EINVAL;
	while (in < len) {
		if (len - in < CTL_REPLY_HEAD ||
		    ctl_reply_head_decode(buf + in, &status, &plen) < 0 ||
		    len - in - CTL_REPLY_HEAD < plen)
			return -EBADMSG;
		if (status == 0) {
			ctl_reply_head_encode(err, 0, buf + out);
		} else if (out != in) {
			memmove(buf + out, buf + in, CTL_REPLY_HEAD);
		}
		out += CTL_REPLY_HEAD;
		in += CTL_REPLY_HEAD + plen;
	}
	return (int)out;
}
