/* ring/conn_iso.c: tenant isolation on the request direction, for a
 * container spawned with dmx_policy.isolate. Each parsed head is classified
 * (core/isoroute.c) and refused, forwarded with its query rewritten
 * (core/filters.c, inspect_build_query), or held while its whole body is
 * read and judged (core/inspect.c); the judged body goes up re-serialised
 * with a Content-Length of its own, never the client's bytes. Under audit,
 * what would be refused is forwarded and logged instead. It does not check
 * who owns an object a request names: not yet (docs/NOTES.md).
 */
#include "conn.h"

#include "filters.h"
#include "hijack.h"
#include "isoroute.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mimalloc.h>

#define ISO_BODY_START (16 * 1024)   /* a chunked body's first buffer */
#define ISO_TARGET_KEEP 4096          /* a target buffer kept for the next request */

/* One connection's isolation state: the request being inspected (at most
 * one: nothing after it is parsed until its body is in), and the buffer of a
 * rewritten target, kept for the next request. */
struct conn_iso {
	enum inspect_kind kind;
	bool chunked;
	bool hijack;             /* hijack_request_may() of its head */
	bool head_sent;          /* REQ_INSPECT_OUT: the head is in out */
	char *head;              /* the head as it goes up, without the token line,
	                          * the framing fields and the final empty line */
	size_t head_len;
	uint32_t mlen, toff, tlen;   /* method and target in head */
	char *body;              /* as received; a chunked one decoded once whole */
	size_t body_len, body_cap, limit;
	const char *send;        /* what goes up after the head: res.body or body */
	size_t send_len, send_off;
	struct inspect_result res;
	char *target;            /* a rewritten request-target (FORCE_FILTER, BUILD_QUERY) */
	size_t target_cap;
};

void conn_audit_log(struct conn *c, const char *method, size_t mlen, const char *target,
		    size_t tlen, int status, const char *why)
{
	char norm[POLICY_MAX_PATH];
	const char *path = "-";

	/* The normalised path only: no query, no header, so never a token. */
	if (tlen < sizeof(norm) && policy_normalize(target, tlen, norm, sizeof(norm)) == 0)
		path = norm;
	ring_log(c->ring, 4, "policy: would deny status=%d method=%.*s socket=%s reason=\"%s\" "
		 "path=%.200s%s", status, (int)(mlen < 15 ? mlen : 15), method,
		 c->ctr ? c->ctr->path : "-", why, path, strlen(path) > 200 ? "..." : "");
}

/* Refuse (true: the conn is failing), or under audit log it and let it
 * through (false). Malformed requests and 413s never come here. */
static bool conn_iso_refuse(struct conn *c, const char *method, size_t mlen, const char *target,
			    size_t tlen, int status, const char *msg)
{
	if (c->ctr->audit) {
		conn_audit_log(c, method, mlen, target, tlen, status, msg);
		return false;
	}
	if (status == 403)
		c->ctr->stats.denied++;
	conn_access_refused(c, method, mlen, target, tlen, status);
	conn_fail(c, status, msg);
	return true;
}

/* A refusal audit does not lift (the request cannot be read as dockerd would
 * read it, or is over a bound). */
static void conn_iso_fail(struct conn *c, const char *method, size_t mlen, const char *target,
			  size_t tlen, int status, const char *msg)
{
	conn_access_refused(c, method, mlen, target, tlen, status);
	conn_fail(c, status, msg);
}

static struct conn_iso *conn_iso_get(struct conn *c)
{
	if (!c->iso)
		c->iso = mi_zalloc(sizeof(*c->iso));
	return c->iso;
}

/* Go's Request.ParseForm reads a form body's values before the query's, so
 * such a body would override the rewritten filters or build options. */
static bool conn_iso_form_body(const char *buf, const struct http_head *h)
{
	if (!(h->method.len == 4 && memcmp(buf + h->method.off, "POST", 4) == 0))
		return false;
	for (unsigned i = 0; i < h->nheaders; i++)
		if (http_name_is_lower(buf, h->headers[i].name, "content-type", 12) &&
		    filters_form_content_type(buf + h->headers[i].value.off, h->headers[i].value.len))
			return true;
	return false;
}

/* FORCE_FILTER and BUILD_QUERY: the target with its query rewritten into
 * iso->target (rw->target). CONN_ISO_PASS (rewritten, or under audit left as
 * it is) or CONN_ISO_REFUSED. */
