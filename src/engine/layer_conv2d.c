/* layer_conv2d.c — 2-D cross-correlation as nn.Conv2d: stride, zero
 * padding, dilation, groups, optional bias.
 *
 * Shapes, for one example. Input x: C x H x W; output y: O x Ho x Wo with
 *   Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1   (Wo likewise),
 * G groups, Cg = C / G input and Og = O / G output channels per group;
 * weight w [O, Cg, kh, kw] row-major, bias b [O]. Values are NCHW: x[c][h][w].
 *
 *   y[o][u][v] = b[o] + sum_{c<Cg, i<kh, j<kw} w[o][c][i][j] *
 *                x[g Cg + c][u sh - ph + i dh][v sw - pw + j dw],   g = o / Og
 * (x read as 0 outside the image).
 *
 * im2col. P = Ho Wo output positions, K = Cg kh kw taps per group. For one
 * example, col(x) is a (C kh kw) x P matrix, row-major:
 *   col(x)[(c kh + i) kw + j][u Wo + v] = x[c][u sh - ph + i dh][v sw - pw + j dw]
 * (0 in the padding). Rows are ordered channel-major, so group g's rows are
 * the contiguous block g K .. (g+1) K - 1: X_g = col(x)_g is K x P. With
 * W_g = w[g Og .. (g+1) Og - 1] read as Og x K (the weight layout already
 * is), and Y_g the output channels of group g read as Og x P (contiguous in
 * NCHW), the convolution is one GEMM per group and example:
 *   Y_g = W_g X_g + b_g 1^T.
 * col2im is the adjoint of im2col: it adds each entry of a (C kh kw) x P
 * matrix into the input position it was read from (padding entries drop).
 * A 1x1 stride-1 unpadded conv has col(x) = x (C x H W): no copy is made.
 *
 * The passes, per example and group (sums over the batch for parameters;
 * GY, RGY, RY are the group's Og x P blocks of gy, rgy, ry; V_g, vb the
 * direction of w, b; R{x} = rx):
 *   forward     Y_g   = W_g X_g + b_g 1^T
 *   backward    gw_g += GY X_g^T,   gb_g += GY 1,
 *               gx   += col2im(W_g^T GY)                    (when gx[0])
 *   rforward    RY    = V_g X_g + vb_g 1^T  (+ W_g col(rx)_g when rx[0])
 *   rbackward   hw_g += RGY X_g^T  (+ GY col(rx)_g^T when full and rx[0]),
 *               hb_g += RGY 1,
 *               rgx  += col2im(W_g^T RGY  (+ V_g^T GY when full))
 * Conv is bilinear in (x, w), so these are exact: the second-order terms
 * are the cross terms V_g^T GY and GY col(rx)^T; there are no others.
 *
 * Each pass is per example: im2col into the scratch, then one or two
 * GEMMs per group of sizes Og x K x P (cblas_dgemm / cblas_sgemm); input
 * signals through a GEMM into the im2col buffer and col2im.
 *
 * Shifted views (forward and rforward when the stride is 1 and Cg >= 32).
 * Pad x once: xp is C channels of S = Hp Wp + (kw - 1) dw values, channel c
 * holding x[c] at rows ph .. ph+H-1, columns pw .. pw+W-1 of an Hp x Wp
 * grid (Hp = H + 2 ph, Wp = W + 2 pw), zeros elsewhere. For tap t = i kw + j
 * with shift s_t = i dh Wp + j dw, the Cg x Q matrix (Q = Ho Wp) starting at
 * xp_g + s_t with row stride S has, in column q = u Wp + v, v < Wo, exactly
 * col(x)_g's row (c, i, j) at u Wo + v. So
 *   Yp_g = sum_t W_t,g Xp_g(s_t),   W_t[o][c] = w[o][c][i][j]   (O x Cg),
 * kh kw GEMMs Og x Q x Cg into an Og x Ho x Wp grid, and y is its columns
 * v < Wo (columns v >= Wo read values wrapped from the next row and are
 * dropped; S leaves room for the last tap's reads). This copies C Hp Wp
 * values instead of im2col's C kh kw Ho Wo: on LeNet's 32 -> 64 3x3 conv
 * about 10% faster per CPU-second with one thread (with two BLAS threads
 * the gain should be larger, the copies being serial: not measured); with
 * fewer channels the GEMMs get too thin. The
 * adjoint the same way (GEMMs into overlapping shifted views) measured
 * slower than GEMM + col2im, so input signals always use col2im.
 *
 * Scratch (one arena, 64-byte aligned parts, sized in doubles and also used
 * in floats): the im2col buffer C kh kw P; for shifted views also xp (C S),
 * the output grid (O Q) and the tap-major weights W_t and V_t (2 kh kw O Cg).
 * The float32 R-passes below are the float64 ones written out again in
 * single precision. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "engine/layer.h"

/* ---- geometry (precision-independent) --------------------------------- */

