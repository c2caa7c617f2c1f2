/* tests/cmd_control.c: the control-socket protocol of cmd/control.c. Round
 * trips of every frame kind, then every malformed frame a hostile peer could
 * send: truncated at each byte, oversized or op-forbidden lengths, unknown ops
 * and policy flags, NUL bytes, bad reply heads, random corruption. The socket
 * side is tests/cmd_control_io.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

static void req_set(struct ctl_request *req, uint8_t op, const char *key, size_t key_len,
		    const char *token, size_t token_len)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->key_len = (uint16_t)key_len;
	memcpy(req->key, key, key_len);
	req->token_len = (uint32_t)token_len;
	memcpy(req->token, token, token_len);
}

/* A SPAWN's policy fields, straight into req (no validation: tests build
 * malformed requests too). */
static void req_policy(struct ctl_request *req, uint8_t flags, const char *allow,
		       const char *deny, const uid_t *uids, size_t nuids)
{
	req->flags = flags;
	req->allow_len = (uint16_t)strlen(allow);
	memcpy(req->allow, allow, req->allow_len + 1);
	req->deny_len = (uint16_t)strlen(deny);
	memcpy(req->deny, deny, req->deny_len + 1);
	req->nuids = (uint16_t)nuids;
	if (nuids)
		memcpy(req->uids, uids, nuids * sizeof(uid_t));
}

/* Bytes of an encoded policy tail. */
static size_t policy_size(const struct ctl_request *req)
{
	return 1 + 2 + req->allow_len + 2 + req->deny_len + 2 + 4 * (size_t)req->nuids;
}

static void req_assert_eq(const struct ctl_request *a, const struct ctl_request *b)
{
	cr_assert_eq(a->op, b->op);
	cr_assert_eq(a->key_len, b->key_len);
	cr_assert_eq(memcmp(a->key, b->key, a->key_len + 1), 0);
	cr_assert_eq(a->token_len, b->token_len);
	cr_assert_eq(memcmp(a->token, b->token, a->token_len + 1), 0);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->allow_len, b->allow_len);
	cr_assert_eq(memcmp(a->allow, b->allow, a->allow_len + 1), 0);
	cr_assert_eq(a->deny_len, b->deny_len);
	cr_assert_eq(memcmp(a->deny, b->deny, a->deny_len + 1), 0);
	cr_assert_eq(a->nuids, b->nuids);
	cr_assert_eq(memcmp(a->uids, b->uids, a->nuids * sizeof(uid_t)), 0);
}

/* Every byte but NUL, so keys really are binary. */
static size_t key_binary(char *key)
{
	for (int i = 0; i < DMX_KEY_MAX; i++)
		key[i] = (char)(i + 1);
	return DMX_KEY_MAX;
}

static int encode(const struct ctl_request *req, uint8_t *buf)
{
	int n = ctl_request_encode(req, buf, CTL_REQ_MAX);

	cr_assert_gt(n, 0);
	return n;
}

/* A raw request head: op, u16 key_len. */
static void head(uint8_t *buf, uint8_t op, uint16_t key_len)
{
	buf[0] = op;
	buf[1] = (uint8_t)(key_len >> 8);
	buf[2] = (uint8_t)key_len;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A raw spawn up to its token ("k", "t"): where the policy tail starts. */
#define SPAWN_TAIL (CTL_REQ_HEAD + 1 + 4 + 1)

static void spawn_head(uint8_t *buf)
{
	head(buf, CTL_OP_SPAWN, 1);
	buf[3] = 'k';
	put32(buf + 4, 1);
	buf[8] = 't';
}

/* ---- requests: round trips ---- */

Test(control_request, spawn_round_trips_binary_key_and_longest_token)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	char key[DMX_KEY_MAX], token[DMX_TOKEN_MAX];
	size_t klen = key_binary(key);
	int n;

	memset(token, 't', sizeof(token));
	req_set(&req, CTL_OP_SPAWN, key, klen, token, sizeof(token));
	n = encode(&req, buf);
	cr_assert_eq(n, (int)(CTL_REQ_HEAD + klen + 4 + sizeof(token) + 7), "empty policy: 7 bytes");
	cr_assert_eq(ctl_request_size(&req), n);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	cr_assert_eq(out.op, CTL_OP_SPAWN);
	cr_assert_eq(out.key_len, klen);
	cr_assert_eq(memcmp(out.key, key, klen), 0);
	cr_assert_eq(out.key[klen], '\0');
	cr_assert_eq(out.token_len, sizeof(token));
	cr_assert_eq(memcmp(out.token, token, sizeof(token)), 0);
	cr_assert_eq(out.token[sizeof(token)], '\0');
	req_assert_eq(&out, &req);
}

Test(control_request, longest_spawn_is_exactly_ctl_req_max)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX + 1];
	static char allow[CTL_ALLOW_MAX + 1], deny[CTL_DENY_MAX + 1];
	static uid_t uids[CTL_UIDS_MAX];
	char key[DMX_KEY_MAX], token[DMX_TOKEN_MAX];
	size_t klen = key_binary(key);
	int n;

	memset(token, 't', sizeof(token));
	memset(allow, 'a', CTL_ALLOW_MAX);
	/* Every non-NUL byte value: the wire does not judge rules, the library does. */
	for (int i = 0; i < CTL_DENY_MAX; i++)
		deny[i] = (char)(i % 255 + 1);
	for (int i = 0; i < CTL_UIDS_MAX; i++)
		uids[i] = (uid_t)-2 - (uid_t)i * 0x00010101u;
	req_set(&req, CTL_OP_SPAWN, key, klen, token, sizeof(token));
	req_policy(&req, CTL_FLAG_READ_ONLY, allow, deny, uids, CTL_UIDS_MAX);
	n = ctl_request_encode(&req, buf, sizeof(buf));
	cr_assert_eq(n, CTL_REQ_MAX);
	cr_assert_eq(ctl_request_encode(&req, buf, CTL_REQ_MAX - 1), -ENOSPC);
	memset(&out, 0x5a, sizeof(out));
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	req_assert_eq(&out, &req);
}

