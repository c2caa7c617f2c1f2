/* core/policy.c: per-container request policy. A request is judged on its
 * normalised path, the way dockerd's router sees it after Go decodes and
 * cleans it, so "//", "%2e%2e" or "/v1.41/../" cannot slip past a rule.
 * What cannot be normalised is refused, never repaired. No I/O, no logging:
 * the caller turns a verdict into Docker's JSON error with our message.
 */
#include "policy.h"

#include "ascii.h"
#include "http.h"
#include "pathmatch.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Docker Engine API's path groups; the index is the allowlist bit. */
enum area {
	AREA_PING, AREA_VERSION, AREA_INFO, AREA_EVENTS, AREA_SYSTEM, AREA_CONTAINERS,
	AREA_EXEC, AREA_IMAGES, AREA_BUILD, AREA_NETWORKS, AREA_VOLUMES, AREA_PLUGINS,
	AREA_SWARM, AREA_NODES, AREA_SERVICES, AREA_TASKS, AREA_SECRETS, AREA_CONFIGS,
	AREA_DISTRIBUTION,
};
static const char *const area_names[] = {
	"ping", "version", "info", "events", "system", "containers", "exec", "images",
	"build", "networks", "volumes", "plugins", "swarm", "nodes", "services",
	"tasks", "secrets", "configs", "distribution",
};
#define AREA_COUNT (sizeof(area_names) / sizeof(area_names[0]))

/* First path segment -> area. Explicit, not derived from area_names: the ping
 * area's segment is "_ping", and "/ping" must be no area at all. */
static const struct {
	const char *segment;
	size_t len;          /* strlen(segment): looked up on every request */
	enum area area;
} area_segments[] = {
#define SEG(s) s, sizeof(s) - 1
	{ SEG("_ping"), AREA_PING }, { SEG("version"), AREA_VERSION }, { SEG("info"), AREA_INFO },
	{ SEG("events"), AREA_EVENTS }, { SEG("system"), AREA_SYSTEM }, { SEG("auth"), AREA_SYSTEM },
	{ SEG("containers"), AREA_CONTAINERS }, { SEG("exec"), AREA_EXEC },
	{ SEG("images"), AREA_IMAGES }, { SEG("commit"), AREA_IMAGES }, { SEG("build"), AREA_BUILD },
	{ SEG("session"), AREA_BUILD }, { SEG("grpc"), AREA_BUILD },   /* BuildKit: h2c upgrades */
	{ SEG("networks"), AREA_NETWORKS }, { SEG("volumes"), AREA_VOLUMES },
	{ SEG("plugins"), AREA_PLUGINS }, { SEG("swarm"), AREA_SWARM }, { SEG("nodes"), AREA_NODES },
	{ SEG("services"), AREA_SERVICES }, { SEG("tasks"), AREA_TASKS },
	{ SEG("secrets"), AREA_SECRETS }, { SEG("configs"), AREA_CONFIGS },
	{ SEG("distribution"), AREA_DISTRIBUTION },
#undef SEG
};

_Static_assert(POLICY_MAX_RULES <= PATHMATCH_MAX_PATTERNS && POLICY_MAX_RULE_SEGS <= PATHMATCH_MAX_SEGS &&
	       POLICY_MAX_PATH_SEGS <= PATHMATCH_MAX_PATH, "policy limits within the matcher's");

/* The methods a rule may name, every one http_method_known accepts (HEAD is
 * GET); the index is the by_method slot. */
static const char *const rule_methods[] = { "GET", "POST", "PUT", "DELETE", "OPTIONS" };
#define RULE_METHODS (sizeof(rule_methods) / sizeof(rule_methods[0]))

struct rule {
	char text[POLICY_MAX_RULE_LEN + 1];   /* "METHOD /path" or "/path": for the message */
};

struct policy {
	bool read_only;
	uint32_t allow;   /* area bits; 0 = no allowlist (every area) */
	unsigned nrules;
	/* Rules (bit i: rule i) that apply to each of rule_methods, and to any
	 * other method (rules without one or with '*'). */
	uint64_t by_method[RULE_METHODS], any_method;
	struct pathmatch *match;   /* the rules' patterns; NULL without rules */
	struct rule rules[];
};

