/* tests/fuzz/policy_fuzz.c: libFuzzer target for core/policy.c, which reads a
 * container's request method and target. Beyond "no crash": policy_normalize
 * agrees with a naive reference normaliser written differently here, and the
 * verdicts of fixed policies obey their definitions, a one-rule policy from
 * the input agrees with a reference matcher (a dynamic-programming table, not
 * policy.c's automaton), and the matcher's steps stay within their bound.
 * Input: flags byte, then method '\n' target '\n' deny spec '\n' allow spec
 * (each optional).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* ---- reference normaliser: decode every segment, then a stack of them ---- */

static int ref_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Returns 0 with out set, or -EINVAL. out needs tlen + 2 bytes. */
static int ref_normalize(const char *t, size_t tlen, char *out)
{
	size_t end, nseg = 0, o = 0, first = 0;
	size_t *segs;   /* [start, len] pairs into dec */
	char *dec;
	int ret = -EINVAL;

	if (!tlen || t[0] != '/')
		return -EINVAL;
	end = tlen;
	for (size_t i = 0; i < tlen; i++)
		if (t[i] == '?') {
			end = i;
			break;
		}
	dec = malloc(tlen + 1);
	segs = malloc((tlen + 1) * 2 * sizeof(*segs));
	CHECK(dec && segs);
	for (size_t i = 1, d = 0; i <= end; ) {
		size_t s = d;

		for (; i < end && t[i] != '/'; i++) {
			unsigned char c = (unsigned char)t[i];

			if (c == '#')
				goto out;
			if (c == '%') {
				if (end - i < 3)
					goto out;   /* needs two hex digits inside the path */
				if (ref_hex((unsigned char)t[i + 1]) < 0 || ref_hex((unsigned char)t[i + 2]) < 0)
					goto out;
				c = (unsigned char)(ref_hex((unsigned char)t[i + 1]) * 16 +
						    ref_hex((unsigned char)t[i + 2]));
				i += 2;
				if (c == '/' || c == 0)
					goto out;
			}
			if (c < 0x20 || c == 0x7f)
				goto out;
			dec[d++] = (char)c;
		}
		i++;   /* past the '/' (or the end) */
		if (d - s == 0 || (d - s == 1 && dec[s] == '.')) {
			d = s;
		} else if (d - s == 2 && dec[s] == '.' && dec[s + 1] == '.') {
			if (!nseg)
				goto out;
			nseg--;
			d = s;
		} else {
			segs[2 * nseg] = s;
			segs[2 * nseg + 1] = d - s;
			nseg++;
		}
	}
	if (nseg) {
		const char *v = dec + segs[0];
		size_t vl = segs[1], k = 1, a, b;

		for (a = k; k < vl && v[k] >= '0' && v[k] <= '9'; k++)
			;
		a = k - a;
		if (vl > 0 && v[0] == 'v' && a && k < vl && v[k] == '.') {
			for (b = ++k; k < vl && v[k] >= '0' && v[k] <= '9'; k++)
				;
			if (k == vl && k > b)
				first = 1;
		}
	}
	for (size_t n = first; n < nseg; n++) {
		out[o++] = '/';
		memcpy(out + o, dec + segs[2 * n], segs[2 * n + 1]);
		o += segs[2 * n + 1];
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	ret = 0;
out:
	free(dec);
	free(segs);
	return ret;
}

/* ---- reference matcher ---------------------------------------------------- */

struct ref_seg {
	const char *s;
	size_t len;
};

/* Split "/a/b" (normalised path, or a rule's pattern) into at most max
 * segments; returns the count, or max + 1 when there are more. */
static size_t ref_split(const char *p, size_t plen, struct ref_seg *segs, size_t max)
{
	size_t n = 0, i = 1;

	if (plen <= 1)
		return 0;
	while (i <= plen) {
		size_t s = i;

		while (i < plen && p[i] != '/')
			i++;
		if (n == max)
			return max + 1;
		segs[n].s = p + s;
		segs[n++].len = i - s;
		i++;
	}
	return n;
}

static bool ref_seg_is(const struct ref_seg *g, const char *lit)
{
	return g->len == strlen(lit) && !memcmp(g->s, lit, g->len);
}

/* m[i][j]: pattern segments i.. match path segments j.. */
static bool ref_match(const struct ref_seg *pat, size_t np, const struct ref_seg *segs, size_t ns)
{
	static bool m[POLICY_MAX_RULE_SEGS + 1][POLICY_MAX_PATH_SEGS + 1];

	for (size_t i = np + 1; i-- > 0;)
		for (size_t j = ns + 1; j-- > 0;) {
			if (i == np)
				m[i][j] = j == ns;
			else if (ref_seg_is(&pat[i], "**"))
				m[i][j] = m[i + 1][j] || (j < ns && m[i][j + 1]);
			else
				m[i][j] = j < ns && m[i + 1][j + 1] &&
					  (ref_seg_is(&pat[i], "*") ||
					   (pat[i].len == segs[j].len && !memcmp(pat[i].s, segs[j].s, segs[j].len)));
		}
	return m[0][0];
}

static bool ref_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A spec of exactly one rule (already accepted by policy_new): does it deny
 * method on the normalised path (ns segments in segs)? */
static bool ref_rule_denies(const char *spec, const char *m, size_t mlen,
			    const struct ref_seg *segs, size_t ns)
{
	struct ref_seg pat[POLICY_MAX_RULE_SEGS];
	const char *b = spec, *e = spec + strlen(spec), *path;
	size_t np;

	while (b < e && (ref_blank(*b) || *b == ';'))
		b++;
	while (e > b && (ref_blank(e[-1]) || e[-1] == ';'))
		e--;
	path = b;
	if (*b != '/') {
		const char *me = b;
		bool head_or_get;

		while (me < e && !ref_blank(*me))
			me++;
		head_or_get = (mlen == 3 && !memcmp(m, "GET", 3)) || (mlen == 4 && !memcmp(m, "HEAD", 4));
		if (!((me - b == 1 && *b == '*') ||
		      (((me - b == 3 && !memcmp(b, "GET", 3)) || (me - b == 4 && !memcmp(b, "HEAD", 4)))
		       ? head_or_get : ((size_t)(me - b) == mlen && !memcmp(b, m, mlen)))))
			return false;
		for (path = me; path < e && ref_blank(*path); path++)
			;
	}
	np = ref_split(path, (size_t)(e - path), pat, POLICY_MAX_RULE_SEGS);
	CHECK(np <= POLICY_MAX_RULE_SEGS);
	return ref_match(pat, np, segs, ns);
}

/* ---- fixed policies ----------------------------------------------------- */

static struct policy *p_deny_all, *p_read_only, *p_exec, *p_allow;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(policy_new(false, NULL, "/**", &p_deny_all, NULL) == 0);
	CHECK(policy_new(true, NULL, NULL, &p_read_only, NULL) == 0);
	CHECK(policy_new(false, NULL, "POST /containers/**/exec;* /containers/*/export",
			 &p_exec, NULL) == 0);
	CHECK(policy_new(false, "containers,images", NULL, &p_allow, NULL) == 0);
	return 0;
}

