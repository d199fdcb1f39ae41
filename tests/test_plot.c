/* test_plot.c — figures: files of each format, multi-panel layouts, maps,
 * shapes, bad paths and bad data (statuses, never crashes), atomic
 * replacement, silence on stdout/stderr, out-of-memory paths. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/plot.h"

static char path_buf[4][1024];

/* A path in this test's temporary directory (4 rotating buffers). */
static const char *tmp_path(const char *name)
{
    static int k;
    char *p = path_buf[k++ % 4];
    snprintf(p, sizeof path_buf[0], "%s/%s", harness_tmpdir(), name);
    return p;
}

/* The whole file in a malloc'd buffer (NUL-terminated), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* A PNG of the given size, of plausible length. */
static void check_png(const char *path, unsigned w, unsigned h)
{
    size_t n = 0;
    unsigned char *b = (unsigned char *)slurp(path, &n);
    CHECK_MSG(b != NULL, "%s was not written", path);
    if (!b) return;
    CHECK_MSG(n > 2000 && n < 20000000, "%s: implausible size %zu bytes", path, n);
    CHECK_MSG(n > 24 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8), "%s: no PNG signature", path);
    if (n > 24) {
        CHECK_MSG(!memcmp(b + 12, "IHDR", 4), "%s: no IHDR chunk", path);
        CHECK_MSG(be32(b + 16) == w && be32(b + 20) == h, "%s: %u x %u pixels, expected %u x %u",
                  path, be32(b + 16), be32(b + 20), w, h);
    }
    free(b);
}

/* PLplot's svg driver writes text as character references: "ab" is
 * "&#x61;&#x62;". True if `text` (ASCII) occurs in the file. */
static int svg_has_text(const char *svg, const char *text)
{
    char want[1024] = "", *w = want;
    for (const char *c = text; *c && w < want + sizeof want - 12; c++)
        w += snprintf(w, 12, "&#x%x;", (unsigned char)*c);
    return strstr(svg, want) != NULL;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Nothing named like our temporary files left in the directory. */
static int no_temp_files(void)
{
    DIR *d = opendir(harness_tmpdir());
    if (!d) return 0;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) ok = 0;
    closedir(d);
    return ok;
}

static void sine(double *x, double *y, size_t n, double x0, double x1)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = x0 + (x1 - x0) * (double)i / (double)(n - 1);
        y[i] = sin(x[i]);
    }
}

/* ---- good figures ----------------------------------------------------- */

static void test_line_log_axes(void)
{
    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(1, 1, 800, 600, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    CHECK(p != NULL);
    CHECK_OK(minima_panel_set_title(p, "Top eigenvalues"));
    CHECK_OK(minima_panel_set_labels(p, "index", "eigenvalue"));
    CHECK_OK(minima_panel_set_log(p, 1, 1));
    CHECK_OK(minima_panel_set_grid(p, 1));
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i + 1;
        y[i] = 100.0 / (i + 1) / (i + 1);
    }
    y[7] = NAN;          /* a gap */
    y[8] = -1.0;         /* non-positive on a log axis: skipped */
    double lo[50], hi[50];
    for (int i = 0; i < 50; i++) {
        lo[i] = 0.5 * y[i];
        hi[i] = 2.0 * y[i];
    }
    minima_style band = minima_style_default();
    band.label = "spread";
    CHECK_OK(minima_panel_band(p, x, lo, hi, 50, &band));
    minima_style st = minima_style_default();
    st.marker = MINIMA_MARKER_CIRCLE;
    st.label = "λ#di#u";
    CHECK_OK(minima_panel_line(p, x, y, 50, &st));
    CHECK_OK(minima_panel_hline(p, 1.0, NULL));
    CHECK_OK(minima_panel_vline(p, 10.0, NULL));
    const char *path = tmp_path("line_log.png");
    CHECK_OK(minima_plot_render(fig, path));
    CHECK(minima_figure_dropped(fig) == 4);   /* 2 of the line, 2 of the band */
    check_png(path, 800, 600);
    /* rendering twice replaces the file */
    CHECK_OK(minima_plot_render(fig, path));
    check_png(path, 800, 600);
    minima_figure_destroy(fig);
    CHECK(no_temp_files());
}

