/* core/resp.c: response-head parser (RFC 9112 §4-§6) and a tracker that
 * follows a pipelined response stream to each response's end. The daemon is
 * trusted more than a container, yet a response framed two ways would hand one
 * container's bytes to another through the pool: framing is judged strictly,
 * the rest leniently (bare LF line ends). Chunked bodies use http.c's framer.
 */
#include "resp.h"

#include "ascii.h"

#include <errno.h>
#include <string.h>

/* The comma-list iterator of RFC 9110 §5.6.1, as resp.c needs it. */
struct list {
	const char *buf;
	uint32_t pos;
	uint32_t end;
	bool done;
};

static void list_init(struct list *l, const char *buf, struct http_span v)
{
	l->buf = buf;
	l->pos = v.off;
	l->end = v.off + v.len;
	l->done = false;
}

/* Next element, trimmed of OWS (may be empty); false when exhausted. */
static bool list_next(struct list *l, struct http_span *el)
{
	uint32_t s = l->pos, e = s;

	if (l->done)
		return false;
	while (e < l->end && l->buf[e] != ',')
		e++;
	if (e == l->end)
		l->done = true;
	else
		l->pos = e + 1;
	while (s < e && is_ows((unsigned char)l->buf[s]))
		s++;
	while (e > s && is_ows((unsigned char)l->buf[e - 1]))
		e--;
	el->off = s;
	el->len = e - s;
	return true;
}

#define SPAN_IS(buf, sp, lit) http_name_is(buf, sp, lit, sizeof(lit) - 1)
#define NAME_IS(buf, sp, lit) http_name_is_lower(buf, sp, lit, sizeof(lit) - 1)

/* ---- head ----------------------------------------------------------------- */

/* Find where the head ends: after the first empty line (CRLF or bare LF).
 * *scan and *line_start carry the search over a buffer that grows between
 * calls, so each byte is looked at once. Returns 1 with *end, 0 for more, -1
 * when the bytes cannot start a response or the head outgrows RESP_MAX_HEAD.
 * The status line is never empty ("HTTP/" is checked first), so the empty
 * line found is always the one closing the header section. */
static int head_scan(const char *buf, size_t len, size_t *scan, size_t *line_start,
		     size_t *end, const char **why)
{
	size_t lim = len < RESP_MAX_HEAD ? len : RESP_MAX_HEAD;

	if (len && memcmp(buf, "HTTP/", len < 5 ? len : 5) != 0) {
		*why = "not an HTTP response";
		return -1;
	}
	while (*scan < lim) {
		const char *lf = memchr(buf + *scan, '\n', lim - *scan);
		size_t i, eol;

		if (!lf) {
			*scan = lim;
			break;
		}
		i = (size_t)(lf - buf);
		eol = i > *line_start && buf[i - 1] == '\r' ? i - 1 : i;
		*scan = i + 1;
		if (eol == *line_start) {
			*end = i + 1;
			return 1;
		}
		*line_start = i + 1;
	}
	if (len >= RESP_MAX_HEAD) {
		*why = "response head too large";
		return -1;
	}
	return 0;
}

/* The line at pos inside the head buf[0..end), which ends in LF: *eol at
 * its CR or LF, *next after the LF. False on a bare CR or a control
 * character other than HTAB. */
static bool line_next(const char *buf, size_t end, size_t pos, size_t *eol, size_t *next)
{
	const char *lf = memchr(buf + pos, '\n', end - pos);
	size_t i = (size_t)(lf - buf), e = i;

	if (e > pos && buf[e - 1] == '\r')
		e--;
	if (http_ctl_find(buf, pos, e) != e)   /* is_ctl other than HTAB */
		return false;
	*eol = e;
	*next = i + 1;
	return true;
}

/* What the framing headers said. */
struct framing {
	bool has_cl, has_te, te_chunked, te_last_chunked;
	uint64_t cl;
	bool conn_close, conn_keep_alive, has_upgrade, docker_stream;
};

/* Content-Length = 1*DIGIT (RFC 9110 §8.6). Repeated lines must agree; a
 * list in one line is refused, as Go's client (the docker CLI) refuses it. */
