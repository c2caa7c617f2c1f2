/* bench/report.c: dockmux-bench-report RAW.jsonl OUTDIR. Turns the raw records
 * that bench/run.sh collected (one flat JSON object per line, written by our
 * own tools) into OUTDIR/results.json, OUTDIR/results.md (absolute figures,
 * ratios to direct, PASS/FAIL against the goals) and the data files
 * for bench/throughput.gp. It only reads what was measured: a missing figure
 * is reported as missing, never filled in.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REP_MAX_FIELDS 96
#define REP_MAX_RECORDS 256

struct rep_field {
	char *key;
	char *val;          /* unescaped string, or the number's text */
	bool is_str;
};

struct rep_record {
	char *line;         /* the raw JSON object, copied into results.json */
	struct rep_field f[REP_MAX_FIELDS];
	unsigned n;
};

static struct rep_record rep_recs[REP_MAX_RECORDS];
static unsigned rep_nrecs;

static const char *const rep_targets[] = {
	"direct", "dockmux", "haproxy-tcp", "haproxy-http", "nginx-stream", "nginx-http", "socat",
};
#define REP_NTARGETS (sizeof(rep_targets) / sizeof(rep_targets[0]))

struct rep_scenario {
	const char *name;
	const char *title;
	const char *metric;      /* rps or mib_per_s */
	const char *unit;
};

static const struct rep_scenario rep_traffic[] = {
	{ "ka32", "1a. Keep-alive small requests, 32 connections", "rps", "req/s" },
	{ "ka256", "1b. Keep-alive small requests, 256 connections", "rps", "req/s" },
	{ "churn", "2. Churn: one request per connection, 32 concurrent clients", "rps", "req/s" },
	{ "bulk-get", "3a. Bulk download: 4 parallel responses", "mib_per_s", "MiB/s" },
	{ "bulk-post", "3b. Bulk upload: 4 parallel request bodies", "mib_per_s", "MiB/s" },
};
#define REP_NTRAFFIC (sizeof(rep_traffic) / sizeof(rep_traffic[0]))

/* ---- a parser for the flat objects our tools print ---- */

static char *rep_parse_string(char **pp)
{
	char *p = *pp, *out, *w;

	if (*p != '"')
		return NULL;
	out = w = ++p;
	while (*p && *p != '"') {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'u' && p[1] && p[2] && p[3] && p[4]) {
				char hex[5] = { p[1], p[2], p[3], p[4], 0 };

				*w++ = (char)strtol(hex, NULL, 16);
				p += 5;
				continue;
			}
			*w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			p++;
			continue;
		}
		*w++ = *p++;
	}
	if (*p != '"')
		return NULL;
	*w = '\0';
	*pp = p + 1;
	return out;
}

static int rep_parse_line(const char *line, struct rep_record *r)
{
	char *buf = strdup(line), *p = buf;

	if (!buf)
		return -ENOMEM;
	r->line = strdup(line);
	r->n = 0;
	while (*p == ' ')
		p++;
	if (*p++ != '{')
		return -EINVAL;
	for (;;) {
		struct rep_field *f;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '}' || !*p)
			return 0;
		if (r->n == REP_MAX_FIELDS)
			return -E2BIG;
		f = &r->f[r->n];
		f->key = rep_parse_string(&p);
		if (!f->key)
			return -EINVAL;
		while (*p == ' ' || *p == ':')
			p++;
		if (*p == '"') {
			f->val = rep_parse_string(&p);
			f->is_str = true;
			if (!f->val)
				return -EINVAL;
			r->n++;
			continue;
		}
		/* A number (or true/false/null): up to the next ',' or '}'. */
		size_t len = strcspn(p, ",}");
		char end = p[len];

		f->val = p;
		f->is_str = false;
		p[len] = '\0';
		while (len && p[len - 1] == ' ')
			p[--len] = '\0';
		r->n++;
		if (end != ',')
			return 0;
		p += strlen(p) + 1;
	}
}

/* Write s as a JSON string. */
static void rep_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *rep_str(const struct rep_record *r, const char *key)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->f[i].key, key) == 0)
			return r->f[i].val;
	return NULL;
}

static bool rep_num(const struct rep_record *r, const char *key, double *out)
{
	const char *s = rep_str(r, key);
	char *end;
	double v;

	if (!s || !*s)
		return false;
	v = strtod(s, &end);
	if (end == s)
		return false;
	*out = v;
	return true;
}

static double rep_num_or(const struct rep_record *r, const char *key, double dflt)
{
	double v;

	return rep_num(r, key, &v) ? v : dflt;
}

/* A JSON true/false field (stored as its literal text). */
static bool rep_bool_or(const struct rep_record *r, const char *key, bool dflt)
{
	const char *s = rep_str(r, key);

	if (!s)
		return dflt;
	return strcmp(s, "true") == 0;
}

static struct rep_record *rep_find(const char *scenario, const char *target)
{
	for (unsigned i = 0; i < rep_nrecs; i++) {
		const char *s = rep_str(&rep_recs[i], "scenario");
		const char *t = rep_str(&rep_recs[i], "target");

		if (s && t && strcmp(s, scenario) == 0 && strcmp(t, target) == 0)
			return &rep_recs[i];
	}
	return NULL;
}

