/* tests/core_policy.c: request policy (core/policy.c), table-driven: path
 * normalisation vectors, API area mapping, read-only, allowlist, deny rules,
 * the bypasses other Docker-socket proxies suffered (FIELD-NOTES "Paths and
 * versions"), over-matching, spec errors and limits, and the describe string.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- normalisation -------------------------------------------------------- */

struct norm_case {
	const char *in;
	const char *out;   /* NULL: -EINVAL */
};

static const struct norm_case norm_cases[] = {
	/* version prefix */
	{ "/v1.41/containers/json", "/containers/json" },
	{ "/v1.44/_ping", "/_ping" },
	{ "/v1.41", "/" },
	{ "/v1.41/", "/" },
	{ "/v01.041/info", "/info" },
	{ "/v1/containers", "/v1/containers" },           /* not the exact shape: stays */
	{ "/V1.41/containers", "/V1.41/containers" },     /* uppercase: not a version */
	{ "/v1.41.0/containers", "/v1.41.0/containers" },
	{ "/v1./containers", "/v1./containers" },
	{ "/v.41/containers", "/v.41/containers" },
	{ "/v1.41/v1.41/containers", "/v1.41/containers" },   /* only the first segment */
	{ "/containers/v1.41/json", "/containers/v1.41/json" },
	{ "/%761.41/info", "/info" },                     /* decoded before the strip */
	/* slashes and dots */
	{ "/", "/" },
	{ "//", "/" },
	{ "//containers//json", "/containers/json" },
	{ "/containers/json/", "/containers/json" },
	{ "/./containers/./json", "/containers/json" },
	{ "/containers/../images/json", "/images/json" },
	{ "/v1.41/../containers/json", "/containers/json" },
	{ "/containers/x/../../v1.41/images/json", "/images/json" },
	{ "/containers/..", "/" },
	{ "/containers/x/..", "/containers" },
	{ "/a/b/c/../../d", "/a/d" },
	{ "/...", "/..." },                               /* three dots: a name */
	{ "/.x/..y", "/.x/..y" },
	/* percent-decoding */
	{ "/%2e%2e", NULL },                              /* ".." above the root */
	{ "/containers/%2e%2e/images/json", "/images/json" },
	{ "/containers/%2E%2e/images/json", "/images/json" },
	{ "/containers/x/%2E%2e/", "/containers" },
	{ "/%2e/info", "/info" },
	{ "/containers/my%20app/json", "/containers/my app/json" },
	{ "/containers/%41b/json", "/containers/Ab/json" },
	{ "/images/%3F/json", "/images/?/json" },         /* decoded '?' is a name byte */
	{ "/images/%23/json", "/images/#/json" },
	{ "/images/%25/json", "/images/%/json" },
	{ "/containers%2Fjson", NULL },
	{ "/containers%2fjson", NULL },
	{ "/containers/x%2F..%2F..%2Fimages/json", NULL },
	{ "/containers/%00/json", NULL },
	{ "/containers/%zz/json", NULL },
	{ "/containers/%4", NULL },
	{ "/containers/%", NULL },
	{ "/containers/%0a/json", NULL },                 /* decoded control byte */
	{ "/containers/%7f/json", NULL },
	{ "/containers/\t/json", NULL },                  /* raw control byte */
	{ "/containers/\x01/json", NULL },
	/* query and fragment */
	{ "/containers/json?all=1&x=/../", "/containers/json" },
	{ "/containers/json?", "/containers/json" },
	{ "/?x", "/" },
	{ "/containers/json?%zz#", "/containers/json" },  /* the query is not judged */
	{ "/containers/x#/exec", NULL },                  /* Go keeps '#' in the path */
	{ "/containers/json#", NULL },
	/* not origin-form */
	{ "", NULL },
	{ "*", NULL },
	{ "http://x/containers", NULL },
	{ "x.sock:80", NULL },
	{ "containers/json", NULL },
	{ "?/containers", NULL },
	/* above the root */
	{ "/..", NULL },
	{ "/../containers", NULL },
	{ "/containers/../../images", NULL },
	{ "/v1.41/../../containers", NULL },
};

Test(policy, normalize_vectors)
{
	for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		char out[256];
		int ret;

		memset(out, 'Z', sizeof(out));
		ret = policy_normalize(c->in, strlen(c->in), out, sizeof(out));
		if (!c->out) {
			cr_expect_eq(ret, -EINVAL, "\"%s\": %d, want -EINVAL", c->in, ret);
			continue;
		}
		cr_expect_eq(ret, 0, "\"%s\": %d", c->in, ret);
		if (!ret)
			cr_expect_str_eq(out, c->out, "\"%s\"", c->in);
	}
}

Test(policy, normalize_reads_only_the_span)
{
	char out[64];

	cr_assert_eq(policy_normalize("/infoXYZ", 5, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/info");
	cr_expect_eq(policy_normalize("/info%2", 6, out, sizeof(out)), -EINVAL,
		     "a '%%' cut by the span end is bad hex");
	cr_expect_eq(policy_normalize(NULL, 0, out, sizeof(out)), -EINVAL);
}

Test(policy, normalize_reports_enospc_and_cap_over_tlen_suffices)
{
	for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		size_t tlen = strlen(c->in);
		char out[256];

		if (!c->out)
			continue;
		cr_expect_eq(policy_normalize(c->in, tlen, out, tlen + 1), 0, "\"%s\"", c->in);
		cr_expect_eq(policy_normalize(c->in, tlen, out, strlen(c->out)), -ENOSPC,
			     "\"%s\" into %zu bytes", c->in, strlen(c->out));
	}
	cr_expect_eq(policy_normalize("/", 1, NULL, 0), -ENOSPC);
}

Test(policy, normalize_is_idempotent_on_plain_output)
{
	for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		char again[256];

		/* decoded '%', '?', '#' and a surviving version segment change meaning */
		if (!c->out || strpbrk(c->out, "%?#") || !strncmp(c->out, "/v1.41", 6))
			continue;
		cr_assert_eq(policy_normalize(c->out, strlen(c->out), again, sizeof(again)), 0);
		cr_expect_str_eq(again, c->out);
	}
}

