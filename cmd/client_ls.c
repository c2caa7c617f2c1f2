/* cmd/client_ls.c: `dockmux ls`: the containers, read from the daemon a
 * page at a time (CTL_OP_LIST_PAGE on one connection) and printed as they
 * come, so a host of 30,000 containers costs this command (and the daemon)
 * one page of memory, not the table. The table's columns are as wide as the
 * widest cell seen so far: a much longer key on a later page shifts the
 * columns from there on.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "control_io.h"
#include "dockmux.h"

/* One page of the JSON array; first: no entry was printed before it. */
static void ls_json(const struct dmx_entry *e, size_t n, bool first)
{
	for (size_t i = 0; i < n; i++) {
		const struct dmx_stats *s = &e[i].stats;

		fputs(i || !first ? ",\n {\"key\":" : "\n {\"key\":", stdout);
		json_str(stdout, e[i].key);
		fputs(",\"path\":", stdout);
		json_str(stdout, e[i].path);
		fputs(",\"policy\":", stdout);
		json_str(stdout, e[i].policy);
		printf(",\"nuids\":%zu,\"conns_accepted\":%llu,\"conns_active\":%llu,\"requests\":%llu,"
		       "\"bytes_up\":%llu,\"bytes_down\":%llu,\"errors\":%llu,"
		       "\"responses\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},"
		       "\"denied\":%llu}",
		       e[i].nuids,
		       (unsigned long long)s->conns_accepted, (unsigned long long)s->conns_active,
		       (unsigned long long)s->requests, (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down, (unsigned long long)s->errors,
		       (unsigned long long)s->responses[1], (unsigned long long)s->responses[2],
		       (unsigned long long)s->responses[3], (unsigned long long)s->responses[4],
		       (unsigned long long)s->responses[5], (unsigned long long)s->denied);
	}
}

/* The table's columns. POLICY comes last: its description may hold spaces
 * ("deny=2 rules"), and a last column can without splitting the others. */
enum ls_col {
	LS_KEY, LS_PATH,
	LS_CONNS, LS_ACTIVE, LS_REQUESTS, LS_BYTES_UP, LS_BYTES_DOWN, LS_ERRORS,
	LS_4XX, LS_5XX, LS_DENIED, LS_UIDS,
	LS_POLICY, LS_COLS
};

static const char *const ls_head[LS_COLS] = {
	"KEY", "PATH", "CONNS", "ACTIVE", "REQUESTS", "BYTES_UP", "BYTES_DOWN", "ERRORS",
	"4XX", "5XX", "DENIED", "UIDS", "POLICY",
};

/* One row's cells as text; the path is the entry's own. */
struct ls_row {
	char key[KEY_ESCAPED_MAX];
	char policy[CTL_DESC_MAX * 4 + 1];
	char num[LS_POLICY - LS_CONNS][24];   /* LS_CONNS .. LS_UIDS */
};

static void ls_row_fill(struct ls_row *r, const struct dmx_entry *e)
{
	const struct dmx_stats *s = &e->stats;
	const uint64_t v[LS_UIDS - LS_CONNS] = {
		s->conns_accepted, s->conns_active, s->requests, s->bytes_up, s->bytes_down,
		s->errors, s->responses[4], s->responses[5], s->denied,
	};

	key_escape(e->key, true, r->key, sizeof(r->key));
	key_escape(e->policy, false, r->policy, sizeof(r->policy));
	for (int c = LS_CONNS; c < LS_UIDS; c++)
		snprintf(r->num[c - LS_CONNS], sizeof(r->num[0]), "%llu",
			 (unsigned long long)v[c - LS_CONNS]);
	if (e->nuids)
		snprintf(r->num[LS_UIDS - LS_CONNS], sizeof(r->num[0]), "%zu", e->nuids);
	else
		snprintf(r->num[LS_UIDS - LS_CONNS], sizeof(r->num[0]), "any");
}

static const char *ls_cell(const struct ls_row *r, const struct dmx_entry *e, int c)
{
	if (c == LS_KEY)
		return r->key;
	if (c == LS_PATH)
		return e->path;
	if (c == LS_POLICY)
		return r->policy;
	return r->num[c - LS_CONNS];
}

static void ls_line(const size_t width[LS_COLS], const char *const cell[LS_COLS])
{
	for (int c = 0; c < LS_COLS - 1; c++)
		printf("%-*s  ", (int)width[c], cell[c]);
	printf("%s\n", cell[LS_COLS - 1]);
}

/* The table, page by page: the head before the first page, each page's
 * rows with the widths of everything seen so far. */
struct ls_table {
	size_t width[LS_COLS];
	bool head_done;
	struct ls_row *rows;        /* CTL_PAGE_MAX */
};

static void ls_table_page(struct ls_table *t, const struct dmx_entry *e, size_t n)
{
	const char *cell[LS_COLS];

	if (!t->head_done) {
		for (int c = 0; c < LS_COLS; c++)
			if (strlen(ls_head[c]) > t->width[c])
				t->width[c] = strlen(ls_head[c]);
	}
	for (size_t i = 0; i < n; i++) {
		ls_row_fill(&t->rows[i], &e[i]);
		for (int c = 0; c < LS_COLS; c++) {
			size_t w = strlen(ls_cell(&t->rows[i], &e[i], c));

			if (w > t->width[c])
				t->width[c] = w;
		}
	}
	if (!t->head_done) {
		ls_line(t->width, ls_head);
		t->head_done = true;
	}
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < LS_COLS; c++)
			cell[c] = ls_cell(&t->rows[i], &e[i], c);
		ls_line(t->width, cell);
	}
}

