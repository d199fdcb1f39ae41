/* checkpoint.c — the trainer's state in one file, written atomically and
 * read back exactly (train.h has the byte layout of the frame).
 *
 * The payload is a sequence of 8-byte little-endian fields, integers as
 * uint64 and reals as the bits of their IEEE binary64 value:
 *
 *   identity (must match the resuming trainer):
 *     n_layers K, widths d_0..d_K (a graph that is not an MLP: 0, then the
 *     CRC-32 of its architecture string), has_bias, activation, loss,
 *     n_params P, n_train N, CRC-32 of the training data (minima_train_data_crc),
 *     optimizer kind, lr, momentum, nesterov, weight_decay, beta1, beta2, eps,
 *     batch (examples per step), full_batch, drop_last, seed
 *   informational (not compared):
 *     epochs, grad_tol
 *   state:
 *     epoch, step_in_epoch, pending_eval, converged,
 *     batch_loss_sum, batch_loss_count, optimizer steps, n_vectors V,
 *     theta (P reals), then V optimizer vectors (P reals each)
 *
 * The shuffle needs no state of its own: epoch e's order is drawn afresh
 * from minima_rng_seed2(seed, e). */
#include "train/train_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "minima/alloc.h"
#include "minima/tempfile.h"

#define CKPT_MAGIC "MINIMACK"
#define CKPT_VERSION 1u
#define CKPT_FRAME 24              /* magic, version, reserved, payload length */
#define CKPT_N_IDENT_FIXED 19      /* identity fields besides the widths */

/* ---- encoding --------------------------------------------------------- */

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint64_t f64_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bits_f64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* A file being written, with the CRC of everything so far and a sticky
 * error flag (checked once at the end). */
typedef struct {
    FILE *f;
    uLong crc;
    int failed;
} writer;

/* zlib's CRC-32 of n bytes (zlib takes at most 4 GiB - 1 at a time). */
static uLong crc_update(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        crc = crc32(crc, (const Bytef *)p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->failed) return;
    if (fwrite(p, 1, n, w->f) != n) { w->failed = 1; return; }
    w->crc = crc_update(w->crc, p, n);
}

static void w_u64(writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    w_bytes(w, b, 8);
}

static void w_f64s(writer *w, const double *x, size_t n)
{
    unsigned char b[512];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        put_u64(b + k, f64_bits(x[i]));
        k += 8;
        if (k == sizeof b) { w_bytes(w, b, k); k = 0; }
    }
    if (k) w_bytes(w, b, k);
}

/* CRC-32 of a graph model's architecture string (minima_arch_format). */
static uint64_t graph_crc(const minima_model *m)
{
    char arch[4096];
    minima_arch_format(m, arch, sizeof arch);
    return (uint64_t)crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)arch, (uInt)strlen(arch));
}

/* The identity fields, in file order, of the trainer (so that writing and
 * comparing use one list). */
typedef struct { const char *name; uint64_t value; int real; } ident_field;

static size_t identity(const minima_trainer *tr, ident_field *f, size_t cap)
{
    const minima_model *m = tr->model;
    const minima_optimizer_params *o = &tr->p.opt;
    size_t k = 0;
#define ADD(nm, v) do { MINIMA_ASSERT(k < cap); f[k].name = (nm); f[k].value = (uint64_t)(v); \
                           f[k].real = 0; k++; } while (0)
#define ADD_REAL(nm, x) do { ADD(nm, f64_bits(x)); f[k - 1].real = 1; } while (0)
    if (m->is_mlp) {
        ADD("number of layers", m->n_layers);
        for (int i = 0; i <= m->n_layers; i++) ADD("layer width", m->widths[i]);
    } else {
        /* A graph: no layer count (0 marks it), then the CRC-32 of its
         * architecture string in the place of the widths. */
        ADD("number of layers", 0);
        ADD("architecture checksum", graph_crc(m));
    }
    ADD("bias", m->has_bias);
    ADD("activation", m->activation);
    ADD("loss", m->loss);
    ADD("number of parameters", m->n_params);
    ADD("number of training examples", tr->n);
    ADD("training data checksum", tr->data_crc);
    ADD("optimizer", o->kind);
    ADD_REAL("learning rate", o->lr);
    ADD_REAL("momentum", o->momentum);
    ADD("nesterov", o->nesterov);
    ADD_REAL("weight decay", o->weight_decay);
    ADD_REAL("Adam beta1", o->beta1);
    ADD_REAL("Adam beta2", o->beta2);
    ADD_REAL("Adam eps", o->eps);
    ADD("batch size", tr->batch);
    ADD("full batch", tr->full_batch);
    ADD("drop last", tr->p.drop_last);
    ADD("seed", tr->p.seed);
