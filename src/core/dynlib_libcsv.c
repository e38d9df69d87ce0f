/*
 * dynlib_libcsv.c - libcsv.so.3 on first use: the table of logify/dynlib_libcsv.h.
 */
#include "logify/dynlib_libcsv.h"

#include "logify/dynlib.h"

static lg_libcsv_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_LIBCSV_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "csv_" #f, &api.f, err);
    LG_LIBCSV_FUNCTIONS(LG_LIBCSV_RESOLVE)
#undef LG_LIBCSV_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libcsv.so.3", "libcsv3",
                   "the CSV reader's libcsv engine (LG_CSV_LIBCSV)", resolve);

lg_err lg_libcsv_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_libcsv_api *lg_libcsv(void) { return &api; }
