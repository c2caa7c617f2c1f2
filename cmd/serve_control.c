/* cmd/serve_control.c: the daemon's control socket: who may talk to it
 * (root and the daemon's own uid, by SO_PEERCRED), the requests applied to
 * the library and remembered in the state file, and the old side of a
 * takeover. One thread and one poll loop; every client is a non-blocking
 * ctl_conn with deadlines, so a stalled client holds up only itself.
 * Spawns and teardowns are applied in arrival order, and the records of all
 * the requests of one round reach the disk with one fdatasync before any of
 * them is answered (group commit). Why a loop and not a thread per client:
 * docs/design.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "control_io.h"
#include "ctl_conn.h"
#include "daemon.h"
#include "dockmux.h"
#include "log.h"
#include "serve_requests.h"
#include "takeover.h"

/* Clients at once: root and the daemon's uid only, so a few scripts and
 * agents; a full table makes room by closing the oldest quiet client. */
#define CONTROL_CONNS_MAX 64
/* Requests taken from one client per round: a busy client cannot starve
 * the others, and a round's batch (one fdatasync) stays bounded. */
#define CONTROL_PER_CONN 64
#define CONTROL_ACCEPTS 16

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
		fd = ctl_connect(dm->control, ctl_now_ms() + 1000);
		if (fd >= 0 || fd == -ETIMEDOUT) {
			if (fd >= 0)
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

/* Old side of `serve --takeover`: everything goes to the peer, then this
 * process drains (main thread, woken by SIGUSR1). The control loop has
 * committed and answered everything before this runs, so the records the
 * new daemon gets are the durable ones. */
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
	/* A handoff is a conversation of its own: blocking, with more time
	 * than an ordinary control client (adopting is fast, but a new daemon
	 * on a loaded host may be slow). Everyone else waits meanwhile: the
	 * containers must not change while they move. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = takeover_send(fd, dm->dmx, &dm->state, dm->listen_fd, &n);
	log_begin(&l, ret < 0 ? "error" : "info", ret < 0 ? "takeover failed" : "handed off");
	log_num(&l, "moved", (long long)n.moved);
	log_num(&l, "kept", (long long)n.kept);
	if (ret < 0)
		log_err(&l, ret);
	log_end(&l);
	if (ret < 0)
		return;   /* still ours to serve, /metrics included */
	/* The new daemon owns the state file and the control socket now; it
	 * binds the metrics endpoint once the metrics thread lets go of it
	 * (woken by wake_fd, like this thread). */
	dm->handed_off = true;
	state_detach(&dm->state);
	eventfd_write(dm->wake_fd, 1);
	pthread_kill(dm->main_thread, SIGUSR1);
}

/* ---- one round of the loop ---- */

struct control_loop {
	struct daemon *dm;
	struct ctl_conn *conns[CONTROL_CONNS_MAX];
	size_t n;
	uint64_t serial;
	int reserve_fd;               /* /dev/null: let go to answer an accept when out of fds */
	int64_t nofd_logged;          /* when "out of fds" was last logged */
	bool mutated;                 /* a spawn or teardown this round: commit */
	size_t batch;                 /* ... how many */
	struct ctl_conn *handoff;     /* asked this round; runs after the commit */
	struct request_scratch scratch;
	struct ctl_request req;       /* ~40 KiB: the one being handled */
};

/* Requests of c, as many as are whole (at most CONTROL_PER_CONN). Returns
 * true when c has more to give than it was allowed this round. */
static bool control_serve(struct control_loop *lp, struct ctl_conn *c, int64_t now)
{
	struct ctl_request *req = &lp->req;
	struct log_line l;
	int ret;

	for (int k = 0; k < CONTROL_PER_CONN; k++) {
		/* Only spawns and teardowns queue behind a held reply: any other
		 * answer would be held too and could be turned into a commit's
		 * error. The rest waits for the next round. A handoff waits for
		 * this round's commit. */
		if (lp->handoff || (c->held && c->in_len && c->in[0] != CTL_OP_SPAWN &&
				    c->in[0] != CTL_OP_TEARDOWN))
			return true;
		ret = ctl_conn_next(c, req, now);
		if (ret < 0) {
			log_begin(&l, "warn", "bad control request");
			log_num(&l, "pid", c->pid);
			log_err(&l, ret);
			log_end(&l);
			return false;
		}
		if (ret == 0)
			return false;
		if (req->op == CTL_OP_HANDOFF) {
			lp->handoff = c;
		} else if (request_apply(lp->dm, c, req, &lp->scratch, now)) {
			lp->mutated = true;
			lp->batch++;
		}
		explicit_bzero(req, sizeof(*req));
	}
	return c->in_len > 0;
}

