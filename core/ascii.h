/* core/ascii.h: the character classes every byte parser in core/ uses
 * (RFC 9110 §5.6.2 tchar, §5.5 VCHAR, RFC 5234 CTL/HEXDIG, OWS). Header-only:
 * static inline, no state. Locale-free on purpose: HTTP is ASCII.
 */
#ifndef DMX_CORE_ASCII_H
#define DMX_CORE_ASCII_H

#include <stdbool.h>

static inline bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

static inline bool is_vchar(unsigned char c) { return c > 0x20 && c < 0x7f; }
static inline bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }
static inline bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

static inline bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

#endif
