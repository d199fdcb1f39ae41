/* main.c — the `minima` program: dispatch to one subcommand per file. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli_blas.h"
#include "cli_common.h"
#include "commands.h"
#include "minima/dist.h"

static void print_usage(FILE *f)
{
    fprintf(f,
        "usage: minima <command> [options]   (minima <command> --help for its options)\n\n"
        "minima measures the geometry of rectified networks' minima: exact Hessian\n"
        "spectra and traces in float64, the sharpness measures of the literature, and\n"
        "the function-preserving reparametrizations of Dinh et al. (2017) that move them.\n\n"
        "commands:\n");
    for (const struct minima_command *c = minima_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
}

/* Standard output carries the results (--json, --help): a write that failed
 * earlier, or one still buffered that fails now (a full disk, a closed pipe),
 * must not end in exit 0. Flushes and closes stdout; on failure prints what
 * was lost and returns 1 (or the command's own failure code, kept). */
static int finish_stdout(const char *cmd, int rc)
{
    errno = 0;
    int failed = fflush(stdout) != 0;
    int err = errno;
    if (!failed && ferror(stdout)) failed = 1;          /* an earlier write failed */
    errno = 0;
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (!failed) return rc;
    fprintf(stderr, "minima%s%s: writing the result to standard output failed: %s\n",
            cmd ? " " : "", cmd ? cmd : "", err ? strerror(err) : "an earlier write failed");
    return rc == EXIT_OK ? EXIT_COMPUTE : rc;
}

int main(int argc, char **argv)
{
    cli_tune_blas(argv);
    setlocale(LC_ALL, "C");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return finish_stdout(NULL, argc < 2 ? EXIT_USAGE : EXIT_OK);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("minima 0.1.0 (OpenBLAS kernels: %s)\n", cli_blas_corename());
        return finish_stdout(NULL, EXIT_OK);
    }
    for (const struct minima_command *c = minima_commands; c->name; c++) {
        if (!strcmp(argv[1], c->name)) {
            cli_install_handlers();
            /* Under mpirun every rank runs the command on its block of the
             * examples (docs/distributed.md); rank 0 alone prints. */
            if (minima_dist_init(&argc, &argv, 0) != MINIMA_OK) {
                fprintf(stderr, "minima %s: %s\n", c->name, minima_last_error());
                return EXIT_COMPUTE;
            }
            if (minima_dist_active()) cli_share_cores_among_ranks();
            if (!minima_dist_writer() && (!freopen("/dev/null", "w", stdout) ||
                                          !freopen("/dev/null", "w", stderr)))
                minima_dist_abort(EXIT_COMPUTE);
            int rc = finish_stdout(c->name, c->run(argc - 1, argv + 1));
            minima_dist_finalize();
            return rc;
        }
    }
    fprintf(stderr, "minima: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
