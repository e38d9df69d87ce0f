/* server_console.c - GET / (the console: web/console/index.html) and its
 * assets at /console/<file>, compiled into the binary
 * (src/core/embedded.S.in), served from memory with a strict
 * Content-Security-Policy (scripts and styles from this origin only: no
 * inline script or style, no eval), nosniff, no framing, and an ETag
 * (revalidated on every load: a new binary serves new assets at once).
 * Like /docs, the page and its assets are open: the page asks for the API
 * key itself when the API answers 401, and keeps it in memory only. */
#include "server/server_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern const char lg_embedded_console_html[], lg_embedded_console_js[], lg_embedded_console_css[];
extern const uint64_t lg_embedded_console_html_size, lg_embedded_console_js_size,
    lg_embedded_console_css_size;

#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "       \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "                 \
    "frame-ancestors 'none'"

typedef struct {
    const char *path, *ctype;
    const char *data;
    const uint64_t *size;
} console_file;

static const console_file files[] = {
    {"/", "text/html; charset=utf-8", lg_embedded_console_html, &lg_embedded_console_html_size},
    {"/console/console.js", "text/javascript; charset=utf-8", lg_embedded_console_js,
     &lg_embedded_console_js_size},
    {"/console/console.css", "text/css; charset=utf-8", lg_embedded_console_css,
     &lg_embedded_console_css_size},
};

/* Headers every console answer carries (errors included). */
static void add_headers(struct MHD_Response *r) {
    lg_mhd()->add_response_header(r, "Content-Security-Policy", CONSOLE_CSP);
    lg_mhd()->add_response_header(r, "X-Frame-Options", "DENY"); /* nosniff: srv_queue */
    lg_mhd()->add_response_header(r, "Referrer-Policy", "no-referrer");
    lg_mhd()->add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
}

enum MHD_Result srv_console_answer(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                   const char *url) {
    const console_file *f = NULL;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!strcmp(url, files[i].path)) f = &files[i];
    if (!f) {
        static const char nf[] = "{\"detail\":\"Not Found\"}";
        struct MHD_Response *r =
            lg_mhd()->create_response_from_buffer(sizeof nf - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
        if (r) add_headers(r);
        rq->bytes_out = sizeof nf - 1;
        return srv_queue(s, c, rq, 404, "application/json", r);
    }
    size_t len = (size_t)*f->size;
    char etag[24];
    snprintf(etag, sizeof etag, "\"%016llx\"",
             (unsigned long long)lg_fnv1a64(f->data, len, 0x6c6f67696679ull));
    const char *inm = lg_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int fresh = inm && strstr(inm, etag);
    struct MHD_Response *r = fresh ? lg_mhd()->create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
                                   : lg_mhd()->create_response_from_buffer(len, (void *)f->data,
                                                                           MHD_RESPMEM_PERSISTENT);
    if (r) {
        add_headers(r);
        lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
        lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    rq->bytes_out = fresh ? 0 : len;
    return srv_queue(s, c, rq, fresh ? 304 : 200, fresh ? NULL : f->ctype, r);
}
