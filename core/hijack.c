/* core/hijack.c: the request side of the hijack verdict (see hijack.h). It
 * errs on the side of "may hijack": the cost of a false yes is one request's
 * worth of pipelining, the cost of a false no is a tenant's stdin rewritten
 * with the container's token and echoed back by `cat`.
 */
#include "hijack.h"

#include "ascii.h"
#include "policy.h"

#include <string.h>

static bool span_is_nocase(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/* dockerd routes "/v{version:[0-9.]+}/...", podman "/v{version:[0-9][0-9.]*}/...". */
static bool seg_version_like(const char *s, size_t len)
{
	if (len < 2 || (s[0] != 'v' && s[0] != 'V'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	return true;
}

/* The segment at *p of a normalised path ("/" or "/a/b": no empty segment
 * but the root's); false at the end. */
static bool seg_next(const char **p, const char **s, size_t *len)
{
	const char *e;

	if (**p != '/' || !(*p)[1])
		return false;
	*s = *p + 1;
	e = strchr(*s, '/');
	*len = e ? (size_t)(e - *s) : strlen(*s);
	*p = *s + *len;
	return true;
}

bool hijack_path_may(const char *method, size_t mlen, const char *target, size_t tlen)
{
	char path[POLICY_MAX_PATH];
	const char *p = path, *seg, *last;
	size_t len, last_len;
	bool containers;

	if (!method || !span_is_nocase(method, mlen, "post"))
		return false;
	if (policy_normalize(target, tlen, path, sizeof(path)) < 0)
		return true;   /* not judged here, not known to be safe */
	if (!seg_next(&p, &seg, &len))
		return false;  /* "/" */
	if (seg_version_like(seg, len) && !seg_next(&p, &seg, &len))
		return false;
	if (span_is_nocase(seg, len, "libpod") && !seg_next(&p, &seg, &len))
		return false;
	if (span_is_nocase(seg, len, "containers"))
		containers = true;
	else if (span_is_nocase(seg, len, "exec"))
		containers = false;
	else
		return false;
	if (!*p)
		return false;  /* "/containers" alone */
	last = strrchr(p, '/') + 1;
	last_len = strlen(last);
	return span_is_nocase(last, last_len, containers ? "attach" : "start");
}

bool hijack_request_may(const char *buf, const struct http_head *h)
{
	if (h->upgrade)
		return true;
	for (unsigned i = 0; i < h->nheaders; i++)
		if (http_name_is_lower(buf, h->headers[i].name, "upgrade", 7))
			return true;
	return hijack_path_may(buf + h->method.off, h->method.len, buf + h->target.off,
			       h->target.len);
}