/* One page into entries: its entry count (0: the end), or -1 after
 * printing why not. */
static int ls_fetch(int fd, const char *control, struct dmx_list_cursor *cur,
		    struct dmx_entry *entries, int timeout_ms)
{
	struct ctl_request req = { .op = CTL_OP_LIST_PAGE, .cursor = *cur, .page_max = CTL_PAGE_MAX };
	uint8_t buf[CTL_REQ_HEAD + 4 + CTL_CURSOR_LEN + 2];
	int64_t deadline = timeout_ms > 0 ? ctl_now_ms() + timeout_ms : 0;
	void *payload = NULL;
	size_t plen;
	int n, status;

	n = ctl_request_encode(&req, buf, sizeof(buf));
	if (n > 0)
		n = ctl_exchange(fd, buf, (size_t)n, &status, &payload, &plen, deadline);
	if (n < 0) {
		client_fail_transport(control, n);
		return -1;
	}
	if (status < 0) {
		char what[64];

		snprintf(what, sizeof(what), "ls%s", client_why("ls", status));
		fail(what, status);
		return -1;
	}
	n = ctl_page_decode(payload, plen, cur, entries, CTL_PAGE_MAX);
	free(payload);
	if (n > CTL_PAGE_MAX)
		n = -EBADMSG;   /* more than asked for: not a daemon of ours */
	if (n < 0) {
		fail("ls: reply from the daemon", n);
		return -1;
	}
	return n;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DEFAULT_CONTROL;
	struct dmx_list_cursor cur = { { 0, 0, 0 } };
	struct ls_table table = { .head_done = false };
	struct dmx_entry *entries;
	bool json = false;
	size_t total = 0;
	int opt, fd, n, ret = 0, timeout_ms = CTL_TIMEOUT_MS_DEFAULT;

	if (opts_exact(argc, argv, opts) < 0)
		return bad_usage("ls: bad option");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'j': json = true; break;
		case 't':
			if (client_timeout(optarg, &timeout_ms) < 0)
				return bad_usage("ls: --timeout takes seconds (0: wait forever)");
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("ls: bad option");
		}
	}
	if (optind != argc)
		return bad_usage("ls: takes no arguments");
	entries = calloc(CTL_PAGE_MAX, sizeof(*entries));
	table.rows = calloc(CTL_PAGE_MAX, sizeof(*table.rows));
	if (!entries || !table.rows) {
		free(entries);
		free(table.rows);
		return fail("ls", -ENOMEM);
	}
	fd = ctl_connect(control, timeout_ms > 0 ? ctl_now_ms() + timeout_ms : 0);
	if (fd < 0) {
		ret = client_fail_transport(control, fd);
		goto out;
	}
	/* Nothing is printed before the first page is in: an error then
	 * leaves no half a table or half an array behind. */
	while ((n = ls_fetch(fd, control, &cur, entries, timeout_ms)) > 0) {
		if (json) {
			if (total == 0)
				fputs("[", stdout);
			ls_json(entries, (size_t)n, total == 0);
		} else {
			ls_table_page(&table, entries, (size_t)n);
		}
		total += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		ret = 1;
		goto out;
	}
	if (json)
		fputs(total ? "\n]\n" : "[]\n", stdout);
	else if (total == 0)
		ls_table_page(&table, entries, 0);
	ret = fflush(stdout) == 0 ? 0 : fail("stdout", -errno);
out:
	free(entries);
	free(table.rows);
	return ret;
}
