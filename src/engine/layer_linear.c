/* layer_linear.c — y = W x + b (nn.Linear): W is [out, in] row-major.
 *
 * For a batch X (b, in), one example per row: Y = X W^T + 1 b^T. Every
 * pass is one or two GEMMs; the bias is a row added or a column sum, both
 * threaded and vectorized (engine/layer_elementwise.h). */
#include <cblas.h>
#include <stdio.h>

#include "engine/layer.h"
#include "engine/layer_elementwise.h"

static minima_status linear_infer(minima_node *node, const minima_shape *in[2], const char *label)
{
    if (in[0]->rank != 1) {
        char s[64];
        minima_shape_string(*in[0], s, sizeof s);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: a linear layer needs a flat input, and its input is %s "
                    "(add a flatten or gap before it)", label, s);
    }
    if (node->out < 1 || node->out > 100000000)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: a linear layer needs between 1 and 1e8 outputs, got %d",
                    label, node->out);
    node->shape = (minima_shape){1, node->out, 1, 1};
    node->n_weight = (size_t)node->out * (size_t)in[0]->c;
    node->n_bias = node->has_bias ? (size_t)node->out : 0;
    return MINIMA_OK;
}

static double linear_flops(const minima_node *node, const minima_shape *in[2])
{
    return 2.0 * node->out * (double)in[0]->c;
}

/* ---- float64 ---------------------------------------------------------- */

/* out (b, m) = in (b, n) M^T + beta out, then + bias on every row. */
static void affine_f64(size_t b, int m, int n, const double *in, const double *M,
                       const double *bias, double beta, double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, m, n, 1.0, in, n, M, n, beta,
                out, m);
    if (bias) ew_bias_rows_f64(b, (size_t)m, bias, out);
}

/* dW (m, n) += G^T A;  db (m) += column sums of G. */
static void weight_grad_f64(size_t b, int m, int n, const double *G, const double *A, double *dW,
                            double *db)
{
    if (dW)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)b, 1.0, G, m, A, n, 1.0,
                    dW, n);
    if (db) ew_colsum_f64(b, (size_t)m, G, db);
}

/* gx (b, n) += G (b, m) M (m, n). */
static void input_grad_f64(size_t b, int m, int n, const double *G, const double *M, double *gx)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, n, m, 1.0, G, m, M, n, 1.0,
                gx, n);
}

static void linear_forward(const layer_call_f64 *c, double *y)
{
    affine_f64(c->b, c->node->out, c->in_shape[0]->c, c->x[0], c->w, c->bias, 0.0, y);
}

static void linear_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                            double *gb)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    weight_grad_f64(c->b, m, n, gy, c->x[0], gw, gb);
    if (gx[0]) input_grad_f64(c->b, m, n, gy, c->w, gx[0]);
}

static void linear_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                            const double *vb, double *ry)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    affine_f64(c->b, m, n, c->x[0], vw, vb, 0.0, ry);               /* X V^T + 1 vb^T */
    if (rx[0])
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->b, m, n, 1.0, rx[0], n,
                    c->w, n, 1.0, ry, m);                             /* + R{X} W^T */
}

static void linear_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                             const double *rx[2], const double *vw, int full, double *rgx[2],
                             double *hw, double *hb)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    weight_grad_f64(c->b, m, n, rgy, c->x[0], hw, hb);               /* R{G}^T X */
    if (full && rx[0] && hw)
        weight_grad_f64(c->b, m, n, gy, rx[0], hw, NULL);            /* + G^T R{X} */
    if (rgx[0]) {
        input_grad_f64(c->b, m, n, rgy, c->w, rgx[0]);               /* R{G} W */
        if (full) input_grad_f64(c->b, m, n, gy, vw, rgx[0]);        /* + G V */
    }
}

/* ---- blocks of nb directions (engine/layer.h): R-tensors (b, nb, size) -- */

/* R{Y} = X [V_1 ... V_nb]^T + [vb_1 ... vb_nb] as one GEMM with nb*out
 * columns (the (nb, out, in) stack of V is an (nb*out, in) matrix, and row r
 * of the (b, nb*out) result is example r's nb directions), then
 * + R{X} W^T as one GEMM with b*nb rows. */
