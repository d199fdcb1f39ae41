/* cli_common.c — shared command-line plumbing. */
#include "cli_common.h"

#include "minima/format.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *cmd, minima_status status)
{
    const char *msg = minima_last_error();
    fprintf(stderr, "minima %s: %s%s%s\n", cmd, minima_strerror(status), msg[0] ? ": " : "", msg);
    if (status == MINIMA_EINTERRUPTED) return 130;
    return minima_status_is_usage(status) ? EXIT_USAGE : EXIT_COMPUTE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "minima %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'minima %s --help')\n", cmd);
    return EXIT_USAGE;
}

static void print_default(const cli_option *o)
{
    switch (o->kind) {
    case OPT_FLAG: break;
    case OPT_STRING: {
        const char *s = *(const char **)o->value;
        if (s) fprintf(stdout, " (default: %s)", s);
        break;
    }
    case OPT_INT: fprintf(stdout, " (default: %d)", *(int *)o->value); break;
    case OPT_SIZE: fprintf(stdout, " (default: %zu)", *(size_t *)o->value); break;
    case OPT_DOUBLE: fprintf(stdout, " (default: %g)", *(double *)o->value); break;
    case OPT_U64: fprintf(stdout, " (default: %llu)", (unsigned long long)*(uint64_t *)o->value); break;
    }
}

static const char *default_metavar(cli_opt_kind k)
{
    switch (k) {
    case OPT_STRING: return "S";
    case OPT_INT: case OPT_SIZE: case OPT_U64: return "N";
    case OPT_DOUBLE: return "X";
    default: return "";
    }
}

int cli_parse(const char *cmd, const char *usage, const cli_option *opts, int argc, char **argv,
              const char **positional, int max_positional, int *n_positional)
{
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fprintf(stdout, "%s\nOptions:\n", usage);
            for (const cli_option *o = opts; o->name; o++) {
                char left[64];
                snprintf(left, sizeof left, "%s%s%s", o->name, o->kind == OPT_FLAG ? "" : " ",
                         o->kind == OPT_FLAG ? "" : (o->metavar ? o->metavar : default_metavar(o->kind)));
                fprintf(stdout, "  %-24s %s", left, o->help);
                print_default(o);
                fputc('\n', stdout);
            }
            fprintf(stdout, "  %-24s %s\n", "--help", "show this help and exit");
            return EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0 || !strcmp(arg, "--")) {
            if (npos >= max_positional) {
                size_t n = strlen(arg);
                if (n > 12 && !strcmp(arg + n - 12, ".safetensors"))
                    return cli_usage_error(cmd, "unexpected argument '%s'; give a model file with "
                                           "--model %s", arg, arg);
                return cli_usage_error(cmd, "unexpected argument '%s'", arg);
            }
            if (positional) positional[npos] = arg;
            npos++;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        const cli_option *o = opts;
        for (; o->name; o++)
            if (strlen(o->name) == nlen && !strncmp(o->name, arg, nlen)) break;
        if (!o->name) return cli_usage_error(cmd, "unknown option '%.*s'", (int)nlen, arg);
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_usage_error(cmd, "option %s takes no value", o->name);
            *(int *)o->value = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return cli_usage_error(cmd, "option %s needs a value", o->name);
        char *end = NULL;
        errno = 0;
        switch (o->kind) {
        case OPT_STRING: *(const char **)o->value = val; break;
        case OPT_INT: {
            long v = strtol(val, &end, 10);
            if (end == val || *end || errno || v < -2147483647L || v > 2147483647L)
                return cli_usage_error(cmd, "option %s: expected an integer, found '%s'", o->name, val);
            *(int *)o->value = (int)v;
            break;
        }
        case OPT_SIZE: case OPT_U64: {
            if (val[0] == '-')
                return cli_usage_error(cmd, "option %s: expected a non-negative integer, found '%s'", o->name, val);
            unsigned long long v = strtoull(val, &end, 10);
            if (end == val || *end || errno)
                return cli_usage_error(cmd, "option %s: expected a non-negative integer, found '%s'", o->name, val);
            if (o->kind == OPT_SIZE) *(size_t *)o->value = (size_t)v;
            else *(uint64_t *)o->value = (uint64_t)v;
            break;
        }
        case OPT_DOUBLE: {
            double v = strtod(val, &end);
            if (end == val || *end || errno || !isfinite(v))
                return cli_usage_error(cmd, "option %s: expected a finite number, found '%s'", o->name, val);
            *(double *)o->value = v;
            break;
        }
        case OPT_FLAG: break;
        }
    }
    if (n_positional) *n_positional = npos;
    return -1;
}

int cli_parse_doubles(const char *s, double **out)
{
    int n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) return -1;
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[i]) || (*end != ',' && *end != '\0')) {
            free(v);
            return -1;
        }
        p = end + (*end == ',');
    }
    *out = v;
    return n;
}

/* ---- progress bar and Ctrl-C ---------------------------------------- */

static double progress_start;
static char progress_task[64];
static double progress_last_draw;

static void draw_progress(const char *task, double done, double total, void *user)
{
    (void)user;
    double now = cli_now();
    if (strncmp(task, progress_task, sizeof progress_task - 1) != 0) {
        snprintf(progress_task, sizeof progress_task, "%s", task);
        progress_start = now;
        progress_last_draw = 0;
    }
    int finished = total > 0 && done >= total;
    if (!finished && now - progress_last_draw < 0.1) return;
    progress_last_draw = now;
    double frac = total > 0 ? done / total : 0;
    if (frac > 1) frac = 1;
    int width = 30, filled = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    double elapsed = now - progress_start;
    double left = frac > 0.001 ? elapsed * (1 - frac) / frac : 0;
    fprintf(stderr, "\r\033[K%-22.22s [%s] %5.1f%%  %.0fs elapsed, ~%.0fs left",
            task, bar, 100 * frac, elapsed, left);
    if (finished) {
        fputc('\n', stderr);
        progress_task[0] = '\0';
    }
    fflush(stderr);
}

static void on_sigint(int sig)
{
    (void)sig;
    if (minima_interrupted()) _exit(130);    /* second Ctrl-C: stop now */
    minima_interrupt();
}

void cli_install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (isatty(STDERR_FILENO) && !getenv("MINIMA_NO_PROGRESS")) minima_set_progress(draw_progress, NULL);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void json_number(FILE *f, double x)
{
    char buf[MINIMA_DOUBLE_CHARS];
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    minima_format_double(buf, sizeof buf, x);
    fputs(buf, f);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}
