/* core/hostcfg.c: moby's HostConfig as the isolation inspector judges it:
 * privileged, host namespaces, capabilities, devices, sysctls, runtimes,
 * security options, binds and mounts against the container's allowlists,
 * and the names of other objects it uses. Each rule cites the moby code
 * whose reading it mirrors. No I/O: a bind source is judged as a string.
 */
#include "hostcfg.h"

#include "ascii.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- references and labels ---------------------------------------------- */

int hostcfg_ref(struct hostcfg *h, enum inspect_ref_kind kind, bool creates, const char *name,
		size_t n, const char *path)
{
	struct inspect_result *res = h->res;
	struct inspect_ref *ref;
	char *copy;

	if (res->nrefs == h->refcap) {
		size_t cap = h->refcap ? h->refcap * 2 : 8;
		struct inspect_ref *grown = realloc(res->refs, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		res->refs = grown;
		h->refcap = cap;
	}
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, n);
	copy[n] = '\0';
	ref = &res->refs[res->nrefs++];
	ref->kind = kind;
	ref->creates = creates;
	snprintf(ref->field, sizeof(ref->field), "%s", path);
	ref->name = copy;
	return 0;
}

int hostcfg_labels_record(struct gojson *g, struct hostcfg_labels *at, const char *key,
			  json_t *val, const char *path)
{
	snprintf(at->key, sizeof(at->key), "%s", key);
	at->val = val;
	return gojson_str_map(g, val, path);
}

int hostcfg_labels_stamp(struct hostcfg *h, json_t *obj, struct hostcfg_labels *at)
{
	json_t *labels = at->val;

	if (labels && json_is_object(labels))
		return json_object_set_new(labels, h->p->label_name,
					   json_string(h->p->label_value)) ? -ENOMEM : 0;
	labels = json_object();
	if (!labels || json_object_set_new(labels, h->p->label_name,
					   json_string(h->p->label_value))) {
		json_decref(labels);
		return -ENOMEM;
	}
	return json_object_set_new(obj, at->val ? at->key : "Labels", labels) ? -ENOMEM : 0;
}

/* ---- HostConfig ------------------------------------------------------- */

int hostcfg_not_true(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	bool b = false;
	int r;

	(void)ctx;
	(void)key;
	r = gojson_bool(g, v, path, &b);
	if (!r && b)
		r = gojson_refuse(g, 403, "%s is not allowed", path);
	return r;
}

/* moby api/types/container hostconfig(_unix).go: every IsHost() is == "host";
 * we also refuse other cases and "host:..." (dockerd rejects those, but a
 * refusal here costs nothing). IsContainer() is a case-sensitive
 * "container:" prefix; NetworkMode names a user network otherwise, unless
 * predefined (runconfig IsPreDefinedNetwork: bridge, host, none, default). */
enum { MODE_CONTAINER = 1, MODE_NETWORK = 2 };

static int mode_check(struct gojson *g, json_t *v, const char *path, unsigned flags)
{
	const char *s = "";
	size_t n = 0;
	int r = gojson_str(g, v, path, &s, &n);

	if (r)
		return r;
	if (gojson_ieq(s, n, "host") || gojson_iprefix(s, n, "host:")) {
		char b[GOJSON_SHOW_LEN];

		return gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
	}
	if ((flags & MODE_CONTAINER) && n >= 10 && !memcmp(s, "container:", 10)) {
		if (n == 10)
			return gojson_refuse(g, 400, "%s names no container", path);
		return hostcfg_ref(hostcfg_of(g), INSPECT_REF_CONTAINER, false, s + 10, n - 10, path);
	}
	if ((flags & MODE_NETWORK) && n && !gojson_eq(s, n, "default") &&
	    !gojson_eq(s, n, "bridge") && !gojson_eq(s, n, "none"))
		return hostcfg_ref(hostcfg_of(g), INSPECT_REF_NETWORK, false, s, n, path);
	return 0;
}

static int hc_networkmode(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(g, v, path, MODE_CONTAINER | MODE_NETWORK);
}

static int hc_sharedmode(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(g, v, path, MODE_CONTAINER);   /* PidMode, IpcMode, Cgroup */
}

static int hc_hostmode(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(g, v, path, 0);   /* UTSMode, UsernsMode, CgroupnsMode */
}

/* moby oci/caps/utils.go NormalizeLegacyCapabilities: strings.ToUpper (which
 * also maps U+0131 dotless i to 'I' and U+017F long s to 'S'), "ALL" kept,
 * else "CAP_" prefixed. out has n + 5 bytes. */
