/* test_sharpness_settings.c — every measure's settings come from one table:
 * defaults within range, out-of-range and malformed values refused with a
 * message naming the measure, the key, the range and the value, the JSON of
 * the settings used printed with the shortest round-tripping numbers, and
 * the params keys equal to the table's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/sharpness.h"

typedef struct {
    minima_model *model;
    minima_dataset data;
    minima_net *net;
} fixture;

static void fixture_open(fixture *f)
{
    memset(f, 0, sizeof *f);
    int widths[3] = {3, 4, 2};
    CHECK_OK(minima_model_create(&f->model, 2, widths, 1, MINIMA_ACT_RELU));
    minima_model_init(f->model, 3);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    f->data.n = 8;
    f->data.d = 3;
    f->data.n_classes = 2;
    f->data.x = malloc(8 * 3 * sizeof *f->data.x);
    f->data.labels = malloc(8 * sizeof *f->data.labels);
    minima_rng_fill_normal(&rng, f->data.x, 24);
    for (int i = 0; i < 8; i++) f->data.labels[i] = i % 2;
    f->data.name = "settings test data";
    CHECK_OK(minima_net_create(&f->net, f->model, &f->data, NULL));
}

static void fixture_close(fixture *f)
{
    minima_net_free(f->net);
    minima_model_free(f->model);
    free(f->data.x);
    free(f->data.labels);
}

/* Every setting is described: a unique name, a doc line, a default in its
 * range (or NaN: chosen by the measure), and the defaults string lists them. */
static void test_tables(void)
{
    size_t n;
    const minima_measure *ms = minima_measures(&n);
    CHECK(n == 17);
    for (size_t i = 0; i < n; i++) {
        const minima_measure *m = &ms[i];
        CHECK_MSG(m->n_settings == 0 || m->settings != NULL, "%s: no table", m->name);
        char defaults[512];
        minima_measure_defaults(m, defaults, sizeof defaults);
        for (size_t k = 0; k < m->n_settings; k++) {
            const minima_setting *s = &m->settings[k];
            CHECK_MSG(s->name && *s->name && s->doc && *s->doc, "%s: setting %zu undocumented", m->name, k);
            for (size_t j = 0; j < k; j++) CHECK(strcmp(s->name, m->settings[j].name) != 0);
            CHECK_MSG(strstr(defaults, s->name) != NULL, "%s: '%s' not in defaults '%s'", m->name, s->name,
                      defaults);
            if (isnan(s->def)) continue;
            /* the default, written out and read back, is accepted */
            char one[96], def[MINIMA_DOUBLE_CHARS];
            minima_setting_default_text(s, def, sizeof def);
            snprintf(one, sizeof one, "%s=%s", s->name, def);
            char values[1024];
            minima_status st = minima_settings_parse(m->name, m->settings, m->n_settings, one, values);
            CHECK_MSG(st == MINIMA_OK, "%s: its default %s is refused: %s", m->name, one, minima_last_error());
        }
    }
}

/* A value below the minimum (or at an excluded one) of every bounded
 * setting is MINIMA_EINVAL, and the message names measure, key, range and
 * value; the measure refuses it before computing anything. */
static void test_out_of_range(void)
{
    fixture f;
    fixture_open(&f);
    size_t n;
    const minima_measure *ms = minima_measures(&n);
    int tried = 0;
    for (size_t i = 0; i < n; i++) {
        const minima_measure *m = &ms[i];
        for (size_t k = 0; k < m->n_settings; k++) {
            const minima_setting *s = &m->settings[k];
            char set[96], val[MINIMA_DOUBLE_CHARS];
            if (s->kind == MINIMA_SETTING_BOOL) snprintf(val, sizeof val, "2");
            else if (s->kind == MINIMA_SETTING_PNORM) snprintf(val, sizeof val, "3");
            else if (isfinite(s->min))
                minima_format_double(val, sizeof val, (s->flags & MINIMA_SETTING_MIN_OPEN) ? s->min : s->min - 1);
            else if (isfinite(s->max))
                minima_format_double(val, sizeof val, (s->flags & MINIMA_SETTING_MAX_OPEN) ? s->max : s->max + 1);
            else continue;
            snprintf(set, sizeof set, "%s=%s", s->name, val);
            minima_measure_result r;
            minima_status st = minima_measure_compute(m, f.net, set, 0, &r);
            CHECK_MSG(st == MINIMA_EINVAL, "%s %s: %s", m->name, set, minima_strerror(st));
            const char *msg = minima_last_error();
            char quoted[64], range[96];
            snprintf(quoted, sizeof quoted, "'%s'", s->name);
            minima_setting_range_text(s, range, sizeof range);
            CHECK_MSG(strstr(msg, m->name) && strstr(msg, quoted) && strstr(msg, val) && strstr(msg, range),
                      "%s %s: message '%s' does not name measure, key, range (%s) and value", m->name, set,
                      msg, range);
            tried++;
        }
    }
    CHECK(tried > 50);
    fixture_close(&f);
}

