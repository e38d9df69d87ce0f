/*
 * dynlib_blas.c - libopenblas.so.0 on first use: the table of logify/dynlib_blas.h.
 */
#include "logify/dynlib_blas.h"

#include "logify/dynlib.h"

static lg_blas_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_BLAS_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "" #f, &api.f, err);
    LG_BLAS_FUNCTIONS(LG_BLAS_RESOLVE)
#undef LG_BLAS_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libopenblas.so.0", "libopenblas0",
                   "the BERT encoder (embed, and train or classify with a BERT model) "
                   "and logify cluster",
                   resolve);

lg_err lg_blas_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_blas_api *lg_blas(void) { return &api; }