/* ---- areas -------------------------------------------------------------- */

struct area_case {
	const char *method;
	const char *path;
	const char *area;   /* NULL: none */
};

static const struct area_case area_cases[] = {
	{ "GET", "/_ping", "ping" },
	{ "HEAD", "/_ping", "ping" },
	{ "GET", "/version", "version" },
	{ "GET", "/info", "info" },
	{ "GET", "/events", "events" },
	{ "GET", "/system/df", "system" },
	{ "POST", "/auth", "system" },
	{ "GET", "/containers/json", "containers" },
	{ "POST", "/containers/create", "containers" },
	{ "GET", "/containers/abc/json", "containers" },
	{ "GET", "/containers/abc/archive", "containers" },
	{ "PUT", "/containers/abc/archive", "containers" },
	{ "GET", "/containers/abc/export", "containers" },
	{ "POST", "/containers/abc/attach", "containers" },
	{ "DELETE", "/containers/exec", "containers" },   /* a container named "exec" */
	{ "GET", "/containers/abc/exec", "containers" },  /* only POST creates an exec */
	{ "POST", "/containers/abc/exec", "exec" },
	{ "POST", "/containers/web/db/exec", "exec" },    /* {name:.*}: a link alias */
	{ "POST", "/exec/123/start", "exec" },
	{ "GET", "/exec/123/json", "exec" },
	{ "GET", "/images/json", "images" },
	{ "GET", "/images/docker.io/library/nginx/json", "images" },
	{ "POST", "/commit", "images" },
	{ "POST", "/build", "build" },
	{ "POST", "/build/prune", "build" },
	{ "POST", "/session", "build" },
	{ "POST", "/grpc", "build" },
	{ "GET", "/networks", "networks" },
	{ "POST", "/networks/create", "networks" },
	{ "GET", "/volumes", "volumes" },
	{ "GET", "/plugins", "plugins" },
	{ "POST", "/swarm/init", "swarm" },
	{ "GET", "/nodes", "nodes" },
	{ "GET", "/services", "services" },
	{ "GET", "/tasks", "tasks" },
	{ "GET", "/secrets", "secrets" },
	{ "GET", "/configs", "configs" },
	{ "GET", "/distribution/nginx/json", "distribution" },
	{ "GET", "/", NULL },
	{ "GET", "/containersx/json", NULL },
	{ "GET", "/Containers/json", NULL },
	{ "GET", "/v1/containers/json", NULL },
	{ "GET", "/ping", NULL },
};

Test(policy, area_of_each_path_group)
{
	for (size_t i = 0; i < N_ELEMS(area_cases); i++) {
		const struct area_case *c = &area_cases[i];
		const char *a = policy_area(c->method, strlen(c->method), c->path);

		if (!c->area)
			cr_expect_null(a, "%s %s: \"%s\"", c->method, c->path, a);
		else
			cr_expect(a && !strcmp(a, c->area), "%s %s: \"%s\", want \"%s\"",
				  c->method, c->path, a ? a : "(null)", c->area);
	}
}

/* ---- verdicts ----------------------------------------------------------- */

struct verdict_case {
	bool read_only;
	const char *allow;
	const char *deny;
	const char *method;
	const char *target;
	enum policy_verdict want;
	const char *why;    /* on DENY/BAD_PATH: exact message, or NULL */
};

static void run_verdicts(const struct verdict_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct verdict_case *c = &cases[i];
		struct policy *p = NULL;
		const char *err = NULL;
		char why[POLICY_WHY_MAX];
		enum policy_verdict v;
		int ret;

		ret = policy_new(c->read_only, c->allow, c->deny, &p, &err);
		cr_assert_eq(ret, 0, "policy_new(%d, %s, %s): %s", c->read_only, c->allow,
			     c->deny, err);
		strcpy(why, "untouched");
		v = policy_check(p, c->method, strlen(c->method), c->target, strlen(c->target),
				 why, sizeof(why));
		cr_expect_eq(v, c->want, "[%zu] %s %s under ro=%d allow=%s deny=%s: %d (%s), want %d",
			     i, c->method, c->target, c->read_only, c->allow, c->deny, v, why,
			     c->want);
		if (v == c->want && c->why)
			cr_expect_str_eq(why, c->why, "[%zu] %s %s", i, c->method, c->target);
		policy_free(p);
	}
}

