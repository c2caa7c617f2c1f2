/* core/chunked.c: incremental framer for chunked bodies (RFC 9112 §7.1),
 * requests and responses alike: it finds where a body ends so the next
 * message on the connection starts at the right byte, and rejects anything
 * two parsers could frame differently. A request's trailer fields are also
 * judged by name, each line whole before any of it is let through.
 * The bytes pass through unchanged; this only counts and validates.
 */
#include "chunked.h"

#include "ascii.h"

#include <errno.h>
#include <string.h>

enum chunk_state {
	CH_SIZE,      /* chunk-size hex digits */
	CH_SIZE_WS,   /* BWS after the size, only before ";" */
	CH_EXT,       /* chunk-ext up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TR_START,  /* start of a trailer line, or the final CRLF */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

void http_chunked_init_request(struct http_chunked *c, const char *token_name, size_t token_len,
			       size_t hold)
{
	http_chunked_init(c);
	c->token_name = token_name;
	c->token_len = token_name ? token_len : 0;
	c->hold = hold < 3 ? 3 : hold;
}

const char *http_chunked_reason(const struct http_chunked *c)
{
	return c->reason ? c->reason : "malformed chunked body";
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return ascii_lower(c) - 'a' + 10;
}

/* One byte of a size or trailer line: count it against the limits. */
static bool chunked_line_byte(struct http_chunked *c, bool trailer)
{
	if (++c->line > HTTP_CHUNK_MAX_LINE)
		return false;
	if (trailer && ++c->trailer_bytes > HTTP_CHUNK_MAX_TRAILER_BYTES)
		return false;
	return true;
}

/* Consumes one framing byte; false on a framing error. The data state is
 * handled by the caller in bulk. */
static bool chunked_step(struct http_chunked *c, unsigned char b)
{
	switch (c->state) {
	case CH_SIZE:
		if (is_hex(b)) {
			/* 16 hex digits fill a uint64_t: more (even leading
			 * zeros) is refused, as Go's net/http does. */
			if (++c->digits > 16)
				return false;
			c->remaining = c->remaining << 4 | (uint64_t)hex_value(b);
			return chunked_line_byte(c, false);
		}
		if (c->digits == 0)
			return false;
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return true;
		}
		if (b == ';')
			c->state = CH_EXT;
		else if (is_ows(b))
			c->state = CH_SIZE_WS;
		else
			return false;
		return chunked_line_byte(c, false);
	case CH_SIZE_WS:
		/* RFC 9112 §7.1.1: BWS is allowed only around ";". */
		if (b == ';')
			c->state = CH_EXT;
		else if (!is_ows(b))
			return false;
		return chunked_line_byte(c, false);
	case CH_EXT:
		/* Extensions are ignored; only where the line ends matters,
		 * and tokens or quoted-strings never contain CR, LF or CTLs. */
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return true;
		}
		if (is_ctl(b) && b != '\t')
			return false;
		return chunked_line_byte(c, false);
	case CH_SIZE_LF:
		if (b != '\n')
			return false;
		c->line = 0;
		c->state = c->remaining ? CH_DATA : CH_TR_START;
		return true;
	case CH_DATA_CR:
		if (b != '\r')
			return false;
		c->state = CH_DATA_LF;
		return true;
	case CH_DATA_LF:
		if (b != '\n')
			return false;
		c->digits = 0;
		c->line = 0;
		c->state = CH_SIZE;
		return true;
	case CH_TR_START:
		if (b == '\r') {
			c->state = CH_FINAL_LF;
			return true;
		}
		/* A trailer field line: name is a token (no obs-fold). */
		if (!is_tchar(b) || ++c->trailers > HTTP_CHUNK_MAX_TRAILERS)
			return false;
		c->line = 0;
		c->state = CH_TR_NAME;
		return chunked_line_byte(c, true);
	case CH_TR_NAME:
		if (b == ':')
			c->state = CH_TR_VALUE;
		else if (!is_tchar(b))
			return false;
		return chunked_line_byte(c, true);
	case CH_TR_VALUE:
		if (b == '\r') {
			c->state = CH_TR_LF;
			return true;
		}
		if (is_ctl(b) && b != '\t')
			return false;
		return chunked_line_byte(c, true);
	case CH_TR_LF:
		if (b != '\n')
			return false;
		c->state = CH_TR_START;
		return true;
	case CH_FINAL_LF:
		if (b != '\n')
			return false;
		c->state = CH_DONE;
		return true;
	default:
		return false;
	}
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Trailer fields a container may not send. RFC 9110 §6.5.1: fields that
 * frame, route or authenticate a message, modify the request or describe its
 * content must be processed before the content, so none of them belongs in a
 * trailer, and Go's net/http (dockerd) merges trailers into Request.Trailer
 * where a handler or an authorization plugin could read them. Hop-by-hop
 * fields (§7.6.1) are the connection's, never forwarded. The token header is
 * dockmux's alone: the head's copy is stripped, a trailer copy is refused. */