void hostcfg_cap_normalize(const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 4;

	for (size_t i = 0; i < n; i++) {
		if (u[i] == 0xc4 && i + 1 < n && u[i + 1] == 0xb1) {
			out[o++] = 'I';
			i++;
		} else if (u[i] == 0xc5 && i + 1 < n && u[i + 1] == 0xbf) {
			out[o++] = 'S';
			i++;
		} else {
			out[o++] = (char)(u[i] >= 'a' && u[i] <= 'z' ? u[i] - 32 : u[i]);
		}
	}
	out[o] = '\0';
	if (!strcmp(out + 4, "ALL") || !strncmp(out + 4, "CAP_", 4))
		memmove(out, out + 4, o - 4 + 1);
	else
		memcpy(out, "CAP_", 4);
}

static bool in_list(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static int cap_entry(struct gojson *g, const char *s, size_t n, const char *path)
{
	const struct inspect_policy *p = hostcfg_of(g)->p;
	char *norm = malloc(n + 5), b[GOJSON_SHOW_LEN];
	bool ok;

	if (!norm)
		return -ENOMEM;
	hostcfg_cap_normalize(s, n, norm);
	ok = in_list(p->caps, p->ncaps, norm) || in_list(p->caps, p->ncaps, "ALL");
	gojson_show(b, norm, strlen(norm));
	free(norm);
	return ok ? 0 : gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, b);
}

static int hc_capadd(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, true, cap_entry);
}

/* API 1.40 (Docker 19.03) only: HostConfig.Capabilities replaced the whole
 * set. 20.10 drops it, the current daemon rejects it for 1.40
 * (container_routes.go rejectLegacyCapabilities); a 19.03 daemon obeys it. */
static int hc_capabilities(struct gojson *g, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v) || (json_is_array(v) && !json_array_size(v)))
		return 0;
	return gojson_refuse(g, 403, "%s is not allowed", path);
}

/* Devices, DeviceRequests, DeviceCgroupRules: any entry reaches host devices. */
static int hc_no_entries(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return gojson_want(g, path, "an array");
	return json_array_size(v) ? gojson_refuse(g, 403, "%s is not allowed", path) : 0;
}

/* Sysctls, Annotations (read by the runtime: kata's io.katacontainers.* pick
 * host binaries): refused when not empty. */
static int hc_no_map(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	int r;

	(void)ctx;
	(void)key;
	r = gojson_str_map(g, v, path);
	if (!r && json_is_object(v) && json_object_size(v))
		r = gojson_refuse(g, 403, "%s is not allowed", path);
	return r;
}

static int hc_cgroupparent(struct gojson *g, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r;

	(void)ctx;
	(void)key;
	r = gojson_str(g, v, path, &s, &n);
	return !r && n ? gojson_refuse(g, 403, "%s is not allowed", path) : r;
}

static int hc_runtime(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const struct inspect_policy *p = hostcfg_of(g)->p;
	const char *s = "";
	size_t n = 0;
	char b[GOJSON_SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = gojson_str(g, v, path, &s, &n);
	if (r || !n || in_list(p->runtimes, p->nruntimes, s))
		return r;
	return gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
}

/* MaskedPaths/ReadonlyPaths: any value but null replaces the default set (an
 * empty list unmasks /proc/kcore and friends). */
static int hc_override(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return gojson_want(g, path, "an array");
	return gojson_refuse(g, 403, "%s is not allowed", path);
}

/* strconv.ParseBool's false spellings. */
static bool go_false(const char *s, size_t n)
{
	static const char *const spellings[] = { "0", "f", "F", "false", "FALSE", "False" };

	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		if (gojson_eq(s, n, spellings[i]))
			return true;
	return false;
}

/* moby daemon/daemon_unix.go parseSecurityOpt: a bare "disable" is
 * label=disable, a bare "writable-cgroups" (current) writes cgroups; else
 * split at the first '=' or, when there is none, the first ':'. Keys compared
 * case-insensitively here (dockerd rejects other cases; refusing costs
 * nothing). Only the builtin seccomp profile: a custom one can allow every
 * syscall. label "type:" picks the SELinux domain (spc_t is unconfined). */
static int secopt_entry(struct gojson *g, const char *s, size_t n, const char *path)
{
	const char *sep, *val;
	size_t kl, vl;
	char b[GOJSON_SHOW_LEN];
	bool bad = false;

	if (gojson_eq(s, n, "no-new-privileges"))
		return 0;
	if (gojson_ieq(s, n, "disable") || gojson_ieq(s, n, "writable-cgroups"))
		return gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
	sep = memchr(s, '=', n);
	if (!sep)
		sep = memchr(s, ':', n);
	if (!sep)
		return 0;   /* dockerd: invalid --security-opt */
	kl = (size_t)(sep - s);
	val = sep + 1;
	vl = n - kl - 1;
	if (gojson_ieq(s, kl, "label"))
		bad = gojson_ieq(val, vl, "disable") || gojson_iprefix(val, vl, "type:");
	else if (gojson_ieq(s, kl, "apparmor"))
		bad = gojson_ieq(val, vl, "unconfined");
	else if (gojson_ieq(s, kl, "seccomp"))
		bad = vl && !gojson_eq(val, vl, "builtin");
	else if (gojson_ieq(s, kl, "writable-cgroups"))
		bad = !go_false(val, vl);
	else if (gojson_ieq(s, kl, "systempaths"))
		bad = gojson_ieq(val, vl, "unconfined");
	if (!bad)
		return 0;
	return gojson_refuse(g, 403, "%s \"%s\" is not allowed", path, gojson_show(b, s, n));
}

static int hc_securityopt(struct gojson *g, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, false, secopt_entry);
}

