/* csv.c — data sets from CSV text: one example a row, the label first.
 *
 * Rules (docs/data.md): fields are separated by ','; spaces around a field
 * and one pair of enclosing double quotes are ignored; blank lines and
 * lines starting with '#' are skipped. The first remaining line is a
 * header, and skipped, if one of its fields is neither empty nor a number.
 * Every row must have the same number of columns (at least 2). The first
 * column holds labels, read by the same rule as a labels file
 * (minima_data_set_labels): a column written as integers counts as an
 * integer type. Empty fields, text, NaN and Inf are errors naming the line
 * and column.
 *
 * Memory follows what was read: the text grows as the file is read, the
 * features grow as rows arrive, both bounded by the data-size limit. */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/data_impl.h"
#include "minima/alloc.h"

/* The whole file, NUL-terminated, if it fits in `limit` bytes. */
static minima_status slurp(const char *path, uint64_t limit, char **text, size_t *len)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) MINIMA_FAIL(MINIMA_EIO, "cannot open CSV file '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = minima_alloc(cap, 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n > limit) {
            minima_free(buf);
            fclose(f);
            char what[600];
            snprintf(what, sizeof what, "CSV file '%s': its text (%zu bytes read so far)",
                     path, n);
            return minima_data_limit_error(what, (uint64_t)n, limit);
        }
        if (ferror(f)) {
            minima_free(buf);
            fclose(f);
            MINIMA_FAIL(MINIMA_EIO, "CSV file '%s': read error after %zu bytes: %s", path, n,
                        strerror(errno));
        }
        if (n < cap - 1) break;
        /* double, but to no more than the limit + 1 byte of text: reading
         * one byte past the limit is how a longer file is recognised */
        size_t ncap = cap * 2;
        if (limit < UINT64_MAX - 2 && (uint64_t)ncap > limit + 2) ncap = (size_t)(limit + 2);
        char *nb = minima_realloc(buf, ncap, 1);
        if (!nb) {
            minima_free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap = ncap;
    }
    fclose(f);
    if (!buf) MINIMA_FAIL(MINIMA_ENOMEM, "CSV file '%s': out of memory reading it", path);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return MINIMA_OK;
}

typedef struct {
    const char *start;   /* trimmed field, not NUL-terminated */
    size_t len;
} field;

/* Splits [line, end) at commas into fields (trimmed, quotes removed);
 * returns the number of fields, which may exceed max (only max kept). */
static size_t split(const char *line, const char *end, field *fs, size_t max)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',') q++;
        const char *a = p, *b = q;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') a++, b--;
        if (n < max) fs[n].start = a, fs[n].len = (size_t)(b - a);
        n++;
        if (q >= end) break;
        p = q + 1;
    }
    return n;
}

