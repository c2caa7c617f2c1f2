/* tests/ring_isolate.c: tenant isolation in the ring (ring/conn_iso.c): create
 * bodies judged and sent re-serialised with the owner label (Content-Length
 * and chunked, refusals before any byte goes up, the cap), list filters
 * forced, unknown endpoints refused, form bodies on rewritten queries, /build
 * queries, pipelining around refusals, audit mode, and isolation off leaving
 * everything as it was. Real rings, the in-process tests/upstream.c daemon
 * (which logs every request and its body), raw clients with timed reads.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dockmux.h"
#include "upstream.h"




#define TOKEN "tok-ring-isolate"
#define AUTH "Bearer " TOKEN
#define LABEL "org.dockmux.owner"
#define PRIVILEGED "{\"Image\":\"alpine\",\"HostConfig\":{\"Privileged\":true}}"

static void suite_init(void)
{
	fx_setup("dmx-ri");
}

TestSuite(ring_isolate, .init = suite_init, .fini = fx_teardown, .timeout = 60);

/* ---- the library's log, for audit mode ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];
static size_t log_len;

static void log_capture(void *ud, int level, const char *msg)
{
	(void)ud;
	pthread_mutex_lock(&log_lock);
	log_len += (size_t)snprintf(log_text + log_len, sizeof(log_text) - log_len, "%d %s\n",
				    level, msg);
	if (log_len >= sizeof(log_text))
		log_len = sizeof(log_text) - 1;
	pthread_mutex_unlock(&log_lock);
}

/* The log holds a line with every one of the given parts; waits briefly
 * (the ring logs on its own thread). */
static bool log_has(const char *a, const char *b)
{
	for (long deadline = now_ms() + 2000;; sleep_ms(10)) {
		bool found = false;

		pthread_mutex_lock(&log_lock);
		for (char *line = log_text; line && *line && !found;) {
			char *nl = strchr(line, '\n');
			size_t n = nl ? (size_t)(nl - line) : strlen(line);

			found = memmem(line, n, a, strlen(a)) && (!b || memmem(line, n, b, strlen(b)));
			line = nl ? nl + 1 : NULL;
		}
		pthread_mutex_unlock(&log_lock);
		if (found || now_ms() > deadline)
			return found;
	}
}

/* ---- set-up ---- */

struct iso_opts {
	bool isolate, audit;
	uint64_t max_inspect_body;
};

/* Open dmx (its log captured) and spawn "box" with isolation as asked. */
static void open_box(struct iso_opts o, char path[DMX_PATH_MAX])
{
	struct dmx_config cfg;
	struct dmx_policy pol = { .isolate = o.isolate, .audit = o.audit };
	int ret;

	fx_config(&cfg);
	cfg.log = log_capture;
	cfg.max_inspect_body = o.max_inspect_body;
	fx_open_cfg(&cfg);
	ret = dmx_spawn_policy(fx.d, "box", TOKEN, &pol, path, DMX_PATH_MAX);
	cr_assert_eq(ret, 0, "spawn: %s", dmx_strerror(ret));
}

static void open_isolated(char path[DMX_PATH_MAX])
{
	open_box((struct iso_opts){ .isolate = true }, path);
}

/* The owner label's value: the socket file's 16-hex name. */
static void owner_of(const char *path, char out[17])
{
	const char *base = strrchr(path, '/') + 1;

	cr_assert_eq(strlen(base), 16 + 5, "%s", base);
	memcpy(out, base, 16);
	out[16] = '\0';
}

/* ---- requests and answers ---- */

static void send_json(struct client *c, const char *target, const char *body)
{
	char head[1024];

	snprintf(head, sizeof(head),
		 "POST %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
		 "Authorization: Bearer stolen\r\nContent-Length: %zu\r\n\r\n", target,
		 strlen(body));
	cr_assert_eq(client_sends(c, head), 0);
	cr_assert_eq(client_sends(c, body), 0);
}

