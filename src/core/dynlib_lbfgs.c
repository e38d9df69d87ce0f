/*
 * dynlib_lbfgs.c - liblbfgs.so.0 on first use: the table of logify/dynlib_lbfgs.h.
 */
#include "logify/dynlib_lbfgs.h"

#include "logify/dynlib.h"

static lg_lbfgs_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_LBFGS_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "lbfgs_" #f, &api.f, err);
    LG_LBFGS_FUNCTIONS(LG_LBFGS_RESOLVE)
#undef LG_LBFGS_RESOLVE
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "lbfgs", &api.run, err);
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("liblbfgs.so.0", "liblbfgs0",
                   "training the logistic regression (logify train, the head of a BERT model)", resolve);

lg_err lg_lbfgs_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_lbfgs_api *lg_lbfgs(void) { return &api; }
