/* cmd/metrics.c: Prometheus text exposition (format 0.0.4) of a snapshot the
 * daemon fills and of containers it lists page by page (see metrics.h);
 * metrics_http.c serves it. It never calls dmx itself.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- histogram ---- */

const double metrics_hist_bounds[METRICS_HIST_BUCKETS] = {
	0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.05, 0.1, 1, INFINITY,
};

/* The same bounds as le label values, written once so they never depend on
 * printf's rounding. */
static const char *const metrics_le[METRICS_HIST_BUCKETS] = {
	"1e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
	"0.005", "0.01", "0.05", "0.1", "1", "+Inf",
};

void metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	size_t i;

	if (!isfinite(seconds))
		return;
	if (seconds < 0)
		seconds = 0;
	/* le is inclusive: an observation equal to a bound goes in that bucket. */
	for (i = 0; i < METRICS_HIST_BUCKETS - 1; i++)
		if (seconds <= metrics_hist_bounds[i])
			break;
	h->buckets[i]++;
	h->count++;
	h->sum_seconds += seconds;
}

/* ---- output buffer ---- */

/* A growing buffer with a sticky error: callers append freely and check once. */
struct mbuf {
	char *p;
	size_t len, cap;
	int err;
};

static int mbuf_reserve(struct mbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return b->err;
	if (b->cap - b->len > n)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= n) {
		if (cap > SIZE_MAX / 2)
			return b->err = -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void mbuf_add(struct mbuf *b, const char *s, size_t n)
{
	if (mbuf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void mbuf_str(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Only numbers and fixed names go through here: never near 256 bytes. */
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = b->err ? b->err : -EOVERFLOW;
		return;
	}
	mbuf_add(b, tmp, (size_t)n);
}

/* ---- exposition pieces ---- */

/* Go's strconv.ParseFloat (what Prometheus uses) reads all of these; prefer
 * the shortest form that reads back exactly. */
static void metrics_fmt_double(char *buf, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(buf, cap, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, cap, "%.17g", v);
}

/* help must not contain a backslash or a newline: it is not escaped. */
static void metrics_family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_str(b, "# HELP ");
	mbuf_str(b, name);
	mbuf_str(b, " ");
	mbuf_str(b, help);
	mbuf_str(b, "\n# TYPE ");
	mbuf_str(b, name);
	mbuf_str(b, " ");
	mbuf_str(b, type);
	mbuf_str(b, "\n");
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t metrics_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* The key as a label value: see metrics_render in metrics.h for the rules.
 * '%' is always encoded, so a literal "%41" in a key can never collide with
 * an encoded byte. */
static void metrics_key(struct mbuf *b, const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)key;
	size_t n = strnlen(key, DMX_KEY_MAX + 1), i = 0, len;
	char esc[3];

	if (mbuf_reserve(b, 3 * n) < 0)
		return;
	while (i < n) {
		unsigned char c = p[i];

		len = metrics_utf8_len(p + i, n - i);
		if (len > 1) {
			mbuf_add(b, (const char *)p + i, len);
			i += len;
			continue;
		}
		i++;
		if (c == '\\') {
			mbuf_add(b, "\\\\", 2);
		} else if (c == '"') {
			mbuf_add(b, "\\\"", 2);
		} else if (c == '\n') {
			mbuf_add(b, "\\n", 2);
		} else if (len == 0 || c == '%' || c < 0x20 || c == 0x7f) {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			mbuf_add(b, esc, 3);
		} else {
			mbuf_add(b, (const char *)&c, 1);
		}
	}
}

/* name{key="..."[,extra]} value */
static void metrics_key_sample(struct mbuf *b, const char *name, const char *key,
			       const char *extra, uint64_t v)
{
	mbuf_str(b, name);
	mbuf_str(b, "{key=\"");
	metrics_key(b, key);
	mbuf_str(b, "\"");
	if (extra) {
		mbuf_str(b, ",");
		mbuf_str(b, extra);
	}
	mbuf_printf(b, "} %" PRIu64 "\n", v);
}

static void metrics_hist(struct mbuf *b, const char *name, const char *help,
			 const struct metrics_hist *h)
{
	char num[40];
	uint64_t cum = 0;
	size_t i;

	metrics_family(b, name, "histogram", help);
	for (i = 0; i < METRICS_HIST_BUCKETS; i++) {
		cum += h->buckets[i];
		mbuf_printf(b, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, metrics_le[i], cum);
	}
	metrics_fmt_double(num, sizeof(num), h->sum_seconds);
	mbuf_printf(b, "%s_sum %s\n%s_count %" PRIu64 "\n", name, num, name, cum);
}

/* Per-container counters; each family is one contiguous group, as 0.0.4 requires. */
struct metrics_col {
	const char *name, *type, *help;
	size_t off; /* offsetof(struct dmx_stats, field) */
};

static uint64_t metrics_stat(const struct dmx_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static const struct metrics_col metrics_cols[] = {
	{ "dockmux_container_connections_active", "gauge",
	  "Open client connections of the container.", offsetof(struct dmx_stats, conns_active) },
	{ "dockmux_container_connections_total", "counter",
	  "Client connections accepted on the container's socket.",
	  offsetof(struct dmx_stats, conns_accepted) },
	{ "dockmux_container_requests_total", "counter",
	  "Request heads forwarded upstream for the container.", offsetof(struct dmx_stats, requests) },
	{ "dockmux_container_denied_total", "counter",
	  "Requests of the container refused by its policy (403).", offsetof(struct dmx_stats, denied) },
	{ "dockmux_container_errors_total", "counter",
	  "Errors answered by dockmux itself and I/O errors on the container's connections.",
	  offsetof(struct dmx_stats, errors) },
};

/* The per-container families: the five counters of metrics_cols, then the
 * responses by class, then the bytes by direction. */
#define METRICS_FAMILIES (sizeof(metrics_cols) / sizeof(metrics_cols[0]) + 2)

static void metrics_family_head(struct mbuf *b, size_t f)
{
	size_t ncols = sizeof(metrics_cols) / sizeof(metrics_cols[0]);

	if (f < ncols)
		metrics_family(b, metrics_cols[f].name, metrics_cols[f].type, metrics_cols[f].help);
	else if (f == ncols)
		metrics_family(b, "dockmux_container_responses_total", "counter",
			       "Responses sent to the container by status class, the daemon's and dockmux's own.");
	else
		metrics_family(b, "dockmux_container_bytes_total", "counter",
			       "Bytes relayed for the container: up is container to daemon, down the reverse.");
}

/* Family f's samples of n entries. */
static void metrics_family_samples(struct mbuf *b, size_t f, const struct dmx_entry *e, size_t n)
{
	size_t ncols = sizeof(metrics_cols) / sizeof(metrics_cols[0]);
	char extra[32];

	for (size_t i = 0; i < n; i++) {
		if (f < ncols) {
			metrics_key_sample(b, metrics_cols[f].name, e[i].key, NULL,
					   metrics_stat(&e[i].stats, metrics_cols[f].off));
		} else if (f == ncols) {
			for (int k = 1; k <= 5; k++) {
				snprintf(extra, sizeof(extra), "class=\"%dxx\"", k);
				metrics_key_sample(b, "dockmux_container_responses_total", e[i].key,
						   extra, e[i].stats.responses[k]);
			}
		} else {
			metrics_key_sample(b, "dockmux_container_bytes_total", e[i].key,
					   "direction=\"up\"", e[i].stats.bytes_up);
			metrics_key_sample(b, "dockmux_container_bytes_total", e[i].key,
					   "direction=\"down\"", e[i].stats.bytes_down);
		}
	}
}

static void metrics_rings(struct mbuf *b, const struct metrics_snapshot *s)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} cols[] = {
		{ "dockmux_ring_loop_iterations_total", "counter", "Event loop iterations of the ring.",
		  offsetof(struct metrics_ring, loops) },
		{ "dockmux_ring_sqes_submitted_total", "counter", "SQEs submitted by the ring.",
		  offsetof(struct metrics_ring, sqes) },
		{ "dockmux_ring_cqes_reaped_total", "counter", "CQEs reaped by the ring.",
		  offsetof(struct metrics_ring, cqes) },
		{ "dockmux_ring_fixed_files_used", "gauge",
		  "Registered file slots of the ring in use (one per listener).",
		  offsetof(struct metrics_ring, files_used) },
		{ "dockmux_ring_fixed_files_limit", "gauge", "Registered file slots of the ring.",
		  offsetof(struct metrics_ring, files_total) },
	};
	uint64_t v;
	size_t c, i;

	for (c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		metrics_family(b, cols[c].name, cols[c].type, cols[c].help);
		for (i = 0; i < s->nrings; i++) {
			memcpy(&v, (const char *)&s->rings[i] + cols[c].off, sizeof(v));
			mbuf_printf(b, "%s{ring=\"%zu\"} %" PRIu64 "\n", cols[c].name, i, v);
		}
	}
}

