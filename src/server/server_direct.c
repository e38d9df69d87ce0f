/* server_direct.c - answers that go out while the request body is still
 * being read, so that the server's memory stays flat however large the
 * upload (POST /classify/, POST /v1/classify/stream).
 *
 * libmicrohttpd starts a response only before the body or after all of it
 * (MHD_queue_response fails in between), which would hold the whole answer
 * in memory. In thread-per-connection mode the request's thread is the only
 * one that touches its socket, so once an answer outgrows the hold size
 * (--hold, 4 MiB by default) this file writes the HTTP/1.1 response itself
 * on that socket: a 200 head with chunked encoding and Connection: close,
 * then each finished spool chunk as an HTTP chunk, without ever waiting
 * while the body is still coming (send with MSG_DONTWAIT). A client that
 * reads while it sends (curl, Go, hyper) takes the answer as it is made;
 * one that reads only after sending (Python's http.client) leaves it in
 * the spool, as before, and nothing deadlocks. When the body ends the rest
 * is sent, waiting for the client at most --timeout per stall; then the
 * handler returns MHD_NO, so libmicrohttpd closes the connection without
 * answering again.
 *
 * Smaller answers, the other modes (poll/epoll: one thread serves many
 * sockets and may not block) and HTTP/1.0 clients keep the held answer.
 * The price of going early: the status is 200 before the end of the body
 * is seen. A failure found later (a malformed row past the hold size, too
 * many rows) cuts the answer off without its last chunk, which every HTTP
 * client reports as an incomplete transfer (curl: exit 18), after an NDJSON
 * answer's own last line {"detail": ...}; docs/server.md. An NDJSON upload
 * answer asked with ?cut=0 (the console) ends properly after that line
 * instead: a browser's fetch throws away what its script has not read yet
 * when the transfer breaks, and the reason would be lost with it. */
#include "server/server_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#define SRV_DEFAULT_HOLD (4u << 20)
#define LINGER_MS 1000 /* after the last byte: how long to wait for the client's close */

typedef enum { DX_OPEN = 0, DX_OK, DX_CUT, DX_GONE, DX_STALLED } dx_end;

/* The piece being written: up to three parts (chunk size line, data, CRLF)
 * and how much of them went out. */
typedef struct srv_direct {
    MHD_socket fd;
    srv_chunk *chunk; /* owned while it is being sent */
    char head[512];   /* the response head, a chunk size line or the last chunk */
    struct iovec part[3];
    int nparts;
    size_t left; /* bytes of the parts not yet sent */
    dx_end end;
    int noted; /* the failure's reason is in the answer */
} srv_direct;

/* ---- Writing -------------------------------------------------------------------- */

static void set_piece(srv_direct *d, const char *a, size_t alen, const char *b, size_t blen,
                      const char *c, size_t clen) {
    d->nparts = 0;
    d->left = 0;
    const char *p[3] = {a, b, c};
    size_t n[3] = {alen, blen, clen};
    for (int i = 0; i < 3; i++) {
        if (!n[i]) continue;
        d->part[d->nparts].iov_base = (void *)p[i];
        d->part[d->nparts].iov_len = n[i];
        d->nparts++;
        d->left += n[i];
    }
}

/* Drops k sent bytes from the front of the parts. */
static void advance(srv_direct *d, size_t k) {
    d->left -= k;
    int i = 0;
    while (k && i < d->nparts) {
        size_t m = k < d->part[i].iov_len ? k : d->part[i].iov_len;
        d->part[i].iov_base = (char *)d->part[i].iov_base + m;
        d->part[i].iov_len -= m;
        k -= m;
        if (!d->part[i].iov_len) i++;
    }
    if (i) {
        memmove(d->part, d->part + i, (size_t)(d->nparts - i) * sizeof *d->part);
        d->nparts -= i;
    }
}

/* Writes the current piece. wait_ms < 0: only what the socket takes now;
 * else wait up to wait_ms for each stall. Returns 1 when the piece is out,
 * 0 when the socket is full (not waiting), -1 when the client is gone or
 * stalled past the wait (d->end says which). */
static int write_piece(srv_direct *d, int wait_ms) {
    while (d->left) {
        struct msghdr m = {0};
        m.msg_iov = d->part;
        m.msg_iovlen = (size_t)d->nparts;
        ssize_t k = sendmsg(d->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0) {
            advance(d, (size_t)k);
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_ms < 0) return 0;
            struct pollfd p = {.fd = d->fd, .events = POLLOUT};
            int r = poll(&p, 1, wait_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) {
                d->end = DX_STALLED;
                return -1;
            }
            if (r > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL))) continue;
        }
        d->end = DX_GONE;
        return -1;
    }
    return 1;
}

/* The piece is out: forget it. */
static void piece_done(srv_direct *d) {
    free(d->chunk);
    d->chunk = NULL;
    d->nparts = 0;
}

/* Sends spool chunks as HTTP chunks: the full ones, or all when final or
 * when the spool is filled on this thread (an eager stream: the last chunk
 * cannot grow behind our back). Waits for the client only when final.
 * Returns 0 (everything possible sent, or the socket is full and we do not
 * wait), -1 when the client is gone. */
