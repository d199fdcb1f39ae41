/* cli_blas.h — BLAS kernel selection for the program (see cli_blas.c). */
#ifndef MINIMA_CLI_BLAS_H
#define MINIMA_CLI_BLAS_H
/* Re-executes the program with OPENBLAS_CORETYPE set if OpenBLAS picked
 * kernels older than the processor supports; returns otherwise. */
void cli_tune_blas(char **argv);
/* The kernel family OpenBLAS is using. */
const char *cli_blas_corename(void);
#endif