/* The metric that ranks rounds of a scenario, or NULL. */
static const char *rep_metric_of(const char *scenario)
{
	for (unsigned i = 0; i < REP_NTRAFFIC; i++)
		if (strcmp(rep_traffic[i].name, scenario) == 0)
			return rep_traffic[i].metric;
	return NULL;
}

static const char *rep_sort_metric;

static int rep_cmp_metric(const void *a, const void *b)
{
	double x = rep_num_or(*(struct rep_record *const *)a, rep_sort_metric, 0);
	double y = rep_num_or(*(struct rep_record *const *)b, rep_sort_metric, 0);

	return (x > y) - (x < y);
}

/* The records with figures (not skip notices) of scenario/target. */
static unsigned rep_rounds(const char *scenario, const char *target, struct rep_record **out,
			   unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rep_nrecs && n < cap; i++) {
		const char *s = rep_str(&rep_recs[i], "scenario");
		const char *t = rep_str(&rep_recs[i], "target");

		if (s && t && !strcmp(s, scenario) && !strcmp(t, target) &&
		    !rep_str(&rep_recs[i], "skipped"))
			out[n++] = &rep_recs[i];
	}
	return n;
}

/* The record with figures of scenario/target; with several rounds, the
 * median round by the scenario's throughput (the lower one of two). */
static struct rep_record *rep_measured(const char *scenario, const char *target)
{
	struct rep_record *c[64];
	unsigned n = rep_rounds(scenario, target, c, 64);

	if (n == 0)
		return NULL;
	rep_sort_metric = rep_metric_of(scenario);
	if (n == 1 || !rep_sort_metric)
		return c[0];
	qsort(c, n, sizeof(c[0]), rep_cmp_metric);
	return c[(n - 1) / 2];
}

static bool rep_clean(const struct rep_record *r)
{
	return rep_num_or(r, "errors", 0) == 0 && rep_num_or(r, "auth_failures", 0) == 0;
}

/* ---- formatting ---- */

/* Thousands separators for a whole number in buf (readable tables). */
static void rep_group(char *buf, size_t cap)
{
	char tmp[64];
	size_t len = strlen(buf), j = 0, lead = (buf[0] == '-');

	if (strchr(buf, '.') || len - lead < 5)
		return;
	for (size_t i = 0; i < len && j + 2 < sizeof(tmp); i++) {
		if (i > lead && (len - i) % 3 == 0)
			tmp[j++] = ',';
		tmp[j++] = buf[i];
	}
	tmp[j] = '\0';
	if (j < cap)
		memcpy(buf, tmp, j + 1);
}

/* Three significant digits or a whole number, whichever is longer. */
static const char *rep_fmt(char *buf, size_t cap, double v)
{
	double a = fabs(v);

	snprintf(buf, cap, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
	rep_group(buf, cap);
	return buf;
}

static const char *rep_fmti(char *buf, size_t cap, double v)
{
	snprintf(buf, cap, "%.0f", v);
	rep_group(buf, cap);
	return buf;
}

#define FMT(v) rep_fmt((char[48]){ 0 }, 48, (v))
#define FMTI(v) rep_fmti((char[48]){ 0 }, 48, (v))

/* ---- goals ---- */

struct rep_goal {
	char name[160];
	double measured;
	bool have;
	char op[3];
	double threshold;
	int pass;              /* 1, 0, or -1: could not be measured */
	char note[200];
};

static struct rep_goal rep_goals[32];
static unsigned rep_ngoals;

static struct rep_goal *rep_goal_add(const char *name, const char *op, double threshold)
{
	struct rep_goal *g = &rep_goals[rep_ngoals++];

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->op, sizeof(g->op), "%s", op);
	g->threshold = threshold;
	g->pass = -1;
	return g;
}

static void rep_goal_judge(struct rep_goal *g, double v, bool clean)
{
	g->measured = v;
	g->have = true;
	if (strcmp(g->op, ">=") == 0)
		g->pass = v >= g->threshold;
	else if (strcmp(g->op, "<=") == 0)
		g->pass = v <= g->threshold;
	else
		g->pass = v < g->threshold;
	if (!clean) {
		g->pass = 0;
		snprintf(g->note + strlen(g->note), sizeof(g->note) - strlen(g->note),
			 "%serrors during the run", g->note[0] ? "; " : "");
	}
}

/* dockmux's metric over another target's, as a goal. */
static void rep_goal_ratio(const char *scenario, const char *label, const char *metric,
			   const char *other, double threshold)
{
	char name[160];
	struct rep_record *d = rep_measured(scenario, "dockmux");
	struct rep_record *o = rep_measured(scenario, other);
	struct rep_goal *g;
	double dv, ov;

	snprintf(name, sizeof(name), "%s: dockmux / %s", label, other);
	g = rep_goal_add(name, ">=", threshold);
	if (!d || !o || !rep_num(d, metric, &dv) || !rep_num(o, metric, &ov) || ov <= 0) {
		struct rep_record *s = rep_find(scenario, d ? other : "dockmux");

		if (s && rep_str(s, "skipped"))
			snprintf(g->note, sizeof(g->note), "%s: %s", d ? other : "dockmux",
				 rep_str(s, "skipped"));
		else
			snprintf(g->note, sizeof(g->note), "not run");
		return;
	}
	rep_goal_judge(g, dv / ov, rep_clean(d));
}

