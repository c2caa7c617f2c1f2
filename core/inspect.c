/* core/inspect.c: the create-body inspector for tenant isolation. The body is
 * parsed with jansson and walked the way Go's encoding/json fills moby's
 * structs, so every key dockerd will read is seen; what lifts confinement is
 * refused (403), what reads two ways is refused (400), the owner label is
 * stamped, and the tree that was checked is what gets forwarded.
 * It never repairs a body except for the owner label, and resolves no name.
 */
#include "inspect.h"

#include "ascii.h"
#include "filters.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LEN 128      /* a field path in a message ("HostConfig.Mounts[3].Source") */
#define SHOW_LEN 44       /* a client value in a message, cut with "..." */
#define NAME_MAX_LEN 20   /* longest field name in the tables below, with room */

struct inspect_policy {
	char **caps;        /* normalised: "CAP_NET_ADMIN", "ALL" */
	size_t ncaps;
	char **runtimes;
	size_t nruntimes;
	char **binds;       /* cleaned absolute directories */
	size_t nbinds;
	char *label_name, *label_value;
	size_t max_body;
};

/* One inspection in progress. */
struct insp {
	const struct inspect_policy *p;
	struct inspect_result *res;
	size_t refcap;
};

/* ---- messages ----------------------------------------------------------- */

static int refuse(struct insp *in, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct insp *in, int status, const char *fmt, ...)
{
	char *msg = in->res->msg;
	size_t cap = sizeof(in->res->msg);
	va_list ap;
	int n;

	in->res->status = status;
	n = snprintf(msg, cap, "dockmux isolation: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	return INSPECT_REFUSE;
}

/* A client string for a message: printable ASCII except '"' and '\\', every
 * other byte '?', cut with "..." (the message stays safe in JSON and logs). */
static const char *show(char buf[SHOW_LEN], const char *s, size_t n)
{
	size_t o = 0, max = SHOW_LEN - 1;

	for (size_t i = 0; i < n && o < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o == max - 3 && n - i > 3) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	buf[o] = '\0';
	return buf;
}

/* Paths are for messages: cut, never refused, when too long. */
static void path_put(char out[PATH_LEN], const char *a, const char *sep, const char *b)
{
	size_t al = strnlen(a, PATH_LEN - 1), sl = strlen(sep), bl = strlen(b), o = al;

	memcpy(out, a, al);
	if (sl > PATH_LEN - 1 - o)
		sl = PATH_LEN - 1 - o;
	memcpy(out + o, sep, sl);
	o += sl;
	if (bl > PATH_LEN - 1 - o)
		bl = PATH_LEN - 1 - o;
	memcpy(out + o, b, bl);
	out[o + bl] = '\0';
}

static void path_join(char out[PATH_LEN], const char *path, const char *name)
{
	path_put(out, path, *path ? "." : "", name);
}

static void path_index(char out[PATH_LEN], const char *path, size_t i)
{
	char idx[24];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_put(out, path, "", idx);
}

static void path_key(char out[PATH_LEN], const char *path, const char *key)
{
	char b[SHOW_LEN];

	path_put(out, path, ".", show(b, key, strlen(key)));
}

static int want(struct insp *in, const char *path, const char *what)
{
	return refuse(in, 400, "%s must be %s", *path ? path : "the body", what);
}

/* ---- small string helpers (ASCII, locale-free) --------------------------- */

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n != l)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
			return false;
	return true;
}

static bool iprefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && ieq(s, l, lit);
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

/* ---- Go's field matching ------------------------------------------------ */

/* Go's encoding/json sets a struct field from any key equal to its name under
 * bytes.EqualFold (decode.go object(): an exact match first, else the first
 * field that folds equal; go1.21+ fold.go foldName does the same with a map).
 * Field names are ASCII, and the only non-ASCII runes whose fold orbit holds
 * an ASCII letter are U+212A KELVIN SIGN (k) and U+017F LONG S (s). Other
 * bytes are copied: they can match no ASCII name. out gets n + 1 bytes. */
