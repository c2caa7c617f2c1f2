/* tests/cmd_control.c: the control-socket protocol of cmd/control.c. Round
 * trips of every frame kind, then every malformed frame a hostile peer could
 * send: truncated at each byte, oversized or op-forbidden lengths, unknown ops,
 * NUL bytes, bad reply heads; and the blocking helpers over socketpairs.
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
	cr_assert_eq(n, CTL_REQ_MAX, "the longest spawn is exactly CTL_REQ_MAX");
	cr_assert_eq(ctl_request_size(&req), n);
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);
	cr_assert_eq(out.op, CTL_OP_SPAWN);
	cr_assert_eq(out.key_len, klen);
	cr_assert_eq(memcmp(out.key, key, klen), 0);
	cr_assert_eq(out.key[klen], '\0');
	cr_assert_eq(out.token_len, sizeof(token));
	cr_assert_eq(memcmp(out.token, token, sizeof(token)), 0);
	cr_assert_eq(out.token[sizeof(token)], '\0');
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
		{ CTL_OP_LIST, "", "" },
		{ CTL_OP_STATS, "", "" },
		{ CTL_OP_STATS, "some key", "" },
	};
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t kl = strlen(cases[i].key), tl = strlen(cases[i].token);
		int n;

		req_set(&req, cases[i].op, cases[i].key, kl, cases[i].token, tl);
		n = encode(&req, buf);
		cr_assert_eq(n, (int)(CTL_REQ_HEAD + kl + 4 + tl), "case %zu", i);
		memset(&out, 0xaa, sizeof(out));
		cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n, "case %zu", i);
		cr_assert_eq(out.op, cases[i].op);
		cr_assert_str_eq(out.key, cases[i].key);
		cr_assert_eq(out.key_len, kl);
		cr_assert_str_eq(out.token, cases[i].token);
		cr_assert_eq(out.token_len, tl);
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
	req_set(&req, CTL_OP_LIST, "k", 1, "", 0);
	cr_assert_eq(ctl_request_encode(&req, buf, sizeof(buf)), -EINVAL, "list with key");
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

/* ---- requests: malformed ---- */

Test(control_request, every_truncation_asks_for_more)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	char key[DMX_KEY_MAX];
	size_t klen = key_binary(key);
	int n;

	req_set(&req, CTL_OP_SPAWN, key, klen, "some-token", 10);
	n = encode(&req, buf);
	memset(&out, 0x5a, sizeof(out));
	for (int len = 0; len < n; len++)
		cr_assert_eq(ctl_request_decode(buf, (size_t)len, &out), 0, "prefix %d", len);
	cr_assert_eq(out.op, 0x5a, "out untouched until the frame is complete");
	cr_assert_eq(ctl_request_decode(buf, (size_t)n, &out), n);

	req_set(&req, CTL_OP_LIST, "", 0, "", 0);
	n = encode(&req, buf);
	cr_assert_eq(n, 7);
	for (int len = 0; len < n; len++)
		cr_assert_eq(ctl_request_decode(buf, (size_t)len, &out), 0, "list prefix %d", len);
}

Test(control_request, unknown_ops_fail_on_the_first_byte)
{
	static struct ctl_request out;
	uint8_t buf[16] = { 0 };
	const uint8_t ops[] = { 0, 5, 6, 0x7f, 0x80, 0xff };

	for (size_t i = 0; i < sizeof(ops); i++) {
		buf[0] = ops[i];
		cr_assert_eq(ctl_request_decode(buf, 1, &out), -EOPNOTSUPP, "op %u", ops[i]);
		cr_assert_eq(ctl_request_decode(buf, sizeof(buf), &out), -EOPNOTSUPP, "op %u", ops[i]);
	}
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
	head(buf, CTL_OP_LIST, 1);
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
	head(buf, CTL_OP_LIST, 0);
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
}

Test(control_list, round_trips)
{
	size_t size;
	uint8_t *buf;
	int n;

	list_fill();
	size = ctl_list_size(list_in, 3);
	cr_assert_eq(size, 4 + (2 + 11 + 1 + 34 + CTL_STATS_LEN) +
			   (2 + 255 + 1 + 107 + CTL_STATS_LEN) + (2 + 1 + 1 + 1 + CTL_STATS_LEN));
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
		       uint8_t path_len, const char *path)
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
	memset(buf + off, 0, CTL_STATS_LEN);
	return off + CTL_STATS_LEN;
}