Test(control_request, spawn_policies_round_trip)
{
	static const uid_t some[] = { 0, 1000, 65534, 0x7fffffff, (uid_t)-2 };
	static const struct {
		uint8_t flags;
		const char *allow, *deny;
		size_t nuids;
	} cases[] = {
		{ 0, "", "", 0 },
		{ CTL_FLAG_READ_ONLY, "", "", 0 },
		{ 0, "ping,version", "", 0 },
		{ 0, "", "POST /containers/**/exec", 0 },
		{ CTL_FLAG_READ_ONLY, " containers , images ", "DELETE /images/**; /containers/*/export",
		  5 },
		{ 0, "", "", 1 },
		/* Bytes the library will refuse still travel: it names the reason. */
		{ 0, "\xff\x01,", "\t;;\x7f", 2 },
	};
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n;

		req_set(&req, CTL_OP_SPAWN, "key", 3, "tok", 3);
		req_policy(&req, cases[i].flags, cases[i].allow, cases[i].deny, some, cases[i].nuids);
		n = encode(&req, buf);
		cr_assert_eq(n, (int)(CTL_REQ_HEAD + 3 + 4 + 3 + policy_size(&req)), "case %zu", i);
		memset(&out, 0xaa, sizeof(out));
		cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n, "case %zu", i);
		req_assert_eq(&out, &req);
	}
}

Test(control_request, policy_setter_and_getter)
{
	static struct ctl_request req;
	static char longer[CTL_DENY_MAX + 2];
	static const uid_t uids[] = { 0, 65534 }, bad[] = { 1, (uid_t)-1 };
	static uid_t many[CTL_UIDS_MAX + 1];
	struct dmx_policy pol = { 0 }, back;

	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	ctl_request_policy(&req, &back);
	cr_assert(!back.read_only && !back.allow && !back.deny && !back.uids && !back.nuids,
		  "a zeroed request carries no policy");

	pol = (struct dmx_policy){ .read_only = 1, .allow = "ping", .deny = "/x", .uids = uids,
				   .nuids = 2 };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), 0);
	cr_assert_eq(req.flags, CTL_FLAG_READ_ONLY);
	ctl_request_policy(&req, &back);
	cr_assert_eq(back.read_only, 1);
	cr_assert_str_eq(back.allow, "ping");
	cr_assert_str_eq(back.deny, "/x");
	cr_assert_eq(back.nuids, 2);
	cr_assert_eq(back.uids[1], 65534);

	/* Empty strings are "none" on the wire and NULL again after it. */
	pol = (struct dmx_policy){ .allow = "", .deny = "" };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), 0);
	ctl_request_policy(&req, &back);
	cr_assert(!back.read_only && !back.allow && !back.deny && !back.uids && !back.nuids);

	memset(longer, 'x', sizeof(longer) - 1);
	pol = (struct dmx_policy){ .allow = longer + sizeof(longer) - 2 - CTL_ALLOW_MAX };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), -EMSGSIZE, "allow over its bound");
	pol = (struct dmx_policy){ .allow = longer + sizeof(longer) - 1 - CTL_ALLOW_MAX };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), 0, "allow at its bound");
	pol = (struct dmx_policy){ .deny = longer };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), -EMSGSIZE, "deny over its bound");
	pol = (struct dmx_policy){ .deny = longer + 1 };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), 0, "deny at its bound");
	cr_assert_eq(req.deny_len, CTL_DENY_MAX);
	pol = (struct dmx_policy){ .uids = many, .nuids = CTL_UIDS_MAX + 1 };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), -EMSGSIZE, "too many uids");
	pol = (struct dmx_policy){ .uids = bad, .nuids = 2 };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), -EINVAL, "uid -1");
	pol = (struct dmx_policy){ .uids = NULL, .nuids = 1 };
	cr_assert_eq(ctl_request_set_policy(&req, &pol), -EINVAL, "uids missing");
	cr_assert_eq(req.deny_len, CTL_DENY_MAX, "req untouched on failure");
}

Test(control_request, every_op_round_trips)
{
	static const struct {
		uint8_t op;
		const char *key, *token;
	} cases[] = {
		{ CTL_OP_SPAWN, "k", "x" },
		{ CTL_OP_SPAWN, "ci-runner-1", "Bearer-ish\ttoken" },
		{ CTL_OP_TEARDOWN, "k", "" },
		{ CTL_OP_TEARDOWN, "caf\xc3\xa9 \xff\x01", "" },
		{ CTL_OP_LIST_PAGE, "", "" },
		{ CTL_OP_STATS, "", "" },
		{ CTL_OP_STATS, "some key", "" },
	};
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t kl = strlen(cases[i].key), tl = strlen(cases[i].token);
		int n;

		req_set(&req, cases[i].op, cases[i].key, kl, cases[i].token, tl);
		if (cases[i].op == CTL_OP_LIST_PAGE) {
			req.page_max = CTL_PAGE_MAX;
			req.cursor = (struct dmx_list_cursor){ { 1, 0xfedcba9876543210ull, 3 } };
		}
		n = encode(&req, buf);
		cr_assert_eq(n, (int)(CTL_REQ_HEAD + kl + 4 + tl +
				      (cases[i].op == CTL_OP_SPAWN ? 7 : 0) +
				      (cases[i].op == CTL_OP_LIST_PAGE ? CTL_CURSOR_LEN + 2 : 0)),
			     "case %zu", i);
		memset(&out, 0xaa, sizeof(out));
		cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n, "case %zu", i);
		cr_assert_eq(out.op, cases[i].op);
		cr_assert_str_eq(out.key, cases[i].key);
		cr_assert_eq(out.key_len, kl);
		cr_assert_str_eq(out.token, cases[i].token);
		cr_assert_eq(out.token_len, tl);
		req_assert_eq(&out, &req);
		cr_assert_eq(memcmp(&out.cursor, &req.cursor, sizeof(req.cursor)), 0);
		cr_assert_eq(out.page_max, req.page_max);
	}
}

