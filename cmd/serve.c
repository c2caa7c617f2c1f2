/* cmd/serve.c: `dockmux serve`, the daemon: libdockmux behind a control
 * socket that only root and the daemon's own uid may use (serve_control.c),
 * one logfmt line per event. This file is its life: options, the state file
 * at start-up (or a takeover from the running daemon), signals, and a
 * graceful stop. It judges nothing itself: the library validates.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "control.h"
#include "dockmux.h"
#include "daemon.h"
#include "log.h"
#include "metrics_http.h"
#include "metrics_listen.h"
#include "notify.h"
#include "restore.h"
#include "state.h"
#include "takeover.h"
#include "upgrade.h"

#define DEFAULT_CONFIG "/etc/dockmux/dockmux.conf"
#define DEFAULT_STATE "/var/lib/dockmux/state"
#define DEFAULT_GRACE_MS 10000

struct serve_opts {
	const char *state;       /* NULL: no state file ("none") */
	const char *log_file;    /* NULL: stderr */
	bool takeover;
	unsigned long grace_ms;
};

static int serve_start_state(struct daemon *dm, const struct serve_opts *o)
{
	struct takeover_counts n;
	struct log_line l;
	const char *why;
	int ret, fd;

	if (o->takeover) {
		ret = takeover_receive(dm->control, dm->dmx, &dm->state, &fd, &n);
		log_begin(&l, ret < 0 ? "error" : "info", ret < 0 ? "takeover failed" : "took over");
		log_num(&l, "moved", (long long)n.moved);
		log_num(&l, "kept_by_old", (long long)n.kept);
		if (ret < 0)
			log_err(&l, ret);
		log_end(&l);
		if (ret < 0)
			return ret;
		control_adopt(dm, fd);
	} else {
		struct state_load_info info;
		struct restore_counts counts;

		ret = state_load(&dm->state, &why, &info);
		if (ret == -ENOENT)
			goto save;
		if (ret < 0) {
			log_begin(&l, "error", "state file unreadable");
			log_str(&l, "state", o->state);
			if (why)
				log_str(&l, "why", why);
			if (ret == -EBADMSG)
				log_num(&l, "offset", (long long)info.at);
			log_err(&l, ret);
			log_end(&l);
			return ret;
		}
		if (info.dropped) {
			/* What a crash between a write and its fdatasync leaves:
			 * those changes were never answered. */
			log_begin(&l, "warn", "state file: torn tail dropped (changes never acknowledged)");
			log_str(&l, "state", o->state);
			log_str(&l, "why", why ? why : "");
			log_num(&l, "offset", (long long)info.at);
			log_num(&l, "bytes", (long long)info.dropped);
			log_end(&l);
		}
		log_begin(&l, "info", "restoring");
		log_str(&l, "state", o->state);
		log_num(&l, "containers", (long long)state_count(&dm->state));
		log_num(&l, "records", (long long)info.records);
		log_end(&l);
		ret = restore_all(dm->dmx, &dm->state, RESTORE_RETRY_MS, &counts);
		if (ret < 0)
			return ret;
		if (counts.failed) {
			log_begin(&l, "error", "restore: some containers have no socket (see above)");
			log_num(&l, "restored", (long long)counts.restored);
			log_num(&l, "failed", (long long)counts.failed);
			log_end(&l);
		}
	}
save:
	/* The journal starts over compacted: a torn tail and every superseded
	 * record (and its token) are gone from the file. */
	ret = state_save(&dm->state);
	if (ret < 0) {
		log_begin(&l, "error", "state file not written");
		log_str(&l, "state", o->state);
		log_err(&l, ret);
		log_end(&l);
	}
	return 0;
}

/* Half the interval systemd asks for; 0: no watchdog. */
static long watchdog_ms(void)
{
	uint64_t usec;

	return notify_watchdog_usec(&usec) == 1 ? (long)(usec / 2000) : 0;
}

