/* bench_plot_gallery.c — writes a gallery of example figures (one per use
 * of the plot module: spectra, audits, landscapes, the paper's Figs 1-5)
 * into a directory, to look at. Built, never run by the tests.
 *
 *     build/bench_plot_gallery DIR      (DIR must exist)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "minima/plot.h"

#define N 400

static const char *out_dir;

static int fail(const char *what, minima_status s)
{
    fprintf(stderr, "bench_plot_gallery: %s: %s: %s\n", what, minima_strerror(s),
            minima_last_error());
    return 1;
}

#define TRY(expr) do { minima_status s_ = (expr); if (s_ != MINIMA_OK) return fail(#expr, s_); } while (0)

static int render(minima_figure *fig, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    minima_status s = minima_plot_render(fig, path);
    minima_figure_destroy(fig);
    if (s != MINIMA_OK) return fail(path, s);
    fprintf(stderr, "wrote %s\n", path);
    return 0;
}

/* Top of a Hessian spectrum, before and after a layer rescaling (log y). */
static int spectrum(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 800, 560, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Top of the Hessian spectrum"));
    TRY(minima_panel_set_labels(p, "index i", "eigenvalue λ#di#u"));
    TRY(minima_panel_set_log(p, 0, 1));
    TRY(minima_panel_set_grid(p, 1));
    double i[30], a[30], b[30];
    for (int k = 0; k < 30; k++) {
        i[k] = k + 1;
        a[k] = 42.0 * pow(k + 1.0, -1.6);
        b[k] = 42.0 * 16.0 * pow(k + 1.0, -1.6) * (1 + 0.1 * sin(k));
    }
    minima_style st = minima_style_default();
    st.marker = MINIMA_MARKER_CIRCLE;
    st.label = "trained network";
    TRY(minima_panel_line(p, i, a, 30, &st));
    st.marker = MINIMA_MARKER_SQUARE;
    st.dash = MINIMA_DASH_DASHED;
    st.label = "after rescaling, α = 4";
    TRY(minima_panel_line(p, i, b, 30, &st));
    minima_style ref = minima_style_default();
    ref.color = MINIMA_COLOR_GREY;
    ref.dash = MINIMA_DASH_DOTTED;
    ref.label = "2 / learning rate";
    TRY(minima_panel_hline(p, 20.0, &ref));
    return render(fig, "spectrum_log.png");
}

/* Spectral density before / after rescaling, side by side. */
static int density(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 2, 1200, 480, &fig));
    TRY(minima_figure_set_title(fig, "Hessian spectral density (stochastic Lanczos quadrature)"));
    double x[N], y[N], y2[N];
    for (int k = 0; k < N; k++) {
        x[k] = -5 + 60.0 * k / (N - 1);
        y[k] = exp(-x[k] * x[k] / 0.5) + 1e-4 * exp(-(x[k] - 20) * (x[k] - 20) / 2) +
               3e-5 * exp(-(x[k] - 38) * (x[k] - 38) / 1);
        y2[k] = exp(-x[k] * x[k] / 0.2) + 1e-4 * exp(-(x[k] - 4) * (x[k] - 4) / 0.5) +
                1e-5 * exp(-(x[k] - 50) * (x[k] - 50) / 2) + 1e-9;
    }
    const char *titles[2] = {"before rescaling", "after rescaling (α = 5)"};
    double *ys[2] = {y, y2};
    double tops[2][2] = {{20, 38}, {4, 50}};
    for (int c = 0; c < 2; c++) {
        minima_panel *p = minima_figure_panel(fig, 0, c);
        TRY(minima_panel_set_title(p, titles[c]));
        TRY(minima_panel_set_labels(p, "eigenvalue λ", "density"));
        TRY(minima_panel_set_log(p, 0, 1));
        TRY(minima_panel_set_yrange(p, 1e-8, NAN));
        double lo[N], hi[N];
        for (int k = 0; k < N; k++) {
            lo[k] = ys[c][k] / 3;
            hi[k] = ys[c][k] * 3;
        }
        minima_style band = minima_style_default();
        band.fill = MINIMA_COLOR_SKYBLUE;
        band.alpha = 0.35;
        band.label = "spread over 10 runs";
        TRY(minima_panel_band(p, x, lo, hi, N, &band));
        minima_style st = minima_style_default();
        st.color = MINIMA_COLOR_BLUE;
        st.label = "density";
        TRY(minima_panel_line(p, x, ys[c], N, &st));
        for (int t = 0; t < 2; t++) {
            minima_style r = minima_style_default();
            r.color = MINIMA_COLOR_VERMILLION;
            r.dash = MINIMA_DASH_DASHED;
            r.width = 1.2;
            r.label = t == 0 ? "top eigenvalues" : NULL;
            TRY(minima_panel_vline(p, tops[c][t], &r));
        }
    }
    return render(fig, "density_1x2.png");
}

