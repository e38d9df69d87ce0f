/*
 * dynlib_libcsv.h - libcsv (the LG_CSV_LIBCSV engine of logify/csv.h),
 * loaded on first use (logify/dynlib.h says why). Call lg_libcsv_load()
 * first, then lg_libcsv()->f(...) for csv_f(...). A new function goes into
 * LG_LIBCSV_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_LIBCSV_H
#define LOGIFY_DYNLIB_LIBCSV_H

#include <csv.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "csv_" */
#define LG_LIBCSV_FUNCTIONS(X) \
    X(init) X(free) X(fini) X(parse) X(error) X(strerror) X(set_space_func) X(set_realloc_func)

/* their addresses, typed as the library's header declares them */
typedef struct lg_libcsv_api {
#define LG_LIBCSV_MEMBER(f) __typeof__(&csv_##f) f;
    LG_LIBCSV_FUNCTIONS(LG_LIBCSV_MEMBER)
#undef LG_LIBCSV_MEMBER
} lg_libcsv_api;

/* The table; its pointers are NULL until lg_libcsv_load (logify/dynlib.h)
 * succeeded. */
const lg_libcsv_api *lg_libcsv(void);

#endif
