/* cmd/serve_requests.c: what each control request does to the library and
 * the state (serve_requests.h): the daemon's spawn, teardown, listing and
 * stats, each with its log line (never a token) and its counters for
 * /metrics. How requests arrive and when they are answered is
 * serve_control.c's loop.
 */
#include "serve_requests.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The API areas in the order of dockmux.h's list: the order in which the
 * library describes an allowlist. */
static const char *const area_names[] = {
	"ping", "version", "info", "events", "system", "containers", "exec", "images",
	"build", "networks", "volumes", "plugins", "swarm", "nodes", "services",
	"tasks", "secrets", "configs", "distribution",
};
#define AREA_COUNT (sizeof(area_names) / sizeof(area_names[0]))

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The next item of a sep-separated list at *s, blanks trimmed: its start and
 * length, *s moved past it; false at the end of the list. */
static bool list_next(const char **s, char sep, const char **item, size_t *len)
{
	const char *b = *s, *e;

	if (!*b)
		return false;
	e = strchr(b, sep);
	if (!e)
		e = b + strlen(b);
	*s = *e ? e + 1 : e;
	while (b < e && is_blank(*b))
		b++;
	while (e > b && is_blank(e[-1]))
		e--;
	*item = b;
	*len = (size_t)(e - b);
	return true;
}

/* For the log line, what `ls` will show for this spawn's policy
 * (dmx_entry.policy), in the same format: "none", or "read-only",
 * "allow=a+b" (areas in canonical order, each once), "deny=N rule(s)" joined
 * by ','. Rebuilt from the request because the library describes a policy
 * only through dmx_list, and listing every container on each spawn would
 * make a spawn O(containers). Only for a policy the library accepted. */
static void control_policy_text(const struct ctl_request *req, char *buf, size_t cap)
{
	const char *s, *item, *sep = "";
	uint32_t areas = 0;
	unsigned rules = 0;
	size_t len, o = 0;

#define PUT(...) (o += (size_t)snprintf(buf + (o < cap ? o : cap - 1), o < cap ? cap - o : 1, \
					 __VA_ARGS__))
	for (s = req->allow; list_next(&s, ',', &item, &len);)
		for (size_t i = 0; i < AREA_COUNT; i++)
			if (strlen(area_names[i]) == len && memcmp(area_names[i], item, len) == 0)
				areas |= 1u << i;
	for (s = req->deny; list_next(&s, ';', &item, &len);)
		rules += len > 0;
	buf[0] = '\0';
	if (req->flags & CTL_FLAG_READ_ONLY) {
		PUT("read-only");
		sep = ",";
	}
	if (areas) {
		PUT("%sallow=", sep);
		sep = "";
		for (size_t i = 0; i < AREA_COUNT; i++)
			if (areas & 1u << i) {
				PUT("%s%s", sep, area_names[i]);
				sep = "+";
			}
		sep = ",";
	}
	if (rules)
		PUT("%sdeny=%u rule%s", sep, rules, rules == 1 ? "" : "s");
	if (o == 0)
		PUT("none");
#undef PUT
}

static void request_counters(struct daemon *dm, struct metrics_hist *h, uint64_t *count,
			     double secs, bool failed)
{
	pthread_mutex_lock(&dm->counters_lock);
	metrics_hist_observe(h, secs);
	(*count)++;
	dm->spawn_errors += failed;
	pthread_mutex_unlock(&dm->counters_lock);
}

/* Spawn (or update) a container with the request's policy; one log line
 * with the policy's description, never the token. The reply is held until
 * the round's commit. */