#undef ADD_REAL
#undef ADD
    return k;
}

static size_t n_identity(const minima_trainer *tr)
{
    return (tr->model->is_mlp ? (size_t)tr->model->n_layers + 1 : 1) + CKPT_N_IDENT_FIXED;
}

uint64_t minima_train_data_crc(const minima_dataset *d)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc_update(crc, (const unsigned char *)d->x, d->n * (size_t)d->d * sizeof *d->x);
    if (d->labels)
        crc = crc_update(crc, (const unsigned char *)d->labels, d->n * sizeof *d->labels);
    if (d->targets)
        crc = crc_update(crc, (const unsigned char *)d->targets,
                         d->n * (size_t)d->d_target * sizeof *d->targets);
    return (uint64_t)crc;
}

/* ---- saving ----------------------------------------------------------- */

minima_status minima_trainer_save_checkpoint(const minima_trainer *tr, const char *path)
{
    if (!tr || !path) MINIMA_FAIL(MINIMA_EINVAL, "minima_trainer_save_checkpoint: NULL argument");
    minima_status s = MINIMA_OK;
    size_t nid = n_identity(tr);
    ident_field *id = NULL;
    char *tmp = NULL;
    FILE *f = NULL;
    int fd = -1, slot = -1;
    const size_t P = tr->n_params;
    const int V = minima_optimizer_n_vectors(tr->opt);

    if (!(id = minima_alloc(nid, sizeof *id))) {
        s = minima_error(MINIMA_ENOMEM, "checkpoint '%s': out of memory", path);
        goto fail;
    }
    MINIMA_ASSERT(identity(tr, id, nid) == nid);
    uint64_t payload = 8 * ((uint64_t)nid + 2 + 8 + (uint64_t)P * (1 + (uint64_t)V));

    size_t len = strlen(path);
    if (!(tmp = minima_alloc(len + 16, 1))) {
        s = minima_error(MINIMA_ENOMEM, "checkpoint '%s': out of memory", path);
        goto fail;
    }
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    slot = minima_tempfile_register(tmp);     /* removed by a second Ctrl-C's handler */
    if ((fd = mkstemp(tmp)) < 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': cannot create a temporary file beside it: %s",
                         path, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    struct stat sb;                           /* keep the mode of the file replaced */
    if (fchmod(fd, stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644) != 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!(f = fdopen(fd, "wb"))) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;

    writer w = { f, crc32(0L, Z_NULL, 0), 0 };
    unsigned char head[CKPT_FRAME];
    memcpy(head, CKPT_MAGIC, 8);
    put_u64(head + 8, CKPT_VERSION);          /* version (4 bytes) + reserved (4 bytes, 0) */
    put_u64(head + 16, payload);
    w_bytes(&w, head, sizeof head);
    for (size_t i = 0; i < nid; i++) w_u64(&w, id[i].value);
    w_u64(&w, (uint64_t)tr->p.epochs);
    w_u64(&w, f64_bits(tr->p.grad_tol));
    w_u64(&w, (uint64_t)tr->epoch);
    w_u64(&w, tr->step_in_epoch);
    w_u64(&w, (uint64_t)tr->pending_eval);
    w_u64(&w, (uint64_t)tr->converged);
    w_u64(&w, f64_bits(tr->batch_loss_sum));
    w_u64(&w, f64_bits(tr->batch_loss_count));
    w_u64(&w, minima_optimizer_steps(tr->opt));
    w_u64(&w, (uint64_t)V);
    w_f64s(&w, tr->model->theta, P);
    for (int v = 0; v < V; v++)
        w_f64s(&w, minima_optimizer_vector(tr->opt, v), P);
    unsigned char crc[4];
    uint32_t c = (uint32_t)w.crc;
    for (int i = 0; i < 4; i++) crc[i] = (unsigned char)(c >> (8 * i));
    if (!w.failed && fwrite(crc, 1, 4, f) != 4) w.failed = 1;
    if (w.failed || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': writing the temporary file '%s' failed: %s",
                         path, tmp, strerror(errno));
        goto fail;
    }
    FILE *done = f;
    f = NULL;
    if (fclose(done) != 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': closing '%s' failed: %s", path, tmp,
                         strerror(errno));
        goto fail;
    }
    if (minima_tempfile_commit(tmp, path) != 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': renaming '%s' over it failed: %s", path,
                         tmp, strerror(errno));
        goto fail;
    }
    minima_tempfile_unregister(slot);
    /* Make the rename durable; a failure here loses nothing already written. */
    char *slash = strrchr(tmp, '/');
    if (slash) *slash = '\0';
    int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    minima_free(tmp);
    minima_free(id);
    return MINIMA_OK;
