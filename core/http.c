/* core/http.c: strict RFC 9112 request-head parser, head rewriter (token
 * header swap) and Docker-style error responses (chunked bodies: chunked.c).
 * The bytes come from an untrusted container, so anything two HTTP parsers
 * could frame differently is rejected rather than repaired. No I/O, no
 * allocation, no response parsing: responses are forwarded untouched.
 */
#include "http.h"

#include "ascii.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define T HTTP_CT_TCHAR
const uint8_t http_ctype[256] = {
	[0x00 ... 0x08] = HTTP_CT_CTL, [0x0a ... 0x1f] = HTTP_CT_CTL, [0x7f] = HTTP_CT_CTL,
	['0' ... '9'] = T, ['A' ... 'Z'] = T, ['a' ... 'z'] = T,
	['!'] = T, ['#'] = T, ['$'] = T, ['%'] = T, ['&'] = T, ['\''] = T, ['*'] = T,
	['+'] = T, ['-'] = T, ['.'] = T, ['^'] = T, ['_'] = T, ['`'] = T, ['|'] = T, ['~'] = T,
};
#undef T

static inline bool ct_tchar(unsigned char c) { return http_ctype[c] & HTTP_CT_TCHAR; }

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

void http_limits_default(struct http_limits *lim)
{
	lim->max_line = HTTP_DEFAULT_MAX_LINE;
	lim->max_head = HTTP_DEFAULT_MAX_HEAD;
}

bool http_name_is(const char *buf, struct http_span name, const char *want, size_t want_len)
{
	return name.len == want_len && ascii_ieq(buf + name.off, want, want_len);
}

bool http_method_known(const char *m, size_t len)
{
	/* One compare per length: this runs on every request. */
	switch (len) {
	case 3: return memcmp(m, "GET", 3) == 0 || memcmp(m, "PUT", 3) == 0;
	case 4: return memcmp(m, "HEAD", 4) == 0 || memcmp(m, "POST", 4) == 0;
	case 6: return memcmp(m, "DELETE", 6) == 0;
	case 7: return memcmp(m, "OPTIONS", 7) == 0;
	default: return false;
	}
}

/* ---- head parser ---------------------------------------------------------- */

struct parser {
	const char *buf;
	size_t len;
	size_t max_line;
	size_t max_head;
	struct http_head *out;
};

static enum http_parse parse_fail(struct http_head *h, int status, const char *reason)
{
	h->status = status;
	h->reason = reason;
	return HTTP_PARSE_ERROR;
}

/* Find the CRLF ending the line that starts at pos. Returns 1 with *eol at
 * the CR, 0 when the line is incomplete but within limits, -1 on error.
 * Only CRLF ends a line: a bare LF or CR is how bare-LF smuggling starts
 * (two parsers disagreeing on where a header ends), so both are 400. */
static int parse_line_end(struct parser *p, size_t pos, const char *too_long, size_t *eol)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	/* Bytes before stop are within max_line; the byte at stop (if any) is
	 * judged like the others first and then, unless it is the CR, is 431. */
	size_t stop = p->len - pos > p->max_line ? pos + p->max_line : p->len;
	size_t i;

	for (i = pos;; i++) {
		unsigned char c;

		/* HTAB is the only CTL a line may hold and HTTP_CT_CTL leaves it
		 * out: every byte skipped here is plain. */
		i = http_ctl_find(p->buf, i, stop);
		if (i == p->len)
			break;
		c = b[i];
		if (c == '\r') {
			if (i + 1 == p->len)
				break;
			if (b[i + 1] != '\n') {
				parse_fail(p->out, 400, "bare CR in request head");
				return -1;
			}
			*eol = i;
			return 1;
		}
		if (c == '\n') {
			parse_fail(p->out, 400, "bare LF in request head");
			return -1;
		}
		if (is_ctl(c) && c != '\t') {
			parse_fail(p->out, 400, "control character in request head");
			return -1;
		}
		if (i + 1 - pos > p->max_line) {
			parse_fail(p->out, 431, too_long);
			return -1;
		}
	}
	/* Incomplete: the head will end after len, so once len reaches
	 * max_head it can no longer fit. Answering now bounds the buffer. */
	if (p->len >= p->max_head) {
		parse_fail(p->out, 431, "request head too large");
		return -1;
	}
	return 0;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
 * Exactly one SP between parts: lenient whitespace splitting is a known
 * source of request-line disagreement between proxies and servers. */
