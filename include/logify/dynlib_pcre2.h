/*
 * dynlib_pcre2.h - PCRE2 (the rules Vectorscan cannot compile), loaded on first use (logify/dynlib.h says why). Call
 * lg_pcre2_load() first, then lg_pcre2()->f(...) for pcre2_f(...). A new function
 * goes into LG_PCRE2_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_PCRE2_H
#define LOGIFY_DYNLIB_PCRE2_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "pcre2_" */
#define LG_PCRE2_FUNCTIONS(X) \
    X(compile) X(code_free) X(get_error_message) X(jit_compile) X(pattern_info) \
    X(match_data_create) X(match_data_free) X(match)

/* their addresses, typed as the library's header declares them */
typedef struct lg_pcre2_api {
#define LG_PCRE2_MEMBER(f) __typeof__(&pcre2_##f) f;
    LG_PCRE2_FUNCTIONS(LG_PCRE2_MEMBER)
#undef LG_PCRE2_MEMBER
} lg_pcre2_api;

/* The table; its pointers are NULL until lg_pcre2_load (logify/dynlib.h)
 * succeeded. */
const lg_pcre2_api *lg_pcre2(void);

#endif
