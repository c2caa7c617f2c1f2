/* core/filters.c: the owner label forced into a query's `filters` (list,
 * events, prune) or stamped into /build's `labels`. The query is read as Go's
 * net/url parseQuery reads it and the JSON as moby's filters.FromJSON does;
 * only the one parameter is re-encoded, everything else is copied. What Go
 * would read differently from us (';', bad escapes, repeats) is refused.
 */
#include "filters.h"

#include "ascii.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_msg(char *msg, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!msg || !cap)
		return;
	n = snprintf(msg, cap, "dockmux isolation: ");
	if (n < 0 || (size_t)n >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Go's url.unescape(s, encodeQueryComponent): "%XX" needs two hex digits,
 * '+' is a space, every other byte stands for itself. out has n bytes.
 * Returns the decoded length, or -1 for a bad escape. */
static ptrdiff_t query_unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = hex_val((unsigned char)s[i + 1]);
			lo = hex_val((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = c == '+' ? ' ' : (char)c;
		}
	}
	return (ptrdiff_t)o;
}

/* One '&'-separated segment of a query, decoded into a scratch buffer. */
struct qparam {
	const char *raw;   /* the segment as sent */
	size_t rawlen;
	char *key, *val;   /* decoded, in scratch */
	size_t klen, vlen;
};

/* Next non-empty segment from *pos; scratch holds at least rawlen bytes.
 * Returns 1 with p filled, 0 at the end, QP_BAD for a bad escape. */
enum { QP_BAD = -1 };

static int qparam_next(const char *q, size_t qlen, size_t *pos, char *scratch, struct qparam *p)
{
	while (*pos < qlen) {
		const char *s = q + *pos, *amp, *eq;
		size_t len, kraw;
		ptrdiff_t k, v;

		amp = memchr(s, '&', qlen - *pos);
		len = amp ? (size_t)(amp - s) : qlen - *pos;
		*pos += len + (amp ? 1 : 0);
		if (!len)
			continue;
		eq = memchr(s, '=', len);
		kraw = eq ? (size_t)(eq - s) : len;
		k = query_unescape(s, kraw, scratch);
		if (k < 0)
			return QP_BAD;
		v = eq ? query_unescape(eq + 1, len - kraw - 1, scratch + k) : 0;
		if (v < 0)
			return QP_BAD;
		p->raw = s;
		p->rawlen = len;
		p->key = scratch;
		p->klen = (size_t)k;
		p->val = scratch + k;
		p->vlen = (size_t)v;
		return 1;
	}
	return 0;
}

/* Go 1.17+ parseQuery fails on a ';' anywhere in a segment and skips the
 * pair; Go before 1.17 split on it. ParseForm then fails for both a ';' and a
 * bad escape, and dockerd's httputils.ParseForm answers 400: so do we, before
 * looking at any value (our output is then a C string, too). */
static int query_validate(const char *q, size_t qlen, char *scratch, char *msg, size_t msgcap)
{
	struct qparam p;
	size_t pos = 0;
	int r;

	if (qlen && memchr(q, ';', qlen)) {
		set_msg(msg, msgcap, "a ';' in the query is ambiguous");
		return FILTERS_BAD;
	}
	/* Go's url.ParseRequestURI refuses control bytes (stringContainsCTLByte);
	 * a raw blank would have ended the request-target already. */
	for (size_t i = 0; i < qlen; i++)
		if (is_ctl((unsigned char)q[i]) || q[i] == ' ') {
			set_msg(msg, msgcap, "a control byte or blank in the query");
			return FILTERS_BAD;
		}
	while ((r = qparam_next(q, qlen, &pos, scratch, &p)) == 1)
		;
	if (r != QP_BAD)
		return 0;
	set_msg(msg, msgcap, "bad percent escape in the query");
	return FILTERS_BAD;
}

