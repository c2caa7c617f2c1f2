/* cmd/state.c: the daemon's memory of its containers (see state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keypath.h"

#define STATE_MAGIC "dockmux-state 1\n"
#define STATE_FILE_MAX (1u << 30)

struct state_rec {
	struct ctab_item item;
	uint8_t *frame;
	uint32_t len;
	char key[DMX_KEY_MAX + 1];
};

int state_init(struct state *s, const char *path)
{
	s->path = path;
	return ctab_init(&s->tab, 64);
}

static void rec_free(struct state_rec *r)
{
	if (r->frame) {
		explicit_bzero(r->frame, r->len);
		free(r->frame);
	}
	free(r);
}

void state_deinit(struct state *s)
{
	struct ctab_item *it;
	size_t pos = 0;

	while ((it = ctab_next(&s->tab, &pos))) {
		ctab_remove(&s->tab, it->hash);
		rec_free((struct state_rec *)it);
		pos = 0;
	}
	ctab_deinit(&s->tab);
}

size_t state_count(const struct state *s)
{
	return s->tab.count;
}

/* Takes frame (malloc'd, len bytes) for key. */
static int state_put_frame(struct state *s, const char *key, uint8_t *frame, uint32_t len)
{
	size_t klen = strlen(key);
	uint64_t hash = keypath_hash(key, klen);
	struct ctab_item *it;
	struct state_rec *r;
	int ret;

	ret = ctab_lookup(&s->tab, hash, key, klen, &it);
	if (ret == 0) {
		r = (struct state_rec *)it;
		explicit_bzero(r->frame, r->len);
		free(r->frame);
		r->frame = frame;
		r->len = len;
		return 0;
	}
	if (ret == -EEXIST)
		return -EEXIST;   /* another key, same hash: dmx refused it too */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r->key, key, klen + 1);
	r->item.hash = hash;
	r->item.key = r->key;
	r->item.keylen = klen;
	r->frame = frame;
	r->len = len;
	ret = ctab_insert(&s->tab, &r->item);
	if (ret < 0) {
		free(r);
		return ret;
	}
	return 0;
}

int state_put(struct state *s, const struct ctl_request *req)
{
	uint8_t *frame;
	int len;

	if (req->op != CTL_OP_SPAWN)
		return -EINVAL;
	len = ctl_request_size(req);
	if (len < 0)
		return len;
	frame = malloc((size_t)len);
	if (!frame)
		return -ENOMEM;
	len = ctl_request_encode(req, frame, (size_t)len);
	if (len < 0) {
		free(frame);
		return len;
	}
	len = state_put_frame(s, req->key, frame, (uint32_t)len);
	if (len < 0) {
		explicit_bzero(frame, (size_t)ctl_request_size(req));
		free(frame);
	}
	return len;
}

void state_del(struct state *s, const char *key)
{
	size_t klen = strlen(key);
	uint64_t hash = keypath_hash(key, klen);
	struct ctab_item *it;

	if (ctab_lookup(&s->tab, hash, key, klen, &it) == 0) {
		ctab_remove(&s->tab, hash);
		rec_free((struct state_rec *)it);
	}
}

const void *state_frame(const struct state *s, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	struct ctab_item *it;

	if (ctab_lookup(&s->tab, keypath_hash(key, klen), key, klen, &it) != 0)
		return NULL;
	*len = ((struct state_rec *)it)->len;
	return ((struct state_rec *)it)->frame;
}

int state_each(const struct state *s, int (*fn)(void *ud, struct ctl_request *req), void *ud)
{
	struct ctl_request *req = malloc(sizeof(*req));
	struct ctab_item *it;
	size_t pos = 0;
	int ret = 0;

	if (!req)
		return -ENOMEM;
	while (ret == 0 && (it = ctab_next(&s->tab, &pos))) {
		struct state_rec *r = (struct state_rec *)it;

		ret = ctl_request_decode(r->frame, r->len, req);
		ret = ret == (int)r->len ? fn(ud, req) : -EBADMSG;
		explicit_bzero(req, sizeof(*req));
	}
	free(req);
	return ret;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int state_save(const struct state *s)
{
	char tmp[4096], dir[4096];
	struct ctab_item *it;
	size_t pos = 0;
	int fd, dfd, ret;

	if (!s->path)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", s->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);   /* a leftover of a crash mid-write */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, STATE_MAGIC, strlen(STATE_MAGIC));
	while (ret == 0 && (it = ctab_next(&s->tab, &pos))) {
		const struct state_rec *r = (const struct state_rec *)it;
		uint8_t len[4] = { r->len >> 24, r->len >> 16, r->len >> 8, r->len };

		ret = write_all(fd, len, 4);
		if (ret == 0)
			ret = write_all(fd, r->frame, r->len);
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, s->path) < 0)
		ret = -errno;
	if (ret < 0) {
		unlink(tmp);
		return ret;
	}
	/* The rename is durable only once the directory is. */
	snprintf(dir, sizeof(dir), "%s", s->path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_FILE_MAX) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

int state_load(struct state *s, const char **why)
{
	struct ctl_request *req;
	struct state tmp;
	uint8_t *buf = NULL;
	size_t len = 0, off;
	int ret;

	*why = NULL;
	if (!s->path)
		return -ENOENT;
	ret = read_file(s->path, &buf, &len);
	if (ret == -EBADMSG)
		*why = "not a regular file, or over 1 GiB";
	if (ret < 0)
		return ret;
	req = malloc(sizeof(*req));
	ret = state_init(&tmp, NULL);
	if (!req || ret < 0) {
		free(req);
		explicit_bzero(buf, len);
		free(buf);
		return -ENOMEM;
	}
	off = strlen(STATE_MAGIC);
	if (len < off || memcmp(buf, STATE_MAGIC, off) != 0) {
		*why = "no \"dockmux-state 1\" header";
		ret = -EBADMSG;
	}
	/* All or nothing: records go to a scratch table first. */
	while (ret == 0 && off < len) {
		uint32_t n;
		uint8_t *frame;

		if (len - off < 4) {
			*why = "truncated record length";
			ret = -EBADMSG;
			break;
		}
		n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
		    (uint32_t)buf[off + 2] << 8 | buf[off + 3];
		off += 4;
		if (n > len - off || ctl_request_decode(buf + off, n, req) != (int)n ||
		    req->op != CTL_OP_SPAWN) {
			*why = "malformed record";
			ret = -EBADMSG;
			break;
		}
		frame = malloc(n);
		if (!frame) {
			ret = -ENOMEM;
			break;
		}
		memcpy(frame, buf + off, n);
		ret = state_put_frame(&tmp, req->key, frame, n);
		if (ret < 0) {
			explicit_bzero(frame, n);
			free(frame);
			*why = "duplicate hash";
			ret = -EBADMSG;
		}
		off += n;
	}
	explicit_bzero(req, sizeof(*req));
	free(req);
	explicit_bzero(buf, len);
	free(buf);
	if (ret == 0) {
		struct ctab_item *it;
		size_t pos = 0;

		/* Move the records over: the scratch table's pointers change hands. */
		while (ret == 0 && (it = ctab_next(&tmp.tab, &pos))) {
			struct state_rec *r = (struct state_rec *)it;

			ret = state_put_frame(s, r->key, r->frame, r->len);
			if (ret == 0)
				r->frame = NULL, r->len = 0;
		}
	}
	state_deinit(&tmp);
	return ret;
}
