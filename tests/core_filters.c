/* tests/core_filters.c: the owner label forced into list/events/prune filters
 * and stamped into /build labels (core/filters.c), table-driven: the map and
 * legacy list forms of moby's filters.FromJSON, client label entries on the
 * owner label (replaced) and on other labels (kept, ANDed by dockerd), the
 * other filters and parameters kept byte for byte, Go's query decoding
 * (percent escapes, '+', encoded keys, ';'), what dockerd answers 400 to,
 * the output bound, and the form Content-Types that would override a query.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define LABEL "org.dockmux.owner"
#define OWNER "0123456789abcdef"
#define OWNER_ENTRY LABEL "=" OWNER

/* Pull one parameter's decoded value out of a query, with the rest of the
 * query (its other parameters, raw, '&'-joined) beside it. */
struct split {
	char value[4096];
	char rest[4096];
	int found;
};

static int split_param(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct split *s = arg;

	if (kl == 7 && !memcmp(k, "filters", 7)) {
		s->found++;
		cr_assert_lt(vl, sizeof(s->value));
		memcpy(s->value, v, vl);
		s->value[vl] = '\0';
	}
	return 0;
}

static void rest_of(const char *q, const char *param, char *out, size_t cap)
{
	size_t pl = strlen(param), o = 0;

	out[0] = '\0';
	for (const char *s = q; *s; ) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);

		if (!(len > pl && !strncmp(s, param, pl) && s[pl] == '=')) {
			o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? "&" : "", (int)len, s);
		}
		s += len + (amp ? 1 : 0);
	}
}

/* ---- forcing the label ---------------------------------------------------- */

struct force_case {
	const char *what;
	const char *query;
	const char *filters;   /* the decoded filters JSON expected (json_equal) */
	const char *rest;      /* the other parameters, as they must come out */
};

