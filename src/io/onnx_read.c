/* onnx_read.c — an ONNX graph onto minima's graph (minima/onnx.h says
 * which operators map to which node kinds and what is refused). */
#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/onnx.h"
#include "minima/status.h"

int minima_path_is_onnx(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n >= 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

#ifndef MINIMA_HAVE_ONNX

int minima_onnx_available(void) { return 0; }

minima_status minima_model_load_onnx(const char *path, const minima_load_options *opts,
                                     minima_model **out)
{
    (void)opts;
    if (out) *out = NULL;
    MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot read '%s': this minima was built without ONNX support; "
                "install the Debian packages protobuf-c-compiler libprotobuf-c-dev python3-onnx "
                "(scripts/setup.sh) and rebuild", path ? path : "(null)");
}

#else

#include "io/onnx_impl.h"

int minima_onnx_available(void) { return 1; }

#define SUPPORTED_OPS "Conv, Gemm, MatMul, Add, Relu, LeakyRelu, Tanh, MaxPool, AveragePool, " \
    "GlobalAveragePool, Flatten, Reshape (a flatten; its shape from a constant or Shape, Gather, " \
    "Unsqueeze, Concat), BatchNormalization (after Conv/Gemm/MatMul), " \
    "Pad (zeros, before AveragePool or Conv), Constant, Identity, Dropout"

enum { MAX_NODES = 100000 };

/* What an ONNX value name stands for. */
typedef enum {
    V_NODE = 1,
    V_CONST,
    V_PAD,
    V_SHAPE,                   /* Shape of a node's output: [N, C, H, W] or [N, D] */
    V_VEC                      /* integers computed from shapes (Gather, Unsqueeze, Concat) */
} vkind;

#define BATCH_DIM INT64_MIN    /* in a V_VEC: the batch size N, unknown until run time */
enum { MAX_VEC = 8 };

typedef struct {
    const char *name;
    vkind kind;
    int node;                  /* V_NODE, V_PAD: the minima node producing it */
    int fresh;                 /* V_NODE: the direct output of that node, read once */
    int pad[2];                /* V_PAD: zeros added around the height and width */
    int flat4;                 /* V_NODE: ONNX sees [N, C, 1, 1] where minima has flat C */
    const Onnx__TensorProto *t;/* V_CONST */
    const Onnx__NodeProto *pad_node;
    int64_t vec[MAX_VEC];      /* V_VEC */
    int n_vec;
    int scalar;                /* V_VEC: a scalar (n_vec 1) rather than a vector */
} oval;

/* A minima node being built, with its parameters. */
typedef struct {
    minima_node nd;
    double *w, *b;
    size_t n_w, n_b;
    char name[256];
} bnode;

typedef struct {
    const char *path;
    const Onnx__GraphProto *g;
    oval *vals;
    int n_vals, cap_vals;
    int *hash;                 /* find_val's table: indices into vals, -1 empty */
    size_t hash_size;
    bnode *nodes;
    int n_nodes, cap_nodes;
    char *folded;              /* the "onnx_folded" metadata */
    size_t folded_len;
    int opset;
    const Onnx__TensorProto **params;  /* the initializers read as weights or biases so far */
    const char **reads;                /* every name a node or the output reads, sorted */
    size_t n_reads;
    int n_params, cap_params;
    /* the ONNX node being mapped, for messages */
    const Onnx__NodeProto *cur;
    size_t cur_index;
} reader;

static const char *s_or(const char *s, const char *dflt) { return s && s[0] ? s : dflt; }

/* "node 3 ('/0/Conv', op Conv)" */
static const char *here(const reader *R)
{
    static _Thread_local char buf[400];
    snprintf(buf, sizeof buf, "ONNX node %zu ('%.150s', op %.60s)", R->cur_index,
             s_or(R->cur->name, "unnamed"), s_or(R->cur->op_type, "?"));
    return buf;
}

#define REFUSE(R, ...) do { char msg_[600]; snprintf(msg_, sizeof msg_, __VA_ARGS__); \
    return minima_error(MINIMA_EUNSUPPORTED, "'%s': %s: %s", (R)->path, here(R), msg_); } while (0)
#define BAD(R, ...) do { char msg_[600]; snprintf(msg_, sizeof msg_, __VA_ARGS__); \
    return minima_error(MINIMA_EFORMAT, "'%s': %s: %s", (R)->path, here(R), msg_); } while (0)

/* Values are found by name through an open-addressing hash table of
 * indices into vals (size a power of two, at least twice the values). */
static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static oval *find_val(reader *R, const char *name)
{
    if (!name || !R->hash_size) return NULL;
    for (size_t h = hash_str(name) & (R->hash_size - 1);; h = (h + 1) & (R->hash_size - 1)) {
        int i = R->hash[h];
        if (i < 0) return NULL;
        if (!strcmp(R->vals[i].name, name)) return &R->vals[i];
    }
}

static void hash_insert(reader *R, int i)
{
    size_t h = hash_str(R->vals[i].name) & (R->hash_size - 1);
    while (R->hash[h] >= 0) h = (h + 1) & (R->hash_size - 1);
    R->hash[h] = i;
}

static minima_status add_val(reader *R, const char *name, oval v)
{
    if (!name || !name[0])
        return minima_error(MINIMA_EFORMAT, "'%s': a value has an empty name", R->path);
    if (find_val(R, name))
        return minima_error(MINIMA_EFORMAT, "'%s': value '%.200s' is produced twice (ONNX graphs are "
                            "single-assignment)", R->path, name);
    if (R->n_vals == R->cap_vals) {
        int nc = R->cap_vals ? 2 * R->cap_vals : 64;
        oval *nv = minima_realloc(R->vals, (size_t)nc, sizeof *nv);
        int *nh = minima_alloc(4 * (size_t)nc, sizeof *nh);
        if (!nv || !nh) {
            if (nv) R->vals = nv;
            minima_free(nh);
            return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
        }
        R->vals = nv;
        R->cap_vals = nc;
        minima_free(R->hash);
        R->hash = nh;
        R->hash_size = 4 * (size_t)nc;
        for (size_t k = 0; k < R->hash_size; k++) R->hash[k] = -1;
        for (int k = 0; k < R->n_vals; k++) hash_insert(R, k);
    }
    v.name = name;
    R->vals[R->n_vals] = v;
    hash_insert(R, R->n_vals);
    R->n_vals++;
    return MINIMA_OK;
}

/* How many times a value is read (node inputs and graph outputs): a binary
 * search in the sorted list of every name read (reads_init). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static minima_status reads_init(reader *R)
{
    size_t n = R->g->n_output;
    for (size_t i = 0; i < R->g->n_node; i++) n += R->g->node[i]->n_input;
    R->reads = minima_alloc(n ? n : 1, sizeof *R->reads);
    if (!R->reads) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
    size_t k = 0;
    for (size_t i = 0; i < R->g->n_node; i++)
        for (size_t j = 0; j < R->g->node[i]->n_input; j++)
            if (R->g->node[i]->input[j]) R->reads[k++] = R->g->node[i]->input[j];
    for (size_t i = 0; i < R->g->n_output; i++)
        if (R->g->output[i]->name) R->reads[k++] = R->g->output[i]->name;
    qsort(R->reads, k, sizeof *R->reads, cmp_str);
    R->n_reads = k;
    return MINIMA_OK;
}

static int uses(const reader *R, const char *name)
{
    size_t lo = 0, hi = R->n_reads;
    while (lo < hi) {                  /* first entry >= name */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(R->reads[mid], name) < 0) lo = mid + 1;
        else hi = mid;
    }
    int n = 0;
    while (lo < R->n_reads && !strcmp(R->reads[lo], name)) { n++; lo++; }
    return n;
}

static minima_status new_node(reader *R, minima_node_kind kind, int input, int *index)
{
    if (R->n_nodes >= MAX_NODES) REFUSE(R, "more than %d nodes", MAX_NODES);
    if (R->n_nodes == R->cap_nodes) {
        int nc = R->cap_nodes ? 2 * R->cap_nodes : 32;
        bnode *nn = minima_realloc(R->nodes, (size_t)nc, sizeof *nn);
        if (!nn) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
        R->nodes = nn;
        R->cap_nodes = nc;
    }
    bnode *b = &R->nodes[R->n_nodes];
    memset(b, 0, sizeof *b);
    b->nd = minima_node_make(kind, input);
    if (input >= 0) b->nd.shape = R->nodes[input].nd.shape;
    *index = R->n_nodes++;
    return MINIMA_OK;
}