/* Sharpness measures as a function of the rescaling α (log-log). */
static int audit(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 1000, 560, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Invariance audit"));
    TRY(minima_panel_set_labels(p, "rescaling factor α", "measure / measure at α = 1"));
    TRY(minima_panel_set_log(p, 1, 1));
    TRY(minima_panel_set_legend(p, MINIMA_LEGEND_OUTSIDE_RIGHT));
    double a[25], m[4][25];
    for (int k = 0; k < 25; k++) {
        a[k] = pow(10.0, -3 + 6.0 * k / 24);
        m[0][k] = a[k] * a[k] > 1 / (a[k] * a[k]) ? a[k] * a[k] : 1 / (a[k] * a[k]);
        m[1][k] = a[k] > 1 / a[k] ? a[k] : 1 / a[k];
        m[2][k] = 1.0;
        m[3][k] = 1.0 + 0.05 * sin(3 * k);
    }
    const char *names[4] = {"λ#dmax#u of the Hessian", "ε-sharpness (Keskar)", "PAC-Bayes (normalized)",
                            "Fisher-Rao norm"};
    minima_marker mk[4] = {MINIMA_MARKER_CIRCLE, MINIMA_MARKER_TRIANGLE, MINIMA_MARKER_SQUARE,
                           MINIMA_MARKER_DIAMOND};
    for (int s = 0; s < 4; s++) {
        minima_style st = minima_style_default();
        st.marker = mk[s];
        st.label = names[s];
        TRY(minima_panel_line(p, a, m[s], 25, &st));
    }
    TRY(minima_panel_vline(p, 1.0, NULL));
    return render(fig, "audit_loglog.png");
}

/* A 2-D loss landscape: shaded log loss with contour lines. */
static int landscape(void)
{
    enum { NX = 121, NY = 101 };
    static double z[NX * NY];
    double x[NX], y[NY];
    for (int i = 0; i < NX; i++) x[i] = -1.5 + 3.0 * i / (NX - 1);
    for (int j = 0; j < NY; j++) y[j] = -1.0 + 2.0 * j / (NY - 1);
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
            double u = x[i], v = y[j];
            z[j * NX + i] = 0.02 + u * u * (1 + 0.5 * v) * (1 + 0.5 * v) + 4 * v * v +
                            0.8 * sin(3 * u) * sin(2 * v) * sin(3 * u) * sin(2 * v);
        }
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 820, 620, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Loss landscape, filter-normalized directions"));
    TRY(minima_panel_set_labels(p, "direction 1", "direction 2"));
    minima_map_options o = minima_map_default_options();
    o.log_values = 1;
    o.colorbar_label = "training loss";
    TRY(minima_panel_map(p, z, x, NX, y, NY, &o));
    double lv[6] = {0.05, 0.1, 0.3, 1, 3, 10};
    minima_style st = minima_style_default();
    st.color = MINIMA_COLOR_WHITE;
    st.width = 1.0;
    TRY(minima_panel_contour(p, z, x, NX, y, NY, lv, 6, &st));
    minima_style mk = minima_style_default();
    mk.color = MINIMA_COLOR_VERMILLION;
    mk.marker = MINIMA_MARKER_CROSS;
    mk.marker_size = 1.6;
    mk.label = "trained θ";
    double zero = 0;
    TRY(minima_panel_scatter(p, &zero, &zero, 1, &mk));
    char path[1024];
    snprintf(path, sizeof path, "%s/landscape_2d.pdf", out_dir);
    TRY(minima_plot_render(fig, path));   /* maps in a vector format too */
    snprintf(path, sizeof path, "%s/landscape_2d.svg", out_dir);
    TRY(minima_plot_render(fig, path));
    return render(fig, "landscape_2d.png");
}

/* Paper Fig. 1: a 1-D loss, the region below L(θ) + ε (volume flatness) and
 * the ε-sharpness. */
