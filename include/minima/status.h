/* minima/status.h — status codes, error messages, logging, progress and
 * interruption.
 *
 * Every library function that can fail returns a minima_status. On failure
 * it also records a message for the calling thread that names what was
 * wrong (file, position or field, what was expected, what was found);
 * minima_last_error() returns it. The library never prints and never exits:
 * the command-line program prints messages and maps statuses to exit codes.
 *
 * All errors are raised through minima_error() (the MINIMA_FAIL macro), the
 * one choke point to put a breakpoint on. */
#ifndef MINIMA_STATUS_H
#define MINIMA_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MINIMA_OK = 0,
    MINIMA_EINVAL,        /* bad argument: NULL, out of range, inconsistent options */
    MINIMA_ENOMEM,        /* allocation failed or a size would overflow */
    MINIMA_EIO,           /* a file could not be opened, read or written */
    MINIMA_EFORMAT,       /* a file's contents are malformed or inconsistent */
    MINIMA_ESHAPE,        /* shapes do not chain or do not match */
    MINIMA_ENONFINITE,    /* NaN or Inf where finite numbers are required */
    MINIMA_ERANGE,        /* a value out of its domain (e.g. label >= classes) */
    MINIMA_EUNSUPPORTED,  /* valid input this build does not handle */
    MINIMA_ENOCONV,       /* an iterative method did not converge */
    MINIMA_EINTERRUPTED,  /* stopped by minima_interrupt() (Ctrl-C) */
    MINIMA_EFAILED        /* a computation failed for another reason */
} minima_status;

/* A short fixed description of a status code ("bad argument", ...). */
const char *minima_strerror(minima_status status);

/* The message recorded by the last failing call in this thread, or "" if
 * none. Valid until the next failing call in the same thread. */
const char *minima_last_error(void);

/* Records a printf-style message for this thread and returns `status`.
 * The only place errors are raised; break here in a debugger. */
minima_status minima_error(minima_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forgets the recorded message (tests use it). */
void minima_clear_error(void);

/* True for statuses caused by the user's input or arguments, which the
 * program reports with exit code 2; the others exit with code 1. */
int minima_status_is_usage(minima_status status);

/* Return early with a recorded message. */
#define MINIMA_FAIL(status, ...) return minima_error((status), __VA_ARGS__)
/* Evaluate an expression returning minima_status; propagate failure. */
#define MINIMA_TRY(expr) do { minima_status minima_try_s_ = (expr); \
    if (minima_try_s_ != MINIMA_OK) return minima_try_s_; } while (0)

/* An assertion that stays on in release builds: a violated invariant of
 * the library itself (never the user's input) aborts with file and line. */
#define MINIMA_ASSERT(cond) do { if (!(cond)) \
    minima_assert_fail(#cond, __FILE__, __LINE__); } while (0)
void minima_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));

/* ---- logging -------------------------------------------------------- */

typedef enum { MINIMA_LOG_DEBUG, MINIMA_LOG_INFO, MINIMA_LOG_WARN } minima_log_level;
typedef void (*minima_log_fn)(minima_log_level level, const char *msg, void *user);

/* Install a log callback (NULL: discard, the default). Library code logs
 * noteworthy facts (a cache that did not fit, a fallback taken). */
void minima_set_log(minima_log_fn fn, void *user);
void minima_log(minima_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- progress ------------------------------------------------------- */

/* Long computations report progress through this callback: `done` of
 * `total` units of the named task are finished. The CLI draws a bar on
 * stderr when it is a terminal. NULL (the default) reports nothing. */
typedef void (*minima_progress_fn)(const char *task, double done, double total, void *user);
void minima_set_progress(minima_progress_fn fn, void *user);
void minima_progress(const char *task, double done, double total);

/* ---- interruption --------------------------------------------------- */

/* Async-signal-safe: asks every long computation to stop at its next
 * check, returning MINIMA_EINTERRUPTED (with partial results where the
 * function's contract says so). The CLI calls it from its SIGINT handler. */
void minima_interrupt(void);
/* Nonzero once minima_interrupt() has been called and not cleared. With
 * several MPI ranks (minima/dist.h): once every rank has seen a request
 * made on any of them, at the same collective call on all. */
int minima_interrupted(void);
/* Nonzero once minima_interrupt() has been called in this process, agreed
 * or not (a signal handler's "asked twice?" test). */
int minima_interrupt_requested(void);
void minima_clear_interrupt(void);

#ifdef __cplusplus
}
#endif
#endif