static minima_status note_folded(reader *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static minima_status note_folded(reader *R, const char *fmt, ...)
{
    char item[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    size_t add = strlen(item) + 2;
    char *nf = minima_realloc(R->folded, R->folded_len + add + 1, 1);
    if (!nf) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
    R->folded = nf;
    if (R->folded_len) {
        memcpy(R->folded + R->folded_len, "; ", 2);
        R->folded_len += 2;
    }
    memcpy(R->folded + R->folded_len, item, strlen(item) + 1);
    R->folded_len += strlen(item);
    return MINIMA_OK;
}

/* ---- attributes --------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static minima_status attr_int(reader *R, const char *name, int64_t dflt, int64_t *v)
{
    const Onnx__AttributeProto *a = attr(R->cur, name);
    *v = dflt;
    if (!a) return MINIMA_OK;
    if (!a->has_i) BAD(R, "attribute '%s' is not an integer", name);
    *v = a->i;
    return MINIMA_OK;
}

/* ONNX stores float attributes (LeakyRelu's alpha, BatchNormalization's
 * epsilon, Gemm's alpha and beta) in single precision, while PyTorch
 * computes with the double the module was given (0.1, 1e-5). Every double
 * that rounds to the stored float is consistent with the file; the
 * shortest decimal among them (the one %.Ng prints with the fewest digits
 * that still reads back as the same float) is the value the exporter was
 * given, so that is the one used. */
static double float_intent(float f)
{
    if (!isfinite(f)) return f;
    char buf[64];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return f;
}

static minima_status attr_float(reader *R, const char *name, double dflt, double *v)
{
    const Onnx__AttributeProto *a = attr(R->cur, name);
    *v = dflt;
    if (!a) return MINIMA_OK;
    if (!a->has_f) BAD(R, "attribute '%s' is not a float", name);
    *v = float_intent(a->f);
    return MINIMA_OK;
}

/* A list attribute of n ints; absent: every entry dflt. Entries must be in [lo, 1e6]. */
static minima_status attr_ints(reader *R, const char *name, size_t n, int dflt, int lo, int *v)
{
    const Onnx__AttributeProto *a = attr(R->cur, name);
    for (size_t k = 0; k < n; k++) v[k] = dflt;
    if (!a) return MINIMA_OK;
    if (a->n_ints != n) REFUSE(R, "attribute '%s' has %zu entries; expected %zu (2-D images only)",
                               name, a->n_ints, n);
    for (size_t k = 0; k < n; k++) {
        if (a->ints[k] < lo || a->ints[k] > 1000000)
            REFUSE(R, "attribute '%s' entry %zu is %lld; expected %d to 1000000", name, k,
                   (long long)a->ints[k], lo);
        v[k] = (int)a->ints[k];
    }
    return MINIMA_OK;
}

/* Refuses any attribute not in the list (NULL-terminated). */
static minima_status known_attrs(reader *R, const char *const *names)
{
    for (size_t i = 0; i < R->cur->n_attribute; i++) {
        const char *an = s_or(R->cur->attribute[i]->name, "");
        int ok = 0;
        for (int k = 0; names[k]; k++) ok |= !strcmp(an, names[k]);
        if (!ok) REFUSE(R, "attribute '%.100s' is not supported for this op", an);
    }
    return MINIMA_OK;
}

static minima_status no_auto_pad(reader *R, int *valid)
{
    const Onnx__AttributeProto *a = attr(R->cur, "auto_pad");
    *valid = 0;
    if (!a) return MINIMA_OK;
    char s[32] = "";
    if (a->has_s) snprintf(s, sizeof s, "%.*s", (int)(a->s.len < 31 ? a->s.len : 31), (const char *)a->s.data);
    if (!strcmp(s, "NOTSET") || !strcmp(s, "")) return MINIMA_OK;
    if (!strcmp(s, "VALID")) { *valid = 1; return MINIMA_OK; }
    REFUSE(R, "auto_pad '%s' is not supported (NOTSET or VALID; export with explicit padding)", s);
}

/* ---- inputs ------------------------------------------------------------- */

static minima_status input_val(reader *R, size_t k, oval **v)
{
    if (k >= R->cur->n_input || !R->cur->input[k] || !R->cur->input[k][0])
        BAD(R, "input %zu is missing", k);
    *v = find_val(R, R->cur->input[k]);
    if (!*v) BAD(R, "input '%.200s' is not produced by an earlier node, an initializer or the graph "
                 "input", R->cur->input[k]);
    return MINIMA_OK;
}

/* The activation input k: a node's output (a pending Pad refused). */
static minima_status act_input(reader *R, size_t k, oval **v)
{
    MINIMA_TRY(input_val(R, k, v));
    if ((*v)->kind == V_CONST || (*v)->kind == V_SHAPE || (*v)->kind == V_VEC)
        REFUSE(R, "input '%.200s' is a constant where minima expects the data flowing through the "
               "network", R->cur->input[k]);
    if ((*v)->kind == V_PAD)
        REFUSE(R, "reads the output of Pad '%.150s'; minima folds a Pad only into a following "
               "AveragePool or Conv", s_or((*v)->pad_node->name, "unnamed"));
    return MINIMA_OK;
}

static minima_status const_input(reader *R, size_t k, const Onnx__TensorProto **t)
{
    oval *v;
    MINIMA_TRY(input_val(R, k, &v));
    if (v->kind != V_CONST)
        REFUSE(R, "input %zu '%.200s' must be an initializer or a Constant (minima's parameters and "
               "settings are fixed tensors)", k, R->cur->input[k]);
    *t = v->t;
    size_t n;
    return minima_onnx_numel(R->path, v->t, &n);   /* dims checked before any is trusted */
}

static int is_const_input(reader *R, size_t k)
{
    if (k >= R->cur->n_input || !R->cur->input[k]) return 0;
    oval *v = find_val(R, R->cur->input[k]);
    return v && v->kind == V_CONST;
}

static minima_status output(reader *R, oval v)
{
    if (R->cur->n_output < 1 || !R->cur->output[0] || !R->cur->output[0][0]) BAD(R, "has no output");
    for (size_t k = 1; k < R->cur->n_output; k++)
        if (R->cur->output[k] && R->cur->output[k][0] && uses(R, R->cur->output[k]))
            REFUSE(R, "its output %zu '%.200s' is used; minima maps only the first output", k,
                   R->cur->output[k]);
    if (v.kind == V_NODE) v.fresh = v.fresh && uses(R, R->cur->output[0]) == 1;
    return add_val(R, R->cur->output[0], v);
}

static oval node_val(int node)
{
    oval v;
    memset(&v, 0, sizeof v);
    v.kind = V_NODE;
    v.node = node;
    v.fresh = 1;
    return v;
}

/* ---- names -------------------------------------------------------------- */

/* The PyTorch module path of a parametric node: its weight's name without
 * ".weight", else the ONNX node's scope "/a/b/Conv" -> "a.b". */
static void node_name(reader *R, bnode *b, const char *weight_name)
{
    char name[256] = "";
    size_t wl = weight_name ? strlen(weight_name) : 0;
    if (wl > 7 && wl < sizeof name && !strcmp(weight_name + wl - 7, ".weight")) {
        memcpy(name, weight_name, wl - 7);
        name[wl - 7] = '\0';
    } else if (R->cur->name && R->cur->name[0] == '/' && strchr(R->cur->name + 1, '/')) {
        /* "/features/features.3/features.3.0/Conv": the last scope holds the
         * whole module path, "features.3.0" */
        const char *last = strrchr(R->cur->name, '/'), *s = last - 1;
        while (*s != '/') s--;
        size_t len = (size_t)(last - s - 1);
        if (len < sizeof name) {
            memcpy(name, s + 1, len);
            name[len] = '\0';
        }
    } else if (weight_name && wl < sizeof name) {
        memcpy(name, weight_name, wl + 1);
    }
    int ok = !strchr(name, ',') && strcmp(name, "__metadata__") != 0;
    for (const char *p = name; *p; p++) ok &= isprint((unsigned char)*p) != 0;
    for (int i = 0; ok && i < R->n_nodes; i++)
        if (&R->nodes[i] != b && !strcmp(R->nodes[i].name, name)) ok = 0;
    if (ok) memcpy(b->name, name, sizeof name);
}

/* A tensor read as a node's weight or bias. One read twice (two nodes
 * sharing an initializer: tied weights, or equal-valued tensors the
 * exporter merged, as torch.onnx.export does in evaluation mode) becomes
 * two independent parameters, with a warning. */
static minima_status note_param(reader *R, const Onnx__TensorProto *t)
{
    for (int i = 0; i < R->n_params; i++)
        if (R->params[i] == t) {
            minima_log(MINIMA_LOG_WARN, "'%s': %s reads initializer '%.200s', which an earlier node "
                       "reads too; minima gives each node its own copy (independent parameters: if "
                       "the PyTorch module ties them, curvature and gradients here are those of the "
                       "untied network)", R->path, here(R), s_or(t->name, "unnamed"));
            return MINIMA_OK;
        }
    if (R->n_params == R->cap_params) {
        int nc = R->cap_params ? 2 * R->cap_params : 32;
        const Onnx__TensorProto **np = minima_realloc(R->params, (size_t)nc, sizeof *np);
        if (!np) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
        R->params = np;
        R->cap_params = nc;
    }
    R->params[R->n_params++] = t;
    return MINIMA_OK;
}

/* ---- shapes -------------------------------------------------------------- */

static minima_status window_out(reader *R, int in, int k, int s, int p, int d, int *out)
{
    long span = (long)d * (k - 1) + 1;
    long num = (long)in + 2L * p - span;
    if (num < 0) REFUSE(R, "the window (%ld with dilation) is larger than the padded input (%ld)", span,
                        (long)in + 2L * p);
    *out = (int)(num / s + 1);
    return MINIMA_OK;
}

/* ---- the ops ------------------------------------------------------------ */

static minima_status read_params(reader *R, const Onnx__TensorProto *t, double **v, size_t *n)
{
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
        t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        REFUSE(R, "parameter '%.200s' has data type %d; minima reads FLOAT (1) or DOUBLE (11)",
               s_or(t->name, "unnamed"), (int)t->data_type);
    return minima_onnx_tensor_doubles(R->path, t, v, n);
}

/* A pending Pad in front of a pool or a conv: its padding, added. */
static minima_status take_pad(reader *R, oval **x, int pad[2])
{
    MINIMA_TRY(input_val(R, 0, x));
    pad[0] = pad[1] = 0;
    if ((*x)->kind == V_PAD) {
        pad[0] = (*x)->pad[0];
        pad[1] = (*x)->pad[1];
        MINIMA_TRY(note_folded(R, "Pad '%s' into %s", s_or((*x)->pad_node->name, "unnamed"),
                               s_or(R->cur->name, "unnamed")));
        return MINIMA_OK;
    }
    return act_input(R, 0, x);
}

static minima_status op_conv(reader *R)
{
    static const char *const ok[] = {"kernel_shape", "strides", "pads", "dilations", "group",
                                     "auto_pad", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    oval *x;
    int extra[2];
    MINIMA_TRY(take_pad(R, &x, extra));
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank != 3 || x->flat4) REFUSE(R, "its input is not an image [N, C, H, W]");
    const Onnx__TensorProto *wt = NULL, *bt = NULL;
    MINIMA_TRY(const_input(R, 1, &wt));
    if (R->cur->n_input > 3) BAD(R, "has %zu inputs; Conv takes 2 or 3", R->cur->n_input);
    if (R->cur->n_input == 3 && R->cur->input[2][0]) MINIMA_TRY(const_input(R, 2, &bt));
    if (wt->n_dims != 4) REFUSE(R, "weight '%.200s' has %zu dims; minima's conv2d takes 4 "
                                "[Cout, Cin/group, kh, kw]", s_or(wt->name, "unnamed"), wt->n_dims);
    for (int k = 0; k < 4; k++)
        if (wt->dims[k] < 1 || wt->dims[k] > 1000000)
            BAD(R, "weight dimension %d is %lld", k, (long long)wt->dims[k]);
    int kernel[2], strides[2], pads[4], dil[2], valid;
    int64_t group;
    MINIMA_TRY(attr_ints(R, "kernel_shape", 2, (int)wt->dims[2], 1, kernel));
    if (kernel[0] != wt->dims[2] || kernel[1] != wt->dims[3])
        BAD(R, "kernel_shape %dx%d differs from the weight's %lldx%lld", kernel[0], kernel[1],
            (long long)wt->dims[2], (long long)wt->dims[3]);
    kernel[1] = (int)wt->dims[3];
    MINIMA_TRY(attr_ints(R, "strides", 2, 1, 1, strides));
    MINIMA_TRY(attr_ints(R, "dilations", 2, 1, 1, dil));
    MINIMA_TRY(attr_ints(R, "pads", 4, 0, 0, pads));
    MINIMA_TRY(attr_int(R, "group", 1, &group));
    MINIMA_TRY(no_auto_pad(R, &valid));
    if (pads[0] != pads[2] || pads[1] != pads[3])
        REFUSE(R, "pads [%d, %d, %d, %d] are asymmetric; minima's conv2d pads the same on both sides "
               "(top = bottom, left = right)", pads[0], pads[1], pads[2], pads[3]);
    if (group < 1 || group > wt->dims[0] || wt->dims[0] % group || wt->dims[1] * group != in.c)
        REFUSE(R, "group %lld with weight [%lld, %lld, ...] does not fit an input of %d channels",
               (long long)group, (long long)wt->dims[0], (long long)wt->dims[1], in.c);
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_CONV2D, x->node, &idx));
    bnode *b = &R->nodes[idx];
    b->nd.out = (int)wt->dims[0];
    b->nd.groups = (int)group;
    for (int k = 0; k < 2; k++) {
        b->nd.kernel[k] = kernel[k];
        b->nd.stride[k] = strides[k];
        b->nd.dilation[k] = dil[k];
        b->nd.padding[k] = pads[k] + extra[k];
    }
    int ho, wo;
    MINIMA_TRY(window_out(R, in.h, kernel[0], strides[0], b->nd.padding[0], dil[0], &ho));
    MINIMA_TRY(window_out(R, in.w, kernel[1], strides[1], b->nd.padding[1], dil[1], &wo));
    b->nd.shape = (minima_shape){3, b->nd.out, ho, wo};
    MINIMA_TRY(note_param(R, wt));
    if (bt) MINIMA_TRY(note_param(R, bt));
    MINIMA_TRY(read_params(R, wt, &b->w, &b->n_w));
    if (bt) {
        MINIMA_TRY(read_params(R, bt, &b->b, &b->n_b));
        if (b->n_b != (size_t)b->nd.out || bt->n_dims != 1)
            BAD(R, "bias '%.200s' has %zu values; expected a vector of %d", s_or(bt->name, "unnamed"),
                b->n_b, b->nd.out);
    }
    node_name(R, b, wt->name);
    return output(R, node_val(idx));
}