static size_t fold_key(const char *k, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)k;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x84 && u[i + 2] == 0xaa) {
			out[o++] = 'k';
			i += 2;
		} else if (u[i] == 0xc5 && i + 1 < n && u[i + 1] == 0xbf) {
			out[o++] = 's';
			i++;
		} else {
			out[o++] = (char)ascii_lower(u[i]);
		}
	}
	out[o] = '\0';
	return o;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two keys of one struct object that fold equal would both set one field and
 * Go keeps whichever comes last in its own order: refuse instead of guessing
 * (jansson's JSON_REJECT_DUPLICATES has already refused exact repeats). Map
 * objects (Labels, Sysctls, ...) are not checked: Go matches map keys exactly. */
static int check_folds(struct insp *in, json_t *obj, const char *path)
{
	size_t n = json_object_size(obj), total = 0, i = 0;
	char **keys = NULL, *arena = NULL, *at;
	const char *k;
	json_t *v;
	int r = 0;

	if (n < 2)
		return 0;
	json_object_foreach(obj, k, v)
		total += strlen(k) + 1;
	keys = malloc(n * sizeof(*keys));
	arena = malloc(total);
	if (!keys || !arena) {
		r = -ENOMEM;
		goto out;
	}
	at = arena;
	json_object_foreach(obj, k, v) {
		keys[i++] = at;
		at += fold_key(k, strlen(k), at) + 1;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 1; i < n; i++)
		if (!strcmp(keys[i - 1], keys[i])) {
			char b[SHOW_LEN];

			r = refuse(in, 400, "%s has two keys for one field (\"%s\")",
				   *path ? path : "the body", show(b, keys[i], strlen(keys[i])));
			break;
		}
out:
	free(keys);
	free(arena);
	return r;
}

/* A field of a moby struct we inspect, by its JSON name. check gets the field's
 * value and its path; it must not add or remove keys of obj (walk is iterating
 * them): changes to obj are made after the walk. */
struct field {
	const char *name;
	int (*check)(struct insp *in, void *ctx, const char *key, json_t *val, const char *path);
};

static const struct field *field_find(const struct field *tab, size_t n, const char *key)
{
	size_t kl = strlen(key);
	char f[NAME_MAX_LEN * 3 + 1];

	if (kl > NAME_MAX_LEN * 3)   /* a fold takes at most 3 bytes to 1 */
		return NULL;
	fold_key(key, kl, f);
	for (size_t i = 0; i < n; i++)
		if (ieq(f, strlen(f), tab[i].name))
			return &tab[i];
	return NULL;
}

static int walk(struct insp *in, void *ctx, json_t *obj, const char *path,
		const struct field *tab, size_t n, bool folds_checked)
{
	const char *k;
	json_t *v;
	int r;

	if (!folds_checked && (r = check_folds(in, obj, path)))
		return r;
	json_object_foreach(obj, k, v) {
		const struct field *f = field_find(tab, n, k);
		char sub[PATH_LEN];

		if (!f)
			continue;   /* Go ignores unknown keys; a known one we do not judge */
		path_join(sub, path, f->name);
		r = f->check(in, ctx, k, v, sub);
		if (r)
			return r;
	}
	return 0;
}

#define WALK(in, ctx, obj, path, tab, checked) \
	walk(in, ctx, obj, path, tab, sizeof(tab) / sizeof((tab)[0]), checked)

/* A struct-typed field: an object, or null (Go leaves the pointer nil). */
static int want_struct(struct insp *in, json_t *v, const char *path)
{
	return json_is_null(v) || json_is_object(v) ? 0 : want(in, path, "an object");
}

/* ---- typed values as Go decodes them ------------------------------------ */

/* A string field: a string, or null (no effect: ""). */
static int get_str(struct insp *in, json_t *v, const char *path, const char **s, size_t *n)
{
	if (json_is_null(v)) {
		*s = "";
		*n = 0;
		return 0;
	}
	if (!json_is_string(v))
		return want(in, path, "a string");
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

static int get_bool(struct insp *in, json_t *v, const char *path, bool *b)
{
	if (json_is_null(v)) {
		*b = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return want(in, path, "a boolean");
	*b = json_is_true(v);
	return 0;
}

typedef int (*str_fn)(struct insp *in, const char *s, size_t n, const char *path);

/* A []string: an array of strings (a null element is ""), or null. one_ok:
 * moby 20.10's strslice.StrSlice (CapAdd) also takes a single string. */
static int each_string(struct insp *in, json_t *v, const char *path, bool one_ok, str_fn fn)
{
	size_t i;
	json_t *e;
	int r;

	if (json_is_null(v))
		return 0;
	if (one_ok && json_is_string(v))
		return fn(in, json_string_value(v), json_string_length(v), path);
	if (!json_is_array(v))
		return want(in, path, one_ok ? "a string or an array of strings" :
			    "an array of strings");
	json_array_foreach(v, i, e) {
		char sub[PATH_LEN];

		path_index(sub, path, i);
		if (json_is_null(e))
			r = fn(in, "", 0, sub);
		else if (!json_is_string(e))
			r = want(in, sub, "a string");
		else
			r = fn(in, json_string_value(e), json_string_length(e), sub);
		if (r)
			return r;
	}
	return 0;
}

/* A map[string]string: an object of strings (null values are ""), or null. */
static int check_str_map(struct insp *in, json_t *v, const char *path)
{
	const char *k;
	json_t *e;

	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return want(in, path, "an object");
	json_object_foreach(v, k, e)
		if (!json_is_string(e) && !json_is_null(e))
			return want(in, path, "an object of strings");
	return 0;
}

/* ---- references and labels ----------------------------------------------- */

static int add_ref(struct insp *in, enum inspect_ref_kind kind, bool creates, const char *name,
		   size_t n, const char *path)
{
	struct inspect_result *res = in->res;
	struct inspect_ref *ref;
	char *copy;

	if (res->nrefs == in->refcap) {
		size_t cap = in->refcap ? in->refcap * 2 : 8;
		struct inspect_ref *grown = realloc(res->refs, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		res->refs = grown;
		in->refcap = cap;
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

/* Where a Labels map lives: the client's key (kept when we replace a null)
 * and its value. Keys are short: a key longer than the field name's fold
 * could not have matched. */
struct labels_at {
	char key[NAME_MAX_LEN * 3 + 1];
	json_t *val;   /* NULL: no such key */
};

static int record_labels(struct insp *in, struct labels_at *at, const char *key, json_t *val,
			 const char *path)
{
	snprintf(at->key, sizeof(at->key), "%s", key);
	at->val = val;
	return check_str_map(in, val, path);
}

/* Set the owner label in obj's Labels map (map[string]string), adding the map
 * under the client's key (or "Labels") when it is null or absent. */
static int stamp_labels(struct insp *in, json_t *obj, struct labels_at *at)
{
	json_t *labels = at->val;

	if (labels && json_is_object(labels))
		return json_object_set_new(labels, in->p->label_name,
					   json_string(in->p->label_value)) ? -ENOMEM : 0;
	labels = json_object();
	if (!labels || json_object_set_new(labels, in->p->label_name,
					   json_string(in->p->label_value))) {
		json_decref(labels);
		return -ENOMEM;
	}
	return json_object_set_new(obj, at->val ? at->key : "Labels", labels) ? -ENOMEM : 0;
}

/* ---- HostConfig ------------------------------------------------------- */

static int hc_privileged(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	bool b = false;
	int r;

	(void)ctx;
	(void)key;
	r = get_bool(in, v, path, &b);
	if (!r && b)
		r = refuse(in, 403, "%s is not allowed", path);
	return r;
}

/* moby api/types/container hostconfig(_unix).go: every IsHost() is == "host";
 * we also refuse other cases and "host:..." (dockerd rejects those, but a
 * refusal here costs nothing). IsContainer() is a case-sensitive
 * "container:" prefix; NetworkMode names a user network otherwise, unless
 * predefined (runconfig IsPreDefinedNetwork: bridge, host, none, default). */
enum { MODE_CONTAINER = 1, MODE_NETWORK = 2 };

static int mode_check(struct insp *in, json_t *v, const char *path, unsigned flags)
{
	const char *s = "";
	size_t n = 0;
	int r = get_str(in, v, path, &s, &n);

	if (r)
		return r;
	if (ieq(s, n, "host") || iprefix(s, n, "host:")) {
		char b[SHOW_LEN];

		return refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n));
	}
	if ((flags & MODE_CONTAINER) && n >= 10 && !memcmp(s, "container:", 10)) {
		if (n == 10)
			return refuse(in, 400, "%s names no container", path);
		return add_ref(in, INSPECT_REF_CONTAINER, false, s + 10, n - 10, path);
	}
	if ((flags & MODE_NETWORK) && n && !eq(s, n, "default") && !eq(s, n, "bridge") &&
	    !eq(s, n, "none"))
		return add_ref(in, INSPECT_REF_NETWORK, false, s, n, path);
	return 0;
}

static int hc_networkmode(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(in, v, path, MODE_CONTAINER | MODE_NETWORK);
}

static int hc_sharedmode(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(in, v, path, MODE_CONTAINER);   /* PidMode, IpcMode, Cgroup */
}

static int hc_hostmode(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return mode_check(in, v, path, 0);   /* UTSMode, UsernsMode, CgroupnsMode */
}

/* moby oci/caps/utils.go NormalizeLegacyCapabilities: strings.ToUpper (which
 * also maps U+0131 dotless i to 'I' and U+017F long s to 'S'), "ALL" kept,
 * else "CAP_" prefixed. out has n + 5 bytes. */
static void cap_normalize(const char *s, size_t n, char *out)
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

static int cap_entry(struct insp *in, const char *s, size_t n, const char *path)
{
	char *norm = malloc(n + 5), b[SHOW_LEN];
	bool ok;

	if (!norm)
		return -ENOMEM;
	cap_normalize(s, n, norm);
	ok = in_list(in->p->caps, in->p->ncaps, norm) || in_list(in->p->caps, in->p->ncaps, "ALL");
	show(b, norm, strlen(norm));
	free(norm);
	return ok ? 0 : refuse(in, 403, "%s \"%s\" is not allowed", path, b);
}

static int hc_capadd(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, true, cap_entry);
}

/* API 1.40 (Docker 19.03) only: HostConfig.Capabilities replaced the whole
 * set. 20.10 drops it, the current daemon rejects it for 1.40
 * (container_routes.go rejectLegacyCapabilities); a 19.03 daemon obeys it. */
static int hc_capabilities(struct insp *in, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v) || (json_is_array(v) && !json_array_size(v)))
		return 0;
	return refuse(in, 403, "%s is not allowed", path);
}

/* Devices, DeviceRequests, DeviceCgroupRules: any entry reaches host devices. */
static int hc_no_entries(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return want(in, path, "an array");
	return json_array_size(v) ? refuse(in, 403, "%s is not allowed", path) : 0;
}

/* Sysctls, Annotations (read by the runtime: kata's io.katacontainers.* pick
 * host binaries): refused when not empty. */
static int hc_no_map(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	int r;

	(void)ctx;
	(void)key;
	r = check_str_map(in, v, path);
	if (!r && json_is_object(v) && json_object_size(v))
		r = refuse(in, 403, "%s is not allowed", path);
	return r;
}

static int hc_cgroupparent(struct insp *in, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r;

	(void)ctx;
	(void)key;
	r = get_str(in, v, path, &s, &n);
	return !r && n ? refuse(in, 403, "%s is not allowed", path) : r;
}

static int hc_runtime(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	char b[SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = get_str(in, v, path, &s, &n);
	if (r || !n || in_list(in->p->runtimes, in->p->nruntimes, s))
		return r;
	return refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n));
}

