/* bench/proxy.c: dockmux-bench-proxy, libdockmux hosted in a process of its
 * own so the bench can measure it from outside like any other proxy.
 * Serve mode: dmx_open, spawn K containers, write their socket paths, print
 * "ready", then obey stdin commands (storm, stats, quit). Density mode: time
 * N dmx_spawn calls, memory per container, idle CPU, teardown rate; one JSON
 * line. It measures itself only in density mode; it never touches the upstream
 * except for the few sanity requests it sends to spawned sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mimalloc.h>

#include "dockmux.h"
#include "procstat.h"

#define PX_CHECK_TIMEOUT_MS 2000

struct px_opts {
	const char *upstream;
	const char *dir;
	const char *token;
	const char *paths_out;
	unsigned rings;
	unsigned containers;
	unsigned density;
	double idle_s;
	unsigned checks;
};

static volatile sig_atomic_t px_stop;

static void px_on_signal(int sig)
{
	(void)sig;
	px_stop = 1;
}

static double px_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void px_sleep(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !px_stop)
		;
}

/* The library never logs by itself; keep warnings and errors visible. */
static void px_log(void *userdata, int level, const char *msg)
{
	(void)userdata;
	if (level <= 4)
		fprintf(stderr, "dockmux[%d]: %s\n", level, msg);
}

static void px_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* One GET /_ping through a container socket; 0 when the answer is 200 with
 * X-Auth-Seen: 1 (the token arrived upstream), else a negative errno or
 * -EPROTO. Blocking, with a timeout: used a few times per run only. */
static int px_check(const char *path)
{
	static const char req[] = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = PX_CHECK_TIMEOUT_MS / 1000,
			      .tv_usec = (PX_CHECK_TIMEOUT_MS % 1000) * 1000 };
	char buf[1024];
	size_t len = 0;
	int fd, ret = -EPROTO;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
		ret = -errno;
		goto out;
	}
	/* The answer is tiny: read until the 2-byte body is in. */
	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		char *hend;

		if (n <= 0) {
			ret = n < 0 ? -errno : -EPROTO;
			goto out;
		}
		len += (size_t)n;
		buf[len] = '\0';
		hend = strstr(buf, "\r\n\r\n");
		if (hend && (size_t)(hend + 4 - buf) + 2 <= len) {
			ret = strncmp(buf, "HTTP/1.1 200", 12) == 0 &&
			      strcasestr(buf, "\r\nX-Auth-Seen: 1\r\n") ? 0 : -EPROTO;
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}

static int px_open(const struct px_opts *o, dmx **out)
{
	struct dmx_config cfg;

	dmx_config_init(&cfg);
	cfg.upstream = o->upstream;
	cfg.socket_dir = o->dir;
	cfg.rings = o->rings;
	cfg.log = px_log;
	return dmx_open(&cfg, out);
}

static void px_key(char *buf, size_t cap, const char *prefix, unsigned i)
{
	snprintf(buf, cap, "%s-%07u", prefix, i);
}

static void px_json_error(const char *what, int err)
{
	printf("{\"error\": \"%s: %s\"}\n", what, dmx_strerror(err));
	fflush(stdout);
}

/* Density: N spawns timed, memory and idle CPU with all of them listening,
 * then N teardowns timed. */
static int px_count_fds(void)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), count = 0;

	if (fd < 0)
		return -1;
	/* getdents64 records: count the names that are not . or .. */
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			unsigned short reclen = *(unsigned short *)(buf + off + 16);
			const char *name = buf + off + 19;

			if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
				count++;
			off += reclen;
		}
	}
	close(fd);
	return count - 1;   /* not the directory fd itself */
}

