/* core/hostcfg.h: the HostConfig rules of the isolation inspector, and what
 * core/inspect.c and core/hostcfg.c share: the compiled policy's body, one
 * inspection's context, the references and owner-label helpers. Internal to
 * core/: the API for everybody else is inspect.h. Pure: no I/O.
 */
#ifndef DMX_CORE_HOSTCFG_H
#define DMX_CORE_HOSTCFG_H

#include "gojson.h"
#include "inspect.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The body of inspect.h's opaque policy (inspect_policy_new fills it). */
struct inspect_policy {
	char **caps;        /* normalised: "CAP_NET_ADMIN", "ALL" */
	size_t ncaps;
	char **runtimes;    /* exact names */
	size_t nruntimes;
	char **binds;       /* cleaned absolute directories (hostcfg_clean_path) */
	size_t nbinds;
	char *label_name, *label_value;
	size_t max_body;
};

/* One inspection: refusals go to g (first, so a check's struct gojson * is
 * also this), names to res->refs. */
struct hostcfg {
	struct gojson g;
	const struct inspect_policy *p;
	struct inspect_result *res;
	size_t refcap;   /* res->refs' allocated length */
};

static inline struct hostcfg *hostcfg_of(struct gojson *g)
{
	return (struct hostcfg *)g;
}

/* Judge a HostConfig object at path ("HostConfig", or "" for its fields at a
 * create body's top level). 0, GOJSON_REFUSED, -ENOMEM. A volume mount gets
 * the owner label in its VolumeOptions.Labels (dockerd creates a missing
 * volume with them). */
int hostcfg_check(struct hostcfg *h, json_t *obj, const char *path, bool folds_checked);

/* Pieces inspect.c's other bodies use. hostcfg_not_true: a bool field that
 * must not be true (a gojson_field check). hostcfg_link: a "name:alias"
 * link naming a container (a gojson_str_fn). hostcfg_volume_opts: volume
 * driver options that bind or mount host paths or devices are refused. */
int hostcfg_not_true(struct gojson *g, void *ctx, const char *key, json_t *v, const char *path);
int hostcfg_link(struct gojson *g, const char *s, size_t n, const char *path);
int hostcfg_volume_opts(struct gojson *g, json_t *v, const char *path);

/* Append a reference (name copied). 0 or -ENOMEM. */
int hostcfg_ref(struct hostcfg *h, enum inspect_ref_kind kind, bool creates, const char *name,
		size_t n, const char *path);

/* Where a Labels map (map[string]string) of a body lives: the client's key
 * (kept when a null map is replaced, so no second key folds alike) and its
 * value (NULL: absent). A key longer than a fold of "Labels" never matched. */
struct hostcfg_labels {
	char key[GOJSON_NAME_MAX * 3 + 1];
	json_t *val;
};

/* Record (a gojson_field check's body; 400 unless an object of strings or
 * null), then, after the walk, set the owner label in it (-ENOMEM or 0). */
int hostcfg_labels_record(struct gojson *g, struct hostcfg_labels *at, const char *key,
			  json_t *val, const char *path);
int hostcfg_labels_stamp(struct hostcfg *h, json_t *obj, struct hostcfg_labels *at);

/* moby's capability normalisation (upper case, "CAP_" prefix, "ALL" kept):
 * out has n + 5 bytes. */
void hostcfg_cap_normalize(const char *s, size_t n, char *out);

/* Clean an absolute path as Go's path.Clean does, except that a ".."
 * component is -1 instead of resolved: out (n + 2 bytes) gets "/a/b", the
 * return is its length. */
ptrdiff_t hostcfg_clean_path(const char *s, size_t n, char *out);

#endif
