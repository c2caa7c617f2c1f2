/* tests/core_inspect.c: the create-body inspector (core/inspect.c), table-driven.
 * The evasion corpus (key case, \u escapes in keys, Go's Unicode folds, exact
 * and folded duplicates, HostConfig fields at the top level, nested Mounts and
 * VolumeOptions, ".." and relative bind sources, non-object bodies, oversize
 * and deeply nested bodies) beside each refused field of the table in
 * docs/design.md, the references returned, the owner label stamped, the
 * re-serialised body, the bodies the docker CLIs really send, and /build.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define LABEL "org.dockmux.owner"
#define OWNER "0123456789abcdef"

/* Bodies as the docker CLIs send them (captured from 20.10.24 and 28.2.2 for
 * `docker create -v /srv/data:/data -v vol1:/v --mount type=volume,src=vol2,
 * dst=/w,volume-opt=type=tmpfs,volume-opt=device=tmpfs --cap-add NET_ADMIN
 * --security-opt no-new-privileges --network mynet --label a=b busybox true`). */
static const char cli20[] =
	"{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
	"\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,"
	"\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"true\"],\"Image\":\"busybox\",\"Volumes\":{},"
	"\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{\"a\":\"b\"},"
	"\"HostConfig\":{\"Binds\":[\"/srv/data:/data\",\"vol1:/v\"],\"ContainerIDFile\":\"\","
	"\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":\"mynet\",\"PortBindings\":{},"
	"\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},\"AutoRemove\":false,"
	"\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"CapAdd\":[\"NET_ADMIN\"],\"CapDrop\":null,"
	"\"CgroupnsMode\":\"\",\"Dns\":[],\"DnsOptions\":[],\"DnsSearch\":[],\"ExtraHosts\":null,"
	"\"GroupAdd\":null,\"IpcMode\":\"\",\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,"
	"\"PidMode\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,"
	"\"SecurityOpt\":[\"no-new-privileges\"],\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":0,"
	"\"ConsoleSize\":[0,0],\"Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,"
	"\"CgroupParent\":\"\",\"BlkioWeight\":0,\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":null,"
	"\"BlkioDeviceWriteBps\":null,\"BlkioDeviceReadIOps\":null,\"BlkioDeviceWriteIOps\":null,"
	"\"CpuPeriod\":0,\"CpuQuota\":0,\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,"
	"\"CpusetCpus\":\"\",\"CpusetMems\":\"\",\"Devices\":[],\"DeviceCgroupRules\":null,"
	"\"DeviceRequests\":null,\"KernelMemory\":0,\"KernelMemoryTCP\":0,\"MemoryReservation\":0,"
	"\"MemorySwap\":0,\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsLimit\":0,"
	"\"Ulimits\":null,\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,"
	"\"IOMaximumBandwidth\":0,\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"vol2\","
	"\"Target\":\"/w\",\"VolumeOptions\":{\"DriverConfig\":{\"Options\":{\"device\":\"tmpfs\","
	"\"type\":\"tmpfs\"}}}}],\"MaskedPaths\":null,\"ReadonlyPaths\":null},"
	"\"NetworkingConfig\":{\"EndpointsConfig\":{}}}";

static const char cli28[] =
	"{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
	"\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,"
	"\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"true\"],\"Image\":\"busybox\",\"Volumes\":{},"
	"\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{\"a\":\"b\"},"
	"\"HostConfig\":{\"Binds\":[\"/srv/data:/data\",\"vol1:/v\"],\"ContainerIDFile\":\"\","
	"\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":\"mynet\",\"PortBindings\":{},"
	"\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},\"AutoRemove\":false,"
	"\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"ConsoleSize\":[0,0],"
	"\"CapAdd\":[\"CAP_NET_ADMIN\"],\"CapDrop\":null,\"CgroupnsMode\":\"\",\"Dns\":[],"
	"\"DnsOptions\":[],\"DnsSearch\":[],\"ExtraHosts\":null,\"GroupAdd\":null,\"IpcMode\":\"\","
	"\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,"
	"\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,\"SecurityOpt\":[\"no-new-privileges\"],"
	"\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":0,\"Isolation\":\"\",\"CpuShares\":0,"
	"\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,"
	"\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":[],\"BlkioDeviceWriteBps\":[],"
	"\"BlkioDeviceReadIOps\":[],\"BlkioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"CpuQuota\":0,"
	"\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\","
	"\"Devices\":[],\"DeviceCgroupRules\":null,\"DeviceRequests\":null,\"MemoryReservation\":0,"
	"\"MemorySwap\":0,\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsLimit\":0,"
	"\"Ulimits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,"
	"\"IOMaximumBandwidth\":0,\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"vol2\","
	"\"Target\":\"/w\",\"VolumeOptions\":{\"DriverConfig\":{\"Options\":{\"device\":\"tmpfs\","
	"\"type\":\"tmpfs\"}}}}],\"MaskedPaths\":null,\"ReadonlyPaths\":null},"
	"\"NetworkingConfig\":{\"EndpointsConfig\":{}}}";

/* ---- policies ----------------------------------------------------------- */

static struct inspect_policy *strict;   /* every allowlist empty (the default) */
static struct inspect_policy *open_p;   /* --allow-cap NET_ADMIN --allow-runtime runsc
					   --allow-bind /srv/data */
static struct inspect_policy *tiny;     /* max_body 64 */

static void setup(void)
{
	static const char *const caps[] = { "NET_ADMIN" };
	static const char *const runtimes[] = { "runsc" };
	static const char *const binds[] = { "/srv//data/" };
	struct inspect_config c = { .label_name = LABEL, .label_value = OWNER };

	cr_assert_eq(inspect_policy_new(&c, &strict, NULL), 0);
	c.caps = caps;
	c.ncaps = 1;
	c.runtimes = runtimes;
	c.nruntimes = 1;
	c.binds = binds;
	c.nbinds = 1;
	cr_assert_eq(inspect_policy_new(&c, &open_p, NULL), 0);
	c = (struct inspect_config){ .label_name = LABEL, .label_value = OWNER, .max_body = 64 };
	cr_assert_eq(inspect_policy_new(&c, &tiny, NULL), 0);
}

static void teardown(void)
{
	inspect_policy_free(strict);
	inspect_policy_free(open_p);
	inspect_policy_free(tiny);
}

TestSuite(inspect, .init = setup, .fini = teardown);

