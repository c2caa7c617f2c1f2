/* core/filters.h: tenant isolation on query strings. Forces the owner label
 * into a list/events/prune request's `filters` parameter and stamps it into
 * /build's `labels` parameter, reading the query the way dockerd does (Go's
 * url.ParseQuery, moby api/types/filters.FromJSON) and writing it back with
 * only that parameter changed. Pure: no I/O; jansson allocates internally,
 * the rewritten query goes into the caller's buffer.
 * It does not decide which endpoints need it: that is the caller's table.
 */
#ifndef DMX_CORE_FILTERS_H
#define DMX_CORE_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#define FILTERS_MSG_MAX 160   /* a msg buffer no message is cut in */

/* Output bytes that always suffice for a rewrite of a query of qlen bytes
 * with a label name/value of nlen/vlen bytes (NUL included): the JSON is at
 * most 3x its decoded text (a legacy ["a"] becomes {"a":true}), percent-
 * encoding at most 3x that, and the rest of the query is copied. */
#define FILTERS_OUT_MAX(qlen, nlen, vlen) ((qlen) * 10 + ((nlen) + (vlen)) * 3 + 128)

/* Expected outcome: the query is refused, answer 400 with msg (dockerd
 * answers 400 to the same query, or it is ambiguous and we refuse it). */
enum { FILTERS_BAD = 1 };

/* Rewrite query (the bytes after '?', without '#'; qlen may be 0) so that its
 * `filters` parameter holds the client's filters plus label=<name>=<value>:
 * every client "label" entry on that label name ("name", "name=x", with any
 * value) is dropped and ours added. dockerd ANDs label entries
 * (filters.Args.MatchKVList), so the result lists only the owner's objects
 * whatever else the client asked for. The client's other filters are kept;
 * the legacy list form {"label":["k=v"]} (API < 1.22) is rewritten in the map
 * form {"label":{"k=v":true}}, which dockerd reads first. Other parameters are
 * copied byte for byte, in order; empty segments ("a=1&&b") are dropped; a
 * query without `filters` gets one appended.
 * Refused (FILTERS_BAD, msg "dockmux isolation: ..."): a ';' anywhere (Go
 * 1.17+ rejects it, older Go split on it), a raw control byte or blank (Go's
 * URL parser rejects those), a bad percent escape in any
 * parameter (Go's ParseForm fails, dockerd answers 400), `filters` given
 * twice, filters that FromJSON rejects (not an object, values neither maps of
 * booleans nor lists of strings, the two forms mixed) or that repeat a key.
 * Returns 0 with out NUL-terminated and *out_len = strlen(out), FILTERS_BAD,
 * -ENOSPC (cap too small: FILTERS_OUT_MAX always suffices), -EINVAL (bad
 * arguments) or -ENOMEM. *out_len is written only on success. */
int filters_force_label(const char *query, size_t qlen, const char *name, const char *value,
			char *out, size_t cap, size_t *out_len, char *msg, size_t msgcap);

/* The same for POST /build's `labels` parameter (a JSON object of strings,
 * moby api/server/router/build/build_routes.go): <name> is set to <value>,
 * replacing the client's, other labels kept; added when absent or empty.
 * Refused: as above, and `labels` that is not an object of strings. */
int filters_stamp_labels(const char *query, size_t qlen, const char *name, const char *value,
			 char *out, size_t cap, size_t *out_len, char *msg, size_t msgcap);

/* Walk a query's parameters as Go's url.ParseQuery reads them: split on '&',
 * empty segments skipped, key and value split at the first '=', both
 * percent-decoded with '+' as a space. fn gets each decoded key and value
 * (not NUL-terminated, may contain any byte but are only valid during the
 * call) and returns 0 to go on, or a value that stops the walk and is
 * returned. A ';', a raw control byte or blank, or a bad escape anywhere
 * refuses the whole query before fn
 * is called at all (FILTERS_BAD with msg). Returns 0, fn's value, FILTERS_BAD,
 * -EINVAL or -ENOMEM. */
typedef int (*filters_param_fn)(void *arg, const char *key, size_t klen, const char *val,
				size_t vlen);
int filters_query_each(const char *query, size_t qlen, filters_param_fn fn, void *arg, char *msg,
		       size_t msgcap);

/* True when a request body with this Content-Type value would be parsed by Go's
 * Request.ParseForm (application/x-www-form-urlencoded) or FormValue
 * (multipart/form-data). Their values come *before* the query's in r.Form, so
 * `filters`/`labels`/`networkmode` sent in such a body would override the
 * rewritten query: the caller must refuse a POST/PUT/PATCH with such a body on
 * any endpoint whose query it judges. Conservative: matches anywhere in the
 * value, ASCII case-insensitively and with the two non-ASCII runes Go's
 * strings.ToLower maps into those words (U+0130 -> 'i', U+212A -> 'k'). */
bool filters_form_content_type(const char *ct, size_t len);

#endif
