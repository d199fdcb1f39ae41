/* cli_output.h — the files a command will write, checked before it computes.
 *
 * A command lists the files it reads and the files it will write, then calls
 * cli_files_check once, after parsing and before any long computation:
 *
 *     cli_files io = {0};
 *     cli_files_input(&io, "--model", na.model_path);
 *     cli_files_input(&io, "--data", na.source);
 *     cli_files_output(&io, "--plot", plot, CLI_OUT_PLOT);
 *     if ((rc = cli_files_check("spectrum", &io)) >= 0) return rc;
 *
 * So a typo in an output path costs nothing, and no output ever replaces an
 * input. Paths that are not files (synthetic:blobs, fashion-mnist) and NULL
 * paths are ignored. The checks cannot see the future (a disk that fills
 * up, a directory removed meanwhile): the writers stay atomic and the
 * commands still print what they computed when a write fails. */
#ifndef MINIMA_CLI_OUTPUT_H
#define MINIMA_CLI_OUTPUT_H

typedef enum {
    CLI_OUT_FILE,   /* a file: its directory exists and is writable; it is new or a regular file */
    CLI_OUT_PLOT,   /* a figure: the same, and a .png, .svg or .pdf name */
    CLI_OUT_DIR     /* a directory files go into: it exists and is writable */
} cli_out_kind;

#define CLI_FILES_MAX 12

typedef struct {
    struct { const char *option, *path; } in[CLI_FILES_MAX];
    struct { const char *option, *path; cli_out_kind kind; } out[CLI_FILES_MAX];
    int n_in, n_out;
} cli_files;

/* Records a file the command reads (given by `option`, e.g. "--data"). */
void cli_files_input(cli_files *io, const char *option, const char *path);
/* Records a file or directory the command writes. */
void cli_files_output(cli_files *io, const char *option, const char *path, cli_out_kind kind);

/* Checks every output: the kind's rules above, that it is not the same file
 * (device and inode) as any input, and that no two outputs are the same
 * file. Returns -1 when all is well, else prints a message naming the
 * options and paths and returns EXIT_USAGE. */
int cli_files_check(const char *cmd, const cli_files *io);

/* The name partial results of `path` go to when a run is interrupted:
 * "grid.csv" -> "grid.partial.csv", "grid" -> "grid.partial". A new string
 * (free() it), NULL when out of memory. */
char *cli_partial_path(const char *path);

#endif
