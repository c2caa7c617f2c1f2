/* cmd/state.c: the daemon's memory of its containers and its journal on
 * disk (see state.h). Memory is the truth; the file follows it by appended
 * records, and is rewritten from memory whenever it might not match.
 */
#include "state.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keypath.h"

struct state_rec {
	struct ctab_item item;
	uint8_t *frame;
	uint32_t len;
	char key[DMX_KEY_MAX + 1];
};

static size_t rec_size(uint32_t len)
{
	return JOURNAL_REC_HEAD + (size_t)len;
}

int state_init(struct state *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	s->live_bytes = JOURNAL_MAGIC_LEN;
	journal_init(&s->j, path);
	return ctab_init(&s->tab, 64);
}

static void rec_free(struct state_rec *r)
{
	if (r->frame) {
		explicit_bzero(r->frame, r->len);
		free(r->frame);
	}
	free(r);
}

static void pend_clear(struct state *s)
{
	if (s->pend)
		explicit_bzero(s->pend, s->pend_len);   /* spawn records hold tokens */
	s->pend_len = 0;
}

void state_deinit(struct state *s)
{
	struct ctab_item *it;

	while ((it = s->tab.first)) {
		ctab_remove(&s->tab, it->hash);
		rec_free((struct state_rec *)it);
	}
	ctab_deinit(&s->tab);
	pend_clear(s);
	free(s->pend);
	s->pend = NULL;
	s->pend_cap = 0;
	journal_close(&s->j);
}

size_t state_count(const struct state *s)
{
	return s->tab.count;
}

bool state_pending(const struct state *s)
{
	return s->pend_len > 0 || (s->path && s->j.err);
}

static struct state_rec *rec_find(const struct state *s, const char *key)
{
	size_t klen = strlen(key);
	struct ctab_item *it;

	if (ctab_lookup(&s->tab, keypath_hash(key, klen), key, klen, &it) != 0)
		return NULL;
	return (struct state_rec *)it;
}

/* Takes frame (malloc'd, len bytes) for key. */
static int state_put_frame(struct state *s, const char *key, uint8_t *frame, uint32_t len)
{
	size_t klen = strlen(key);
	uint64_t hash = keypath_hash(key, klen);
	struct ctab_item *it;
	struct state_rec *r;
	int ret;

	ret = ctab_lookup(&s->tab, hash, key, klen, &it);
	if (ret == 0) {
		r = (struct state_rec *)it;
		s->live_bytes -= rec_size(r->len);
		explicit_bzero(r->frame, r->len);
		free(r->frame);
		r->frame = frame;
		r->len = len;
		s->live_bytes += rec_size(len);
		return 0;
	}
	if (ret == -EEXIST)
		return -EEXIST;   /* another key, same hash: dmx refused it too */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r->key, key, klen + 1);
	r->item.hash = hash;
	r->item.key = r->key;
	r->item.keylen = klen;
	r->frame = frame;
	r->len = len;
	ret = ctab_insert(&s->tab, &r->item);
	if (ret < 0) {
		free(r);
		return ret;
	}
	s->live_bytes += rec_size(len);
	return 0;
}

static void state_remove(struct state *s, struct state_rec *r)
{
	ctab_remove(&s->tab, r->item.hash);
	s->live_bytes -= rec_size(r->len);
	rec_free(r);
}

/* Queue one record for the next commit. Memory only: nothing to queue. */
static int pend_add(struct state *s, const uint8_t *frame, uint32_t len)
{
	size_t need = rec_size(len);

	if (!s->path)
		return 0;
	if (s->pend_cap - s->pend_len < need) {
		size_t cap = s->pend_cap ? s->pend_cap : 64 * 1024;
		uint8_t *p;

		while (cap - s->pend_len < need)
			cap *= 2;
		/* Not realloc: the old buffer holds tokens and must be wiped. */
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		if (s->pend) {
			memcpy(p, s->pend, s->pend_len);
			explicit_bzero(s->pend, s->pend_len);
			free(s->pend);
		}
		s->pend = p;
		s->pend_cap = cap;
	}
	journal_rec_head(s->pend + s->pend_len, frame, len);
	memcpy(s->pend + s->pend_len + JOURNAL_REC_HEAD, frame, len);
	s->pend_len += need;
	return 0;
}

/* A queued record could not be: the file no longer follows memory. */
static void state_diverged(struct state *s, int err)
{
	pend_clear(s);
	s->j.err = err;
}

int state_put(struct state *s, const struct ctl_request *req)
{
	uint8_t *frame;
	int len, ret;

	if (req->op != CTL_OP_SPAWN)
		return -EINVAL;
	len = ctl_request_size(req);
	if (len < 0)
		return len;
	frame = malloc((size_t)len);
	if (!frame)
		return -ENOMEM;
	len = ctl_request_encode(req, frame, (size_t)len);
	if (len < 0) {
		free(frame);
		return len;
	}
	ret = state_put_frame(s, req->key, frame, (uint32_t)len);
	if (ret < 0) {
		explicit_bzero(frame, (size_t)len);
		free(frame);
		return ret;
	}
	if (pend_add(s, frame, (uint32_t)len) < 0)
		state_diverged(s, -ENOMEM);
	return 0;
}

