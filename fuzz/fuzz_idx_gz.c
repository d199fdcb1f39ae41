/* fuzz_idx_gz.c — minima_idx_read on a valid gzip stream of arbitrary
 * bytes.
 *
 * The harness gzips its input (in memory, with zlib) and writes the
 * compressed file, so every input reaches the IDX parser through the
 * decompressing path. The corpus therefore holds uncompressed IDX files.
 * fuzz_idx.c feeds the bytes as they are (raw IDX or a gzip stream). */
#include <zlib.h>

#include "fuzz_idx_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uLong bound = deflateBound(&z, (uLong)size) + 32;
    unsigned char *gz = malloc(bound);
    if (!gz) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = gz;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t n = (size_t)z.total_out;
    deflateEnd(&z);
    const char *path = fuzz_write(0, ".idx.gz", gz, n);
    free(gz);
    idx_check_file(path);
    return 0;
}
