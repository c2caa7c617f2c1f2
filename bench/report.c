/* bench/report.c: dockmux-bench-report RAW.jsonl OUTDIR. Turns the raw records
 * that bench/run.sh collected (one flat JSON object per line, written by our
 * own tools) into OUTDIR/results.json, OUTDIR/results.md (absolute figures,
 * ratios to direct and to the relay, PASS/FAIL against the issues' goals) and
 * the data files
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
#define REP_MAX_RECORDS 320

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

/* In this order everywhere: the two references (direct: no proxy; relay:
 * bench/relay.c, the cheapest proxy), dockmux, then the peers. */
static const char *const rep_targets[] = {
	"direct", "relay", "dockmux", "haproxy-tcp", "haproxy-http", "nginx-stream", "nginx-http", "socat",
};
#define REP_NTARGETS (sizeof(rep_targets) / sizeof(rep_targets[0]))
enum { REP_DIRECT, REP_RELAY, REP_DOCKMUX, REP_FIRST_PEER };

struct rep_scenario {
	const char *name;
	const char *title;
	const char *metric;      /* rps or mib_per_s */
	const char *unit;
	const char *short_title; /* the chart's panel and the summary table */
};

static const struct rep_scenario rep_traffic[] = {
	{ "ka32", "1a. Keep-alive small requests, 32 connections", "rps", "req/s",
	  "keep-alive, 32 connections (GET /_ping)" },
	{ "ka256", "1b. Keep-alive small requests, 256 connections", "rps", "req/s",
	  "keep-alive, 256 connections (GET /_ping)" },
	{ "churn", "2. Churn: one request per connection, 32 concurrent clients", "rps", "req/s",
	  "churn: a new connection per request, 32 clients" },
	{ "bulk-get", "3a. Bulk download: 4 parallel responses", "mib_per_s", "MiB/s",
	  "bulk download: 4 parallel responses" },
	{ "bulk-post", "3b. Bulk upload: 4 parallel request bodies", "mib_per_s", "MiB/s",
	  "bulk upload: 4 parallel request bodies" },
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

static struct rep_goal rep_goals[48];
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

/* A figure of one record for the goals against the relay. */
enum rep_figure { REP_THROUGHPUT, REP_CPU_PER, REP_P99 };

static bool rep_figure_of(const struct rep_record *r, const char *scenario, enum rep_figure w,
			  double *out)
{
	const char *metric = rep_metric_of(scenario);
	bool bulk = !strcmp(metric, "mib_per_s");
	double cpu, n;

	switch (w) {
	case REP_THROUGHPUT:
		return rep_num(r, metric, out);
	case REP_P99:
		return rep_num(r, "lat_p99_us", out);
	case REP_CPU_PER:
		/* Per request, or per GiB moved in the bulk scenarios. */
		if (!rep_num(r, "proxy_cpu_s", &cpu) || !rep_num(r, bulk ? "bytes" : "requests", &n) ||
		    n <= 0)
			return false;
		*out = bulk ? cpu / (n / 1073741824.0) : cpu * 1e6 / n;
		return true;
	}
	return false;
}

/* dockmux's figure over the relay's (bench/relay.c: the cheapest proxy, the
 * bound for any proxy on this machine), as a goal: the issues' targets are
 * these ratios. A relay run with errors is no reference: not judged. */
static void rep_goal_relay(const char *scenario, const char *label, enum rep_figure w,
			   const char *op, double threshold)
{
	static const char *const what[] = { "throughput", "proxy CPU per request", "p99 latency" };
	bool bulk = !strcmp(rep_metric_of(scenario), "mib_per_s");
	struct rep_record *d = rep_measured(scenario, "dockmux");
	struct rep_record *rl = rep_measured(scenario, "relay");
	char name[160];
	struct rep_goal *g;
	double dv, rv;

	snprintf(name, sizeof(name), "%s: dockmux / relay, %s", label,
		 w == REP_CPU_PER && bulk ? "proxy CPU per GiB" : what[w]);
	g = rep_goal_add(name, op, threshold);
	if (!d || !rl || !rep_figure_of(d, scenario, w, &dv) || !rep_figure_of(rl, scenario, w, &rv) ||
	    rv <= 0) {
		struct rep_record *s = rep_find(scenario, d ? "relay" : "dockmux");

		if (s && rep_str(s, "skipped"))
			snprintf(g->note, sizeof(g->note), "%s: %.150s", d ? "relay" : "dockmux",
				 rep_str(s, "skipped"));
		else
			snprintf(g->note, sizeof(g->note), "not run");
		return;
	}
	if (!rep_clean(rl)) {
		snprintf(g->note, sizeof(g->note), "the relay had errors: no reference");
		return;
	}
	snprintf(g->note, sizeof(g->note), "dockmux %s, relay %s%s", FMT(dv), FMT(rv),
		 w == REP_THROUGHPUT ? (bulk ? " MiB/s" : " req/s") :
		 w == REP_P99 ? " us" : bulk ? " CPU s/GiB" : " CPU us/req");
	rep_goal_judge(g, dv / rv, rep_clean(d));
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

	/* The issues' targets against the relay. Bulk: no p99 goal, with four
	 * transfers it is the slowest transfer's time, the throughput again. */
	for (unsigned s = 0; s < REP_NTRAFFIC; s++) {
		const char *sc = rep_traffic[s].name;
		const char *label = !strcmp(sc, "ka32") ? "keep-alive 32 conns" :
				    !strcmp(sc, "ka256") ? "keep-alive 256 conns" :
				    !strcmp(sc, "churn") ? "churn" :
				    !strcmp(sc, "bulk-get") ? "bulk download" : "bulk upload";

		rep_goal_relay(sc, label, REP_THROUGHPUT, ">=", 1.0);
		rep_goal_relay(sc, label, REP_CPU_PER, "<=", 0.9);
		if (strcmp(rep_traffic[s].metric, "mib_per_s"))
			rep_goal_relay(sc, label, REP_P99, "<=", 1.0);
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

/* ---- which targets ran, side by side ---- */

static const char *const rep_all_scenarios[] = {
	"ka32", "ka256", "churn", "bulk-get", "bulk-post", "lifecycle", "density", "scale",
};
#define REP_NALL (sizeof(rep_all_scenarios) / sizeof(rep_all_scenarios[0]))

/* Is item in the comma list (as run.sh's --targets takes it; "all": yes)? */
static bool rep_listed(const char *list, const char *item)
{
	size_t n = strlen(item);

	if (!list || !*list || !strcmp(list, "all"))
		return true;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, item, n))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The first record (figures or skip notice) of scenario/target. */
#define rep_any(scenario, target) rep_find((scenario), (target))

static bool rep_is_na(const char *reason)
{
	return !strncmp(reason, "n/a", 3);
}

/* Append to a fixed buffer, "; "-separated when sep. */
static void rep_cat(char *buf, size_t cap, const char *sep, const char *s)
{
	size_t len = strlen(buf);

	if (len + 1 >= cap)
		return;
	snprintf(buf + len, cap - len, "%s%s", len && sep ? sep : "", s);
}

/* The best throughput of the peers (HAProxy, nginx, socat) in a scenario. */
static double rep_best_peer(const struct rep_scenario *s, const char **name)
{
	double best = 0;

	*name = NULL;
	for (unsigned t = REP_FIRST_PEER; t < REP_NTARGETS; t++) {
		struct rep_record *r = rep_measured(s->name, rep_targets[t]);
		double v;

		if (r && rep_num(r, s->metric, &v) && v > best) {
			best = v;
			*name = rep_targets[t];
		}
	}
	return best;
}

static const char *rep_version(const struct rep_record *m, unsigned t, char *buf, size_t cap)
{
	const char *name = rep_targets[t];
	/* The relay is built from the same tree as dockmux. */
	const char *key = t == REP_RELAY || t == REP_DOCKMUX ? "dockmux" :
			  !strncmp(name, "haproxy", 7) ? "haproxy" :
			  !strncmp(name, "nginx", 5) ? "nginx" : !strcmp(name, "socat") ? "socat" : NULL;
	const char *v = key ? rep_str(m, key) : NULL;

	if (t == REP_DIRECT)
		snprintf(buf, cap, "-");
	else if (t == REP_RELAY || t == REP_DOCKMUX)
		snprintf(buf, cap, "%s%s", v && *v ? "git " : "", v && *v ? v : "this build");
	else
		snprintf(buf, cap, "%s", v && *v ? v : "-");
	return buf;
}

/* Targets: for each one, where it ran and, where it did not, why. */
static void rep_md_targets(FILE *f, const struct rep_record *m)
{
	const char *sel = rep_str(m, "targets");

	fprintf(f, "## Targets: which ran, which were skipped and why\n\n");
	fprintf(f, "| Target | version | status | measured in | not applicable |\n|---|---|---|---|---|\n");
	for (unsigned t = 0; t < REP_NTARGETS; t++) {
		char ran[256] = "", na[1024] = "", status[4096] = "", ver[96];
		/* Distinct skip reasons, each with its scenarios. */
		const char *why[REP_NALL];
		char where[REP_NALL][160];
		unsigned nwhy = 0, nran = 0, nrec = 0;

		for (unsigned k = 0; k < REP_NALL; k++) {
			const char *sc = rep_all_scenarios[k];
			struct rep_record *r = rep_any(sc, rep_targets[t]);
			const char *reason;
			unsigned w;

			if (!r)
				continue;
			nrec++;
			if (rep_measured(sc, rep_targets[t])) {
				rep_cat(ran, sizeof(ran), ", ", sc);
				nran++;
				continue;
			}
			reason = rep_str(r, "skipped");
			if (!reason)
				continue;
			if (rep_is_na(reason)) {
				char one[256];

				snprintf(one, sizeof(one), "%s (%s)", sc, reason + 3 + (reason[3] == ':') +
					 (reason[3] == ':' && reason[4] == ' '));
				rep_cat(na, sizeof(na), "; ", one);
				continue;
			}
			for (w = 0; w < nwhy && strcmp(why[w], reason); w++)
				;
			if (w == nwhy) {
				why[nwhy] = reason;
				where[nwhy++][0] = '\0';
			}
			rep_cat(where[w], sizeof(where[w]), ", ", sc);
		}
		if (nrec == 0) {
			if (!rep_listed(sel, rep_targets[t]))
				snprintf(status, sizeof(status), "not selected (--targets %s)", sel);
			else
				snprintf(status, sizeof(status), "not run (no scenario selected applies)");
		} else if (nwhy == 0) {
			snprintf(status, sizeof(status), nran ? "ran" : "n/a");
		} else {
			rep_cat(status, sizeof(status), NULL, nran ? "ran; " : "");
			for (unsigned w = 0; w < nwhy; w++) {
				char one[2048];

				if (nran)
					snprintf(one, sizeof(one), "**skipped** in %s: %.300s", where[w], why[w]);
				else if (nwhy > 1)
					snprintf(one, sizeof(one), "**skipped**: %.300s (%s)", why[w], where[w]);
				else
					snprintf(one, sizeof(one), "**skipped: %.300s**", why[w]);
				rep_cat(status, sizeof(status), w ? "; " : NULL, one);
			}
		}
		fprintf(f, "| %s | %s | %s | %s | %s |\n", rep_targets[t],
			rep_version(m, t, ver, sizeof(ver)), status, ran[0] ? ran : "-", na[0] ? na : "-");
	}
	fprintf(f, "\n");
}

/* One table: every traffic scenario, every target, ratios to direct. */
static void rep_md_side_by_side(FILE *f)
{
	bool col[REP_NTARGETS] = { false }, row[REP_NTRAFFIC] = { false }, any = false;

	for (unsigned s = 0; s < REP_NTRAFFIC; s++)
		for (unsigned t = 0; t < REP_NTARGETS; t++)
			if (rep_any(rep_traffic[s].name, rep_targets[t]))
				col[t] = row[s] = any = true;
	if (!any)
		return;
	fprintf(f, "## Side by side\n\nThroughput of each target and, in brackets, its ratio to direct "
		"measured in the same run; \"dockmux / relay\" is dockmux over the relay (a proxy that "
		"parses nothing: the bound for any proxy here), \"dockmux / best peer\" dockmux over "
		"the fastest of HAProxy, nginx and socat in that scenario. Median round; details per "
		"scenario below.\n\n");
	fprintf(f, "| Scenario | unit");
	for (unsigned t = 0; t < REP_NTARGETS; t++)
		if (col[t])
			fprintf(f, " | %s", rep_targets[t]);
	fprintf(f, " | dockmux / relay | dockmux / best peer |\n|---|---");
	for (unsigned t = 0; t < REP_NTARGETS; t++)
		if (col[t])
			fprintf(f, "|---:");
	fprintf(f, "|---:|---|\n");
	for (unsigned s = 0; s < REP_NTRAFFIC; s++) {
		const struct rep_scenario *sc = &rep_traffic[s];
		struct rep_record *d = rep_measured(sc->name, "direct");
		struct rep_record *x = rep_measured(sc->name, "dockmux");
		struct rep_record *rl = rep_measured(sc->name, "relay");
		const char *best_name;
		double dv = 0, xv, rv, best;

		if (!row[s])
			continue;
		if (d)
			rep_num(d, sc->metric, &dv);
		fprintf(f, "| %s | %s", sc->short_title, sc->unit);
		for (unsigned t = 0; t < REP_NTARGETS; t++) {
			struct rep_record *r = rep_measured(sc->name, rep_targets[t]);
			struct rep_record *a = rep_any(sc->name, rep_targets[t]);
			double v;

			if (!col[t])
				continue;
			if (r && rep_num(r, sc->metric, &v)) {
				bool bulk = !strcmp(sc->metric, "mib_per_s");

				fprintf(f, " | %s", bulk ? FMT(v) : FMTI(v));
				if (t > 0 && dv > 0)
					fprintf(f, " (%.2fx)", v / dv);
				if (!rep_clean(r))
					fprintf(f, " ERRORS");
			} else if (a && rep_str(a, "skipped")) {
				fprintf(f, " | %s", strncmp(rep_str(a, "skipped"), "failed", 6) ? "skipped" : "failed");
			} else {
				fprintf(f, " | -");
			}
		}
		if (x && rep_num(x, sc->metric, &xv) && rl && rep_num(rl, sc->metric, &rv) && rv > 0)
			fprintf(f, " | %.2fx", xv / rv);
		else
			fprintf(f, " | -");
		best = rep_best_peer(sc, &best_name);
		if (x && rep_num(x, sc->metric, &xv) && best_name)
			fprintf(f, " | %.2fx (%s) |\n", xv / best, best_name);
		else
			fprintf(f, " | - |\n");
	}
	fprintf(f, "\n\"skipped\"/\"failed\": why in the Targets table above and the scenario's own table.\n\n");
}

/* The chart, or why there is none. */
static void rep_md_chart(FILE *f, const char *no_chart)
{
	fprintf(f, "## Chart\n\n");
	if (no_chart) {
		fprintf(f, "No chart: %s.\n\n", no_chart);
		return;
	}
	fprintf(f, "![throughput](throughput.svg)\n\n"
		"[throughput.svg](throughput.svg): one panel per scenario, one bar per target, each "
		"labelled with its figure and its ratio to direct; dockmux's bar also with its ratios "
		"to the relay and to the best peer. A skipped peer is a labelled row without a bar.\n\n");
}

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
	fprintf(f, "The \"dockmux / relay\" rows are the issues' targets against the relay "
		"(dockmux-relay, bench/relay.c: accept, connect, recv/send both ways on io_uring, "
		"parsing nothing), the cheapest proxy there is and so the bound for any proxy on "
		"this machine: throughput at least the relay's, proxy CPU per request (per GiB in "
		"bulk) at most 0.9 of the relay's, p99 latency at most the relay's. Measured is "
		"dockmux's figure over the relay's in the same run.\n\n");
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
		"- relay: dockmux-relay (bench/relay.c), a proxy that parses nothing: accept, connect "
		"upstream, recv/send both ways on io_uring, as many threads as the other proxies. "
		"What it costs is what any proxy must cost for the two extra socket hops; what a "
		"proxy costs above it is its own logic.\n"
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
		struct rep_record *rl = rep_measured(rep_traffic[s].name, "relay");
		double rv = 0;

		if (rl)
			rep_num(rl, rep_traffic[s].metric, &rv);
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
			if (rv > 0 && t != REP_RELAY)
				fprintf(f, ", \"relay\": %.1f, \"relay_ratio\": %.4f", rv, v / rv);
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

/* A label for the chart: no double quotes (gnuplot's string delimiters), at
 * most 100 characters (what fits right of an empty row). */
static void rep_label_clean(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
	if (strlen(s) > 100)
		memcpy(s + 97, "...", 4);
}

/* throughput.dat: one block per traffic scenario that was run (blocks two
 * blank lines apart, as gnuplot's `index` wants them), one row per target
 * that has a record there; throughput-panels.dat: one line per block, its
 * scenario, unit and title. Both for bench/throughput.gp. */
static int rep_chart_data(const char *dir)
{
	char path[4096];
	FILE *f, *p;
	unsigned block = 0;

	snprintf(path, sizeof(path), "%s/throughput.dat", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	snprintf(path, sizeof(path), "%s/throughput-panels.dat", dir);
	p = fopen(path, "w");
	if (!p) {
		fclose(f);
		return -errno;
	}
	fprintf(f, "# dockmux-bench-report: data of bench/throughput.gp. One block per scenario\n"
		"# (titles in throughput-panels.dat), one row per target: row, target, value\n"
		"# (0: none), ratio to direct (-: none), kind (0 direct, 1 dockmux, 2 peer,\n"
		"# 3 skipped or failed, 4 relay), label.\n");
	{
		const struct rep_record *m = rep_find("meta", "all");
		const char *date = rep_str(m, "date");

		fprintf(p, "# block|scenario|unit|title, and the chart's own title\n");
		fprintf(p, "title|dockmux benchmark: throughput per target, one run on one machine|"
			"%s mode, %s CPUs, %s threads per proxy, %.10s\n",
			m && rep_str(m, "mode") ? rep_str(m, "mode") : "?",
			m && rep_str(m, "cpus") ? rep_str(m, "cpus") : "?",
			m && rep_str(m, "proxy_threads") ? rep_str(m, "proxy_threads") : "?",
			date ? date : "?");
	}
	for (unsigned s = 0; s < REP_NTRAFFIC; s++) {
		const struct rep_scenario *sc = &rep_traffic[s];
		struct rep_record *d = rep_measured(sc->name, "direct");
		struct rep_record *rl = rep_measured(sc->name, "relay");
		const char *best_name;
		double dv = 0, rv = 0, best = rep_best_peer(sc, &best_name);
		bool bulk = !strcmp(sc->metric, "mib_per_s");
		unsigned row = 0;

		for (unsigned t = 0; t < REP_NTARGETS; t++)
			row += rep_any(sc->name, rep_targets[t]) != NULL;
		if (!row)
			continue;
		if (d)
			rep_num(d, sc->metric, &dv);
		if (rl)
			rep_num(rl, sc->metric, &rv);
		fprintf(f, "%s# %s\n", block ? "\n\n" : "", sc->name);
		fprintf(p, "%u|%s|%s|%s\n", block, sc->name, sc->unit, sc->short_title);
		row = 0;
		for (unsigned t = 0; t < REP_NTARGETS; t++) {
			struct rep_record *r = rep_measured(sc->name, rep_targets[t]);
			struct rep_record *a = rep_any(sc->name, rep_targets[t]);
			char label[256], ratio[32] = "-";
			double v;
			int kind = t == REP_DIRECT ? 0 : t == REP_DOCKMUX ? 1 : t == REP_RELAY ? 4 : 2;

			if (!a)
				continue;
			if (r && rep_num(r, sc->metric, &v)) {
				int n = snprintf(label, sizeof(label), "%s", bulk ? FMT(v) : FMTI(v));

				if (dv > 0)
					snprintf(ratio, sizeof(ratio), "%.4f", v / dv);
				if (t == REP_DOCKMUX) {
					/* "figure: Nx direct, Nx relay, Nx best peer (name)",
					 * each part only when its reference was measured. */
					const char *sep = ": ";

					if (dv > 0) {
						n += snprintf(label + n, sizeof(label) - n, "%s%.2fx direct", sep, v / dv);
						sep = ", ";
					}
					if (rv > 0) {
						n += snprintf(label + n, sizeof(label) - n, "%s%.2fx relay", sep, v / rv);
						sep = ", ";
					}
					if (best_name)
						n += snprintf(label + n, sizeof(label) - n, "%s%.2fx best peer (%s)",
							      sep, v / best, best_name);
				} else if (t != REP_DIRECT && dv > 0) {
					n += snprintf(label + n, sizeof(label) - n, " (%.2fx)", v / dv);
				}
				if (!rep_clean(r))
					snprintf(label + n, sizeof(label) - n, ", %.0f ERRORS",
						 rep_num_or(r, "errors", 0) + rep_num_or(r, "auth_failures", 0));
			} else {
				const char *why = rep_str(a, "skipped");

				v = 0;
				kind = 3;
				snprintf(label, sizeof(label), "%s%s", why && !strncmp(why, "failed", 6) ? "" : "skipped: ",
					 why ? why : "no figure");
			}
			rep_label_clean(label);
			fprintf(f, "%u %s %.1f %s %d \"%s\"\n", row++, rep_targets[t], v, ratio, kind, label);
		}
		block++;
	}
	fclose(p);
	return fclose(f) ? -errno : 0;
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

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: dockmux-bench-report RAW.jsonl OUTDIR [NO-CHART-REASON]\n");
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
	rep_md_targets(md, rep_find("meta", "all"));
	rep_md_side_by_side(md);
	rep_md_chart(md, argc == 4 ? argv[3] : NULL);
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
