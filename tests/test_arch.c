/* test_arch.c — the architecture grammar (docs/model-files.md, "Describing a
 * network: --arch"): strings to node lists (arch_parse_nodes), node lists
 * back to strings (minima_arch_format), whole models (minima_arch_parse),
 * and every error with its message.
 *
 * The node lists are tested without building graphs, so they need no layer
 * kind. Building a graph needs the kinds of its nodes in the engine: graphs
 * of every kind are built too (test_conv_graphs). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch_impl.h"
#include "engine/layer.h"
#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"

static const char example_cnn[] =
    "1x28x28:conv32k3p1,relu,maxpool2,conv64k3p1,relu,maxpool2,flatten,128,relu,10";
static const char example_resnet[] =
    "1x28x28:conv16k3p1,relu,res(conv16k3p1,relu,conv16k3p1),relu,maxpool2,"
    "res(conv16k3p1,relu,conv16k3p1),relu,gap,10";

static int have_conv_kinds(void)
{
    return layer_kind_of(MINIMA_NODE_CONV2D) && layer_kind_of(MINIMA_NODE_MAXPOOL2D) &&
           layer_kind_of(MINIMA_NODE_AVGPOOL2D) && layer_kind_of(MINIMA_NODE_GLOBAL_AVGPOOL);
}

/* A model holding only a node list: what minima_arch_format reads. */
static minima_model view_of(const arch_nodes *a)
{
    minima_model m;
    memset(&m, 0, sizeof m);
    m.n_nodes = a->n_nodes;
    m.nodes = a->nodes;
    return m;
}

/* Same kind, inputs, settings, bias, names (and folded_batchnorm when
 * `folded` is set). */
static int same_nodes(const minima_node *a, int na, const minima_node *b, int nb, int folded,
                      int names)
{
    if (na != nb) return 0;
    for (int i = 0; i < na; i++) {
        const minima_node *x = &a[i], *y = &b[i];
        if (x->kind != y->kind || x->n_inputs != y->n_inputs) return 0;
        for (int t = 0; t < x->n_inputs; t++)
            if (x->inputs[t] != y->inputs[t]) return 0;
        if (i == 0 && (x->shape.rank != y->shape.rank || x->shape.c != y->shape.c ||
                       x->shape.h != y->shape.h || x->shape.w != y->shape.w))
            return 0;
        if (x->out != y->out || x->groups != y->groups || x->has_bias != y->has_bias ||
            x->slope != y->slope)
            return 0;
        for (int t = 0; t < 2; t++)
            if (x->kernel[t] != y->kernel[t] || x->stride[t] != y->stride[t] ||
                x->padding[t] != y->padding[t] || x->dilation[t] != y->dilation[t])
                return 0;
        if (folded && x->folded_batchnorm != y->folded_batchnorm) return 0;
        if (names && strcmp(x->name ? x->name : "", y->name ? y->name : "")) return 0;
    }
    return 1;
}

/* parse -> format -> parse gives the same nodes; the text written is
 * `canonical` (NULL: the string itself). */
static void check_round_trip(const char *arch, const char *canonical)
{
    arch_nodes a, b;
    CHECK_OK(arch_parse_nodes(arch, 1, &a));
    if (!a.nodes) return;
    minima_model m = view_of(&a);
    char text[4096];
    minima_arch_format(&m, text, sizeof text);
    CHECK_MSG(!strcmp(text, canonical ? canonical : arch), "'%s' was written '%s', expected '%s'",
              arch, text, canonical ? canonical : arch);
    CHECK_OK(arch_parse_nodes(text, 1, &b));
    if (b.nodes)
        CHECK_MSG(same_nodes(a.nodes, a.n_nodes, b.nodes, b.n_nodes, 1, 1),
                  "'%s' -> '%s' read back differently", arch, text);
    arch_nodes_free(&a);
    arch_nodes_free(&b);
}

static void test_round_trips(void)
{
    check_round_trip(example_cnn, NULL);
    check_round_trip(example_resnet, NULL);
    check_round_trip("16:8,relu,res(8,relu,8),relu,4", NULL);
    check_round_trip("784:128,relu,10", NULL);
    check_round_trip("784:128nb,tanh,10nb", NULL);
    check_round_trip("3x32x32:conv8k3s2p1d2nb,lrelu0.2,avgpool3s2p1,conv8k5x3p2x1g4,tanh,"
                     "maxpool2x3s1,flatten,10nb", NULL);
    check_round_trip("8:res(res(8,relu),8),res(8),identity,4", NULL);
    check_round_trip("2x8x8:conv4k3p1,res(res(conv4k1,relu),conv4k3p1,res(identity)),gap,3", NULL);
    check_round_trip("4x9x9:maxpool3s2,avgpool2s1,maxpool2p1,conv4k3s1x2d2x1g2,gap,2", NULL);
    /* defaults are not written; spaces are allowed; options in any order */
    check_round_trip(" 1x8x8 : conv4k3s1p0d1g1 , maxpool2s2 , avgpool2x2s1x1 , flatten , 3 ",
                     "1x8x8:conv4k3,maxpool2,avgpool2s1,flatten,3");
    check_round_trip("1x8x8:conv4k3g1d2p1s2,flatten,3", "1x8x8:conv4k3s2p1d2,flatten,3");
    check_round_trip("8:lrelu,4", "8:lrelu0.01,4");
    check_round_trip("8:lrelu0.125,4,lrelu1e-3,2", "8:lrelu0.125,4,lrelu0.001,2");
}

