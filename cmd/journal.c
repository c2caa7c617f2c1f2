/* cmd/journal.c: the state file's journal format and file operations (see
 * journal.h). The scan is a pure function over the file's bytes, so every
 * torn and damaged shape can be tested and fuzzed without a disk.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CRC-32C, reflected polynomial 0x82F63B78, one table lookup a byte ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t journal_crc(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	pthread_once(&crc_once, crc_table_init);
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void journal_rec_head(uint8_t head[JOURNAL_REC_HEAD], const void *p, uint32_t n)
{
	put32(head, n);
	put32(head + 4, journal_crc(journal_crc(0, head, 4), p, n));
}

/* ---- reading ---- */

/* The size of the whole, checking record at off, or 0 with *why. */
static size_t rec_check(const uint8_t *buf, size_t len, size_t off, size_t rec_max,
			const char **why)
{
	uint32_t n;

	if (len - off < JOURNAL_REC_HEAD) {
		*why = "record head cut short";
		return 0;
	}
	n = get32(buf + off);
	if (n == 0 || n > rec_max) {
		*why = "record length out of bounds";
		return 0;
	}
	if (len - off - JOURNAL_REC_HEAD < n) {
		*why = "record cut short";
		return 0;
	}
	if (journal_crc(journal_crc(0, buf + off, 4), buf + off + JOURNAL_REC_HEAD, n) !=
	    get32(buf + off + 4)) {
		*why = "record checksum mismatch";
		return 0;
	}
	return JOURNAL_REC_HEAD + n;
}

/* Format 1: written whole, so any flaw is damage. */
static int scan_v1(const uint8_t *buf, size_t len, size_t rec_max,
		   int (*rec)(void *ud, const uint8_t *p, size_t n), void *ud,
		   struct journal_scan *out)
{
	size_t off = JOURNAL_MAGIC_LEN;
	int ret;

	while (off < len) {
		uint32_t n;

		out->at = off;
		if (len - off < 4) {
			out->why = "truncated record length";
			return -EBADMSG;
		}
		n = get32(buf + off);
		if (n == 0 || n > rec_max || n > len - off - 4) {
			out->why = "malformed record";
			return -EBADMSG;
		}
		ret = rec(ud, buf + off + 4, n);
		if (ret < 0) {
			if (!out->why)
				out->why = "malformed record";
			return ret;
		}
		out->records++;
		off += 4 + n;
	}
	out->valid = len;
	return 0;
}

int journal_scan(const uint8_t *buf, size_t len, size_t rec_max,
		 int (*rec)(void *ud, const uint8_t *p, size_t n), void *ud,
		 struct journal_scan *out)
{
	size_t off = JOURNAL_MAGIC_LEN, n;
	const char *why = NULL, *later;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len >= JOURNAL_MAGIC_LEN && memcmp(buf, JOURNAL_MAGIC_V1, JOURNAL_MAGIC_LEN) == 0) {
		out->version = 1;
		return scan_v1(buf, len, rec_max, rec, ud, out);
	}
	if (len < JOURNAL_MAGIC_LEN || memcmp(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0) {
		out->why = "no \"dockmux-state\" header";
		return -EBADMSG;
	}
	out->version = 2;
	while (off < len) {
		n = rec_check(buf, len, off, rec_max, &why);
		if (n == 0)
			break;
		out->at = off;
		ret = rec(ud, buf + off + JOURNAL_REC_HEAD, n - JOURNAL_REC_HEAD);
		if (ret < 0) {
			/* It checked, so it was written like this: not a torn write. */
			if (!out->why)
				out->why = "malformed record";
			return ret;
		}
		out->records++;
		off += n;
	}
	out->valid = off;
	out->at = off;
	if (off == len)
		return 0;
	/* A torn write leaves nothing whole after it; a whole record after the
	 * bad one means the damage is in the middle of what was durable. */
	for (size_t p = off + 1; len - p >= JOURNAL_REC_HEAD; p++)
		if (rec_check(buf, len, p, rec_max, &later) > 0) {
			out->why = "a damaged record is followed by whole ones (not a torn tail)";
			return -EBADMSG;
		}
	out->why = why;
	out->dropped = len - off;
	return 0;
}

