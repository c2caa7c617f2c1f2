/* api/dockmux.c: the public facade. Validates every argument, then turns each
 * call into a message to the ring that owns the key (hash % rings) and waits
 * for its answer. Holds no container state itself: that lives in the rings.
 */
#include "dockmux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mimalloc.h>

#include <sys/random.h>

#include "ascii.h"
#include "dircheck.h"
#include "inspect.h"
#include "keypath.h"
#include "policy.h"
#include "ring.h"

#define DMX_PUBLIC __attribute__((visibility("default")))

#define DMX_OWNER_LABEL "org.dockmux.owner"
#define DMX_OWNER_LABEL_MAX 256
#define DMX_INSPECT_BODY_MAX (64u << 20)
#define DMX_ALLOWLIST_MAX 1024   /* entries per allowlist: far more than a tenant needs */

struct dmx {
	struct engine *engine;
	unsigned nrings;
	char dir[KEYPATH_DIR_MAX];
	char owner_label[DMX_OWNER_LABEL_MAX];   /* isolation: the label's name */
	size_t max_inspect_body;
};

/* The isolation half of a policy, compiled for one owner value (the key's
 * hash, or a stand-in when only checking). */
static int dmx_inspect_compile(const struct dmx_policy *policy, const char *label,
			       const char *value, size_t max_body, struct inspect_policy **out,
			       const char **why)
{
	struct inspect_config ic = {
		.caps = policy ? policy->allow_caps : NULL,
		.ncaps = policy ? policy->nallow_caps : 0,
		.runtimes = policy ? policy->allow_runtimes : NULL,
		.nruntimes = policy ? policy->nallow_runtimes : 0,
		.binds = policy ? policy->allow_binds : NULL,
		.nbinds = policy ? policy->nallow_binds : 0,
		.label_name = label,
		.label_value = value,
		.max_body = max_body,
	};

	return inspect_policy_new(&ic, out, why);
}

/* What dmx_policy_check and a spawn both refuse before compiling anything. */
static int dmx_policy_shape(const struct dmx_policy *policy, const char **why)
{
	if (policy->nuids && !policy->uids) {
		*why = "uid list missing";
		return -EINVAL;
	}
	if (!policy->isolate &&
	    (policy->nallow_caps || policy->nallow_runtimes || policy->nallow_binds)) {
		*why = "--allow-cap, --allow-runtime and --allow-bind need isolation";
		return -EINVAL;
	}
	if (policy->nallow_caps > DMX_ALLOWLIST_MAX ||
	    policy->nallow_runtimes > DMX_ALLOWLIST_MAX || policy->nallow_binds > DMX_ALLOWLIST_MAX) {
		*why = "more than 1024 entries in an allowlist";
		return -E2BIG;
	}
	return 0;
}

DMX_PUBLIC void dmx_config_init(struct dmx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_uid = (uid_t)-1;
	cfg->socket_gid = (gid_t)-1;
}

/* RFC 9110 §5.6.2: a header name is a token. */
static bool dmx_is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* RFC 9110 §5.5 field-value bytes: no CR, LF, NUL or other controls, so a
 * token can never end the header line it is placed in. */
