/* tests/core_gojson.c: Go's encoding/json field matching over jansson trees
 * (core/gojson.c), table-driven: the key folds Go applies (ASCII case, the
 * kelvin sign and the long s, nothing else), two keys for one field refused,
 * unknown keys ignored, values typed as Go decodes them (null has no effect),
 * and messages and paths that stay safe and bounded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

Test(gojson, folds_keys_the_way_go_matches_field_names)
{
	static const struct { const char *key, *fold; } cases[] = {
		{ "Privileged", "privileged" },
		{ "PRIVILEGED", "privileged" },
		{ "\xe2\x84\xaa", "k" },                     /* U+212A KELVIN SIGN */
		{ "Lin\xe2\x84\xaas", "links" },
		{ "\xc5\xbf" "ecurityOpt", "securityopt" },   /* U+017F LONG S */
		{ "Pr\xc4\xb1vileged", "pr\xc4\xb1vileged" }, /* U+0131: no ASCII orbit */
		{ "Pr\xc4\xb0vileged", "pr\xc4\xb0vileged" }, /* U+0130 either */
		{ "\xc3\x89t\xc3\xa9", "\xc3\x89t\xc3\xa9" }, /* other letters are kept */
		{ "a_b-c.1", "a_b-c.1" },
		{ "\xe2\x84", "\xe2\x84" },                  /* a cut sequence is copied */
		{ "", "" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char out[64];
		size_t n = gojson_fold(cases[i].key, strlen(cases[i].key), out);

		cr_expect_str_eq(out, cases[i].fold, "key %zu", i);
		cr_expect_eq(n, strlen(cases[i].fold), "key %zu", i);
	}
}

struct seen {
	char log[256];
};

static int note(struct gojson *g, void *ctx, const char *key, json_t *val, const char *path)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	(void)g;
	snprintf(s->log + n, sizeof(s->log) - n, "%s%s=%s<%s>", n ? " " : "", path, key,
		 json_is_true(val) ? "true" : "other");
	return 0;
}

static int stop(struct gojson *g, void *ctx, const char *key, json_t *val, const char *path)
{
	(void)ctx;
	(void)key;
	(void)val;
	return gojson_refuse(g, 403, "%s stops", path);
}

static const struct gojson_field fields[] = { { "Privileged", note }, { "Links", note } };

Test(gojson, walk_finds_fields_by_fold_and_ignores_unknown_keys)
{
	static const struct { const char *json, *log; } cases[] = {
		{ "{\"privileged\":true}", "X.Privileged=privileged<true>" },
		{ "{\"Lin\\u212as\":1,\"other\":true}", "X.Links=Lin\xe2\x84\xaas<other>" },
		{ "{\"Pr\\u0131vileged\":true}", "" },
		{ "{\"Privileged\\u0000x\":true}", NULL },      /* jansson refuses the key */
		{ "{}", "" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		json_t *obj = json_loads(cases[i].json, 0, NULL);
		struct gojson g = { 0 };
		struct seen s = { "" };

		if (!cases[i].log) {
			cr_expect_null(obj, "%s", cases[i].json);
			continue;
		}
		cr_assert_not_null(obj, "%s", cases[i].json);
		cr_expect_eq(GOJSON_WALK(&g, &s, obj, "X", fields, false), 0, "%s", cases[i].json);
		cr_expect_str_eq(s.log, cases[i].log, "%s", cases[i].json);
		json_decref(obj);
	}
}

Test(gojson, walk_refuses_two_keys_for_one_field_even_unknown_ones)
{
	static const char *const bodies[] = {
		"{\"Privileged\":false,\"privileged\":true}",
		"{\"Links\":null,\"LIN\\u212aS\":[]}",
		"{\"zz\":1,\"a\":2,\"ZZ\":3}",
		"{\"\\u017f\":1,\"S\":2}",
	};

	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		json_t *obj = json_loads(bodies[i], 0, NULL);
		struct gojson g = { 0 };
		struct seen s = { "" };

		cr_assert_not_null(obj);
		cr_expect_eq(GOJSON_WALK(&g, &s, obj, "HostConfig", fields, false), GOJSON_REFUSED,
			     "%s", bodies[i]);
		cr_expect_eq(g.status, 400);
		cr_expect(strstr(g.msg, "HostConfig has two keys for one field") != NULL, "%s", g.msg);
		cr_expect_str_eq(s.log, "", "a check ran before the fold check");
		/* folds_checked: the caller vouches, the walk does not look */
		cr_expect_eq(GOJSON_WALK(&g, &s, obj, "HostConfig", fields, true), 0);
		json_decref(obj);
	}
}

