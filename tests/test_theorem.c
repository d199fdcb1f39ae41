/* test_theorem.c — every theorem check passes on the built-in networks,
 * and fails when a hypothesis of its theorem is broken on purpose (a tanh
 * network, a product of alphas other than 1, a non-critical point, a
 * representation change that is the identity); checks that do not apply
 * to a user's network say so. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/rng.h"
#include "minima/reference.h"
#include "minima/reparam.h"
#include "minima/symmetry.h"
#include "minima/theorem.h"

static minima_theorem_env *builtin;   /* shared: networks are built once */

static void get_net(minima_theorem_net which, const minima_model **m, const minima_dataset **d)
{
    CHECK_OK(minima_theorem_env_net(builtin, which, m, d, NULL));
}

/* A user env over a copy of a built-in network, with its activation
 * replaced. The caller frees model and env. */
static minima_theorem_env *user_env(const minima_model *m, const minima_dataset *d,
                                    minima_activation act, minima_model **copy)
{
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_model_copy(m, copy));
    minima_model_set_activation(*copy, act, (*copy)->leaky_slope);
    CHECK_OK(minima_theorem_env_user(&env, *copy, d));
    return env;
}

static void test_registry(void)
{
    size_t n;
    const minima_theorem_check *c = minima_theorems(&n);
    CHECK(n == 10);
    for (size_t i = 0; i < n; i++) {
        CHECK(minima_theorem_find(c[i].name) == &c[i]);
        CHECK(c[i].title && c[i].paper && c[i].run);
    }
    CHECK(minima_theorem_find("nope") == NULL);
    minima_theorem_params p = minima_theorem_default_params();
    CHECK_OK(minima_theorem_check_params(&p));
    p.alpha_points = 1;
    CHECK_STATUS(minima_theorem_check_params(&p), MINIMA_EINVAL);
    p = minima_theorem_default_params();
    p.grad_tol = -1;
    CHECK_STATUS(minima_theorem_check_params(&p), MINIMA_EINVAL);
}

static void test_all_pass_builtin(void)
{
    size_t n;
    const minima_theorem_check *c = minima_theorems(&n);
    for (size_t i = 0; i < n; i++) {
        minima_theorem_result r = harness_theorem_run(c[i].name, builtin, NULL);
        CHECK_THEOREM(r, 1, 1);
        CHECK(r.details[0] != '\0');
        CHECK(r.n_numbers > 0);
    }
    /* the hypotheses the built-in networks are made for */
    minima_theorem_net_info info;
    const minima_model *m;
    const minima_dataset *d;
    for (int w = 0; w < MINIMA_THEOREM_N_NETS; w++) {
        CHECK_OK(minima_theorem_env_net(builtin, (minima_theorem_net)w, &m, &d, &info));
        CHECK_MSG(info.grad_norm <= 1e-10, "net %d: ||grad L|| = %g", w, info.grad_norm);
    }
    CHECK_OK(minima_theorem_env_net(builtin, MINIMA_THEOREM_NET_DEEP, &m, &d, &info));
    CHECK(info.loss > 0);
    CHECK(m->has_bias);
    CHECK_OK(minima_theorem_env_net(builtin, MINIMA_THEOREM_NET_SHALLOW, &m, &d, &info));
    CHECK(m->n_layers == 2 && !m->has_bias && info.gd_epochs > 0 && info.newton_steps > 0);
    minima_theorem_result r = harness_theorem_run("thm4", builtin, NULL);
    CHECK(r.lambda_min > -1e-10);
    CHECK(minima_theorem_number_get(&r, "lambda_max_M1e+08") >= 1e8);
    r = harness_theorem_run("thm5", builtin, NULL);
    CHECK(minima_theorem_number_get(&r, "count_M1e+06") >= minima_theorem_number_get(&r, "bound"));
    CHECK(isnan(minima_theorem_number_get(&r, "no such number")));
}

static void test_alpha_product_breaks(void)
{
    minima_theorem_params p = minima_theorem_default_params();
    p.alpha_product = 1.001;
    minima_theorem_result r = harness_theorem_run("thm1", builtin, &p);
    CHECK_THEOREM(r, 1, 0);
    CHECK(minima_theorem_number_get(&r, "max_rel_diff_layer") > 1e-4);
    r = harness_theorem_run("thm3", builtin, &p);
    CHECK_THEOREM(r, 1, 0);
}