static const char *const trailer_forbidden[] = {
	"authorization", "connection", "content-encoding", "content-length",
	"content-range", "content-type", "expect", "host", "keep-alive",
	"max-forwards", "range", "te", "trailer", "transfer-encoding", "upgrade",
};

static bool trailer_name_forbidden(const struct http_chunked *c, const char *name, size_t n)
{
	if (c->token_len && n == c->token_len && ascii_ieq(name, c->token_name, n))
		return true;
	/* Proxy-Authorization, Proxy-Authenticate, Proxy-Connection and any
	 * other: a proxy's fields, never a daemon's. */
	if (n >= 6 && ascii_ieq(name, "proxy-", 6))
		return true;
	for (size_t k = 0; k < sizeof(trailer_forbidden) / sizeof(trailer_forbidden[0]); k++)
		if (n == strlen(trailer_forbidden[k]) && ascii_ieq(name, trailer_forbidden[k], n))
			return true;
	return false;
}

enum trailer_line { TL_OK, TL_HOLD, TL_ERROR };

/* A request's trailer line starting at buf[0] (not the final CRLF): judged
 * whole before any of it is used, so no byte of a refused field is forwarded
 * even when the line arrives in pieces. On TL_OK *n is its length; on
 * TL_ERROR the offset of the offending byte (0 for a refused name). */
static enum trailer_line trailer_line(struct http_chunked *c, const char *buf, size_t len,
				      size_t *n)
{
	size_t lim = len < c->hold ? len : c->hold;
	const char *lf = memchr(buf, '\n', lim), *colon;

	if (!lf) {
		if (len < c->hold)
			return TL_HOLD;
		*n = c->hold - 1;   /* the byte that makes it too long */
		c->reason = "chunked trailer line too long";
		return TL_ERROR;
	}
	/* The byte checks and limits of the response framer, on the whole line. */
	for (size_t i = 0; i <= (size_t)(lf - buf); i++)
		if (!chunked_step(c, (unsigned char)buf[i])) {
			*n = i;
			return TL_ERROR;
		}
	colon = memchr(buf, ':', (size_t)(lf - buf));
	if (trailer_name_forbidden(c, buf, (size_t)(colon - buf))) {
		*n = 0;
		c->reason = "chunked trailer field not allowed (token, framing or hop-by-hop)";
		return TL_ERROR;
	}
	*n = (size_t)(lf - buf) + 1;
	return TL_OK;
}

enum http_chunk http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
				  size_t *used)
{
	size_t i = 0, n;

	if (c->state == CH_DONE || c->state == CH_ERROR) {
		*used = 0;
		return c->state == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_ERROR;
	}
	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = len - i;

			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if (c->hold && c->state == CH_TR_START && buf[i] != '\r') {
			switch (trailer_line(c, buf + i, len - i, &n)) {
			case TL_HOLD:
				*used = i;
				return HTTP_CHUNK_MORE;
			case TL_ERROR:
				c->state = CH_ERROR;
				*used = i + n;
				return HTTP_CHUNK_ERROR;
			case TL_OK:
				i += n;
				continue;
			}
		}
		if (!chunked_step(c, (unsigned char)buf[i])) {
			c->state = CH_ERROR;
			*used = i;
			return HTTP_CHUNK_ERROR;
		}
		i++;
		if (c->state == CH_DONE) {
			*used = i;
			return HTTP_CHUNK_DONE;
		}
	}
	*used = i;
	return HTTP_CHUNK_MORE;
}

int http_chunked_decode(char *buf, size_t len, size_t *out_len)
{
	size_t i = 0, o = 0;

	for (;;) {
		uint64_t size = 0;
		unsigned digits = 0;
		const char *lf;

		for (; i < len && is_hex((unsigned char)buf[i]); i++) {
			if (++digits > 16)
				return -EINVAL;
			size = size << 4 | (uint64_t)hex_value((unsigned char)buf[i]);
		}
		/* The framer checked the rest of the size line: skip to its LF. */
		lf = digits ? memchr(buf + i, '\n', len - i) : NULL;
		if (!lf)
			return -EINVAL;
		i = (size_t)(lf - buf) + 1;
		if (size == 0)
			break;   /* the trailer section is dropped */
		if (size > len - i || len - i - size < 2 || buf[i + size] != '\r' ||
		    buf[i + size + 1] != '\n')
			return -EINVAL;
		memmove(buf + o, buf + i, size);
		o += size;
		i += size + 2;
	}
	*out_len = o;
	return 0;
}