static const char *framing_content_length(struct framing *f, const char *buf, struct http_span v)
{
	uint64_t val = 0;

	if (v.len == 0)
		return "empty Content-Length";
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned d = (unsigned char)buf[v.off + i] - '0';

		if (d > 9)
			return "invalid Content-Length";
		/* Keep within int64: Go, on both sides of us, uses signed sizes. */
		if (val > ((uint64_t)INT64_MAX - d) / 10)
			return "Content-Length too large";
		val = val * 10 + d;
	}
	if (f->has_cl && f->cl != val)
		return "differing Content-Length values";
	f->has_cl = true;
	f->cl = val;
	return NULL;
}

static const char *framing_transfer_encoding(struct framing *f, const char *buf,
					     struct http_span v)
{
	struct http_span el;
	struct list l;

	f->has_te = true;
	list_init(&l, buf, v);
	while (list_next(&l, &el)) {
		/* An empty element could be read as the final coding by
		 * one parser and skipped by another. */
		if (el.len == 0)
			return "empty Transfer-Encoding element";
		f->te_last_chunked = SPAN_IS(buf, el, "chunked");
		if (f->te_last_chunked) {
			/* RFC 9112 §6.1: chunked must not be applied twice. */
			if (f->te_chunked)
				return "chunked applied more than once";
			f->te_chunked = true;
		}
	}
	return NULL;
}

static void framing_connection(struct framing *f, const char *buf, struct http_span v)
{
	struct http_span el;
	struct list l;

	list_init(&l, buf, v);
	while (list_next(&l, &el)) {
		if (SPAN_IS(buf, el, "close"))
			f->conn_close = true;
		else if (SPAN_IS(buf, el, "keep-alive"))
			f->conn_keep_alive = true;
	}
}

