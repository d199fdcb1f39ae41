/* graph_symmetry_impl.h — what the rescaling group's two Newton solvers
 * share (graph_symmetry.c over every class, graph_stage.c over stages). */
#ifndef MINIMA_GRAPH_SYMMETRY_IMPL_H
#define MINIMA_GRAPH_SYMMETRY_IMPL_H

#include <stddef.h>

/* In-place Cholesky of the n x n matrix a (row-major, lower triangle
 * used), then solves a x = b. Returns 0 when a is not numerically positive
 * definite (x is then undefined). */
int gsym_cholesky_solve(double *a, size_t n, const double *b, double *x);

#endif
