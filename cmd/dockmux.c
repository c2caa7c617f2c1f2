/* cmd/dockmux.c: the `dockmux` executable. `serve` runs libdockmux as a daemon
 * behind a root-only control socket; spawn/teardown/ls/stats are its clients;
 * `path` is pure. Built only on api/dockmux.h and cmd/control.h. Tokens travel
 * from stdin or a file to the daemon and are never taken from argv nor logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "dockmux.h"

#define DEFAULT_CONTROL "/run/dockmux/control.sock"
/* A control client that stalls mid-request must not hold the (single)
 * control thread for long. */
#define CONTROL_IO_TIMEOUT_S 5

/* ---- logging: one logfmt line per event on stderr ---- */

/* Longest line: a 255-byte key escaped 4x plus a path and a library message. */
#define LOG_LINE_MAX 4096

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_raw(struct log_line *l, const char *s, size_t n)
{
	/* Two bytes stay free for a closing quote and the newline. */
	if (n > sizeof(l->buf) - 2 - l->len)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* name="value" with \" \\ and \xNN for every byte outside printable ASCII,
 * so a key (any bytes but NUL) can neither forge fields nor break the line. */
static void log_str(struct log_line *l, const char *name, const char *val)
{
	static const char hex[] = "0123456789abcdef";

	log_raw(l, " ", 1);
	log_raw(l, name, strlen(name));
	log_raw(l, "=\"", 2);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		char esc[4] = { '\\', (char)*p };
		size_t n = 2;

		if (*p < 0x20 || *p >= 0x7f) {
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			n = 4;
		} else if (*p != '"' && *p != '\\') {
			esc[0] = (char)*p;
			n = 1;
		}
		if (sizeof(l->buf) - 2 - l->len < n)
			break;  /* truncate whole escapes only */
		log_raw(l, esc, n);
	}
	l->buf[l->len++] = '"';  /* room reserved by log_raw */
}

