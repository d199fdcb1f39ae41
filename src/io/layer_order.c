/* layer_order.c — the orders in which a state dict's layers can run
 * (layer_order_impl.h). */
#include "io/layer_order_impl.h"

#include <string.h>

#include "minima/alloc.h"
#include "minima/safetensors.h"

size_t minima_layer_index_digits(const char *name)
{
    size_t n = strlen(name), d = 0;
    while (d < n && name[n - 1 - d] >= '0' && name[n - 1 - d] <= '9') d++;
    return d;
}

typedef struct {
    const minima_layer_shape *layers;
    int n;
    uint64_t first_in;
    const int *by_name;        /* (n) layer indices in natural order of names */
    const int *pred;           /* (n) the layer numbered just before, or -1 */
    char *used;                /* (n) */
    int *perm;                 /* (n) the partial order */
    int *orders;
    int max_orders;
    long budget;
    minima_layer_order_result *res;
} search_ctx;

static void search(search_ctx *c, int depth, uint64_t prev_out)
{
    if (c->res->n_found >= c->max_orders) { c->res->truncated = 1; return; }
    if (--c->budget < 0) { c->res->truncated = 1; return; }
    if (depth == c->n) {
        memcpy(c->orders + (size_t)c->res->n_found * (size_t)c->n, c->perm, (size_t)c->n * sizeof *c->perm);
        c->res->n_found++;
        return;
    }
    for (int i = 0; i < c->n; i++) {
        if (--c->budget < 0) { c->res->truncated = 1; return; }
        int l = c->by_name[i];
        if (c->used[l] || (c->pred[l] >= 0 && !c->used[c->pred[l]])) continue;
        uint64_t want = depth ? prev_out : c->first_in;
        if (want && c->layers[l].in != want) continue;
        c->used[l] = 1;
        c->perm[depth] = l;
        search(c, depth + 1, c->layers[l].out);
        c->used[l] = 0;
        if (c->budget <= 0) c->res->truncated = 1;
        if (c->res->n_found >= c->max_orders || c->budget <= 0) return;
    }
}

minima_status minima_layer_orders(const minima_layer_shape *layers, int n, uint64_t first_in,
                                  int max_orders, long budget, int *orders,
                                  minima_layer_order_result *res)
{
    if (!layers || n < 1 || max_orders < 1 || !orders || !res)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_layer_orders: bad argument");
    memset(res, 0, sizeof *res);
    int *by_name = minima_alloc((size_t)n, sizeof *by_name);
    int *pred = minima_alloc((size_t)n, sizeof *pred);
    int *perm = minima_alloc((size_t)n, sizeof *perm);
    char *used = minima_calloc((size_t)n, 1);
    if (!by_name || !pred || !perm || !used) {
        minima_free(by_name);
        minima_free(pred);
        minima_free(perm);
        minima_free(used);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory ordering %d layers", n);
    }
    for (int i = 0; i < n; i++) {          /* insertion sort: n <= 1000, no shared state */
        int j = i;
        while (j > 0 && minima_natural_compare(layers[by_name[j - 1]].name, layers[i].name) > 0) {
            by_name[j] = by_name[j - 1];
            j--;
        }
        by_name[j] = i;
    }
    /* pred: the nearest earlier member (in natural order) of the same family */
    int families = 0, in_family = 0;
    for (int i = 0; i < n; i++) {
        int l = by_name[i];
        pred[l] = -1;
        const char *a = layers[l].name;
        size_t da = minima_layer_index_digits(a), pa = strlen(a) - da;
        if (!da) continue;
        in_family++;
        for (int j = i - 1; j >= 0; j--) {
            const char *b = layers[by_name[j]].name;
            size_t db = minima_layer_index_digits(b), pb = strlen(b) - db;
            if (db && pb == pa && !memcmp(a, b, pa)) { pred[l] = by_name[j]; break; }
        }
        if (pred[l] < 0) families++;
    }
    res->index_only = families == 1 && in_family == n;
    /* Layers are edges from width `in` to width `out`, and an order in
     * which the shapes chain is a path through every edge once (an
     * Eulerian trail). One exists only if every width is entered as often
     * as it is left, except that the first width may be left once more and
     * the last entered once more; the first layer then starts at that
     * width. Checking this first keeps the search from wandering through
     * orders that cannot be completed. */
    uint64_t start = 0;
    int n_start = 0, feasible = 1;
    for (int i = 0; i < n && feasible; i++) {
        for (int side = 0; side < 2; side++) {
            uint64_t w = side ? layers[i].out : layers[i].in;
            long surplus = 0;
            int first = 1;                 /* count each width once: at its first mention */
            for (int j = 0; j < n; j++) {
                surplus += (layers[j].in == w) - (layers[j].out == w);
                if ((j < i && (layers[j].in == w || layers[j].out == w)) ||
                    (j == i && side && layers[j].in == w))
                    first = 0;
            }
            if (!first) continue;
            if (surplus == 1) { start = w; n_start++; }
            else if (surplus < -1 || surplus > 1) feasible = 0;
        }
    }
    if (n_start > 1) feasible = 0;
    if (feasible && start) {
        if (first_in && first_in != start) feasible = 0;
        first_in = start;
    }
    search_ctx c = {layers, n, first_in, by_name, pred, used, perm, orders, max_orders, budget, res};
    if (feasible) search(&c, 0, 0);
    minima_free(by_name);
    minima_free(pred);
    minima_free(perm);
    minima_free(used);
    return MINIMA_OK;
}
