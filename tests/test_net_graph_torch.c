/* test_net_graph_torch.c — the engine on graphs (conv2d, max and average
 * pooling, stride, padding, dilation, groups, residual add, global average
 * pooling) against PyTorch float64 double backprop, on the committed
 * fixture tests/fixtures/graph_reference.json (regenerate it with
 * tests/fixtures/make_graph_reference.py; it does not need torch to run).
 *
 * For each of its three networks, built from its architecture string by
 * minima_arch_parse with the fixture's theta, and each loss (cross-entropy;
 * MSE with one-hot or float targets), this checks
 *   - outputs, loss, accuracy, gradient (at the anchor and at an explicit
 *     theta) and three Hessian-vector products, batches of 7 examples, cache
 *     on: 1e-10 relative, norm-wise and entry by entry
 *     (|a_i - b_i| <= 1e-10 |b_i| + 1e-11 max_j |b_j|);
 *   - the same products with the whole data in one batch and no cache
 *     (cache_limit = 0: each product recomputes the forward pass);
 *   - the products with params.float32 (batches of 5): 1e-4 relative, norm-wise.
 * The fixture's point keeps every ReLU input at least 1e-6 from 0 and every
 * live max-pool window's maximum 1e-6 above its runner-up, so PyTorch and
 * minima differentiate the same smooth piece of the loss. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/net.h"

#define TOL64 1e-10
#define TOL32 1e-4

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const cJSON *item(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    CHECK_MSG(x != NULL, "the fixture has no '%s'", key);
    return x;
}

/* Reads a JSON array of exactly n numbers into out (n doubles); a fixture
 * of another length is a failure naming the field and both lengths. */
static int numbers(const cJSON *arr, const char *what, double *out, size_t n)
{
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (i < n) out[i] = e->valuedouble;
        i++;
    }
    CHECK_MSG(cJSON_IsArray(arr) && i == n, "%s: expected %zu numbers, found %zu", what, n, i);
    return i == n;
}

/* got against want: ||got - want|| <= tol ||want|| and, with entrywise,
 * |got_i - want_i| <= tol |want_i| + (tol / 10) max_j |want_j|. */
static void compare(const char *what, const double *got, const double *want, size_t n, double tol,
                    int entrywise)
{
    double diff2 = 0, norm2 = 0, maxw = 0;
    for (size_t i = 0; i < n; i++) {
        diff2 += (got[i] - want[i]) * (got[i] - want[i]);
        norm2 += want[i] * want[i];
        maxw = fmax(maxw, fabs(want[i]));
    }
    double rel = sqrt(diff2) / fmax(sqrt(norm2), 1e-300);
    CHECK_MSG(rel <= tol, "%s: ||minima - torch|| / ||torch|| = %.3g, expected <= %.0e", what, rel, tol);
    if (!entrywise) return;
    size_t bad = 0, worst = 0;
    double worst_excess = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]), allowed = tol * fabs(want[i]) + 0.1 * tol * maxw;
        if (!(d <= allowed)) {
            if (bad == 0 || !(d / allowed <= worst_excess)) { worst = i; worst_excess = d / allowed; }
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu entries differ by more than %.0e relative; worst entry %zu: "
              "minima %.17g, torch %.17g (max |torch| %.3g)", what, bad, n, tol, worst, got[worst],
              want[worst], maxw);
}

typedef struct {
    const cJSON *fx;           /* the network's fixture object */
    const char *name;
    minima_model *model;
    size_t n, P, d_in;
    int d_out;
    double *x;                 /* (n, d_in) */
    int32_t *labels;           /* (n) */
    double *targets;           /* (n, d_out), or NULL: one-hot targets from the labels */
    double *v[3];              /* the fixture's directions */
} network;

