/* tests/core_hostcfg.c: moby's HostConfig rules (core/hostcfg.c), table-driven
 * on HostConfig objects judged by hostcfg_check: each refused field of the
 * table in docs/design.md with what still passes beside it, the security
 * options that lift confinement, the references collected, the owner label on
 * volume mounts, and the helpers (capability normalisation, path cleaning,
 * volume driver options, links). The body-level evasion corpus is in
 * tests/core_inspect.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostcfg.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define LABEL "org.dockmux.owner"
#define OWNER "0123456789abcdef"

static struct inspect_policy *strict;   /* every allowlist empty (the default) */
static struct inspect_policy *open_p;   /* --allow-cap NET_ADMIN --allow-runtime runsc
					   --allow-bind /srv/data */

static void setup(void)
{
	static const char *const caps[] = { "NET_ADMIN" };
	static const char *const runtimes[] = { "runsc" };
	static const char *const binds[] = { "/srv/data" };
	struct inspect_config c = { .label_name = LABEL, .label_value = OWNER };

	cr_assert_eq(inspect_policy_new(&c, &strict, NULL), 0);
	c.caps = caps;
	c.ncaps = 1;
	c.runtimes = runtimes;
	c.nruntimes = 1;
	c.binds = binds;
	c.nbinds = 1;
	cr_assert_eq(inspect_policy_new(&c, &open_p, NULL), 0);
}

static void teardown(void)
{
	inspect_policy_free(strict);
	inspect_policy_free(open_p);
}

TestSuite(hostcfg, .init = setup, .fini = teardown);

enum pol { STRICT, OPEN };

/* Judge one HostConfig object text at path "HostConfig"; refs land in res. */
static int judge(enum pol pol, const char *text, struct hostcfg *h, struct inspect_result *res,
		 json_t **tree)
{
	json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	cr_assert_not_null(obj, "bad test JSON: %s", text);
	memset(res, 0, sizeof(*res));
	*h = (struct hostcfg){ .p = pol == OPEN ? open_p : strict, .res = res };
	*tree = obj;
	return hostcfg_check(h, obj, "HostConfig", false);
}

struct hc_case {
	const char *what;
	enum pol pol;
	const char *hostconfig;
	int status;        /* 0: passes */
	const char *msg;   /* a part of the message, or NULL */
};

static void run_cases(const struct hc_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct hc_case *c = &cases[i];
		struct inspect_result res;
		struct hostcfg h;
		json_t *t;
		int r = judge(c->pol, c->hostconfig, &h, &res, &t);

		cr_expect_eq(r, c->status ? GOJSON_REFUSED : 0, "%s: %d (%s)", c->what, r, h.g.msg);
		cr_expect_eq(h.g.status, c->status, "%s: status %d", c->what, h.g.status);
		if (c->status)
			cr_expect_eq(strncmp(h.g.msg, "dockmux isolation: ", 19), 0, "%s", c->what);
		if (c->msg)
			cr_expect(strstr(h.g.msg, c->msg) != NULL, "%s: msg \"%s\" lacks \"%s\"",
				  c->what, h.g.msg, c->msg);
		inspect_result_deinit(&res);
		json_decref(t);
	}
}