static void log_num(struct log_line *l, const char *name, long long v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), " %s=%lld", name, v);

	log_raw(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void log_begin(struct log_line *l, const char *level, const char *msg)
{
	struct tm tm;
	time_t now = time(NULL);
	char ts[32];

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	l->len = 0;
	log_raw(l, "ts=", 3);
	log_raw(l, ts, strlen(ts));
	log_raw(l, " level=", 7);
	log_raw(l, level, strlen(level));
	log_str(l, "msg", msg);
}

static void log_end(struct log_line *l)
{
	size_t off = 0;

	l->buf[l->len++] = '\n';
	/* One write per line under a lock: lines from the control thread and
	 * the rings never interleave, whatever stderr is. */
	pthread_mutex_lock(&log_lock);
	while (off < l->len) {
		ssize_t n = write(STDERR_FILENO, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	pthread_mutex_unlock(&log_lock);
}

static void log_err(struct log_line *l, int err)
{
	log_str(l, "err", strerror(-err));
}

/* dmx_config.log: syslog levels from the library, same line format. */
static void log_library(void *userdata, int level, const char *msg)
{
	struct log_line l;
	const char *name = level <= 3 ? "error" : level == 4 ? "warn" : level <= 6 ? "info" : "debug";

	(void)userdata;
	log_begin(&l, name, msg);
	log_str(&l, "src", "lib");
	log_end(&l);
}

/* ---- CLI helpers ---- */

static void usage(FILE *f)
{
	fputs("usage: dockmux COMMAND [OPTIONS]\n"
	      "\n"
	      "  serve [--upstream PATH] [--dir DIR] [--rings N] [--token-header NAME]\n"
	      "        [--token-prefix STR] [--socket-mode OCTAL] [--socket-owner UID[:GID]]\n"
	      "        [--control PATH]\n"
	      "      run the daemon (defaults: /var/run/docker.sock, /run/dockmux, one ring\n"
	      "      per CPU, 'Authorization: Bearer <token>', 0660, control " DEFAULT_CONTROL ")\n"
	      "  spawn [--control PATH] [--token-file F] KEY\n"
	      "      create KEY's socket and print its path; the token is read from F, or\n"
	      "      else from stdin (one trailing newline stripped), never from arguments\n"
	      "  teardown [--control PATH] KEY\n"
	      "      remove KEY's socket and close its connections (unknown KEY: success)\n"
	      "  ls [--control PATH] [--json]\n"
	      "      list the containers with their counters\n"
	      "  stats [--control PATH] [KEY]\n"
	      "      counters of KEY, or the host total\n"
	      "  path [--dir DIR] KEY\n"
	      "      print KEY's socket path (pure: no daemon needed)\n"
	      "\n"
	      "Use `--` before a KEY that starts with '-'.\n",
	      f);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "dockmux: %s: %s\n", what, strerror(-err));
	return 1;
}

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("dockmux: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	return 2;
}

/* A key for a human: printable ASCII kept, everything else (and, with
 * space_too, spaces so table columns stay split) as \xNN. */
static void key_escape(const char *key, bool space_too, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p && o + 5 <= cap; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\' || (space_too && *p == ' ')) {
			if (*p == '\\') {
				out[o++] = '\\';
				out[o++] = '\\';
				continue;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

#define KEY_ESCAPED_MAX (DMX_KEY_MAX * 4 + 1)

/* getopt_long accepts any unambiguous prefix of a long option, so `--token X`
 * would silently mean `--token-file X`. Demand exact names, and name only the
 * option (never its value, which could be a secret) when refusing one. */
static int opts_exact(int argc, char **argv, const struct option *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct option *o;
		size_t n;

		if (strcmp(a, "--") == 0)
			return 0;
		if (strncmp(a, "--", 2) != 0)
			continue;
		n = strcspn(a + 2, "=");
		for (o = opts; o->name; o++)
			if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
				break;
		if (!o->name) {
			fprintf(stderr, "dockmux: %s: unknown option --%.*s\n", argv[0], (int)n, a + 2);
			return -EINVAL;
		}
		if (o->has_arg == required_argument && a[2 + n] != '=')
			i++;  /* its value may start with "--" */
	}
	return 0;
}

/* Strict unsigned parse: the whole string, in base, at most max. */
static int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uid(const char *s, uid_t *out)
{
	unsigned long v;
	struct passwd *pw;

	if (parse_ulong(s, 10, (uid_t)-2, &v) == 0) {
		*out = (uid_t)v;
		return 0;
	}
	pw = getpwnam(s);
	if (!pw)
		return -EINVAL;
	*out = pw->pw_uid;
	return 0;
}

static int parse_gid(const char *s, gid_t *out)
{
	unsigned long v;
	struct group *gr;

	if (parse_ulong(s, 10, (gid_t)-2, &v) == 0) {
		*out = (gid_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -EINVAL;
	*out = gr->gr_gid;
	return 0;
}

/* UID, UID:GID or :GID; numbers or names. */
static int parse_owner(const char *s, uid_t *uid, gid_t *gid)
{
	char buf[256];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(buf) || (n == 0 && !colon))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (n && parse_uid(buf, uid) < 0)
		return -EINVAL;
	if (colon && parse_gid(colon + 1, gid) < 0)
		return -EINVAL;
	return 0;
}

/* Fill req's key from a command-line argument (argv cannot hold NUL). */
static int request_key(struct ctl_request *req, const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > DMX_KEY_MAX)
		return -EINVAL;
	memcpy(req->key, key, n + 1);
	req->key_len = (uint16_t)n;
	return 0;
}

/* Run one request against the daemon; prints transport errors itself.
 * Returns 0 with the daemon's *status, or 1 after printing. */
static int call_daemon(const char *control, const struct ctl_request *req, int *status,
		       void **payload, size_t *len)
{
	char what[DMX_PATH_MAX + 96];
	int ret = ctl_call(control, req, status, payload, len);

	if (ret == 0)
		return 0;
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		snprintf(what, sizeof(what), "control socket %s (is `dockmux serve` running?)", control);
	else if (ret == -EACCES || ret == -EPERM)
		snprintf(what, sizeof(what), "control socket %s (only root or the daemon's user)", control);
	else
		snprintf(what, sizeof(what), "control socket %s", control);
	return fail(what, ret);
}

/* Report a daemon-side error for an operation on key. */
static int fail_key(const char *op, const char *key, int err)
{
	char esc[KEY_ESCAPED_MAX];
	char what[KEY_ESCAPED_MAX + 160];
	const char *why = "";

	key_escape(key, false, esc, sizeof(esc));
	if (err == -EEXIST && strcmp(op, "spawn") == 0)
		why = " (another key's hash owns its socket path, or a non-socket file is in the way)";
	else if (err == -EINVAL && strcmp(op, "spawn") == 0)
		why = " (keys are 1..255 bytes; tokens 1..4096 bytes without control characters)";
	else if (err == -EINVAL)
		why = " (keys are 1..255 bytes)";
	else if (err == -ENOENT && strcmp(op, "stats") == 0)
		why = " (no such container)";
	else if (err == -EACCES)
		why = " (only root or the daemon's user may use the control socket)";
	snprintf(what, sizeof(what), "%s \"%s\"%s", op, esc, why);
	return fail(what, err);
}

/* ---- spawn ---- */

/* Read the token from fd: one trailing "\n" or "\r\n" stripped; the rest
 * must be 1..DMX_TOKEN_MAX bytes with no control characters but tab (the
 * library would refuse it anyway; this names the reason). */
static int token_read(int fd, char *tok, size_t *len, const char **why)
{
	/* Room for the longest token, its "\r\n" and one byte to notice excess. */
	char buf[DMX_TOKEN_MAX + 3];
	size_t n = 0;
	int ret = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			*why = "read";
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			ret = -EMSGSIZE;
			*why = "longer than 4096 bytes";
			goto out;
		}
	}
	if (n && buf[n - 1] == '\n') {
		n--;
		if (n && buf[n - 1] == '\r')
			n--;
	}
	if (n == 0) {
		ret = -ENODATA;
		*why = "empty";
		goto out;
	}
	if (n > DMX_TOKEN_MAX) {
		ret = -EMSGSIZE;
		*why = "longer than 4096 bytes";
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			ret = -EINVAL;
			*why = "contains a NUL, newline or other control character";
			goto out;
		}
	}
	memcpy(tok, buf, n);
	tok[n] = '\0';
	*len = n;
out:
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int cmd_spawn(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL, *token_file = NULL, *why = NULL;
	struct ctl_request req = { .op = CTL_OP_SPAWN };
	char path[DMX_PATH_MAX];
	void *payload = NULL;
	size_t plen, tlen = 0;
	int opt, fd, status, ret;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("spawn: the token is read from --token-file or stdin, never argv");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'f': token_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("spawn: bad option");
		}
	}
	if (optind != argc - 1)
		return bad_usage("spawn: expected exactly one KEY");
	if (request_key(&req, argv[optind]) < 0)
		return bad_usage("spawn: KEY must be 1..%d bytes", DMX_KEY_MAX);

	if (token_file && strcmp(token_file, "-") != 0) {
		fd = open(token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			char what[PATH_MAX + 16];

			snprintf(what, sizeof(what), "token file %s", token_file);
			return fail(what, -errno);
		}
	} else {
		fd = STDIN_FILENO;
		if (isatty(fd))
			fputs("dockmux: reading the token from stdin (end with Ctrl-D)\n", stderr);
	}
	ret = token_read(fd, req.token, &tlen, &why);
	if (fd != STDIN_FILENO)
		close(fd);
	if (ret < 0) {
		fprintf(stderr, "dockmux: token: %s: %s\n", why, strerror(-ret));
		return 1;
	}
	req.token_len = (uint32_t)tlen;

	ret = call_daemon(control, &req, &status, &payload, &plen);
	explicit_bzero(req.token, sizeof(req.token));
	if (ret)
		return ret;
	if (status < 0)
		return fail_key("spawn", req.key, status);
	ret = ctl_path_decode(payload, plen, path, sizeof(path));
	free(payload);
	if (ret < 0)
		return fail("spawn: malformed reply from the daemon", ret);
	printf("%s\n", path);
	return fflush(stdout) == 0 ? 0 : fail("stdout", -errno);
}