/* Out of fds: give the reserve up for one accept so the client hears why
 * (a queued connection nobody accepts hangs its client). */
static void control_refuse_nofd(struct control_loop *lp, int err, int64_t now)
{
	struct log_line l;
	int fd;

	if (now - lp->nofd_logged >= 1000) {
		lp->nofd_logged = now;
		log_begin(&l, "warn", "control: out of file descriptors: refusing clients");
		log_err(&l, err);
		log_end(&l);
	}
	if (lp->reserve_fd < 0) {
		poll(NULL, 0, 10);   /* nothing to give up: do not spin */
		return;
	}
	close(lp->reserve_fd);
	fd = accept4(lp->dm->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0) {
		ctl_send_reply(fd, err, NULL, 0, now + 1);
		close(fd);
	}
	lp->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Room for one more client: the oldest that has nothing under way or is
 * only sending a request (a held or unsent reply is worth keeping) goes. */
static bool control_make_room(struct control_loop *lp)
{
	size_t victim = lp->n;

	for (size_t i = 0; i < lp->n; i++) {
		struct ctl_conn *c = lp->conns[i];

		if (c->held || ctl_conn_sending(c) || c == lp->handoff)
			continue;
		if (victim == lp->n || c->serial < lp->conns[victim]->serial)
			victim = i;
	}
	if (victim == lp->n)
		return false;
	lp->conns[victim]->dead = true;
	return true;
}

static void control_accept(struct control_loop *lp, int64_t now)
{
	struct daemon *dm = lp->dm;
	struct log_line l;

	for (int k = 0; k < CONTROL_ACCEPTS; k++) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct ctl_conn *c;
		int fd = accept4(dm->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				control_refuse_nofd(lp, -errno, now);
				continue;
			}
			/* A client gone before accept: keep serving. */
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
				log_begin(&l, "warn", "control accept");
				log_err(&l, -errno);
				log_end(&l);
				if (errno == ENOBUFS || errno == ENOMEM)
					poll(NULL, 0, 10);
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			log_begin(&l, "warn", "control peer credentials");
			log_err(&l, -errno);
			log_end(&l);
			close(fd);
			continue;
		}
		/* The socket is 0600 already; this also holds if someone loosens it. */
		if (cred.uid != 0 && cred.uid != dm->uid) {
			log_begin(&l, "warn", "control peer refused");
			log_num(&l, "uid", cred.uid);
			log_num(&l, "pid", cred.pid);
			log_end(&l);
			ctl_send_reply(fd, -EACCES, NULL, 0, now + 1);
			close(fd);
			continue;
		}
		if (lp->n == CONTROL_CONNS_MAX && !control_make_room(lp)) {
			ctl_send_reply(fd, -EAGAIN, NULL, 0, now + 1);
			close(fd);
			continue;
		}
		if (lp->n == CONTROL_CONNS_MAX)
			return;   /* the victim goes at the end of this round; accept later */
		c = ctl_conn_new(fd, cred.uid, cred.pid, ++lp->serial, now);
		if (c)
			lp->conns[lp->n++] = c;
	}
}

/* The round's records reach the disk, then its answers may go. */
static void control_commit(struct control_loop *lp, int64_t now)
{
	struct log_line l;
	int ret;

	if (!lp->mutated)
		return;
	ret = state_commit(&lp->dm->state);
	if (ret < 0) {
		log_begin(&l, "error", "state file not written: these changes are answered with the error "
			  "(they are in effect until a restart)");
		log_str(&l, "state", lp->dm->state.path ? lp->dm->state.path : "");
		log_num(&l, "requests", (long long)lp->batch);
		log_err(&l, ret);
		log_end(&l);
	}
	for (size_t i = 0; i < lp->n; i++) {
		if (ret < 0)
			ctl_conn_fail_held(lp->conns[i], ret, now);
		else
			ctl_conn_release(lp->conns[i], now);
	}
	lp->mutated = false;
	lp->batch = 0;
}

