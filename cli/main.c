/* main.c — the `minima` program: dispatch to one subcommand per file. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli_blas.h"
#include "cli_common.h"
#include "commands.h"

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

int main(int argc, char **argv)
{
    cli_tune_blas(argv);
    setlocale(LC_ALL, "C");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("minima 0.1.0 (OpenBLAS kernels: %s)\n", cli_blas_corename());
        return EXIT_OK;
    }
    for (const struct minima_command *c = minima_commands; c->name; c++) {
        if (!strcmp(argv[1], c->name)) {
            cli_install_handlers();
            return c->run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "minima: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