static uint64_t conns_active(dmx *d)
{
	struct dmx_stats st;

	return dmx_stats(d, NULL, &st) == 0 ? st.conns_active : 0;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stop accepting, let open requests finish. deadline_ms < 0: no deadline
 * (after a takeover: streams run to their end) until a signal sets one. */
static void serve_drain(struct daemon *dm, const sigset_t *sigs, long grace_ms, bool handed_off,
			const char *log_file)
{
	struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
	long deadline = handed_off ? -1 : mono_ms() + grace_ms;
	long wd = watchdog_ms(), wd_next = mono_ms() + wd;
	struct log_line l;
	uint64_t n;
	int sig;

	dmx_drain(dm->dmx);
	while ((n = conns_active(dm->dmx)) > 0) {
		if (deadline >= 0 && mono_ms() >= deadline) {
			log_begin(&l, "warn", "grace period over: closing connections");
			log_num(&l, "conns", (long long)n);
			log_end(&l);
			return;
		}
		sig = sigtimedwait(sigs, NULL, &tick);
		/* Still alive while draining: the unit's watchdog keeps running. */
		if (wd > 0 && mono_ms() >= wd_next) {
			notify_send("WATCHDOG=1");
			wd_next = mono_ms() + wd;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			if (deadline >= 0)
				return;   /* a second signal: stop now */
			deadline = mono_ms() + grace_ms;
		} else if (sig == SIGHUP && log_file) {
			/* A drain after a takeover may last as long as a stream:
			 * log rotation must still work. */
			(void)log_reopen(log_file);
		}
	}
}

/* A file of the daemon (state file, control socket, metrics socket) lives in
 * a directory only root or we can change, or a symlink swapped in there
 * would have root write or chmod elsewhere: the library's dmx_dir_check,
 * creating it (0700) when missing. 0, or 1 after printing why not. */
static int serve_check_dir(const char *opt, const char *file)
{
	char dir[PATH_MAX], why[512], what[2 * PATH_MAX + 600];
	char *slash;
	int ret;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", file) >= sizeof(dir))
		return fail(opt, -ENAMETOOLONG);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';   /* "/x": the root */
	else
		*slash = '\0';
	ret = dmx_dir_check(dir, DMX_DIR_CREATE, why, sizeof(why));
	if (ret == 0)
		return 0;
	snprintf(what, sizeof(what), "%s %s: directory refused: %s", opt, file, why);
	return fail(what, ret);
}

static bool serve_keep_dumpable(void)
{
	const char *v = getenv("DOCKMUX_DUMPABLE");

	return v && strcmp(v, "1") == 0;
}

static const struct option serve_options[] = {
	{ "upstream", required_argument, NULL, 'u' },
	{ "dir", required_argument, NULL, 'd' },
	{ "rings", required_argument, NULL, 'r' },
	{ "token-header", required_argument, NULL, 'H' },
	{ "token-prefix", required_argument, NULL, 'P' },
	{ "socket-mode", required_argument, NULL, 'm' },
	{ "socket-owner", required_argument, NULL, 'o' },
	{ "control", required_argument, NULL, 'c' },
	{ "max-line", required_argument, NULL, 'L' },
	{ "max-head", required_argument, NULL, 'E' },
	{ "max-body", required_argument, NULL, 'B' },
	{ "head-timeout-ms", required_argument, NULL, 'T' },
	{ "response-timeout-ms", required_argument, NULL, 'R' },
	{ "max-conns", required_argument, NULL, 'C' },
	{ "state", required_argument, NULL, 'S' },
	{ "takeover", no_argument, NULL, 'K' },
	{ "grace-ms", required_argument, NULL, 'G' },
	{ "log-level", required_argument, NULL, 'V' },
	{ "log-file", required_argument, NULL, 'F' },
	{ "metrics", required_argument, NULL, 'M' },
	{ "access-log", no_argument, NULL, 'A' },
	{ "config", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The config file's settings as options placed before the command line's,
 * so flags win. --config FILE names it (an explicit file must exist; the
 * default one may be missing). On success *nargv is malloc'd (free it and
 * config_free the middle part: see serve_config_free). */
struct serve_argv {
	int argc;
	char **argv;
	int cfg_argc;
	char **cfg_argv;
};

static int serve_config(int argc, char **argv, const struct option *opts, struct serve_argv *out)
{
	const char *known[32], *bools[8], *path = DEFAULT_CONFIG;
	size_t nk = 0, nb = 0;
	bool explicit_path = false;
	char err[512];
	int ret, n = 0;

	for (const struct option *o = opts; o->name; o++) {
		if (strcmp(o->name, "help") == 0 || strcmp(o->name, "config") == 0)
			continue;
		if (o->has_arg == no_argument && nb < 7)
			bools[nb++] = o->name;
		else if (o->has_arg != no_argument && nk < 31)
			known[nk++] = o->name;
	}
	known[nk] = NULL;
	bools[nb] = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
			explicit_path = true;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
			explicit_path = true;
		}
	}
	memset(out, 0, sizeof(*out));
	ret = config_read(path, known, bools, &out->cfg_argc, &out->cfg_argv, err, sizeof(err));
	if (ret == -ENOENT && !explicit_path) {
		out->cfg_argc = 0;
		out->cfg_argv = NULL;
	} else if (ret < 0) {
		if (ret == -EINVAL)
			fprintf(stderr, "dockmux: %s\n", err);
		else
			fail(path, ret);
		return ret;
	}
	out->argv = calloc((size_t)argc + (size_t)out->cfg_argc + 1, sizeof(char *));
	if (!out->argv) {
		config_free(out->cfg_argc, out->cfg_argv);
		return -ENOMEM;
	}
	out->argv[n++] = argv[0];
	for (int i = 0; i < out->cfg_argc; i++)
		out->argv[n++] = out->cfg_argv[i];
	for (int i = 1; i < argc; i++)
		out->argv[n++] = argv[i];
	out->argc = n;
	return 0;
}

