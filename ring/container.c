/* ring/container.c: one container's listener on its ring: spawn (bind,
 * listen, register as a direct descriptor), accept, token and policy
 * rotation, teardown, and the handoff of a listener to another process.
 *
 * Listeners live only in the ring's registered file table (io_uring direct
 * descriptors), not in the process fd table: the number of containers is
 * bounded by the table (RING_FILES_MAX per ring), not by `ulimit -n`. A
 * listener is a process fd only between socket() and the registration, and
 * again when it is handed to another process.
 */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mimalloc.h>

#include "conn.h"

#define RING_LISTEN_BACKLOG 1024
/* Not in bookworm's liburing 2.3 headers; kernel 6.8+. */
#define DMX_IORING_OP_FIXED_FD_INSTALL 54

void container_accept_arm(struct container *ctr)
{
	struct io_uring_sqe *sqe = ring_sqe(ctr->ring);

	/* ctr->lfd is a slot of the registered file table. */
	io_uring_prep_multishot_accept(sqe, ctr->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT));
	ctr->inflight++;
}

/* After an accept error (EMFILE, ENOMEM) wait before re-arming, or a full
 * fd table would make accept fail and re-arm in a busy loop. */
static void container_accept_later(struct container *ctr)
{
	static const struct __kernel_timespec delay = { .tv_nsec = 100 * 1000 * 1000 };
	struct io_uring_sqe *sqe = ring_sqe(ctr->ring);

	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&delay, 0, 0);
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT_RETRY));
	ctr->inflight++;
}

static int container_token_set(struct container *ctr, const struct engine_cfg *cfg,
			       const char *token, size_t tokenlen)
{
	size_t hlen = cfg->token_header_len, plen = strlen(cfg->token_prefix);
	size_t len = hlen + 2 + plen + tokenlen + 2;
	char *line = secret_alloc(&ctr->ring->secrets, len + 1);

	if (!line)
		return -ENOMEM;
	memcpy(line, cfg->token_header, hlen);
	memcpy(line + hlen, ": ", 2);
	memcpy(line + hlen + 2, cfg->token_prefix, plen);
	memcpy(line + hlen + 2 + plen, token, tokenlen);
	memcpy(line + len - 2, "\r\n", 3);
	secret_free(&ctr->ring->secrets, ctr->token_line, ctr->token_len + 1);
	ctr->token_line = line;
	ctr->token_len = len;
	return 0;
}

static bool container_token_equals(const struct container *ctr, const struct engine_cfg *cfg,
				   const char *token, size_t tokenlen)
{
	size_t off = cfg->token_header_len + 2 + strlen(cfg->token_prefix);

	return ctr->token_len == off + tokenlen + 2 &&
	       memcmp(ctr->token_line + off, token, tokenlen) == 0;
}

/* Take the spawn's policy and uid set (replacing the old ones: like the
 * token, they apply to requests and connections from now on). */
static void container_policy_set(struct container *ctr, struct ring_cmd *cmd)
{
	policy_free(ctr->policy);
	mi_free(ctr->uids);
	ctr->policy = cmd->policy;
	ctr->uids = cmd->uids;
	ctr->nuids = cmd->nuids;
	cmd->policy = NULL;
	cmd->uids = NULL;
	cmd->nuids = 0;
}

void container_free(struct container *ctr)
{
	/* A handed-off container may have parked daemon connections. */
	while (ctr->npool > 0)
		close(ctr->pool[--ctr->npool]);
	policy_free(ctr->policy);
	mi_free(ctr->uids);
	secret_free(&ctr->ring->secrets, ctr->token_line, ctr->token_len + 1);
	mi_free(ctr);
}

/* Stop accepting: cancel the multishot accept. Connections it already
 * accepted still arrive as CQEs and are served. */
void container_quiesce(struct ring *r, struct container *ctr)
{
	struct io_uring_sqe *sqe;

	if (!ctr->listening)
		return;
	ctr->listening = false;
	sqe = ring_sqe(r);
	io_uring_prep_cancel64(sqe, ring_tag(ctr, OP_ACCEPT), 0);
	io_uring_sqe_set_data64(sqe, ring_tag(ctr, OP_ACCEPT_CANCEL));
	ctr->inflight++;
}

/* Stop accepting and drop the listener from the file table. The pending
 * accept holds its own file reference until the cancel reaches it. */
static void container_listener_close(struct ring *r, struct container *ctr)
{
	container_quiesce(r, ctr);
	if (ctr->lfd >= 0)
		ring_file_unregister(r, ctr->lfd);
	ctr->lfd = -1;
}