static minima_status op_gemm(reader *R)
{
    static const char *const ok[] = {"alpha", "beta", "transA", "transB", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank != 1 && !x->flat4) REFUSE(R, "its input is an image; Gemm takes [N, features] "
                                          "(a Flatten is missing)");
    const Onnx__TensorProto *wt = NULL, *ct = NULL;
    MINIMA_TRY(const_input(R, 1, &wt));
    if (R->cur->n_input > 3) BAD(R, "has %zu inputs; Gemm takes 2 or 3", R->cur->n_input);
    if (R->cur->n_input == 3 && R->cur->input[2][0]) MINIMA_TRY(const_input(R, 2, &ct));
    double alpha, beta;
    int64_t ta, tb;
    MINIMA_TRY(attr_float(R, "alpha", 1.0, &alpha));
    MINIMA_TRY(attr_float(R, "beta", 1.0, &beta));
    MINIMA_TRY(attr_int(R, "transA", 0, &ta));
    MINIMA_TRY(attr_int(R, "transB", 0, &tb));
    if (ta) REFUSE(R, "transA = %lld: minima's linear reads one example per row (transA = 0)",
                   (long long)ta);
    if (!isfinite(alpha) || !isfinite(beta)) REFUSE(R, "alpha or beta is not finite");
    if (wt->n_dims != 2 || wt->dims[0] < 1 || wt->dims[1] < 1 || wt->dims[0] > 100000000 ||
        wt->dims[1] > 100000000)
        REFUSE(R, "weight '%.200s' is not a matrix", s_or(wt->name, "unnamed"));
    int outf = (int)(tb ? wt->dims[0] : wt->dims[1]), inf = (int)(tb ? wt->dims[1] : wt->dims[0]);
    if ((size_t)inf != minima_shape_size(in))
        REFUSE(R, "weight '%.200s' takes %d features; its input has %zu", s_or(wt->name, "unnamed"),
               inf, minima_shape_size(in));
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_LINEAR, x->node, &idx));
    bnode *b = &R->nodes[idx];
    b->nd.out = outf;
    b->nd.shape = (minima_shape){1, outf, 1, 1};
    double *w;
    size_t nw;
    MINIMA_TRY(note_param(R, wt));
    if (ct) MINIMA_TRY(note_param(R, ct));
    MINIMA_TRY(read_params(R, wt, &w, &nw));
    b->w = w;
    b->n_w = nw;
    if (!tb) {
        double *t = minima_alloc(nw, sizeof *t);
        if (!t) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
        for (int i = 0; i < inf; i++)
            for (int o = 0; o < outf; o++) t[(size_t)o * inf + i] = w[(size_t)i * outf + o];
        minima_free(w);
        b->w = t;
    }
    if (alpha != 1.0) {
        for (size_t k = 0; k < nw; k++) b->w[k] *= alpha;
        char a[64];
        snprintf(a, sizeof a, "%.17g", alpha);
        MINIMA_TRY(note_folded(R, "alpha %s of Gemm %s into its weight", a, s_or(R->cur->name, "unnamed")));
    }
    if (ct) {
        double *c;
        size_t nc;
        MINIMA_TRY(read_params(R, ct, &c, &nc));
        int fits = (nc == (size_t)outf && (ct->n_dims == 1 || (ct->n_dims == 2 && ct->dims[0] == 1))) ||
                   nc == 1;
        if (!fits) {
            minima_free(c);
            REFUSE(R, "C '%.200s' has %zu values in %zu dims; minima's bias is [out], [1, out] or one "
                   "value", s_or(ct->name, "unnamed"), nc, ct->n_dims);
        }
        b->b = minima_alloc((size_t)outf, sizeof *b->b);
        if (!b->b) { minima_free(c); return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path); }
        for (int o = 0; o < outf; o++) b->b[o] = beta * c[nc == 1 ? 0 : o];
        b->n_b = (size_t)outf;
        minima_free(c);
        if (beta != 1.0) {
            char s[64];
            snprintf(s, sizeof s, "%.17g", beta);
            MINIMA_TRY(note_folded(R, "beta %s of Gemm %s into its bias", s, s_or(R->cur->name, "unnamed")));
        }
    }
    node_name(R, b, wt->name);
    return output(R, node_val(idx));
}