static enum http_parse parse_request_line(struct parser *p, size_t pos, size_t eol)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	struct http_head *h = p->out;
	size_t i = pos, start;

	while (i < eol && ct_tchar(b[i]))
		i++;
	if (i == pos || i == eol || b[i] != ' ')
		return parse_fail(h, 400, "malformed request line");
	h->method.off = (uint32_t)pos;
	h->method.len = (uint32_t)(i - pos);

	start = ++i;
	while (i < eol && is_vchar(b[i]))
		i++;
	if (i == start || i == eol || b[i] != ' ')
		return parse_fail(h, 400, "malformed request line");
	h->target.off = (uint32_t)start;
	h->target.len = (uint32_t)(i - start);

	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3). */
	i++;
	if (eol - i != 8 || memcmp(b + i, "HTTP/", 5) != 0 || b[i + 5] < '0' || b[i + 5] > '9' ||
	    b[i + 6] != '.' || b[i + 7] < '0' || b[i + 7] > '9')
		return parse_fail(h, 400, "malformed request line");
	if (b[i + 5] != '1' || b[i + 7] > '1')
		return parse_fail(h, 505, "HTTP version not supported");
	h->minor = b[i + 7] - '0';
	/* Methods are case-sensitive (RFC 9110 §9.1): "delete" would pass a
	 * DELETE rule, so what dockerd does not route is refused before the
	 * policy. 405 + Allow (§15.5.6; dockerd says 404) names what every path
	 * takes; 501 (§9.1's suggestion) stays for unsupported codings. */
	if (!http_method_known(p->buf + h->method.off, h->method.len))
		return parse_fail(h, 405, "method is not GET, HEAD, POST, PUT, DELETE or OPTIONS");
	return HTTP_PARSE_DONE;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
static enum http_parse parse_header_line(struct parser *p, size_t pos, size_t eol)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	struct http_head *h = p->out;
	struct http_header *hd;
	size_t i = pos, v, e;

	/* §5.2: obs-fold is rejected; whitespace before the first field line
	 * (§2.2) lands here too and is just as ambiguous. */
	if (is_ows(b[pos]))
		return parse_fail(h, 400, "obsolete line folding");
	while (i < eol && ct_tchar(b[i]))
		i++;
	if (i == eol)
		return parse_fail(h, 400, "header line without colon");
	if (b[i] != ':') {
		/* §5.1: whitespace before the colon must be rejected; it turns
		 * "Transfer-Encoding : chunked" into a header only some see. */
		if (is_ows(b[i]))
			return parse_fail(h, 400, "whitespace before colon in header");
		return parse_fail(h, 400, "invalid character in header name");
	}
	if (i == pos)
		return parse_fail(h, 400, "empty header name");
	if (h->nheaders == HTTP_MAX_HEADERS)
		return parse_fail(h, 431, "too many headers");

	v = i + 1;
	e = eol;
	while (v < e && is_ows(b[v]))
		v++;
	while (e > v && is_ows(b[e - 1]))
		e--;
	/* Control characters other than HTAB were refused by parse_line_end;
	 * the rest (VCHAR, SP, HTAB, obs-text) is a legal field value. */
	hd = &h->headers[h->nheaders++];
	hd->name.off = (uint32_t)pos;
	hd->name.len = (uint32_t)(i - pos);
	hd->value.off = (uint32_t)v;
	hd->value.len = (uint32_t)(e - v);
	return HTTP_PARSE_DONE;
}

/* Iterate the elements of a comma-separated list value (RFC 9110 §5.6.1),
 * each trimmed of OWS. Returns false when the list is exhausted. */
struct list_iter {
	const char *p;
	const char *end;
};

static bool list_next(struct list_iter *it, const char **elem, size_t *elen)
{
	const char *s, *e;

	if (!it->p)
		return false;
	s = it->p;
	e = memchr(s, ',', (size_t)(it->end - s));
	if (e) {
		it->p = e + 1;
	} else {
		e = it->end;
		it->p = NULL;
	}
	while (s < e && is_ows((unsigned char)*s))
		s++;
	while (e > s && is_ows((unsigned char)e[-1]))
		e--;
	*elem = s;
	*elen = (size_t)(e - s);
	return true;
}

