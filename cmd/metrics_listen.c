/* cmd/metrics_listen.c: where the /metrics endpoint listens (see
 * metrics_listen.h): a Unix socket path or a loopback TCP address, nothing
 * another host could reach.
 */
#include "metrics_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int metrics_fail(const char **why, const char *msg, int err)
{
	if (why)
		*why = msg;
	return err;
}

/* bind() said EADDRINUSE: replace the file only if it is a socket nobody
 * accepts on (left by a crashed daemon). Never unlink anything else. */
static int metrics_unix_stale(const char *path, const struct sockaddr_un *sa, const char **why)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return metrics_fail(why, "cannot stat the metrics socket path", -errno);
	if (!S_ISSOCK(st.st_mode))
		return metrics_fail(why, "the metrics socket path exists and is not a socket", -EEXIST);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	/* A full backlog (EAGAIN) still means somebody listens. */
	if (ret == 0 || ret == -EAGAIN)
		return metrics_fail(why, "another process is listening on the metrics socket",
				    -EADDRINUSE);
	if (ret != -ECONNREFUSED)
		return metrics_fail(why, "cannot probe the existing metrics socket", ret);
	if (unlink(path) < 0 && errno != ENOENT)
		return metrics_fail(why, "cannot remove the stale metrics socket", -errno);
	return 0;
}

static int metrics_listen_unix(const char *path, int *fd_out, const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, ret;

	if (n >= sizeof(sa.sun_path))
		return metrics_fail(why, "metrics socket path too long", -ENAMETOOLONG);
	memcpy(sa.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (ret != -EADDRINUSE) {
			metrics_fail(why, "cannot bind the metrics socket", ret);
			goto err;
		}
		ret = metrics_unix_stale(path, &sa, why);
		if (ret < 0)
			goto err;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = metrics_fail(why, "cannot bind the metrics socket", -errno);
			goto err;
		}
	}
	/* Before listen(), so nobody can connect while the umask's mode holds. */
	if (chmod(path, 0660) < 0) {
		ret = metrics_fail(why, "cannot chmod the metrics socket", -errno);
		goto err_unlink;
	}
	if (listen(fd, 16) < 0) {
		ret = metrics_fail(why, "cannot listen on the metrics socket", -errno);
		goto err_unlink;
	}
	*fd_out = fd;
	return 0;
err_unlink:
	unlink(path);
err:
	close(fd);
	return ret;
}

static int metrics_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int metrics_listen_inet(const char *addr, int *fd_out, const char **why)
{
	static const char refuse[] =
		"refusing a non-loopback metrics address: /metrics is unauthenticated; "
		"use 127.0.0.1:PORT, [::1]:PORT or a Unix socket path";
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
	const char *host, *port_s;
	char hostbuf[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	uint16_t port;
	socklen_t salen;
	int fd, ret, one = 1;
	bool v6 = addr[0] == '[';

	memset(&u, 0, sizeof(u));
	if (v6) {
		const char *close_br = strchr(addr, ']');

		if (!close_br || close_br[1] != ':')
			return metrics_fail(why, "expected [IPV6]:PORT", -EINVAL);
		host = addr + 1;
		hlen = (size_t)(close_br - host);
		port_s = close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (!colon)
			return metrics_fail(why, "expected /path, HOST:PORT or [IPV6]:PORT", -EINVAL);
		host = addr;
		hlen = (size_t)(colon - addr);
		port_s = colon + 1;
		if (memchr(host, ':', hlen))
			return metrics_fail(why, "an IPv6 metrics address needs brackets: [::1]:PORT",
					    -EINVAL);
	}
	if (hlen == 0)
		return metrics_fail(why, refuse, -EPERM); /* ":9100" means every address */
	if (hlen >= sizeof(hostbuf))
		return metrics_fail(why, "metrics host is not a numeric address", -EINVAL);
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	if (metrics_parse_port(port_s, &port) < 0)
		return metrics_fail(why, "metrics port must be a number 0..65535", -EINVAL);

	if (v6) {
		if (inet_pton(AF_INET6, hostbuf, &u.in6.sin6_addr) != 1)
			return metrics_fail(why, "metrics host is not a numeric IPv6 address", -EINVAL);
		/* Only ::1: a v4-mapped 127.x would need a dual-stack socket. */
		if (!IN6_IS_ADDR_LOOPBACK(&u.in6.sin6_addr))
			return metrics_fail(why, refuse, -EPERM);
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons(port);
		salen = sizeof(u.in6);
	} else {
		if (strcmp(hostbuf, "localhost") == 0)
			strcpy(hostbuf, "127.0.0.1");
		if (inet_pton(AF_INET, hostbuf, &u.in4.sin_addr) != 1)
			return metrics_fail(why,
					    "metrics host must be a numeric loopback address or localhost",
					    -EINVAL);
		if ((ntohl(u.in4.sin_addr.s_addr) >> 24) != 127)
			return metrics_fail(why, refuse, -EPERM);
		u.in4.sin_family = AF_INET;
		u.in4.sin_port = htons(port);
		salen = sizeof(u.in4);
	}

	fd = socket(u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return metrics_fail(why, "cannot create a socket", -errno);
	/* A restarted daemon must rebind while old connections sit in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		ret = metrics_fail(why, "cannot set socket options", -errno);
		goto err;
	}
	if (bind(fd, &u.sa, salen) < 0) {
		ret = metrics_fail(why, "cannot bind the metrics address", -errno);
		goto err;
	}
	if (listen(fd, 16) < 0) {
		ret = metrics_fail(why, "cannot listen on the metrics address", -errno);
		goto err;
	}
	*fd_out = fd;
	return 0;
err:
	close(fd);
	return ret;
}

int metrics_listen(const char *addr, int *fd_out, const char **why)
{
	if (!addr || !addr[0])
		return metrics_fail(why, "empty metrics address", -EINVAL);
	if (addr[0] == '/')
		return metrics_listen_unix(addr, fd_out, why);
	return metrics_listen_inet(addr, fd_out, why);
}

void metrics_unlink(const char *addr)
{
	struct stat st;

	if (!addr || addr[0] != '/')
		return;
	if (lstat(addr, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(addr);
}