/* A bind source: absolute, no '\\' (linux_parser.go linuxValidateAbsolute reads
 * it as '/' for the check, the mount uses it raw), no ".." (refused, not
 * resolved), then cleaned (path.Clean, as parseMountSpec does) and matched
 * against the allowlist on whole segments. Symlinks are not resolved here:
 * an allowlisted directory must not be writable by a tenant. */
static int bind_source(struct gojson *g, const char *s, size_t n, const char *path)
{
	const struct inspect_policy *p = hostcfg_of(g)->p;
	char b[GOJSON_SHOW_LEN], *clean;
	bool ok = false;

	if (memchr(s, '\\', n))
		return gojson_refuse(g, 403, "%s \"%s\" is not allowed (a backslash)", path,
				     gojson_show(b, s, n));
	if (!n || s[0] != '/')
		return gojson_refuse(g, 403, "%s \"%s\" is not an absolute path", path,
				     gojson_show(b, s, n));
	clean = malloc(n + 2);
	if (!clean)
		return -ENOMEM;
	if (hostcfg_clean_path(s, n, clean) < 0) {
		free(clean);
		return gojson_refuse(g, 403, "%s \"%s\" has a \"..\" component", path,
				     gojson_show(b, s, n));
	}
	for (size_t i = 0; i < p->nbinds && !ok; i++) {
		size_t dl = strlen(p->binds[i]);

		ok = !strcmp(p->binds[i], "/") ||
		     (!strncmp(clean, p->binds[i], dl) && (clean[dl] == '\0' || clean[dl] == '/'));
	}
	free(clean);
	return ok ? 0 : gojson_refuse(g, 403, "%s \"%s\" is outside the bind allowlist", path,
				      gojson_show(b, s, n));
}

/* linux_parser.go linuxSplitRawSpec + ParseMountRaw: at most two ':', a
 * non-empty first part; one part is an anonymous volume; an absolute source
 * is a bind (path.IsAbs), anything else names a volume. */
static int bind_entry(struct gojson *g, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t colons = 0;

	for (size_t i = 0; i < n; i++)
		colons += s[i] == ':';
	if (colons > 2 || !n || s[0] == ':')
		return gojson_refuse(g, 400, "%s is not a valid bind", path);
	if (!colon)
		return 0;
	if (s[0] == '/')
		return bind_source(g, s, (size_t)(colon - s), path);
	return hostcfg_ref(hostcfg_of(g), INSPECT_REF_VOLUME, false, s, (size_t)(colon - s), path);
}

static int hc_binds(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, false, bind_entry);
}

/* VolumesFrom "name[:mode]" (linux_parser.go ParseVolumesFrom). */
static int volumesfrom_entry(struct gojson *g, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t l = colon ? (size_t)(colon - s) : n;

	if (!l)
		return gojson_refuse(g, 400, "%s names no container", path);
	return hostcfg_ref(hostcfg_of(g), INSPECT_REF_CONTAINER, false, s, l, path);
}

static int hc_volumesfrom(struct gojson *g, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, false, volumesfrom_entry);
}

/* Links "name:alias" (20.10 opts/opts.go ParseLink: a leading '/' of the
 * name dropped, the "/a:/b/alias" form of an inspected container). */