static const struct force_case force_cases[] = {
	{ "no query gets only the owner filter", "",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "other parameters are kept and the filter appended", "all=1&size=0",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "all=1&size=0" },
	{ "a client label filter is kept beside ours (dockerd ANDs them)",
	  "filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D",
	  "{\"label\":{\"a=b\":true,\"" OWNER_ENTRY "\":true}}", "" },
	{ "the owner label with another value is replaced",
	  "filters={\"label\":{\"" LABEL "=ffffffffffffffff\":true}}",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "the bare owner label name is replaced", "filters={\"label\":{\"" LABEL "\":true}}",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "the owner label with an empty value is replaced",
	  "filters={\"label\":{\"" LABEL "=\":false}}", "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "a longer label name is another label and kept",
	  "filters={\"label\":{\"" LABEL "x=1\":true}}",
	  "{\"label\":{\"" LABEL "x=1\":true,\"" OWNER_ENTRY "\":true}}", "" },
	{ "label names are exact: another case is another label",
	  "filters={\"label\":{\"ORG.dockmux.owner=x\":true}}",
	  "{\"label\":{\"ORG.dockmux.owner=x\":true,\"" OWNER_ENTRY "\":true}}", "" },
	{ "the legacy list form becomes the map form",
	  "filters={\"label\":[\"a=b\",\"" LABEL "=x\"],\"name\":[\"web\"]}",
	  "{\"label\":{\"a=b\":true,\"" OWNER_ENTRY "\":true},\"name\":{\"web\":true}}", "" },
	{ "a legacy null entry is an empty string entry",
	  "filters={\"name\":[null]}", "{\"name\":{\"\":true},\"label\":{\"" OWNER_ENTRY "\":true}}",
	  "" },
	{ "other filters are kept with their false values",
	  "filters={\"status\":{\"running\":true},\"dangling\":{\"false\":false}}&all=1",
	  "{\"status\":{\"running\":true},\"dangling\":{\"false\":false},"
	  "\"label\":{\"" OWNER_ENTRY "\":true}}", "all=1" },
	{ "a label! filter is kept (it only narrows)",
	  "filters={\"label!\":{\"" LABEL "=" OWNER "\":true}}",
	  "{\"label!\":{\"" OWNER_ENTRY "\":true},\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "null filters are no filters", "filters=null", "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "empty filters are no filters", "filters=&all=1", "{\"label\":{\"" OWNER_ENTRY "\":true}}",
	  "all=1" },
	{ "a valueless filters key is no filters", "filters", "{\"label\":{\"" OWNER_ENTRY "\":true}}",
	  "" },
	{ "a null label filter gets ours", "filters={\"label\":null}",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "an encoded filters key is the filters parameter", "%66ilters={\"label\":{\"" LABEL "\":true}}",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "a plus in the value is a space", "filters={\"name\":{\"a+b\":true}}",
	  "{\"name\":{\"a b\":true},\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "escapes inside the JSON are decoded", "filters={\"l\\u0061bel\":{\"" LABEL "\":true}}",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "" },
	{ "empty segments are dropped", "&&all=1&&",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "all=1" },
	{ "raw bytes of other parameters are copied unchanged", "since=1%2B2&until=x+y%20z",
	  "{\"label\":{\"" OWNER_ENTRY "\":true}}", "since=1%2B2&until=x+y%20z" },
};

static void force(const char *q, char *out, size_t cap, size_t *len, int want, char *msg)
{
	int r = filters_force_label(q, strlen(q), LABEL, OWNER, out, cap, len, msg, FILTERS_MSG_MAX);

	cr_assert_eq(r, want, "query \"%s\": %d %s", q, r, msg);
}

Test(filters, forces_the_owner_label_and_keeps_the_rest)
{
	for (size_t i = 0; i < N_ELEMS(force_cases); i++) {
		const struct force_case *c = &force_cases[i];
		char out[8192], msg[FILTERS_MSG_MAX] = "", rest[4096];
		struct split s = { 0 };
		json_t *got, *want;
		size_t len = 0;

		force(c->query, out, sizeof(out), &len, 0, msg);
		cr_expect_eq(len, strlen(out), "%s", c->what);
		cr_expect_eq(filters_query_each(out, len, split_param, &s, msg, sizeof(msg)), 0,
			     "%s: output does not parse: %s", c->what, out);
		cr_expect_eq(s.found, 1, "%s: %d filters in %s", c->what, s.found, out);
		got = json_loads(s.value, JSON_REJECT_DUPLICATES, NULL);
		want = json_loads(c->filters, 0, NULL);
		cr_assert_not_null(want, "%s: bad expectation", c->what);
		cr_expect(json_equal(got, want), "%s: got %s", c->what, s.value);
		rest_of(out, "filters", rest, sizeof(rest));
		cr_expect_str_eq(rest, c->rest, "%s: %s", c->what, out);
		cr_expect_leq(len + 1, FILTERS_OUT_MAX(strlen(c->query), strlen(LABEL), strlen(OWNER)));
		json_decref(got);
		json_decref(want);
	}
}

Test(filters, output_is_canonical_and_a_second_rewrite_changes_nothing)
{
	static const char q[] = "all=1&filters={\"label\":[\"a=b\"],\"name\":[\"x+y\"]}";
	char a[4096], b[4096], msg[FILTERS_MSG_MAX];
	size_t la, lb;

	force(q, a, sizeof(a), &la, 0, msg);
	force(a, b, sizeof(b), &lb, 0, msg);
	cr_expect_str_eq(a, b);
	/* only unreserved bytes are left bare in our parameter */
	cr_expect(strstr(a, "filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%2C%22" "org.dockmux.owner"
			 "%3D" OWNER "%22%3Atrue%7D") != NULL, "%s", a);
}

struct bad_case {
	const char *what;
	const char *query;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "a semicolon is refused (Go versions read it two ways)", "all=1;filters={}", "';'" },
	{ "a semicolon in another parameter is refused too", "x=a;b&filters=", NULL },
	{ "a bad escape in filters is refused", "filters=%7", "percent escape" },
	{ "a bad escape in another parameter is refused (ParseForm fails)", "all=%zz", NULL },
	{ "an escape cut by the end is refused", "all=1%", NULL },
	{ "filters given twice is refused", "filters={}&filters={\"label\":{}}", "repeated" },
	{ "filters given twice, once encoded, is refused", "filters={}&%66ilters={}", "repeated" },
	{ "filters that are not JSON are refused", "filters={label", "not valid JSON" },
	{ "filters with a trailing value are refused", "filters={}{}", NULL },
	{ "filters that are an array are refused", "filters=[]", "must be a JSON object" },
	{ "filters that are a string are refused", "filters=\"label\"", NULL },
	{ "a filter that is a string is refused", "filters={\"label\":\"a=b\"}", "maps of booleans" },
	{ "a filter map with a number is refused", "filters={\"label\":{\"a\":1}}", NULL },
	{ "a filter map with a string is refused", "filters={\"label\":{\"a\":\"true\"}}", NULL },
	{ "a filter list with a number is refused", "filters={\"label\":[1]}", NULL },
	{ "the two forms mixed are refused", "filters={\"label\":[\"a\"],\"name\":{\"b\":true}}",
	  "mix" },
	{ "a repeated filter key is refused", "filters={\"label\":{},\"label\":{}}", "repeated key" },
	{ "a NUL in the JSON is refused", "filters={\"label\":{\"a%00\":true}}", NULL },
	{ "a raw control byte is refused", "all=1\t&filters=", "control byte" },
	{ "a raw blank is refused", "all=1 2", NULL },
};