typedef struct {
    int C, H, W;               /* input */
    int O, Ho, Wo;             /* output */
    int G, Cg, Og;             /* groups, channels per group */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int K;                     /* Cg kh kw: rows of one group's columns */
    int P;                     /* Ho Wo */
    size_t in_size, out_size;  /* values per example */
    int direct;                /* 1x1, stride 1, no padding: col(x) = x */
    /* forward and rforward by shifted views (see the top comment): stride 1,
     * not direct, and Cg >= 32 (fewer channels make its GEMMs too thin:
     * measured on 28x28 images, im2col was faster below 16, even at 16) */
    int shifted;
    int Hp, Wp;                /* padded input */
    size_t S;                  /* values per channel of a padded input: Hp Wp + (kw - 1) dw */
    int Q;                     /* grid positions Ho Wp */
    int T;                     /* taps kh kw */
} conv_geom;

static conv_geom geom_of(const minima_node *node, const minima_shape *in)
{
    conv_geom g;
    g.C = in->c;
    g.H = in->h;
    g.W = in->w;
    g.O = node->out;
    g.Ho = node->shape.h;
    g.Wo = node->shape.w;
    g.G = node->groups;
    g.Cg = g.C / g.G;
    g.Og = g.O / g.G;
    g.kh = node->kernel[0];
    g.kw = node->kernel[1];
    g.sh = node->stride[0];
    g.sw = node->stride[1];
    g.ph = node->padding[0];
    g.pw = node->padding[1];
    g.dh = node->dilation[0];
    g.dw = node->dilation[1];
    g.K = g.Cg * g.kh * g.kw;
    g.P = g.Ho * g.Wo;
    g.in_size = (size_t)g.C * (size_t)g.H * (size_t)g.W;
    g.out_size = (size_t)g.O * (size_t)g.P;
    g.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    g.shifted = g.sh == 1 && g.sw == 1 && !g.direct && g.Cg >= 32;
    g.Hp = g.H + 2 * g.ph;
    g.Wp = g.W + 2 * g.pw;
    g.S = (size_t)g.Hp * (size_t)g.Wp + (size_t)(g.kw - 1) * (size_t)g.dw;
    g.Q = g.Ho * g.Wp;
    g.T = g.kh * g.kw;
    return g;
}

/* The scratch, in values (doubles, or floats in the float32 passes), each
 * part starting on 64 bytes: col, the im2col buffer (not for a direct
 * conv; at offset 0); for the shifted plan also xp (a padded input, C S
 * values), yp (an output grid, O Q values), wr and wr2 (weights by tap,
 * T O Cg values). */
typedef struct {
    size_t col, xp, yp, wr, wr2, total;
} scratch_plan;

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

static scratch_plan plan_of(const conv_geom *g)
{
    scratch_plan s;
    size_t off = 0;
    s.col = off;
    if (!g->direct) off += round16((size_t)g->C * (size_t)g->T * (size_t)g->P);
    s.xp = s.yp = s.wr = s.wr2 = off;
    if (g->shifted) {
        s.xp = off;
        off += round16((size_t)g->C * g->S);
        s.yp = off;
        off += round16((size_t)g->O * (size_t)g->Q);
        s.wr = off;
        off += round16((size_t)g->T * (size_t)g->O * (size_t)g->Cg);
        s.wr2 = off;
        off += round16((size_t)g->T * (size_t)g->O * (size_t)g->Cg);
    }
    s.total = off;
    return s;
}

/* Output indices t in [*lo, *hi) whose input index t s + off lies in [0, n). */
static void valid_range(int n_out, int n_in, int s, int off, int *lo, int *hi)
{
    long long l = off >= 0 ? 0 : ((long long)-off + s - 1) / s;
    long long h = (long long)n_in - off <= 0 ? 0 : ((long long)n_in - off + s - 1) / s;
    if (l > n_out) l = n_out;
    if (h > n_out) h = n_out;
    if (h < l) h = l;
    *lo = (int)l;
    *hi = (int)h;
}

/* ---- infer, sizes ----------------------------------------------------- */

