/* reference.c — the plain forward pass of minima/reference.h.
 *
 * Written to be read, not to be fast: one example at a time, every node's
 * output in its own buffer, every sum a loop in the order of its
 * definition. It shares nothing with the engine's kernels (layer_*.c)
 * beyond the model's description, so a test that compares the two checks
 * each against an independent computation. Values of one example are in
 * PyTorch's NCHW order: entry (c, i, j) of a C x H x W tensor is at
 * (c * H + i) * W + j. */
#include "minima/reference.h"

#include <math.h>
#include <string.h>

#include "minima/alloc.h"

/* y[o] = b[o] + sum_j W[o, j] x[j]; W is [out, in] row-major. */
static void ref_linear(const minima_node *nd, const double *theta, const double *x, size_t in,
                       double *y)
{
    const double *W = theta + nd->weight_offset;
    const double *b = nd->n_bias ? theta + nd->bias_offset : NULL;
    for (int o = 0; o < nd->out; o++) {
        double s = b ? b[o] : 0.0;
        for (size_t j = 0; j < in; j++) s += W[(size_t)o * in + j] * x[j];
        y[o] = s;
    }
}

/* nn.Conv2d: y[o, i, j] = b[o] + sum over the input channels c of o's
 * group and the kernel offsets (u, v) of W[o, c, u, v] x[g cg + c, r, s],
 * r = i stride_h - pad_h + u dil_h (and s alike), zero outside the input. */
static void ref_conv2d(const minima_node *nd, const double *theta, const double *x,
                       minima_shape xs, double *y)
{
    const double *W = theta + nd->weight_offset;
    const double *b = nd->n_bias ? theta + nd->bias_offset : NULL;
    int G = nd->groups, cin_g = xs.c / G, cout_g = nd->out / G;
    int kh = nd->kernel[0], kw = nd->kernel[1];
    minima_shape ys = nd->shape;
    for (int o = 0; o < nd->out; o++) {
        int g = o / cout_g;
        for (int i = 0; i < ys.h; i++)
            for (int j = 0; j < ys.w; j++) {
                double s = b ? b[o] : 0.0;
                for (int c = 0; c < cin_g; c++)
                    for (int u = 0; u < kh; u++)
                        for (int v = 0; v < kw; v++) {
                            int r = i * nd->stride[0] - nd->padding[0] + u * nd->dilation[0];
                            int q = j * nd->stride[1] - nd->padding[1] + v * nd->dilation[1];
                            if (r < 0 || r >= xs.h || q < 0 || q >= xs.w) continue;
                            double w = W[(((size_t)o * (size_t)cin_g + (size_t)c) * (size_t)kh +
                                          (size_t)u) * (size_t)kw + (size_t)v];
                            int ci = g * cin_g + c;
                            s += w * x[((size_t)ci * (size_t)xs.h + (size_t)r) * (size_t)xs.w +
                                       (size_t)q];
                        }
                y[((size_t)o * (size_t)ys.h + (size_t)i) * (size_t)ys.w + (size_t)j] = s;
            }
    }
}

/* nn.MaxPool2d (padding is -inf, a NaN in the window wins) or nn.AvgPool2d
 * with count_include_pad:
 * the window's sum over the input, divided by kh kw (padding counts as 0;
 * in floor mode a window never reaches past the padded input). */
static void ref_pool(const minima_node *nd, int is_max, const double *x, minima_shape xs,
                     double *y)
{
    int kh = nd->kernel[0], kw = nd->kernel[1];
    minima_shape ys = nd->shape;
    for (int c = 0; c < xs.c; c++)
        for (int i = 0; i < ys.h; i++)
            for (int j = 0; j < ys.w; j++) {
                double acc = is_max ? -INFINITY : 0.0;
                for (int u = 0; u < kh; u++)
                    for (int v = 0; v < kw; v++) {
                        int r = i * nd->stride[0] - nd->padding[0] + u;
                        int q = j * nd->stride[1] - nd->padding[1] + v;
                        if (r < 0 || r >= xs.h || q < 0 || q >= xs.w) continue;
                        double val = x[((size_t)c * (size_t)xs.h + (size_t)r) * (size_t)xs.w +
                                       (size_t)q];
                        if (is_max) acc = (val > acc || isnan(val)) && !isnan(acc) ? val : acc;
                        else acc += val;
                    }
                y[((size_t)c * (size_t)ys.h + (size_t)i) * (size_t)ys.w + (size_t)j] =
                    is_max ? acc : acc / ((double)kh * (double)kw);
            }
}