static void send_get(struct client *c, const char *target)
{
	char head[16384];

	cr_assert_lt((size_t)snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: docker\r\n\r\n",
				      target), sizeof(head));
	cr_assert_eq(client_sends(c, head), 0);
}

/* dockmux's own answer: Docker's JSON error with status and a message
 * holding has, then EOF. */
static void expect_refusal(struct client *c, int status, const char *has)
{
	struct resp r;
	json_t *j;

	expect_response(c, &r, status);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	cr_assert_not_null(j, "body: %s", r.body);
	cr_assert(json_is_string(json_object_get(j, "message")), "body: %s", r.body);
	cr_assert(strstr(json_string_value(json_object_get(j, "message")), has),
		  "message %s lacks %s", r.body, has);
	cr_assert_null(strstr(r.body, TOKEN));
	json_decref(j);
	resp_free(&r);
	cr_assert_eq(client_wait_closed(c, PROMPT_MS), 0, "no EOF after the %d", status);
}

/* The upstream answers what it does not know with 404: the request got there. */
static void expect_forwarded(struct client *c)
{
	struct resp r;

	expect_response(c, &r, 404);
	cr_assert(strstr(r.body, "page not found"), "%s", r.body);
	resp_free(&r);
}

static void expect_no_request(void)
{
	sleep_ms(100);
	cr_assert_eq(upstream_request_count(fx.up), 0, "the upstream saw %zu requests",
		     upstream_request_count(fx.up));
}

/* The upstream's latest request into *r (upstream_request_deinit it). */
static void last_request(struct upstream_req *r)
{
	cr_assert(upstream_wait_requests(fx.up, 1, CLIENT_TIMEOUT_MS));
	cr_assert_eq(upstream_request_get(fx.up, -1, r), 0);
}

/* The same, and its body parsed as JSON (NULL if none): json_decref it. */
static json_t *last_json(struct upstream_req *r)
{
	last_request(r);
	return r->body && r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
}

/* The forwarded request is framed by a Content-Length of exactly its body,
 * carries our token once and no Expect, chunked framing or client token. */
static void expect_reframed(const struct upstream_req *r)
{
	const char *cl = upstream_req_value(r, "Content-Length");
	char want[32];

	snprintf(want, sizeof(want), "%llu", (unsigned long long)r->body_len);
	cr_assert_not_null(cl);
	cr_assert_str_eq(cl, want);
	cr_assert_not(r->chunked);
	cr_assert_eq(upstream_req_count(r, "Transfer-Encoding"), 0);
	cr_assert_eq(upstream_req_count(r, "Expect"), 0);
	cr_assert_eq(upstream_req_count(r, "Authorization"), 1);
	cr_assert_str_eq(upstream_req_value(r, "Authorization"), AUTH);
}

static const char *label_of(json_t *body, const char *name)
{
	json_t *labels = json_object_get(body, "Labels");

	return json_string_value(json_object_get(labels, name));
}

/* ---- create bodies ---- */