/* ---- placing a new socket file ----
 * A socket is bound in the staging directory "<dir>/.dmx" as "<16 hex>"
 * (made 0700 by our euid: nobody else can add, swap or remove a name in it),
 * gets its owner and mode there through that directory's fd, listens, and
 * only then is renamed to "<dir>/<16 hex>.sock". So no chown or chmod goes
 * by a name that another writer of <dir> could have replaced with a
 * symlink, and the socket appears at its name complete. The kernel keeps the
 * name it was bound to (getsockname): the staging one, which names the key's
 * hash as well and is exactly as long as the final name, so every directory
 * that fits sun_path fits it. The staging directory stays while the handle
 * is open (one per directory, shared with another handle or process on it,
 * so a spawn never creates or removes a directory: that costs a block
 * allocation and, with discard, a synchronous discard on ext4);
 * container_stage_remove takes it away. */
#define CONTAINER_STAGE ".dmx"

/* path = "<dir>/<16 hex>.sock": its staged name "<dir>/.dmx/<16 hex>". */
static int container_stage_addr(const char *path, struct sockaddr_un *sa)
{
	const char *name = strrchr(path, '/') + 1;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%.*s/" CONTAINER_STAGE "/%.16s",
			 (int)(name - 1 - path), path, name);

	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* A listener received from another dockmux (takeover) must be a listening
 * stream socket bound to this container's path, or to its staged name (how
 * this version binds, see above). */
static int container_adopt_check(int fd, const char *path)
{
	struct sockaddr_un sa, staged;
	socklen_t len = sizeof(sa);
	size_t n;
	int val = 0;
	socklen_t vlen = sizeof(val);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	if (sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path))
		return -EINVAL;
	n = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	if (container_stage_addr(path, &staged) < 0)
		return -EINVAL;
	if (!(n == strlen(path) && memcmp(sa.sun_path, path, n) == 0) &&
	    !(n == strlen(staged.sun_path) && memcmp(sa.sun_path, staged.sun_path, n) == 0))
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &vlen) < 0)
		return -errno;
	if (!val)
		return -EINVAL;
	return 0;
}

/* Open "<dir>/.dmx", making it if needed, without following a symlink: it
 * must be a directory of our euid that nobody else may enter. */