static void test_tanh_breaks(void)
{
    const minima_model *m;
    const minima_dataset *d;
    minima_model *copy = NULL;
    minima_theorem_params p = minima_theorem_default_params();
    p.grad_tol = 1e300;   /* run the checks that need a critical point anyway */
    get_net(MINIMA_THEOREM_NET_DEEP, &m, &d);
    minima_theorem_env *env = user_env(m, d, MINIMA_ACT_TANH, &copy);
    /* by default the rescaling checks do not apply to a tanh network ... */
    const char *all[] = {"thm1", "thm3", "thm4", "thm5", "sec4.3", "sec5.1"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        minima_theorem_result r = harness_theorem_run(all[i], env, &p);
        CHECK_THEOREM(r, 0, 0);
        CHECK_MSG(strstr(r.reason, "not non-negative homogeneous") != NULL, "%s: %s", all[i], r.reason);
    }
    /* ... but run anyway, they see the broken hypothesis */
    p.run_unmet_hypotheses = 1;
    const char *deep[] = {"thm1", "thm3", "thm4", "sec4.3"};
    for (size_t i = 0; i < sizeof deep / sizeof deep[0]; i++) {
        minima_theorem_result r = harness_theorem_run(deep[i], env, &p);
        CHECK_THEOREM(r, 1, 0);
    }
    minima_theorem_env_free(env);
    minima_model_free(copy);

    get_net(MINIMA_THEOREM_NET_SHALLOW, &m, &d);
    env = user_env(m, d, MINIMA_ACT_TANH, &copy);
    p.run_unmet_hypotheses = 0;
    minima_theorem_result na = harness_theorem_run("appC", env, &p);
    CHECK_THEOREM(na, 0, 0);
    p.run_unmet_hypotheses = 1;
    const char *shallow[] = {"thm2", "appC"};
    for (size_t i = 0; i < sizeof shallow / sizeof shallow[0]; i++) {
        minima_theorem_result r = harness_theorem_run(shallow[i], env, &p);
        CHECK_THEOREM(r, 1, 0);
    }
    minima_theorem_env_free(env);
    minima_model_free(copy);
}

/* Thm 5 at a tanh network that is an exact minimum of its own outputs. */
static void test_thm5_tanh_breaks(void)
{
    const minima_model *m;
    const minima_dataset *d;
    get_net(MINIMA_THEOREM_NET_EXACT, &m, &d);
    minima_model *copy = NULL;
    minima_dataset *d2 = NULL;
    CHECK_OK(minima_model_copy(m, &copy));
    minima_model_set_activation(copy, MINIMA_ACT_TANH, 0);
    CHECK_OK(minima_dataset_slice(d, 0, d->n, &d2));
    minima_theorem_env *env = NULL;
    if (d2) {
        /* targets = the tanh network's outputs: an exact minimum, L = 0 */
        CHECK_OK(minima_reference_forward(copy, NULL, d2->x, d2->n, d2->targets));
        CHECK_OK(minima_theorem_env_user(&env, copy, d2));
        minima_theorem_params p = minima_theorem_default_params();
        p.run_unmet_hypotheses = 1;          /* see Thm 5 fail where it does not apply */
        minima_theorem_result r = harness_theorem_run("thm5", env, &p);
        CHECK_THEOREM(r, 1, 0);
    }
    minima_theorem_env_free(env);
    minima_dataset_free(d2);
    minima_model_free(copy);
}

/* §5.1 at a non-critical point: the formula J^T H J misses the term
 * sum_i dL/dtheta_i hess g_i, and finite differences see it. */
static void test_sec51_noncritical_breaks(void)
{
    const minima_model *m;
    const minima_dataset *d;
    get_net(MINIMA_THEOREM_NET_DEEP, &m, &d);
    minima_model *copy = NULL;
    CHECK_OK(minima_model_copy(m, &copy));
    minima_rng rng;
    minima_rng_seed(&rng, 9);
    for (size_t i = 0; i < copy->n_params; i++) copy->theta[i] *= 1 + 0.2 * minima_rng_normal(&rng);
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_theorem_env_user(&env, copy, d));
    minima_theorem_result r = harness_theorem_run("sec5.1", env, NULL);
    CHECK_THEOREM(r, 0, 0);   /* a user's non-critical point: not applicable */
    CHECK(strstr(r.reason, "critical") != NULL);
    r = harness_theorem_run("thm4", env, NULL);
    CHECK_THEOREM(r, 0, 0);
    r = harness_theorem_run("sec4.3", env, NULL);
    CHECK_THEOREM(r, 0, 0);
    minima_theorem_params p = minima_theorem_default_params();
    p.grad_tol = 1e300;   /* forced: the check runs and must fail */
    r = harness_theorem_run("sec5.1", env, &p);
    CHECK_THEOREM(r, 1, 0);
    CHECK(minima_theorem_number_get(&r, "fd_rel_err") > p.fd_tol);
    /* the rescaling identities hold at every point */
    r = harness_theorem_run("thm1", env, NULL);
    CHECK_THEOREM(r, 1, 1);
    r = harness_theorem_run("thm3", env, NULL);
    CHECK_THEOREM(r, 1, 1);
    r = harness_theorem_run("appC", env, NULL);
    CHECK_THEOREM(r, 1, 1);
    minima_theorem_env_free(env);
    minima_model_free(copy);
}

