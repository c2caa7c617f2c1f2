/* cmd/notify.h: the sd_notify(3) protocol without libsystemd, for a
 * Type=notify unit: one datagram of "KEY=VALUE\n..." lines to the socket
 * named by $NOTIFY_SOCKET, and the watchdog interval systemd asks for.
 * Outside systemd (no NOTIFY_SOCKET) both are quiet no-ops.
 */
#ifndef DMX_CMD_NOTIFY_H
#define DMX_CMD_NOTIFY_H

#include <stdint.h>

/* Send state (e.g. "READY=1\nSTATUS=serving", "STOPPING=1", "WATCHDOG=1",
 * "RELOADING=1") as one datagram to $NOTIFY_SOCKET: a path, or an abstract
 * name when it starts with '@'. 0 when sent or when NOTIFY_SOCKET is unset or
 * empty (nothing to do); -EAFNOSUPPORT for any other address form (vsock:),
 * -ENAMETOOLONG when it does not fit sun_path, else the socket's -errno. */
int notify_send(const char *state);

/* The watchdog interval systemd expects "WATCHDOG=1" within: 1 and *usec set
 * when $WATCHDOG_USEC is a positive number and $WATCHDOG_PID, if set, is this
 * process; 0 otherwise (unset, malformed, or meant for another process). */
int notify_watchdog_usec(uint64_t *usec);

#endif
