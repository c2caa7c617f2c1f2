/* cmd/daemon.h: the state of `dockmux serve` shared by serve.c (start-up,
 * signals, shutdown), serve_control.c (the control socket's thread) and
 * serve_metrics.c (the /metrics endpoint's thread).
 */
#ifndef DMX_CMD_DAEMON_H
#define DMX_CMD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dockmux.h"
#include "metrics.h"
#include "state.h"

struct daemon {
	dmx *dmx;
	int listen_fd;
	int wake_fd;            /* eventfd: tells both threads to stop */
	uid_t uid;              /* besides root, the only uid the control socket serves */
	const char *control;
	dev_t control_dev;      /* identity of the socket file we bound, so we */
	ino_t control_ino;      /* unlink only ours at exit */
	struct state state;     /* keys, tokens, policies: the state file */
	pthread_t main_thread;  /* gets SIGUSR1 once a takeover has moved everything */
	bool handed_off;        /* the control socket belongs to the new daemon now */
	/* /metrics (--metrics), served by a thread of its own so that no scrape
	 * delays a spawn. The control thread updates the counters below, the
	 * metrics thread reads them: both under counters_lock. */
	const char *metrics;    /* NULL: no endpoint */
	int metrics_fd;
	pthread_mutex_t counters_lock;
	uint64_t spawns, spawn_errors, teardowns;
	struct metrics_hist spawn_latency, teardown_latency;
	double start_time;
};

/* Bind the control socket (0600), replacing only a stale one; *why says what
 * failed. */
int control_listen(struct daemon *dm, const char **why);
/* Use fd (received in a takeover) as the control socket at dm->control. */
int control_adopt(struct daemon *dm, int fd);
/* Unlink the control socket if it is still the one we bound. */
void control_unlink(const struct daemon *dm);
/* The control thread: serves until dm->wake_fd is readable or a takeover
 * took the control socket away (it then makes wake_fd readable itself). */
void *control_thread(void *arg);
/* The metrics thread: serves dm->metrics_fd until dm->wake_fd is readable;
 * the listener stays open (the caller closes it). */
void *metrics_thread(void *arg);

#endif