Test(control_request, trailing_bytes_are_not_consumed)
{
	static struct ctl_request req, out;
	uint8_t buf[64];
	int n;

	req_set(&req, CTL_OP_TEARDOWN, "abc", 3, "", 0);
	n = ctl_request_encode(&req, buf, sizeof(buf));
	cr_assert_eq(n, 10);
	memset(buf + n, 0xee, 5);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n + 5, &out), n);
}

Test(control_request, encode_rejects_what_decode_would)
{
	static struct ctl_request req;
	uint8_t buf[CTL_REQ_MAX];

	req_set(&req, CTL_OP_SPAWN, "", 0, "t", 1);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "spawn without key");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "spawn without token");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req.token_len = DMX_TOKEN_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "token too long");
	req_set(&req, CTL_OP_TEARDOWN, "k", 1, "t", 1);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "teardown with token");
	req_set(&req, CTL_OP_LIST_PAGE, "k", 1, "", 0);
	req.page_max = 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "list with key");
	req_set(&req, CTL_OP_LIST_PAGE, "", 0, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "a page of 0");
	req.page_max = CTL_PAGE_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "a page too big");
	req_set(&req, CTL_OP_STATS, "", 0, "", 0);
	req.page_max = 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "stats with a page");
	req_set(&req, CTL_OP_TEARDOWN, "k", 1, "", 0);
	req.cursor.pos[1] = 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "teardown with a cursor");
	req_set(&req, CTL_OP_TEARDOWN, "k", 1, "", 0);
	req.key_len = DMX_KEY_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "key too long");
	req_set(&req, CTL_OP_TEARDOWN, "a\0b", 3, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "NUL in key");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "a\0b", 3);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "NUL in token");
	req_set(&req, 9, "", 0, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "unknown op");
	req_set(&req, CTL_OP_TEARDOWN, "abc", 3, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, 9), -ENOSPC);
	cr_assert_eq(ctl_request_encode(&req, buf, 10), 10);
}

Test(control_request, encode_rejects_bad_policies)
{
	static struct ctl_request req;
	static uint8_t buf[CTL_REQ_MAX];
	const uid_t uid = 1, nouid = (uid_t)-1;

	req_set(&req, CTL_OP_TEARDOWN, "k", 1, "", 0);
	req.flags = CTL_FLAG_READ_ONLY;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "teardown with flags");
	req_set(&req, CTL_OP_STATS, "", 0, "", 0);
	req_policy(&req, 0, "ping", "", NULL, 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "stats with allow");
	req_set(&req, CTL_OP_LIST_PAGE, "", 0, "", 0);
	req.page_max = 1;
	req_policy(&req, 0, "", "", &uid, 1);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "list with uids");

	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req.flags = 0x80;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "unknown flag");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req.allow_len = CTL_ALLOW_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "allow too long");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req.deny_len = CTL_DENY_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "deny too long");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req.nuids = CTL_UIDS_MAX + 1;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "too many uids");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	req_policy(&req, 0, "", "", &nouid, 1);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "uid -1");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	memcpy(req.allow, "a\0b", 3);
	req.allow_len = 3;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "NUL in allow");
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	memcpy(req.deny, "a\0b", 3);
	req.deny_len = 3;
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "NUL in deny");
}

/* ---- requests: malformed ---- */

Test(control_request, every_truncation_asks_for_more)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	char key[DMX_KEY_MAX];
	size_t klen = key_binary(key);
	const uid_t uids[] = { 0, 1000, 65534 };
	int n;

	req_set(&req, CTL_OP_SPAWN, key, klen, "some-token", 10);
	req_policy(&req, CTL_FLAG_READ_ONLY, "ping,containers", "POST /containers/**/exec;/x",
		   uids, 3);
	n = encode(&req, buf);
	memset(&out, 0x5a, sizeof(out));
	for (int len = 0; len < n; len++)
		cr_assert_eq(ctl_request_decode(buf, (size_t)len, &out), 0, "prefix %d", len);
	cr_assert_eq(out.op, 0x5a, "out untouched until the frame is complete");
	cr_assert_eq(out.allow[0], 0x5a);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	req_assert_eq(&out, &req);

	/* With every policy field empty, the tail is 7 bytes of its own. */
	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	n = encode(&req, buf);
	cr_assert_eq(n, SPAWN_TAIL + 7);
	for (int len = 0; len < n; len++)
		cr_assert_eq(ctl_request_decode(buf, (size_t)len, &out), 0, "empty policy %d", len);

	req_set(&req, CTL_OP_LIST_PAGE, "", 0, "", 0);
	req.page_max = 7;
	n = encode(&req, buf);
	cr_assert_eq(n, 7 + CTL_CURSOR_LEN + 2);
	for (int len = 0; len < n; len++)
		cr_assert_eq(ctl_request_decode(buf, (size_t)len, &out), 0, "list prefix %d", len);
}

Test(control_request, unknown_ops_fail_on_the_first_byte)
{
	static struct ctl_request out;
	uint8_t buf[16] = { 0 };
	/* 1 is the retired spawn without a policy, 3 the retired whole LIST; 6 is
	 * HANDOFF, 7 LIST_PAGE. */
	const uint8_t ops[] = { 0, 1, 3, 8, 0x7f, 0x80, 0xff };


	for (size_t i = 0; i < sizeof(ops); i++) {
		buf[0] = ops[i];
		cr_assert_eq(ctl_request_decode(buf, 1, &out), -EOPNOTSUPP, "op %u", ops[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EOPNOTSUPP, "op %u", ops[i]);
	}
}

Test(control_request, handoff_has_no_key_and_no_token)
{
	static struct ctl_request req, out;
	uint8_t buf[16];
	int n;

	req.op = CTL_OP_HANDOFF;
	n = ctl_request_encode(&req, buf, sizeof(buf));
	cr_assert_eq(n, 7);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	cr_assert_eq(out.op, CTL_OP_HANDOFF);
	req.key_len = 1;
	memcpy(req.key, "k", 2);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "a key is refused");
}