static enum conn_iso_verdict conn_iso_query(struct conn *c, const struct http_head *h,
					    enum isoroute_action action, struct http_rewrite *rw)
{
	const struct inspect_policy *ip = c->ctr->inspect;
	const char *buf = c->in + c->in_start, *m = buf + h->method.off;
	const char *t = buf + h->target.off, *q = memchr(t, '?', h->target.len);
	const char *name = inspect_policy_label_name(ip), *value = inspect_policy_label_value(ip);
	size_t plen = q ? (size_t)(q - t) : h->target.len, qlen = q ? h->target.len - plen - 1 : 0;
	size_t cap = FILTERS_OUT_MAX(qlen, strlen(name), strlen(value)), olen = 0;
	struct conn_iso *iso = conn_iso_get(c);
	char msg[FILTERS_MSG_MAX > INSPECT_MSG_MAX ? FILTERS_MSG_MAX : INSPECT_MSG_MAX];
	int r, status = 400;

	if (!iso) {
		conn_fail(c, 503, "dockmux: out of memory");
		return CONN_ISO_REFUSED;
	}
	if (conn_iso_form_body(buf, h))
		return conn_iso_refuse(c, m, h->method.len, t, h->target.len, 400,
				       "dockmux isolation: a form-encoded body would override the "
				       "query") ? CONN_ISO_REFUSED : CONN_ISO_PASS;
	if (iso->target_cap < plen + 1 + cap) {
		char *nt = mi_realloc(iso->target, plen + 1 + cap);

		if (!nt) {
			conn_fail(c, 503, "dockmux: out of memory");
			return CONN_ISO_REFUSED;
		}
		iso->target = nt;
		iso->target_cap = plen + 1 + cap;
	}
	memcpy(iso->target, t, plen);
	iso->target[plen] = '?';
	if (action == ISOROUTE_FORCE_FILTER) {
		r = filters_force_label(q ? q + 1 : "", qlen, name, value, iso->target + plen + 1, cap,
					&olen, msg, sizeof(msg));
	} else {
		struct inspect_result res;

		r = inspect_build_query(ip, q ? q + 1 : "", qlen, &res);
		if (r == INSPECT_FORWARD && res.body_len < cap) {
			memcpy(iso->target + plen + 1, res.body, res.body_len);
			olen = res.body_len;
		} else if (r == INSPECT_FORWARD) {
			r = -ENOSPC;
		} else if (r == INSPECT_REFUSE) {
			status = res.status;
			snprintf(msg, sizeof(msg), "%s", res.msg);
		}
		inspect_result_deinit(&res);
	}
	if (r == FILTERS_BAD)   /* == INSPECT_REFUSE */
		return conn_iso_refuse(c, m, h->method.len, t, h->target.len, status, msg)
		       ? CONN_ISO_REFUSED : CONN_ISO_PASS;
	if (r < 0) {
		conn_fail(c, r == -ENOMEM ? 503 : 500, r == -ENOMEM ? "dockmux: out of memory"
								   : "dockmux: query rewrite failed");
		return CONN_ISO_REFUSED;
	}
	rw->target = iso->target;
	rw->target_len = plen + 1 + olen;
	return CONN_ISO_PASS;
}

static void conn_iso_request_free(struct conn_iso *iso)
{
	mi_free(iso->head);
	mi_free(iso->body);
	inspect_result_deinit(&iso->res);
	iso->head = iso->body = NULL;
	iso->head_len = iso->body_len = iso->body_cap = 0;
	iso->send = NULL;
	iso->send_len = iso->send_off = 0;
}

/* The body is in: judge it, and go on to send (REQ_INSPECT_OUT) or refuse.
 * False when the conn failed or closed. */
static bool conn_iso_judge(struct conn *c)
{
	struct conn_iso *iso = c->iso;
	const char *m = iso->head, *t = iso->head + iso->toff;
	int r;

	if (!c->ctr) {
		conn_close(c);
		return false;
	}
	if (iso->chunked && http_chunked_decode(iso->body, iso->body_len, &iso->body_len) < 0) {
		conn_iso_fail(c, m, iso->mlen, t, iso->tlen, 400, "malformed chunked body");
		return false;
	}
	iso->send = iso->body ? iso->body : "";
	iso->send_len = iso->body_len;
	/* A respawn without isolation meanwhile: sent as received. */
	if (c->ctr->inspect) {
		r = inspect_body(c->ctr->inspect, iso->kind, iso->body ? iso->body : "", iso->body_len,
				 &iso->res);
		if (r < 0) {
			conn_fail(c, r == -ENOMEM ? 503 : 500, r == -ENOMEM ? "dockmux: out of memory"
									   : "dockmux: inspection failed");
			return false;
		}
		if (r == INSPECT_REFUSE && iso->res.status == 413) {
			conn_iso_fail(c, m, iso->mlen, t, iso->tlen, 413, iso->res.msg);
			return false;
		}
		if (r == INSPECT_REFUSE &&
		    conn_iso_refuse(c, m, iso->mlen, t, iso->tlen, iso->res.status, iso->res.msg))
			return false;
		if (r == INSPECT_FORWARD) {
			iso->send = iso->res.body ? iso->res.body : "";
			iso->send_len = iso->res.body_len;
		}
	}
	iso->head_sent = false;
	iso->send_off = 0;
	c->req = REQ_INSPECT_OUT;
	return true;
}

