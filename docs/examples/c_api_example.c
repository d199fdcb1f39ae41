/* c_api_example.c — the common path of libminima (docs/c-api.md): load a
 * model and its data, the top of the Hessian's spectrum, a sharpness
 * measure, then the same after a rescaling that leaves the function alone.
 *
 *   cc c_api_example.c $(pkg-config --cflags --libs minima) -o c_api_example
 *   ./c_api_example model.safetensors x.npy y.npy
 *
 * tests/cli_install.sh compiles and runs it against the installed library. */
#include <minima/minima.h>

#include <stdio.h>
#include <stdlib.h>

/* Long calls report progress here (task name, units done of total). */
static void on_progress(const char *task, double done, double total, void *user)
{
    int *calls = user;
    (*calls)++;
    (void)task, (void)done, (void)total;
}

/* Every failure: a status and a message naming what was wrong. */
static int failed(const char *what, minima_status st)
{
    fprintf(stderr, "%s: %s: %s\n", what, minima_strerror(st), minima_last_error());
    return 1;
}

/* The two largest Hessian eigenvalues and a measure, for model on data. */
static minima_status curvature(const minima_model *model, const minima_dataset *data,
                               const minima_measure *measure, double top[2], double *value)
{
    minima_net *net = NULL;
    minima_linop *hessian = NULL;
    minima_eigs_result eigs = {0};
    minima_measure_result result;
    minima_eigs_params params = minima_eigs_default_params();
    params.k_top = 2;

    minima_status st = minima_net_create(&net, model, data, NULL);
    if (st == MINIMA_OK) st = minima_linop_hessian(&hessian, net);
    if (st == MINIMA_OK) st = minima_eigs(hessian, &params, &eigs);
    if (st == MINIMA_OK) {
        top[0] = eigs.top[0];
        top[1] = eigs.top[1];
        st = minima_measure_compute(measure, net, NULL /* default settings */, 0 /* seed */, &result);
    }
    if (st == MINIMA_OK) *value = result.value;
    minima_eigs_result_free(&eigs);
    minima_linop_free(hessian);
    minima_net_free(net);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.safetensors X.npy Y.npy\n", argv[0]);
        return 2;
    }
    int progress_calls = 0;
    minima_set_progress(on_progress, &progress_calls);

    minima_model *model = NULL, *rescaled = NULL;
    minima_dataset *data = NULL;
    minima_status st = minima_model_load(argv[1], NULL, &model);
    if (st != MINIMA_OK) return failed(argv[1], st);

    minima_data_options opts = minima_data_default_options();
    opts.labels_path = argv[3];
    st = minima_data_load(argv[2], &opts, &data);
    if (st != MINIMA_OK) {
        minima_model_free(model);
        return failed(argv[2], st);
    }

    /* Fisher-Rao norm: exactly invariant under rescaling; lambda_max is not. */
    const minima_measure *fisher_rao = minima_measure_find("fisher_rao");
    double top[2], value, top_r[2], value_r;
    st = curvature(model, data, fisher_rao, top, &value);

    /* Layer-wise rescaling T_alpha: every layer times 2 but the last, which
     * takes the factor that makes the product 1 (derive_last), so the network
     * computes the same function with different parameters. */
    int k_layers = model->n_layers;
    size_t n_units = minima_sym_n_units(model);
    double *alpha = malloc((size_t)k_layers * sizeof *alpha);
    double *scales = malloc((n_units ? n_units : 1) * sizeof *scales);
    if (st == MINIMA_OK && (!alpha || !scales)) st = MINIMA_ENOMEM;
    if (st == MINIMA_OK) {
        for (int k = 0; k < k_layers; k++) alpha[k] = 2.0;
        st = minima_sym_layer_scales(model, alpha, k_layers, 1, 1e-12, scales, NULL);
    }
    if (st == MINIMA_OK) st = minima_model_copy(model, &rescaled);
    if (st == MINIMA_OK) {
        minima_sym_apply_model(rescaled, scales);
        st = curvature(rescaled, data, fisher_rao, top_r, &value_r);
    }
    if (st == MINIMA_OK) {
        printf("parameters %zu, examples %zu\n", model->n_params, data->n);
        printf("lambda_1  %.6g -> %.6g after rescaling\n", top[0], top_r[0]);
        printf("lambda_2  %.6g -> %.6g after rescaling\n", top[1], top_r[1]);
        printf("%s  %.6g -> %.6g after rescaling\n", fisher_rao->name, value, value_r);
        printf("progress reports %s\n", progress_calls > 0 ? "received" : "none");
    }
    free(alpha);
    free(scales);
    minima_model_free(rescaled);
    minima_model_free(model);
    minima_dataset_free(data);
    return st == MINIMA_OK ? 0 : failed("curvature", st);
}
