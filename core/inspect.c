/* core/inspect.c: the create-body inspector for tenant isolation. The body is
 * parsed with jansson and walked the way Go's encoding/json fills moby's
 * structs (core/gojson.c), so every key dockerd will read is seen; what lifts
 * confinement is refused (403, HostConfig rules in core/hostcfg.c), what reads
 * two ways is refused (400), the owner label is stamped, and the tree that
 * was checked is what gets forwarded. It repairs nothing but the owner label
 * and resolves no name.
 */
#include "inspect.h"

#include "ascii.h"
#include "filters.h"
#include "gojson.h"
#include "hostcfg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- NetworkingConfig / EndpointSettings --------------------------------- */

struct endpoint_at {
	bool user_defined;   /* NetworkID counts only for a user-defined network */
};

static int ep_links(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, false, hostcfg_link);
}

/* Per-endpoint sysctls (netlabel.EndpointSysctls, API 1.46; current
 * container_routes.go handleSysctlBC moves interface sysctls there). */
static int ep_driveropts(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r = gojson_str_map(g, v, path);

	(void)ctx;
	(void)key;
	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e)
		if (gojson_ieq(k, strlen(k), "com.docker.network.endpoint.sysctls"))
			return gojson_refuse(g, 403, "%s sysctls are not allowed", path);
	return 0;
}

/* daemon/container_operations.go getNetworkID: for a user-defined network the
 * endpoint's NetworkID, when set, is what dockerd connects to, not the key. */
static int ep_networkid(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r;

	(void)key;
	r = gojson_str(g, v, path, &s, &n);
	if (r || !n || !((struct endpoint_at *)ctx)->user_defined)
		return r;
	return hostcfg_ref(hostcfg_of(g), INSPECT_REF_NETWORK, false, s, n, path);
}

static const struct gojson_field endpoint_fields[] = {
	{ "Links", ep_links }, { "DriverOpts", ep_driveropts }, { "NetworkID", ep_networkid },
};

static int endpoint_check(struct gojson *g, json_t *v, bool user_defined, const char *path)
{
	struct endpoint_at ep = { user_defined };

	return GOJSON_WALK_STRUCT(g, &ep, v, path, endpoint_fields);
}

static int nc_endpoints(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r;

	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return gojson_want(g, path, "an object");
	json_object_foreach(v, k, e) {
		size_t n = strlen(k);
		bool user = !gojson_eq(k, n, "bridge") && !gojson_eq(k, n, "none") &&
			    !gojson_eq(k, n, "default");
		char sub[GOJSON_PATH_LEN];

		gojson_path_key(sub, path, k);
		if (gojson_ieq(k, n, "host"))
			return gojson_refuse(g, 403, "%s: the host network is not allowed", sub);
		if (user && (r = hostcfg_ref(hostcfg_of(g), INSPECT_REF_NETWORK, false, k, n, sub)))
			return r;
		r = endpoint_check(g, e, user, sub);
		if (r)
			return r;
	}
	return 0;
}

static const struct gojson_field netcfg_fields[] = { { "EndpointsConfig", nc_endpoints } };

/* ---- container create / start ------------------------------------------ */

struct top_at {
	struct hostcfg_labels labels;
};

static int top_labels(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	return hostcfg_labels_record(g, &((struct top_at *)ctx)->labels, key, v, path);
}

static int top_hostconfig(struct gojson *g, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	int r = gojson_struct(g, v, path);

	(void)ctx;
	(void)key;
	if (r || json_is_null(v))
		return r;
	return hostcfg_check(hostcfg_of(g), v, path, false);
}

static int top_netcfg(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return GOJSON_WALK_STRUCT(g, NULL, v, path, netcfg_fields);
}

static const struct gojson_field create_fields[] = {
	{ "Labels", top_labels }, { "HostConfig", top_hostconfig },
	{ "NetworkingConfig", top_netcfg },
};
static const struct gojson_field start_fields[] = { { "HostConfig", top_hostconfig } };