static void list_init(struct list_iter *it, const char *buf, struct http_span v)
{
	it->p = buf + v.off;
	it->end = buf + v.off + v.len;
}

static bool elem_is(const char *elem, size_t elen, const char *want)
{
	size_t n = strlen(want);

	return elen == n && ascii_ieq(elem, want, n);
}

/* What the framing headers said, gathered before judging them together. */
struct framing {
	bool has_cl, cl_bad;
	uint64_t cl;
	bool has_te, te_bad, te_last_chunked;
	unsigned te_chunked, te_other;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool has_upgrade;
	unsigned hosts;
};

/* Content-Length = 1*DIGIT (RFC 9110 §8.6). A list or repeated header is
 * accepted only when every element is the same number (§8.6 allows that
 * much); anything else is a CL.CL smuggling attempt. */
static void framing_content_length(struct framing *f, const char *buf, struct http_span v)
{
	struct list_iter it;
	const char *el;
	size_t n;

	list_init(&it, buf, v);
	while (list_next(&it, &el, &n)) {
		uint64_t val = 0;

		if (n == 0) {
			f->cl_bad = true;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned d = (unsigned char)el[i] - '0';

			/* Keep within int64: senders and dockerd (Go) use signed sizes. */
			if (d > 9 || val > ((uint64_t)INT64_MAX - d) / 10) {
				f->cl_bad = true;
				return;
			}
			val = val * 10 + d;
		}
		if (f->has_cl && f->cl != val) {
			f->cl_bad = true;
			return;
		}
		f->has_cl = true;
		f->cl = val;
	}
}

static void framing_transfer_encoding(struct framing *f, const char *buf, struct http_span v)
{
	struct list_iter it;
	const char *el;
	size_t n;

	f->has_te = true;
	list_init(&it, buf, v);
	while (list_next(&it, &el, &n)) {
		if (n == 0) {
			f->te_bad = true;
			return;
		}
		if (elem_is(el, n, "chunked")) {
			f->te_chunked++;
			f->te_last_chunked = true;
		} else {
			f->te_other++;
			f->te_last_chunked = false;
		}
	}
}

static void framing_connection(struct framing *f, const char *buf, struct http_span v)
{
	struct list_iter it;
	const char *el;
	size_t n;

	list_init(&it, buf, v);
	while (list_next(&it, &el, &n)) {
		if (elem_is(el, n, "close"))
			f->conn_close = true;
		else if (elem_is(el, n, "keep-alive"))
			f->conn_keep_alive = true;
		else if (elem_is(el, n, "upgrade"))
			f->conn_upgrade = true;
	}
}

#define NAME_IS(h, lit) http_name_is_lower(buf, (h)->name, lit, sizeof(lit) - 1)

static enum http_parse parse_framing(const char *buf, struct http_head *h)
{
	struct framing f = { 0 };

	for (unsigned i = 0; i < h->nheaders; i++) {
		const struct http_header *hd = &h->headers[i];

		/* The five names differ in length: one compare per header. */
		switch (hd->name.len) {
		case sizeof("content-length") - 1:
			if (NAME_IS(hd, "content-length"))
				framing_content_length(&f, buf, hd->value);
			break;
		case sizeof("transfer-encoding") - 1:
			if (NAME_IS(hd, "transfer-encoding"))
				framing_transfer_encoding(&f, buf, hd->value);
			break;
		case sizeof("connection") - 1:
			if (NAME_IS(hd, "connection"))
				framing_connection(&f, buf, hd->value);
			break;
		case sizeof("upgrade") - 1:
			if (NAME_IS(hd, "upgrade"))
				f.has_upgrade |= hd->value.len > 0;
			break;
		case sizeof("host") - 1:
			if (NAME_IS(hd, "host"))
				f.hosts++;
			break;
		}
	}

