/*
 * dynlib_lbfgs.h - liblbfgs (the logistic regression's training), loaded on
 * first use (logify/dynlib.h says why). Call lg_lbfgs_load() first, then
 * lg_lbfgs()->f(...) for lbfgs_f(...), lg_lbfgs()->run(...) for lbfgs(...).
 * A new function goes into LG_LBFGS_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_LBFGS_H
#define LOGIFY_DYNLIB_LBFGS_H

#include <lbfgs.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "lbfgs_" */
#define LG_LBFGS_FUNCTIONS(X) X(malloc) X(free) X(parameter_init)

/* their addresses, typed as the library's header declares them; `run` is
 * lbfgs() itself */
typedef struct lg_lbfgs_api {
#define LG_LBFGS_MEMBER(f) __typeof__(&lbfgs_##f) f;
    LG_LBFGS_FUNCTIONS(LG_LBFGS_MEMBER)
#undef LG_LBFGS_MEMBER
    __typeof__(&lbfgs) run;
} lg_lbfgs_api;

/* The table; its pointers are NULL until lg_lbfgs_load (logify/dynlib.h)
 * succeeded. */
const lg_lbfgs_api *lg_lbfgs(void);

#endif
