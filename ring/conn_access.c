/* ring/conn_access.c: the optional access log (dmx_config.access_log). Each
 * request forwarded upstream leaves a record in a FIFO beside the response
 * tracker's (one per outstanding request, in order); the response that ends
 * it, or dockmux's own error answer, completes it and calls the callback on
 * this ring's thread. Nothing here runs unless an access_log is configured.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mimalloc.h>

#include "policy.h"

#define ACCESS_PATH_SHOWN 200

struct conn_access {
	char method[16];
	char path[ACCESS_PATH_SHOWN + 4];
	uint64_t start_ns;
	uint64_t up_at_start, down_at_start;
	uint64_t down_target;     /* done: logged once this many bytes went down */
	int status;
};

static uint64_t access_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void access_emit(struct conn *c, const struct conn_access *a, int status)
{
	const struct engine_cfg *cfg = c->ring->cfg;
	struct dmx_access rec = {
		.key = c->ctr ? c->ctr->key : c->pool_owner ? c->pool_owner->key : "-",
		.method = a ? a->method : "-",
		.path = a ? a->path : "-",
		.status = status,
		.bytes_up = a ? c->nbytes_up - a->up_at_start : c->nbytes_up,
		.bytes_down = a ? c->nbytes_down - a->down_at_start : c->nbytes_down,
		.duration_us = a ? (access_now_ns() - a->start_ns) / 1000 : 0,
		.pid = c->peer.pid,
		.uid = c->peer.uid,
	};

	cfg->access_log(cfg->access_userdata, &rec);
}

/* A record's request fields, taken when its head has been read. */
static void access_start(struct conn *c, struct conn_access *a, const char *method, size_t mlen,
			 const char *target, size_t tlen)
{
	char norm[POLICY_MAX_PATH];

	snprintf(a->method, sizeof(a->method), "%.*s", (int)(mlen < 15 ? mlen : 15), method);
	if (tlen < sizeof(norm) && policy_normalize(target, tlen, norm, sizeof(norm)) == 0)
		snprintf(a->path, sizeof(a->path), "%.*s%s", ACCESS_PATH_SHOWN, norm,
			 strlen(norm) > ACCESS_PATH_SHOWN ? "..." : "");
	else
		snprintf(a->path, sizeof(a->path), "-");
	a->start_ns = access_now_ns();
	a->up_at_start = c->nbytes_up;
	a->down_at_start = c->nbytes_down;
}

void conn_access_push(struct conn *c, const char *method, size_t mlen, const char *target,
		      size_t tlen)
{
	struct conn_access *a;

	if (!c->ring->cfg->access_log)
		return;
	if (!c->access) {
		c->access = mi_zalloc(sizeof(*c->access) * RESP_TRACK_FIFO);
		if (!c->access)
			return;   /* no record: the response is logged with "-" */
	}
	if (c->access_count == RESP_TRACK_FIFO)
		return;   /* cannot happen: the tracker holds as many */
	a = &c->access[(c->access_head + c->access_count) % RESP_TRACK_FIFO];
	c->access_count++;
	access_start(c, a, method, mlen, target, tlen);
}

/* The daemon's response to the oldest open request has ended (read whole).
 * Its last bytes may still sit in dbuf or the pipe: the record waits until
 * they went down (conn_access_flush), so bytes and duration are the
 * client's view. */
void conn_access_done(struct conn *c, int status)
{
	struct conn_access *a;

	if (!c->ring->cfg->access_log)
		return;
	if (c->access_done == c->access_count) {
		access_emit(c, NULL, status);   /* nothing was forwarded: our own answer */
		return;
	}
	a = &c->access[(c->access_head + c->access_done) % RESP_TRACK_FIFO];
	a->status = status;
	a->down_target = c->nbytes_down + c->down_pipe_len + (c->d_fed - c->d_sent);
	c->access_done++;
	conn_access_flush(c, false);
}

/* Log the completed records whose bytes are out (all of them: closing). */
void conn_access_flush(struct conn *c, bool all)
{
	while (c->access_done > 0) {
		struct conn_access *a = &c->access[c->access_head];

		if (!all && c->nbytes_down < a->down_target)
			return;
		access_emit(c, a, a->status);
		c->access_head = (c->access_head + 1) % RESP_TRACK_FIFO;
		c->access_count--;
		c->access_done--;
	}
}

/* dockmux's own answer to a request it could not read whole (408, 431,
 * 400): no record of it exists; earlier ones stay queued. */
void conn_access_own(struct conn *c, int status)
{
	if (c->ring->cfg->access_log)
		access_emit(c, NULL, status);
}

/* A request refused before it went anywhere (policy, limits). */
void conn_access_refused(struct conn *c, const char *method, size_t mlen, const char *target,
			 size_t tlen, int status)
{
	struct conn_access a;

	if (!c->ring->cfg->access_log)
		return;
	/* Logged at once with its own fields; records of earlier requests
	 * stay queued for their responses. */
	memset(&a, 0, sizeof(a));
	access_start(c, &a, method, mlen, target, tlen);
	c->access_refused = true;
	access_emit(c, &a, status);
}

void conn_access_free(struct conn *c)
{
	if (c->access)
		conn_access_flush(c, true);
	mi_free(c->access);
	c->access = NULL;
}