static bool dmx_is_field_value(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

static int dmx_engine_cfg(const struct dmx_config *cfg, struct engine_cfg *ec)
{
	const char *upstream = cfg->upstream ? cfg->upstream : "/var/run/docker.sock";
	const char *dir = cfg->socket_dir ? cfg->socket_dir : KEYPATH_DEFAULT_DIR;
	const char *header = cfg->token_header ? cfg->token_header : "Authorization";
	const char *prefix = cfg->token_prefix;
	size_t len;

	memset(ec, 0, sizeof(*ec));
	len = strlen(upstream);
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(ec->upstream.sun_path))
		return -ENAMETOOLONG;
	ec->upstream.sun_family = AF_UNIX;
	memcpy(ec->upstream.sun_path, upstream, len + 1);
	ec->upstream_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);

	len = strlen(dir);
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(ec->dir))
		return -ENAMETOOLONG;
	memcpy(ec->dir, dir, len + 1);

	if (!dmx_is_token(header) || strlen(header) >= sizeof(ec->token_header))
		return -EINVAL;
	strcpy(ec->token_header, header);
	ec->token_header_len = strlen(header);
	if (!prefix)
		prefix = strcasecmp(header, "Authorization") == 0 ? "Bearer " : "";
	if (strlen(prefix) >= sizeof(ec->token_prefix) ||
	    !dmx_is_field_value(prefix, strlen(prefix)))
		return -EINVAL;
	strcpy(ec->token_prefix, prefix);

	if (cfg->socket_mode & ~0777u)
		return -EINVAL;
	ec->socket_mode = cfg->socket_mode ? cfg->socket_mode : 0660;
	ec->socket_uid = cfg->socket_uid;
	ec->socket_gid = cfg->socket_gid;
	http_limits_default(&ec->limits);
	if (cfg->max_line)
		ec->limits.max_line = cfg->max_line;
	if (cfg->max_head) {
		if (cfg->max_head > 1024 * 1024 || cfg->max_head < 1024)
			return -EINVAL;
		ec->limits.max_head = cfg->max_head;
	}
	if (ec->limits.max_line > ec->limits.max_head)
		return -EINVAL;
	ec->max_body = cfg->max_body;
	ec->head_timeout_ms = cfg->head_timeout_ms ? cfg->head_timeout_ms : 30000;
	ec->max_conns = cfg->max_conns ? cfg->max_conns : 1024;
	ec->response_timeout_ms = cfg->response_timeout_ms;
	ec->in_cap = ec->limits.max_head;
	ec->out_cap = ec->limits.max_head + DMX_TOKEN_MAX + 512;
	ec->log = cfg->log;
	ec->log_userdata = cfg->log_userdata;
	ec->access_log = cfg->access_log;
	ec->access_userdata = cfg->access_userdata;
	return 0;
}