static minima_status conv2d_infer(minima_node *node, const minima_shape *in[2], const char *label)
{
    char s[64];
    minima_shape_string(*in[0], s, sizeof s);
    if (in[0]->rank != 3)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d needs a CxHxW input, and its input is %s (flat)",
                    label, s);
    if (in[0]->c < 1 || in[0]->h < 1 || in[0]->w < 1)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d needs a non-empty CxHxW input, and its input is %s",
                    label, s);
    if (node->out < 1 || node->out > 100000000)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d needs between 1 and 1e8 output channels, got %d",
                    label, node->out);
    static const char *const dim[2] = {"height", "width"};
    for (int a = 0; a < 2; a++) {
        if (node->kernel[a] < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d kernel %s must be at least 1, got %d", label,
                        dim[a], node->kernel[a]);
        if (node->stride[a] < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d stride (%s) must be at least 1, got %d",
                        label, dim[a], node->stride[a]);
        if (node->dilation[a] < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d dilation (%s) must be at least 1, got %d",
                        label, dim[a], node->dilation[a]);
        if (node->padding[a] < 0)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d padding (%s) must be at least 0, got %d",
                        label, dim[a], node->padding[a]);
    }
    if (node->groups < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d groups must be at least 1, got %d", label,
                    node->groups);
    if (in[0]->c % node->groups)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d with %d groups needs input channels divisible "
                    "by %d, and its input is %s", label, node->groups, node->groups, s);
    if (node->out % node->groups)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d with %d groups needs output channels divisible "
                    "by %d, got %d", label, node->groups, node->groups, node->out);
    long long span[2], len[2], o[2];
    len[0] = in[0]->h;
    len[1] = in[0]->w;
    for (int a = 0; a < 2; a++) {
        span[a] = (long long)node->dilation[a] * (node->kernel[a] - 1) + 1;
        long long padded = len[a] + 2LL * node->padding[a];
        o[a] = padded >= span[a] ? (padded - span[a]) / node->stride[a] + 1 : 0;
        if (o[a] < 1)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d kernel %s spans %lld (kernel %d, dilation "
                        "%d), more than the padded input's %lld (input %s, padding %d): the "
                        "output would be empty", label, dim[a], span[a], node->kernel[a],
                        node->dilation[a], padded, s, node->padding[a]);
        if (o[a] > 100000000)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d output %s would be %lld, more than 1e8",
                        label, dim[a], o[a]);
    }
    /* products in double: the factors are checked, their products not yet */
    double n_weight = (double)node->out * (in[0]->c / node->groups) * node->kernel[0] *
                      (double)node->kernel[1];
    if (n_weight > 1e9)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: conv2d would have %.0f weights, more than 1e9", label,
                    n_weight);
    double n_out = (double)node->out * (double)o[0] * (double)o[1];
    if (n_out > 1e8)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d output would be %d x %lld x %lld, %.0f values an "
                    "example, more than 1e8", label, node->out, o[0], o[1], n_out);
    double plane = (double)(len[0] + 2LL * node->padding[0]) *
                   (double)(len[1] + 2LL * node->padding[1]);
    if (plane > 1e9)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: conv2d padded input plane would be %.0f values, more "
                    "than 1e9 (input %s, padding %d x %d)", label, plane, s, node->padding[0],
                    node->padding[1]);
    node->shape = (minima_shape){3, node->out, (int)o[0], (int)o[1]};
    node->n_weight = (size_t)n_weight;
    node->n_bias = node->has_bias ? (size_t)node->out : 0;
    return MINIMA_OK;
}

static double conv2d_flops(const minima_node *node, const minima_shape *in[2])
{
    return 2.0 * node->out * (double)(in[0]->c / node->groups) * node->kernel[0] *
           node->kernel[1] * (double)node->shape.h * node->shape.w;
}

static size_t conv2d_scratch_bytes(const minima_node *node, const minima_shape *in[2], size_t b)
{
    (void)b;
    conv_geom g = geom_of(node, in[0]);
    return plan_of(&g).total * sizeof(double);
}

/* ---- float64 ---------------------------------------------------------- */

