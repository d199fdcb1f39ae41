/* fashion_mnist.c — where Fashion-MNIST's IDX files are (minima/data.h:
 * minima_fashion_mnist_locate): $MINIMA_DATA_DIR, else Debian's
 * dataset-fashion-mnist under /usr/share/datasets. */
#include "minima/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minima/alloc.h"

/* "dir/stem.gz" or "dir/stem" if either is a regular file, else NULL. */
static char *find_file(const char *dir, const char *stem)
{
    static const char *suffixes[] = {".gz", ""};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(dir) + strlen(stem) + 8;
        char *p = minima_alloc(n, 1);
        if (!p) return NULL;
        snprintf(p, n, "%s/%s%s", dir, stem, suffixes[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
        minima_free(p);
    }
    return NULL;
}

minima_status minima_fashion_mnist_locate(const char *split, char **images, char **labels)
{
    if (!split || !images || !labels)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_fashion_mnist_locate: NULL argument");
    *images = *labels = NULL;
    const char *prefix;
    if (strcmp(split, "train") == 0) prefix = "train";
    else if (strcmp(split, "test") == 0) prefix = "t10k";
    else MINIMA_FAIL(MINIMA_EINVAL, "Fashion-MNIST split '%s': expected 'train' or 'test'", split);
    char img_stem[64], lab_stem[64];
    snprintf(img_stem, sizeof img_stem, "%s-images-idx3-ubyte", prefix);
    snprintf(lab_stem, sizeof lab_stem, "%s-labels-idx1-ubyte", prefix);

    const char *env = getenv("MINIMA_DATA_DIR");
    char env_sub[4096] = "";
    const char *dirs[3];
    int n_dirs = 0;
    if (env && env[0]) {
        snprintf(env_sub, sizeof env_sub, "%s/fashion-mnist", env);
        dirs[n_dirs++] = env;
        dirs[n_dirs++] = env_sub;
    } else {
        dirs[n_dirs++] = "/usr/share/datasets/fashion-mnist";
        dirs[n_dirs++] = "/usr/local/share/datasets/fashion-mnist";
    }
    for (int i = 0; i < n_dirs; i++) {
        char *im = find_file(dirs[i], img_stem);
        char *lb = im ? find_file(dirs[i], lab_stem) : NULL;
        if (im && lb) {
            *images = im;
            *labels = lb;
            return MINIMA_OK;
        }
        if (im) {
            minima_free(im);
            MINIMA_FAIL(MINIMA_EIO, "Fashion-MNIST: found %s[.gz] in %s but not %s[.gz] beside it",
                        img_stem, dirs[i], lab_stem);
        }
    }
    if (env && env[0])
        MINIMA_FAIL(MINIMA_EIO, "Fashion-MNIST not found: expected %s[.gz] and %s[.gz] in "
                    "$MINIMA_DATA_DIR = '%s' or in '%s'; unset MINIMA_DATA_DIR to use Debian's "
                    "package dataset-fashion-mnist", img_stem, lab_stem, env, env_sub);
    MINIMA_FAIL(MINIMA_EIO, "Fashion-MNIST not found: expected %s[.gz] and %s[.gz] in %s or %s; "
                "install Debian's package (apt-get install dataset-fashion-mnist) or set "
                "MINIMA_DATA_DIR to a directory holding the four files", img_stem, lab_stem,
                dirs[0], dirs[1]);
}
