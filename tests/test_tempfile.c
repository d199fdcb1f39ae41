/* test_tempfile.c — the registry of temporary files that a signal handler
 * removes (minima/tempfile.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "minima/tempfile.h"

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}

/* Registered files are removed; unregistered ones are not. */
static void test_remove_registered(void)
{
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a.tmp", harness_tmpdir());
    snprintf(b, sizeof b, "%s/b.tmp", harness_tmpdir());
    snprintf(c, sizeof c, "%s/c.tmp", harness_tmpdir());
    touch(a);
    touch(b);
    touch(c);
    int sa = minima_tempfile_register(a), sb = minima_tempfile_register(b);
    int sc = minima_tempfile_register(c);
    CHECK(sa >= 0 && sb >= 0 && sc >= 0 && sa != sb && sb != sc && sa != sc);
    minima_tempfile_unregister(sc);            /* c was renamed into place: keep it */
    minima_tempfile_remove_all();
    CHECK(!exists(a));
    CHECK(!exists(b));
    CHECK(exists(c));
    /* remove_all forgot them: a file created again under the name stays. */
    touch(a);
    minima_tempfile_remove_all();
    CHECK(exists(a));
    /* A name that was registered before the file existed (mkstemp's
     * template) is removed under what it reads when the handler runs. */
    char t[512];
    snprintf(t, sizeof t, "%s/late.tmp.XXXXXX", harness_tmpdir());
    int st = minima_tempfile_register(t);
    int fd = mkstemp(t);
    CHECK(fd >= 0 && st >= 0);
    if (fd >= 0) close(fd);
    minima_tempfile_remove_all();
    CHECK(!exists(t));
    minima_tempfile_unregister(-1);            /* a no-op */
    CHECK(minima_tempfile_register(NULL) == -1);
}

/* The slots are finite: when all are taken, -1; freed slots are reused. */
static void test_slots(void)
{
    char names[MINIMA_TEMPFILE_SLOTS + 1][64];
    int slot[MINIMA_TEMPFILE_SLOTS + 1];
    for (int i = 0; i <= MINIMA_TEMPFILE_SLOTS; i++) {
        snprintf(names[i], sizeof names[i], "/nonexistent/minima-%d", i);
        slot[i] = minima_tempfile_register(names[i]);
    }
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) CHECK(slot[i] >= 0);
    CHECK(slot[MINIMA_TEMPFILE_SLOTS] == -1);
    minima_tempfile_unregister(slot[3]);
    CHECK(minima_tempfile_register(names[MINIMA_TEMPFILE_SLOTS]) == slot[3]);
    minima_tempfile_remove_all();              /* frees every slot (the unlinks fail: no such files) */
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) {
        slot[i] = minima_tempfile_register(names[i]);
        CHECK(slot[i] >= 0);
    }
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) minima_tempfile_unregister(slot[i]);
}

int main(void)
{
    RUN(test_remove_registered);
    RUN(test_slots);
    return harness_report();
}