/* col (C kh kw x P) = im2col(x) for one example. */
static void im2col_f64(const conv_geom *g, const double *x, double *col)
{
    for (int c = 0; c < g->C; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                double *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * (size_t)g->P;
                int offh = i * g->dh - g->ph, offw = j * g->dw - g->pw, ulo, uhi, vlo, vhi;
                valid_range(g->Ho, g->H, g->sh, offh, &ulo, &uhi);
                valid_range(g->Wo, g->W, g->sw, offw, &vlo, &vhi);
                const double *xc = x + (size_t)c * g->H * g->W;
                for (int u = 0; u < g->Ho; u++) {
                    double *d = row + (size_t)u * g->Wo;
                    if (u < ulo || u >= uhi) {
                        memset(d, 0, sizeof(double) * (size_t)g->Wo);
                        continue;
                    }
                    /* the image row; columns v sw + offw, >= 0 for v >= vlo */
                    const double *src = xc + (size_t)(u * g->sh + offh) * g->W;
                    for (int v = 0; v < vlo; v++) d[v] = 0.0;
                    if (g->sw == 1)
                        memcpy(d + vlo, src + (vlo + offw), sizeof(double) * (size_t)(vhi - vlo));
                    else
                        for (int v = vlo; v < vhi; v++) d[v] = src[v * g->sw + offw];
                    for (int v = vhi; v < g->Wo; v++) d[v] = 0.0;
                }
            }
}

/* gx += col2im(col) for one example. */
static void col2im_f64(const conv_geom *g, const double *col, double *gx)
{
    for (int c = 0; c < g->C; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const double *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * (size_t)g->P;
                int offh = i * g->dh - g->ph, offw = j * g->dw - g->pw, ulo, uhi, vlo, vhi;
                valid_range(g->Ho, g->H, g->sh, offh, &ulo, &uhi);
                valid_range(g->Wo, g->W, g->sw, offw, &vlo, &vhi);
                double *gc = gx + (size_t)c * g->H * g->W;
                for (int u = ulo; u < uhi; u++) {
                    const double *s = row + (size_t)u * g->Wo;
                    double *dst = gc + (size_t)(u * g->sh + offh) * g->W;
                    if (g->sw == 1)
                        for (int v = vlo; v < vhi; v++) dst[v + offw] += s[v];
                    else
                        for (int v = vlo; v < vhi; v++) dst[v * g->sw + offw] += s[v];
                }
            }
}

/* The columns of one example: x itself for a direct conv, else im2col. */
static const double *columns_f64(const conv_geom *g, const double *x, double *scratch)
{
    if (g->direct) return x;
    im2col_f64(g, x, scratch);
    return scratch;
}

/* Y_g (+)= M_g X_g for every group: out (O x P), M (O x K), X (G K x P). */
static void conv_gemm_f64(const conv_geom *g, const double *M, const double *X, double beta,
                          double *out)
{
    for (int k = 0; k < g->G; k++)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->Og, g->P, g->K, 1.0,
                    M + (size_t)k * g->Og * g->K, g->K, X + (size_t)k * g->K * g->P, g->P, beta,
                    out + (size_t)k * g->Og * g->P, g->P);
}

/* dW_g += GY_g X_g^T for every group: dW (O x K), GY (O x P), X (G K x P). */
static void weight_grad_f64(const conv_geom *g, const double *GY, const double *X, double *dW)
{
    for (int k = 0; k < g->G; k++)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->Og, g->K, g->P, 1.0,
                    GY + (size_t)k * g->Og * g->P, g->P, X + (size_t)k * g->K * g->P, g->P, 1.0,
                    dW + (size_t)k * g->Og * g->K, g->K);
}

/* D_g (+)= M_g^T GY_g for every group: D (G K x P), M (O x K), GY (O x P). */
static void input_cols_f64(const conv_geom *g, const double *M, const double *GY, double beta,
                           double *D)
{
    for (int k = 0; k < g->G; k++)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->K, g->P, g->Og, 1.0,
                    M + (size_t)k * g->Og * g->K, g->K, GY + (size_t)k * g->Og * g->P, g->P,
                    beta, D + (size_t)k * g->K * g->P, g->P);
}

/* out[o][p] += b[o], after the GEMM wrote out (while it is in cache; filling
 * out with b first and adding the GEMM into it was slower for small K) */
static void add_bias_f64(const conv_geom *g, const double *b, double *out)
{
    for (int o = 0; o < g->O; o++) {
        double *row = out + (size_t)o * g->P, bo = b[o];
        int p = 0;
        for (; p + 8 <= g->P; p += 8)   /* fixed-length blocks, which -O2 vectorizes */
            for (int q = 0; q < 8; q++) row[p + q] += bo;
        for (; p < g->P; p++) row[p] += bo;
    }
}

/* db[o] += sum_p G[o][p] */
static void bias_grad_f64(const conv_geom *g, const double *G, double *db)
{
    for (int o = 0; o < g->O; o++) {
        const double *row = G + (size_t)o * g->P;
        double s[4] = {0.0, 0.0, 0.0, 0.0};   /* four chains, not one long dependency */
        int p = 0;
        for (; p + 4 <= g->P; p += 4)
            for (int q = 0; q < 4; q++) s[q] += row[p + q];
        for (; p < g->P; p++) s[0] += row[p];
        db[o] += (s[0] + s[1]) + (s[2] + s[3]);
    }
}