/* INSPECT_BODY: keep the head, read the body into iso->body (REQ_INSPECT).
 * A body that is empty is judged at once. */
static enum conn_iso_verdict conn_iso_body_start(struct conn *c, const struct http_head *h,
						 enum inspect_kind kind)
{
	const struct engine_cfg *cfg = c->ring->cfg;
	const char *buf = c->in + c->in_start, *m = buf + h->method.off, *t = buf + h->target.off;
	struct http_rewrite rw = { .strip_name = cfg->token_header,
				   .strip_len = cfg->token_header_len, .reframe = true };
	struct conn_iso *iso = conn_iso_get(c);
	size_t limit = inspect_policy_max_body(c->ctr->inspect);
	ssize_t n;

	if (cfg->max_body && cfg->max_body < limit)
		limit = (size_t)cfg->max_body;
	if (h->body == HTTP_BODY_LENGTH && h->content_length > limit) {
		conn_iso_fail(c, m, h->method.len, t, h->target.len, 413,
			      "dockmux isolation: the body is larger than it inspects");
		return CONN_ISO_REFUSED;
	}
	if (iso)
		iso->head = mi_malloc(h->head_len + 2);
	if (!iso || !iso->head) {
		conn_fail(c, 503, "dockmux: out of memory");
		return CONN_ISO_REFUSED;
	}
	/* Only fields are dropped, so it fits the client's own head. */
	n = http_head_rewrite_ex(buf, h, &rw, iso->head, h->head_len + 2);
	if (n < 2) {
		conn_fail(c, 500, "dockmux: head rewrite failed");
		return CONN_ISO_REFUSED;
	}
	iso->head_len = (size_t)n - 2;
	iso->mlen = h->method.len;
	iso->toff = h->method.len + 1;
	iso->tlen = h->target.len;
	iso->kind = kind;
	iso->hijack = hijack_request_may(buf, h);
	iso->chunked = h->body == HTTP_BODY_CHUNKED;
	iso->limit = limit;
	conn_head_timer_stop(c);
	if (iso->chunked) {
		http_chunked_init_request(&c->chunked, cfg->token_header, cfg->token_header_len,
					  cfg->in_cap);
	} else {
		c->body_left = h->body == HTTP_BODY_LENGTH ? h->content_length : 0;
		if (c->body_left == 0)
			return conn_iso_judge(c) ? CONN_ISO_BODY : CONN_ISO_REFUSED;
	}
	c->req = REQ_INSPECT;
	return CONN_ISO_BODY;
}

enum conn_iso_verdict conn_iso_head(struct conn *c, const struct http_head *h,
				    struct http_rewrite *rw)
{
	const char *buf = c->in + c->in_start, *m = buf + h->method.off, *t = buf + h->target.off;
	const char *q = memchr(t, '?', h->target.len);
	size_t qlen = q ? h->target.len - (size_t)(q - t) - 1 : 0;
	char path[POLICY_MAX_PATH];
	struct isoroute route;

	/* filters.c reads a query without a fragment; Go keeps a '#' in it. */
	if (memchr(t, '#', h->target.len)) {
		conn_iso_fail(c, m, h->method.len, t, h->target.len, 400,
			      "dockmux isolation: a '#' in the request target");
		return CONN_ISO_REFUSED;
	}
	if (policy_normalize(t, h->target.len, path, sizeof(path)) < 0) {
		conn_iso_fail(c, m, h->method.len, t, h->target.len, 400,
			      "dockmux policy: path does not normalise");
		return CONN_ISO_REFUSED;
	}
	switch (isoroute_classify(m, h->method.len, path, q ? q + 1 : "", qlen, &route)) {
	case ISOROUTE_FORWARD:
	case ISOROUTE_NEEDS_OWNER:   /* not checked yet */
		return CONN_ISO_PASS;
	case ISOROUTE_REFUSE:
		return conn_iso_refuse(c, m, h->method.len, t, h->target.len, route.status,
				       route.msg) ? CONN_ISO_REFUSED : CONN_ISO_PASS;
	case ISOROUTE_FORCE_FILTER:
	case ISOROUTE_BUILD_QUERY:
		return conn_iso_query(c, h, route.action, rw);
	case ISOROUTE_INSPECT_BODY:
		return conn_iso_body_start(c, h, route.kind);
	}
	return CONN_ISO_PASS;
}