/* Close what is done or past a deadline. */
static void control_reap(struct control_loop *lp, int64_t now)
{
	struct log_line l;
	const char *why;

	for (size_t i = 0; i < lp->n;) {
		struct ctl_conn *c = lp->conns[i];

		if (!ctl_conn_expire(c, now, &why)) {
			i++;
			continue;
		}
		if (why) {
			log_begin(&l, "warn", "control client closed");
			log_str(&l, "why", why);
			log_num(&l, "pid", c->pid);
			log_end(&l);
		}
		ctl_conn_free(c);
		lp->conns[i] = lp->conns[--lp->n];
	}
}

static int control_loop_init(struct control_loop *lp, struct daemon *dm)
{
	memset(lp, 0, sizeof(*lp));
	lp->dm = dm;
	lp->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return request_scratch_init(&lp->scratch);
}

static void control_loop_deinit(struct control_loop *lp)
{
	for (size_t i = 0; i < lp->n; i++)
		ctl_conn_free(lp->conns[i]);
	request_scratch_deinit(&lp->scratch);
	if (lp->reserve_fd >= 0)
		close(lp->reserve_fd);
}

void *control_thread(void *arg)
{
	struct daemon *dm = arg;
	/* ~50 KiB with the request: not on the thread's stack. */
	static struct control_loop loop;
	struct control_loop *lp = &loop;
	struct pollfd pfd[2 + CONTROL_CONNS_MAX];
	struct log_line l;
	bool more = false;

	/* Accepts come in bursts of up to CONTROL_ACCEPTS: the last must find
	 * the backlog empty, not wait on it. (The flag belongs to the socket,
	 * which a takeover shares: the other side wants it too.) */
	fcntl(dm->listen_fd, F_SETFL, fcntl(dm->listen_fd, F_GETFL) | O_NONBLOCK);
	if (control_loop_init(lp, dm) < 0) {
		log_begin(&l, "error", "control thread: out of memory");
		log_end(&l);
		control_loop_deinit(lp);
		return NULL;
	}
	for (;;) {
		int64_t now = ctl_now_ms(), wake = 0;
		int timeout = -1, ret;

		pfd[0] = (struct pollfd){ .fd = dm->listen_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = dm->wake_fd, .events = POLLIN };
		for (size_t i = 0; i < lp->n; i++) {
			struct ctl_conn *c = lp->conns[i];
			int64_t d = ctl_conn_deadline(c);
			short ev = 0;

			if (!c->eof && !c->closing && !ctl_conn_full(c) && c->in_len < CTL_REQ_MAX)
				ev |= POLLIN;
			if (ctl_conn_sending(c))
				ev |= POLLOUT;
			pfd[2 + i] = (struct pollfd){ .fd = c->fd, .events = ev };
			if (d && (!wake || d < wake))
				wake = d;
		}
		if (more)
			timeout = 0;
		else if (wake)
			timeout = wake <= now ? 0 : (int)(wake - now);
		ret = poll(pfd, 2 + lp->n, timeout);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			log_begin(&l, "error", "control poll");
			log_err(&l, -errno);
			log_end(&l);
			break;
		}
		if (pfd[1].revents)
			break;
		now = ctl_now_ms();
		more = false;
		/* Clients first: pfd[] indexes them as they are now. */
		for (size_t i = 0; i < lp->n; i++) {
			struct ctl_conn *c = lp->conns[i];

			if (pfd[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
				ctl_conn_recv(c, now);
			more |= control_serve(lp, c, now);
		}
		if (pfd[0].revents & POLLIN)
			control_accept(lp, now);
		control_commit(lp, now);
		for (size_t i = 0; i < lp->n; i++)
			ctl_conn_flush(lp->conns[i], now);
		if (lp->handoff) {
			struct ctl_conn *c = lp->handoff;

			lp->handoff = NULL;
			control_handoff(dm, c->fd, c->pid);
			c->dead = true;   /* the handoff's conversation is over either way */
			if (dm->handed_off)
				break;
		}
		control_reap(lp, now);
	}
	control_loop_deinit(lp);
	return NULL;
}