static minima_status op_matmul(reader *R)
{
    MINIMA_TRY(known_attrs(R, (const char *const[]){NULL}));
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank != 1 && !x->flat4) REFUSE(R, "its input is an image; minima maps MatMul of [N, features] "
                                          "by an initializer [in, out]");
    const Onnx__TensorProto *wt = NULL;
    MINIMA_TRY(const_input(R, 1, &wt));
    if (R->cur->n_input != 2) BAD(R, "has %zu inputs; MatMul takes 2", R->cur->n_input);
    if (wt->n_dims != 2 || wt->dims[0] < 1 || wt->dims[1] < 1 || wt->dims[0] > 100000000 ||
        wt->dims[1] > 100000000)
        REFUSE(R, "B '%.200s' is not a matrix [in, out]", s_or(wt->name, "unnamed"));
    int inf = (int)wt->dims[0], outf = (int)wt->dims[1];
    if ((size_t)inf != minima_shape_size(in))
        REFUSE(R, "B '%.200s' takes %d features; its input has %zu", s_or(wt->name, "unnamed"), inf,
               minima_shape_size(in));
    double *w;
    size_t nw;
    MINIMA_TRY(note_param(R, wt));
    MINIMA_TRY(read_params(R, wt, &w, &nw));
    double *t = minima_alloc(nw, sizeof *t);
    if (!t) { minima_free(w); return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path); }
    for (int i = 0; i < inf; i++)
        for (int o = 0; o < outf; o++) t[(size_t)o * inf + i] = w[(size_t)i * outf + o];
    minima_free(w);
    int idx = 0;
    minima_status st = new_node(R, MINIMA_NODE_LINEAR, x->node, &idx);
    if (st != MINIMA_OK) { minima_free(t); return st; }
    bnode *b = &R->nodes[idx];
    b->nd.out = outf;
    b->nd.shape = (minima_shape){1, outf, 1, 1};
    b->w = t;
    b->n_w = nw;
    node_name(R, b, wt->name);
    return output(R, node_val(idx));
}

/* Add: a residual add of two activations, or a constant added to the bias
 * of the Conv/Gemm/MatMul right before it. */
static minima_status op_add(reader *R)
{
    MINIMA_TRY(known_attrs(R, (const char *const[]){NULL}));
    if (R->cur->n_input != 2) BAD(R, "has %zu inputs; Add takes 2", R->cur->n_input);
    int c0 = is_const_input(R, 0), c1 = is_const_input(R, 1);
    if (c0 && c1) REFUSE(R, "adds two constants (fold them before exporting)");
    if (c0 || c1) {
        oval *x;
        const Onnx__TensorProto *ct = NULL;
        MINIMA_TRY(act_input(R, c0 ? 1 : 0, &x));
        MINIMA_TRY(const_input(R, c0 ? 0 : 1, &ct));
        bnode *b = &R->nodes[x->node];
        if (!x->fresh || (b->nd.kind != MINIMA_NODE_LINEAR && b->nd.kind != MINIMA_NODE_CONV2D))
            REFUSE(R, "adds a constant to a value that is not the output of a Conv, Gemm or MatMul read "
                   "only here; minima folds such an Add into that node's bias and supports no other "
                   "constant additions");
        int C = b->nd.out;
        int fits = b->nd.kind == MINIMA_NODE_LINEAR
                       ? (ct->n_dims == 1 && ct->dims[0] == C) ||
                             (ct->n_dims == 2 && ct->dims[0] == 1 && ct->dims[1] == C)
                       : (ct->n_dims == 3 && ct->dims[0] == C && ct->dims[1] == 1 && ct->dims[2] == 1) ||
                             (ct->n_dims == 4 && ct->dims[0] == 1 && ct->dims[1] == C &&
                              ct->dims[2] == 1 && ct->dims[3] == 1);
        if (!fits)
            REFUSE(R, "constant '%.200s' is not a per-channel bias of %d (linear: [out] or [1, out]; "
                   "conv: [C, 1, 1] or [1, C, 1, 1]); minima does not broadcast otherwise",
                   s_or(ct->name, "unnamed"), C);
        double *c;
        size_t nc;
        MINIMA_TRY(note_param(R, ct));
        MINIMA_TRY(read_params(R, ct, &c, &nc));
        if (!b->b) {
            b->b = c;
            b->n_b = nc;
        } else {
            for (size_t k = 0; k < nc; k++) b->b[k] += c[k];
            minima_free(c);
        }
        MINIMA_TRY(note_folded(R, "Add '%s' into the bias of '%s'", s_or(R->cur->name, "unnamed"),
                                   b->name));
        oval v = node_val(x->node);
        return output(R, v);
    }
    oval *x, *y;
    MINIMA_TRY(act_input(R, 0, &x));
    MINIMA_TRY(act_input(R, 1, &y));
    minima_shape a = R->nodes[x->node].nd.shape, s = R->nodes[y->node].nd.shape;
    if (a.rank != s.rank || a.c != s.c || a.h != s.h || a.w != s.w || x->flat4 != y->flat4)
        REFUSE(R, "adds tensors of different shapes; minima's add takes equal shapes (no broadcasting)");
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_ADD, x->node, &idx));
    R->nodes[idx].nd.n_inputs = 2;
    R->nodes[idx].nd.inputs[1] = y->node;
    oval v = node_val(idx);
    v.flat4 = x->flat4;
    return output(R, v);
}