/* Everything after the per-container families. */
static void metrics_tail(struct mbuf *b, const struct metrics_snapshot *s)
{
	char num[40];

	metrics_rings(b, s);

	metrics_family(b, "dockmux_containers", "gauge", "Live containers.");
	mbuf_printf(b, "dockmux_containers %" PRIu64 "\n", s->total.containers);
	metrics_family(b, "dockmux_spawns_total", "counter", "Successful spawns, including respawns of a live key.");
	mbuf_printf(b, "dockmux_spawns_total %" PRIu64 "\n", s->spawns);
	metrics_family(b, "dockmux_spawn_errors_total", "counter", "Failed spawns.");
	mbuf_printf(b, "dockmux_spawn_errors_total %" PRIu64 "\n", s->spawn_errors);
	metrics_family(b, "dockmux_teardowns_total", "counter", "Teardowns.");
	mbuf_printf(b, "dockmux_teardowns_total %" PRIu64 "\n", s->teardowns);
	metrics_hist(b, "dockmux_spawn_duration_seconds", "Time to spawn a container's socket.",
		     &s->spawn_latency);
	metrics_hist(b, "dockmux_teardown_duration_seconds", "Time to tear a container down.",
		     &s->teardown_latency);
	metrics_family(b, "dockmux_process_start_time_seconds", "gauge",
		       "Start time of the process since the unix epoch in seconds.");
	metrics_fmt_double(num, sizeof(num), s->start_time_seconds);
	mbuf_printf(b, "dockmux_process_start_time_seconds %s\n", num);
	metrics_family(b, "dockmux_requests_total", "counter",
		       "Request heads forwarded upstream, over live and torn-down containers.");
	mbuf_printf(b, "dockmux_requests_total %" PRIu64 "\n", s->total.requests);
	metrics_family(b, "dockmux_bytes_total", "counter",
		       "Bytes relayed, over live and torn-down containers: up is container to daemon.");
	mbuf_printf(b, "dockmux_bytes_total{direction=\"up\"} %" PRIu64 "\n", s->total.bytes_up);
	mbuf_printf(b, "dockmux_bytes_total{direction=\"down\"} %" PRIu64 "\n", s->total.bytes_down);
}