static const minima_node *node_named(const arch_nodes *a, const char *name)
{
    for (int i = 0; i < a->n_nodes; i++)
        if (!strcmp(a->nodes[i].name, name)) return &a->nodes[i];
    return NULL;
}

static void test_nodes_of_the_examples(void)
{
    arch_nodes a;
    CHECK_OK(arch_parse_nodes(example_cnn, 1, &a));
    CHECK(a.n_nodes == 11);
    static const minima_node_kind cnn[] = {
        MINIMA_NODE_INPUT, MINIMA_NODE_CONV2D, MINIMA_NODE_RELU, MINIMA_NODE_MAXPOOL2D,
        MINIMA_NODE_CONV2D, MINIMA_NODE_RELU, MINIMA_NODE_MAXPOOL2D, MINIMA_NODE_FLATTEN,
        MINIMA_NODE_LINEAR, MINIMA_NODE_RELU, MINIMA_NODE_LINEAR};
    for (int i = 0; i < a.n_nodes && i < 11; i++) {
        char want[8];
        snprintf(want, sizeof want, "%d", i - 1);
        CHECK(a.nodes[i].kind == cnn[i]);
        CHECK(i == 0 ? a.nodes[i].n_inputs == 0
                     : a.nodes[i].n_inputs == 1 && a.nodes[i].inputs[0] == i - 1);
        CHECK(!strcmp(a.nodes[i].name, i ? want : ""));
    }
    CHECK(a.nodes[0].shape.rank == 3 && a.nodes[0].shape.c == 1 && a.nodes[0].shape.h == 28 &&
          a.nodes[0].shape.w == 28);
    const minima_node *c = &a.nodes[1];
    CHECK(c->out == 32 && c->kernel[0] == 3 && c->kernel[1] == 3 && c->stride[0] == 1 &&
          c->padding[0] == 1 && c->padding[1] == 1 && c->dilation[0] == 1 && c->groups == 1 &&
          c->has_bias == 1 && !c->folded_batchnorm);
    CHECK(a.nodes[3].kernel[0] == 2 && a.nodes[3].stride[0] == 2 && a.nodes[3].stride[1] == 2 &&
          a.nodes[3].padding[0] == 0 && !a.nodes[3].has_bias);
    CHECK(a.nodes[8].out == 128 && a.nodes[10].out == 10 && a.nodes[10].has_bias);
    arch_nodes_free(&a);

    /* node: kind, name, inputs */
    CHECK_OK(arch_parse_nodes(example_resnet, 1, &a));
    static const struct { minima_node_kind kind; const char *name; int in0, in1; } res[] = {
        {MINIMA_NODE_INPUT, "", -1, -1},
        {MINIMA_NODE_CONV2D, "0", 0, -1},
        {MINIMA_NODE_RELU, "1", 1, -1},
        {MINIMA_NODE_CONV2D, "2.body.0", 2, -1},
        {MINIMA_NODE_RELU, "2.body.1", 3, -1},
        {MINIMA_NODE_CONV2D, "2.body.2", 4, -1},
        {MINIMA_NODE_ADD, "2", 2, 5},          /* x + body(x): the block input first */
        {MINIMA_NODE_RELU, "3", 6, -1},
        {MINIMA_NODE_MAXPOOL2D, "4", 7, -1},
        {MINIMA_NODE_CONV2D, "5.body.0", 8, -1},
        {MINIMA_NODE_RELU, "5.body.1", 9, -1},
        {MINIMA_NODE_CONV2D, "5.body.2", 10, -1},
        {MINIMA_NODE_ADD, "5", 8, 11},
        {MINIMA_NODE_RELU, "6", 12, -1},
        {MINIMA_NODE_GLOBAL_AVGPOOL, "7", 13, -1},
        {MINIMA_NODE_LINEAR, "8", 14, -1},
    };
    CHECK(a.n_nodes == 16);
    for (int i = 0; i < a.n_nodes && i < 16; i++) {
        const minima_node *nd = &a.nodes[i];
        CHECK_MSG(nd->kind == res[i].kind && !strcmp(nd->name, res[i].name),
                  "node %d is %s '%s', expected %s '%s'", i, minima_node_kind_name(nd->kind),
                  nd->name, minima_node_kind_name(res[i].kind), res[i].name);
        if (i) CHECK(nd->inputs[0] == res[i].in0);
        if (nd->kind == MINIMA_NODE_ADD) CHECK(nd->n_inputs == 2 && nd->inputs[1] == res[i].in1);
    }
    arch_nodes_free(&a);

    /* nesting: res in res */
    CHECK_OK(arch_parse_nodes("8:4,res(8nb,res(relu,8),tanh),2", 1, &a));
    /* 0 input, 1 "0", 2 "1.body.0", 3 "1.body.1.body.0", 4 "1.body.1.body.1",
     * 5 add "1.body.1" (2, 4), 6 tanh "1.body.2", 7 add "1" (1, 6), 8 "2" */
    CHECK(a.n_nodes == 9);
    const minima_node *nd = node_named(&a, "1.body.1.body.0");
    CHECK(nd && nd->kind == MINIMA_NODE_RELU && nd->inputs[0] == 2);
    nd = node_named(&a, "1.body.1");
    CHECK(nd && nd->kind == MINIMA_NODE_ADD && nd->inputs[0] == 2 && nd->inputs[1] == 4);
    nd = node_named(&a, "1");
    CHECK(nd && nd->kind == MINIMA_NODE_ADD && nd->inputs[0] == 1 && nd->inputs[1] == 6);
    nd = node_named(&a, "1.body.0");
    CHECK(nd && nd->kind == MINIMA_NODE_LINEAR && !nd->has_bias && nd->out == 8);
    arch_nodes_free(&a);
}