static minima_status op_act(reader *R, minima_node_kind kind)
{
    static const char *const ok[] = {"alpha", NULL};
    MINIMA_TRY(known_attrs(R, kind == MINIMA_NODE_LEAKY_RELU ? ok : ok + 1));
    if (R->cur->n_input != 1) BAD(R, "has %zu inputs; expected 1", R->cur->n_input);
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    int idx = 0;
    double slope = 0.01;
    if (kind == MINIMA_NODE_LEAKY_RELU) {
        MINIMA_TRY(attr_float(R, "alpha", 0.01, &slope));
        if (!(slope > 0 && slope < 1))
            REFUSE(R, "alpha %g: minima's leaky_relu takes a slope in (0, 1)", slope);
    }
    MINIMA_TRY(new_node(R, kind, x->node, &idx));
    R->nodes[idx].nd.slope = slope;
    oval v = node_val(idx);
    v.flat4 = x->flat4;
    return output(R, v);
}

static minima_status op_pool(reader *R, int avg)
{
    static const char *const okmax[] = {"kernel_shape", "strides", "pads", "ceil_mode", "auto_pad",
                                        "dilations", "storage_order", NULL};
    static const char *const okavg[] = {"kernel_shape", "strides", "pads", "ceil_mode", "auto_pad",
                                        "count_include_pad", NULL};
    MINIMA_TRY(known_attrs(R, avg ? okavg : okmax));
    if (R->cur->n_input != 1) BAD(R, "has %zu inputs; expected 1", R->cur->n_input);
    oval *x;
    int extra[2] = {0, 0};
    if (avg) MINIMA_TRY(take_pad(R, &x, extra));
    else MINIMA_TRY(act_input(R, 0, &x));
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank != 3 || x->flat4) REFUSE(R, "its input is not an image [N, C, H, W]");
    if (!attr(R->cur, "kernel_shape")) BAD(R, "has no kernel_shape");
    int kernel[2], strides[2], pads[4], dil[2], valid;
    int64_t ceil_mode, cip, order;
    MINIMA_TRY(attr_ints(R, "kernel_shape", 2, 1, 1, kernel));
    MINIMA_TRY(attr_ints(R, "strides", 2, 1, 1, strides));
    MINIMA_TRY(attr_ints(R, "pads", 4, 0, 0, pads));
    MINIMA_TRY(attr_ints(R, "dilations", 2, 1, 1, dil));
    MINIMA_TRY(attr_int(R, "ceil_mode", 0, &ceil_mode));
    MINIMA_TRY(attr_int(R, "count_include_pad", 0, &cip));
    MINIMA_TRY(attr_int(R, "storage_order", 0, &order));
    MINIMA_TRY(no_auto_pad(R, &valid));
    if (ceil_mode) REFUSE(R, "ceil_mode = 1; minima's pooling uses floor mode");
    if (dil[0] != 1 || dil[1] != 1) REFUSE(R, "dilated pooling is not supported");
    if (pads[0] != pads[2] || pads[1] != pads[3])
        REFUSE(R, "pads [%d, %d, %d, %d] are asymmetric; minima's pooling pads the same on both sides",
               pads[0], pads[1], pads[2], pads[3]);
    if (avg && !cip && (pads[0] || pads[1]))
        REFUSE(R, "count_include_pad = 0 with padding: minima's avgpool2d divides by the whole window, "
               "padding included (PyTorch's default count_include_pad=True)");
    int idx = 0;
    MINIMA_TRY(new_node(R, avg ? MINIMA_NODE_AVGPOOL2D : MINIMA_NODE_MAXPOOL2D, x->node, &idx));
    bnode *b = &R->nodes[idx];
    int ho, wo;
    for (int k = 0; k < 2; k++) {
        b->nd.kernel[k] = kernel[k];
        b->nd.stride[k] = strides[k];
        b->nd.padding[k] = pads[k] + extra[k];
    }
    MINIMA_TRY(window_out(R, in.h, kernel[0], strides[0], b->nd.padding[0], 1, &ho));
    MINIMA_TRY(window_out(R, in.w, kernel[1], strides[1], b->nd.padding[1], 1, &wo));
    b->nd.shape = (minima_shape){3, in.c, ho, wo};
    return output(R, node_val(idx));
}

static minima_status op_gap(reader *R)
{
    MINIMA_TRY(known_attrs(R, (const char *const[]){NULL}));
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank != 3 || x->flat4) REFUSE(R, "its input is not an image [N, C, H, W]");
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_GLOBAL_AVGPOOL, x->node, &idx));
    R->nodes[idx].nd.shape = (minima_shape){1, in.c, 1, 1};
    oval v = node_val(idx);
    v.flat4 = 1;               /* ONNX: [N, C, 1, 1] */
    return output(R, v);
}

/* A flatten of x: a node for an image, nothing for what is already flat. */
static minima_status flatten(reader *R, oval *x)
{
    const minima_shape in = R->nodes[x->node].nd.shape;
    if (in.rank == 1) {
        oval v = *x;
        v.flat4 = 0;
        v.fresh = 0;
        return output(R, v);
    }
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_FLATTEN, x->node, &idx));
    R->nodes[idx].nd.shape = (minima_shape){1, (int)minima_shape_size(in), 1, 1};
    return output(R, node_val(idx));
}

