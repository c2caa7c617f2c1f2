/* tests/fuzz/inspect_fuzz.c: libFuzzer target for core/inspect.c and
 * core/filters.c, which read a container's request bodies and queries.
 * Beyond "no crash": a refusal has a status and a safe message; a forwarded
 * body parses, carries the owner label where dockerd reads Labels, passes a
 * second inspection unchanged, and holds no Privileged=true under any key a
 * reference fold (written differently here) says Go would read; a rewritten
 * query has exactly one filters/labels parameter with the owner entry, fits
 * FILTERS_OUT_MAX and rewrites to itself. Input: one mode byte, then the body
 * or query.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters.h"
#include "inspect.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define LABEL "org.dockmux.owner"
#define OWNER "0123456789abcdef"

static struct inspect_policy *pols[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const caps[] = { "NET_ADMIN", "cap_chown" };
	static const char *const runtimes[] = { "runsc" };
	static const char *const binds[] = { "/srv/data", "/home/x/" };
	struct inspect_config c = { .label_name = LABEL, .label_value = OWNER, .max_body = 1 << 16 };

	(void)argc;
	(void)argv;
	inspect_seed(12345);   /* no /dev/urandom under the fuzzer */
	CHECK(inspect_policy_new(&c, &pols[0], NULL) == 0);
	c.caps = caps;
	c.ncaps = 2;
	c.runtimes = runtimes;
	c.nruntimes = 1;
	c.binds = binds;
	c.nbinds = 2;
	CHECK(inspect_policy_new(&c, &pols[1], NULL) == 0);
	return 0;
}

static void check_msg(const char *msg)
{
	size_t n = strnlen(msg, INSPECT_MSG_MAX);

	CHECK(n < INSPECT_MSG_MAX);
	CHECK(!strncmp(msg, "dockmux isolation: ", 19));
	for (size_t i = 0; i < n; i++)
		CHECK(msg[i] >= 0x20 && msg[i] < 0x7f && msg[i] != '\\');
}

/* ---- a reference of Go's key folding: code points, then the two orbits ---- */

static bool ref_folds_to(const char *key, const char *lower)
{
	const unsigned char *u = (const unsigned char *)key;
	size_t i = 0, k = 0;

	while (u[i]) {
		uint32_t cp;
		int len;

		if (u[i] < 0x80) {
			cp = u[i];
			len = 1;
		} else if ((u[i] & 0xe0) == 0xc0) {
			cp = (uint32_t)(u[i] & 0x1f) << 6 | (u[i + 1] & 0x3f);
			len = 2;
		} else if ((u[i] & 0xf0) == 0xe0) {
			cp = (uint32_t)(u[i] & 0x0f) << 12 | (uint32_t)(u[i + 1] & 0x3f) << 6 |
			     (u[i + 2] & 0x3f);
			len = 3;
		} else {
			cp = 0xfffd;   /* 4-byte runes fold to no ASCII letter */
			len = 4;
		}
		if (cp == 0x212a)
			cp = 'k';
		else if (cp == 0x17f)
			cp = 's';
		else if (cp >= 'A' && cp <= 'Z')
			cp += 32;
		if (!lower[k] || cp != (unsigned char)lower[k])
			return false;
		k++;
		i += (size_t)len;
	}
	return !lower[k];
}

static json_t *ref_field(json_t *obj, const char *lower)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
		if (ref_folds_to(k, lower))
			return v;
	return NULL;
}

/* No key Go reads as Privileged, at the top or in HostConfig, is true. */
static void check_not_privileged(json_t *root)
{
	json_t *hc = ref_field(root, "hostconfig");

	CHECK(!json_is_true(ref_field(root, "privileged")));
	if (json_is_object(hc)) {
		CHECK(!json_is_true(ref_field(hc, "privileged")));
		json_t *nm = ref_field(hc, "networkmode");

		CHECK(!(json_is_string(nm) && !strcmp(json_string_value(nm), "host")));
	}
}

