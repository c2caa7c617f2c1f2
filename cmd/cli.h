/* cmd/cli.h: what the files of the `dockmux` executable share: the commands
 * (dockmux.c dispatches, serve.c runs the daemon, client.c talks to it) and
 * the argument and error helpers of dockmux.c. Not a library interface.
 */
#ifndef DMX_CMD_CLI_H
#define DMX_CMD_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "dockmux.h"

#define DEFAULT_CONTROL "/run/dockmux/control.sock"

/* A key escaped by key_escape, 4 bytes per byte at worst. */
#define KEY_ESCAPED_MAX (DMX_KEY_MAX * 4 + 1)

/* The commands: argv[0] is the command's name; the exit status is returned. */
int cmd_serve(int argc, char **argv);
int cmd_spawn(int argc, char **argv);
int cmd_teardown(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_path(int argc, char **argv);

void usage(FILE *f);
/* "dockmux: <what>: <strerror(-err)>" on stderr; returns 1, the exit status. */
int fail(const char *what, int err);
/* "dockmux: <message>" and the usage on stderr; returns 2. */
int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A string for a human: printable ASCII kept, '\\' doubled, other bytes (and
 * with space_too spaces, so table columns stay split) as \xNN. */
void key_escape(const char *key, bool space_too, char *out, size_t cap);
/* s as a JSON string, quotes included: valid UTF-8 kept, other bytes escaped. */
void json_str(FILE *f, const char *s);

/* ---- shared by client.c, client_ls.c and client_batch.c ---- */
struct ctl_request;
/* --timeout SECONDS (0: wait forever) into milliseconds. 0 or -EINVAL. */
int client_timeout(const char *arg, int *ms);
/* "dockmux: control socket PATH (hint): <error>" for a failure to talk to
 * the daemon at all; returns 1. */
int client_fail_transport(const char *control, int err);
/* A hint for the daemon's answer err to op ("spawn", "teardown", ...): a
 * string starting with " (", or "". */
const char *client_why(const char *op, int err);
/* A token: 1..DMX_TOKEN_MAX bytes without control characters but tab. 0, or
 * -ENODATA/-EMSGSIZE/-EINVAL with *why. */
int client_token_check(const char *t, size_t n, const char **why);
/* spawn --batch with req's op and policy for every line of stdin: the exit
 * status. */
int spawn_batch(const char *control, struct ctl_request *req, int timeout_ms);

/* Refuse a long option that is not spelled out in full (getopt_long takes
 * prefixes); names the option only, never its value. 0 or -EINVAL. */
int opts_exact(int argc, char **argv, const struct option *opts);
/* Strict unsigned parse: the whole string, in base, at most max. 0 or -EINVAL. */
int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out);
/* A user or group as a number or a name. 0 or -EINVAL. */
int parse_uid(const char *s, uid_t *out);
int parse_gid(const char *s, gid_t *out);
/* UID, UID:GID or :GID. 0 or -EINVAL. */
int parse_owner(const char *s, uid_t *uid, gid_t *gid);

#endif