static int fig1(void)
{
    double t[N], l[N];
    for (int k = 0; k < N; k++) {
        t[k] = -2.5 + 5.0 * k / (N - 1);
        l[k] = 0.1 + 0.6 * t[k] * t[k] - 0.05 * t[k] * t[k] * t[k] * t[k] * 0.9 +
               0.02 * t[k] * t[k] * t[k] * t[k] * t[k] * t[k] / 6;
    }
    double eps = 0.5, w = sqrt(eps / 0.6);
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 800, 560, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Fig. 1 — flatness and ε-sharpness of a 1-D minimum"));
    TRY(minima_panel_set_labels(p, "parameter θ", "loss L(θ)"));
    minima_style box = minima_style_default();
    box.color = MINIMA_COLOR_SKYBLUE;
    box.alpha = 0.25;
    box.label = "volume below L(θ*) + ε";
    TRY(minima_panel_rect(p, -w, 0.1, w, 0.1 + eps, &box));
    minima_style st = minima_style_default();
    st.color = MINIMA_COLOR_BLACK;
    st.width = 2.0;
    st.label = "L(θ)";
    TRY(minima_panel_line(p, t, l, N, &st));
    minima_style ref = minima_style_default();
    ref.color = MINIMA_COLOR_VERMILLION;
    ref.dash = MINIMA_DASH_DASHED;
    ref.label = "L(θ*) + ε";
    TRY(minima_panel_hline(p, 0.1 + eps, &ref));
    minima_style tx = minima_style_default();
    TRY(minima_panel_text(p, 0, 0.1 + eps / 2, "flat region", 0.5, &tx));
    TRY(minima_panel_text(p, 0, 0.1 + eps + 0.45, "ε-sharpness: the rise of L within ±ε", 0.5, &tx));
    return render(fig, "fig1_1d.png");
}

/* Paper Fig. 2: level sets of the loss of a one-unit network y = θ2 relu(θ1 x)
 * and the hyperbolas θ1 θ2 = const of equal functions. */
static int fig2(void)
{
    enum { M = 161 };
    static double z[M * M];
    double x[M];
    for (int i = 0; i < M; i++) x[i] = 0.05 + 2.95 * i / (M - 1);
    for (int j = 0; j < M; j++)
        for (int i = 0; i < M; i++) {
            double d = x[i] * x[j] - 1.0;
            z[j * M + i] = d * d;
        }
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 680, 640, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Fig. 2 — level sets along an orbit"));
    TRY(minima_panel_set_labels(p, "θ#d1#u", "θ#d2#u"));
    TRY(minima_panel_set_equal_aspect(p, 1));
    double lv[4] = {0.05, 0.2, 0.5, 1.0};
    minima_style st = minima_style_default();
    st.color = MINIMA_COLOR_BLUE;
    st.label = "loss level sets";
    TRY(minima_panel_contour(p, z, x, M, x, M, lv, 4, &st));
    double hx[N], hy[N];
    for (int k = 0; k < N; k++) {
        hx[k] = 1.0 / 3.0 + (3.0 - 1.0 / 3.0) * k / (N - 1);
        hy[k] = 1.0 / hx[k];
    }
    minima_style h = minima_style_default();
    h.color = MINIMA_COLOR_VERMILLION;
    h.width = 2.0;
    h.dash = MINIMA_DASH_DASHED;
    h.label = "θ#d1#u θ#d2#u = 1 (same function)";
    TRY(minima_panel_line(p, hx, hy, N, &h));
    TRY(minima_panel_set_legend(p, MINIMA_LEGEND_TOP_RIGHT));
    return render(fig, "fig2_levelsets.png");
}

