/* tests/cmd_control_io.c: the client side of the control socket
 * (cmd/control_io.c) over socketpairs and real listeners: replies whole or
 * refused, and every wait bounded by its deadline: a peer that never
 * answers, a listener whose backlog stays full, a server that accepts and
 * says nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_io.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void req_set(struct ctl_request *req, uint8_t op, const char *key, const char *token)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->key_len = (uint16_t)strlen(key);
	memcpy(req->key, key, req->key_len);
	req->token_len = (uint32_t)strlen(token);
	memcpy(req->token, token, req->token_len);
}

/* Deadlines a few seconds out: a helper that waits where it should fail
 * shows up as -ETIMEDOUT, not a hang. */
static int64_t soon(void)
{
	return ctl_now_ms() + 5000;
}

static int sp[2];

static void pair_open(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
}

static void pair_close(void)
{
	close(sp[0]);
	close(sp[1]);
}

TestSuite(control_io, .init = pair_open, .fini = pair_close, .timeout = 30);

Test(control_io, reply_round_trips)
{
	void *payload = (void *)1;
	size_t len = 1;
	int st = 1;

	cr_assert_eq(ctl_send_reply(sp[0], 0, "/run/x.sock", 11, soon()), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, soon()), 0);
	cr_assert_eq(st, 0);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(payload, "/run/x.sock", 11), 0);
	free(payload);

	cr_assert_eq(ctl_send_reply(sp[0], -EEXIST, NULL, 0, soon()), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, soon()), 0);
	cr_assert_eq(st, -EEXIST);
	cr_assert_null(payload);
	cr_assert_eq(len, 0);

	cr_assert_eq(ctl_send_reply(sp[0], -EEXIST, "x", 1, soon()), -EINVAL,
		     "errors carry no payload");
}

Test(control_io, reply_with_huge_payload_is_refused_before_allocating)
{
	uint8_t h[CTL_REPLY_HEAD];
	void *payload = NULL;
	size_t len;
	int st;

	put32(h, 0);
	put32(h + 4, CTL_PAYLOAD_MAX + 1);
	cr_assert_eq(ctl_send_all(sp[0], h, sizeof(h), soon()), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, soon()), -EMSGSIZE);
}

Test(control_io, truncated_replies)
{
	uint8_t h[CTL_REPLY_HEAD];
	void *payload = NULL;
	size_t len;
	int st;

	put32(h, 0);
	put32(h + 4, 100);
	cr_assert_eq(ctl_send_all(sp[0], h, sizeof(h), soon()), 0);
	cr_assert_eq(ctl_send_all(sp[0], "short", 5, soon()), 0);
	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, soon()), -EBADMSG, "payload cut");
	pair_close();
	pair_open();
	cr_assert_eq(ctl_send_all(sp[0], h, 5, soon()), 0);
	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, soon()), -EBADMSG, "head cut");
}

Test(control_io, a_peer_that_never_answers_times_out_at_the_deadline)
{
	void *payload = NULL;
	size_t len;
	int64_t t0 = ctl_now_ms();
	int st;

	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, t0 + 300), -ETIMEDOUT);
	cr_assert_geq(ctl_now_ms() - t0, 290);
	cr_assert_lt(ctl_now_ms() - t0, 2000);
	/* ... also after half a reply */
	cr_assert_eq(ctl_send_all(sp[0], "\0\0\0\0", 4, soon()), 0);
	t0 = ctl_now_ms();
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len, t0 + 300), -ETIMEDOUT);
}

Test(control_io, a_peer_that_never_reads_times_the_send_out)
{
	static uint8_t big[1 << 20];
	int64_t t0 = ctl_now_ms();

	cr_assert_eq(ctl_send_all(sp[0], big, sizeof(big), t0 + 300), -ETIMEDOUT);
	cr_assert_lt(ctl_now_ms() - t0, 2000);
}

Test(control_io, send_to_a_closed_peer_is_an_error_not_sigpipe)
{
	close(sp[1]);
	sp[1] = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(ctl_send_all(sp[0], "x", 1, soon()), -EPIPE);
}

/* ---- ctl_connect / ctl_call against real listeners ---- */

static char srv_path[DMX_PATH_MAX];

static int listen_at(int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	snprintf(srv_path, sizeof(srv_path), "/tmp/dmx-ctlio-test-%d.sock", (int)getpid());
	unlink(srv_path);
	strcpy(sa.sun_path, srv_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, backlog), 0);
	return lfd;
}

