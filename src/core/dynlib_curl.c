/*
 * dynlib_curl.c - libcurl.so.4 on first use: the table of logify/dynlib_curl.h.
 */
#include "logify/dynlib_curl.h"

#include "logify/dynlib.h"

static lg_curl_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_CURL_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "curl_" #f, &api.f, err);
    LG_CURL_FUNCTIONS(LG_CURL_RESOLVE)
#undef LG_CURL_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libcurl.so.4", "libcurl4",
                   "the LLM stage (llm: in the config) and logify model pull", resolve);

lg_err lg_curl_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_curl_api *lg_curl(void) { return &api; }