static void request_spawn(struct daemon *dm, struct ctl_conn *c, struct ctl_request *req,
			  int64_t now)
{
	struct dmx_policy pol;
	struct log_line l;
	char path[DMX_PATH_MAX], desc[sizeof(((struct dmx_entry *)0)->policy)];
	const char *why = NULL;
	double t0 = now_s();
	int ret;

	ctl_request_policy(req, &pol);
	ret = dmx_spawn_policy(dm->dmx, req->key, req->token, &pol, path, sizeof(path));
	request_counters(dm, &dm->spawn_latency, &dm->spawns, now_s() - t0, ret < 0);
	if (ret == 0) {
		ret = state_put(&dm->state, req);
		if (ret < 0) {
			/* It runs, but nothing would bring it back after a restart. */
			log_begin(&l, "error", "spawn not remembered: the container is lost on restart");
			log_str(&l, "key", req->key);
			log_err(&l, ret);
			log_end(&l);
		}
	}
	explicit_bzero(req->token, sizeof(req->token));
	log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "spawn failed" : "spawn");
	log_str(&l, "key", req->key);
	if (ret < 0) {
		log_err(&l, ret);
		/* The client checks the policy first; a peer that did not gets
		 * only -EINVAL back, so the reason goes here. */
		if (ret == -EINVAL && dmx_policy_check(&pol, &why) < 0)
			log_str(&l, "why", why);
	} else {
		log_str(&l, "path", path);
		control_policy_text(req, desc, sizeof(desc));
		log_str(&l, "policy", desc);
		log_num(&l, "uids", req->nuids);
	}
	log_num(&l, "pid", c->pid);
	log_end(&l);
	if (ret < 0)
		ctl_conn_reply(c, ret, NULL, 0, true, now);
	else
		ctl_conn_reply(c, 0, path, strlen(path), true, now);
}

static void request_teardown(struct daemon *dm, struct ctl_conn *c,
			     const struct ctl_request *req, int64_t now)
{
	struct log_line l;
	double t0 = now_s();
	int ret;

	ret = dmx_teardown(dm->dmx, req->key);
	request_counters(dm, &dm->teardown_latency, &dm->teardowns, now_s() - t0, false);
	if (ret == 0)
		state_del(&dm->state, req->key);   /* -ENOENT: nothing to forget */
	log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "teardown failed" : "teardown");
	log_str(&l, "key", req->key);
	if (ret < 0)
		log_err(&l, ret);
	log_num(&l, "pid", c->pid);
	log_end(&l);
	/* Held even for a key that was not there: an earlier failed commit may
	 * have left it in the file, and this answer must come after the
	 * rewrite that removes it. */
	ctl_conn_reply(c, ret, NULL, 0, true, now);
}

static void request_list_page(struct daemon *dm, struct ctl_conn *c, struct ctl_request *req,
			      struct request_scratch *sc, int64_t now)
{
	int n = dmx_list_page(dm->dmx, &req->cursor, sc->page, req->page_max);

	if (n >= 0)
		n = ctl_page_encode(&req->cursor, sc->page, (size_t)n, sc->buf, sc->cap);
	if (n < 0)
		ctl_conn_reply(c, n, NULL, 0, false, now);
	else
		ctl_conn_reply(c, 0, sc->buf, (size_t)n, false, now);
}

static void request_stats(struct daemon *dm, struct ctl_conn *c, const struct ctl_request *req,
			  int64_t now)
{
	uint8_t stats[CTL_STATS_LEN];
	struct dmx_stats st;
	int ret = dmx_stats(dm->dmx, req->key_len ? req->key : NULL, &st);

	if (ret < 0) {
		ctl_conn_reply(c, ret, NULL, 0, false, now);
		return;
	}
	ctl_stats_encode(&st, stats);
	ctl_conn_reply(c, 0, stats, sizeof(stats), false, now);
}

int request_scratch_init(struct request_scratch *sc)
{
	sc->page = calloc(CTL_PAGE_MAX, sizeof(*sc->page));
	sc->cap = CTL_CURSOR_LEN + 4 +
		  CTL_PAGE_MAX * (2 + DMX_KEY_MAX + 1 + DMX_PATH_MAX + 1 + CTL_DESC_MAX + 4 +
				  CTL_STATS_LEN);
	sc->buf = malloc(sc->cap);
	return sc->page && sc->buf ? 0 : -ENOMEM;
}

void request_scratch_deinit(struct request_scratch *sc)
{
	free(sc->page);
	free(sc->buf);
	sc->page = NULL;
	sc->buf = NULL;
}

int request_apply(struct daemon *dm, struct ctl_conn *c, struct ctl_request *req,
		  struct request_scratch *sc, int64_t now)
{
	switch (req->op) {
	case CTL_OP_SPAWN:
		request_spawn(dm, c, req, now);
		return 1;
	case CTL_OP_TEARDOWN:
		request_teardown(dm, c, req, now);
		return 1;
	case CTL_OP_LIST_PAGE:
		request_list_page(dm, c, req, sc, now);
		return 0;
	case CTL_OP_STATS:
		request_stats(dm, c, req, now);
		return 0;
	default:
		ctl_conn_reply(c, -EOPNOTSUPP, NULL, 0, false, now);
		return 0;
	}
}
