/* cmd/notify.c: sd_notify's wire protocol (see notify.h), about forty lines
 * of libsystemd not worth a dependency. No credentials are attached by hand:
 * the kernel gives systemd our pid, which is how it checks NotifyAccess=.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int notify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len, state_len = strlen(state);
	socklen_t salen;
	ssize_t n;
	int fd, ret = 0;

	if (!name || !*name)
		return 0;
	len = strlen(name);
	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT;
	/* An abstract name has no terminating NUL: the address length ends it. */
	if (len > sizeof(sa.sun_path) - (name[0] == '/'))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* MSG_DONTWAIT: a stalled manager must not stall the daemon's main loop. */
	do
		n = sendto(fd, state, state_len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
			   salen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != state_len)
		ret = -EMSGSIZE;
	close(fd);
	return ret;
}

/* Strict decimal: digits only, no sign, no overflow. */
static int notify_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int notify_watchdog_usec(uint64_t *usec)
{
	const char *pid_s = getenv("WATCHDOG_PID");
	uint64_t v, pid;

	if (notify_parse_u64(getenv("WATCHDOG_USEC"), &v) < 0 || v == 0)
		return 0;
	/* Set by systemd for the main process only; a child that inherited the
	 * environment must not ping on the parent's behalf. */
	if (pid_s && (notify_parse_u64(pid_s, &pid) < 0 || pid != (uint64_t)getpid()))
		return 0;
	*usec = v;
	return 1;
}