/* ---- teardown ---- */

static int cmd_teardown(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct ctl_request req = { .op = CTL_OP_TEARDOWN };
	void *payload = NULL;
	size_t plen;
	int opt, status, ret;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("teardown: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("teardown: bad option");
		}
	}
	if (optind != argc - 1)
		return bad_usage("teardown: expected exactly one KEY");
	if (request_key(&req, argv[optind]) < 0)
		return bad_usage("teardown: KEY must be 1..%d bytes", DMX_KEY_MAX);
	ret = call_daemon(control, &req, &status, &payload, &plen);
	if (ret)
		return ret;
	free(payload);
	if (status < 0)
		return fail_key("teardown", req.key, status);
	return 0;
}

/* ---- ls ---- */

/* JSON string of arbitrary bytes: valid UTF-8 is kept; a stray byte >= 0x80
 * becomes \u00XX (its Latin-1 reading) so the output is always valid JSON. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = 0;

		if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		if (n) {
			size_t i = 1;

			while (i < n && (p[i] & 0xc0) == 0x80)
				i++;
			if (i == n) {
				fwrite(p, 1, n, f);
				p += n;
				continue;
			}
		}
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
		p++;
	}
	fputc('"', f);
}

static void ls_json(const struct dmx_entry *e, size_t n)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct dmx_stats *s = &e[i].stats;

		fputs(i ? ",\n {\"key\":" : "\n {\"key\":", stdout);
		json_str(stdout, e[i].key);
		fputs(",\"path\":", stdout);
		json_str(stdout, e[i].path);
		printf(",\"conns_accepted\":%llu,\"conns_active\":%llu,\"requests\":%llu,"
		       "\"bytes_up\":%llu,\"bytes_down\":%llu,\"errors\":%llu,"
		       "\"responses\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},"
		       "\"denied\":%llu}",
		       (unsigned long long)s->conns_accepted, (unsigned long long)s->conns_active,
		       (unsigned long long)s->requests, (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down, (unsigned long long)s->errors,
		       (unsigned long long)s->responses[1], (unsigned long long)s->responses[2],
		       (unsigned long long)s->responses[3], (unsigned long long)s->responses[4],
		       (unsigned long long)s->responses[5], (unsigned long long)s->denied);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

#define LS_COLS 8

static int ls_table(const struct dmx_entry *e, size_t n)
{
	static const char *head[LS_COLS] = { "KEY", "PATH", "CONNS", "ACTIVE", "REQUESTS",
					     "BYTES_UP", "BYTES_DOWN", "ERRORS" };
	size_t width[LS_COLS];
	char (*keys)[KEY_ESCAPED_MAX] = NULL;

	if (n) {
		keys = malloc(n * sizeof(*keys));
		if (!keys)
			return fail("ls", -ENOMEM);
	}
	for (int c = 0; c < LS_COLS; c++)
		width[c] = strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		key_escape(e[i].key, true, keys[i], sizeof(keys[i]));
		if (strlen(keys[i]) > width[0])
			width[0] = strlen(keys[i]);
		if (strlen(e[i].path) > width[1])
			width[1] = strlen(e[i].path);
	}
	/* Counters are left-aligned in columns wide enough for 20 digits only
	 * when needed: measure them too. */
	for (size_t i = 0; i < n; i++) {
		const struct dmx_stats *s = &e[i].stats;
		uint64_t v[LS_COLS - 2] = { s->conns_accepted, s->conns_active, s->requests,
					    s->bytes_up, s->bytes_down, s->errors };

		for (int c = 2; c < LS_COLS; c++) {
			size_t w = (size_t)snprintf(NULL, 0, "%llu", (unsigned long long)v[c - 2]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < LS_COLS - 1; c++)
		printf("%-*s  ", (int)width[c], head[c]);
	printf("%s\n", head[LS_COLS - 1]);
	for (size_t i = 0; i < n; i++) {
		const struct dmx_stats *s = &e[i].stats;
		uint64_t v[LS_COLS - 2] = { s->conns_accepted, s->conns_active, s->requests,
					    s->bytes_up, s->bytes_down, s->errors };

		printf("%-*s  %-*s", (int)width[0], keys[i], (int)width[1], e[i].path);
		for (int c = 2; c < LS_COLS; c++)
			printf(c < LS_COLS - 1 ? "  %-*llu" : "  %*llu\n",
			       c < LS_COLS - 1 ? (int)width[c] : 0, (unsigned long long)v[c - 2]);
	}
	free(keys);
	return 0;
}

static int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct ctl_request req = { .op = CTL_OP_LIST };
	struct dmx_entry *entries = NULL;
	void *payload = NULL;
	bool json = false;
	size_t plen;
	int opt, status, n, ret;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("ls: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("ls: bad option");
		}
	}
	if (optind != argc)
		return bad_usage("ls: takes no arguments");
	ret = call_daemon(control, &req, &status, &payload, &plen);
	if (ret)
		return ret;
	if (status < 0)
		return fail("ls", status);
	/* First pass validates and counts; the payload bounds the count. */
	n = ctl_list_decode(payload, plen, NULL, 0);
	if (n > 0) {
		entries = calloc((size_t)n, sizeof(*entries));
		if (!entries)
			n = -ENOMEM;
		else
			n = ctl_list_decode(payload, plen, entries, (size_t)n);
	}
	free(payload);
	if (n < 0) {
		free(entries);
		return fail("ls: reply from the daemon", n);
	}
	if (json)
		ls_json(entries, (size_t)n);
	else
		ret = ls_table(entries, (size_t)n);
	free(entries);
	if (ret)
		return ret;
	return fflush(stdout) == 0 ? 0 : fail("stdout", -errno);
}

