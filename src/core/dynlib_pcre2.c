/*
 * dynlib_pcre2.c - libpcre2-8.so.0 on first use: the table of logify/dynlib_pcre2.h.
 */
#include "logify/dynlib_pcre2.h"

#include "logify/dynlib.h"

static lg_pcre2_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_PCRE2_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "pcre2_" #f "_8", &api.f, err);
    LG_PCRE2_FUNCTIONS(LG_PCRE2_RESOLVE)
#undef LG_PCRE2_RESOLVE
    return e;
}

static lg_dynlib lib = LG_DYNLIB_INIT("libpcre2-8.so.0", "libpcre2-8-0", "the rules stage (classify, eval, train, serve, rules check)", resolve);

lg_err lg_pcre2_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_pcre2_api *lg_pcre2(void) { return &api; }