Test(gojson, walk_returns_the_first_refusal)
{
	static const struct gojson_field stops[] = { { "a", stop }, { "b", stop } };
	json_t *obj = json_loads("{\"x\":1,\"B\":1,\"a\":1}", 0, NULL);
	struct gojson g = { 0 };

	cr_expect_eq(GOJSON_WALK(&g, NULL, obj, "", stops, false), GOJSON_REFUSED);
	cr_expect_str_eq(g.msg, "dockmux isolation: b stops");
	json_decref(obj);
}

Test(gojson, check_folds_scales_to_many_keys)
{
	json_t *obj = json_object();
	struct gojson g = { 0 };
	char k[32];

	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		json_object_set_new(obj, k, json_null());
	}
	cr_expect_eq(gojson_check_folds(&g, obj, ""), 0);
	json_object_set_new(obj, "KEY77777", json_null());
	cr_expect_eq(gojson_check_folds(&g, obj, ""), GOJSON_REFUSED);
	cr_expect(strstr(g.msg, "the body has two keys for one field (\"key77777\")") != NULL, "%s",
		  g.msg);
	json_decref(obj);
}

struct typed_case {
	const char *json;
	int kind;   /* 's' string, 'b' bool, 'o' struct, 'm' map, 'a' []string, '1' StrSlice */
	int status; /* 0 or 400 */
};

static int count_str(struct gojson *g, const char *s, size_t n, const char *path)
{
	(void)g;
	(void)s;
	(void)n;
	(void)path;
	return 0;
}