static int px_density(const struct px_opts *o)
{
	size_t elapsed_ms, user_ms, sys_ms, rss0, rss_peak, commit0, commit1, commit_peak, faults;
	char key[64], path[DMX_PATH_MAX];
	uint64_t rss_before, rss_after, rss_end;
	double t0, t_spawn, t_down, cpu0, cpu1;
	unsigned check_errors = 0, spawned = 0;
	int first_err = 0, ret, process_fds = -1;
	bool last_ok = false;
	struct rlimit nofile = { 0, 0 };
	dmx *d;

	getrlimit(RLIMIT_NOFILE, &nofile);
	ret = px_open(o, &d);
	if (ret < 0) {
		px_json_error("dmx_open", ret);
		return 1;
	}
	/* Warm the allocator and rings with one container, so the baseline holds
	 * the per-process costs and the delta only what containers add. */
	ret = dmx_spawn(d, "bench-warmup", o->token, path, sizeof(path));
	if (ret == 0)
		dmx_teardown(d, "bench-warmup");
	px_sleep(0.05);
	rss_before = procstat_self_rss_kib();
	mi_process_info(&elapsed_ms, &user_ms, &sys_ms, &rss0, &rss_peak, &commit0, &commit_peak,
			&faults);

	t0 = px_now();
	for (unsigned i = 0; i < o->density && !px_stop; i++) {
		px_key(key, sizeof(key), "density", i);
		ret = dmx_spawn(d, key, o->token, path, sizeof(path));
		if (ret < 0) {
			if (!first_err)
				first_err = ret;
			continue;
		}
		spawned++;
	}
	t_spawn = px_now() - t0;
	/* Listeners are direct descriptors: the process fd table must not
	 * grow with them (what lets N exceed RLIMIT_NOFILE). */
	process_fds = px_count_fds();
	if (spawned) {
		px_key(key, sizeof(key), "density", o->density - 1);
		last_ok = dmx_path(d, key, path, sizeof(path)) == 0 && px_check(path) == 0;
	}
	px_sleep(0.2);
	rss_after = procstat_self_rss_kib();
	mi_process_info(&elapsed_ms, &user_ms, &sys_ms, &rss0, &rss_peak, &commit1, &commit_peak,
			&faults);

	/* A few containers spread over the range must answer with the token. */
	for (unsigned i = 0; i < o->checks && spawned; i++) {
		px_key(key, sizeof(key), "density", (unsigned)((uint64_t)i * o->density / o->checks));
		if (dmx_path(d, key, path, sizeof(path)) < 0 || px_check(path) < 0)
			check_errors++;
	}
	px_sleep(0.1);

	cpu0 = procstat_self_cpu();
	px_sleep(o->idle_s);
	cpu1 = procstat_self_cpu();

	t0 = px_now();
	for (unsigned i = 0; i < o->density; i++) {
		px_key(key, sizeof(key), "density", i);
		ret = dmx_teardown(d, key);
		if (ret < 0 && !first_err)
			first_err = ret;
	}
	t_down = px_now() - t0;
	px_sleep(0.1);
	rss_end = procstat_self_rss_kib();
	dmx_close(d);

	printf("{\"containers\": %u, \"spawned\": %u, \"spawn_s\": %.4f, \"spawn_per_s\": %.0f, "
	       "\"teardown_s\": %.4f, \"teardown_per_s\": %.0f, \"rss_before_kib\": %llu, "
	       "\"rss_after_kib\": %llu, \"rss_after_teardown_kib\": %llu, "
	       "\"bytes_per_container\": %.0f, \"heap_commit_per_container\": %.0f, "
	       "\"idle_s\": %.2f, \"idle_cpu_s\": %.6f, \"check_requests\": %u, "
	       "\"check_errors\": %u, \"rings\": %u, \"fd_limit\": %llu, "
	       "\"process_fds\": %d, \"last_ok\": %s",
	       o->density, spawned, t_spawn, t_spawn > 0 ? spawned / t_spawn : 0.0, t_down,
	       t_down > 0 ? spawned / t_down : 0.0, (unsigned long long)rss_before,
	       (unsigned long long)rss_after, (unsigned long long)rss_end,
	       spawned ? ((double)rss_after - (double)rss_before) * 1024.0 / spawned : 0.0,
	       spawned ? ((double)commit1 - (double)commit0) / spawned : 0.0,
	       o->idle_s, cpu1 - cpu0, o->checks, check_errors, o->rings,
	       (unsigned long long)nofile.rlim_cur, process_fds, last_ok ? "true" : "false");
	if (first_err)
		printf(", \"first_error\": \"%s\"", dmx_strerror(first_err));
	printf("}\n");
	return 0;
}

/* Spawn/teardown storm for secs seconds: a sliding window of live storm
 * containers, every 16th one checked with a request. */
static void px_storm(dmx *d, const struct px_opts *o, double secs, unsigned window)
{
	char key[64], path[DMX_PATH_MAX];
	unsigned spawns = 0, teardowns = 0, errors = 0, checks = 0, check_errors = 0;
	double t0 = px_now(), elapsed;
	int first_err = 0, ret;
	static unsigned next;         /* storm keys are never reused within a process */
	unsigned first = next;

	if (window == 0)
		window = 1;
	while (!px_stop && px_now() - t0 < secs) {
		px_key(key, sizeof(key), "storm", next);
		ret = dmx_spawn(d, key, o->token, path, sizeof(path));
		if (ret < 0) {
			errors++;
			if (!first_err)
				first_err = ret;
		} else {
			spawns++;
			if (next % 16 == 0) {
				checks++;
				if (px_check(path) < 0)
					check_errors++;
			}
		}
		next++;
		if (next - first > window) {
			px_key(key, sizeof(key), "storm", next - window - 1);
			ret = dmx_teardown(d, key);
			if (ret < 0) {
				errors++;
				if (!first_err)
					first_err = ret;
			} else {
				teardowns++;
			}
		}
	}
	elapsed = px_now() - t0;
	/* Leave no storm container behind. */
	for (unsigned i = first + (next - first > window ? next - first - window : 0); i < next; i++) {
		px_key(key, sizeof(key), "storm", i);
		if (dmx_teardown(d, key) == 0)
			teardowns++;
	}
	printf("{\"storm_s\": %.3f, \"spawns\": %u, \"teardowns\": %u, \"lifecycle_per_s\": %.0f, "
	       "\"lifecycle_errors\": %u, \"checks\": %u, \"check_errors\": %u",
	       elapsed, spawns, teardowns, elapsed > 0 ? (spawns + teardowns) / elapsed : 0.0,
	       errors, checks, check_errors);
	if (first_err)
		printf(", \"first_error\": \"%s\"", dmx_strerror(first_err));
	printf("}\n");
	fflush(stdout);
}