/* MaskedPaths/ReadonlyPaths: any value but null replaces the default set (an
 * empty list unmasks /proc/kcore and friends). */
static int hc_override(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return want(in, path, "an array");
	return refuse(in, 403, "%s is not allowed", path);
}

/* strconv.ParseBool's false spellings. */
static bool go_false(const char *s, size_t n)
{
	return eq(s, n, "0") || eq(s, n, "f") || eq(s, n, "F") || eq(s, n, "false") ||
	       eq(s, n, "FALSE") || eq(s, n, "False");
}

/* moby daemon/daemon_unix.go parseSecurityOpt: a bare "disable" is
 * label=disable, a bare "writable-cgroups" (current) writes cgroups; else
 * split at the first '=' or, when there is none, the first ':'. Keys compared
 * case-insensitively here (dockerd rejects other cases; refusing costs
 * nothing). Only the builtin seccomp profile: a custom one can allow every
 * syscall. label "type:" picks the SELinux domain (spc_t is unconfined). */
static int secopt_entry(struct insp *in, const char *s, size_t n, const char *path)
{
	const char *sep, *val;
	size_t kl, vl;
	char b[SHOW_LEN];
	bool bad = false;

	if (eq(s, n, "no-new-privileges"))
		return 0;
	if (ieq(s, n, "disable") || ieq(s, n, "writable-cgroups"))
		return refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n));
	sep = memchr(s, '=', n);
	if (!sep)
		sep = memchr(s, ':', n);
	if (!sep)
		return 0;   /* dockerd: invalid --security-opt */
	kl = (size_t)(sep - s);
	val = sep + 1;
	vl = n - kl - 1;
	if (ieq(s, kl, "label"))
		bad = ieq(val, vl, "disable") || iprefix(val, vl, "type:");
	else if (ieq(s, kl, "apparmor"))
		bad = ieq(val, vl, "unconfined");
	else if (ieq(s, kl, "seccomp"))
		bad = vl && !eq(val, vl, "builtin");
	else if (ieq(s, kl, "writable-cgroups"))
		bad = !go_false(val, vl);
	else if (ieq(s, kl, "systempaths"))
		bad = ieq(val, vl, "unconfined");
	return bad ? refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n)) : 0;
}

