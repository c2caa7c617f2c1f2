/* cmd/serve_control.c: the daemon's control socket: who may talk to it
 * (root and the daemon's own uid, by SO_PEERCRED), one request per
 * connection, applied to the library and remembered in the state file, and
 * the old side of a takeover. One thread; spawns and teardowns are ordered.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "daemon.h"
#include "dockmux.h"
#include "log.h"
#include "metrics_http.h"
#include "takeover.h"

/* A control client that stalls mid-request must not hold the (single)
 * control thread for long. */
#define CONTROL_IO_TIMEOUT_S 5

/* Bind and listen on the control socket, mode 0600 from its first instant.
 * A leftover socket file is replaced only when nothing answers on it. */
int control_listen(struct daemon *dm, const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(dm->control);
	struct stat st;
	mode_t old;
	int fd, ret;

	*why = NULL;
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	/* Its directory was checked (and made) by serve_check_dir. */
	memcpy(sa.sun_path, dm->control, len + 1);
	if (lstat(dm->control, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*why = "exists and is not a socket; refusing to replace it";
			return -EEXIST;
		}
		fd = ctl_connect(dm->control);
		if (fd >= 0) {
			close(fd);
			*why = "another dockmux daemon is answering on it";
			return -EADDRINUSE;
		}
		if (fd != -ECONNREFUSED) {
			*why = "probing the existing socket";
			return fd;
		}
		if (unlink(dm->control) < 0 && errno != ENOENT) {
			*why = "removing the stale socket";
			return -errno;
		}
	} else if (errno != ENOENT) {
		return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux gives a bound socket file the mode of the socket inode minus the
	 * umask. Narrow both before bind: no moment with looser permissions. No
	 * other thread exists yet, so the process-wide umask change races nothing. */
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto err;
	}
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (ret < 0) {
		*why = "bind";
		goto err;
	}
	if (lstat(dm->control, &st) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		unlink(dm->control);
		goto err;
	}
	dm->control_dev = st.st_dev;
	dm->control_ino = st.st_ino;
	dm->listen_fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

void control_unlink(const struct daemon *dm)
{
	struct stat st;

	if (dm->handed_off)
		return;   /* the new daemon's now */
	if (lstat(dm->control, &st) == 0 && st.st_dev == dm->control_dev &&
	    st.st_ino == dm->control_ino)
		unlink(dm->control);
}

/* Every live container into *out (malloc'd, the caller frees, also on
 * error): their count or -errno. */
static int control_list_all(dmx *d, struct dmx_entry **out)
{
	struct dmx_entry *entries = NULL;
	size_t cap = 0;
	int n;

	/* Containers may be spawned between two calls: grow until it fits. */
	for (;;) {
		n = dmx_list(d, entries, cap);
		if (n < 0 || (size_t)n <= cap)
			break;
		free(entries);
		cap = (size_t)n + 16;
		entries = calloc(cap, sizeof(*entries));
		if (!entries) {
			n = -ENOMEM;
			break;
		}
	}
	*out = entries;
	return n;
}

static int control_list(struct daemon *dm, int fd)
{
	struct dmx_entry *entries;
	void *buf = NULL;
	size_t size;
	int n, ret;

	n = control_list_all(dm->dmx, &entries);
	if (n < 0) {
		ret = ctl_send_reply(fd, n, NULL, 0);
		goto out;
	}
	size = ctl_list_size(entries, (size_t)n);
	if (size > CTL_PAYLOAD_MAX) {
		ret = ctl_send_reply(fd, -EMSGSIZE, NULL, 0);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		ret = ctl_send_reply(fd, -ENOMEM, NULL, 0);
		goto out;
	}
	ret = ctl_list_encode(entries, (size_t)n, buf, size);
	if (ret < 0)
		ret = ctl_send_reply(fd, ret, NULL, 0);
	else
		ret = ctl_send_reply(fd, 0, buf, (size_t)ret);
out:
	free(buf);
	free(entries);
	return ret;
}

/* The API areas in the order of dockmux.h's list: the order in which the
 * library describes an allowlist. */
static const char *const area_names[] = {
	"ping", "version", "info", "events", "system", "containers", "exec", "images",
	"build", "networks", "volumes", "plugins", "swarm", "nodes", "services",
	"tasks", "secrets", "configs", "distribution",
};
#define AREA_COUNT (sizeof(area_names) / sizeof(area_names[0]))

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The next item of a sep-separated list at *s, blanks trimmed: its start and
 * length, *s moved past it; false at the end of the list. */
static bool list_next(const char **s, char sep, const char **item, size_t *len)
{
	const char *b = *s, *e;

	if (!*b)
		return false;
	e = strchr(b, sep);
	if (!e)
		e = b + strlen(b);
	*s = *e ? e + 1 : e;
	while (b < e && is_blank(*b))
		b++;
	while (e > b && is_blank(e[-1]))
		e--;
	*item = b;
	*len = (size_t)(e - b);
	return true;
}

/* For the log line, what `ls` will show for this spawn's policy
 * (dmx_entry.policy), in the same format: "none", or "read-only",
 * "allow=a+b" (areas in canonical order, each once), "deny=N rule(s)" joined
 * by ','. Rebuilt from the request because the library describes a policy
 * only through dmx_list, and listing every container on each spawn would
 * make a spawn O(containers). Only for a policy the library accepted. */
static void control_policy_text(const struct ctl_request *req, char *buf, size_t cap)
{
	const char *s, *item, *sep = "";
	uint32_t areas = 0;
	unsigned rules = 0;
	size_t len, o = 0;

#define PUT(...) (o += (size_t)snprintf(buf + (o < cap ? o : cap - 1), o < cap ? cap - o : 1, \
					 __VA_ARGS__))
	for (s = req->allow; list_next(&s, ',', &item, &len);)
		for (size_t i = 0; i < AREA_COUNT; i++)
			if (strlen(area_names[i]) == len && memcmp(area_names[i], item, len) == 0)
				areas |= 1u << i;
	for (s = req->deny; list_next(&s, ';', &item, &len);)
		rules += len > 0;
	buf[0] = '\0';
	if (req->flags & CTL_FLAG_READ_ONLY) {
		PUT("read-only");
		sep = ",";
	}
	if (areas) {
		PUT("%sallow=", sep);
		sep = "";
		for (size_t i = 0; i < AREA_COUNT; i++)
			if (areas & 1u << i) {
				PUT("%s%s", sep, area_names[i]);
				sep = "+";
			}
		sep = ",";
	}
	if (rules)
		PUT("%sdeny=%u rule%s", sep, rules, rules == 1 ? "" : "s");
	if (o == 0)
		PUT("none");