Test(filters, refuses_what_dockerd_answers_400_or_reads_two_ways)
{
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char out[4096] = "untouched", msg[FILTERS_MSG_MAX] = "";
		size_t len = 12345;
		int r = filters_force_label(c->query, strlen(c->query), LABEL, OWNER, out, sizeof(out),
					    &len, msg, sizeof(msg));

		cr_expect_eq(r, FILTERS_BAD, "%s: %d", c->what, r);
		cr_expect_eq(len, 12345, "%s: out_len written", c->what);
		cr_expect_eq(strncmp(msg, "dockmux isolation: ", 19), 0, "%s: %s", c->what, msg);
		if (c->msg)
			cr_expect(strstr(msg, c->msg) != NULL, "%s: msg \"%s\"", c->what, msg);
	}
}

Test(filters, reports_enospc_and_the_bound_suffices_for_the_worst_case)
{
	char q[2048], *out, msg[FILTERS_MSG_MAX];
	size_t n = 0, len, cap;

	/* the legacy list of short distinct strings grows the most */
	n = (size_t)snprintf(q, sizeof(q), "filters={\"label\":[");
	for (int i = 0; n < sizeof(q) - 16; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%s\"%c%c\"", i ? "," : "",
				      'a' + i % 26, 'a' + i / 26 % 26);
	n += (size_t)snprintf(q + n, sizeof(q) - n, "]}");
	cap = FILTERS_OUT_MAX(n, strlen(LABEL), strlen(OWNER));
	out = malloc(cap);
	cr_assert_not_null(out);
	cr_expect_eq(filters_force_label(q, n, LABEL, OWNER, out, cap, &len, msg, sizeof(msg)), 0,
		     "%s", msg);
	cr_expect_lt(len, cap);
	cr_expect_eq(filters_force_label(q, n, LABEL, OWNER, out, len, &len, msg, sizeof(msg)),
		     -ENOSPC);
	cr_expect_eq(filters_force_label(q, n, LABEL, OWNER, out, len + 1, &len, msg, sizeof(msg)), 0);
	free(out);
}

Test(filters, refuses_bad_arguments)
{
	char out[64], msg[FILTERS_MSG_MAX];
	size_t len;

	cr_expect_eq(filters_force_label("", 0, "", OWNER, out, sizeof(out), &len, msg, sizeof(msg)),
		     -EINVAL);
	cr_expect_eq(filters_force_label("", 0, "a=b", OWNER, out, sizeof(out), &len, msg,
					 sizeof(msg)), -EINVAL);
	cr_expect_eq(filters_force_label("", 0, LABEL, "x y", out, sizeof(out), &len, msg,
					 sizeof(msg)), -EINVAL);
	cr_expect_eq(filters_force_label(NULL, 3, LABEL, OWNER, out, sizeof(out), &len, msg,
					 sizeof(msg)), -EINVAL);
	cr_expect_eq(filters_force_label("", 0, LABEL, OWNER, NULL, 0, &len, msg, sizeof(msg)),
		     -EINVAL);
	cr_expect_eq(filters_query_each("a", 1, NULL, NULL, msg, sizeof(msg)), -EINVAL);
}

/* ---- /build labels -------------------------------------------------------- */

struct stamp_case {
	const char *what;
	const char *query;
	const char *labels;   /* decoded labels JSON expected; NULL: refused */
};

