/* fuzz_common.h — helpers shared by the fuzz harnesses (fuzz/fuzz_*.c).
 *
 * The parsers take paths, so a harness writes its input to a scratch file
 * and passes the path. The file lives in /dev/shm (memory, no disk wear)
 * when that exists, else in $TMPDIR or /tmp, and its name carries the
 * process id so that parallel fuzzing jobs never share one. It is
 * rewritten for every input and removed at exit.
 *
 * A harness checks the parser's contract, not only memory safety: a
 * failure must leave a message (minima_last_error), a success must hand
 * back consistent sizes. A broken contract aborts, which libFuzzer and
 * the replay test both report as a failure. */
#ifndef MINIMA_FUZZ_COMMON_H
#define MINIMA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minima/model.h"
#include "minima/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_PATHS 4
static char fuzz_paths[FUZZ_MAX_PATHS][512];
static int fuzz_n_paths;

static inline void fuzz_remove_paths(void)
{
    for (int i = 0; i < fuzz_n_paths; i++) remove(fuzz_paths[i]);
}

/* A scratch path "<dir>/minima-fuzz-<pid>-<slot><suffix>", the same for
 * every call with the same slot (0 .. FUZZ_MAX_PATHS-1). */
static inline const char *fuzz_path(int slot, const char *suffix)
{
    static int registered;
    if (slot < 0 || slot >= FUZZ_MAX_PATHS) abort();
    const char *dir = "/dev/shm";
    if (access(dir, W_OK) != 0) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
    }
    snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "%s/minima-fuzz-%ld-%d%s", dir,
             (long)getpid(), slot, suffix ? suffix : "");
    if (slot >= fuzz_n_paths) fuzz_n_paths = slot + 1;
    if (!registered) {
        atexit(fuzz_remove_paths);
        registered = 1;
    }
    return fuzz_paths[slot];
}

/* Writes `size` bytes to the scratch file of `slot`; returns its path. */
static inline const char *fuzz_write(int slot, const char *suffix, const void *data, size_t size)
{
    const char *path = fuzz_path(slot, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if ((size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Aborts with a message when a harness's check on the parser fails. */
#define FUZZ_CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: fuzz check failed: %s (last error: \"%s\")\n", \
            __FILE__, __LINE__, #cond, minima_last_error()); abort(); } } while (0)

/* Every failing call must say why. */
#define FUZZ_CHECK_FAILURE(status) do { if ((status) != MINIMA_OK) \
    FUZZ_CHECK(minima_last_error()[0] != '\0'); } while (0)

/* Reads every value, so that AddressSanitizer sees any out-of-bounds part
 * of an array a parser returns; the result is kept from being optimized
 * away. */
static volatile double fuzz_sink;
static inline void fuzz_touch(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    fuzz_sink = s;
}

/* A graph a loader returns: node 0 the input, every node reading earlier
 * nodes, named, with a non-empty shape, and the parametric nodes tiling
 * theta (weight then bias, in node order, nothing else). */
static inline void fuzz_check_graph(const minima_model *m)
{
    FUZZ_CHECK(m->n_nodes >= 2 && m->nodes && m->nodes[0].kind == MINIMA_NODE_INPUT);
    size_t p = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        FUZZ_CHECK(nd->n_inputs >= 1 && nd->n_inputs <= 2);
        for (int k = 0; k < nd->n_inputs; k++) FUZZ_CHECK(nd->inputs[k] >= 0 && nd->inputs[k] < i);
        FUZZ_CHECK(minima_shape_size(nd->shape) >= 1);
        FUZZ_CHECK(nd->name != NULL);
        if (nd->n_weight) {
            FUZZ_CHECK(nd->weight_offset == p);
            p += nd->n_weight;
            if (nd->n_bias) FUZZ_CHECK(nd->bias_offset == p);
            p += nd->n_bias;
        }
    }
    FUZZ_CHECK(p == m->n_params);
}

#endif