/* bn: not a node, a module index; the layer before it gets folded_batchnorm
 * and a bias (the folded one), even when written nb or without biases. */
static void test_batchnorm(void)
{
    arch_nodes a;
    CHECK_OK(arch_parse_nodes("1x8x8:conv4k3nb,bn,relu,res(conv4k3p1,bn,relu),flatten,10,bn,3",
                              0, &a));
    /* 0 input, 1 conv '0' (bn '1'), 2 relu '2', 3 conv '3.body.0' (bn '3.body.1'),
     * 4 relu '3.body.2', 5 add '3', 6 flatten '4', 7 linear '5' (bn '6'), 8 linear '7' */
    CHECK(a.n_nodes == 9);
    static const char *const names[] = {"", "0", "2", "3.body.0", "3.body.2", "3", "4", "5", "7"};
    for (int i = 0; i < a.n_nodes && i < 9; i++) CHECK(!strcmp(a.nodes[i].name, names[i]));
    CHECK(a.nodes[1].folded_batchnorm && a.nodes[1].has_bias);
    CHECK(a.nodes[3].folded_batchnorm && a.nodes[3].has_bias);
    CHECK(a.nodes[7].folded_batchnorm && a.nodes[7].has_bias);
    CHECK(!a.nodes[8].folded_batchnorm && !a.nodes[8].has_bias);   /* has_bias = 0 */
    arch_nodes_free(&a);
    /* docs/model-files.md's example with BatchNorm */
    CHECK_OK(arch_parse_nodes("1x28x28:conv16k3p1nb,bn,relu,res(conv16k3p1nb,bn,relu,"
                              "conv16k3p1nb,bn),gap,10", 1, &a));
    static const char *const doc[] = {"", "0", "2", "3.body.0", "3.body.2", "3.body.3", "3",
                                      "4", "5"};
    CHECK(a.n_nodes == 9);
    for (int i = 0; i < a.n_nodes && i < 9; i++) CHECK(!strcmp(a.nodes[i].name, doc[i]));
    CHECK(a.nodes[5].folded_batchnorm && a.nodes[5].has_bias && !a.nodes[8].folded_batchnorm);
    arch_nodes_free(&a);
    CHECK_OK(arch_parse_nodes("1x8x8:conv4k3nb,bn,relu,res(conv4k3p1,bn,relu),flatten,10,bn,3",
                              0, &a));
    /* format never writes bn: the biases stay, the module numbering is the plain one */
    minima_model m = view_of(&a);
    char text[256];
    minima_arch_format(&m, text, sizeof text);
    CHECK_MSG(!strcmp(text, "1x8x8:conv4k3,relu,res(conv4k3p1,relu),flatten,10,3nb"), "%s", text);
    arch_nodes_free(&a);
}

/* The MLP form is minima_model_create (+ minima_model_set_activation). */
static void test_mlp_form(void)
{
    const int widths[] = {784, 128, 64, 10};
    for (int bias = 0; bias < 2; bias++) {
        for (int act = 0; act < 3; act++) {
            minima_model *want = NULL, *got = NULL;
            CHECK_OK(minima_model_create(&want, 3, widths, bias, (minima_activation)act));
            if (act == MINIMA_ACT_LEAKY_RELU)
                CHECK_OK(minima_model_set_activation(want, MINIMA_ACT_LEAKY_RELU, 0.2));
            CHECK_OK(minima_arch_parse("784-128-64-10", bias, (minima_activation)act, 0.2, &got));
            if (!want || !got) continue;
            CHECK(got->is_mlp && got->n_layers == 3 && got->n_params == want->n_params);
            CHECK(got->activation == want->activation && got->leaky_slope == want->leaky_slope);
            CHECK(got->has_bias == bias);
            CHECK(same_nodes(got->nodes, got->n_nodes, want->nodes, want->n_nodes, 1, 1));
            for (int k = 0; k < 3; k++) {
                CHECK(!strcmp(got->layer_names[k], want->layer_names[k]));
                CHECK(got->weight_offset[k] == want->weight_offset[k]);
            }
            /* the general form of the same network is the same model */
            char text[256];
            minima_arch_format(want, text, sizeof text);
            const char *expect_text[2][3] = {
                {"784:128nb,relu,64nb,relu,10nb", "784:128nb,lrelu0.2,64nb,lrelu0.2,10nb",
                 "784:128nb,tanh,64nb,tanh,10nb"},
                {"784:128,relu,64,relu,10", "784:128,lrelu0.2,64,lrelu0.2,10",
                 "784:128,tanh,64,tanh,10"}};
            CHECK_MSG(!strcmp(text, expect_text[bias][act]), "%s", text);
            minima_model *general = NULL;
            CHECK_OK(minima_arch_parse(text, 1, MINIMA_ACT_RELU, 0.01, &general));
            if (general) {
                CHECK(general->is_mlp && general->activation == want->activation &&
                      general->leaky_slope == want->leaky_slope && general->has_bias == bias);
                CHECK(same_nodes(general->nodes, general->n_nodes, want->nodes, want->n_nodes, 1, 1));
                for (int k = 0; k < 3; k++)
                    CHECK(!strcmp(general->layer_names[k], want->layer_names[k]));
            }
            /* the layer view's string is unchanged */
            minima_model_arch_string(got, text, sizeof text);
            CHECK(!strcmp(text, "784-128-64-10"));
            minima_model_free(general);
            minima_model_free(want);
            minima_model_free(got);
        }
    }
    minima_model *m = NULL;
    CHECK_STATUS(minima_arch_parse("784-12x-10", 1, MINIMA_ACT_RELU, 0.01, &m), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "width 2 is not a positive integer") != NULL);
    CHECK_STATUS(minima_arch_parse("784-10", 1, MINIMA_ACT_LEAKY_RELU, 1.5, &m), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "slope between 0 and 1") != NULL);
    CHECK(m == NULL);
}