static const struct stamp_case stamp_cases[] = {
	{ "no labels get the owner label", "t=x", "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "empty labels get the owner label", "labels=", "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "null labels get the owner label", "labels=null", "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "client labels are kept", "labels={\"a\":\"b\",\"c\":null}",
	  "{\"a\":\"b\",\"c\":null,\"" LABEL "\":\"" OWNER "\"}" },
	{ "a forged owner label is replaced", "labels={\"" LABEL "\":\"ffff\"}",
	  "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "labels as a list are refused", "labels=[\"a=b\"]", NULL },
	{ "labels with an object value are refused", "labels={\"a\":{}}", NULL },
	{ "labels given twice are refused", "labels={}&labels={}", NULL },
};

struct labels_split {
	char value[1024];
	int found;
};

static int labels_param(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct labels_split *s = arg;

	if (kl == 6 && !memcmp(k, "labels", 6)) {
		s->found++;
		memcpy(s->value, v, vl);
		s->value[vl] = '\0';
	}
	return 0;
}

Test(filters, stamps_the_owner_label_into_build_labels)
{
	for (size_t i = 0; i < N_ELEMS(stamp_cases); i++) {
		const struct stamp_case *c = &stamp_cases[i];
		char out[4096], msg[FILTERS_MSG_MAX] = "";
		size_t len;
		int r = filters_stamp_labels(c->query, strlen(c->query), LABEL, OWNER, out, sizeof(out),
					     &len, msg, sizeof(msg));

		if (!c->labels) {
			cr_expect_eq(r, FILTERS_BAD, "%s: %d", c->what, r);
			continue;
		}
		cr_expect_eq(r, 0, "%s: %d %s", c->what, r, msg);
		if (!r) {
			struct labels_split s = { .found = 0 };
			json_t *got, *want = json_loads(c->labels, 0, NULL);

			cr_expect_eq(filters_query_each(out, len, labels_param, &s, msg, sizeof(msg)), 0);
			cr_expect_eq(s.found, 1, "%s", c->what);
			got = json_loads(s.value, 0, NULL);
			cr_expect(json_equal(got, want), "%s: %s", c->what, s.value);
			json_decref(got);
			json_decref(want);
		}
	}
}

/* ---- query decoding ------------------------------------------------------- */

struct pair_log {
	char text[1024];
	size_t n;
};

static int log_pair(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct pair_log *l = arg;

	l->n += (size_t)snprintf(l->text + l->n, sizeof(l->text) - l->n, "[%.*s]=[%.*s]", (int)kl, k,
				 (int)vl, v);
	return 0;
}

static int stop_at_b(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	(void)v;
	(void)vl;
	(*(int *)arg)++;
	return kl == 1 && k[0] == 'b' ? 7 : 0;
}

Test(filters, walks_parameters_the_way_go_parses_a_query)
{
	static const struct { const char *q, *want; } cases[] = {
		{ "a=1&b=2", "[a]=[1][b]=[2]" },
		{ "a&b=", "[a]=[][b]=[]" },
		{ "a=1=2", "[a]=[1=2]" },
		{ "=x", "[]=[x]" },
		{ "a+b=c+d", "[a b]=[c d]" },
		{ "%41%42=%7e%7E", "[AB]=[~~]" },
		{ "a=%2B%26%3D", "[a]=[+&=]" },
		{ "&&a=1&&", "[a]=[1]" },
		{ "", "" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct pair_log l = { "", 0 };
		char msg[FILTERS_MSG_MAX];

		cr_expect_eq(filters_query_each(cases[i].q, strlen(cases[i].q), log_pair, &l, msg,
						sizeof(msg)), 0, "%s", cases[i].q);
		cr_expect_str_eq(l.text, cases[i].want, "%s", cases[i].q);
	}
}

Test(filters, walk_stops_with_the_callback_value_and_refuses_bad_queries_whole)
{
	char msg[FILTERS_MSG_MAX];
	int calls = 0;

	cr_expect_eq(filters_query_each("a=1&b=2&c=3", 11, stop_at_b, &calls, msg, sizeof(msg)), 7);
	cr_expect_eq(calls, 2);
	calls = 0;
	cr_expect_eq(filters_query_each("a=1&b=%g0", 9, stop_at_b, &calls, msg, sizeof(msg)),
		     FILTERS_BAD);
	cr_expect_eq(calls, 0, "fn called before the query was validated");
	cr_expect_eq(filters_query_each("a=1;b", 5, stop_at_b, &calls, msg, sizeof(msg)), FILTERS_BAD);
	cr_expect_eq(calls, 0);
}

/* ---- form bodies ---------------------------------------------------------- */

Test(filters, knows_the_content_types_go_parses_as_a_form)
{
	static const struct { const char *ct; bool form; } cases[] = {
		{ "application/x-www-form-urlencoded", true },
		{ "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8", true },
		{ " application/x-www-form-urlencoded ;", true },
		{ "multipart/form-data; boundary=x", true },
		{ "MULT\xc4\xb0PART/FORM-DATA", true },   /* U+0130 lowers to 'i' in Go */
		{ "application/json", false },
		{ "application/x-tar", false },
		{ "text/plain", false },
		{ "", false },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		cr_expect_eq(filters_form_content_type(cases[i].ct, strlen(cases[i].ct)), cases[i].form,
			     "%s", cases[i].ct);
	cr_expect_eq(filters_form_content_type(NULL, 0), false);
}