Test(control_request, oversized_key_length_fails_before_the_key_arrives)
{
	static struct ctl_request out;
	uint8_t buf[3];
	const uint16_t lens[] = { DMX_KEY_MAX + 1, 0x1000, 0xffff };
	const uint8_t ops[] = { CTL_OP_SPAWN, CTL_OP_TEARDOWN, CTL_OP_STATS };

	for (size_t o = 0; o < sizeof(ops); o++)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			head(buf, ops[o], lens[i]);
			cr_assert_eq(ctl_request_decode(buf, 3, &out), -EMSGSIZE,
				     "op %u key_len %u", ops[o], lens[i]);
		}
}

Test(control_request, key_length_must_fit_the_op)
{
	static struct ctl_request out;
	uint8_t buf[3];

	head(buf, CTL_OP_SPAWN, 0);
	cr_assert_eq(ctl_request_decode(buf, 3, &out), -EMSGSIZE, "spawn needs a key");
	head(buf, CTL_OP_TEARDOWN, 0);
	cr_assert_eq(ctl_request_decode(buf, 3, &out), -EMSGSIZE, "teardown needs a key");
	head(buf, CTL_OP_LIST_PAGE, 1);
	cr_assert_eq(ctl_request_decode(buf, 3, &out), -EMSGSIZE, "list takes no key");
	head(buf, CTL_OP_STATS, 0);
	cr_assert_eq(ctl_request_decode(buf, 3, &out), 0, "stats: key optional, wants more");
}

Test(control_request, oversized_token_length_fails_before_the_token_arrives)
{
	static struct ctl_request out;
	uint8_t buf[CTL_REQ_HEAD + 1 + 4];
	const uint32_t lens[] = { DMX_TOKEN_MAX + 1, 1u << 20, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		head(buf, CTL_OP_SPAWN, 1);
		buf[3] = 'k';
		put32(buf + 4, lens[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "len %u", lens[i]);
	}
}

Test(control_request, token_length_must_fit_the_op)
{
	static struct ctl_request out;
	uint8_t buf[CTL_REQ_HEAD + 1 + 4];

	head(buf, CTL_OP_SPAWN, 1);
	buf[3] = 'k';
	put32(buf + 4, 0);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "spawn needs a token");
	head(buf, CTL_OP_TEARDOWN, 1);
	put32(buf + 4, 1);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "teardown takes none");
	head(buf, CTL_OP_STATS, 1);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "stats takes none");
	head(buf, CTL_OP_LIST_PAGE, 0);
	put32(buf + 3, 1);
	cr_assert_eq(ctl_request_decode(buf, 7, &out), -EMSGSIZE, "list takes none");
}

Test(control_request, nul_in_key_or_token_is_rejected)
{
	static struct ctl_request out;
	uint8_t buf[32];

	head(buf, CTL_OP_TEARDOWN, 3);
	memcpy(buf + 3, "a\0b", 3);
	cr_assert_eq(ctl_request_decode(buf, 6, &out), -EBADMSG, "as soon as the key is whole");

	head(buf, CTL_OP_SPAWN, 1);
	buf[3] = 'k';
	put32(buf + 4, 3);
	memcpy(buf + 8, "x\0y", 3);
	cr_assert_eq(ctl_request_decode(buf, 11, &out), -EBADMSG);
	memcpy(buf + 8, "\0yz", 3);
	cr_assert_eq(ctl_request_decode(buf, 11, &out), -EBADMSG);
}

Test(control_request, every_truncation_of_the_longest_spawn_asks_for_more)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	static char allow[CTL_ALLOW_MAX + 1], deny[CTL_DENY_MAX + 1];
	static uid_t uids[CTL_UIDS_MAX];
	char key[DMX_KEY_MAX], token[DMX_TOKEN_MAX];
	size_t klen = key_binary(key);
	int n;

	memset(token, 't', sizeof(token));
	memset(allow, 'a', CTL_ALLOW_MAX);
	memset(deny, 'd', CTL_DENY_MAX);
	req_set(&req, CTL_OP_SPAWN, key, klen, token, sizeof(token));
	req_policy(&req, CTL_FLAG_READ_ONLY, allow, deny, uids, CTL_UIDS_MAX);
	n = encode(&req, buf);
	cr_assert_eq(n, CTL_REQ_MAX);
	out.op = 0x5a;
	for (int len = 0; len < n; len++)
		if (ctl_request_decode(buf, (size_t)len, &out) != 0)
			cr_assert_fail("prefix %d of %d", len, n);
	cr_assert_eq(out.op, 0x5a);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
}

Test(control_request, unknown_policy_flags_fail_as_soon_as_seen)
{
	static struct ctl_request out;
	uint8_t buf[SPAWN_TAIL + 1];

	spawn_head(buf);
	for (unsigned f = 0; f < 256; f++) {
		buf[SPAWN_TAIL] = (uint8_t)f;
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out),
			     f & ~CTL_FLAGS_KNOWN ? -EOPNOTSUPP : 0, "flags 0x%02x", f);
	}
}

