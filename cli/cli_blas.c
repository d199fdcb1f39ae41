/* cli_blas.c — make OpenBLAS use the kernels this processor can run.
 *
 * Debian's OpenBLAS 0.3.21 picks its kernels at load time and misdetects
 * some processors as old ones, running GEMM several times below the chip's
 * rate (docs/engine.md, Performance). OpenBLAS reads OPENBLAS_CORETYPE only
 * when it is loaded, before main() runs, so the fix is to re-execute the program once
 * with the variable set. A value already in the environment is respected,
 * and nothing is changed when the detected core is already a modern one. */
#include "cli_blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

static int is_old_core(const char *name)
{
    static const char *old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                "Atom", "Barcelona", "Bobcat", "Bulldozer", "Piledriver",
                                "Steamroller", "Excavator", "Katmai", "Coppermine",
                                "Northwood", "Banias", "Opteron", "Sandybridge", NULL};
    for (int i = 0; old[i]; i++)
        if (strcasecmp(name, old[i]) == 0) return 1;
    return 0;
}

void cli_tune_blas(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("MINIMA_BLAS_TUNED")) return;
    const char *core = openblas_get_corename();
    if (!core || !is_old_core(core)) return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("MINIMA_BLAS_TUNED", core, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the detected kernels */
    unsetenv("OPENBLAS_CORETYPE");
}

const char *cli_blas_corename(void) { return openblas_get_corename(); }

void openblas_set_num_threads(int n);

int cli_share_cores_among_ranks(void)
{
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("GOTO_NUM_THREADS") || getenv("OMP_NUM_THREADS"))
        return 0;
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!local) local = getenv("MPI_LOCALNRANKS");
    long ranks = local ? strtol(local, NULL, 10) : 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (ranks <= 1 || cores < 1) return 0;
    int threads = cores / ranks > 1 ? (int)(cores / ranks) : 1;
    openblas_set_num_threads(threads);
    return threads;
}
