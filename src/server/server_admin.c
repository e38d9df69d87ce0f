/* server_admin.c - admin endpoints: POST /admin/reload (docs/reload.md)
 * loads a new pipeline set from the files and options the server started
 * with, checks it and swaps it in; requests in flight finish on the set
 * they started with. Needs the API key; without a key configured it is
 * refused (403) unless the server was started with --open-admin.
 *
 * The reload runs on the connection's thread (in the poll/epoll modes it
 * holds one of the loop threads for as long as loading takes). */
#include "server/server_internal.h"

#include <string.h>

/* 422 for a set that is wrong (a file that does not parse, compile or
 * load, a bad setting), 500 for the server's own trouble. */
static unsigned refused_status(lg_err e) {
    switch (e) {
    case LG_EIO:
    case LG_EPARSE:
    case LG_EINVAL:
    case LG_ECOMPILE:
    case LG_ELIMIT:
    case LG_ENOTFOUND:
    case LG_EMODEL:
    case LG_EUNSUPPORTED: return 422;
    default: return 500;
    }
}

enum MHD_Result srv_admin_reload(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                 const char *method) {
    if (!s->api_key && !s->o.admin_open)
        return srv_respond_detail(s, c, rq, 403,
                                  "admin endpoints need an API key (--api-key or LOGIFY_API_KEY), "
                                  "or --open-admin");
    if (strcmp(method, "POST")) return srv_respond_detail(s, c, rq, 405, "Method Not Allowed");
    if (__atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
        return srv_respond_detail(s, c, rq, 503, "server is shutting down");
    lg_errmsg err;
    lg_pset *set = NULL;
    lg_err e = lg_live_reload(s->live, &set, &err); /* logs either way */
    unsigned status = e ? refused_status(e) : 200;
    if (e) set = lg_live_acquire(s->live); /* the one that stays */
    lg_buf b;
    lg_buf_init(&b, 1u << 20);
    lg_err we = lg_buf_printf(&b, "{\"status\":\"%s\",", e ? "refused" : "ok");
    if (!we && e) {
        we = lg_buf_append(&b, "\"detail\":", 9);
        if (!we) we = lg_json_put_string(&b, err.msg, strlen(err.msg));
        if (!we) we = lg_buf_putc(&b, ',');
    }
    if (!we) we = lg_buf_append(&b, "\"set\":", 6);
    if (!we) we = lg_pset_describe_json(set, &b);
    if (!we) we = lg_buf_putc(&b, '}');
    lg_pset_release(set);
    enum MHD_Result ret = we ? srv_respond_detail(s, c, rq, 500, "Internal Server Error")
                             : srv_respond(s, c, rq, status, "application/json", b.data, b.len);
    lg_buf_free(&b);
    return ret;
}