Test(ring_isolate, a_create_body_goes_up_with_the_owner_label_and_the_clients_is_replaced)
{
	char path[DMX_PATH_MAX], owner[17];
	struct upstream_req r;
	struct client c;
	json_t *j;

	open_isolated(path);
	owner_of(path, owner);
	client_connect(&c, path);
	send_json(&c, "/v1.41/containers/create?name=web",
		  "{\"Image\":\"alpine\",\"Labels\":{\"" LABEL "\":\"ffffffffffffffff\","
		  "\"app\":\"web\"},\"Cmd\":[\"true\"]}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_not_null(j, "body: %s", r.body ? r.body : "(none)");
	cr_assert_str_eq(r.target, "/v1.41/containers/create?name=web");
	expect_reframed(&r);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	cr_assert_str_eq(label_of(j, "app"), "web");
	cr_assert_str_eq(json_string_value(json_object_get(j, "Image")), "alpine");
	json_decref(j);
	upstream_request_deinit(&r);

	/* A body without Labels gets them; the connection goes on. */
	send_json(&c, "/containers/create", "{\"Image\":\"alpine\"}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	json_decref(j);
	upstream_request_deinit(&r);
	client_close(&c);
}

Test(ring_isolate, volume_and_network_creates_are_labelled_too)
{
	char path[DMX_PATH_MAX], owner[17];
	struct upstream_req r;
	struct client c;
	json_t *j;

	open_isolated(path);
	owner_of(path, owner);
	client_connect(&c, path);
	send_json(&c, "/volumes/create", "{\"Name\":\"data\"}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	json_decref(j);
	upstream_request_deinit(&r);
	send_json(&c, "/networks/create", "{\"Name\":\"n1\",\"Labels\":{\"" LABEL "\":\"x\"}}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	json_decref(j);
	upstream_request_deinit(&r);
	client_close(&c);
}

Test(ring_isolate, refused_fields_get_403_and_nothing_reaches_the_upstream)
{
	static const struct { const char *target, *body, *has; } cases[] = {
		{ "/containers/create", PRIVILEGED, "Privileged" },
		{ "/containers/create", "{\"Image\":\"a\",\"hostconfig\":{\"PRIVILEGED\":true}}",
		  "Privileged" },
		{ "/containers/create", "{\"Image\":\"a\",\"HostConfig\":{\"Binds\":[\"/:/host\"]}}",
		  "Binds" },
		{ "/containers/create", "{\"Image\":\"a\",\"HostConfig\":{\"NetworkMode\":\"host\"}}",
		  "NetworkMode" },
		{ "/containers/create", "{\"Image\":\"a\",\"Privileged\":true}", "Privileged" },
		{ "/containers/web/exec", "{\"Cmd\":[\"sh\"],\"Privileged\":true}", "Privileged" },
		{ "/containers/web/start", "{\"Privileged\":true}", "Privileged" },
		{ "/volumes/create", "{\"DriverOpts\":{\"type\":\"none\",\"o\":\"bind\","
		  "\"device\":\"/\"}}", "DriverOpts" },
	};
	char path[DMX_PATH_MAX];
	struct dmx_stats s;

	open_isolated(path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client c;

		client_connect(&c, path);
		send_json(&c, cases[i].target, cases[i].body);
		expect_refusal(&c, 403, cases[i].has);
		client_close(&c);
	}
	expect_no_request();
	s = stats_of("box");
	cr_assert_eq(s.denied, sizeof(cases) / sizeof(cases[0]));
}

Test(ring_isolate, a_body_that_reads_two_ways_gets_400)
{
	char path[DMX_PATH_MAX];
	struct client c;

	open_isolated(path);
	client_connect(&c, path);
	send_json(&c, "/containers/create", "{\"Image\":\"a\",\"Image\":\"b\"}");
	expect_refusal(&c, 400, "dockmux isolation");
	client_close(&c);
	client_connect(&c, path);
	send_json(&c, "/containers/create", "");
	expect_refusal(&c, 400, "dockmux isolation");
	client_close(&c);
	expect_no_request();
}

/* Chunks of the body in separate writes, a pause between them. */
static void send_chunked(struct client *c, const char *target, const char *body, size_t piece)
{
	char head[512], line[32];
	size_t len = strlen(body);

	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: docker\r\n"
		 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		 "Expect: 100-continue\r\n\r\n", target);
	cr_assert_eq(client_sends(c, head), 0);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		snprintf(line, sizeof(line), "%zx;ext=1\r\n", n);
		cr_assert_eq(client_sends(c, line), 0);
		cr_assert_eq(client_send(c, body + off, n), 0);
		cr_assert_eq(client_sends(c, "\r\n"), 0);
		if (off % (piece * 4) == 0)
			sleep_ms(5);
	}
	cr_assert_eq(client_sends(c, "0\r\nX-Sum: 1\r\n\r\n"), 0);
}

Test(ring_isolate, a_chunked_create_body_is_judged_whole_and_sent_with_a_length)
{
	char path[DMX_PATH_MAX], owner[17], body[8192];
	struct upstream_req r;
	struct client c;
	json_t *j;
	size_t o;

	open_isolated(path);
	owner_of(path, owner);
	o = (size_t)snprintf(body, sizeof(body), "{\"Image\":\"alpine\",\"Env\":[");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"V%d=x\"", i ? "," : "", i);
	snprintf(body + o, sizeof(body) - o, "],\"Labels\":{\"a\":\"b\"}}");
	client_connect(&c, path);
	send_chunked(&c, "/containers/create", body, 37);
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_not_null(j, "body: %s", r.body ? r.body : "(none)");
	expect_reframed(&r);
	cr_assert_null(r.trailers);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	cr_assert_eq(json_array_size(json_object_get(j, "Env")), 200);
	json_decref(j);
	upstream_request_deinit(&r);

	/* and a refused one, its Privileged split over chunks */
	send_chunked(&c, "/containers/create", PRIVILEGED, 3);
	expect_refusal(&c, 403, "Privileged");
	client_close(&c);
	cr_assert_eq(upstream_request_count(fx.up), 1);
}

Test(ring_isolate, a_body_over_max_inspect_body_gets_413_length_or_chunked)
{
	char path[DMX_PATH_MAX], big[2048];
	struct client c;

	open_box((struct iso_opts){ .isolate = true, .max_inspect_body = 1024 }, path);
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	client_connect(&c, path);
	send_json(&c, "/containers/create", big);
	expect_refusal(&c, 413, "larger");
	client_close(&c);
	client_connect(&c, path);
	send_chunked(&c, "/containers/create", big, 100);
	expect_refusal(&c, 413, "larger");
	client_close(&c);
	/* just under the cap goes through */
	big[1000] = '}';
	big[1001] = '\0';
	client_connect(&c, path);
	send_json(&c, "/containers/create", big);
	expect_forwarded(&c);
	client_close(&c);
	cr_assert_eq(upstream_request_count(fx.up), 1);
}

Test(ring_isolate, an_empty_start_body_goes_up_with_length_zero)
{
	char path[DMX_PATH_MAX];
	struct upstream_req r;
	struct client c;

	open_isolated(path);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "POST /v1.41/containers/web/start HTTP/1.1\r\n"
				      "Host: docker\r\n\r\n"), 0);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.target, "/v1.41/containers/web/start");
	cr_assert_eq(r.body_len, 0);
	expect_reframed(&r);
	upstream_request_deinit(&r);
	client_close(&c);
}

