/* cmd/config.h: the daemon's config file (/etc/dockmux/dockmux.conf) turned
 * into "--key=value" options. `dockmux serve` parses them before its real
 * command line, so a flag given there wins (getopt_long: later overrides
 * earlier). This module knows no option's meaning: the caller lists the keys
 * and validates the values exactly as it does for the command line.
 *
 * Syntax, one setting a line:
 *   # a comment (only as the first non-blank character of a line)
 *   key = value               surrounding blanks trimmed, inner ones kept
 *   key = "a \"quoted\" \\ value"   only \" and \\ are escapes; nothing may
 *                             follow the closing quote but blanks
 *   key =                     an empty value: "--key="
 * A flag key (bool_keys) takes true/yes/1 ("--key") or false/no/0 (nothing),
 * case-insensitive. A key given twice: the last line wins, for flags too.
 * Refused (-EINVAL, "FILE:LINE: why" in err): an unknown key, a line with no
 * '=', a line over CONFIG_LINE_MAX bytes, a NUL or other control byte, an
 * unquoted value containing " #" (comments do not follow values: quote the
 * value if the '#' is meant), a bad quote or escape. Messages name the key,
 * never a value: a setting may one day be a secret.
 */
#ifndef DMX_CMD_CONFIG_H
#define DMX_CMD_CONFIG_H

#include <stddef.h>

/* Longest line, without its line ending. */
#define CONFIG_LINE_MAX 4096
/* Largest file: it is read whole. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* Read path. known_keys: NULL-terminated names of options taking a value;
 * bool_keys: NULL-terminated names of options without one (either may be
 * NULL). Leave "config" and "help" out of both.
 * On success *argv_out is a malloc'd NULL-terminated array of malloc'd
 * "--key=value" / "--key" strings in file order (no argv[0]: the caller
 * splices them in after its own) and *argc_out its length; free with
 * config_free. Errors, with a message in err (when errcap > 0):
 * -ENOENT: no such file (the caller decides whether that is fine);
 * -EINVAL: bad syntax or an unknown key, "PATH:LINE: why";
 * -EFBIG: over CONFIG_FILE_MAX; -ENOMEM; other open/read errors as -errno. */
int config_read(const char *path, const char *const *known_keys, const char *const *bool_keys,
		int *argc_out, char ***argv_out, char *err, size_t errcap);

/* Free what config_read returned. NULL is fine. */
void config_free(int argc, char **argv);

#endif