static bool conn_iso_append(struct conn *c, const char *p, size_t n)
{
	struct conn_iso *iso = c->iso;

	if (iso->body_len + n > iso->body_cap) {
		size_t cap = iso->body_cap ? iso->body_cap * 2 : ISO_BODY_START;
		char *nb;

		if (cap < iso->body_len + n)
			cap = iso->body_len + n;
		if (cap > iso->limit)
			cap = iso->limit;   /* body_len + n <= limit: checked by the caller */
		nb = mi_realloc(iso->body, cap);
		if (!nb) {
			conn_fail(c, 503, "dockmux: out of memory");
			return false;
		}
		iso->body = nb;
		iso->body_cap = cap;
	}
	memcpy(iso->body + iso->body_len, p, n);
	iso->body_len += n;
	return true;
}

bool conn_iso_feed(struct conn *c)
{
	struct conn_iso *iso = c->iso;
	const char *p = c->in + c->in_start;
	size_t avail = c->in_end - c->in_start, n, used;
	enum http_chunk cr;

	if (!iso->chunked) {
		n = avail < c->body_left ? avail : (size_t)c->body_left;
		if (!conn_iso_append(c, p, n))
			return false;
		c->in_start += (uint32_t)n;
		c->body_left -= n;
		return c->body_left > 0 ? n > 0 : conn_iso_judge(c);
	}
	cr = http_chunked_feed(&c->chunked, p, avail, &used);
	if (cr == HTTP_CHUNK_ERROR) {
		conn_iso_fail(c, iso->head, iso->mlen, iso->head + iso->toff, iso->tlen, 400,
			      http_chunked_reason(&c->chunked));
		return false;
	}
	/* The framing counts: what is held is what arrived. */
	if (used > iso->limit - iso->body_len) {
		conn_iso_fail(c, iso->head, iso->mlen, iso->head + iso->toff, iso->tlen, 413,
			      "dockmux isolation: the body is larger than it inspects");
		return false;
	}
	if (!conn_iso_append(c, p, used))
		return false;
	c->in_start += (uint32_t)used;
	if (cr == HTTP_CHUNK_DONE)
		return conn_iso_judge(c);
	return used == avail && used > 0;   /* else a trailer line's start: read more */
}

bool conn_iso_emit(struct conn *c)
{
	struct conn_iso *iso = c->iso;
	size_t space = c->ring->cfg->out_cap - c->out_end, n;

	if (!iso->head_sent) {
		char frame[48];
		int flen = snprintf(frame, sizeof(frame), "Content-Length: %zu\r\n\r\n", iso->send_len);
		size_t need = iso->head_len + c->ctr->token_len + (size_t)flen;

		if (need > space) {
			if (c->out_end == 0)   /* cannot happen: out_cap has room for a head and a token */
				conn_fail(c, 431, "request header fields too large");
			return false;
		}
		memcpy(c->out + c->out_end, iso->head, iso->head_len);
		memcpy(c->out + c->out_end + iso->head_len, c->ctr->token_line, c->ctr->token_len);
		memcpy(c->out + c->out_end + iso->head_len + c->ctr->token_len, frame, (size_t)flen);
		c->out_end += (uint32_t)need;
		space -= need;
		iso->head_sent = true;
		conn_up_book(c, iso->head, iso->mlen, iso->head + iso->toff, iso->tlen, iso->hijack);
	}
	n = iso->send_len - iso->send_off;
	if (n > space)
		n = space;
	memcpy(c->out + c->out_end, iso->send + iso->send_off, n);
	c->out_end += (uint32_t)n;
	iso->send_off += n;
	if (iso->send_off < iso->send_len)
		return n > 0;
	conn_iso_request_free(iso);
	conn_up_body_done(c);
	return true;
}

void conn_iso_target_done(struct conn *c)
{
	/* A long query's buffer (FILTERS_OUT_MAX: ten times the query) is not
	 * kept: a tenant's idle connections would each hold one. */
	if (c->iso && c->iso->target_cap > ISO_TARGET_KEEP) {
		mi_free(c->iso->target);
		c->iso->target = NULL;
		c->iso->target_cap = 0;
	}
}

void conn_iso_free(struct conn *c)
{
	if (!c->iso)
		return;
	conn_iso_request_free(c->iso);
	mi_free(c->iso->target);
	mi_free(c->iso);
	c->iso = NULL;
}
