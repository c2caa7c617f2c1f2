/* tests/cmd_ctl_conn.c: a control connection as the daemon's loop sees it
 * (cmd/ctl_conn.c), over socketpairs: requests framed however the bytes
 * arrive, pipelined ones one by one, hostile frames answered and closed at
 * once, replies held until a commit (and failed by a failed one), and the
 * three deadlines: a request that never ends, replies never read, silence.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_io.h"
#include "ctl_conn.h"

static int sp[2];
static struct ctl_conn *c;
static struct ctl_request req;

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	c = ctl_conn_new(sp[1], 0, 42, 1, 1000);
	cr_assert_not_null(c);
}

static void teardown(void)
{
	ctl_conn_free(c);
	close(sp[0]);
}

TestSuite(ctl_conn, .init = setup, .fini = teardown, .timeout = 30);

static int encode(uint8_t op, const char *key, const char *token, uint8_t *buf)
{
	struct ctl_request r;
	int n;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.key_len = (uint16_t)strlen(key);
	memcpy(r.key, key, r.key_len);
	r.token_len = (uint32_t)strlen(token);
	memcpy(r.token, token, r.token_len);
	n = ctl_request_encode(&r, buf, CTL_REQ_MAX);
	cr_assert_gt(n, 0);
	return n;
}

static void peer_send(const void *p, size_t n)
{
	cr_assert_eq(ctl_send_all(sp[0], p, n, ctl_now_ms() + 5000), 0);
}

/* What the peer got: replies' statuses in order, -1000 - n for a cut one. */
static int peer_replies(int *st, int max)
{
	uint8_t buf[4096];
	ssize_t n = recv(sp[0], buf, sizeof(buf), MSG_DONTWAIT);
	size_t off = 0, plen;
	int k = 0;

	if (n <= 0)
		return 0;
	while (off < (size_t)n && k < max) {
		cr_assert_eq(ctl_reply_head_decode(buf + off, &st[k], &plen), 0);
		off += CTL_REPLY_HEAD + plen;
		k++;
	}
	return k;
}

Test(ctl_conn, a_request_sent_byte_by_byte_is_framed_once_whole)
{
	uint8_t buf[CTL_REQ_MAX];
	int n = encode(CTL_OP_SPAWN, "key", "tok", buf);

	for (int i = 0; i < n; i++) {
		peer_send(buf + i, 1);
		ctl_conn_recv(c, 1000 + i);
		cr_assert_eq(ctl_conn_next(c, &req, 1000 + i), i == n - 1 ? 1 : 0, "byte %d", i);
	}
	cr_assert_str_eq(req.key, "key");
	cr_assert_str_eq(req.token, "tok");
	cr_assert_eq(c->in_len, 0);
	cr_assert_eq(c->req_since, 0);
}

Test(ctl_conn, pipelined_requests_come_out_one_by_one)
{
	uint8_t buf[4 * 64];
	size_t len = 0;

	len += (size_t)encode(CTL_OP_SPAWN, "a", "t1", buf + len);
	len += (size_t)encode(CTL_OP_TEARDOWN, "b", "", buf + len);
	len += (size_t)encode(CTL_OP_STATS, "", "", buf + len);
	peer_send(buf, len);
	ctl_conn_recv(c, 1000);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 1);
	cr_assert_eq(req.op, CTL_OP_SPAWN);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 1);
	cr_assert_eq(req.op, CTL_OP_TEARDOWN);
	cr_assert_str_eq(req.key, "b");
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 1);
	cr_assert_eq(req.op, CTL_OP_STATS);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 0);
}

Test(ctl_conn, hostile_lengths_and_unknown_ops_are_answered_and_closed_at_once)
{
	const uint8_t huge_token[] = { CTL_OP_SPAWN, 0, 1, 'k', 0xff, 0xff, 0xff, 0xff };
	const uint8_t unknown[] = { 0x42 };
	const uint8_t *cases[] = { huge_token, unknown };
	const size_t lens[] = { sizeof(huge_token), sizeof(unknown) };
	const int want[] = { -EMSGSIZE, -EOPNOTSUPP };
	const char *why;
	int st[4];

	for (int i = 0; i < 2; i++) {
		if (i) {
			teardown();
			setup();
		}
		peer_send(cases[i], lens[i]);
		ctl_conn_recv(c, 1000);
		cr_assert_eq(ctl_conn_next(c, &req, 1000), want[i]);
		cr_assert(c->closing);
		ctl_conn_flush(c, 1000);
		cr_assert_eq(peer_replies(st, 4), 1);
		cr_assert_eq(st[0], want[i]);
		/* nothing more is read, and it is done once the answer is out */
		cr_assert(ctl_conn_expire(c, 1001, &why));
		cr_assert_null(why);
	}
}