Test(control_request, oversized_allow_or_deny_fails_before_the_bytes_arrive)
{
	static struct ctl_request out;
	uint8_t buf[SPAWN_TAIL + 1 + 2 + 2];
	const uint16_t allow_lens[] = { CTL_ALLOW_MAX + 1, 0x1000, 0xffff };
	const uint16_t deny_lens[] = { CTL_DENY_MAX + 1, 0xffff };

	spawn_head(buf);
	buf[SPAWN_TAIL] = 0;
	for (size_t i = 0; i < sizeof(allow_lens) / sizeof(allow_lens[0]); i++) {
		put16(buf + SPAWN_TAIL + 1, allow_lens[i]);
		cr_assert_eq(ctl_request_decode(buf, SPAWN_TAIL + 3, &out), -EMSGSIZE,
			     "allow_len %u", allow_lens[i]);
	}
	put16(buf + SPAWN_TAIL + 1, CTL_ALLOW_MAX);
	cr_assert_eq(ctl_request_decode(buf, SPAWN_TAIL + 3, &out), 0, "allow at its bound");
	put16(buf + SPAWN_TAIL + 1, 0);
	for (size_t i = 0; i < sizeof(deny_lens) / sizeof(deny_lens[0]); i++) {
		put16(buf + SPAWN_TAIL + 3, deny_lens[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE,
			     "deny_len %u", deny_lens[i]);
	}
	put16(buf + SPAWN_TAIL + 3, CTL_DENY_MAX);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), 0, "deny at its bound");
}

Test(control_request, oversized_uid_count_fails_before_the_uids_arrive)
{
	static struct ctl_request out;
	uint8_t buf[SPAWN_TAIL + 7];
	const uint16_t counts[] = { CTL_UIDS_MAX + 1, 0x1000, 0xffff };

	spawn_head(buf);
	memset(buf + SPAWN_TAIL, 0, 5);   /* flags, empty allow, empty deny */
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		put16(buf + SPAWN_TAIL + 5, counts[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "nuids %u",
			     counts[i]);
	}
	put16(buf + SPAWN_TAIL + 5, CTL_UIDS_MAX);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), 0, "at the bound: wants uids");
}

Test(control_request, nul_in_policy_strings_and_uid_minus_one_are_rejected)
{
	static struct ctl_request out;
	uint8_t buf[64];
	size_t t = SPAWN_TAIL;

	spawn_head(buf);
	buf[t] = 0;
	put16(buf + t + 1, 3);
	memcpy(buf + t + 3, "p\0g", 3);
	cr_assert_eq(ctl_request_decode(buf, t + 6, &out), -EBADMSG, "NUL in allow, once whole");
	cr_assert_eq(ctl_request_decode(buf, t + 5, &out), 0, "not judged before it is whole");

	put16(buf + t + 1, 0);
	put16(buf + t + 3, 2);
	memcpy(buf + t + 5, "/\0", 2);
	cr_assert_eq(ctl_request_decode(buf, t + 7, &out), -EBADMSG, "NUL in deny");

	put16(buf + t + 3, 0);
	put16(buf + t + 5, 3);
	put32(buf + t + 7, 0);
	put32(buf + t + 11, 0xffffffff);
	cr_assert_eq(ctl_request_decode(buf, t + 15, &out), -EBADMSG,
		     "uid -1, as soon as it is visible");
	cr_assert_eq(ctl_request_decode(buf, t + 14, &out), 0);
	put32(buf + t + 11, 0xfffffffe);
	put32(buf + t + 15, 7);
	cr_assert_eq(ctl_request_decode(buf, t + 19, &out), (int)(t + 19));
	cr_assert_eq(out.nuids, 3);
	cr_assert_eq(out.uids[1], (uid_t)-2);
	cr_assert_eq(out.uids[2], 7);
}

Test(control_request, other_ops_carry_no_policy_tail)
{
	static struct ctl_request out;
	uint8_t buf[16];

	/* A teardown ends at its (empty) token: what follows is not its policy. */
	head(buf, CTL_OP_TEARDOWN, 1);
	buf[3] = 'k';
	put32(buf + 4, 0);
	buf[8] = 0xff;
	memset(&out, 0x5a, sizeof(out));
	cr_assert_eq(ctl_request_decode(buf, 9, &out), 8);
	cr_assert_eq(out.flags, 0);
	cr_assert_eq(out.allow_len, 0);
	cr_assert_eq(out.allow[0], '\0');
	cr_assert_eq(out.deny[0], '\0');
	cr_assert_eq(out.nuids, 0);
}

/* Random corruption of valid frames: whatever the bytes, decode stays in
 * bounds (ASan builds check that) and a frame it accepts is within the
 * bounds every caller relies on. */
Test(control_request, random_corruption_never_escapes_the_bounds)
{
	static struct ctl_request req, out;
	static uint8_t good[512], buf[512];
	const uid_t uids[] = { 0, 1000 };
	unsigned seed = 12345;
	int n;

	req_set(&req, CTL_OP_SPAWN, "key", 3, "token", 5);
	req_policy(&req, CTL_FLAG_READ_ONLY, "ping,version", "POST /containers/**/exec", uids, 2);
	n = ctl_request_encode(&req, good, sizeof(good));
	cr_assert_gt(n, 0);
	for (int round = 0; round < 200000; round++) {
		size_t len = (size_t)n;
		int flips = 1 + rand_r(&seed) % 4, ret;

		memcpy(buf, good, (size_t)n);
		for (int f = 0; f < flips; f++)
			buf[rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
		if (rand_r(&seed) % 4 == 0)
			len = (size_t)(rand_r(&seed) % (n + 1));
		ret = ctl_request_decode(buf, len, &out);
		if (ret < 0 || ret == 0)
			continue;
		if ((size_t)ret > len || out.key_len > DMX_KEY_MAX ||
		    out.token_len > DMX_TOKEN_MAX || out.allow_len > CTL_ALLOW_MAX ||
		    out.deny_len > CTL_DENY_MAX || out.nuids > CTL_UIDS_MAX ||
		    strlen(out.key) != out.key_len || strlen(out.allow) != out.allow_len ||
		    strlen(out.deny) != out.deny_len || (out.flags & ~CTL_FLAGS_KNOWN))
			cr_assert_fail("round %d accepted a frame out of bounds", round);
		for (size_t i = 0; i < out.nuids; i++)
			if (out.uids[i] == (uid_t)-1)
				cr_assert_fail("round %d accepted uid -1", round);
	}
}

/* ---- reply heads and payloads ---- */

Test(control_reply, head_round_trips)
{
	uint8_t h[CTL_REPLY_HEAD];
	size_t plen;
	int st;

	cr_assert_eq(ctl_reply_head_encode(0, 1234, h), 0);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), 0);
	cr_assert_eq(st, 0);
	cr_assert_eq(plen, 1234);
	cr_assert_eq(ctl_reply_head_encode(-EEXIST, 0, h), 0);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), 0);
	cr_assert_eq(st, -EEXIST);
	cr_assert_eq(plen, 0);
	cr_assert_eq(ctl_reply_head_encode(0, CTL_PAYLOAD_MAX, h), 0);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), 0);
	cr_assert_eq(plen, CTL_PAYLOAD_MAX);
}