#undef PUT
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- /metrics: a snapshot of the library's counters and ours ---- */

static int metrics_fill(void *ud, struct metrics_snapshot *s)
{
	struct daemon *dm = ud;
	struct dmx_entry *entries;
	struct metrics_ring *rings;
	unsigned nrings = dmx_rings(dm->dmx);
	int n;

	n = control_list_all(dm->dmx, &entries);
	if (n < 0) {
		free(entries);
		return n;
	}
	s->entries = entries;
	s->nentries = (size_t)n;
	rings = calloc(nrings ? nrings : 1, sizeof(*rings));
	if (!rings)
		return -ENOMEM;
	for (unsigned i = 0; i < nrings; i++) {
		struct dmx_ring_stats rs;

		if (dmx_ring_stats(dm->dmx, i, &rs) == 0) {
			rings[i].loops = rs.loops;
			rings[i].sqes = rs.sqes;
			rings[i].cqes = rs.cqes;
			rings[i].files_used = rs.files_used;
			rings[i].files_total = rs.files_total;
		}
	}
	s->rings = rings;
	s->nrings = nrings;
	n = dmx_stats(dm->dmx, NULL, &s->total);
	s->spawns = dm->spawns;
	s->spawn_errors = dm->spawn_errors;
	s->teardowns = dm->teardowns;
	s->spawn_latency = dm->spawn_latency;
	s->teardown_latency = dm->teardown_latency;
	s->start_time_seconds = dm->start_time;
	return n < 0 ? n : 0;
}

