/* tests/cmd_notify.c: sd_notify without libsystemd (cmd/notify.c) against a
 * real AF_UNIX datagram socket, named by path and abstract, as systemd binds
 * it; and the watchdog variables' parsing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static char dir[] = "/tmp/dmx-notify.XXXXXX";
static char sock_path[sizeof(dir) + 16];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/notify", dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	unlink(sock_path);
	rmdir(dir);
}

TestSuite(notify, .init = setup, .fini = teardown);

/* A datagram socket bound to name (path, or '@' for abstract), as systemd's. */
static int bind_dgram(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		salen++;
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, salen), 0, "bind: %s", strerror(errno));
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	cr_assert_eq(n, (ssize_t)strlen(want), "recv %zd: %s", n, n < 0 ? strerror(errno) : "");
	cr_assert_eq(memcmp(buf, want, (size_t)n), 0);
}

Test(notify, sends_one_datagram_to_a_path_socket)
{
	int fd = bind_dgram(sock_path);

	setenv("NOTIFY_SOCKET", sock_path, 1);
	cr_assert_eq(notify_send("READY=1\nSTATUS=serving 3 containers"), 0);
	cr_assert_eq(notify_send("STOPPING=1"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=serving 3 containers");
	expect_datagram(fd, "STOPPING=1");
	close(fd);
}

Test(notify, sends_to_an_abstract_socket)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@dmx-notify-test-%d", (int)getpid());
	fd = bind_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	cr_assert_eq(notify_send("WATCHDOG=1"), 0);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
}

Test(notify, unset_or_empty_socket_is_a_quiet_success)
{
	cr_assert_eq(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	cr_assert_eq(notify_send("READY=1"), 0);
}

Test(notify, nobody_listening_is_an_error)
{
	setenv("NOTIFY_SOCKET", sock_path, 1);
	cr_assert_eq(notify_send("READY=1"), -ENOENT);
}

Test(notify, unsupported_and_oversized_addresses_are_refused)
{
	char name[200];

	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	cr_assert_eq(notify_send("READY=1"), -EAFNOSUPPORT);
	memset(name, 'a', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	cr_assert_eq(notify_send("READY=1"), -ENAMETOOLONG);
}

Test(notify, watchdog_enabled_for_this_process)
{
	char pid[32];
	uint64_t usec = 0;

	setenv("WATCHDOG_USEC", "30000000", 1);
	cr_assert_eq(notify_watchdog_usec(&usec), 1);
	cr_assert_eq(usec, 30000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 0;
	cr_assert_eq(notify_watchdog_usec(&usec), 1);
	cr_assert_eq(usec, 30000000);
}

Test(notify, watchdog_unset_is_disabled)
{
	uint64_t usec = 7;

	cr_assert_eq(notify_watchdog_usec(&usec), 0);
	cr_assert_eq(usec, 7, "output written when disabled");
}

Test(notify, malformed_watchdog_usec_is_disabled)
{
	static const char *const bad[] = { "", "0", "-1", "+5", "12x", " 5", "1e6",
					   "99999999999999999999999" };
	uint64_t usec = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		cr_assert_eq(notify_watchdog_usec(&usec), 0, "WATCHDOG_USEC='%s'", bad[i]);
	}
	cr_assert_eq(usec, 7);
}

Test(notify, watchdog_for_another_pid_is_disabled)
{
	char pid[32];
	uint64_t usec = 7;

	setenv("WATCHDOG_USEC", "1000000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(notify_watchdog_usec(&usec), 0);
	setenv("WATCHDOG_PID", "not-a-pid", 1);
	cr_assert_eq(notify_watchdog_usec(&usec), 0);
	cr_assert_eq(usec, 7);
}