/* moby 20.10 runconfig/config_unix.go ContainerConfigWrapper embeds
 * *container.Config and *container.HostConfig beside "HostConfig": a HostConfig
 * field at the top level is honoured when there is no "HostConfig" (and
 * Memory, MemorySwap, CpuShares, CpusetCpus, VolumeDriver are merged when
 * there is). The current daemon's CreateRequest dropped the embedding; we
 * judge the top level as a HostConfig for both. A start body (API < 1.24,
 * runconfig/hostconfig.go decodeHostConfig) is the same wrapper. */
static int container_body(struct hostcfg *h, json_t *root, bool create)
{
	struct top_at top = { 0 };
	int r = gojson_check_folds(&h->g, root, "");

	if (!r)
		r = create ? GOJSON_WALK(&h->g, &top, root, "", create_fields, true)
			   : GOJSON_WALK(&h->g, &top, root, "", start_fields, true);
	if (!r)
		r = hostcfg_check(h, root, "", true);
	if (!r && create)
		r = hostcfg_labels_stamp(h, root, &top.labels);
	return r;
}

/* ---- exec / volume / network ------------------------------------------- */

static const struct gojson_field exec_fields[] = { { "Privileged", hostcfg_not_true } };

struct named_at {
	struct hostcfg_labels labels;
};

static int named_labels(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	return hostcfg_labels_record(g, &((struct named_at *)ctx)->labels, key, v, path);
}

static int name_ref(struct gojson *g, json_t *v, enum inspect_ref_kind kind, bool creates,
		    const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r = gojson_str(g, v, path, &s, &n);

	return r || !n ? r : hostcfg_ref(hostcfg_of(g), kind, creates, s, n, path);
}

static int v_name(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(g, v, INSPECT_REF_VOLUME, true, path);
}

static int v_driveropts(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return hostcfg_volume_opts(g, v, path);
}

/* Cluster (CSI) volumes are swarm objects: not a plain dockerd tenant's. */
static int v_cluster(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return json_is_null(v) ? 0 : gojson_refuse(g, 403, "%s is not allowed", path);
}

/* volume.CreateOptions (api/types/volume): Name, Driver, DriverOpts, Labels,
 * ClusterVolumeSpec. */
static const struct gojson_field volume_fields[] = {
	{ "Name", v_name }, { "DriverOpts", v_driveropts }, { "Labels", named_labels },
	{ "ClusterVolumeSpec", v_cluster },
};

static int n_name(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(g, v, INSPECT_REF_NETWORK, true, path);
}

/* macvlan and ipvlan put the container on a host interface's segment (the
 * "parent" option), past the host's own filtering. */
