/* layer_pool.c — the window geometry of maxpool2d and avgpool2d
 * (engine/layer_pool.h). */
#include <stdio.h>

#include "engine/layer_pool.h"

minima_status layer_pool_infer(minima_node *node, const minima_shape *in[2], const char *label,
                               const char *what)
{
    if (in[0]->rank != 3) {
        char s[64];
        minima_shape_string(*in[0], s, sizeof s);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: %s needs an image input C x H x W, and its input is "
                    "flat (%s)", label, what, s);
    }
    static const char *const dim[2] = {"height", "width"};
    const int size[2] = {in[0]->h, in[0]->w};
    int out[2];
    for (int d = 0; d < 2; d++) {
        int k = node->kernel[d], s = node->stride[d], p = node->padding[d];
        if (k < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: %s needs a kernel of at least 1, and its kernel "
                        "%s is %d", label, what, dim[d], k);
        if (s < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: %s needs a stride of at least 1, and its stride "
                        "%s is %d", label, what, dim[d], s);
        if (p < 0)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: %s needs a padding of at least 0, and its padding "
                        "%s is %d", label, what, dim[d], p);
        if (p > k / 2)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: %s needs a padding of at most half the kernel "
                        "(as PyTorch), and its %s has padding %d with kernel %d", label, what,
                        dim[d], p, k);
        long long padded = (long long)size[d] + 2LL * p;
        if (k > padded)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s: %s needs a kernel no larger than its padded input, "
                        "and its kernel %s is %d for an input %s of %d padded to %lld", label,
                        what, dim[d], k, dim[d], size[d], padded);
        out[d] = (int)((padded - k) / s + 1);
    }
    node->shape = (minima_shape){3, in[0]->c, out[0], out[1]};
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

layer_pool_geom layer_pool_geom_of(const minima_node *node, const minima_shape *in)
{
    layer_pool_geom g;
    g.c = in->c;
    g.h = in->h;
    g.w = in->w;
    g.ho = node->shape.h;
    g.wo = node->shape.w;
    g.kh = node->kernel[0];
    g.kw = node->kernel[1];
    g.sh = node->stride[0];
    g.sw = node->stride[1];
    g.ph = node->padding[0];
    g.pw = node->padding[1];
    return g;
}