Test(ctl_conn, a_frame_cut_by_eof_is_an_error_and_a_bare_connect_is_not)
{
	const uint8_t cut[] = { CTL_OP_TEARDOWN, 0, 5, 'a', 'b' };
	const char *why;
	int st[2];

	peer_send(cut, sizeof(cut));
	shutdown(sp[0], SHUT_WR);
	ctl_conn_recv(c, 1000);
	ctl_conn_recv(c, 1000);
	cr_assert(c->eof);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), -EBADMSG);
	ctl_conn_flush(c, 1000);
	cr_assert_eq(peer_replies(st, 2), 1);
	cr_assert_eq(st[0], -EBADMSG);

	teardown();
	setup();
	shutdown(sp[0], SHUT_WR);
	ctl_conn_recv(c, 1000);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 0);
	cr_assert(ctl_conn_expire(c, 1000, &why));
	cr_assert_null(why);
	cr_assert(!c->any);
}

Test(ctl_conn, held_replies_wait_for_the_commit)
{
	int st[4];

	cr_assert_eq(ctl_conn_reply(c, 0, "/p/a.sock", 9, true, 1000), 0);
	cr_assert_eq(ctl_conn_reply(c, -EINVAL, NULL, 0, true, 1000), 0);
	/* behind a held reply, everything is held */
	cr_assert_eq(ctl_conn_reply(c, 0, NULL, 0, false, 1000), 0);
	cr_assert(!ctl_conn_sending(c));
	ctl_conn_flush(c, 1000);
	cr_assert_eq(peer_replies(st, 4), 0, "a held reply went out");
	ctl_conn_release(c, 1001);
	cr_assert(ctl_conn_sending(c));
	ctl_conn_flush(c, 1001);
	cr_assert_eq(peer_replies(st, 4), 3);
	cr_assert_eq(st[0], 0);
	cr_assert_eq(st[1], -EINVAL);
	cr_assert(ctl_conn_idle(c));
}

Test(ctl_conn, a_failed_commit_turns_the_held_successes_into_its_error)
{
	int st[4];

	cr_assert_eq(ctl_conn_reply(c, 0, "/p/a.sock", 9, false, 1000), 0);   /* sent before */
	cr_assert_eq(ctl_conn_reply(c, 0, "/p/b.sock", 9, true, 1000), 0);
	cr_assert_eq(ctl_conn_reply(c, -EEXIST, NULL, 0, true, 1000), 0);
	ctl_conn_fail_held(c, -ENOSPC, 1001);
	ctl_conn_flush(c, 1001);
	cr_assert_eq(peer_replies(st, 4), 3);
	cr_assert_eq(st[0], 0);
	cr_assert_eq(st[1], -ENOSPC);
	cr_assert_eq(st[2], -EEXIST);
}

Test(ctl_conn, a_request_must_be_whole_within_its_deadline_however_it_trickles)
{
	const char *why;

	peer_send("\x05", 1);
	ctl_conn_recv(c, 1000);
	cr_assert_eq(ctl_conn_next(c, &req, 1000), 0);
	cr_assert_eq(ctl_conn_deadline(c), 1000 + CTL_CONN_REQ_MS);
	/* more bytes do not move the deadline */
	peer_send("\x00", 1);
	ctl_conn_recv(c, 4000);
	cr_assert_eq(ctl_conn_next(c, &req, 4000), 0);
	cr_assert_eq(ctl_conn_deadline(c), 1000 + CTL_CONN_REQ_MS);
	cr_assert(!ctl_conn_expire(c, 1000 + CTL_CONN_REQ_MS - 1, &why));
	cr_assert(ctl_conn_expire(c, 1000 + CTL_CONN_REQ_MS, &why));
	cr_assert_not_null(why);
}

Test(ctl_conn, replies_never_read_expire_and_stop_the_reading)
{
	static uint8_t payload[60000];
	const char *why;
	int64_t t = 1000;

	/* Until the socket is full, sends go; then the replies wait. */
	while (!ctl_conn_full(c)) {
		cr_assert_eq(ctl_conn_reply(c, 0, payload, sizeof(payload), false, t), 0);
		ctl_conn_flush(c, t);
	}
	cr_assert(ctl_conn_sending(c));
	cr_assert_gt(c->out_since, 0);
	t = c->out_since;
	cr_assert(!ctl_conn_expire(c, t + CTL_CONN_OUT_MS - 1, &why));
	cr_assert(ctl_conn_expire(c, t + CTL_CONN_OUT_MS, &why));
	cr_assert_not_null(why);
}

Test(ctl_conn, an_idle_connection_closes_after_its_idle_time)
{
	const char *why;

	cr_assert_eq(ctl_conn_deadline(c), 1000 + CTL_CONN_IDLE_MS);
	cr_assert(!ctl_conn_expire(c, 1000 + CTL_CONN_IDLE_MS - 1, &why));
	cr_assert(ctl_conn_expire(c, 1000 + CTL_CONN_IDLE_MS, &why));
	cr_assert_str_eq(why, "idle");
}

Test(ctl_conn, a_held_reply_is_never_expired_before_its_commit)
{
	const char *why;

	cr_assert_eq(ctl_conn_reply(c, 0, NULL, 0, true, 1000), 0);
	cr_assert(!ctl_conn_expire(c, 1000 + 10 * CTL_CONN_IDLE_MS, &why));
}
