/* landscape.c — 1-D and 2-D slices of the loss through a point, each grid
 * point evaluated exactly over the whole data set, and their CSV files.
 * Contract: minima/landscape.h; the mathematics: docs/landscape.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "minima/alloc.h"
#include "minima/tempfile.h"
#include "minima/landscape.h"
#include "minima/symmetry.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

minima_status minima_landscape_grid(double lo, double hi, size_t n, double *x)
{
    if (!x) MINIMA_FAIL(MINIMA_EINVAL, "landscape grid: NULL array");
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        MINIMA_FAIL(MINIMA_EINVAL, "landscape grid: range [%g, %g], expected finite lo < hi", lo, hi);
    if (n < 2) MINIMA_FAIL(MINIMA_EINVAL, "landscape grid: %zu points, expected at least 2", n);
    if (n > 1000000) MINIMA_FAIL(MINIMA_EINVAL, "landscape grid: %zu points, expected at most 10^6", n);
    double m = (double)(n - 1);
    for (size_t i = 0; i < n; i++) x[i] = ((double)(n - 1 - i) * lo + (double)i * hi) / m;
    return MINIMA_OK;
}

void minima_landscape_free(minima_landscape *ls)
{
    if (!ls) return;
    minima_free(ls->x);
    minima_free(ls->y);
    minima_free(ls->loss);
    minima_free(ls->accuracy);
    memset(ls, 0, sizeof *ls);
}

/* Allocates the arrays of a dims-D slice of nx * ny points; values NaN. */
static minima_status alloc_slice(minima_landscape *ls, int dims, size_t nx, size_t ny)
{
    memset(ls, 0, sizeof *ls);
    ls->dims = dims;
    ls->nx = nx;
    ls->ny = ny;
    ls->x = minima_alloc(nx, sizeof *ls->x);
    ls->y = dims == 2 ? minima_alloc(ny, sizeof *ls->y) : NULL;
    if (nx != 0 && ny > SIZE_MAX / nx) {
        minima_landscape_free(ls);
        MINIMA_FAIL(MINIMA_ENOMEM, "landscape: a %zu x %zu grid is too large", nx, ny);
    }
    ls->loss = minima_alloc(nx * ny, sizeof *ls->loss);
    ls->accuracy = minima_alloc(nx * ny, sizeof *ls->accuracy);
    if (!ls->x || (dims == 2 && !ls->y) || !ls->loss || !ls->accuracy) {
        minima_landscape_free(ls);
        MINIMA_FAIL(MINIMA_ENOMEM, "landscape: out of memory for a %zu x %zu grid", nx, ny);
    }
    for (size_t i = 0; i < nx * ny; i++) ls->loss[i] = ls->accuracy[i] = NAN;
    ls->loss0 = ls->accuracy0 = NAN;
    return MINIMA_OK;
}

