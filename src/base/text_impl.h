/* base/text_impl.h — a growing text buffer for writers of JSON and reports
 * below the report layer (the model's info, the symmetry group's).
 *
 *     minima_text t = {0};
 *     minima_text_put(&t, "{\"n\": %d, \"name\": ", n);
 *     minima_text_json_string(&t, name);
 *     if (t.failed) ...out of memory...; else use t.s (minima_free it)
 *
 * An allocation failure sets `failed` and makes every later call a no-op,
 * so writers check once at the end. */
#ifndef MINIMA_BASE_TEXT_IMPL_H
#define MINIMA_BASE_TEXT_IMPL_H

#include <stddef.h>

typedef struct {
    char *s;                   /* NUL-terminated once anything is written; minima_alloc'd */
    size_t len, cap;
    int failed;                /* an allocation failed: the text is incomplete */
} minima_text;

/* Append printf-formatted text. */
void minima_text_put(minima_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (NULL: "") as a JSON string, quoted and escaped as the command
 * line's JSON writer escapes it. */
void minima_text_json_string(minima_text *t, const char *s);

#endif