/* dockmux over the best HAProxy/nginx mode measured in this scenario. */
static void rep_goal_best_proxy(const char *scenario, const char *label, double threshold)
{
	static const char *const others[] = { "haproxy-tcp", "haproxy-http", "nginx-stream", "nginx-http" };
	struct rep_record *d = rep_measured(scenario, "dockmux");
	const char *best_name = NULL;
	double best = 0, dv;
	char name[160];
	struct rep_goal *g;

	for (unsigned i = 0; i < 4; i++) {
		struct rep_record *o = rep_measured(scenario, others[i]);
		double v;

		if (o && rep_num(o, "mib_per_s", &v) && v > best) {
			best = v;
			best_name = others[i];
		}
	}
	snprintf(name, sizeof(name), "%s: dockmux / best of HAProxy, nginx", label);
	g = rep_goal_add(name, ">=", threshold);
	if (!d || !best_name || !rep_num(d, "mib_per_s", &dv)) {
		snprintf(g->note, sizeof(g->note), "%s",
			 d ? "HAProxy and nginx not installed, not run or failed" :
			     rep_find(scenario, "dockmux") ? "dockmux failed" : "not run");
		return;
	}
	snprintf(g->note, sizeof(g->note), "best: %s", best_name);
	rep_goal_judge(g, dv / best, rep_clean(d));
}