Test(policy, read_only_passes_get_and_head_denies_writes)
{
	static const struct verdict_case cases[] = {
		{ true, NULL, NULL, "GET", "/containers/json", POLICY_ALLOW, NULL },
		{ true, NULL, NULL, "HEAD", "/_ping", POLICY_ALLOW, NULL },
		{ true, NULL, NULL, "GET", "/v1.41/events?since=1", POLICY_ALLOW, NULL },
		{ true, NULL, NULL, "POST", "/containers/create", POLICY_DENY,
		  "dockmux policy: read-only (POST not allowed)" },
		{ true, NULL, NULL, "PUT", "/containers/x/archive", POLICY_DENY,
		  "dockmux policy: read-only (PUT not allowed)" },
		{ true, NULL, NULL, "DELETE", "/containers/x", POLICY_DENY,
		  "dockmux policy: read-only (DELETE not allowed)" },
		{ true, NULL, NULL, "PATCH", "/x", POLICY_DENY, NULL },
		{ true, NULL, NULL, "get", "/containers/json", POLICY_DENY,
		  "dockmux policy: read-only (get not allowed)" },   /* methods are case-sensitive */
		{ true, NULL, NULL, "GETX", "/info", POLICY_DENY, NULL },
		{ true, NULL, NULL, "", "/info", POLICY_DENY, NULL },
		{ false, NULL, NULL, "POST", "/containers/create", POLICY_ALLOW, NULL },
	};

	run_verdicts(cases, N_ELEMS(cases));
}

Test(policy, allowlist_passes_listed_areas_and_names_the_missing_one)
{
	static const struct verdict_case cases[] = {
		{ false, "containers,images", NULL, "GET", "/v1.41/containers/json", POLICY_ALLOW, NULL },
		{ false, "containers,images", NULL, "POST", "/images/create?fromImage=x", POLICY_ALLOW, NULL },
		{ false, "containers,images", NULL, "POST", "/commit", POLICY_ALLOW, NULL },
		{ false, "containers,images", NULL, "GET", "/containers/x/archive", POLICY_ALLOW, NULL },
		{ false, "containers,images", NULL, "POST", "/containers/x/exec", POLICY_DENY,
		  "dockmux policy: area \"exec\" not in the allowlist" },
		{ false, "containers,images", NULL, "POST", "/containers/web/db/exec", POLICY_DENY,
		  "dockmux policy: area \"exec\" not in the allowlist" },
		{ false, "containers,images", NULL, "GET", "/_ping", POLICY_DENY,
		  "dockmux policy: area \"ping\" not in the allowlist" },
		{ false, "containers,images", NULL, "POST", "/session", POLICY_DENY,
		  "dockmux policy: area \"build\" not in the allowlist" },
		{ false, "containers,images", NULL, "GET", "/", POLICY_DENY,
		  "dockmux policy: path in no API area of the allowlist" },
		{ false, "containers,images", NULL, "GET", "/nope", POLICY_DENY, NULL },
		{ false, " ping , version ", NULL, "HEAD", "/_ping", POLICY_ALLOW, NULL },
		{ false, "exec", NULL, "POST", "/containers/x/exec", POLICY_ALLOW, NULL },
		{ false, "exec", NULL, "GET", "/containers/x/json", POLICY_DENY,
		  "dockmux policy: area \"containers\" not in the allowlist" },
		{ false, "", NULL, "DELETE", "/nope", POLICY_ALLOW, NULL },   /* "": every area */
		{ true, "containers", NULL, "POST", "/containers/create", POLICY_DENY,
		  "dockmux policy: read-only (POST not allowed)" },          /* read-only first */
	};

	run_verdicts(cases, N_ELEMS(cases));
}

Test(policy, deny_rules_match_segment_by_segment)
{
	static const struct verdict_case cases[] = {
		/* exact */
		{ false, NULL, "POST /containers/create", "POST", "/containers/create", POLICY_DENY,
		  "dockmux policy: denied by rule \"POST /containers/create\"" },
		{ false, NULL, "POST /containers/create", "GET", "/containers/create", POLICY_ALLOW, NULL },
		{ false, NULL, "POST /containers/create", "POST", "/containers/create/x", POLICY_ALLOW, NULL },
		{ false, NULL, "POST /containers/create", "POST", "/containers", POLICY_ALLOW, NULL },
		{ false, NULL, "POST /containers/create", "post", "/containers/create", POLICY_ALLOW, NULL },
		/* '*' is exactly one segment */
		{ false, NULL, "POST /containers/*/exec", "POST", "/containers/abc/exec", POLICY_DENY,
		  "dockmux policy: denied by rule \"POST /containers/*/exec\"" },
		{ false, NULL, "POST /containers/*/exec", "POST", "/containers/a/b/exec", POLICY_ALLOW, NULL },
		{ false, NULL, "POST /containers/*/exec", "POST", "/containers/exec", POLICY_ALLOW, NULL },
		/* '**' is zero or more, final or not */
		{ false, NULL, "DELETE /images/**", "DELETE", "/images", POLICY_DENY, NULL },
		{ false, NULL, "DELETE /images/**", "DELETE", "/images/nginx", POLICY_DENY, NULL },
		{ false, NULL, "DELETE /images/**", "DELETE", "/images/docker.io/library/nginx", POLICY_DENY, NULL },
		{ false, NULL, "DELETE /images/**", "DELETE", "/imagesx", POLICY_ALLOW, NULL },
		{ false, NULL, "POST /containers/**/exec", "POST", "/containers/a/exec", POLICY_DENY, NULL },
		{ false, NULL, "POST /containers/**/exec", "POST", "/containers/web/db/exec", POLICY_DENY, NULL },
		{ false, NULL, "POST /containers/**/exec", "POST", "/containers/exec/x/json", POLICY_ALLOW, NULL },
		{ false, NULL, "* /**/x/**/y", "GET", "/a/x/b/x/c/y", POLICY_DENY, NULL },
		{ false, NULL, "* /**/x/**/y", "GET", "/a/x/b/y/c", POLICY_ALLOW, NULL },
		{ false, NULL, "/**", "GET", "/", POLICY_DENY, NULL },
		{ false, NULL, "/", "GET", "/", POLICY_DENY, NULL },
		{ false, NULL, "/", "GET", "/info", POLICY_ALLOW, NULL },
		/* method '*' and no method: any */
		{ false, NULL, "* /containers/*/export", "GET", "/containers/x/export", POLICY_DENY, NULL },
		{ false, NULL, "/containers/*/export", "BREW", "/containers/x/export", POLICY_DENY,
		  "dockmux policy: denied by rule \"/containers/*/export\"" },
		/* HEAD is GET, both ways */
		{ false, NULL, "GET /_ping", "HEAD", "/_ping", POLICY_DENY, NULL },
		{ false, NULL, "HEAD /_ping", "GET", "/_ping", POLICY_DENY,
		  "dockmux policy: denied by rule \"HEAD /_ping\"" },
		{ false, NULL, "HEAD /_ping", "POST", "/_ping", POLICY_ALLOW, NULL },
		/* the first matching rule is named; blanks and empty entries are fine */
		{ false, NULL, " ; GET /info ;; * /info ;", "PUT", "/info", POLICY_DENY,
		  "dockmux policy: denied by rule \"* /info\"" },
		{ false, NULL, "GET\t /info;\n* /info", "GET", "/info", POLICY_DENY,
		  "dockmux policy: denied by rule \"GET /info\"" },   /* one space in the message */
		/* rules see the normalised path */
		{ false, NULL, "GET /containers/json", "GET", "/v1.44/containers/json?all=1", POLICY_DENY, NULL },
		{ false, NULL, "GET /containers/Ab/json", "GET", "/containers/%41b/json", POLICY_DENY, NULL },
	};

	run_verdicts(cases, N_ELEMS(cases));
}