static minima_status op_flatten(reader *R)
{
    static const char *const ok[] = {"axis", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    int64_t axis;
    MINIMA_TRY(attr_int(R, "axis", 1, &axis));
    int rank = R->nodes[x->node].nd.shape.rank == 3 || x->flat4 ? 4 : 2;
    if (axis != 1 && axis != 1 - rank)
        REFUSE(R, "axis %lld; minima flattens everything but the batch dimension (axis 1)",
               (long long)axis);
    return flatten(R, x);
}

/* The integers of an input: a V_VEC, or a constant INT64/INT32 tensor. */
static minima_status int_input(reader *R, size_t k, oval *out)
{
    oval *v;
    MINIMA_TRY(input_val(R, k, &v));
    if (v->kind == V_VEC) {
        *out = *v;
        return MINIMA_OK;
    }
    if (v->kind != V_CONST)
        REFUSE(R, "input %zu '%.200s' must be a constant or computed from shapes", k, R->cur->input[k]);
    int64_t *s;
    size_t n;
    MINIMA_TRY(minima_onnx_tensor_ints(R->path, v->t, &s, &n));
    if (n > MAX_VEC || v->t->n_dims > 1) {
        minima_free(s);
        REFUSE(R, "input %zu '%.200s' has %zu integers; minima reads shape vectors of up to %d",
               k, R->cur->input[k], n, MAX_VEC);
    }
    memset(out, 0, sizeof *out);
    out->kind = V_VEC;
    out->n_vec = (int)n;
    out->scalar = v->t->n_dims == 0;
    if (n) memcpy(out->vec, s, n * sizeof *s);
    minima_free(s);
    return MINIMA_OK;
}

static minima_status op_reshape(reader *R)
{
    static const char *const ok[] = {"allowzero", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    if (R->cur->n_input != 2) BAD(R, "has %zu inputs; Reshape takes 2", R->cur->n_input);
    oval *x, sv;
    MINIMA_TRY(act_input(R, 0, &x));
    MINIMA_TRY(int_input(R, 1, &sv));
    int64_t a = sv.n_vec == 2 ? sv.vec[0] : 0, b = sv.n_vec == 2 ? sv.vec[1] : 0;
    size_t size = minima_shape_size(R->nodes[x->node].nd.shape);
    /* [N, -1], [0, -1], [k, -1] (the batch size traced at export), [-1, size], [N, size], [0, size] */
    int first = a == BATCH_DIM || a == 0 || a == -1 || a > 0;
    int flat = sv.n_vec == 2 && !sv.scalar && first &&
               ((b == -1 && a != -1) || (b >= 0 && (size_t)b == size));
    if (!flat)
        REFUSE(R, "reshapes to a shape other than [N, -1] or [-1, %zu]; minima maps a Reshape only "
               "when it flattens each example", size);
    return flatten(R, x);
}

/* Shape, Gather, Unsqueeze, Concat: the integer arithmetic torch.onnx.export
 * writes for x.view(x.size(0), -1) with a dynamic batch. */
static minima_status op_shape(reader *R)
{
    if (R->cur->n_attribute) REFUSE(R, "Shape with start/end is not supported");
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    oval v;
    memset(&v, 0, sizeof v);
    v.kind = V_SHAPE;
    v.node = x->node;
    v.flat4 = x->flat4;
    return output(R, v);
}

static minima_status op_gather(reader *R)
{
    static const char *const ok[] = {"axis", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    int64_t axis;
    MINIMA_TRY(attr_int(R, "axis", 0, &axis));
    if (R->cur->n_input != 2) BAD(R, "has %zu inputs; Gather takes 2", R->cur->n_input);
    oval *sh, idx;
    MINIMA_TRY(input_val(R, 0, &sh));
    if (sh->kind != V_SHAPE || axis != 0)
        REFUSE(R, "minima maps Gather only to pick one dimension of a Shape");
    MINIMA_TRY(int_input(R, 1, &idx));
    if (idx.n_vec != 1) REFUSE(R, "gathers %d indices; minima picks one", idx.n_vec);
    minima_shape s = R->nodes[sh->node].nd.shape;
    int rank = s.rank == 3 || sh->flat4 ? 4 : 2;
    int64_t dims[4] = {BATCH_DIM, s.c, s.h, s.w};
    if (sh->flat4) dims[2] = dims[3] = 1;
    int64_t k = idx.vec[0] < 0 ? idx.vec[0] + rank : idx.vec[0];
    if (k < 0 || k >= rank) BAD(R, "index %lld is outside a shape of %d dimensions",
                                (long long)idx.vec[0], rank);
    oval v;
    memset(&v, 0, sizeof v);
    v.kind = V_VEC;
    v.n_vec = 1;
    v.scalar = idx.scalar;
    v.vec[0] = dims[k];
    return output(R, v);
}

static minima_status op_unsqueeze(reader *R)
{
    static const char *const ok[] = {"axes", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    oval x, axes;
    MINIMA_TRY(int_input(R, 0, &x));
    if (R->opset < 13) {
        const Onnx__AttributeProto *a = attr(R->cur, "axes");
        memset(&axes, 0, sizeof axes);
        axes.n_vec = a && a->n_ints == 1 ? 1 : 0;
        if (axes.n_vec) axes.vec[0] = a->ints[0];
    } else {
        if (R->cur->n_input != 2) BAD(R, "has %zu inputs; Unsqueeze takes 2", R->cur->n_input);
        MINIMA_TRY(int_input(R, 1, &axes));
    }
    if (!x.scalar || axes.n_vec != 1 || (axes.vec[0] != 0 && axes.vec[0] != -1))
        REFUSE(R, "minima maps Unsqueeze only to turn one computed dimension into a vector");
    x.scalar = 0;
    return output(R, x);
}

static minima_status op_concat(reader *R)
{
    static const char *const ok[] = {"axis", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    int64_t axis;
    MINIMA_TRY(attr_int(R, "axis", 0, &axis));
    if (axis != 0 && axis != -1) REFUSE(R, "minima maps Concat only to build a shape vector (axis 0)");
    oval out;
    memset(&out, 0, sizeof out);
    out.kind = V_VEC;
    for (size_t k = 0; k < R->cur->n_input; k++) {
        oval part;
        MINIMA_TRY(int_input(R, k, &part));
        if (part.scalar || out.n_vec + part.n_vec > MAX_VEC)
            REFUSE(R, "minima maps Concat only to build a shape vector of up to %d entries", MAX_VEC);
        memcpy(out.vec + out.n_vec, part.vec, (size_t)part.n_vec * sizeof *part.vec);
        out.n_vec += part.n_vec;
    }
    return output(R, out);
}

static minima_status op_batchnorm(reader *R)
{
    static const char *const ok[] = {"epsilon", "momentum", "training_mode", "spatial", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    if (R->cur->n_input != 5) BAD(R, "has %zu inputs; BatchNormalization takes 5", R->cur->n_input);
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    int64_t training, spatial;
    double eps;
    MINIMA_TRY(attr_int(R, "training_mode", 0, &training));
    MINIMA_TRY(attr_int(R, "spatial", 1, &spatial));
    MINIMA_TRY(attr_float(R, "epsilon", 1e-5, &eps));
    if (training) REFUSE(R, "training_mode = 1; minima folds BatchNormalization in evaluation mode "
                         "(export the model after model.eval())");
    if (!spatial) REFUSE(R, "spatial = 0 is not supported");
    bnode *b = &R->nodes[x->node];
    if (!x->fresh || (b->nd.kind != MINIMA_NODE_LINEAR && b->nd.kind != MINIMA_NODE_CONV2D) ||
        b->nd.folded_batchnorm)
        REFUSE(R, "minima folds a BatchNormalization into the Conv, Gemm or MatMul right before it "
               "(whose output nothing else reads); this one follows another kind of node");
    size_t C = (size_t)b->nd.out, per = b->n_w / C;
    double *p[4] = {NULL, NULL, NULL, NULL};
    minima_status st = MINIMA_OK;
    static const char *const what[4] = {"scale", "B", "mean", "var"};
    for (int k = 0; k < 4 && st == MINIMA_OK; k++) {
        const Onnx__TensorProto *t = NULL;
        size_t n = 0;
        st = const_input(R, (size_t)k + 1, &t);
        if (st == MINIMA_OK) st = read_params(R, t, &p[k], &n);
        if (st == MINIMA_OK && (n != C || t->n_dims != 1)) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s '%.200s' has %zu values; expected a vector of %zu channels",
                     what[k], s_or(t->name, "unnamed"), n, C);
            st = minima_error(MINIMA_EFORMAT, "'%s': %s: %s", R->path, here(R), msg);
        }
    }
    if (st == MINIMA_OK && !b->b) {
        b->b = minima_calloc(C, sizeof *b->b);
        b->n_b = C;
        if (!b->b) st = minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
    }
    for (size_t j = 0; st == MINIMA_OK && j < C; j++) {
        if (!(p[3][j] + eps > 0)) {
            st = minima_error(MINIMA_EFORMAT, "'%s': %s: var entry %zu is %g: with epsilon %g the "
                              "normalisation divides by sqrt(%g)", R->path, here(R), j, p[3][j], eps,
                              p[3][j] + eps);
            break;
        }
        double s = p[0][j] / sqrt(p[3][j] + eps);
        for (size_t k = 0; k < per; k++) b->w[j * per + k] *= s;
        b->b[j] = (b->b[j] - p[2][j]) * s + p[1][j];
    }
    for (int k = 0; k < 4; k++) minima_free(p[k]);
    MINIMA_TRY(st);
    b->nd.folded_batchnorm = 1;
    MINIMA_TRY(note_folded(R, "BatchNormalization %s into '%s'", s_or(R->cur->name, "unnamed"), b->name));
    minima_log(MINIMA_LOG_INFO, "'%s': folded BatchNormalization '%s' into node %d ('%s')", R->path,
               s_or(R->cur->name, "unnamed"), x->node, b->name);
    oval v = node_val(x->node);
    return output(R, v);
}

static minima_status op_pad(reader *R)
{
    static const char *const ok[] = {"mode", "pads", "value", NULL};
    MINIMA_TRY(known_attrs(R, ok));
    oval *x;
    MINIMA_TRY(act_input(R, 0, &x));
    const Onnx__AttributeProto *mode = attr(R->cur, "mode");
    if (mode && mode->has_s && !(mode->s.len == 8 && !memcmp(mode->s.data, "constant", 8)))
        REFUSE(R, "mode '%.*s'; minima folds constant zero padding only",
               (int)(mode->s.len < 40 ? mode->s.len : 40), (const char *)mode->s.data);
    int64_t *pads = NULL;
    size_t n = 0;
    double value = 0;
    if (R->opset < 11) {
        const Onnx__AttributeProto *a = attr(R->cur, "pads");
        if (!a) BAD(R, "has no pads");
        MINIMA_TRY(attr_float(R, "value", 0.0, &value));
        pads = minima_alloc(a->n_ints ? a->n_ints : 1, sizeof *pads);
        if (!pads) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
        if (a->n_ints) memcpy(pads, a->ints, a->n_ints * sizeof *pads);
        n = a->n_ints;
    } else {
        const Onnx__TensorProto *pt = NULL;
        if (R->cur->n_input < 2 || R->cur->n_input > 4) BAD(R, "has %zu inputs", R->cur->n_input);
        MINIMA_TRY(const_input(R, 1, &pt));
        MINIMA_TRY(minima_onnx_tensor_ints(R->path, pt, &pads, &n));
        if (R->cur->n_input >= 3 && R->cur->input[2][0]) {
            const Onnx__TensorProto *vt = NULL;
            double *vv;
            size_t nv;
            minima_status st = const_input(R, 2, &vt);
            if (st == MINIMA_OK) st = minima_onnx_tensor_doubles(R->path, vt, &vv, &nv);
            if (st != MINIMA_OK) { minima_free(pads); return st; }
            value = nv == 1 ? vv[0] : NAN;
            minima_free(vv);
        }
        if (R->cur->n_input == 4 && R->cur->input[3][0]) {
            minima_free(pads);
            REFUSE(R, "has an axes input; minima folds a Pad over all four dimensions");
        }
    }
    int ok4 = n == 8 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0 &&
              pads[2] == pads[6] && pads[3] == pads[7] && pads[2] >= 0 && pads[3] >= 0 &&
              pads[2] <= 100000 && pads[3] <= 100000;
    int ph = ok4 ? (int)pads[2] : 0, pw = ok4 ? (int)pads[3] : 0;
    minima_free(pads);
    if (!ok4 || value != 0)
        REFUSE(R, "minima folds a Pad only when it adds zeros symmetrically around the height and "
               "width of an image [N, C, H, W]");
    if (R->nodes[x->node].nd.shape.rank != 3 || x->flat4) REFUSE(R, "its input is not an image");
    oval v;
    memset(&v, 0, sizeof v);
    v.kind = V_PAD;
    v.node = x->node;
    v.pad[0] = ph;
    v.pad[1] = pw;
    v.pad_node = R->cur;
    return output(R, v);
}

static minima_status op_constant(reader *R)
{
    const Onnx__AttributeProto *a = attr(R->cur, "value");
    if (!a || !a->t || R->cur->n_attribute != 1)
        REFUSE(R, "minima reads a Constant whose one attribute is 'value' (a tensor)");
    if (R->cur->n_output < 1 || !R->cur->output[0]) BAD(R, "has no output");
    oval v;
    memset(&v, 0, sizeof v);
    v.kind = V_CONST;
    v.t = a->t;
    return add_val(R, R->cur->output[0], v);
}

/* Identity and Dropout: the output is the input. */
static minima_status op_alias(reader *R, int dropout)
{
    static const char *const ok[] = {"ratio", "seed", "is_test", NULL};
    MINIMA_TRY(known_attrs(R, dropout ? ok : ok + 3));
    oval *x;
    MINIMA_TRY(input_val(R, 0, &x));
    if (dropout && R->cur->n_input >= 3 && R->cur->input[2][0]) {
        const Onnx__TensorProto *t = NULL;
        MINIMA_TRY(const_input(R, 2, &t));
        double *m;
        size_t n;
        MINIMA_TRY(minima_onnx_tensor_doubles(R->path, t, &m, &n));
        double tm = n == 1 ? m[0] : 1;
        minima_free(m);
        if (tm != 0) REFUSE(R, "training_mode is set; minima reads a model in evaluation mode");
    }
    if (!dropout && x->kind == V_NODE) {
        /* Identity on the data: minima's identity node (what minima writes for one) */
        int idx = 0;
        MINIMA_TRY(new_node(R, MINIMA_NODE_IDENTITY, x->node, &idx));
        oval v = node_val(idx);
        v.flat4 = x->flat4;
        return output(R, v);
    }
    oval v = *x;
    v.fresh = 0;
    if (R->cur->n_output < 1 || !R->cur->output[0]) BAD(R, "has no output");
    for (size_t k = 1; k < R->cur->n_output; k++)
        if (R->cur->output[k] && R->cur->output[k][0] && uses(R, R->cur->output[k]))
            REFUSE(R, "its mask output is used");
    return add_val(R, R->cur->output[0], v);
}

static minima_status map_node(reader *R)
{
    const Onnx__NodeProto *n = R->cur;
    const char *op = s_or(n->op_type, "");
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        REFUSE(R, "its domain '%.100s' is not ONNX's default domain; minima supports %s", n->domain,
               SUPPORTED_OPS);
    if (!strcmp(op, "Conv")) return op_conv(R);
    if (!strcmp(op, "Gemm")) return op_gemm(R);
    if (!strcmp(op, "MatMul")) return op_matmul(R);
    if (!strcmp(op, "Add")) return op_add(R);
    if (!strcmp(op, "Relu")) return op_act(R, MINIMA_NODE_RELU);
    if (!strcmp(op, "LeakyRelu")) return op_act(R, MINIMA_NODE_LEAKY_RELU);
    if (!strcmp(op, "Tanh")) return op_act(R, MINIMA_NODE_TANH);
    if (!strcmp(op, "MaxPool")) return op_pool(R, 0);
    if (!strcmp(op, "AveragePool")) return op_pool(R, 1);
    if (!strcmp(op, "GlobalAveragePool")) return op_gap(R);
    if (!strcmp(op, "Flatten")) return op_flatten(R);
    if (!strcmp(op, "Reshape")) return op_reshape(R);
    if (!strcmp(op, "Shape")) return op_shape(R);
    if (!strcmp(op, "Gather")) return op_gather(R);
    if (!strcmp(op, "Unsqueeze")) return op_unsqueeze(R);
    if (!strcmp(op, "Concat")) return op_concat(R);
    if (!strcmp(op, "BatchNormalization")) return op_batchnorm(R);
    if (!strcmp(op, "Pad")) return op_pad(R);
    if (!strcmp(op, "Constant")) return op_constant(R);
    if (!strcmp(op, "Identity")) return op_alias(R, 0);
    if (!strcmp(op, "Dropout")) return op_alias(R, 1);
    REFUSE(R, "op '%.60s' is not supported; minima maps %s", op, SUPPORTED_OPS);
}

/* ---- the graph ---------------------------------------------------------- */

static minima_status check_opset(reader *R, const Onnx__ModelProto *mp)
{
    int found = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (o->domain && o->domain[0] && strcmp(o->domain, "ai.onnx")) continue;
        found = 1;
        if (!o->has_version || o->version < 9 || o->version > 17)
            return minima_error(MINIMA_EUNSUPPORTED, "'%s': opset %lld of the default domain; minima "
                                "reads opsets 9 to 17 (torch.onnx.export(..., opset_version=13))",
                                R->path, (long long)o->version);
        R->opset = (int)o->version;
    }
    if (!found)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the model imports no opset of ONNX's default "
                            "domain; minima reads opsets 9 to 17", R->path);
    return MINIMA_OK;
}

/* Before the nodes are mapped, the only constants known are the initializers. */
static int is_initializer(reader *R, const char *name)
{
    const oval *v = find_val(R, name);
    return v && v->kind == V_CONST;
}

/* The graph input (the data): [N, C, H, W] or [N, D], N free. */
static minima_status graph_input(reader *R)
{
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < R->g->n_input; i++) {
        if (is_initializer(R, R->g->input[i]->name)) continue;
        if (in)
            return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph has two inputs ('%.100s' and "
                                "'%.100s'); minima's networks read one", R->path,
                                s_or(in->name, "?"), s_or(R->g->input[i]->name, "?"));
        in = R->g->input[i];
    }
    if (!in) return minima_error(MINIMA_EFORMAT, "'%s': the graph has no input", R->path);
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type ||
        !tp->tensor_type->shape)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph input '%.100s' is not a tensor of "
                            "known shape", R->path, s_or(in->name, "?"));
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    int32_t et = tp->tensor_type->elem_type;
    if (et != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && et != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph input has element type %d; minima "
                            "reads FLOAT or DOUBLE data", R->path, (int)et);
    if (sh->n_dim != 2 && sh->n_dim != 4)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph input has %zu dimensions; minima "
                            "reads [N, features] or [N, C, H, W]", R->path, sh->n_dim);
    int d[4] = {1, 1, 1, 1};
    for (size_t k = 1; k < sh->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *dm = sh->dim[k];
        if (dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            dm->dim_value < 1 || dm->dim_value > 100000000)
            return minima_error(MINIMA_EUNSUPPORTED, "'%s': dimension %zu of the graph input is not a "
                                "fixed positive size (only the batch dimension may be dynamic)",
                                R->path, k);
        d[k] = (int)dm->dim_value;
    }
    if ((double)d[1] * d[2] * d[3] > 1e9)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph input is too large", R->path);
    int idx = 0;
    MINIMA_TRY(new_node(R, MINIMA_NODE_INPUT, -1, &idx));
    R->nodes[idx].nd.n_inputs = 0;
    R->nodes[idx].nd.shape = sh->n_dim == 2 ? (minima_shape){1, d[1], 1, 1}
                                            : (minima_shape){3, d[1], d[2], d[3]};
    oval v = node_val(idx);
    v.fresh = 0;
    if (!in->name || !in->name[0]) return minima_error(MINIMA_EFORMAT, "'%s': the graph input has no name", R->path);
    return add_val(R, in->name, v);
}

