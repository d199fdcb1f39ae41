/* onnx_write.c — a minima model as an ONNX file (minima/onnx.h): one ONNX
 * node per minima node, opset 13, the parameters as initializers named
 * after the nodes, written atomically. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minima/alloc.h"
#include "minima/onnx.h"
#include "minima/tempfile.h"

#ifndef MINIMA_HAVE_ONNX

minima_status minima_model_save_onnx(const minima_model *model, const char *path, minima_dtype dtype)
{
    (void)model;
    (void)dtype;
    MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot save '%s': this minima was built without ONNX support; "
                "install the Debian packages protobuf-c-compiler libprotobuf-c-dev python3-onnx "
                "(scripts/setup.sh) and rebuild", path ? path : "(null)");
}

#else

#include "io/onnx_impl.h"

/* Every allocation of the message tree, freed together. */
typedef struct {
    void **p;
    size_t n, cap;
    int failed;
} arena;

static void *arena_alloc(arena *A, size_t count, size_t size)
{
    if (A->failed) return NULL;
    if (A->n == A->cap) {
        size_t nc = A->cap ? 2 * A->cap : 256;
        void **np = minima_realloc(A->p, nc, sizeof *np);
        if (!np) { A->failed = 1; return NULL; }
        A->p = np;
        A->cap = nc;
    }
    void *q = minima_calloc(count ? count : 1, size);
    if (!q) { A->failed = 1; return NULL; }
    A->p[A->n++] = q;
    return q;
}

static char *arena_str(arena *A, const char *s)
{
    size_t n = strlen(s) + 1;
    char *q = arena_alloc(A, n, 1);
    if (q) memcpy(q, s, n);
    return q;
}

static void arena_free(arena *A)
{
    for (size_t i = 0; i < A->n; i++) minima_free(A->p[i]);
    minima_free(A->p);
}

/* ---- building blocks ---------------------------------------------------- */