static int hc_securityopt(struct insp *in, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, false, secopt_entry);
}

/* A bind source: absolute, no '\\' (linux_parser.go linuxValidateAbsolute reads
 * it as '/' for the check, the mount uses it raw), no ".." (refused, not
 * resolved), then cleaned (path.Clean, as parseMountSpec does) and matched
 * against the allowlist on whole segments. Symlinks are not resolved here:
 * an allowlisted directory must not be writable by a tenant. */
static int bind_source(struct insp *in, const char *s, size_t n, const char *path)
{
	const struct inspect_policy *p = in->p;
	char b[SHOW_LEN], *clean;
	size_t o = 0;
	bool ok = false;

	if (memchr(s, '\\', n))
		return refuse(in, 403, "%s \"%s\" is not allowed (a backslash)", path, show(b, s, n));
	if (!n || s[0] != '/')
		return refuse(in, 403, "%s \"%s\" is not an absolute path", path, show(b, s, n));
	clean = malloc(n + 2);
	if (!clean)
		return -ENOMEM;
	for (size_t i = 0; i < n; ) {
		size_t j = i;

		while (j < n && s[j] != '/')
			j++;
		if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') {
			free(clean);
			return refuse(in, 403, "%s \"%s\" has a \"..\" component", path, show(b, s, n));
		}
		if (j > i && !(j - i == 1 && s[i] == '.')) {
			clean[o++] = '/';
			memcpy(clean + o, s + i, j - i);
			o += j - i;
		}
		i = j + 1;
	}
	if (!o)
		clean[o++] = '/';
	clean[o] = '\0';
	for (size_t i = 0; i < p->nbinds && !ok; i++) {
		size_t dl = strlen(p->binds[i]);

		ok = !strcmp(p->binds[i], "/") ||
		     (!strncmp(clean, p->binds[i], dl) && (clean[dl] == '\0' || clean[dl] == '/'));
	}
	free(clean);
	return ok ? 0 : refuse(in, 403, "%s \"%s\" is outside the bind allowlist", path,
			       show(b, s, n));
}

/* linux_parser.go linuxSplitRawSpec + ParseMountRaw: at most two ':', a
 * non-empty first part; one part is an anonymous volume; an absolute source
 * is a bind (path.IsAbs), anything else names a volume. */
static int bind_entry(struct insp *in, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t colons = 0;

	for (size_t i = 0; i < n; i++)
		colons += s[i] == ':';
	if (colons > 2 || !n || s[0] == ':')
		return refuse(in, 400, "%s is not a valid bind", path);
	if (!colon)
		return 0;
	if (s[0] == '/')
		return bind_source(in, s, (size_t)(colon - s), path);
	return add_ref(in, INSPECT_REF_VOLUME, false, s, (size_t)(colon - s), path);
}

static int hc_binds(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, false, bind_entry);
}

/* VolumesFrom "name[:mode]" (linux_parser.go ParseVolumesFrom). */
static int volumesfrom_entry(struct insp *in, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t l = colon ? (size_t)(colon - s) : n;

	if (!l)
		return refuse(in, 400, "%s names no container", path);
	return add_ref(in, INSPECT_REF_CONTAINER, false, s, l, path);
}

static int hc_volumesfrom(struct insp *in, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, false, volumesfrom_entry);
}

/* Links "name:alias" (runconfig/opts/parse.go ParseLink: a leading '/' of the
 * name dropped, the "/a:/b/alias" form of an inspected container). */
static int link_entry(struct insp *in, const char *s, size_t n, const char *path)
{
	const char *colon = memchr(s, ':', n);
	size_t l = colon ? (size_t)(colon - s) : n;

	if (l && s[0] == '/') {
		s++;
		l--;
	}
	if (!l)
		return refuse(in, 400, "%s names no container", path);
	return add_ref(in, INSPECT_REF_CONTAINER, false, s, l, path);
}

static int hc_links(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, false, link_entry);
}

/* ---- Mounts ------------------------------------------------------------- */

/* Options of a volume driver (the local driver's, volume/local/local_unix.go:
 * type/o/device go to mount(2) as given; moby/sys/mount flags: "bind" or
 * "rbind" in o bind-mounts `device`, "remount" changes an existing mount).
 * Judged whatever the driver: the default driver is a daemon setting, and a
 * key's case is compared loosely. Only tmpfs may have a device (its "device"
 * is a name, not a path). */