/* §5.2 on data that is already whitened: both representation changes are
 * (nearly) the identity, nothing changes, the check fails. */
static void test_sec52_identity_breaks(void)
{
    const minima_model *m;
    const minima_dataset *d;
    get_net(MINIMA_THEOREM_NET_DEEP, &m, &d);
    minima_input_params ip = minima_input_default_params();
    ip.method = MINIMA_INPUT_WHITEN_ZCA;
    minima_input_transform *t = NULL;
    minima_model *folded = NULL;
    minima_dataset *u = NULL;
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_input_fit(d, &ip, &t));
    CHECK_OK(minima_input_fold(t, m, 1, &folded));
    CHECK_OK(minima_dataset_slice(d, 0, d->n, &u));
    if (t && folded && u) {
        CHECK_OK(minima_input_apply(t, d->x, d->n, u->x));
        CHECK_OK(minima_theorem_env_user(&env, folded, u));
        minima_theorem_result r = harness_theorem_run("sec5.2", env, NULL);
        CHECK_THEOREM(r, 1, 0);
    }
    minima_theorem_env_free(env);
    minima_dataset_free(u);
    minima_model_free(folded);
    minima_input_transform_free(t);
}

/* appD with targets whose outputs all have the same standard deviation:
 * standardization is a uniform scaling, no ranking can change. */
static void test_appd_uniform_scale_breaks(void)
{
    const minima_model *m;
    const minima_dataset *d;
    get_net(MINIMA_THEOREM_NET_DEEP, &m, &d);
    minima_dataset *d2 = NULL;
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_dataset_slice(d, 0, d->n, &d2));
    if (d2) {
        int k = d2->d_target;
        for (int j = 0; j < k; j++) {
            double mu = 0, v = 0;
            for (size_t i = 0; i < d2->n; i++) mu += d2->targets[i * (size_t)k + (size_t)j];
            mu /= (double)d2->n;
            for (size_t i = 0; i < d2->n; i++) {
                double z = d2->targets[i * (size_t)k + (size_t)j] - mu;
                v += z * z;
            }
            double sd = sqrt(v / (double)d2->n);
            for (size_t i = 0; i < d2->n; i++)
                d2->targets[i * (size_t)k + (size_t)j] = (d2->targets[i * (size_t)k + (size_t)j] - mu) / sd;
        }
        CHECK_OK(minima_theorem_env_user(&env, m, d2));
        minima_theorem_result r = harness_theorem_run("appD", env, NULL);
        CHECK_THEOREM(r, 1, 0);
        CHECK(fabs(minima_theorem_number_get(&r, "std_ratio") - 1) < 1e-9);
    }
    minima_theorem_env_free(env);
    minima_dataset_free(d2);
}

/* Applicability on user networks: Thm 2 needs one hidden layer; appD
 * needs regression targets; n_1 != n_2 gives a growing single box. */
static void test_applicability(void)
{
    const minima_model *m;
    const minima_dataset *d;
    get_net(MINIMA_THEOREM_NET_DEEP, &m, &d);
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_theorem_env_user(&env, m, d));
    CHECK(minima_theorem_env_is_user(env));
    minima_theorem_result r = harness_theorem_run("thm2", env, NULL);
    CHECK_THEOREM(r, 0, 0);
    CHECK(strstr(r.reason, "one hidden layer") != NULL);
    /* the deep network is a critical point: these apply and pass as user checks too */
    const char *ok[] = {"thm1", "thm3", "thm4", "sec4.3", "sec5.1", "sec5.2", "appC", "appD", "thm5"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        r = harness_theorem_run(ok[i], env, NULL);
        CHECK_THEOREM(r, 1, 1);
    }
    minima_theorem_env_free(env);

    /* labels only: appD does not apply */
    minima_dataset *cls = NULL;
    CHECK_OK(minima_dataset_create(&cls, d->n, d->d, 3, 0));
    if (cls) {
        memcpy(cls->x, d->x, d->n * (size_t)d->d * sizeof *cls->x);
        for (size_t i = 0; i < d->n; i++) cls->labels[i] = (int32_t)(i % 3);
        minima_model *ce = NULL;
        CHECK_OK(minima_model_copy(m, &ce));
        if (ce) {
            ce->loss = MINIMA_LOSS_CE;
            CHECK_OK(minima_theorem_env_user(&env, ce, cls));
            r = harness_theorem_run("appD", env, NULL);
            CHECK_THEOREM(r, 0, 0);
            minima_theorem_env_free(env);
            minima_model_free(ce);
        }
        minima_dataset_free(cls);
    }

    /* 1 hidden layer with n_1 != n_2 (4-6-2, no bias): thm2 passes with e = 24 - 12 */
    int widths[3] = {4, 6, 2};
    minima_model *sm = NULL;
    minima_dataset *sd = NULL;
    CHECK_OK(minima_model_create(&sm, 2, widths, 0, MINIMA_ACT_RELU));
    CHECK_OK(minima_dataset_create(&sd, 64, 4, 0, 2));
    if (sm && sd) {
        minima_model_init(sm, 3);
        sm->loss = MINIMA_LOSS_MSE;
        minima_rng rng;
        minima_rng_seed(&rng, 4);
        minima_rng_fill_normal(&rng, sd->x, 64 * 4);
        minima_rng_fill_normal(&rng, sd->targets, 64 * 2);
        CHECK_OK(minima_theorem_env_user(&env, sm, sd));
        r = harness_theorem_run("thm2", env, NULL);
        CHECK_THEOREM(r, 1, 1);
        CHECK(minima_theorem_number_get(&r, "volume_exponent") == 12);
        CHECK(minima_theorem_number_get(&r, "log_vol_bound_j20") >
              minima_theorem_number_get(&r, "log_vol_box") + 10);
        minima_theorem_env_free(env);
    }
    minima_dataset_free(sd);
    minima_model_free(sm);
}