/* 0: a finite number; 1: empty; 2: not a number; 3: NaN or Inf. */
static int parse_number(const field *f, double *v)
{
    char tmp[256];
    if (f->len == 0) return 1;
    if (f->len >= sizeof tmp) return 2;
    memcpy(tmp, f->start, f->len);
    tmp[f->len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(tmp, &end);
    if (end == tmp || *end) return 2;
    if (!isfinite(*v)) return 3;
    return 0;
}

static int is_integer_text(const field *f)
{
    size_t i = 0;
    if (i < f->len && (f->start[i] == '-' || f->start[i] == '+')) i++;
    if (i == f->len) return 0;
    for (; i < f->len; i++)
        if (f->start[i] < '0' || f->start[i] > '9') return 0;
    return 1;
}

static const char *shown(const field *f, char *buf, size_t size)
{
    size_t n = f->len < size - 1 ? f->len : size - 1;
    memcpy(buf, f->start, n);
    buf[n] = '\0';
    return buf;
}

minima_status minima_data_load_csv(const char *path, const minima_data_options *o,
                                   minima_dataset **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    size_t subset = o->subset;
    uint64_t limit = minima_data_limit(o->max_bytes);
    MINIMA_TRY(slurp(path, limit, &text, &len));
    minima_status s = MINIMA_OK;
    field *fs = NULL;
    double *x = NULL, *y = NULL;   /* x: (keep, cols-1); y: (rows) */
    size_t *lines = NULL;          /* (rows): the line of each row, for messages */
    size_t x_cap = 0, y_cap = 0, rows = 0, cols = 0, max_fields = 0;
    size_t first_line = 0, header_line = 0, header_cols = 0;
    int all_integer = 1, seen_first = 0;
    size_t line_no = 0, nf = 0;
    char sbuf[40];
    const char *p = text, *end_text = text + len;
    while (p < end_text) {
        const char *eol = memchr(p, '\n', (size_t)(end_text - p));
        if (!eol) eol = end_text;
        const char *line = p, *end = eol;
        p = eol + 1;
        line_no++;
        if (end > line && end[-1] == '\r') end--;
        const char *t = line;
        while (t < end && (*t == ' ' || *t == '\t')) t++;
        if (t == end || *t == '#') continue;
        nf = split(line, end, fs, max_fields);
        if (nf > max_fields) {
            if (seen_first && cols && nf != cols) goto ragged;
            if ((uint64_t)nf > limit / sizeof *fs) {
                char what[600];
                snprintf(what, sizeof what, "CSV file '%s': line %zu, with %zu fields,", path,
                         line_no, nf);
                s = minima_data_limit_error(what, (uint64_t)nf * sizeof *fs, limit);
                goto fail;
            }
            minima_free(fs);
            if (!(fs = minima_alloc(nf, sizeof *fs))) goto nomem;
            max_fields = nf;
            split(line, end, fs, max_fields);
        }
        if (!seen_first) {
            seen_first = 1;
            int header = 0;
            double v;
            for (size_t j = 0; j < nf; j++)
                if (parse_number(&fs[j], &v) == 2) header = 1;
            if (header) {
                header_line = line_no;
                header_cols = nf;
                continue;
            }
        }
        if (!cols) {
            cols = nf;
            first_line = line_no;
            if (cols < 2) {
                s = minima_error(MINIMA_EFORMAT, "CSV file '%s', line %zu: 1 column: expected a "
                                 "label then at least one feature, separated by ','", path,
                                 line_no);
                goto fail;
            }
            if (header_line && header_cols != cols) {
                s = minima_error(MINIMA_EFORMAT, "CSV file '%s': the header on line %zu has %zu "
                                 "columns but line %zu has %zu", path, header_line, header_cols,
                                 line_no, cols);
                goto fail;
            }
            if (cols - 1 > MINIMA_DATA_MAX_FEATURES) {
                s = minima_error(MINIMA_EFORMAT, "CSV file '%s', line %zu: %zu columns: expected "
                                 "at most %d", path, line_no, cols, MINIMA_DATA_MAX_FEATURES + 1);
                goto fail;
            }
        }
        if (nf != cols) goto ragged;
        for (size_t j = 0; j < nf; j++) {
            double v;
            int r = parse_number(&fs[j], &v);
            if (r == 1) {
                s = minima_error(MINIMA_EFORMAT, "CSV file '%s', line %zu, column %zu: empty "
                                 "field: expected a number", path, line_no, j + 1);
                goto fail;
            }
            if (r == 2) {
                s = minima_error(MINIMA_EFORMAT, "CSV file '%s', line %zu, column %zu: expected "
                                 "a number, found '%s'", path, line_no, j + 1,
                                 shown(&fs[j], sbuf, sizeof sbuf));
                goto fail;
            }
            if (r == 3) {
                s = minima_error(MINIMA_ENONFINITE, "CSV file '%s', line %zu, column %zu: '%s' "
                                 "is not a finite number", path, line_no, j + 1,
                                 shown(&fs[j], sbuf, sizeof sbuf));
                goto fail;
            }
            if (j == 0) {
                if (rows == y_cap) {
                    size_t nc = y_cap ? 2 * y_cap : 1024;
                    double *ny = minima_realloc(y, nc, sizeof *y);
                    if (!ny) goto nomem;
                    y = ny;
                    size_t *nl = minima_realloc(lines, nc, sizeof *lines);
                    if (!nl) goto nomem;
                    lines = nl;
                    y_cap = nc;
                }
                y[rows] = v;
                lines[rows] = line_no;
                if (!is_integer_text(&fs[0])) all_integer = 0;
            } else if (!subset || rows < subset) {
                size_t at = rows * (cols - 1) + (j - 1);
                if (at >= x_cap) {
                    /* Grow with the data: double, starting from one row
                     * or 4096 values, never beyond the limit. */
                    size_t nc = x_cap ? 2 * x_cap : (cols - 1 > 4096 ? cols - 1 : 4096);
                    if ((uint64_t)(at + 1) > limit / sizeof *x) {
                        char what[600];
                        snprintf(what, sizeof what, "CSV file '%s': the features up to line "
                                 "%zu (%zu rows of %zu values as float64)", path, line_no,
                                 rows + 1, cols - 1);
                        s = minima_data_limit_error(what, (uint64_t)(rows + 1) * (cols - 1) *
                                                    sizeof *x, limit);
                        goto fail;
                    }
                    if ((uint64_t)nc > limit / sizeof *x) nc = (size_t)(limit / sizeof *x);
                    double *nx = minima_realloc(x, nc, sizeof *x);
                    if (!nx) goto nomem;
                    x = nx;
                    x_cap = nc;
                }
                x[at] = v;
            }
        }
        rows++;
        if (rows % 4096 == 0 && minima_interrupted()) {
            s = minima_error(MINIMA_EINTERRUPTED, "reading CSV file '%s' interrupted", path);
            goto fail;
        }
    }
    if (rows == 0) {
        s = minima_error(MINIMA_EFORMAT, "CSV file '%s' holds no data rows%s", path,
                         header_line ? " (only a header)" : "");
        goto fail;
    }
    size_t keep = subset && subset < rows ? subset : rows;
    minima_dataset *data = NULL;
    s = minima_dataset_adopt(&data, keep, (int)(cols - 1), x, 0, 0);
    x = NULL;
    if (s) goto fail;
    char file[600], shp[64];
    snprintf(file, sizeof file, "CSV file '%s'", path);
    snprintf(shp, sizeof shp, "(%zu,)", rows);
    minima_label_source src = {file, shp, lines, all_integer, 1};
    if ((s = minima_data_set_labels(data, &src, y, rows, 1, o, 0)) ||
        (s = minima_dataset_set_name(data, path))) {
        minima_dataset_free(data);
        goto fail;
    }
    minima_free(text);
    minima_free(fs);
    minima_free(y);
    minima_free(lines);
    *out = data;
    return MINIMA_OK;

ragged:
    s = minima_error(MINIMA_EFORMAT, "CSV file '%s', line %zu: %zu columns: expected %zu, as on "
                     "line %zu", path, line_no, nf, cols, first_line);
    goto fail;
nomem:
    s = minima_error(MINIMA_ENOMEM, "CSV file '%s': out of memory at line %zu", path, line_no);
fail:
    minima_free(text);
    minima_free(fs);
    minima_free(x);
    minima_free(y);
    minima_free(lines);
    return s;
}
