/* cmd/config.c: dockmux.conf -> "--key=value" options (syntax in config.h).
 * Read whole, then line by line; the first bad line fails the whole file, so
 * a typo never leaves the daemon half-configured. Values are copied, never
 * interpreted and never written into a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

struct config_opts {
	char **v;   /* NULL-terminated once n > 0 or cap > 0 */
	int n, cap;
};

struct config_ctx {
	const char *path;
	const char *const *known;
	const char *const *bools;
	unsigned line;
	char *err;
	size_t errcap;
	struct config_opts opts;
};

static int config_fail(struct config_ctx *c, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "PATH:LINE: why" (or "PATH: why" before the first line); returns ret. */
static int config_fail(struct config_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || c->errcap == 0)
		return ret;
	if (c->line)
		n = snprintf(c->err, c->errcap, "%s:%u: ", c->path, c->line);
	else
		n = snprintf(c->err, c->errcap, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errcap)
		return ret;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

void config_free(int argc, char **argv)
{
	if (!argv)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* The whole file in a malloc'd buffer. */
static int config_slurp(struct config_ctx *c, char **buf_out, size_t *len_out)
{
	size_t len = 0, cap = 4096;
	char *buf = NULL, *grown;
	ssize_t n;
	int fd, ret;

	fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		return config_fail(c, ret, "%s", strerror(-ret));
	}
	buf = malloc(cap);
	if (!buf) {
		ret = config_fail(c, -ENOMEM, "out of memory");
		goto err;
	}
	for (;;) {
		if (len == cap) {
			if (cap > CONFIG_FILE_MAX) {
				ret = config_fail(c, -EFBIG, "larger than %d bytes", CONFIG_FILE_MAX);
				goto err;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				ret = config_fail(c, -ENOMEM, "out of memory");
				goto err;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			config_fail(c, ret, "read: %s", strerror(-ret));
			goto err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_FILE_MAX) {
		ret = config_fail(c, -EFBIG, "larger than %d bytes", CONFIG_FILE_MAX);
		goto err;
	}
	close(fd);
	*buf_out = buf;
	*len_out = len;
	return 0;
err:
	free(buf);
	close(fd);
	return ret;
}

static bool in_list(const char *const *list, const char *s, size_t len)
{
	for (; list && *list; list++)
		if (strlen(*list) == len && memcmp(*list, s, len) == 0)
			return true;
	return false;
}

/* Last one wins: drop an earlier "--key" or "--key=..." before adding. */
static void opts_drop(struct config_opts *o, const char *key, size_t klen)
{
	for (int i = 0; i < o->n; i++) {
		const char *a = o->v[i] + 2;

		if (strncmp(a, key, klen) != 0 || (a[klen] != '\0' && a[klen] != '='))
			continue;
		free(o->v[i]);
		memmove(&o->v[i], &o->v[i + 1], (size_t)(o->n - i) * sizeof(*o->v));
		o->n--;
		i--;
	}
}

/* Append "--key" (val NULL) or "--key=val". */
static int opts_add(struct config_opts *o, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	size_t size = 2 + klen + (val ? 1 + vlen : 0) + 1;
	char *a;

	opts_drop(o, key, klen);
	if (o->n + 1 >= o->cap) {
		int cap = o->cap ? o->cap * 2 : 16;
		char **grown = realloc(o->v, (size_t)cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		o->v = grown;
		o->cap = cap;
	}
	a = malloc(size);
	if (!a)
		return -ENOMEM;
	memcpy(a, "--", 2);
	memcpy(a + 2, key, klen);
	if (val) {
		a[2 + klen] = '=';
		memcpy(a + 3 + klen, val, vlen);
	}
	a[size - 1] = '\0';
	o->v[o->n++] = a;
	o->v[o->n] = NULL;
	return 0;
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }
static bool is_control(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }
static bool is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

/* A quoted value at v (v[0] == '"'), len bytes to the end of the line:
 * unescaped into out (at least len bytes), its length in *out_len. */
static int config_unquote(struct config_ctx *c, const char *v, size_t len, char *out,
			  size_t *out_len)
{
	size_t i, o = 0;

	for (i = 1; i < len && v[i] != '"'; i++) {
		if (v[i] == '\\') {
			if (i + 1 == len || (v[i + 1] != '"' && v[i + 1] != '\\'))
				return config_fail(c, -EINVAL,
						   "unknown escape in a quoted value (only \\\" and \\\\)");
			i++;
		}
		out[o++] = v[i];
	}
	if (i == len)
		return config_fail(c, -EINVAL, "no closing quote");
	for (i++; i < len; i++)
		if (!is_blank(v[i]))
			return config_fail(c, -EINVAL, "text after the closing quote");
	*out_len = o;
	return 0;
}

static int config_bool(const char *v, size_t len, bool *out)
{
	static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strlen(yes[i]) == len && strncasecmp(yes[i], v, len) == 0) {
			*out = true;
			return 0;
		}
		if (strlen(no[i]) == len && strncasecmp(no[i], v, len) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* One line, without its line ending; scratch has room for len bytes. */
static int config_line(struct config_ctx *c, const char *s, size_t len, char *scratch)
{
	const char *end = s + len, *eq, *key, *val;
	size_t klen, vlen;
	bool on;

	while (s < end && is_blank(*s))
		s++;
	if (s == end || *s == '#')
		return 0;
	eq = memchr(s, '=', (size_t)(end - s));
	/* Not even the key is named: the line may be a stray value. */
	if (!eq)
		return config_fail(c, -EINVAL, "expected 'key = value'");
	key = s;
	klen = (size_t)(eq - s);
	while (klen && is_blank(key[klen - 1]))
		klen--;
	if (klen == 0)
		return config_fail(c, -EINVAL, "no key before '='");
	for (size_t i = 0; i < klen; i++)
		if (!is_key_char(key[i]))
			return config_fail(c, -EINVAL,
					   "bad key name (lower-case letters, digits and '-')");
	if (klen > 64)
		return config_fail(c, -EINVAL, "unknown key (over 64 bytes)");

	val = eq + 1;
	while (val < end && is_blank(*val))
		val++;
	vlen = (size_t)(end - val);
	while (vlen && is_blank(val[vlen - 1]))
		vlen--;
	for (size_t i = 0; i < vlen; i++)
		if (is_control((unsigned char)val[i]))
			return config_fail(c, -EINVAL, "control character in the value of '%.*s'",
					   (int)klen, key);
	if (vlen && val[0] == '"') {
		int ret = config_unquote(c, val, vlen, scratch, &vlen);

		if (ret < 0)
			return ret;
		val = scratch;
	} else {
		for (size_t i = 1; i < vlen; i++)
			if (val[i] == '#' && is_blank(val[i - 1]))
				return config_fail(c, -EINVAL,
						   "'#' in the value of '%.*s': comments only start a "
						   "line; quote the value if the '#' is meant",
						   (int)klen, key);
	}

	if (in_list(c->known, key, klen))
		return opts_add(&c->opts, key, klen, val, vlen) < 0
			       ? config_fail(c, -ENOMEM, "out of memory") : 0;
	if (!in_list(c->bools, key, klen))
		return config_fail(c, -EINVAL, "unknown key '%.*s'", (int)klen, key);
	if (config_bool(val, vlen, &on) < 0)
		return config_fail(c, -EINVAL, "'%.*s' takes true or false (yes/no, 1/0)",
				   (int)klen, key);
	if (!on) {
		opts_drop(&c->opts, key, klen);
		return 0;
	}
	return opts_add(&c->opts, key, klen, NULL, 0) < 0 ? config_fail(c, -ENOMEM, "out of memory")
							  : 0;
}

int config_read(const char *path, const char *const *known_keys, const char *const *bool_keys,
		int *argc_out, char ***argv_out, char *err, size_t errcap)
{
	struct config_ctx c = {
		.path = path, .known = known_keys, .bools = bool_keys, .err = err, .errcap = errcap,
	};
	char *buf = NULL, *scratch = NULL;
	size_t len = 0, pos = 0;
	int ret;

	if (err && errcap)
		err[0] = '\0';
	ret = config_slurp(&c, &buf, &len);
	if (ret < 0)
		return ret;
	scratch = malloc(CONFIG_LINE_MAX);
	ret = scratch ? 0 : config_fail(&c, -ENOMEM, "out of memory");
	/* An editor's UTF-8 byte order mark is not part of the first key. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (ret == 0 && pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl != NULL);
		c.line++;
		if (n && s[n - 1] == '\r')  /* CRLF */
			n--;
		if (memchr(s, '\0', n))
			ret = config_fail(&c, -EINVAL, "NUL byte (not a text file?)");
		else if (n > CONFIG_LINE_MAX)
			ret = config_fail(&c, -EINVAL, "line longer than %d bytes", CONFIG_LINE_MAX);
		else
			ret = config_line(&c, s, n, scratch);
	}
	free(scratch);
	free(buf);
	if (ret < 0) {
		config_free(c.opts.n, c.opts.v);
		return ret;
	}
	if (!c.opts.v) {
		c.opts.v = calloc(1, sizeof(*c.opts.v));
		if (!c.opts.v)
			return config_fail(&c, -ENOMEM, "out of memory");
	}
	*argc_out = c.opts.n;
	*argv_out = c.opts.v;
	return 0;
}