fail:
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    if (tmp && tmp[0]) unlink(tmp);
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    minima_free(id);
    return s;
}

/* ---- loading ---------------------------------------------------------- */

/* Reads all of `path` (at most `max` bytes) into a new buffer. */
static minima_status read_file(const char *path, size_t max, unsigned char **out, size_t *size)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) MINIMA_FAIL(MINIMA_EIO, "checkpoint '%s': cannot open: %s", path, strerror(errno));
    minima_status s = MINIMA_OK;
    unsigned char *buf = NULL;
    long end;
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': cannot determine its size: %s", path,
                         strerror(errno));
        goto done;
    }
    if ((size_t)end > max) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': expected %zu bytes for this trainer, "
                         "found %ld", path, max, end);
        goto done;
    }
    if (!(buf = minima_alloc((size_t)end ? (size_t)end : 1, 1))) {
        s = minima_error(MINIMA_ENOMEM, "checkpoint '%s': out of memory reading %ld bytes", path, end);
        goto done;
    }
    if (fread(buf, 1, (size_t)end, f) != (size_t)end) {
        s = minima_error(MINIMA_EIO, "checkpoint '%s': read failed", path);
        goto done;
    }
    *out = buf;
    *size = (size_t)end;
    buf = NULL;
done:
    minima_free(buf);
    fclose(f);
    return s;
}