/* ---- queries ---- */

static int hexval(char ch)
{
	return ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10;
}

/* The decoded value of parameter key in target's query (static buffer). */
static const char *query_param(const char *target, const char *key)
{
	static char out[4096];
	const char *q = strchr(target, '?');
	size_t kl = strlen(key);

	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

		if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			size_t o = 0;

			for (const char *s = p + kl + 1; s < end && o + 1 < sizeof(out); s++)
				if (*s == '%' && s + 2 < end + 1) {
					out[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
					s += 2;
				} else {
					out[o++] = *s == '+' ? ' ' : *s;
				}
			out[o] = '\0';
			return out;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

Test(ring_isolate, list_filters_get_the_owner_label_and_keep_the_clients_others)
{
	char path[DMX_PATH_MAX], owner[17], want[64];
	struct upstream_req r;
	struct client c;
	const char *f;
	json_t *j, *labels;

	open_isolated(path);
	owner_of(path, owner);
	client_connect(&c, path);
	/* {"status":["running"],"label":["org.dockmux.owner=ffff","app=web"]} */
	send_get(&c, "/v1.41/containers/json?all=1&filters=%7B%22status%22%3A%5B%22running%22%5D"
		     "%2C%22label%22%3A%5B%22org.dockmux.owner%3Dffff%22%2C%22app%3Dweb%22%5D%7D");
	expect_forwarded(&c);
	last_request(&r);
	cr_assert(strncmp(r.target, "/v1.41/containers/json?all=1&", 29) == 0, "%s", r.target);
	f = query_param(r.target, "filters");
	cr_assert_not_null(f, "%s", r.target);
	j = json_loads(f, 0, NULL);
	cr_assert_not_null(j, "filters %s", f);
	labels = json_object_get(j, "label");
	snprintf(want, sizeof(want), LABEL "=%s", owner);
	cr_assert(json_is_true(json_object_get(labels, want)), "filters %s", f);
	cr_assert(json_is_true(json_object_get(labels, "app=web")), "filters %s", f);
	cr_assert_null(json_object_get(labels, LABEL "=ffff"), "filters %s", f);
	cr_assert_eq(json_object_size(labels), 2, "filters %s", f);
	cr_assert_not_null(json_object_get(j, "status"), "filters %s", f);
	json_decref(j);
	upstream_request_deinit(&r);

	/* no query at all: one appended */
	send_get(&c, "/volumes");
	expect_forwarded(&c);
	last_request(&r);
	f = query_param(r.target, "filters");
	cr_assert_not_null(f, "%s", r.target);
	cr_assert(strstr(f, owner), "%s", f);
	upstream_request_deinit(&r);
	client_close(&c);
}

Test(ring_isolate, a_bad_filters_query_gets_400_and_a_form_body_on_a_prune_too)
{
	char path[DMX_PATH_MAX];
	struct client c;

	open_isolated(path);
	client_connect(&c, path);
	send_get(&c, "/containers/json?filters=%7Bnot-json");
	expect_refusal(&c, 400, "dockmux isolation");
	client_close(&c);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "POST /containers/prune HTTP/1.1\r\nHost: docker\r\n"
				      "Content-Type: application/x-www-form-urlencoded\r\n"
				      "Content-Length: 10\r\n\r\nfilters={}"), 0);
	expect_refusal(&c, 400, "form");
	client_close(&c);
	expect_no_request();
}