/* ---- stats ---- */

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct ctl_request req = { .op = CTL_OP_STATS };
	struct dmx_stats st;
	void *payload = NULL;
	size_t plen;
	int opt, status, ret;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("stats: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("stats: bad option");
		}
	}
	if (optind < argc - 1)
		return bad_usage("stats: at most one KEY");
	if (optind == argc - 1 && request_key(&req, argv[optind]) < 0)
		return bad_usage("stats: KEY must be 1..%d bytes", DMX_KEY_MAX);
	ret = call_daemon(control, &req, &status, &payload, &plen);
	if (ret)
		return ret;
	if (status < 0)
		return req.key_len ? fail_key("stats", req.key, status) : fail("stats", status);
	ret = ctl_stats_decode(payload, plen, &st);
	free(payload);
	if (ret < 0)
		return fail("stats: reply from the daemon", ret);
	printf("containers %llu\n"
	       "conns_accepted %llu\n"
	       "conns_active %llu\n"
	       "requests %llu\n"
	       "bytes_up %llu\n"
	       "bytes_down %llu\n"
	       "errors %llu\n"
	       "responses_1xx %llu\n"
	       "responses_2xx %llu\n"
	       "responses_3xx %llu\n"
	       "responses_4xx %llu\n"
	       "responses_5xx %llu\n"
	       "denied %llu\n",
	       (unsigned long long)st.containers, (unsigned long long)st.conns_accepted,
	       (unsigned long long)st.conns_active, (unsigned long long)st.requests,
	       (unsigned long long)st.bytes_up, (unsigned long long)st.bytes_down,
	       (unsigned long long)st.errors, (unsigned long long)st.responses[1],
	       (unsigned long long)st.responses[2], (unsigned long long)st.responses[3],
	       (unsigned long long)st.responses[4], (unsigned long long)st.responses[5],
	       (unsigned long long)st.denied);
	return fflush(stdout) == 0 ? 0 : fail("stdout", -errno);
}

