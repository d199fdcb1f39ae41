/* minima/format.h — numbers as text that a person can read and a program
 * can read back exactly.
 *
 * minima prints settings, parameters and results with the shortest decimal
 * that parses back (strtod) to the same double: 1e-06 rather than
 * 9.9999999999999995e-07, 0.1 rather than 0.10000000000000001, and 17
 * significant digits only when a value needs them. */
#ifndef MINIMA_FORMAT_H
#define MINIMA_FORMAT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest text minima_format_double writes, with its terminating NUL. */
#define MINIMA_DOUBLE_CHARS 32

/* Writes the shortest of the "%.{p}g" forms of x (p = 1..17) that read
 * back as x exactly ("100", not "1e+02"); "nan", "inf" or "-inf" for non-finite x. Returns the number of
 * characters written (as snprintf, truncated to size). */
int minima_format_double(char *buf, size_t size, double x);

#ifdef __cplusplus
}
#endif
#endif