/* A graph of linear, relu and add nodes: names, shapes, parameter counts
 * and offsets as PyTorch's parameters() would give them. */
static void test_flat_residual_graph(void)
{
    minima_model *m = NULL;
    CHECK_OK(minima_arch_parse("16:8,relu,res(8,relu,8),relu,4", 1, MINIMA_ACT_RELU, 0.01, &m));
    if (!m) return;
    CHECK(!m->is_mlp && m->n_layers == 0 && !m->widths && !m->layer_names);
    CHECK(m->n_nodes == 9);
    /* nn.Sequential(Linear(16, 8), ReLU(), Res(Sequential(Linear(8, 8), ReLU(),
     * Linear(8, 8))), ReLU(), Linear(8, 4)): parameters() is
     * 0.weight 128, 0.bias 8, 2.body.0.weight 64, 2.body.0.bias 8,
     * 2.body.2.weight 64, 2.body.2.bias 8, 4.weight 32, 4.bias 4: 316 in all */
    CHECK(m->n_params == 316);
    static const struct { const char *name; size_t w, nw, b, nb; const char *shape; } want[] = {
        {"", 0, 0, 0, 0, "16"},
        {"0", 0, 128, 128, 8, "8"},
        {"1", 136, 0, 136, 0, "8"},
        {"2.body.0", 136, 64, 200, 8, "8"},
        {"2.body.1", 208, 0, 208, 0, "8"},
        {"2.body.2", 208, 64, 272, 8, "8"},
        {"2", 280, 0, 280, 0, "8"},
        {"3", 280, 0, 280, 0, "8"},
        {"4", 280, 32, 312, 4, "4"},
    };
    for (int i = 0; i < 9; i++) {
        const minima_node *nd = &m->nodes[i];
        char s[32];
        minima_shape_string(nd->shape, s, sizeof s);
        CHECK_MSG(!strcmp(nd->name, want[i].name) && !strcmp(s, want[i].shape) &&
                  nd->n_weight == want[i].nw && nd->n_bias == want[i].nb &&
                  (!want[i].nw || nd->weight_offset == want[i].w) &&
                  (!want[i].nb || nd->bias_offset == want[i].b),
                  "node %d: '%s' %s weight %zu+%zu bias %zu+%zu", i, nd->name, s,
                  nd->weight_offset, nd->n_weight, nd->bias_offset, nd->n_bias);
    }
    char label[128];
    minima_model_node_label(m, 3, label, sizeof label);
    CHECK(!strcmp(label, "node 3 (linear '2.body.0')"));
    char text[256];
    minima_arch_format(m, text, sizeof text);
    CHECK_MSG(!strcmp(text, "16:8,relu,res(8,relu,8),relu,4"), "%s", text);
    minima_model_arch_string(m, text, sizeof text);
    CHECK(!strcmp(text, "16:8,relu,res(8,relu,8),relu,4"));
    /* a copy formats the same */
    minima_model *c = NULL;
    CHECK_OK(minima_model_copy(m, &c));
    if (c) {
        minima_arch_format(c, text, sizeof text);
        CHECK(!strcmp(text, "16:8,relu,res(8,relu,8),relu,4"));
    }
    minima_model_free(c);
    minima_model_free(m);

    /* no biases anywhere, except where nb... and flatten/identity on flat data */
    CHECK_OK(minima_arch_parse("6:flatten,identity,5,res(5),3", 0, MINIMA_ACT_RELU, 0.01, &m));
    if (m) {
        /* Linear(6, 5, bias=False) 30, body Linear(5, 5, bias=False) 25, Linear(5, 3) 15 */
        CHECK(m->n_params == 70);
        minima_arch_format(m, text, sizeof text);
        CHECK_MSG(!strcmp(text, "6:flatten,identity,5nb,res(5nb),3nb"), "%s", text);
    }
    minima_model_free(m);
    m = NULL;
    /* the general form of an MLP is an MLP */
    CHECK_OK(minima_arch_parse("10:7,lrelu0.1,3", 1, MINIMA_ACT_RELU, 0.01, &m));
    if (m) {
        CHECK(m->is_mlp && m->activation == MINIMA_ACT_LEAKY_RELU && m->leaky_slope == 0.1);
        CHECK(!strcmp(m->layer_names[0], "0") && !strcmp(m->layer_names[1], "2"));
        minima_model_arch_string(m, text, sizeof text);
        CHECK(!strcmp(text, "10-7-3"));
    }
    minima_model_free(m);
}