/* A refusal message is printable ASCII, no backslash, NUL-terminated. */
static void expect_safe_msg(const char *msg, const char *what)
{
	size_t n = strnlen(msg, INSPECT_MSG_MAX);

	cr_expect_lt(n, INSPECT_MSG_MAX, "%s: msg not terminated", what);
	cr_expect_eq(strncmp(msg, "dockmux isolation: ", 19), 0, "%s: msg \"%s\"", what, msg);
	for (size_t i = 0; i < n; i++)
		cr_expect(msg[i] >= 0x20 && msg[i] < 0x7f && msg[i] != '\\', "%s: byte %zu of \"%s\"",
			  what, i, msg);
}

/* ---- the table ------------------------------------------------------------ */

enum pol { STRICT, OPEN, TINY };

struct body_case {
	const char *what;        /* the behaviour, as a sentence */
	enum pol pol;
	enum inspect_kind kind;
	const char *body;
	int status;              /* 0: forwarded */
	const char *msg;         /* a part of the message, or NULL */
};

#define CC INSPECT_CONTAINER_CREATE

static void run_cases(const struct body_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct body_case *c = &cases[i];
		const struct inspect_policy *p = c->pol == OPEN ? open_p : c->pol == TINY ? tiny : strict;
		struct inspect_result res;
		int r = inspect_body(p, c->kind, c->body, strlen(c->body), &res);

		cr_expect_eq(r, c->status ? INSPECT_REFUSE : INSPECT_FORWARD, "%s: returned %d (%s)",
			     c->what, r, res.msg);
		cr_expect_eq(res.status, c->status, "%s: status %d (%s)", c->what, res.status, res.msg);
		if (c->status) {
			expect_safe_msg(res.msg, c->what);
			cr_expect_null(res.body, "%s: refused with a body", c->what);
			cr_expect_eq(res.nrefs, 0, "%s: refused with refs", c->what);
		} else {
			cr_expect_not_null(res.body, "%s: no body", c->what);
		}
		if (c->msg)
			cr_expect(strstr(res.msg, c->msg) != NULL, "%s: msg \"%s\" lacks \"%s\"",
				  c->what, res.msg, c->msg);
		inspect_result_deinit(&res);
	}
}





/* ---- the evasion corpus --------------------------------------------------- */

