/* test_net_torch.c — minima's loss, accuracy, outputs, gradient and
 * Hessian-vector products against PyTorch float64 (double backprop) on the
 * committed fixture tests/fixtures/net_reference.json, to 1e-10 relative.
 * Regenerate the fixture with tests/fixtures/make_net_reference.py. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/net.h"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Copy a JSON array of numbers; returns its length. */
static size_t numbers(const cJSON *arr, double *out, size_t cap)
{
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (i < cap) out[i] = e->valuedouble;
        i++;
    }
    return i;
}

static void run_case(const cJSON *c)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    harness_current = name;
    int widths[16], K = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "widths")) widths[K++] = e->valueint;
    K -= 1;
    int bias = cJSON_IsTrue(cJSON_GetObjectItem(c, "bias"));
    int mse = !strcmp(cJSON_GetObjectItem(c, "loss")->valuestring, "mse");
    size_t n = (size_t)cJSON_GetObjectItem(c, "n")->valueint;

    minima_model *m = NULL;
    CHECK_OK(minima_model_create(&m, K, widths, bias, MINIMA_ACT_RELU));
    m->loss = mse ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
    size_t P = m->n_params;
    CHECK(numbers(cJSON_GetObjectItem(c, "theta"), m->theta, P) == P);
    minima_dataset *x = NULL;
    int dK = widths[K];
    CHECK_OK(minima_dataset_create(&x, n, widths[0], mse ? 0 : dK, mse ? dK : 0));
    numbers(cJSON_GetObjectItem(c, "x"), x->x, n * (size_t)widths[0]);
    if (mse) {
        numbers(cJSON_GetObjectItem(c, "targets"), x->targets, n * (size_t)dK);
    } else {
        size_t i = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "labels")) x->labels[i++] = e->valueint;
    }
    minima_net_params p = minima_net_default_params(m);
    p.batch_size = 7;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, &p));

    double loss, acc;
    CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
    CHECK_REL(loss, cJSON_GetObjectItem(c, "loss_value")->valuedouble, 1e-10);
    if (!mse) CHECK_REL(acc, cJSON_GetObjectItem(c, "accuracy")->valuedouble, 1e-15);

    size_t no = n * (size_t)dK;
    double *z = malloc(no * sizeof *z), *zt = malloc(no * sizeof *zt);
    CHECK_OK(minima_net_outputs(net, NULL, z));
    numbers(cJSON_GetObjectItem(c, "outputs"), zt, no);
    CHECK_MSG(harness_vec_reldiff(z, zt, no, 1e-300) < 1e-10, "outputs differ by %g",
              harness_vec_reldiff(z, zt, no, 1e-300));

    double *g = malloc(P * sizeof *g), *gt = malloc(P * sizeof *gt);
    CHECK_OK(minima_net_gradient(net, NULL, NULL, g));
    numbers(cJSON_GetObjectItem(c, "grad"), gt, P);
    CHECK_MSG(harness_vec_reldiff(g, gt, P, 1e-300) < 1e-10, "gradient differs by %g",
              harness_vec_reldiff(g, gt, P, 1e-300));

    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), *ht = malloc(P * sizeof *ht);
    const cJSON *vs = cJSON_GetObjectItem(c, "v"), *hvs = cJSON_GetObjectItem(c, "hv");
    for (int j = 0; j < cJSON_GetArraySize(vs); j++) {
        numbers(cJSON_GetArrayItem(vs, j), v, P);
        numbers(cJSON_GetArrayItem(hvs, j), ht, P);
        CHECK_OK(minima_net_hvp(net, v, hv));
        CHECK_MSG(harness_vec_reldiff(hv, ht, P, 1e-300) < 1e-10, "Hv %d differs by %g", j,
                  harness_vec_reldiff(hv, ht, P, 1e-300));
    }
    free(z); free(zt); free(g); free(gt); free(v); free(hv); free(ht);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

int main(void)
{
    char *text = read_file(harness_fixture("net_reference.json"));
    CHECK_MSG(text != NULL, "cannot read %s", harness_fixture("net_reference.json"));
    if (!text) return harness_report();
    cJSON *root = cJSON_Parse(text);
    CHECK(root != NULL);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        run_case(c);
        count++;
    }
    CHECK(count == 3);
    cJSON_Delete(root);
    free(text);
    return harness_report();
}