/* body(x) + x is written as res(...) like x + body(x) (the same sums, bit
 * for bit); an add of two branches is not a res block: written with
 * explicit inputs, refused when read back. */
static void test_graph_beyond_the_grammar(void)
{
    minima_node spec[5];
    spec[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    spec[0].shape = (minima_shape){1, 8, 1, 1};
    spec[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    spec[1].out = 8;
    spec[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    spec[3] = minima_node_make(MINIMA_NODE_ADD, 2);   /* body(x) + x */
    spec[3].inputs[1] = 0;
    spec[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    spec[4].out = 4;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, spec));
    if (!m) return;
    char text[256];
    minima_arch_format(m, text, sizeof text);
    CHECK_MSG(!strcmp(text, "8:res(8,relu),4"), "%s", text);
    minima_model *back = NULL;
    CHECK_OK(minima_arch_parse(text, 1, MINIMA_ACT_RELU, 0.01, &back));
    CHECK(back && back->n_params == m->n_params && back->nodes[3].kind == MINIMA_NODE_ADD);
    minima_model_free(back);
    minima_model_free(m);

    /* two branches from the input, added: beyond the grammar */
    spec[2] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    spec[2].out = 8;
    spec[3] = minima_node_make(MINIMA_NODE_ADD, 1);
    spec[3].inputs[1] = 2;
    m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, spec));
    if (!m) return;
    minima_arch_format(m, text, sizeof text);
    CHECK_MSG(!strcmp(text, "8:8@0,8@0,add@1+2,4@3"), "%s", text);
    back = NULL;
    CHECK_STATUS(minima_arch_parse(text, 1, MINIMA_ACT_RELU, 0.01, &back), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "token '8@0' at character 3") != NULL);
    CHECK(strstr(minima_last_error(), "explicit inputs") != NULL);
    /* truncation: size-1 characters and a terminating NUL */
    char small[6];
    minima_arch_format(m, small, sizeof small);
    CHECK(!strcmp(small, "8:8@0"));
    minima_arch_format(m, small, 1);
    CHECK(small[0] == '\0');
    minima_model_free(m);
    spec[2] = minima_node_make(MINIMA_NODE_RELU, 1);

    /* a second branch that reads an older node */
    spec[3] = minima_node_make(MINIMA_NODE_ADD, 1);
    spec[3].inputs[1] = 2;      /* linear + relu(linear): res around the relu, block input 1 */
    CHECK_OK(minima_model_create_graph(&m, 5, spec));
    if (m) {
        minima_arch_format(m, text, sizeof text);
        CHECK_MSG(!strcmp(text, "8:8,res(relu),4"), "%s", text);
    }
    minima_model_free(m);
}

/* Shapes and parameter counts of conv/pool graphs: PyTorch's counts. */
static void test_conv_graphs(void)
{
    CHECK(have_conv_kinds());
    if (!have_conv_kinds()) return;
    minima_model *m = NULL;
    CHECK_OK(minima_arch_parse(example_cnn, 1, MINIMA_ACT_RELU, 0.01, &m));
    if (m) {
        /* Conv2d(1, 32, 3, padding=1): 32*1*9 + 32 = 320
         * Conv2d(32, 64, 3, padding=1): 64*32*9 + 64 = 18496
         * 28 -> 14 -> 7: Linear(64*7*7 = 3136, 128): 3136*128 + 128 = 401536
         * Linear(128, 10): 1290; in all 421642 */
        CHECK(m->n_params == 421642);
        static const char *const shapes[] = {"1x28x28", "32x28x28", "32x28x28", "32x14x14",
                                             "64x14x14", "64x14x14", "64x7x7", "3136", "128",
                                             "128", "10"};
        for (int i = 0; i < m->n_nodes && i < 11; i++) {
            char s[32];
            minima_shape_string(m->nodes[i].shape, s, sizeof s);
            CHECK_MSG(!strcmp(s, shapes[i]), "node %d: %s, expected %s", i, s, shapes[i]);
        }
        CHECK(m->nodes[4].weight_offset == 320 && m->nodes[4].n_weight == 18432 &&
              m->nodes[4].bias_offset == 320 + 18432);
        CHECK(m->nodes[8].weight_offset == 320 + 18496);
        char text[512];
        minima_arch_format(m, text, sizeof text);
        CHECK(!strcmp(text, example_cnn));
    }
    minima_model_free(m);
    m = NULL;
    CHECK_OK(minima_arch_parse(example_resnet, 1, MINIMA_ACT_RELU, 0.01, &m));
    if (m) {
        /* Conv2d(1, 16, 3, padding=1): 144 + 16 = 160; four Conv2d(16, 16, 3,
         * padding=1): 4 * (2304 + 16) = 9280; Linear(16, 10): 170; in all 9610 */
        CHECK(m->n_params == 9610);
        char s[32];
        minima_shape_string(m->nodes[12].shape, s, sizeof s);
        CHECK(!strcmp(s, "16x14x14"));
        minima_shape_string(m->nodes[14].shape, s, sizeof s);
        CHECK(!strcmp(s, "16"));
        char text[512];
        minima_arch_format(m, text, sizeof text);
        CHECK(!strcmp(text, example_resnet));
    }
    minima_model_free(m);
    m = NULL;
    /* groups, stride, dilation, no bias: Conv2d(4, 8, 3, stride 2, dilation 2,
     * groups 2, bias=False): 8 * 2 * 9 = 144; 9x9 -> (9 - 2*(3-1) - 1) / 2 + 1 = 3,
     * avgpool3 -> 1x1, Linear(8, 2): 18 */
    CHECK_OK(minima_arch_parse("4x9x9:conv8k3s2d2g2nb,avgpool3,flatten,2", 1, MINIMA_ACT_RELU,
                               0.01, &m));
    if (m) CHECK(m->n_params == 144 + 8 * 2 + 2);
    minima_model_free(m);
    m = NULL;
    /* shape errors name the node, after the architecture */
    CHECK(minima_arch_parse("1x8x8:flatten,conv4k3", 1, MINIMA_ACT_RELU, 0.01, &m) != MINIMA_OK);
    CHECK(strstr(minima_last_error(), "architecture '1x8x8:flatten,conv4k3': node 2 (conv2d '1')"));
    CHECK(minima_arch_parse("3x8x8:conv4k3g2,gap,2", 1, MINIMA_ACT_RELU, 0.01, &m) != MINIMA_OK);
    CHECK(strstr(minima_last_error(), "node 1 (conv2d '0')"));
    CHECK(m == NULL);
}

