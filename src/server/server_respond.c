/* server_respond.c - what a handler answers with: route names, the first
 * failure of a request, responses from a buffer or a spool (handing over to
 * server_direct.c when the head went out already). The pool of pipeline
 * workers belongs to the pipeline set (pipeline/live.c). Used by the
 * endpoints (server_classify.c, server_metrics.c, server_admin.c) and by the
 * dispatch in server.c; moved out of server.c (issue 15) so that the
 * endpoints do not depend on the file that calls them. */
#include "server/server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Small helpers ------------------------------------------------------------ */

static const char *const route_names[SRV_R_COUNT] = {
    "/classify/", "/v1/classify", "/v1/classify/stream", "/healthz", "/readyz",
    "/metrics",   "/openapi.json", "/docs",              "/v1/jobs",
    "/",          "/admin/reload", "/v1/eval",           "other"};

const char *srv_route_name(srv_route r) { return r < SRV_R_COUNT ? route_names[r] : "other"; }

void srv_req_fail(srv_req *rq, unsigned status, const char *fmt, ...) {
    if (rq->discard) return; /* the first failure wins */
    rq->discard = 1;
    rq->fail_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rq->fail_detail, sizeof rq->fail_detail, fmt, ap);
    va_end(ap);
}

static ssize_t spool_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    srv_spool *sp = cls;
    size_t done = 0;
    while (done < max && sp->head) {
        srv_chunk *c = sp->head;
        size_t k = c->len - sp->off < max - done ? c->len - sp->off : max - done;
        memcpy(buf + done, c->data + sp->off, k);
        done += k;
        sp->off += k;
        if (sp->off == c->len) {
            sp->head = c->next;
            if (!sp->head) sp->tail = NULL;
            free(c);
            sp->off = 0;
        }
    }
    if (!done) return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)done;
}

static void spool_release(void *cls) { srv_spool_free(cls); }

/* ---- Responses --------------------------------------------------------------------- */

enum MHD_Result srv_queue(lg_server *s, struct MHD_Connection *c, srv_req *rq, unsigned status,
                          const char *ctype, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    if (ctype) lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    lg_mhd()->add_response_header(r, "X-Request-Id", rq->id);
    lg_mhd()->add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 503) lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 401) lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405) {
        const char *allow = rq->route <= SRV_R_STREAM || rq->route == SRV_R_ADMIN_RELOAD ||
                                    rq->route == SRV_R_EVAL ||
                                    !strcmp(rq->path, "/v1/jobs/cluster")
                                ? "POST"
                            : rq->route == SRV_R_JOBS ? "GET, HEAD, DELETE"
                                                      : "GET, HEAD";
        lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (__atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
        lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    rq->status = status;
    enum MHD_Result ret = lg_mhd()->queue_response(c, status, r);
    lg_mhd()->destroy_response(r);
    return ret;
}

enum MHD_Result srv_respond(lg_server *s, struct MHD_Connection *c, srv_req *rq, unsigned status,
                            const char *ctype, const char *body, size_t len) {
    rq->bytes_out = len;
    struct MHD_Response *r =
        lg_mhd()->create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    return srv_queue(s, c, rq, status, ctype, r);
}


enum MHD_Result srv_respond_detail(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                   unsigned status, const char *detail) {
    lg_buf b;
    lg_buf_init(&b, 4096);
    lg_err e = srv_detail_json(&b, detail);
    enum MHD_Result ret =
        e ? MHD_NO : srv_respond(s, c, rq, status, "application/json", b.data, b.len);
    lg_buf_free(&b);
    return ret;
}

enum MHD_Result srv_respond_spool(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                  unsigned status, const char *ctype, srv_spool *sp, int chunked) {
    if (rq->dx) { /* the head went out already: send the rest ourselves */
        rq->spool = sp;
        enum MHD_Result ret = srv_direct_finish(s, rq);
        rq->spool = NULL;
        srv_spool_free(sp);
        return ret;
    }
    rq->bytes_out = sp->total;
    struct MHD_Response *r = lg_mhd()->create_response_from_callback(
        chunked ? MHD_SIZE_UNKNOWN : (uint64_t)sp->total, SRV_SPOOL_CHUNK, spool_reader, sp,
        spool_release);
    if (!r) {
        srv_spool_free(sp);
        return MHD_NO;
    }
    return srv_queue(s, c, rq, status, ctype, r);
}
