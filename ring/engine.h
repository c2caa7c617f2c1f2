/* ring/engine.h: the engine object shared by engine.c (the API side: start,
 * stop, send a command and wait for its answer) and ring.c (each ring's
 * thread). Internal to ring/.
 */
#ifndef DMX_RING_ENGINE_H
#define DMX_RING_ENGINE_H

#include "ring.h"

struct engine {
	struct engine_cfg cfg;
	unsigned nrings;
	struct ring *rings;
	/* API side: callers share one submit ring; whoever holds `reaping` reads
	 * its CQ and wakes the others. Not on the data path. */
	struct io_uring api;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool reaping;
	/* start-up handshake */
	unsigned started;
};

/* A ring's thread (ring.c): sets up its io_uring, reports start_err through
 * the start-up handshake, then loops until RING_CMD_STOP. */
void *ring_main(void *arg);

#endif