Test(ring_isolate, a_build_query_is_judged_and_gets_the_owner_label)
{
	char path[DMX_PATH_MAX], owner[17];
	struct upstream_req r;
	struct client c;
	const char *labels;

	open_isolated(path);
	owner_of(path, owner);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "POST /build?networkmode=host HTTP/1.1\r\nHost: docker\r\n"
				      "Content-Type: application/x-tar\r\nContent-Length: 0\r\n\r\n"),
		     0);
	expect_refusal(&c, 403, "networkmode");
	client_close(&c);
	expect_no_request();
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "POST /v1.41/build?t=mine HTTP/1.1\r\nHost: docker\r\n"
				      "Content-Type: application/x-tar\r\nContent-Length: 3\r\n\r\nTAR"),
		     0);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_eq(r.body_len, 3);
	cr_assert_str_eq(query_param(r.target, "t"), "mine");
	labels = query_param(r.target, "labels");
	cr_assert(labels && strstr(labels, LABEL) && strstr(labels, owner), "%s", r.target);
	upstream_request_deinit(&r);
	client_close(&c);
}

/* ---- endpoints ---- */

Test(ring_isolate, unknown_and_swarm_endpoints_get_403)
{
	static const char *const targets[][2] = {
		{ "/swarm", "swarm" },
		{ "/v1.41/secrets", "swarm" },
		{ "/v1.41/nope", "endpoint not available" },
		{ "/v1/containers/json", "endpoint not available" },
		{ "/libpod/info", "endpoint not available" },
		{ "/debug/pprof/", "debug" },
	};
	char path[DMX_PATH_MAX];

	open_isolated(path);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct client c;

		client_connect(&c, path);
		send_get(&c, targets[i][0]);
		expect_refusal(&c, 403, targets[i][1]);
		client_close(&c);
	}
	expect_no_request();
}