static minima_status check_direction(const double *d, size_t P, const char *name)
{
    if (!d) MINIMA_FAIL(MINIMA_EINVAL, "landscape: %s is NULL", name);
    for (size_t i = 0; i < P; i++)
        if (!isfinite(d[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "landscape: %s has %s at entry %zu, expected finite "
                        "values", name, isnan(d[i]) ? "NaN" : "Inf", i);
    return MINIMA_OK;
}

/* The common body of both slices: d2 NULL for 1-D. */
static minima_status slice(minima_net *net, const double *theta, const double *d1, const double *d2,
                           double xlo, double xhi, size_t nx, double ylo, double yhi, size_t ny,
                           minima_landscape *out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "landscape: NULL result");
    memset(out, 0, sizeof *out);
    if (!net) MINIMA_FAIL(MINIMA_EINVAL, "landscape: NULL net");
    int dims = d2 ? 2 : 1;
    size_t P = minima_net_n_params(net);
    if (!theta) theta = minima_net_point(net);
    MINIMA_TRY(check_direction(theta, P, "the point theta"));
    MINIMA_TRY(check_direction(d1, P, dims == 2 ? "direction 1" : "the direction"));
    if (d2) MINIMA_TRY(check_direction(d2, P, "direction 2"));
    double tmpx[2];
    if (!isfinite(xlo) || !isfinite(xhi) || !(xlo < xhi) || nx < 2)
        return minima_landscape_grid(xlo, xhi, nx, tmpx);
    if (dims == 2 && (!isfinite(ylo) || !isfinite(yhi) || !(ylo < yhi) || ny < 2))
        return minima_landscape_grid(ylo, yhi, ny, tmpx);
    if (nx > 1000000 || ny > 1000000)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape: %zu x %zu grid points, expected at most 10^6 a side",
                    nx, ny);

    /* Every point of the grid must be representable. */
    double ax = fmax(fabs(xlo), fabs(xhi)), ay = dims == 2 ? fmax(fabs(ylo), fabs(yhi)) : 0.0;
    for (size_t p = 0; p < P; p++)
        if (!isfinite(fabs(theta[p]) + ax * fabs(d1[p]) + (d2 ? ay * fabs(d2[p]) : 0.0)))
            MINIMA_FAIL(MINIMA_EINVAL, "landscape: the range [%g, %g]%s is too large for these "
                        "directions: parameter %zu overflows at the edge of the grid", xlo, xhi,
                        dims == 2 ? " x ..." : "", p);
    MINIMA_TRY(alloc_slice(out, dims, nx, ny));
    double *point = minima_alloc(P, sizeof *point);   /* (P) theta + s d1 + t d2 */
    minima_status s = MINIMA_OK;
    double t0 = now_seconds();
    if (!point) {
        s = minima_error(MINIMA_ENOMEM, "landscape: out of memory for a point of %zu parameters", P);
        goto fail;
    }
    if ((s = minima_landscape_grid(xlo, xhi, nx, out->x)) != MINIMA_OK) goto fail;
    if (dims == 2 && (s = minima_landscape_grid(ylo, yhi, ny, out->y)) != MINIMA_OK) goto fail;
    if ((s = minima_net_loss(net, theta, &out->loss0, &out->accuracy0)) != MINIMA_OK) goto fail;

    size_t total = nx * ny;
    minima_progress("landscape", 0, (double)total);
    for (size_t j = 0; j < ny; j++) {
        double t = dims == 2 ? out->y[j] : 0.0;
        for (size_t i = 0; i < nx; i++) {
            if (minima_interrupted()) {
                s = MINIMA_EINTERRUPTED;
                goto fail;
            }
            double sx = out->x[i];
            if (d2)
                for (size_t p = 0; p < P; p++) point[p] = theta[p] + sx * d1[p] + t * d2[p];
            else
                for (size_t p = 0; p < P; p++) point[p] = theta[p] + sx * d1[p];
            size_t at = j * nx + i;
            if ((s = minima_net_loss(net, point, &out->loss[at], &out->accuracy[at])) != MINIMA_OK)
                goto fail;
            out->n_done++;
            minima_progress("landscape", (double)out->n_done, (double)total);
        }
    }
    out->seconds = now_seconds() - t0;
    minima_free(point);
    return MINIMA_OK;
fail:
    minima_free(point);
    if (s == MINIMA_EINTERRUPTED && out->loss) {
        /* The points done so far stay; the rest are NaN. */
        out->seconds = now_seconds() - t0;
        return minima_error(s, "landscape interrupted after %zu of %zu grid points", out->n_done,
                            nx * ny);
    }
    minima_landscape_free(out);
    return s;
}

minima_status minima_landscape_1d(minima_net *net, const double *theta, const double *d, double lo,
                                  double hi, size_t n, minima_landscape *out)
{
    if (!d) MINIMA_FAIL(MINIMA_EINVAL, "landscape: the direction is NULL");
    return slice(net, theta, d, NULL, lo, hi, n, 0, 0, 1, out);
}