Test(gojson, types_values_as_go_decodes_them)
{
	static const struct typed_case cases[] = {
		{ "\"x\"", 's', 0 }, { "null", 's', 0 }, { "1", 's', 400 }, { "[]", 's', 400 },
		{ "true", 'b', 0 }, { "null", 'b', 0 }, { "\"true\"", 'b', 400 }, { "0", 'b', 400 },
		{ "{}", 'o', 0 }, { "null", 'o', 0 }, { "[]", 'o', 400 }, { "\"\"", 'o', 400 },
		{ "{\"a\":\"b\",\"c\":null}", 'm', 0 }, { "null", 'm', 0 }, { "{\"a\":1}", 'm', 400 },
		{ "[]", 'm', 400 },
		{ "[\"a\",null]", 'a', 0 }, { "null", 'a', 0 }, { "\"a\"", 'a', 400 },
		{ "[1]", 'a', 400 }, { "[[]]", 'a', 400 },
		{ "\"a\"", '1', 0 }, { "[\"a\"]", '1', 0 }, { "{}", '1', 400 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		struct gojson g = { 0 };
		const char *s;
		size_t n;
		bool b;
		int r = -1;

		cr_assert_not_null(v, "%s", cases[i].json);
		switch (cases[i].kind) {
		case 's': r = gojson_str(&g, v, "F", &s, &n); break;
		case 'b': r = gojson_bool(&g, v, "F", &b); break;
		case 'o': r = gojson_struct(&g, v, "F"); break;
		case 'm': r = gojson_str_map(&g, v, "F"); break;
		case 'a': r = gojson_strings(&g, v, "F", false, count_str); break;
		case '1': r = gojson_strings(&g, v, "F", true, count_str); break;
		}
		cr_expect_eq(r, cases[i].status ? GOJSON_REFUSED : 0, "%c %s", cases[i].kind,
			     cases[i].json);
		cr_expect_eq(g.status, cases[i].status, "%c %s", cases[i].kind, cases[i].json);
		if (cases[i].status)
			cr_expect(strstr(g.msg, "must be") != NULL, "%s", g.msg);
		json_decref(v);
	}
}

Test(gojson, null_has_no_effect)
{
	json_t *v = json_null();
	struct gojson g = { 0 };
	const char *s = "unset";
	size_t n = 99;
	bool b = true;

	cr_expect_eq(gojson_str(&g, v, "F", &s, &n), 0);
	cr_expect_str_eq(s, "");
	cr_expect_eq(n, 0);
	cr_expect_eq(gojson_bool(&g, v, "F", &b), 0);
	cr_expect_not(b);
}

static int log_elem(struct gojson *g, const char *s, size_t n, const char *path)
{
	char *log = (char *)g->msg;   /* a scratch buffer for the test */
	size_t l = strlen(log);

	snprintf(log + l, GOJSON_MSG_MAX - l, "%s=%.*s;", path, (int)n, s);
	return 0;
}

Test(gojson, strings_name_each_element_by_index)
{
	json_t *v = json_loads("[\"a\",null,\"c\"]", 0, NULL);
	struct gojson g = { 0 };

	cr_expect_eq(gojson_strings(&g, v, "Binds", false, log_elem), 0);
	cr_expect_str_eq(g.msg, "Binds[0]=a;Binds[1]=;Binds[2]=c;");
	json_decref(v);
}

Test(gojson, show_keeps_messages_printable_and_short)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "a\"b\\c\x01\x7f\xc3\xa9", "a?b?c????" },
		{ "", "" },
		{ "0123456789012345678901234567890123456789012", "0123456789012345678901234567890123456789012" },
		{ "01234567890123456789012345678901234567890123", "0123456789012345678901234567890123456789..." },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char b[GOJSON_SHOW_LEN];

		cr_expect_str_eq(gojson_show(b, cases[i].in, strlen(cases[i].in)), cases[i].out, "%zu", i);
	}
}

Test(gojson, paths_are_cut_never_overrun)
{
	char out[GOJSON_PATH_LEN], longp[300];

	gojson_path(out, "", "HostConfig");
	cr_expect_str_eq(out, "HostConfig");
	gojson_path(out, "HostConfig", "Mounts");
	cr_expect_str_eq(out, "HostConfig.Mounts");
	gojson_path_index(out, "HostConfig.Mounts", 12);
	cr_expect_str_eq(out, "HostConfig.Mounts[12]");
	gojson_path_key(out, "EndpointsConfig", "n\"et");
	cr_expect_str_eq(out, "EndpointsConfig.n?et");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	gojson_path(out, longp, "Source");
	cr_expect_eq(strlen(out), GOJSON_PATH_LEN - 1);
	gojson_path_index(out, longp, 3);
	cr_expect_eq(strlen(out), GOJSON_PATH_LEN - 1);
}

Test(gojson, refusal_messages_are_cut_to_fit)
{
	struct gojson g = { 0 };
	char big[600];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_expect_eq(gojson_refuse(&g, 403, "%s", big), GOJSON_REFUSED);
	cr_expect_eq(g.status, 403);
	cr_expect_eq(strlen(g.msg), GOJSON_MSG_MAX - 1);
	cr_expect_eq(gojson_want(&g, "", "an object"), GOJSON_REFUSED);
	cr_expect_str_eq(g.msg, "dockmux isolation: the body must be an object");
}

Test(gojson, compares_ascii_without_locale)
{
	cr_expect(gojson_eq("host", 4, "host"));
	cr_expect_not(gojson_eq("Host", 4, "host"));
	cr_expect(gojson_ieq("HoSt", 4, "host"));
	cr_expect_not(gojson_ieq("hostx", 5, "host"));
	cr_expect_not(gojson_ieq("h\xc4\xb1st", 5, "hist"));
	cr_expect(gojson_iprefix("HOST:x", 6, "host:"));
	cr_expect_not(gojson_iprefix("hos", 3, "host"));
}
