/* cmd/client.c: the commands that talk to `dockmux serve` over the control
 * socket (spawn, teardown, stats; ls is in client_ls.c, spawn --batch in
 * client_batch.c) and the pure `path`. They turn options into requests and
 * replies into text; the daemon and the library decide. The token is read
 * from a file or stdin, never argv, and wiped once sent. Every wait for the
 * daemon is bounded (--timeout).
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
#include "control_io.h"
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

int client_timeout(const char *arg, int *ms)
{
	unsigned long v;

	if (parse_ulong(arg, 10, 24ul * 3600, &v) < 0)
		return -EINVAL;
	*ms = (int)v * 1000;
	return 0;
}

int client_fail_transport(const char *control, int err)
{
	char what[DMX_PATH_MAX + 96];

	if (err == -ENOENT || err == -ECONNREFUSED)
		snprintf(what, sizeof(what), "control socket %s (is `dockmux serve` running?)", control);
	else if (err == -EACCES || err == -EPERM)
		snprintf(what, sizeof(what), "control socket %s (only root or the daemon's user)", control);
	else if (err == -ETIMEDOUT)
		snprintf(what, sizeof(what), "control socket %s (no answer in time: see --timeout)",
			 control);
	else
		snprintf(what, sizeof(what), "control socket %s", control);
	return fail(what, err);
}

/* Run one request against the daemon; prints transport errors itself.
 * Returns 0 with the daemon's *status, or 1 after printing. */
static int call_daemon(const char *control, const struct ctl_request *req, int *status,
		       void **payload, size_t *len, int timeout_ms)
{
	int ret = ctl_call(control, req, status, payload, len, timeout_ms);

	return ret == 0 ? 0 : client_fail_transport(control, ret);
}

const char *client_why(const char *op, int err)
{
	if (err == -EEXIST && strcmp(op, "spawn") == 0)
		return " (another key's hash owns its socket path, or a non-socket file is in the way)";
	if (err == -EADDRINUSE && strcmp(op, "spawn") == 0)
		return " (another process is listening on this container's socket path: not replacing it)";
	if (err == -EINVAL && strcmp(op, "spawn") == 0)
		return " (keys are 1..255 bytes; tokens 1..4096 bytes without control characters;"
		       " or the daemon refused the policy: see its log)";
	if (err == -EOPNOTSUPP)
		return " (the daemon does not know this request: is it older than this dockmux?)";
	if (err == -EINVAL)
		return " (keys are 1..255 bytes)";
	if (err == -ENOENT && strcmp(op, "stats") == 0)
		return " (no such container)";
	if (err == -EACCES)
		return " (only root or the daemon's user may use the control socket)";
	if (err == -EMFILE || err == -ENFILE)
		return " (the daemon is out of file descriptors)";
	if (err == -EAGAIN)
		return " (the daemon has too many control clients: try again)";
	if ((err == -EIO || err == -ENOSPC || err == -EDQUOT || err == -EROFS) &&
	    (strcmp(op, "spawn") == 0 || strcmp(op, "teardown") == 0))
		return " (the daemon could not write its state file: the change is in effect but would"
		       " not survive a restart; see its log)";
	return "";
}

/* Report a daemon-side error for an operation on key. */
static int fail_key(const char *op, const char *key, int err)
{
	char esc[KEY_ESCAPED_MAX];
	char what[KEY_ESCAPED_MAX + 300];

	key_escape(key, false, esc, sizeof(esc));
	snprintf(what, sizeof(what), "%s \"%s\"%s", op, esc, client_why(op, err));
	return fail(what, err);
}

/* ---- spawn ---- */

int client_token_check(const char *t, size_t n, const char **why)
{
	if (n == 0) {
		*why = "empty";
		return -ENODATA;
	}
	if (n > DMX_TOKEN_MAX) {
		*why = "longer than 4096 bytes";
		return -EMSGSIZE;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)t[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			*why = "contains a NUL, newline or other control character";
			return -EINVAL;
		}
	}
	return 0;
}

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
	ret = client_token_check(buf, n, why);
	if (ret < 0)
		goto out;
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
	bool isolate;
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
	case 'i':
		sp->isolate = true;
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
		.isolate = sp->isolate,
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
		{ "isolate", no_argument, NULL, 'i' },
		{ "allow", required_argument, NULL, 'a' },
		{ "deny", required_argument, NULL, 'd' },
		{ "uid", required_argument, NULL, 'u' },
		{ "batch", no_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL, *token_file = NULL, *why = NULL;
	int timeout_ms = CTL_TIMEOUT_MS_DEFAULT;
	bool batch = false;
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
		case 'b': batch = true; break;
		case 't':
			if (client_timeout(optarg, &timeout_ms) < 0)
				return bad_usage("spawn: --timeout takes seconds (0: wait forever)");
			break;
		case 'r':
		case 'i':
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
	if (batch) {
		if (optind != argc)
			return bad_usage("spawn --batch: keys and tokens come from stdin, not arguments");
		if (token_file)
			return bad_usage("spawn --batch: tokens come from stdin (KEY<TAB>TOKEN lines)");
		if (spawn_policy_set(&sp, &req))
			return 1;
		return spawn_batch(control, &req, timeout_ms);
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

	ret = call_daemon(control, &req, &status, &payload, &plen, timeout_ms);
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
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct ctl_request req = { .op = CTL_OP_TEARDOWN };
	void *payload = NULL;
	size_t plen;
	int opt, status, ret, timeout_ms = CTL_TIMEOUT_MS_DEFAULT;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("teardown: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 't':
			if (client_timeout(optarg, &timeout_ms) < 0)
				return bad_usage("teardown: --timeout takes seconds (0: wait forever)");
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("teardown: bad option");
		}
	}
	if (optind != argc - 1)
		return bad_usage("teardown: expected exactly one KEY");
	if (request_key(&req, argv[optind]) < 0)
		return bad_usage("teardown: KEY must be 1..%d bytes", DMX_KEY_MAX);
	ret = call_daemon(control, &req, &status, &payload, &plen, timeout_ms);
	if (ret)
		return ret;
	free(payload);
	if (status < 0)
		return fail_key("teardown", req.key, status);
	return 0;
}

/* ---- stats ---- */

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct ctl_request req = { .op = CTL_OP_STATS };
	struct dmx_stats st;
	void *payload = NULL;
	size_t plen;
	int opt, status, ret, timeout_ms = CTL_TIMEOUT_MS_DEFAULT;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("stats: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 't':
			if (client_timeout(optarg, &timeout_ms) < 0)
				return bad_usage("stats: --timeout takes seconds (0: wait forever)");
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("stats: bad option");
		}
	}
	if (optind < argc - 1)
		return bad_usage("stats: at most one KEY");
	if (optind == argc - 1 && request_key(&req, argv[optind]) < 0)
		return bad_usage("stats: KEY must be 1..%d bytes", DMX_KEY_MAX);
	ret = call_daemon(control, &req, &status, &payload, &plen, timeout_ms);
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