minima_status minima_landscape_2d(minima_net *net, const double *theta, const double *d1,
                                  const double *d2, double xlo, double xhi, size_t nx, double ylo,
                                  double yhi, size_t ny, minima_landscape *out)
{
    if (!d1 || !d2) MINIMA_FAIL(MINIMA_EINVAL, "landscape: a direction is NULL");
    return slice(net, theta, d1, d2, xlo, xhi, nx, ylo, yhi, ny, out);
}

/* Both slices, through the anchor and through theta_r (checked finite). */
static minima_status rescaled_slices(minima_net *net, const double *theta_r,
                                     const minima_dir_params *p, double lo, double hi, size_t n,
                                     minima_landscape *before, minima_landscape *after,
                                     double *eig_before, double *eig_after)
{
    const minima_model *m = minima_net_model(net);
    size_t P = m->n_params;
    double *theta = minima_alloc(P, sizeof *theta);                    /* (P) the anchor */
    double *d = minima_alloc((size_t)p->dims * P, sizeof *d);          /* (dims, P) */
    minima_status s = MINIMA_OK;
    if (!theta || !d) {
        s = minima_error(MINIMA_ENOMEM, "landscape rescaled: out of memory for %zu parameters", P);
        goto fail;
    }
    memcpy(theta, minima_net_point(net), P * sizeof *theta);
    for (int side = 0; side < 2; side++) {
        const double *pt = side == 0 ? theta : theta_r;
        minima_landscape *out = side == 0 ? before : after;
        if ((s = minima_dir_make(net, pt, p, d, side == 0 ? eig_before : eig_after)) != MINIMA_OK)
            goto fail;
        s = p->dims == 1 ? minima_landscape_1d(net, pt, d, lo, hi, n, out)
                         : minima_landscape_2d(net, pt, d, d + P, lo, hi, n, lo, hi, n, out);
        if (s != MINIMA_OK) goto fail;
    }
    minima_free(theta);
    minima_free(d);
    return MINIMA_OK;
fail:
    minima_free(theta);
    minima_free(d);
    if (s != MINIMA_EINTERRUPTED) {
        minima_landscape_free(before);
        minima_landscape_free(after);
    }
    return s;
}

minima_status minima_landscape_rescaled_point(minima_net *net, const double *theta_r,
                                              const minima_dir_params *params, double lo, double hi,
                                              size_t n, minima_landscape *before,
                                              minima_landscape *after, double *eig_before,
                                              double *eig_after)
{
    if (!before || !after) MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: NULL result");
    memset(before, 0, sizeof *before);
    memset(after, 0, sizeof *after);
    if (!net || !theta_r) MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: NULL argument");
    minima_dir_params p = params ? *params : minima_dir_default_params();
    if (p.dims != 1 && p.dims != 2)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: %d directions, expected 1 or 2", p.dims);
    size_t P = minima_net_model(net)->n_params;
    for (size_t i = 0; i < P; i++)
        if (!isfinite(theta_r[i]))
            MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: parameter %zu of the rescaled point is "
                        "%g, expected finite values", i, theta_r[i]);
    return rescaled_slices(net, theta_r, &p, lo, hi, n, before, after, eig_before, eig_after);
}