static const struct body_case evasions[] = {
	/* key case */
	{ "lower-case privileged is read by dockerd and refused", STRICT, CC,
	  "{\"HostConfig\":{\"privileged\":true}}", 403, NULL },
	{ "upper-case privileged is refused", STRICT, CC, "{\"HostConfig\":{\"PRIVILEGED\":true}}",
	  403, NULL },
	{ "mixed-case HostConfig key is followed", STRICT, CC,
	  "{\"hOsTcOnFiG\":{\"Privileged\":true}}", 403, NULL },
	/* \u escapes in keys */
	{ "an escaped letter in a key is decoded first", STRICT, CC,
	  "{\"HostConfig\":{\"Pr\\u0069vileged\":true}}", 403, NULL },
	{ "an escaped HostConfig key is followed", STRICT, CC,
	  "{\"\\u0048ost\\u0043onfig\":{\"Privileged\":true}}", 403, NULL },
	{ "an escaped value is decoded too", STRICT, CC,
	  "{\"HostConfig\":{\"NetworkMode\":\"\\u0068ost\"}}", 403, NULL },
	/* Go's Unicode folds */
	{ "a long s folds to s in HostConfig", STRICT, CC,
	  "{\"Ho\\u017ftConfig\":{\"Privileged\":true}}", 403, NULL },
	{ "a long s folds to s in SecurityOpt", STRICT, CC,
	  "{\"HostConfig\":{\"\\u017fecurityOpt\":[\"seccomp=unconfined\"]}}", 403, NULL },
	{ "a long s folds in Devices", STRICT, CC,
	  "{\"HostConfig\":{\"Device\\u017f\":[{}]}}", 403, NULL },
	{ "a kelvin sign folds to k in MaskedPaths", STRICT, CC,
	  "{\"HostConfig\":{\"Mas\\u212aedPaths\":[]}}", 403, NULL },
	{ "a kelvin sign folds to k in Links", STRICT, CC,
	  "{\"HostConfig\":{\"Lin\\u212as\":[\"\"]}}", 400, "names no container" },
	{ "a raw UTF-8 long s folds like the escaped one", STRICT, CC,
	  "{\"HostConfig\":{\"Sy\xc5\xbf" "ctls\":{\"a\":\"b\"}}}", 403, NULL },
	{ "a dotless i does not fold (Go ignores the key) so it passes", STRICT, CC,
	  "{\"HostConfig\":{\"Pr\\u0131vileged\":true}}", 0, NULL },
	{ "a dotted capital I does not fold either", STRICT, CC,
	  "{\"HostConfig\":{\"Pr\\u0130vileged\":true}}", 0, NULL },
	/* duplicates */
	{ "an exact duplicate key is a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Privileged\":false,\"Privileged\":true}}", 400, "repeats a key" },
	{ "a duplicate spelled with an escape is a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Privileged\":false,\"Pr\\u0069vileged\":true}}", 400, "repeats a key" },
	{ "keys differing in case are a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Privileged\":false,\"privileged\":true}}", 400,
	  "two keys for one field" },
	{ "keys differing by a kelvin sign are a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Links\":null,\"LIN\\u212aS\":null}}", 400, "two keys for one field" },
	{ "two HostConfig keys at the top are a 400", STRICT, CC,
	  "{\"HostConfig\":{},\"hostconfig\":{\"Privileged\":true}}", 400, "the body has two keys" },
	{ "two keys for one field of an unknown struct are a 400 too", STRICT, CC,
	  "{\"Foo\":1,\"FOO\":2}", 400, NULL },
	{ "a duplicate in a Mount is a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"TYPE\":\"bind\",\"Source\":\"/\"}]}}",
	  400, "HostConfig.Mounts[0] has two keys" },
	{ "a duplicate nested deep in an ignored value is a 400 (jansson)", STRICT, CC,
	  "{\"Env\":[{\"a\":1,\"a\":2}]}", 400, "repeats a key" },
	{ "label keys differing in case are two labels (a map) and pass", STRICT, CC,
	  "{\"Labels\":{\"a\":\"1\",\"A\":\"2\"}}", 0, NULL },
	/* HostConfig fields at the top level (20.10 ContainerConfigWrapper) */
	{ "a top-level Privileged is refused", STRICT, CC, "{\"Image\":\"x\",\"Privileged\":true}", 403,
	  "Privileged is not allowed" },
	{ "a top-level Privileged beside a HostConfig is refused", STRICT, CC,
	  "{\"HostConfig\":{},\"privileged\":true}", 403, NULL },
	{ "a top-level Privileged beside a null HostConfig is refused", STRICT, CC,
	  "{\"HostConfig\":null,\"Privileged\":true}", 403, NULL },
	{ "top-level Binds are judged", STRICT, CC, "{\"Binds\":[\"/:/host\"]}", 403,
	  "Binds[0] \"/\" is outside the bind allowlist" },
	{ "a top-level NetworkMode host is refused", STRICT, CC, "{\"NetworkMode\":\"host\"}", 403,
	  NULL },
	{ "a top-level CapAdd string is refused", OPEN, CC, "{\"CapAdd\":\"SYS_ADMIN\"}", 403, NULL },
	{ "a top-level bind Mount is judged", STRICT, CC,
	  "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/etc\",\"Target\":\"/x\"}]}", 403, NULL },
	{ "a top-level field and its HostConfig twin are both judged", STRICT, CC,
	  "{\"HostConfig\":{\"CgroupParent\":\"\"},\"CgroupParent\":\"/x\"}", 403, NULL },
	{ "top-level Devices (Resources, two levels down in Go) are refused", STRICT, CC,
	  "{\"devices\":[{}]}", 403, NULL },
	/* Mounts and VolumeOptions */
	{ "a bind mount outside the allowlist is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/etc\",\"Target\":\"/x\"}]}}",
	  403, "HostConfig.Mounts[0].Source \"/etc\" is outside the bind allowlist" },
	{ "a bind mount inside the allowlist passes", OPEN, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv/data/x\",\"Target\":\"/x\"}]}}",
	  0, NULL },
	{ "mount keys are matched without case", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"target\":\"/x\"}]}}", 403,
	  NULL },
	{ "mount types are exact: BIND is not bind and is refused", OPEN, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"BIND\",\"Source\":\"/srv/data\"}]}}", 403,
	  "Type \"BIND\" is not allowed" },
	{ "a mount without a type is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Source\":\"v\",\"Target\":\"/x\"}]}}", 403, "Type \"\"" },
	{ "a null mount is refused (its type is empty)", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[null]}}", 403, NULL },
	{ "an npipe mount is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"npipe\",\"Source\":\"x\"}]}}", 403, NULL },
	{ "an image mount is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"image\",\"Source\":\"busybox\"}]}}", 403, NULL },
	{ "a cluster mount is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"cluster\",\"Source\":\"x\"}]}}", 403, NULL },
	{ "a tmpfs mount passes", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]}}", 0, NULL },
	{ "a volume mount with bind driver options is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v\",\"Target\":\"/x\","
	  "\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"local\",\"Options\":{\"type\":\"none\","
	  "\"o\":\"bind\",\"device\":\"/\"}}}}]}}", 403, "VolumeOptions.DriverConfig.Options" },
	{ "lower-case volume option keys are followed", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"type\":\"volume\",\"volumeoptions\":{\"driverconfig\":"
	  "{\"options\":{\"type\":\"tmpfs\",\"o\":\"size=1m,rbind\",\"device\":\"/\"}}}}]}}", 403,
	  "o \"rbind\"" },
	{ "a device option without tmpfs is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{\"DriverConfig\":"
	  "{\"Options\":{\"device\":\"/dev/sda1\"}}}}]}}", 403, "device" },
	{ "an ext4 volume of a host device is refused", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{\"DriverConfig\":"
	  "{\"Options\":{\"type\":\"ext4\",\"device\":\"/dev/sda1\"}}}}]}}", 403, "type \"ext4\"" },
	{ "an option key in upper case is judged too", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{\"DriverConfig\":"
	  "{\"Options\":{\"type\":\"tmpfs\",\"TYPE\":\"none\"}}}}]}}", 403, NULL },
	{ "a tmpfs volume with a device name passes", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{\"DriverConfig\":"
	  "{\"Options\":{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=64m,uid=1000\"}}}}]}}",
	  0, NULL },
	{ "VolumeOptions that is not an object is a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":[]}]}}", 400, NULL },
	{ "mounts that are not a list are a 400", STRICT, CC, "{\"HostConfig\":{\"Mounts\":{}}}", 400,
	  NULL },
	/* ".." and other bind paths */
	{ "a bind with .. is refused even inside the allowlist", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/srv/data/../../etc:/x\"]}}", 403, "\"..\" component" },
	{ "a bind ending in .. is refused", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/srv/data/x/..:/x\"]}}", 403, NULL },
	{ "a mount source with .. is refused", OPEN, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv/data/..\"}]}}", 403,
	  NULL },
	{ "dots and double slashes are cleaned before the match", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"//srv/./data//x/:/x\"]}}", 0, NULL },
	{ "the allowlist matches whole segments only", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/srv/database:/x\"]}}", 403, NULL },
	{ "the allowlisted directory itself passes", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/srv/data:/x:ro\"]}}", 0, NULL },
	{ "a ... segment is a name, not a parent", OPEN, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/srv/data/...:/x\"]}}", 0, NULL },
	{ "a backslash in a bind source is refused", OPEN, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"\\\\srv\\\\data\"}]}}", 403,
	  "backslash" },
	{ "a relative bind mount source is refused", OPEN, CC,
	  "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"srv/data\"}]}}", 403,
	  "not an absolute path" },
	{ "a bind of / is refused", STRICT, CC, "{\"HostConfig\":{\"Binds\":[\"/:/host:rw\"]}}", 403,
	  NULL },
	{ "a bind with more than two colons is a 400", STRICT, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/a:/b:ro:x\"]}}", 400, "not a valid bind" },
	{ "a bind with an empty source is a 400", STRICT, CC, "{\"HostConfig\":{\"Binds\":[\":/b\"]}}",
	  400, NULL },
	/* relative bind sources: named volumes, references */
	{ "a relative bind source is a named volume and passes", STRICT, CC,
	  "{\"HostConfig\":{\"Binds\":[\"data:/x\",\"./up:/y\"]}}", 0, NULL },
	{ "a lone path is an anonymous volume and passes", STRICT, CC,
	  "{\"HostConfig\":{\"Binds\":[\"/data\"]}}", 0, NULL },
	/* non-object bodies and wrong types */
	{ "an array body is a 400", STRICT, CC, "[]", 400, "must be a JSON object" },
	{ "a null body is a 400", STRICT, CC, "null", 400, NULL },
	{ "a number body is a 400", STRICT, CC, "1", 400, NULL },
	{ "a string body is a 400", STRICT, CC, "\"x\"", 400, NULL },
	{ "a HostConfig array is a 400", STRICT, CC, "{\"HostConfig\":[]}", 400,
	  "HostConfig must be an object" },
	{ "a null HostConfig passes", STRICT, CC, "{\"HostConfig\":null}", 0, NULL },
	{ "a string NetworkingConfig is a 400", STRICT, CC, "{\"NetworkingConfig\":\"x\"}", 400, NULL },
	{ "a string Privileged is a 400", STRICT, CC, "{\"HostConfig\":{\"Privileged\":\"true\"}}", 400,
	  "must be a boolean" },
	{ "a numeric Privileged is a 400", STRICT, CC, "{\"HostConfig\":{\"Privileged\":1}}", 400,
	  NULL },
	{ "Binds that is a string is a 400", STRICT, CC, "{\"HostConfig\":{\"Binds\":\"/:/x\"}}", 400,
	  "must be an array of strings" },
	/* size, nesting, syntax */
	{ "a body over the cap is a 413", TINY, CC,
	  "{\"Image\":\"busybox\",\"Cmd\":[\"true\"],\"Labels\":{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbb\"}}",
	  413, "over 64 bytes" },
	{ "a body at the cap passes", TINY, CC,
	  "{\"Image\":\"busybox\",\"Labels\":{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbb\"}}", 0, NULL },
	{ "an empty create body is a 400", STRICT, CC, "", 400, "empty" },
	{ "a blank body is a 400", STRICT, CC, "  \n", 400, "not valid JSON" },
	{ "an unterminated body is a 400", STRICT, CC, "{\"HostConfig\":{", 400, NULL },
	{ "trailing data after the object is a 400", STRICT, CC, "{\"Image\":\"x\"} {\"Privileged\":true}",
	  400, NULL },
	{ "a NUL in a key is a 400", STRICT, CC, "{\"Privileged\\u0000\":true}", 400, "NUL" },
	{ "a NUL in a value is a 400", STRICT, CC, "{\"Image\":\"a\\u0000b\"}", 400, "NUL" },
	{ "a lone surrogate is a 400", STRICT, CC, "{\"Image\":\"\\ud800\"}", 400, NULL },
	{ "invalid UTF-8 is a 400", STRICT, CC, "{\"Image\":\"\xff\"}", 400, NULL },
	{ "a number too big is a 400", STRICT, CC, "{\"Memory\":99999999999999999999999}", 400,
	  "out of range" },
	{ "a real overflow is a 400", STRICT, CC, "{\"Memory\":1e999}", 400, NULL },
};

