/* tests/cmd_metrics.c: the /metrics endpoint of cmd/metrics.c. A strict
 * checker of the Prometheus text exposition format 0.0.4 (stricter than
 * Prometheus where our own rules are stricter: HELP and TYPE for every family,
 * counters end in _total, no blank or free comment lines), checked itself
 * against known-bad inputs; then rendered snapshots with hostile keys that
 * must parse and round-trip, histogram bounds, and the HTTP server over a
 * Unix socket and loopback TCP with a real client, garbage and slow peers.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "metrics_http.h"
#include "metrics_listen.h"

/* ====================== the exposition-format checker ====================== */

#define X_MAX_LABELS 8

struct xlabel {
	char *name;
	char *value; /* unescaped */
	size_t vlen;
};

struct xsample {
	char *name;
	struct xlabel labels[X_MAX_LABELS];
	int nlabels;
	char raw[64]; /* the value as written */
	double v;
	size_t fam;
};

struct xfam {
	char name[256];
	char type[16];
	bool help, typed, sampled;
};

struct xparse {
	struct xsample *s;
	size_t n, cap;
	struct xfam *fam;
	size_t nfam, famcap;
	char err[512];
	size_t line;
};

static void xfree(struct xparse *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->s[i].name);
		for (int j = 0; j < p->s[i].nlabels; j++) {
			free(p->s[i].labels[j].name);
			free(p->s[i].labels[j].value);
		}
	}
	free(p->s);
	free(p->fam);
	memset(p, 0, sizeof(*p));
}

__attribute__((format(printf, 2, 3)))
static int xerr(struct xparse *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, sizeof(p->err), "line %zu: ", p->line);

	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool x_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		unsigned cp;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* ; labels: no ':' */
static size_t x_name(const char *s, size_t n, bool colon)
{
	size_t i = 0;

	while (i < n) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			break;
		i++;
	}
	return i;
}

/* Go ParseFloat would take more (hex, "infinity", underscores); we take the
 * plain forms only: [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)? | [+-]Inf | NaN. */
static bool x_float(const char *s, size_t n, double *v)
{
	char buf[64];
	size_t i = 0, d = 0;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "Inf")) {
		*v = INFINITY;
		return true;
	}
	if (!strcmp(buf, "-Inf")) {
		*v = -INFINITY;
		return true;
	}
	if (!strcmp(buf, "NaN")) {
		*v = NAN;
		return true;
	}
	if (buf[i] == '+' || buf[i] == '-')
		i++;
	while (buf[i] >= '0' && buf[i] <= '9')
		i++, d++;
	if (buf[i] == '.') {
		i++;
		while (buf[i] >= '0' && buf[i] <= '9')
			i++, d++;
	}
	if (d == 0)
		return false;
	if (buf[i] == 'e' || buf[i] == 'E') {
		size_t e = 0;

		i++;
		if (buf[i] == '+' || buf[i] == '-')
			i++;
		while (buf[i] >= '0' && buf[i] <= '9')
			i++, e++;
		if (e == 0)
			return false;
	}
	if (i != n)
		return false;
	*v = strtod(buf, NULL);
	return true;
}

static struct xfam *x_fam_find(struct xparse *p, const char *name, size_t n)
{
	for (size_t i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == n && !memcmp(p->fam[i].name, name, n))
			return &p->fam[i];
	return NULL;
}

static struct xfam *x_fam_get(struct xparse *p, const char *name, size_t n)
{
	struct xfam *f = x_fam_find(p, name, n);

	if (f)
		return f;
	if (p->nfam == p->famcap) {
		p->famcap = p->famcap ? 2 * p->famcap : 16;
		p->fam = realloc(p->fam, p->famcap * sizeof(*p->fam));
	}
	f = &p->fam[p->nfam++];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, n < sizeof(f->name) - 1 ? n : sizeof(f->name) - 1);
	return f;
}

static bool x_suffix(const char *name, size_t n, const char *suf, size_t *base)
{
	size_t k = strlen(suf);

	if (n <= k || memcmp(name + n - k, suf, k))
		return false;
	*base = n - k;
	return true;
}