static int volume_opts(struct insp *in, json_t *v, const char *path)
{
	bool has_type = false, type_ok = true, device = false;
	const char *k;
	json_t *e;
	char b[SHOW_LEN];
	int r = check_str_map(in, v, path);

	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e) {
		const char *s = json_is_string(e) ? json_string_value(e) : "";
		size_t n = strlen(s);

		if (ieq(k, strlen(k), "type")) {
			has_type = true;
			type_ok = type_ok && ieq(s, n, "tmpfs");
			if (!type_ok)
				return refuse(in, 403, "%s type \"%s\" is not allowed", path,
					      show(b, s, n));
		} else if (ieq(k, strlen(k), "device")) {
			device = true;
		} else if (ieq(k, strlen(k), "o")) {
			for (size_t i = 0; i <= n; ) {
				size_t j = i, a, z;

				while (j < n && s[j] != ',')
					j++;
				for (a = i; a < j && is_ows((unsigned char)s[a]); a++)
					;
				for (z = j; z > a && is_ows((unsigned char)s[z - 1]); z--)
					;
				if (ieq(s + a, z - a, "bind") || ieq(s + a, z - a, "rbind") ||
				    ieq(s + a, z - a, "remount"))
					return refuse(in, 403, "%s o \"%s\" is not allowed", path,
						      show(b, s + a, z - a));
				i = j + 1;
			}
		}
	}
	if (device && !has_type)
		return refuse(in, 403, "%s device is not allowed", path);
	return 0;
}

struct mount_at {
	json_t *type, *source;
	struct labels_at volopts;   /* VolumeOptions: the same "where is it" record */
};

static int m_type(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;

	(void)key;
	((struct mount_at *)ctx)->type = v;
	return get_str(in, v, path, &s, &n);
}

static int m_source(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;

	(void)key;
	((struct mount_at *)ctx)->source = v;
	return get_str(in, v, path, &s, &n);
}

static int m_volopts(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	struct mount_at *m = ctx;

	snprintf(m->volopts.key, sizeof(m->volopts.key), "%s", key);
	m->volopts.val = v;
	return want_struct(in, v, path);
}

static int d_options(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return volume_opts(in, v, path);
}

static const struct field driver_fields[] = { { "Options", d_options } };

static int vo_labels(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	return record_labels(in, ctx, key, v, path);
}

static int vo_driverconfig(struct insp *in, void *ctx, const char *key, json_t *v,
			   const char *path)
{
	int r = want_struct(in, v, path);

	(void)ctx;
	(void)key;
	if (r || json_is_null(v))
		return r;
	return WALK(in, NULL, v, path, driver_fields, false);
}

static const struct field volopts_fields[] = {
	{ "Labels", vo_labels }, { "DriverConfig", vo_driverconfig },
};

static const struct field mount_fields[] = {
	{ "Type", m_type }, { "Source", m_source }, { "VolumeOptions", m_volopts },
};

/* linux_parser.go validateMountConfigImpl: bind, volume and tmpfs are the
 * Linux types (npipe and cluster are other platforms and swarm; image, API
 * 1.48, is not allowed here). The type is compared exactly, as dockerd does. A
 * volume mount gets the owner label in VolumeOptions.Labels: dockerd creates a
 * missing volume with them (daemon/volumes.go registerMountPoints). */
static int mount_check(struct insp *in, json_t *obj, const char *path)
{
	struct mount_at m = { 0 };
	const char *type = "", *src = "";
	size_t tl = 0, sl = 0;
	char sub[PATH_LEN], b[SHOW_LEN];
	int r;

	if (obj) {
		r = WALK(in, &m, obj, path, mount_fields, false);
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
	path_join(sub, path, "Source");
	if (eq(type, tl, "bind"))
		return bind_source(in, src, sl, sub);
	if (eq(type, tl, "tmpfs"))
		return 0;
	if (!eq(type, tl, "volume")) {
		path_join(sub, path, "Type");
		return refuse(in, 403, "%s \"%s\" is not allowed", sub, show(b, type, tl));
	}
	if (sl && (r = add_ref(in, INSPECT_REF_VOLUME, false, src, sl, sub)))
		return r;
	path_join(sub, path, "VolumeOptions");
	if (m.volopts.val && json_is_object(m.volopts.val)) {
		struct labels_at labels = { 0 };

		r = WALK(in, &labels, m.volopts.val, sub, volopts_fields, false);
		return r ? r : stamp_labels(in, m.volopts.val, &labels);
	} else {
		/* no options: {"Labels": {owner}} under the client's key or ours */
		json_t *vo = json_object();
		struct labels_at none = { 0 };

		if (!vo || stamp_labels(in, vo, &none)) {
			json_decref(vo);
			return -ENOMEM;
		}
		return json_object_set_new(obj, m.volopts.val ? m.volopts.key : "VolumeOptions",
					   vo) ? -ENOMEM : 0;
	}
}

static int hc_mounts(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	size_t i;
	json_t *e;
	int r;

	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return want(in, path, "an array");
	json_array_foreach(v, i, e) {
		char sub[PATH_LEN];

		path_index(sub, path, i);
		if (!json_is_null(e) && !json_is_object(e))
			return want(in, sub, "an object");
		r = mount_check(in, json_is_object(e) ? e : NULL, sub);
		if (r)
			return r;
	}
	return 0;
}

static const struct field hostconfig_fields[] = {
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
	{ "Privileged", hc_privileged },
	{ "ReadonlyPaths", hc_override },
	{ "Runtime", hc_runtime },
	{ "SecurityOpt", hc_securityopt },
	{ "Sysctls", hc_no_map },
	{ "UTSMode", hc_hostmode },
	{ "UsernsMode", hc_hostmode },
	{ "VolumesFrom", hc_volumesfrom },
};

/* ---- NetworkingConfig / EndpointSettings --------------------------------- */

struct endpoint_at {
	bool user_defined;   /* NetworkID counts only for a user-defined network */
};

static int ep_links(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return each_string(in, v, path, false, link_entry);
}

/* Per-endpoint sysctls (netlabel.EndpointSysctls, API 1.46; current
 * container_routes.go handleSysctlBC moves interface sysctls there). */
static int ep_driveropts(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r = check_str_map(in, v, path);

	(void)ctx;
	(void)key;
	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e)
		if (ieq(k, strlen(k), "com.docker.network.endpoint.sysctls"))
			return refuse(in, 403, "%s sysctls are not allowed", path);
	return 0;
}