static void rep_goals_build(void)
{
	struct rep_record *d, *x, *den;
	struct rep_goal *g;
	double dv, xv;

	rep_goal_ratio("ka32", "keep-alive 32 conns", "rps", "direct", 0.8);
	rep_goal_ratio("ka256", "keep-alive 256 conns", "rps", "direct", 0.8);
	rep_goal_ratio("ka32", "keep-alive 32 conns", "rps", "haproxy-http", 1.6);
	rep_goal_ratio("ka256", "keep-alive 256 conns", "rps", "haproxy-http", 1.6);
	rep_goal_ratio("churn", "churn", "rps", "direct", 0.8);
	rep_goal_ratio("bulk-get", "bulk download", "mib_per_s", "direct", 0.9);
	rep_goal_ratio("bulk-post", "bulk upload", "mib_per_s", "direct", 0.9);
	rep_goal_best_proxy("bulk-get", "bulk download", 2.0);
	rep_goal_best_proxy("bulk-post", "bulk upload", 2.0);

	g = rep_goal_add("p99 latency, keep-alive 32 conns: dockmux / direct", "<=", 1.5);
	d = rep_measured("ka32", "dockmux");
	x = rep_measured("ka32", "direct");
	if (d && x && rep_num(d, "lat_p99_us", &dv) && rep_num(x, "lat_p99_us", &xv) && xv > 0)
		rep_goal_judge(g, dv / xv, rep_clean(d));
	else
		snprintf(g->note, sizeof(g->note), "not run");

	den = rep_measured("density", "dockmux");
	g = rep_goal_add("density: seconds to spawn 10,000 containers", "<", 1.0);
	if (den && rep_num(den, "spawn_s", &dv)) {
		double n = rep_num_or(den, "containers", 0);

		rep_goal_judge(g, dv, rep_num_or(den, "spawned", 0) == n &&
				       rep_num_or(den, "check_errors", 0) == 0);
		if (n != 10000)
			snprintf(g->note, sizeof(g->note), "measured with %.0f containers", n);
	} else {
		snprintf(g->note, sizeof(g->note), "not run");
	}
	g = rep_goal_add("density: user-space bytes per idle container (RSS delta)", "<=", 1024);
	if (den && rep_num(den, "bytes_per_container", &dv))
		rep_goal_judge(g, dv, true);
	else
		snprintf(g->note, sizeof(g->note), "not run");
	/* "Zero CPU when idle": getrusage has microsecond resolution; allow what
	 * a single timer tick per second would cost, 100 us per idle second. */
	g = rep_goal_add("density: CPU seconds per idle second, all containers listening", "<=", 0.0001);
	if (den && rep_num(den, "idle_cpu_s", &dv) && rep_num_or(den, "idle_s", 0) > 0)
		rep_goal_judge(g, dv / rep_num_or(den, "idle_s", 1), true);
	else
		snprintf(g->note, sizeof(g->note), "not run");

	/* More sockets than fds: the listeners must be direct descriptors. */
	d = rep_measured("scale", "dockmux");
	g = rep_goal_add("scale: container sockets held with ulimit -n 20,000 (traffic on the last)", ">=", 30000);
	if (d && rep_num(d, "spawned", &dv)) {
		bool ok = rep_num_or(d, "fd_limit", 1e18) <= 20000 &&
			  rep_num_or(d, "check_errors", 1) == 0 && rep_bool_or(d, "last_ok", false);

		rep_goal_judge(g, dv, ok);
		snprintf(g->note, sizeof(g->note), "fd limit %.0f, process fds %.0f, last one %s",
			 rep_num_or(d, "fd_limit", 0), rep_num_or(d, "process_fds", -1),
			 rep_bool_or(d, "last_ok", false) ? "answered" : "FAILED");
	} else {
		snprintf(g->note, sizeof(g->note), "not run");
	}

	g = rep_goal_add("lifecycle storm: errors on untouched containers", "<=", 0);
	d = rep_measured("lifecycle", "dockmux");
	if (d) {
		double errs = rep_num_or(d, "errors", 0) + rep_num_or(d, "auth_failures", 0);

		rep_goal_judge(g, errs, true);
		if (rep_num_or(d, "lifecycle_errors", 0) + rep_num_or(d, "check_errors", 0) > 0) {
			g->pass = 0;
			snprintf(g->note, sizeof(g->note), "storm itself failed: %.0f spawn/teardown errors, %.0f failed checks",
				 rep_num_or(d, "lifecycle_errors", 0), rep_num_or(d, "check_errors", 0));
		}
	} else {
		snprintf(g->note, sizeof(g->note), "not run");
	}
	/* The daemon's control plane (issue 13): durable spawns through the
	 * control socket, flat as the host fills; listing and restart at 30,000. */
	d = rep_measured("control", "dockmux");
	{
		bool clean = d && rep_num_or(d, "errors", 1) == 0 && rep_num_or(d, "scale_errors", 1) == 0;
		double first, last;

		g = rep_goal_add("control: durable spawns/s through the daemon, 10,000 containers", ">=", 5000);
		if (d && rep_num(d, "spawn_per_s", &dv))
			rep_goal_judge(g, dv, clean);
		else
			snprintf(g->note, sizeof(g->note), "not run");
		g = rep_goal_add("control: spawns/s over containers 9,001-10,000 / over 1-1,000", ">=", 0.8);
		if (d && rep_num(d, "spawn_per_s_first", &first) && rep_num(d, "spawn_per_s_last", &last) &&
		    first > 0) {
			rep_goal_judge(g, last / first, clean);
			snprintf(g->note, sizeof(g->note), "%.0f/s then %.0f/s", first, last);
		} else {
			snprintf(g->note, sizeof(g->note), "not run");
		}
		g = rep_goal_add("control: durable teardowns/s, 10,000 containers", ">=", 5000);
		if (d && rep_num(d, "teardown_per_s", &dv))
			rep_goal_judge(g, dv, clean);
		else
			snprintf(g->note, sizeof(g->note), "not run");
		g = rep_goal_add("control: teardowns/s over the last 1,000 / over the first 1,000", ">=", 0.8);
		if (d && rep_num(d, "teardown_per_s_first", &first) &&
		    rep_num(d, "teardown_per_s_last", &last) && first > 0) {
			rep_goal_judge(g, last / first, clean);
			snprintf(g->note, sizeof(g->note), "%.0f/s then %.0f/s", first, last);
		} else {
			snprintf(g->note, sizeof(g->note), "not run");
		}
		static const struct { const char *key, *label; } t[] = {
			{ "ls_s", "control: `dockmux ls` at 30,000 containers, s" },
			{ "ls_json_s", "control: `dockmux ls --json` at 30,000 containers, s" },
			{ "metrics_s", "control: one /metrics scrape at 30,000 containers, s" },
		};
		for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			g = rep_goal_add(t[i].label, "<", 1.0);
			if (d && rep_num(d, t[i].key, &dv))
				rep_goal_judge(g, dv, true);
			else
				snprintf(g->note, sizeof(g->note), "not run");
		}
		g = rep_goal_add("control: restart with 30,000 containers in the state, s to listening", "<", 3.0);
		if (d && rep_num(d, "restart_ready_s", &dv)) {
			rep_goal_judge(g, dv, rep_num_or(d, "restart_last_status", 0) == 200 &&
					       rep_num_or(d, "restart_sockets", 0) >= rep_num_or(d, "ls_containers", 1));
			snprintf(g->note, sizeof(g->note), "%.0f sockets, the last one answered %.0f",
				 rep_num_or(d, "restart_sockets", 0), rep_num_or(d, "restart_last_status", 0));
		} else {
			snprintf(g->note, sizeof(g->note), "not run");
		}
	}
}

/* ---- Markdown ---- */

static void rep_md_meta(FILE *f, const struct rep_record *m)
{
	const char *mode = rep_str(m, "mode");

	fprintf(f, "# dockmux benchmark (%s mode)\n\n", mode ? mode : "?");
	if (!m)
		return;
	fprintf(f, "%s, Linux %s, %s CPUs (%s), %s GiB. Every proxy runs with %s threads/workers/rings; "
		"the upstream stub with %s thread(s), the load generator with %s. "
		"dockmux serves %s container sockets and the load is spread over all of them; "
		"the other targets have one socket. Sockets in %s. Timed runs: %s s after %s s of warm-up. "
		"Bulk: %s transfer(s) of %.0f MiB per stream. Rounds per traffic scenario: %s "
		"(the median round is shown, the range in brackets).\n\n",
		rep_str(m, "date"), rep_str(m, "kernel"), rep_str(m, "cpus"), rep_str(m, "cpu_model"),
		rep_str(m, "mem_gib"), rep_str(m, "proxy_threads"), rep_str(m, "upstream_threads"),
		rep_str(m, "loadgen_threads"), rep_str(m, "containers"), rep_str(m, "socket_fs"),
		rep_str(m, "duration_s"),
		rep_str(m, "warmup_s"), rep_str(m, "bulk_transfers"),
		rep_num_or(m, "bulk_bytes", 0) / 1048576.0, rep_str(m, "rounds"));
	fprintf(f, "Versions: HAProxy %s, nginx %s, socat %s (empty: not installed).\n\n",
		rep_str(m, "haproxy"), rep_str(m, "nginx"), rep_str(m, "socat"));
}

