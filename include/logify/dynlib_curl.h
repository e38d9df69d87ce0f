/*
 * dynlib_curl.h - libcurl (HTTP for the LLM stage and `logify model pull`),
 * loaded on first use (logify/dynlib.h says why). Call lg_curl_load() first,
 * then lg_curl()->f(...) for curl_f(...). A new function goes into
 * LG_CURL_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_CURL_H
#define LOGIFY_DYNLIB_CURL_H

#include <curl/curl.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "curl_" */
#define LG_CURL_FUNCTIONS(X) \
    X(easy_cleanup) X(easy_escape) X(easy_getinfo) X(easy_init) \
    X(easy_perform) X(easy_reset) X(easy_setopt) X(easy_strerror) X(free) \
    X(getdate) X(global_init) X(multi_add_handle) X(multi_cleanup) \
    X(multi_info_read) X(multi_init) X(multi_perform) X(multi_poll) \
    X(multi_remove_handle) X(multi_strerror) X(slist_append) \
    X(slist_free_all)

/* their addresses, typed as the library's header declares them */
typedef struct lg_curl_api {
#define LG_CURL_MEMBER(f) __typeof__(&curl_##f) f;
    LG_CURL_FUNCTIONS(LG_CURL_MEMBER)
#undef LG_CURL_MEMBER
} lg_curl_api;

/* The table; its pointers are NULL until lg_curl_load (logify/dynlib.h)
 * succeeded. */
const lg_curl_api *lg_curl(void);

#endif