static int container_stage_open(int dfd)
{
	struct stat st;
	int sfd;

	if (mkdirat(dfd, CONTAINER_STAGE, 0700) < 0 && errno != EEXIST)
		return -errno;
	sfd = openat(dfd, CONTAINER_STAGE, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -EEXIST : -errno;
	if (fstat(sfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(sfd);
		return -EEXIST;   /* not ours: neither to use nor to remove */
	}
	return sfd;
}

void container_stage_remove(const char *dir)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	/* Not empty: another handle or process is placing a socket. */
	if (dfd >= 0) {
		(void)unlinkat(dfd, CONTAINER_STAGE, AT_REMOVEDIR);
		close(dfd);
	}
}

/* Does anyone listen on the socket file at path? 0: nobody (a stale file of
 * a previous run), -EADDRINUSE: a listener took the connection or has a full
 * backlog; else -errno (-ENOENT: gone meanwhile). */
static int container_probe(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? -EADDRINUSE : -errno;
	close(fd);
	if (ret == -EAGAIN)
		return -EADDRINUSE;
	return ret == -ECONNREFUSED ? 0 : ret;
}

/* Give the staged socket (name in sfd) its final name, never over anything
 * else: a stale socket file is removed first; a live one (another process
 * serves it: a second daemon, or an old one that kept it in a failed
 * takeover) or any other file is left alone. */
static int container_place(struct ring *r, int sfd, const char *name, int dfd, const char *path)
{
	const char *final = strrchr(path, '/') + 1;
	struct stat st;
	int ret;

	for (int tries = 0; tries < 3; tries++) {
		ret = renameat2(sfd, name, dfd, final, RENAME_NOREPLACE) < 0 ? -errno : 0;
		/* No RENAME_NOREPLACE on this file system: link(2) never replaces
		 * either; then the staged name goes. */
		if (ret == -EINVAL) {
			ret = linkat(sfd, name, dfd, final, 0) < 0 ? -errno : 0;
			if (ret == 0)
				(void)unlinkat(sfd, name, 0);
		}
		if (ret != -EEXIST)
			return ret;
		if (fstatat(dfd, final, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;   /* not ours to delete */
		ret = container_probe(path);
		if (ret == -EADDRINUSE)
			ring_log(r, 4, "another process listens on path=%s: not replacing it", path);
		if (ret == -ENOENT)
			continue;
		if (ret < 0)
			return ret;
		if (unlinkat(dfd, final, 0) < 0 && errno != ENOENT)
			return -errno;
	}
	return -EEXIST;
}

/* ---- handoff: give the listener to another process ----
 * IORING_OP_FIXED_FD_INSTALL turns the table slot back into a process fd;
 * once it is out, the container leaves the table (the new owner serves the
 * key from now on) and lives on only for its open connections, which finish
 * here. The socket file is never unlinked. */
int container_handoff_start(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	struct container *ctr;
	struct io_uring_sqe *sqe;

	if (ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it) != 0)
		return -ENOENT;
	ctr = (struct container *)it;
	if (ctr->handing)
		return -EBUSY;
	ctr->handing = true;
	cmd->ctr = ctr;
	sqe = ring_sqe(r);
	io_uring_prep_rw(DMX_IORING_OP_FIXED_FD_INSTALL, sqe, ctr->lfd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->rw_flags = 0;   /* install flags: 0 = O_CLOEXEC */
	io_uring_sqe_set_data64(sqe, ring_tag(cmd, OP_FD_INSTALL));
	ctr->inflight++;
	return 1;
}

void container_handoff_done(struct ring *r, struct ring_cmd *cmd, int res)
{
	struct container *ctr = cmd->ctr;

	ctr->inflight--;
	ctr->handing = false;
	if (res >= 0 && ctr->dead) {
		close(res);   /* torn down meanwhile */
		res = -ENOENT;
	}
	cmd->result = res < 0 ? res : 0;
	if (res < 0)
		return;
	cmd->adopt_fd = res;
	ctab_remove(&r->ctab, ctr->item.hash);
	ctr->handed = true;
	container_listener_close(r, ctr);
	/* The token stays: requests still arriving on its open connections
	 * are forwarded as before. container_free wipes it. */
	ctr->reap_next = r->reap_ctrs;
	r->reap_ctrs = ctr;
	ring_log(r, 6, "handed off path=%s conns=%llu", ctr->path,
		 (unsigned long long)ctr->stats.conns_active);
}

/* One try of container_listen with the staging directory sfd. */
static int container_listen_staged(struct ring *r, const char *path, int dfd, int sfd)
{
	const struct engine_cfg *cfg = r->cfg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	const char *name;
	int fd, ret;

	ret = container_stage_addr(path, &sa);
	if (ret < 0)
		return ret;
	name = strrchr(sa.sun_path, '/') + 1;
	/* A leftover of a crash between bind and rename: stale, ours. */
	if (unlinkat(sfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux creates the socket file with the socket inode's mode minus the
	 * umask: narrow it first so the file is never looser than asked. */
	(void)fchmod(fd, cfg->socket_mode & 0600);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* bind went by name through <dir> once more: if the staging directory
	 * was swapped for a symlink meanwhile, the file is not in the one we
	 * hold, and nothing more is done to it. */
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode)) {
		ring_log(r, 4, "staging directory of path=%s replaced during bind", path);
		close(fd);
		return -EAGAIN;
	}
	/* Nobody else can change a name in the staging directory: these act
	 * on our socket file. */
	if ((cfg->socket_uid != (uid_t)-1 || cfg->socket_gid != (gid_t)-1) &&
	    fchownat(sfd, name, cfg->socket_uid, cfg->socket_gid, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	else if (fchmodat(sfd, name, cfg->socket_mode, 0) < 0 ||
		 listen(fd, RING_LISTEN_BACKLOG) < 0)
		ret = -errno;
	else
		ret = container_place(r, sfd, name, dfd, path);
	if (ret < 0) {
		(void)unlinkat(sfd, name, 0);
		close(fd);
		return ret;
	}
	return fd;
}

/* A listening socket at path with the configured owner and mode (see
 * "placing a new socket file" above); the fd, or -errno. */
static int container_listen(struct ring *r, const char *path)
{
	int dfd, sfd, ret = -ENOENT;

	/* The directory passed dmx_open's check; it must still be one. */
	dfd = open(r->cfg->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* ENOENT: another handle on the directory removed the staging one
	 * between our open and our bind (its dmx_close): make it again. */
	for (int tries = 0; tries < 2 && ret == -ENOENT; tries++) {
		sfd = container_stage_open(dfd);
		if (sfd < 0) {
			ret = sfd;
			break;
		}
		ret = container_listen_staged(r, path, dfd, sfd);
		close(sfd);
	}
	close(dfd);
	return ret;
}

int container_spawn(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;
	struct container *ctr;
	int ret, fd;

	ret = ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it);
	if (ret == 0 && cmd->adopt)
		return -EEXIST;   /* two listeners for one key: keep ours */
	if (ret == 0) {
		ctr = (struct container *)it;
		if (!container_token_equals(ctr, r->cfg, cmd->token, cmd->tokenlen)) {
			ret = container_token_set(ctr, r->cfg, cmd->token, cmd->tokenlen);
			if (ret < 0)
				return ret;
			ring_log(r, 6, "token rotated path=%s", ctr->path);
		}
		container_policy_set(ctr, cmd);
		memcpy(cmd->path, ctr->path, sizeof(cmd->path));
		return 0;
	}
	if (ret == -EEXIST) {
		ring_log(r, 4, "hash collision: another key owns %016llx",
			 (unsigned long long)cmd->hash);
		return -EEXIST;
	}

	if (r->draining)
		return -ESHUTDOWN;
	ctr = mi_zalloc_aligned(sizeof(*ctr) + cmd->keylen + 1, 32);
	if (!ctr)
		return -ENOMEM;
	ctr->ring = r;
	ctr->lfd = -1;
	memcpy(ctr->key, cmd->key, cmd->keylen);
	ctr->item.hash = cmd->hash;
	ctr->item.key = ctr->key;
	ctr->item.keylen = cmd->keylen;
	ctr->stats.containers = 1;
	ret = keypath_format_hash(r->cfg->dir, cmd->hash, ctr->path, sizeof(ctr->path));
	if (ret < 0)
		goto err;
	ret = container_token_set(ctr, r->cfg, cmd->token, cmd->tokenlen);
	if (ret < 0)
		goto err;
	if (cmd->adopt) {
		ret = container_adopt_check(cmd->adopt_fd, ctr->path);
		fd = ret < 0 ? ret : cmd->adopt_fd;
	} else {
		fd = container_listen(r, ctr->path);
	}
	if (fd < 0) {
		ret = fd;
		goto err;
	}
	ret = ctab_insert(&r->ctab, &ctr->item);
	if (ret < 0)
		goto err_fd;
	ret = ring_file_register(r, fd);
	if (ret < 0) {
		ring_log(r, 4, "no room in the registered file table path=%s: %s", ctr->path,
			 strerror(-ret));
		ctab_remove(&r->ctab, ctr->item.hash);
		goto err_fd;
	}
	ctr->lfd = ret;
	/* The table holds its own reference: the process fd is not needed
	 * (an adopted one is ours once we succeed). */
	close(fd);
	container_policy_set(ctr, cmd);
	ctr->listening = true;
	container_accept_arm(ctr);
	memcpy(cmd->path, ctr->path, sizeof(cmd->path));
	return 0;
err_fd:
	/* An adopted socket is the caller's again: leave it and its file. */
	if (!cmd->adopt) {
		unlink(ctr->path);
		close(fd);
	}
err:
	container_free(ctr);
	return ret;
}

void container_kill(struct ring *r, struct container *ctr)
{
	ctab_remove(&r->ctab, ctr->item.hash);
	ctr->dead = true;
	/* Unlink first: from here on connect() fails with ENOENT. */
	unlink(ctr->path);
	container_listener_close(r, ctr);
	while (ctr->conns)
		conn_close(ctr->conns);
	while (ctr->npool > 0)
		close(ctr->pool[--ctr->npool]);
	explicit_bzero(ctr->token_line, ctr->token_len);
	ring_stats_add(&r->retired, &ctr->stats);
	r->retired.containers--;
	ctr->reap_next = r->reap_ctrs;
	r->reap_ctrs = ctr;
}

int container_teardown(struct ring *r, struct ring_cmd *cmd)
{
	struct ctab_item *it;

	if (ctab_lookup(&r->ctab, cmd->hash, cmd->key, cmd->keylen, &it) != 0)
		return 0;   /* unknown key, or another key's hash: nothing of ours */
	container_kill(r, (struct container *)it);
	return 0;
}

void container_accept(struct ring *r, struct container *ctr, struct io_uring_cqe *cqe)
{
	ctr->inflight -= !(cqe->flags & IORING_CQE_F_MORE);
	if (cqe->res >= 0) {
		if (ctr->dead) {
			close(cqe->res);
			return;
		}
		ctr->stats.conns_accepted++;
		conn_start(r, ctr, cqe->res);
	} else if (cqe->res != -ECANCELED && ctr->listening) {
		/* EMFILE/ENFILE/ENOMEM: log; the multishot ends and is re-armed
		 * below, so accepting resumes once resources free up. */
		ring_log(r, 4, "accept failed path=%s: %s", ctr->path, strerror(-cqe->res));
		ctr->stats.errors++;
	}
	/* A handed-off or quiesced container still serves what was accepted
	 * before its accept was cancelled, but does not re-arm. */
	if (!(cqe->flags & IORING_CQE_F_MORE) && ctr->listening) {
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			container_accept_later(ctr);
		else
			container_accept_arm(ctr);
	}
}

