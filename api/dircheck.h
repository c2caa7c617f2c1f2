/* api/dircheck.h: is a directory a safe place for files that root creates
 * and then trusts by name (sockets, the state file)? See dircheck.c.
 * Internal to the library; exported to programs as dmx_dir_check().
 */
#ifndef DMX_API_DIRCHECK_H
#define DMX_API_DIRCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when dir and every directory on the way to it from / is a directory
 * owned by root or by this process's euid that nobody else can write to (a
 * sticky directory above dir, like /tmp, may be world-writable), and dir
 * itself is not a symlink. create: make missing components, mode 0700, each
 * only once the one above it passed. Errors: -EPERM (owner or mode), -ENOTDIR
 * (not a directory, or dir is a symlink), -ENOENT (missing and !create),
 * -ELOOP, -ENAMETOOLONG, -EINVAL (empty), or what lstat/mkdir said. why
 * (cap bytes, may be NULL) gets "<component>: <what is wrong>". */
int dircheck(const char *dir, bool create, char *why, size_t cap);

#endif