static void metrics_release(void *ud, struct metrics_snapshot *s)
{
	(void)ud;
	free((void *)s->entries);
	free((void *)s->rings);
}

/* The container works now but would not come back after a restart: loud. */
static void state_error(struct daemon *dm, const char *key)
{
	struct log_line l;

	log_begin(&l, "error", "state file not written: this change is lost on restart");
	log_str(&l, "key", key);
	log_str(&l, "state", dm->state.path ? dm->state.path : "");
	log_err(&l, -errno);
	log_end(&l);
}

/* Old side of `serve --takeover`: everything goes to the peer, then this
 * process drains (main thread, woken by SIGUSR1). */
static void control_handoff(struct daemon *dm, int fd, pid_t pid)
{
	struct takeover_counts n;
	struct timeval tv = { .tv_sec = 30 };
	struct log_line l;
	int ret;

	log_begin(&l, "info", "takeover requested");
	log_num(&l, "pid", pid);
	log_num(&l, "containers", (long long)state_count(&dm->state));
	log_end(&l);
	/* Adopting is fast, but a new daemon on a loaded host gets more time
	 * than an ordinary control client. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = takeover_send(fd, dm->dmx, &dm->state, dm->listen_fd, &n);
	log_begin(&l, ret < 0 ? "error" : "info", ret < 0 ? "takeover failed" : "handed off");
	log_num(&l, "moved", (long long)n.moved);
	log_num(&l, "kept", (long long)n.kept);
	if (ret < 0)
		log_err(&l, ret);
	log_end(&l);
	if (ret < 0)
		return;   /* still ours to serve, /metrics included */
	/* The new daemon binds the metrics endpoint once it has taken over
	 * (it retries while this one lets go): only now is it given up. */
	if (dm->metrics_fd >= 0) {
		close(dm->metrics_fd);
		dm->metrics_fd = -1;
	}
	/* The new daemon owns the state file and the control socket now. */
	dm->handed_off = true;
	dm->state.path = NULL;
	pthread_kill(dm->main_thread, SIGUSR1);
}

int control_adopt(struct daemon *dm, int fd)
{
	struct stat st;

	if (lstat(dm->control, &st) < 0)
		return -errno;
	dm->control_dev = st.st_dev;
	dm->control_ino = st.st_ino;
	dm->listen_fd = fd;
	return 0;
}

/* Spawn (or update) a container with the request's policy; one log line
 * with the policy's description, never the token. */
static void control_spawn(struct daemon *dm, struct ctl_request *req, int fd, pid_t pid)
{
	struct dmx_policy pol;
	struct log_line l;
	char path[DMX_PATH_MAX], desc[sizeof(((struct dmx_entry *)0)->policy)];
	const char *why = NULL;
	int ret;

	double t0 = now_s();

	ctl_request_policy(req, &pol);
	ret = dmx_spawn_policy(dm->dmx, req->key, req->token, &pol, path, sizeof(path));
	metrics_hist_observe(&dm->spawn_latency, now_s() - t0);
	dm->spawns++;
	dm->spawn_errors += ret < 0;
	if (ret == 0 && (state_put(&dm->state, req) < 0 || state_save(&dm->state) < 0))
		state_error(dm, req->key);
	explicit_bzero(req->token, sizeof(req->token));
	log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "spawn failed" : "spawn");
	log_str(&l, "key", req->key);
	if (ret < 0) {
		log_err(&l, ret);
		/* The client checks the policy first; a peer that did not gets
		 * only -EINVAL back, so the reason goes here. */
		if (ret == -EINVAL && dmx_policy_check(&pol, &why) < 0)
			log_str(&l, "why", why);
	} else {
		log_str(&l, "path", path);
		control_policy_text(req, desc, sizeof(desc));
		log_str(&l, "policy", desc);
		log_num(&l, "uids", req->nuids);
	}
	log_num(&l, "pid", pid);
	log_end(&l);
	if (ret < 0)
		ctl_send_reply(fd, ret, NULL, 0);
	else
		ctl_send_reply(fd, 0, path, strlen(path));
}

