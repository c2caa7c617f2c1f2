/* bench/corebench.c: the per-request user-space work of dockmux without any
 * I/O: parse a docker CLI request head, judge it against a policy, rewrite it
 * with the container's token, push the request to the response tracker and
 * feed it the daemon's answer. Deterministic and single-threaded, so
 * `valgrind --tool=callgrind` gives stable instruction counts per request
 * (valgrind cannot run the io_uring engine itself). Not a load test.
 *
 *   dockmux-corebench N [policy|none]   N rounds over the request mix
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "policy.h"
#include "resp.h"

/* What the docker CLI 28 (Go net/http) sends: HEAD /_ping first, then the
 * command's request. Go adds Accept-Encoding: gzip to all but HEAD. */
static const char *const requests[] = {
	"HEAD /_ping HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\n"
	"User-Agent: Docker-Client/28.3.3 (linux)\r\n"
	"\r\n",

	"GET /v1.51/containers/json HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\n"
	"User-Agent: Docker-Client/28.3.3 (linux)\r\n"
	"Accept-Encoding: gzip\r\n"
	"\r\n",

	"GET /v1.51/containers/4f1c2a9b7e3d/json HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\n"
	"User-Agent: Docker-Client/28.3.3 (linux)\r\n"
	"Accept-Encoding: gzip\r\n"
	"\r\n",

	"POST /v1.51/containers/create?name=web HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\n"
	"User-Agent: Docker-Client/28.3.3 (linux)\r\n"
	"Content-Length: 412\r\n"
	"Content-Type: application/json\r\n"
	"Accept-Encoding: gzip\r\n"
	"\r\n",

	/* A client trying its own token: the header is stripped. */
	"GET /v1.51/images/json HTTP/1.1\r\n"
	"Host: api.moby.localhost\r\n"
	"User-Agent: Docker-Client/28.3.3 (linux)\r\n"
	"Authorization: Bearer not-this-one\r\n"
	"Accept-Encoding: gzip\r\n"
	"\r\n",
};
#define NREQ (sizeof(requests) / sizeof(requests[0]))
static size_t request_len[NREQ];   /* measured once: the engine knows its lengths */

#define DOCKERD_HDRS "Api-Version: 1.51\r\n" \
		     "Content-Type: application/json\r\n" \
		     "Docker-Experimental: false\r\n" \
		     "Ostype: linux\r\n" \
		     "Server: Docker/28.3.3 (linux)\r\n" \
		     "Date: Tue, 05 Aug 2025 10:14:07 GMT\r\n"

/* ~300 bytes of `docker ps` JSON, one container. */
#define PS_JSON "[{\"Id\":\"4f1c2a9b7e3d5a6c8b0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e\"," \
		"\"Names\":[\"/web\"],\"Image\":\"nginx:1.27\",\"ImageID\":\"sha256:9bea9f2796e2\"," \
		"\"Command\":\"/docker-entrypoint.sh nginx -g 'daemon off;'\",\"Created\":1754388847," \
		"\"Ports\":[],\"Labels\":{},\"State\":\"running\",\"Status\":\"Up 3 minutes\"," \
		"\"HostConfig\":{\"NetworkMode\":\"bridge\"},\"Mounts\":[]}]\n"

static char resp_length[1024];
static char resp_chunked[1024];
static size_t resp_length_len, resp_chunked_len;

static void responses_build(void)
{
	size_t body = sizeof(PS_JSON) - 1;
	int n;

	n = snprintf(resp_length, sizeof(resp_length),
		     "HTTP/1.1 200 OK\r\n" DOCKERD_HDRS "Content-Length: %zu\r\n\r\n%s",
		     body, PS_JSON);
	resp_length_len = (size_t)n;
	/* The same body as Go's chunked writer frames it: one chunk, then 0. */
	n = snprintf(resp_chunked, sizeof(resp_chunked),
		     "HTTP/1.1 200 OK\r\n" DOCKERD_HDRS "Transfer-Encoding: chunked\r\n\r\n"
		     "%zx\r\n%s\r\n0\r\n\r\n", body, PS_JSON);
	resp_chunked_len = (size_t)n;
}

