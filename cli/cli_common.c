/* cli_common.c — shared command-line plumbing. */
#include "cli_common.h"

#include "minima/format.h"
#include "minima/tempfile.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Whether `text` contains `word`, ignoring case. */
static int contains_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (; *text; text++)
        if (!strncasecmp(text, word, n)) return 1;
    return 0;
}

/* The words of a status that its message may already say ("interrupted:
 * lanczos: interrupted after ..." would say them twice). */
static const char *status_stem(minima_status status)
{
    switch (status) {
    case MINIMA_EINTERRUPTED: return "interrupt";
    case MINIMA_ENOCONV: return "converge";
    case MINIMA_ENONFINITE: return "nan or inf";
    default: return minima_strerror(status);
    }
}

int cli_fail(const char *cmd, minima_status status)
{
    const char *msg = minima_last_error();
    if (msg[0] && contains_word(msg, status_stem(status)))
        fprintf(stderr, "minima %s: %s\n", cmd, msg);
    else
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

static int is_numeric(cli_opt_kind k)
{
    return k == OPT_INT || k == OPT_SIZE || k == OPT_DOUBLE || k == OPT_U64;
}

static void print_double(FILE *f, double x)
{
    char buf[MINIMA_DOUBLE_CHARS];
    minima_format_double(buf, sizeof buf, x);
    fputs(buf, f);
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
    case OPT_INT: fprintf(stdout, " (default: %d", *(int *)o->value); break;
    case OPT_SIZE: fprintf(stdout, " (default: %zu", *(size_t *)o->value); break;
    case OPT_DOUBLE:
        fputs(" (default: ", stdout);
        print_double(stdout, *(double *)o->value);
        break;
    case OPT_U64: fprintf(stdout, " (default: %llu", (unsigned long long)*(uint64_t *)o->value); break;
    }
    if (is_numeric(o->kind)) {
        char r[96];
        cli_range_format(r, sizeof r, o->range);
        fprintf(stdout, "; %s%s)", o->range.flags & CLI_RANGE_ANY ? "" : "range ", r);
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

int cli_range_contains(cli_range r, double x)
{
    if (!isfinite(x)) return 0;
    if (r.flags & CLI_RANGE_ANY) return 1;
    if (r.flags & CLI_RANGE_LO_OPEN ? !(x > r.lo) : !(x >= r.lo)) return 0;
    if (r.flags & CLI_RANGE_HI_OPEN ? !(x < r.hi) : !(x <= r.hi)) return 0;
    return 1;
}

/* Whole numbers as digits (10000, not 1e+04), others the shortest decimal. */
static void format_bound(char *buf, size_t size, double x)
{
    if (x == floor(x) && fabs(x) < 1e15) snprintf(buf, size, "%.0f", x);
    else minima_format_double(buf, size, x);
}

void cli_range_format(char *buf, size_t size, cli_range r)
{
    if (r.flags & CLI_RANGE_ANY) {
        snprintf(buf, size, "any value");
        return;
    }
    char lo[MINIMA_DOUBLE_CHARS], hi[MINIMA_DOUBLE_CHARS];
    format_bound(lo, sizeof lo, r.lo);
    format_bound(hi, sizeof hi, r.hi);
    snprintf(buf, size, "%c%s, %s%c", r.flags & CLI_RANGE_LO_OPEN ? '(' : '[', lo, hi,
             r.flags & CLI_RANGE_HI_OPEN ? ')' : ']');
}

/* Plain decimal digits, with a leading '-' only if allow_minus; no
 * spaces, no '+'. 1 and *neg, *mag on success; 0 if it is not such an
 * integer; -1 if it has too many digits for 64 bits. */
static int parse_integer(const char *s, int allow_minus, int *neg, unsigned long long *mag)
{
    *neg = 0;
    if (allow_minus && *s == '-') {
        *neg = 1;
        s++;
    }
    if (!*s) return 0;
    unsigned long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *mag = v;
    return 1;
}

/* A finite decimal number, the whole of s: 1 and *out; 0 if it is not a
 * number (spaces, hex, nan, inf, trailing text); -1 if it overflows or
 * underflows a double. */
static int parse_number(const char *s, double *out)
{
    if (!*s) return 0;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789+-.eE", *c)) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return 0;
    if (errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 1;
}

/* Checks and stores the value of numeric option o; -1 or EXIT_USAGE. */
static int parse_numeric(const char *cmd, const cli_option *o, const char *val)
{
    char r[96];
    cli_range_format(r, sizeof r, o->range);
    const char *in = o->range.flags & CLI_RANGE_ANY ? "" : " in ";
    const char *rr = o->range.flags & CLI_RANGE_ANY ? "" : r;
    if (o->kind == OPT_DOUBLE) {
        double v;
        int ok = parse_number(val, &v);
        if (ok <= 0 || !cli_range_contains(o->range, v))
            return cli_usage_error(cmd, "option %s: expected a number%s%s, found '%s'%s", o->name, in, rr,
                                   val, ok < 0 ? " (beyond the range of a double)" : "");
        *(double *)o->value = v;
        return -1;
    }
    int neg;
    unsigned long long mag = 0;
    int ok = parse_integer(val, o->kind == OPT_INT, &neg, &mag);
    const char *what = o->kind == OPT_INT ? "an integer" : "a non-negative integer";
    if (ok <= 0)
        return cli_usage_error(cmd, "option %s: expected %s%s%s, found '%s'%s", o->name, what, in, rr, val,
                               ok < 0 ? " (too large)" : "");
    int inside;
    if (o->kind == OPT_INT) {
        inside = mag <= (neg ? 2147483648ull : 2147483647ull) &&
                 cli_range_contains(o->range, neg ? -(double)mag : (double)mag);
    } else {
        /* Ranges of SIZE and U64 options: CLI_ANY (every 64-bit value) or
         * bounds well below 2^53, so the comparison in double is exact. */
        inside = (o->range.flags & CLI_RANGE_ANY) || cli_range_contains(o->range, (double)mag);
        if (o->kind == OPT_SIZE && mag > SIZE_MAX) inside = 0;
    }
    if (!inside) return cli_usage_error(cmd, "option %s: expected %s%s%s, found '%s'", o->name, what, in, rr, val);
    if (o->kind == OPT_INT) *(int *)o->value = neg ? (int)-(long long)mag : (int)mag;
    else if (o->kind == OPT_SIZE) *(size_t *)o->value = (size_t)mag;
    else *(uint64_t *)o->value = (uint64_t)mag;
    return -1;
}

int cli_parse(const char *cmd, const char *usage, const cli_option *opts, int argc, char **argv,
              const char **positional, int max_positional, int *n_positional)
{
    for (const cli_option *o = opts; o->name; o++)
        if (is_numeric(o->kind) && !(o->range.flags & CLI_RANGE_SET)) {
            fprintf(stderr, "minima %s: internal error: numeric option %s has no range in its "
                    "option table\n", cmd, o->name);
            return EXIT_COMPUTE;
        }
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
        if (o->kind == OPT_STRING) {
            *(const char **)o->value = val;
            continue;
        }
        int rc = parse_numeric(cmd, o, val);
        if (rc >= 0) return rc;
    }
    if (n_positional) *n_positional = npos;
    return -1;
}

static size_t count_commas(const char *s, const char *upto)
{
    size_t k = 0;
    for (; s < upto; s++) k += *s == ',';
    return k;
}

/* Splits s at commas into a new array of finite numbers in r. Returns the
 * count, or -1 with *bad_at the offending entry (its start in s; NULL: the
 * list is empty or memory ran out) and *why a reason. */
static int split_numbers(const char *s, cli_range r, double **out, const char **bad_at, const char **why)
{
    *bad_at = NULL;
    *why = "an empty list";
    if (!s || !*s) return -1;
    int n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        *why = "out of memory";
        return -1;
    }
    const char *p = s;
    for (int i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        char buf[64];
        int ok = 0;
        if (len > 0 && len < sizeof buf) {
            memcpy(buf, p, len);
            buf[len] = '\0';
            ok = parse_number(buf, &v[i]);
        }
        if (ok <= 0 || !cli_range_contains(r, v[i])) {
            *bad_at = p;
            *why = len == 0 ? "an empty entry" : ok < 0 ? "beyond the range of a double"
                 : ok == 0 ? "not a finite number" : "out of range";
            free(v);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    *out = v;
    return n;
}

int cli_parse_list(const char *cmd, const char *opt, const char *s, cli_range r, double **out)
{
    const char *bad_at, *why;
    int n = split_numbers(s, r, out, &bad_at, &why);
    if (n >= 0) return n;
    char rs[96];
    cli_range_format(rs, sizeof rs, r);
    if (!bad_at)
        cli_usage_error(cmd, "option %s: expected comma-separated numbers in %s, found %s", opt, rs, why);
    else
        cli_usage_error(cmd, "option %s: expected comma-separated numbers in %s; entry %d of '%s', "
                        "'%.*s', is %s", opt, rs, 1 + (int)count_commas(s, bad_at), s,
                        (int)strcspn(bad_at, ","), bad_at, why);
    return -1;
}

int cli_parse_doubles(const char *s, double **out)
{
    const char *bad_at, *why;
    cli_range any = CLI_ANY;
    return split_numbers(s, any, out, &bad_at, &why);
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

/* Without a terminal (a log file, a pipe, a batch job) a redrawn bar is
 * noise, and silence for minutes looks like a hang: print plain lines
 * instead — when a task starts, every PLAIN_EVERY seconds with done/total
 * and the rate, and when a task that was announced finishes. A task that
 * starts less than a second after the previous line is not announced (a
 * measure's many short sub-tasks would flood the log), but it is reported
 * once it has run PLAIN_EVERY seconds. */
#define PLAIN_EVERY 15.0

static int plain_announced;
static double plain_last_line = -1e300, plain_done;
/* The announced tasks that have not finished, outermost first. A long task
 * (the audit) hands over to sub-tasks (Lanczos) and comes back: coming back,
 * with its count where it was, is no new start. A task that ended without
 * saying so is dropped when a task of its name starts again from a lower
 * count. */
#define PLAIN_DEPTH 4
static struct { char name[64]; double start, done; } plain_open[PLAIN_DEPTH];
static int plain_n_open;

static int plain_find(const char *task)
{
    for (int i = plain_n_open - 1; i >= 0; i--)
        if (!strncmp(task, plain_open[i].name, sizeof plain_open[i].name - 1)) return i;
    return -1;
}

static void plain_progress(const char *task, double done, double total, void *user)
{
    (void)user;
    double now = cli_now();
    int at = plain_find(task);
    if (strncmp(task, progress_task, sizeof progress_task - 1) != 0) {
        snprintf(progress_task, sizeof progress_task, "%s", task);
        progress_start = now;
        plain_announced = 0;
        plain_done = 0;
        if (at >= 0 && done >= plain_open[at].done) {
            progress_start = plain_open[at].start;  /* back from a sub-task */
            plain_announced = 1;
            plain_n_open = at + 1;                  /* the sub-tasks above it are over */
        } else {
            if (at >= 0) plain_n_open = at;         /* it ended unannounced: a new run */
            if (now - plain_last_line >= 1.0) {
                fprintf(stderr, "progress: %s: started\n", task);
                plain_announced = 1;
                plain_last_line = now;
                if (plain_n_open == PLAIN_DEPTH) {  /* forget the oldest */
                    memmove(plain_open, plain_open + 1, (PLAIN_DEPTH - 1) * sizeof plain_open[0]);
                    plain_n_open--;
                }
                snprintf(plain_open[plain_n_open].name, sizeof plain_open[0].name, "%s", task);
                plain_open[plain_n_open].start = now;
                plain_n_open++;
            }
        }
        at = plain_find(task);
    }
    if (at >= 0) plain_open[at].done = done;
    int finished = total > 0 && done >= total;
    double elapsed = now - progress_start;
    if (finished) {
        if (plain_announced)
            fprintf(stderr, "progress: %s: finished in %.1f s\n", task, elapsed);
        if (plain_announced) plain_last_line = now;
        if (at >= 0) plain_n_open = at;
        progress_task[0] = '\0';
    } else {
        plain_done = done;
        if (now - plain_last_line >= PLAIN_EVERY) {
            fprintf(stderr, "progress: %s: %.0f of %.0f (%.1f%%) after %.0f s, %.3g per s\n", task,
                    done, total, total > 0 ? 100 * done / total : 0.0, elapsed,
                    elapsed > 0 ? plain_done / elapsed : 0.0);
            plain_announced = 1;
            plain_last_line = now;
        }
    }
    fflush(stderr);
}

static void on_sigint(int sig)
{
    (void)sig;
    if (minima_interrupt_requested()) {      /* second Ctrl-C: stop now, */
        minima_tempfile_remove_all();        /* leaving no half-written temporary file */
        _exit(130);
    }
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
    const char *quiet = getenv("MINIMA_NO_PROGRESS");
    if (quiet && strcmp(quiet, "0") != 0) return;     /* set (and not 0): silent */
    minima_set_progress(isatty(STDERR_FILENO) ? draw_progress : plain_progress, NULL);
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