int filters_query_each(const char *query, size_t qlen, filters_param_fn fn, void *arg, char *msg,
		       size_t msgcap)
{
	struct qparam p;
	size_t pos = 0;
	char *scratch;
	int r;

	if ((!query && qlen) || !fn)
		return -EINVAL;
	if (!qlen)
		return 0;
	scratch = malloc(qlen);
	if (!scratch)
		return -ENOMEM;
	r = query_validate(query, qlen, scratch, msg, msgcap);
	while (!r && (r = qparam_next(query, qlen, &pos, scratch, &p)) == 1)
		r = fn(arg, p.key, p.klen, p.val, p.vlen);
	free(scratch);
	return r;
}

/* ---- the JSON of one parameter ------------------------------------------ */

/* An owner label entry of a "label" filter: dockerd compares the part before
 * the first '=' with the label key (MatchKVList, strings.Cut(value, "=")). */
static bool is_owner_entry(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(entry, name, n) && (entry[n] == '\0' || entry[n] == '=');
}

/* filters.FromJSON: first as map[string]map[string]bool, then as the legacy
 * map[string][]string; an error from both is a 400. JSON null decodes to a
 * zero value in either (an entry with no values). Builds the map form with the
 * owner entry forced. Returns 0 with *out, FILTERS_BAD, or -ENOMEM. */
static int force_label_json(json_t *root, const char *name, const char *value, json_t **out,
			    char *msg, size_t msgcap)
{
	json_t *res = NULL, *label = NULL, *v, *e;
	const char *k;
	unsigned forms = 0;   /* 1 map form seen, 2 list form seen */
	void *tmp;
	char *entry = NULL;
	size_t i;

	if (!json_is_object(root)) {
		set_msg(msg, msgcap, "filters must be a JSON object");
		return FILTERS_BAD;
	}
	json_object_foreach(root, k, v) {
		if (json_is_object(v)) {
			const char *ik;

			forms |= 1;
			json_object_foreach(v, ik, e)
				if (!json_is_boolean(e) && !json_is_null(e))
					goto bad_values;
		} else if (json_is_array(v)) {
			forms |= 2;
			json_array_foreach(v, i, e)
				if (!json_is_string(e) && !json_is_null(e))
					goto bad_values;
		} else if (!json_is_null(v)) {
			goto bad_values;
		}
	}
	if (forms == 3) {
		set_msg(msg, msgcap, "filters mix the map and the list forms");
		return FILTERS_BAD;
	}
	res = json_object();
	if (!res)
		return -ENOMEM;
	json_object_foreach(root, k, v) {
		json_t *nv;

		if (json_is_object(v)) {
			nv = json_deep_copy(v);
		} else {
			nv = json_object();
			if (nv && json_is_array(v))
				json_array_foreach(v, i, e)
					if (json_object_set_new(nv, json_is_string(e) ?
								json_string_value(e) : "",
								json_true()))
						goto nomem_nv;
		}
		if (!nv || json_object_set_new(res, k, nv))
			goto nomem;
		if (!strcmp(k, "label"))
			label = nv;
		continue;
nomem_nv:
		json_decref(nv);
		goto nomem;
	}
	if (!label) {
		label = json_object();
		if (!label || json_object_set_new(res, "label", label))
			goto nomem;
	}
	json_object_foreach_safe(label, tmp, k, v)
		if (is_owner_entry(k, name) && json_object_del(label, k))
			goto nomem;
	if (asprintf(&entry, "%s=%s", name, value) < 0) {
		entry = NULL;
		goto nomem;
	}
	if (json_object_set_new(label, entry, json_true()))
		goto nomem;
	free(entry);
	*out = res;
	return 0;
bad_values:
	set_msg(msg, msgcap, "filters values must be maps of booleans or lists of strings");
	return FILTERS_BAD;
nomem:
	free(entry);
	json_decref(res);
	return -ENOMEM;
}

/* build_routes.go: json.Unmarshal(labels, &map[string]string{}); null values
 * decode to "". Sets the owner label in place. */
