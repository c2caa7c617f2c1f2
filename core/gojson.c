/* core/gojson.c: Go's encoding/json field matching over jansson trees. The
 * rules mirrored are Go's decode.go object() (an exact match, else the first
 * field whose name bytes.EqualFold's the key; go1.21+ fold.go foldName does
 * the same with a map) and the "null has no effect" of json.Unmarshal.
 * It knows no Docker type: the tables are core/hostcfg.c's and inspect.c's.
 */
#include "gojson.h"

#include "ascii.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gojson_refuse(struct gojson *g, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	g->status = status;
	n = snprintf(g->msg, sizeof(g->msg), "dockmux isolation: ");
	va_start(ap, fmt);
	vsnprintf(g->msg + n, sizeof(g->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return GOJSON_REFUSED;
}

int gojson_want(struct gojson *g, const char *path, const char *what)
{
	return gojson_refuse(g, 400, "%s must be %s", *path ? path : "the body", what);
}

const char *gojson_show(char buf[GOJSON_SHOW_LEN], const char *s, size_t n)
{
	size_t o = 0, max = GOJSON_SHOW_LEN - 1;

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

static void path_put(char out[GOJSON_PATH_LEN], const char *a, const char *sep, const char *b)
{
	size_t al = strnlen(a, GOJSON_PATH_LEN - 1), sl = strlen(sep), bl = strlen(b), o = al;

	memcpy(out, a, al);
	if (sl > GOJSON_PATH_LEN - 1 - o)
		sl = GOJSON_PATH_LEN - 1 - o;
	memcpy(out + o, sep, sl);
	o += sl;
	if (bl > GOJSON_PATH_LEN - 1 - o)
		bl = GOJSON_PATH_LEN - 1 - o;
	memcpy(out + o, b, bl);
	out[o + bl] = '\0';
}

void gojson_path(char out[GOJSON_PATH_LEN], const char *path, const char *name)
{
	path_put(out, path, *path ? "." : "", name);
}

void gojson_path_index(char out[GOJSON_PATH_LEN], const char *path, size_t i)
{
	char idx[24];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_put(out, path, "", idx);
}

void gojson_path_key(char out[GOJSON_PATH_LEN], const char *path, const char *key)
{
	char b[GOJSON_SHOW_LEN];

	path_put(out, path, ".", gojson_show(b, key, strlen(key)));
}

bool gojson_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

bool gojson_ieq(const char *s, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
			return false;
	return true;
}

bool gojson_iprefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && gojson_ieq(s, l, lit);
}

/* Field names are ASCII, and the only non-ASCII runes whose fold orbit holds
 * an ASCII letter are U+212A KELVIN SIGN (k, K) and U+017F LONG S (s, S):
 * go1.20 decode.go equalFoldRight special-cases exactly these two, go1.21+
 * foldRune maps each rune to the smallest of its orbit. Other bytes can match
 * no ASCII name, so copying them is enough. */
size_t gojson_fold(const char *k, size_t n, char *out)
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

/* Sorting the folded keys finds a pair in O(n log n): a body may carry
 * hundreds of thousands of keys in one object. Exact repeats never get here
 * (json_loadb with JSON_REJECT_DUPLICATES refused them). */
int gojson_check_folds(struct gojson *g, json_t *obj, const char *path)
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
		at += gojson_fold(k, strlen(k), at) + 1;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 1; i < n; i++)
		if (!strcmp(keys[i - 1], keys[i])) {
			char b[GOJSON_SHOW_LEN];

			r = gojson_refuse(g, 400, "%s has two keys for one field (\"%s\")",
					  *path ? path : "the body",
					  gojson_show(b, keys[i], strlen(keys[i])));
			break;
		}
out:
	free(keys);
	free(arena);
	return r;
}

static const struct gojson_field *field_find(const struct gojson_field *tab, size_t n,
					     const char *key)
{
	size_t kl = strlen(key);
	char f[GOJSON_NAME_MAX * 3 + 1];

	if (kl > GOJSON_NAME_MAX * 3)   /* a fold takes at most 3 bytes to 1 */
		return NULL;
	gojson_fold(key, kl, f);
	for (size_t i = 0; i < n; i++)
		if (gojson_ieq(f, strlen(f), tab[i].name))
			return &tab[i];
	return NULL;
}

int gojson_walk(struct gojson *g, void *ctx, json_t *obj, const char *path,
		const struct gojson_field *tab, size_t n, bool folds_checked)
{
	const char *k;
	json_t *v;
	int r;

	if (!folds_checked && (r = gojson_check_folds(g, obj, path)))
		return r;
	json_object_foreach(obj, k, v) {
		const struct gojson_field *f = field_find(tab, n, k);
		char sub[GOJSON_PATH_LEN];

		if (!f)
			continue;
		gojson_path(sub, path, f->name);
		r = f->check(g, ctx, k, v, sub);
		if (r)
			return r;
	}
	return 0;
}

int gojson_struct(struct gojson *g, json_t *v, const char *path)
{
	return json_is_null(v) || json_is_object(v) ? 0 : gojson_want(g, path, "an object");
}

int gojson_walk_struct(struct gojson *g, void *ctx, json_t *v, const char *path,
		       const struct gojson_field *tab, size_t n)
{
	int r = gojson_struct(g, v, path);

	if (r || json_is_null(v))
		return r;
	return gojson_walk(g, ctx, v, path, tab, n, false);
}

int gojson_str(struct gojson *g, json_t *v, const char *path, const char **s, size_t *n)
{
	if (json_is_null(v)) {
		*s = "";
		*n = 0;
		return 0;
	}
	if (!json_is_string(v))
		return gojson_want(g, path, "a string");
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

int gojson_bool(struct gojson *g, json_t *v, const char *path, bool *b)
{
	if (json_is_null(v)) {
		*b = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return gojson_want(g, path, "a boolean");
	*b = json_is_true(v);
	return 0;
}

int gojson_strings(struct gojson *g, json_t *v, const char *path, bool one_ok, gojson_str_fn fn)
{
	size_t i;
	json_t *e;
	int r;

	if (json_is_null(v))
		return 0;
	if (one_ok && json_is_string(v))
		return fn(g, json_string_value(v), json_string_length(v), path);
	if (!json_is_array(v))
		return gojson_want(g, path, one_ok ? "a string or an array of strings" :
				   "an array of strings");
	json_array_foreach(v, i, e) {
		char sub[GOJSON_PATH_LEN];

		gojson_path_index(sub, path, i);
		if (json_is_null(e))
			r = fn(g, "", 0, sub);
		else if (!json_is_string(e))
			r = gojson_want(g, sub, "a string");
		else
			r = fn(g, json_string_value(e), json_string_length(e), sub);
		if (r)
			return r;
	}
	return 0;
}

int gojson_str_map(struct gojson *g, json_t *v, const char *path)
{
	const char *k;
	json_t *e;

	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return gojson_want(g, path, "an object");
	json_object_foreach(v, k, e)
		if (!json_is_string(e) && !json_is_null(e))
			return gojson_want(g, path, "an object of strings");
	return 0;
}
