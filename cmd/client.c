/* cmd/client.c: the commands that talk to `dockmux serve` over the control
 * socket (spawn, teardown, ls, stats) and the pure `path`. They turn options
 * into one request and the reply into text; the daemon and the library decide.
 * The token is read from a file or stdin, never argv, and wiped once sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "dockmux.h"

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
	char what[KEY_ESCAPED_MAX + 200];
	const char *why = "";

	key_escape(key, false, esc, sizeof(esc));
	if (err == -EEXIST && strcmp(op, "spawn") == 0)
		why = " (another key's hash owns its socket path, or a non-socket file is in the way)";
	else if (err == -EADDRINUSE && strcmp(op, "spawn") == 0)
		why = " (another process is listening on this container's socket path: not replacing it)";
	else if (err == -EINVAL && strcmp(op, "spawn") == 0)
		why = " (keys are 1..255 bytes; tokens 1..4096 bytes without control characters;"
		      " or the daemon refused the policy: see its log)";
	else if (err == -EOPNOTSUPP)
		why = " (the daemon does not know this request: is it older than this dockmux?)";
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

/* Append item to a list of at most max bytes in buf, after sep unless the
 * list is empty: repeated --allow and --deny add up. -EMSGSIZE when over. */
static int list_append(char *buf, size_t *len, size_t max, char sep, const char *item)
{
	size_t n = strlen(item), extra = *len ? 1 : 0;

	if (n + extra > max - *len)
		return -EMSGSIZE;
	if (extra)
		buf[(*len)++] = sep;
	memcpy(buf + *len, item, n + 1);
	*len += n;
	return 0;
}

/* The policy options of spawn, gathered before the request is built. */
struct spawn_policy {
	bool read_only;
	bool has_allow;
	size_t allow_len, deny_len, nuids;
	char allow[CTL_ALLOW_MAX + 1];
	char deny[CTL_DENY_MAX + 1];
	uid_t uids[CTL_UIDS_MAX];
};

/* One policy option into sp: 0, or 1 after printing why it is refused (the
 * value is a rule or a user name, never a secret, so it may be echoed). */
static int spawn_policy_opt(struct spawn_policy *sp, int opt, const char *arg)
{
	switch (opt) {
	case 'r':
		sp->read_only = true;
		return 0;
	case 'a':
		sp->has_allow = true;
		if (list_append(sp->allow, &sp->allow_len, CTL_ALLOW_MAX, ',', arg) < 0)
			break;
		return 0;
	case 'd':
		if (list_append(sp->deny, &sp->deny_len, CTL_DENY_MAX, ';', arg) < 0)
			break;
		return 0;
	case 'u':
		if (sp->nuids == CTL_UIDS_MAX) {
			fprintf(stderr, "dockmux: spawn: at most %d --uid\n", CTL_UIDS_MAX);
			return 1;
		}
		if (parse_uid(arg, &sp->uids[sp->nuids]) < 0) {
			fprintf(stderr, "dockmux: spawn: --uid %s: not a uid number or a user name\n",
				arg);
			return 1;
		}
		sp->nuids++;
		return 0;
	}
	fprintf(stderr, "dockmux: spawn: --%s: longer than %d bytes in all\n",
		opt == 'a' ? "allow" : "deny", opt == 'a' ? CTL_ALLOW_MAX : CTL_DENY_MAX);
	return 1;
}

/* Judge the policy here, with the library's own check, so a mistake is named
 * before a token is read or anything reaches the daemon (whose reply could
 * only say EINVAL). Fills req's policy: 0, or 1 after printing. */
static int spawn_policy_set(const struct spawn_policy *sp, struct ctl_request *req)
{
	struct dmx_policy pol = {
		.read_only = sp->read_only,
		.allow = sp->has_allow ? sp->allow : NULL,
		.deny = sp->deny_len ? sp->deny : NULL,
		.uids = sp->uids,
		.nuids = sp->nuids,
	};
	const char *why = "invalid";
	int ret;

	/* The library reads "" as every area: the opposite of what an empty
	 * allowlist on a command line looks like. */
	if (sp->has_allow && sp->allow_len == 0) {
		fputs("dockmux: spawn: --allow needs at least one API area (leave it out to "
		      "allow every area)\n", stderr);
		return 1;
	}
	ret = dmx_policy_check(&pol, &why);
	if (ret < 0) {
		fprintf(stderr, "dockmux: spawn: %s\n", why);
		return 1;
	}
	ret = ctl_request_set_policy(req, &pol);
	if (ret < 0)
		return fail("spawn: policy", ret);
	return 0;
}

int cmd_spawn(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'f' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "allow", required_argument, NULL, 'a' },
		{ "deny", required_argument, NULL, 'd' },
		{ "uid", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL, *token_file = NULL, *why = NULL;
	/* ~40 KiB each: static, not on the stack of a short-lived command. */
	static struct ctl_request req;
	static struct spawn_policy sp;
	char path[DMX_PATH_MAX];
	void *payload = NULL;
	size_t plen, tlen = 0;
	int opt, fd, status, ret;

	req.op = CTL_OP_SPAWN;
	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("spawn: the token is read from --token-file or stdin, never argv");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'f': token_file = optarg; break;
		case 'r':
		case 'a':
		case 'd':
		case 'u':
			if (spawn_policy_opt(&sp, opt, optarg))
				return 1;
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("spawn: bad option");
		}
	}
	if (optind != argc - 1)
		return bad_usage("spawn: expected exactly one KEY");
	if (request_key(&req, argv[optind]) < 0)
		return bad_usage("spawn: KEY must be 1..%d bytes", DMX_KEY_MAX);
	if (spawn_policy_set(&sp, &req))
		return 1;

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

