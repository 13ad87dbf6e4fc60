/* JSON helpers shared by the strict parsers (manifest.json, job files) and
 * the writers of JSON lines (the event log). Parsing itself is cJSON's. */
#ifndef XS_JSON_H
#define XS_JSON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "io/xs_result.h"

struct cJSON;

/* Parses JSON text strictly: the text is one value with nothing but
 * whitespace after it, holds no NUL byte and no \u0000 escape (a name must
 * not be cut short), and no object at any depth has two members of one name.
 * label names the text in messages. *out is freed with cJSON_Delete. */
xs_result xs_json_parse_strict(const char *label, const char *text, size_t len, struct cJSON **out,
                               xs_err *err);

/* The first member of a JSON object whose name is not in keys (a
 * NULL-terminated list), or NULL: strict parsers refuse typos with it. */
const char *xs_json_unknown_key(const struct cJSON *obj, const char *const *keys);

/* Writes text as the body of a JSON string into out (n bytes, always
 * terminated): quotes, backslashes and control characters escaped; text
 * that does not fit is cut at a character boundary of the escaped form. */
void xs_json_escape(const char *text, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
