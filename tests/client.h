/* tests/client.h: helpers shared by the in-process integration tests: a per-test
 * fixture (temp dir, tests/upstream.c daemon, a dmx handle with two rings), a
 * blocking AF_UNIX client whose every read and write has a timeout, an HTTP/1.1
 * response reader, and process probes (fds, threads, RSS). Test code only: it
 * fails the running Criterion test with cr_assert instead of returning errors.
 */
#ifndef DMX_TESTS_CLIENT_H
#define DMX_TESTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockmux.h"
#include "upstream.h"

#define CLIENT_TIMEOUT_MS 10000
#define PROMPT_MS 3000          /* "promptly": teardown/close effects visible within this */
#define MiB (1024u * 1024u)

#define REQ_PING "GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: dmx-test\r\n\r\n"

/* ---- fixture: one temp dir, one upstream, one dmx per test ---- */

struct fixture {
	char dir[64];
	char up_path[128];
	char sock_dir[128];
	struct upstream *up;
	dmx *d;
};

extern struct fixture fx;

/* Make /tmp/<name>.XXXXXX and start the upstream in it (no dmx yet). */
void fx_setup(const char *name);
/* dmx_close, upstream_free, remove the temp dir. */
void fx_teardown(void);
/* Defaults, plus this test's upstream and socket dir, and two rings. */
void fx_config(struct dmx_config *cfg);
void fx_open_cfg(const struct dmx_config *cfg);
void fx_open(void);
/* Spawn key, its path into path. */
void spawn(const char *key, const char *token, char path[DMX_PATH_MAX]);
void restart_upstream(unsigned flags);
/* One request on a fresh connection; expects 200 "OK" to /_ping. */
void ping(const char *path);
/* The value of header name in the upstream's latest request. */
void last_header(const char *name, char *buf, size_t cap);
struct dmx_stats stats_of(const char *key);

/* Counters may trail the bytes a client has already read: poll briefly. */
#define STATS_EVENTUALLY(key, s, cond)                                              \
	do {                                                                        \
		long deadline_ = now_ms() + 2000;                                   \
		for (;;) {                                                          \
			s = stats_of(key);                                          \
			if ((cond) || now_ms() > deadline_)                         \
				break;                                              \
			sleep_ms(10);                                               \
		}                                                                   \
	} while (0)

/* ---- a plain client with timeouts ---- */

struct client {
	int fd;
	char *buf;
	size_t start, end, cap;
};

struct resp {
	int status;
	char *head;        /* NUL-terminated, including the final CRLFCRLF */
	char *body;
	size_t body_len;
	size_t wire_len;   /* bytes of head + body as received */
};

/* Connect with CLIENT_TIMEOUT_MS on every recv/send. 0 or -errno. */
int client_open(struct client *c, const char *path);
void client_connect(struct client *c, const char *path);
void client_close(struct client *c);
int client_send(struct client *c, const void *data, size_t len);
int client_sends(struct client *c, const char *s);
/* Read more into the buffer: >0 bytes, 0 EOF, -errno (-EAGAIN: timed out). */
int client_fill(struct client *c);
/* Exactly n bytes into out (buffered bytes first). 0 or -errno (-EPIPE: EOF). */
int client_read_exact(struct client *c, void *out, size_t n);
/* Everything up to EOF into a malloc'd buffer; -errno on error or timeout. */
int client_read_to_eof(struct client *c, char **out, size_t *len);
/* Wait for the peer to end the connection: 0 on EOF or reset, -ETIMEDOUT,
 * or 1 when data arrived instead. */
int client_wait_closed(struct client *c, int timeout_ms);
/* Read one response: head, then a body framed by Content-Length, chunked or
 * EOF. A 101, or a 200 with a docker stream type and no length (a hijack
 * without upgrade), has no body: the bytes after its head stay in the buffer. */
int client_response(struct client *c, struct resp *r);
void expect_response(struct client *c, struct resp *r, int status);

void resp_free(struct resp *r);
/* Value of header name in r->head, copied into buf; NULL if absent. */
const char *resp_header(const struct resp *r, const char *name, char *buf, size_t cap);

/* POST /echo with a Content-Length body; returns the response's wire size. */
size_t post_echo_cl(struct client *c, const char *body, size_t len);
/* Send src and receive the same number of bytes at the same time. */
int tunnel_echo(struct client *c, const char *src, size_t len, char *dst);
/* Connect and upgrade (an attach request); expects the upstream's 101. */
void open_tunnel(struct client *c, const char *path);

/* ---- the process ---- */

int count_fds(void);
int count_threads(void);
void sleep_ms(int ms);
long now_ms(void);
/* Poll count_fds() until it equals want (closes may complete asynchronously). */
int fds_settle(int want, int timeout_ms);
int threads_settle(int want, int timeout_ms);
long rss_kib(void);
/* Entries of a directory, but for ".", ".." and the library's ".dmx". */
int count_dir_entries(const char *path);
/* len deterministic bytes (malloc'd). */
char *pattern_buf(size_t len, unsigned seed);

#endif
