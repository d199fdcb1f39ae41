/* cli_output.c — output paths checked before the work (see cli_output.h). */
#include "cli_output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

void cli_files_input(cli_files *io, const char *option, const char *path)
{
    if (!path || io->n_in >= CLI_FILES_MAX) return;
    io->in[io->n_in].option = option;
    io->in[io->n_in].path = path;
    io->n_in++;
}

void cli_files_output(cli_files *io, const char *option, const char *path, cli_out_kind kind)
{
    if (!path || io->n_out >= CLI_FILES_MAX) return;
    io->out[io->n_out].option = option;
    io->out[io->n_out].path = path;
    io->out[io->n_out].kind = kind;
    io->n_out++;
}

static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), k = strlen(ext);
    return n > k && !strcasecmp(path + n - k, ext);
}

/* Checks that `dir` is an existing, writable directory; prints why not. */
static int check_dir(const char *cmd, const char *option, const char *path, const char *dir,
                     int is_parent)
{
    struct stat sb;
    const char *what = is_parent ? "its directory" : "the directory";
    if (stat(dir, &sb) != 0)
        return cli_usage_error(cmd, "option %s '%s': %s '%s' does not exist (%s); nothing was "
                               "computed", option, path, what, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_usage_error(cmd, "option %s '%s': expected %s, found '%s', which is not a "
                               "directory; nothing was computed", option, path,
                               is_parent ? "a path in a directory" : "a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return cli_usage_error(cmd, "option %s '%s': %s '%s' is not writable (%s); nothing was "
                               "computed", option, path, what, dir, strerror(errno));
    return -1;
}

static int check_one(const char *cmd, const char *option, const char *path, cli_out_kind kind)
{
    if (!path[0])
        return cli_usage_error(cmd, "option %s: expected a file name, found an empty string", option);
    if (kind == CLI_OUT_DIR) return check_dir(cmd, option, path, path, 0);
    if (kind == CLI_OUT_PLOT && !has_extension(path, ".png") && !has_extension(path, ".svg") &&
        !has_extension(path, ".pdf"))
        return cli_usage_error(cmd, "option %s '%s': expected a .png, .svg or .pdf file name "
                               "(the extension picks the format); nothing was computed", option, path);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_usage_error(cmd, "option %s '%s': expected a file name, found a directory; "
                               "nothing was computed", option, path);
    /* Files are written beside the target and renamed over it: that would
     * replace a device, FIFO or socket instead of writing into it. */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return cli_usage_error(cmd, "option %s '%s': expected a regular file, found a device, "
                               "FIFO or socket (minima writes a file beside it and renames it "
                               "over the name, which would replace it); nothing was computed",
                               option, path);
    /* The directory the file (and its temporary sibling) will be written in. */
    const char *slash = strrchr(path, '/');
    if (!slash) return check_dir(cmd, option, path, ".", 1);
    if (slash == path) return check_dir(cmd, option, path, "/", 1);
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return cli_usage_error(cmd, "out of memory");
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = check_dir(cmd, option, path, dir, 1);
    free(dir);
    return rc;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int cli_files_check(const char *cmd, const cli_files *io)
{
    for (int i = 0; i < io->n_out; i++) {
        const char *opt = io->out[i].option, *path = io->out[i].path;
        int rc = check_one(cmd, opt, path, io->out[i].kind);
        if (rc >= 0) return rc;
        struct stat so;
        if (stat(path, &so) != 0) continue;   /* a new file: it cannot be an input, nor an earlier output */
        for (int j = 0; j < io->n_in; j++) {
            struct stat si;
            if (stat(io->in[j].path, &si) != 0 || !same_file(&so, &si)) continue;
            if (!strcmp(opt, io->in[j].option) ||
                (!strcmp(opt, "--out") && !strcmp(io->in[j].option, "--model")))
                return cli_usage_error(cmd, "option %s '%s' is the same file as %s '%s': minima "
                                       "never rewrites an input in place (a failed or mistaken "
                                       "run would lose the original); write to another file "
                                       "and rename it yourself", opt, path, io->in[j].option,
                                       io->in[j].path);
            return cli_usage_error(cmd, "option %s '%s' is the same file as the input %s '%s': "
                                   "writing it would destroy the input; choose another file "
                                   "for %s", opt, path, io->in[j].option, io->in[j].path, opt);
        }
        for (int j = 0; j < i; j++) {
            struct stat sj;
            if (stat(io->out[j].path, &sj) != 0 || !same_file(&so, &sj)) continue;
            return cli_usage_error(cmd, "options %s '%s' and %s '%s' name the same file: one "
                                   "would overwrite the other; give them different names",
                                   io->out[j].option, io->out[j].path, opt, path);
        }
    }
    /* Two new outputs under the same name. */
    for (int i = 0; i < io->n_out; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(io->out[i].path, io->out[j].path))
                return cli_usage_error(cmd, "options %s and %s both name '%s': one would "
                                       "overwrite the other; give them different names",
                                       io->out[j].option, io->out[i].option, io->out[i].path);
    return -1;
}

char *cli_partial_path(const char *path)
{
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t stem = dot && dot > (slash ? slash + 1 : path) ? (size_t)(dot - path) : n;
    char *out = malloc(n + sizeof ".partial");
    if (!out) return NULL;
    memcpy(out, path, stem);
    memcpy(out + stem, ".partial", 8);
    memcpy(out + stem + 8, path + stem, n - stem + 1);
    return out;
}
