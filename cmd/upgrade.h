/* cmd/upgrade.h: SIGUSR2, `dockmux serve` upgrading itself in place
 * (upgrade.c). */
#ifndef DMX_CMD_UPGRADE_H
#define DMX_CMD_UPGRADE_H

#include <sys/types.h>

/* SIGUSR2: start the binary now on disk as `serve <same args> --takeover`.
 * The child takes every socket over through the control socket and tells
 * systemd it is the main process; this one then drains and exits. */
struct upgrade {
	char exe[4096];          /* resolved at start: a package upgrade replaces the file */
	char **argv;             /* exe, "serve", original args, "--takeover" */
	pid_t child;
};

/* Remember the binary (readlink /proc/self/exe, now: a package upgrade may
 * replace the file later) and the arguments, plus --takeover. 0 or -errno;
 * on failure upgrade_start only logs that it cannot. */
int upgrade_init(struct upgrade *u, int argc, char **argv);
/* Fork and exec the new daemon; it takes over through the control socket. */
void upgrade_start(struct upgrade *u);
/* On SIGCHLD: a child that exited while we still serve has failed: log it. */
void upgrade_reap(struct upgrade *u);

#endif