static void control_serve(struct daemon *dm, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { .tv_sec = CONTROL_IO_TIMEOUT_S };
	/* ~40 KiB: the control thread is the only caller, so it can be static. */
	static struct ctl_request req;
	struct dmx_stats st;
	struct log_line l;
	uint8_t stats[CTL_STATS_LEN];
	int ret;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_begin(&l, "warn", "control peer credentials");
		log_err(&l, -errno);
		log_end(&l);
		return;
	}
	/* The socket is 0600 already; this also holds if someone loosens it. */
	if (cred.uid != 0 && cred.uid != dm->uid) {
		log_begin(&l, "warn", "control peer refused");
		log_num(&l, "uid", cred.uid);
		log_num(&l, "pid", cred.pid);
		log_end(&l);
		ctl_send_reply(fd, -EACCES, NULL, 0);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	ret = ctl_recv_request(fd, &req);
	if (ret < 0) {
		/* A peer that only connects (the stale-socket probe of a second
		 * daemon) is not worth a line. */
		if (ret != -ENODATA) {
			log_begin(&l, "warn", "bad control request");
			log_num(&l, "pid", cred.pid);
			log_err(&l, ret);
			log_end(&l);
			ctl_send_reply(fd, ret, NULL, 0);
		}
		return;
	}

	switch (req.op) {
	case CTL_OP_SPAWN:
		control_spawn(dm, &req, fd, cred.pid);
		break;
	case CTL_OP_TEARDOWN: {
		double t0 = now_s();

		ret = dmx_teardown(dm->dmx, req.key);
		metrics_hist_observe(&dm->teardown_latency, now_s() - t0);
		dm->teardowns++;
		if (ret == 0) {
			state_del(&dm->state, req.key);
			if (state_save(&dm->state) < 0)
				state_error(dm, req.key);
		}
		log_begin(&l, ret < 0 ? "warn" : "info", ret < 0 ? "teardown failed" : "teardown");
		log_str(&l, "key", req.key);
		if (ret < 0)
			log_err(&l, ret);
		log_num(&l, "pid", cred.pid);
		log_end(&l);
		ctl_send_reply(fd, ret, NULL, 0);
		break;
	}
	case CTL_OP_LIST:
		control_list(dm, fd);
		break;
	case CTL_OP_HANDOFF:
		control_handoff(dm, fd, cred.pid);
		break;
	case CTL_OP_STATS:
		ret = dmx_stats(dm->dmx, req.key_len ? req.key : NULL, &st);
		if (ret < 0) {
			ctl_send_reply(fd, ret, NULL, 0);
			break;
		}
		ctl_stats_encode(&st, stats);
		ctl_send_reply(fd, 0, stats, sizeof(stats));
		break;
	}
	explicit_bzero(&req, sizeof(req));
}

/* One client at a time, one request per connection: the control plane is
 * rare and small, and serializing it keeps spawn/teardown ordered. */
void *control_thread(void *arg)
{
	struct daemon *dm = arg;
	struct pollfd pfd[3] = {
		{ .fd = dm->listen_fd, .events = POLLIN },
		{ .fd = dm->wake_fd, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	struct log_line l;

	for (;;) {
		pfd[2].fd = dm->metrics_fd;
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_begin(&l, "error", "control poll");
			log_err(&l, -errno);
			log_end(&l);
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[2].revents & POLLIN) {
			int ret = metrics_handle(dm->metrics_fd, metrics_fill, metrics_release, dm);

			if (ret < 0 && ret != -EAGAIN) {
				log_begin(&l, "warn", "metrics");
				log_err(&l, ret);
				log_end(&l);
				/* fd pressure: do not spin on a level-triggered poll */
				if (ret == -EMFILE || ret == -ENFILE)
					poll(NULL, 0, 100);
			}
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		int fd = accept4(dm->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			/* A client gone before accept, or fd pressure: keep serving. */
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
				log_begin(&l, "warn", "control accept");
				log_err(&l, -errno);
				log_end(&l);
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
					poll(NULL, 0, 100);
			}
			continue;
		}
		control_serve(dm, fd);
		close(fd);
		if (dm->handed_off)
			break;
	}
	return NULL;
}