static int n_driver(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	char b[GOJSON_SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = gojson_str(g, v, path, &s, &n);
	if (!r && (gojson_ieq(s, n, "macvlan") || gojson_ieq(s, n, "ipvlan")))
		r = gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
	return r;
}

/* Swarm scope and the ingress network are cluster-wide: never a tenant's. */
static int n_scope(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	char b[GOJSON_SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = gojson_str(g, v, path, &s, &n);
	if (!r && n && !gojson_ieq(s, n, "local"))
		r = gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
	return r;
}

static int cf_network(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(g, v, INSPECT_REF_NETWORK, false, path);
}

static const struct gojson_field configfrom_fields[] = { { "Network", cf_network } };

/* ConfigFrom takes its configuration from a config-only network by name
 * (daemon/network.go createNetwork, NetworkOptionConfigFrom): a reference. */
static int n_configfrom(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return GOJSON_WALK_STRUCT(g, NULL, v, path, configfrom_fields);
}

/* libnetwork's bridge driver reuses an existing interface of the given name
 * (drivers/bridge/bridge.go: bridgeAlreadyExists skips setupDevice): a tenant
 * naming a host bridge joins its segment. */
static int n_options(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r = gojson_str_map(g, v, path);

	(void)ctx;
	(void)key;
	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e)
		if (gojson_ieq(k, strlen(k), "com.docker.network.bridge.name"))
			return gojson_refuse(g, 403, "%s com.docker.network.bridge.name is not allowed",
				      path);
	return 0;
}

/* NetworkCreateRequest (20.10 api/types/types.go: embeds NetworkCreate). */
static const struct gojson_field network_fields[] = {
	{ "Name", n_name }, { "Driver", n_driver }, { "Scope", n_scope },
	{ "Ingress", hostcfg_not_true }, { "ConfigFrom", n_configfrom }, { "Options", n_options },
	{ "Labels", named_labels },
};

static int c_container(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(g, v, INSPECT_REF_CONTAINER, false, path);
}

static int c_endpoint(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return endpoint_check(g, v, true, path);
}

/* NetworkConnect {Container, EndpointConfig}, NetworkDisconnect {Container, Force}. */
static const struct gojson_field connect_fields[] = {
	{ "Container", c_container }, { "EndpointConfig", c_endpoint },
};

/* ---- entry points ------------------------------------------------------ */

/* ---- entry points ------------------------------------------------------ */

static int load_error(struct gojson *g, const json_error_t *err)
{
	switch (json_error_code(err)) {
	case json_error_out_of_memory:
		return -ENOMEM;
	case json_error_duplicate_key:
		return gojson_refuse(g, 400, "the body repeats a key (line %d, column %d)",
				     err->line, err->column);
	case json_error_numeric_overflow:
		return gojson_refuse(g, 400, "a number in the body is out of range (line %d, "
				     "column %d)", err->line, err->column);
	case json_error_stack_overflow:
		return gojson_refuse(g, 400, "the body nests too deeply");
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return gojson_refuse(g, 400, "the body holds a NUL character");
	default:
		return gojson_refuse(g, 400, "the body is not valid JSON (line %d, column %d)",
				     err->line, err->column);
	}
}

static int dump(json_t *root, struct inspect_result *res)
{
	size_t need = json_dumpb(root, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	char *body = need ? malloc(need + 1) : NULL;

	if (!body || json_dumpb(root, body, need, JSON_COMPACT | JSON_ENCODE_ANY) != need) {
		free(body);
		return -ENOMEM;
	}
	body[need] = '\0';
	res->body = body;
	res->body_len = need;
	return 0;
}

/* The judgement of one parsed body. */
static int judge(struct hostcfg *h, enum inspect_kind kind, json_t *root)
{
	struct gojson *g = &h->g;
	struct named_at named = { 0 };
	int r;

	if (json_is_null(root) && kind == INSPECT_CONTAINER_START)
		return 0;   /* a nil HostConfig: dockerd starts the container as created */
	if (!json_is_object(root))
		return gojson_want(g, "", "a JSON object");
	switch (kind) {
	case INSPECT_CONTAINER_CREATE:
	case INSPECT_CONTAINER_START:
		return container_body(h, root, kind == INSPECT_CONTAINER_CREATE);
	case INSPECT_EXEC_CREATE:
		return GOJSON_WALK(g, NULL, root, "", exec_fields, false);
	case INSPECT_VOLUME_CREATE:
		r = GOJSON_WALK(g, &named, root, "", volume_fields, false);
		return r ? r : hostcfg_labels_stamp(h, root, &named.labels);
	case INSPECT_NETWORK_CREATE:
		r = GOJSON_WALK(g, &named, root, "", network_fields, false);
		return r ? r : hostcfg_labels_stamp(h, root, &named.labels);
	case INSPECT_NETWORK_CONNECT:
	default:
		return GOJSON_WALK(g, NULL, root, "", connect_fields, false);
	}
}

_Static_assert(INSPECT_MSG_MAX == GOJSON_MSG_MAX, "a refusal's message is copied whole");

static void refused(struct inspect_result *res, const struct gojson *g)
{
	res->status = g->status;
	memcpy(res->msg, g->msg, sizeof(res->msg));
}

int inspect_body(const struct inspect_policy *p, enum inspect_kind kind, const char *body,
		 size_t len, struct inspect_result *res)
{
	struct hostcfg h = { .p = p, .res = res };
	json_error_t err;
	json_t *root;
	int r;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!p || (!body && len) || (unsigned)kind > INSPECT_NETWORK_CONNECT)
		return -EINVAL;
	if (len > p->max_body) {
		gojson_refuse(&h.g, 413, "the body is over %zu bytes", p->max_body);
		refused(res, &h.g);
		return INSPECT_REFUSE;
	}
	if (!len) {
		if (kind != INSPECT_CONTAINER_START) {
			gojson_refuse(&h.g, 400, "the body is empty");
			refused(res, &h.g);
			return INSPECT_REFUSE;
		}
		res->body = calloc(1, 1);
		return res->body ? INSPECT_FORWARD : -ENOMEM;
	}
	/* No JSON_ALLOW_NUL, no JSON_DISABLE_EOF_CHECK: "\u0000" and trailing data
	 * are refused (the current daemon's loadJSON refuses the latter too). */
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	r = root ? judge(&h, kind, root) : load_error(&h.g, &err);
	if (!r)
		r = dump(root, res);
	json_decref(root);
	if (r) {
		inspect_result_deinit(res);
		if (r > 0)
			refused(res, &h.g);
	}
	return r > 0 ? INSPECT_REFUSE : r;
}

/* ---- /build ------------------------------------------------------------- */

enum { BUILD_REFUSED = 2 };   /* distinct from FILTERS_BAD through filters_query_each */

static int build_param(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct gojson *g = arg;
	char b[GOJSON_SHOW_LEN];

	/* build_routes.go newImageBuildOptions: r.FormValue, exact keys. BuildKit
	 * (builder-next/builder.go) takes only "", default, host and none. */
	if (gojson_eq(k, kl, "networkmode") && vl && !gojson_eq(v, vl, "default") &&
	    !gojson_eq(v, vl, "bridge") && !gojson_eq(v, vl, "none")) {
		gojson_refuse(g, 403, "build networkmode \"%s\" is not allowed", gojson_show(b, v, vl));
		return BUILD_REFUSED;
	}
	if (gojson_eq(k, kl, "cgroupparent") && vl) {
		gojson_refuse(g, 403, "build cgroupparent is not allowed");
		return BUILD_REFUSED;
	}
	if (gojson_eq(k, kl, "securityopt")) {
		gojson_refuse(g, 403, "build securityopt is not allowed");
		return BUILD_REFUSED;
	}
	return 0;
}

int inspect_build_query(const struct inspect_policy *p, const char *query, size_t qlen,
			struct inspect_result *res)
{
	struct gojson g = { 0 };
	size_t cap, len;
	char *out;
	int r;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!p || (!query && qlen))
		return -EINVAL;
	r = filters_query_each(query, qlen, build_param, &g, res->msg, sizeof(res->msg));
	if (r == BUILD_REFUSED) {
		refused(res, &g);
		return INSPECT_REFUSE;
	}
	if (r == FILTERS_BAD) {
		res->status = 400;
		return INSPECT_REFUSE;
	}
	if (r < 0)
		return r;
	cap = FILTERS_OUT_MAX(qlen, strlen(p->label_name), strlen(p->label_value));
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	r = filters_stamp_labels(query, qlen, p->label_name, p->label_value, out, cap, &len,
				 res->msg, sizeof(res->msg));
	if (r) {
		free(out);
		if (r == FILTERS_BAD) {
			res->status = 400;
			return INSPECT_REFUSE;
		}
		memset(res, 0, sizeof(*res));
		return r;
	}
	res->body = out;
	res->body_len = len;
	return INSPECT_FORWARD;
}