Test(inspect, refuses_the_evasion_corpus)
{
	run_cases(evasions, N_ELEMS(evasions));
}

Test(inspect, refuses_nesting_deeper_than_the_parser_allows)
{
	size_t depth = 5000, n = 0;
	char *body = malloc(2 * depth + 16);
	struct inspect_result res;

	cr_assert_not_null(body);
	n += (size_t)sprintf(body, "{\"Env\":");
	for (size_t i = 0; i < depth; i++)
		body[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		body[n++] = ']';
	body[n++] = '}';
	cr_expect_eq(inspect_body(strict, CC, body, n, &res), INSPECT_REFUSE);
	cr_expect_eq(res.status, 400);
	cr_expect(strstr(res.msg, "nests too deeply") != NULL, "msg \"%s\"", res.msg);
	inspect_result_deinit(&res);
	free(body);
}

Test(inspect, forwards_moderate_nesting_in_fields_it_does_not_judge)
{
	size_t depth = 1000, n = 0;
	char *body = malloc(2 * depth + 16);
	struct inspect_result res;

	cr_assert_not_null(body);
	n += (size_t)sprintf(body, "{\"Env\":");
	for (size_t i = 0; i < depth; i++)
		body[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		body[n++] = ']';
	body[n++] = '}';
	cr_expect_eq(inspect_body(strict, CC, body, n, &res), INSPECT_FORWARD, "msg %s", res.msg);
	inspect_result_deinit(&res);
	free(body);
}

/* ---- references ----------------------------------------------------------- */

struct want_ref {
	enum inspect_ref_kind kind;
	const char *name;
	const char *field;
	bool creates;
};

struct ref_case {
	const char *what;
	enum inspect_kind kind;
	const char *body;
	struct want_ref refs[6];
	size_t nrefs;
};

#define RC INSPECT_REF_CONTAINER
#define RV INSPECT_REF_VOLUME
#define RN INSPECT_REF_NETWORK

static const struct ref_case ref_cases[] = {
	{ "container modes name the container", CC,
	  "{\"HostConfig\":{\"NetworkMode\":\"container:web\",\"PidMode\":\"container:db\","
	  "\"IpcMode\":\"container:a1b2\",\"Cgroup\":\"container:c\"}}",
	  { { RC, "web", "HostConfig.NetworkMode", false }, { RC, "db", "HostConfig.PidMode", false },
	    { RC, "a1b2", "HostConfig.IpcMode", false }, { RC, "c", "HostConfig.Cgroup", false } }, 4 },
	{ "a user network mode names the network, predefined ones do not", CC,
	  "{\"HostConfig\":{\"NetworkMode\":\"mynet\"},\"NetworkingConfig\":{\"EndpointsConfig\":"
	  "{\"bridge\":{},\"default\":null,\"none\":{}}}}",
	  { { RN, "mynet", "HostConfig.NetworkMode", false } }, 1 },
	{ "Container: in another case is a network name, as in Go", CC,
	  "{\"HostConfig\":{\"NetworkMode\":\"Container:web\"}}",
	  { { RN, "Container:web", "HostConfig.NetworkMode", false } }, 1 },
	{ "volumes-from and links name containers", CC,
	  "{\"HostConfig\":{\"VolumesFrom\":[\"data:ro\",\"logs\"],\"Links\":[\"/db:/me/db\","
	  "\"cache:c\"]}}",
	  { { RC, "data", "HostConfig.VolumesFrom[0]", false }, { RC, "logs", "HostConfig.VolumesFrom[1]", false },
	    { RC, "db", "HostConfig.Links[0]", false }, { RC, "cache", "HostConfig.Links[1]", false } }, 4 },
	{ "named volumes in binds and mounts are named", CC,
	  "{\"HostConfig\":{\"Binds\":[\"vol1:/a\",\"/anon\",\"vol2:/b:ro\"],\"Mounts\":["
	  "{\"Type\":\"volume\",\"Source\":\"vol3\",\"Target\":\"/c\"},"
	  "{\"Type\":\"volume\",\"Target\":\"/d\"}]}}",
	  { { RV, "vol1", "HostConfig.Binds[0]", false }, { RV, "vol2", "HostConfig.Binds[2]", false },
	    { RV, "vol3", "HostConfig.Mounts[0].Source", false } }, 3 },
	{ "endpoint networks, their NetworkID and links are named", CC,
	  "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"front\":{\"NetworkID\":\"9f8e\","
	  "\"Links\":[\"api:api\"]},\"bridge\":{\"NetworkID\":\"ignored\"}}}}",
	  { { RN, "front", "NetworkingConfig.EndpointsConfig.front", false },
	    { RC, "api", "NetworkingConfig.EndpointsConfig.front.Links[0]", false },
	    { RN, "9f8e", "NetworkingConfig.EndpointsConfig.front.NetworkID", false } }, 3 },
	{ "top-level HostConfig fields name what they use too", CC,
	  "{\"VolumesFrom\":[\"x\"],\"Binds\":[\"v:/v\"]}",
	  { { RC, "x", "VolumesFrom[0]", false }, { RV, "v", "Binds[0]", false } }, 2 },
	{ "the CLI 20.10 body names its network and volumes", CC, cli20,
	  { { RV, "vol1", "HostConfig.Binds[1]", false }, { RN, "mynet", "HostConfig.NetworkMode", false },
	    { RV, "vol2", "HostConfig.Mounts[0].Source", false } }, 3 },
	{ "a volume create names the volume it creates", INSPECT_VOLUME_CREATE,
	  "{\"Name\":\"cache\",\"Driver\":\"local\"}", { { RV, "cache", "Name", true } }, 1 },
	{ "a network create names its network and its ConfigFrom", INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n1\",\"ConfigFrom\":{\"Network\":\"cfg\"}}",
	  { { RN, "n1", "Name", true }, { RN, "cfg", "ConfigFrom.Network", false } }, 2 },
	{ "a network connect names the container and the endpoint's network", INSPECT_NETWORK_CONNECT,
	  "{\"container\":\"web\",\"EndpointConfig\":{\"NetworkID\":\"abc\",\"Links\":[\"db\"]}}",
	  { { RC, "web", "Container", false }, { RC, "db", "EndpointConfig.Links[0]", false },
	    { RN, "abc", "EndpointConfig.NetworkID", false } }, 3 },
	{ "a start body's HostConfig names what it uses", INSPECT_CONTAINER_START,
	  "{\"HostConfig\":{\"VolumesFrom\":[\"x\"]}}", { { RC, "x", "HostConfig.VolumesFrom[0]", false } },
	  1 },
};

static bool has_ref(const struct inspect_result *res, const struct want_ref *w)
{
	for (size_t i = 0; i < res->nrefs; i++)
		if (res->refs[i].kind == w->kind && !strcmp(res->refs[i].name, w->name) &&
		    !strcmp(res->refs[i].field, w->field) && res->refs[i].creates == w->creates)
			return true;
	return false;
}

Test(inspect, returns_the_names_a_body_uses)
{
	for (size_t i = 0; i < N_ELEMS(ref_cases); i++) {
		const struct ref_case *c = &ref_cases[i];
		struct inspect_result res;
		int r = inspect_body(open_p, c->kind, c->body, strlen(c->body), &res);

		cr_expect_eq(r, INSPECT_FORWARD, "%s: %d %s", c->what, r, res.msg);
		cr_expect_eq(res.nrefs, c->nrefs, "%s: %zu refs", c->what, res.nrefs);
		for (size_t k = 0; k < c->nrefs; k++)
			cr_expect(has_ref(&res, &c->refs[k]), "%s: no ref %s (%s)", c->what,
				  c->refs[k].name, c->refs[k].field);
		inspect_result_deinit(&res);
	}
}

Test(inspect, refuses_the_host_network_as_an_endpoint)
{
	static const char body[] = "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"host\":{}}}}";
	struct inspect_result res;

	cr_expect_eq(inspect_body(strict, CC, body, strlen(body), &res), INSPECT_REFUSE);
	cr_expect_eq(res.status, 403);
	cr_expect(strstr(res.msg, "host network") != NULL, "%s", res.msg);
	inspect_result_deinit(&res);
}

Test(inspect, refuses_per_endpoint_sysctls)
{
	static const char body[] = "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"DriverOpts\":"
		"{\"com.docker.network.endpoint.sysctls\":\"net.ipv4.conf.IFNAME.forwarding=1\"}}}}}";
	struct inspect_result res;

	cr_expect_eq(inspect_body(strict, CC, body, strlen(body), &res), INSPECT_REFUSE);
	cr_expect_eq(res.status, 403);
	inspect_result_deinit(&res);
}

/* ---- the owner label and the forwarded body ------------------------------ */

/* The value of the owner label in obj[key] (matched exactly), or NULL. */
static const char *owner_in(json_t *obj, const char *key)
{
	json_t *labels = json_object_get(obj, key);

	return json_string_value(json_object_get(labels, LABEL));
}

static json_t *forwarded(const struct inspect_policy *p, enum inspect_kind kind, const char *body,
			 struct inspect_result *res)
{
	json_t *tree;

	cr_assert_eq(inspect_body(p, kind, body, strlen(body), res), INSPECT_FORWARD, "%s: %s",
		     body, res->msg);
	cr_assert_eq(strlen(res->body), res->body_len);
	tree = json_loadb(res->body, res->body_len, JSON_REJECT_DUPLICATES, NULL);
	cr_assert_not_null(tree, "forwarded body does not parse: %s", res->body);
	return tree;
}

Test(inspect, stamps_the_owner_label_on_a_container)
{
	struct inspect_result res;
	json_t *t;

	t = forwarded(strict, CC, "{\"Image\":\"x\"}", &res);
	cr_expect_str_eq(owner_in(t, "Labels"), OWNER);
	json_decref(t);
	inspect_result_deinit(&res);

	/* the client's value is replaced, its other labels kept */
	t = forwarded(strict, CC, "{\"Labels\":{\"a\":\"b\",\"" LABEL "\":\"forged\"}}", &res);
	cr_expect_str_eq(owner_in(t, "Labels"), OWNER);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(t, "Labels"), "a")), "b");
	json_decref(t);
	inspect_result_deinit(&res);

	/* a lower-case key is the one dockerd reads: the label goes there, no second key */
	t = forwarded(strict, CC, "{\"labels\":{\"a\":\"b\"}}", &res);
	cr_expect_str_eq(owner_in(t, "labels"), OWNER);
	cr_expect_null(json_object_get(t, "Labels"));
	json_decref(t);
	inspect_result_deinit(&res);

	/* a null map is replaced under the client's key */
	t = forwarded(strict, CC, "{\"LABELS\":null}", &res);
	cr_expect_str_eq(owner_in(t, "LABELS"), OWNER);
	cr_expect_eq(json_object_size(t), 1);
	json_decref(t);
	inspect_result_deinit(&res);

	/* a start body gets none: dockerd ignores its Config */
	t = forwarded(strict, INSPECT_CONTAINER_START, "{}", &res);
	cr_expect_eq(json_object_size(t), 0);
	json_decref(t);
	inspect_result_deinit(&res);
}