static void reader_free(reader *R)
{
    for (int i = 0; i < R->n_nodes; i++) {
        minima_free(R->nodes[i].w);
        minima_free(R->nodes[i].b);
    }
    minima_free(R->nodes);
    minima_free(R->vals);
    minima_free(R->folded);
    minima_free(R->params);
    minima_free(R->reads);
    minima_free(R->hash);
}

static minima_status build(reader *R, const Onnx__ModelProto *mp, const minima_load_options *opts,
                           minima_model **out)
{
    R->g = mp->graph;
    if (!R->g) return minima_error(MINIMA_EFORMAT, "'%s' is not an ONNX model: it has no graph", R->path);
    MINIMA_TRY(check_opset(R, mp));
    if (R->g->n_sparse_initializer)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': sparse initializers are not supported", R->path);
    for (size_t i = 0; i < R->g->n_initializer; i++) {
        oval v;
        memset(&v, 0, sizeof v);
        v.kind = V_CONST;
        v.t = R->g->initializer[i];
        MINIMA_TRY(add_val(R, R->g->initializer[i]->name, v));
    }
    MINIMA_TRY(reads_init(R));
    MINIMA_TRY(graph_input(R));
    for (size_t i = 0; i < R->g->n_node; i++) {
        R->cur = R->g->node[i];
        R->cur_index = i;
        MINIMA_TRY(map_node(R));
    }
    if (R->g->n_output != 1)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph has %zu outputs; minima's networks "
                            "have one (the logits)", R->path, R->g->n_output);
    oval *o = find_val(R, R->g->output[0]->name);
    if (!o || o->kind != V_NODE)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph output '%.100s' is not computed from "
                            "the input by the graph's nodes", R->path, s_or(R->g->output[0]->name, "?"));
    if (o->node != R->n_nodes - 1 || R->n_nodes < 2)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': the graph output '%.100s' is not the last "
                            "computation (minima runs every node and returns the last)", R->path,
                            s_or(R->g->output[0]->name, "?"));
    /* Every node except the output must be read by a later one. */
    char *read = minima_calloc((size_t)R->n_nodes, 1);
    if (!read) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
    for (int j = 1; j < R->n_nodes; j++)
        for (int k = 0; k < R->nodes[j].nd.n_inputs; k++) read[R->nodes[j].nd.inputs[k]] = 1;
    int dead = -1;
    for (int i = 0; i < R->n_nodes - 1 && dead < 0; i++)
        if (!read[i]) dead = i;
    minima_free(read);
    if (dead >= 0)
        return minima_error(MINIMA_EUNSUPPORTED, "'%s': a branch of the graph ends without reaching "
                            "the output (at minima node %d, %s); minima's graphs have one output",
                            R->path, dead, minima_node_kind_name(R->nodes[dead].nd.kind));
    minima_node *nodes = minima_calloc((size_t)R->n_nodes, sizeof *nodes);
    if (!nodes) return minima_error(MINIMA_ENOMEM, "'%s': out of memory", R->path);
    for (int i = 0; i < R->n_nodes; i++) {
        nodes[i] = R->nodes[i].nd;
        nodes[i].has_bias = R->nodes[i].b != NULL;
        nodes[i].name = R->nodes[i].name;
    }
    minima_model *m = NULL;
    minima_status st = minima_model_create_graph(&m, R->n_nodes, nodes);
    minima_free(nodes);
    if (st != MINIMA_OK) return st;
    for (int i = 0; i < R->n_nodes && st == MINIMA_OK; i++) {
        const minima_node *nd = &m->nodes[i];
        const bnode *b = &R->nodes[i];
        if (nd->n_weight != b->n_w || nd->n_bias != (b->b ? b->n_b : 0)) {
            char label[200];
            minima_model_node_label(m, i, label, sizeof label);
            st = minima_error(MINIMA_EFORMAT, "'%s': %s has %zu + %zu parameters in the file; its shape "
                              "needs %zu + %zu", R->path, label, b->n_w, b->n_b, nd->n_weight, nd->n_bias);
            break;
        }
        if (b->n_w) memcpy(m->theta + nd->weight_offset, b->w, b->n_w * sizeof *b->w);
        if (nd->n_bias) memcpy(m->theta + nd->bias_offset, b->b, b->n_b * sizeof *b->b);
    }
    if (st == MINIMA_OK && !opts->allow_nonfinite) st = minima_model_check_finite(m);
    m->activation_source = MINIMA_FROM_FILE;
    m->order_source = MINIMA_FROM_FILE;
    char prod[300];
    snprintf(prod, sizeof prod, "%.100s %.100s (opset %d)", s_or(mp->producer_name, "unknown"),
             s_or(mp->producer_version, ""), R->opset);
    if (st == MINIMA_OK) st = minima_model_set_meta(m, "onnx_producer", prod);
    if (st == MINIMA_OK && R->folded) st = minima_model_set_meta(m, "onnx_folded", R->folded);
    for (size_t i = 0; st == MINIMA_OK && i < mp->n_metadata_props; i++) {
        const char *key = s_or(mp->metadata_props[i]->key, ""), *val = s_or(mp->metadata_props[i]->value, "");
        if (!key[0] || !strcmp(key, "onnx_producer") || !strcmp(key, "onnx_folded")) continue;
        if (!strcmp(key, "minima.loss")) {
            st = minima_loss_parse(val, &m->loss);
        } else if (!strcmp(key, "minima.folded_batchnorm")) {
            /* a file minima wrote: the nodes it had folded a BatchNorm into */
            for (int j = 1; j < m->n_nodes; j++) {
                const char *nm = m->nodes[j].name;
                size_t l = nm ? strlen(nm) : 0;
                for (const char *p = val; l && (p = strstr(p, nm)); p += l)
                    if ((p == val || p[-1] == ',') && (p[l] == ',' || p[l] == '\0'))
                        m->nodes[j].folded_batchnorm = 1;
            }
        } else {
            st = minima_model_set_meta(m, key, val);
        }
    }
    if (st == MINIMA_OK && opts->activation_set)
        st = minima_model_set_activation(m, opts->activation, opts->leaky_slope);
    if (st != MINIMA_OK) {
        minima_model_free(m);
        return st;
    }
    *out = m;
    return MINIMA_OK;
}

minima_status minima_model_load_onnx(const char *path, const minima_load_options *opts,
                                     minima_model **out)
{
    if (!path || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_load_onnx: NULL argument");
    *out = NULL;
    minima_load_options defaults = minima_load_default_options();
    if (!opts) opts = &defaults;
    if (opts->arch)
        MINIMA_FAIL(MINIMA_EINVAL, "'%s' is an ONNX model, which carries its graph: drop --arch", path);
    Onnx__ModelProto *mp;
    MINIMA_TRY(minima_onnx_read_file(path, &mp));
    reader R;
    memset(&R, 0, sizeof R);
    R.path = path;
    minima_status st = build(&R, mp, opts, out);
    reader_free(&R);
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}

#endif