/* The media types dockerd hijacks attach/exec streams with. */
static bool docker_stream_type(const char *buf, struct http_span v)
{
	const char *semi = memchr(buf + v.off, ';', v.len);

	if (semi)
		v.len = (uint32_t)(semi - (buf + v.off));
	while (v.len && is_ows((unsigned char)buf[v.off + v.len - 1]))
		v.len--;
	return SPAN_IS(buf, v, "application/vnd.docker.raw-stream") ||
	       SPAN_IS(buf, v, "application/vnd.docker.multiplexed-stream");
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
static const char *header_line(struct framing *f, const char *buf, size_t pos, size_t eol)
{
	struct http_span name, value;
	size_t i = pos, v, e;

	/* §5.2: a proxy must reject obs-fold or unfold it; we forward verbatim. */
	if (is_ows((unsigned char)buf[pos]))
		return "obsolete line folding";
	while (i < eol && (http_ctype[(unsigned char)buf[i]] & HTTP_CT_TCHAR))
		i++;
	if (i < eol && is_ows((unsigned char)buf[i]))
		/* §5.1: a proxy must remove such whitespace; we cannot. */
		return "whitespace before colon in header";
	if (i == eol || buf[i] != ':')
		return "invalid header name";
	if (i == pos)
		return "empty header name";
	v = i + 1;
	e = eol;
	while (v < e && is_ows((unsigned char)buf[v]))
		v++;
	while (e > v && is_ows((unsigned char)buf[e - 1]))
		e--;
	name = (struct http_span){ (uint32_t)pos, (uint32_t)(i - pos) };
	value = (struct http_span){ (uint32_t)v, (uint32_t)(e - v) };

	/* The five names differ in length: one compare per header. */
	switch (name.len) {
	case sizeof("content-length") - 1:
		if (NAME_IS(buf, name, "content-length"))
			return framing_content_length(f, buf, value);
		break;
	case sizeof("transfer-encoding") - 1:
		if (NAME_IS(buf, name, "transfer-encoding"))
			return framing_transfer_encoding(f, buf, value);
		break;
	case sizeof("connection") - 1:
		if (NAME_IS(buf, name, "connection"))
			framing_connection(f, buf, value);
		break;
	case sizeof("upgrade") - 1:
		if (NAME_IS(buf, name, "upgrade"))
			f->has_upgrade |= value.len > 0;
		break;
	case sizeof("content-type") - 1:
		if (NAME_IS(buf, name, "content-type"))
			f->docker_stream |= docker_stream_type(buf, value);
		break;
	}
	return NULL;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (§4). The
 * SP before an empty reason may be missing, as Go's client allows. */
static const char *status_line(struct resp_head *h, const char *b, size_t eol)
{
	if (eol < 12 || memcmp(b, "HTTP/", 5) != 0 || b[6] != '.' || b[8] != ' ')
		return "malformed status line";
	if (b[5] != '1' || (b[7] != '0' && b[7] != '1'))
		return "unsupported HTTP version";
	if (b[9] < '1' || b[9] > '9' || b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9')
		return "malformed status code";
	if (eol > 12 && b[12] != ' ')
		return "malformed status line";
	h->minor = b[7] - '0';
	h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	return NULL;
}

static enum http_parse head_fail(struct resp_head *h, const char *why)
{
	h->error = why;
	return HTTP_PARSE_ERROR;
}

/* RFC 9112 §6.3, in its order; the caller's two special cases first. */
static enum http_parse head_frame(struct resp_head *h, const struct framing *f,
				  bool head_request, bool hijack_request)
{
	/* §6.1: TE in an HTTP/1.0 message means faulty framing. */
	if (f->has_te && h->minor == 0)
		return head_fail(h, "Transfer-Encoding in HTTP/1.0 response");
	/* §6.3: TE overrides CL, but an intermediary must then drop CL before
	 * forwarding; we forward verbatim, and this is response splitting. */
	if (f->has_te && f->has_cl)
		return head_fail(h, "both Content-Length and Transfer-Encoding");
	h->close = f->conn_close || (h->minor == 0 && !f->conn_keep_alive);

	if (h->status / 100 == 1) {
		if (h->status != 101) {
			h->interim = true;
			return HTTP_PARSE_DONE;
		}
		if (!hijack_request)
			return head_fail(h, "101 to a request without upgrade");
		/* RFC 9110 §15.2.2: a 101 names the protocol switched to. */
		if (h->minor == 0 || !f->has_upgrade)
			return head_fail(h, "101 without Upgrade header");
		h->body = RESP_BODY_TUNNEL;
		return HTTP_PARSE_DONE;
	}
	/* dockerd and podman answer attach and exec start that asked for no
	 * upgrade (older clients, raw API users) with "200 OK", a stream media
	 * type and no length, then hijack the connection (daemons older than
	 * the 101 always did). A Go server never sends a lengthless 200 and
	 * keeps the connection, so this cannot hide a next response. */
	if (hijack_request && !head_request && h->status == 200 && f->docker_stream &&
	    !f->has_cl && !f->has_te) {
		h->body = RESP_BODY_TUNNEL;
		return HTTP_PARSE_DONE;
	}
	if (head_request || h->status == 204 || h->status == 304)
		return HTTP_PARSE_DONE;
	if (f->has_te) {
		h->body = f->te_last_chunked ? RESP_BODY_CHUNKED : RESP_BODY_UNTIL_CLOSE;
	} else if (f->has_cl) {
		h->body = RESP_BODY_LENGTH;
		h->content_length = f->cl;
	} else {
		h->body = RESP_BODY_UNTIL_CLOSE;
	}
	return HTTP_PARSE_DONE;
}

/* buf[0..end) is a whole head, as head_scan found it. */
static enum http_parse head_parse(const char *buf, size_t end, bool head_request,
				  bool hijack_request, struct resp_head *h)
{
	struct framing f = { 0 };
	size_t pos, eol, next;
	unsigned nheaders = 0;
	const char *why;

	memset(h, 0, sizeof(*h));
	h->body = RESP_BODY_NONE;
	if (!line_next(buf, end, 0, &eol, &next))
		return head_fail(h, "control character in status line");
	why = status_line(h, buf, eol);
	if (why)
		return head_fail(h, why);
	for (pos = next;; pos = next) {
		if (!line_next(buf, end, pos, &eol, &next))
			return head_fail(h, "control character in response head");
		if (eol == pos)
			break;
		if (++nheaders > RESP_MAX_HEADERS)
			return head_fail(h, "too many headers");
		why = header_line(&f, buf, pos, eol);
		if (why)
			return head_fail(h, why);
	}
	h->head_len = end;
	return head_frame(h, &f, head_request, hijack_request);
}

enum http_parse resp_head_parse(const char *buf, size_t len, bool head_request,
				bool hijack_request, struct resp_head *out)
{
	size_t scan = 0, line_start = 0, end = 0;
	const char *why = NULL;
	int e = head_scan(buf, len, &scan, &line_start, &end, &why);

	if (e < 0) {
		memset(out, 0, sizeof(*out));
		return head_fail(out, why);
	}
	if (e == 0)
		return HTTP_PARSE_MORE;
	return head_parse(buf, end, head_request, hijack_request, out);
}

/* ---- tracker -------------------------------------------------------------- */

enum tracker_state {
	TR_HEAD,         /* at a boundary, or inside a head */
	TR_LENGTH,
	TR_CHUNKED,
	TR_UNTIL_CLOSE,
	TR_CLOSING,      /* a response with close ended, or EOF was seen */
	TR_TUNNEL,
	TR_ERROR,
};

#define REQ_HEAD 1u
#define REQ_HIJACK 2u

void resp_tracker_init(struct resp_tracker *t)
{
	memset(t, 0, sizeof(*t));
	t->state = TR_HEAD;
}

int resp_tracker_push(struct resp_tracker *t, bool head_request, bool hijack_request)
{
	if (t->count == RESP_TRACK_FIFO)
		return -ENOBUFS;
	t->fifo[(t->first + t->count) % RESP_TRACK_FIFO] =
		(uint8_t)((head_request ? REQ_HEAD : 0) | (hijack_request ? REQ_HIJACK : 0));
	t->count++;
	return 0;
}

unsigned resp_tracker_outstanding(const struct resp_tracker *t)
{
	return t->count;
}

enum resp_next resp_tracker_next(const struct resp_tracker *t)
{
	switch (t->state) {
	case TR_HEAD:
		return t->count ? RESP_NEXT_HEAD : RESP_NEXT_IDLE;
	case TR_LENGTH:
	case TR_UNTIL_CLOSE:
		return RESP_NEXT_SPLICE;
	case TR_CHUNKED:
		return RESP_NEXT_FEED;
	case TR_CLOSING:
		return RESP_NEXT_CLOSE;
	case TR_TUNNEL:
		return RESP_NEXT_TUNNEL;
	default:
		return RESP_NEXT_ERROR;
	}
}

static enum resp_track tracker_fail(struct resp_tracker *t, const char *why)
{
	t->state = TR_ERROR;
	t->error = why;
	return RESP_TRACK_ERROR;
}

static void tracker_pop(struct resp_tracker *t)
{
	t->first = (t->first + 1) % RESP_TRACK_FIFO;
	t->count--;
	t->interim = false;
}

static enum resp_track tracker_end(struct resp_tracker *t, int *status)
{
	tracker_pop(t);
	t->state = t->last.close ? TR_CLOSING : TR_HEAD;
	*status = t->last.status;
	return RESP_TRACK_END;
}

enum head_step { HEAD_MORE, HEAD_ERROR, HEAD_NEXT, HEAD_END, HEAD_TUNNEL };

/* A head of the front request at buf[0..len): sets *n to its length and the
 * state to what follows it. HEAD_NEXT: continue with the bytes after it. */
static enum head_step tracker_head(struct resp_tracker *t, const char *buf, size_t len,
				   size_t *n)
{
	uint8_t req = t->fifo[t->first];
	const char *why = NULL;
	size_t end = 0;
	int e;

	/* The caller must present the scanned bytes again; if it did not,
	 * start over rather than trust a stale position. */
	if (len < t->scan)
		t->scan = t->line_start = 0;
	e = head_scan(buf, len, &t->scan, &t->line_start, &end, &why);
	if (e == 0)
		return HEAD_MORE;
	if (e < 0) {
		tracker_fail(t, why);
		return HEAD_ERROR;
	}
	t->scan = t->line_start = 0;
	if (head_parse(buf, end, req & REQ_HEAD, req & REQ_HIJACK, &t->last) != HTTP_PARSE_DONE) {
		tracker_fail(t, t->last.error);
		return HEAD_ERROR;
	}
	*n = end;
	if (t->last.interim) {
		t->interim = true;
		return HEAD_NEXT;
	}
	switch (t->last.body) {
	case RESP_BODY_TUNNEL:
		tracker_pop(t);
		t->state = TR_TUNNEL;
		return HEAD_TUNNEL;
	case RESP_BODY_LENGTH:
		if (t->last.content_length == 0)
			return HEAD_END;
		t->left = t->last.content_length;
		t->state = TR_LENGTH;
		return HEAD_NEXT;
	case RESP_BODY_CHUNKED:
		http_chunked_init(&t->chunked);
		t->state = TR_CHUNKED;
		return HEAD_NEXT;
	case RESP_BODY_UNTIL_CLOSE:
		t->state = TR_UNTIL_CLOSE;
		return HEAD_NEXT;
	default:
		return HEAD_END;
	}
}

enum resp_track resp_tracker_feed(struct resp_tracker *t, const char *buf, size_t len,
				  size_t *used, int *status)
{
	enum resp_track r = RESP_TRACK_MORE;
	size_t pos = 0;

	for (;;) {
		size_t rest = len - pos, n = 0;

		switch (t->state) {
		case TR_HEAD:
			if (!rest)
				goto out;
			if (!t->count) {
				r = tracker_fail(t, "response with no request outstanding");
				goto out;
			}
			switch (tracker_head(t, buf + pos, rest, &n)) {
			case HEAD_MORE:
				goto out;  /* buf[pos..len) is a partial head */
			case HEAD_ERROR:
				r = RESP_TRACK_ERROR;
				goto out;
			case HEAD_NEXT:
				pos += n;
				continue;
			case HEAD_END:
				pos += n;
				r = tracker_end(t, status);
				goto out;
			case HEAD_TUNNEL:
				pos += n;
				*status = t->last.status;
				r = RESP_TRACK_TUNNEL;
				goto out;
			}
			break;
		case TR_LENGTH:
			n = (uint64_t)rest < t->left ? rest : (size_t)t->left;
			pos += n;
			t->left -= n;
			if (t->left == 0)
				r = tracker_end(t, status);
			goto out;
		case TR_CHUNKED:
			if (!rest)
				goto out;
			switch (http_chunked_feed(&t->chunked, buf + pos, rest, &n)) {
			case HTTP_CHUNK_DONE:
				pos += n;
				r = tracker_end(t, status);
				break;
			case HTTP_CHUNK_ERROR:
				pos += n;  /* the offending byte */
				r = tracker_fail(t, "malformed chunked body");
				break;
			default:
				pos += n;
				break;
			}
			goto out;
		case TR_UNTIL_CLOSE:
			pos = len;
			goto out;
		case TR_CLOSING:
			if (rest)
				r = tracker_fail(t, "bytes after the connection's last response");
			goto out;
		case TR_TUNNEL:
			*status = t->last.status;
			r = RESP_TRACK_TUNNEL;
			goto out;
		default:
			r = RESP_TRACK_ERROR;
			goto out;
		}
	}
out:
	*used = pos;
	return r;
}

size_t resp_tracker_head_need(const struct resp_tracker *t)
{
	if (t->state != TR_HEAD || !t->count)
		return 0;
	return t->scan < RESP_MAX_HEAD ? t->scan + 1 : RESP_MAX_HEAD;
}

uint64_t resp_tracker_body_left(const struct resp_tracker *t)
{
	if (t->state == TR_LENGTH)
		return t->left;
	if (t->state == TR_UNTIL_CLOSE)
		return UINT64_MAX;
	return 0;
}

enum resp_track resp_tracker_skip(struct resp_tracker *t, uint64_t n, int *status)
{
	if (t->state == TR_ERROR)
		return RESP_TRACK_ERROR;
	if (n == 0 || t->state == TR_UNTIL_CLOSE)
		return RESP_TRACK_MORE;
	if (t->state != TR_LENGTH || n > t->left)
		return tracker_fail(t, "bytes skipped beyond the response body");
	t->left -= n;
	if (t->left)
		return RESP_TRACK_MORE;
	return tracker_end(t, status);
}

enum resp_track resp_tracker_eof(struct resp_tracker *t, int *status)
{
	switch (t->state) {
	case TR_UNTIL_CLOSE:
		tracker_end(t, status);
		t->state = TR_CLOSING;
		return RESP_TRACK_END;
	case TR_HEAD:
		if (t->scan || t->interim)
			return tracker_fail(t, "EOF inside a response");
		t->state = TR_CLOSING;
		return RESP_TRACK_CLOSED;
	case TR_LENGTH:
	case TR_CHUNKED:
		return tracker_fail(t, "EOF inside a response body");
	case TR_CLOSING:
	case TR_TUNNEL:
		return RESP_TRACK_CLOSED;
	default:
		return RESP_TRACK_ERROR;
	}
}

const struct resp_head *resp_tracker_last(const struct resp_tracker *t)
{
	return &t->last;
}

const char *resp_tracker_error(const struct resp_tracker *t)
{
	return t->state == TR_ERROR ? t->error : NULL;
}