static int stamp_labels_json(json_t *root, const char *name, const char *value, json_t **out,
			     char *msg, size_t msgcap)
{
	const char *k;
	json_t *v;

	if (!json_is_object(root)) {
		set_msg(msg, msgcap, "labels must be a JSON object");
		return FILTERS_BAD;
	}
	json_object_foreach(root, k, v)
		if (!json_is_string(v) && !json_is_null(v)) {
			set_msg(msg, msgcap, "labels must map names to strings");
			return FILTERS_BAD;
		}
	if (json_object_set_new(root, name, json_string(value)))
		return -ENOMEM;
	*out = json_incref(root);
	return 0;
}

typedef int (*json_rewrite_fn)(json_t *root, const char *name, const char *value, json_t **out,
			       char *msg, size_t msgcap);

/* Parse one parameter's decoded value ("" and JSON null: an empty object, as
 * FromJSON and Unmarshal-into-a-map read them) and rewrite it into *text
 * (compact JSON, malloc'd). Duplicate keys are refused: Go keeps the last,
 * and a body that means one thing to us and another to a reader is not
 * worth the doubt. */
static int rewrite_value(const char *param, const char *v, size_t vlen, json_rewrite_fn fn,
			 const char *name, const char *value, char **text, size_t *tlen, char *msg,
			 size_t msgcap)
{
	json_t *root, *res = NULL;
	json_error_t err;
	size_t need;
	int r;

	if (!vlen) {
		root = json_object();
		if (!root)
			return -ENOMEM;
	} else {
		root = json_loadb(v, vlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
		if (!root) {
			if (json_error_code(&err) == json_error_out_of_memory)
				return -ENOMEM;
			set_msg(msg, msgcap, "%s is not valid JSON%s", param,
				json_error_code(&err) == json_error_duplicate_key ?
				" (a repeated key)" : "");
			return FILTERS_BAD;
		}
		if (json_is_null(root)) {
			json_decref(root);
			root = json_object();
			if (!root)
				return -ENOMEM;
		}
	}
	r = fn(root, name, value, &res, msg, msgcap);
	json_decref(root);
	if (r)
		return r;
	need = json_dumpb(res, NULL, 0, JSON_COMPACT);
	*text = need ? malloc(need) : NULL;
	if (!*text || json_dumpb(res, *text, need, JSON_COMPACT) != need) {
		free(*text);
		json_decref(res);
		return -ENOMEM;
	}
	*tlen = need;
	json_decref(res);
	return 0;
}

/* ---- output ------------------------------------------------------------- */

struct outbuf {
	char *p;
	size_t cap, len;   /* len may run past cap: then the rewrite is -ENOSPC */
};

static void out_put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len < o->cap && n <= o->cap - o->len)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* Go's url.QueryEscape keeps only the unreserved set; so do we, with %XX for
 * everything else (a space as %20, which Go reads the same as '+'). */
static void out_escaped(struct outbuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out_put(o, (const char *)&c, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			out_put(o, e, 3);
		}
	}
}