minima_status minima_landscape_rescaled(minima_net *net, const double *scales,
                                        const minima_dir_params *params, double lo, double hi,
                                        size_t n, minima_landscape *before, minima_landscape *after,
                                        double *eig_before, double *eig_after)
{
    if (!before || !after) MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: NULL result");
    memset(before, 0, sizeof *before);
    memset(after, 0, sizeof *after);
    if (!net || !scales) MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: NULL argument");
    minima_dir_params p = params ? *params : minima_dir_default_params();
    if (p.dims != 1 && p.dims != 2)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: %d directions, expected 1 or 2", p.dims);
    const minima_model *m = minima_net_model(net);
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    for (size_t i = 0; i < nu; i++)
        if (!isfinite(scales[i]) || !(scales[i] > 0))
            MINIMA_FAIL(MINIMA_EINVAL, "landscape rescaled: unit scale %zu is %g, expected a finite "
                        "number > 0", i, scales[i]);
    double *theta_r = minima_alloc(P, sizeof *theta_r);                /* (P) A theta */
    if (!theta_r)
        MINIMA_FAIL(MINIMA_ENOMEM, "landscape rescaled: out of memory for %zu parameters", P);
    minima_sym_apply(m, scales, minima_net_point(net), theta_r);
    minima_status s = MINIMA_OK;
    for (size_t i = 0; i < P && s == MINIMA_OK; i++)
        if (!isfinite(theta_r[i]))
            s = minima_error(MINIMA_EINVAL, "landscape rescaled: the rescaling overflows parameter "
                             "%zu", i);
    if (s == MINIMA_OK)
        s = rescaled_slices(net, theta_r, &p, lo, hi, n, before, after, eig_before, eig_after);
    minima_free(theta_r);
    return s;
}

void minima_landscape_diff(const minima_landscape *a, const minima_landscape *b, double *max_abs,
                           double *max_rel)
{
    double ma = NAN, mr = NAN;
    if (a && b && a->dims == b->dims && a->nx == b->nx && a->ny == b->ny && a->loss && b->loss) {
        double scale = 0;
        ma = 0;
        for (size_t i = 0; i < a->nx * a->ny; i++) {
            double d = fabs(a->loss[i] - b->loss[i]);
            if (isnan(d)) continue;
            if (d > ma) ma = d;
            if (fabs(a->loss[i]) > scale) scale = fabs(a->loss[i]);
        }
        mr = scale > 0 ? ma / scale : (ma == 0 ? 0 : INFINITY);
    }
    if (max_abs) *max_abs = ma;
    if (max_rel) *max_rel = mr;
}

/* ---- CSV ------------------------------------------------------------------ */

static void put_number(FILE *f, double x)
{
    if (isnan(x)) fputs("nan", f);
    else fprintf(f, "%.17g", x);
}

minima_status minima_landscape_write_csv(const char *path, const minima_landscape *const *slices,
                                         const char *const *names, size_t n)
{
    if (!path || !slices || n == 0) MINIMA_FAIL(MINIMA_EINVAL, "landscape CSV: nothing to write");
    if (!names && n != 1)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape CSV '%s': %zu slices need a series name each", path, n);
    int dims = slices[0] ? slices[0]->dims : 0;
    for (size_t k = 0; k < n; k++) {
        if (!slices[k] || !slices[k]->x || !slices[k]->loss || slices[k]->dims != dims ||
            (dims == 2 && !slices[k]->y) || (dims != 1 && dims != 2))
            MINIMA_FAIL(MINIMA_EINVAL, "landscape CSV '%s': slice %zu is empty or of another "
                        "dimension than slice 0", path, k);
        if (names && (!names[k] || !names[k][0] || strpbrk(names[k], ",\"\n\r")))
            MINIMA_FAIL(MINIMA_EINVAL, "landscape CSV '%s': series name %zu is empty or holds a "
                        "comma, quote or newline", path, k);
    }
    size_t len = strlen(path) + 32;
    char *tmp = minima_alloc(len, 1);
    if (!tmp) MINIMA_FAIL(MINIMA_ENOMEM, "landscape CSV '%s': out of memory", path);
    snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
    int slot = minima_tempfile_register(tmp);   /* removed by a second Ctrl-C's handler */
    FILE *f = fopen(tmp, "w");
    if (!f) {
        minima_status s = minima_error(MINIMA_EIO, "landscape CSV: cannot create '%s': %s", tmp,
                                       strerror(errno));
        minima_tempfile_unregister(slot);
        minima_free(tmp);
        return s;
    }
    fprintf(f, "%s%s\n", names ? "series," : "", dims == 2 ? "s,t,loss,accuracy" : "t,loss,accuracy");
    for (size_t k = 0; k < n; k++) {
        const minima_landscape *ls = slices[k];
        for (size_t j = 0; j < ls->ny; j++)
            for (size_t i = 0; i < ls->nx; i++) {
                size_t at = j * ls->nx + i;
                if (names) fprintf(f, "%s,", names[k]);
                put_number(f, ls->x[i]);
                if (dims == 2) {
                    fputc(',', f);
                    put_number(f, ls->y[j]);
                }
                fputc(',', f);
                put_number(f, ls->loss[at]);
                fputc(',', f);
                put_number(f, ls->accuracy ? ls->accuracy[at] : NAN);
                fputc('\n', f);
            }
    }
    int bad = ferror(f);
    if (fflush(f) != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        remove(tmp);
        minima_tempfile_unregister(slot);
        minima_free(tmp);
        MINIMA_FAIL(MINIMA_EIO, "landscape CSV: write error on '%s'", path);
    }
    if (minima_tempfile_commit(tmp, path) != 0) {
        minima_status s = minima_error(MINIMA_EIO, "landscape CSV: cannot rename '%s' to '%s': %s",
                                       tmp, path, strerror(errno));
        remove(tmp);
        minima_tempfile_unregister(slot);
        minima_free(tmp);
        return s;
    }
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    return MINIMA_OK;
}