static void test_two_panels_svg(void)
{
    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(1, 2, 1200, 500, &fig));
    CHECK_OK(minima_figure_set_title(fig, "Before and after rescaling"));
    CHECK_OK(minima_figure_set_text_scale(fig, 1.4));
    CHECK_STATUS(minima_figure_set_text_scale(fig, 0), MINIMA_EINVAL);
    double x[100], y[100];
    sine(x, y, 100, 0, 6);
    const char *titles[2] = {"before", "after"};
    for (int c = 0; c < 2; c++) {
        minima_panel *p = minima_figure_panel(fig, 0, c);
        CHECK_OK(minima_panel_set_title(p, titles[c]));
        CHECK_OK(minima_panel_set_labels(p, "theta", "loss"));
        minima_style st = minima_style_default();
        st.label = "sine";
        st.dash = c ? MINIMA_DASH_DASHED : MINIMA_DASH_SOLID;
        CHECK_OK(minima_panel_line(p, x, y, 100, &st));
    }
    CHECK(minima_figure_panel(fig, 0, 2) == NULL);
    CHECK(minima_figure_panel(fig, 1, 0) == NULL);
    CHECK(minima_figure_panel(fig, -1, 0) == NULL);
    const char *path = tmp_path("panels.svg");
    CHECK_OK(minima_plot_render(fig, path));
    char *svg = slurp(path, NULL);
    CHECK(svg != NULL);
    if (svg) {
        CHECK(strstr(svg, "<svg") != NULL);
        CHECK_MSG(svg_has_text(svg, "Before and after rescaling"), "figure title not in the SVG");
        CHECK_MSG(svg_has_text(svg, "before") && svg_has_text(svg, "after"), "panel titles missing");
        CHECK_MSG(svg_has_text(svg, "theta") && svg_has_text(svg, "loss"), "axis labels missing");
        CHECK_MSG(svg_has_text(svg, "sine"), "legend entry missing");
        free(svg);
    }
    /* the same figure as PDF, extension in capitals */
    const char *pdf = tmp_path("panels.PDF");
    CHECK_OK(minima_plot_render(fig, pdf));
    size_t n = 0;
    char *b = slurp(pdf, &n);
    CHECK(b && n > 1000 && !memcmp(b, "%PDF", 4));
    free(b);
    minima_figure_destroy(fig);
}

static void test_contour_map(void)
{
    enum { NX = 41, NY = 31 };
    double x[NX], y[NY], z[NX * NY];
    for (int i = 0; i < NX; i++) x[i] = -2 + 4.0 * i / (NX - 1);
    for (int j = 0; j < NY; j++) y[j] = -1 + 2.0 * j / (NY - 1);
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) z[j * NX + i] = x[i] * x[i] + 3 * y[j] * y[j] - 0.5;
    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(1, 2, 1100, 450, &fig));
    minima_panel *a = minima_figure_panel(fig, 0, 0), *b = minima_figure_panel(fig, 0, 1);
    minima_map_options o = minima_map_default_options();
    o.colorbar_label = "loss";
    CHECK_OK(minima_panel_map(a, z, x, NX, y, NY, &o));
    double lv[3] = {0, 1, 2};
    CHECK_OK(minima_panel_contour(a, z, x, NX, y, NY, lv, 3, NULL));
    /* log colour scale: non-positive values are clamped and counted */
    o.log_values = 1;
    o.colorbar_label = "log loss";
    CHECK_OK(minima_panel_map(b, z, x, NX, y, NY, &o));
    CHECK_OK(minima_panel_contour(b, z, x, NX, y, NY, NULL, 5, NULL));
    CHECK_OK(minima_panel_set_equal_aspect(b, 1));
    const char *path = tmp_path("map.png");
    CHECK_OK(minima_plot_render(fig, path));
    check_png(path, 1100, 450);
    size_t nonpos = 0;
    for (int k = 0; k < NX * NY; k++) nonpos += z[k] <= 0;
    CHECK(minima_figure_dropped(fig) == nonpos);
    minima_figure_destroy(fig);
}