/* gx += col2im(M^T GY) for one example; a direct conv adds into gx itself. */
static void input_grad_f64(const conv_geom *g, const double *M, const double *GY,
                           const double *M2, const double *GY2, double *scratch, double *gx)
{
    if (g->direct) {
        input_cols_f64(g, M, GY, 1.0, gx);
        if (M2) input_cols_f64(g, M2, GY2, 1.0, gx);
        return;
    }
    input_cols_f64(g, M, GY, 0.0, scratch);
    if (M2) input_cols_f64(g, M2, GY2, 1.0, scratch);
    col2im_f64(g, scratch, gx);
}

/* ---- the shifted plan (forward, rforward), float64 ----------------------- */

/* xp = x zero-padded: xp[c S + (h + ph) Wp + pw + w] = x[c][h][w], 0 elsewhere. */
static void pad_f64(const conv_geom *g, const double *x, double *xp)
{
    memset(xp, 0, sizeof(double) * (size_t)g->C * g->S);
    for (int c = 0; c < g->C; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(xp + (size_t)c * g->S + (size_t)(h + g->ph) * g->Wp + g->pw,
                   x + ((size_t)c * g->H + h) * g->W, sizeof(double) * (size_t)g->W);
}

/* y[o][u][v] = yp[o][u Wp + v] + b[o] for v < Wo (yp NULL: 0; b NULL: no bias). */
static void from_grid_f64(const conv_geom *g, const double *yp, const double *b, double *y)
{
    for (int o = 0; o < g->O; o++) {
        double bo = b ? b[o] : 0.0;
        for (int u = 0; u < g->Ho; u++) {
            double *d = y + (size_t)o * g->P + (size_t)u * g->Wo;
            if (!yp) {
                for (int v = 0; v < g->Wo; v++) d[v] = bo;
                continue;
            }
            const double *s = yp + (size_t)o * g->Q + (size_t)u * g->Wp;
            for (int v = 0; v < g->Wo; v++) d[v] = s[v] + bo;
        }
    }
}

/* wr[t][o][c] = w[o][c][t]: W_t (O x Cg) of each tap t = i kw + j. */
static void taps_f64(const conv_geom *g, const double *w, double *wr)
{
    for (int o = 0; o < g->O; o++)
        for (int c = 0; c < g->Cg; c++)
            for (int t = 0; t < g->T; t++)
                wr[((size_t)t * g->O + o) * g->Cg + c] = w[((size_t)o * g->Cg + c) * g->T + t];
}

/* Offset of tap t in a padded channel. */
static size_t tap_shift(const conv_geom *g, int t)
{
    return (size_t)(t / g->kw) * g->dh * g->Wp + (size_t)(t % g->kw) * g->dw;
}

/* yp_g (+)= sum_t W_t,g (xp_g shifted by tap t), over the Ho x Wp grid. */
static void shifted_conv_f64(const conv_geom *g, const double *wr, const double *xp, double beta,
                             double *yp)
{
    for (int k = 0; k < g->G; k++)
        for (int t = 0; t < g->T; t++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->Og, g->Q, g->Cg, 1.0,
                        wr + ((size_t)t * g->O + (size_t)k * g->Og) * g->Cg, g->Cg,
                        xp + (size_t)k * g->Cg * g->S + tap_shift(g, t), (int)g->S,
                        t ? 1.0 : beta, yp + (size_t)k * g->Og * g->Q, g->Q);
}

static void conv2d_forward(const layer_call_f64 *c, double *y)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    scratch_plan sp = plan_of(&g);
    double *scr = c->scratch;
    if (g.shifted) taps_f64(&g, c->w, scr + sp.wr);
    for (size_t n = 0; n < c->b; n++) {
        const double *xn = c->x[0] + n * g.in_size;
        double *yn = y + n * g.out_size;
        if (g.shifted) {
            pad_f64(&g, xn, scr + sp.xp);
            shifted_conv_f64(&g, scr + sp.wr, scr + sp.xp, 0.0, scr + sp.yp);
            from_grid_f64(&g, scr + sp.yp, c->bias, yn);
            continue;
        }
        conv_gemm_f64(&g, c->w, columns_f64(&g, xn, scr + sp.col), 0.0, yn);
        if (c->bias) add_bias_f64(&g, c->bias, yn);
    }
}

