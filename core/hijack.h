/* core/hijack.h: which requests may turn their connection into a raw stream.
 * dockerd and podman hijack after POST /containers/{id}/attach and POST
 * /exec/{id}/start whether or not the client asked to upgrade: without an
 * Upgrade header they answer "200 OK" with a docker stream media type and no
 * length, then the bytes are stdin and stdout. dockerd also answers 101 to an
 * Upgrade header alone, without "Connection: upgrade" (attach, exec start,
 * BuildKit's /session and /grpc). The engine holds what a client sends after
 * such a request, unparsed, until the daemon's response head says which it
 * was (core/resp.c). Pure: no I/O, no allocation.
 */
#ifndef DMX_CORE_HIJACK_H
#define DMX_CORE_HIJACK_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* True when the daemon may hijack the connection after this parsed request:
 * h->upgrade, any Upgrade header (even empty: dockerd only asks whether one
 * is present), or hijack_path_may() of its method and target. */
bool hijack_request_may(const char *buf, const struct http_head *h);

/* Method POST (any case) and a target whose normalised path
 * (policy_normalize) is, after at most one more version-like first segment
 * ("v" or "V" and digits and dots: "/v1.41.0", podman's "/v4.0.0") and an
 * optional "libpod" segment, "/containers/.../attach" or "/exec/.../start"
 * with any number of segments in between (dockerd routes
 * "/containers/{name:.*}/attach"); segments compare without case. A target
 * that does not normalise may still reach a route (Go decodes "%2F",
 * takes the absolute form): a POST with one is assumed to hijack too.
 * Wrongly saying yes only costs pipelining until the response head;
 * wrongly saying no lets stdin be parsed as requests. */
bool hijack_path_may(const char *method, size_t mlen, const char *target, size_t tlen);

#endif