/* FIELD-NOTES "Paths and versions": every spelling that reaches dockerd's exec
 * route must meet the rule, or be refused as a bad path. */
Test(policy, bypass_attempts_are_denied)
{
	static const char *const rule = "POST /containers/*/exec";
	static const struct {
		const char *target;
		enum policy_verdict want;
	} cases[] = {
		{ "/containers/x/exec", POLICY_DENY },
		{ "//containers/x/exec", POLICY_DENY },
		{ "/containers//x//exec/", POLICY_DENY },
		{ "/v1.41/containers/x/exec", POLICY_DENY },
		{ "/v1.41/containers/x/../x/exec", POLICY_DENY },
		{ "/v1.41/../containers/x/exec", POLICY_DENY },
		{ "/v1.41/./containers/x/./exec", POLICY_DENY },
		{ "/containers/y/%2e%2e/x/exec", POLICY_DENY },
		{ "/containers/y/%2E%2e/x/exec", POLICY_DENY },
		{ "/containers/x/%65xec", POLICY_DENY },           /* %65 = 'e' */
		{ "/%63ontainers/x/exec", POLICY_DENY },
		{ "/images/../containers/x/exec", POLICY_DENY },
		{ "/containers/x/exec?x=/../../info", POLICY_DENY },
		{ "/containers/x%2Fexec", POLICY_BAD_PATH },
		{ "/containers/x/exec%00", POLICY_BAD_PATH },
		{ "/containers/x/exec#", POLICY_BAD_PATH },
		{ "/containers/x/exec%zz", POLICY_BAD_PATH },
		{ "/../containers/x/exec", POLICY_BAD_PATH },
		{ "/%2e%2e/containers/x/exec", POLICY_BAD_PATH },
		{ "http://docker/containers/x/exec", POLICY_BAD_PATH },
		/* version look-alikes dockerd may route: refused, not passed */
		{ "/V1.41/containers/x/exec", POLICY_BAD_PATH },
		{ "/v1/containers/x/exec", POLICY_BAD_PATH },
		{ "/v1.41.0/containers/x/exec", POLICY_BAD_PATH },
		{ "/v1.41./containers/x/exec", POLICY_BAD_PATH },
		{ "/v1.41/v1.41/containers/x/exec", POLICY_BAD_PATH },
		{ "/%56%31.41/containers/x/exec", POLICY_BAD_PATH },
		{ "/containers/../V1.41/containers/x/exec", POLICY_BAD_PATH },
		/* not the rule's method or path: allowed */
		{ "/containers/x/json", POLICY_ALLOW },
		{ "/Containers/x/exec", POLICY_ALLOW },               /* dockerd: 404 */
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct policy *p;
		char why[POLICY_WHY_MAX];
		enum policy_verdict v;

		cr_assert_eq(policy_new(false, NULL, rule, &p, NULL), 0);
		v = policy_check(p, "POST", 4, cases[i].target, strlen(cases[i].target), why, sizeof(why));
		cr_expect_eq(v, cases[i].want, "POST %s: %d (%s), want %d", cases[i].target, v, why,
			     cases[i].want);
		if (v == POLICY_DENY)
			cr_expect_str_eq(why, "dockmux policy: denied by rule \"POST /containers/*/exec\"");
		if (v == POLICY_BAD_PATH)
			cr_expect(!strncmp(why, "dockmux policy: path does not normalise", 39), "%s", why);
		policy_free(p);
	}
}