/* daemon/container_operations.go getNetworkID: for a user-defined network the
 * endpoint's NetworkID, when set, is what dockerd connects to, not the key. */
static int ep_networkid(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r;

	(void)key;
	r = get_str(in, v, path, &s, &n);
	if (r || !n || !((struct endpoint_at *)ctx)->user_defined)
		return r;
	return add_ref(in, INSPECT_REF_NETWORK, false, s, n, path);
}

static const struct field endpoint_fields[] = {
	{ "Links", ep_links }, { "DriverOpts", ep_driveropts }, { "NetworkID", ep_networkid },
};

static int endpoint_check(struct insp *in, json_t *v, bool user_defined, const char *path)
{
	struct endpoint_at ep = { user_defined };
	int r = want_struct(in, v, path);

	if (r || json_is_null(v))
		return r;
	return WALK(in, &ep, v, path, endpoint_fields, false);
}

static int nc_endpoints(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r;

	(void)ctx;
	(void)key;
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return want(in, path, "an object");
	json_object_foreach(v, k, e) {
		size_t n = strlen(k);
		bool user = !eq(k, n, "bridge") && !eq(k, n, "none") && !eq(k, n, "default");
		char sub[PATH_LEN];

		path_key(sub, path, k);
		if (ieq(k, n, "host"))
			return refuse(in, 403, "%s: the host network is not allowed", sub);
		if (user && (r = add_ref(in, INSPECT_REF_NETWORK, false, k, n, sub)))
			return r;
		r = endpoint_check(in, e, user, sub);
		if (r)
			return r;
	}
	return 0;
}

static const struct field netcfg_fields[] = { { "EndpointsConfig", nc_endpoints } };

/* ---- container create / start ------------------------------------------ */

struct top_at {
	struct labels_at labels;
};

static int top_labels(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	return record_labels(in, &((struct top_at *)ctx)->labels, key, v, path);
}

static int top_hostconfig(struct insp *in, void *ctx, const char *key, json_t *v,
			  const char *path)
{
	int r = want_struct(in, v, path);

	(void)ctx;
	(void)key;
	if (r || json_is_null(v))
		return r;
	return WALK(in, NULL, v, path, hostconfig_fields, false);
}

static int top_netcfg(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	int r = want_struct(in, v, path);

	(void)ctx;
	(void)key;
	if (r || json_is_null(v))
		return r;
	return WALK(in, NULL, v, path, netcfg_fields, false);
}

static const struct field create_fields[] = {
	{ "Labels", top_labels }, { "HostConfig", top_hostconfig },
	{ "NetworkingConfig", top_netcfg },
};
static const struct field start_fields[] = { { "HostConfig", top_hostconfig } };

/* moby 20.10 runconfig/config_unix.go ContainerConfigWrapper embeds
 * *container.Config and *container.HostConfig beside "HostConfig": a HostConfig
 * field at the top level is honoured when there is no "HostConfig" (and
 * Memory, MemorySwap, CpuShares, CpusetCpus, VolumeDriver are merged when
 * there is). The current daemon's CreateRequest dropped the embedding; we
 * judge the top level as a HostConfig for both. A start body (API < 1.24,
 * runconfig/hostconfig.go decodeHostConfig) is the same wrapper. */
static int container_body(struct insp *in, json_t *root, bool create)
{
	struct top_at top = { 0 };
	int r = check_folds(in, root, "");

	if (!r)
		r = create ? WALK(in, &top, root, "", create_fields, true)
			   : WALK(in, &top, root, "", start_fields, true);
	if (!r)
		r = WALK(in, NULL, root, "", hostconfig_fields, true);
	if (!r && create)
		r = stamp_labels(in, root, &top.labels);
	return r;
}

/* ---- exec / volume / network ------------------------------------------- */

static const struct field exec_fields[] = { { "Privileged", hc_privileged } };

struct named_at {
	struct labels_at labels;
};

static int named_labels(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	return record_labels(in, &((struct named_at *)ctx)->labels, key, v, path);
}

static int name_ref(struct insp *in, json_t *v, enum inspect_ref_kind kind, bool creates,
		    const char *path)
{
	const char *s = "";
	size_t n = 0;
	int r = get_str(in, v, path, &s, &n);

	return r || !n ? r : add_ref(in, kind, creates, s, n, path);
}

static int v_name(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(in, v, INSPECT_REF_VOLUME, true, path);
}

static int v_driveropts(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return volume_opts(in, v, path);
}

/* Cluster (CSI) volumes are swarm objects: not a plain dockerd tenant's. */
static int v_cluster(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return json_is_null(v) ? 0 : refuse(in, 403, "%s is not allowed", path);
}

/* volume.CreateOptions (api/types/volume): Name, Driver, DriverOpts, Labels,
 * ClusterVolumeSpec. */
