/* net_rpass.h — the per-batch kernels of net.c, written once and
 * instantiated twice: in float64 (every result minima reports) and in
 * float32 (curvature products with MINIMA_NET_F32, for speed).
 *
 * Included by net.c only, with
 *     REAL   the element type              double / float
 *     SFX(x) the instance's name of x      x##_f64 / x##_f32
 *     GEMM   the BLAS routine              cblas_dgemm / cblas_sgemm
 * and `struct minima_net` and SFX(rpass) (its precision-specific data and
 * workspaces) already defined. Layer indices run k = 1..K as in docs/engine.md. */

static const REAL *SFX(wview)(const minima_net *net, const REAL *theta, int k)
{
    return theta + net->model->weight_offset[k - 1];
}

static const REAL *SFX(bview)(const minima_net *net, const REAL *theta, int k)
{
    return net->model->has_bias ? theta + net->model->bias_offset[k - 1] : NULL;
}

/* x .*= phi'(Z), with phi'(Z) recovered from A = phi(Z). */
static void SFX(times_dphi)(const minima_net *net, const REAL *a, REAL *x, size_t n)
{
    switch (net->model->activation) {
    case MINIMA_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = a[i] > 0 ? x[i] : (REAL)0;
        break;
    case MINIMA_ACT_LEAKY_RELU: {
        REAL s = (REAL)net->model->leaky_slope;
        for (size_t i = 0; i < n; i++) x[i] = a[i] > 0 ? x[i] : s * x[i];
        break;
    }
    case MINIMA_ACT_TANH:
        for (size_t i = 0; i < n; i++) x[i] *= (REAL)1 - a[i] * a[i];
        break;
    }
}

/* out (b, m) = in (b, n) M^T (+ beta out) for M (m, n) row-major, then + bias rows. */
static void SFX(linear_forward)(size_t b, int m, int n, const REAL *in, const REAL *M,
                                const REAL *bias, REAL beta, REAL *out)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, m, n, 1, in, n, M, n, beta, out, m);
    if (bias)
        for (size_t i = 0; i < b; i++) {
            REAL *row = out + i * (size_t)m;
            for (int j = 0; j < m; j++) row[j] += bias[j];
        }
}

/* dW (m, n) += G^T (m x b) A (b x n) and db (m) += colsum(G). */
static void SFX(linear_backward_params)(size_t b, int m, int n, const REAL *G, const REAL *A,
                                        REAL *dW, REAL *db)
{
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)b, 1, G, m, A, n, 1, dW, n);
    if (db)
        for (size_t i = 0; i < b; i++) {
            const REAL *row = G + i * (size_t)m;
            for (int j = 0; j < m; j++) db[j] += row[j];
        }
}

/* R-forward pass of rows [s, s+b) along v: rz[k] = R{Z_k}, ra[k] = R{A_k}. */
static void SFX(r_forward)(const minima_net *net, SFX(rpass) *w, const REAL *v, size_t s,
                           size_t b, REAL *const *act)
{
    const REAL *x = w->x + s * (size_t)net->d[0];
    for (int k = 1; k <= net->K; k++) {
        const REAL *in = k == 1 ? x : act[k - 1];
        SFX(linear_forward)(b, net->d[k], net->d[k - 1], in, SFX(wview)(net, v, k),
                            SFX(bview)(net, v, k), 0, w->rz[k]);
        if (k > 1)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, net->d[k], net->d[k - 1], 1,
                 w->ra[k - 1], net->d[k - 1], SFX(wview)(net, w->theta0, k), net->d[k - 1], 1,
                 w->rz[k], net->d[k]);
        if (k < net->K) {
            size_t n = b * (size_t)net->d[k];
            memcpy(w->ra[k], w->rz[k], n * sizeof(REAL));
            SFX(times_dphi)(net, act[k], w->ra[k], n);
        }
    }
}

/* R{G_K} from R{Z_K}: the output Hessian of the loss applied row by row;
 * prob (b, d_K) is the softmax for cross-entropy. */
static void SFX(r_output_signal)(const minima_net *net, SFX(rpass) *w, size_t b, const REAL *prob)
{
    int dK = net->d[net->K];
    const REAL *rz = w->rz[net->K];
    REAL *rg = w->rg[net->K];
    REAL inv_n = (REAL)(1.0 / (double)net->N);
    if (net->params.loss == MINIMA_LOSS_CE) {
        for (size_t i = 0; i < b; i++) {
            const REAL *p = prob + i * (size_t)dK, *r = rz + i * (size_t)dK;
            REAL pr = 0;
            for (int j = 0; j < dK; j++) pr += p[j] * r[j];
            for (int j = 0; j < dK; j++) rg[i * (size_t)dK + (size_t)j] = p[j] * (r[j] - pr) * inv_n;
        }
    } else {
        REAL scale = (REAL)(2.0 / ((double)net->N * dK));
        for (size_t i = 0; i < b * (size_t)dK; i++) rg[i] = scale * rz[i];
    }
}

/* One batch of a Hessian (full = 1) or Gauss-Newton (full = 0) product,
 * accumulated into hv. act, sig: A_k and G_k of the batch at the anchor. */
static void SFX(r_backward)(const minima_net *net, SFX(rpass) *w, const REAL *v, size_t s,
                            size_t b, REAL *const *act, REAL *const *sig, int full, REAL *hv)
{
    const REAL *x = w->x + s * (size_t)net->d[0];
    for (int k = net->K; k >= 1; k--) {
        int m = net->d[k], n = net->d[k - 1];
        const REAL *in = k == 1 ? x : act[k - 1];
        REAL *hw = hv + net->model->weight_offset[k - 1];
        REAL *hb = net->model->has_bias ? hv + net->model->bias_offset[k - 1] : NULL;
        SFX(linear_backward_params)(b, m, n, w->rg[k], in, hw, hb);
        if (k == 1) break;
        if (full)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)b, 1, sig[k], m, w->ra[k - 1],
                 n, 1, hw, n);
        /* R{G_{k-1}} = (R{G_k} W_k + G_k V_k) .* phi'(Z_{k-1}) [+ tanh's phi'' term] */
        REAL *rgp = w->rg[k - 1];
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, n, m, 1, w->rg[k], m,
             SFX(wview)(net, w->theta0, k), n, 0, rgp, n);
        if (full)
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, n, m, 1, sig[k], m,
                 SFX(wview)(net, v, k), n, 1, rgp, n);
        size_t cnt = b * (size_t)n;
        SFX(times_dphi)(net, act[k - 1], rgp, cnt);
        if (full && net->model->activation == MINIMA_ACT_TANH) {
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, n, m, 1, sig[k], m,
                 SFX(wview)(net, w->theta0, k), n, 0, w->gw, n);
            const REAL *a = act[k - 1], *rz = w->rz[k - 1];
            for (size_t i = 0; i < cnt; i++)
                rgp[i] += w->gw[i] * ((REAL)-2 * a[i] * ((REAL)1 - a[i] * a[i])) * rz[i];
        }
    }
}