Test(ring_isolate, reads_that_need_no_check_go_up_untouched)
{
	char path[DMX_PATH_MAX];
	struct upstream_req r;
	struct client c;

	open_isolated(path);
	ping(path);
	client_connect(&c, path);
	send_get(&c, "/v1.41/images/json?all=1");
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.target, "/v1.41/images/json?all=1");
	upstream_request_deinit(&r);
	/* names an object: not checked for its owner yet, forwarded as sent */
	send_get(&c, "/containers/web/json");
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.target, "/containers/web/json");
	upstream_request_deinit(&r);
	client_close(&c);
}

/* ---- pipelining ---- */

Test(ring_isolate, a_refusal_comes_after_the_answers_to_earlier_pipelined_requests)
{
	char path[DMX_PATH_MAX], buf[1024];
	struct client c;
	struct resp r;

	open_isolated(path);
	client_connect(&c, path);
	snprintf(buf, sizeof(buf),
		 REQ_PING "POST /containers/create HTTP/1.1\r\nHost: docker\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s" REQ_PING,
		 strlen(PRIVILEGED), PRIVILEGED);
	cr_assert_eq(client_sends(&c, buf), 0);
	expect_response(&c, &r, 200);
	cr_assert_str_eq(r.body, "OK");
	resp_free(&r);
	expect_refusal(&c, 403, "Privileged");
	client_close(&c);
	sleep_ms(100);
	cr_assert_eq(upstream_request_count(fx.up), 1);
}

Test(ring_isolate, an_inspected_request_keeps_its_place_among_pipelined_ones)
{
	char path[DMX_PATH_MAX], owner[17], buf[1024];
	struct upstream_req r;
	struct client c;
	struct resp rs;
	json_t *j;

	open_isolated(path);
	owner_of(path, owner);
	client_connect(&c, path);
	snprintf(buf, sizeof(buf),
		 REQ_PING "POST /containers/create HTTP/1.1\r\nHost: docker\r\n"
		 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5\r\n{\"Ima\r\n%zx\r\n%s\r\n0\r\n\r\n" REQ_PING "GET /containers/json HTTP/1.1\r\n"
		 "Host: docker\r\n\r\n", strlen("ge\":\"alpine\"}"), "ge\":\"alpine\"}");
	cr_assert_eq(client_sends(&c, buf), 0);
	expect_response(&c, &rs, 200);
	resp_free(&rs);
	expect_forwarded(&c);
	expect_response(&c, &rs, 200);
	resp_free(&rs);
	expect_forwarded(&c);
	cr_assert(upstream_wait_requests(fx.up, 4, CLIENT_TIMEOUT_MS));
	cr_assert_eq(upstream_request_get(fx.up, 1, &r), 0);
	cr_assert_str_eq(r.target, "/containers/create");
	j = json_loadb(r.body, r.body_len, 0, NULL);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	json_decref(j);
	upstream_request_deinit(&r);
	cr_assert_eq(upstream_request_get(fx.up, 2, &r), 0);
	cr_assert_str_eq(r.target, "/_ping");
	upstream_request_deinit(&r);
	cr_assert_eq(upstream_request_get(fx.up, 3, &r), 0);
	cr_assert(strncmp(r.target, "/containers/json?filters=", 25) == 0, "%s", r.target);
	upstream_request_deinit(&r);
	client_close(&c);
}

/* ---- isolation off, audit ---- */

Test(ring_isolate, without_isolation_everything_goes_up_as_before)
{
	char path[DMX_PATH_MAX];
	struct upstream_req r;
	struct client c;

	open_box((struct iso_opts){ 0 }, path);
	client_connect(&c, path);
	send_json(&c, "/containers/create", PRIVILEGED);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.body, PRIVILEGED);   /* the client's bytes */
	upstream_request_deinit(&r);
	send_chunked(&c, "/containers/create", PRIVILEGED, 7);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert(r.chunked);
	cr_assert_str_eq(r.body, PRIVILEGED);
	cr_assert_not_null(r.trailers);
	upstream_request_deinit(&r);
	send_get(&c, "/containers/json?all=1");
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.target, "/containers/json?all=1");
	upstream_request_deinit(&r);
	send_get(&c, "/swarm");
	expect_forwarded(&c);
	client_close(&c);
	cr_assert_eq(upstream_request_count(fx.up), 4);
}

