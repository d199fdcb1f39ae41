/* fuzz_onnx.c — minima_model_load_onnx on arbitrary bytes.
 *
 * The input is the whole .onnx file. It is loaded with the default options
 * and permissively (NaN/Inf accepted). A model that loads must be
 * consistent (its nodes tile theta, offsets and shapes sane) and must
 * survive a save to safetensors and a reload unchanged, bit for bit, and a
 * save to ONNX and a reload with the same parameters. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/model.h"
#include "minima/onnx.h"
#include "minima/safetensors.h"

static void round_trip(const minima_model *m, const char *suffix, const minima_load_options *opts)
{
    const char *copy = fuzz_path(1, suffix);
    minima_status ss = minima_model_save(m, copy, MINIMA_DTYPE_F64);
    FUZZ_CHECK_FAILURE(ss);
    if (ss != MINIMA_OK) return;
    minima_model *r = NULL;
    FUZZ_CHECK(minima_model_load(copy, opts, &r) == MINIMA_OK);
    fuzz_check_graph(r);
    fuzz_touch(r->theta, r->n_params);
    FUZZ_CHECK(r->n_params == m->n_params && r->n_nodes == m->n_nodes);
    FUZZ_CHECK(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0);
    for (int i = 0; i < m->n_nodes; i++)
        FUZZ_CHECK(r->nodes[i].kind == m->nodes[i].kind &&
                   minima_shape_size(r->nodes[i].shape) == minima_shape_size(m->nodes[i].shape));
    minima_model_free(r);
}

static void load(const char *path, const minima_load_options *opts)
{
    minima_model *m = (minima_model *)1;
    minima_status s = minima_model_load_onnx(path, opts, &m);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(m == NULL);
        return;
    }
    fuzz_check_graph(m);
    fuzz_touch(m->theta, m->n_params);
    if (!opts->allow_nonfinite) FUZZ_CHECK(minima_model_check_finite(m) == MINIMA_OK);
    round_trip(m, ".safetensors", opts);
    round_trip(m, ".onnx", opts);
    minima_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".onnx", data, size);
    minima_load_options opts = minima_load_default_options();
    load(path, &opts);
    opts.allow_nonfinite = 1;
    load(path, &opts);
    minima_clear_error();
    return 0;
}