/* Parses one number field [p, end) (nan allowed). */
static int parse_field(const char *p, const char *end, double *v)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    if (p == end) return 0;
    char buf[64];
    size_t n = (size_t)(end - p);
    if (n >= sizeof buf) return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *e;
    errno = 0;
    *v = strtod(buf, &e);
    return *e == '\0' && errno != ERANGE;
}

typedef struct {
    double *v;      /* (n, cols) the numeric columns of the matching rows */
    size_t n, cap;
} rows_buf;

static minima_status rows_push(rows_buf *r, const double *vals, size_t cols)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        double *nv = minima_realloc(r->v, cap * cols, sizeof *nv);
        if (!nv) MINIMA_FAIL(MINIMA_ENOMEM, "landscape CSV: out of memory");
        r->v = nv;
        r->cap = cap;
    }
    memcpy(r->v + r->n * cols, vals, cols * sizeof *vals);
    r->n++;
    return MINIMA_OK;
}

minima_status minima_landscape_read_csv(const char *path, const char *name, minima_landscape *out)
{
    if (!path || !out) MINIMA_FAIL(MINIMA_EINVAL, "landscape CSV: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) MINIMA_FAIL(MINIMA_EIO, "landscape CSV: cannot open '%s': %s", path, strerror(errno));
    char line[1024];
    rows_buf r = {NULL, 0, 0};
    minima_status s = MINIMA_OK;
    size_t lineno = 1, cols = 0;
    int series = 0;
    if (!fgets(line, sizeof line, f)) {
        s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s': empty file, expected a header", path);
        goto fail;
    }
    line[strcspn(line, "\r\n")] = '\0';
    const char *hdr = line;
    if (!strncmp(hdr, "series,", 7)) {
        series = 1;
        hdr += 7;
    }
    if (!strcmp(hdr, "t,loss,accuracy")) cols = 3;
    else if (!strcmp(hdr, "s,t,loss,accuracy")) cols = 4;
    else {
        s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s', line 1: header '%.80s', expected "
                         "[series,]t,loss,accuracy or [series,]s,t,loss,accuracy", path, line);
        goto fail;
    }
    if (series && !name) {
        s = minima_error(MINIMA_EINVAL, "landscape CSV '%s' holds several series: name one", path);
        goto fail;
    }
    if (!series && name) {
        s = minima_error(MINIMA_EINVAL, "landscape CSV '%s' has no series column, asked for '%s'",
                         path, name);
        goto fail;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s', line %zu: longer than %zu "
                             "characters", path, lineno, sizeof line - 2);
            goto fail;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        const char *p = line;
        if (series) {
            const char *c = strchr(p, ',');
            if (!c) {
                s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s', line %zu: no series field",
                                 path, lineno);
                goto fail;
            }
            if ((size_t)(c - p) != strlen(name) || strncmp(p, name, (size_t)(c - p))) continue;
            p = c + 1;
        }
        double vals[4];
        for (size_t c = 0; c < cols; c++) {
            const char *e = c + 1 < cols ? strchr(p, ',') : p + strlen(p);
            if (!e || !parse_field(p, e, &vals[c]) || (c + 1 == cols && strchr(p, ','))) {
                s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s', line %zu, column %zu: "
                                 "expected %zu numbers", path, lineno, c + 1 + (size_t)series,
                                 cols);
                goto fail;
            }
            p = e + (c + 1 < cols);
        }
        for (size_t c = 0; c + 2 < cols; c++)
            if (!isfinite(vals[c])) {
                s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s', line %zu: coordinate %g is "
                                 "not finite", path, lineno, vals[c]);
                goto fail;
            }
        if ((s = rows_push(&r, vals, cols)) != MINIMA_OK) goto fail;
    }
    if (ferror(f)) {
        s = minima_error(MINIMA_EIO, "landscape CSV '%s': read error", path);
        goto fail;
    }
    if (r.n < 2) {
        s = name ? minima_error(MINIMA_EINVAL, "landscape CSV '%s': series '%s' has %zu rows, "
                                "expected a grid of at least 2", path, name, r.n)
                 : minima_error(MINIMA_EFORMAT, "landscape CSV '%s': %zu data rows, expected at "
                                "least 2", path, r.n);
        goto fail;
    }
    {
        int dims = cols == 4 ? 2 : 1;
        size_t nx = r.n;
        if (dims == 2) {
            nx = 1;
            while (nx < r.n && r.v[nx * cols + 1] == r.v[1]) nx++;
        }
        size_t ny = r.n / nx;
        if (nx < 2 || (dims == 2 && ny < 2) || nx * ny != r.n) {
            s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s': %zu rows do not form a grid "
                             "(%zu values of s for the first t)", path, r.n, nx);
            goto fail;
        }
        if ((s = alloc_slice(out, dims, nx, ny)) != MINIMA_OK) goto fail_nofree;
        for (size_t j = 0; j < ny; j++)
            for (size_t i = 0; i < nx; i++) {
                const double *v = r.v + (j * nx + i) * cols;
                if (dims == 2 && (v[0] != r.v[i * cols] || v[1] != r.v[j * nx * cols + 1] ||
                                  (j > 0 && !(v[1] > r.v[(j - 1) * nx * cols + 1])))) {
                    s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s': row %zu of the data is "
                                     "(s, t) = (%g, %g), which breaks the regular grid", path,
                                     j * nx + i + 1, v[0], v[1]);
                    goto fail;
                }
                if (i > 0 && !(v[0] > r.v[(j * nx + i - 1) * cols])) {
                    s = minima_error(MINIMA_EFORMAT, "landscape CSV '%s': row %zu of the data: "
                                     "coordinate %g does not increase", path, j * nx + i + 1, v[0]);
                    goto fail;
                }
                if (j == 0) out->x[i] = v[0];
                if (dims == 2 && i == 0) out->y[j] = v[1];
                out->loss[j * nx + i] = v[cols - 2];
                out->accuracy[j * nx + i] = v[cols - 1];
                if (v[0] == 0 && (dims == 1 || v[1] == 0)) {
                    out->loss0 = v[cols - 2];
                    out->accuracy0 = v[cols - 1];
                }
            }
        out->n_done = nx * ny;
        for (size_t i = 0; i < nx * ny; i++)
            if (isnan(out->loss[i])) out->n_done--;
    }
    minima_free(r.v);
    fclose(f);
    return MINIMA_OK;
fail:
    minima_landscape_free(out);
fail_nofree:
    minima_free(r.v);
    fclose(f);
    return s;
}
