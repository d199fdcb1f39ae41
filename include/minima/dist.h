/* minima/dist.h — data parallelism across processes (MPI), docs/distributed.md.
 *
 * Under `mpirun -np P`, every process (rank) runs the same program on the
 * same inputs. Each rank loads the whole data set, and every minima_net
 * computes over one contiguous block of its examples only (the block of
 * minima_dist_block): rank r of P owns rows [floor(r N / P), floor((r+1) N / P)).
 * The net's sums over examples (loss, correct count, gradient, Hessian-,
 * Gauss-Newton- and Jacobian-products) are added across ranks with one
 * MPI_Allreduce each, and divided by the global count, so every rank holds
 * the same result. Vectors (the point, Lanczos bases, random probes) are
 * replicated: every rank draws the same random numbers from the same seed,
 * so the solvers above the engine run unchanged, in lockstep.
 *
 * Every net call is therefore collective: all ranks must make the same
 * calls in the same order (they do, running the same program on the same
 * inputs). The results equal a single process's up to the order in which
 * the per-rank sums are added (relative differences of order 1e-15 per
 * product).
 *
 * Interrupts are agreed: a signal on one rank (minima_interrupt) is seen by
 * minima_interrupted() on every rank at the same collective call, the next
 * reduction, so all ranks leave their loops together.
 *
 * Without MPI (a build without it, or a program not started by mpirun, or a
 * library user who never called minima_dist_init) there is one rank, every
 * function here is a no-op, and the program behaves exactly as a build
 * without MPI. */
#ifndef MINIMA_DIST_H
#define MINIMA_DIST_H

#include <stddef.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nonzero when this library was built with MPI. */
int minima_dist_built(void);

/* Start MPI when the process was launched by mpirun (Open MPI's, MPICH's or
 * a PMI launcher's environment variables say so), or when `force` is set;
 * otherwise do nothing and stay single-process. Call once, first thing in
 * main. MINIMA_EFAILED if MPI was wanted but does not start. */
minima_status minima_dist_init(int *argc, char ***argv, int force);
/* Finish MPI if minima_dist_init started it. */
void minima_dist_finalize(void);
/* Stop every rank now with this exit code (MPI_Abort; exit() without MPI):
 * for a failure that cannot be agreed collectively. */
void minima_dist_abort(int code);

/* This process's rank and the number of ranks (0 and 1 without MPI). */
int minima_dist_rank(void);
int minima_dist_size(void);
/* Nonzero when more than one rank shares the work. */
int minima_dist_active(void);

/* This rank's contiguous block [*lo, *hi) of n examples. */
void minima_dist_block(size_t n, size_t *lo, size_t *hi);
/* The block of another rank r. */
void minima_dist_block_of(int r, size_t n, size_t *lo, size_t *hi);

/* Sum x (n values) over the ranks, in place, one MPI_Allreduce; every rank
 * receives the same sum. It also agrees on interrupts: MINIMA_EINTERRUPTED
 * on every rank when any rank was interrupted (the sum is still complete),
 * after which minima_interrupted() is nonzero everywhere. Collective. */
minima_status minima_dist_sum(double *x, size_t n);

/* Agree on success: every rank passes its own status and all return the
 * same one — MINIMA_OK when every rank succeeded, else the status of the
 * lowest failing rank, whose error message (minima_last_error) becomes
 * every rank's, prefixed by "rank R: " when R is not 0. Collective. */
minima_status minima_dist_agree(minima_status local);

/* Rows [first, first + n) of an array of N rows of row_len doubles that
 * is split across ranks by minima_dist_block(N): each rank has written the
 * rows of its own block into x (x[0] is row `first`); afterwards every
 * rank holds all n rows. Collective. */
minima_status minima_dist_gather_rows(double *x, size_t first, size_t n, size_t row_len,
                                      size_t N);

/* The minimum of an int over the ranks (for flags that must agree). */
int minima_dist_min_int(int v);

/* Only rank 0 writes files: the rest discard what they produced. Nonzero
 * on the rank that writes (always, without MPI). */
int minima_dist_writer(void);

#ifdef __cplusplus
}
#endif

#endif