static int px_serve(const struct px_opts *o)
{
	char key[64], path[DMX_PATH_MAX], line[256];
	FILE *paths = NULL;
	double t0, t_spawn;
	int ret;
	dmx *d;

	ret = px_open(o, &d);
	if (ret < 0) {
		px_json_error("dmx_open", ret);
		return 1;
	}
	if (o->paths_out) {
		paths = fopen(o->paths_out, "w");
		if (!paths) {
			printf("{\"error\": \"%s: %s\"}\n", o->paths_out, strerror(errno));
			dmx_close(d);
			return 1;
		}
	}
	t0 = px_now();
	for (unsigned i = 0; i < o->containers; i++) {
		px_key(key, sizeof(key), "bench", i);
		ret = dmx_spawn(d, key, o->token, path, sizeof(path));
		if (ret < 0) {
			px_json_error("dmx_spawn", ret);
			dmx_close(d);
			return 1;
		}
		if (paths)
			fprintf(paths, "%s\n", path);
	}
	t_spawn = px_now() - t0;
	if (paths)
		fclose(paths);
	printf("ready %u %.4f\n", o->containers, t_spawn);
	fflush(stdout);

	while (!px_stop && fgets(line, sizeof(line), stdin)) {
		double secs;
		unsigned window = 64;

		if (sscanf(line, "storm %lf %u", &secs, &window) >= 1) {
			px_storm(d, o, secs, window);
		} else if (strncmp(line, "stats", 5) == 0) {
			struct dmx_stats st;

			ret = dmx_stats(d, NULL, &st);
			if (ret < 0) {
				px_json_error("dmx_stats", ret);
				continue;
			}
			printf("{\"containers\": %llu, \"conns_accepted\": %llu, \"conns_active\": %llu, "
			       "\"requests\": %llu, \"bytes_up\": %llu, \"bytes_down\": %llu, "
			       "\"errors\": %llu}\n",
			       (unsigned long long)st.containers, (unsigned long long)st.conns_accepted,
			       (unsigned long long)st.conns_active, (unsigned long long)st.requests,
			       (unsigned long long)st.bytes_up, (unsigned long long)st.bytes_down,
			       (unsigned long long)st.errors);
			fflush(stdout);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
	}
	dmx_close(d);
	return 0;
}

static void px_usage(FILE *f)
{
	fprintf(f,
"usage: dockmux-bench-proxy --upstream PATH --dir DIR [--rings N] [--token T]\n"
"                           (--containers K [--paths-out FILE] | --density N [--idle S] [--checks C])\n"
"  serve mode: spawn K containers (keys bench-0000000...), write their socket paths to\n"
"    FILE, print 'ready K SECONDS', then read stdin commands:\n"
"      storm SECONDS [WINDOW]  spawn/teardown storm, prints one JSON line\n"
"      stats                   dmx_stats over all containers, one JSON line\n"
"      quit (or EOF, SIGTERM)  tear everything down and exit\n"
"  density mode: time N spawns and N teardowns, memory per container, idle CPU over\n"
"    S seconds with all N listening; one JSON line.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "dir", required_argument, NULL, 'D' },
		{ "rings", required_argument, NULL, 'r' },
		{ "token", required_argument, NULL, 'k' },
		{ "containers", required_argument, NULL, 'c' },
		{ "paths-out", required_argument, NULL, 'o' },
		{ "density", required_argument, NULL, 'n' },
		{ "idle", required_argument, NULL, 'i' },
		{ "checks", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct px_opts o = { .token = "tok", .idle_s = 2, .checks = 16 };
	struct sigaction sa = { .sa_handler = px_on_signal };   /* no SA_RESTART: fgets wakes */
	int opt;

	while ((opt = getopt_long(argc, argv, "u:D:r:k:c:o:n:i:C:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': o.upstream = optarg; break;
		case 'D': o.dir = optarg; break;
		case 'r': o.rings = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': o.token = optarg; break;
		case 'c': o.containers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': o.paths_out = optarg; break;
		case 'n': o.density = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': o.idle_s = strtod(optarg, NULL); break;
		case 'C': o.checks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': px_usage(stdout); return 0;
		default: px_usage(stderr); return 2;
		}
	}
	if (!o.upstream || !o.dir || (!o.containers && !o.density)) {
		px_usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	px_raise_nofile();
	if (o.density)
		return px_density(&o);
	return px_serve(&o);
}