static void fuzz_body(const struct inspect_policy *p, enum inspect_kind kind, const char *body,
		      size_t len)
{
	struct inspect_result res, again;
	int r = inspect_body(p, kind, body, len, &res);

	CHECK(r == INSPECT_FORWARD || r == INSPECT_REFUSE || r == -ENOMEM);
	if (r == INSPECT_REFUSE) {
		CHECK(res.status == 400 || res.status == 403 || res.status == 413);
		check_msg(res.msg);
		CHECK(!res.body && !res.nrefs);
	} else if (r == INSPECT_FORWARD) {
		json_t *root;

		CHECK(res.status == 0 && res.body && strlen(res.body) == res.body_len);
		for (size_t i = 0; i < res.nrefs; i++) {
			CHECK(res.refs[i].name);
			CHECK(strnlen(res.refs[i].field, INSPECT_FIELD_MAX) < INSPECT_FIELD_MAX);
		}
		if (res.body_len) {
			root = json_loadb(res.body, res.body_len,
					  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
			CHECK(root);
			if (kind == INSPECT_CONTAINER_CREATE || kind == INSPECT_VOLUME_CREATE ||
			    kind == INSPECT_NETWORK_CREATE) {
				json_t *labels = ref_field(root, "labels");
				const char *v = json_string_value(json_object_get(labels, LABEL));

				CHECK(v && !strcmp(v, OWNER));
			}
			if (kind == INSPECT_CONTAINER_CREATE || kind == INSPECT_CONTAINER_START ||
			    kind == INSPECT_EXEC_CREATE)
				check_not_privileged(root);
			json_decref(root);
		}
		/* what we forward passes again, unchanged */
		if (res.body_len <= 1 << 16) {
			CHECK(inspect_body(p, kind, res.body, res.body_len, &again) == INSPECT_FORWARD);
			CHECK(again.body_len == res.body_len && !memcmp(again.body, res.body, res.body_len));
			CHECK(again.nrefs == res.nrefs);
			inspect_result_deinit(&again);
		}
	}
	inspect_result_deinit(&res);
}

/* ---- queries --------------------------------------------------------------- */

struct one_param {
	const char *name;
	char *value;
	size_t vlen;
	int found;
};

static int find_param(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct one_param *o = arg;

	if (kl == strlen(o->name) && !memcmp(k, o->name, kl)) {
		o->found++;
		free(o->value);
		o->value = malloc(vl + 1);
		CHECK(o->value);
		memcpy(o->value, v, vl);
		o->value[vl] = '\0';
		o->vlen = vl;
	}
	return 0;
}

static void fuzz_query(const char *q, size_t qlen, bool force)
{
	const char *param = force ? "filters" : "labels";
	size_t cap = FILTERS_OUT_MAX(qlen, strlen(LABEL), strlen(OWNER)), len, len2;
	char *out = malloc(cap), *out2 = malloc(cap), msg[FILTERS_MSG_MAX];
	struct one_param o = { param, NULL, 0, 0 };
	json_t *root;
	int r;

	CHECK(out && out2);
	r = force ? filters_force_label(q, qlen, LABEL, OWNER, out, cap, &len, msg, sizeof(msg))
		  : filters_stamp_labels(q, qlen, LABEL, OWNER, out, cap, &len, msg, sizeof(msg));
	CHECK(r == 0 || r == FILTERS_BAD || r == -ENOMEM);
	if (r == FILTERS_BAD)
		check_msg(msg);
	if (r)
		goto out;
	CHECK(len < cap && strlen(out) == len);
	CHECK(filters_query_each(out, len, find_param, &o, msg, sizeof(msg)) == 0);
	CHECK(o.found == 1);
	root = json_loadb(o.value, o.vlen, JSON_REJECT_DUPLICATES, NULL);
	CHECK(json_is_object(root));
	if (force) {
		json_t *label = json_object_get(root, "label"), *v;
		const char *k;
		size_t ln = strlen(LABEL);

		CHECK(json_is_true(json_object_get(label, LABEL "=" OWNER)));
		json_object_foreach(label, k, v)
			CHECK(strncmp(k, LABEL, ln) || (k[ln] != '=' && k[ln] != '\0') ||
			      !strcmp(k, LABEL "=" OWNER));
	} else {
		CHECK(!strcmp(json_string_value(json_object_get(root, LABEL)), OWNER));
	}
	json_decref(root);
	/* canonical: a second rewrite is the identity; the exact size is enough */
	r = force ? filters_force_label(out, len, LABEL, OWNER, out2, len + 1, &len2, msg, sizeof(msg))
		  : filters_stamp_labels(out, len, LABEL, OWNER, out2, len + 1, &len2, msg, sizeof(msg));
	CHECK(r == 0 && len2 == len && !memcmp(out, out2, len));
	if (len)
		CHECK((force ? filters_force_label(q, qlen, LABEL, OWNER, out2, len, &len2, msg,
						   sizeof(msg))
			     : filters_stamp_labels(q, qlen, LABEL, OWNER, out2, len, &len2, msg,
						    sizeof(msg))) == -ENOSPC);
out:
	free(o.value);
	free(out);
	free(out2);
}

static int no_host_mode(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	(void)arg;
	CHECK(!(kl == 11 && !memcmp(k, "networkmode", 11) && vl == 4 && !memcmp(v, "host", 4)));
	return 0;
}

static void fuzz_build(const struct inspect_policy *p, const char *q, size_t qlen)
{
	char msg[FILTERS_MSG_MAX];

	struct inspect_result res;
	int r = inspect_build_query(p, q, qlen, &res);

	CHECK(r == INSPECT_FORWARD || r == INSPECT_REFUSE || r == -ENOMEM);
	if (r == INSPECT_REFUSE) {
		CHECK(res.status == 400 || res.status == 403);
		check_msg(res.msg);
	} else if (r == INSPECT_FORWARD) {
		CHECK(res.body && strlen(res.body) == res.body_len);
		CHECK(filters_query_each(res.body, res.body_len, no_host_mode, NULL, msg,
					 sizeof(msg)) == 0);
	}
	inspect_result_deinit(&res);
	CHECK(filters_form_content_type(q, qlen) == filters_form_content_type(q, qlen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct inspect_policy *p;
	char *copy;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0] % 9;
	p = pols[(data[0] / 9) & 1];
	/* an exact-size heap copy: ASan sees any read past the span */
	copy = malloc(size - 1 ? size - 1 : 1);
	CHECK(copy);
	memcpy(copy, data + 1, size - 1);
	if (mode <= INSPECT_NETWORK_CONNECT)
		fuzz_body(p, (enum inspect_kind)mode, copy, size - 1);
	else if (mode == 6)
		fuzz_build(p, copy, size - 1);
	else
		fuzz_query(copy, size - 1, mode == 7);
	free(copy);
	return 0;
}