/* One net over the fixture's data for `loss` with these settings. */
static minima_net *make_net(const network *w, minima_dataset **data, minima_loss loss,
                            size_t batch_size, size_t cache_limit, int float32)
{
    int mse_targets = loss == MINIMA_LOSS_MSE && w->targets;
    *data = NULL;
    if (minima_dataset_create(data, w->n, (int)w->d_in, mse_targets ? 0 : w->d_out,
                              mse_targets ? w->d_out : 0) != MINIMA_OK) {
        CHECK_MSG(0, "minima_dataset_create: %s", minima_last_error());
        return NULL;
    }
    memcpy((*data)->x, w->x, w->n * w->d_in * sizeof *w->x);
    if (mse_targets) memcpy((*data)->targets, w->targets, w->n * (size_t)w->d_out * sizeof *w->targets);
    else memcpy((*data)->labels, w->labels, w->n * sizeof *w->labels);
    minima_net_params p = minima_net_default_params(w->model);
    p.loss = loss;
    p.batch_size = batch_size;
    p.cache_limit = cache_limit;
    p.float32 = float32;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, w->model, *data, &p));
    return net;
}

static void check_loss(const network *w, minima_loss loss)
{
    const char *ln = loss == MINIMA_LOSS_CE ? "ce" : "mse";
    const cJSON *ref = item(w->fx, ln);
    if (!ref) return;
    char what[160];
    size_t P = w->P, no = w->n * (size_t)w->d_out;
    double *buf = malloc(P * sizeof *buf), *want = malloc((P > no ? P : no) * sizeof *want);
    double *out = malloc(no * sizeof *out);

    /* batches of 7 (16 examples: 7, 7, 2), cache on */
    minima_dataset *data = NULL;
    minima_net *net = make_net(w, &data, loss, 7, (size_t)1 << 30, 0);
    if (net) {
        double L = NAN, acc = NAN;
        CHECK_OK(minima_net_loss(net, NULL, &L, &acc));
        CHECK_REL(L, item(ref, "loss")->valuedouble, TOL64);
        if (loss == MINIMA_LOSS_CE)
            CHECK_REL(acc, item(w->fx, "accuracy")->valuedouble, 1e-15);
        CHECK_OK(minima_net_outputs(net, NULL, out));
        snprintf(what, sizeof what, "%s %s outputs", w->name, ln);
        if (numbers(item(w->fx, "outputs"), what, want, no)) compare(what, out, want, no, TOL64, 1);
        double Lg = NAN;
        CHECK_OK(minima_net_gradient(net, NULL, &Lg, buf));
        CHECK_REL(Lg, item(ref, "loss")->valuedouble, TOL64);
        snprintf(what, sizeof what, "%s %s gradient", w->name, ln);
        if (numbers(item(ref, "grad"), what, want, P)) compare(what, buf, want, P, TOL64, 1);
        /* the same at an explicit theta (a fresh pass, not the anchor's) */
        CHECK_OK(minima_net_gradient(net, w->model->theta, &Lg, buf));
        CHECK_REL(Lg, item(ref, "loss")->valuedouble, TOL64);
        snprintf(what, sizeof what, "%s %s gradient at an explicit theta", w->name, ln);
        if (numbers(item(ref, "grad"), what, want, P)) compare(what, buf, want, P, TOL64, 1);
        CHECK(minima_net_cache_enabled(net));
        for (int j = 0; j < 3; j++) {
            CHECK_OK(minima_net_hvp(net, w->v[j], buf));
            snprintf(what, sizeof what, "%s %s Hv[%d] (batches of 7, cache on)", w->name, ln, j);
            if (numbers(cJSON_GetArrayItem(item(ref, "hv"), j), what, want, P))
                compare(what, buf, want, P, TOL64, 1);
        }
    }
    minima_net_free(net);
    minima_dataset_free(data);

    /* one batch of all examples, no cache: every product recomputes */
    net = make_net(w, &data, loss, 0, 0, 0);
    if (net) {
        CHECK(!minima_net_cache_enabled(net));
        for (int j = 0; j < 3; j++) {
            CHECK_OK(minima_net_hvp(net, w->v[j], buf));
            snprintf(what, sizeof what, "%s %s Hv[%d] (one batch, no cache)", w->name, ln, j);
            if (numbers(cJSON_GetArrayItem(item(ref, "hv"), j), what, want, P))
                compare(what, buf, want, P, TOL64, 1);
        }
    }
    minima_net_free(net);
    minima_dataset_free(data);

    /* float32 products, batches of 5 */
    net = make_net(w, &data, loss, 5, (size_t)1 << 30, 1);
    if (net) {
        for (int j = 0; j < 3; j++) {
            CHECK_OK(minima_net_hvp(net, w->v[j], buf));
            snprintf(what, sizeof what, "%s %s Hv[%d] (float32)", w->name, ln, j);
            if (numbers(cJSON_GetArrayItem(item(ref, "hv"), j), what, want, P))
                compare(what, buf, want, P, TOL32, 0);
        }
    }
    minima_net_free(net);
    minima_dataset_free(data);
    free(buf);
    free(want);
    free(out);
}