int cmd_teardown(int argc, char **argv)
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

static void ls_json(const struct dmx_entry *e, size_t n)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct dmx_stats *s = &e[i].stats;

		fputs(i ? ",\n {\"key\":" : "\n {\"key\":", stdout);
		json_str(stdout, e[i].key);
		fputs(",\"path\":", stdout);
		json_str(stdout, e[i].path);
		fputs(",\"policy\":", stdout);
		json_str(stdout, e[i].policy);
		printf(",\"nuids\":%zu,\"conns_accepted\":%llu,\"conns_active\":%llu,\"requests\":%llu,"
		       "\"bytes_up\":%llu,\"bytes_down\":%llu,\"errors\":%llu,"
		       "\"responses\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},"
		       "\"denied\":%llu}",
		       e[i].nuids,
		       (unsigned long long)s->conns_accepted, (unsigned long long)s->conns_active,
		       (unsigned long long)s->requests, (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down, (unsigned long long)s->errors,
		       (unsigned long long)s->responses[1], (unsigned long long)s->responses[2],
		       (unsigned long long)s->responses[3], (unsigned long long)s->responses[4],
		       (unsigned long long)s->responses[5], (unsigned long long)s->denied);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

/* The table's columns. POLICY comes last: its description may hold spaces
 * ("deny=2 rules"), and a last column can without splitting the others. */
enum ls_col {
	LS_KEY, LS_PATH,
	LS_CONNS, LS_ACTIVE, LS_REQUESTS, LS_BYTES_UP, LS_BYTES_DOWN, LS_ERRORS,
	LS_4XX, LS_5XX, LS_DENIED, LS_UIDS,
	LS_POLICY, LS_COLS
};

static const char *const ls_head[LS_COLS] = {
	"KEY", "PATH", "CONNS", "ACTIVE", "REQUESTS", "BYTES_UP", "BYTES_DOWN", "ERRORS",
	"4XX", "5XX", "DENIED", "UIDS", "POLICY",
};

/* One row's cells as text; the path is the entry's own. */
struct ls_row {
	char key[KEY_ESCAPED_MAX];
	char policy[CTL_DESC_MAX * 4 + 1];
	char num[LS_POLICY - LS_CONNS][24];   /* LS_CONNS .. LS_UIDS */
};

static void ls_row_fill(struct ls_row *r, const struct dmx_entry *e)
{
	const struct dmx_stats *s = &e->stats;
	const uint64_t v[LS_UIDS - LS_CONNS] = {
		s->conns_accepted, s->conns_active, s->requests, s->bytes_up, s->bytes_down,
		s->errors, s->responses[4], s->responses[5], s->denied,
	};

	key_escape(e->key, true, r->key, sizeof(r->key));
	key_escape(e->policy, false, r->policy, sizeof(r->policy));
	for (int c = LS_CONNS; c < LS_UIDS; c++)
		snprintf(r->num[c - LS_CONNS], sizeof(r->num[0]), "%llu",
			 (unsigned long long)v[c - LS_CONNS]);
	if (e->nuids)
		snprintf(r->num[LS_UIDS - LS_CONNS], sizeof(r->num[0]), "%zu", e->nuids);
	else
		snprintf(r->num[LS_UIDS - LS_CONNS], sizeof(r->num[0]), "any");
}

static const char *ls_cell(const struct ls_row *r, const struct dmx_entry *e, int c)
{
	if (c == LS_KEY)
		return r->key;
	if (c == LS_PATH)
		return e->path;
	if (c == LS_POLICY)
		return r->policy;
	return r->num[c - LS_CONNS];
}

static void ls_line(const size_t width[LS_COLS], const char *const cell[LS_COLS])
{
	for (int c = 0; c < LS_COLS - 1; c++)
		printf("%-*s  ", (int)width[c], cell[c]);
	printf("%s\n", cell[LS_COLS - 1]);
}

/* Left-aligned columns as wide as their widest cell. */
static int ls_table(const struct dmx_entry *e, size_t n)
{
	struct ls_row *rows = NULL;
	const char *cell[LS_COLS];
	size_t width[LS_COLS];

	if (n) {
		rows = malloc(n * sizeof(*rows));
		if (!rows)
			return fail("ls", -ENOMEM);
	}
	for (int c = 0; c < LS_COLS; c++)
		width[c] = strlen(ls_head[c]);
	for (size_t i = 0; i < n; i++) {
		ls_row_fill(&rows[i], &e[i]);
		for (int c = 0; c < LS_COLS; c++) {
			size_t w = strlen(ls_cell(&rows[i], &e[i], c));

			if (w > width[c])
				width[c] = w;
		}
	}
	ls_line(width, ls_head);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < LS_COLS; c++)
			cell[c] = ls_cell(&rows[i], &e[i], c);
		ls_line(width, cell);
	}
	free(rows);
	return 0;
}

int cmd_ls(int argc, char **argv)
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

int cmd_stats(int argc, char **argv)
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

int cmd_path(int argc, char **argv)
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
