/*
 * dynlib_utf8proc.h - utf8proc (Unicode categories and decomposition for the BERT tokenizer), loaded on first use (logify/dynlib.h says why). Call
 * lg_utf8proc_load() first, then lg_utf8proc()->f(...) for utf8proc_f(...). A new function
 * goes into LG_UTF8PROC_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_UTF8PROC_H
#define LOGIFY_DYNLIB_UTF8PROC_H

#include <utf8proc.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "utf8proc_" */
#define LG_UTF8PROC_FUNCTIONS(X) \
    X(category) X(encode_char) X(tolower) X(iterate) X(decompose_char)

/* their addresses, typed as the library's header declares them */
typedef struct lg_utf8proc_api {
#define LG_UTF8PROC_MEMBER(f) __typeof__(&utf8proc_##f) f;
    LG_UTF8PROC_FUNCTIONS(LG_UTF8PROC_MEMBER)
#undef LG_UTF8PROC_MEMBER
} lg_utf8proc_api;

/* The table; its pointers are NULL until lg_utf8proc_load (logify/dynlib.h)
 * succeeded. */
const lg_utf8proc_api *lg_utf8proc(void);

#endif