static const struct hc_case fields[] = {
	{ "privileged is refused", STRICT,
	  "{\"Privileged\":true}",
	  403, "HostConfig.Privileged is not allowed" },
	{ "privileged false passes", STRICT, "{\"Privileged\":false}", 0, NULL },
	{ "privileged null passes (Go leaves false)", STRICT, "{\"Privileged\":null}", 0, NULL },
	{ "host network mode is refused", STRICT,
	  "{\"NetworkMode\":\"host\"}",
	  403, "HostConfig.NetworkMode \"host\"" },
	{ "host pid mode is refused", STRICT, "{\"PidMode\":\"host\"}", 403, "PidMode" },
	{ "host ipc mode is refused", STRICT, "{\"IpcMode\":\"host\"}", 403, "IpcMode" },
	{ "host uts mode is refused", STRICT, "{\"UTSMode\":\"host\"}", 403, "UTSMode" },
	{ "host userns mode is refused", STRICT, "{\"UsernsMode\":\"host\"}", 403, "UsernsMode" },
	{ "host cgroupns mode is refused", STRICT,
	  "{\"CgroupnsMode\":\"host\"}",
	  403, "CgroupnsMode" },
	{ "a host mode in another case is refused too", STRICT,
	  "{\"PidMode\":\"HoSt\"}",
	  403, NULL },
	{ "host: with a suffix is refused", STRICT, "{\"UsernsMode\":\"host:x\"}", 403, NULL },
	{ "private modes pass", STRICT,
	  "{\"IpcMode\":\"private\",\"CgroupnsMode\":\"private\",\"PidMode\":\"\"}",
	  0, NULL },
	{ "a mode that is not a string is a 400", STRICT,
	  "{\"NetworkMode\":[\"host\"]}",
	  400, "must be a string" },
	{ "cap_add outside the allowlist is refused", STRICT,
	  "{\"CapAdd\":[\"NET_ADMIN\"]}",
	  403, "\"CAP_NET_ADMIN\"" },
	{ "cap_add in the allowlist passes", OPEN, "{\"CapAdd\":[\"NET_ADMIN\"]}", 0, NULL },
	{ "cap_add is normalised: case and CAP_ prefix", OPEN,
	  "{\"CapAdd\":[\"net_admin\",\"CAP_net_admin\",\"Cap_Net_Admin\"]}",
	  0, NULL },
	{ "cap_add ALL is refused unless allowlisted", OPEN,
	  "{\"CapAdd\":[\"all\"]}",
	  403, "\"ALL\"" },
	{ "cap_add as a single string is read (20.10 strslice)", OPEN,
	  "{\"CapAdd\":\"SYS_ADMIN\"}",
	  403, "\"CAP_SYS_ADMIN\"" },
	{ "cap_add with a long s upper-cases to SYS_ADMIN and is refused", OPEN,
	  "{\"CapAdd\":[\"\\u017fys_admin\"]}",
	  403, "\"CAP_SYS_ADMIN\"" },
	{ "cap_add with a dotless i upper-cases to SYS_ADMIN and is refused", OPEN,
	  "{\"CapAdd\":[\"sys_adm\\u0131n\"]}",
	  403, "\"CAP_SYS_ADMIN\"" },
	{ "cap_add with a long s is allowed when its upper case is", OPEN,
	  "{\"CapAdd\":[\"net_admin\"],\"CapDrop\":[\"\\u017fys_admin\"]}",
	  0, NULL },
	{ "cap_add null entries are refused (CAP_ is no allowed cap)", OPEN,
	  "{\"CapAdd\":[null]}",
	  403, NULL },
	{ "cap_add of a number is a 400", OPEN, "{\"CapAdd\":[1]}", 400, NULL },
	{ "the 1.40 Capabilities set is refused", STRICT,
	  "{\"Capabilities\":[\"CAP_SYS_ADMIN\"]}",
	  403, "Capabilities" },
	{ "an empty Capabilities set passes", STRICT, "{\"Capabilities\":[]}", 0, NULL },
	{ "devices are refused", STRICT,
	  "{\"Devices\":[{\"PathOnHost\":\"/dev/sda\"}]}",
	  403, "Devices" },
	{ "device requests are refused", STRICT,
	  "{\"DeviceRequests\":[{\"Count\":-1}]}",
	  403, "DeviceRequests" },
	{ "device cgroup rules are refused", STRICT,
	  "{\"DeviceCgroupRules\":[\"c *:* rwm\"]}",
	  403, "DeviceCgroupRules" },
	{ "empty and null device lists pass", STRICT,
	  "{\"Devices\":[],\"DeviceRequests\":null,\"DeviceCgroupRules\":[]}",
	  0, NULL },
	{ "devices that are not a list are a 400", STRICT, "{\"Devices\":{}}", 400, NULL },
	{ "sysctls are refused", STRICT,
	  "{\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}}",
	  403, "Sysctls" },
	{ "empty sysctls pass", STRICT, "{\"Sysctls\":{}}", 0, NULL },
	{ "annotations are refused", STRICT,
	  "{\"Annotations\":{\"io.katacontainers.config.hypervisor.path\":\"/x\"}}",
	  403, "Annotations" },
	{ "a cgroup parent is refused", STRICT, "{\"CgroupParent\":\"/\"}", 403, "CgroupParent" },
	{ "an empty cgroup parent passes", STRICT, "{\"CgroupParent\":\"\"}", 0, NULL },
	{ "a runtime outside the allowlist is refused", STRICT,
	  "{\"Runtime\":\"runc\"}",
	  403, "\"runc\"" },
	{ "a runtime in the allowlist passes", OPEN, "{\"Runtime\":\"runsc\"}", 0, NULL },
	{ "runtime names are exact", OPEN, "{\"Runtime\":\"RUNSC\"}", 403, NULL },
	{ "masked paths are refused even empty", STRICT,
	  "{\"MaskedPaths\":[]}",
	  403, "MaskedPaths" },
	{ "readonly paths are refused", STRICT,
	  "{\"ReadonlyPaths\":[\"/proc\"]}",
	  403, "ReadonlyPaths" },
	{ "null masked and readonly paths pass", STRICT,
	  "{\"MaskedPaths\":null,\"ReadonlyPaths\":null}",
	  0, NULL },
	{ "volumes-from is a reference, not a refusal", STRICT,
	  "{\"VolumesFrom\":[\"other:ro\"]}",
	  0, NULL },
	{ "an empty volumes-from is a 400", STRICT, "{\"VolumesFrom\":[\":ro\"]}", 400, NULL },
};