static void run_network(const cJSON *fx, minima_model *model)
{
    network w = {0};
    w.fx = fx;
    w.name = item(fx, "name")->valuestring;
    w.model = model;
    harness_current = w.name;
    w.n = (size_t)item(fx, "n")->valueint;
    w.P = (size_t)item(fx, "n_params")->valueint;
    w.d_out = item(fx, "n_outputs")->valueint;
    w.d_in = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, item(fx, "input_shape")) w.d_in *= (size_t)e->valueint;
    CHECK_MSG(model->n_params == w.P, "%s: minima's model has %zu parameters, PyTorch's %zu",
              w.name, model->n_params, w.P);
    CHECK_MSG(minima_model_n_inputs(model) == w.d_in, "%s: minima's model reads %zu inputs, "
              "PyTorch's %zu", w.name, minima_model_n_inputs(model), w.d_in);
    CHECK_MSG(minima_model_n_outputs(model) == w.d_out, "%s: minima's model has %d outputs, "
              "PyTorch's %d", w.name, minima_model_n_outputs(model), w.d_out);
    if (model->n_params != w.P || minima_model_n_inputs(model) != w.d_in ||
        minima_model_n_outputs(model) != w.d_out)
        return;
    int ok = numbers(item(fx, "theta"), "theta", model->theta, w.P);
    w.x = malloc(w.n * w.d_in * sizeof *w.x);
    w.labels = malloc(w.n * sizeof *w.labels);
    ok &= numbers(item(fx, "x"), "x", w.x, w.n * w.d_in);
    size_t i = 0;
    cJSON_ArrayForEach(e, item(fx, "labels")) {
        if (i < w.n) w.labels[i] = (int32_t)e->valueint;
        i++;
    }
    CHECK_MSG(i == w.n, "labels: expected %zu, found %zu", w.n, i);
    ok &= i == w.n;
    const cJSON *t = item(fx, "targets");
    if (cJSON_IsArray(t)) {
        w.targets = malloc(w.n * (size_t)w.d_out * sizeof *w.targets);
        ok &= numbers(t, "targets", w.targets, w.n * (size_t)w.d_out);
    }
    for (int j = 0; j < 3; j++) {
        w.v[j] = malloc(w.P * sizeof *w.v[j]);
        ok &= numbers(cJSON_GetArrayItem(item(fx, "v"), j), "v", w.v[j], w.P);
    }
    if (ok) {
        check_loss(&w, MINIMA_LOSS_CE);
        check_loss(&w, MINIMA_LOSS_MSE);
    }
    for (int j = 0; j < 3; j++) free(w.v[j]);
    free(w.x);
    free(w.labels);
    free(w.targets);
}

int main(void)
{
    const char *path = harness_fixture("graph_reference.json");
    char *text = read_file(path);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (!text) return harness_report();
    cJSON *root = cJSON_Parse(text);
    CHECK_MSG(root != NULL, "%s is not JSON", path);
    int count = 0;
    const cJSON *fx;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(root, "networks")) {
        const char *arch = item(fx, "arch")->valuestring;
        minima_model *m = NULL;
        minima_status s = minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0.0, &m);
        harness_current = item(fx, "name")->valuestring;
        CHECK_MSG(s == MINIMA_OK, "minima_arch_parse(\"%s\") returned %s: %s", arch,
                  minima_strerror(s), minima_last_error());
        if (s == MINIMA_OK) run_network(fx, m);
        minima_model_free(m);
        count++;
    }
    CHECK_MSG(count == 3, "%s: expected 3 networks, found %d", path, count);
    cJSON_Delete(root);
    free(text);
    return harness_report();
}
