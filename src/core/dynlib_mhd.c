/*
 * dynlib_mhd.c - libmicrohttpd.so.12 on first use: the table of logify/dynlib_mhd.h.
 */
#include "logify/dynlib_mhd.h"

#include "logify/dynlib.h"

static lg_mhd_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_MHD_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "MHD_" #f, &api.f, err);
    LG_MHD_FUNCTIONS(LG_MHD_RESOLVE)
#undef LG_MHD_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libmicrohttpd.so.12", "libmicrohttpd12",
                   "logify serve and the metrics endpoint of logify kafka", resolve);

lg_err lg_mhd_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_mhd_api *lg_mhd(void) { return &api; }
