/* fuzz_safetensors.c — minima_model_load on arbitrary bytes.
 *
 * The input is the whole file. It is loaded twice: with the default
 * options, and permissively (unknown tensors skipped, NaN/Inf accepted).
 * A model that loads must be consistent (parameter count, offsets) and
 * must survive a save and a reload unchanged, bit for bit. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/model.h"
#include "minima/safetensors.h"

static void check_model(const minima_model *m, int finite)
{
    FUZZ_CHECK(m != NULL);
    fuzz_check_graph(m);
    if (!m->is_mlp) {
        FUZZ_CHECK(m->n_layers == 0 && !m->widths && !m->layer_names);
        fuzz_touch(m->theta, m->n_params);
        if (finite) FUZZ_CHECK(minima_model_check_finite(m) == MINIMA_OK);
        return;
    }
    FUZZ_CHECK(m->n_layers >= 1);
    size_t p = 0;
    for (int k = 0; k < m->n_layers; k++) {
        FUZZ_CHECK(m->widths[k] >= 1 && m->widths[k + 1] >= 1);
        FUZZ_CHECK(m->weight_offset[k] == p);
        p += (size_t)m->widths[k] * (size_t)m->widths[k + 1];
        if (m->has_bias) {
            FUZZ_CHECK(m->bias_offset[k] == p);
            p += (size_t)m->widths[k + 1];
        }
        FUZZ_CHECK(m->layer_names[k] != NULL);
    }
    FUZZ_CHECK(p == m->n_params);
    fuzz_touch(m->theta, m->n_params);
    if (finite) FUZZ_CHECK(minima_model_check_finite(m) == MINIMA_OK);
}

static void load(const char *path, const minima_load_options *opts)
{
    minima_model *m = (minima_model *)1;
    minima_status s = minima_model_load(path, opts, &m);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(m == NULL);
        return;
    }
    check_model(m, !opts->allow_nonfinite);

    /* Round trip: what was read is written back and read again. */
    const char *copy = fuzz_path(1, ".safetensors");
    minima_status ss = minima_model_save(m, copy, MINIMA_DTYPE_F64);
    FUZZ_CHECK_FAILURE(ss);
    if (ss == MINIMA_OK) {
        minima_model *r = NULL;
        minima_status rs = minima_model_load(copy, opts, &r);
        FUZZ_CHECK(rs == MINIMA_OK);
        check_model(r, !opts->allow_nonfinite);
        FUZZ_CHECK(r->n_params == m->n_params && r->n_nodes == m->n_nodes && r->loss == m->loss);
        FUZZ_CHECK(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0);
        for (int i = 0; i < m->n_nodes; i++)
            FUZZ_CHECK(r->nodes[i].kind == m->nodes[i].kind &&
                       minima_shape_size(r->nodes[i].shape) == minima_shape_size(m->nodes[i].shape));
        if (m->is_mlp) {
            FUZZ_CHECK(r->is_mlp && r->n_layers == m->n_layers && r->has_bias == m->has_bias);
            FUZZ_CHECK(r->activation == m->activation);
            FUZZ_CHECK(memcmp(r->widths, m->widths,
                              (size_t)(m->n_layers + 1) * sizeof *m->widths) == 0);
            for (int k = 0; k < m->n_layers; k++)
                FUZZ_CHECK(strcmp(r->layer_names[k], m->layer_names[k]) == 0);
        }
        minima_model_free(r);
    }
    minima_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".safetensors", data, size);
    minima_load_options opts = minima_load_default_options();
    load(path, &opts);
    opts.allow_nonfinite = 1;
    opts.ignore_unknown = 1;
    load(path, &opts);
    minima_clear_error();
    return 0;
}
