/* net_operators.c — the engine's curvature as linear operators (Hessian,
 * Gauss-Newton) for the eigensolvers, and parameter selection by layer
 * (minima/net.h). linop.c knows nothing of networks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/linop.h"
#include "minima/net.h"

/* ---- the net's curvature --------------------------------------------- */

static minima_status hessian_apply(void *ctx, const double *x, double *y)
{
    return minima_net_hvp(ctx, x, y);
}

static minima_status ggn_apply(void *ctx, const double *x, double *y)
{
    return minima_net_ggnvp(ctx, x, y);
}

static minima_status hessian_apply_block(void *ctx, size_t b, const double *X, double *Y)
{
    return minima_net_hvp_block(ctx, b, X, Y);
}

static minima_status ggn_apply_block(void *ctx, size_t b, const double *X, double *Y)
{
    return minima_net_ggnvp_block(ctx, b, X, Y);
}

minima_status minima_linop_hessian(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_hessian: NULL argument");
    MINIMA_TRY(minima_linop_create(out, minima_net_n_params(net), hessian_apply, net, NULL));
    (*out)->apply_block = hessian_apply_block;
    return MINIMA_OK;
}

minima_status minima_linop_ggn(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_ggn: NULL argument");
    MINIMA_TRY(minima_linop_create(out, minima_net_n_params(net), ggn_apply, net, NULL));
    (*out)->apply_block = ggn_apply_block;
    return MINIMA_OK;
}

static minima_status hessian_f32_apply(void *ctx, const double *x, double *y)
{
    return minima_net_hvp_f32(ctx, x, y);
}

static minima_status ggn_f32_apply(void *ctx, const double *x, double *y)
{
    return minima_net_ggnvp_f32(ctx, x, y);
}

minima_status minima_linop_hessian_f32(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_hessian_f32: NULL argument");
    return minima_linop_create(out, minima_net_n_params(net), hessian_f32_apply, net, NULL);
}

minima_status minima_linop_ggn_f32(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_ggn_f32: NULL argument");
    return minima_linop_create(out, minima_net_n_params(net), ggn_f32_apply, net, NULL);
}

/* ---- parameter selection by layer ------------------------------------ */

/* The parametric nodes (linear, conv2d) in node order: the "layers" a
 * selection names. */
static int param_nodes(const minima_model *m, int *which)
{
    int n = 0;
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].n_weight) which[n++] = i;
    return n;
}

static int any_bias(const minima_model *m)
{
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].n_bias) return 1;
    return 0;
}

/* Marks the parts named by one token in sel[2k] (weight) / sel[2k+1]
 * (bias) of the k-th parametric node. */
static minima_status select_token(const minima_model *m, const int *which, int K, const char *tok,
                                  size_t len, unsigned char *sel)
{
    char buf[256];
    if (len == 0) MINIMA_FAIL(MINIMA_EINVAL, "layer list: empty layer name in the list");
    if (len >= sizeof buf)
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: layer name of %zu characters is too long", len);
    memcpy(buf, tok, len);
    buf[len] = '\0';

    int want_w = 1, want_b = 1;
    int layer = -1;
    for (int k = 0; k < K && layer < 0; k++)
        if (strcmp(buf, m->nodes[which[k]].name) == 0) layer = k;
    if (layer < 0) {
        /* NAME.weight / NAME.bias */
        char *dot = strrchr(buf, '.');
        if (dot && (strcmp(dot, ".weight") == 0 || strcmp(dot, ".bias") == 0)) {
            if (strcmp(dot, ".weight") == 0) want_b = 0; else want_w = 0;
            *dot = '\0';
            for (int k = 0; k < K && layer < 0; k++)
                if (strcmp(buf, m->nodes[which[k]].name) == 0) layer = k;
            *dot = '.';
        }
    }
    if (layer < 0 && buf[0] == '#' && buf[1]) {
        char *end;
        long k = strtol(buf + 1, &end, 10);
        if (*end == '\0' && k >= 0 && k < K) layer = (int)k;
        else MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s': expected #k with 0 <= k < %d",
                         buf, K);
    }
    if (layer < 0) {
        char names[512];
        size_t used = 0;
        names[0] = '\0';
        for (int k = 0; k < K && used + 1 < sizeof names; k++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                             m->nodes[which[k]].name);
            if (w < 0) break;
            used += (size_t)w;
        }
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: no layer named '%s' (the model's layers are: %s; "
                    "or use #k)", buf, names);
    }
    int has_bias = m->nodes[which[layer]].n_bias > 0;
    if (want_b && !want_w && !has_bias) {
        if (!any_bias(m)) MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s': the model has no biases", buf);
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s': that layer has no bias", buf);
    }
    if (!has_bias) want_b = 0;
    if ((want_w && sel[2 * layer]) || (want_b && sel[2 * layer + 1]))
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s' selects parameters already selected", buf);
    if (want_w) sel[2 * layer] = 1;
    if (want_b) sel[2 * layer + 1] = 1;
    return MINIMA_OK;
}

minima_status minima_linop_select_layers(const minima_model *model, const char *spec,
                                         size_t **index, size_t *n_index)
{
    if (index) *index = NULL;
    if (n_index) *n_index = 0;
    if (!model || !spec || !index || !n_index)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_select_layers: NULL argument");
    minima_status st = MINIMA_OK;
    size_t *idx = NULL;
    int *which = minima_alloc((size_t)model->n_nodes, sizeof *which);
    unsigned char *sel = minima_calloc((size_t)(2 * model->n_nodes), 1);
    if (!which || !sel) {
        minima_free(which);
        minima_free(sel);
        MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_select_layers: out of memory");
    }
    int K = param_nodes(model, which);

    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        st = select_token(model, which, K, p, len, sel);
        if (st != MINIMA_OK) goto fail;
        if (!comma) break;
        p = comma + 1;
    }

    size_t count = 0;
    for (int k = 0; k < K; k++) {
        const minima_node *nd = &model->nodes[which[k]];
        if (sel[2 * k]) count += nd->n_weight;
        if (sel[2 * k + 1]) count += nd->n_bias;
    }
    idx = minima_alloc(count ? count : 1, sizeof *idx);
    if (!idx) {
        st = minima_error(MINIMA_ENOMEM, "minima_linop_select_layers: out of memory for %zu "
                          "indices", count);
        goto fail;
    }
    size_t at = 0;
    for (int k = 0; k < K; k++) {
        const minima_node *nd = &model->nodes[which[k]];
        if (sel[2 * k])
            for (size_t i = 0; i < nd->n_weight; i++) idx[at++] = nd->weight_offset + i;
        if (sel[2 * k + 1])
            for (size_t i = 0; i < nd->n_bias; i++) idx[at++] = nd->bias_offset + i;
    }
    MINIMA_ASSERT(at == count);
    minima_free(sel);
    minima_free(which);
    *index = idx;
    *n_index = count;
    return MINIMA_OK;
fail:
    minima_free(sel);
    minima_free(which);
    minima_free(idx);
    return st;
}