Test(inspect, refuses_labels_dockerd_would_not_decode)
{
	static const char *const bodies[] = {
		"{\"Labels\":[]}", "{\"Labels\":\"a=b\"}", "{\"Labels\":{\"a\":1}}",
		"{\"Labels\":{\"a\":{}}}",
	};

	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		struct inspect_result res;

		cr_expect_eq(inspect_body(strict, CC, bodies[i], strlen(bodies[i]), &res),
			     INSPECT_REFUSE, "%s", bodies[i]);
		cr_expect_eq(res.status, 400, "%s", bodies[i]);
		inspect_result_deinit(&res);
	}
}

Test(inspect, stamps_the_owner_label_on_volumes_a_mount_creates)
{
	struct inspect_result res;
	json_t *t, *m;

	t = forwarded(strict, CC, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v\","
		      "\"Target\":\"/v\"},{\"Type\":\"volume\",\"Target\":\"/w\",\"volumeoptions\":"
		      "{\"NoCopy\":true,\"Labels\":{\"x\":\"y\"}}},{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]}}",
		      &res);
	m = json_object_get(json_object_get(t, "HostConfig"), "Mounts");
	cr_expect_str_eq(owner_in(json_object_get(json_array_get(m, 0), "VolumeOptions"), "Labels"),
			 OWNER);
	cr_expect_str_eq(owner_in(json_object_get(json_array_get(m, 1), "volumeoptions"), "Labels"),
			 OWNER);
	cr_expect_null(json_object_get(json_array_get(m, 1), "VolumeOptions"));
	cr_expect_null(json_object_get(json_array_get(m, 2), "VolumeOptions"));
	json_decref(t);
	inspect_result_deinit(&res);
}

