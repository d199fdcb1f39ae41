/* minima/tempfile.h — the temporary files of atomic writes, removable from a
 * signal handler.
 *
 * The library writes its files atomically: into a temporary file beside the
 * target, renamed over it once complete. A program that stops abruptly in
 * between (a second Ctrl-C, whose handler calls _exit) would leave that
 * temporary file behind. So each writer registers the temporary file's name
 * for as long as the file exists, and a signal handler may call
 * minima_tempfile_remove_all() before it exits: it removes every registered
 * file and is async-signal-safe (lock-free atomics and unlink only).
 *
 *     int slot = minima_tempfile_register(tmp);   (before the file is created)
 *     ... create, write, close, minima_tempfile_commit(tmp, path) ...
 *     minima_tempfile_unregister(slot);           (after the rename or unlink)
 *
 * The name's memory must stay valid and unchanged while it is registered
 * (mkstemp filling in its XXXXXX is fine: the handler removes whatever the
 * name reads at that moment). There are MINIMA_TEMPFILE_SLOTS slots, shared
 * by all threads; when all are taken, registration returns -1 and that file
 * is written as before, only not removed by the handler. */
#ifndef MINIMA_TEMPFILE_H
#define MINIMA_TEMPFILE_H

#ifdef __cplusplus
extern "C" {
#endif

#define MINIMA_TEMPFILE_SLOTS 16

/* Registers `name` (a NUL-terminated path); returns its slot, or -1 (NULL
 * name, or no free slot). */
int minima_tempfile_register(const char *name);

/* Forgets slot `slot` (a value from minima_tempfile_register; -1 is a no-op). */
void minima_tempfile_unregister(int slot);

/* Removes (unlink) every registered file and forgets it. Async-signal-safe. */
void minima_tempfile_remove_all(void);

/* Puts the complete temporary file in place: rename(tmp, path). In a
 * distributed run only rank 0 writes (minima/dist.h): every other rank
 * removes its temporary file instead, leaving `path` to rank 0. Returns
 * rename's result (0, or -1 with errno set). */
int minima_tempfile_commit(const char *tmp, const char *path);

#ifdef __cplusplus
}
#endif
#endif
