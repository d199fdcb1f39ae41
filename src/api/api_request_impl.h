/* api_request_impl.h — the "key=value,key=value" requests of the
 * plain-types API (api.h), parsed against a table of keys: each key's kind,
 * where its value goes and, for numbers, its range. Internal to the library.
 *
 * A request is entries separated by ',' (spaces around keys and values are
 * ignored); a list value separates its numbers by ';'. Refused, with
 * MINIMA_EINVAL naming the function, the key, what was expected and what
 * was found: an empty entry, an entry without '=', an unknown key (the
 * known ones are listed), a key given twice, and a value of the wrong kind
 * or out of its range. */
#ifndef MINIMA_API_REQUEST_IMPL_H
#define MINIMA_API_REQUEST_IMPL_H

#include <stddef.h>

#include "minima/status.h"

typedef enum { RK_INT, RK_SIZE, RK_DOUBLE, RK_U64, RK_BOOL, RK_STRING, RK_LIST } req_kind;

typedef struct {
    const char *key;
    req_kind kind;
    void *value;          /* int*, size_t*, double*, uint64_t*, int* (0/1), const char**, req_list* */
    double lo, hi;        /* numeric range */
    int lo_open, hi_open; /* the bound itself is excluded */
} req_key;

/* A list value: n finite numbers (minima_free v after use). */
typedef struct {
    double *v;
    int n;
} req_list;

#define NUM(name, kind, ptr, lo, hi) {name, kind, ptr, lo, hi, 0, 0}
#define OPEN(name, ptr, lo, hi) {name, RK_DOUBLE, ptr, lo, hi, 1, 1}
#define OTHER(name, kind, ptr) {name, kind, ptr, 0, 0, 0, 0}

/* Parses `request` (NULL or "": nothing) against `keys` (ended by a NULL
 * key), setting the values of the keys it gives. String values point into
 * *buf, a copy of the request: minima_free it after use, also on failure. */
minima_status minima_api_request_parse(const char *fn, const char *request, const req_key *keys, char **buf);

/* s without the spaces at its ends (in place). */
char *minima_api_request_trim(char *s);

#endif