void inspect_result_deinit(struct inspect_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->nrefs; i++)
		free(res->refs[i].name);
	free(res->refs);
	free(res->body);
	memset(res, 0, sizeof(*res));
}

void inspect_seed(size_t seed)
{
	json_object_seed(seed);
}

/* ---- policy ------------------------------------------------------------- */

static bool label_part_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_vchar((unsigned char)*s) || *s == '=' || *s == '"' || *s == '\\')
			return false;
	return true;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

void inspect_policy_free(struct inspect_policy *p)
{
	if (!p)
		return;
	free_list(p->caps, p->ncaps);
	free_list(p->runtimes, p->nruntimes);
	free_list(p->binds, p->nbinds);
	free(p->label_name);
	free(p->label_value);
	free(p);
}

const char *inspect_policy_label_name(const struct inspect_policy *p)
{
	return p->label_name;
}

const char *inspect_policy_label_value(const struct inspect_policy *p)
{
	return p->label_value;
}

size_t inspect_policy_max_body(const struct inspect_policy *p)
{
	return p->max_body;
}

/* One allowlist entry, checked and put in the form its check compares. */
static int list_entry(const char *s, int what, char **out, const char **why)
{
	size_t l = s ? strlen(s) : 0;

	if (!l) {
		*why = "an empty --allow-cap, --allow-runtime or --allow-bind entry";
		return -EINVAL;
	}
	for (size_t k = 0; k < l; k++) {
		unsigned char c = (unsigned char)s[k];

		if (what == 'c' && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				     (c >= '0' && c <= '9') || c == '_')) {
			*why = "an --allow-cap entry must be [A-Za-z0-9_]";
			return -EINVAL;
		}
		if (what == 'r' && !is_vchar(c)) {
			*why = "an --allow-runtime entry must be printable ASCII";
			return -EINVAL;
		}
		if (what == 'b' && (is_ctl(c) || c == '\\' || c == ':')) {
			*why = "an --allow-bind directory holds a control byte, '\\' or ':'";
			return -EINVAL;
		}
	}
	if (what == 'b' && s[0] != '/') {
		*why = "an --allow-bind directory must be an absolute path";
		return -EINVAL;
	}
	*out = malloc(l + 5);
	if (!*out)
		return -ENOMEM;
	if (what == 'c') {
		hostcfg_cap_normalize(s, l, *out);
	} else if (what == 'r') {
		memcpy(*out, s, l + 1);
	} else if (hostcfg_clean_path(s, l, *out) < 0) {
		free(*out);
		*out = NULL;
		*why = "an --allow-bind directory holds a \"..\" component";
		return -EINVAL;
	}
	return 0;
}