	/* RFC 9112 §6.1: TE in HTTP/1.0 means the framing is faulty. */
	if (f.has_te && h->minor == 0)
		return parse_fail(h, 400, "Transfer-Encoding in HTTP/1.0 request");
	/* §6.3: CL with TE is the CL.TE/TE.CL smuggling vector: reject. */
	if (f.has_te && (f.has_cl || f.cl_bad))
		return parse_fail(h, 400, "both Content-Length and Transfer-Encoding");
	if (f.cl_bad)
		return parse_fail(h, 400, "invalid Content-Length");
	if (f.has_te) {
		if (f.te_bad)
			return parse_fail(h, 400, "malformed Transfer-Encoding");
		/* §7: chunked must not be applied more than once. */
		if (f.te_chunked > 1)
			return parse_fail(h, 400, "chunked applied more than once");
		/* §6.3: a request whose final coding is not chunked has no
		 * determinable length: MUST be 400, not 501. */
		if (!f.te_last_chunked)
			return parse_fail(h, 400, "Transfer-Encoding does not end in chunked");
		/* §6.1: codings we do not decode are 501. */
		if (f.te_other)
			return parse_fail(h, 501, "unsupported transfer coding");
		h->body = HTTP_BODY_CHUNKED;
	} else if (f.has_cl) {
		h->body = HTTP_BODY_LENGTH;
		h->content_length = f.cl;
	}
	/* §3.2: several Host headers make the target authority ambiguous. */
	if (f.hosts > 1)
		return parse_fail(h, 400, "duplicate Host header");

	/* RFC 9110 §7.8: Upgrade in an HTTP/1.0 request must be ignored. */
	h->upgrade = f.conn_upgrade && f.has_upgrade && h->minor == 1;
	h->close = f.conn_close || (h->minor == 0 && !f.conn_keep_alive);
	return HTTP_PARSE_DONE;
}

