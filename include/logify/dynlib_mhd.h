/*
 * dynlib_mhd.h - libmicrohttpd (the HTTP server of logify serve and of
 * logify kafka's metrics), loaded on first use (logify/dynlib.h says why).
 * Call lg_mhd_load() first, then lg_mhd()->f(...) for MHD_f(...). A new
 * function goes into LG_MHD_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_MHD_H
#define LOGIFY_DYNLIB_MHD_H

#include <microhttpd.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "MHD_" */
#define LG_MHD_FUNCTIONS(X) \
    X(add_connection) X(add_response_header) X(create_post_processor) \
    X(create_response_from_buffer) X(create_response_from_callback) \
    X(destroy_post_processor) X(destroy_response) X(get_connection_info) \
    X(get_daemon_info) X(lookup_connection_value) X(post_process) \
    X(queue_response) X(start_daemon) X(stop_daemon)

/* their addresses, typed as the library's header declares them */
typedef struct lg_mhd_api {
#define LG_MHD_MEMBER(f) __typeof__(&MHD_##f) f;
    LG_MHD_FUNCTIONS(LG_MHD_MEMBER)
#undef LG_MHD_MEMBER
} lg_mhd_api;

/* The table; its pointers are NULL until lg_mhd_load (logify/dynlib.h)
 * succeeded. */
const lg_mhd_api *lg_mhd(void);

#endif