static void test_shapes_and_text(void)
{
    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(2, 2, 900, 800, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    CHECK_OK(minima_panel_set_equal_aspect(p, 1));
    minima_style box = minima_style_default();
    box.alpha = 0.25;
    box.label = "boxes";
    for (int j = -2; j <= 2; j++) {
        double s = pow(2.0, j);
        CHECK_OK(minima_panel_rect(p, 0.9 * s, 0.9 / s, 1.1 * s, 1.1 / s, &box));
        box.label = NULL;
    }
    minima_style c = minima_style_default();
    c.color = MINIMA_COLOR_VERMILLION;
    c.label = "ball";
    CHECK_OK(minima_panel_circle(p, 1, 1, 0.5, &c));
    CHECK_OK(minima_panel_text(p, 1, 1, "θ", 0.5, NULL));
    /* a panel with only shapes on log axes */
    minima_panel *q = minima_figure_panel(fig, 0, 1);
    CHECK_OK(minima_panel_set_log(q, 1, 1));
    CHECK_OK(minima_panel_rect(q, 1, 1, 10, 100, NULL));
    CHECK_OK(minima_panel_text(q, 3, 10, "a box", 0.0, NULL));
    /* constant data and a single point */
    minima_panel *r = minima_figure_panel(fig, 1, 0);
    double x[3] = {1, 2, 3}, y[3] = {5, 5, 5};
    CHECK_OK(minima_panel_line(r, x, y, 3, NULL));
    minima_panel *s = minima_figure_panel(fig, 1, 1);
    CHECK_OK(minima_panel_scatter(s, x, y, 1, NULL));
    CHECK_OK(minima_panel_set_xrange(s, 0, NAN));
    const char *path = tmp_path("shapes.png");
    CHECK_OK(minima_plot_render(fig, path));
    check_png(path, 900, 800);
    CHECK(minima_figure_dropped(fig) == 0);
    minima_figure_destroy(fig);
}

static void test_empty_panels(void)
{
    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(2, 3, 640, 480, &fig));
    CHECK_OK(minima_panel_set_log(minima_figure_panel(fig, 1, 1), 1, 1));
    const char *path = tmp_path("empty.png");
    CHECK_OK(minima_plot_render(fig, path));
    check_png(path, 640, 480);
    minima_figure_destroy(fig);
}

/* ---- bad paths and bad data ------------------------------------------- */

static minima_figure *simple_figure(void)
{
    minima_figure *fig = NULL;
    if (minima_figure_create(1, 1, 320, 240, &fig) != MINIMA_OK) return NULL;
    double x[2] = {0, 1}, y[2] = {0, 1};
    if (minima_panel_line(minima_figure_panel(fig, 0, 0), x, y, 2, NULL) != MINIMA_OK) {
        minima_figure_destroy(fig);
        return NULL;
    }
    return fig;
}