Test(control_reply, head_encode_refuses_bad_values)
{
	uint8_t h[CTL_REPLY_HEAD];

	cr_assert_eq(ctl_reply_head_encode(1, 0, h), -EINVAL);
	cr_assert_eq(ctl_reply_head_encode(-CTL_ERRNO_MAX - 1, 0, h), -EINVAL);
	cr_assert_eq(ctl_reply_head_encode(-EIO, 1, h), -EINVAL);
	cr_assert_eq(ctl_reply_head_encode(0, (size_t)CTL_PAYLOAD_MAX + 1, h), -EINVAL);
}

Test(control_reply, head_decode_refuses_hostile_values)
{
	uint8_t h[CTL_REPLY_HEAD];
	size_t plen = 77;
	int st = 77;

	put32(h, 1);
	put32(h + 4, 0);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EBADMSG, "positive status");
	put32(h, 0x80000000u);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EBADMSG, "INT_MIN status");
	put32(h, (uint32_t)-(CTL_ERRNO_MAX + 1));
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EBADMSG, "not an errno");
	put32(h, (uint32_t)-ENOENT);
	put32(h + 4, 1);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EBADMSG, "error with payload");
	put32(h, 0);
	put32(h + 4, CTL_PAYLOAD_MAX + 1);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EMSGSIZE);
	put32(h + 4, 0xffffffff);
	cr_assert_eq(ctl_reply_head_decode(h, &st, &plen), -EMSGSIZE);
	cr_assert_eq(st, 77, "outputs untouched on failure");
	cr_assert_eq(plen, 77);
}

Test(control_reply, path_payload)
{
	char path[DMX_PATH_MAX], long_path[DMX_PATH_MAX];
	const char *p = "/run/dockmux/05804f4591ec6266.sock";

	cr_assert_eq(ctl_path_decode(p, strlen(p), path, sizeof(path)), 0);
	cr_assert_str_eq(path, p);
	cr_assert_eq(ctl_path_decode(p, 0, path, sizeof(path)), -EBADMSG);
	cr_assert_eq(ctl_path_decode("/a\0b", 4, path, sizeof(path)), -EBADMSG);
	memset(long_path, 'p', sizeof(long_path));
	cr_assert_eq(ctl_path_decode(long_path, DMX_PATH_MAX, path, sizeof(path)), -EBADMSG);
	cr_assert_eq(ctl_path_decode(long_path, DMX_PATH_MAX - 1, path, sizeof(path)), 0);
	cr_assert_eq(ctl_path_decode(p, strlen(p), path, strlen(p)), -ENOSPC);
}

static void stats_fill(struct dmx_stats *st, uint64_t base)
{
	/* Distinct values in every byte position catch swapped fields and
	 * byte-order slips. */
	st->containers = base + 0x0102030405060708ull;
	st->conns_accepted = base + 2;
	st->conns_active = base + 3;
	st->requests = base + 4;
	st->bytes_up = base + 0xfffffffffull;
	st->bytes_down = base + 6;
	st->errors = base + 7;
	for (int i = 0; i < 6; i++)
		st->responses[i] = base + 8 + (uint64_t)i;
	st->denied = UINT64_MAX - base;
}

Test(control_reply, stats_round_trip)
{
	struct dmx_stats in, out;
	uint8_t buf[CTL_STATS_LEN + 1];

	memset(&in, 0, sizeof(in));
	stats_fill(&in, 100);
	ctl_stats_encode(&in, buf);
	cr_assert_eq(ctl_stats_decode(buf, CTL_STATS_LEN, &out), 0);
	cr_assert_eq(memcmp(&in, &out, sizeof(in)), 0);
	cr_assert_eq(buf[0], 0x01, "big-endian");
	cr_assert_eq(buf[7], 0x08 + 100);
}

Test(control_reply, stats_wrong_length)
{
	struct dmx_stats out;
	uint8_t buf[CTL_STATS_LEN + 1] = { 0 };

	cr_assert_eq(ctl_stats_decode(buf, 0, &out), -EBADMSG);
	cr_assert_eq(ctl_stats_decode(buf, CTL_STATS_LEN - 1, &out), -EBADMSG);
	cr_assert_eq(ctl_stats_decode(buf, CTL_STATS_LEN + 1, &out), -EBADMSG);
}

/* ---- list payloads ---- */

static struct dmx_entry list_in[3], list_out[3];

static void list_fill(void)
{
	memset(list_in, 0, sizeof(list_in));
	strcpy(list_in[0].key, "ci-runner-1");
	strcpy(list_in[0].path, "/run/dockmux/05804f4591ec6266.sock");
	stats_fill(&list_in[0].stats, 1);
	key_binary(list_in[1].key);
	memset(list_in[1].path, '/', DMX_PATH_MAX - 1);
	stats_fill(&list_in[1].stats, 2);
	strcpy(list_in[2].key, "x");
	strcpy(list_in[2].path, "p");
	stats_fill(&list_in[2].stats, 3);
	strcpy(list_in[0].policy, "read-only,allow=containers+images,deny=2 rules");
	list_in[0].nuids = 3;
	memset(list_in[1].policy, 'p', sizeof(list_in[1].policy) - 1);
	list_in[1].nuids = UINT32_MAX;
	/* list_in[2]: an empty description (the library writes "none", but
	 * the wire need not care) and any uid. */
}