static int pump(lg_server *s, srv_req *rq, int final) {
    srv_direct *d = rq->dx;
    int wait_ms = final ? (int)s->o.timeout_s * 1000 : -1;
    int all = final || rq->eager;
    for (;;) {
        if (d->left) {
            int r = write_piece(d, wait_ms);
            if (r <= 0) return r;
            piece_done(d);
        }
        srv_chunk *ch = srv_spool_take(rq->spool, all);
        if (!ch) return 0;
        if (!ch->len) {
            free(ch);
            continue;
        }
        d->chunk = ch;
        int n = snprintf(d->head, sizeof d->head, "%zx\r\n", ch->len);
        set_piece(d, d->head, (size_t)n, ch->data, ch->len, "\r\n", 2);
        rq->bytes_out += ch->len;
    }
}

/* Writes the 200 head; from here on the answer is ours to send. */
static int commit(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    const union MHD_ConnectionInfo *ci =
        lg_mhd()->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd == MHD_INVALID_SOCKET) return -1;
    srv_direct *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->fd = ci->connect_fd;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int n = snprintf(d->head, sizeof d->head,
                     "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: %s\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\nX-Request-Id: %s\r\n\r\n",
                     date, rq->ctype ? rq->ctype : "application/octet-stream", rq->id);
    if (n < 0 || (size_t)n >= sizeof d->head) {
        free(d);
        return -1;
    }
    set_piece(d, d->head, (size_t)n, NULL, 0, NULL, 0);
    rq->dx = d;
    rq->status = 200;
    return 0;
}

/* ---- Entry points ------------------------------------------------------------------ */

static int is_ndjson(const srv_req *rq) { return rq->ctype && strstr(rq->ctype, "ndjson"); }

/* A failure after the head went out: an NDJSON answer gets the reason as
 * its last line at once (after every line before the bad one), so that a
 * live stream's client sees it without waiting for the end of its body. */
static void note_failure(srv_req *rq) {
    srv_direct *d = rq->dx;
    if (d->noted || !is_ndjson(rq)) return;
    d->noted = 1;
    lg_buf b;
    lg_buf_init(&b, 4096);
    lg_err e = srv_detail_json(&b, rq->fail_detail);
    if (!e) e = lg_buf_putc(&b, '\n');
    if (!e) srv_spool_append(rq->spool, b.data, b.len); /* over the cap: the cut says enough */
    lg_buf_free(&b);
}

int srv_direct_progress(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    if (!rq->spool) return 0;
    if (!rq->dx) {
        if (rq->discard) return 0;
        size_t hold = s->o.hold ? s->o.hold : SRV_DEFAULT_HOLD;
        size_t held = srv_spool_total(rq->spool);
        if (s->o.mode != LG_HTTP_THREAD_PER_CONN || !rq->http11 || !held ||
            (held <= hold && !rq->eager))
            return 0;
        if (commit(s, c, rq)) return 0; /* keep holding: answered at the end */
    }
    if (rq->discard) note_failure(rq);
    return pump(s, rq, 0) < 0 ? -1 : 0;
}

/* After the last byte: no more writes from us; give the client a moment to
 * close first, so that closing our end cannot reset a connection whose
 * answer it is still reading. */
static void linger(srv_direct *d) {
    shutdown(d->fd, SHUT_WR);
    double until = lg_now() + LINGER_MS / 1e3;
    char sink[4096];
    for (;;) {
        int ms = (int)((until - lg_now()) * 1e3);
        if (ms <= 0) return;
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        ssize_t k = recv(d->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) return;
    }
}

enum MHD_Result srv_direct_finish(lg_server *s, srv_req *rq) {
    srv_direct *d = rq->dx;
    if (pump(s, rq, 1) == 0) {
        set_piece(d, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
        if (write_piece(d, (int)s->o.timeout_s * 1000) == 1) {
            d->end = DX_OK;
            linger(d);
        }
    }
    if (d->end == DX_STALLED)
        lg_log(LG_LOG_WARN, "request %s: client stopped reading the answer for %u s: dropped",
               rq->id, s->o.timeout_s);
    return MHD_NO;
}

enum MHD_Result srv_direct_cut(lg_server *s, srv_req *rq) {
    srv_direct *d = rq->dx;
    rq->status = rq->fail_status ? rq->fail_status : 500;
    lg_log(LG_LOG_WARN, "request %s: answer cut off after %llu bytes: %u %s", rq->id,
           (unsigned long long)rq->bytes_out, rq->status, rq->fail_detail);
    /* An NDJSON answer holds whole lines and ends with the reason: send it
     * all. A CSV answer has no place for a reason: only the piece on the
     * wire is finished (a partial chunk would garble what the client
     * keeps). */
    note_failure(rq);
    if (is_ndjson(rq) && rq->end_on_detail) { /* the last line says it failed */
        if (pump(s, rq, 1) == 0) {
            set_piece(d, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
            if (write_piece(d, (int)s->o.timeout_s * 1000) == 1) linger(d);
        }
    } else if (is_ndjson(rq)) {
        pump(s, rq, 1);
    } else if (d->left) {
        write_piece(d, (int)s->o.timeout_s * 1000);
    }
    d->end = DX_CUT;
    return MHD_NO;
}

void srv_direct_free(srv_req *rq) {
    srv_direct *d = rq->dx;
    if (!d) return;
    free(d->chunk);
    free(d);
    rq->dx = NULL;
}

const char *srv_direct_end(const srv_req *rq) {
    if (!rq->dx) return NULL;
    switch (rq->dx->end) {
    case DX_OK: return "ok";
    case DX_CUT: return "cut";
    case DX_STALLED: return "timeout";
    default: return rq->discard ? "cut" : "client-abort"; /* hung up on an oversized body */
    }
}
