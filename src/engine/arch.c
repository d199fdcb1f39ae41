/* arch.c — the architecture grammar (docs/model-files.md, "Describing a
 * network: --arch"): "SHAPE:LAYER,LAYER,..." to a graph of nodes and back.
 *
 * Parsing is two steps (engine/arch_impl.h): the string becomes a node list
 * here, with every error the string alone shows; minima_model_create_graph
 * then checks shapes and lays out theta. Node names are the PyTorch module
 * paths of the equivalent nn.Sequential: token i is module "i" (a `bn`
 * token too, since BatchNorm is a module there, though not a node here),
 * the body of res at i is module "i.body", its token j "i.body.j". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch_impl.h"
#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/model.h"

#define ARCH_MAX_VALUE 100000000   /* every size, kernel, stride...: at most 1e8 */

static const char expected_layer[] =
    "expected a width N (linear), conv<C>k<K>[s<S>][p<P>][d<D>][g<G>], relu, lrelu<a>, tanh, "
    "maxpool<K>[s<S>], avgpool<K>[s<S>], gap, flatten, identity, res(LAYER,...) or bn";

typedef struct {
    const char *arch;          /* the whole string, for messages */
    const char *p;             /* the cursor */
    int has_bias;
    minima_node *nodes;        /* the list being built; names allocated */
    int n, cap;
} parser;