/* A one-shot server: one request, decoded as it arrives, one reply. */
static void *srv_main(void *arg)
{
	int lfd = *(int *)arg, fd;
	static struct ctl_request req;
	static uint8_t buf[CTL_REQ_MAX];
	size_t have = 0;
	int ret = 0;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	while (ret == 0 && have < sizeof(buf)) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);

		if (n <= 0) {
			ret = -EBADMSG;
			break;
		}
		have += (size_t)n;
		ret = ctl_request_decode(buf, have, &req);
	}
	if (ret > 0 && req.op == CTL_OP_SPAWN && strcmp(req.token, "tok") == 0)
		ctl_send_reply(fd, 0, srv_path, strlen(srv_path), 0);
	else
		ctl_send_reply(fd, ret < 0 ? ret : -EINVAL, NULL, 0, 0);
	close(fd);
	return NULL;
}

Test(control_call, spawn_against_a_server)
{
	static struct ctl_request req;
	pthread_t th;
	void *payload = NULL;
	char path[DMX_PATH_MAX];
	size_t len;
	int lfd = listen_at(4), st;

	cr_assert_eq(pthread_create(&th, NULL, srv_main, &lfd), 0);
	req_set(&req, CTL_OP_SPAWN, "k", "tok");
	cr_assert_eq(ctl_call(srv_path, &req, &st, &payload, &len, 5000), 0);
	pthread_join(th, NULL);
	cr_assert_eq(st, 0);
	cr_assert_eq(ctl_path_decode(payload, len, path, sizeof(path)), 0);
	cr_assert_str_eq(path, srv_path);
	free(payload);
	close(lfd);
	unlink(srv_path);
}

/* A daemon out of fds (or stopped) never accepts: once its backlog is full
 * a connect would wait forever. */
Test(control_call, a_listener_that_never_accepts_times_out)
{
	static struct ctl_request req;
	void *payload;
	size_t len;
	int lfd = listen_at(0), held[8], nheld = 0, st;
	int64_t t0;

	/* Fill the backlog (its length is backlog + 1). */
	for (; nheld < 8; nheld++) {
		held[nheld] = ctl_connect(srv_path, ctl_now_ms() + 100);
		if (held[nheld] < 0)
			break;
	}
	cr_assert_lt(nheld, 8, "the backlog never filled");
	req_set(&req, CTL_OP_STATS, "", "");
	t0 = ctl_now_ms();
	cr_assert_eq(ctl_call(srv_path, &req, &st, &payload, &len, 400), -ETIMEDOUT);
	cr_assert_lt(ctl_now_ms() - t0, 2000);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	close(lfd);
	unlink(srv_path);
}

static void *srv_silent(void *arg)
{
	int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);

	sleep(2);
	if (fd >= 0)
		close(fd);
	return NULL;
}

Test(control_call, a_server_that_accepts_and_never_answers_times_out)
{
	static struct ctl_request req;
	pthread_t th;
	void *payload;
	size_t len;
	int lfd = listen_at(4), st;
	int64_t t0;

	cr_assert_eq(pthread_create(&th, NULL, srv_silent, &lfd), 0);
	req_set(&req, CTL_OP_STATS, "", "");
	t0 = ctl_now_ms();
	cr_assert_eq(ctl_call(srv_path, &req, &st, &payload, &len, 400), -ETIMEDOUT);
	cr_assert_lt(ctl_now_ms() - t0, 1500);
	pthread_join(th, NULL);
	close(lfd);
	unlink(srv_path);
}

Test(control_call, connect_errors)
{
	static struct ctl_request req;
	char longp[200];
	void *payload;
	size_t len;
	int st;

	cr_assert_eq(ctl_connect("/nonexistent/dockmux/control.sock", soon()), -ENOENT);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(ctl_connect(longp, soon()), -ENAMETOOLONG);
	cr_assert_eq(ctl_connect("", soon()), -EINVAL);
	req_set(&req, CTL_OP_STATS, "", "");
	cr_assert_eq(ctl_call("/nonexistent/dockmux/control.sock", &req, &st, &payload, &len, 1000),
		     -ENOENT);
	req_set(&req, CTL_OP_TEARDOWN, "", "");
	cr_assert_eq(ctl_call("/nonexistent/dockmux/control.sock", &req, &st, &payload, &len, 1000),
		     -EINVAL, "a bad request is refused before connecting");
}