/* Feed one whole response as conn_down_feed does: until it ends. */
static uint64_t response_feed(struct resp_tracker *t, const char *buf, size_t len)
{
	uint64_t sum = 0;
	size_t pos = 0;

	while (pos < len) {
		size_t used = 0;
		int status = 0;
		enum resp_track r = resp_tracker_feed(t, buf + pos, len - pos, &used, &status);

		pos += used;
		if (r == RESP_TRACK_END)
			sum += (uint64_t)status;
		else if (r != RESP_TRACK_MORE || used == 0)
			abort();
	}
	return sum;
}

static __attribute__((noinline)) uint64_t bench_run(long rounds, const struct policy *pol,
						     const char *token_line, size_t token_len)
{
	static struct http_head h;
	static char out[4096];
	char why[256];
	struct resp_tracker track;
	uint64_t sum = 0;

	resp_tracker_init(&track);
	for (long r = 0; r < rounds; r++) {
		for (size_t i = 0; i < NREQ; i++) {
			const char *req = requests[i];
			size_t len = request_len[i];
			bool head;
			ssize_t w;

			if (http_head_parse(req, len, NULL, &h) != HTTP_PARSE_DONE)
				abort();
			if (policy_check(pol, req + h.method.off, h.method.len, req + h.target.off,
					 h.target.len, why, sizeof(why)) != POLICY_ALLOW)
				abort();
			w = http_head_rewrite(req, &h, "Authorization", 13, token_line, token_len,
					      out, sizeof(out));
			if (w < 0)
				abort();
			head = http_name_is(req, h.method, "HEAD", 4);
			if (resp_tracker_push(&track, head, h.upgrade) < 0)
				abort();
			sum += h.head_len + (uint64_t)w + (unsigned char)out[w / 2];
			/* Half the answers carry a length, half are chunked; HEAD none. */
			if (head)
				sum += response_feed(&track, resp_length, resp_length_len -
						     (sizeof(PS_JSON) - 1));
			else if (i & 1)
				sum += response_feed(&track, resp_chunked, resp_chunked_len);
			else
				sum += response_feed(&track, resp_length, resp_length_len);
		}
	}
	return sum;
}

int main(int argc, char **argv)
{
	static const char token_line[] =
		"Authorization: Bearer dmx_7c1f0e9a4b2d8c6e3f5a1b9d7e2c4a6f8b0d1e3c5a7f9b2d\r\n";
	struct policy *pol = NULL;
	const char *why = NULL;
	struct timespec t0, t1;
	long rounds;
	uint64_t sum;
	double ns;

	if (argc < 2 || (rounds = strtol(argv[1], NULL, 10)) <= 0 ||
	    (argc > 2 && strcmp(argv[2], "policy") != 0 && strcmp(argv[2], "none") != 0)) {
		fprintf(stderr, "usage: %s ROUNDS [policy|none]\n", argv[0]);
		return 2;
	}
	if (argc < 3 || strcmp(argv[2], "policy") == 0) {
		/* A CI runner's socket: its areas, no exec, no export, no removals. */
		if (policy_new(false, "ping,version,info,events,containers,images,build",
			       "POST /containers/**/exec; /containers/*/export; "
			       "DELETE /images/**; POST /containers/*/update; "
			       "* /containers/**/archive",
			       &pol, &why) < 0) {
			fprintf(stderr, "policy: %s\n", why);
			return 1;
		}
	}
	responses_build();
	for (size_t i = 0; i < NREQ; i++)
		request_len[i] = strlen(requests[i]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sum = bench_run(rounds, pol, token_line, sizeof(token_line) - 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("requests %ld policy %s checksum %llu ns/request %.1f\n", rounds * (long)NREQ,
	       pol ? "yes" : "none", (unsigned long long)sum, ns / (double)(rounds * (long)NREQ));
	policy_free(pol);
	return 0;
}