int hostcfg_link(struct gojson *g, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t l = colon ? (size_t)(colon - s) : n;

	if (l && s[0] == '/') {
		s++;
		l--;
	}
	if (!l)
		return gojson_refuse(g, 400, "%s names no container", path);
	return hostcfg_ref(hostcfg_of(g), INSPECT_REF_CONTAINER, false, s, l, path);
}

static int hc_links(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return gojson_strings(g, v, path, false, hostcfg_link);
}

/* ---- Mounts ------------------------------------------------------------- */

/* Options of a volume driver (the local driver's, volume/local/local_unix.go:
 * type/o/device go to mount(2) as given; moby/sys/mount flags: "bind" or
 * "rbind" in o bind-mounts `device`, "remount" changes an existing mount).
 * Judged whatever the driver: the default driver is a daemon setting, and a
 * key's case is compared loosely. Only tmpfs may have a device (its "device"
 * is a name, not a path). */
int hostcfg_volume_opts(struct gojson *g, json_t *v, const char *path)
{
	bool has_type = false, device = false;
	const char *k;
	json_t *e;
	char b[GOJSON_SHOW_LEN];
	int r = gojson_str_map(g, v, path);

	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e) {
		const char *s = json_is_string(e) ? json_string_value(e) : "";
		size_t n = strlen(s), kl = strlen(k);

		if (gojson_ieq(k, kl, "type")) {
			if (!gojson_ieq(s, n, "tmpfs"))
				return gojson_refuse(g, 403, "%s type \"%s\" is not allowed", path,
						     gojson_show(b, s, n));
			has_type = true;
		} else if (gojson_ieq(k, kl, "device")) {
			device = true;
		} else if (gojson_ieq(k, kl, "o")) {
			for (size_t i = 0; i <= n; ) {
				size_t j = i, a, z;

				while (j < n && s[j] != ',')
					j++;
				for (a = i; a < j && is_ows((unsigned char)s[a]); a++)
					;
				for (z = j; z > a && is_ows((unsigned char)s[z - 1]); z--)
					;
				if (gojson_ieq(s + a, z - a, "bind") ||
				    gojson_ieq(s + a, z - a, "rbind") ||
				    gojson_ieq(s + a, z - a, "remount"))
					return gojson_refuse(g, 403, "%s o \"%s\" is not allowed",
							     path, gojson_show(b, s + a, z - a));
				i = j + 1;
			}
		}
	}
	if (device && !has_type)
		return gojson_refuse(g, 403, "%s device is not allowed", path);
	return 0;
}

struct mount_at {
	json_t *type, *source;
	struct hostcfg_labels volopts;   /* VolumeOptions: the same "where is it" record */
};

static int m_type(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;

	(void)key;
	((struct mount_at *)ctx)->type = v;
	return gojson_str(g, v, path, &s, &n);
}

static int m_source(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;

	(void)key;
	((struct mount_at *)ctx)->source = v;
	return gojson_str(g, v, path, &s, &n);
}

static int m_volopts(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	struct mount_at *m = ctx;

	snprintf(m->volopts.key, sizeof(m->volopts.key), "%s", key);
	m->volopts.val = v;
	return gojson_struct(g, v, path);
}

static int d_options(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return hostcfg_volume_opts(g, v, path);
}

static const struct gojson_field driver_fields[] = { { "Options", d_options } };

static int vo_labels(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	return hostcfg_labels_record(g, ctx, key, v, path);
}

static int vo_driverconfig(struct gojson *g, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	(void)ctx;
	(void)key;
	return GOJSON_WALK_STRUCT(g, NULL, v, path, driver_fields);
}

static const struct gojson_field volopts_fields[] = {
	{ "Labels", vo_labels }, { "DriverConfig", vo_driverconfig },
};

static const struct gojson_field mount_fields[] = {
	{ "Type", m_type }, { "Source", m_source }, { "VolumeOptions", m_volopts },
};

/* linux_parser.go validateMountConfigImpl: bind, volume and tmpfs are the
 * Linux types (npipe and cluster are other platforms and swarm; image, API
 * 1.48, is not allowed here). The type is compared exactly, as dockerd does. A
 * volume mount gets the owner label in VolumeOptions.Labels: dockerd creates a
 * missing volume with them (daemon/volumes.go registerMountPoints). */
