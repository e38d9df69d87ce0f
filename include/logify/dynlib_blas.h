/*
 * dynlib_blas.h - OpenBLAS (sgemm for the BERT encoder, kNN and DBSCAN),
 * loaded on first use (logify/dynlib.h says why). Call lg_blas_load() first,
 * then lg_blas()->f(...) for f(...). A new function goes into
 * LG_BLAS_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_BLAS_H
#define LOGIFY_DYNLIB_BLAS_H

#include <cblas.h>
#include "logify/dynlib.h"

/* the functions Logify calls */
#define LG_BLAS_FUNCTIONS(X) \
    X(cblas_sgemm) X(openblas_get_num_threads)

/* their addresses, typed as the library's header declares them */
typedef struct lg_blas_api {
#define LG_BLAS_MEMBER(f) __typeof__(&f) f;
    LG_BLAS_FUNCTIONS(LG_BLAS_MEMBER)
#undef LG_BLAS_MEMBER
} lg_blas_api;

/* The table; its pointers are NULL until lg_blas_load (logify/dynlib.h)
 * succeeded. */
const lg_blas_api *lg_blas(void);

#endif