/* ---- the stream ---- */

struct metrics_stream {
	const struct metrics_snapshot *s;
	metrics_page_fn page;
	void *ud;
	size_t family;              /* per-container family; METRICS_FAMILIES: the tail */
	bool started;               /* its head is out */
	struct dmx_list_cursor cur;
	struct dmx_entry *entries;  /* METRICS_PAGE */
	struct mbuf b;
};

/* The snapshot's own array as pages: the cursor is the next index. */
static int metrics_array_page(void *ud, struct dmx_list_cursor *cur, struct dmx_entry *out,
			      size_t cap)
{
	const struct metrics_snapshot *s = ud;
	size_t i = cur->pos[0], n = 0;

	while (i < s->nentries && n < cap)
		out[n++] = s->entries[i++];
	cur->pos[0] = i;
	return (int)n;
}

int metrics_stream_new(const struct metrics_snapshot *s, metrics_page_fn page, void *ud,
		       struct metrics_stream **out)
{
	struct metrics_stream *st = calloc(1, sizeof(*st));

	if (st)
		st->entries = malloc(METRICS_PAGE * sizeof(*st->entries));
	if (!st || !st->entries) {
		free(st);
		return -ENOMEM;
	}
	st->s = s;
	st->page = page ? page : metrics_array_page;
	st->ud = page ? ud : (void *)s;
	*out = st;
	return 0;
}

void metrics_stream_free(struct metrics_stream *st)
{
	if (!st)
		return;
	free(st->entries);
	free(st->b.p);
	free(st);
}

int metrics_stream_next(struct metrics_stream *st, const char **text, size_t *len)
{
	int n;

	st->b.len = 0;
	while (st->b.len == 0 && st->family <= METRICS_FAMILIES) {
		if (st->family == METRICS_FAMILIES) {
			metrics_tail(&st->b, st->s);
			st->family++;
			break;
		}
		if (!st->started) {
			metrics_family_head(&st->b, st->family);
			st->started = true;
		}
		n = st->page(st->ud, &st->cur, st->entries, METRICS_PAGE);
		if (n < 0)
			return n;
		if (n == 0) {
			/* A family's samples are one group (0.0.4): the next
			 * family starts only once this walk has ended. */
			st->family++;
			st->started = false;
			memset(&st->cur, 0, sizeof(st->cur));
			continue;
		}
		metrics_family_samples(&st->b, st->family, st->entries, (size_t)n);
	}
	if (st->b.err)
		return st->b.err;
	if (st->b.len == 0)
		return 0;
	*text = st->b.p;
	*len = st->b.len;
	return 1;
}

int metrics_render(const struct metrics_snapshot *s, char **out, size_t *len)
{
	struct metrics_stream *st;
	struct mbuf all = { 0 };
	const char *text;
	size_t n;
	int ret;

	ret = metrics_stream_new(s, NULL, NULL, &st);
	if (ret < 0)
		return ret;
	while ((ret = metrics_stream_next(st, &text, &n)) > 0)
		mbuf_add(&all, text, n);
	metrics_stream_free(st);
	if (ret == 0 && all.err)
		ret = all.err;
	if (ret == 0 && !all.p)
		mbuf_add(&all, "", 0);
	if (ret < 0 || all.err) {
		free(all.p);
		return ret < 0 ? ret : all.err;
	}
	*out = all.p;
	*len = all.len;
	return 0;
}