Test(control_list, malformed_fields)
{
	static uint8_t buf[1024];
	size_t len;

	len = list_raw(buf, 1, 2, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), 1, "the well-formed base case");

	len = list_raw(buf, 2, 2, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 2), -EBADMSG, "count over the entries");
	len = list_raw(buf, 0, 2, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "count under the entries");
	len = list_raw(buf, 0xffffffff, 2, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, NULL, 0), -EBADMSG, "huge count");
	len = list_raw(buf, 1, 0, "", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "empty key");
	len = list_raw(buf, 1, 3, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "key_len off by one");
	len = list_raw(buf, 1, 0xffff, "ab", 2, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "key_len huge");
	len = list_raw(buf, 1, 2, "ab", 0, "");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "empty path");
	len = list_raw(buf, 1, 2, "ab", 0xff, "/p");
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "path_len huge");
	len = list_raw(buf, 1, 2, "ab", 2, "/p");
	buf[7] = '\0';  /* the key's second byte */
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "NUL in key");
	len = list_raw(buf, 1, 2, "ab", 2, "/p");
	buf[10] = '\0';  /* the path's second byte */
	cr_assert_eq(ctl_list_decode(buf, len, list_out, 1), -EBADMSG, "NUL in path");
	cr_assert_eq(ctl_list_decode(buf, 3, NULL, 0), -EBADMSG, "no count");
	cr_assert_eq(ctl_list_decode(buf, (size_t)CTL_PAYLOAD_MAX + 1, NULL, 0), -EBADMSG,
		     "over the payload bound, before reading it");
}

/* ---- blocking helpers over a socketpair ---- */

static int sp[2];

static void pair_open(void)
{
	struct timeval tv = { .tv_sec = 5 };

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	/* A helper that waits where it should fail shows up as -EAGAIN, not a hang. */
	setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void pair_close(void)
{
	close(sp[0]);
	close(sp[1]);
}

TestSuite(control_io, .init = pair_open, .fini = pair_close);

Test(control_io, request_round_trip)
{
	static struct ctl_request req, out;
	static uint8_t buf[CTL_REQ_MAX];
	int n;

	req_set(&req, CTL_OP_SPAWN, "key", 3, "tok", 3);
	n = encode(&req, buf);
	/* Byte by byte: the reader must reassemble. */
	for (int i = 0; i < n; i++)
		cr_assert_eq(ctl_send_all(sp[0], buf + i, 1), 0);
	cr_assert_eq(ctl_recv_request(sp[1], &out), 0);
	cr_assert_str_eq(out.key, "key");
	cr_assert_str_eq(out.token, "tok");
}

Test(control_io, truncated_request_then_eof)
{
	static struct ctl_request out;
	uint8_t buf[] = { CTL_OP_TEARDOWN, 0, 5, 'a', 'b' };

	cr_assert_eq(ctl_send_all(sp[0], buf, sizeof(buf)), 0);
	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_request(sp[1], &out), -EBADMSG);
}

Test(control_io, nothing_then_eof)
{
	static struct ctl_request out;

	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_request(sp[1], &out), -ENODATA);
}

Test(control_io, hostile_lengths_fail_without_waiting)
{
	static struct ctl_request out;
	uint8_t buf[CTL_REQ_HEAD + 1 + 4];

	/* The peer keeps the connection open: only an early verdict avoids
	 * waiting for 4 GiB that will never come. */
	head(buf, CTL_OP_SPAWN, 1);
	buf[3] = 'k';
	put32(buf + 4, 0xffffffff);
	cr_assert_eq(ctl_send_all(sp[0], buf, sizeof(buf)), 0);
	cr_assert_eq(ctl_recv_request(sp[1], &out), -EMSGSIZE);
}

Test(control_io, unknown_op_fails_without_waiting)
{
	static struct ctl_request out;
	uint8_t op = 0x42;

	cr_assert_eq(ctl_send_all(sp[0], &op, 1), 0);
	cr_assert_eq(ctl_recv_request(sp[1], &out), -EOPNOTSUPP);
}

