/* server_spool.c - the bytes of an answer: the per-request spool (chunks a
 * handler appends to, from its own thread, and the response or the direct
 * writer takes from) and the {"detail": ...} body of error answers. The
 * bottom of src/server/: it uses only src/core/. Moved out of server.c
 * (issue 15) so that server_direct.c need not depend on server.c. */
#include "server/server_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Spool ------------------------------------------------------------------------ */

srv_spool *srv_spool_new(size_t max) {
    srv_spool *sp = calloc(1, sizeof *sp);
    if (!sp) return NULL;
    sp->max = max;
    pthread_mutex_init(&sp->mu, NULL);
    return sp;
}

static lg_err spool_append_locked(srv_spool *sp, const char *src, size_t n) {
    if (n > sp->max || sp->total > sp->max - n) return LG_ELIMIT;
    while (n) {
        srv_chunk *t = sp->tail;
        if (!t || t->len == t->cap) {
            size_t cap = n > SRV_SPOOL_CHUNK ? n : SRV_SPOOL_CHUNK;
            srv_chunk *c = malloc(sizeof *c + cap);
            if (!c) return LG_ENOMEM;
            c->next = NULL;
            c->len = 0;
            c->cap = cap;
            if (t) t->next = c;
            else sp->head = c;
            sp->tail = t = c;
        }
        size_t k = t->cap - t->len < n ? t->cap - t->len : n;
        memcpy(t->data + t->len, src, k);
        t->len += k;
        src += k;
        n -= k;
        sp->total += k;
    }
    return LG_OK;
}

lg_err srv_spool_append(srv_spool *sp, const void *p, size_t n) {
    pthread_mutex_lock(&sp->mu);
    lg_err e = spool_append_locked(sp, p, n);
    if (e) sp->failed = e;
    pthread_mutex_unlock(&sp->mu);
    return e;
}

size_t srv_spool_total(srv_spool *sp) {
    pthread_mutex_lock(&sp->mu);
    size_t n = sp->total;
    pthread_mutex_unlock(&sp->mu);
    return n;
}

srv_chunk *srv_spool_take(srv_spool *sp, int all) {
    pthread_mutex_lock(&sp->mu);
    srv_chunk *c = sp->head;
    if (c && (c != sp->tail || all)) {
        sp->head = c->next;
        if (!sp->head) sp->tail = NULL;
    } else {
        c = NULL;
    }
    pthread_mutex_unlock(&sp->mu);
    return c;
}

void srv_spool_free(srv_spool *sp) {
    if (!sp) return;
    for (srv_chunk *c = sp->head, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    pthread_mutex_destroy(&sp->mu);
    free(sp);
}


/* ---- Error bodies ------------------------------------------------------------------ */

lg_err srv_detail_json(lg_buf *b, const char *detail) {
    lg_err e = lg_buf_append(b, "{\"detail\":", 10);
    if (!e) e = lg_json_put_string(b, detail, strlen(detail) < 2048 ? strlen(detail) : 2048);
    if (!e) e = lg_buf_append(b, "}", 1);
    return e;
}