int state_del(struct state *s, const char *key)
{
	struct ctl_request *req;
	struct state_rec *r = rec_find(s, key);
	uint8_t frame[CTL_REQ_HEAD + DMX_KEY_MAX + 4];
	int len;

	if (!r)
		return -ENOENT;
	req = calloc(1, sizeof(*req));
	if (!req)
		len = -ENOMEM;
	else {
		req->op = CTL_OP_TEARDOWN;
		req->key_len = (uint16_t)r->item.keylen;
		memcpy(req->key, r->key, r->item.keylen + 1);
		len = ctl_request_encode(req, frame, sizeof(frame));
		free(req);
	}
	state_remove(s, r);
	if (len < 0 || pend_add(s, frame, (uint32_t)len) < 0)
		state_diverged(s, len < 0 ? len : -ENOMEM);
	return 0;
}

static int fill_live(void *ud, struct journal_writer *w)
{
	const struct state *s = ud;
	int ret = 0;

	for (struct ctab_item *it = s->tab.first; it && ret == 0; it = it->next) {
		const struct state_rec *r = (const struct state_rec *)it;

		ret = journal_put(w, r->frame, r->len);
	}
	return ret;
}

int state_save(struct state *s)
{
	int ret;

	if (!s->path)
		return 0;
	pend_clear(s);   /* the rewrite holds them */
	ret = journal_rewrite(&s->j, fill_live, s);
	if (ret < 0)
		s->j.err = ret;
	return ret;
}

int state_commit(struct state *s)
{
	int ret;

	if (!s->path) {
		pend_clear(s);
		return 0;
	}
	if (s->j.fd < 0 || s->j.err || s->j.size + s->pend_len > 2 * s->live_bytes + STATE_COMPACT_SLACK) {
		s->compactions++;
		return state_save(s);
	}
	if (s->pend_len == 0)
		return 0;
	ret = journal_append(&s->j, s->pend, s->pend_len);
	pend_clear(s);
	return ret;
}

void state_detach(struct state *s)
{
	pend_clear(s);
	journal_close(&s->j);
	s->path = NULL;
}

const void *state_frame(const struct state *s, const char *key, size_t *len)
{
	const struct state_rec *r = rec_find(s, key);

	if (!r)
		return NULL;
	*len = r->len;
	return r->frame;
}

int state_each(const struct state *s, int (*fn)(void *ud, struct ctl_request *req), void *ud)
{
	struct ctl_request *req = malloc(sizeof(*req));
	int ret = 0;

	if (!req)
		return -ENOMEM;
	/* fn may not change s, so the walk needs no pause. */
	for (struct ctab_item *it = s->tab.first; ret == 0 && it; it = it->next) {
		struct state_rec *r = (struct state_rec *)it;

		ret = ctl_request_decode(r->frame, r->len, req);
		ret = ret == (int)r->len ? fn(ud, req) : -EBADMSG;
		explicit_bzero(req, sizeof(*req));
	}
	free(req);
	return ret;
}

/* ---- loading ---- */

struct load_ctx {
	struct state *tmp;
	struct ctl_request *req;
	const char *why;
};

/* One record onto the scratch state: decoded whole first, then applied, so
 * no record is ever half-applied. */
static int load_rec(void *ud, const uint8_t *p, size_t n)
{
	struct load_ctx *x = ud;
	struct state_rec *r;
	uint8_t *frame;
	int ret;

	if (ctl_request_decode(p, n, x->req) != (int)n)
		return -EBADMSG;
	switch (x->req->op) {
	case CTL_OP_SPAWN:
		frame = malloc(n);
		if (!frame)
			return -ENOMEM;
		memcpy(frame, p, n);
		ret = state_put_frame(x->tmp, x->req->key, frame, (uint32_t)n);
		if (ret < 0) {
			explicit_bzero(frame, n);
			free(frame);
			x->why = ret == -EEXIST ? "two live keys with one hash" : NULL;
			return ret == -EEXIST ? -EBADMSG : ret;
		}
		break;
	case CTL_OP_TEARDOWN:
		r = rec_find(x->tmp, x->req->key);
		if (r)
			state_remove(x->tmp, r);
		break;
	default:
		return -EBADMSG;
	}
	explicit_bzero(x->req, sizeof(*x->req));
	return 0;
}

int state_load(struct state *s, const char **why, struct state_load_info *info)
{
	struct journal_scan scan;
	struct load_ctx x = { 0 };
	struct state tmp;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	*why = NULL;
	memset(info, 0, sizeof(*info));
	if (!s->path)
		return -ENOENT;
	ret = journal_read(s->path, &buf, &len, why);
	if (ret < 0)
		return ret;
	x.req = malloc(sizeof(*x.req));
	ret = state_init(&tmp, NULL);
	if (!x.req || ret < 0) {
		free(x.req);
		explicit_bzero(buf, len);
		free(buf);
		state_deinit(&tmp);
		return -ENOMEM;
	}
	x.tmp = &tmp;
	/* All or nothing: records go to a scratch table first. */
	ret = journal_scan(buf, len, CTL_REQ_MAX, load_rec, &x, &scan);
	*why = x.why ? x.why : scan.why;
	info->version = scan.version;
	info->records = scan.records;
	info->dropped = scan.dropped;
	info->at = scan.at;
	explicit_bzero(x.req, sizeof(*x.req));
	free(x.req);
	explicit_bzero(buf, len);
	free(buf);
	if (ret == 0) {
		struct ctab_item *it;

		/* Move the records over in order: the frames change hands. */
		for (it = tmp.tab.first; ret == 0 && it; it = it->next) {
			struct state_rec *r = (struct state_rec *)it;

			ret = state_put_frame(s, r->key, r->frame, r->len);
			if (ret == 0)
				r->frame = NULL, r->len = 0;
		}
	}
	state_deinit(&tmp);
	return ret;
}