enum http_parse http_head_parse(const char *buf, size_t len,
				const struct http_limits *lim, struct http_head *out)
{
	struct parser p = {
		.buf = buf,
		.len = len,
		.max_line = HTTP_DEFAULT_MAX_LINE,
		.max_head = HTTP_DEFAULT_MAX_HEAD,
		.out = out,
	};
	enum http_parse r;
	size_t pos = 0, eol = 0;
	int e;

	if (lim && lim->max_line)
		p.max_line = lim->max_line;
	if (lim && lim->max_head)
		p.max_head = lim->max_head;
	/* Spans are 32-bit offsets; every span lies inside the head. */
	if (p.max_head > UINT32_MAX)
		p.max_head = UINT32_MAX;

	out->minor = 0;
	out->head_len = 0;
	out->body = HTTP_BODY_NONE;
	out->content_length = 0;
	out->upgrade = false;
	out->close = false;
	out->nheaders = 0;
	out->status = 0;
	out->reason = NULL;

	/* RFC 9112 §2.2: empty lines before the request line are ignored.
	 * They still count towards max_head, which bounds them. */
	while (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n')
		pos += 2;

	e = parse_line_end(&p, pos, "request line too long", &eol);
	if (e <= 0)
		return e < 0 ? HTTP_PARSE_ERROR : HTTP_PARSE_MORE;
	if (eol + 2 > p.max_head)
		return parse_fail(out, 431, "request head too large");
	r = parse_request_line(&p, pos, eol);
	if (r != HTTP_PARSE_DONE)
		return r;
	pos = eol + 2;

	for (;;) {
		e = parse_line_end(&p, pos, "header line too long", &eol);
		if (e <= 0)
			return e < 0 ? HTTP_PARSE_ERROR : HTTP_PARSE_MORE;
		if (eol + 2 > p.max_head)
			return parse_fail(out, 431, "request head too large");
		if (eol == pos)
			break;
		r = parse_header_line(&p, pos, eol);
		if (r != HTTP_PARSE_DONE)
			return r;
		pos = eol + 2;
	}

	r = parse_framing(buf, out);
	if (r != HTTP_PARSE_DONE)
		return r;
	out->head_len = eol + 2;
	return HTTP_PARSE_DONE;
}

/* ---- output --------------------------------------------------------------- */

/* Bounded writer: stops writing at the first piece that does not fit. */
struct writer {
	char *out;
	size_t len;
	size_t cap;
	bool full;
};

static void writer_put(struct writer *w, const void *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	if (n)
		memcpy(w->out + w->len, s, n);
	w->len += n;
}

static void writer_str(struct writer *w, const char *s)
{
	writer_put(w, s, strlen(s));
}

static ssize_t writer_result(const struct writer *w)
{
	if (w->full)
		return -ENOSPC;
	if (w->len > (size_t)SSIZE_MAX)
		return -EOVERFLOW;
	return (ssize_t)w->len;
}

/* Framing fields a re-framed head loses: the caller frames the body it
 * sends (a Content-Length of its own). Expect goes too: the body is already
 * whole, nothing waits for a 100 (RFC 9110 §10.1.1). */
static bool header_reframed(const char *buf, struct http_span name)
{
	return http_name_is_lower(buf, name, "content-length", 14) ||
	       http_name_is_lower(buf, name, "transfer-encoding", 17) ||
	       http_name_is_lower(buf, name, "trailer", 7) ||
	       http_name_is_lower(buf, name, "expect", 6);
}

ssize_t http_head_rewrite_ex(const char *buf, const struct http_head *h,
			     const struct http_rewrite *rw, char *out, size_t cap)
{
	struct writer w = { .out = out, .cap = out ? cap : 0 };
	char version[] = "HTTP/1.0\r\n";

	version[7] = h->minor ? '1' : '0';
	writer_put(&w, buf + h->method.off, h->method.len);
	writer_put(&w, " ", 1);
	if (rw->target)
		writer_put(&w, rw->target, rw->target_len);
	else
		writer_put(&w, buf + h->target.off, h->target.len);
	writer_put(&w, " ", 1);
	writer_put(&w, version, sizeof(version) - 1);
	for (unsigned i = 0; i < h->nheaders; i++) {
		const struct http_header *hd = &h->headers[i];

		if (rw->strip_name && http_name_is(buf, hd->name, rw->strip_name, rw->strip_len))
			continue;
		if (rw->reframe && header_reframed(buf, hd->name))
			continue;
		writer_put(&w, buf + hd->name.off, hd->name.len);
		if (hd->value.len) {
			writer_put(&w, ": ", 2);
			writer_put(&w, buf + hd->value.off, hd->value.len);
		} else {
			writer_put(&w, ":", 1);
		}
		writer_put(&w, "\r\n", 2);
	}
	if (rw->inject)
		writer_put(&w, rw->inject, rw->inject_len);
	writer_put(&w, "\r\n", 2);
	return writer_result(&w);
}

ssize_t http_head_rewrite(const char *buf, const struct http_head *h,
			  const char *strip_name, size_t strip_len,
			  const char *inject, size_t inject_len,
			  char *out, size_t cap)
{
	struct http_rewrite rw = { .strip_name = strip_name, .strip_len = strip_len,
				   .inject = inject, .inject_len = inject_len };

	return http_head_rewrite_ex(buf, h, &rw, out, cap);
}

static const char *status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* JSON string contents (RFC 8259 §7); returns the escaped length. w NULL: only measure. */
static size_t json_escape(const char *msg, struct writer *w)
{
	size_t n = 0;

	for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
		char esc[8];
		size_t k;

		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			k = 2;
		} else if (*s < 0x20) {
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *s);
		} else {
			esc[0] = (char)*s;
			k = 1;
		}
		if (w)
			writer_put(w, esc, k);
		n += k;
	}
	return n;
}

ssize_t http_error_format(int status, const char *msg, char *out, size_t cap)
{
	static const char body_open[] = "{\"message\":\"";
	static const char body_close[] = "\"}\n";
	struct writer w = { .out = out, .cap = out ? cap : 0 };
	char line[96];
	size_t body_len;

	if (status < 100 || status > 999)
		return -EINVAL;
	if (!msg)
		msg = "";
	body_len = sizeof(body_open) - 1 + json_escape(msg, NULL) + sizeof(body_close) - 1;
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, status_text(status));
	writer_str(&w, line);
	writer_str(&w, "Content-Type: application/json\r\n");
	if (status == 405)
		writer_str(&w, "Allow: " HTTP_METHODS "\r\n");
	snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_len);
	writer_str(&w, line);
	writer_str(&w, "Connection: close\r\n\r\n");
	writer_str(&w, body_open);
	json_escape(msg, &w);
	writer_str(&w, body_close);
	return writer_result(&w);
}