minima_status minima_trainer_load_checkpoint(minima_trainer *tr, const char *path)
{
    if (!tr || !path) MINIMA_FAIL(MINIMA_EINVAL, "minima_trainer_load_checkpoint: NULL argument");
    const size_t P = tr->n_params;
    const int V = minima_optimizer_n_vectors(tr->opt);
    const size_t nid = n_identity(tr);
    const size_t n_fields = nid + 2 + 8;
    const size_t payload = 8 * (n_fields + P * (1 + (size_t)V));
    const size_t want = CKPT_FRAME + payload + 4;
    unsigned char *buf = NULL;
    size_t size = 0;
    ident_field *id = NULL;
    minima_status s = read_file(path, want, &buf, &size);
    if (s != MINIMA_OK) return s;

    if (size < CKPT_FRAME || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': offset 0: expected the magic \"%s\", "
                         "found another file type", path, CKPT_MAGIC);
        goto done;
    }
    uint64_t version = get_u64(buf + 8);
    if (version != CKPT_VERSION) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': offset 8: expected version %u, found %llu",
                         path, CKPT_VERSION, (unsigned long long)version);
        goto done;
    }
    uint64_t plen = get_u64(buf + 16);
    if (size != want || plen != payload) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': expected %zu bytes (payload %zu) for a "
                         "model of %zu parameters, found %zu bytes (payload %llu): truncated, "
                         "or written for another model or optimizer", path, want, payload, P,
                         size, (unsigned long long)plen);
        goto done;
    }
    uint32_t crc_file = 0;
    for (int i = 0; i < 4; i++) crc_file |= (uint32_t)buf[size - 4 + (size_t)i] << (8 * i);
    uint32_t crc = (uint32_t)crc_update(crc32(0L, Z_NULL, 0), buf, size - 4);
    if (crc != crc_file) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': offset %zu: checksum 0x%08x does not "
                         "match the contents (0x%08x): the file is corrupt", path, size - 4,
                         crc_file, crc);
        goto done;
    }

    const unsigned char *p = buf + CKPT_FRAME;
    if (!(id = minima_alloc(nid, sizeof *id))) {
        s = minima_error(MINIMA_ENOMEM, "checkpoint '%s': out of memory", path);
        goto done;
    }
    identity(tr, id, nid);
    for (size_t i = 0; i < nid; i++, p += 8) {
        uint64_t v = get_u64(p);
        if (v != id[i].value) {
            if (id[i].real)
                s = minima_error(MINIMA_EINVAL, "checkpoint '%s': field %zu (%s): the checkpoint "
                                 "has %.17g, this run %.17g; resume with the options of the "
                                 "interrupted run", path, i, id[i].name, bits_f64(v),
                                 bits_f64(id[i].value));
            else
                s = minima_error(MINIMA_EINVAL, "checkpoint '%s': field %zu (%s): the checkpoint "
                                 "has %llu, this run %llu; resume with the options of the "
                                 "interrupted run", path, i, id[i].name,
                                 (unsigned long long)v, (unsigned long long)id[i].value);
            goto done;
        }
    }
    p += 16;                                   /* epochs, grad_tol: informational */
    uint64_t epoch = get_u64(p), step = get_u64(p + 8), pending = get_u64(p + 16);
    uint64_t conv = get_u64(p + 24);
    double lsum = bits_f64(get_u64(p + 32)), lcount = bits_f64(get_u64(p + 40));
    uint64_t steps = get_u64(p + 48), nv = get_u64(p + 56);
    p += 64;
    if (epoch > (uint64_t)(1u << 30) || step >= tr->steps_per_epoch || pending > 1 || conv > 1 ||
        nv != (uint64_t)V || (pending && step != 0)) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': inconsistent state (epoch %llu, step "
                         "%llu of %zu, pending %llu, converged %llu, %llu state vectors where "
                         "%d were expected)", path, (unsigned long long)epoch,
                         (unsigned long long)step, tr->steps_per_epoch,
                         (unsigned long long)pending, (unsigned long long)conv,
                         (unsigned long long)nv, V);
        goto done;
    }
    /* Every step is one optimizer step, so the count follows from where
     * the run stands; Adam's bias correction and momentum's first step
     * depend on it. */
    uint64_t want_steps = epoch * (uint64_t)tr->steps_per_epoch + step;
    if (steps != want_steps) {
        s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': the optimizer has taken %llu steps, but epoch "
                         "%llu, step %llu of %zu means %llu", path, (unsigned long long)steps,
                         (unsigned long long)epoch, (unsigned long long)step, tr->steps_per_epoch,
                         (unsigned long long)want_steps);
        goto done;
    }
    /* The running mean of the epoch's batch losses covers the rows of the
     * steps taken in it (at step 0 of an epoch it is reset before use). */
    if (pending || step > 0) {
        double want_rows = pending ? (double)(tr->full_batch || !tr->p.drop_last
                                                  ? tr->n : tr->steps_per_epoch * tr->batch)
                                   : (double)step * (double)tr->batch;
        if (!(isfinite(lsum) && lsum >= 0) || lcount != want_rows) {
            s = minima_error(MINIMA_EFORMAT, "checkpoint '%s': the epoch's batch losses sum to %g over %g "
                             "rows; expected a finite sum >= 0 over %g rows", path, lsum, lcount,
                             want_rows);
            goto done;
        }
    }
    for (size_t i = 0; i < P; i++) {
        double x = bits_f64(get_u64(p + 8 * i));
        if (!isfinite(x)) {
            s = minima_error(MINIMA_ENONFINITE, "checkpoint '%s': parameter %zu is %g", path, i, x);
            goto done;
        }
    }
    /* Everything checked: commit. */
    for (size_t i = 0; i < P; i++, p += 8) tr->model->theta[i] = bits_f64(get_u64(p));
    for (int v = 0; v < V; v++) {
        double *vec = minima_optimizer_vector(tr->opt, v);
        for (size_t i = 0; i < P; i++, p += 8) vec[i] = bits_f64(get_u64(p));
    }
    minima_optimizer_set_steps(tr->opt, steps);
    tr->epoch = (int)epoch;
    tr->step_in_epoch = (size_t)step;
    tr->pending_eval = (int)pending;
    tr->converged = (int)conv;
    tr->batch_loss_sum = lsum;
    tr->batch_loss_count = lcount;
    tr->perm_epoch = -1;
    tr->grad_valid = 0;
done:
    minima_free(id);
    minima_free(buf);
    return s;
}