static const char *x_label(const struct xsample *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

/* "name\0l1=v1\0..." with labels sorted, le optionally left out. */
static char *x_series(const struct xsample *s, bool with_le, size_t *len)
{
	int order[X_MAX_LABELS];
	size_t cap = strlen(s->name) + 1, n = 0;
	char *out;

	for (int i = 0; i < s->nlabels; i++) {
		order[i] = i;
		cap += strlen(s->labels[i].name) + s->labels[i].vlen + 2;
	}
	for (int i = 1; i < s->nlabels; i++)
		for (int j = i; j > 0 && strcmp(s->labels[order[j - 1]].name,
						s->labels[order[j]].name) > 0; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	out = malloc(cap);
	memcpy(out, s->name, strlen(s->name) + 1);
	n = strlen(s->name) + 1;
	for (int i = 0; i < s->nlabels; i++) {
		const struct xlabel *l = &s->labels[order[i]];

		if (!with_le && !strcmp(l->name, "le"))
			continue;
		memcpy(out + n, l->name, strlen(l->name));
		n += strlen(l->name);
		out[n++] = '=';
		memcpy(out + n, l->value, l->vlen);
		n += l->vlen;
		out[n++] = '\0';
	}
	*len = n;
	return out;
}

struct xkey {
	char *k;
	size_t n;
};

static int x_keycmp(const void *a, const void *b)
{
	const struct xkey *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->k, y->k, n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int x_sample(struct xparse *p, const char *l, size_t n, size_t cur)
{
	struct xsample s = { 0 };
	size_t i, nl, base;
	struct xfam *f = NULL;

	nl = x_name(l, n, true);
	if (nl == 0)
		return xerr(p, "bad metric name");
	s.name = strndup(l, nl);
	i = nl;
	if (i < n && l[i] == '{') {
		i++;
		while (i < n && l[i] != '}') {
			size_t ln = x_name(l + i, n - i, false);
			struct xlabel *lab;
			char *v;
			size_t vn = 0;

			if (ln == 0)
				goto bad_label;
			if (ln >= 2 && l[i] == '_' && l[i + 1] == '_')
				goto bad_label;
			if (s.nlabels == X_MAX_LABELS)
				goto bad_label;
			lab = &s.labels[s.nlabels++];
			lab->name = strndup(l + i, ln);
			for (int j = 0; j < s.nlabels - 1; j++)
				if (!strcmp(s.labels[j].name, lab->name)) {
					xerr(p, "duplicate label %s", lab->name);
					goto fail;
				}
			i += ln;
			if (i + 1 >= n || l[i] != '=' || l[i + 1] != '"')
				goto bad_label;
			i += 2;
			v = malloc(n - i + 1);
			lab->value = v;
			for (;;) {
				if (i >= n) {
					xerr(p, "unterminated label value");
					goto fail;
				}
				if (l[i] == '"')
					break;
				if (l[i] == '\\') {
					if (i + 1 >= n) {
						xerr(p, "dangling backslash");
						goto fail;
					}
					switch (l[i + 1]) {
					case '\\': v[vn++] = '\\'; break;
					case '"': v[vn++] = '"'; break;
					case 'n': v[vn++] = '\n'; break;
					default:
						xerr(p, "invalid escape \\%c", l[i + 1]);
						goto fail;
					}
					i += 2;
					continue;
				}
				v[vn++] = l[i++];
			}
			v[vn] = '\0';
			lab->vlen = vn;
			if (!x_utf8_valid((const unsigned char *)v, vn)) {
				xerr(p, "label value not UTF-8");
				goto fail;
			}
			i++; /* closing quote */
			if (i < n && l[i] == ',') {
				i++;
				continue;
			}
			if (i < n && l[i] == '}')
				break;
			goto bad_label;
		}
		if (i >= n || l[i] != '}')
			goto bad_label;
		i++;
	}
	if (i >= n || l[i] != ' ') {
		xerr(p, "no single space before the value");
		goto fail;
	}
	i++;
	{
		const char *sp = memchr(l + i, ' ', n - i);
		size_t vl = sp ? (size_t)(sp - (l + i)) : n - i;

		if (!x_float(l + i, vl, &s.v) || vl >= sizeof(s.raw)) {
			xerr(p, "bad value '%.*s'", (int)vl, l + i);
			goto fail;
		}
		memcpy(s.raw, l + i, vl);
		s.raw[vl] = '\0';
		if (sp) { /* optional int64 millisecond timestamp */
			const char *t = sp + 1;
			size_t tn = (size_t)(l + n - t), k = 0;

			if (tn && t[0] == '-')
				k++;
			if (k == tn)
				goto bad_ts;
			for (; k < tn; k++)
				if (t[k] < '0' || t[k] > '9')
					goto bad_ts;
		}
	}

	/* Which family: exact name, or a histogram/summary's suffixed series. */
	f = x_fam_find(p, s.name, nl);
	if (f && f->typed && !strcmp(f->type, "histogram")) {
		xerr(p, "histogram sample without suffix");
		goto fail;
	}
	if (!f || !f->typed) {
		f = NULL;
		if (x_suffix(s.name, nl, "_bucket", &base) || x_suffix(s.name, nl, "_sum", &base) ||
		    x_suffix(s.name, nl, "_count", &base)) {
			f = x_fam_find(p, s.name, base);
			if (f && (!f->typed || (strcmp(f->type, "histogram") && strcmp(f->type, "summary"))))
				f = NULL;
			if (f && !strcmp(f->type, "summary") && !strcmp(s.name + base, "_bucket"))
				f = NULL;
		}
	}
	if (!f) {
		xerr(p, "sample %s has no TYPE before it", s.name);
		goto fail;
	}
	if ((size_t)(f - p->fam) != cur) {
		xerr(p, "sample %s outside its family's group", s.name);
		goto fail;
	}
	f->sampled = true;
	s.fam = cur;
	if (!strcmp(f->type, "histogram")) {
		bool bucket = !strcmp(s.name + strlen(f->name), "_bucket");
		const char *le = x_label(&s, "le");
		double lev;

		if (bucket != (le != NULL)) {
			xerr(p, "le label misplaced on %s", s.name);
			goto fail;
		}
		if (le && !x_float(le, strlen(le), &lev)) {
			xerr(p, "bad le '%s'", le);
			goto fail;
		}
		if (strcmp(s.name + strlen(f->name), "_sum") && !(s.v >= 0 && s.v == floor(s.v))) {
			xerr(p, "histogram count %s is not a non-negative integer", s.raw);
			goto fail;
		}
	}
	if (!strcmp(f->type, "counter") && !(s.v >= 0)) {
		xerr(p, "counter %s is negative or NaN", s.name);
		goto fail;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->s = realloc(p->s, p->cap * sizeof(*p->s));
	}
	p->s[p->n++] = s;
	return 0;
bad_ts:
	xerr(p, "bad timestamp");
	goto fail;
bad_label:
	xerr(p, "bad label syntax at byte %zu", i);
fail:
	free(s.name);
	for (int j = 0; j < s.nlabels; j++) {
		free(s.labels[j].name);
		free(s.labels[j].value);
	}
	return -1;
}

/* Histograms: per label set, le strictly increasing, counts non-decreasing,
 * ending in +Inf equal to _count; _sum and _count present once. */
static int x_histograms(struct xparse *p)
{
	int ret = 0;

	for (size_t f = 0; f < p->nfam; f++) {
		struct {
			char *key;
			size_t klen;
			double le, cnt, count;
			bool any, inf, sum, has_count;
		} g[64];
		size_t ng = 0;

		if (strcmp(p->fam[f].type, "histogram"))
			continue;
		for (size_t i = 0; i < p->n; i++) {
			const struct xsample *s = &p->s[i];
			const char *suf = s->name + strlen(p->fam[f].name);
			size_t kl, j;
			char *k;

			if (s->fam != f)
				continue;
			k = x_series(s, false, &kl);
			/* Drop the suffixed name: _bucket, _sum, _count share a group. */
			kl -= strlen(s->name) + 1;
			memmove(k, k + strlen(s->name) + 1, kl);
			for (j = 0; j < ng; j++)
				if (g[j].klen == kl && !memcmp(g[j].key, k, kl))
					break;
			if (j == ng) {
				if (ng == 64) {
					free(k);
					ret = xerr(p, "too many histogram groups");
					goto done;
				}
				memset(&g[ng], 0, sizeof(g[ng]));
				g[ng].key = k;
				g[ng].klen = kl;
				ng++;
			} else {
				free(k);
			}
			if (!strcmp(suf, "_bucket")) {
				double le;

				x_float(x_label(s, "le"), strlen(x_label(s, "le")), &le);
				if (g[j].inf || (g[j].any && !(le > g[j].le))) {
					ret = xerr(p, "%s: le not increasing", s->name);
					goto done;
				}
				if (g[j].any && s->v < g[j].cnt) {
					ret = xerr(p, "%s: buckets not cumulative", s->name);
					goto done;
				}
				g[j].any = true;
				g[j].le = le;
				g[j].cnt = s->v;
				g[j].inf = isinf(le) && le > 0;
			} else if (!strcmp(suf, "_sum")) {
				if (g[j].sum) {
					ret = xerr(p, "%s twice", s->name);
					goto done;
				}
				g[j].sum = true;
			} else {
				if (g[j].has_count) {
					ret = xerr(p, "%s twice", s->name);
					goto done;
				}
				g[j].has_count = true;
				g[j].count = s->v;
			}
		}
		for (size_t j = 0; j < ng && !ret; j++)
			if (!(g[j].inf && g[j].sum && g[j].has_count && g[j].cnt == g[j].count))
				ret = xerr(p, "histogram %s: missing +Inf, _sum or _count, or +Inf != _count",
					   p->fam[f].name);
done:
		for (size_t j = 0; j < ng; j++)
			free(g[j].key);
		if (ret)
			return ret;
	}
	return 0;
}

/* 0 if text is valid; else -1 with p->err. Samples stay in p (xfree). */
static int xcheck(const char *text, size_t len, struct xparse *p)
{
	const char *l = text, *end = text + len;
	size_t cur = SIZE_MAX;
	struct xkey *keys;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	if (len == 0 || text[len - 1] != '\n')
		return xerr(p, "output does not end with a newline");
	if (memchr(text, '\0', len))
		return xerr(p, "NUL byte");
	if (!x_utf8_valid((const unsigned char *)text, len))
		return xerr(p, "not UTF-8");
	while (l < end) {
		const char *nlp = memchr(l, '\n', (size_t)(end - l));
		size_t n = (size_t)(nlp - l);

		p->line++;
		if (n == 0)
			return xerr(p, "blank line");
		if (memchr(l, '\r', n))
			return xerr(p, "CR in line");
		if (l[0] == '#') {
			bool help = n > 7 && !memcmp(l, "# HELP ", 7);
			bool type = n > 7 && !memcmp(l, "# TYPE ", 7);
			const char *name = l + 7;
			size_t nn, rest;
			struct xfam *f;

			if (!help && !type)
				return xerr(p, "comment that is not HELP or TYPE");
			nn = x_name(name, n - 7, true);
			if (nn == 0 || 7 + nn >= n || name[nn] != ' ')
				return xerr(p, "bad name in comment");
			rest = n - 7 - nn - 1;
			f = x_fam_get(p, name, nn);
			if (f->sampled)
				return xerr(p, "HELP/TYPE after samples of %s", f->name);
			if (help) {
				const char *d = name + nn + 1;

				if (f->help)
					return xerr(p, "second HELP for %s", f->name);
				if (f->typed)
					return xerr(p, "HELP after TYPE for %s", f->name);
				f->help = true;
				for (size_t k = 0; k < rest; k++)
					if (d[k] == '\\' && (k + 1 >= rest || (d[k + 1] != '\\' && d[k + 1] != 'n')))
						return xerr(p, "bad escape in HELP");
					else if (d[k] == '\\')
						k++;
			} else {
				const char *t = name + nn + 1;
				static const char *const types[] = { "counter", "gauge", "histogram",
								     "summary", "untyped" };
				bool ok = false;

				if (f->typed)
					return xerr(p, "second TYPE for %s", f->name);
				for (size_t k = 0; k < 5; k++)
					if (strlen(types[k]) == rest && !memcmp(t, types[k], rest))
						ok = true;
				if (!ok)
					return xerr(p, "bad type");
				if (!f->help)
					return xerr(p, "TYPE without HELP for %s", f->name);
				memcpy(f->type, t, rest);
				f->typed = true;
				/* Naming rules promtool's linter enforces too: _total is for
				 * counters, and every counter has it. */
				bool total = strlen(f->name) >= 6 &&
					     !strcmp(f->name + strlen(f->name) - 6, "_total");
				if (!strcmp(f->type, "counter") && !total)
					return xerr(p, "counter %s does not end in _total", f->name);
				if (strcmp(f->type, "counter") && total)
					return xerr(p, "non-counter %s ends in _total", f->name);
				cur = (size_t)(f - p->fam);
			}
		} else if (x_sample(p, l, n, cur) < 0) {
			return -1;
		}
		l = nlp + 1;
	}
	for (size_t i = 0; i < p->nfam; i++)
		if (!p->fam[i].typed)
			return xerr(p, "HELP without TYPE for %s", p->fam[i].name);

	/* No series twice. */
	keys = calloc(p->n + 1, sizeof(*keys));
	for (size_t i = 0; i < p->n; i++)
		keys[i].k = x_series(&p->s[i], true, &keys[i].n);
	qsort(keys, p->n, sizeof(*keys), x_keycmp);
	for (size_t i = 1; i < p->n; i++)
		if (!x_keycmp(&keys[i - 1], &keys[i]))
			ret = xerr(p, "duplicate series %s", keys[i].k);
	for (size_t i = 0; i < p->n; i++)
		free(keys[i].k);
	free(keys);
	if (ret < 0)
		return ret;
	return x_histograms(p);
}

/* ============================== helpers ============================== */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo metrics.h's key encoding (after the checker's unescaping). */
static size_t key_decode(const char *v, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i] == '%') {
			cr_assert(i + 2 < n, "truncated %% escape");
			cr_assert(hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0, "bad %% escape");
			out[o++] = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
			i += 2;
		} else {
			out[o++] = v[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* The sample name{labels...} whose decoded key is key (NULL: no key label)
 * and which has the extra label (NULL: none). */
static const struct xsample *find(const struct xparse *p, const char *name, const char *key,
				  const char *lname, const char *lval)
{
	char dec[4 * DMX_KEY_MAX];

	for (size_t i = 0; i < p->n; i++) {
		const struct xsample *s = &p->s[i];
		const char *k = x_label(s, "key");

		if (strcmp(s->name, name))
			continue;
		if (key) {
			if (!k)
				continue;
			for (int j = 0; j < s->nlabels; j++)
				if (!strcmp(s->labels[j].name, "key"))
					key_decode(k, s->labels[j].vlen, dec);
			if (strcmp(dec, key))
				continue;
		} else if (k) {
			continue;
		}
		if (lname && (!x_label(s, lname) || strcmp(x_label(s, lname), lval)))
			continue;
		return s;
	}
	return NULL;
}

static void expect_u64(const struct xparse *p, const char *name, const char *key,
		       const char *lname, const char *lval, uint64_t v)
{
	const struct xsample *s = find(p, name, key, lname, lval);
	char want[32];

	cr_assert(s, "no sample %s key=%s %s=%s", name, key ? key : "-", lname ? lname : "-",
		  lval ? lval : "-");
	snprintf(want, sizeof(want), "%" PRIu64, v);
	cr_assert_str_eq(s->raw, want, "%s: got %s, want %s", name, s->raw, want);
}

static char *render(const struct metrics_snapshot *s, size_t *len)
{
	char *out = NULL;
	size_t n = 0;

	cr_assert_eq(metrics_render(s, &out, &n), 0);
	cr_assert(out);
	cr_assert_eq(strlen(out), n, "rendered text has a NUL or a wrong length");
	if (len)
		*len = n;
	return out;
}

static void check_ok(const char *text, size_t len, struct xparse *p)
{
	int ret = xcheck(text, len, p);

	cr_assert_eq(ret, 0, "checker refused: %s\n---\n%.*s", p->err, (int)(len > 4000 ? 4000 : len),
		     text);
}

/* ====================== the checker refuses bad input ====================== */

static const char good_prefix[] = "# HELP a_total A.\n# TYPE a_total counter\n";

Test(checker, accepts_a_minimal_valid_exposition)
{
	static const char *const good[] = {
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n",
		"# HELP a_total A \\\\ \\n.\n# TYPE a_total counter\na_total{x=\"\\\"\\\\\\n\"} 0\n",
		"# HELP g G.\n# TYPE g gauge\ng -1.5e-3\ng{a=\"1\"} NaN\ng{a=\"2\"} +Inf\ng{a=\"3\"} -Inf 123\n",
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n",
	};
	struct xparse p;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(xcheck(good[i], strlen(good[i]), &p), 0, "case %zu: %s", i, p.err);
		xfree(&p);
	}
}

Test(checker, refuses_malformed_expositions)
{
	static const char *const bad[] = {
		"a_total 1\n",                                                   /* no TYPE */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1",          /* no final LF */
		"# TYPE a_total counter\na_total 1\n",                           /* no HELP */
		"# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",       /* negative counter */
		"# HELP a_total A.\n# TYPE a_total counter\na_total NaN\n",      /* NaN counter */
		"# HELP a A.\n# TYPE a counter\na 1\n",                          /* counter w/o _total */
		"# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n",          /* gauge with _total */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1.2.3\n",    /* bad float */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 0x10\n",     /* hex */
		"# HELP a_total A.\n# TYPE a_total counter\na_total  1\n",       /* two spaces */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"\\t\"} 1\n", /* bad escape */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"x} 1\n", /* unterminated */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"\xff\"} 1\n", /* not UTF-8 */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"\xc0\xaf\"} 1\n", /* overlong */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{1k=\"x\"} 1\n", /* label name */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{__k=\"x\"} 1\n", /* reserved */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"x\",k=\"y\"} 1\n", /* dup label */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=x} 1\n",   /* unquoted */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n", /* dup series */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"1\",j=\"2\"} 1\n"
		"a_total{j=\"2\",k=\"1\"} 1\n",                                    /* dup, reordered */
		"# HELP 1a_total A.\n# TYPE 1a_total counter\n1a_total 1\n",     /* metric name */
		"# HELP a_total A.\n# TYPE a_total counter\n\na_total 1\n",      /* blank line */
		"# HELP a_total A.\n# TYPE a_total counter\n# hi\na_total 1\n",  /* free comment */
		"# HELP a_total A.\n# TYPE a_total bogus\na_total 1\n",          /* type */
		"# HELP a_total A.\n# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
		"# HELP a_total A \\x.\n# TYPE a_total counter\na_total 1\n",    /* HELP escape */
		"# HELP a_total A.\n# TYPE a_total counter\n# HELP b_total B.\n# TYPE b_total counter\n"
		"a_total 1\n",                                                    /* out of group */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP a_total A.\n",
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1 12x\n",    /* timestamp */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\r\n",      /* CR */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		"h_sum 0\nh_count 1\n",                                           /* not cumulative */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_sum 0\nh_count 1\n", /* no +Inf */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n", /* != */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", /* no _sum */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\n"
		"h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",                  /* le order */
		"# HELP h H.\n# TYPE h histogram\nh_bucket 1\nh_sum 0\nh_count 1\n", /* no le */
		"# HELP h H.\n# TYPE h histogram\nh 1\n",                        /* no suffix */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\nh_sum 0\nh_count 1.5\n",
	};
	struct xparse p;

	(void)good_prefix;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_neq(xcheck(bad[i], strlen(bad[i]), &p), 0, "case %zu accepted:\n%s", i, bad[i]);
		xfree(&p);
	}
}

/* ============================== rendering ============================== */

static const char *const all_families[][2] = {
	{ "dockmux_container_connections_active", "gauge" },
	{ "dockmux_container_connections_total", "counter" },
	{ "dockmux_container_requests_total", "counter" },
	{ "dockmux_container_responses_total", "counter" },
	{ "dockmux_container_denied_total", "counter" },
	{ "dockmux_container_errors_total", "counter" },
	{ "dockmux_container_bytes_total", "counter" },
	{ "dockmux_ring_loop_iterations_total", "counter" },
	{ "dockmux_ring_sqes_submitted_total", "counter" },
	{ "dockmux_ring_cqes_reaped_total", "counter" },
	{ "dockmux_ring_fixed_files_used", "gauge" },
	{ "dockmux_ring_fixed_files_limit", "gauge" },
	{ "dockmux_containers", "gauge" },
	{ "dockmux_spawns_total", "counter" },
	{ "dockmux_spawn_errors_total", "counter" },
	{ "dockmux_teardowns_total", "counter" },
	{ "dockmux_spawn_duration_seconds", "histogram" },
	{ "dockmux_teardown_duration_seconds", "histogram" },
	{ "dockmux_process_start_time_seconds", "gauge" },
	{ "dockmux_requests_total", "counter" },
	{ "dockmux_bytes_total", "counter" },
};
#define NFAMILIES (sizeof(all_families) / sizeof(all_families[0]))

Test(render, zero_containers_declares_every_family)
{
	struct metrics_snapshot s = { 0 };
	struct xparse p;
	size_t len;
	char *out = render(&s, &len);

	check_ok(out, len, &p);
	cr_assert_eq(p.nfam, NFAMILIES, "families: %zu", p.nfam);
	for (size_t i = 0; i < NFAMILIES; i++) {
		const struct xfam *f = x_fam_find(&p, all_families[i][0], strlen(all_families[i][0]));

		cr_assert(f, "missing family %s", all_families[i][0]);
		cr_assert_str_eq(f->type, all_families[i][1], "%s", f->name);
		cr_assert(f->help);
	}
	expect_u64(&p, "dockmux_containers", NULL, NULL, NULL, 0);
	expect_u64(&p, "dockmux_spawn_duration_seconds_bucket", NULL, "le", "+Inf", 0);
	expect_u64(&p, "dockmux_spawn_duration_seconds_count", NULL, NULL, NULL, 0);
	cr_assert_str_eq(find(&p, "dockmux_spawn_duration_seconds_sum", NULL, NULL, NULL)->raw, "0");
	cr_assert_str_eq(find(&p, "dockmux_process_start_time_seconds", NULL, NULL, NULL)->raw, "0");
	for (size_t i = 0; i < p.n; i++)
		cr_assert_null(x_label(&p.s[i], "key"));
	xfree(&p);
	free(out);
}

static struct dmx_entry *make_entries(const char *const *keys, size_t n)
{
	struct dmx_entry *e = calloc(n, sizeof(*e));

	for (size_t i = 0; i < n; i++) {
		uint64_t b = (uint64_t)(i + 1) * 1000;

		snprintf(e[i].key, sizeof(e[i].key), "%s", keys[i]);
		e[i].stats.containers = 1;
		e[i].stats.conns_accepted = b + 1;
		e[i].stats.conns_active = b + 2;
		e[i].stats.requests = b + 3;
		e[i].stats.bytes_up = b + 4;
		e[i].stats.bytes_down = b + 5;
		e[i].stats.errors = b + 6;
		for (int k = 1; k <= 5; k++)
			e[i].stats.responses[k] = b + 10 + (uint64_t)k;
		e[i].stats.denied = b + 7;
	}
	return e;
}

static void expect_entry(const struct xparse *p, const struct dmx_entry *e)
{
	const struct dmx_stats *st = &e->stats;
	char cls[16];

	expect_u64(p, "dockmux_container_connections_active", e->key, NULL, NULL, st->conns_active);
	expect_u64(p, "dockmux_container_connections_total", e->key, NULL, NULL, st->conns_accepted);
	expect_u64(p, "dockmux_container_requests_total", e->key, NULL, NULL, st->requests);
	expect_u64(p, "dockmux_container_denied_total", e->key, NULL, NULL, st->denied);
	expect_u64(p, "dockmux_container_errors_total", e->key, NULL, NULL, st->errors);
	expect_u64(p, "dockmux_container_bytes_total", e->key, "direction", "up", st->bytes_up);
	expect_u64(p, "dockmux_container_bytes_total", e->key, "direction", "down", st->bytes_down);
	for (int k = 1; k <= 5; k++) {
		snprintf(cls, sizeof(cls), "%dxx", k);
		expect_u64(p, "dockmux_container_responses_total", e->key, "class", cls,
			   st->responses[k]);
	}
}

static char key255_x[256], key255_ff[256], key255_q[256], key255_utf8[256];

static void fill_long_keys(void)
{
	memset(key255_x, 'x', 255);
	memset(key255_ff, 0xff, 255);
	memset(key255_q, '"', 255);
	/* 85 x U+20AC (3 bytes each) */
	for (int i = 0; i < 85; i++)
		memcpy(key255_utf8 + 3 * i, "\xe2\x82\xac", 3);
}

Test(render, hostile_keys_parse_and_round_trip, .init = fill_long_keys)
{
	const char *const keys[] = {
		"ci-42",
		"with \"quotes\"",
		"back\\slash\\",
		"new\nline\n",
		"  spaces  around ",
		"high \xff\xfe bytes \x80",
		"caf\xc3\xa9 \xf0\x9f\x90\xb3",  /* valid UTF-8 passes through */
		"%41 percent %",                 /* must not collide with "A percent ..." */
		"A percent %",
		"ctl \x01\x1b\x7f\r\t",
		"overlong \xc0\xaf \xe0\x80\xaf",
		"surrogate \xed\xa0\x80",
		"too big \xf4\x90\x80\x80",
		"truncated \xe2\x82",
		"}{,=\\\"\\n",
		"# HELP x y",
		key255_x, key255_ff, key255_q, key255_utf8,
	};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	struct dmx_entry *e = make_entries(keys, n);
	struct metrics_snapshot s = { .entries = e, .nentries = n };
	struct xparse p;
	size_t len;
	char *out;

	s.total.containers = n;
	out = render(&s, &len);
	check_ok(out, len, &p);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(strlen(e[i].key), strlen(keys[i]));
		expect_entry(&p, &e[i]);
	}
	/* 12 samples per container: 5 plain, 5 classes, 2 directions. */
	size_t with_key = 0;

	for (size_t i = 0; i < p.n; i++)
		with_key += x_label(&p.s[i], "key") != NULL;
	cr_assert_eq(with_key, 12 * n);
	/* Keys without %, controls or bad UTF-8 read as themselves once unescaped. */
	const struct xsample *sm = find(&p, "dockmux_container_requests_total", "caf\xc3\xa9 \xf0\x9f\x90\xb3",
					NULL, NULL);
	cr_assert_str_eq(x_label(sm, "key"), "caf\xc3\xa9 \xf0\x9f\x90\xb3");
	sm = find(&p, "dockmux_container_requests_total", "with \"quotes\"", NULL, NULL);
	cr_assert_str_eq(x_label(sm, "key"), "with \"quotes\"");
	cr_assert(strstr(out, "{key=\"with \\\"quotes\\\"\"}"));
	cr_assert(strstr(out, "{key=\"new\\nline\\n\"}"));
	cr_assert(strstr(out, "{key=\"%2541 percent %25\"}"));
	cr_assert(strstr(out, "{key=\"high %FF%FE bytes %80\"}"));
	expect_u64(&p, "dockmux_containers", NULL, NULL, NULL, n);
	xfree(&p);
	free(out);
	free(e);
}

Test(render, many_containers_and_rings_round_trip)
{
	enum { N = 1000, R = 3 };
	struct dmx_entry *e = calloc(N, sizeof(*e));
	struct metrics_ring rings[R];
	struct metrics_snapshot s = { .entries = e, .nentries = N, .rings = rings, .nrings = R };
	struct xparse p;
	char ring[8];
	size_t len;
	char *out;

	for (size_t i = 0; i < N; i++) {
		snprintf(e[i].key, sizeof(e[i].key), "c-%zu", i);
		e[i].stats.requests = i;
		e[i].stats.bytes_down = UINT64_MAX - i;
	}
	for (size_t r = 0; r < R; r++)
		rings[r] = (struct metrics_ring){ 10 * r + 1, 10 * r + 2, 10 * r + 3, 10 * r + 4,
						  65536 };
	s.total = (struct dmx_stats){ .containers = N, .requests = 77, .bytes_up = 5,
				      .bytes_down = UINT64_MAX };
	s.spawns = 1001;
	s.spawn_errors = 2;
	s.teardowns = 3;
	s.start_time_seconds = 1712345678.25;
	out = render(&s, &len);
	check_ok(out, len, &p);
	for (size_t i = 0; i < N; i += 97) {
		expect_u64(&p, "dockmux_container_requests_total", e[i].key, NULL, NULL, i);
		expect_u64(&p, "dockmux_container_bytes_total", e[i].key, "direction", "down",
			   UINT64_MAX - i);
	}
	for (size_t r = 0; r < R; r++) {
		snprintf(ring, sizeof(ring), "%zu", r);
		expect_u64(&p, "dockmux_ring_loop_iterations_total", NULL, "ring", ring, 10 * r + 1);
		expect_u64(&p, "dockmux_ring_sqes_submitted_total", NULL, "ring", ring, 10 * r + 2);
		expect_u64(&p, "dockmux_ring_cqes_reaped_total", NULL, "ring", ring, 10 * r + 3);
		expect_u64(&p, "dockmux_ring_fixed_files_used", NULL, "ring", ring, 10 * r + 4);
		expect_u64(&p, "dockmux_ring_fixed_files_limit", NULL, "ring", ring, 65536);
	}
	expect_u64(&p, "dockmux_containers", NULL, NULL, NULL, N);
	expect_u64(&p, "dockmux_spawns_total", NULL, NULL, NULL, 1001);
	expect_u64(&p, "dockmux_spawn_errors_total", NULL, NULL, NULL, 2);
	expect_u64(&p, "dockmux_teardowns_total", NULL, NULL, NULL, 3);
	expect_u64(&p, "dockmux_requests_total", NULL, NULL, NULL, 77);
	expect_u64(&p, "dockmux_bytes_total", NULL, "direction", "up", 5);
	expect_u64(&p, "dockmux_bytes_total", NULL, "direction", "down", UINT64_MAX);
	cr_assert_eq(find(&p, "dockmux_process_start_time_seconds", NULL, NULL, NULL)->v,
		     1712345678.25);
	xfree(&p);
	free(out);
	free(e);
}

/* ============================== histograms ============================== */

static size_t bucket_of(double v)
{
	struct metrics_hist h = { 0 };

	metrics_hist_observe(&h, v);
	for (size_t i = 0; i < METRICS_HIST_BUCKETS; i++)
		if (h.buckets[i])
			return i;
	return SIZE_MAX;
}

Test(hist, bounds_are_inclusive_and_increasing)
{
	for (size_t i = 0; i + 1 < METRICS_HIST_BUCKETS; i++) {
		double b = metrics_hist_bounds[i];

		cr_assert_lt(b, metrics_hist_bounds[i + 1]);
		cr_assert_eq(bucket_of(b), i, "bound %g", b);
		cr_assert_eq(bucket_of(nextafter(b, 2 * b)), i + 1, "just above %g", b);
		if (i > 0)
			cr_assert_eq(bucket_of(nextafter(b, 0)), i, "just below %g", b);
	}
	cr_assert(isinf(metrics_hist_bounds[METRICS_HIST_BUCKETS - 1]));
	cr_assert_eq(bucket_of(0), 0);
	cr_assert_eq(bucket_of(-1), 0);
	cr_assert_eq(bucket_of(1e9), METRICS_HIST_BUCKETS - 1);
	cr_assert_eq(bucket_of(NAN), SIZE_MAX);
	cr_assert_eq(bucket_of(INFINITY), SIZE_MAX);
}

Test(hist, renders_cumulative_buckets_sum_and_count)
{
	struct metrics_snapshot s = { 0 };
	struct xparse p;
	size_t len;
	char *out;

	metrics_hist_observe(&s.spawn_latency, 0.00001);  /* le 1e-05 */
	metrics_hist_observe(&s.spawn_latency, 0.00002);  /* le 5e-05 */
	metrics_hist_observe(&s.spawn_latency, 0.0003);   /* le 0.0005 */
	metrics_hist_observe(&s.spawn_latency, 0.75);     /* le 1 */
	metrics_hist_observe(&s.spawn_latency, 3);        /* +Inf */
	metrics_hist_observe(&s.spawn_latency, -0.5);     /* clock step: 0 */
	metrics_hist_observe(&s.spawn_latency, NAN);      /* dropped */
	cr_assert_eq(s.spawn_latency.count, 6);
	cr_assert_float_eq(s.spawn_latency.sum_seconds, 3.75033, 1e-12);
	/* A count the daemon got wrong must not make the output inconsistent. */
	s.teardown_latency.buckets[3] = 2;
	s.teardown_latency.count = 99;
	s.teardown_latency.sum_seconds = 0.1;

	out = render(&s, &len);
	check_ok(out, len, &p);
	static const struct {
		const char *le;
		uint64_t v;
	} want[] = { { "1e-05", 2 }, { "5e-05", 3 }, { "0.0001", 3 }, { "0.00025", 3 },
		     { "0.0005", 4 }, { "0.001", 4 }, { "0.0025", 4 }, { "0.005", 4 },
		     { "0.01", 4 }, { "0.05", 4 }, { "0.1", 4 }, { "1", 5 }, { "+Inf", 6 } };
	cr_assert_eq(sizeof(want) / sizeof(want[0]), METRICS_HIST_BUCKETS);
	for (size_t i = 0; i < METRICS_HIST_BUCKETS; i++) {
		const struct xsample *b = find(&p, "dockmux_spawn_duration_seconds_bucket", NULL,
					       "le", want[i].le);
		double le;

		expect_u64(&p, "dockmux_spawn_duration_seconds_bucket", NULL, "le", want[i].le,
			   want[i].v);
		cr_assert(x_float(want[i].le, strlen(want[i].le), &le));
		cr_assert_eq(le, metrics_hist_bounds[i], "le %s", want[i].le);
		cr_assert(b);
	}
	expect_u64(&p, "dockmux_spawn_duration_seconds_count", NULL, NULL, NULL, 6);
	cr_assert_eq(find(&p, "dockmux_spawn_duration_seconds_sum", NULL, NULL, NULL)->v,
		     s.spawn_latency.sum_seconds, "sum must round-trip exactly");
	expect_u64(&p, "dockmux_teardown_duration_seconds_count", NULL, NULL, NULL, 2);
	cr_assert_str_eq(find(&p, "dockmux_teardown_duration_seconds_sum", NULL, NULL, NULL)->raw,
			 "0.1");
	xfree(&p);
	free(out);
}

/* ============================== listening ============================== */

static char tmpdir[64];

static void mk_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/dmx-metrics.XXXXXX");
	cr_assert(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

Test(listen, refuses_non_loopback_and_malformed_addresses)
{
	static const struct {
		const char *addr;
		int err;
	} cases[] = {
		{ "0.0.0.0:9100", -EPERM },    { "192.168.1.10:9100", -EPERM },
		{ "10.0.0.1:1", -EPERM },      { "[::]:9100", -EPERM },
		{ "[::ffff:127.0.0.1]:9100", -EPERM }, { "[2001:db8::1]:80", -EPERM },
		{ ":9100", -EPERM },           { "", -EINVAL },
		{ "9100", -EINVAL },           { "example.com:80", -EINVAL },
		{ "::1:9100", -EINVAL },       { "[::1]9100", -EINVAL },
		{ "[::1:9100", -EINVAL },      { "127.0.0.1:", -EINVAL },
		{ "127.0.0.1:65536", -EINVAL }, { "127.0.0.1:-1", -EINVAL },
		{ "127.0.0.1:0x50", -EINVAL }, { "127.0.0.1:123456", -EINVAL },
		{ "127.1:80", -EINVAL },       { "relative/path.sock", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int fd = -7;
		int ret = metrics_listen(cases[i].addr, &fd, &why);

		cr_expect_eq(ret, cases[i].err, "%s: got %d", cases[i].addr, ret);
		cr_expect_eq(fd, -7, "%s: fd written on failure", cases[i].addr);
		cr_expect(why && *why, "%s: no why", cases[i].addr);
		if (cases[i].err == -EPERM)
			cr_expect(why && strstr(why, "loopback"), "%s: why=%s", cases[i].addr, why);
	}
	cr_assert_eq(metrics_listen(NULL, &(int){ 0 }, NULL), -EINVAL);
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

Test(listen, loopback_tcp_is_nonblocking_and_cloexec)
{
	const char *why = NULL;
	int fd = -1;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &fd, &why), 0, "%s", why);
	cr_assert_gt(port_of(fd), 0);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	cr_assert_eq(metrics_listen("localhost:0", &fd, &why), 0, "%s", why);
	close(fd);
	cr_assert_eq(metrics_listen("127.8.9.10:0", &fd, &why), 0, "%s", why);
	close(fd);
}

Test(listen, unix_socket_mode_stale_live_and_foreign_files, .init = mk_tmpdir, .fini = rm_tmpdir)
{
	char path[128], file[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	const char *why = NULL;
	int fd = -1, fd2 = -1, stale;
	FILE *f;

	snprintf(path, sizeof(path), "%s/metrics.sock", tmpdir);
	cr_assert_eq(metrics_listen(path, &fd, &why), 0, "%s", why);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0660, "mode %o", st.st_mode & 07777);
	/* Somebody listens: refused, and the socket stays. */
	cr_assert_eq(metrics_listen(path, &fd2, &why), -EADDRINUSE);
	cr_assert(strstr(why, "listening"), "%s", why);
	cr_assert_eq(lstat(path, &st), 0);
	close(fd);
	/* Now nobody does: a stale socket is replaced. */
	cr_assert_eq(metrics_listen(path, &fd, &why), 0, "%s", why);
	close(fd);
	metrics_unlink(path);
	cr_assert_neq(lstat(path, &st), 0);

	/* A socket bound but never listening (crashed before listen) is stale too. */
	stale = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(metrics_listen(path, &fd, &why), 0, "%s", why);
	close(fd);
	close(stale);

	/* Never unlink a file that is not a socket. */
	snprintf(file, sizeof(file), "%s/precious", tmpdir);
	f = fopen(file, "w");
	fputs("data", f);
	fclose(f);
	cr_assert_eq(metrics_listen(file, &fd, &why), -EEXIST);
	cr_assert(why && strstr(why, "not a socket"), "%s", why);
	metrics_unlink(file);
	cr_assert_eq(stat(file, &st), 0);
	cr_assert_eq(st.st_size, 4);
	metrics_unlink("127.0.0.1:9100");
	metrics_unlink(NULL);

	/* Too long for sun_path. */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(metrics_listen(longp, &fd, &why), -ENAMETOOLONG);
}

/* ============================== serving ============================== */

struct fake {
	struct metrics_snapshot *src;
	int fill_ret;
	int fills, releases;
	const struct metrics_snapshot *filled;
	int errors, last_err;
	size_t page_calls, page_max;   /* the page source's calls, its biggest request */
};

static int fake_fill(void *ud, struct metrics_snapshot *s)
{
	struct fake *f = ud;
	static const struct metrics_snapshot zero;

	f->fills++;
	cr_assert_eq(memcmp(s, &zero, sizeof(*s)), 0, "snapshot must arrive zeroed");
	if (f->fill_ret < 0)
		return f->fill_ret;
	*s = *f->src;
	f->filled = s;
	return 0;
}

static void fake_release(void *ud, struct metrics_snapshot *s)
{
	struct fake *f = ud;

	f->releases++;
	/* Scrapes run side by side: any snapshot filled may come back. */
	(void)s;
}

static void fake_error(void *ud, const char *what, int err)
{
	struct fake *f = ud;

	(void)what;
	f->errors++;
	f->last_err = err;
}

/* A page source over the fake's snapshot, as the daemon's dmx_list_page. */
static int fake_page(void *ud, struct dmx_list_cursor *cur, struct dmx_entry *out, size_t cap)
{
	struct fake *f = ud;
	size_t i = cur->pos[0], n = 0;

	f->page_calls++;
	if (cap > f->page_max)
		f->page_max = cap;
	while (i < f->src->nentries && n < cap)
		out[n++] = f->src->entries[i++];
	cur->pos[0] = i;
	return (int)n;
}

/* metrics_serve on a thread of its own for a test's duration. */
struct server {
	pthread_t th;
	int lfd, stop[2];
	struct metrics_source src;
	int ret;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;

	sv->ret = metrics_serve(sv->lfd, sv->stop[0], &sv->src);
	return NULL;
}

static void server_start(struct server *sv, int lfd, struct fake *fk, bool paged)
{
	memset(sv, 0, sizeof(*sv));
	sv->lfd = lfd;
	sv->src = (struct metrics_source){ .fill = fake_fill, .release = fake_release,
					   .page = paged ? fake_page : NULL, .error = fake_error,
					   .ud = fk };
	cr_assert_eq(pipe(sv->stop), 0);
	cr_assert_eq(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void server_stop(struct server *sv)
{
	cr_assert_eq(write(sv->stop[1], "x", 1), 1);
	pthread_join(sv->th, NULL);
	cr_assert_eq(sv->ret, 0);
	close(sv->stop[0]);
	close(sv->stop[1]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct resp {
	int status;
	char head[2048];
	char *body;
	size_t blen;
	size_t content_length;
	bool has_cl;
};

static void resp_free(struct resp *r)
{
	free(r->body);
}

/* Read to EOF and split the response. */
static void read_resp(int fd, struct resp *r)
{
	struct timeval tv = { .tv_sec = 10 };
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *end, *cl;
	ssize_t k;

	memset(r, 0, sizeof(*r));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((k = recv(fd, buf + n, cap - n, 0)) > 0) {
		n += (size_t)k;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	cr_assert_eq(k, 0, "read error %s", strerror(errno));
	end = memmem(buf, n, "\r\n\r\n", 4);
	cr_assert(end, "no response head in %zu bytes", n);
	cr_assert_lt((size_t)(end - buf), sizeof(r->head));
	memcpy(r->head, buf, (size_t)(end - buf));
	r->head[end - buf] = '\0';
	cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "%s", r->head);
	cr_assert(strstr(r->head, "\r\nConnection: close"), "%s", r->head);
	cl = strstr(r->head, "\r\nContent-Length: ");
	if (cl) {
		r->content_length = strtoul(cl + 18, NULL, 10);
		r->has_cl = true;
	}
	r->blen = n - (size_t)(end + 4 - buf);
	r->body = malloc(r->blen + 1);
	memcpy(r->body, end + 4, r->blen);
	r->body[r->blen] = '\0';
	free(buf);
}

static int connect_to(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, sl), 0, "%s", strerror(errno));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		cr_assert_gt(w, 0, "%s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* One exchange with a running server: connect, send req, read to EOF. */
static void ask(int lfd, const char *req, size_t reqlen, struct resp *r)
{
	int fd = connect_to(lfd);

	send_all(fd, req, reqlen);
	read_resp(fd, r);
	close(fd);
}

/* One exchange with a server of its own (started and stopped around it). */
static void exchange(int lfd, struct fake *fk, const char *req, size_t reqlen, struct resp *r)
{
	struct server sv;

	server_start(&sv, lfd, fk, false);
	ask(lfd, req, reqlen, r);
	server_stop(&sv);
}

static const char *const tricky[] = {
	"ci-1", "q\"uote", "b\\s", "n\nl", "sp ace", "hi\xff\x80", "caf\xc3\xa9", "%25",
};

static struct metrics_snapshot *sample_snapshot(void)
{
	static struct metrics_ring rings[2] = { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } };
	static struct metrics_snapshot s;
	struct dmx_entry *e = make_entries(tricky, sizeof(tricky) / sizeof(tricky[0]));

	memset(&s, 0, sizeof(s));
	s.entries = e;
	s.nentries = sizeof(tricky) / sizeof(tricky[0]);
	s.rings = rings;
	s.nrings = 2;
	s.total.containers = s.nentries;
	s.total.requests = 42;
	s.spawns = 9;
	metrics_hist_observe(&s.spawn_latency, 0.0002);
	metrics_hist_observe(&s.teardown_latency, 0.02);
	s.start_time_seconds = 1700000000.5;
	return &s;
}

static void expect_metrics_ok(int lfd)
{
	struct metrics_snapshot *snap = sample_snapshot();
	struct fake fk = { .src = snap };
	struct resp r;
	struct xparse p;
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";

	exchange(lfd, &fk, req, strlen(req), &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_assert(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"),
		  "%s", r.head);
	cr_assert(!r.has_cl, "the exposition is streamed: it ends with the connection");
	cr_assert_eq(fk.fills, 1);
	cr_assert_eq(fk.releases, 1);
	check_ok(r.body, r.blen, &p);
	for (size_t i = 0; i < snap->nentries; i++)
		expect_entry(&p, &snap->entries[i]);
	expect_u64(&p, "dockmux_requests_total", NULL, NULL, NULL, 42);
	xfree(&p);
	resp_free(&r);

	/* HEAD: the same head, no body. */
	struct fake fk2 = { .src = snap };

	exchange(lfd, &fk2, "HEAD /metrics HTTP/1.0\r\n\r\n", 26, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(!r.has_cl);
	cr_assert_eq(r.blen, 0);
	cr_assert_eq(fk2.fills, 1);
	cr_assert_eq(fk2.releases, 1);
	resp_free(&r);
	free((void *)snap->entries);
}

Test(serve, unix_socket_get_and_head, .init = mk_tmpdir, .fini = rm_tmpdir)
{
	char path[128];
	const char *why = NULL;
	int lfd;

	snprintf(path, sizeof(path), "%s/m.sock", tmpdir);
	cr_assert_eq(metrics_listen(path, &lfd, &why), 0, "%s", why);
	expect_metrics_ok(lfd);
	close(lfd);
	metrics_unlink(path);
}

Test(serve, loopback_tcp_get_and_head)
{
	const char *why = NULL;
	int lfd;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0, "%s", why);
	cr_assert_gt(port_of(lfd), 0);
	expect_metrics_ok(lfd);
	close(lfd);
}

Test(serve, loopback_ipv6_get)
{
	const char *why = NULL;
	int lfd, ret;

	ret = metrics_listen("[::1]:0", &lfd, &why);
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL) {
		cr_log_warn("no IPv6 loopback here (%s): skipped", strerror(-ret));
		return;
	}
	cr_assert_eq(ret, 0, "%s", why);
	expect_metrics_ok(lfd);
	close(lfd);
}

struct status_case {
	const char *req;
	int status;
};

static void expect_statuses(const struct status_case *c, size_t n)
{
	const char *why = NULL;
	int lfd;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0, "%s", why);
	for (size_t i = 0; i < n; i++) {
		struct metrics_snapshot s = { 0 };
		struct fake fk = { .src = &s };
		struct resp r;

		exchange(lfd, &fk, c[i].req, strlen(c[i].req), &r);
		cr_expect_eq(r.status, c[i].status, "case %zu %.40s: got %d", i, c[i].req, r.status);
		if (c[i].status != 200)
			cr_expect_eq(r.content_length, r.blen, "case %zu", i);
		if (c[i].status != 200)
			cr_expect_eq(fk.fills, 0, "case %zu: fill called for an error", i);
		if (c[i].status == 405)
			cr_expect(strstr(r.head, "\r\nAllow: GET, HEAD"), "%s", r.head);
		resp_free(&r);
	}
	close(lfd);
}

Test(serve, routes_methods_and_paths)
{
	static const struct status_case c[] = {
		{ "GET /metrics HTTP/1.1\r\n\r\n", 200 },           /* no Host: tolerated */
		{ "GET /metrics?name[]=x HTTP/1.1\r\nHost: a\r\n\r\n", 200 },
		{ "GET /metrics HTTP/1.0\n\n", 200 },               /* bare LF */
		{ "GET / HTTP/1.1\r\n\r\n", 404 },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 404 },
		{ "GET /metrics/ HTTP/1.1\r\n\r\n", 404 },
		{ "GET //metrics HTTP/1.1\r\n\r\n", 404 },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405 },
		{ "PUT /other HTTP/1.1\r\n\r\n", 405 },
		{ "get /metrics HTTP/1.1\r\n\r\n", 405 },
		{ "DELETE /metrics HTTP/1.1\r\n\r\n", 405 },
	};
	expect_statuses(c, sizeof(c) / sizeof(c[0]));
}

Test(serve, malformed_heads_get_400)
{
	static const struct status_case c[] = {
		{ "\x01\x02\x03garbage\r\n\r\n", 400 },
		{ "GET\r\n\r\n", 400 },
		{ "GET /metrics\r\n\r\n", 400 },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", 400 },
		{ "GET /metrics  HTTP/1.1\r\n\r\n", 400 },
		{ "GET /metrics HTTP/2.0\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1 \r\n\r\n", 400 },
		{ "GET metrics HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://x/metrics HTTP/1.1\r\n\r\n", 400 },
		{ "GET /met\x7frics HTTP/1.1\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\n: x\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nA: \x01\r\n\r\n", 400 },
		{ "G(T /metrics HTTP/1.1\r\n\r\n", 400 },
		{ "\r\n\r\n", 400 },
		{ "\n\n", 400 },
		{ " GET /metrics HTTP/1.1\r\n\r\n", 400 },
	};
	expect_statuses(c, sizeof(c) / sizeof(c[0]));

	/* A NUL in the head (strlen-based cases cannot carry one). */
	static const char nul[] = "GET /metrics HTTP/1.1\r\nA: \0b\r\n\r\n";
	const char *why;
	int lfd;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct resp r;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	exchange(lfd, &fk, nul, sizeof(nul) - 1, &r);
	cr_assert_eq(r.status, 400);
	resp_free(&r);
	close(lfd);
}

Test(serve, oversized_head_gets_431)
{
	char *big = malloc(20000);
	const char *why;
	int lfd;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct resp r;
	size_t n;

	n = (size_t)sprintf(big, "GET /metrics HTTP/1.1\r\nX: ");
	memset(big + n, 'a', 9000 - n);
	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	exchange(lfd, &fk, big, 9000, &r);
	cr_assert_eq(r.status, 431);
	resp_free(&r);
	close(lfd);
	free(big);
}

Test(serve, silent_client_times_out_with_408)
{
	const char *why;
	int lfd, fd;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct server sv;
	struct resp r;
	double t0;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	t0 = now_s();
	fd = connect_to(lfd);
	send_all(fd, "GET /metr", 9); /* and never the rest */
	read_resp(fd, &r);
	cr_assert_eq(r.status, 408);
	cr_assert(now_s() - t0 >= 1.5 && now_s() - t0 < 3.5, "took %.2f s", now_s() - t0);
	resp_free(&r);
	close(fd);
	server_stop(&sv);
	close(lfd);
}

Test(serve, trickling_client_is_cut_at_the_deadline)
{
	const char *why;
	int lfd, fd;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct server sv;
	char buf[512];
	double t0;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	t0 = now_s();
	fd = connect_to(lfd);
	/* One byte every 300 ms would reset a per-recv timeout forever. */
	for (int i = 0; i < 12; i++) {
		if (send(fd, "G", 1, MSG_NOSIGNAL) < 0)
			break;
		usleep(300000);
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			break;    /* answered (408) or closed */
	}
	cr_assert(now_s() - t0 < 3.0, "took %.2f s", now_s() - t0);
	close(fd);
	server_stop(&sv);
	close(lfd);
}

Test(serve, vanishing_clients_do_not_hurt)
{
	const char *why;
	int lfd, fd;
	struct metrics_snapshot *snap = sample_snapshot();
	struct fake fk = { .src = snap };
	struct server sv;
	struct linger lg = { 1, 0 };
	struct resp r;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	/* Connects and closes before sending anything. */
	fd = connect_to(lfd);
	close(fd);
	/* Sends a request and resets without reading: no SIGPIPE, no error. */
	fd = connect_to(lfd);
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* RST on close */
	close(fd);
	/* Half a head then EOF: a 400 (nobody reads it), no hang. */
	fd = connect_to(lfd);
	send_all(fd, "GET /met", 8);
	shutdown(fd, SHUT_WR);
	close(fd);
	/* and the next one is served */
	ask(lfd, "GET /metrics HTTP/1.1\r\n\r\n", 25, &r);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	server_stop(&sv);
	cr_assert_eq(fk.fills, fk.releases, "every snapshot released");
	close(lfd);
	free((void *)snap->entries);
}

Test(serve, fill_failure_is_503_and_reported)
{
	const char *why;
	int lfd;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s, .fill_ret = -EIO };
	struct resp r;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	exchange(lfd, &fk, "GET /metrics HTTP/1.1\r\n\r\n", 25, &r);
	cr_assert_eq(r.status, 503);
	cr_assert_eq(fk.fills, 1);
	cr_assert_eq(fk.releases, 1, "release must run even when fill fails");
	cr_assert_eq(fk.errors, 1);
	cr_assert_eq(fk.last_err, -EIO);
	resp_free(&r);
	close(lfd);
}

Test(serve, random_garbage_never_crashes)
{
	const char *why;
	int lfd;
	unsigned seed = 12345;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct server sv;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	for (int i = 0; i < 200; i++) {
		char buf[600];
		size_t n = (size_t)(rand_r(&seed) % 590);
		struct resp r;

		for (size_t k = 0; k < n; k++) {
			int c = rand_r(&seed) % 8;
			/* Mostly plausible bytes, so the parser gets past the first checks. */
			buf[k] = c == 0 ? (char)(rand_r(&seed) & 0xff) : c == 1 ? ' ' : c == 2 ? '\n'
				 : c == 3 ? '\r' : c == 4 ? ':' : "GET/metricsHTP1."[rand_r(&seed) % 16];
		}
		memcpy(buf + n, "\r\n\r\n", 4);
		ask(lfd, buf, n + 4, &r);
		cr_assert(r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405,
			  "status %d", r.status);
		resp_free(&r);
	}
	server_stop(&sv);
	close(lfd);
}

/* ---- no client holds up another ---- */

/* The time one whole scrape takes while others are connected. */
static double scrape_time(int lfd, struct resp *r)
{
	double t0 = now_s();

	ask(lfd, "GET /metrics HTTP/1.1\r\n\r\n", 25, r);
	return now_s() - t0;
}

Test(serve, silent_clients_delay_no_other_scrape)
{
	const char *why;
	struct metrics_snapshot *snap = sample_snapshot();
	struct fake fk = { .src = snap };
	struct server sv;
	struct resp r;
	int lfd, silent[10];
	double t;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	for (int k = 0; k < 10; k++) {
		silent[k] = connect_to(lfd);
		if (k == 0) {
			/* one, then ten: neither costs the scraper anything */
			t = scrape_time(lfd, &r);
			cr_assert_eq(r.status, 200);
			cr_assert_lt(t, 0.5, "a scrape beside a silent client took %.2f s", t);
			resp_free(&r);
		}
	}
	send_all(silent[3], "GET /metr", 9);   /* and half a request */
	t = scrape_time(lfd, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_lt(t, 0.5, "a scrape beside ten silent clients took %.2f s", t);
	resp_free(&r);
	for (int k = 0; k < 10; k++)
		close(silent[k]);
	server_stop(&sv);
	close(lfd);
	free((void *)snap->entries);
}

/* Many containers, a client that asks and never reads: its answer stalls
 * at its socket buffer, and the next scraper is served meanwhile. */
static struct dmx_entry *many_entries(size_t n)
{
	struct dmx_entry *e = calloc(n, sizeof(*e));

	for (size_t i = 0; i < n; i++) {
		snprintf(e[i].key, sizeof(e[i].key), "container-%zu", i);
		snprintf(e[i].path, sizeof(e[i].path), "/run/dockmux/%016zx.sock", i);
		e[i].stats.requests = i;
	}
	return e;
}

Test(serve, a_client_that_never_reads_its_answer_delays_no_other_scrape)
{
	const char *why;
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct server sv;
	struct resp r;
	int lfd, lazy, rcv = 4096;
	double t;

	s.entries = many_entries(30000);
	s.nentries = 30000;
	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, true);
	lazy = connect_to(lfd);
	setsockopt(lazy, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	send_all(lazy, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	usleep(200000);
	t = scrape_time(lfd, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_gt(r.blen, 30000u * 500, "the whole exposition: %zu bytes", r.blen);
	cr_assert_lt(t, 2.0, "a scrape beside a client that does not read took %.2f s", t);
	resp_free(&r);
	close(lazy);
	server_stop(&sv);
	close(lfd);
	free((void *)s.entries);
}

Test(serve, more_clients_than_the_limit_make_the_oldest_silent_one_go)
{
	const char *why;
	struct metrics_snapshot *snap = sample_snapshot();
	struct fake fk = { .src = snap };
	struct server sv;
	struct resp r;
	int lfd, silent[40];
	double t;

	cr_assert_eq(metrics_listen("127.0.0.1:0", &lfd, &why), 0);
	server_start(&sv, lfd, &fk, false);
	for (int k = 0; k < 40; k++)
		silent[k] = connect_to(lfd);
	usleep(100000);
	t = scrape_time(lfd, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_lt(t, 0.5, "a scrape beside 40 silent clients took %.2f s", t);
	resp_free(&r);
	for (int k = 0; k < 40; k++)
		close(silent[k]);
	server_stop(&sv);
	close(lfd);
	free((void *)snap->entries);
}

/* ---- page by page ---- */

Test(render, the_stream_holds_a_page_and_says_what_render_says)
{
	struct metrics_snapshot s = { 0 };
	struct fake fk = { .src = &s };
	struct metrics_stream *st;
	const char *text;
	size_t n, len = 0, whole;
	char *all = NULL, *direct;
	int ret;

	s.entries = many_entries(1000);
	s.nentries = 1000;
	s.total.containers = 1000;
	cr_assert_eq(metrics_render(&s, &direct, &whole), 0);
	cr_assert_eq(metrics_stream_new(&s, fake_page, &fk, &st), 0);
	all = malloc(whole + 1);
	while ((ret = metrics_stream_next(st, &text, &n)) > 0) {
		cr_assert_leq(len + n, whole);
		memcpy(all + len, text, n);
		len += n;
	}
	cr_assert_eq(ret, 0);
	metrics_stream_free(st);
	cr_assert_eq(len, whole);
	cr_assert_eq(memcmp(all, direct, whole), 0, "the stream differs from the whole text");
	cr_assert_leq(fk.page_max, METRICS_PAGE, "asked for %zu entries at once", fk.page_max);
	/* one walk per per-container family, one page of 256 at a time */
	cr_assert_eq(fk.page_calls, 7 * (1000 / METRICS_PAGE + 1 + (1000 % METRICS_PAGE ? 1 : 0)));
	free(all);
	free(direct);
	free((void *)s.entries);
}

static int failing_page(void *ud, struct dmx_list_cursor *cur, struct dmx_entry *out, size_t cap)
{
	(void)ud, (void)cur, (void)out, (void)cap;
	return -EIO;
}

Test(render, a_failing_page_source_ends_the_stream_with_its_error)
{
	struct metrics_snapshot s = { 0 };
	struct metrics_stream *st;
	const char *text;
	size_t n;

	cr_assert_eq(metrics_stream_new(&s, failing_page, NULL, &st), 0);
	cr_assert_eq(metrics_stream_next(st, &text, &n), -EIO);
	metrics_stream_free(st);
}
