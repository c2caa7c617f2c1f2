/* core/keypath.c: container key -> socket path (see keypath.h). */
#include "keypath.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

uint64_t keypath_hash(const char *key, size_t len)
{
	return XXH3_64bits(key, len);
}

int keypath_check(const char *key)
{
	size_t len;

	if (!key)
		return -EINVAL;
	len = strnlen(key, KEYPATH_KEY_MAX + 1);
	if (len == 0 || len > KEYPATH_KEY_MAX)
		return -EINVAL;
	return (int)len;
}

int keypath_format_hash(const char *dir, uint64_t hash, char *buf, size_t cap)
{
	size_t dlen, need;

	if (!dir || !*dir || !buf)
		return -EINVAL;
	dlen = strlen(dir);
	/* Drop trailing slashes so "/run/dockmux/" and "/run/dockmux" agree. */
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	need = dlen + 1 + 16 + 5 + 1;     /* dir '/' hex ".sock" NUL */
	if (need > KEYPATH_SUN_MAX)
		return -ENAMETOOLONG;
	if (need > cap)
		return -ENOSPC;
	snprintf(buf, cap, "%.*s/%016llx.sock", (int)dlen, dir, (unsigned long long)hash);
	return 0;
}

int keypath_format(const char *dir, const char *key, char *buf, size_t cap)
{
	int len = keypath_check(key);

	if (len < 0)
		return len;
	return keypath_format_hash(dir, keypath_hash(key, (size_t)len), buf, cap);
}