static Onnx__AttributeProto *attr_ints(arena *A, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = arena_alloc(A, 1, sizeof *a);
    int64_t *ints = arena_alloc(A, n, sizeof *ints);
    if (!a || !ints) return NULL;
    onnx__attribute_proto__init(a);
    a->name = arena_str(A, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    memcpy(ints, v, n * sizeof *v);
    a->ints = ints;
    a->n_ints = n;
    return a;
}

static Onnx__AttributeProto *attr_int(arena *A, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = arena_alloc(A, 1, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = arena_str(A, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return a;
}

static Onnx__AttributeProto *attr_float(arena *A, const char *name, double v)
{
    Onnx__AttributeProto *a = arena_alloc(A, 1, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = arena_str(A, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = (float)v;
    return a;
}

typedef struct {
    Onnx__NodeProto **nodes;
    size_t n, cap;
} nodelist;

static Onnx__NodeProto *add_node(arena *A, nodelist *L, const char *op, const char *name,
                                 const char *const *in, size_t n_in, const char *out, size_t n_attr)
{
    Onnx__NodeProto *n = arena_alloc(A, 1, sizeof *n);
    char **ins = arena_alloc(A, n_in, sizeof *ins);
    char **outs = arena_alloc(A, 1, sizeof *outs);
    Onnx__AttributeProto **attrs = arena_alloc(A, n_attr, sizeof *attrs);
    if (!n || !ins || !outs || !attrs || L->n == L->cap) return NULL;
    onnx__node_proto__init(n);
    n->op_type = arena_str(A, op);
    n->name = arena_str(A, name);
    for (size_t k = 0; k < n_in; k++) ins[k] = arena_str(A, in[k]);
    n->input = ins;
    n->n_input = n_in;
    outs[0] = arena_str(A, out);
    n->output = outs;
    n->n_output = 1;
    n->attribute = attrs;
    n->n_attribute = 0;
    L->nodes[L->n++] = n;
    return n;
}

static void push_attr(Onnx__NodeProto *n, Onnx__AttributeProto *a, int *failed)
{
    if (!n || !a) { *failed = 1; return; }
    n->attribute[n->n_attribute++] = a;
}

/* A tensor of n values with the given dims, as DOUBLE or FLOAT raw data. */
static minima_status add_tensor(arena *A, Onnx__TensorProto **slot, const char *name,
                                const int64_t *dims, size_t n_dims, const double *v, size_t n,
                                int f32, const char *path)
{
    Onnx__TensorProto *t = arena_alloc(A, 1, sizeof *t);
    int64_t *d = arena_alloc(A, n_dims, sizeof *d);
    uint8_t *raw = arena_alloc(A, n, f32 ? 4 : 8);
    if (!t || !d || !raw) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    onnx__tensor_proto__init(t);
    t->name = arena_str(A, name);
    memcpy(d, dims, n_dims * sizeof *d);
    t->dims = d;
    t->n_dims = n_dims;
    t->has_data_type = 1;
    t->data_type = f32 ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        int w;
        if (f32) {
            if (isfinite(v[i]) && fabs(v[i]) > FLT_MAX)
                MINIMA_FAIL(MINIMA_ERANGE, "cannot save '%s' as F32: '%s' entry %zu is %g, outside "
                            "float range", path, name, i, v[i]);
            float x = (float)v[i];
            uint32_t u32;
            memcpy(&u32, &x, 4);
            u = u32;
            w = 4;
        } else {
            memcpy(&u, &v[i], 8);
            w = 8;
        }
        for (int k = 0; k < w; k++) raw[(size_t)w * i + (size_t)k] = (uint8_t)(u >> (8 * k));
    }
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = n * (f32 ? 4 : 8);
    *slot = t;
    return MINIMA_OK;
}

static Onnx__ValueInfoProto *value_info(arena *A, const char *name, int elem, const int64_t *dims,
                                        size_t n_dims)
{
    Onnx__ValueInfoProto *v = arena_alloc(A, 1, sizeof *v);
    Onnx__TypeProto *tp = arena_alloc(A, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_alloc(A, 1, sizeof *tt);
    Onnx__TensorShapeProto *sh = arena_alloc(A, 1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dm = arena_alloc(A, n_dims, sizeof *dm);
    if (!v || !tp || !tt || !sh || !dm) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (size_t k = 0; k < n_dims; k++) {
        dm[k] = arena_alloc(A, 1, sizeof **dm);
        if (!dm[k]) return NULL;
        onnx__tensor_shape_proto__dimension__init(dm[k]);
        if (dims[k] < 0) {
            dm[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dm[k]->dim_param = arena_str(A, "N");
        } else {
            dm[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm[k]->dim_value = dims[k];
        }
    }
    sh->dim = dm;
    sh->n_dim = n_dims;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = arena_str(A, name);
    v->type = tp;
    return v;
}

/* ---- the model ---------------------------------------------------------- */

static void value_name(const minima_model *m, int i, char *buf, size_t size)
{
    if (i == 0) snprintf(buf, size, "input");
    else if (i == m->n_nodes - 1) snprintf(buf, size, "output");
    else snprintf(buf, size, "%s_%d", minima_node_kind_name(m->nodes[i].kind), i);
}

static const char *param_name(const minima_model *m, int i, char *buf, size_t size)
{
    if (m->nodes[i].name && m->nodes[i].name[0]) snprintf(buf, size, "%s", m->nodes[i].name);
    else snprintf(buf, size, "%d", i);
    return buf;
}

static minima_status build(arena *A, const minima_model *m, int f32, const char *path,
                           Onnx__ModelProto **out)
{
    nodelist L = {NULL, 0, (size_t)(2 * m->n_nodes + 2)};
    L.nodes = arena_alloc(A, L.cap, sizeof *L.nodes);
    size_t n_init = 0;
    Onnx__TensorProto **inits = arena_alloc(A, (size_t)(2 * m->n_nodes + 1), sizeof *inits);
    if (!L.nodes || !inits) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    int failed = 0;
    /* distinct parameter names */
    for (int i = 1; i < m->n_nodes; i++)
        for (int j = 1; j < i && m->nodes[i].n_weight; j++) {
            char a[300], b[300];
            if (m->nodes[j].n_weight && !strcmp(param_name(m, i, a, sizeof a), param_name(m, j, b, sizeof b)))
                MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': nodes %d and %d are both named '%s'; "
                            "ONNX initializer names must be distinct", path, j, i, a);
        }
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        char in0[64], in1[64], outv[64], nm[300], wn[320], bn[320], nodename[340];
        value_name(m, nd->inputs[0], in0, sizeof in0);
        if (nd->n_inputs == 2) value_name(m, nd->inputs[1], in1, sizeof in1);
        value_name(m, i, outv, sizeof outv);
        param_name(m, i, nm, sizeof nm);
        snprintf(wn, sizeof wn, "%s.weight", nm);
        snprintf(bn, sizeof bn, "%s.bias", nm);
        const char *ins[3] = {in0, wn, bn};
        int64_t k2[2] = {nd->kernel[0], nd->kernel[1]}, s2[2] = {nd->stride[0], nd->stride[1]};
        int64_t p4[4] = {nd->padding[0], nd->padding[1], nd->padding[0], nd->padding[1]};
        int64_t d2[2] = {nd->dilation[0], nd->dilation[1]};
        Onnx__NodeProto *n = NULL;
        switch (nd->kind) {
        case MINIMA_NODE_LINEAR: {
            snprintf(nodename, sizeof nodename, "/%s/Gemm", nm);
            n = add_node(A, &L, "Gemm", nodename, ins, nd->n_bias ? 3 : 2, outv, 1);
            push_attr(n, attr_int(A, "transB", 1), &failed);
            int64_t wd[2] = {nd->out, (int64_t)(nd->n_weight / (size_t)nd->out)};
            MINIMA_TRY(add_tensor(A, &inits[n_init++], wn, wd, 2, m->theta + nd->weight_offset,
                                  nd->n_weight, f32, path));
            break;
        }
        case MINIMA_NODE_CONV2D: {
            snprintf(nodename, sizeof nodename, "/%s/Conv", nm);
            n = add_node(A, &L, "Conv", nodename, ins, nd->n_bias ? 3 : 2, outv, 5);
            push_attr(n, attr_ints(A, "kernel_shape", k2, 2), &failed);
            push_attr(n, attr_ints(A, "strides", s2, 2), &failed);
            push_attr(n, attr_ints(A, "pads", p4, 4), &failed);
            push_attr(n, attr_ints(A, "dilations", d2, 2), &failed);
            push_attr(n, attr_int(A, "group", nd->groups), &failed);
            int cin = m->nodes[nd->inputs[0]].shape.c;
            int64_t wd[4] = {nd->out, cin / nd->groups, nd->kernel[0], nd->kernel[1]};
            MINIMA_TRY(add_tensor(A, &inits[n_init++], wn, wd, 4, m->theta + nd->weight_offset,
                                  nd->n_weight, f32, path));
            break;
        }
        case MINIMA_NODE_MAXPOOL2D:
        case MINIMA_NODE_AVGPOOL2D: {
            int avg = nd->kind == MINIMA_NODE_AVGPOOL2D;
            snprintf(nodename, sizeof nodename, "/node%d/%s", i, avg ? "AveragePool" : "MaxPool");
            n = add_node(A, &L, avg ? "AveragePool" : "MaxPool", nodename, ins, 1, outv, 4);
            push_attr(n, attr_ints(A, "kernel_shape", k2, 2), &failed);
            push_attr(n, attr_ints(A, "strides", s2, 2), &failed);
            push_attr(n, attr_ints(A, "pads", p4, 4), &failed);
            if (avg) push_attr(n, attr_int(A, "count_include_pad", 1), &failed);
            break;
        }
        case MINIMA_NODE_GLOBAL_AVGPOOL: {
            char mid[80];
            snprintf(mid, sizeof mid, "%s_4d", outv);
            snprintf(nodename, sizeof nodename, "/node%d/GlobalAveragePool", i);
            n = add_node(A, &L, "GlobalAveragePool", nodename, ins, 1, mid, 0);
            if (!n) failed = 1;
            const char *fin[1] = {mid};
            snprintf(nodename, sizeof nodename, "/node%d/Flatten", i);
            n = add_node(A, &L, "Flatten", nodename, fin, 1, outv, 1);
            push_attr(n, attr_int(A, "axis", 1), &failed);
            break;
        }
        case MINIMA_NODE_FLATTEN:
            snprintf(nodename, sizeof nodename, "/node%d/Flatten", i);
            n = add_node(A, &L, "Flatten", nodename, ins, 1, outv, 1);
            push_attr(n, attr_int(A, "axis", 1), &failed);
            break;
        case MINIMA_NODE_ADD: {
            const char *ain[2] = {in0, in1};
            snprintf(nodename, sizeof nodename, "/node%d/Add", i);
            n = add_node(A, &L, "Add", nodename, ain, 2, outv, 0);
            break;
        }
        case MINIMA_NODE_RELU:
        case MINIMA_NODE_TANH:
        case MINIMA_NODE_IDENTITY: {
            const char *op = nd->kind == MINIMA_NODE_RELU ? "Relu" : nd->kind == MINIMA_NODE_TANH ? "Tanh"
                                                                                                 : "Identity";
            snprintf(nodename, sizeof nodename, "/node%d/%s", i, op);
            n = add_node(A, &L, op, nodename, ins, 1, outv, 0);
            break;
        }
        case MINIMA_NODE_LEAKY_RELU:
            snprintf(nodename, sizeof nodename, "/node%d/LeakyRelu", i);
            n = add_node(A, &L, "LeakyRelu", nodename, ins, 1, outv, 1);
            push_attr(n, attr_float(A, "alpha", nd->slope), &failed);
            break;
        default:
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot save '%s' as ONNX: node %d has kind %s", path, i,
                        minima_node_kind_name(nd->kind));
        }
        if (!n) failed = 1;
        if (nd->n_bias) {
            int64_t bd[1] = {(int64_t)nd->n_bias};
            MINIMA_TRY(add_tensor(A, &inits[n_init++], bn, bd, 1, m->theta + nd->bias_offset, nd->n_bias,
                                  f32, path));
        }
    }
    int elem = f32 ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    const minima_shape s0 = m->nodes[0].shape;
    int64_t idims[4] = {-1, s0.c, s0.h, s0.w};
    int64_t odims[2] = {-1, (int64_t)minima_model_n_outputs(m)};
    Onnx__ValueInfoProto **gin = arena_alloc(A, 1, sizeof *gin), **gout = arena_alloc(A, 1, sizeof *gout);
    Onnx__GraphProto *g = arena_alloc(A, 1, sizeof *g);
    Onnx__ModelProto *mp = arena_alloc(A, 1, sizeof *mp);
    Onnx__OperatorSetIdProto *op = arena_alloc(A, 1, sizeof *op);
    Onnx__OperatorSetIdProto **ops = arena_alloc(A, 1, sizeof *ops);
    if (failed || !gin || !gout || !g || !mp || !op || !ops)
        MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    gin[0] = value_info(A, "input", elem, idims, s0.rank == 3 ? 4 : 2);
    char outv[64];
    value_name(m, m->n_nodes - 1, outv, sizeof outv);
    gout[0] = value_info(A, outv, elem, odims, 2);
    if (!gin[0] || !gout[0]) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    /* a network whose output is flat C x H x W values (its last node an
     * image): say so with the output's shape as [N, size]: the Flatten of
     * minima's outputs. */
    if (m->nodes[m->n_nodes - 1].shape.rank == 3) {
        int64_t o4[4] = {-1, m->nodes[m->n_nodes - 1].shape.c, m->nodes[m->n_nodes - 1].shape.h,
                         m->nodes[m->n_nodes - 1].shape.w};
        gout[0] = value_info(A, outv, elem, o4, 4);
        if (!gout[0]) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    }
    onnx__graph_proto__init(g);
    g->name = arena_str(A, "minima");
    g->node = L.nodes;
    g->n_node = L.n;
    g->initializer = inits;
    g->n_initializer = n_init;
    g->input = gin;
    g->n_input = 1;
    g->output = gout;
    g->n_output = 1;
    onnx__operator_set_id_proto__init(op);
    op->domain = arena_str(A, "");
    op->has_version = 1;
    op->version = 13;
    ops[0] = op;
    onnx__model_proto__init(mp);
    mp->has_ir_version = 1;
    mp->ir_version = 7;
    mp->producer_name = arena_str(A, "minima");
    mp->producer_version = arena_str(A, MINIMA_VERSION);
    mp->graph = g;
    mp->opset_import = ops;
    mp->n_opset_import = 1;
    /* metadata_props: the loss, the nodes a BatchNorm was folded into, and
     * the model's metadata (what the reader recomputes left out) */
    size_t n_props = 0, cap_props = (size_t)m->n_meta + 2;
    Onnx__StringStringEntryProto **props = arena_alloc(A, cap_props, sizeof *props);
    char *folded = arena_alloc(A, (size_t)m->n_nodes * 300 + 1, 1);
    if (!props || !folded) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    for (int i = 1; i < m->n_nodes; i++) {
        if (!m->nodes[i].folded_batchnorm) continue;
        char nm[300];
        param_name(m, i, nm, sizeof nm);
        if (folded[0]) strcat(folded, ",");
        strcat(folded, nm);
    }
    const char *keys[2] = {"minima.loss", "minima.folded_batchnorm"};
    const char *vals[2] = {minima_loss_name(m->loss), folded};
    for (int k = 0; k < 2 + m->n_meta; k++) {
        const char *key = k < 2 ? keys[k] : m->meta[k - 2].key, *val = k < 2 ? vals[k] : m->meta[k - 2].value;
        if (!val[0] || !strcmp(key, "onnx_producer") || !strcmp(key, "onnx_folded")) continue;
        Onnx__StringStringEntryProto *e = arena_alloc(A, 1, sizeof *e);
        if (!e) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
        onnx__string_string_entry_proto__init(e);
        e->key = arena_str(A, key);
        e->value = arena_str(A, val);
        props[n_props++] = e;
    }
    mp->metadata_props = props;
    mp->n_metadata_props = n_props;
    if (A->failed) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    *out = mp;
    return MINIMA_OK;
}

/* Writes bytes to path atomically: a temporary file beside it, fsync, rename. */
static minima_status write_atomic(const char *path, const uint8_t *bytes, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = minima_alloc(plen + 16, 1);
    if (!tmp) MINIMA_FAIL(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    int slot = minima_tempfile_register(tmp);
    int fd = mkstemp(tmp);
    minima_status st = MINIMA_OK;
    if (fd < 0) {
        st = minima_error(MINIMA_EIO, "cannot save '%s': cannot create a temporary file beside it: %s",
                          path, strerror(errno));
        goto done;
    }
    struct stat sb;
    fchmod(fd, stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, bytes + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != len || fsync(fd) != 0) {
        st = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (close(fd) != 0 || minima_tempfile_commit(tmp, path) != 0) {
        st = minima_error(MINIMA_EIO, "cannot save '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    char *slash = strrchr(tmp, '/');
    if (slash) *slash = '\0';
    int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
done:
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    return st;
}

minima_status minima_model_save_onnx(const minima_model *m, const char *path, minima_dtype dtype)
{
    if (!m || !path) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_save_onnx: NULL argument");
    if (dtype != MINIMA_DTYPE_F64 && dtype != MINIMA_DTYPE_F32)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot save '%s' as %s: minima writes ONNX as DOUBLE (F64) "
                    "or FLOAT (F32)", path, minima_dtype_name(dtype));
    arena A = {NULL, 0, 0, 0};
    Onnx__ModelProto *mp = NULL;
    minima_status st = build(&A, m, dtype == MINIMA_DTYPE_F32, path, &mp);
    if (st == MINIMA_OK) {
        size_t len = onnx__model_proto__get_packed_size(mp);
        uint8_t *bytes = minima_alloc(len ? len : 1, 1);
        if (!bytes) {
            st = minima_error(MINIMA_ENOMEM, "cannot save '%s': out of memory", path);
        } else {
            onnx__model_proto__pack(mp, bytes);
            st = write_atomic(path, bytes, len);
            minima_free(bytes);
        }
    }
    arena_free(&A);
    return st;
}

#endif