/* info --json: "nodes" for every model, "layers" the parametric nodes of a
 * graph, "arch" the general form of a graph. */
static void test_info_json(void)
{
    minima_model *m = NULL;
    CHECK_OK(minima_arch_parse("16:8,relu,res(8nb,lrelu0.2,8),tanh,4", 1, MINIMA_ACT_RELU, 0.01,
                               &m));
    if (!m) return;
    m->nodes[1].folded_batchnorm = 1;   /* as a loader that folded a BatchNorm1d would */
    for (size_t i = 0; i < m->n_params; i++) m->theta[i] = 1.0;
    char *json = NULL;
    CHECK_OK(minima_model_info_json(m, NULL, &json));
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    CHECK_MSG(j != NULL, "not JSON: %s", json ? json : "(null)");
    if (j) {
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
        CHECK(cJSON_IsString(arch) && !strcmp(arch->valuestring, "16:8,relu,res(8nb,lrelu0.2,8),tanh,4"));
        CHECK(cJSON_GetObjectItemCaseSensitive(j, "n_layers")->valueint == 0);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "is_mlp")));
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "has_bias")));
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(j, "activation")->valuestring, "mixed"));
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
        CHECK(cJSON_GetArraySize(layers) == 4);   /* 0, 2.body.0, 2.body.2, 4 */
        const cJSON *l1 = cJSON_GetArrayItem(layers, 1);
        if (l1) {
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(l1, "name")->valuestring, "2.body.0"));
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(l1, "kind")->valuestring, "linear"));
            CHECK(cJSON_GetObjectItemCaseSensitive(l1, "n_params")->valueint == 64);
            CHECK(cJSON_GetObjectItemCaseSensitive(l1, "offset")->valueint == 136);
            CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(l1, "bias")));
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(l1, "bias_norm")));
            CHECK(cJSON_GetObjectItemCaseSensitive(l1, "weight_norm")->valuedouble == 8.0);
        }
        const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j, "nodes");
        CHECK(cJSON_GetArraySize(nodes) == 9);
        const cJSON *add = cJSON_GetArrayItem(nodes, 6);
        if (add) {
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(add, "inputs");
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(add, "kind")->valuestring, "add"));
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(add, "name")->valuestring, "2"));
            CHECK(cJSON_GetArraySize(in) == 2 && cJSON_GetArrayItem(in, 0)->valueint == 2 &&
                  cJSON_GetArrayItem(in, 1)->valueint == 5);
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(add, "shape")->valuestring, "8"));
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(add, "offset")));
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(add, "settings")) == 0);
        }
        const cJSON *lin = cJSON_GetArrayItem(nodes, 1);
        if (lin) {
            const cJSON *set = cJSON_GetObjectItemCaseSensitive(lin, "settings");
            CHECK(cJSON_GetObjectItemCaseSensitive(set, "out")->valueint == 8);
            CHECK(cJSON_GetArraySize(set) == 1);
            CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lin, "folded_batchnorm")));
            CHECK(cJSON_GetObjectItemCaseSensitive(lin, "n_params")->valueint == 136);
        }
        const cJSON *leaky = cJSON_GetArrayItem(nodes, 4);
        if (leaky)
            CHECK(cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetObjectItemCaseSensitive(leaky, "settings"), "slope")->valuedouble == 0.2);
        CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(nodes, 2), "folded_batchnorm") == NULL);
    }
    cJSON_Delete(j);
    minima_free(json);
    minima_model_free(m);

    /* an MLP keeps its layer view and gets the nodes too */
    const int widths[] = {5, 8, 3};
    CHECK_OK(minima_model_create(&m, 2, widths, 1, MINIMA_ACT_RELU));
    if (!m) return;
    CHECK_OK(minima_model_info_json(m, "m.safetensors", &json));
    j = json ? cJSON_Parse(json) : NULL;
    CHECK(j != NULL);
    if (j) {
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(j, "arch")->valuestring, "5-8-3"));
        CHECK(cJSON_GetObjectItemCaseSensitive(j, "n_layers")->valueint == 2);
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(j, "activation")->valuestring, "relu"));
        const cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "layers"), 0);
        CHECK(l0 && cJSON_GetObjectItemCaseSensitive(l0, "in")->valueint == 5 &&
              cJSON_GetObjectItemCaseSensitive(l0, "out")->valueint == 8 &&
              !strcmp(cJSON_GetObjectItemCaseSensitive(l0, "name")->valuestring, "0"));
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "nodes")) == 4);
    }
    cJSON_Delete(j);
    minima_free(json);
    minima_model_free(m);
}

