/* core/gojson.h: reading a jansson tree the way Go's encoding/json fills a
 * struct, for the isolation checks (core/hostcfg.c, core/inspect.c): keys
 * matched to field names with Go's case folding, two keys that fold alike
 * refused rather than guessed at, values typed as Go decodes them (null is
 * "no effect"). Refusals are a status and a message safe for logs and JSON.
 * Pure: no I/O; allocates only inside gojson_check_folds.
 */
#ifndef DMX_CORE_GOJSON_H
#define DMX_CORE_GOJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define GOJSON_MSG_MAX 256   /* "dockmux isolation: ..." */
#define GOJSON_PATH_LEN 128  /* a field path ("HostConfig.Mounts[3].Source"), cut if longer */
#define GOJSON_SHOW_LEN 44   /* a client value shown in a message, cut with "..." */
#define GOJSON_NAME_MAX 20   /* the longest field name a table may hold */

/* Expected outcome of every check below (negative: errno). */
enum { GOJSON_REFUSED = 1 };

/* A judgement in progress: the first refusal's status and message. Embed it
 * first in a larger context and get back to that from the pointer. */
struct gojson {
	int status;
	char msg[GOJSON_MSG_MAX];
};

/* Record a refusal: msg = "dockmux isolation: " + the formatted text (cut to
 * fit). Returns GOJSON_REFUSED. Callers only format field paths, static text
 * and gojson_show()n values, so msg stays printable ASCII without '\\'. */
int gojson_refuse(struct gojson *g, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 400 "<path> must be <what>" ("the body" for the top level). */
int gojson_want(struct gojson *g, const char *path, const char *what);

/* A client string for a message: printable ASCII except '"' and '\\' kept,
 * every other byte '?', cut with "..." to fit GOJSON_SHOW_LEN. Returns buf. */
const char *gojson_show(char buf[GOJSON_SHOW_LEN], const char *s, size_t n);
/* path "." name (name alone when path is ""); path "[" i "]"; path "." key
 * shown. Cut, never refused, when too long. */
void gojson_path(char out[GOJSON_PATH_LEN], const char *path, const char *name);
void gojson_path_index(char out[GOJSON_PATH_LEN], const char *path, size_t i);
void gojson_path_key(char out[GOJSON_PATH_LEN], const char *path, const char *key);

/* ASCII comparisons, locale-free: exact, case-insensitive, prefix. */
bool gojson_eq(const char *s, size_t n, const char *lit);
bool gojson_ieq(const char *s, size_t n, const char *lit);
bool gojson_iprefix(const char *s, size_t n, const char *lit);

/* Fold a key as Go compares it with an ASCII field name (bytes.EqualFold):
 * ASCII letters to lower case, U+212A KELVIN SIGN to 'k', U+017F LONG S to
 * 's', every other byte copied. out has n + 1 bytes; returns the length. */
size_t gojson_fold(const char *k, size_t n, char *out);

/* 400 when two keys of obj fold alike: both would set one struct field and
 * Go keeps whichever it meets last. 0, GOJSON_REFUSED or -ENOMEM. Only for
 * struct-typed objects: Go matches map keys (Labels, Sysctls) exactly. */
int gojson_check_folds(struct gojson *g, json_t *obj, const char *path);

/* A field of a Go struct, by its JSON name (at most GOJSON_NAME_MAX bytes).
 * check gets the client's key, the value and the field's path; it must not
 * add or remove keys of the object being walked. */
struct gojson_field {
	const char *name;
	int (*check)(struct gojson *g, void *ctx, const char *key, json_t *val, const char *path);
};

/* Call each field's check for the key of obj that folds to its name (none:
 * Go ignores unknown keys). Refuses fold-alike keys first unless the caller
 * has (folds_checked). Returns 0 or the first check's non-zero value. */
int gojson_walk(struct gojson *g, void *ctx, json_t *obj, const char *path,
		const struct gojson_field *tab, size_t n, bool folds_checked);
#define GOJSON_WALK(g, ctx, obj, path, tab, checked) \
	gojson_walk(g, ctx, obj, path, tab, sizeof(tab) / sizeof((tab)[0]), checked)

/* A nested struct field: v must be an object or null (Go's struct or
 * pointer); null is no value, an object is walked with tab. */
int gojson_walk_struct(struct gojson *g, void *ctx, json_t *v, const char *path,
		       const struct gojson_field *tab, size_t n);
#define GOJSON_WALK_STRUCT(g, ctx, v, path, tab) \
	gojson_walk_struct(g, ctx, v, path, tab, sizeof(tab) / sizeof((tab)[0]))

/* Typed values as Go decodes them; a wrong type is a 400 "must be ...".
 * struct/pointer: an object or null. string: a string or null (""). bool: a
 * boolean or null (false). []string: an array of strings and nulls ("") or
 * null, fn called per element with its path; one_ok also takes one string
 * (moby 20.10's strslice.StrSlice). map[string]string: an object of strings
 * and nulls, or null. Outputs are written on success only. */
int gojson_struct(struct gojson *g, json_t *v, const char *path);
int gojson_str(struct gojson *g, json_t *v, const char *path, const char **s, size_t *n);
int gojson_bool(struct gojson *g, json_t *v, const char *path, bool *b);
typedef int (*gojson_str_fn)(struct gojson *g, const char *s, size_t n, const char *path);
int gojson_strings(struct gojson *g, json_t *v, const char *path, bool one_ok, gojson_str_fn fn);
int gojson_str_map(struct gojson *g, json_t *v, const char *path);

#endif
