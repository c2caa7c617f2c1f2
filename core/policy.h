/* core/policy.h: per-container request policy (read-only, an allowlist of
 * Docker Engine API areas, a denylist of "METHOD /path" rules), decided on the
 * normalised request path. Pure: no I/O, no logging; only policy_new allocates.
 * It judges the request head only: bodies (e.g. "Privileged": true) are the
 * upstream's business, the token's scope is the real boundary.
 */
#ifndef DMX_CORE_POLICY_H
#define DMX_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* The limits bound the work per request: policy_check costs at most one
 * automaton step per path segment per deny rule of the request's method,
 * POLICY_MAX_PATH_SEGS * POLICY_MAX_RULES (16,384) whatever the patterns. */
#define POLICY_MAX_RULES 64       /* deny rules per policy (one bit each in a word) */
#define POLICY_MAX_RULE_SEGS 32   /* path segments per rule pattern */
#define POLICY_MAX_RULE_LEN 512   /* bytes per rule, surrounding blanks trimmed */
#define POLICY_MAX_PATH 8192      /* normalised path bytes policy_check handles (NUL included);
                                   * HTTP_DEFAULT_MAX_LINE bounds a target the same way */
#define POLICY_MAX_PATH_SEGS 256  /* normalised path segments policy_check handles: an
                                   * image reference is at most 255 bytes, so no Docker
                                   * API path needs more than ~130 */
#define POLICY_WHY_MAX (POLICY_MAX_RULE_LEN + 64)   /* a why buffer no message is cut in */

struct policy;   /* compiled, immutable after policy_new, heap-allocated */

// read_only: only GET/HEAD pass. allow: NULL or "" = every area, else a comma
// list of area names (blanks around a name ignored; unknown or empty name ->
// error). deny: NULL or "" = none, else a ';'-separated list of at most
// POLICY_MAX_RULES rules "METHOD /path/pattern" (empty entries skipped) where
// METHOD is GET, HEAD, POST, PUT, DELETE or OPTIONS (exact case: the methods
// the parser lets through, http_method_known; HEAD is read as GET) or '*'; a
// rule without a method ("/containers/*/export") means any method. The
// pattern is matched against the normalised path segment by segment: a
// literal segment matches itself only, '*' exactly one segment, '**' zero or
// more. '**' may stand anywhere, not only last: dockerd routes
// "/containers/{name:.*}/exec", so a name can span segments (legacy link
// aliases "web/db", image refs "docker.io/library/x") and only
// "POST /containers/**/exec" denies exec for every name. Each pattern is
// compiled into an automaton (no backtracking; a run of '**' is one). A
// pattern must itself be normal: no "//", ".", "..", trailing '/', '%', '?',
// '#', '"', '\', blanks or non-ASCII, '*' only as a whole segment, no version
// prefix. (Line comments here: the patterns contain the block-comment delimiters.)
// On error returns -EINVAL (malformed), -E2BIG (over a limit: more than
// POLICY_MAX_RULES rules, a rule over POLICY_MAX_RULE_LEN bytes or
// POLICY_MAX_RULE_SEGS segments) or -ENOMEM, and sets *why (if why) to a static
// message naming the problem; *out is written only on success. An empty policy
// is not NULL: it still answers BAD_PATH for a path that does not normalise.
int policy_new(bool read_only, const char *allow, const char *deny, struct policy **out,
	       const char **why);
void policy_free(struct policy *p);   /* NULL ok */

enum policy_verdict { POLICY_ALLOW = 0, POLICY_DENY = 1, POLICY_BAD_PATH = 2 };