static void conv2d_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                            double *gb)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    double *col = c->scratch;
    for (size_t n = 0; n < c->b; n++) {
        const double *gyn = gy + n * g.out_size;
        if (gw) weight_grad_f64(&g, gyn, columns_f64(&g, c->x[0] + n * g.in_size, col), gw);
        if (gb) bias_grad_f64(&g, gyn, gb);
        if (gx[0]) input_grad_f64(&g, c->w, gyn, NULL, NULL, col, gx[0] + n * g.in_size);
    }
}

static void conv2d_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                            const double *vb, double *ry)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    scratch_plan sp = plan_of(&g);
    double *scr = c->scratch;
    if (g.shifted) {
        if (vw) taps_f64(&g, vw, scr + sp.wr2);
        if (rx[0]) taps_f64(&g, c->w, scr + sp.wr);
    }
    for (size_t n = 0; n < c->b; n++) {
        const double *xn = c->x[0] + n * g.in_size;
        double *ryn = ry + n * g.out_size;
        if (g.shifted) {
            double *xp = scr + sp.xp, *yp = scr + sp.yp;
            if (vw) {
                pad_f64(&g, xn, xp);
                shifted_conv_f64(&g, scr + sp.wr2, xp, 0.0, yp);
            }
            if (rx[0]) {
                pad_f64(&g, rx[0] + n * g.in_size, xp);
                shifted_conv_f64(&g, scr + sp.wr, xp, vw ? 1.0 : 0.0, yp);
            }
            from_grid_f64(&g, vw || rx[0] ? yp : NULL, vb, ryn);
            continue;
        }
        if (vw)
            conv_gemm_f64(&g, vw, columns_f64(&g, xn, scr + sp.col), 0.0, ryn);
        else
            memset(ryn, 0, sizeof(double) * g.out_size);
        if (vb) add_bias_f64(&g, vb, ryn);
        if (rx[0])
            conv_gemm_f64(&g, c->w, columns_f64(&g, rx[0] + n * g.in_size, scr + sp.col), 1.0,
                          ryn);
    }
}

static void conv2d_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                             const double *rx[2], const double *vw, int full, double *rgx[2],
                             double *hw, double *hb)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    double *col = c->scratch;
    int second = full && gy && vw;   /* V^T GY in the input signal */
    for (size_t n = 0; n < c->b; n++) {
        const double *rgyn = rgy + n * g.out_size;
        const double *gyn = gy ? gy + n * g.out_size : NULL;
        if (hw) {
            weight_grad_f64(&g, rgyn, columns_f64(&g, c->x[0] + n * g.in_size, col), hw);
            if (full && rx[0] && gyn)
                weight_grad_f64(&g, gyn, columns_f64(&g, rx[0] + n * g.in_size, col), hw);
        }
        if (hb) bias_grad_f64(&g, rgyn, hb);
        if (rgx[0])
            input_grad_f64(&g, c->w, rgyn, second ? vw : NULL, gyn, col, rgx[0] + n * g.in_size);
    }
}

/* ---- float32: the same R-passes in single precision -------------------- */

static void im2col_f32(const conv_geom *g, const float *x, float *col)
{
    for (int c = 0; c < g->C; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * (size_t)g->P;
                int offh = i * g->dh - g->ph, offw = j * g->dw - g->pw, ulo, uhi, vlo, vhi;
                valid_range(g->Ho, g->H, g->sh, offh, &ulo, &uhi);
                valid_range(g->Wo, g->W, g->sw, offw, &vlo, &vhi);
                const float *xc = x + (size_t)c * g->H * g->W;
                for (int u = 0; u < g->Ho; u++) {
                    float *d = row + (size_t)u * g->Wo;
                    if (u < ulo || u >= uhi) {
                        memset(d, 0, sizeof(float) * (size_t)g->Wo);
                        continue;
                    }
                    /* the image row; columns v sw + offw, >= 0 for v >= vlo */
                    const float *src = xc + (size_t)(u * g->sh + offh) * g->W;
                    for (int v = 0; v < vlo; v++) d[v] = 0.0f;
                    if (g->sw == 1)
                        memcpy(d + vlo, src + (vlo + offw), sizeof(float) * (size_t)(vhi - vlo));
                    else
                        for (int v = vlo; v < vhi; v++) d[v] = src[v * g->sw + offw];
                    for (int v = vhi; v < g->Wo; v++) d[v] = 0.0f;
                }
            }
}