/* Malformed settings: not key=value, unknown key (the keys are listed), a
 * key given twice, a fraction for an integer, text for a number. */
static void test_malformed(void)
{
    const minima_measure *m = minima_measure_find("dinh_sharpness");
    CHECK(m != NULL);
    if (!m) return;
    char values[256];
    const char *bad[] = {"eps", "bogus=1", "eps=1e-3,eps=2e-3", "steps=2.5", "eps=abc", "eps=", "eps=nan",
                         "eps=1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        minima_status st = minima_settings_parse(m->name, m->settings, m->n_settings, bad[i], values);
        CHECK_MSG(st == MINIMA_EINVAL, "'%s' accepted", bad[i]);
        CHECK_MSG(strstr(minima_last_error(), "dinh_sharpness") != NULL, "'%s': %s", bad[i], minima_last_error());
    }
    minima_settings_parse(m->name, m->settings, m->n_settings, "bogus=1", values);
    CHECK(strstr(minima_last_error(), "eps, steps, lr, starts, second_order, tol") != NULL);
    minima_settings_parse(m->name, m->settings, m->n_settings, "eps=1e-3,eps=2e-3", values);
    CHECK(strstr(minima_last_error(), "twice") != NULL);
}

/* The settings used are reported with the shortest round-tripping numbers
 * (1e-06, not 9.9999999999999995e-07), p as 2 or "inf", and the keys of
 * params are the table's, in order, then the measure's own report keys. */
static void test_json(void)
{
    fixture f;
    fixture_open(&f);
    minima_measure_result r;
    CHECK_OK(minima_measure_compute(minima_measure_find("dinh_sharpness"), f.net, "steps=2,starts=0", 0, &r));
    CHECK_MSG(!strcmp(r.params, "{\"eps\": 0.001, \"steps\": 2, \"lr\": 0.5, \"starts\": 0, "
                                "\"second_order\": 1, \"tol\": 1e-06, \"max_products\": 10000}"), "params %s", r.params);
    CHECK_OK(minima_measure_compute(minima_measure_find("asam"), f.net, "p=inf", 0, &r));
    CHECK_MSG(!strcmp(r.params, "{\"rho\": 0.5, \"eta\": 0.01, \"p\": \"inf\", \"biases\": 0}"), "params %s",
              r.params);
    CHECK_OK(minima_measure_compute(minima_measure_find("hessian_count"), f.net, NULL, 0, &r));
    CHECK_MSG(!strcmp(r.params, "{\"threshold\": 1, \"exact_max\": 3000, \"k\": 20, \"tol\": 1e-06, "
                                "\"max_products\": 10000, \"method\": \"exact\"}"), "params %s", r.params);
    /* an automatic default is reported resolved */
    CHECK_OK(minima_measure_compute(minima_measure_find("average_sharpness"), f.net, "draws=2,p=inf", 0, &r));
    CHECK_MSG(strstr(r.params, "\"rho\": 0.02,") != NULL, "params %s", r.params);
    CHECK(strstr(r.params, "\"p\": \"inf\"") != NULL);
    /* the defaults string names every setting with its default */
    char d[512];
    minima_measure_defaults(minima_measure_find("hessian_max"), d, sizeof d);
    CHECK_MSG(!strcmp(d, "tol=1e-08,max_products=10000"), "defaults %s", d);
    minima_measure_defaults(minima_measure_find("worst_sharpness"), d, sizeof d);
    CHECK_MSG(!strncmp(d, "rho=auto,p=2,", 13), "defaults %s", d);
    minima_measure_defaults(minima_measure_find("fisher_rao"), d, sizeof d);
    CHECK(!strcmp(d, ""));
    /* a buffer too short is cut, never overrun, and the length needed is returned */
    const minima_measure *m = minima_measure_find("dinh_sharpness");
    char values[256], small[16];
    CHECK_OK(minima_settings_parse(m->name, m->settings, m->n_settings, NULL, values));
    int need = minima_settings_json(m->settings, m->n_settings, values, NULL, small, sizeof small);
    CHECK(need > (int)sizeof small && strlen(small) == sizeof small - 1);
    fixture_close(&f);
}

int main(void)
{
    RUN(test_tables);
    RUN(test_out_of_range);
    RUN(test_malformed);
    RUN(test_json);
    return harness_report();
}
