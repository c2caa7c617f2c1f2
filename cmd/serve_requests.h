/* cmd/serve_requests.h: what a control request does (serve_requests.c),
 * for the control thread's loop (serve_control.c), which alone calls it.
 */
#ifndef DMX_CMD_SERVE_REQUESTS_H
#define DMX_CMD_SERVE_REQUESTS_H

#include <stdint.h>

#include "control.h"
#include "ctl_conn.h"
#include "daemon.h"

/* Buffers for a LIST_PAGE answer: one page, the most a listing ever holds. */
struct request_scratch {
	struct dmx_entry *page;   /* CTL_PAGE_MAX entries */
	uint8_t *buf;             /* its encoding */
	size_t cap;
};

int request_scratch_init(struct request_scratch *sc);
void request_scratch_deinit(struct request_scratch *sc);

/* Apply req (SPAWN, TEARDOWN, LIST_PAGE or STATS; HANDOFF is the loop's) and
 * queue its reply on c. Returns 1 when it changed the state: its reply is
 * held, and goes (or fails) with the round's commit; 0 when it is answered
 * already. The token in req is wiped. */
int request_apply(struct daemon *dm, struct ctl_conn *c, struct ctl_request *req,
		  struct request_scratch *sc, int64_t now);

#endif