/* Paper Fig. 3: disjoint equal-volume boxes T_α^j(B) along an orbit. */
static int fig3(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 680, 640, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Fig. 3 — equal-volume boxes along an orbit"));
    TRY(minima_panel_set_labels(p, "θ#d1#u", "θ#d2#u"));
    TRY(minima_panel_set_equal_aspect(p, 1));
    double hx[N], hy[N];
    for (int k = 0; k < N; k++) {
        hx[k] = 0.25 + 4.0 * k / (N - 1);
        hy[k] = 1.0 / hx[k];
    }
    minima_style h = minima_style_default();
    h.color = MINIMA_COLOR_BLACK;
    h.label = "orbit θ#d1#u θ#d2#u = 1";
    TRY(minima_panel_line(p, hx, hy, N, &h));
    double a = 1.6, w = 0.3;
    for (int j = -2; j <= 2; j++) {
        double s = pow(a, j);
        minima_style b = minima_style_default();
        b.color = MINIMA_COLOR_BLUE;
        b.alpha = 0.25;
        b.label = j == -2 ? "T#dα#u#uj#d(B), equal volume" : NULL;
        TRY(minima_panel_rect(p, s * (1 - w / 2), (1 - w / 2) / s, s * (1 + w / 2), (1 + w / 2) / s, &b));
        char lab[32];
        snprintf(lab, sizeof lab, "j = %d", j);
        minima_style t = minima_style_default();
        t.text_size = 0.85;
        TRY(minima_panel_text(p, s * (1 + w / 2) + 0.08, (1 + w / 2) / s + 0.05, lab, 0.0, &t));
    }
    TRY(minima_panel_set_xrange(p, 0, 4.3));
    TRY(minima_panel_set_yrange(p, 0, 4.3));
    return render(fig, "fig3_boxes.png");
}

/* Paper Fig. 4: balls of equal radius around θ and T_α θ. */
static int fig4(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 800, 560, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_title(p, "Fig. 4 — balls of radius r around θ and T#dα#uθ"));
    TRY(minima_panel_set_labels(p, "θ#d1#u", "θ#d2#u"));
    TRY(minima_panel_set_equal_aspect(p, 1));
    double hx[N], hy[N];
    for (int k = 0; k < N; k++) {
        hx[k] = 0.2 + 4.0 * k / (N - 1);
        hy[k] = 1.0 / hx[k];
    }
    minima_style h = minima_style_default();
    h.color = MINIMA_COLOR_GREY;
    h.label = "θ#d1#u θ#d2#u = 1";
    TRY(minima_panel_line(p, hx, hy, N, &h));
    minima_style zl = minima_style_default();
    zl.color = MINIMA_COLOR_BLACK;
    zl.width = 2.5;
    zl.label = "constant functions (θ#d2#u = 0)";
    TRY(minima_panel_hline(p, 0.0, &zl));
    minima_style c = minima_style_default();
    c.color = MINIMA_COLOR_BLUE;
    c.label = "B(θ, r)";
    TRY(minima_panel_circle(p, 1.0, 1.0, 0.5, &c));
    c.color = MINIMA_COLOR_VERMILLION;
    c.label = "B(T#dα#uθ, r), α = 3";
    TRY(minima_panel_circle(p, 3.0, 1.0 / 3.0, 0.5, &c));
    minima_style pt = minima_style_default();
    pt.color = MINIMA_COLOR_BLACK;
    double px[2] = {1.0, 3.0}, py[2] = {1.0, 1.0 / 3.0};
    TRY(minima_panel_scatter(p, px, py, 2, &pt));
    minima_style t = minima_style_default();
    TRY(minima_panel_text(p, 1.08, 1.1, "θ", 0.0, &t));
    TRY(minima_panel_text(p, 3.08, 0.45, "T#dα#uθ", 0.0, &t));
    TRY(minima_panel_set_xrange(p, 0, 4));
    TRY(minima_panel_set_yrange(p, -0.4, 2.2));
    return render(fig, "fig4_balls.png");
}

/* Paper Fig. 5: a 1-D loss with several minima, and in radially
 * reparametrized coordinates. */
static int fig5(void)
{
    double t[N], l[N], u[N], lu[N];
    for (int k = 0; k < N; k++) {
        t[k] = -3 + 6.0 * k / (N - 1);
        l[k] = 1.2 - cos(3.2 * t[k]) + 0.05 * t[k] * t[k];
        /* reparametrization: u = g(t), squeezes around t ≈ 1.96 */
        u[k] = t[k] + 0.9 * tanh(4 * (t[k] - 1.96));
        lu[k] = l[k];
    }
    minima_figure *fig;
    TRY(minima_figure_create(1, 2, 1200, 480, &fig));
    minima_panel *a = minima_figure_panel(fig, 0, 0), *b = minima_figure_panel(fig, 0, 1);
    TRY(minima_panel_set_title(a, "original parameter θ"));
    TRY(minima_panel_set_labels(a, "θ", "loss"));
    TRY(minima_panel_set_title(b, "reparametrized η = g(θ)"));
    TRY(minima_panel_set_labels(b, "η", "loss"));
    minima_style st = minima_style_default();
    st.color = MINIMA_COLOR_BLUE;
    st.width = 2;
    TRY(minima_panel_line(a, t, l, N, &st));
    st.color = MINIMA_COLOR_VERMILLION;
    TRY(minima_panel_line(b, u, lu, N, &st));
    TRY(minima_panel_set_legend(a, MINIMA_LEGEND_NONE));
    return render(fig, "fig5_reparam_1x2.png");
}