/* Every allocation failure is MINIMA_ENOMEM, leak-free (ASan), for every
 * check: allocation n fails for n = 0, 1, ..., 40, then in steps of n/6,
 * until the check completes. */
static void test_out_of_memory(void)
{
    size_t count;
    const minima_theorem_check *c = minima_theorems(&count);
    for (size_t i = 0; i < count; i++) {
        const minima_model *m;
        const minima_dataset *d;
        minima_theorem_net which = strcmp(c[i].name, "thm2") == 0 || strcmp(c[i].name, "appC") == 0
                                       ? MINIMA_THEOREM_NET_SHALLOW
                                   : strcmp(c[i].name, "thm5") == 0 ? MINIMA_THEOREM_NET_EXACT
                                                                     : MINIMA_THEOREM_NET_DEEP;
        get_net(which, &m, &d);
        minima_theorem_env *env = NULL;
        CHECK_OK(minima_theorem_env_user(&env, m, d));
        int done = 0;
        for (long n = 0; n < 1000000 && !done; n += n < 40 ? 1 : 1 + n / 6) {
            minima_theorem_result r;
            minima_alloc_fail_after(n);
            minima_status st = minima_theorem_run(&c[i], env, NULL, &r);
            minima_alloc_fail_after(-1);
            if (st == MINIMA_OK) {
                done = 1;
                CHECK_MSG(r.applicable && r.passed, "%s after %ld allocations: %s", c[i].name, n,
                          r.details);
            } else {
                CHECK_MSG(st == MINIMA_ENOMEM, "%s, allocation %ld failing: %s (%s)", c[i].name, n,
                          minima_strerror(st), minima_last_error());
            }
        }
        CHECK(done);
        minima_theorem_env_free(env);
    }
    /* building the built-in networks */
    for (long n = 0; n < 1000000; n += n < 40 ? 1 : 1 + n / 6) {
        minima_theorem_env *env = NULL;
        const minima_model *m;
        const minima_dataset *d;
        minima_alloc_fail_after(n);
        minima_status st = minima_theorem_env_builtin(&env, NULL);
        if (st == MINIMA_OK) st = minima_theorem_env_net(env, MINIMA_THEOREM_NET_SHALLOW, &m, &d, NULL);
        minima_alloc_fail_after(-1);
        minima_theorem_env_free(env);
        if (st == MINIMA_OK) break;
        CHECK_MSG(st == MINIMA_ENOMEM, "builtin, allocation %ld failing: %s (%s)", n,
                  minima_strerror(st), minima_last_error());
    }
}

int main(void)
{
    minima_status s = minima_theorem_env_builtin(&builtin, NULL);
    if (s != MINIMA_OK) {
        fprintf(stderr, "built-in networks: %s\n", minima_last_error());
        return 1;
    }
    RUN(test_registry);
    RUN(test_all_pass_builtin);
    RUN(test_alpha_product_breaks);
    RUN(test_tanh_breaks);
    RUN(test_thm5_tanh_breaks);
    RUN(test_sec51_noncritical_breaks);
    RUN(test_sec52_identity_breaks);
    RUN(test_appd_uniform_scale_breaks);
    RUN(test_applicability);
    RUN(test_out_of_memory);
    minima_theorem_env_free(builtin);
    return harness_report();
}
