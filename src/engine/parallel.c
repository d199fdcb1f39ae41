/* parallel.c — a small pool of POSIX threads for the engine's element-wise
 * passes (engine/parallel.h, docs/threads.md).
 *
 * One pass at a time: the caller who takes `owner` publishes the pass
 * (function, context, parts) under `mu`, bumps the generation and wakes the
 * workers; worker k runs part k + 1, the caller part 0; the last to finish
 * signals `done`. Workers wait on `wake` between passes. */
#include "engine/parallel.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

int openblas_get_num_threads(void);

static struct {
    pthread_mutex_t owner;        /* held by the thread running a pass */
    pthread_mutex_t mu;           /* guards the rest */
    pthread_cond_t wake, done;
    pthread_t tid[MINIMA_PAR_MAX];
    int started;                  /* workers running */
    int stop;                     /* workers should exit */
    unsigned long gen;            /* passes published */
    minima_par_fn fn;
    void *ctx;
    size_t n, align;
    int parts, pending;
    int live;                     /* networks alive (retain - release) */
    int atexit_set;
    int threads;                  /* minima_par_configure: 0 = OpenBLAS's count */
    size_t grain;                 /* 0 = MINIMA_PAR_GRAIN */
} pool = {.owner = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

int minima_par_threads(void)
{
    int t = __atomic_load_n(&pool.threads, __ATOMIC_RELAXED);
    if (t <= 0) t = openblas_get_num_threads();
    if (t < 1) t = 1;
    if (t > MINIMA_PAR_MAX) t = MINIMA_PAR_MAX;
    return t;
}

/* Indices of part p of `parts` over [0, n), boundaries on multiples of align. */
static size_t part_start(size_t n, size_t align, int parts, int p)
{
    if (p >= parts) return n;
    size_t units = (n + align - 1) / align;
    size_t at = units / (size_t)parts * (size_t)p + (units % (size_t)parts) * (size_t)p / (size_t)parts;
    at *= align;
    return at < n ? at : n;
}

typedef struct { int index; unsigned long gen; } worker_arg;

static void *worker(void *arg)
{
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    unsigned long seen = a.gen;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen && !pool.stop) pthread_cond_wait(&pool.wake, &pool.mu);
        if (pool.stop) break;
        seen = pool.gen;
        int p = a.index + 1;
        if (p >= pool.parts) continue;
        minima_par_fn fn = pool.fn;
        void *ctx = pool.ctx;
        size_t b = part_start(pool.n, pool.align, pool.parts, p);
        size_t e = part_start(pool.n, pool.align, pool.parts, p + 1);
        pthread_mutex_unlock(&pool.mu);
        if (b < e) fn(ctx, b, e);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* Join every worker. Takes `owner`, so it waits for a pass in flight. */
static void shutdown_pool(void)
{
    pthread_mutex_lock(&pool.owner);
    pthread_mutex_lock(&pool.mu);
    int n = pool.started;
    pool.stop = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int k = 0; k < n; k++) pthread_join(pool.tid[k], NULL);
    pthread_mutex_lock(&pool.mu);
    pool.started = 0;
    pool.stop = 0;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.owner);
}

static void at_exit(void) { shutdown_pool(); }

/* Start workers until `want` run (under mu). Returns how many run. Workers
 * block every signal: Ctrl-C is the caller's to see. */
static int start_workers(int want)
{
    if (pool.started >= want) return pool.started;
    if (!pool.atexit_set) pool.atexit_set = atexit(at_exit) == 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.started < want) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->index = pool.started;
        a->gen = pool.gen;
        if (pthread_create(&pool.tid[pool.started], NULL, worker, a) != 0) {
            free(a);
            break;
        }
        pool.started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.started;
}

void minima_par_for(size_t n, size_t cost, size_t align, minima_par_fn fn, void *ctx)
{
    if (n == 0) return;
    if (align == 0) align = 1;
    int parts = minima_par_threads();
    size_t work = n * (cost ? cost : 1);
    size_t grain = __atomic_load_n(&pool.grain, __ATOMIC_RELAXED);
    if (grain == 0) grain = MINIMA_PAR_GRAIN;
    if ((size_t)parts > work / grain) parts = (int)(work / grain);
    size_t units = (n + align - 1) / align;
    if ((size_t)parts > units) parts = (int)units;
    if (parts <= 1 || pthread_mutex_trylock(&pool.owner) != 0) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    int got = start_workers(parts - 1);
    if (got + 1 < parts) parts = got + 1;
    if (parts <= 1) {
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_unlock(&pool.owner);
        fn(ctx, 0, n);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.align = align;
    pool.parts = parts;
    pool.pending = parts - 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    size_t e = part_start(n, align, parts, 1);
    if (e > 0) fn(ctx, 0, e);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.owner);
}

void minima_par_retain(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.live++;
    pthread_mutex_unlock(&pool.mu);
}

void minima_par_release(void)
{
    pthread_mutex_lock(&pool.mu);
    int last = pool.live > 0 && --pool.live == 0 && pool.started > 0;
    pthread_mutex_unlock(&pool.mu);
    if (last) shutdown_pool();
}

void minima_par_configure(int threads, size_t grain)
{
    __atomic_store_n(&pool.threads, threads > 0 ? threads : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.grain, grain, __ATOMIC_RELAXED);
}

int minima_par_workers(void)
{
    pthread_mutex_lock(&pool.mu);
    int n = pool.started;
    pthread_mutex_unlock(&pool.mu);
    return n;
}
