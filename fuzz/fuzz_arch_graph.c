/* fuzz_arch_graph.c — the general --arch grammar ("SHAPE:LAYER,...",
 * docs/model-files.md) on arbitrary strings.
 *
 * The input, cut at its first NUL byte, is the string. Every failure must
 * say why. A string that reads as a node list must be written back
 * (minima_arch_format) as a string that reads as the same nodes and is
 * written the same again; bn is the one token not written back, so the
 * comparison leaves out folded_batchnorm and the names. When all its
 * numbers are small, the network is built too (minima_arch_parse), which
 * checks the shapes; large numbers are left out so that a fuzzer does not
 * spend its memory on parameters. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/engine/arch_impl.h"
#include "fuzz_common.h"
#include "minima/model.h"

static int same(const arch_nodes *a, const arch_nodes *b)
{
    if (a->n_nodes != b->n_nodes) return 0;
    for (int i = 0; i < a->n_nodes; i++) {
        const minima_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (x->kind != y->kind || x->n_inputs != y->n_inputs || x->out != y->out ||
            x->groups != y->groups || x->has_bias != y->has_bias || x->slope != y->slope ||
            memcmp(x->kernel, y->kernel, sizeof x->kernel) ||
            memcmp(x->stride, y->stride, sizeof x->stride) ||
            memcmp(x->padding, y->padding, sizeof x->padding) ||
            memcmp(x->dilation, y->dilation, sizeof x->dilation) ||
            memcmp(&x->shape, &y->shape, i ? 0 : sizeof x->shape))
            return 0;
        for (int t = 0; t < x->n_inputs; t++)
            if (x->inputs[t] != y->inputs[t]) return 0;
    }
    return 1;
}

/* No run of more than 3 digits: sizes below 1000. */
static int small_numbers(const char *s)
{
    int run = 0;
    for (; *s; s++) {
        run = isdigit((unsigned char)*s) ? run + 1 : 0;
        if (run > 3) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    arch_nodes a = {0, NULL}, b = {0, NULL};
    minima_status st = arch_parse_nodes(s, 1, &a);
    FUZZ_CHECK_FAILURE(st);
    if (st == MINIMA_OK) {
        FUZZ_CHECK(a.n_nodes >= 2 && a.nodes[0].kind == MINIMA_NODE_INPUT);
        minima_model view;
        memset(&view, 0, sizeof view);
        view.n_nodes = a.n_nodes;
        view.nodes = a.nodes;
        size_t cap = 64 + 160 * (size_t)a.n_nodes;   /* the longest token is about 110 characters */
        char *text = malloc(cap), *again = malloc(cap);
        if (!text || !again) abort();
        minima_arch_format(&view, text, cap);
        FUZZ_CHECK(strlen(text) < cap - 1);
        FUZZ_CHECK(arch_parse_nodes(text, 1, &b) == MINIMA_OK);
        FUZZ_CHECK(same(&a, &b));
        view.n_nodes = b.n_nodes;
        view.nodes = b.nodes;
        minima_arch_format(&view, again, cap);
        FUZZ_CHECK(strcmp(text, again) == 0);
        free(text);
        free(again);
    }
    arch_nodes_free(&a);
    arch_nodes_free(&b);
    if (small_numbers(s) && strlen(s) < 4096) {
        minima_model *m = NULL;
        st = minima_arch_parse(s, 1, MINIMA_ACT_RELU, 0.01, &m);
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK((st == MINIMA_OK) == (m != NULL));
        minima_model_free(m);
    }
    free(s);
    minima_clear_error();
    return 0;
}