static const struct field volume_fields[] = {
	{ "Name", v_name }, { "DriverOpts", v_driveropts }, { "Labels", named_labels },
	{ "ClusterVolumeSpec", v_cluster },
};

static int n_name(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(in, v, INSPECT_REF_NETWORK, true, path);
}

/* macvlan and ipvlan put the container on a host interface's segment (the
 * "parent" option), past the host's own filtering. */
static int n_driver(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	char b[SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = get_str(in, v, path, &s, &n);
	if (!r && (ieq(s, n, "macvlan") || ieq(s, n, "ipvlan")))
		r = refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n));
	return r;
}

/* Swarm scope and the ingress network are cluster-wide: never a tenant's. */
static int n_scope(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *s = "";
	size_t n = 0;
	char b[SHOW_LEN];
	int r;

	(void)ctx;
	(void)key;
	r = get_str(in, v, path, &s, &n);
	if (!r && n && !ieq(s, n, "local"))
		r = refuse(in, 403, "%s \"%s\" is not allowed", path, show(b, s, n));
	return r;
}

static int n_ingress(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	return hc_privileged(in, ctx, key, v, path);   /* a bool that must not be true */
}

static int cf_network(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(in, v, INSPECT_REF_NETWORK, false, path);
}

static const struct field configfrom_fields[] = { { "Network", cf_network } };

/* ConfigFrom takes its configuration from a config-only network by name
 * (daemon/network.go createNetwork, NetworkOptionConfigFrom): a reference. */
static int n_configfrom(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	int r = want_struct(in, v, path);

	(void)ctx;
	(void)key;
	if (r || json_is_null(v))
		return r;
	return WALK(in, NULL, v, path, configfrom_fields, false);
}

/* libnetwork's bridge driver reuses an existing interface of the given name
 * (drivers/bridge/bridge.go: bridgeAlreadyExists skips setupDevice): a tenant
 * naming a host bridge joins its segment. */
static int n_options(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	const char *k;
	json_t *e;
	int r = check_str_map(in, v, path);

	(void)ctx;
	(void)key;
	if (r || !json_is_object(v))
		return r;
	json_object_foreach(v, k, e)
		if (ieq(k, strlen(k), "com.docker.network.bridge.name"))
			return refuse(in, 403, "%s com.docker.network.bridge.name is not allowed",
				      path);
	return 0;
}

/* NetworkCreateRequest (20.10 api/types/types.go: embeds NetworkCreate). */
static const struct field network_fields[] = {
	{ "Name", n_name }, { "Driver", n_driver }, { "Scope", n_scope },
	{ "Ingress", n_ingress }, { "ConfigFrom", n_configfrom }, { "Options", n_options },
	{ "Labels", named_labels },
};

static int c_container(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return name_ref(in, v, INSPECT_REF_CONTAINER, false, path);
}

static int c_endpoint(struct insp *in, void *ctx, const char *key, json_t *v, const char *path)
{
	(void)ctx;
	(void)key;
	return endpoint_check(in, v, true, path);
}

/* NetworkConnect {Container, EndpointConfig}, NetworkDisconnect {Container, Force}. */
static const struct field connect_fields[] = {
	{ "Container", c_container }, { "EndpointConfig", c_endpoint },
};

/* ---- entry points ------------------------------------------------------ */