static void rep_md_goals(FILE *f)
{
	unsigned pass = 0, fail = 0, na = 0;

	fprintf(f, "## Goals\n\n| Goal | Measured | Target | Result |\n|---|---:|---:|---|\n");
	for (unsigned i = 0; i < rep_ngoals; i++) {
		const struct rep_goal *g = &rep_goals[i];
		char meas[48] = "-";

		if (g->have)
			snprintf(meas, sizeof(meas), "%.4g", g->measured);
		fprintf(f, "| %s | %s | %s %g | %s%s%s%s |\n", g->name, meas, g->op, g->threshold,
			g->pass == 1 ? "PASS" : g->pass == 0 ? "FAIL" : "n/a",
			g->note[0] ? " (" : "", g->note, g->note[0] ? ")" : "");
		pass += g->pass == 1;
		fail += g->pass == 0;
		na += g->pass == -1;
	}
	fprintf(f, "\n%u passed, %u failed, %u not measured.\n\n", pass, fail, na);
}

static void rep_md_traffic(FILE *f, const struct rep_scenario *s)
{
	struct rep_record *direct = rep_measured(s->name, "direct");
	bool bulk = strcmp(s->metric, "mib_per_s") == 0;
	/* Bulk transfers take seconds: their latencies read better in ms. */
	double lat_div = bulk ? 1000.0 : 1.0;
	double dv = 0;
	bool any = false;

	if (direct)
		rep_num(direct, s->metric, &dv);
	fprintf(f, "## %s\n\n", s->title);
	for (unsigned t = 0; t < REP_NTARGETS; t++)
		any |= rep_find(s->name, rep_targets[t]) != NULL;
	if (!any) {
		fprintf(f, "Not run.\n\n");
		return;
	}
	fprintf(f, "| Target | %s | x direct | p50 %s | p99 %s | p99.9 %s | proxy CPU s | %s | RSS (PSS) MiB | errors | auth failures |\n",
		s->unit, bulk ? "ms" : "us", bulk ? "ms" : "us", bulk ? "ms" : "us",
		bulk ? "CPU s/GiB" : "CPU us/req");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned t = 0; t < REP_NTARGETS; t++) {
		struct rep_record *r = rep_measured(s->name, rep_targets[t]);
		struct rep_record *any_r = rep_find(s->name, rep_targets[t]);
		struct rep_record *all[64];
		unsigned rounds = rep_rounds(s->name, rep_targets[t], all, 64);
		double v, cpu, n;
		char ratio[32] = "-", cpu_s[32] = "-", per[32] = "-", rss[64] = "-", range[96] = "";

		if (!r) {
			if (any_r)
				fprintf(f, "| %s | %s | | | | | | | | | |\n", rep_targets[t],
					rep_str(any_r, "skipped"));
			continue;
		}
		if (rounds > 1) {
			/* Show the spread of the rounds next to the median. */
			double lo = 1e300, hi = 0;

			for (unsigned i = 0; i < rounds; i++) {
				double x = rep_num_or(all[i], s->metric, 0);

				lo = x < lo ? x : lo;
				hi = x > hi ? x : hi;
			}
			snprintf(range, sizeof(range), " (%s..%s)", bulk ? FMT(lo) : FMTI(lo),
				 bulk ? FMT(hi) : FMTI(hi));
		}
		v = rep_num_or(r, s->metric, 0);
		if (dv > 0)
			snprintf(ratio, sizeof(ratio), "%.2f", v / dv);
		if (rep_num(r, "proxy_cpu_s", &cpu)) {
			snprintf(cpu_s, sizeof(cpu_s), "%.2f", cpu);
			if (bulk && (n = rep_num_or(r, "bytes", 0)) > 0)
				snprintf(per, sizeof(per), "%.2f", cpu / (n / 1073741824.0));
			else if (!bulk && (n = rep_num_or(r, "requests", 0)) > 0)
				snprintf(per, sizeof(per), "%.1f", cpu * 1e6 / n);
			snprintf(rss, sizeof(rss), "%.1f (%.1f)", rep_num_or(r, "proxy_rss_kib", 0) / 1024.0,
				 rep_num_or(r, "proxy_pss_kib", 0) / 1024.0);
		}
		fprintf(f, "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			rep_targets[t], bulk ? FMT(v) : FMTI(v), range, ratio,
			FMT(rep_num_or(r, "lat_p50_us", 0) / lat_div),
			FMT(rep_num_or(r, "lat_p99_us", 0) / lat_div),
			FMT(rep_num_or(r, "lat_p999_us", 0) / lat_div),
			cpu_s, per, rss, FMTI(rep_num_or(r, "errors", 0)),
			FMTI(rep_num_or(r, "auth_failures", 0)));
		if (rep_str(r, "first_error"))
			fprintf(f, "|  | first error: %s | | | | | | | | | |\n", rep_str(r, "first_error"));
	}
	fprintf(f, "\n");
}