Test(control_list, round_trips)
{
	size_t size;
	uint8_t *buf;
	int n;

	list_fill();
	size = ctl_list_size(list_in, 3);
	cr_assert_eq(size, 4 + (2 + 11 + 1 + 34 + 1 + 46 + 4 + CTL_STATS_LEN) +
			   (2 + 255 + 1 + 107 + 1 + 159 + 4 + CTL_STATS_LEN) +
			   (2 + 1 + 1 + 1 + 1 + 0 + 4 + CTL_STATS_LEN));
	buf = malloc(size);
	n = ctl_list_encode(list_in, 3, buf, size);
	cr_assert_eq(n, (int)size);
	cr_assert_eq(ctl_list_decode(buf, size, NULL, 0), 3, "count without filling");
	memset(list_out, 0, sizeof(list_out));
	cr_assert_eq(ctl_list_decode(buf, size, list_out, 2), 3, "fills up to cap, like dmx_list");
	cr_assert_eq(memcmp(list_out, list_in, 2 * sizeof(list_in[0])), 0);
	cr_assert_eq(list_out[2].key[0], '\0', "nothing past cap");
	cr_assert_eq(ctl_list_decode(buf, size, list_out, 3), 3);
	cr_assert_eq(memcmp(list_out, list_in, sizeof(list_in)), 0);
	cr_assert_eq(ctl_list_encode(list_in, 3, buf, size - 1), -ENOSPC);
	free(buf);
}

Test(control_list, empty_list)
{
	uint8_t buf[4];

	cr_assert_eq(ctl_list_size(NULL, 0), 4);
	cr_assert_eq(ctl_list_encode(NULL, 0, buf, sizeof(buf)), 4);
	cr_assert_eq(ctl_list_decode(buf, 4, NULL, 0), 0);
	cr_assert_eq(ctl_list_encode(NULL, 0, buf, 3), -ENOSPC);
}

Test(control_list, encode_refuses_bad_entries)
{
	uint8_t buf[4096];

	list_fill();
	list_in[2].key[0] = '\0';
	cr_assert_eq(ctl_list_encode(list_in, 3, buf, sizeof(buf)), -EINVAL);
	list_fill();
	list_in[2].path[0] = '\0';
	cr_assert_eq(ctl_list_encode(list_in, 3, buf, sizeof(buf)), -EINVAL);
	list_fill();
	memset(list_in[2].policy, 'p', sizeof(list_in[2].policy));
	cr_assert_eq(ctl_list_encode(list_in, 3, buf, sizeof(buf)), -EINVAL, "unterminated policy");
}

Test(control_list, every_truncation_and_extension_is_malformed)
{
	size_t size;
	uint8_t *buf;

	list_fill();
	size = ctl_list_size(list_in, 3);
	buf = calloc(1, size + 1);
	cr_assert_eq(ctl_list_encode(list_in, 3, buf, size), (int)size);
	for (size_t len = 0; len < size; len++)
		cr_assert_eq(ctl_list_decode(buf, len, list_out, 3), -EBADMSG, "prefix %zu", len);
	cr_assert_eq(ctl_list_decode(buf, size + 1, list_out, 3), -EBADMSG, "trailing byte");
	free(buf);
}

/* One small entry, by hand, then broken one field at a time. */
static size_t list_raw(uint8_t *buf, uint32_t count, uint16_t key_len, const char *key,
		       uint8_t path_len, const char *path, uint8_t desc_len, const char *desc)
{
	size_t off = 0;

	put32(buf, count);
	off = 4;
	buf[off++] = (uint8_t)(key_len >> 8);
	buf[off++] = (uint8_t)key_len;
	memcpy(buf + off, key, strlen(key));
	off += strlen(key);
	buf[off++] = path_len;
	memcpy(buf + off, path, strlen(path));
	off += strlen(path);
	buf[off++] = desc_len;
	memcpy(buf + off, desc, strlen(desc));
	off += strlen(desc);
	put32(buf + off, 2);
	off += 4;
	memset(buf + off, 0, CTL_STATS_LEN);
	return off + CTL_STATS_LEN;
}

Test(control_list, malformed_fields)
{
	static uint8_t buf[1024];
	static char longdesc[CTL_DESC_MAX + 2];
	size_t len;

	len = list_raw(buf, 1, 2, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), 1, "the well-formed base case");
	cr_assert_str_eq(list_out[0].policy, "none");
	cr_assert_eq(list_out[0].nuids, 2);

	len = list_raw(buf, 2, 2, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 2), -EBADMSG, "count over the entries");
	len = list_raw(buf, 0, 2, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "count under the entries");
	len = list_raw(buf, 0xffffffff, 2, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, NULL, 0), -EBADMSG, "huge count");
	len = list_raw(buf, 1, 0, "", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "empty key");
	len = list_raw(buf, 1, 3, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "key_len off by one");
	len = list_raw(buf, 1, 0xffff, "ab", 2, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "key_len huge");
	len = list_raw(buf, 1, 2, "ab", 0, "", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "empty path");
	len = list_raw(buf, 1, 2, "ab", 0xff, "/p", 4, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "path_len huge");
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 4, "none");
	buf[7] = '\0';  /* the key's second byte */
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "NUL in key");
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 4, "none");
	buf[10] = '\0';  /* the path's second byte */
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "NUL in path");
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 4, "none");
	buf[13] = '\0';  /* the description's second byte */
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "NUL in the policy");
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 5, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "policy_len off by one");
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 0xff, "none");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "policy_len huge");
	memset(longdesc, 'd', CTL_DESC_MAX + 1);
	len = list_raw(buf, 1, 2, "ab", 2, "/p", CTL_DESC_MAX + 1, longdesc);
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "policy over its buffer");
	longdesc[CTL_DESC_MAX] = '\0';
	len = list_raw(buf, 1, 2, "ab", 2, "/p", CTL_DESC_MAX, longdesc);
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), 1, "policy at its bound");
	cr_assert_str_eq(list_out[0].policy, longdesc);
	len = list_raw(buf, 1, 2, "ab", 2, "/p", 0, "");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), 1, "an empty policy is fine");
	cr_assert_eq(ctl_list_decode(buf, 3, NULL, 0), -EBADMSG, "no count");
	cr_assert_eq(ctl_list_decode(buf, (size_t)CTL_PAYLOAD_MAX + 1, NULL, 0), -EBADMSG,
		     "over the payload bound, before reading it");
}

