/* cmd/log.h: the daemon's logfmt lines on stderr (see log.c). A line is
 * built in a struct log_line on the caller's stack and written by log_end:
 *   log_begin(&l, "info", "spawn"); log_str(&l, "key", key); log_end(&l);
 */
#ifndef DMX_CMD_LOG_H
#define DMX_CMD_LOG_H

#include <stddef.h>

/* Longest line: a 255-byte key escaped 4x plus a path and a library message.
 * Longer lines are cut, whole escapes only, and still end with a newline. */
#define LOG_LINE_MAX 4096

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
	int skip;          /* below the threshold: built, not written */
};

/* Lines less severe than level (error, warn, info, debug) are dropped. Call
 * before starting threads. 0 or -EINVAL. */
int log_set_level(const char *name);
/* Point stderr at path (append, 0640), e.g. on SIGHUP after a rotation. */
int log_reopen(const char *path);

/* ts=... level=<level> msg="<msg>" */
void log_begin(struct log_line *l, const char *level, const char *msg);
/* name="value", escaped: \" \\ and \xNN for every byte outside printable ASCII. */
void log_str(struct log_line *l, const char *name, const char *val);
void log_num(struct log_line *l, const char *name, long long v);
/* err="<strerror(-err)>" */
void log_err(struct log_line *l, int err);
void log_end(struct log_line *l);

/* A dmx_config.access_log callback: msg="request" key method path status
 * bytes_up bytes_down duration_us uid pid. */
struct dmx_access;
void log_access(void *userdata, const struct dmx_access *a);

/* A dmx_config.log callback: syslog levels from the library, same format. */
void log_library(void *userdata, int level, const char *msg);

#endif