Test(inspect, forwards_exactly_the_tree_it_checked_plus_the_label)
{
	const char *const bodies[] = { cli20, cli28 };

	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		struct inspect_result res;
		json_t *in = json_loads(bodies[i], 0, NULL), *out, *m;

		cr_assert_not_null(in);
		out = forwarded(open_p, CC, bodies[i], &res);
		cr_expect_str_eq(owner_in(out, "Labels"), OWNER);
		/* take our additions out again: the rest is the client's tree */
		json_object_del(json_object_get(out, "Labels"), LABEL);
		m = json_array_get(json_object_get(json_object_get(out, "HostConfig"), "Mounts"), 0);
		json_object_del(json_object_get(json_object_get(m, "VolumeOptions"), "Labels"), LABEL);
		json_object_del(json_object_get(m, "VolumeOptions"), "Labels");
		cr_expect(json_equal(in, out), "CLI body %zu changed: %s", i, res.body);
		json_decref(in);
		json_decref(out);
		inspect_result_deinit(&res);
	}
}

Test(inspect, passes_the_cli_bodies_only_with_the_allowlists)
{
	const char *const bodies[] = { cli20, cli28 };

	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		struct inspect_result res;

		/* strict: the bind of /srv/data (or CAP_NET_ADMIN) is refused */
		cr_expect_eq(inspect_body(strict, CC, bodies[i], strlen(bodies[i]), &res),
			     INSPECT_REFUSE);
		cr_expect_eq(res.status, 403);
		inspect_result_deinit(&res);
		cr_expect_eq(inspect_body(open_p, CC, bodies[i], strlen(bodies[i]), &res),
			     INSPECT_FORWARD, "%s", res.msg);
		inspect_result_deinit(&res);
	}
}

Test(inspect, reinspecting_a_forwarded_body_forwards_it_unchanged)
{
	const char *const bodies[] = {
		cli20, cli28, "{\"labels\":null,\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\"}]}}",
		"{\"Image\":\"\\u00e9t\\u00e9\",\"Env\":[\"A=\\n\\t\\u0001\"]}",
	};

	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		struct inspect_result a, b;

		cr_assert_eq(inspect_body(open_p, CC, bodies[i], strlen(bodies[i]), &a), INSPECT_FORWARD);
		cr_assert_eq(inspect_body(open_p, CC, a.body, a.body_len, &b), INSPECT_FORWARD);
		cr_expect_str_eq(a.body, b.body);
		inspect_result_deinit(&a);
		inspect_result_deinit(&b);
	}
}

/* ---- other kinds ---------------------------------------------------------- */