Test(ring_isolate, audit_forwards_what_it_would_refuse_and_logs_it_without_the_token)
{
	char path[DMX_PATH_MAX], owner[17];
	struct upstream_req r;
	struct client c;
	json_t *j;

	open_box((struct iso_opts){ .isolate = true, .audit = true }, path);
	owner_of(path, owner);
	client_connect(&c, path);
	send_json(&c, "/containers/create", PRIVILEGED);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert_str_eq(r.body, PRIVILEGED);   /* not judged: as the client sent it */
	expect_reframed(&r);
	upstream_request_deinit(&r);
	cr_assert(log_has("policy: would deny", "Privileged"), "log:\n%s", log_text);
	cr_assert(log_has("4 policy: would deny status=403 method=POST", "/containers/create"),
		  "log:\n%s", log_text);
	send_get(&c, "/swarm");
	expect_forwarded(&c);
	cr_assert(log_has("policy: would deny", "swarm"), "log:\n%s", log_text);
	/* what it would not refuse is still labelled */
	send_json(&c, "/containers/create", "{\"Image\":\"alpine\"}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_str_eq(label_of(j, LABEL), owner);
	json_decref(j);
	upstream_request_deinit(&r);
	client_close(&c);
	cr_assert_eq(stats_of("box").denied, 0);
	pthread_mutex_lock(&log_lock);
	cr_assert_null(strstr(log_text, TOKEN), "log:\n%s", log_text);
	pthread_mutex_unlock(&log_lock);
}

Test(ring_isolate, audit_covers_the_policys_own_deny_rules)
{
	struct dmx_config cfg;
	struct dmx_policy pol = { .audit = 1, .deny = "GET /info" };
	char path[DMX_PATH_MAX];
	struct client c;

	fx_config(&cfg);
	cfg.log = log_capture;
	fx_open_cfg(&cfg);
	cr_assert_eq(dmx_spawn_policy(fx.d, "box", TOKEN, &pol, path, DMX_PATH_MAX), 0);
	client_connect(&c, path);
	send_get(&c, "/info");
	expect_forwarded(&c);
	client_close(&c);
	cr_assert(log_has("policy: would deny status=403 method=GET", "GET /info"), "log:\n%s",
		  log_text);
}

Test(ring_isolate, ls_shows_isolate_and_audit)
{
	char path[DMX_PATH_MAX];
	struct dmx_entry e[1];

	open_box((struct iso_opts){ .isolate = true, .audit = true }, path);
	cr_assert_eq(dmx_list(fx.d, e, 1), 1);
	cr_assert_str_eq(e[0].policy, "isolate,audit");
}

Test(ring_isolate, spawn_refuses_allowlists_without_isolation_and_bad_entries)
{
	static const char *const caps[] = { "NET ADMIN" };
	static const char *const binds[] = { "relative/dir" };
	struct dmx_policy pol = { .allow_caps = caps, .nallow_caps = 1 };
	char path[DMX_PATH_MAX];
	const char *why = NULL;

	fx_open();
	cr_assert_eq(dmx_policy_check(&pol, &why), -EINVAL);
	cr_assert(why && strstr(why, "isolation"), "%s", why);
	cr_assert_eq(dmx_spawn_policy(fx.d, "box", TOKEN, &pol, path, sizeof(path)), -EINVAL);
	pol.isolate = 1;
	cr_assert_eq(dmx_policy_check(&pol, &why), -EINVAL);
	cr_assert(strstr(why, "allow-cap"), "%s", why);
	pol = (struct dmx_policy){ .isolate = 1, .allow_binds = binds, .nallow_binds = 1 };
	cr_assert_eq(dmx_policy_check(&pol, &why), -EINVAL);
	cr_assert(strstr(why, "absolute"), "%s", why);
	cr_assert_eq(dmx_spawn_policy(fx.d, "box", TOKEN, &pol, path, sizeof(path)), -EINVAL);
}

Test(ring_isolate, open_refuses_a_bad_owner_label_or_body_cap)
{
	struct dmx_config cfg;
	dmx *d = NULL;

	fx_config(&cfg);
	cfg.owner_label = "has space";
	cr_assert_eq(dmx_open(&cfg, &d), -EINVAL);
	cfg.owner_label = "a=b";
	cr_assert_eq(dmx_open(&cfg, &d), -EINVAL);
	cfg.owner_label = NULL;
	cfg.max_inspect_body = (64u << 20) + 1;
	cr_assert_eq(dmx_open(&cfg, &d), -EINVAL);
	cr_assert_null(d);
}

Test(ring_isolate, a_configured_owner_label_name_is_the_one_stamped)
{
	struct dmx_config cfg;
	struct dmx_policy pol = { .isolate = 1 };
	char path[DMX_PATH_MAX], owner[17];
	struct upstream_req r;
	struct client c;
	json_t *j;

	fx_config(&cfg);
	cfg.owner_label = "com.example.tenant";
	fx_open_cfg(&cfg);
	cr_assert_eq(dmx_spawn_policy(fx.d, "box", TOKEN, &pol, path, DMX_PATH_MAX), 0);
	owner_of(path, owner);
	client_connect(&c, path);
	send_json(&c, "/containers/create", "{\"Image\":\"alpine\"}");
	expect_forwarded(&c);
	j = last_json(&r);
	cr_assert_str_eq(label_of(j, "com.example.tenant"), owner);
	cr_assert_null(label_of(j, LABEL));
	json_decref(j);
	upstream_request_deinit(&r);
	client_close(&c);
}

Test(ring_isolate, a_long_filters_query_is_rewritten_and_the_next_request_still_works)
{
	char path[DMX_PATH_MAX], owner[17], target[7000];
	struct upstream_req r;
	struct client c;
	size_t o;

	open_isolated(path);
	owner_of(path, owner);
	/* {"label":{"k0=v":true,"k1=v":true,...}}, percent-encoded: ~6.5 KB */
	o = (size_t)snprintf(target, sizeof(target), "/containers/json?filters=%%7B%%22label%%22%%3A%%7B");
	for (int i = 0; o + 40 < 6500; i++)
		o += (size_t)snprintf(target + o, sizeof(target) - o, "%s%%22k%d%%3Dv%%22%%3Atrue",
				      i ? "%2C" : "", i);
	snprintf(target + o, sizeof(target) - o, "%%7D%%7D");
	client_connect(&c, path);
	send_get(&c, target);
	expect_forwarded(&c);
	last_request(&r);
	cr_assert(strstr(query_param(r.target, "filters"), owner), "%.200s", r.target);
	cr_assert(strstr(query_param(r.target, "filters"), "k100=v"), "%.200s", r.target);
	upstream_request_deinit(&r);
	send_get(&c, "/networks");
	expect_forwarded(&c);
	last_request(&r);
	cr_assert(strstr(query_param(r.target, "filters"), owner), "%s", r.target);
	upstream_request_deinit(&r);
	client_close(&c);
}