/* why: NUL-terminated inside cap, printable ASCII, no backslash. */
static void check_why(const char *why, size_t cap)
{
	size_t n = strnlen(why, cap);

	CHECK(n < cap);
	for (size_t i = 0; i < n; i++)
		CHECK(why[i] >= 0x20 && why[i] < 0x7f && why[i] != '\\');
}

static enum policy_verdict check(const struct policy *p, const char *m, size_t mlen,
				 const char *t, size_t tlen, size_t cap)
{
	char why[POLICY_WHY_MAX];
	enum policy_verdict v;

	memset(why, 'X', sizeof(why));
	why[0] = '\0';
	v = policy_check(p, m, mlen, t, tlen, why, cap);
	CHECK(v == POLICY_ALLOW || v == POLICY_DENY || v == POLICY_BAD_PATH);
	if (v != POLICY_ALLOW && cap)
		check_why(why, cap);
	return v;
}

static const char *next_field(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end) {
		*len = 0;
		return s;
	}
	nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		nl = end;
	*len = (size_t)(nl - s);
	*p = nl < end ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cur, *end, *m, *t, *d, *a;
	size_t mlen, tlen, dlen, alen, cap;
	char *tcopy, *mcopy, *dspec, *aspec, *out, *ref;
	struct policy *p = NULL;
	static struct ref_seg segs[POLICY_MAX_PATH_SEGS];
	const char *err = NULL;
	enum policy_verdict v;
	size_t nsegs;
	bool path_ok, is_get;
	int ret, rret;

	if (size < 1)
		return 0;
	cur = (const char *)data + 1;
	end = (const char *)data + size;
	m = next_field(&cur, end, &mlen);
	t = next_field(&cur, end, &tlen);
	d = next_field(&cur, end, &dlen);
	a = next_field(&cur, end, &alen);
	/* exact-size heap copies: ASan sees any read past a span */
	mcopy = malloc(mlen + 1);
	tcopy = malloc(tlen + 1);
	dspec = malloc(dlen + 1);
	aspec = malloc(alen + 1);
	out = malloc(tlen + 2);
	ref = malloc(tlen + 2);
	CHECK(mcopy && tcopy && dspec && aspec && out && ref);
	memcpy(mcopy, m, mlen);
	memcpy(tcopy, t, tlen);
	memcpy(dspec, d, dlen);
	dspec[dlen] = '\0';
	memcpy(aspec, a, alen);
	aspec[alen] = '\0';

	/* normalise: same answer as the reference; cap > tlen suffices; idempotent */
	ret = policy_normalize(tcopy, tlen, out, tlen + 1);
	rret = ref_normalize(tcopy, tlen, ref);
	CHECK(ret == rret);
	if (!ret) {
		size_t olen = strlen(out);
		char *again = malloc(olen + 2);

		CHECK(!strcmp(out, ref));
		CHECK(olen <= tlen && out[0] == '/');
		CHECK(olen == 1 || out[olen - 1] != '/');
		CHECK(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"));
		CHECK(strcmp(out + (olen >= 2 ? olen - 2 : 0), "/.") &&
		      strcmp(out + (olen >= 3 ? olen - 3 : 0), "/.."));
		CHECK(again);
		/* decoded '%', '?', '#' and a second version segment change meaning */
		if (!strpbrk(out, "%?#") && !(out[1] == 'v' && out[2] >= '0' && out[2] <= '9')) {
			CHECK(policy_normalize(out, olen, again, olen + 1) == 0);
			CHECK(!strcmp(again, out));
		}
		cap = data[0] % (olen + 2);
		if (cap < olen + 1)
			CHECK(policy_normalize(tcopy, tlen, again, cap) == -ENOSPC);
		free(again);
	} else {
		CHECK(ret == -EINVAL);
	}

	/* fixed policies */
	path_ok = !ret && tlen < POLICY_MAX_PATH;
	nsegs = path_ok ? ref_split(out, strlen(out), segs, POLICY_MAX_PATH_SEGS) : 0;
	if (nsegs > POLICY_MAX_PATH_SEGS)
		path_ok = false;   /* too many segments to judge */
	if (path_ok) {
		size_t fl = strcspn(out + 1, "/");

		if (fl >= 2 && (out[1] == 'v' || out[1] == 'V') &&
		    strspn(out + 2, "0123456789.") >= fl - 1)
			path_ok = false;   /* a version look-alike survived */
	}
	cap = (size_t)data[0] * 3;
	is_get = (mlen == 3 && !memcmp(mcopy, "GET", 3)) || (mlen == 4 && !memcmp(mcopy, "HEAD", 4));
	CHECK(check(NULL, mcopy, mlen, tcopy, tlen, cap) == POLICY_ALLOW);
	v = check(p_deny_all, mcopy, mlen, tcopy, tlen, cap);
	CHECK(v == (path_ok ? POLICY_DENY : POLICY_BAD_PATH));
	v = check(p_read_only, mcopy, mlen, tcopy, tlen, cap);
	CHECK(v == (!path_ok ? POLICY_BAD_PATH : is_get ? POLICY_ALLOW : POLICY_DENY));
	v = check(p_exec, mcopy, mlen, tcopy, tlen, cap);
	if (path_ok && mlen == 4 && !memcmp(mcopy, "POST", 4) && !strncmp(out, "/containers/", 12) &&
	    strlen(out) >= 17 && !strcmp(out + strlen(out) - 5, "/exec"))
		CHECK(v == POLICY_DENY);
	if (path_ok && strstr(out, "/export") == NULL)
		CHECK(v == POLICY_ALLOW || (mlen == 4 && !memcmp(mcopy, "POST", 4)));
	v = check(p_allow, mcopy, mlen, tcopy, tlen, cap);
	if (path_ok) {
		const char *area = policy_area(mcopy, mlen, out);
		bool in = area && (!strcmp(area, "containers") || !strcmp(area, "images"));

		CHECK(v == (in ? POLICY_ALLOW : POLICY_DENY));
	}

	/* a policy from the input: any spec either compiles or names its problem */
	ret = policy_new(data[0] & 1, alen ? aspec : NULL, dspec, &p, &err);
	if (ret) {
		CHECK((ret == -EINVAL || ret == -E2BIG) && err);
	} else {
		unsigned long steps = 0;

		char desc[256];

		CHECK(policy_describe(p, desc, sizeof(desc)) == 0);
		check_why(desc, sizeof(desc));
		v = check(p, mcopy, mlen, tcopy, tlen, cap);
		if (!path_ok)
			CHECK(v == POLICY_BAD_PATH);
		/* the cost bound, whatever the rules */
		CHECK(policy_check_counted(p, mcopy, mlen, tcopy, tlen, NULL, 0, &steps) == v);
		CHECK(steps <= (unsigned long)nsegs * POLICY_MAX_RULES);
		/* one rule, nothing else: exactly the reference's verdict */
		if (path_ok && !alen && !(data[0] & 1) && !strchr(dspec, ';') &&
		    dspec[strspn(dspec, " \t\r\n")])
			CHECK(v == (ref_rule_denies(dspec, mcopy, mlen, segs, nsegs) ? POLICY_DENY
										    : POLICY_ALLOW));
		/* a literal rule denies the path it spells: a rule is normal already */
		if (!alen && !(data[0] & 1) && dspec[0] == '/' && !strpbrk(dspec, "*; \t\r\n"))
			CHECK(check(p, "GET", 3, dspec, strlen(dspec), cap) == POLICY_DENY);
		policy_free(p);
	}
	free(mcopy);
	free(tcopy);
	free(dspec);
	free(aspec);
	free(out);
	free(ref);
	return 0;
}