/* "architecture '<arch>': token '<tok>' at character <c> (module '<name>'): <what>". */
static minima_status token_error(const parser *ps, const char *tok, size_t len, const char *name,
                                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static minima_status token_error(const parser *ps, const char *tok, size_t len, const char *name,
                                 const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return minima_error(MINIMA_EINVAL, "architecture '%s': token '%.*s' at character %zu "
                        "(module '%s'): %s", ps->arch, (int)len, tok,
                        (size_t)(tok - ps->arch) + 1, name, what);
}

/* A node appended to the list; its name is copied. */
static minima_status push(parser *ps, minima_node nd, const char *name, int *index)
{
    if (ps->n == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 16;
        minima_node *grown = minima_realloc(ps->nodes, (size_t)cap, sizeof *grown);
        if (!grown) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory reading an architecture");
        ps->nodes = grown;
        ps->cap = cap;
    }
    if (!(nd.name = minima_strdup(name)))
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory reading an architecture");
    ps->nodes[ps->n] = nd;
    *index = ps->n++;
    return MINIMA_OK;
}

/* A decimal integer in [lo, 1e8] at *s (digits only, no sign); *s moves past it. */
static int read_int(const char **s, int lo, int *v)
{
    if (!isdigit((unsigned char)**s)) return 0;
    long x = 0;
    while (isdigit((unsigned char)**s)) {
        x = 10 * x + (**s - '0');
        if (x > ARCH_MAX_VALUE) return 0;
        (*s)++;
    }
    if (x < lo) return 0;
    *v = (int)x;
    return 1;
}

/* N or HxW (non-square kernels, strides, paddings, dilations). */
static int read_pair(const char **s, int lo, int v[2])
{
    if (!read_int(s, lo, &v[0])) return 0;
    v[1] = v[0];
    if (**s == 'x' && isdigit((unsigned char)(*s)[1])) {
        (*s)++;
        if (!read_int(s, lo, &v[1])) return 0;
    }
    return 1;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One layer token (not res, not bn), NUL-terminated in t, into a node. */
static minima_status parse_token(const parser *ps, const char *tok, const char *t, size_t len,
                                 const char *name, int input, minima_node *nd)
{
    const char *s = t;
    if (strchr(t, '@'))
        return token_error(ps, tok, len, name, "a node with explicit inputs: the graph it comes "
                           "from is not a chain of layers and res(...) blocks, which is all the "
                           "grammar can describe (minima writes such graphs this way to show "
                           "them, not to be read back)");
    if (!strcmp(t, "add"))
        return token_error(ps, tok, len, name, "an addition is written res(LAYER,...): "
                           "x + body(x)");
    if ((*s == '-' || *s == '+') && (isdigit((unsigned char)s[1]) || s[1] == '.'))
        return token_error(ps, tok, len, name, "bad width: expected a number of outputs between "
                           "1 and 1e8, without a sign");
    if (isdigit((unsigned char)*s)) {
        *nd = minima_node_make(MINIMA_NODE_LINEAR, input);
        if (!read_int(&s, 1, &nd->out))
            return token_error(ps, tok, len, name, "bad width: expected a number of outputs "
                               "between 1 and 1e8");
        nd->has_bias = ps->has_bias;
        if (!strcmp(s, "nb")) nd->has_bias = 0;
        else if (*s)
            return token_error(ps, tok, len, name, "expected a width N or Nnb (no bias), found "
                               "'%s' after the number", s);
        return MINIMA_OK;
    }
    if (starts(s, "conv")) {
        *nd = minima_node_make(MINIMA_NODE_CONV2D, input);
        nd->has_bias = ps->has_bias;
        s += 4;
        if (!read_int(&s, 1, &nd->out))
            return token_error(ps, tok, len, name, "bad channel count: expected conv<C>k<K> with "
                               "C between 1 and 1e8 output channels");
        if (*s != 'k' || (s++, !read_pair(&s, 1, nd->kernel)))
            return token_error(ps, tok, len, name, "bad kernel: expected k<K> (K >= 1, or KHxKW) "
                               "after conv%d", nd->out);
        int seen[4] = {0, 0, 0, 0};
        while (*s && strcmp(s, "nb")) {
            const char *opt = strchr("spdg", *s);
            if (!opt) break;
            int which = (int)(opt - "spdg");
            const char *at = s++;
            int ok = which == 0   ? read_pair(&s, 1, nd->stride)
                     : which == 1 ? read_pair(&s, 0, nd->padding)
                     : which == 2 ? read_pair(&s, 1, nd->dilation)
                                  : read_int(&s, 1, &nd->groups);
            if (!ok)
                return token_error(ps, tok, len, name, "bad %s at '%s': expected %c followed by "
                                   "%s", which == 0 ? "stride" : which == 1 ? "padding"
                                   : which == 2 ? "dilation" : "group count", at, *at,
                                   which == 1 ? "a number >= 0" : "a number >= 1");
            if (seen[which]++)
                return token_error(ps, tok, len, name, "%c is given twice", *at);
        }
        if (!strcmp(s, "nb")) nd->has_bias = 0;
        else if (*s)
            return token_error(ps, tok, len, name, "expected s<S>, p<P>, d<D>, g<G> or nb after "
                               "conv<C>k<K>, found '%s'", s);
        return MINIMA_OK;
    }
    if (starts(s, "maxpool") || starts(s, "avgpool")) {
        int max = *s == 'm';
        *nd = minima_node_make(max ? MINIMA_NODE_MAXPOOL2D : MINIMA_NODE_AVGPOOL2D, input);
        nd->has_bias = 0;
        s += 7;
        if (!read_pair(&s, 1, nd->kernel))
            return token_error(ps, tok, len, name, "bad kernel: expected %s<K> with K >= 1",
                               max ? "maxpool" : "avgpool");
        nd->stride[0] = nd->kernel[0];
        nd->stride[1] = nd->kernel[1];
        int seen[2] = {0, 0};
        while (*s == 's' || *s == 'p') {
            int which = *s == 'p';
            const char *at = s++;
            if (!(which ? read_pair(&s, 0, nd->padding) : read_pair(&s, 1, nd->stride)))
                return token_error(ps, tok, len, name, "bad %s at '%s': expected %c followed by "
                                   "a number >= %d", which ? "padding" : "stride", at, *at,
                                   which ? 0 : 1);
            if (seen[which]++)
                return token_error(ps, tok, len, name, "%c is given twice", *at);
        }
        if (*s)
            return token_error(ps, tok, len, name, "expected s<S> or p<P> after %s<K>, found '%s'",
                               max ? "maxpool" : "avgpool", s);
        return MINIMA_OK;
    }
    if (starts(s, "lrelu")) {
        *nd = minima_node_make(MINIMA_NODE_LEAKY_RELU, input);
        nd->has_bias = 0;
        s += 5;
        if (*s) {   /* lrelu alone is PyTorch's default slope, 0.01 */
            char *end;
            errno = 0;
            double a = isdigit((unsigned char)*s) || *s == '.' ? strtod(s, &end) : NAN;
            if (!(a > 0 && a < 1) || errno || *end)
                return token_error(ps, tok, len, name, "bad slope '%s': expected lrelu<a> with a "
                                   "number a between 0 and 1 (exclusive), e.g. lrelu0.01", s);
            nd->slope = a;
        }
        return MINIMA_OK;
    }
    static const struct { const char *word; minima_node_kind kind; } plain[] = {
        {"relu", MINIMA_NODE_RELU},         {"tanh", MINIMA_NODE_TANH},
        {"gap", MINIMA_NODE_GLOBAL_AVGPOOL}, {"flatten", MINIMA_NODE_FLATTEN},
        {"identity", MINIMA_NODE_IDENTITY},
    };
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
        if (!strcmp(t, plain[k].word)) {
            *nd = minima_node_make(plain[k].kind, input);
            nd->has_bias = 0;
            return MINIMA_OK;
        }
    return token_error(ps, tok, len, name, "unknown layer; %s", expected_layer);
}

static void skip_spaces(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t') ps->p++;
}

/* The layers of one list (the top level, or a res body after its '('),
 * reading node `input`; names are prefix + index. `open` is where its res
 * token starts (NULL at the top level). *last: the node the list ends with. */
static minima_status parse_list(parser *ps, int input, const char *prefix, int depth,
                                const char *open, int *last)
{
    int cur = input;
    int prev = -1;             /* what the previous token made: a node kind, -1 nothing, -2 bn */
    size_t plen = strlen(prefix);
    char *name = minima_alloc(plen + 24, 1);
    if (!name) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory reading an architecture");
    minima_status st = MINIMA_OK;
    for (int j = 0;; j++) {
        snprintf(name, plen + 24, "%s%d", prefix, j);
        skip_spaces(ps);
        const char *tok = ps->p;
        size_t len = strcspn(tok, ",()");
        size_t tlen = len;
        while (tlen && (tok[tlen - 1] == ' ' || tok[tlen - 1] == '\t')) tlen--;
        ps->p = tok + len;
        if (tlen == 0) {
            if (*ps->p == '(')
                st = token_error(ps, tok, 1, name, "'(' without res before it; %s",
                                 expected_layer);
            else if (open && j == 0 && *ps->p == ')')
                st = minima_error(MINIMA_EINVAL, "architecture '%s': res( at character %zu has "
                                  "an empty body; expected at least one layer inside",
                                  ps->arch, (size_t)(open - ps->arch) + 1);
            else
                st = minima_error(MINIMA_EINVAL, "architecture '%s': a layer is missing at "
                                  "character %zu (module '%s'): %s", ps->arch,
                                  (size_t)(tok - ps->arch) + 1, name, expected_layer);
            goto done;
        }
        if (*ps->p == '(') {
            if (tlen != 3 || strncmp(tok, "res", 3)) {
                st = token_error(ps, tok, tlen, name, "'(' follows it, and only res opens a "
                                 "block: res(LAYER,...)");
                goto done;
            }
            if (depth + 1 > ARCH_MAX_DEPTH) {
                st = token_error(ps, tok, tlen, name, "res(...) nested more than %d deep",
                                 ARCH_MAX_DEPTH);
                goto done;
            }
            ps->p++;   /* the '(' */
            size_t blen = strlen(name) + 7;
            char *body = minima_alloc(blen, 1);
            if (!body) {
                st = minima_error(MINIMA_ENOMEM, "out of memory reading an architecture");
                goto done;
            }
            snprintf(body, blen, "%s.body.", name);
            int body_last = -1, first = ps->n;
            st = parse_list(ps, cur, body, depth + 1, tok, &body_last);
            minima_free(body);
            if (st != MINIMA_OK) goto done;
            if (ps->n == first) {   /* unreachable: a body's first token is a node or an error */
                st = token_error(ps, tok, tlen, name, "empty body; expected at least one layer");
                goto done;
            }
            minima_node add = minima_node_make(MINIMA_NODE_ADD, cur);
            add.inputs[1] = body_last;
            add.has_bias = 0;
            if ((st = push(ps, add, name, &cur)) != MINIMA_OK) goto done;
            prev = MINIMA_NODE_ADD;
        } else if (tlen == 2 && !strncmp(tok, "bn", 2)) {
            if (prev != MINIMA_NODE_LINEAR && prev != MINIMA_NODE_CONV2D) {
                st = token_error(ps, tok, tlen, name, "bn (BatchNorm) must come right after a "
                                 "conv or linear layer, and it follows %s",
                                 prev == -1 ? (open ? "the start of a res( body"
                                                    : "the input")
                                 : prev == -2 ? "another bn"
                                 : prev == MINIMA_NODE_ADD ? "a res(...) block"
                                 : minima_node_kind_name((minima_node_kind)prev));
                goto done;
            }
            ps->nodes[cur].folded_batchnorm = 1;
            ps->nodes[cur].has_bias = 1;
            prev = -2;
        } else {
            char *t = minima_alloc(tlen + 1, 1);
            if (!t) {
                st = minima_error(MINIMA_ENOMEM, "out of memory reading an architecture");
                goto done;
            }
            memcpy(t, tok, tlen);
            t[tlen] = '\0';
            minima_node nd;
            st = parse_token(ps, tok, t, tlen, name, cur, &nd);
            minima_free(t);
            if (st != MINIMA_OK || (st = push(ps, nd, name, &cur)) != MINIMA_OK) goto done;
            prev = (int)nd.kind;
        }
        skip_spaces(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ')') {
            if (!open) {
                st = minima_error(MINIMA_EINVAL, "architecture '%s': ')' at character %zu closes "
                                  "no res(: unbalanced parentheses", ps->arch,
                                  (size_t)(ps->p - ps->arch) + 1);
                goto done;
            }
            ps->p++;
            break;
        }
        if (*ps->p == '\0') {
            if (open) {
                st = minima_error(MINIMA_EINVAL, "architecture '%s': res( at character %zu is "
                                  "not closed: expected ')' before the end (unbalanced "
                                  "parentheses)", ps->arch, (size_t)(open - ps->arch) + 1);
                goto done;
            }
            break;
        }
        /* only after a res(...) block can anything but , ) or the end follow */
        st = minima_error(MINIMA_EINVAL, "architecture '%s': expected ',' after the res(...) "
                          "ending at character %zu, found '%c'", ps->arch,
                          (size_t)(ps->p - ps->arch), *ps->p);
        goto done;
    }
    *last = cur;
done:
    minima_free(name);
    return st;
}

void arch_nodes_free(arch_nodes *a)
{
    if (!a) return;
    for (int i = 0; a->nodes && i < a->n_nodes; i++) minima_free(a->nodes[i].name);
    minima_free(a->nodes);
    a->nodes = NULL;
    a->n_nodes = 0;
}

/* CxHxW or N, before the ':'. */
static int parse_shape(const char *s, size_t len, minima_shape *shape)
{
    int v[3], k = 0;
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    for (;;) {
        if (k == 3 || !read_int(&p, 1, &v[k]) || p > end) return 0;
        k++;
        if (p == end) break;
        if (*p != 'x') return 0;
        p++;
    }
    if (k == 1) *shape = (minima_shape){1, v[0], 1, 1};
    else if (k == 3) *shape = (minima_shape){3, v[0], v[1], v[2]};
    else return 0;
    return 1;
}

minima_status arch_parse_nodes(const char *arch, int has_bias, arch_nodes *out)
{
    if (!arch || !out) MINIMA_FAIL(MINIMA_EINVAL, "arch_parse_nodes: NULL argument");
    out->n_nodes = 0;
    out->nodes = NULL;
    const char *colon = strchr(arch, ':');
    if (!colon)
        MINIMA_FAIL(MINIMA_EINVAL, "architecture '%s': missing ':'; expected SHAPE:LAYER,... "
                    "(e.g. 1x28x28:conv16k3,relu,flatten,10) or widths joined by '-' "
                    "(784-128-10)", arch);
    minima_shape shape;
    if (!parse_shape(arch, (size_t)(colon - arch), &shape))
        MINIMA_FAIL(MINIMA_EINVAL, "architecture '%s': the input shape '%.*s' before ':' is not "
                    "CxHxW (e.g. 1x28x28) or a flat size (e.g. 784), each a number between 1 "
                    "and 1e8", arch, (int)(colon - arch), arch);
    if (colon[strspn(colon + 1, " \t") + 1] == '\0')
        MINIMA_FAIL(MINIMA_EINVAL, "architecture '%s': no layers after ':'; expected at least "
                    "one, e.g. %.*s:10", arch, (int)(colon - arch), arch);
    parser ps = {arch, colon + 1, has_bias ? 1 : 0, NULL, 0, 0};
    minima_node in = minima_node_make(MINIMA_NODE_INPUT, -1);
    in.shape = shape;
    int idx, last;
    minima_status st = push(&ps, in, "", &idx);
    if (st == MINIMA_OK) st = parse_list(&ps, 0, "", 0, NULL, &last);
    out->nodes = ps.nodes;
    out->n_nodes = ps.n;
    if (st != MINIMA_OK) arch_nodes_free(out);
    return st;
}

/* The MLP form "784-128-10": minima_model_create, then the activation. */
static minima_status parse_mlp(const char *arch, int has_bias, minima_activation activation,
                               double slope, minima_model **out)
{
    int *widths = NULL, K = 0;
    MINIMA_TRY(minima_parse_arch(arch, &widths, &K));
    minima_model *m = NULL;
    minima_status st = minima_model_create(&m, K, widths, has_bias, activation);
    minima_free(widths);
    if (st == MINIMA_OK && activation == MINIMA_ACT_LEAKY_RELU)
        st = minima_model_set_activation(m, activation, slope);
    if (st != MINIMA_OK) {
        minima_model_free(m);
        return st;
    }
    *out = m;
    return MINIMA_OK;
}

minima_status minima_arch_parse(const char *arch, int has_bias, minima_activation activation,
                                double slope, minima_model **out)
{
    if (!arch || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_arch_parse: NULL argument");
    *out = NULL;
    if (!strchr(arch, ':') && strchr(arch, '-'))
        return parse_mlp(arch, has_bias, activation, slope, out);
    arch_nodes a;
    MINIMA_TRY(arch_parse_nodes(arch, has_bias, &a));
    minima_status st = minima_model_create_graph(out, a.n_nodes, a.nodes);
    arch_nodes_free(&a);
    if (st != MINIMA_OK && st != MINIMA_ENOMEM) {
        char why[1024];
        snprintf(why, sizeof why, "%s", minima_last_error());
        return minima_error(st, "architecture '%s': %s", arch, why);
    }
    return st;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t size, used;         /* used may pass size: the text is then truncated */
} out_text;

static void emit(out_text *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(out_text *o, const char *fmt, ...)
{
    if (o->used >= o->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->size - o->used, fmt, ap);
    va_end(ap);
    if (n > 0) o->used += (size_t)n;
}

/* "3" or "3x5". */
static void emit_pair(out_text *o, const char *letter, const int v[2])
{
    if (v[0] == v[1]) emit(o, "%s%d", letter, v[0]);
    else emit(o, "%s%dx%d", letter, v[0], v[1]);
}

static void emit_token(out_text *o, const minima_node *nd)
{
    switch (nd->kind) {
    case MINIMA_NODE_LINEAR:
        emit(o, "%d%s", nd->out, nd->has_bias ? "" : "nb");
        return;
    case MINIMA_NODE_CONV2D:
        emit(o, "conv%d", nd->out);
        emit_pair(o, "k", nd->kernel);
        if (nd->stride[0] != 1 || nd->stride[1] != 1) emit_pair(o, "s", nd->stride);
        if (nd->padding[0] || nd->padding[1]) emit_pair(o, "p", nd->padding);
        if (nd->dilation[0] != 1 || nd->dilation[1] != 1) emit_pair(o, "d", nd->dilation);
        if (nd->groups != 1) emit(o, "g%d", nd->groups);
        if (!nd->has_bias) emit(o, "nb");
        return;
    case MINIMA_NODE_MAXPOOL2D:
    case MINIMA_NODE_AVGPOOL2D:
        emit_pair(o, nd->kind == MINIMA_NODE_MAXPOOL2D ? "maxpool" : "avgpool", nd->kernel);
        if (nd->stride[0] != nd->kernel[0] || nd->stride[1] != nd->kernel[1])
            emit_pair(o, "s", nd->stride);
        if (nd->padding[0] || nd->padding[1]) emit_pair(o, "p", nd->padding);
        return;
    case MINIMA_NODE_LEAKY_RELU: {
        char a[MINIMA_DOUBLE_CHARS];
        minima_format_double(a, sizeof a, nd->slope);
        emit(o, "lrelu%s", a);
        return;
    }
    case MINIMA_NODE_GLOBAL_AVGPOOL: emit(o, "gap"); return;
    case MINIMA_NODE_FLATTEN: emit(o, "flatten"); return;
    case MINIMA_NODE_ADD: emit(o, "add"); return;
    case MINIMA_NODE_RELU: emit(o, "relu"); return;
    case MINIMA_NODE_TANH: emit(o, "tanh"); return;
    case MINIMA_NODE_IDENTITY: emit(o, "identity"); return;
    case MINIMA_NODE_INPUT:
    case MINIMA_NODE_KIND_COUNT: break;
    }
    emit(o, "%s", minima_node_kind_name(nd->kind));
}

typedef struct {
    const minima_node *nodes;
    const int *first_add;      /* per node: the first add whose first input it is, or -1 */
    const int *next_add;       /* per add: the next add with the same first input, or -1 */
} shape_index;

/* Nodes lo..hi-1 as a list reading node `cur`: plain tokens, each reading
 * the one before, and res blocks, recognised by their add (one input the
 * block input, the other the body's last node, in either order). 0 when the nodes are not
 * such a list. */
static int format_list(const shape_index *ix, out_text *o, int cur, int lo, int hi, int depth)
{
    for (int i = lo; i < hi;) {
        /* The outermost block starting at i ends at the last add in [i, hi)
         * that reads cur: nested blocks starting at i all read it too. */
        int j = -1;
        for (int a = ix->first_add[cur]; a >= 0 && a < hi; a = ix->next_add[a])
            if (a >= i) j = a;
        if (i > lo) emit(o, ",");
        if (j >= 0) {
            if (j == i || depth >= ARCH_MAX_DEPTH) return 0;
            emit(o, "res(");
            if (!format_list(ix, o, cur, i, j, depth + 1)) return 0;
            emit(o, ")");
            cur = j;
            i = j + 1;
        } else {
            const minima_node *nd = &ix->nodes[i];
            if (nd->kind == MINIMA_NODE_ADD || nd->kind == MINIMA_NODE_INPUT ||
                nd->n_inputs != 1 || nd->inputs[0] != cur)
                return 0;
            emit_token(o, nd);
            cur = i++;
        }
    }
    return 1;
}

void minima_arch_format(const minima_model *m, char *buf, size_t size)
{
    if (!buf || size == 0) return;
    buf[0] = '\0';
    if (!m || m->n_nodes < 1 || !m->nodes) return;
    out_text o = {buf, size, 0};
    char shape[64];
    minima_shape_string(m->nodes[0].shape, shape, sizeof shape);
    emit(&o, "%s:", shape);
    size_t start = o.used;
    int n = m->n_nodes, ok = 0;
    int *first_add = minima_alloc((size_t)n, sizeof *first_add);
    int *next_add = minima_alloc((size_t)n, sizeof *next_add);
    int *last_add = minima_alloc((size_t)n, sizeof *last_add);
    if (first_add && next_add && last_add) {
        for (int i = 0; i < n; i++) first_add[i] = next_add[i] = last_add[i] = -1;
        /* Adds are visited in increasing order, so each list is sorted. */
        for (int i = 1; i < n; i++) {
            const minima_node *nd = &m->nodes[i];
            if (nd->kind != MINIMA_NODE_ADD || nd->n_inputs != 2) continue;
            /* The block input is the input that is not the node just before
             * (the body's last): x + body(x) and body(x) + x alike, the same
             * sums bit for bit. */
            int c = nd->inputs[1] == i - 1 ? nd->inputs[0]
                    : nd->inputs[0] == i - 1 ? nd->inputs[1] : -1;
            if (c < 0 || c >= i - 1) continue;
            if (last_add[c] < 0) first_add[c] = i;
            else next_add[last_add[c]] = i;
            last_add[c] = i;
        }
        shape_index ix = {m->nodes, first_add, next_add};
        ok = format_list(&ix, &o, 0, 1, n, 0);
    }
    minima_free(last_add);
    minima_free(first_add);
    minima_free(next_add);
    if (ok) return;
    /* Not a chain of layers and res blocks: every node with its inputs,
     * "token@input" or "add@a+b", which the parser names and refuses. */
    o.used = start;
    if (start < size) buf[start] = '\0';
    for (int i = 1; i < n; i++) {
        const minima_node *nd = &m->nodes[i];
        if (i > 1) emit(&o, ",");
        emit_token(&o, nd);
        if (nd->n_inputs == 2) emit(&o, "@%d+%d", nd->inputs[0], nd->inputs[1]);
        else emit(&o, "@%d", nd->inputs[0]);
    }
}
