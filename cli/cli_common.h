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

/* Exit codes (README.md): 0 success, 1 computation failed, 2 bad usage
 * or input. */
enum { EXIT_OK = 0, EXIT_COMPUTE = 1, EXIT_USAGE = 2 };

/* Print "minima <cmd>: <message>" for a failed library call, with the
 * library's recorded message, and return the exit code for the status. */
int cli_fail(const char *cmd, minima_status status);
/* Print "minima <cmd>: <printf message>" and return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing. A table of options; cli_parse fills the pointed-to
 * values and rejects unknown options, missing values and bad numbers with
 * a message naming the option. `--help` prints `usage` and the table.
 *
 * Every numeric option (INT, SIZE, DOUBLE, U64) carries its valid range,
 * checked when it is parsed: a value outside it is a usage error (exit 2)
 * naming the option, the range and the text found. A numeric option
 * without a range is a programming error that cli_parse reports on every
 * call. Integers are plain decimal digits (a leading '-' only for INT):
 * no spaces, no '+', no hex, nothing beyond the target type. Numbers are
 * finite decimals (no nan/inf, no leading spaces, nothing that overflows
 * or underflows a double). */
typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_SIZE, OPT_DOUBLE, OPT_U64 } cli_opt_kind;
enum {
    CLI_RANGE_SET = 1,       /* a range was given */
    CLI_RANGE_LO_OPEN = 2,   /* lo itself is excluded */
    CLI_RANGE_HI_OPEN = 4,   /* hi itself is excluded */
    CLI_RANGE_ANY = 8        /* every value of the type (seeds) */
};
typedef struct {
    double lo, hi;
    int flags;
} cli_range;
/* [lo, hi], (lo, hi), (lo, hi], [lo, hi), and every value of the type. */
#define CLI_IN(lo, hi) {(lo), (hi), CLI_RANGE_SET}
#define CLI_OPEN(lo, hi) {(lo), (hi), CLI_RANGE_SET | CLI_RANGE_LO_OPEN | CLI_RANGE_HI_OPEN}
#define CLI_LO_OPEN(lo, hi) {(lo), (hi), CLI_RANGE_SET | CLI_RANGE_LO_OPEN}
#define CLI_HI_OPEN(lo, hi) {(lo), (hi), CLI_RANGE_SET | CLI_RANGE_HI_OPEN}
#define CLI_ANY {0, 0, CLI_RANGE_SET | CLI_RANGE_ANY}
/* Flags and strings leave `range` out of their table entries (zero). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
typedef struct {
    const char *name;        /* "--epochs" */
    cli_opt_kind kind;
    void *value;             /* int* for FLAG/INT, const char** STRING, size_t* SIZE, double*, uint64_t* */
    const char *help;        /* one line; the default is printed from *value */
    const char *metavar;     /* "N", "FILE", ... (NULL: derived from kind) */
    cli_range range;         /* numeric kinds: the values accepted (CLI_IN(...), ...) */
} cli_option;

/* Parses argv[1..argc-1]. Positional arguments (not starting with "--")
 * are collected into positional[0..*n_positional-1] up to max_positional.
 * Returns -1 to continue, or an exit code to return now (0 after --help). */
int cli_parse(const char *cmd, const char *usage, const cli_option *opts, int argc, char **argv,
              const char **positional, int max_positional, int *n_positional);

/* Whether x lies in r (any finite x when r is CLI_ANY). */
int cli_range_contains(cli_range r, double x);
/* Writes r as "[1, 10]", "(0, 1)", ... into buf. */
void cli_range_format(char *buf, size_t size, cli_range r);

/* Parses the list `s` given to option `opt` ("a,b,c"): every entry a
 * finite number in r. Empty lists, empty entries, nan/inf and entries out
 * of r are rejected with a message "minima CMD: option OPT: ..." naming the
 * entry. Returns the count (>= 1) with a new array in *out (free() it), or
 * -1 after printing the message (the caller exits with EXIT_USAGE). */
int cli_parse_list(const char *cmd, const char *opt, const char *s, cli_range r, double **out);

/* Parses "a,b,c" (finite numbers) into a new array (free() it); returns the
 * count, or -1 if the list or an entry is empty or an entry is not a finite
 * number. Prints nothing; prefer cli_parse_list, which checks a range and
 * says what is wrong. */
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
