/* cli_common.h — what every subcommand shares: option parsing, exit codes,
 * messages, the progress bar, Ctrl-C, and small JSON output helpers.
 *
 * Subcommands are thin clients of the library: each cli/cmd_<name>.c
 * defines `int minima_cmd_<name>(int argc, char **argv)` (argv[0] is the
 * subcommand name) and `const char minima_cmd_<name>_summary[]`. Human text
 * and progress go to stderr, --json results to stdout. */
#ifndef MINIMA_CLI_COMMON_H
#define MINIMA_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minima/status.h"

/* Exit codes (DESIGN.md). */
enum { EXIT_OK = 0, EXIT_COMPUTE = 1, EXIT_USAGE = 2 };

/* Print "minima <cmd>: <message>" for a failed library call, with the
 * library's recorded message, and return the exit code for the status. */
int cli_fail(const char *cmd, minima_status status);
/* Print "minima <cmd>: <printf message>" and return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing. A table of options; cli_parse fills the pointed-to
 * values and rejects unknown options, missing values and bad numbers with
 * a message naming the option. `--help` prints `usage` and the table. */
typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_SIZE, OPT_DOUBLE, OPT_U64 } cli_opt_kind;
typedef struct {
    const char *name;        /* "--epochs" */
    cli_opt_kind kind;
    void *value;             /* int* for FLAG/INT, const char** STRING, size_t* SIZE, double*, uint64_t* */
    const char *help;        /* one line; the default is printed from *value */
    const char *metavar;     /* "N", "FILE", ... (NULL: derived from kind) */
} cli_option;

/* Parses argv[1..argc-1]. Positional arguments (not starting with "--")
 * are collected into positional[0..*n_positional-1] up to max_positional.
 * Returns -1 to continue, or an exit code to return now (0 after --help). */
int cli_parse(const char *cmd, const char *usage, const cli_option *opts, int argc, char **argv,
              const char **positional, int max_positional, int *n_positional);

/* Parses "a,b,c" (finite numbers) into a new array (free() it); returns the
 * count, or -1 if an entry is not a finite number. */
int cli_parse_doubles(const char *s, double **out);

/* Install the SIGINT handler (minima_interrupt) and, when stderr is a
 * terminal, the progress bar. */
void cli_install_handlers(void);

/* Seconds since an arbitrary origin (monotonic). */
double cli_now(void);

/* JSON helpers writing to a FILE: numbers as the shortest decimal that reads
 * back exactly (minima/format.h; null for NaN/Inf),
 * strings escaped. */
void json_number(FILE *f, double x);
void json_string(FILE *f, const char *s);

#endif