static void col2im_f32(const conv_geom *g, const float *col, float *gx)
{
    for (int c = 0; c < g->C; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * (size_t)g->P;
                int offh = i * g->dh - g->ph, offw = j * g->dw - g->pw, ulo, uhi, vlo, vhi;
                valid_range(g->Ho, g->H, g->sh, offh, &ulo, &uhi);
                valid_range(g->Wo, g->W, g->sw, offw, &vlo, &vhi);
                float *gc = gx + (size_t)c * g->H * g->W;
                for (int u = ulo; u < uhi; u++) {
                    const float *s = row + (size_t)u * g->Wo;
                    float *dst = gc + (size_t)(u * g->sh + offh) * g->W;
                    if (g->sw == 1)
                        for (int v = vlo; v < vhi; v++) dst[v + offw] += s[v];
                    else
                        for (int v = vlo; v < vhi; v++) dst[v * g->sw + offw] += s[v];
                }
            }
}

static const float *columns_f32(const conv_geom *g, const float *x, float *scratch)
{
    if (g->direct) return x;
    im2col_f32(g, x, scratch);
    return scratch;
}

static void conv_gemm_f32(const conv_geom *g, const float *M, const float *X, float beta,
                          float *out)
{
    for (int k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->Og, g->P, g->K, 1.0f,
                    M + (size_t)k * g->Og * g->K, g->K, X + (size_t)k * g->K * g->P, g->P, beta,
                    out + (size_t)k * g->Og * g->P, g->P);
}

static void weight_grad_f32(const conv_geom *g, const float *GY, const float *X, float *dW)
{
    for (int k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->Og, g->K, g->P, 1.0f,
                    GY + (size_t)k * g->Og * g->P, g->P, X + (size_t)k * g->K * g->P, g->P, 1.0f,
                    dW + (size_t)k * g->Og * g->K, g->K);
}

static void input_cols_f32(const conv_geom *g, const float *M, const float *GY, float beta,
                           float *D)
{
    for (int k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->K, g->P, g->Og, 1.0f,
                    M + (size_t)k * g->Og * g->K, g->K, GY + (size_t)k * g->Og * g->P, g->P,
                    beta, D + (size_t)k * g->K * g->P, g->P);
}

static void add_bias_f32(const conv_geom *g, const float *b, float *out)
{
    for (int o = 0; o < g->O; o++) {
        float *row = out + (size_t)o * g->P, bo = b[o];
        int p = 0;
        for (; p + 8 <= g->P; p += 8)   /* fixed-length blocks, which -O2 vectorizes */
            for (int q = 0; q < 8; q++) row[p + q] += bo;
        for (; p < g->P; p++) row[p] += bo;
    }
}

static void bias_grad_f32(const conv_geom *g, const float *G, float *db)
{
    for (int o = 0; o < g->O; o++) {
        const float *row = G + (size_t)o * g->P;
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};   /* four chains, as in float64 */
        int p = 0;
        for (; p + 4 <= g->P; p += 4)
            for (int q = 0; q < 4; q++) s[q] += row[p + q];
        for (; p < g->P; p++) s[0] += row[p];
        db[o] += (s[0] + s[1]) + (s[2] + s[3]);
    }
}

static void input_grad_f32(const conv_geom *g, const float *M, const float *GY, const float *M2,
                           const float *GY2, float *scratch, float *gx)
{
    if (g->direct) {
        input_cols_f32(g, M, GY, 1.0f, gx);
        if (M2) input_cols_f32(g, M2, GY2, 1.0f, gx);
        return;
    }
    input_cols_f32(g, M, GY, 0.0f, scratch);
    if (M2) input_cols_f32(g, M2, GY2, 1.0f, scratch);
    col2im_f32(g, scratch, gx);
}

/* ---- the shifted plan (forward, rforward), float32 ----------------------- */

