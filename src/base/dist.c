/* dist.c — data parallelism across MPI ranks (minima/dist.h,
 * docs/distributed.md). Without MINIMA_HAVE_MPI every function is the
 * single-process case. */
#include "minima/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/interrupt_impl.h"
#include "minima/alloc.h"

#ifdef MINIMA_HAVE_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1, dist_started = 0;

int minima_dist_built(void)
{
#ifdef MINIMA_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int minima_dist_rank(void) { return dist_rank; }
int minima_dist_size(void) { return dist_size; }
int minima_dist_active(void) { return dist_size > 1; }
int minima_dist_writer(void) { return dist_rank == 0; }

void minima_dist_block_of(int r, size_t n, size_t *lo, size_t *hi)
{
    /* floor(r n / P) without overflow for any n that fits in memory. */
    size_t P = (size_t)dist_size, q = n / P, rem = n % P;
    *lo = q * (size_t)r + rem * (size_t)r / P;
    *hi = q * (size_t)(r + 1) + rem * (size_t)(r + 1) / P;
}

void minima_dist_block(size_t n, size_t *lo, size_t *hi) { minima_dist_block_of(dist_rank, n, lo, hi); }

#ifdef MINIMA_HAVE_MPI

/* Launched by mpirun (Open MPI), mpiexec.hydra (MPICH) or a PMI/PMIx
 * launcher such as srun. */
static int launched_by_mpi(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                 "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

minima_status minima_dist_init(int *argc, char ***argv, int force)
{
    if (dist_started || (!force && !launched_by_mpi())) return MINIMA_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    /* FUNNELED: the engine's element-wise threads never call MPI; only the
     * thread that called minima_dist_init does. */
    int provided = 0;
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        MINIMA_FAIL(MINIMA_EFAILED, "MPI did not start (MPI_Init_thread failed)");
    dist_started = !inited;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    minima_interrupt_set_shared(dist_size > 1);
    return MINIMA_OK;
}

void minima_dist_finalize(void)
{
    if (!dist_started) return;
    MPI_Finalize();
    dist_started = 0;
}

void minima_dist_abort(int code)
{
    if (dist_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* The sum buffer: the values and one more slot for this rank's interrupt
 * request, grown as needed and kept (products reuse it). */
static double *sum_buf;
static size_t sum_cap;

minima_status minima_dist_sum(double *x, size_t n)
{
    if (dist_size <= 1) return MINIMA_OK;
    if (n + 1 > sum_cap) {
        double *b = minima_alloc(n + 1, sizeof(double));
        if (!b) minima_dist_abort(1);   /* cannot agree without the buffer */
        minima_free(sum_buf);
        sum_buf = b;
        sum_cap = n + 1;
    }
    if (n) memcpy(sum_buf, x, n * sizeof(double));
    sum_buf[n] = minima_interrupt_requested() ? 1.0 : 0.0;
    /* Counts are ints: reduce in pieces of at most INT_MAX doubles (each
     * piece still one collective over the same ranks). */
    for (size_t at = 0; at < n + 1;) {
        size_t len = n + 1 - at < (size_t)INT_MAX ? n + 1 - at : (size_t)INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, sum_buf + at, (int)len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        at += len;
    }
    if (n) memcpy(x, sum_buf, n * sizeof(double));
    if (sum_buf[n] > 0) {
        minima_interrupt_set_agreed();
        MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
    }
    return MINIMA_OK;
}

minima_status minima_dist_agree(minima_status local)
{
    if (dist_size <= 1) return local;
    int mine = local != MINIMA_OK ? dist_rank : dist_size, first = dist_size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == dist_size) return MINIMA_OK;
    struct { int status; char message[1000]; } m;
    memset(&m, 0, sizeof m);
    if (dist_rank == first) {
        m.status = (int)local;
        snprintf(m.message, sizeof m.message, "%s", minima_last_error());
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    m.message[sizeof m.message - 1] = '\0';
    if (m.status == MINIMA_EINTERRUPTED) minima_interrupt_set_agreed();
    if (first == 0) return minima_error((minima_status)m.status, "%s", m.message);
    return minima_error((minima_status)m.status, "rank %d: %s", first, m.message);
}

minima_status minima_dist_gather_rows(double *x, size_t first, size_t n, size_t row_len,
                                      size_t N)
{
    if (dist_size <= 1 || n == 0 || row_len == 0) return MINIMA_OK;
    if (row_len > (size_t)INT_MAX || n > (size_t)INT_MAX)
        MINIMA_FAIL(MINIMA_ERANGE, "gathering %zu rows of %zu values across ranks: too many "
                    "for one MPI message", n, row_len);
    int *counts = minima_alloc((size_t)dist_size, sizeof(int));
    int *displs = minima_alloc((size_t)dist_size, sizeof(int));
    MPI_Datatype row;
    if (!counts || !displs) {
        minima_free(counts);
        minima_free(displs);
        minima_dist_abort(1);
        return MINIMA_ENOMEM;
    }
    for (int r = 0; r < dist_size; r++) {
        size_t lo, hi;
        minima_dist_block_of(r, N, &lo, &hi);
        if (lo < first) lo = first;
        if (hi > first + n) hi = first + n;
        counts[r] = hi > lo ? (int)(hi - lo) : 0;
        displs[r] = hi > lo ? (int)(lo - first) : 0;
    }
    MPI_Type_contiguous((int)row_len, MPI_DOUBLE, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, displs, row, MPI_COMM_WORLD);
    MPI_Type_free(&row);
    minima_free(counts);
    minima_free(displs);
    return MINIMA_OK;
}

int minima_dist_min_int(int v)
{
    if (dist_size <= 1) return v;
    int out = v;
    MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

#else /* one process */

minima_status minima_dist_init(int *argc, char ***argv, int force)
{
    (void)argc;
    (void)argv;
    if (force) MINIMA_FAIL(MINIMA_EUNSUPPORTED, "this minima was built without MPI "
                           "(install libopenmpi-dev and rebuild)");
    return MINIMA_OK;
}

void minima_dist_finalize(void) {}
void minima_dist_abort(int code) { exit(code); }
minima_status minima_dist_sum(double *x, size_t n) { (void)x; (void)n; return MINIMA_OK; }
minima_status minima_dist_agree(minima_status local) { return local; }

minima_status minima_dist_gather_rows(double *x, size_t first, size_t n, size_t row_len,
                                      size_t N)
{
    (void)x; (void)first; (void)n; (void)row_len; (void)N;
    return MINIMA_OK;
}

int minima_dist_min_int(int v) { return v; }

#endif
