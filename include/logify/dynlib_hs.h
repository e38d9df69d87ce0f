/*
 * dynlib_hs.h - Vectorscan (the rules stage's regex engine), loaded on first
 * use (logify/dynlib.h says why). Call lg_hs_load() first, then
 * lg_hs()->f(...) for hs_f(...). A new function goes into LG_HS_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_HS_H
#define LOGIFY_DYNLIB_HS_H

#include <hs/hs.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "hs_" */
#define LG_HS_FUNCTIONS(X) \
    X(compile_multi) X(free_compile_error) X(free_database) \
    X(alloc_scratch) X(free_scratch) X(scan)

/* their addresses, typed as the library's header declares them */
typedef struct lg_hs_api {
#define LG_HS_MEMBER(f) __typeof__(&hs_##f) f;
    LG_HS_FUNCTIONS(LG_HS_MEMBER)
#undef LG_HS_MEMBER
} lg_hs_api;

/* The table; its pointers are NULL until lg_hs_load (logify/dynlib.h)
 * succeeded. */
const lg_hs_api *lg_hs(void);

#endif