static int copy_list(const char *const *in, size_t n, char ***out, size_t *nout, int what,
		     const char **why)
{
	int r;

	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	if (!in) {
		*why = "a list count without a list";
		return -EINVAL;
	}
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = list_entry(in[i], what, &(*out)[i], why);
		if (r)
			return r;
		*nout = i + 1;
	}
	return 0;
}

int inspect_policy_new(const struct inspect_config *cfg, struct inspect_policy **out,
		       const char **why)
{
	struct inspect_policy *p = NULL;
	const char *reason = "out of memory";
	int r = -EINVAL;

	if (!cfg || !out) {
		reason = "no configuration";
		goto fail;
	}
	if (!label_part_ok(cfg->label_name) || !label_part_ok(cfg->label_value)) {
		reason = "the owner label name and value must be printable ASCII without "
			 "blanks, '=', '\"' or '\\'";
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto fail;
	}
	p->max_body = cfg->max_body ? cfg->max_body : INSPECT_DEFAULT_MAX_BODY;
	p->label_name = strdup(cfg->label_name);
	p->label_value = strdup(cfg->label_value);
	r = !p->label_name || !p->label_value ? -ENOMEM : 0;
	if (!r)
		r = copy_list(cfg->caps, cfg->ncaps, &p->caps, &p->ncaps, 'c', &reason);
	if (!r)
		r = copy_list(cfg->runtimes, cfg->nruntimes, &p->runtimes, &p->nruntimes, 'r',
			      &reason);
	if (!r)
		r = copy_list(cfg->binds, cfg->nbinds, &p->binds, &p->nbinds, 'b', &reason);
	if (r)
		goto fail;
	*out = p;
	return 0;
fail:
	inspect_policy_free(p);
	if (why)
		*why = reason;
	return r;
}