static const struct hc_case security_opts[] = {
	{ "seccomp=unconfined is refused", STRICT,
	  "{\"SecurityOpt\":[\"seccomp=unconfined\"]}",
	  403, "seccomp=unconfined" },
	{ "seccomp:unconfined (old separator) is refused", STRICT,
	  "{\"SecurityOpt\":[\"seccomp:unconfined\"]}",
	  403, NULL },
	{ "a custom seccomp profile is refused", STRICT,
	  "{\"SecurityOpt\":[\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\"}\"]}",
	  403, NULL },
	{ "the builtin seccomp profile passes", STRICT,
	  "{\"SecurityOpt\":[\"seccomp=builtin\"]}",
	  0, NULL },
	{ "apparmor=unconfined is refused", STRICT,
	  "{\"SecurityOpt\":[\"apparmor=unconfined\"]}",
	  403, NULL },
	{ "a named apparmor profile passes", STRICT,
	  "{\"SecurityOpt\":[\"apparmor=docker-default\"]}",
	  0, NULL },
	{ "label=disable is refused", STRICT, "{\"SecurityOpt\":[\"label=disable\"]}", 403, NULL },
	{ "label:disable is refused", STRICT, "{\"SecurityOpt\":[\"label:disable\"]}", 403, NULL },
	{ "a bare disable is label=disable and is refused", STRICT,
	  "{\"SecurityOpt\":[\"disable\"]}",
	  403, NULL },
	{ "label type:spc_t is refused", STRICT,
	  "{\"SecurityOpt\":[\"label=type:spc_t\"]}",
	  403, NULL },
	{ "label level passes", STRICT,
	  "{\"SecurityOpt\":[\"label=level:s0:c100,c200\"]}",
	  0, NULL },
	{ "systempaths=unconfined is refused", STRICT,
	  "{\"SecurityOpt\":[\"systempaths=unconfined\"]}",
	  403, NULL },
	{ "writable-cgroups is refused", STRICT,
	  "{\"SecurityOpt\":[\"writable-cgroups\"]}",
	  403, NULL },
	{ "writable-cgroups=true is refused", STRICT,
	  "{\"SecurityOpt\":[\"writable-cgroups=1\"]}",
	  403, NULL },
	{ "writable-cgroups=false passes", STRICT,
	  "{\"SecurityOpt\":[\"writable-cgroups=false\"]}",
	  0, NULL },
	{ "no-new-privileges in every form passes", STRICT,
	  "{\"SecurityOpt\":[\"no-new-privileges\",\"no-new-privileges=false\","
	  "\"no-new-privileges:true\"]}",
	  0, NULL },
	{ "option keys are compared without case", STRICT,
	  "{\"SecurityOpt\":[\"SecComp=Unconfined\"]}",
	  403, NULL },
	{ "a refused option after an allowed one is found", STRICT,
	  "{\"SecurityOpt\":[\"no-new-privileges\",\"apparmor:unconfined\"]}",
	  403, "SecurityOpt[1]" },
};

Test(hostcfg, refuses_each_field_of_the_table)
{
	run_cases(fields, N_ELEMS(fields));
}

Test(hostcfg, refuses_security_options_that_lift_confinement)
{
	run_cases(security_opts, N_ELEMS(security_opts));
}

Test(hostcfg, collects_the_names_it_uses_in_order)
{
	static const char text[] = "{\"VolumesFrom\":[\"a:ro\"],\"Links\":[\"/b:/me/b\"],"
		"\"Binds\":[\"v1:/x\",\"/srv/data:/y\"],\"NetworkMode\":\"container:c\","
		"\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v2\"}]}";
	static const struct { enum inspect_ref_kind kind; const char *name, *field; } want[] = {
		{ INSPECT_REF_CONTAINER, "a", "HostConfig.VolumesFrom[0]" },
		{ INSPECT_REF_CONTAINER, "b", "HostConfig.Links[0]" },
		{ INSPECT_REF_VOLUME, "v1", "HostConfig.Binds[0]" },
		{ INSPECT_REF_CONTAINER, "c", "HostConfig.NetworkMode" },
		{ INSPECT_REF_VOLUME, "v2", "HostConfig.Mounts[0].Source" },
	};
	struct inspect_result res;
	struct hostcfg h;
	json_t *t;

	cr_assert_eq(judge(OPEN, text, &h, &res, &t), 0, "%s", h.g.msg);
	cr_assert_eq(res.nrefs, N_ELEMS(want));
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		cr_expect_eq(res.refs[i].kind, want[i].kind, "ref %zu", i);
		cr_expect_str_eq(res.refs[i].name, want[i].name);
		cr_expect_str_eq(res.refs[i].field, want[i].field);
		cr_expect_not(res.refs[i].creates);
	}
	inspect_result_deinit(&res);
	json_decref(t);
}

