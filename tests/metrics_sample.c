/* tests/metrics_sample.c: prints one rendered /metrics snapshot to stdout so
 * that an external checker (promtool, in tests/cmd_metrics_promtool.sh) can
 * validate it. Usage: metrics_sample [tricky|empty]. tricky: containers with
 * hostile keys (quotes, backslashes, newlines, control and invalid UTF-8
 * bytes, 255-byte keys), two rings, filled histograms. empty: all zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *const keys[] = {
	"ci-42", "with \"quotes\"", "back\\slash\\", "new\nline", "  spaces ",
	"high \xff\xfe \x80", "caf\xc3\xa9 \xf0\x9f\x90\xb3", "%41 percent", "A percent",
	"ctl \x01\x1b\x7f\r\t", "overlong \xc0\xaf", "surrogate \xed\xa0\x80", "# HELP x y",
	"}{,=\\\"\\n",
};

int main(int argc, char **argv)
{
	enum { NK = sizeof(keys) / sizeof(keys[0]), N = NK + 3 };
	static struct dmx_entry e[N];
	struct metrics_ring rings[2] = { { 100, 200, 190, 14, 65536 }, { 50, 60, 60, 3, 65536 } };
	struct metrics_snapshot s = { 0 };
	const char *mode = argc > 1 ? argv[1] : "tricky";
	char *out;
	size_t len, i;
	int ret;

	if (strcmp(mode, "empty") && strcmp(mode, "tricky")) {
		fprintf(stderr, "usage: %s [tricky|empty]\n", argv[0]);
		return 2;
	}
	if (!strcmp(mode, "tricky")) {
		for (i = 0; i < NK; i++)
			snprintf(e[i].key, sizeof(e[i].key), "%s", keys[i]);
		memset(e[NK].key, 'x', DMX_KEY_MAX);
		memset(e[NK + 1].key, 0xff, DMX_KEY_MAX);
		memset(e[NK + 2].key, '"', DMX_KEY_MAX);
		for (i = 0; i < N; i++) {
			e[i].stats.containers = 1;
			e[i].stats.conns_accepted = 10 * i + 1;
			e[i].stats.conns_active = i % 3;
			e[i].stats.requests = 100 * i;
			e[i].stats.bytes_up = 1000 * i;
			e[i].stats.bytes_down = 5000 * i;
			e[i].stats.errors = i % 2;
			e[i].stats.responses[2] = 90 * i;
			e[i].stats.responses[4] = i;
			e[i].stats.denied = i % 4;
		}
		s.entries = e;
		s.nentries = N;
		s.rings = rings;
		s.nrings = 2;
		s.total.containers = N;
		s.total.requests = 123456;
		s.total.bytes_up = 1ull << 40;
		s.total.bytes_down = UINT64_MAX;
		s.spawns = N + 2;
		s.spawn_errors = 1;
		s.teardowns = 2;
		for (i = 0; i < 50; i++) {
			metrics_hist_observe(&s.spawn_latency, 0.00003 * (double)i);
			metrics_hist_observe(&s.teardown_latency, 0.004 * (double)i);
		}
		s.start_time_seconds = 1712345678.125;
	}
	ret = metrics_render(&s, &out, &len);
	if (ret < 0) {
		fprintf(stderr, "metrics_render: %d\n", ret);
		return 1;
	}
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
		ret = 1;
	free(out);
	return ret ? 1 : 0;
}