static bool valid_label_part(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_vchar((unsigned char)*s) || *s == '=' || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* Find `param` (decoded key) in the query, rewrite its value with fn, and
 * write the query back with that one parameter replaced (or appended). */
static int query_rewrite(const char *q, size_t qlen, const char *param, json_rewrite_fn fn,
			 const char *name, const char *value, char *out, size_t cap,
			 size_t *out_len, char *msg, size_t msgcap)
{
	size_t plen = strlen(param), pos = 0, found_at = SIZE_MAX, nfound = 0, tlen = 0;
	struct outbuf o = { out, cap, 0 };
	char *scratch = NULL, *text = NULL, *val;
	size_t vlen = 0;
	struct qparam p;
	bool first = true;
	int r;

	if ((!q && qlen) || !out || !valid_label_part(name) || !valid_label_part(value))
		return -EINVAL;
	/* two halves: the segment being decoded, and the value of `param` */
	scratch = malloc(2 * qlen + 1);
	if (!scratch)
		return -ENOMEM;
	val = scratch + qlen;
	r = query_validate(q, qlen, scratch, msg, msgcap);
	if (r)
		goto done;
	while ((r = qparam_next(q, qlen, &pos, scratch, &p)) == 1) {
		if (p.klen == plen && !memcmp(p.key, param, plen)) {
			if (++nfound > 1) {
				set_msg(msg, msgcap, "query parameter %s is repeated", param);
				r = FILTERS_BAD;
				goto done;
			}
			found_at = (size_t)(p.raw - q);
			memcpy(val, p.val, p.vlen);
			vlen = p.vlen;
		}
	}
	if (r)
		goto done;
	r = rewrite_value(param, val, vlen, fn, name, value, &text, &tlen, msg, msgcap);
	if (r)
		goto done;
	pos = 0;
	for (;;) {
		const char *s = q + pos, *amp;
		size_t len;

		if (pos >= qlen)
			break;
		amp = memchr(s, '&', qlen - pos);
		len = amp ? (size_t)(amp - s) : qlen - pos;
		pos += len + (amp ? 1 : 0);
		if (!len)
			continue;
		if (!first)
			out_put(&o, "&", 1);
		first = false;
		if ((size_t)(s - q) == found_at) {
			out_put(&o, param, plen);
			out_put(&o, "=", 1);
			out_escaped(&o, text, tlen);
		} else {
			out_put(&o, s, len);
		}
	}
	if (found_at == SIZE_MAX) {
		if (!first)
			out_put(&o, "&", 1);
		out_put(&o, param, plen);
		out_put(&o, "=", 1);
		out_escaped(&o, text, tlen);
	}
	if (o.len >= cap) {
		r = -ENOSPC;
		goto done;
	}
	out[o.len] = '\0';
	*out_len = o.len;
	r = 0;
done:
	free(text);
	free(scratch);
	return r;
}

int filters_force_label(const char *query, size_t qlen, const char *name, const char *value,
			char *out, size_t cap, size_t *out_len, char *msg, size_t msgcap)
{
	return query_rewrite(query, qlen, "filters", force_label_json, name, value, out, cap,
			     out_len, msg, msgcap);
}

int filters_stamp_labels(const char *query, size_t qlen, const char *name, const char *value,
			 char *out, size_t cap, size_t *out_len, char *msg, size_t msgcap)
{
	return query_rewrite(query, qlen, "labels", stamp_labels_json, name, value, out, cap,
			     out_len, msg, msgcap);
}

/* ---- Content-Type ------------------------------------------------------- */

/* Go's mime.ParseMediaType lowercases with strings.ToLower (Unicode): besides
 * ASCII, U+0130 (C4 B0) becomes 'i' and U+212A KELVIN SIGN (E2 84 AA) 'k'.
 * Folds the character at s[i] into *c; returns the bytes it took. */
static size_t ct_fold(const char *s, size_t len, size_t i, char *c)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[i] == 0xc4 && i + 1 < len && u[i + 1] == 0xb0) {
		*c = 'i';
		return 2;
	}
	if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x84 && u[i + 2] == 0xaa) {
		*c = 'k';
		return 3;
	}
	*c = (char)ascii_lower(u[i]);
	return 1;
}

bool filters_form_content_type(const char *ct, size_t len)
{
	static const char *const forms[] = { "x-www-form-urlencoded", "multipart/form-data" };

	if (!ct)
		return false;
	for (size_t start = 0; start < len; start++)
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			const char *w = forms[f];
			size_t i = start;
			char c;

			while (*w && i < len) {
				i += ct_fold(ct, len, i, &c);
				if (c != *w)
					break;
				w++;
			}
			if (!*w)
				return true;
		}
	return false;
}