/* nn.AdaptiveAvgPool2d(1) then flatten: the mean of each channel. */
static void ref_global_avgpool(const double *x, minima_shape xs, double *y)
{
    size_t hw = (size_t)xs.h * (size_t)xs.w;
    for (int c = 0; c < xs.c; c++) {
        double s = 0;
        for (size_t t = 0; t < hw; t++) s += x[(size_t)c * hw + t];
        y[c] = s / (double)hw;
    }
}

/* One example: every node's output into val[i] (val[0] holds the input). */
static minima_status ref_example(const minima_model *m, const double *theta, double **val)
{
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        const double *x = val[nd->inputs[0]];
        minima_shape xs = m->nodes[nd->inputs[0]].shape;
        size_t nx = minima_shape_size(xs), ny = minima_shape_size(nd->shape);
        double *y = val[i];
        switch (nd->kind) {
        case MINIMA_NODE_LINEAR: ref_linear(nd, theta, x, nx, y); break;
        case MINIMA_NODE_CONV2D: ref_conv2d(nd, theta, x, xs, y); break;
        case MINIMA_NODE_MAXPOOL2D: ref_pool(nd, 1, x, xs, y); break;
        case MINIMA_NODE_AVGPOOL2D: ref_pool(nd, 0, x, xs, y); break;
        case MINIMA_NODE_GLOBAL_AVGPOOL: ref_global_avgpool(x, xs, y); break;
        case MINIMA_NODE_FLATTEN:
        case MINIMA_NODE_IDENTITY:
            for (size_t t = 0; t < ny; t++) y[t] = x[t];
            break;
        case MINIMA_NODE_ADD: {
            const double *x2 = val[nd->inputs[1]];
            for (size_t t = 0; t < ny; t++) y[t] = x[t] + x2[t];
            break;
        }
        case MINIMA_NODE_RELU:
            for (size_t t = 0; t < ny; t++) y[t] = x[t] > 0 ? x[t] : 0.0;
            break;
        case MINIMA_NODE_LEAKY_RELU:
            for (size_t t = 0; t < ny; t++) y[t] = x[t] > 0 ? x[t] : nd->slope * x[t];
            break;
        case MINIMA_NODE_TANH:
            for (size_t t = 0; t < ny; t++) y[t] = tanh(x[t]);
            break;
        default: {
            char label[128];
            minima_model_node_label(m, i, label, sizeof label);
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "reference forward pass: %s is of a kind it does "
                        "not know (expected a kind of minima/model.h)", label);
        }
        }
    }
    return MINIMA_OK;
}

minima_status minima_reference_forward(const minima_model *m, const double *theta,
                                       const double *x, size_t n, double *out)
{
    if (!m || !x || !out || !m->nodes || m->n_nodes < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_reference_forward: expected a model with nodes, "
                    "inputs and an output buffer; got a NULL argument or an empty model");
    if (!theta) theta = m->theta;
    size_t total = 0;
    for (int i = 0; i < m->n_nodes; i++) total += minima_shape_size(m->nodes[i].shape);
    double **val = minima_calloc((size_t)m->n_nodes, sizeof *val);
    double *buf = minima_alloc(total ? total : 1, sizeof *buf);
    if (!val || !buf) {
        minima_free(val);
        minima_free(buf);
        MINIMA_FAIL(MINIMA_ENOMEM, "reference forward pass: out of memory for %zu values", total);
    }
    size_t at = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        val[i] = buf + at;
        at += minima_shape_size(m->nodes[i].shape);
    }
    size_t d0 = minima_shape_size(m->nodes[0].shape);
    size_t dK = minima_shape_size(m->nodes[m->n_nodes - 1].shape);
    minima_status st = MINIMA_OK;
    for (size_t e = 0; e < n && st == MINIMA_OK; e++) {
        memcpy(val[0], x + e * d0, d0 * sizeof *buf);
        st = ref_example(m, theta, val);
        if (st == MINIMA_OK) memcpy(out + e * dK, val[m->n_nodes - 1], dK * sizeof *buf);
    }
    minima_free(val);
    minima_free(buf);
    return st;
}
