/* cmd/log.c: the daemon's log, one logfmt line per event on stderr, written
 * with one write() under a lock so lines never interleave. Values are escaped
 * so a key (any bytes but NUL) can neither forge fields nor break a line.
 * Callers never pass a token.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dockmux.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* The daemon's one log threshold (syslog numbers): set once at start-up,
 * before any other thread exists. */
static int log_threshold = 6;

static const struct { const char *name; int level; } log_levels[] = {
	{ "error", 3 }, { "warn", 4 }, { "info", 6 }, { "debug", 7 },
};

int log_set_level(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcmp(log_levels[i].name, name) == 0) {
			log_threshold = log_levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static int log_level_of(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(log_levels[i].name, name) == 0)
			return log_levels[i].level;
	return 3;
}

int log_reopen(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);

	if (fd < 0)
		return -errno;
	/* Under the lock: no line is cut between the old and the new file. */
	pthread_mutex_lock(&log_lock);
	if (dup2(fd, STDERR_FILENO) < 0) {
		int err = -errno;

		pthread_mutex_unlock(&log_lock);
		close(fd);
		return err;
	}
	pthread_mutex_unlock(&log_lock);
	close(fd);
	return 0;
}

static void log_raw(struct log_line *l, const char *s, size_t n)
{
	/* Two bytes stay free for a closing quote and the newline. */
	if (n > sizeof(l->buf) - 2 - l->len)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* name="value" with \" \\ and \xNN for every byte outside printable ASCII,
 * so a key (any bytes but NUL) can neither forge fields nor break the line. */
void log_str(struct log_line *l, const char *name, const char *val)
{
	static const char hex[] = "0123456789abcdef";

	log_raw(l, " ", 1);
	log_raw(l, name, strlen(name));
	log_raw(l, "=\"", 2);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		char esc[4] = { '\\', (char)*p };
		size_t n = 2;

		if (*p < 0x20 || *p >= 0x7f) {
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			n = 4;
		} else if (*p != '"' && *p != '\\') {
			esc[0] = (char)*p;
			n = 1;
		}
		if (sizeof(l->buf) - 2 - l->len < n)
			break;  /* truncate whole escapes only */
		log_raw(l, esc, n);
	}
	l->buf[l->len++] = '"';  /* room reserved by log_raw */
}

void log_num(struct log_line *l, const char *name, long long v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), " %s=%lld", name, v);

	log_raw(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void log_begin(struct log_line *l, const char *level, const char *msg)
{
	struct tm tm;
	time_t now = time(NULL);
	char ts[32];

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	l->len = 0;
	l->skip = log_level_of(level) > log_threshold;
	log_raw(l, "ts=", 3);
	log_raw(l, ts, strlen(ts));
	log_raw(l, " level=", 7);
	log_raw(l, level, strlen(level));
	log_str(l, "msg", msg);
}

void log_end(struct log_line *l)
{
	size_t off = 0;

	if (l->skip)
		return;
	l->buf[l->len++] = '\n';
	/* One write per line under a lock: lines from the control thread and
	 * the rings never interleave, whatever stderr is. */
	pthread_mutex_lock(&log_lock);
	while (off < l->len) {
		ssize_t n = write(STDERR_FILENO, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	pthread_mutex_unlock(&log_lock);
}

void log_err(struct log_line *l, int err)
{
	log_str(l, "err", strerror(-err));
}

/* dmx_config.log: syslog levels from the library, same line format. */
void log_library(void *userdata, int level, const char *msg)
{
	struct log_line l;
	const char *name = level <= 3 ? "error" : level == 4 ? "warn" : level <= 6 ? "info" : "debug";

	(void)userdata;
	log_begin(&l, name, msg);
	log_str(&l, "src", "lib");
	log_end(&l);
}

/* dmx_config.access_log: one info line per request, never a token (the
 * library passes none). */
void log_access(void *userdata, const struct dmx_access *a)
{
	struct log_line l;

	(void)userdata;
	log_begin(&l, "info", "request");
	if (l.skip)
		return;
	log_str(&l, "key", a->key);
	log_str(&l, "method", a->method);
	log_str(&l, "path", a->path);
	log_num(&l, "status", a->status);
	log_num(&l, "bytes_up", (long long)a->bytes_up);
	log_num(&l, "bytes_down", (long long)a->bytes_down);
	log_num(&l, "duration_us", (long long)a->duration_us);
	log_num(&l, "uid", a->uid == (uid_t)-1 ? -1 : (long long)a->uid);
	log_num(&l, "pid", a->pid);
	log_end(&l);
}