Test(hostcfg, stamps_volume_mounts_and_leaves_the_rest)
{
	static const char text[] = "{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":null},"
		"{\"Type\":\"volume\",\"VolumeOptions\":{\"Labels\":{\"" LABEL "\":\"forged\"}}},"
		"{\"Type\":\"tmpfs\"},{\"Type\":\"bind\",\"Source\":\"/srv/data\"}]}";
	struct inspect_result res;
	struct hostcfg h;
	json_t *t, *m;

	cr_assert_eq(judge(OPEN, text, &h, &res, &t), 0, "%s", h.g.msg);
	m = json_object_get(t, "Mounts");
	for (size_t i = 0; i < 2; i++) {
		json_t *labels = json_object_get(json_object_get(json_array_get(m, i),
								 "VolumeOptions"), "Labels");

		cr_expect_str_eq(json_string_value(json_object_get(labels, LABEL)), OWNER, "mount %zu", i);
	}
	for (size_t i = 2; i < 4; i++)
		cr_expect_null(json_object_get(json_array_get(m, i), "VolumeOptions"), "mount %zu", i);
	inspect_result_deinit(&res);
	json_decref(t);
}

Test(hostcfg, normalises_capabilities_as_moby_does)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "NET_ADMIN", "CAP_NET_ADMIN" }, { "net_admin", "CAP_NET_ADMIN" },
		{ "CAP_NET_ADMIN", "CAP_NET_ADMIN" }, { "cap_net_admin", "CAP_NET_ADMIN" },
		{ "all", "ALL" }, { "ALL", "ALL" }, { "CAP_ALL", "CAP_ALL" }, { "", "CAP_" },
		{ "\xc5\xbfys_admin", "CAP_SYS_ADMIN" },     /* U+017F long s */
		{ "sys_adm\xc4\xb1n", "CAP_SYS_ADMIN" },     /* U+0131 dotless i */
		{ "\xe2\x84\xaaill", "CAP_\xe2\x84\xaaILL" }, /* U+212A is upper case already */
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char out[64];

		hostcfg_cap_normalize(cases[i].in, strlen(cases[i].in), out);
		cr_expect_str_eq(out, cases[i].out, "%s", cases[i].in);
	}
}

Test(hostcfg, cleans_paths_and_refuses_dot_dot)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "/", "/" }, { "//", "/" }, { "/a/b", "/a/b" }, { "/a//b/", "/a/b" },
		{ "/./a/./b/.", "/a/b" }, { "/a/...", "/a/..." }, { "/a/.b", "/a/.b" },
		{ "/..", NULL }, { "/a/../b", NULL }, { "/a/..", NULL }, { "/../", NULL },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char out[64];
		ptrdiff_t n = hostcfg_clean_path(cases[i].in, strlen(cases[i].in), out);

		if (!cases[i].out) {
			cr_expect_eq(n, -1, "%s", cases[i].in);
			continue;
		}
		cr_expect_eq(n, (ptrdiff_t)strlen(cases[i].out), "%s", cases[i].in);
		cr_expect_str_eq(out, cases[i].out, "%s", cases[i].in);
	}
}

Test(hostcfg, judges_volume_driver_options)
{
	static const struct { const char *opts; int status; } cases[] = {
		{ "{}", 0 }, { "null", 0 }, { "{\"size\":\"10G\"}", 0 },
		{ "{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=1m,mode=1777\"}", 0 },
		{ "{\"Type\":\"TMPFS\",\"Device\":\"x\"}", 0 },
		{ "{\"type\":\"none\",\"o\":\"bind\",\"device\":\"/\"}", 403 },
		{ "{\"type\":\"tmpfs\",\"o\":\"size=1m, bind\"}", 403 },
		{ "{\"type\":\"tmpfs\",\"o\":\"RBIND\"}", 403 },
		{ "{\"type\":\"tmpfs\",\"o\":\"remount,ro\"}", 403 },
		{ "{\"o\":\"bindx\"}", 0 },                      /* not the bind flag */
		{ "{\"device\":\"/dev/sda\"}", 403 },
		{ "{\"type\":\"\"}", 403 }, { "{\"type\":\"cifs\"}", 403 },
		{ "{\"type\":1}", 400 }, { "[]", 400 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct gojson g = { 0 };
		json_t *v = json_loads(cases[i].opts, JSON_DECODE_ANY, NULL);
		int r = hostcfg_volume_opts(&g, v, "DriverOpts");

		cr_expect_eq(r, cases[i].status ? GOJSON_REFUSED : 0, "%s", cases[i].opts);
		cr_expect_eq(g.status, cases[i].status, "%s: %s", cases[i].opts, g.msg);
		json_decref(v);
	}
}
