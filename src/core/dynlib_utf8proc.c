/*
 * dynlib_utf8proc.c - libutf8proc.so.2 on first use: the table of logify/dynlib_utf8proc.h.
 */
#include "logify/dynlib_utf8proc.h"

#include "logify/dynlib.h"

static lg_utf8proc_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_UTF8PROC_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "utf8proc_" #f "", &api.f, err);
    LG_UTF8PROC_FUNCTIONS(LG_UTF8PROC_RESOLVE)
#undef LG_UTF8PROC_RESOLVE
    return e;
}

static lg_dynlib lib = LG_DYNLIB_INIT("libutf8proc.so.2", "libutf8proc2", "the BERT tokenizer (embed, and train or classify with a BERT model)", resolve);

lg_err lg_utf8proc_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_utf8proc_api *lg_utf8proc(void) { return &api; }
