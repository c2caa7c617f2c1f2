/* api/dircheck.c: the check that a directory root creates sockets (or the
 * state file) in cannot be changed under it by another user: every
 * directory from / down to it, and every symlink on the way, must belong to
 * root or to us and must not be writable by anyone else. Otherwise a user
 * could swap a name for a symlink and have root bind, chmod or overwrite
 * where they choose, or squat a container's socket name.
 * It looks at owners and mode bits only: not at ACLs, mounts or LSMs.
 */
#include "dircheck.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symlinks followed on one path: each costs one level of recursion. */
#define DIRCHECK_LINKS 8

struct dircheck_ctx {
	uid_t uid;          /* trusted besides root: our euid */
	bool create;
	unsigned links;
	char *why;
	size_t cap;
};

static int dircheck_walk(struct dircheck_ctx *c, const char *path, bool final);

__attribute__((format(printf, 4, 5)))
static int dircheck_fail(struct dircheck_ctx *c, int err, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->why || c->cap == 0)
		return err;
	n = snprintf(c->why, c->cap, "%s: ", path);
	if (n >= 0 && (size_t)n < c->cap) {
		va_start(ap, fmt);
		vsnprintf(c->why + n, c->cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

static bool dircheck_trusted(const struct dircheck_ctx *c, uid_t owner)
{
	return owner == 0 || owner == c->uid;
}

static int dircheck_owner_fail(struct dircheck_ctx *c, const char *path, const char *what,
			       uid_t owner)
{
	if (c->uid == 0)
		return dircheck_fail(c, -EPERM, path, "%sowned by uid %u, not by root", what,
				     (unsigned)owner);
	return dircheck_fail(c, -EPERM, path, "%sowned by uid %u, neither root nor uid %u", what,
			     (unsigned)owner, (unsigned)c->uid);
}

/* One directory on the way; final: the directory itself. */
static int dircheck_dir(struct dircheck_ctx *c, const char *path, const struct stat *st,
			bool final)
{
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);

	if (!S_ISDIR(st->st_mode))
		return dircheck_fail(c, -ENOTDIR, path, "not a directory");
	if (!dircheck_trusted(c, st->st_uid))
		return dircheck_owner_fail(c, path, "", st->st_uid);
	if (!w)
		return 0;
	/* Sticky (/tmp): others may add names but not rename or remove ours,
	 * so it is fine on the way. As the directory itself it is not: anyone
	 * could take a container's socket name before dockmux does. */
	if (!final && (st->st_mode & S_ISVTX))
		return 0;
	return dircheck_fail(c, -EPERM, path, "writable by %s (mode %04o)",
			     w == (S_IWGRP | S_IWOTH) ? "group and others" :
			     w == S_IWGRP ? "group" : "others",
			     (unsigned)(st->st_mode & 07777));
}

/* A symlink on the way: trusted if root or we own it (its directory passed
 * already, so nobody else can replace it), then its target is walked too. */
static int dircheck_link(struct dircheck_ctx *c, const char *path, const struct stat *st)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = (size_t)(slash - path);
	char *next;
	ssize_t n;
	int ret;

	if (!dircheck_trusted(c, st->st_uid))
		return dircheck_owner_fail(c, path, "a symbolic link ", st->st_uid);
	if (++c->links > DIRCHECK_LINKS)
		return dircheck_fail(c, -ELOOP, path, "too many symbolic links");
	next = malloc(PATH_MAX);
	if (!next)
		return -ENOMEM;
	n = readlink(path, next, PATH_MAX - 1);
	if (n < 0) {
		ret = dircheck_fail(c, -errno, path, "unreadable symbolic link");
		goto out;
	}
	next[n] = '\0';
	if (next[0] != '/') {
		/* Relative to the link's own directory. */
		if (dlen + 1 + (size_t)n >= PATH_MAX) {
			ret = dircheck_fail(c, -ENAMETOOLONG, path, "symbolic link target too long");
			goto out;
		}
		memmove(next + dlen + 1, next, (size_t)n + 1);
		memcpy(next, path, dlen);
		next[dlen] = '/';
	}
	ret = dircheck_walk(c, next, false);
out:
	free(next);
	return ret;
}

static int dircheck_component(struct dircheck_ctx *c, const char *path, bool final)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return dircheck_fail(c, -errno, path, "cannot be examined: %s", strerror(errno));
		if (!c->create)
			return dircheck_fail(c, -ENOENT, path, "does not exist");
		/* Its parent passed: nobody else can meddle with the new one. */
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return dircheck_fail(c, -errno, path, "cannot be created: %s",
					     strerror(errno));
		if (lstat(path, &st) < 0)
			return dircheck_fail(c, -errno, path, "cannot be examined: %s",
					     strerror(errno));
	}
	if (!S_ISLNK(st.st_mode))
		return dircheck_dir(c, path, &st, final);
	if (final)
		return dircheck_fail(c, -ENOTDIR, path,
				     "a symbolic link (give the directory it points to)");
	return dircheck_link(c, path, &st);
}

/* path is absolute. Every prefix is looked at with lstat, so a symlink is
 * seen as one where it is, and what the kernel resolves later is what was
 * checked (only trusted users can change any of it). */
static int dircheck_walk(struct dircheck_ctx *c, const char *path, bool final)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;
	int ret;

	if (len >= sizeof(buf))
		return dircheck_fail(c, -ENAMETOOLONG, path, "path too long");
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (lstat("/", &st) < 0)
		return dircheck_fail(c, -errno, "/", "cannot be examined");
	ret = dircheck_dir(c, "/", &st, final && len == 1);
	for (size_t i = 1; ret == 0 && i <= len; i++) {
		char save = buf[i];

		if ((save != '/' && save != '\0') || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		ret = dircheck_component(c, buf, final && save == '\0');
		buf[i] = save;
	}
	return ret;
}

int dircheck(const char *dir, bool create, char *why, size_t cap)
{
	struct dircheck_ctx c = { .uid = geteuid(), .create = create, .why = why, .cap = cap };
	char abs[PATH_MAX];
	size_t n;

	if (why && cap)
		why[0] = '\0';
	if (!dir || !*dir)
		return -EINVAL;
	if (dir[0] == '/')
		return dircheck_walk(&c, dir, true);
	/* Relative: the working directory's ancestry counts as well. */
	if (!getcwd(abs, sizeof(abs)))
		return dircheck_fail(&c, -errno, ".", "working directory unknown");
	n = strlen(abs);
	if (n + 1 + strlen(dir) >= sizeof(abs))
		return dircheck_fail(&c, -ENAMETOOLONG, dir, "path too long");
	abs[n] = '/';
	memcpy(abs + n + 1, dir, strlen(dir) + 1);
	return dircheck_walk(&c, abs, true);
}