DMX_PUBLIC int dmx_open(const struct dmx_config *cfg, dmx **out)
{
	struct dmx_config defaults;
	struct engine_cfg ec;
	struct inspect_policy *probe;
	const char *label, *reason;
	size_t seed;
	char why[512];
	unsigned nrings;
	long ncpu;
	dmx *d;
	int ret;

	if (!out)
		return -EINVAL;
	if (!cfg) {
		dmx_config_init(&defaults);
		cfg = &defaults;
	}
	ret = dmx_engine_cfg(cfg, &ec);
	if (ret < 0)
		return ret;
	nrings = cfg->rings;
	if (nrings == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nrings = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (nrings > 256)
		return -EINVAL;
	label = cfg->owner_label ? cfg->owner_label : DMX_OWNER_LABEL;
	if (strlen(label) >= DMX_OWNER_LABEL_MAX || cfg->max_inspect_body > DMX_INSPECT_BODY_MAX)
		return -EINVAL;
	ret = dmx_inspect_compile(NULL, label, "0000000000000000", 0, &probe, &reason);
	if (ret < 0)
		return ret;
	inspect_policy_free(probe);
	/* jansson seeds its hash once per process from /dev/urandom on first
	 * use, which would be a ring thread's first inspection: do it here. */
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = 0;   /* jansson then reads /dev/urandom itself */
	inspect_seed(seed);
	ret = dircheck(ec.dir, true, why, sizeof(why));
	if (ret < 0) {
		if (cfg->log) {
			char msg[KEYPATH_DIR_MAX + sizeof(why) + 64];

			snprintf(msg, sizeof(msg), "socket directory %s refused: %s", ec.dir, why);
			cfg->log(cfg->log_userdata, 3, msg);
		}
		return ret;
	}
	d = mi_zalloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(d->dir, ec.dir, sizeof(d->dir));
	memcpy(d->owner_label, label, strlen(label) + 1);
	d->max_inspect_body = cfg->max_inspect_body ? (size_t)cfg->max_inspect_body
						   : INSPECT_DEFAULT_MAX_BODY;
	d->nrings = nrings;
	ret = engine_new(&ec, nrings, &d->engine);
	if (ret < 0) {
		mi_free(d);
		return ret;
	}
	*out = d;
	return 0;
}

DMX_PUBLIC void dmx_close(dmx *d)
{
	if (!d)
		return;
	engine_free(d->engine);
	mi_free(d);
}

DMX_PUBLIC int dmx_path_in(const char *socket_dir, const char *key, char *buf, size_t cap)
{
	char tmp[DMX_PATH_MAX];
	int ret;

	if (!buf)
		return -EINVAL;
	ret = keypath_format(socket_dir ? socket_dir : KEYPATH_DEFAULT_DIR, key, tmp, sizeof(tmp));
	if (ret < 0)
		return ret;
	if (strlen(tmp) + 1 > cap)
		return -ENOSPC;
	memcpy(buf, tmp, strlen(tmp) + 1);
	return 0;
}

DMX_PUBLIC int dmx_path(const dmx *d, const char *key, char *buf, size_t cap)
{
	if (!d)
		return -EINVAL;
	return dmx_path_in(d->dir, key, buf, cap);
}

/* Fill the key fields of cmd; returns the owning ring. */
static int dmx_cmd_key(const dmx *d, struct ring_cmd *cmd, const char *key)
{
	int len = keypath_check(key);

	if (len < 0)
		return len;
	cmd->key = key;
	cmd->keylen = (size_t)len;
	cmd->hash = keypath_hash(key, cmd->keylen);
	return (int)(cmd->hash % d->nrings);
}

DMX_PUBLIC int dmx_policy_check(const struct dmx_policy *policy, const char **why)
{
	struct inspect_policy *ip = NULL;
	struct policy *p = NULL;
	const char *reason = NULL;
	int ret;

	if (!policy)
		return 0;
	ret = dmx_policy_shape(policy, &reason);
	if (ret == 0)
		ret = policy_new(policy->read_only != 0, policy->allow, policy->deny, &p, &reason);
	policy_free(p);
	if (ret == 0 && policy->isolate) {
		/* The allowlists as a spawn compiles them (the label name is the
		 * handle's; the default one here). */
		ret = dmx_inspect_compile(policy, DMX_OWNER_LABEL, "0000000000000000", 0, &ip,
					  &reason);
		inspect_policy_free(ip);
	}
	if (ret < 0 && why)
		*why = reason;
	return ret;
}

/* dmx_spawn_policy, or with adopt_fd >= 0 dmx_adopt. */
static int dmx_spawn_cmd(dmx *d, const char *key, const char *token,
			 const struct dmx_policy *policy, int adopt_fd, char *path_out, size_t cap)
{
	struct ring_cmd cmd = { .op = RING_CMD_SPAWN, .adopt = adopt_fd >= 0,
				.adopt_fd = adopt_fd };
	const char *why;
	size_t tlen;
	int idx, ret;

	if (!d || !token || !path_out)
		return -EINVAL;
	idx = dmx_cmd_key(d, &cmd, key);
	if (idx < 0)
		return idx;
	tlen = strnlen(token, DMX_TOKEN_MAX + 1);
	if (tlen == 0 || tlen > DMX_TOKEN_MAX || !dmx_is_field_value(token, tlen))
		return -EINVAL;
	/* Check the caller's buffer before creating anything. */
	ret = dmx_path(d, key, cmd.path, sizeof(cmd.path));
	if (ret < 0)
		return ret;
	if (strlen(cmd.path) + 1 > cap)
		return -ENOSPC;
	if (policy) {
		if (policy->nuids > 65536)
			return -EINVAL;
		ret = dmx_policy_shape(policy, &why);
		if (ret < 0)
			return ret;
		/* The policy is compiled here, on the caller's thread; the ring
		 * only swaps a pointer. */
		if (!(policy->read_only == 0 && !policy->allow && !policy->deny)) {
			ret = policy_new(policy->read_only != 0, policy->allow, policy->deny,
					 &cmd.policy, &why);
			if (ret < 0)
				return ret;
		}
		if (policy->isolate) {
			char owner[17];

			/* The owner value is the socket file's name: what an
			 * operator sees in `ls` and on every labelled object. */
			snprintf(owner, sizeof(owner), "%016llx", (unsigned long long)cmd.hash);
			ret = dmx_inspect_compile(policy, d->owner_label, owner, d->max_inspect_body,
						  &cmd.inspect, &why);
			if (ret < 0)
				goto out;
		}
		cmd.audit = policy->audit != 0;
		if (policy->nuids) {
			cmd.uids = mi_malloc(policy->nuids * sizeof(uid_t));
			if (!cmd.uids) {
				ret = -ENOMEM;
				goto out;
			}
			memcpy(cmd.uids, policy->uids, policy->nuids * sizeof(uid_t));
			cmd.nuids = policy->nuids;
		}
	}
	cmd.token = token;
	cmd.tokenlen = tlen;
	ret = engine_call(d->engine, (unsigned)idx, &cmd);
out:
	/* Not taken on failure: ours to free. */
	policy_free(cmd.policy);
	inspect_policy_free(cmd.inspect);
	mi_free(cmd.uids);
	if (ret < 0)
		return ret;
	memcpy(path_out, cmd.path, strlen(cmd.path) + 1);
	return 0;
}

DMX_PUBLIC int dmx_spawn_policy(dmx *d, const char *key, const char *token,
				const struct dmx_policy *policy, char *path_out, size_t cap)
{
	return dmx_spawn_cmd(d, key, token, policy, -1, path_out, cap);
}

DMX_PUBLIC int dmx_adopt(dmx *d, const char *key, const char *token,
			 const struct dmx_policy *policy, int fd, char *path_out, size_t cap)
{
	if (fd < 0)
		return -EBADF;
	return dmx_spawn_cmd(d, key, token, policy, fd, path_out, cap);
}

DMX_PUBLIC int dmx_handoff(dmx *d, const char *key, int *fd_out)
{
	struct ring_cmd cmd = { .op = RING_CMD_HANDOFF, .adopt_fd = -1 };
	int idx, ret;

	if (!d || !fd_out)
		return -EINVAL;
	idx = dmx_cmd_key(d, &cmd, key);
	if (idx < 0)
		return idx;
	ret = engine_call(d->engine, (unsigned)idx, &cmd);
	if (ret < 0)
		return ret;
	*fd_out = cmd.adopt_fd;
	return 0;
}

DMX_PUBLIC int dmx_drain(dmx *d)
{
	int ret;

	if (!d)
		return -EINVAL;
	for (unsigned i = 0; i < d->nrings; i++) {
		struct ring_cmd cmd = { .op = RING_CMD_DRAIN };

		ret = engine_call(d->engine, i, &cmd);
		if (ret < 0)
			return ret;
	}
	return 0;
}

DMX_PUBLIC unsigned dmx_rings(const dmx *d)
{
	return d ? d->nrings : 0;
}

DMX_PUBLIC int dmx_ring_stats(dmx *d, unsigned ring, struct dmx_ring_stats *out)
{
	struct ring_cmd cmd = { .op = RING_CMD_RSTATS };
	int ret;

	if (!d || !out || ring >= d->nrings)
		return -EINVAL;
	ret = engine_call(d->engine, ring, &cmd);
	if (ret < 0)
		return ret;
	*out = cmd.rstats;
	return 0;
}

DMX_PUBLIC int dmx_spawn(dmx *d, const char *key, const char *token, char *path_out, size_t cap)
{
	return dmx_spawn_policy(d, key, token, NULL, path_out, cap);
}

DMX_PUBLIC int dmx_teardown(dmx *d, const char *key)
{
	struct ring_cmd cmd = { .op = RING_CMD_TEARDOWN };
	int idx;

	if (!d)
		return -EINVAL;
	idx = dmx_cmd_key(d, &cmd, key);
	if (idx < 0)
		return idx;
	return engine_call(d->engine, (unsigned)idx, &cmd);
}

DMX_PUBLIC int dmx_stats(dmx *d, const char *key, struct dmx_stats *out)
{
	struct dmx_stats total = { 0 };
	int idx, ret;

	if (!d || !out)
		return -EINVAL;
	if (key) {
		struct ring_cmd cmd = { .op = RING_CMD_STATS };

		idx = dmx_cmd_key(d, &cmd, key);
		if (idx < 0)
			return idx;
		ret = engine_call(d->engine, (unsigned)idx, &cmd);
		if (ret < 0)
			return ret;
		*out = cmd.stats;
		return 0;
	}
	for (unsigned i = 0; i < d->nrings; i++) {
		struct ring_cmd cmd = { .op = RING_CMD_STATS };

		ret = engine_call(d->engine, i, &cmd);
		if (ret < 0)
			return ret;
		ring_stats_add(&total, &cmd.stats);
	}
	*out = total;
	return 0;
}

DMX_PUBLIC int dmx_list(dmx *d, struct dmx_entry *entries, size_t cap)
{
	size_t count = 0;
	int ret;

	if (!d || (!entries && cap))
		return -EINVAL;
	for (unsigned i = 0; i < d->nrings; i++) {
		struct ring_cmd cmd = { .op = RING_CMD_LIST, .entries = entries,
					.cap = cap, .count = count };

		ret = engine_call(d->engine, i, &cmd);
		if (ret < 0)
			return ret;
		count = cmd.count;
	}
	return count > (size_t)0x7fffffff ? 0x7fffffff : (int)count;
}

/* The cursor is (ring, serial, hash) of the last entry returned: pages walk
 * ring 0's containers in spawn order, then ring 1's, and so on. */
DMX_PUBLIC int dmx_list_page(dmx *d, struct dmx_list_cursor *cur, struct dmx_entry *entries,
			     size_t cap)
{
	uint64_t ring, serial, hash;
	size_t n = 0;
	int ret;

	if (!d || !cur || !entries || cap == 0)
		return -EINVAL;
	if (cap > 0x7fffffff)
		cap = 0x7fffffff;
	ring = cur->pos[0];
	serial = cur->pos[1];
	hash = cur->pos[2];
	while (n < cap && ring < d->nrings) {
		struct ring_cmd cmd = { .op = RING_CMD_LIST_PAGE, .entries = entries + n,
					.cap = cap - n, .cursor_serial = serial,
					.cursor_hash = hash };

		ret = engine_call(d->engine, (unsigned)ring, &cmd);
		if (ret < 0)
			return ret;
		n += cmd.count;
		if (cmd.more) {
			serial = cmd.cursor_serial;
			hash = cmd.cursor_hash;
		} else {
			ring++;
			serial = hash = 0;
		}
	}
	cur->pos[0] = ring;
	cur->pos[1] = serial;
	cur->pos[2] = hash;
	return (int)n;
}

DMX_PUBLIC int dmx_dir_check(const char *dir, unsigned flags, char *why, size_t cap)
{
	if (why && cap)
		why[0] = '\0';
	if (!dir || !*dir || (flags & ~DMX_DIR_CREATE))
		return -EINVAL;
	return dircheck(dir, flags & DMX_DIR_CREATE, why, cap);
}

DMX_PUBLIC const char *dmx_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument (key must be 1..255 bytes, token 1..4096 bytes without control characters)";
	case -EEXIST:
		return "another key already owns this socket path (hash collision), or a non-socket file is in the way";
	case -EADDRINUSE:
		return "another process listens on this container's socket path (it is left alone)";
	case -ENAMETOOLONG:
		return "socket path longer than sun_path allows";
	case -ENOSPC:
		return "output buffer too small";
	case -ENOENT:
		return "no such container";
	case -ENOMEM:
		return "out of memory";
	case -EMFILE:
		return "too many open files";
	case -ENFILE:
		return "the ring's registered file table is full (see RLIMIT_NOFILE)";
	case -ESHUTDOWN:
		return "draining: no new containers";
	case -EBADF:
		return "bad file descriptor";
	case -EACCES:
		return "permission denied";
	case -EPERM:
		return "not permitted (dmx_open: the socket directory or one above it could be "
		       "changed by another user; the log callback says which)";
	case -ENOTDIR:
		return "not a directory (dmx_open: the socket directory is a symlink or a file)";
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}