/* Blanks in a policy spec (given at spawn, possibly from a multi-line file). */
static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }


static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool span_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* HEAD is GET everywhere: read-only lets it pass and a GET rule covers it. */
static void method_fold(const char **m, size_t *len)
{
	if (span_is(*m, *len, "HEAD")) {
		*m = "GET";
		*len = 3;
	}
}

/* "v<digits>.<digits>": the one version prefix normalisation strips. */
static bool seg_is_version(const char *s, size_t len)
{
	size_t i = 1, d1, d2;

	if (len < 4 || s[0] != 'v')
		return false;
	for (d1 = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d1 || i == len || s[i] != '.')
		return false;
	for (d2 = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i > d2 && i == len;
}

/* dockerd routes "/v{version:[0-9.]+}/..." and serves versions we do not strip
 * ("v1.41.0" compares as 1.41); a daemon or proxy behind us may ignore case.
 * Any look-alike that survived the strip is refused rather than guessed at. */
static bool seg_looks_version(const char *s, size_t len)
{
	if (len < 2 || (s[0] != 'v' && s[0] != 'V'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	return true;
}

/* Invariant while normalising: out[0..o) is "" or "/seg/seg..." with every
 * segment final (decoded, not "." or ".."), so o <= bytes of target consumed. */
int policy_normalize(const char *target, size_t tlen, char *out, size_t cap)
{
	size_t end, i, o = 0;
	const char *q;

	if (!target || !tlen || target[0] != '/')
		return -EINVAL;   /* empty, "*", absolute-form, authority-form */
	q = memchr(target, '?', tlen);
	end = q ? (size_t)(q - target) : tlen;
	for (i = 0; i < end;) {
		size_t start;

		while (i < end && target[i] == '/')
			i++;
		if (i == end)
			break;
		if (o + 1 >= cap)
			return -ENOSPC;
		out[o] = '/';
		start = o + 1;
		for (o = start; i < end && target[i] != '/'; o++) {
			unsigned char c = (unsigned char)target[i++];

			if (c == '#')
				return -EINVAL;
			if (c == '%') {
				int hi, lo;

				if (end - i < 2)
					return -EINVAL;
				hi = hex_val((unsigned char)target[i]);
				lo = hex_val((unsigned char)target[i + 1]);
				if (hi < 0 || lo < 0)
					return -EINVAL;
				c = (unsigned char)(hi << 4 | lo);
				i += 2;
				if (c == '/')
					return -EINVAL;
			}
			if (is_ctl(c))
				return -EINVAL;   /* %00 included */
			if (o + 1 >= cap)
				return -ENOSPC;
			out[o] = (char)c;
		}
		if (span_is(out + start, o - start, ".")) {
			o = start - 1;
		} else if (span_is(out + start, o - start, "..")) {
			if (start == 1)
				return -EINVAL;   /* above the root */
			o = start - 1;
			while (out[--o] != '/')
				;
		}
	}
	/* The version strip comes last so "/v1.41/../x" is "/x", not "/../x". */
	if (o) {
		size_t s = 1;

		while (s < o && out[s] != '/')
			s++;
		if (seg_is_version(out + 1, s - 1)) {
			memmove(out, out + s, o - s);
			o -= s;
		}
	}
	if (!o) {
		if (cap < 2)
			return -ENOSPC;
		out[o++] = '/';
	}
	out[o] = '\0';
	return 0;
}

/* Area index of a first segment, -1 for none. */
static int area_of_segment(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(area_segments) / sizeof(area_segments[0]); i++)
		if (len == area_segments[i].len && memcmp(s, area_segments[i].segment, len) == 0)
			return (int)area_segments[i].area;
	return -1;
}

/* policy_area as an index into area_names (the allowlist bit), -1 for none. */
static int area_of(const char *method, size_t mlen, const char *path)
{
	const char *first, *last, *end, *slash;

	if (!path || path[0] != '/')
		return -1;
	first = path + 1;
	end = first + strlen(first);
	slash = memchr(first, '/', (size_t)(end - first));
	if (!slash)
		return area_of_segment(first, (size_t)(end - first));
	for (last = end; last > first && last[-1] != '/'; last--)
		;
	/* POST /containers/{name:.*}/exec creates an exec: it belongs with exec
	 * whatever the name spans, else an allowlist of containers would open it. */
	if (method && span_is(method, mlen, "POST") && span_is(last, (size_t)(end - last), "exec") &&
	    strncmp(first, "containers/", 11) == 0)
		return AREA_EXEC;
	return area_of_segment(first, (size_t)(slash - first));
}

const char *policy_area(const char *method, size_t mlen, const char *path)
{
	int idx = area_of(method, mlen, path);

	return idx < 0 ? NULL : area_names[idx];
}

static int area_index(const char *s, size_t len)
{
	for (size_t i = 0; i < AREA_COUNT; i++)
		if (span_is(s, len, area_names[i]))
			return (int)i;
	return -1;
}

static int allow_parse(const char *allow, uint32_t *mask, const char **why)
{
	const char *s = allow;

	*mask = 0;
	if (!allow || !*allow)
		return 0;
	for (;;) {
		const char *e = strchr(s, ',');
		const char *b, *t;
		int idx;

		if (!e)
			e = s + strlen(s);
		for (b = s; b < e && is_blank(*b); b++)
			;
		for (t = e; t > b && is_blank(t[-1]); t--)
			;
		if (t == b) {
			*why = "policy: empty API area name in the allowlist";
			return -EINVAL;
		}
		idx = area_index(b, (size_t)(t - b));
		if (idx < 0) {
			*why = "policy: unknown API area in the allowlist";
			return -EINVAL;
		}
		*mask |= 1u << idx;
		if (!*e)
			return 0;
		s = e + 1;
	}
}

/* A pattern byte: printable ASCII, and none that decoding, the query, JSON or
 * a log line would read differently. */
static bool is_pattern_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("%?#\"\\", c);
}

/* The rule_methods index of m[0..len) (HEAD as GET), -1 for none. */
static int rule_method_index(const char *m, size_t len)
{
	if (span_is(m, len, "HEAD"))
		return 0;
	for (size_t i = 0; i < RULE_METHODS; i++)
		if (span_is(m, len, rule_methods[i]))
			return (int)i;
	return -1;
}

/* text[0..len) is rule i, trimmed and non-empty: its text into p->rules[i],
 * its method into p's masks, its segments (pointing into the text) into pat.
 * The text keeps one space between method and path, so a message never
 * carries a tab or newline. */
static int rule_parse(struct policy *p, unsigned idx, const char *text, size_t len,
		      struct pathmatch_pattern *pat, const char **why)
{
	struct rule *r = &p->rules[idx];
	uint64_t bit = UINT64_C(1) << idx;
	size_t i = 0, m = 0, base = 0, end;
	int mi = -1;   /* no method, or '*': any */
	const char *t;

	if (len > POLICY_MAX_RULE_LEN) {
		*why = "policy: deny rule longer than 512 bytes";
		return -E2BIG;
	}
	if (text[0] != '/') {
		while (i < len && !is_blank(text[i]))
			i++;
		m = i;
		/* Only methods the parser lets through can ever meet a rule: a
		 * "delete" rule would silently deny nothing. */
		if (http_method_known(text, m)) {
			mi = rule_method_index(text, m);
		} else if (!span_is(text, m, "*")) {
			*why = "policy: deny rule method is not GET, HEAD, POST, PUT, DELETE, OPTIONS "
			       "or '*'";
			return -EINVAL;
		}
		while (i < len && is_blank(text[i]))
			i++;
		if (i == len || text[i] != '/') {
			*why = "policy: deny rule needs a path starting with '/'";
			return -EINVAL;
		}
		memcpy(r->text, text, m);
		r->text[m] = ' ';
		base = m + 1;
	}
	if (mi >= 0) {
		p->by_method[mi] |= bit;
	} else {
		p->any_method |= bit;
		for (size_t k = 0; k < RULE_METHODS; k++)
			p->by_method[k] |= bit;
	}
	memcpy(r->text + base, text + i, len - i);
	end = base + len - i;
	r->text[end] = '\0';
	t = r->text;
	i = base;
	pat->nseg = 0;
	if (end - i == 1)
		return 0;   /* "/": the root only */
	while (i < end) {
		size_t s = ++i;   /* past the '/' */

		while (i < end && t[i] != '/') {
			if (!is_pattern_char((unsigned char)t[i])) {
				*why = "policy: deny rule path has a blank, '%', '?', '#', quote, "
				       "backslash or non-ASCII byte";
				return -EINVAL;
			}
			i++;
		}
		if (i == s || span_is(t + s, i - s, ".") || span_is(t + s, i - s, "..")) {
			*why = "policy: deny rule path is not normalised (\"//\", '.', '..' or trailing '/')";
			return -EINVAL;
		}
		if (memchr(t + s, '*', i - s) && !span_is(t + s, i - s, "*") &&
		    !span_is(t + s, i - s, "**")) {
			*why = "policy: deny rule '*' or '**' must be a whole segment";
			return -EINVAL;
		}
		if (pat->nseg == 0 && seg_looks_version(t + s, i - s)) {
			*why = "policy: deny rule path must not carry an API version prefix";
			return -EINVAL;
		}
		if (pat->nseg == POLICY_MAX_RULE_SEGS) {
			*why = "policy: deny rule has more than 32 segments";
			return -E2BIG;
		}
		pat->seg[pat->nseg].s = t + s;
		pat->seg[pat->nseg++].len = (uint16_t)(i - s);
	}
	return 0;
}

/* Count the rules first so the policy is one allocation of the right size. */
static int deny_count(const char *deny, unsigned *n, const char **why)
{
	const char *s = deny;

	*n = 0;
	while (s && *s) {
		const char *e = strchr(s, ';');
		const char *b, *t;

		if (!e)
			e = s + strlen(s);
		for (b = s; b < e && is_blank(*b); b++)
			;
		for (t = e; t > b && is_blank(t[-1]); t--)
			;
		if (t > b && ++*n > POLICY_MAX_RULES) {
			*why = "policy: more than 64 deny rules";
			return -E2BIG;
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

int policy_new(bool read_only, const char *allow, const char *deny, struct policy **out,
	       const char **why)
{
	const char *dummy, *s = deny;
	struct pathmatch_pattern *pats = NULL;
	struct policy *p = NULL;
	uint32_t mask;
	unsigned n;
	int ret;

	if (!why)
		why = &dummy;
	if (!out) {
		*why = "policy: no output";
		return -EINVAL;
	}
	ret = allow_parse(allow, &mask, why);
	if (ret < 0)
		return ret;
	ret = deny_count(deny, &n, why);
	if (ret < 0)
		return ret;
	p = calloc(1, sizeof(*p) + n * sizeof(p->rules[0]));
	pats = n ? calloc(n, sizeof(*pats)) : NULL;
	if (!p || (n && !pats)) {
		ret = -ENOMEM;
		goto nomem;
	}
	p->read_only = read_only;
	p->allow = mask;
	while (s && *s) {
		const char *e = strchr(s, ';');
		const char *b, *t;

		if (!e)
			e = s + strlen(s);
		for (b = s; b < e && is_blank(*b); b++)
			;
		for (t = e; t > b && is_blank(t[-1]); t--)
			;
		if (t > b) {
			ret = rule_parse(p, p->nrules, b, (size_t)(t - b), &pats[p->nrules], why);
			if (ret < 0)
				goto err;
			p->nrules++;
		}
		s = *e ? e + 1 : e;
	}
	if (p->nrules) {
		ret = pathmatch_new(pats, p->nrules, &p->match);
		if (ret < 0)
			goto nomem;
	}
	free(pats);
	*out = p;
	return 0;
nomem:
	*why = "policy: out of memory";
err:
	free(pats);
	policy_free(p);
	return ret;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	pathmatch_free(p->match);
	free(p);
}

/* snprintf into why; a method shown in it loses bytes a log or JSON reader
 * could misread. */
static void why_set(char *why, size_t cap, const char *fmt, const char *arg)
{
	if (why && cap)
		snprintf(why, cap, fmt, arg);
}

enum policy_verdict policy_check_counted(const struct policy *p, const char *method, size_t mlen,
					 const char *target, size_t tlen, char *why, size_t cap,
					 unsigned long *steps)
{
	struct pathmatch_seg segs[POLICY_MAX_PATH_SEGS];
	char path[POLICY_MAX_PATH];
	const char *area;
	uint64_t rules;
	int ret, idx, nsegs;

	if (steps)
		*steps = 0;
	if (!p)
		return POLICY_ALLOW;
	if (!method)
		mlen = 0;
	ret = policy_normalize(target, tlen, path, sizeof(path));
	if (ret == -ENOSPC) {
		why_set(why, cap, "%s", "dockmux policy: path too long");
		return POLICY_BAD_PATH;
	}
	if (ret < 0) {
		why_set(why, cap, "%s", "dockmux policy: path does not normalise");
		return POLICY_BAD_PATH;
	}
	/* The bound on the matcher's work: segments times rules. */
	nsegs = pathmatch_split(path, segs, POLICY_MAX_PATH_SEGS);
	if (nsegs < 0) {
		why_set(why, cap, "%s", "dockmux policy: path has more than 256 segments");
		return POLICY_BAD_PATH;
	}
	if (nsegs && seg_looks_version(segs[0].s, segs[0].len)) {
		why_set(why, cap, "%s", "dockmux policy: path does not normalise (API version prefix)");
		return POLICY_BAD_PATH;
	}
	method_fold(&method, &mlen);
	if (p->read_only && !span_is(method, mlen, "GET")) {
		char shown[36];
		size_t n = mlen < 32 ? mlen : 32;

		for (size_t i = 0; i < n; i++)
			shown[i] = is_tchar((unsigned char)method[i]) ? method[i] : '?';
		strcpy(shown + n, mlen > n ? "..." : "");
		why_set(why, cap, "dockmux policy: read-only (%s not allowed)", shown);
		return POLICY_DENY;
	}
	if (p->allow) {
		idx = area_of(method, mlen, path);
		area = idx < 0 ? NULL : area_names[idx];
		if (idx < 0) {
			why_set(why, cap, "%s", "dockmux policy: path in no API area of the allowlist");
			return POLICY_DENY;
		}
		if (!(p->allow & 1u << idx)) {
			why_set(why, cap, "dockmux policy: area \"%s\" not in the allowlist", area);
			return POLICY_DENY;
		}
	}
	idx = rule_method_index(method, mlen);
	rules = idx < 0 ? p->any_method : p->by_method[idx];
	idx = rules ? pathmatch_first(p->match, rules, segs, (unsigned)nsegs, steps) : -1;
	if (idx >= 0) {
		why_set(why, cap, "dockmux policy: denied by rule \"%s\"", p->rules[idx].text);
		return POLICY_DENY;
	}
	return POLICY_ALLOW;
}

enum policy_verdict policy_check(const struct policy *p, const char *method, size_t mlen,
				 const char *target, size_t tlen, char *why, size_t cap)
{
	return policy_check_counted(p, method, mlen, target, tlen, why, cap, NULL);
}

int policy_describe(const struct policy *p, char *buf, size_t cap)
{
	size_t o = 0;
	int n;

#define PUT(...)                                                             \
	do {                                                                 \
		n = o < cap ? snprintf(buf + o, cap - o, __VA_ARGS__)        \
			    : snprintf(NULL, 0, __VA_ARGS__);                \
		o += (size_t)n;                                              \
	} while (0)

	if (!buf || !cap)
		return -ENOSPC;
	buf[0] = '\0';
	if (!p || (!p->read_only && !p->allow && !p->nrules)) {
		PUT("none");
	} else {
		const char *sep = "";

		if (p->read_only) {
			PUT("read-only");
			sep = ",";
		}
		if (p->allow) {
			PUT("%sallow=", sep);
			sep = "";
			for (size_t i = 0; i < AREA_COUNT; i++)
				if (p->allow & 1u << i) {
					PUT("%s%s", sep, area_names[i]);
					sep = "+";
				}
			sep = ",";
		}
		if (p->nrules)
			PUT("%sdeny=%u rule%s", sep, p->nrules, p->nrules == 1 ? "" : "s");
	}
#undef PUT
	return o < cap ? 0 : -ENOSPC;
}
