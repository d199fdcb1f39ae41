/* fuzz_idx.c — minima_idx_read on arbitrary bytes, as they are.
 *
 * The input is the file: a raw IDX file, or a gzip stream (the reader
 * decides from the content), so this harness reaches both the IDX header
 * checks and zlib's handling of corrupt, truncated or concatenated gzip
 * members. fuzz_idx_gz.c compresses its input first instead, to reach the
 * IDX layer behind a valid gzip stream. */
#include "fuzz_idx_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idx_check_file(fuzz_write(0, ".idx", data, size));
    return 0;
}