Test(policy, over_match_stays_within_segments)
{
	static const struct verdict_case cases[] = {
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/export", POLICY_DENY, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/exports-list", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/json", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/export/y", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/export", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/xexport", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containersx/x/export", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/archive", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers/*/export", "GET", "/containers/x/Export", POLICY_ALLOW, NULL },
		{ false, NULL, "/containers", "GET", "/containers/json", POLICY_ALLOW, NULL },
	};

	run_verdicts(cases, N_ELEMS(cases));
}

Test(policy, null_policy_allows_without_looking)
{
	char why[64] = "untouched";

	cr_expect_eq(policy_check(NULL, "POST", 4, "/%zz", 4, why, sizeof(why)), POLICY_ALLOW);
	cr_expect_eq(policy_check(NULL, "GET", 3, "*", 1, why, sizeof(why)), POLICY_ALLOW);
	cr_expect_str_eq(why, "untouched");
}

Test(policy, empty_policy_allows_but_still_refuses_bad_paths)
{
	struct policy *p;
	char why[POLICY_WHY_MAX];

	cr_assert_eq(policy_new(false, "", "", &p, NULL), 0);
	cr_expect_eq(policy_check(p, "POST", 4, "/containers/x/exec", 18, why, sizeof(why)),
		     POLICY_ALLOW);
	cr_expect_eq(policy_check(p, "GET", 3, "/%2e%2e", 7, why, sizeof(why)), POLICY_BAD_PATH);
	cr_expect_str_eq(why, "dockmux policy: path does not normalise");
	policy_free(p);
}

Test(policy, overlong_path_is_refused)
{
	static char target[POLICY_MAX_PATH + 16];
	struct policy *p;
	char why[POLICY_WHY_MAX];

	memset(target, 'a', sizeof(target));
	target[0] = '/';
	cr_assert_eq(policy_new(false, NULL, NULL, &p, NULL), 0);
	cr_expect_eq(policy_check(p, "GET", 3, target, sizeof(target), why, sizeof(why)),
		     POLICY_BAD_PATH);
	cr_expect_str_eq(why, "dockmux policy: path too long");
	cr_expect_eq(policy_check(p, "GET", 3, target, POLICY_MAX_PATH - 1, why, sizeof(why)),
		     POLICY_ALLOW);
	policy_free(p);
}

Test(policy, why_is_truncated_and_safe_for_json)
{
	struct policy *p;
	char why[POLICY_WHY_MAX];
	char small[12];
	static const char hostile[] = "P\"O\\S\x01T\xff";
	char longm[100];

	cr_assert_eq(policy_new(true, NULL, NULL, &p, NULL), 0);
	memset(small, 'Z', sizeof(small));
	cr_expect_eq(policy_check(p, "POST", 4, "/info", 5, small, sizeof(small)), POLICY_DENY);
	cr_expect_str_eq(small, "dockmux pol");
	cr_expect_eq(policy_check(p, "POST", 4, "/info", 5, NULL, 0), POLICY_DENY);
	cr_expect_eq(policy_check(p, hostile, sizeof(hostile) - 1, "/info", 5, why, sizeof(why)),
		     POLICY_DENY);
	cr_expect_str_eq(why, "dockmux policy: read-only (P?O?S?T? not allowed)");
	memset(longm, 'M', sizeof(longm));
	cr_expect_eq(policy_check(p, longm, sizeof(longm), "/info", 5, why, sizeof(why)), POLICY_DENY);
	cr_expect_str_eq(why, "dockmux policy: read-only (MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM... not allowed)");
	policy_free(p);
}

/* ---- policy_new ---------------------------------------------------------- */

struct spec_case {
	const char *allow;
	const char *deny;
	const char *why;   /* NULL: accepted; else the start of the message */
};

static const struct spec_case spec_cases[] = {
	{ NULL, NULL, NULL },
	{ "ping,version,info,events,system,containers,exec,images,build,networks,volumes,"
	  "plugins,swarm,nodes,services,tasks,secrets,configs,distribution", NULL, NULL },
	{ "containers,containers", NULL, NULL },
	{ "containers,shell", NULL, "policy: unknown API area" },
	{ "Containers", NULL, "policy: unknown API area" },
	{ "_ping", NULL, "policy: unknown API area" },          /* a path, not an area */
	{ "containers,", NULL, "policy: empty API area" },
	{ ",", NULL, "policy: empty API area" },
	{ " ", NULL, "policy: empty API area" },
	{ NULL, "POST /containers/*/exec;DELETE /images/**", NULL },
	{ NULL, "GET /_ping", NULL },
	{ NULL, "POST", "policy: deny rule needs a path" },
	{ NULL, "POST ", "policy: deny rule needs a path" },
	{ NULL, "POST containers", "policy: deny rule needs a path" },
	{ NULL, "POST/containers", "policy: deny rule method" },
	{ NULL, "PO\"ST /x", "policy: deny rule method" },
	{ NULL, "POST //containers", "policy: deny rule path is not normalised" },
	{ NULL, "POST /containers/", "policy: deny rule path is not normalised" },
	{ NULL, "POST /containers/./x", "policy: deny rule path is not normalised" },
	{ NULL, "POST /containers/../x", "policy: deny rule path is not normalised" },
	{ NULL, "POST /containers/%2e", "policy: deny rule path has" },
	{ NULL, "POST /containers?all=1", "policy: deny rule path has" },
	{ NULL, "POST /containers#x", "policy: deny rule path has" },
	{ NULL, "POST /contai ners", "policy: deny rule path has" },
	{ NULL, "POST /a\"b", "policy: deny rule path has" },
	{ NULL, "POST /a\\b", "policy: deny rule path has" },
	{ NULL, "POST /caf\xc3\xa9", "policy: deny rule path has" },
	{ NULL, "POST /containers/x*", "policy: deny rule '*'" },
	{ NULL, "POST /containers/***", "policy: deny rule '*'" },
	{ NULL, "POST /v1.41/containers", "policy: deny rule path must not carry" },
	{ NULL, "POST /V1/containers", "policy: deny rule path must not carry" },
	{ NULL, "POST /containers/v1.41", NULL },              /* only the first segment */
	{ NULL, "GET /info; POST", "policy: deny rule needs a path" },
	/* a rule method is one the parser lets through (exact case) or '*' */
	{ NULL, "delete /images/**", "policy: deny rule method is not GET, HEAD, POST, PUT, DELETE, "
				     "OPTIONS or '*'" },
	{ NULL, "Post /containers/*/exec", "policy: deny rule method is not" },
	{ NULL, "PATCH /containers/*", "policy: deny rule method is not" },
	{ NULL, "** /x", "policy: deny rule method is not" },
	{ NULL, "OPTIONS /x; PUT /x; DELETE /x; HEAD /x; GET /x; POST /x; * /x", NULL },
	/* runs of '**' are one '**' */
	{ NULL, "/**/**/**/x/**/**", NULL },
};

Test(policy, new_rejects_bad_specs_with_a_reason)
{
	for (size_t i = 0; i < N_ELEMS(spec_cases); i++) {
		const struct spec_case *c = &spec_cases[i];
		struct policy *p = (struct policy *)0x1;
		const char *why = NULL;
		int ret = policy_new(false, c->allow, c->deny, &p, &why);

		if (!c->why) {
			cr_expect_eq(ret, 0, "allow=%s deny=%s: %s", c->allow, c->deny, why);
			if (!ret)
				policy_free(p);
			continue;
		}
		cr_expect_eq(ret, -EINVAL, "allow=%s deny=%s", c->allow, c->deny);
		cr_expect_eq(p, (struct policy *)0x1, "out written on error");
		cr_expect(why && !strncmp(why, c->why, strlen(c->why)), "allow=%s deny=%s: \"%s\"",
			  c->allow, c->deny, why);
	}
	cr_expect_eq(policy_new(false, NULL, NULL, NULL, NULL), -EINVAL);
	policy_free(NULL);
}

static void spec_repeat(char *buf, size_t cap, const char *item, unsigned n)
{
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		cr_assert_lt(strlen(buf) + strlen(item) + 1, cap);
		strcat(buf, item);
	}
}

Test(policy, new_enforces_the_limits)
{
	static char spec[64 * 1024];
	char rule[POLICY_MAX_RULE_LEN + 2];
	struct policy *p;
	const char *why;

	spec_repeat(spec, sizeof(spec), "GET /info;", POLICY_MAX_RULES);
	cr_expect_eq(policy_new(false, NULL, spec, &p, &why), 0);
	policy_free(p);
	spec_repeat(spec, sizeof(spec), "GET /info;", POLICY_MAX_RULES + 1);
	cr_expect_eq(policy_new(false, NULL, spec, &p, &why), -E2BIG);
	cr_expect_str_eq(why, "policy: more than 64 deny rules");
	/* Empty entries are not rules. */
	spec_repeat(spec, sizeof(spec), "GET /info; ;", POLICY_MAX_RULES);
	cr_expect_eq(policy_new(false, NULL, spec, &p, &why), 0);
	policy_free(p);

	strcpy(spec, "GET ");
	for (unsigned i = 0; i < POLICY_MAX_RULE_SEGS; i++)
		strcat(spec, "/*");
	cr_expect_eq(policy_new(false, NULL, spec, &p, &why), 0);
	policy_free(p);
	strcat(spec, "/*");
	cr_expect_eq(policy_new(false, NULL, spec, &p, &why), -E2BIG);
	cr_expect_str_eq(why, "policy: deny rule has more than 32 segments");

	memset(rule, 'a', sizeof(rule));
	memcpy(rule, "GET /", 5);
	rule[POLICY_MAX_RULE_LEN] = '\0';
	cr_expect_eq(policy_new(false, NULL, rule, &p, &why), 0);
	policy_free(p);
	rule[POLICY_MAX_RULE_LEN] = 'a';
	rule[POLICY_MAX_RULE_LEN + 1] = '\0';
	cr_expect_eq(policy_new(false, NULL, rule, &p, &why), -E2BIG);
	cr_expect_str_eq(why, "policy: deny rule longer than 512 bytes");
}

Test(policy, a_long_rule_is_named_whole_in_why)
{
	char rule[POLICY_MAX_RULE_LEN + 1], want[POLICY_WHY_MAX], why[POLICY_WHY_MAX];
	struct policy *p;

	memset(rule, 'a', POLICY_MAX_RULE_LEN);
	memcpy(rule, "GET /", 5);
	rule[POLICY_MAX_RULE_LEN] = '\0';
	cr_assert_eq(policy_new(false, NULL, rule, &p, NULL), 0);
	cr_expect_eq(policy_check(p, "HEAD", 4, rule + 4, POLICY_MAX_RULE_LEN - 4, why, sizeof(why)),
		     POLICY_DENY);
	snprintf(want, sizeof(want), "dockmux policy: denied by rule \"%s\"", rule);
	cr_expect_str_eq(why, want);
	policy_free(p);
}

/* ---- describe ------------------------------------------------------------ */

Test(policy, describe_lists_the_parts)
{
	static const struct {
		bool read_only;
		const char *allow;
		const char *deny;
		const char *want;
	} cases[] = {
		{ false, NULL, NULL, "none" },
		{ false, "", " ; ", "none" },
		{ true, NULL, NULL, "read-only" },
		{ true, "images,containers", "GET /info;POST /build", "read-only,allow=containers+images,deny=2 rules" },
		{ false, "exec,ping,exec", NULL, "allow=ping+exec" },
		{ false, NULL, "GET /info", "deny=1 rule" },
		{ true, NULL, "GET /info", "read-only,deny=1 rule" },
	};
	char buf[128];

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct policy *p;

		cr_assert_eq(policy_new(cases[i].read_only, cases[i].allow, cases[i].deny, &p, NULL), 0);
		cr_expect_eq(policy_describe(p, buf, sizeof(buf)), 0);
		cr_expect_str_eq(buf, cases[i].want);
		policy_free(p);
	}
	cr_expect_eq(policy_describe(NULL, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "none");
}

Test(policy, describe_reports_enospc_truncated)
{
	struct policy *p;
	char buf[64];

	cr_assert_eq(policy_new(true, "containers,images", NULL, &p, NULL), 0);
	cr_expect_eq(policy_describe(p, buf, 16), -ENOSPC);
	cr_expect_str_eq(buf, "read-only,allow");
	cr_expect_eq(policy_describe(p, buf, strlen("read-only,allow=containers+images")), -ENOSPC);
	cr_expect_eq(policy_describe(p, buf, strlen("read-only,allow=containers+images") + 1), 0);
	cr_expect_eq(policy_describe(p, buf, 0), -ENOSPC);
	policy_free(p);
}

/* ---- the matcher: correct against a reference, and linear ---------------- */

/* Reference: does pattern segment list pat[0..np) match path segs[0..ns)?
 * A dynamic-programming table, written differently from policy.c's automaton:
 * m[i][j] = pat[i..] matches segs[j..]. */
static bool ref_match(const char *const *pat, size_t np, const char *const *segs, size_t ns)
{
	static bool m[40][300];

	for (size_t i = np + 1; i-- > 0;)
		for (size_t j = ns + 1; j-- > 0;) {
			if (i == np)
				m[i][j] = j == ns;
			else if (!strcmp(pat[i], "**"))
				m[i][j] = m[i + 1][j] || (j < ns && m[i][j + 1]);
			else
				m[i][j] = j < ns && (!strcmp(pat[i], "*") || !strcmp(pat[i], segs[j])) &&
					  m[i + 1][j + 1];
		}
	return m[0][0];
}

static void join(char *out, const char *prefix, const char *const *parts, size_t n)
{
	strcpy(out, prefix);
	for (size_t i = 0; i < n; i++) {
		strcat(out, "/");
		strcat(out, parts[i]);
	}
	if (n == 0)
		strcat(out, "/");
}

Test(policy, deny_rules_agree_with_a_reference_matcher_on_every_small_case)
{
	static const char *const pat_alpha[] = { "a", "b", "*", "**" };
	static const char *const seg_alpha[] = { "a", "b", "c" };
	const char *pat[5], *segs[6];
	unsigned long checked = 0;

	/* Every pattern of 0..5 positions over {a, b, *, **} against every path
	 * of 0..6 segments over {a, b, c}. */
	for (size_t np = 0; np <= 5; np++) {
		size_t npat = 1;

		for (size_t k = 0; k < np; k++)
			npat *= N_ELEMS(pat_alpha);
		for (size_t pi = 0; pi < npat; pi++) {
			char rule[64], target[64];
			struct policy *p;
			size_t x = pi;

			for (size_t k = 0; k < np; k++, x /= N_ELEMS(pat_alpha))
				pat[k] = pat_alpha[x % N_ELEMS(pat_alpha)];
			join(rule, "GET ", pat, np);
			if (np == 0)
				strcpy(rule, "GET /");
			cr_assert_eq(policy_new(false, NULL, rule, &p, NULL), 0, "%s", rule);
			for (size_t ns = 0; ns <= 6; ns++) {
				size_t nsegs = 1;

				for (size_t k = 0; k < ns; k++)
					nsegs *= N_ELEMS(seg_alpha);
				for (size_t si = 0; si < nsegs; si++) {
					enum policy_verdict v;
					bool want;
					size_t y = si;

					for (size_t k = 0; k < ns; k++, y /= N_ELEMS(seg_alpha))
						segs[k] = seg_alpha[y % N_ELEMS(seg_alpha)];
					join(target, "", segs, ns);
					want = ref_match(pat, np, segs, ns);
					v = policy_check(p, "GET", 3, target, strlen(target), NULL, 0);
					cr_assert_eq(v, want ? POLICY_DENY : POLICY_ALLOW,
						     "rule \"%s\", path %s: %d", rule, target, v);
					/* and the method still selects the rule */
					if (want)
						cr_assert_eq(policy_check(p, "PUT", 3, target, strlen(target),
									  NULL, 0), POLICY_ALLOW);
					checked++;
				}
			}
			policy_free(p);
		}
	}
	cr_assert_gt(checked, 1000000);
}

Test(policy, the_first_matching_rule_is_named_whatever_matches_later)
{
	static const struct verdict_case cases[] = {
		{ false, NULL, "GET /x; /**/b; /a/**; /a/b", "GET", "/a/b", POLICY_DENY,
		  "dockmux policy: denied by rule \"/**/b\"" },
		{ false, NULL, "POST /a/b; /a/*; /**", "PUT", "/a/b", POLICY_DENY,
		  "dockmux policy: denied by rule \"/a/*\"" },
		{ false, NULL, "/**/c; /**/b/**", "GET", "/a/b/c", POLICY_DENY,
		  "dockmux policy: denied by rule \"/**/c\"" },
		{ false, NULL, "/**/**/**/x/**/**", "GET", "/x", POLICY_DENY, NULL },
		{ false, NULL, "/**/**/**/x/**/**", "GET", "/a/b/x/c/d", POLICY_DENY, NULL },
		{ false, NULL, "/**/**/**/x/**/**", "GET", "/a/b/y/c/d", POLICY_ALLOW, NULL },
		/* the same literal in several rules and positions */
		{ false, NULL, "/a/a/b; /a/*/a; /*/a", "GET", "/b/a", POLICY_DENY,
		  "dockmux policy: denied by rule \"/*/a\"" },
		{ false, NULL, "/a/a/b; /a/*/a; /*/a", "GET", "/a/b/a", POLICY_DENY,
		  "dockmux policy: denied by rule \"/a/*/a\"" },
		{ false, NULL, "/a/a/b; /a/*/a; /*/a", "GET", "/a/b/b", POLICY_ALLOW, NULL },
	};

	run_verdicts(cases, N_ELEMS(cases));
}

/* A path of n segments "/s/s/.../last" into buf. */
static size_t many_segments(char *buf, size_t n, const char *s, const char *last)
{
	size_t o = 0;

	for (size_t i = 0; i + 1 < n; i++)
		o += (size_t)sprintf(buf + o, "/%s", s);
	o += (size_t)sprintf(buf + o, "/%s", last);
	return o;
}

Test(policy, path_of_more_than_max_segments_is_refused)
{
	static char target[8 * POLICY_MAX_PATH_SEGS + 64];
	char why[POLICY_WHY_MAX];
	struct policy *p;
	size_t n;

	cr_assert_eq(policy_new(false, NULL, "POST /containers/**/exec", &p, NULL), 0);
	n = (size_t)sprintf(target, "/containers");
	n += many_segments(target + n, POLICY_MAX_PATH_SEGS - 1, "a", "exec");
	cr_expect_eq(policy_check(p, "POST", 4, target, n, why, sizeof(why)), POLICY_DENY);
	n = (size_t)sprintf(target, "/containers");
	n += many_segments(target + n, POLICY_MAX_PATH_SEGS, "a", "exec");
	cr_expect_eq(policy_check(p, "POST", 4, target, n, why, sizeof(why)), POLICY_BAD_PATH);
	cr_expect_str_eq(why, "dockmux policy: path has more than 256 segments");
	/* Segments are counted after normalisation. */
	n = (size_t)sprintf(target, "/containers");
	for (unsigned i = 0; i < POLICY_MAX_PATH_SEGS; i++)
		n += (size_t)sprintf(target + n, "/x/..");
	n += (size_t)sprintf(target + n, "/a/exec");
	cr_expect_eq(policy_check(p, "POST", 4, target, n, why, sizeof(why)), POLICY_DENY);
	policy_free(p);
	/* Under any policy, rules or not. */
	cr_assert_eq(policy_new(true, NULL, NULL, &p, NULL), 0);
	n = many_segments(target, POLICY_MAX_PATH_SEGS + 1, "a", "b");
	cr_expect_eq(policy_check(p, "GET", 3, target, n, why, sizeof(why)), POLICY_BAD_PATH);
	policy_free(p);
}

/* The rules of the review: 64 of them, '**' at every other segment, against
 * the longest path allowed, all of it matching their literals. */
static struct policy *pathological(const char *unit, unsigned reps, const char *end)
{
	static char spec[POLICY_MAX_RULES * (POLICY_MAX_RULE_LEN + 1)];
	char rule[POLICY_MAX_RULE_LEN + 1];
	struct policy *p;
	const char *why = NULL;
	size_t o = 0;

	for (unsigned i = 0; i < reps; i++)
		o += (size_t)sprintf(rule + o, "%s", unit);
	sprintf(rule + o, "%s", end);
	spec[0] = '\0';
	for (unsigned i = 0; i < POLICY_MAX_RULES; i++) {
		strcat(spec, rule);
		strcat(spec, ";");
	}
	cr_assert_eq(policy_new(false, NULL, spec, &p, &why), 0, "%s: %s", rule, why);
	return p;
}

Test(policy, matching_costs_one_step_per_segment_per_live_rule)
{
	static char target[4 * POLICY_MAX_PATH_SEGS + 64];
	const unsigned long bound = (unsigned long)POLICY_MAX_PATH_SEGS * POLICY_MAX_RULES;
	unsigned long steps_short, steps_long, steps;
	struct policy *p;
	size_t n = many_segments(target, POLICY_MAX_PATH_SEGS, "a", "c");

	/* 16 '**' per rule or 1: the same cost, at the bound and not above. */
	p = pathological("/**/a", 15, "/**/b");
	cr_expect_eq(policy_check_counted(p, "GET", 3, target, n, NULL, 0, &steps_long), POLICY_ALLOW);
	policy_free(p);
	p = pathological("/**", 1, "/b");
	cr_expect_eq(policy_check_counted(p, "GET", 3, target, n, NULL, 0, &steps_short),
		     POLICY_ALLOW);
	policy_free(p);
	cr_expect_eq(steps_long, bound, "%lu steps", steps_long);
	cr_expect_eq(steps_short, bound, "%lu steps", steps_short);

	/* A rule stops costing once it cannot match: a literal first segment
	 * that differs costs one step. */
	p = pathological("/b", 1, "/**/c");
	cr_expect_eq(policy_check_counted(p, "GET", 3, target, n, NULL, 0, &steps), POLICY_ALLOW);
	cr_expect_eq(steps, POLICY_MAX_RULES, "%lu steps", steps);
	/* Rules of another method cost nothing. */
	policy_free(p);
	p = pathological("POST /**", 1, "/c");
	cr_expect_eq(policy_check_counted(p, "GET", 3, target, n, NULL, 0, &steps), POLICY_ALLOW);
	cr_expect_eq(steps, 0);
	cr_expect_eq(policy_check_counted(p, "POST", 4, target, n, NULL, 0, &steps), POLICY_DENY);
	cr_expect_leq(steps, bound);
	policy_free(p);
}
