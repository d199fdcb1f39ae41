/* engine/layer_pool.h — the window geometry maxpool2d and avgpool2d share.
 *
 * Input C x H x W, kernel kh x kw, stride sh x sw, padding ph x pw, dilation
 * 1, floor mode (PyTorch's defaults): Ho = floor((H + 2 ph - kh) / sh) + 1,
 * Wo likewise. Output (oh, ow) of channel c reads the input rows
 * oh*sh - ph .. oh*sh - ph + kh - 1 and the columns likewise, the parts
 * outside 0..H-1 / 0..W-1 being padding. */
#ifndef MINIMA_ENGINE_LAYER_POOL_H
#define MINIMA_ENGINE_LAYER_POOL_H

#include "engine/layer.h"

typedef struct {
    int c, h, w;       /* input */
    int ho, wo;        /* output */
    int kh, kw, sh, sw, ph, pw;
} layer_pool_geom;

/* Check a pooling node's settings against its input (`what` names the kind
 * in messages: "a max pooling"); set node->shape = C x Ho x Wo and no
 * parameters. Fails naming `label`: MINIMA_ESHAPE for a flat input or a
 * kernel larger than the padded input, MINIMA_EINVAL for a kernel or
 * stride below 1, a padding below 0 or above half the kernel. */
minima_status layer_pool_infer(minima_node *node, const minima_shape *in[2], const char *label,
                               const char *what);
/* The geometry of a node that layer_pool_infer accepted. */
layer_pool_geom layer_pool_geom_of(const minima_node *node, const minima_shape *in);

/* The part of output (oh, ow)'s window inside the input: rows [*h0, *h1),
 * columns [*w0, *w1). Never empty (the padding is at most half the kernel). */
static inline void layer_pool_window(const layer_pool_geom *g, int oh, int ow, int *h0, int *h1,
                                     int *w0, int *w1)
{
    int a = oh * g->sh - g->ph, b = ow * g->sw - g->pw;
    *h0 = a < 0 ? 0 : a;
    *h1 = a + g->kh > g->h ? g->h : a + g->kh;
    *w0 = b < 0 ? 0 : b;
    *w1 = b + g->kw > g->w ? g->w : b + g->kw;
}

#endif