static const struct body_case other_kinds[] = {
	{ "a privileged exec is refused", STRICT, INSPECT_EXEC_CREATE,
	  "{\"Cmd\":[\"sh\"],\"Privileged\":true}", 403, "Privileged is not allowed" },
	{ "a privileged exec in lower case is refused", STRICT, INSPECT_EXEC_CREATE,
	  "{\"Cmd\":[\"sh\"],\"privileged\":true}", 403, NULL },
	{ "an exec with two privileged keys is a 400", STRICT, INSPECT_EXEC_CREATE,
	  "{\"Privileged\":false,\"PRIVILEGED\":true}", 400, NULL },
	{ "a plain exec passes", STRICT, INSPECT_EXEC_CREATE,
	  "{\"AttachStdout\":true,\"Cmd\":[\"ls\"],\"User\":\"root\",\"Privileged\":false}", 0, NULL },
	{ "an empty exec body is a 400", STRICT, INSPECT_EXEC_CREATE, "", 400, NULL },
	{ "a bind volume in disguise is refused", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"Name\":\"v\",\"Driver\":\"local\",\"DriverOpts\":{\"type\":\"none\",\"o\":\"bind\","
	  "\"device\":\"/\"}}", 403, "DriverOpts type \"none\"" },
	{ "a bind volume in disguise with an empty driver is refused", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"driveropts\":{\"o\":\"bind\"}}", 403, "o \"bind\"" },
	{ "a device volume is refused", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"DriverOpts\":{\"type\":\"ext4\",\"device\":\"/dev/sda1\"}}", 403, NULL },
	{ "an nfs volume is refused (type other than tmpfs)", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"DriverOpts\":{\"type\":\"nfs\",\"o\":\"addr=10.0.0.1\",\"device\":\":/x\"}}", 403, NULL },
	{ "a tmpfs volume passes", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"Name\":\"t\",\"DriverOpts\":{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=1m\"}}",
	  0, NULL },
	{ "a plain volume passes", STRICT, INSPECT_VOLUME_CREATE, "{\"Name\":\"v\"}", 0, NULL },
	{ "a cluster volume is refused", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"Name\":\"v\",\"ClusterVolumeSpec\":{}}", 403, NULL },
	{ "volume options that are not strings are a 400", STRICT, INSPECT_VOLUME_CREATE,
	  "{\"DriverOpts\":{\"size\":1}}", 400, NULL },
	{ "an empty volume body is a 400", STRICT, INSPECT_VOLUME_CREATE, "", 400, NULL },
	{ "a null volume body is a 400", STRICT, INSPECT_VOLUME_CREATE, "null", 400, NULL },
	{ "a macvlan network is refused", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"Driver\":\"macvlan\",\"Options\":{\"parent\":\"eth0\"}}", 403, "macvlan" },
	{ "an ipvlan network is refused", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"driver\":\"IPVLAN\"}", 403, NULL },
	{ "a swarm-scoped network is refused", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"Scope\":\"swarm\"}", 403, "Scope" },
	{ "the ingress network is refused", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"Ingress\":true}", 403, "Ingress" },
	{ "a network on a named host bridge is refused", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"Options\":{\"com.docker.network.bridge.name\":\"virbr0\"}}", 403, NULL },
	{ "a bridge network passes", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"n\",\"Driver\":\"bridge\",\"Scope\":\"local\",\"Internal\":true,\"Options\":"
	  "{\"com.docker.network.driver.mtu\":\"1400\"}}", 0, NULL },
	{ "a network with two Name keys is a 400", STRICT, INSPECT_NETWORK_CREATE,
	  "{\"Name\":\"a\",\"name\":\"b\"}", 400, NULL },
	{ "a connect of a container passes", STRICT, INSPECT_NETWORK_CONNECT,
	  "{\"Container\":\"web\"}", 0, NULL },
	{ "a disconnect body passes", STRICT, INSPECT_NETWORK_CONNECT,
	  "{\"Container\":\"web\",\"Force\":true}", 0, NULL },
	{ "a connect with endpoint sysctls is refused", STRICT, INSPECT_NETWORK_CONNECT,
	  "{\"Container\":\"web\",\"EndpointConfig\":{\"DriverOpts\":"
	  "{\"com.docker.network.endpoint.sysctls\":\"x\"}}}", 403, NULL },
	{ "a start body with a privileged HostConfig is refused", STRICT, INSPECT_CONTAINER_START,
	  "{\"HostConfig\":{\"Privileged\":true}}", 403, NULL },
	{ "a start body with top-level binds is refused", STRICT, INSPECT_CONTAINER_START,
	  "{\"Binds\":[\"/:/h\"]}", 403, NULL },
	{ "an empty start body passes", STRICT, INSPECT_CONTAINER_START, "", 0, NULL },
	{ "a null start body passes", STRICT, INSPECT_CONTAINER_START, "null", 0, NULL },
	{ "a start body that is not an object is a 400", STRICT, INSPECT_CONTAINER_START, "[]", 400,
	  NULL },
};

Test(inspect, judges_exec_volume_network_and_start_bodies)
{
	run_cases(other_kinds, N_ELEMS(other_kinds));
}

Test(inspect, stamps_the_owner_label_on_volumes_and_networks)
{
	struct inspect_result res;
	json_t *t;

	t = forwarded(strict, INSPECT_VOLUME_CREATE, "{\"Name\":\"v\",\"Labels\":{\"k\":\"v\"}}", &res);
	cr_expect_str_eq(owner_in(t, "Labels"), OWNER);
	json_decref(t);
	inspect_result_deinit(&res);
	t = forwarded(strict, INSPECT_NETWORK_CREATE, "{\"Name\":\"n\",\"labels\":null}", &res);
	cr_expect_str_eq(owner_in(t, "labels"), OWNER);
	json_decref(t);
	inspect_result_deinit(&res);
	t = forwarded(strict, INSPECT_EXEC_CREATE, "{\"Cmd\":[\"ls\"]}", &res);
	cr_expect_null(json_object_get(t, "Labels"), "an exec has no labels");
	json_decref(t);
	inspect_result_deinit(&res);
}

Test(inspect, empty_start_body_is_forwarded_empty)
{
	struct inspect_result res;

	cr_expect_eq(inspect_body(strict, INSPECT_CONTAINER_START, "", 0, &res), INSPECT_FORWARD);
	cr_expect_str_eq(res.body, "");
	cr_expect_eq(res.body_len, 0);
	inspect_result_deinit(&res);
}

/* ---- /build --------------------------------------------------------------- */

struct build_case {
	const char *what;
	const char *query;
	int status;
	const char *labels;   /* forwarded: the decoded labels JSON expected */
};

static const struct build_case build_cases[] = {
	{ "a build without labels gets the owner label", "t=app&q=1", 0,
	  "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "a build keeps the client's labels", "labels=%7B%22a%22%3A%22b%22%7D", 0,
	  "{\"a\":\"b\",\"" LABEL "\":\"" OWNER "\"}" },
	{ "a build's forged owner label is replaced", "labels={\"" LABEL "\":\"x\"}", 0,
	  "{\"" LABEL "\":\"" OWNER "\"}" },
	{ "networkmode host is refused", "networkmode=host", 403, NULL },
	{ "an encoded networkmode key is decoded first", "%6eetworkmode=host", 403, NULL },
	{ "an encoded networkmode value is decoded first", "networkmode=h%6fst", 403, NULL },
	{ "networkmode host in a later repeat is refused", "networkmode=default&networkmode=host", 403,
	  NULL },
	{ "networkmode container is refused", "networkmode=container:web", 403, NULL },
	{ "networkmode of another network is refused", "networkmode=theirs", 403, NULL },
	{ "networkmode default passes", "networkmode=default", 0, NULL },
	{ "networkmode none passes", "networkmode=none", 0, NULL },
	{ "a cgroup parent is refused", "cgroupparent=%2F", 403, NULL },
	{ "security options are refused", "securityopt=seccomp%3Dunconfined", 403, NULL },
	{ "a semicolon is a 400", "t=a;networkmode=host", 400, NULL },
	{ "a bad escape is a 400", "t=%zz", 400, NULL },
	{ "repeated labels are a 400", "labels={}&labels={}", 400, NULL },
	{ "labels that are not an object are a 400", "labels=[]", 400, NULL },
	{ "labels with a number are a 400", "labels={\"a\":1}", 400, NULL },
};