static void test_bad_paths(void)
{
    minima_figure *fig = simple_figure();
    CHECK(fig != NULL);
    if (!fig) return;
    const char *bad = tmp_path("figure.jpg");
    CHECK_STATUS(minima_plot_render(fig, bad), MINIMA_EINVAL);
    CHECK_MSG(strstr(minima_last_error(), "figure.jpg") != NULL, "message does not name the file: %s",
              minima_last_error());
    CHECK_STATUS(minima_plot_render(fig, tmp_path("noextension")), MINIMA_EINVAL);
    CHECK_STATUS(minima_plot_render(fig, tmp_path("dir.png/figure")), MINIMA_EINVAL);
    const char *missing = tmp_path("no/such/dir/figure.png");
    CHECK_STATUS(minima_plot_render(fig, missing), MINIMA_EIO);
    CHECK_MSG(strstr(minima_last_error(), "does not exist") != NULL, "unclear message: %s",
              minima_last_error());
    CHECK(!file_exists(missing));
    const char *dirpng = tmp_path("a_directory.png");
    CHECK(mkdir(dirpng, 0755) == 0);
    CHECK_STATUS(minima_plot_render(fig, dirpng), MINIMA_EIO);
    CHECK_STATUS(minima_plot_render(fig, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_plot_render(NULL, tmp_path("x.png")), MINIMA_EINVAL);
    if (geteuid() != 0) {   /* root writes anywhere */
        const char *ro = tmp_path("readonly");
        CHECK(mkdir(ro, 0555) == 0);
        char p[1100];
        snprintf(p, sizeof p, "%s/figure.png", ro);
        CHECK_STATUS(minima_plot_render(fig, p), MINIMA_EIO);
    }
    CHECK(no_temp_files());
    minima_figure_destroy(fig);
}

static void test_bad_data(void)
{
    minima_figure *fig = NULL;
    CHECK_STATUS(minima_figure_create(0, 1, 100, 100, &fig), MINIMA_EINVAL);
    CHECK_STATUS(minima_figure_create(1, 1, 10, 100, &fig), MINIMA_EINVAL);
    CHECK_STATUS(minima_figure_create(1, 1, 100, 100, NULL), MINIMA_EINVAL);
    CHECK(fig == NULL);
    CHECK_OK(minima_figure_create(1, 1, 400, 300, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    double x[4] = {1, 2, 3, 4}, y[4] = {NAN, INFINITY, NAN, -INFINITY};
    CHECK_STATUS(minima_panel_line(p, x, y, 4, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_panel_scatter(p, x, y, 0, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_line(p, NULL, y, 4, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_band(p, x, y, x, 4, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_panel_band(p, x, x, x, 0, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_band(p, x, NULL, x, 4, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_line(NULL, x, x, 4, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_set_xrange(p, 2, 1), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_set_yrange(p, 0, INFINITY), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_vline(p, NAN, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_panel_rect(p, 0, 0, NAN, 1, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_panel_circle(p, 0, 0, 0, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_text(p, 0, 0, NULL, 0, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_text(p, 0, 0, "t", 2.0, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_panel_set_legend(p, (minima_legend_pos)99), MINIMA_EINVAL);
    minima_style st = minima_style_default();
    st.width = 0;
    CHECK_STATUS(minima_panel_line(p, x, x, 4, &st), MINIMA_EINVAL);
    st = minima_style_default();
    st.color = (minima_color)42;
    CHECK_STATUS(minima_panel_line(p, x, x, 4, &st), MINIMA_EINVAL);
    st = minima_style_default();
    st.alpha = 1.5;
    CHECK_STATUS(minima_panel_rect(p, 0, 0, 1, 1, &st), MINIMA_EINVAL);

    /* grids */
    double gx[3] = {0, 1, 2}, gy[2] = {0, 1}, gz[6] = {1, 2, 3, 4, 5, 6};
    CHECK_STATUS(minima_panel_map(p, gz, gx, 3, gy, 1, NULL), MINIMA_ESHAPE);
    double dx[3] = {0, 2, 1};
    CHECK_STATUS(minima_panel_map(p, gz, dx, 3, gy, 2, NULL), MINIMA_EINVAL);
    gz[4] = NAN;
    CHECK_STATUS(minima_panel_map(p, gz, gx, 3, gy, 2, NULL), MINIMA_ENONFINITE);
    CHECK_MSG(strstr(minima_last_error(), "i = 1, j = 1") != NULL, "position not named: %s",
              minima_last_error());
    CHECK_STATUS(minima_panel_contour(p, gz, gx, 3, gy, 2, NULL, 3, NULL), MINIMA_ENONFINITE);
    gz[4] = 5;
    double badlv[1] = {NAN};
    CHECK_STATUS(minima_panel_contour(p, gz, gx, 3, gy, 2, badlv, 1, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_panel_contour(p, gz, gx, 3, gy, 2, NULL, 0, NULL), MINIMA_EINVAL);
    double neg[6] = {-1, -2, 0, -4, -5, -6};
    minima_map_options o = minima_map_default_options();
    o.log_values = 1;
    CHECK_STATUS(minima_panel_map(p, neg, gx, 3, gy, 2, &o), MINIMA_ERANGE);
    o = minima_map_default_options();
    o.n_shades = 1;
    CHECK_STATUS(minima_panel_map(p, gz, gx, 3, gy, 2, &o), MINIMA_EINVAL);

    /* a figure too small for its panels is an error, not a mess */
    minima_figure *tiny = NULL;
    CHECK_OK(minima_figure_create(8, 8, 64, 64, &tiny));
    CHECK_OK(minima_panel_set_labels(minima_figure_panel(tiny, 7, 7), "a long x label", "y"));
    CHECK_STATUS(minima_plot_render(tiny, tmp_path("tiny.png")), MINIMA_EINVAL);
    CHECK_MSG(strstr(minima_last_error(), "no room") != NULL, "unclear message: %s",
              minima_last_error());
    CHECK(!file_exists(tmp_path("tiny.png")));
    minima_figure_destroy(tiny);

    /* none of that was added: the figure still renders, empty */
    CHECK_OK(minima_plot_render(fig, tmp_path("after_errors.png")));
    minima_figure_destroy(fig);
}

static void test_log_axis_without_positive_values(void)
{
    const char *path = tmp_path("logfail.png");
    /* an older good figure at the path must survive the failed render */
    minima_figure *good = simple_figure();
    CHECK(good != NULL);
    if (!good) return;
    CHECK_OK(minima_plot_render(good, path));
    minima_figure_destroy(good);
    size_t n0 = 0;
    char *before = slurp(path, &n0);

    minima_figure *fig = NULL;
    CHECK_OK(minima_figure_create(1, 1, 400, 300, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    double x[3] = {1, 2, 3}, y[3] = {0, -1, -2};
    CHECK_OK(minima_panel_line(p, x, y, 3, NULL));
    CHECK_OK(minima_panel_set_log(p, 0, 1));
    CHECK_STATUS(minima_plot_render(fig, path), MINIMA_ERANGE);
    CHECK_MSG(strstr(minima_last_error(), "log10 y axis") != NULL, "unclear message: %s",
              minima_last_error());
    /* an explicit non-positive end on a log axis */
    CHECK_OK(minima_panel_set_log(p, 1, 0));
    CHECK_OK(minima_panel_set_xrange(p, -1, 10));
    CHECK_STATUS(minima_plot_render(fig, path), MINIMA_ERANGE);
    /* a map on a log axis starting at 0 */
    minima_panel_set_xrange(p, NAN, NAN);
    double gx[2] = {0, 1}, gy[2] = {1, 2}, gz[4] = {1, 2, 3, 4};
    CHECK_OK(minima_panel_map(p, gz, gx, 2, gy, 2, NULL));
    CHECK_STATUS(minima_plot_render(fig, path), MINIMA_ERANGE);
    minima_figure_destroy(fig);

    size_t n1 = 0;
    char *after = slurp(path, &n1);
    CHECK(before && after && n0 == n1 && !memcmp(before, after, n0));
    free(before);
    free(after);
    CHECK(no_temp_files());
}

/* The library prints nothing: stdout and stderr stay empty during renders,
 * good and bad. */
static void test_silent(void)
{
    fflush(stdout);
    fflush(stderr);
    const char *cap = tmp_path("captured.txt");
    int fd = open(cap, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    int out = dup(1), err = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    minima_figure *fig = simple_figure();
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    minima_panel_set_title(p, "quiet");
    minima_status s1 = minima_plot_render(fig, tmp_path("quiet.png"));
    minima_status s2 = minima_plot_render(fig, tmp_path("quiet.svg"));
    minima_status s3 = minima_plot_render(fig, tmp_path("quiet.pdf"));
    minima_status s4 = minima_plot_render(fig, tmp_path("nodir/quiet.png"));
    minima_figure_destroy(fig);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(fd);
    CHECK(s1 == MINIMA_OK && s2 == MINIMA_OK && s3 == MINIMA_OK && s4 == MINIMA_EIO);
    size_t n = 0;
    char *text = slurp(cap, &n);
    CHECK_MSG(n == 0, "the library printed %zu bytes: %.200s", n, text ? text : "");
    free(text);
}

/* Every allocation failure while building and rendering returns
 * MINIMA_ENOMEM cleanly (ASan checks the leaks). */
static void test_out_of_memory(void)
{
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {1, 4, 9, 16, 25}, z[4] = {1, 2, 3, 4};
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        minima_figure *fig = NULL;
        minima_alloc_fail_after(n);
        minima_status s = minima_figure_create(1, 2, 400, 300, &fig);
        minima_panel *p = minima_figure_panel(fig, 0, 0), *q = minima_figure_panel(fig, 0, 1);
        minima_style st = minima_style_default();
        st.label = "squares";
        if (s == MINIMA_OK) s = minima_figure_set_title(fig, "oom");
        if (s == MINIMA_OK) s = minima_panel_set_labels(p, "x", "y");
        if (s == MINIMA_OK) s = minima_panel_line(p, x, y, 5, &st);
        if (s == MINIMA_OK) s = minima_panel_text(p, 2, 2, "t", 0, &st);
        if (s == MINIMA_OK) s = minima_panel_band(p, x, x, y, 5, &st);
        if (s == MINIMA_OK) s = minima_panel_map(q, z, x, 2, y, 2, NULL);
        if (s == MINIMA_OK) s = minima_panel_contour(q, z, x, 2, y, 2, NULL, 2, NULL);
        if (s == MINIMA_OK) s = minima_plot_render(fig, tmp_path("oom.png"));
        minima_alloc_fail_after(-1);
        CHECK_MSG(s == MINIMA_OK || s == MINIMA_ENOMEM, "after %ld allocations: %s (%s)", n,
                  minima_strerror(s), minima_last_error());
        succeeded = s == MINIMA_OK;
        minima_figure_destroy(fig);
    }
    CHECK(succeeded);
    CHECK(no_temp_files());
}

/* Renders from two threads at once: PLplot's global state is serialised
 * by the module (each thread builds its own figure). */
static void *render_thread(void *arg)
{
    const char *name = arg;
    minima_status *ok = minima_alloc(1, sizeof *ok);
    if (!ok) return NULL;
    *ok = MINIMA_OK;
    for (int r = 0; r < 3 && *ok == MINIMA_OK; r++) {
        minima_figure *fig = NULL;
        *ok = minima_figure_create(1, 1, 400, 300, &fig);
        double x[64], y[64];
        sine(x, y, 64, 0, 6);
        if (*ok == MINIMA_OK) *ok = minima_panel_line(minima_figure_panel(fig, 0, 0), x, y, 64, NULL);
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
        if (*ok == MINIMA_OK) *ok = minima_plot_render(fig, path);
        minima_figure_destroy(fig);
    }
    return ok;
}

static void test_threads(void)
{
    pthread_t t[2];
    const char *names[2] = {"thread0.png", "thread1.svg"};
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, render_thread, (void *)names[i]) == 0);
    for (int i = 0; i < 2; i++) {
        void *ret = NULL;
        CHECK(pthread_join(t[i], &ret) == 0);
        CHECK(ret && *(minima_status *)ret == MINIMA_OK);
        minima_free(ret);
    }
    check_png(tmp_path("thread0.png"), 400, 300);
    CHECK(no_temp_files());
}

int main(void)
{
    RUN(test_line_log_axes);
    RUN(test_two_panels_svg);
    RUN(test_contour_map);
    RUN(test_shapes_and_text);
    RUN(test_empty_panels);
    RUN(test_bad_paths);
    RUN(test_bad_data);
    RUN(test_log_axis_without_positive_values);
    RUN(test_silent);
    RUN(test_out_of_memory);
    RUN(test_threads);
    return harness_report();
}
