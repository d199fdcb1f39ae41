/* cli_blas.h — BLAS kernel selection for the program (see cli_blas.c). */
#ifndef MINIMA_CLI_BLAS_H
#define MINIMA_CLI_BLAS_H
/* Re-executes the program with OPENBLAS_CORETYPE set if OpenBLAS picked
 * kernels older than the processor supports; returns otherwise. */
void cli_tune_blas(char **argv);
/* The kernel family OpenBLAS is using. */
const char *cli_blas_corename(void);
/* Under mpirun, unless the user set OPENBLAS_NUM_THREADS (or OMP_/GOTO_):
 * give each of the ranks on this machine its share of the cores as BLAS
 * threads, so that P ranks do not start P x cores threads. Returns the
 * thread count set, or 0 when nothing was changed. */
int cli_share_cores_among_ranks(void);

#endif
