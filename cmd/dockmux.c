/* cmd/dockmux.c: the `dockmux` executable's entry point: the usage text, the
 * command table, and the argument and error helpers every command shares.
 * The daemon is in serve.c, the commands that talk to it in client.c, the
 * control protocol in control.c.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dockmux.h"

void usage(FILE *f)
{
	fputs("usage: dockmux COMMAND [OPTIONS]\n"
	      "\n"
	      "  serve [--upstream PATH] [--dir DIR] [--rings N] [--token-header NAME]\n"
	      "        [--token-prefix STR] [--socket-mode OCTAL] [--socket-owner UID[:GID]]\n"
	      "        [--control PATH] [--max-line B] [--max-head B] [--max-body B]\n"
	      "        [--head-timeout-ms MS] [--response-timeout-ms MS] [--max-conns N]\n"
	      "      run the daemon (defaults: /var/run/docker.sock, /run/dockmux, one ring\n"
	      "      per CPU, 'Authorization: Bearer <token>', 0660, control " DEFAULT_CONTROL ";\n"
	      "      limits: lines 8 KiB (431), heads 64 KiB (431), bodies unlimited (413),\n"
	      "      head timeout 30000 ms (408), no response timeout (504: the daemon's\n"
	      "      first response byte; never on streams), 1024 connections per socket (503))\n"
	      "  spawn [--control PATH] [--token-file F] [--read-only] [--allow AREAS]\n"
	      "        [--deny RULES] [--uid UID]... [--isolate] KEY\n"
	      "      create KEY's socket and print its path; the token is read from F, or\n"
	      "      else from stdin (one trailing newline stripped), never from arguments.\n"
	      "      Policy (default: forward everything):\n"
	      "        --read-only    only GET and HEAD requests\n"
	      "        --allow AREAS  only these API areas, a comma list of: ping, version,\n"
	      "                       info, events, system, containers, exec, images, build,\n"
	      "                       networks, volumes, plugins, swarm, nodes, services,\n"
	      "                       tasks, secrets, configs, distribution\n"
	      "        --deny RULES   refuse requests matching one of ';'-separated rules\n"
	      "                       \"[METHOD ]/path\" ('*' one segment, '**' any number),\n"
	      "                       e.g. 'POST /containers/**/exec; DELETE /images/**'\n"
	      "        --uid UID      only this peer uid may connect (number or name)\n"
	      "        --isolate      tenant isolation, in progress (README): creates\n"
	      "                       judged and labelled, lists filtered, unknown\n"
	      "                       endpoints refused; owners of named objects not\n"
	      "                       checked yet\n"
	      "      --allow, --deny and --uid may repeat (lists are joined). Refused\n"
	      "      requests get 403. Spawning an existing KEY replaces its token and its\n"
	      "      whole policy: options left out are cleared, not kept.\n"
	      "  spawn --batch [--control PATH] [policy options] < LINES\n"
	      "      one spawn per stdin line KEY<TAB>TOKEN, the policy for all; one line\n"
	      "      out per line in, the path or an empty line (why: on stderr)\n"
	      "  teardown [--control PATH] KEY\n"
	      "      remove KEY's socket and close its connections (unknown KEY: success)\n"
	      "  ls [--control PATH] [--json]\n"
	      "      list the containers with their counters and policies\n"
	      "  stats [--control PATH] [KEY]\n"
	      "      counters of KEY, or the host total\n"
	      "  path [--dir DIR] KEY\n"
	      "      print KEY's socket path (pure: no daemon needed)\n"
	      "\n"
	      "spawn, teardown, ls and stats take --timeout SECONDS (default 30; 0: none).\n"
	      "Use `--` before a KEY that starts with '-'.\n",
	      f);
}

int fail(const char *what, int err)
{
	fprintf(stderr, "dockmux: %s: %s\n", what, strerror(-err));
	return 1;
}

int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("dockmux: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	return 2;
}

/* A key for a human: printable ASCII kept, everything else (and, with
 * space_too, spaces so table columns stay split) as \xNN. */
void key_escape(const char *key, bool space_too, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p && o + 5 <= cap; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\' || (space_too && *p == ' ')) {
			if (*p == '\\') {
				out[o++] = '\\';
				out[o++] = '\\';
				continue;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

/* JSON string of arbitrary bytes: valid UTF-8 is kept; a stray byte >= 0x80
 * becomes \u00XX (its Latin-1 reading) so the output is always valid JSON. */
void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = 0;

		if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		if (n) {
			size_t i = 1;

			while (i < n && (p[i] & 0xc0) == 0x80)
				i++;
			if (i == n) {
				fwrite(p, 1, n, f);
				p += n;
				continue;
			}
		}
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
		p++;
	}
	fputc('"', f);
}

/* getopt_long accepts any unambiguous prefix of a long option, so `--token X`
 * would silently mean `--token-file X`. Demand exact names, and name only the
 * option (never its value, which could be a secret) when refusing one. */
int opts_exact(int argc, char **argv, const struct option *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct option *o;
		size_t n;

		if (strcmp(a, "--") == 0)
			return 0;
		if (strncmp(a, "--", 2) != 0)
			continue;
		n = strcspn(a + 2, "=");
		for (o = opts; o->name; o++)
			if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
				break;
		if (!o->name) {
			fprintf(stderr, "dockmux: %s: unknown option --%.*s\n", argv[0], (int)n, a + 2);
			return -EINVAL;
		}
		if (o->has_arg == required_argument && a[2 + n] != '=')
			i++;  /* its value may start with "--" */
	}
	return 0;
}

/* Strict unsigned parse: the whole string, in base, at most max. */
int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_uid(const char *s, uid_t *out)
{
	unsigned long v;
	struct passwd *pw;

	if (parse_ulong(s, 10, (uid_t)-2, &v) == 0) {
		*out = (uid_t)v;
		return 0;
	}
	pw = getpwnam(s);
	if (!pw)
		return -EINVAL;
	*out = pw->pw_uid;
	return 0;
}

int parse_gid(const char *s, gid_t *out)
{
	unsigned long v;
	struct group *gr;

	if (parse_ulong(s, 10, (gid_t)-2, &v) == 0) {
		*out = (gid_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -EINVAL;
	*out = gr->gr_gid;
	return 0;
}

/* UID, UID:GID or :GID; numbers or names. */
int parse_owner(const char *s, uid_t *uid, gid_t *gid)
{
	char buf[256];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(buf) || (n == 0 && !colon))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (n && parse_uid(buf, uid) < 0)
		return -EINVAL;
	if (colon && parse_gid(colon + 1, gid) < 0)
		return -EINVAL;
	return 0;
}

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "serve", cmd_serve },
	{ "spawn", cmd_spawn },
	{ "teardown", cmd_teardown },
	{ "ls", cmd_ls },
	{ "stats", cmd_stats },
	{ "path", cmd_path },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage("missing COMMAND");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		/* meson.build's project version (the packages' upstream version) */
		printf("dockmux %s\n", DOCKMUX_VERSION);
		return 0;
	}
	opterr = 0;  /* our own messages: getopt's would echo option values */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return bad_usage("unknown option (a COMMAND comes first)");
	return bad_usage("unknown command");
}