/* Tick labelling on awkward ranges: a log axis within a decade, a log axis
 * over two decades, huge and tiny linear values. */
static int ticks(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(2, 2, 1000, 760, &fig));
    TRY(minima_figure_set_title(fig, "Tick labels on awkward ranges"));
    double x[50], y[50];
    const char *titles[4] = {"log y within a decade", "log x over two decades",
                             "values near 10#u6#d", "values near 10#u−5#d"};
    for (int c = 0; c < 4; c++) {
        minima_panel *p = minima_figure_panel(fig, c / 2, c % 2);
        for (int k = 0; k < 50; k++) {
            double t = k / 49.0;
            switch (c) {
            case 0: x[k] = t; y[k] = 0.8 + 0.5 * t * t; break;
            case 1: x[k] = pow(10.0, 2.4 * t); y[k] = sqrt(x[k]); break;
            case 2: x[k] = 1e6 + 4e6 * t; y[k] = 3e6 * t * (1 - t); break;
            default: x[k] = -2e-5 + 4e-5 * t; y[k] = 1e-5 * sin(6 * t); break;
            }
        }
        TRY(minima_panel_set_title(p, titles[c]));
        TRY(minima_panel_set_labels(p, c == 3 ? NULL : "x", c == 2 ? NULL : "y"));
        TRY(minima_panel_set_log(p, c == 1, c == 0));
        TRY(minima_panel_set_grid(p, 1));
        TRY(minima_panel_line(p, x, y, 50, NULL));
    }
    return render(fig, "ticks_2x2.png");
}

/* A figure meant for one column of a paper: small, large text. */
static int column(void)
{
    minima_figure *fig;
    TRY(minima_figure_create(1, 1, 480, 340, &fig));
    TRY(minima_figure_set_text_scale(fig, 1.5));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    TRY(minima_panel_set_labels(p, "rescaling α", "λ#dmax#u"));
    TRY(minima_panel_set_log(p, 1, 1));
    double a[13], l[13], e[13];
    for (int k = 0; k < 13; k++) {
        a[k] = pow(10.0, -3 + k / 2.0);
        l[k] = 40 * (a[k] > 1 ? a[k] * a[k] : 1 / (a[k] * a[k]));
        e[k] = 40;
    }
    minima_style st = minima_style_default();
    st.marker = MINIMA_MARKER_CIRCLE;
    st.label = "Hessian";
    TRY(minima_panel_line(p, a, l, 13, &st));
    st.marker = MINIMA_MARKER_SQUARE;
    st.label = "normalized";
    TRY(minima_panel_line(p, a, e, 13, &st));
    return render(fig, "column_480x340.png");
}

/* The same figure in the vector formats. */
static int vector_formats(void)
{
    for (int f = 0; f < 2; f++) {
        minima_figure *fig;
        TRY(minima_figure_create(1, 1, 640, 480, &fig));
        minima_panel *p = minima_figure_panel(fig, 0, 0);
        TRY(minima_panel_set_title(p, "Vector output"));
        TRY(minima_panel_set_labels(p, "x", "sin x"));
        double x[N], y[N];
        for (int k = 0; k < N; k++) {
            x[k] = 10.0 * k / (N - 1);
            y[k] = sin(x[k]);
        }
        minima_style st = minima_style_default();
        st.label = "sin";
        TRY(minima_panel_line(p, x, y, N, &st));
        if (render(fig, f ? "vector.pdf" : "vector.svg")) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    int bad = 0;
    bad |= spectrum();
    bad |= density();
    bad |= audit();
    bad |= landscape();
    bad |= fig1();
    bad |= fig2();
    bad |= fig3();
    bad |= fig4();
    bad |= fig5();
    bad |= ticks();
    bad |= column();
    bad |= vector_formats();
    return bad;
}
