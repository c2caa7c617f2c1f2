/* tests/core_keypath.c: key -> path vectors. The expected hashes were computed
 * outside dockmux, with `printf '%s' KEY | xxhsum -H3` (xxhash 0.8.1) and
 * python3-xxhash's xxh3_64_hexdigest, which agree. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "keypath.h"

static const struct {
	const char *key;
	const char *path;
} vectors[] = {
	{ "ci-runner-1", "/run/dockmux/05804f4591ec6266.sock" },
	{ "dashboard", "/run/dockmux/14ad00d5da4d52bb.sock" },
	{ "builder", "/run/dockmux/0d9992848fd363ef.sock" },
	{ "a", "/run/dockmux/e6c632b61e964e1f.sock" },
	{ "container/with spaces", "/run/dockmux/a3096e6853c5a717.sock" },
	{ "caf\xc3\xa9-\xf0\x9f\x90\xb3", "/run/dockmux/3cbf950f0638b464.sock" },
};

Test(keypath, matches_independent_xxh3_vectors)
{
	char buf[108];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		cr_assert_eq(keypath_format("/run/dockmux", vectors[i].key, buf, sizeof(buf)), 0);
		cr_assert_str_eq(buf, vectors[i].path, "key %s", vectors[i].key);
	}
}

Test(keypath, longest_key_is_accepted)
{
	char key[256], buf[108];

	memset(key, 'x', 255);
	key[255] = '\0';
	cr_assert_eq(keypath_check(key), 255);
	cr_assert_eq(keypath_format("/run/dockmux", key, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/run/dockmux/2be953982ac8bd9d.sock");
}

Test(keypath, rejects_empty_oversized_and_null_keys)
{
	char key[257], buf[108];

	memset(key, 'k', 256);
	key[256] = '\0';
	cr_assert_eq(keypath_check(""), -EINVAL);
	cr_assert_eq(keypath_check(NULL), -EINVAL);
	cr_assert_eq(keypath_check(key), -EINVAL);
	cr_assert_eq(keypath_format("/run/dockmux", key, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(keypath_format("/run/dockmux", "", buf, sizeof(buf)), -EINVAL);
}

Test(keypath, trailing_slash_in_dir_is_ignored)
{
	char a[108], b[108];

	cr_assert_eq(keypath_format("/tmp/d/", "a", a, sizeof(a)), 0);
	cr_assert_eq(keypath_format("/tmp/d", "a", b, sizeof(b)), 0);
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(a, "/tmp/d/e6c632b61e964e1f.sock");
}

Test(keypath, rejects_paths_longer_than_sun_path)
{
	char dir[200], buf[256];

	/* 85 + "/" + 16 + ".sock" + NUL = 108: the longest that fits. */
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[85] = '\0';
	cr_assert_eq(keypath_format(dir, "a", buf, sizeof(buf)), 0);
	cr_assert_eq(strlen(buf), 107);
	dir[85] = 'd';
	dir[86] = '\0';
	cr_assert_eq(keypath_format(dir, "a", buf, sizeof(buf)), -ENAMETOOLONG);
}

Test(keypath, small_buffer_is_enospc_and_untouched)
{
	char buf[20];

	memset(buf, '#', sizeof(buf));
	cr_assert_eq(keypath_format("/run/dockmux", "a", buf, sizeof(buf)), -ENOSPC);
	cr_assert_eq(buf[0], '#');
}