static void linear_rforward_block(const layer_call_f64 *c, size_t nb, const double *rx[2],
                                  const double *vw, const double *vb, double *ry)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    affine_f64(c->b, (int)nb * m, n, c->x[0], vw, vb, 0.0, ry);
    if (rx[0])
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(c->b * nb), m, n, 1.0, rx[0],
                    n, c->w, n, 1.0, ry, m);
}

/* R{G}^T X for all directions is one GEMM ((b, nb*out) transposed times X);
 * R{G} W one GEMM with b*nb rows. The second-order terms G^T R{X}_j and
 * G V_j pair the one G with each direction: a GEMM per direction, reading
 * R{X}_j and writing R{G_x}_j in place with leading dimension nb*in. */
static void linear_rbackward_block(const layer_call_f64 *c, size_t nb, const double *gy,
                                   const double *rgy, const double *rx[2], const double *vw,
                                   int full, double *rgx[2], double *hw, double *hb)
{
    int m = c->node->out, n = c->in_shape[0]->c, b = (int)c->b, ld = (int)nb * n;
    weight_grad_f64(c->b, (int)nb * m, n, rgy, c->x[0], hw, hb);
    if (full && rx[0] && hw)
        for (size_t j = 0; j < nb; j++)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, b, 1.0, gy, m,
                        rx[0] + j * (size_t)n, ld, 1.0, hw + j * (size_t)m * (size_t)n, n);
    if (rgx[0]) {
        input_grad_f64(c->b * nb, m, n, rgy, c->w, rgx[0]);
        if (full)
            for (size_t j = 0; j < nb; j++)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, n, m, 1.0, gy, m,
                            vw + j * (size_t)m * (size_t)n, n, 1.0, rgx[0] + j * (size_t)n, ld);
    }
}

/* ---- float32: the same R-passes in single precision -------------------- */

static void affine_f32(size_t b, int m, int n, const float *in, const float *M, const float *bias,
                       float beta, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, m, n, 1.0f, in, n, M, n, beta,
                out, m);
    if (bias) ew_bias_rows_f32(b, (size_t)m, bias, out);
}

static void weight_grad_f32(size_t b, int m, int n, const float *G, const float *A, float *dW,
                            float *db)
{
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)b, 1.0f, G, m, A, n, 1.0f,
                    dW, n);
    if (db) ew_colsum_f32(b, (size_t)m, G, db);
}

static void input_grad_f32(size_t b, int m, int n, const float *G, const float *M, float *gx)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, n, m, 1.0f, G, m, M, n, 1.0f,
                gx, n);
}

static void linear_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                const float *vb, float *ry)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    affine_f32(c->b, m, n, c->x[0], vw, vb, 0.0f, ry);
    if (rx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->b, m, n, 1.0f, rx[0], n,
                    c->w, n, 1.0f, ry, m);
}

static void linear_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                 const float *rx[2], const float *vw, int full, float *rgx[2],
                                 float *hw, float *hb)
{
    int m = c->node->out, n = c->in_shape[0]->c;
    weight_grad_f32(c->b, m, n, rgy, c->x[0], hw, hb);
    if (full && rx[0] && hw) weight_grad_f32(c->b, m, n, gy, rx[0], hw, NULL);
    if (rgx[0]) {
        input_grad_f32(c->b, m, n, rgy, c->w, rgx[0]);
        if (full) input_grad_f32(c->b, m, n, gy, vw, rgx[0]);
    }
}

const layer_kind layer_linear = {
    .kind = MINIMA_NODE_LINEAR,
    .name = "linear",
    .n_inputs = 1,
    .has_params = 1,
    .needs = LAYER_NEEDS_X | LAYER_NEEDS_GY,
    .infer = linear_infer,
    .flops = linear_flops,
    .forward = linear_forward,
    .backward = linear_backward,
    .rforward = linear_rforward,
    .rbackward = linear_rbackward,
    .rforward_f32 = linear_rforward_f32,
    .rbackward_f32 = linear_rbackward_f32,
    .rforward_block = linear_rforward_block,
    .rbackward_block = linear_rbackward_block,
};
