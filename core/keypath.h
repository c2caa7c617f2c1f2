/* core/keypath.h: container key -> socket path, the one naming rule of dockmux.
 * A key's path is <dir>/<16 lowercase hex of XXH3_64bits(key, seed 0)>.sock.
 * Pure: no I/O; it does not check that the directory exists.
 */
#ifndef DMX_CORE_KEYPATH_H
#define DMX_CORE_KEYPATH_H

#include <stddef.h>
#include <stdint.h>

#define KEYPATH_KEY_MAX 255
#define KEYPATH_SUN_MAX 108       /* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define KEYPATH_DEFAULT_DIR "/run/dockmux"
#define KEYPATH_DIR_MAX (KEYPATH_SUN_MAX - 22)   /* room for "/<16 hex>.sock" */

uint64_t keypath_hash(const char *key, size_t len);

/* Length of key if it is 1..KEYPATH_KEY_MAX bytes, else -EINVAL (NULL too). */
int keypath_check(const char *key);

/* Write the socket path for a key hash. -ENAMETOOLONG if it would not fit
 * sun_path with its NUL, -ENOSPC if it does not fit cap. */
int keypath_format_hash(const char *dir, uint64_t hash, char *buf, size_t cap);

/* keypath_check + keypath_hash + keypath_format_hash. */
int keypath_format(const char *dir, const char *key, char *buf, size_t cap);

#endif