Test(control_io, reply_round_trips)
{
	void *payload = (void *)1;
	size_t len = 1;
	int st = 1;

	cr_assert_eq(ctl_send_reply(sp[0], 0, "/run/x.sock", 11), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len), 0);
	cr_assert_eq(st, 0);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(payload, "/run/x.sock", 11), 0);
	free(payload);

	cr_assert_eq(ctl_send_reply(sp[0], -EEXIST, NULL, 0), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len), 0);
	cr_assert_eq(st, -EEXIST);
	cr_assert_null(payload);
	cr_assert_eq(len, 0);

	cr_assert_eq(ctl_send_reply(sp[0], -EEXIST, "x", 1), -EINVAL, "errors carry no payload");
}

Test(control_io, reply_with_huge_payload_is_refused_before_allocating)
{
	uint8_t h[CTL_REPLY_HEAD];
	void *payload = NULL;
	size_t len;
	int st;

	put32(h, 0);
	put32(h + 4, 0xfffffff0);
	cr_assert_eq(ctl_send_all(sp[0], h, sizeof(h)), 0);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len), -EMSGSIZE);
}

Test(control_io, truncated_replies)
{
	uint8_t h[CTL_REPLY_HEAD];
	void *payload = NULL;
	size_t len;
	int st;

	put32(h, 0);
	put32(h + 4, 100);
	cr_assert_eq(ctl_send_all(sp[0], h, sizeof(h)), 0);
	cr_assert_eq(ctl_send_all(sp[0], "short", 5), 0);
	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len), -EBADMSG, "payload cut");
	pair_close();
	pair_open();
	cr_assert_eq(ctl_send_all(sp[0], h, 5), 0);
	shutdown(sp[0], SHUT_WR);
	cr_assert_eq(ctl_recv_reply(sp[1], &st, &payload, &len), -EBADMSG, "head cut");
}

Test(control_io, send_to_a_closed_peer_is_an_error_not_sigpipe)
{
	close(sp[1]);
	sp[1] = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(ctl_send_all(sp[0], "x", 1), -EPIPE);
}

/* ---- ctl_connect / ctl_call against a one-shot server thread ---- */

static char srv_path[DMX_PATH_MAX];

static void *srv_main(void *arg)
{
	int lfd = *(int *)arg, fd;
	static struct ctl_request req;
	int ret;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	ret = ctl_recv_request(fd, &req);
	if (ret == 0 && req.op == CTL_OP_SPAWN && strcmp(req.token, "tok") == 0)
		ctl_send_reply(fd, 0, srv_path, strlen(srv_path));
	else
		ctl_send_reply(fd, ret < 0 ? ret : -EINVAL, NULL, 0);
	close(fd);
	return NULL;
}

Test(control_call, spawn_against_a_server)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static struct ctl_request req;
	pthread_t th;
	void *payload = NULL;
	char path[DMX_PATH_MAX];
	size_t len;
	int lfd, st;

	snprintf(srv_path, sizeof(srv_path), "/tmp/dmx-ctl-test-%d.sock", (int)getpid());
	unlink(srv_path);
	strcpy(sa.sun_path, srv_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	cr_assert_eq(pthread_create(&th, NULL, srv_main, &lfd), 0);

	req_set(&req, CTL_OP_SPAWN, "k", 1, "tok", 3);
	cr_assert_eq(ctl_call(srv_path, &req, &st, &payload, &len), 0);
	pthread_join(th, NULL);
	cr_assert_eq(st, 0);
	cr_assert_eq(ctl_path_decode(payload, len, path, sizeof(path)), 0);
	cr_assert_str_eq(path, srv_path);
	free(payload);
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

	cr_assert_eq(ctl_connect("/nonexistent/dockmux/control.sock"), -ENOENT);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(ctl_connect(longp), -ENAMETOOLONG);
	cr_assert_eq(ctl_connect(""), -EINVAL);
	req_set(&req, CTL_OP_LIST, "", 0, "", 0);
	cr_assert_eq(ctl_call("/nonexistent/dockmux/control.sock", &req, &st, &payload, &len),
		     -ENOENT);
	req_set(&req, CTL_OP_LIST, "k", 1, "", 0);
	cr_assert_eq(ctl_call("/nonexistent/dockmux/control.sock", &req, &st, &payload, &len),
		     -EINVAL, "a bad request is refused before connecting");
}