/* xp = x zero-padded: xp[c S + (h + ph) Wp + pw + w] = x[c][h][w], 0 elsewhere. */
static void pad_f32(const conv_geom *g, const float *x, float *xp)
{
    memset(xp, 0, sizeof(float) * (size_t)g->C * g->S);
    for (int c = 0; c < g->C; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(xp + (size_t)c * g->S + (size_t)(h + g->ph) * g->Wp + g->pw,
                   x + ((size_t)c * g->H + h) * g->W, sizeof(float) * (size_t)g->W);
}

/* y[o][u][v] = yp[o][u Wp + v] + b[o] for v < Wo (yp NULL: 0; b NULL: no bias). */
static void from_grid_f32(const conv_geom *g, const float *yp, const float *b, float *y)
{
    for (int o = 0; o < g->O; o++) {
        float bo = b ? b[o] : 0.0f;
        for (int u = 0; u < g->Ho; u++) {
            float *d = y + (size_t)o * g->P + (size_t)u * g->Wo;
            if (!yp) {
                for (int v = 0; v < g->Wo; v++) d[v] = bo;
                continue;
            }
            const float *s = yp + (size_t)o * g->Q + (size_t)u * g->Wp;
            for (int v = 0; v < g->Wo; v++) d[v] = s[v] + bo;
        }
    }
}

/* wr[t][o][c] = w[o][c][t]: W_t (O x Cg) of each tap t = i kw + j. */
static void taps_f32(const conv_geom *g, const float *w, float *wr)
{
    for (int o = 0; o < g->O; o++)
        for (int c = 0; c < g->Cg; c++)
            for (int t = 0; t < g->T; t++)
                wr[((size_t)t * g->O + o) * g->Cg + c] = w[((size_t)o * g->Cg + c) * g->T + t];
}

/* yp_g (+)= sum_t W_t,g (xp_g shifted by tap t), over the Ho x Wp grid. */
static void shifted_conv_f32(const conv_geom *g, const float *wr, const float *xp, float beta,
                             float *yp)
{
    for (int k = 0; k < g->G; k++)
        for (int t = 0; t < g->T; t++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->Og, g->Q, g->Cg, 1.0f,
                        wr + ((size_t)t * g->O + (size_t)k * g->Og) * g->Cg, g->Cg,
                        xp + (size_t)k * g->Cg * g->S + tap_shift(g, t), (int)g->S,
                        t ? 1.0f : beta, yp + (size_t)k * g->Og * g->Q, g->Q);
}
static void conv2d_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                const float *vb, float *ry)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    scratch_plan sp = plan_of(&g);
    float *scr = c->scratch;
    if (g.shifted) {
        if (vw) taps_f32(&g, vw, scr + sp.wr2);
        if (rx[0]) taps_f32(&g, c->w, scr + sp.wr);
    }
    for (size_t n = 0; n < c->b; n++) {
        const float *xn = c->x[0] + n * g.in_size;
        float *ryn = ry + n * g.out_size;
        if (g.shifted) {
            float *xp = scr + sp.xp, *yp = scr + sp.yp;
            if (vw) {
                pad_f32(&g, xn, xp);
                shifted_conv_f32(&g, scr + sp.wr2, xp, 0.0f, yp);
            }
            if (rx[0]) {
                pad_f32(&g, rx[0] + n * g.in_size, xp);
                shifted_conv_f32(&g, scr + sp.wr, xp, vw ? 1.0f : 0.0f, yp);
            }
            from_grid_f32(&g, vw || rx[0] ? yp : NULL, vb, ryn);
            continue;
        }
        if (vw)
            conv_gemm_f32(&g, vw, columns_f32(&g, xn, scr + sp.col), 0.0f, ryn);
        else
            memset(ryn, 0, sizeof(float) * g.out_size);
        if (vb) add_bias_f32(&g, vb, ryn);
        if (rx[0])
            conv_gemm_f32(&g, c->w, columns_f32(&g, rx[0] + n * g.in_size, scr + sp.col), 1.0f,
                          ryn);
    }
}

static void conv2d_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                 const float *rx[2], const float *vw, int full, float *rgx[2],
                                 float *hw, float *hb)
{
    conv_geom g = geom_of(c->node, c->in_shape[0]);
    int second = full && gy && vw;
    for (size_t n = 0; n < c->b; n++) {
        const float *rgyn = rgy + n * g.out_size;
        const float *gyn = gy ? gy + n * g.out_size : NULL;
        if (hw) {
            weight_grad_f32(&g, rgyn, columns_f32(&g, c->x[0] + n * g.in_size, c->scratch), hw);
            if (full && rx[0] && gyn)
                weight_grad_f32(&g, gyn, columns_f32(&g, rx[0] + n * g.in_size, c->scratch), hw);
        }
        if (hb) bias_grad_f32(&g, rgyn, hb);
        if (rgx[0])
            input_grad_f32(&g, c->w, rgyn, second ? vw : NULL, gyn, c->scratch,
                           rgx[0] + n * g.in_size);
    }
}

const layer_kind layer_conv2d = {
    .kind = MINIMA_NODE_CONV2D,
    .name = "conv2d",
    .n_inputs = 1,
    .has_params = 1,
    .needs = LAYER_NEEDS_X | LAYER_NEEDS_GY,
    .infer = conv2d_infer,
    .scratch_bytes = conv2d_scratch_bytes,
    .flops = conv2d_flops,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .rforward = conv2d_rforward,
    .rbackward = conv2d_rbackward,
    .rforward_f32 = conv2d_rforward_f32,
    .rbackward_f32 = conv2d_rbackward_f32,
};