/* Decide for one request. method/target are spans of the request line (not
 * NUL-terminated). p == NULL: ALLOW without looking at the path (no policy =
 * transparent proxy). Otherwise, in this order:
 *   BAD_PATH  the target does not normalise (policy_normalize), is longer than
 *             POLICY_MAX_PATH or has more than POLICY_MAX_PATH_SEGS segments
 *             once normalised, or its first segment still looks like an API
 *             version after the one canonical "/v<digits>.<digits>" was stripped
 *             ("/v1", "/V1.41", "/v1.41.0", a second "/v1.41"): dockerd routes
 *             "/v{version:[0-9.]+}/..." and accepts e.g. "v1.41.0", so such a
 *             path could reach a route our rules never saw;
 *   DENY      read-only and the method is neither GET nor HEAD; an allowlist
 *             and the area (policy_area) is not in it or there is none; a deny
 *             rule matches (first one wins).
 * On DENY and BAD_PATH writes into why (if why and cap) a NUL-terminated
 * message, truncated to cap, e.g. "dockmux policy: read-only (POST not allowed)",
 * "dockmux policy: area \"exec\" not in the allowlist",
 * "dockmux policy: denied by rule \"<the rule, one space after its method>\"",
 * "dockmux policy: path does not normalise", "dockmux policy: path has more
 * than 256 segments". The message is printable ASCII
 * without '"' or '\\' other than the quotes shown (bytes of the method outside
 * RFC 9110 tchar are shown as '?'), so it is safe in a log line and a JSON string. */
enum policy_verdict policy_check(const struct policy *p, const char *method, size_t mlen,
				 const char *target, size_t tlen, char *why, size_t cap);

/* policy_check, also setting *steps (if steps) to the deny rules' automaton
 * steps: one per path segment a rule of the request's method reads (it stops
 * when it can no longer match; rules after the first match are not run), so
 * never more than POLICY_MAX_PATH_SEGS * POLICY_MAX_RULES. For tests and
 * benchmarks: it shows the cost does not grow with the patterns. */
enum policy_verdict policy_check_counted(const struct policy *p, const char *method, size_t mlen,
					 const char *target, size_t tlen, char *why, size_t cap,
					 unsigned long *steps);

/* Normalise a request-target into out (NUL-terminated): origin-form only
 * ("/..."; absolute-form, authority-form and "*" rejected), the query cut at
 * the first '?'. A raw '#' before it is rejected, not cut: a fragment is not
 * part of a request-target (RFC 9112 §3.2) and Go's server keeps it in the
 * path, so cutting it would judge a shorter path than dockerd routes. Then
 * percent-decode (reject %00, %2F/%2f: an encoded '/' would change segment
 * boundaries, bad or truncated hex, and any raw or decoded control byte),
 * collapse "//", drop "." segments, resolve ".." (reject going above the root),
 * and last strip a leading "/v<digits>.<digits>" segment (only the first
 * segment, only that exact shape, lowercase v: "/v1.41/containers" ->
 * "/containers", "/v1/containers" stays as is). No trailing slash except "/".
 * Decoding comes before dot handling ("%2e%2e" is ".."), ".." resolution before
 * the version strip ("/v1.41/../containers" -> "/containers"). Returns 0,
 * -EINVAL (does not normalise) or -ENOSPC (out too small; cap > tlen always
 * suffices: the output is never longer than the target). */
int policy_normalize(const char *target, size_t tlen, char *out, size_t cap);

/* The API area of a normalised path, from its first segment: "ping" (/_ping),
 * "version", "info", "events", "system" (/system/..., /auth), "containers"
 * (/containers/... except exec creation), "exec" (/exec/..., and POST
 * /containers/{name}/exec, {name} of any number of segments), "images"
 * (/images/..., /commit), "build" (/build/..., /session, /grpc: BuildKit),
 * "networks", "volumes", "plugins", "swarm", "nodes", "services", "tasks",
 * "secrets", "configs", "distribution"; NULL if none. Static strings. */
const char *policy_area(const char *method, size_t mlen, const char *path);

/* Human description for `dockmux ls` / stats: "none" for NULL or an empty
 * policy, else parts joined by ',': "read-only", "allow=containers+images"
 * (areas in canonical order), "deny=1 rule" / "deny=2 rules". 0, or -ENOSPC
 * with buf holding a truncated NUL-terminated string when cap > 0. */
int policy_describe(const struct policy *p, char *buf, size_t cap);

#endif