static int mount_check(struct gojson *g, json_t *obj, const char *path)
{
	struct mount_at m = { 0 };
	const char *type = "", *src = "";
	size_t tl = 0, sl = 0;
	char sub[GOJSON_PATH_LEN], b[GOJSON_SHOW_LEN];
	int r;

	if (obj) {
		r = GOJSON_WALK(g, &m, obj, path, mount_fields, false);
		if (r)
			return r;
	}
	if (m.type && json_is_string(m.type)) {
		type = json_string_value(m.type);
		tl = json_string_length(m.type);
	}
	if (m.source && json_is_string(m.source)) {
		src = json_string_value(m.source);
		sl = json_string_length(m.source);
	}
	gojson_path(sub, path, "Source");
	if (gojson_eq(type, tl, "bind"))
		return bind_source(g, src, sl, sub);
	if (gojson_eq(type, tl, "tmpfs"))
		return 0;
	if (!gojson_eq(type, tl, "volume")) {
		gojson_path(sub, path, "Type");
		return gojson_refuse(g, 403, "%s \"%s\" is not allowed", sub, gojson_show(b, type, tl));
	}
	if (sl && (r = hostcfg_ref(hostcfg_of(g), INSPECT_REF_VOLUME, false, src, sl, sub)))
		return r;
	gojson_path(sub, path, "VolumeOptions");
	if (m.volopts.val && json_is_object(m.volopts.val)) {
		struct hostcfg_labels labels = { 0 };

		r = GOJSON_WALK(g, &labels, m.volopts.val, sub, volopts_fields, false);
		return r ? r : hostcfg_labels_stamp(hostcfg_of(g), m.volopts.val, &labels);
	} else {
		/* no options: {"Labels": {owner}} under the client's key or ours */
		json_t *vo = json_object();
		struct hostcfg_labels none = { 0 };

		if (!vo || hostcfg_labels_stamp(hostcfg_of(g), vo, &none)) {
			json_decref(vo);
			return -ENOMEM;
		}
		return json_object_set_new(obj, m.volopts.val ? m.volopts.key : "VolumeOptions",
					   vo) ? -ENOMEM : 0;
	}
}

static int hc_mounts(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path)
{
	size_t i;
	json_t *e;
	int r;

	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return gojson_want(g, path, "an array");
	json_array_foreach(v, i, e) {
		char sub[GOJSON_PATH_LEN];

		gojson_path_index(sub, path, i);
		if (!json_is_null(e) && !json_is_object(e))
			return gojson_want(g, sub, "an object");
		r = mount_check(g, json_is_object(e) ? e : NULL, sub);
		if (r)
			return r;
	}
	return 0;
}

static const struct gojson_field hostconfig_fields[] = {
	{ "Annotations", hc_no_map },
	{ "Binds", hc_binds },
	{ "CapAdd", hc_capadd },
	{ "Capabilities", hc_capabilities },
	{ "Cgroup", hc_sharedmode },
	{ "CgroupParent", hc_cgroupparent },
	{ "CgroupnsMode", hc_hostmode },
	{ "DeviceCgroupRules", hc_no_entries },
	{ "DeviceRequests", hc_no_entries },
	{ "Devices", hc_no_entries },
	{ "IpcMode", hc_sharedmode },
	{ "Links", hc_links },
	{ "MaskedPaths", hc_override },
	{ "Mounts", hc_mounts },
	{ "NetworkMode", hc_networkmode },
	{ "PidMode", hc_sharedmode },
	{ "Privileged", hostcfg_not_true },
	{ "ReadonlyPaths", hc_override },
	{ "Runtime", hc_runtime },
	{ "SecurityOpt", hc_securityopt },
	{ "Sysctls", hc_no_map },
	{ "UTSMode", hc_hostmode },
	{ "UsernsMode", hc_hostmode },
	{ "VolumesFrom", hc_volumesfrom },
};

int hostcfg_check(struct hostcfg *h, json_t *obj, const char *path, bool folds_checked)
{
	return GOJSON_WALK(&h->g, NULL, obj, path, hostconfig_fields, folds_checked);
}

/* path.Clean without the "..": parseMountSpec cleans a bind source; a ".."
 * is refused instead of resolved, so the path we judge is the one mounted. */
ptrdiff_t hostcfg_clean_path(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; ) {
		size_t j = i;

		while (j < n && s[j] != '/')
			j++;
		if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
			return -1;
		if (j > i && !(j - i == 1 && s[i] == '.')) {
			out[o++] = '/';
			memcpy(out + o, s + i, j - i);
			o += j - i;
		}
		i = j + 1;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return (ptrdiff_t)o;
}