/* ---- path ---- */

static int cmd_path(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	char path[DMX_PATH_MAX];
	int opt, ret;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("path: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("path: bad option");
		}
	}
	if (optind != argc - 1)
		return bad_usage("path: expected exactly one KEY");
	ret = dmx_path_in(dir, argv[optind], path, sizeof(path));
	if (ret < 0)
		return fail_key("path", argv[optind], ret);
	printf("%s\n", path);
	return fflush(stdout) == 0 ? 0 : fail("stdout", -errno);
}

/* ---- serve ---- */

struct daemon {
	dmx *dmx;
	int listen_fd;
	int wake_fd;            /* eventfd: tells the control thread to stop */
	uid_t uid;              /* besides root, the only uid the control socket serves */
	const char *control;
	dev_t control_dev;      /* identity of the socket file we bound, so we */
	ino_t control_ino;      /* unlink only ours at exit */
};

/* mkdir -p of path's parent, new directories 0700 (existing ones untouched). */
static int control_mkparent(const char *path)
{
	char dir[DMX_PATH_MAX];
	char *slash;
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/* Bind and listen on the control socket, mode 0600 from its first instant.
 * A leftover socket file is replaced only when nothing answers on it. */
static int control_listen(struct daemon *dm, const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(dm->control);
	struct stat st;
	mode_t old;
	int fd, ret;

	*why = NULL;
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, dm->control, len + 1);
	ret = control_mkparent(dm->control);
	if (ret < 0) {
		*why = "creating its directory";
		return ret;
	}
	if (lstat(dm->control, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*why = "exists and is not a socket; refusing to replace it";
			return -EEXIST;
		}
		fd = ctl_connect(dm->control);
		if (fd >= 0) {
			close(fd);
			*why = "another dockmux daemon is answering on it";
			return -EADDRINUSE;
		}
		if (fd != -ECONNREFUSED) {
			*why = "probing the existing socket";
			return fd;
		}
		if (unlink(dm->control) < 0 && errno != ENOENT) {
			*why = "removing the stale socket";
			return -errno;
		}
	} else if (errno != ENOENT) {
		return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux gives a bound socket file the mode of the socket inode minus the
	 * umask. Narrow both before bind: no moment with looser permissions. No
	 * other thread exists yet, so the process-wide umask change races nothing. */
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto err;
	}
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (ret < 0) {
		*why = "bind";
		goto err;
	}
	if (lstat(dm->control, &st) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		unlink(dm->control);
		goto err;
	}
	dm->control_dev = st.st_dev;
	dm->control_ino = st.st_ino;
	dm->listen_fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

static void control_unlink(const struct daemon *dm)
{
	struct stat st;

	if (lstat(dm->control, &st) == 0 && st.st_dev == dm->control_dev &&
	    st.st_ino == dm->control_ino)
		unlink(dm->control);
}

static int control_list(struct daemon *dm, int fd)
{
	struct dmx_entry *entries = NULL;
	size_t cap = 0;
	void *buf = NULL;
	size_t size;
	int n, ret;

	/* Containers may be spawned between two calls: grow until it fits. */
	for (;;) {
		n = dmx_list(dm->dmx, entries, cap);
		if (n < 0 || (size_t)n <= cap)
			break;
		free(entries);
		cap = (size_t)n + 16;
		entries = calloc(cap, sizeof(*entries));
		if (!entries) {
			n = -ENOMEM;
			break;
		}
	}
	if (n < 0) {
		ret = ctl_send_reply(fd, n, NULL, 0);
		goto out;
	}
	size = ctl_list_size(entries, (size_t)n);
	if (size > CTL_PAYLOAD_MAX) {
		ret = ctl_send_reply(fd, -EMSGSIZE, NULL, 0);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		ret = ctl_send_reply(fd, -ENOMEM, NULL, 0);
		goto out;
	}
	ret = ctl_list_encode(entries, (size_t)n, buf, size);
	if (ret < 0)
		ret = ctl_send_reply(fd, ret, NULL, 0);
	else
		ret = ctl_send_reply(fd, 0, buf, (size_t)ret);
out:
	free(buf);
	free(entries);
	return ret;
}

static void control_serve(struct daemon *dm, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { .tv_sec = CONTROL_IO_TIMEOUT_S };
	struct ctl_request req;
	struct dmx_stats st;
	struct log_line l;
	char path[DMX_PATH_MAX];
	uint8_t stats[CTL_STATS_LEN];
	int ret;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_begin(&l, "warn", "control peer credentials");
		log_err(&l, -errno);
		log_end(&l);
		return;
	}
	/* The socket is 0600 already; this also holds if someone loosens it. */
	if (cred.uid != 0 && cred.uid != dm->uid) {
		log_begin(&l, "warn", "control peer refused");
		log_num(&l, "uid", cred.uid);
		log_num(&l, "pid", cred.pid);
		log_end(&l);
		ctl_send_reply(fd, -EACCES, NULL, 0);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	ret = ctl_recv_request(fd, &req);
	if (ret < 0) {
		/* A peer that only connects (the stale-socket probe of a second
		 * daemon) is not worth a line. */
		if (ret != -ENODATA) {
			log_begin(&l, "warn", "bad control request");
			log_num(&l, "pid", cred.pid);
			log_err(&l, ret);
			log_end(&l);
			ctl_send_reply(fd, ret, NULL, 0);
		}
		return;
	}

	switch (req.op) {
	case CTL_OP_SPAWN:
		ret = dmx_spawn(dm->dmx, req.key, req.token, path, sizeof(path));
		explicit_bzero(req.token, sizeof(req.token));
		log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "spawn failed" : "spawn");
		log_str(&l, "key", req.key);
		if (ret < 0)
			log_err(&l, ret);
		else
			log_str(&l, "path", path);
		log_num(&l, "pid", cred.pid);
		log_end(&l);
		if (ret < 0)
			ctl_send_reply(fd, ret, NULL, 0);
		else
			ctl_send_reply(fd, 0, path, strlen(path));
		break;
	case CTL_OP_TEARDOWN:
		ret = dmx_teardown(dm->dmx, req.key);
		log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "teardown failed" : "teardown");
		log_str(&l, "key", req.key);
		if (ret < 0)
			log_err(&l, ret);
		log_num(&l, "pid", cred.pid);
		log_end(&l);
		ctl_send_reply(fd, ret, NULL, 0);
		break;
	case CTL_OP_LIST:
		control_list(dm, fd);
		break;
	case CTL_OP_STATS:
		ret = dmx_stats(dm->dmx, req.key_len ? req.key : NULL, &st);
		if (ret < 0) {
			ctl_send_reply(fd, ret, NULL, 0);
			break;
		}
		ctl_stats_encode(&st, stats);
		ctl_send_reply(fd, 0, stats, sizeof(stats));
		break;
	}
	explicit_bzero(&req, sizeof(req));
}