static int load_error(struct insp *in, const json_error_t *err)
{
	switch (json_error_code(err)) {
	case json_error_out_of_memory:
		return -ENOMEM;
	case json_error_duplicate_key:
		return refuse(in, 400, "the body repeats a key (line %d, column %d)", err->line,
			      err->column);
	case json_error_numeric_overflow:
		return refuse(in, 400, "a number in the body is out of range (line %d, column %d)",
			      err->line, err->column);
	case json_error_stack_overflow:
		return refuse(in, 400, "the body nests too deeply");
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return refuse(in, 400, "the body holds a NUL character");
	default:
		return refuse(in, 400, "the body is not valid JSON (line %d, column %d)", err->line,
			      err->column);
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

static void clear_refs(struct inspect_result *res)
{
	for (size_t i = 0; i < res->nrefs; i++)
		free(res->refs[i].name);
	free(res->refs);
	res->refs = NULL;
	res->nrefs = 0;
}

int inspect_body(const struct inspect_policy *p, enum inspect_kind kind, const char *body,
		 size_t len, struct inspect_result *res)
{
	struct insp in = { p, res, 0 };
	json_error_t err;
	json_t *root;
	int r;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!p || (!body && len) || (unsigned)kind > INSPECT_NETWORK_CONNECT)
		return -EINVAL;
	if (len > p->max_body)
		return refuse(&in, 413, "the body is over %zu bytes", p->max_body);
	if (!len) {
		if (kind != INSPECT_CONTAINER_START)
			return refuse(&in, 400, "the body is empty");
		res->body = calloc(1, 1);
		return res->body ? INSPECT_FORWARD : -ENOMEM;
	}
	/* No JSON_ALLOW_NUL, no JSON_DISABLE_EOF_CHECK: "\u0000" and trailing data
	 * are refused (the current daemon's loadJSON refuses the latter too). */
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return load_error(&in, &err);
	if (json_is_null(root) && kind == INSPECT_CONTAINER_START) {
		r = 0;   /* a nil HostConfig: dockerd starts as created */
	} else if (!json_is_object(root)) {
		r = want(&in, "", "a JSON object");
	} else {
		switch (kind) {
		case INSPECT_CONTAINER_CREATE:
		case INSPECT_CONTAINER_START:
			r = container_body(&in, root, kind == INSPECT_CONTAINER_CREATE);
			break;
		case INSPECT_EXEC_CREATE:
			r = WALK(&in, NULL, root, "", exec_fields, false);
			break;
		case INSPECT_VOLUME_CREATE:
		case INSPECT_NETWORK_CREATE: {
			struct named_at named = { 0 };

			r = kind == INSPECT_VOLUME_CREATE
				? WALK(&in, &named, root, "", volume_fields, false)
				: WALK(&in, &named, root, "", network_fields, false);
			if (!r)
				r = stamp_labels(&in, root, &named.labels);
			break;
		}
		case INSPECT_NETWORK_CONNECT:
		default:
			r = WALK(&in, NULL, root, "", connect_fields, false);
			break;
		}
	}
	if (!r)
		r = dump(root, res);
	json_decref(root);
	if (r) {
		clear_refs(res);
		if (r < 0)
			memset(res, 0, sizeof(*res));
	}
	return r;
}

/* ---- /build ------------------------------------------------------------- */

enum { BUILD_REFUSED = 2 };   /* distinct from FILTERS_BAD through filters_query_each */

static int build_param(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct insp *in = arg;
	char b[SHOW_LEN];

	/* build_routes.go newImageBuildOptions: r.FormValue, exact keys */
	if (eq(k, kl, "networkmode") && vl && !eq(v, vl, "default") && !eq(v, vl, "bridge") &&
	    !eq(v, vl, "none")) {
		refuse(in, 403, "build networkmode \"%s\" is not allowed", show(b, v, vl));
		return BUILD_REFUSED;
	}
	if (eq(k, kl, "cgroupparent") && vl) {
		refuse(in, 403, "build cgroupparent is not allowed");
		return BUILD_REFUSED;
	}
	if (eq(k, kl, "securityopt")) {
		refuse(in, 403, "build securityopt is not allowed");
		return BUILD_REFUSED;
	}
	return 0;
}

int inspect_build_query(const struct inspect_policy *p, const char *query, size_t qlen,
			struct inspect_result *res)
{
	struct insp in = { p, res, 0 };
	size_t cap, len;
	char *out;
	int r;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!p || (!query && qlen))
		return -EINVAL;
	r = filters_query_each(query, qlen, build_param, &in, res->msg, sizeof(res->msg));
	if (r == BUILD_REFUSED)
		return INSPECT_REFUSE;
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
	clear_refs(res);
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

/* A bind directory in the form bind_source compares with: "/a/b". */
static char *bind_dir(const char *d, const char **why)
{
	size_t n = strlen(d), o = 0;
	char *clean;

	if (!n || d[0] != '/') {
		*why = "an --allow-bind directory must be an absolute path";
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)d[i]) || d[i] == '\\' || d[i] == ':') {
			*why = "an --allow-bind directory holds a control byte, '\\' or ':'";
			return NULL;
		}
	clean = malloc(n + 2);
	if (!clean) {
		*why = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < n; ) {
		size_t j = i;

		while (j < n && d[j] != '/')
			j++;
		if (j - i == 2 && d[i] == '.' && d[i + 1] == '.') {
			free(clean);
			*why = "an --allow-bind directory holds a \"..\" component";
			return NULL;
		}
		if (j > i && !(j - i == 1 && d[i] == '.')) {
			clean[o++] = '/';
			memcpy(clean + o, d + i, j - i);
			o += j - i;
		}
		i = j + 1;
	}
	if (!o)
		clean[o++] = '/';
	clean[o] = '\0';
	return clean;
}

static int copy_list(const char *const *in, size_t n, char ***out, size_t *nout, int what,
		     const char **why)
{
	char **list;

	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	if (!in) {
		*why = "a list count without a list";
		return -EINVAL;
	}
	list = calloc(n, sizeof(*list));
	if (!list)
		return -ENOMEM;
	*out = list;
	for (size_t i = 0; i < n; i++) {
		const char *s = in[i];
		size_t l = s ? strlen(s) : 0;

		if (!l) {
			*why = "an empty --allow-cap, --allow-runtime or --allow-bind entry";
			return -EINVAL;
		}
		if (what == 'c') {
			for (size_t k = 0; k < l; k++)
				if (!((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') ||
				      (s[k] >= '0' && s[k] <= '9') || s[k] == '_')) {
					*why = "an --allow-cap entry must be [A-Za-z0-9_]";
					return -EINVAL;
				}
			list[i] = malloc(l + 5);
			if (list[i])
				cap_normalize(s, l, list[i]);
		} else if (what == 'r') {
			for (size_t k = 0; k < l; k++)
				if (!is_vchar((unsigned char)s[k])) {
					*why = "an --allow-runtime entry must be printable ASCII";
					return -EINVAL;
				}
			list[i] = strdup(s);
		} else {
			list[i] = bind_dir(s, why);
			if (!list[i])
				return strcmp(*why, "out of memory") ? -EINVAL : -ENOMEM;
		}
		if (!list[i])
			return -ENOMEM;
		*nout = i + 1;
	}
	return 0;
}

int inspect_policy_new(const struct inspect_config *cfg, struct inspect_policy **out,
		       const char **why)
{
	struct inspect_policy *p;
	const char *reason = "out of memory";
	int r;

	if (!cfg || !out) {
		reason = "no configuration";
		r = -EINVAL;
		goto fail_early;
	}
	if (!label_part_ok(cfg->label_name) || !label_part_ok(cfg->label_value)) {
		reason = "the owner label name and value must be printable ASCII without "
			 "blanks, '=', '\"' or '\\'";
		r = -EINVAL;
		goto fail_early;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto fail_early;
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
	if (r) {
		inspect_policy_free(p);
		goto fail_early;
	}
	*out = p;
	return 0;
fail_early:
	if (why)
		*why = reason;
	return r;
}
