/* cmd/upgrade.c: SIGUSR2 in `dockmux serve`: start the binary now on disk
 * as `serve <same args> --takeover`; see upgrade.h and takeover.h.
 */
#include "upgrade.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

int upgrade_init(struct upgrade *u, int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", u->exe, sizeof(u->exe) - 1);
	int k = 0;
	bool has = false;

	u->child = 0;
	u->argv = NULL;
	if (n <= 0 || (size_t)n >= sizeof(u->exe) - 1)
		return -ENOENT;
	u->exe[n] = '\0';
	u->argv = calloc((size_t)argc + 3, sizeof(char *));
	if (!u->argv)
		return -ENOMEM;
	u->argv[k++] = u->exe;
	u->argv[k++] = "serve";
	for (int i = 1; i < argc; i++) {
		has |= strcmp(argv[i], "--takeover") == 0;
		u->argv[k++] = argv[i];
	}
	if (!has)
		u->argv[k++] = "--takeover";
	return 0;
}

void upgrade_start(struct upgrade *u)
{
	struct log_line l;
	sigset_t none;
	pid_t pid;

	if (!u->argv || u->child > 0) {
		log_begin(&l, "warn", u->argv ? "upgrade already under way" : "upgrade unavailable");
		log_end(&l);
		return;
	}
	pid = fork();
	if (pid == 0) {
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		execv(u->exe, u->argv);
		_exit(127);
	}
	log_begin(&l, pid < 0 ? "error" : "info", pid < 0 ? "upgrade failed" : "upgrade started");
	log_str(&l, "exe", u->exe);
	if (pid < 0)
		log_err(&l, -errno);
	else
		log_num(&l, "pid", pid);
	log_end(&l);
	if (pid > 0)
		u->child = pid;
}

/* SIGCHLD: an upgrade child that exits while we still serve has failed. */
void upgrade_reap(struct upgrade *u)
{
	struct log_line l;
	int st;

	if (u->child > 0 && waitpid(u->child, &st, WNOHANG) == u->child) {
		log_begin(&l, "error", "upgrade failed: the new daemon exited; still serving");
		log_num(&l, "pid", u->child);
		log_num(&l, "status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		log_end(&l);
		u->child = 0;
	}
}