int journal_read(const char *path, uint8_t **out, size_t *out_len, const char **why)
{
	struct stat lst, st;
	uint8_t *buf;
	size_t got = 0;
	int fd, ret;

	*why = NULL;
	/* lstat first: a device is never even opened (an open can have side
	 * effects); the open never blocks (a FIFO without a writer would) and
	 * never follows a symlink; fstat checks that it is the same file. */
	if (lstat(path, &lst) < 0)
		return -errno;
	if (S_ISLNK(lst.st_mode)) {
		*why = "is a symlink";
		return -ELOOP;
	}
	if (!S_ISREG(lst.st_mode)) {
		*why = "not a regular file (a FIFO, device, socket or directory)";
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err;
	}
	if (!S_ISREG(st.st_mode) || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
		*why = "not a regular file (a FIFO, device, socket or directory)";
		ret = -EINVAL;
		goto err;
	}
	if (st.st_size > JOURNAL_FILE_MAX) {
		*why = "larger than 1 GiB";
		ret = -EFBIG;
		goto err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto err;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			explicit_bzero(buf, got);
			free(buf);
			goto err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*out_len = got;
	return 0;
err:
	close(fd);
	return ret;
}

/* ---- writing ---- */

void journal_init(struct journal *j, const char *path)
{
	j->path = path;
	j->fd = -1;
	j->size = 0;
	j->err = 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	j->path = NULL;
}

static int pwrite_all(int fd, const void *p, size_t n, size_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		b += w;
		n -= (size_t)w;
		off += (size_t)w;
	}
	return 0;
}

int journal_append(struct journal *j, const void *p, size_t n)
{
	int ret;

	if (j->fd < 0 || j->err)
		return j->err ? j->err : -EBADF;
	/* At our own idea of the end: never after a partial record. */
	ret = pwrite_all(j->fd, p, n, j->size);
	/* Appends change only the size, which fdatasync covers. */
	if (ret == 0 && fdatasync(j->fd) < 0)
		ret = -errno;
	if (ret < 0) {
		j->err = ret;
		return ret;
	}
	j->size += n;
	return 0;
}

struct journal_writer {
	int fd;
	size_t size;       /* flushed to the file */
	size_t len;        /* in buf */
	int err;
	uint8_t buf[64 * 1024];
};

static int writer_flush(struct journal_writer *w)
{
	if (w->err == 0 && w->len) {
		w->err = pwrite_all(w->fd, w->buf, w->len, w->size);
		w->size += w->len;
	}
	explicit_bzero(w->buf, w->len);   /* records hold tokens */
	w->len = 0;
	return w->err;
}

static int writer_add(struct journal_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n && w->err == 0) {
		size_t k = sizeof(w->buf) - w->len;

		if (k > n)
			k = n;
		memcpy(w->buf + w->len, b, k);
		w->len += k;
		b += k;
		n -= k;
		if (w->len == sizeof(w->buf))
			writer_flush(w);
	}
	return w->err;
}

int journal_put(struct journal_writer *w, const void *p, uint32_t n)
{
	uint8_t head[JOURNAL_REC_HEAD];

	journal_rec_head(head, p, n);
	writer_add(w, head, sizeof(head));
	return writer_add(w, p, n);
}

static void fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int dfd;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return;
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

int journal_rewrite(struct journal *j, int (*fill)(void *ud, struct journal_writer *w), void *ud)
{
	char tmp[PATH_MAX];
	struct journal_writer *w;
	int fd, ret;

	if (!j->path)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	unlink(tmp);   /* a leftover of a crash mid-rewrite */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(w);
		return -errno;
	}
	*w = (struct journal_writer){ .fd = fd };
	writer_add(w, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	ret = w->err ? w->err : fill(ud, w);
	if (ret == 0)
		ret = writer_flush(w);
	else
		writer_flush(w);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, j->path) < 0)
		ret = -errno;
	if (ret < 0) {
		unlink(tmp);
		close(fd);
		free(w);
		return ret;
	}
	/* The rename is durable only once the directory is. */
	fsync_dir_of(j->path);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->size = w->size;
	j->err = 0;
	free(w);
	return 0;
}
