/* fuzz_check: CHECK(), the fuzz targets' own assertions. A failed check
 * aborts, which libFuzzer reports as a crash and saves the input of. */
#ifndef CHAT_FUZZ_CHECK_H
#define CHAT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