/* One client at a time, one request per connection: the control plane is
 * rare and small, and serializing it keeps spawn/teardown ordered. */
static void *control_thread(void *arg)
{
	struct daemon *dm = arg;
	struct pollfd pfd[2] = {
		{ .fd = dm->listen_fd, .events = POLLIN },
		{ .fd = dm->wake_fd, .events = POLLIN },
	};
	struct log_line l;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_begin(&l, "error", "control poll");
			log_err(&l, -errno);
			log_end(&l);
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		int fd = accept4(dm->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			/* A client gone before accept, or fd pressure: keep serving. */
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
				log_begin(&l, "warn", "control accept");
				log_err(&l, -errno);
				log_end(&l);
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
					poll(NULL, 0, 100);
			}
			continue;
		}
		control_serve(dm, fd);
		close(fd);
	}
	return NULL;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "dir", required_argument, NULL, 'd' },
		{ "rings", required_argument, NULL, 'r' },
		{ "token-header", required_argument, NULL, 'H' },
		{ "token-prefix", required_argument, NULL, 'P' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "socket-owner", required_argument, NULL, 'o' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon dm = { .listen_fd = -1, .wake_fd = -1, .control = DEFAULT_CONTROL };
	struct dmx_config cfg;
	struct log_line l;
	pthread_t thread;
	sigset_t sigs;
	unsigned long v;
	const char *why;
	int opt, sig, ret, status = 1;

	dmx_config_init(&cfg);
	cfg.log = log_library;
	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("serve: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': cfg.upstream = optarg; break;
		case 'd': cfg.socket_dir = optarg; break;
		case 'r':
			if (parse_ulong(optarg, 10, 256, &v) < 0)
				return bad_usage("serve: --rings takes 0..256 (0: one per CPU)");
			cfg.rings = (unsigned)v;
			break;
		case 'H': cfg.token_header = optarg; break;
		case 'P': cfg.token_prefix = optarg; break;
		case 'm':
			if (parse_ulong(optarg, 8, 0777, &v) < 0)
				return bad_usage("serve: --socket-mode takes an octal mode up to 0777");
			cfg.socket_mode = (unsigned)v;
			break;
		case 'o':
			if (parse_owner(optarg, &cfg.socket_uid, &cfg.socket_gid) < 0)
				return bad_usage("serve: --socket-owner takes UID[:GID] (numbers or names)");
			break;
		case 'c': dm.control = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("serve: bad option");
		}
	}
	if (optind != argc)
		return bad_usage("serve: takes no arguments");
	dm.uid = geteuid();

	/* Signals are taken by sigwait in this thread only; every thread
	 * created below (the rings too) inherits the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The control socket first: a second daemon must fail here, before it
	 * starts rings on the first one's socket directory. */
	/* Until "ready", a failure is a command-line error, reported like the
	 * other commands'; from then on everything goes through the log. */
	ret = control_listen(&dm, &why);
	if (ret < 0) {
		char what[DMX_PATH_MAX + 96];

		snprintf(what, sizeof(what), "control socket %s%s%s", dm.control,
			 why ? ": " : "", why ? why : "");
		return fail(what, ret);
	}
	dm.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (dm.wake_fd < 0) {
		fail("eventfd", -errno);
		goto out_control;
	}
	ret = dmx_open(&cfg, &dm.dmx);
	if (ret < 0) {
		fail(ret == -EINVAL ? "serve: invalid configuration (check --token-header, "
				      "--token-prefix, --socket-mode, --rings)"
				    : "serve: starting the rings", ret);
		goto out_control;
	}
	ret = -pthread_create(&thread, NULL, control_thread, &dm);
	if (ret < 0) {
		fail("control thread", ret);
		goto out_dmx;
	}
	log_begin(&l, "info", "ready");
	log_str(&l, "control", dm.control);
	log_str(&l, "upstream", cfg.upstream ? cfg.upstream : "/var/run/docker.sock");
	log_str(&l, "dir", cfg.socket_dir ? cfg.socket_dir : "/run/dockmux");
	/* 0 means one ring per online CPU, as dmx_open counts them. */
	log_num(&l, "rings", cfg.rings ? cfg.rings : sysconf(_SC_NPROCESSORS_ONLN));
	log_end(&l);

	do {
		ret = sigwait(&sigs, &sig);
	} while (ret == EINTR);
	log_begin(&l, "info", "stopping");
	log_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	log_end(&l);

	/* Stop taking requests before the rings go, so no spawn lands on a
	 * closing handle. */
	if (eventfd_write(dm.wake_fd, 1) == 0)
		pthread_join(thread, NULL);
	status = 0;
out_dmx:
	dmx_close(dm.dmx);
out_control:
	if (dm.listen_fd >= 0)
		close(dm.listen_fd);
	control_unlink(&dm);
	if (dm.wake_fd >= 0)
		close(dm.wake_fd);
	if (status == 0) {
		log_begin(&l, "info", "stopped");
		log_end(&l);
	}
	return status;
}

/* ---- main ---- */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "serve", cmd_serve },
	{ "spawn", cmd_spawn },
	{ "teardown", cmd_teardown },
	{ "ls", cmd_ls },
	{ "stats", cmd_stats },
	{ "path", cmd_path },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage("missing COMMAND");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("dockmux %d.%d\n", DMX_VERSION_MAJOR, DMX_VERSION_MINOR);
		return 0;
	}
	opterr = 0;  /* our own messages: getopt's would echo option values */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return bad_usage("unknown option (a COMMAND comes first)");
	return bad_usage("unknown command");
}
