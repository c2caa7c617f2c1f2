/* tests/ring_conn_access.c: the access log (ring/conn_access.c) through the
 * public API: one record per answered request, in order, with the method,
 * the normalised path, the status (the daemon's or dockmux's own), byte
 * counts, a duration and the peer's credentials; never a token.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "dockmux.h"
#include "upstream.h"

#define MAX_RECS 64

struct rec {
	char key[64], method[16], path[256];
	int status;
	uint64_t up, down, us;
	pid_t pid;
	uid_t uid;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec recs[MAX_RECS];
static int nrecs;

static void on_access(void *ud, const struct dmx_access *a)
{
	(void)ud;
	pthread_mutex_lock(&lock);
	if (nrecs < MAX_RECS) {
		struct rec *r = &recs[nrecs++];

		snprintf(r->key, sizeof(r->key), "%s", a->key);
		snprintf(r->method, sizeof(r->method), "%s", a->method);
		snprintf(r->path, sizeof(r->path), "%s", a->path);
		r->status = a->status;
		r->up = a->bytes_up;
		r->down = a->bytes_down;
		r->us = a->duration_us;
		r->pid = a->pid;
		r->uid = a->uid;
	}
	pthread_mutex_unlock(&lock);
}

static int wait_recs(int n)
{
	long deadline = now_ms() + PROMPT_MS;
	int got;

	for (;;) {
		pthread_mutex_lock(&lock);
		got = nrecs;
		pthread_mutex_unlock(&lock);
		if (got >= n || now_ms() > deadline)
			return got;
		sleep_ms(5);
	}
}

static void suite_init(void)
{
	struct dmx_config cfg;

	fx_setup("dmx-access");
	nrecs = 0;
	fx_config(&cfg);
	cfg.access_log = on_access;
	fx_open_cfg(&cfg);
}

TestSuite(ring_conn_access, .init = suite_init, .fini = fx_teardown, .timeout = 60);

static void expect_rec(int i, const char *method, const char *path, int status)
{
	cr_assert_str_eq(recs[i].method, method, "record %d", i);
	cr_assert_str_eq(recs[i].path, path, "record %d", i);
	cr_assert_eq(recs[i].status, status, "record %d: status %d", i, recs[i].status);
}

Test(ring_conn_access, one_record_per_request_in_order_with_peer_and_sizes)
{
	char path[DMX_PATH_MAX];
	struct client c;
	struct resp r;

	spawn("acc-1", "tok-SECRET-acc", path);
	client_connect(&c, path);
	/* two pipelined requests, then one more */
	cr_assert_eq(client_sends(&c, "GET /v1.41/_ping?x=1 HTTP/1.1\r\nHost: d\r\n\r\n"
				   "GET /v1.41/big?n=100000 HTTP/1.1\r\nHost: d\r\n\r\n"), 0);
	expect_response(&c, &r, 404);   /* the test upstream routes without the version */
	resp_free(&r);
	expect_response(&c, &r, 404);
	resp_free(&r);
	cr_assert_eq(client_sends(&c, "GET /big?n=100000 HTTP/1.1\r\nHost: d\r\n\r\n"), 0);
	expect_response(&c, &r, 200);
	cr_assert_eq(r.body_len, 100000);
	resp_free(&r);
	cr_assert_eq(wait_recs(3), 3);
	expect_rec(0, "GET", "/_ping", 404);
	expect_rec(1, "GET", "/big", 404);
	expect_rec(2, "GET", "/big", 200);
	for (int i = 0; i < 3; i++) {
		cr_assert_str_eq(recs[i].key, "acc-1");
		cr_assert_eq(recs[i].pid, getpid());
		cr_assert_eq(recs[i].uid, getuid());
		cr_assert_gt(recs[i].up, 0);
		cr_assert_gt(recs[i].us, 0);
		cr_assert_eq(strstr(recs[i].path, "SECRET"), NULL);
	}
	cr_assert_gt(recs[2].down, 100000, "the body and the head went down");
	client_close(&c);
}

Test(ring_conn_access, refusals_and_dockmux_answers_are_logged)
{
	struct dmx_policy pol = { .read_only = 1 };
	char path[DMX_PATH_MAX], big[20000];
	struct client c;
	struct resp r;

	cr_assert_eq(dmx_spawn_policy(fx.d, "acc-ro", "tok", &pol, path, sizeof(path)), 0);
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: d\r\n"
				   "Content-Length: 0\r\n\r\n"), 0);
	expect_response(&c, &r, 403);
	resp_free(&r);
	client_close(&c);
	cr_assert_eq(wait_recs(1), 1);
	expect_rec(0, "POST", "/containers/create", 403);

	/* a head over the line limit: 431, no request known */
	client_connect(&c, path);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(client_sends(&c, "GET /x HTTP/1.1\r\nX-Big: "), 0);
	cr_assert_eq(client_sends(&c, big), 0);
	cr_assert_eq(client_sends(&c, "\r\n\r\n"), 0);
	expect_response(&c, &r, 431);
	resp_free(&r);
	client_close(&c);
	cr_assert_eq(wait_recs(2), 2);
	expect_rec(1, "-", "-", 431);
}

Test(ring_conn_access, upstream_gone_is_502_for_the_request_sent)
{
	char path[DMX_PATH_MAX];
	struct client c;
	struct resp r;

	spawn("acc-502", "tok", path);
	upstream_free(fx.up);
	fx.up = NULL;
	client_connect(&c, path);
	cr_assert_eq(client_sends(&c, "GET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\n"), 0);
	expect_response(&c, &r, 502);
	resp_free(&r);
	client_close(&c);
	cr_assert_eq(wait_recs(1), 1);
	cr_assert_eq(recs[0].status, 502);
	cr_assert_str_eq(recs[0].key, "acc-502");
	/* The connect may fail before the head is read (then no request is
	 * known) or after: either way one record, and a known one is exact. */
	if (strcmp(recs[0].method, "-") != 0)
		expect_rec(0, "GET", "/info", 502);
	else
		cr_assert_str_eq(recs[0].path, "-");
	restart_upstream(0);
}

Test(ring_conn_access, an_upgrade_is_logged_as_101_when_it_starts)
{
	char path[DMX_PATH_MAX];
	struct client c;

	spawn("acc-up", "tok", path);
	open_tunnel(&c, path);
	cr_assert_eq(wait_recs(1), 1);
	cr_assert_eq(recs[0].status, 101);
	cr_assert_str_eq(recs[0].method, "POST");
	client_close(&c);
}