static int cmd_serve_argv(int argc, char **argv, struct upgrade *up);

int cmd_serve(int argc, char **argv)
{
	struct serve_argv a;
	struct upgrade up;
	int ret;

	ret = serve_config(argc, argv, serve_options, &a);
	if (ret < 0)
		return ret == -EINVAL ? 2 : 1;
	(void)upgrade_init(&up, argc, argv);
	ret = cmd_serve_argv(a.argc, a.argv, &up);
	free(up.argv);
	free(a.argv);
	config_free(a.cfg_argc, a.cfg_argv);
	return ret;
}

static int cmd_serve_argv(int argc, char **argv, struct upgrade *up)
{
	struct daemon dm = { .listen_fd = -1, .wake_fd = -1, .metrics_fd = -1,
			     .control = DEFAULT_CONTROL,
			     .counters_lock = PTHREAD_MUTEX_INITIALIZER };
	struct serve_opts o = { .state = DEFAULT_STATE, .grace_ms = DEFAULT_GRACE_MS };
	struct dmx_config cfg;
	struct log_line l;
	pthread_t thread, mthread;
	sigset_t sigs;
	unsigned long v;
	const char *why;
	int opt, sig, ret, status = 1;
	long wd_ms;
	bool thread_started = false, mthread_started = false, handed_off = false;

	dmx_config_init(&cfg);
	cfg.log = log_library;
	if (opts_exact(argc, argv, serve_options) < 0)
		return bad_usage("serve: bad option");
	while ((opt = getopt_long(argc, argv, "h", serve_options, NULL)) != -1) {
		switch (opt) {
		case 'u': cfg.upstream = optarg; break;
		case 'd': cfg.socket_dir = optarg; break;
		case 'r':
			if (parse_ulong(optarg, 10, 256, &v) < 0)
				return bad_usage("serve: --rings takes 0..256 (0: one per CPU)");
			cfg.rings = (unsigned)v;
			break;
		case 'H': cfg.token_header = optarg; break;
		case 'P': cfg.token_prefix = optarg; break;
		case 'm':
			if (parse_ulong(optarg, 8, 0777, &v) < 0)
				return bad_usage("serve: --socket-mode takes an octal mode up to 0777");
			cfg.socket_mode = (unsigned)v;
			break;
		case 'o':
			if (parse_owner(optarg, &cfg.socket_uid, &cfg.socket_gid) < 0)
				return bad_usage("serve: --socket-owner takes UID[:GID] (numbers or names)");
			break;
		case 'c': dm.control = optarg; break;
		case 'L':
			if (parse_ulong(optarg, 10, 1024 * 1024, &v) < 0)
				return bad_usage("serve: --max-line takes bytes up to 1 MiB (0: 8 KiB)");
			cfg.max_line = (unsigned)v;
			break;
		case 'E':
			if (parse_ulong(optarg, 10, 1024 * 1024, &v) < 0)
				return bad_usage("serve: --max-head takes bytes up to 1 MiB (0: 64 KiB)");
			cfg.max_head = (unsigned)v;
			break;
		case 'B':
			if (parse_ulong(optarg, 10, ~0ul, &v) < 0)
				return bad_usage("serve: --max-body takes bytes (0: unlimited)");
			cfg.max_body = v;
			break;
		case 'T':
			if (parse_ulong(optarg, 10, 24ul * 3600 * 1000, &v) < 0)
				return bad_usage("serve: --head-timeout-ms takes milliseconds (0: 30000)");
			cfg.head_timeout_ms = (unsigned)v;
			break;
		case 'R':
			if (parse_ulong(optarg, 10, 24ul * 3600 * 1000, &v) < 0)
				return bad_usage("serve: --response-timeout-ms takes milliseconds (0: none)");
			cfg.response_timeout_ms = (unsigned)v;
			break;
		case 'C':
			if (parse_ulong(optarg, 10, 1u << 20, &v) < 0)
				return bad_usage("serve: --max-conns takes a count (0: 1024)");
			cfg.max_conns = (unsigned)v;
			break;
		case 'S':
			if (!*optarg)
				return bad_usage("serve: --state takes a file path, or 'none'");
			o.state = strcmp(optarg, "none") == 0 ? NULL : optarg;
			break;
		case 'K': o.takeover = true; break;
		case 'f': break;   /* read before: serve_config */
		case 'A': cfg.access_log = log_access; break;
		case 'M':
			if (!*optarg)
				return bad_usage("serve: --metrics takes /PATH or HOST:PORT (loopback)");
			dm.metrics = optarg;
			break;
		case 'G':
			if (parse_ulong(optarg, 10, 24ul * 3600 * 1000, &v) < 0)
				return bad_usage("serve: --grace-ms takes milliseconds");
			o.grace_ms = v;
			break;
		case 'V':
			if (log_set_level(optarg) < 0)
				return bad_usage("serve: --log-level takes error, warn, info or debug");
			break;
		case 'F':
			if (!*optarg)
				return bad_usage("serve: --log-file takes a file path");
			o.log_file = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage("serve: bad option");
		}
	}
	if (optind != argc)
		return bad_usage("serve: takes no arguments");
	/* Before any token is read (state file, takeover, spawns): a crash
	 * writes no core, and only a CAP_SYS_PTRACE holder may ptrace us or
	 * read /proc/PID/mem. DOCKMUX_DUMPABLE=1 keeps cores for debugging
	 * (they hold every token). The library keeps its own copies out of
	 * dumps anyway (MADV_DONTDUMP); this covers the daemon's: the state,
	 * control requests. */
	if (!serve_keep_dumpable() && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail("prctl(PR_SET_DUMPABLE)", -errno);
	dm.uid = geteuid();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		dm.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	dm.main_thread = pthread_self();
	if (o.log_file && (ret = log_reopen(o.log_file)) < 0)
		return fail("--log-file", ret);

	/* Signals are taken by sigwait in this thread only; every thread
	 * created below (the rings too) inherits the blocked mask. SIGUSR1 is
	 * internal: the control thread's "a takeover moved everything";
	 * SIGUSR2 starts an in-place upgrade, SIGCHLD tells of its failure. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (serve_check_dir("--control", dm.control) ||
	    (o.state && serve_check_dir("--state", o.state)) ||
	    (dm.metrics && dm.metrics[0] == '/' && serve_check_dir("--metrics", dm.metrics)))
		return 1;

	/* The control socket first: a second daemon must fail here, before it
	 * starts rings on the first one's socket directory. A takeover gets
	 * the running daemon's socket instead, below. */
	/* Until "ready", a failure is a command-line error, reported like the
	 * other commands'; from then on everything goes through the log. */
	if (!o.takeover) {
		ret = control_listen(&dm, &why);
		if (ret < 0) {
			char what[DMX_PATH_MAX + 96];

			snprintf(what, sizeof(what), "control socket %s%s%s", dm.control,
				 why ? ": " : "", why ? why : "");
			return fail(what, ret);
		}
	}
	ret = state_init(&dm.state, o.state);
	if (ret < 0) {
		fail("state", ret);
		goto out_control;
	}
	dm.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (dm.wake_fd < 0) {
		fail("eventfd", -errno);
		goto out_state;
	}
	ret = dmx_open(&cfg, &dm.dmx);
	if (ret < 0) {
		char what[DMX_PATH_MAX + 96];

		/* The library logged why it refused the directory. */
		if (ret == -EPERM || ret == -ENOTDIR || ret == -ELOOP || ret == -ENOENT)
			snprintf(what, sizeof(what), "serve: --dir %s refused (see the error above)",
				 cfg.socket_dir ? cfg.socket_dir : "/run/dockmux");
		else
			snprintf(what, sizeof(what), "%s", ret == -EINVAL ?
				 "serve: invalid configuration (check --token-header, --token-prefix, "
				 "--socket-mode, --rings)" : "serve: starting the rings");
		fail(what, ret);
		goto out_state;
	}
	ret = serve_start_state(&dm, &o);
	if (ret < 0) {
		fail(o.takeover ? "serve --takeover" : "serve: state file", ret);
		goto out_dmx;
	}
	if (dm.metrics) {
		/* After a takeover the old daemon may still be letting go of
		 * the address: retry for a moment. */
		for (int i = 0; i < 50; i++) {
			ret = metrics_listen(dm.metrics, &dm.metrics_fd, &why);
			if (ret != -EADDRINUSE || !o.takeover)
				break;
			poll(NULL, 0, 100);
		}
		if (ret < 0) {
			char what[256];

			snprintf(what, sizeof(what), "--metrics %s%s%s", dm.metrics, why ? ": " : "",
				 why ? why : "");
			fail(what, ret);
			goto out_dmx;
		}
	}
	ret = -pthread_create(&thread, NULL, control_thread, &dm);
	if (ret < 0) {
		fail("control thread", ret);
		goto out_dmx;
	}
	thread_started = true;
	if (dm.metrics_fd >= 0) {
		ret = -pthread_create(&mthread, NULL, metrics_thread, &dm);
		if (ret < 0) {
			fail("metrics thread", ret);
			goto out_dmx;
		}
		mthread_started = true;
	}
	log_begin(&l, "info", "ready");
	log_str(&l, "control", dm.control);
	log_str(&l, "upstream", cfg.upstream ? cfg.upstream : "/var/run/docker.sock");
	log_str(&l, "dir", cfg.socket_dir ? cfg.socket_dir : "/run/dockmux");
	log_str(&l, "state", o.state ? o.state : "none");
	/* 0 means one ring per online CPU, as dmx_open counts them. */
	log_num(&l, "rings", dmx_rings(dm.dmx));
	log_num(&l, "containers", (long long)state_count(&dm.state));
	log_end(&l);

	{
		char ready[128];

		/* MAINPID: after a takeover this process is the service's main
		 * one now (the unit has NotifyAccess=all for that). */
		snprintf(ready, sizeof(ready), "MAINPID=%ld\nREADY=1\nSTATUS=serving %zu containers",
			 (long)getpid(), state_count(&dm.state));
		notify_send(ready);
	}
	wd_ms = watchdog_ms();
	for (;;) {
		if (wd_ms > 0) {
			struct timespec ts = { .tv_sec = wd_ms / 1000, .tv_nsec = wd_ms % 1000 * 1000000 };

			sig = sigtimedwait(&sigs, NULL, &ts);
			if (sig < 0) {
				if (errno == EAGAIN)
					notify_send("WATCHDOG=1");
				continue;
			}
		} else {
			do {
				ret = sigwait(&sigs, &sig);
			} while (ret == EINTR);
		}
		if (sig == SIGUSR2) {
			upgrade_start(up);
			continue;
		}
		if (sig == SIGCHLD) {
			upgrade_reap(up);
			continue;
		}
		if (sig == SIGHUP) {
			ret = o.log_file ? log_reopen(o.log_file) : 0;
			log_begin(&l, ret < 0 ? "error" : "info", "log reopened");
			if (ret < 0)
				log_err(&l, ret);
			log_end(&l);
			continue;
		}
		break;
	}
	handed_off = sig == SIGUSR1;
	notify_send(handed_off ? "STATUS=draining after a takeover" : "STOPPING=1");
	log_begin(&l, "info", handed_off ? "draining after takeover" : "stopping");
	log_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGUSR1");
	log_num(&l, "conns", (long long)conns_active(dm.dmx));
	log_end(&l);

	/* Stop taking requests before the rings go, so no spawn lands on a
	 * closing handle; and let go of the metrics address before a drain
	 * that may last as long as a stream (a new daemon waits for it). */
	status = 0;
out_dmx:
	if ((thread_started || mthread_started) && eventfd_write(dm.wake_fd, 1) == 0) {
		if (thread_started)
			pthread_join(thread, NULL);
		if (mthread_started)
			pthread_join(mthread, NULL);
	}
	thread_started = mthread_started = false;
	if (dm.metrics_fd >= 0) {
		close(dm.metrics_fd);
		dm.metrics_fd = -1;
		if (!handed_off)
			metrics_unlink(dm.metrics);
	}
	if (status == 0)
		serve_drain(&dm, &sigs, (long)o.grace_ms, handed_off, o.log_file);
	dmx_close(dm.dmx);
out_state:
	state_deinit(&dm.state);
out_control:
	if (dm.listen_fd >= 0)
		close(dm.listen_fd);
	control_unlink(&dm);
	if (dm.wake_fd >= 0)
		close(dm.wake_fd);
	if (status == 0) {
		log_begin(&l, "info", "stopped");
		log_end(&l);
	}
	return status;
}
