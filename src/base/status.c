/* status.c — the error choke point, thread-local messages, log, progress
 * and interruption. */
#include "minima/status.h"

#include "base/interrupt_impl.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_message[1024];
static minima_log_fn log_fn;
static void *log_user;
static minima_progress_fn progress_fn;
static void *progress_user;
static volatile sig_atomic_t interrupt_flag;    /* this process was asked to stop */
static volatile sig_atomic_t interrupt_agreed;  /* every rank has seen a request */
static int interrupt_shared;                    /* ranks stop together (dist.c) */

const char *minima_strerror(minima_status status)
{
    switch (status) {
    case MINIMA_OK: return "success";
    case MINIMA_EINVAL: return "bad argument";
    case MINIMA_ENOMEM: return "out of memory";
    case MINIMA_EIO: return "input/output error";
    case MINIMA_EFORMAT: return "malformed file";
    case MINIMA_ESHAPE: return "shape mismatch";
    case MINIMA_ENONFINITE: return "NaN or Inf in input";
    case MINIMA_ERANGE: return "value out of range";
    case MINIMA_EUNSUPPORTED: return "unsupported";
    case MINIMA_ENOCONV: return "did not converge";
    case MINIMA_EINTERRUPTED: return "interrupted";
    case MINIMA_EFAILED: return "computation failed";
    }
    return "unknown status";
}

const char *minima_last_error(void) { return last_message; }

void minima_clear_error(void) { last_message[0] = '\0'; }

minima_status minima_error(minima_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

int minima_status_is_usage(minima_status status)
{
    switch (status) {
    case MINIMA_EINVAL: case MINIMA_EIO: case MINIMA_EFORMAT: case MINIMA_ESHAPE:
    case MINIMA_ENONFINITE: case MINIMA_ERANGE: case MINIMA_EUNSUPPORTED:
        return 1;
    default:
        return 0;
    }
}

void minima_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "minima: internal error: %s:%d: assertion '%s' failed\n", file, line, cond);
    abort();
}

void minima_set_log(minima_log_fn fn, void *user) { log_fn = fn; log_user = user; }

void minima_log(minima_log_level level, const char *fmt, ...)
{
    if (!log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(level, buf, log_user);
}

void minima_set_progress(minima_progress_fn fn, void *user) { progress_fn = fn; progress_user = user; }

void minima_progress(const char *task, double done, double total)
{
    if (progress_fn) progress_fn(task, done, total, progress_user);
}

void minima_interrupt(void) { interrupt_flag = 1; }
int minima_interrupt_requested(void) { return interrupt_flag != 0; }
/* With several ranks a request becomes visible only once the ranks have
 * agreed on it (at a collective call), so that they all leave their loops
 * at the same point (minima/dist.h). */
int minima_interrupted(void) { return interrupt_shared ? interrupt_agreed != 0 : interrupt_flag != 0; }
void minima_clear_interrupt(void) { interrupt_flag = 0; interrupt_agreed = 0; }

void minima_interrupt_set_shared(int shared) { interrupt_shared = shared; }
void minima_interrupt_set_agreed(void) { interrupt_agreed = 1; }