Test(inspect, judges_a_build_query_and_stamps_its_labels)
{
	for (size_t i = 0; i < N_ELEMS(build_cases); i++) {
		const struct build_case *c = &build_cases[i];
		struct inspect_result res;
		int r = inspect_build_query(strict, c->query, strlen(c->query), &res);

		cr_expect_eq(r, c->status ? INSPECT_REFUSE : INSPECT_FORWARD, "%s: %d %s", c->what, r,
			     res.msg);
		cr_expect_eq(res.status, c->status, "%s: status %d", c->what, res.status);
		if (c->status)
			expect_safe_msg(res.msg, c->what);
		if (!c->status && c->labels) {
			/* find labels= in the new query and decode it */
			const char *l = strstr(res.body, "labels=");
			char dec[512];
			size_t n = 0;

			cr_assert_not_null(l, "%s: %s", c->what, res.body);
			for (l += 7; *l && *l != '&' && n < sizeof(dec) - 1; l++) {
				if (*l == '%') {
					unsigned v;

					sscanf(l + 1, "%2x", &v);
					dec[n++] = (char)v;
					l += 2;
				} else {
					dec[n++] = *l;
				}
			}
			dec[n] = '\0';
			cr_expect_str_eq(dec, c->labels, "%s", c->what);
		}
		inspect_result_deinit(&res);
	}
}

Test(inspect, build_query_keeps_other_parameters_in_order)
{
	struct inspect_result res;
	static const char q[] = "t=app%3Av1&dockerfile=Dockerfile&buildargs=%7B%7D";

	cr_assert_eq(inspect_build_query(strict, q, strlen(q), &res), INSPECT_FORWARD);
	cr_expect_eq(strncmp(res.body, q, strlen(q)), 0, "%s", res.body);
	cr_expect_eq(strncmp(res.body + strlen(q), "&labels=", 8), 0, "%s", res.body);
	inspect_result_deinit(&res);
}

/* ---- policy --------------------------------------------------------------- */

Test(inspect, policy_new_refuses_bad_configuration_with_a_reason)
{
	static const char *const bad_cap[] = { "NET ADMIN" };
	static const char *const rel_bind[] = { "srv/data" };
	static const char *const dotdot_bind[] = { "/srv/../etc" };
	static const char *const colon_bind[] = { "/srv:x" };
	static const char *const empty[] = { "" };
	const struct inspect_config cfgs[] = {
		{ .label_name = "", .label_value = OWNER },
		{ .label_name = LABEL, .label_value = NULL },
		{ .label_name = "a=b", .label_value = OWNER },
		{ .label_name = LABEL, .label_value = "x y" },
		{ .label_name = LABEL, .label_value = OWNER, .caps = bad_cap, .ncaps = 1 },
		{ .label_name = LABEL, .label_value = OWNER, .binds = rel_bind, .nbinds = 1 },
		{ .label_name = LABEL, .label_value = OWNER, .binds = dotdot_bind, .nbinds = 1 },
		{ .label_name = LABEL, .label_value = OWNER, .binds = colon_bind, .nbinds = 1 },
		{ .label_name = LABEL, .label_value = OWNER, .runtimes = empty, .nruntimes = 1 },
		{ .label_name = LABEL, .label_value = OWNER, .nbinds = 1 },
	};

	for (size_t i = 0; i < N_ELEMS(cfgs); i++) {
		struct inspect_policy *p = (struct inspect_policy *)&p;   /* untouched on error */
		const char *why = NULL;

		cr_expect_eq(inspect_policy_new(&cfgs[i], &p, &why), -EINVAL, "config %zu", i);
		cr_expect_not_null(why, "config %zu", i);
		cr_expect_eq((void *)p, (void *)&p, "config %zu: out written on error", i);
	}
	cr_expect_eq(inspect_policy_new(NULL, NULL, NULL), -EINVAL);
}

Test(inspect, allow_all_caps_and_root_bind_open_everything_they_name)
{
	static const char *const caps[] = { "all" };
	static const char *const binds[] = { "/" };
	const struct inspect_config c = { .label_name = LABEL, .label_value = OWNER, .caps = caps,
					  .ncaps = 1, .binds = binds, .nbinds = 1 };
	static const char body[] = "{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\",\"ALL\"],"
		"\"Binds\":[\"/etc:/etc\"],\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\"}]}}";
	struct inspect_policy *p;
	struct inspect_result res;

	cr_assert_eq(inspect_policy_new(&c, &p, NULL), 0);
	cr_expect_eq(inspect_body(p, CC, body, strlen(body), &res), INSPECT_FORWARD, "%s", res.msg);
	inspect_result_deinit(&res);
	inspect_policy_free(p);
}

Test(inspect, bad_arguments_are_einval_and_leave_a_clean_result)
{
	struct inspect_result res;

	cr_expect_eq(inspect_body(NULL, CC, "{}", 2, &res), -EINVAL);
	cr_expect_null(res.body);
	cr_expect_eq(inspect_body(strict, (enum inspect_kind)99, "{}", 2, &res), -EINVAL);
	cr_expect_eq(inspect_body(strict, CC, NULL, 2, &res), -EINVAL);
	cr_expect_eq(inspect_body(strict, CC, "{}", 2, NULL), -EINVAL);
	cr_expect_eq(inspect_build_query(NULL, "", 0, &res), -EINVAL);
	inspect_result_deinit(&res);
	inspect_result_deinit(NULL);
	inspect_policy_free(NULL);
}

Test(inspect, long_values_are_cut_in_messages)
{
	char body[512];
	struct inspect_result res;

	snprintf(body, sizeof(body), "{\"HostConfig\":{\"Runtime\":\"%0300d\"}}", 7);
	cr_assert_eq(inspect_body(strict, CC, body, strlen(body), &res), INSPECT_REFUSE);
	cr_expect(strstr(res.msg, "...\"") != NULL, "%s", res.msg);
	expect_safe_msg(res.msg, "long runtime");
	inspect_result_deinit(&res);

	snprintf(body, sizeof(body), "{\"HostConfig\":{\"Runtime\":\"a\\\"b\\\\c\\u0001\"}}");
	cr_assert_eq(inspect_body(strict, CC, body, strlen(body), &res), INSPECT_REFUSE);
	cr_expect(strstr(res.msg, "\"a?b?c?\"") != NULL, "%s", res.msg);
	inspect_result_deinit(&res);
}
