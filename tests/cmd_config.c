/* tests/cmd_config.c: dockmux.conf -> argv (cmd/config.c), through real
 * files in a temporary directory: the syntax, flags, every refusal with its
 * line number, and that a refusal never echoes a value. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *const known[] = { "upstream", "dir", "token-prefix", "max-conns",
				     "log-file", NULL };
static const char *const bools[] = { "takeover", "access-log", NULL };

#define DIR_TEMPLATE "/tmp/dmx-config.XXXXXX"

static char dir[sizeof(DIR_TEMPLATE)];
static char path[sizeof(dir) + 16];
static char err[512];
static int argc_out;
static char **argv_out;

/* Also called again inside a test, for a fresh file and fresh outputs. */
static void setup(void)
{
	memcpy(dir, DIR_TEMPLATE, sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dockmux.conf", dir);
	argc_out = -1;
	argv_out = NULL;
	err[0] = '\0';
}

static void teardown(void)
{
	config_free(argc_out, argv_out);
	unlink(path);
	rmdir(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Write len bytes of text as the config file and read it back. */
static int read_bytes(const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	return config_read(path, known, bools, &argc_out, &argv_out, err, sizeof(err));
}

static int read_text(const char *text) { return read_bytes(text, strlen(text)); }

/* The result is exactly want (NULL-terminated). */
static void expect_args(const char *const *want)
{
	int n = 0;

	while (want[n])
		n++;
	cr_assert_eq(argc_out, n, "got %d options, want %d", argc_out, n);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(argv_out[i], want[i]);
	cr_assert_null(argv_out[n]);
}

/* A refusal on line: -EINVAL, "PATH:LINE: " and why in the message. */
static void expect_refusal(int ret, unsigned line, const char *why)
{
	char prefix[sizeof(path) + 16];

	cr_assert_eq(ret, -EINVAL, "ret %d (%s)", ret, err);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "message '%s', want prefix '%s'",
		     err, prefix);
	cr_assert_not_null(strstr(err, why), "message '%s' lacks '%s'", err, why);
	cr_assert_eq(argc_out, -1, "outputs written on failure");
	cr_assert_null(argv_out);
}

Test(config, keys_values_comments_and_blank_lines)
{
	cr_assert_eq(read_text("# dockmux.conf\n"
			       "\n"
			       "   \t\n"
			       "upstream = /run/podman/podman.sock\n"
			       "  # indented comment\n"
			       "\tdir=/srv/dockmux  \n"
			       "max-conns =4096\n"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--upstream=/run/podman/podman.sock",
					   "--dir=/srv/dockmux", "--max-conns=4096", NULL });
}

Test(config, inner_blanks_are_kept_and_hash_without_blank_is_literal)
{
	cr_assert_eq(read_text("token-prefix = Bearer  x\n"
			       "dir = /srv/a#b\n"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--token-prefix=Bearer  x", "--dir=/srv/a#b", NULL });
}

Test(config, quotes_keep_blanks_and_escapes_unfold)
{
	cr_assert_eq(read_text("token-prefix = \"Bearer \"\n"
			       "dir = \"/srv/with \\\"quotes\\\" and \\\\ # not a comment\"   \n"
			       "upstream = \"\"\n"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--token-prefix=Bearer ",
					   "--dir=/srv/with \"quotes\" and \\ # not a comment",
					   "--upstream=", NULL });
}

Test(config, empty_value_gives_an_empty_option)
{
	cr_assert_eq(read_text("token-prefix =\n"), 0, "%s", err);
	expect_args((const char *const[]){ "--token-prefix=", NULL });
}

Test(config, flags_true_add_and_false_omit)
{
	cr_assert_eq(read_text("takeover = true\n"
			       "access-log = no\n"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--takeover", NULL });
	config_free(argc_out, argv_out);
	argc_out = -1;
	argv_out = NULL;
	cr_assert_eq(read_text("takeover = 0\naccess-log = YES\n"), 0, "%s", err);
	expect_args((const char *const[]){ "--access-log", NULL });
}

Test(config, flag_with_a_bad_value_is_refused)
{
	expect_refusal(read_text("upstream = /x\n\ntakeover = maybe\n"), 3,
		       "'takeover' takes true or false");
}

Test(config, flag_with_an_empty_value_is_refused)
{
	expect_refusal(read_text("access-log =\n"), 1, "'access-log' takes true or false");
}

Test(config, last_duplicate_wins_for_values_and_flags)
{
	cr_assert_eq(read_text("dir = /a\n"
			       "takeover = yes\n"
			       "upstream = /u\n"
			       "dir = /b\n"
			       "takeover = false\n"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--upstream=/u", "--dir=/b", NULL });
}

Test(config, unknown_key_names_key_and_line)
{
	expect_refusal(read_text("# c\ndir = /a\nmax-connz = 5\n"), 3, "unknown key 'max-connz'");
}

Test(config, option_prefix_is_not_a_key)
{
	/* getopt_long would take "--up" for --upstream; the file must not. */
	expect_refusal(read_text("up = /x\n"), 1, "unknown key 'up'");
}

Test(config, line_without_equals_is_refused_without_echo)
{
	expect_refusal(read_text("dir = /a\nhunter2-secret\n"), 2, "expected 'key = value'");
	cr_assert_null(strstr(err, "hunter2"));
}

Test(config, bad_key_characters_are_refused)
{
	expect_refusal(read_text("max conns = 5\n"), 1, "bad key name");
	teardown();
	setup();
	expect_refusal(read_text("--dir = /a\n"), 1, "unknown key '--dir'");
	teardown();
	setup();
	expect_refusal(read_text("Dir = /a\n"), 1, "bad key name");
	teardown();
	setup();
	expect_refusal(read_text(" = /a\n"), 1, "no key before '='");
}

Test(config, missing_file_is_enoent_and_outputs_untouched)
{
	unlink(path);
	cr_assert_eq(config_read(path, known, bools, &argc_out, &argv_out, err, sizeof(err)),
		     -ENOENT);
	cr_assert_eq(argc_out, -1);
	cr_assert_null(argv_out);
	cr_assert_not_null(strstr(err, path));
}

Test(config, empty_file_gives_an_empty_argv)
{
	cr_assert_eq(read_text(""), 0, "%s", err);
	cr_assert_eq(argc_out, 0);
	cr_assert_not_null(argv_out);
	cr_assert_null(argv_out[0]);
}

Test(config, comments_only_file_gives_an_empty_argv)
{
	cr_assert_eq(read_text("# all defaults\n#dir = /run/dockmux\n"), 0, "%s", err);
	cr_assert_eq(argc_out, 0);
}

Test(config, crlf_line_endings_and_no_final_newline)
{
	cr_assert_eq(read_text("# windows\r\ndir = /a\r\ntoken-prefix = \"B \"\r\ntakeover = 1\r\n"
			       "upstream = /u"),
		     0, "%s", err);
	expect_args((const char *const[]){ "--dir=/a", "--token-prefix=B ", "--takeover",
					   "--upstream=/u", NULL });
}

Test(config, utf8_bom_is_skipped)
{
	cr_assert_eq(read_text("\xef\xbb\xbf" "dir = /a\n"), 0, "%s", err);
	expect_args((const char *const[]){ "--dir=/a", NULL });
}

Test(config, line_at_the_limit_is_read_and_one_more_byte_is_refused)
{
	static char text[CONFIG_LINE_MAX + 64];
	const char *head = "dir = /";
	size_t n = strlen(head);

	memcpy(text, head, n);
	memset(text + n, 'x', CONFIG_LINE_MAX - n);
	memcpy(text + CONFIG_LINE_MAX, "\r\n", 3);
	cr_assert_eq(read_text(text), 0, "%s", err);
	cr_assert_eq(strlen(argv_out[0]), strlen("--dir=") + CONFIG_LINE_MAX - strlen("dir = "));
	teardown();
	setup();
	memset(text + n, 'x', CONFIG_LINE_MAX + 1 - n);
	memcpy(text + CONFIG_LINE_MAX + 1, "\n", 2);
	expect_refusal(read_text(text), 1, "line longer than 4096 bytes");
}

Test(config, very_long_comment_line_is_refused_too)
{
	static char text[100000];

	memset(text, '#', sizeof(text) - 1);
	expect_refusal(read_text(text), 1, "line longer than");
}

Test(config, nul_byte_is_refused)
{
	expect_refusal(read_bytes("dir = /a\n# x\0y\n", 14), 2, "NUL byte");
}

Test(config, control_character_in_a_value_is_refused_without_echo)
{
	expect_refusal(read_text("\n\ndir = /se\x01kret\n"), 3, "control character in the value of 'dir'");
	cr_assert_null(strstr(err, "kret"));
	teardown();
	setup();
	/* A lone CR (old Mac line ending) is not a line break. */
	expect_refusal(read_text("dir = /a\rupstream = /b\n"), 1, "control character");
}

Test(config, trailing_garbage_after_closing_quote_is_refused)
{
	expect_refusal(read_text("dir = \"/a\" /secret-b\n"), 1, "text after the closing quote");
	cr_assert_null(strstr(err, "secret"));
	teardown();
	setup();
	expect_refusal(read_text("dir = \"/a\" # comment\n"), 1, "text after the closing quote");
}

Test(config, unterminated_quote_and_unknown_escape_are_refused)
{
	expect_refusal(read_text("dir = /a\ndir = \"/b\n"), 2, "no closing quote");
	teardown();
	setup();
	expect_refusal(read_text("dir = \"/b\\n\"\n"), 1, "unknown escape");
	teardown();
	setup();
	expect_refusal(read_text("dir = \"/b\\\"\n"), 1, "no closing quote");
}

Test(config, comment_after_an_unquoted_value_is_refused)
{
	expect_refusal(read_text("max-conns = 100 # per socket\n"), 1,
		       "'#' in the value of 'max-conns'");
	cr_assert_null(strstr(err, "per socket"));
}

Test(config, null_message_buffer_is_fine)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("nope = 1\n", f);
	fclose(f);
	cr_assert_eq(config_read(path, known, bools, &argc_out, &argv_out, NULL, 0), -EINVAL);
	cr_assert_eq(config_read(path, known, bools, &argc_out, &argv_out, err, 1), -EINVAL);
	cr_assert_str_eq(err, "");
}

Test(config, directory_is_an_error_not_a_crash)
{
	cr_assert_eq(config_read(dir, known, bools, &argc_out, &argv_out, err, sizeof(err)), -EISDIR,
		     "%s", err);
}