/* One refused string: the status, and pieces of the message. */
static void refuse(const char *arch, minima_status want, const char *piece1, const char *piece2)
{
    minima_model *m = NULL;
    harness_checks++;
    minima_status st = minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0.01, &m);
    const char *msg = minima_last_error();
    if (st != want || m)
        harness_fail(__FILE__, __LINE__, "'%s': %s (%s), expected %s", arch, minima_strerror(st),
                     msg, minima_strerror(want));
    else if ((piece1 && !strstr(msg, piece1)) || (piece2 && !strstr(msg, piece2)))
        harness_fail(__FILE__, __LINE__, "'%s': message '%s' lacks '%s' / '%s'", arch, msg,
                     piece1 ? piece1 : "", piece2 ? piece2 : "");
    minima_model_free(m);
}

static void test_errors(void)
{
    /* unknown tokens */
    refuse("1x28x28:conv32k3,relux,10", MINIMA_EINVAL,   /* the one in docs/model-files.md */
           "architecture '1x28x28:conv32k3,relux,10': token 'relux' at character 18 (module '1'): "
           "unknown layer; expected a width N (linear), conv<C>k<K>[s<S>][p<P>][d<D>][g<G>], relu, "
           "lrelu<a>, tanh, maxpool<K>[s<S>], avgpool<K>[s<S>], gap, flatten, identity, "
           "res(LAYER,...) or bn", NULL);
    refuse("16:8,foo,4", MINIMA_EINVAL, "token 'foo' at character 6 (module '1'): unknown layer",
           "expected a width N (linear), conv<C>k<K>");
    refuse("16:8,res(relu,sigmoid)", MINIMA_EINVAL, "token 'sigmoid' at character 15",
           "module '1.body.1'");
    refuse("16:Relu", MINIMA_EINVAL, "token 'Relu'", "unknown layer");
    refuse("16:relunb", MINIMA_EINVAL, "token 'relunb'", "unknown layer");
    refuse("16:add", MINIMA_EINVAL, "token 'add'", "res(LAYER,...)");
    refuse("8:8@0,relu@1", MINIMA_EINVAL, "token '8@0'", "explicit inputs");
    /* bad numbers and sizes */
    refuse("16:0", MINIMA_EINVAL, "token '0' at character 4", "bad width");
    refuse("16:8x", MINIMA_EINVAL, "token '8x'", "found 'x' after the number");
    refuse("16:-8", MINIMA_EINVAL, "token '-8'", "bad width");
    refuse("16:8,+4", MINIMA_EINVAL, "token '+4'", "without a sign");
    refuse("16:8.5", MINIMA_EINVAL, "token '8.5'", "found '.5' after the number");
    refuse("1x8x8:conv-4k3", MINIMA_EINVAL, "bad channel count", NULL);
    refuse("1x8x8:conv4k3p-1", MINIMA_EINVAL, "bad padding at 'p-1'", NULL);
    refuse("16:1000000000", MINIMA_EINVAL, "bad width", "between 1 and 1e8");
    refuse("1x8x8:conv0k3", MINIMA_EINVAL, "token 'conv0k3'", "bad channel count");
    refuse("1x8x8:conv8", MINIMA_EINVAL, "token 'conv8'", "bad kernel: expected k<K>");
    refuse("1x8x8:conv8k0", MINIMA_EINVAL, "token 'conv8k0'", "bad kernel");
    refuse("1x8x8:conv8k3s0", MINIMA_EINVAL, "bad stride at 's0'", "a number >= 1");
    refuse("1x8x8:conv8k3p", MINIMA_EINVAL, "bad padding at 'p'", "a number >= 0");
    refuse("1x8x8:conv8k3d0", MINIMA_EINVAL, "bad dilation", NULL);
    refuse("1x8x8:conv8k3g0", MINIMA_EINVAL, "bad group count", NULL);
    refuse("1x8x8:conv8k3p1p2", MINIMA_EINVAL, "p is given twice", NULL);
    refuse("1x8x8:conv8k3q1", MINIMA_EINVAL, "expected s<S>, p<P>, d<D>, g<G> or nb", "'q1'");
    refuse("1x8x8:conv8k3nbx", MINIMA_EINVAL, "found 'nbx'", NULL);
    refuse("1x8x8:maxpool0", MINIMA_EINVAL, "token 'maxpool0'", "bad kernel");
    refuse("1x8x8:avgpool", MINIMA_EINVAL, "expected avgpool<K>", NULL);
    refuse("1x8x8:maxpool2s0", MINIMA_EINVAL, "bad stride", NULL);
    refuse("1x8x8:maxpool2s1s1", MINIMA_EINVAL, "s is given twice", NULL);
    refuse("1x8x8:maxpool2d2", MINIMA_EINVAL, "expected s<S> or p<P> after maxpool<K>", NULL);
    refuse("8:lrelu2", MINIMA_EINVAL, "bad slope '2'", "between 0 and 1");
    refuse("8:lrelu0", MINIMA_EINVAL, "bad slope '0'", NULL);
    refuse("8:lrelu-0.1", MINIMA_EINVAL, "bad slope '-0.1'", NULL);
    refuse("8:lrelu0.1x", MINIMA_EINVAL, "bad slope '0.1x'", NULL);
    refuse("8:lrelunan", MINIMA_EINVAL, "bad slope 'nan'", NULL);
    /* the shape and the ':' */
    refuse("conv8k3,relu", MINIMA_EINVAL, "missing ':'", "SHAPE:LAYER");
    refuse("784", MINIMA_EINVAL, "missing ':'", "784-128-10");
    refuse("1x28:10", MINIMA_EINVAL, "the input shape '1x28' before ':'", "CxHxW");
    refuse("0:10", MINIMA_EINVAL, "the input shape '0'", NULL);
    refuse("1x28x28x3:10", MINIMA_EINVAL, "the input shape", NULL);
    refuse(":10", MINIMA_EINVAL, "the input shape ''", NULL);
    refuse("16:", MINIMA_EINVAL, "no layers after ':'", "16:10");
    refuse("16:  ", MINIMA_EINVAL, "no layers after ':'", NULL);
    /* commas and parentheses */
    refuse("16:8,,4", MINIMA_EINVAL, "a layer is missing at character 6 (module '1')", NULL);
    refuse("16:8,", MINIMA_EINVAL, "a layer is missing at character 6", NULL);
    refuse("16:res(8,relu", MINIMA_EINVAL, "res( at character 4 is not closed",
           "unbalanced parentheses");
    refuse("16:res(res(8)", MINIMA_EINVAL, "res( at character 4 is not closed", NULL);
    refuse("16:8)", MINIMA_EINVAL, "')' at character 5 closes no res(", "unbalanced");
    refuse("16:res(8)),4", MINIMA_EINVAL, "')' at character 10 closes no res(", NULL);
    refuse("16:res(8)relu", MINIMA_EINVAL, "expected ',' after the res(...)", "found 'r'");
    refuse("16:foo(8)", MINIMA_EINVAL, "token 'foo'", "only res opens a block");
    refuse("16:(8)", MINIMA_EINVAL, "'(' without res", NULL);
    refuse("16:res()", MINIMA_EINVAL, "res( at character 4 has an empty body", NULL);
    refuse("16:res( )", MINIMA_EINVAL, "empty body", NULL);
    /* bn */
    refuse("16:bn,8", MINIMA_EINVAL, "token 'bn' at character 4 (module '0')",
           "must come right after a conv or linear layer, and it follows the input");
    refuse("16:8,relu,bn", MINIMA_EINVAL, "it follows relu", NULL);
    refuse("16:8,res(8),bn", MINIMA_EINVAL, "it follows a res(...) block", NULL);
    refuse("16:8,bn,bn", MINIMA_EINVAL, "it follows another bn", NULL);
    refuse("16:8,res(bn,8)", MINIMA_EINVAL, "module '1.body.0'", "the start of a res( body");
    /* nesting deeper than the grammar reads */
    char deep[8 * (ARCH_MAX_DEPTH + 2) + 16];
    size_t used = (size_t)snprintf(deep, sizeof deep, "8:");
    for (int i = 0; i <= ARCH_MAX_DEPTH; i++) used += (size_t)snprintf(deep + used, sizeof deep - used, "res(");
    used += (size_t)snprintf(deep + used, sizeof deep - used, "8");
    for (int i = 0; i <= ARCH_MAX_DEPTH; i++) used += (size_t)snprintf(deep + used, sizeof deep - used, ")");
    refuse(deep, MINIMA_EINVAL, "nested more than 64 deep", NULL);
    /* shapes: from the graph check, after the architecture */
    refuse("1x8x8:10", MINIMA_ESHAPE, "architecture '1x8x8:10': node 1 (linear '0')",
           "needs a flat input");
    refuse("16:res(8,relu,4)", MINIMA_ESHAPE, "architecture '16:res(8,relu,4)': node 4 (add '0')",
           "same shape");
    refuse("16:relu", MINIMA_EINVAL, "no parameters", NULL);
    /* the node list alone */
    arch_nodes a;
    CHECK_STATUS(arch_parse_nodes("784-10", 1, &a), MINIMA_EINVAL);
    CHECK(a.nodes == NULL && a.n_nodes == 0);
    CHECK_STATUS(arch_parse_nodes(NULL, 1, &a), MINIMA_EINVAL);
    minima_model *m = NULL;
    CHECK_STATUS(minima_arch_parse(NULL, 1, MINIMA_ACT_RELU, 0.01, &m), MINIMA_EINVAL);
}

int main(void)
{
    RUN(test_round_trips);
    RUN(test_nodes_of_the_examples);
    RUN(test_batchnorm);
    RUN(test_mlp_form);
    RUN(test_flat_residual_graph);
    RUN(test_graph_beyond_the_grammar);
    RUN(test_conv_graphs);
    RUN(test_info_json);
    RUN(test_errors);
    return harness_report();
}