/* ---- LIST_PAGE ---- */

Test(control_request, the_retired_list_op_is_unknown)
{
	static struct ctl_request out;
	uint8_t op = 3;

	cr_assert_eq(ctl_request_decode(&op, 1, &out), -EOPNOTSUPP);
}

Test(control_request, page_sizes_outside_1_to_the_maximum_fail_as_soon_as_seen)
{
	static struct ctl_request out;
	uint8_t buf[7 + CTL_CURSOR_LEN + 2] = { 0 };
	const uint16_t bad[] = { 0, CTL_PAGE_MAX + 1, 0xffff };

	head(buf, CTL_OP_LIST_PAGE, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put16(buf + 7 + CTL_CURSOR_LEN, bad[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EMSGSIZE, "page %u", bad[i]);
	}
	put16(buf + 7 + CTL_CURSOR_LEN, 1);
	cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), (int)sizeof(buf));
	cr_assert_eq(out.page_max, 1);
}

static struct dmx_entry page_in[3], page_out[3];

Test(control_list, pages_round_trip_with_their_cursor)
{
	static uint8_t buf[8192];
	struct dmx_list_cursor cur = { { 7, 8, 0xffffffffffffffffull } }, got = { { 0 } };
	int n;

	for (int i = 0; i < 3; i++) {
		snprintf(page_in[i].key, sizeof(page_in[i].key), "key-%d", i);
		snprintf(page_in[i].path, sizeof(page_in[i].path), "/run/dockmux/%d.sock", i);
		snprintf(page_in[i].policy, sizeof(page_in[i].policy), "none");
		page_in[i].stats.requests = (uint64_t)i * 1000;
	}
	n = ctl_page_encode(&cur, page_in, 3, buf, sizeof(buf));
	cr_assert_gt(n, CTL_CURSOR_LEN);
	cr_assert_eq(ctl_page_decode(buf, (size_t)n, &got, page_out, 3), 3);
	cr_assert_eq(memcmp(&got, &cur, sizeof(cur)), 0);
	cr_assert_str_eq(page_out[2].key, "key-2");
	cr_assert_eq(page_out[2].stats.requests, 2000);
	/* every cut is malformed, and leaves the cursor alone */
	for (int len = 0; len < n; len++) {
		got.pos[0] = 99;
		cr_assert_eq(ctl_page_decode(buf, (size_t)len, &got, page_out, 3), -EBADMSG, "cut %d", len);
		cr_assert_eq(got.pos[0], 99);
	}
	/* the end of a listing: a cursor and no entries */
	n = ctl_page_encode(&cur, NULL, 0, buf, sizeof(buf));
	cr_assert_eq(n, CTL_CURSOR_LEN + 4);
	cr_assert_eq(ctl_page_decode(buf, (size_t)n, &got, page_out, 3), 0);
	cr_assert_eq(ctl_page_encode(&cur, NULL, 0, buf, CTL_CURSOR_LEN + 3), -ENOSPC);
}

/* ---- turning held replies into errors ---- */

Test(control_reply, failed_commit_turns_successes_into_errors_and_keeps_errors)
{
	uint8_t buf[256];
	size_t len = 0;
	int st, n;
	size_t plen;

	ctl_reply_head_encode(0, 11, buf + len);
	memcpy(buf + len + CTL_REPLY_HEAD, "/run/x.sock", 11);
	len += CTL_REPLY_HEAD + 11;
	ctl_reply_head_encode(-EINVAL, 0, buf + len);
	len += CTL_REPLY_HEAD;
	ctl_reply_head_encode(0, 0, buf + len);     /* a teardown */
	len += CTL_REPLY_HEAD;
	n = ctl_replies_fail(buf, len, -ENOSPC);
	cr_assert_eq(n, 3 * CTL_REPLY_HEAD);
	cr_assert_eq(ctl_reply_head_decode(buf, &st, &plen), 0);
	cr_assert_eq(st, -ENOSPC);
	cr_assert_eq(plen, 0);
	cr_assert_eq(ctl_reply_head_decode(buf + 8, &st, &plen), 0);
	cr_assert_eq(st, -EINVAL);
	cr_assert_eq(ctl_reply_head_decode(buf + 16, &st, &plen), 0);
	cr_assert_eq(st, -ENOSPC);
	/* not whole replies */
	cr_assert_eq(ctl_replies_fail(buf, 5, -EIO), -EBADMSG);
	ctl_reply_head_encode(0, 100, buf);
	cr_assert_eq(ctl_replies_fail(buf, 20, -EIO), -EBADMSG);
	cr_assert_eq(ctl_replies_fail(buf, 0, 0), -EINVAL, "err must be an error");
}

Test(control_request, the_isolate_flag_travels_with_a_spawn)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	struct dmx_policy pol = { .isolate = 1 }, back;
	int n;

	req_set(&req, CTL_OP_SPAWN, "k", 1, "t", 1);
	cr_assert_eq(ctl_request_set_policy(&req, &pol), 0);
	cr_assert_eq(req.flags, CTL_FLAG_ISOLATE);
	n = ctl_request_encode(&req, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	ctl_request_policy(&out, &back);
	cr_assert_eq(back.isolate, 1);
	cr_assert_eq(back.read_only, 0);
}