static void rep_md_lifecycle(FILE *f)
{
	struct rep_record *r = rep_find("lifecycle", "dockmux");
	struct rep_record *base = rep_measured("ka32", "dockmux");

	fprintf(f, "## 5. Lifecycle under load: spawn/teardown storm during keep-alive, 32 connections\n\n");
	if (!r) {
		fprintf(f, "Not run.\n\n");
		return;
	}
	if (rep_str(r, "skipped")) {
		fprintf(f, "dockmux: %s\n\n", rep_str(r, "skipped"));
		return;
	}
	fprintf(f, "| Target | req/s | x same without storm | p99 us | p99.9 us | spawns + teardowns /s | storm errors | failed checks of new containers | errors on untouched | auth failures |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	double v = rep_num_or(r, "rps", 0), b = base ? rep_num_or(base, "rps", 0) : 0;
	char ratio[32] = "-";

	if (b > 0)
		snprintf(ratio, sizeof(ratio), "%.2f", v / b);
	fprintf(f, "| dockmux | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", FMTI(v), ratio,
		FMT(rep_num_or(r, "lat_p99_us", 0)), FMT(rep_num_or(r, "lat_p999_us", 0)),
		FMTI(rep_num_or(r, "lifecycle_per_s", 0)), FMTI(rep_num_or(r, "lifecycle_errors", 0)),
		FMTI(rep_num_or(r, "check_errors", 0)), FMTI(rep_num_or(r, "checks", 0)),
		FMTI(rep_num_or(r, "errors", 0)), FMTI(rep_num_or(r, "auth_failures", 0)));
	fprintf(f, "\nOther targets: static configuration, no runtime spawn/teardown (n/a).\n\n");
}

static void rep_md_density(FILE *f)
{
	bool any = false;

	fprintf(f, "## 4. Density: containers spawned, listening idle, torn down\n\n");
	for (unsigned t = 0; t < REP_NTARGETS; t++)
		any |= rep_find("density", rep_targets[t]) != NULL;
	if (!any) {
		fprintf(f, "Not run.\n\n");
		return;
	}
	fprintf(f, "| Target | containers | spawn s | spawns/s | teardowns/s | bytes/container | idle CPU s/s | sample requests ok |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned t = 0; t < REP_NTARGETS; t++) {
		struct rep_record *r = rep_find("density", rep_targets[t]);
		double idle;

		if (!r)
			continue;
		if (rep_str(r, "skipped")) {
			fprintf(f, "| %s | %s | | | | | | |\n", rep_targets[t], rep_str(r, "skipped"));
			continue;
		}
		idle = rep_num_or(r, "idle_s", 1);
		fprintf(f, "| %s | %s | %.3f | %s | %s | %s | %.6f | %.0f / %.0f |\n", rep_targets[t],
			FMTI(rep_num_or(r, "containers", 0)), rep_num_or(r, "spawn_s", 0),
			FMTI(rep_num_or(r, "spawn_per_s", 0)), FMTI(rep_num_or(r, "teardown_per_s", 0)),
			FMTI(rep_num_or(r, "bytes_per_container", 0)),
			idle > 0 ? rep_num_or(r, "idle_cpu_s", 0) / idle : 0.0,
			rep_num_or(r, "check_requests", 0) - rep_num_or(r, "check_errors", 0) -
				rep_num_or(r, "check_auth_failures", 0),
			rep_num_or(r, "check_requests", 0));
	}
	{
		struct rep_record *r = rep_find("scale", "dockmux");

		if (r && !rep_str(r, "skipped"))
			fprintf(f, "| dockmux, ulimit -n %.0f | %s | %.3f | %s | %s | %s | (%.0f process fds) | last %s |\n",
				rep_num_or(r, "fd_limit", 0), FMTI(rep_num_or(r, "spawned", 0)),
				rep_num_or(r, "spawn_s", 0), FMTI(rep_num_or(r, "spawn_per_s", 0)),
				FMTI(rep_num_or(r, "teardown_per_s", 0)),
				FMTI(rep_num_or(r, "bytes_per_container", 0)),
				rep_num_or(r, "process_fds", -1),
				rep_bool_or(r, "last_ok", false) ? "answered" : "FAILED");
	}
	fprintf(f, "\ndockmux: in-process dmx_spawn/dmx_teardown calls, RSS delta of the process. "
		"HAProxy/nginx: start-up with one frontend/server per container until the last socket "
		"exists, PSS delta over a one-listener configuration, teardown = full stop. "
		"socat: one process per container, PSS of one process.\n\n");
}

static void rep_md_control(FILE *f)
{
	struct rep_record *r = rep_find("control", "dockmux");

	fprintf(f, "## 6. Control plane: through `dockmux serve`, durable state on disk\n\n");
	if (!r) {
		fprintf(f, "Not run.\n\n");
		return;
	}
	if (rep_str(r, "skipped")) {
		fprintf(f, "dockmux: %s\n\n", rep_str(r, "skipped"));
		return;
	}
	fprintf(f, "State file in %s (%s). %s containers spawned then torn down by "
		"dockmux-bench-control, %s connections with %s requests in flight each; every "
		"answer waits for its record's fdatasync.\n\n",
		rep_str(r, "state_dir") ? rep_str(r, "state_dir") : "?",
		rep_str(r, "state_fs") ? rep_str(r, "state_fs") : "?",
		FMTI(rep_num_or(r, "containers", 0)), FMTI(rep_num_or(r, "conns", 0)),
		FMTI(rep_num_or(r, "window", 0)));
	fprintf(f, "| | overall /s | first %s /s | last %s /s | errors |\n|---|---:|---:|---:|---:|\n",
		FMTI(rep_num_or(r, "bucket", 0)), FMTI(rep_num_or(r, "bucket", 0)));
	fprintf(f, "| spawns | %s | %s | %s | %s |\n", FMTI(rep_num_or(r, "spawn_per_s", 0)),
		FMTI(rep_num_or(r, "spawn_per_s_first", 0)), FMTI(rep_num_or(r, "spawn_per_s_last", 0)),
		FMTI(rep_num_or(r, "errors", 0)));
	fprintf(f, "| teardowns | %s | %s | %s | |\n", FMTI(rep_num_or(r, "teardown_per_s", 0)),
		FMTI(rep_num_or(r, "teardown_per_s_first", 0)),
		FMTI(rep_num_or(r, "teardown_per_s_last", 0)));
	fprintf(f, "| spawns of %s more | %s | %s | %s | %s |\n\n",
		FMTI(rep_num_or(r, "scale_containers", 0)), FMTI(rep_num_or(r, "scale_spawn_per_s", 0)),
		FMTI(rep_num_or(r, "scale_spawn_per_s_first", 0)),
		FMTI(rep_num_or(r, "scale_spawn_per_s_last", 0)), FMTI(rep_num_or(r, "scale_errors", 0)));
	fprintf(f, "At %s containers:\n\n| | s | peak RSS of the client KiB |\n|---|---:|---:|\n",
		FMTI(rep_num_or(r, "ls_containers", 0)));
	fprintf(f, "| `dockmux ls` | %.3f | %s |\n", rep_num_or(r, "ls_s", 0),
		FMTI(rep_num_or(r, "ls_rss_kib", 0)));
	fprintf(f, "| `dockmux ls --json` | %.3f | %s |\n", rep_num_or(r, "ls_json_s", 0),
		FMTI(rep_num_or(r, "ls_json_rss_kib", 0)));
	fprintf(f, "| one /metrics scrape (curl) | %.3f | %s |\n", rep_num_or(r, "metrics_s", 0),
		FMTI(rep_num_or(r, "metrics_rss_kib", 0)));
	fprintf(f, "| restart from the state file until it listens on all | %.3f | |\n\n",
		rep_num_or(r, "restart_ready_s", 0));
	fprintf(f, "The daemon's peak RSS: %s KiB before the listings and the scrape, %s KiB after "
		"(they hold a page of containers, not the table).\n\n",
		FMTI(rep_num_or(r, "daemon_hwm_kib_before", 0)),
		FMTI(rep_num_or(r, "daemon_hwm_kib_after", 0)));
}

static void rep_md_notes(FILE *f)
{
	const struct rep_record *u = rep_find("upstream", "all");

	fprintf(f, "## How to read this\n\n"
		"- x direct: the target's throughput over a direct connection to the upstream stub "
		"in the same run (the physical limit of this machine with this client and stub).\n"
		"- proxy CPU s: user + system CPU of the proxy's whole process tree over the measured "
		"window (10 ms resolution). RSS: peak resident set sampled during the window, summed "
		"over the tree (shared pages counted once per process); PSS: proportional set size "
		"summed over the tree at the end of the window, the fair figure for multi-process "
		"proxies (nginx workers, socat's per-connection children).\n"
		"- Targets that cannot inject a token (direct, tcp/stream modes, socat) get the "
		"Authorization header from the client; the others must inject it. Every answer "
		"must report exactly one matching Authorization header upstream, or it counts as an "
		"auth failure.\n");
	if (u)
		fprintf(f, "- Upstream stub totals over the whole run (warm-ups and sanity checks "
			"included): %.0f requests, %.0f with the token, %.0f without.\n",
			rep_num_or(u, "requests", 0), rep_num_or(u, "auth_ok", 0),
			rep_num_or(u, "auth_missing", 0));
	fprintf(f, "\n");
}

/* ---- JSON and chart data ---- */

static void rep_json(FILE *f)
{
	const struct rep_record *m = rep_find("meta", "all");
	const struct rep_record *u = rep_find("upstream", "all");
	bool first = true;

	fprintf(f, "{\n  \"meta\": %s,\n  \"results\": [\n", m ? m->line : "null");
	for (unsigned i = 0; i < rep_nrecs; i++) {
		const char *s = rep_str(&rep_recs[i], "scenario");

		if (!s || !strcmp(s, "meta") || !strcmp(s, "upstream"))
			continue;
		fprintf(f, "%s    %s", first ? "" : ",\n", rep_recs[i].line);
		first = false;
	}
	fprintf(f, "\n  ],\n  \"ratios\": [\n");
	first = true;
	for (unsigned s = 0; s < REP_NTRAFFIC; s++) {
		struct rep_record *d = rep_measured(rep_traffic[s].name, "direct");
		double dv;

		if (!d || !rep_num(d, rep_traffic[s].metric, &dv) || dv <= 0)
			continue;
		for (unsigned t = 1; t < REP_NTARGETS; t++) {
			struct rep_record *r = rep_measured(rep_traffic[s].name, rep_targets[t]);
			double v, p99d, p99;

			if (!r || !rep_num(r, rep_traffic[s].metric, &v))
				continue;
			fprintf(f, "%s    {\"scenario\": \"%s\", \"target\": \"%s\", \"metric\": \"%s\", "
				"\"value\": %.1f, \"direct\": %.1f, \"ratio\": %.4f",
				first ? "" : ",\n", rep_traffic[s].name, rep_targets[t],
				rep_traffic[s].metric, v, dv, v / dv);
			if (rep_num(r, "lat_p99_us", &p99) && rep_num(d, "lat_p99_us", &p99d) && p99d > 0)
				fprintf(f, ", \"p99_ratio\": %.4f", p99 / p99d);
			fprintf(f, "}");
			first = false;
		}
	}
	fprintf(f, "\n  ],\n  \"goals\": [\n");
	for (unsigned i = 0; i < rep_ngoals; i++) {
		const struct rep_goal *g = &rep_goals[i];

		fprintf(f, "    {\"goal\": ");
		rep_json_str(f, g->name);
		fprintf(f, ", \"measured\": ");
		if (g->have)
			fprintf(f, "%.6g", g->measured);
		else
			fprintf(f, "null");
		fprintf(f, ", \"op\": \"%s\", \"threshold\": %g, \"pass\": %s, \"note\": ",
			g->op, g->threshold, g->pass == 1 ? "true" : g->pass == 0 ? "false" : "null");
		rep_json_str(f, g->note);
		fprintf(f, "}%s\n", i + 1 < rep_ngoals ? "," : "");
	}
	fprintf(f, "  ],\n  \"upstream\": %s\n}\n", u ? u->line : "null");
}

/* throughput-rps.dat and throughput-mibs.dat: one row per scenario, one column
 * per target that has a figure; "-" where it has none. */
static int rep_chart_data(const char *dir)
{
	static const char *const files[] = { "throughput-rps.dat", "throughput-mibs.dat" };
	static const char *const metrics[] = { "rps", "mib_per_s" };

	for (unsigned k = 0; k < 2; k++) {
		bool used[REP_NTARGETS] = { false };
		char path[4096];
		FILE *f;

		for (unsigned t = 0; t < REP_NTARGETS; t++)
			for (unsigned s = 0; s < REP_NTRAFFIC; s++)
				if (!strcmp(rep_traffic[s].metric, metrics[k]) &&
				    rep_measured(rep_traffic[s].name, rep_targets[t]))
					used[t] = true;
		snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		fprintf(f, "scenario");
		for (unsigned t = 0; t < REP_NTARGETS; t++)
			if (used[t])
				fprintf(f, " %s", rep_targets[t]);
		fprintf(f, "\n");
		for (unsigned s = 0; s < REP_NTRAFFIC; s++) {
			if (strcmp(rep_traffic[s].metric, metrics[k]))
				continue;
			fprintf(f, "%s", rep_traffic[s].name);
			for (unsigned t = 0; t < REP_NTARGETS; t++) {
				struct rep_record *r = rep_measured(rep_traffic[s].name, rep_targets[t]);
				double v;

				if (!used[t])
					continue;
				if (r && rep_num(r, metrics[k], &v))
					fprintf(f, " %.1f", v);
				else
					fprintf(f, " -");
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}
	return 0;
}

static FILE *rep_open(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "dockmux-bench-report: %s: %s\n", path, strerror(errno));
	return f;
}

int main(int argc, char **argv)
{
	static char line[65536];
	FILE *in, *md, *js;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: dockmux-bench-report RAW.jsonl OUTDIR\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		fprintf(stderr, "dockmux-bench-report: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), in) && rep_nrecs < REP_MAX_RECORDS) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		ret = rep_parse_line(line, &rep_recs[rep_nrecs]);
		if (ret < 0) {
			fprintf(stderr, "dockmux-bench-report: skipping unparsable record: %s\n", line);
			continue;
		}
		rep_nrecs++;
	}
	fclose(in);
	rep_goals_build();

	md = rep_open(argv[2], "results.md");
	js = rep_open(argv[2], "results.json");
	if (!md || !js)
		return 1;
	rep_md_meta(md, rep_find("meta", "all"));
	rep_md_goals(md);
	for (unsigned s = 0; s < REP_NTRAFFIC; s++)
		rep_md_traffic(md, &rep_traffic[s]);
	rep_md_density(md);
	rep_md_lifecycle(md);
	rep_md_control(md);
	rep_md_notes(md);
	rep_json(js);
	fclose(md);
	fclose(js);
	ret = rep_chart_data(argv[2]);
	if (ret < 0) {
		fprintf(stderr, "dockmux-bench-report: chart data: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
