/* server_pump.c - the front door stays between a kept-alive client and
 * libmicrohttpd, so that every request head on the connection, not only the
 * first, is checked before the library reads it (issue 14, item 9).
 *
 * Once the front door (server_front.c) has seen a good first head, the
 * client's socket stays with the front thread and the library gets one end
 * of a socketpair instead (MHD_add_connection with the client's address, so
 * its per-address limit still counts the client). The front thread pumps
 * bytes both ways in its epoll loop:
 *   - client -> library: the stream is parsed as the library reads it
 *     (srv_head_check for each head, srv_body_scan for Content-Length and
 *     chunked bodies, so body bytes are never taken for a head, pipelined
 *     requests included); good bytes pass unchanged, a partial head waits
 *     here (at most SRV_HEAD_MAX bytes) until it is complete and checked;
 *   - library -> client: bytes pass unchanged, unparsed.
 * A bad head (or bad chunk framing) is not passed on: the library's side is
 * shut for writing, so it answers the requests before it (it answers what it
 * has read after an end of input, then closes), and when it has closed and
 * its answers went out, the pump sends one HTTP/1.1 answer with a JSON
 * {"detail": ...} body and Connection: close, logged and counted as the
 * front door does. Bad chunk framing inside a body is answered that way only
 * if the library had sent nothing since that request's head (it may have
 * answered early, 401 / 413, or be streaming a long answer): one answer per
 * request, never two. After a request that closes the connection
 * (Connection: close; HTTP/1.0 without keep-alive) the rest of the input is
 * not passed on: the library closes after answering it.
 * Flow control: one read at a time per direction; while the other side does
 * not take it, that direction stops reading (memory per connection: at most
 * PUMP_READ + SRV_HEAD_MAX bytes each way). Ends of stream are passed on
 * (shutdown), so half-closing clients and the library's own lingering close
 * (server_direct.c) behave as on a plain socket; once the library's side
 * has ended and everything went out, the client's input is drained for at
 * most LINGER_S before the close (a close with unread input would reset
 * the connection and could destroy the answer). docs/server.md, "Bad
 * request heads", has the measured cost. */
#include "server/server_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUMP_READ (64u << 10) /* one read, either way */
#define LINGER_S 1.0          /* after the last answer: how long to drain input */
#define BUF_MAX (PUMP_READ + SRV_HEAD_MAX + 1024)

struct srv_pipe {
    srv_ep cep, mep; /* epoll tags: client socket, library socket */
    srv_pipe *prev, *next;
    int cfd, mfd;                  /* the client's socket; our end of the pair */
    uint32_t cev, mev;             /* epoll interests registered (0: not in the set) */
    struct sockaddr_storage addr;  /* the client's */
    srv_body body;                 /* where the client's stream stands */
    char *head;                    /* a head not complete yet (SRV_HEAD_MAX) */
    size_t head_len, scanned;
    lg_buf up, down;               /* bytes the other socket has not taken yet */
    size_t up_off, down_off;
    uint64_t down_since_head;      /* library bytes since the last head passed on */
    int c_eof, m_eof;              /* end of input seen: client, library */
    int m_shut;                    /* the library's side shut for writing */
    int m_gone;                    /* the library takes no more input (it closed) */
    int rejected, answered, body_error;
    srv_head_result bad;           /* rejected: what to answer */
    double t_bad;
    int lingering;                 /* all sent: draining the client's input */
    double deadline;               /* lingering: until */
    int dead;                      /* ended: freed after the current batch of events */
};

/* ---- Plumbing ------------------------------------------------------------------------ */

static int would_block(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

/* Sets fd's epoll interests to want (0: out of the set). */
static void watch(srv_front *f, int fd, srv_ep *ep, uint32_t *have, uint32_t want) {
    if (want == *have || fd < 0) return;
    struct epoll_event ev = {.events = want, .data.ptr = ep};
    if (!want) epoll_ctl(f->efd, EPOLL_CTL_DEL, fd, NULL);
    else epoll_ctl(f->efd, *have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    *have = want;
}

/* Closes both sockets (the library sees its side end). The memory goes
 * at srv_pump_reap: the batch of events being handled may hold another
 * event of the same pipe. */
static void pipe_free(srv_front *f, srv_pipe *p) {
    if (p->prev) p->prev->next = p->next;
    else f->pipes = p->next;
    if (p->next) p->next->prev = p->prev;
    f->n_pipes--;
    close(p->cfd); /* also leaves the epoll set */
    close(p->mfd);
    p->cfd = p->mfd = -1;
    lg_buf_free(&p->up);
    lg_buf_free(&p->down);
    free(p->head);
    p->head = NULL;
    p->dead = 1;
    p->prev = NULL;
    p->next = f->graveyard;
    f->graveyard = p;
}

void srv_pump_reap(srv_front *f) {
    while (f->graveyard) {
        srv_pipe *p = f->graveyard;
        f->graveyard = p->next;
        free(p);
    }
}

/* Writes what the buffer holds; 0, or -1 when the socket is gone. */
static int flush(int fd, lg_buf *b, size_t *off) {
    while (*off < b->len) {
        ssize_t k = send(fd, b->data + *off, b->len - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0) return would_block() ? 0 : -1;
        *off += (size_t)k;
    }
    lg_buf_free(b); /* idle connections hold no buffer */
    *off = 0;
    return 0;
}

/* Sends p[0..n) to fd after what b holds; what fd does not take now is kept
 * in b. Returns 0, or -1 when the socket is gone. */
static int pass(int fd, lg_buf *b, size_t *off, const char *data, size_t n) {
    if (!n) return 0;
    if (b->len == *off) {
        ssize_t k = send(fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && !would_block()) return -1;
        if (k > 0) {
            data += k;
            n -= (size_t)k;
        }
        if (!n) return 0;
    }
    if (!b->max) lg_buf_init(b, BUF_MAX);
    return lg_buf_append(b, data, n) ? -1 : 0; /* over the cap cannot happen: one read at a time */
}

/* ---- Client -> library ------------------------------------------------------------ */

static void reject(srv_pipe *p, const srv_head_result *r, int in_body) {
    p->rejected = 1;
    p->body_error = in_body;
    p->bad = *r;
    p->t_bad = lg_now();
}

/* Passes good bytes on towards the library (dropped when it is gone: its
 * end of stream follows). */
static void lib_gone(srv_pipe *p) {
    lg_buf_free(&p->up);
    p->up_off = 0;
    p->m_gone = 1; /* it closed: what it answered is still read, up to its end */
}

static void to_lib(srv_pipe *p, const char *data, size_t n) {
    if (!p->m_gone && pass(p->mfd, &p->up, &p->up_off, data, n)) lib_gone(p);
}

/* A head has been passed on: its body comes next. */
static void head_passed(srv_pipe *p, const srv_head_result *r) {
    srv_body_start(&p->body, r);
    p->down_since_head = 0;
}

/* The client's bytes b[0..n), in order. */
static void feed(lg_server *s, srv_pipe *p, const char *b, size_t n) {
    size_t i = 0, from = 0; /* b[from..i) checked, to pass on */
    srv_head_result r;
    srv_head_verdict v;
    while (i < n && !p->rejected) {
        if (p->body.st == SRV_BODY_REST) { /* the library closes after this request */
            to_lib(p, b + from, i - from);
            return;
        }
        if (p->body.st != SRV_BODY_NONE) {
            i += srv_body_scan(&p->body, b + i, n - i, &r, &v);
            if (v == SRV_HEAD_BAD) reject(p, &r, 1);
            continue;
        }
        if (!p->head_len) { /* a head starts here */
            size_t avail = n - i < SRV_HEAD_MAX ? n - i : SRV_HEAD_MAX, scanned = 0;
            v = srv_head_check(b + i, avail, s->o.max_upload, &scanned, &r);
            if (v == SRV_HEAD_OK) {
                i += r.len;
                head_passed(p, &r);
            } else if (v == SRV_HEAD_BAD) {
                reject(p, &r, 0);
            } else { /* not complete: kept here until it is */
                to_lib(p, b + from, i - from);
                if (!p->head && !(p->head = malloc(SRV_HEAD_MAX))) {
                    srv_head_result oom = {.status = 503};
                    snprintf(oom.detail, sizeof oom.detail, "connection: out of memory");
                    reject(p, &oom, 0);
                    return;
                }
                memcpy(p->head, b + i, n - i);
                p->head_len = n - i;
                p->scanned = scanned;
                return;
            }
            continue;
        }
        /* the rest of a head begun in an earlier read (from == i == 0 here) */
        size_t old = p->head_len, k = SRV_HEAD_MAX - old < n - i ? SRV_HEAD_MAX - old : n - i;
        memcpy(p->head + old, b + i, k);
        p->head_len += k;
        v = srv_head_check(p->head, p->head_len, s->o.max_upload, &p->scanned, &r);
        if (v == SRV_HEAD_PARTIAL) return;
        p->head_len = p->scanned = 0;
        if (v == SRV_HEAD_BAD) {
            reject(p, &r, 0);
            return;
        }
        to_lib(p, p->head, r.len);
        free(p->head); /* rare (a head over several reads): not kept for the next */
        p->head = NULL;
        head_passed(p, &r);
        i = from = r.len - old;
    }
    to_lib(p, b + from, i - from);
}

/* ---- Answers and ends -------------------------------------------------------------- */

/* The library has ended and its answers went out: our answer to the bad
 * head, when one is due. Returns -1 when the client is gone. */
static int answer_bad(lg_server *s, srv_pipe *p) {
    p->answered = 1;
    if (p->body_error && p->down_since_head) return 0; /* the library answered that request */
    char id[32];
    lg_buf out;
    lg_buf_init(&out, 4096);
    srv_bad_head_answer(s, p->bad.status, p->bad.detail, id, sizeof id, &out);
    srv_bad_head_log(s, &p->addr, id, &p->bad, out.len, lg_now() - p->t_bad);
    int gone = pass(p->cfd, &p->down, &p->down_off, out.data, out.len);
    lg_buf_free(&out);
    return gone;
}

/* Reads what the client has sent already and drops it, so that the close
 * sends a FIN, not a reset that could destroy the answer's end. */
static void drain_now(srv_pipe *p, char *scratch) {
    for (int i = 0; i < 16 && recv(p->cfd, scratch, PUMP_READ, MSG_DONTWAIT) > 0; i++) {}
}

/* After every event: passes ends of stream on, starts the linger, and sets
 * what to wait for. Returns -1 when the pipe is done (freed). */
static int settle(lg_server *s, srv_front *f, srv_pipe *p) {
    int up_empty = p->up.len == p->up_off, down_empty = p->down.len == p->down_off;
    /* nothing more for the library: the client ended, or a bad head */
    if (!p->m_shut && !p->m_gone && up_empty && (p->c_eof || p->rejected)) {
        shutdown(p->mfd, SHUT_WR);
        p->m_shut = 1;
    }
    if (p->m_eof && down_empty && !p->lingering) {
        if (p->rejected && !p->answered) {
            if (answer_bad(s, p)) {
                pipe_free(f, p);
                return -1;
            }
            down_empty = p->down.len == p->down_off;
        }
        if (down_empty) {
            shutdown(p->cfd, SHUT_WR);
            p->lingering = 1;
            p->deadline = lg_now() + LINGER_S;
        }
    }
    if (p->lingering && (p->c_eof || f->draining)) {
        if (!p->c_eof) drain_now(p, f->scratch);
        pipe_free(f, p);
        return -1;
    }
    uint32_t cw = 0, mw = 0;
    if (!p->c_eof && (p->lingering || (!p->rejected && !p->m_gone && up_empty))) cw |= EPOLLIN;
    if (!down_empty) cw |= EPOLLOUT;
    if (!p->m_eof && down_empty) mw |= EPOLLIN;
    if (!up_empty && !p->m_gone) mw |= EPOLLOUT;
    watch(f, p->cfd, &p->cep, &p->cev, cw);
    watch(f, p->mfd, &p->mep, &p->mev, mw);
    return 0;
}

/* ---- Events ----------------------------------------------------------------------------- */

static void client_event(lg_server *s, srv_front *f, srv_pipe *p, uint32_t events) {
    if (events & EPOLLOUT) {
        if (flush(p->cfd, &p->down, &p->down_off)) goto gone;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = recv(p->cfd, f->scratch, PUMP_READ, MSG_DONTWAIT);
        if (n < 0 && !would_block()) goto gone;
        if (n == 0) p->c_eof = 1;
        else if (n > 0 && !p->lingering && !p->rejected) feed(s, p, f->scratch, (size_t)n);
    }
    settle(s, f, p);
    return;
gone: /* reset by the client: the library sees its side close */
    pipe_free(f, p);
}

static void lib_event(lg_server *s, srv_front *f, srv_pipe *p, uint32_t events) {
    if ((events & EPOLLOUT) && !p->m_gone && flush(p->mfd, &p->up, &p->up_off)) lib_gone(p);
    if (!p->m_eof && p->down.len == p->down_off && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t n = recv(p->mfd, f->scratch, PUMP_READ, MSG_DONTWAIT);
        if (n <= 0 && (n == 0 || !would_block())) {
            p->m_eof = 1;
        } else if (n > 0) {
            p->down_since_head += (uint64_t)n;
            if (pass(p->cfd, &p->down, &p->down_off, f->scratch, (size_t)n)) {
                pipe_free(f, p);
                return;
            }
        }
    }
    settle(s, f, p);
}

void srv_pump_event(lg_server *s, srv_front *f, srv_ep *ep, uint32_t events) {
    srv_pipe *p = ep->owner;
    if (p->dead) return;
    if (ep->kind == SRV_EP_CLIENT) client_event(s, f, p, events);
    else lib_event(s, f, p, events);
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

int srv_pump_adopt(lg_server *s, srv_front *f, int cfd, const struct sockaddr_storage *addr, socklen_t alen) {
    int sv[2];
    srv_pipe *p = calloc(1, sizeof *p);
    if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
        free(p);
        return -1;
    }
    int one = 1; /* answers go out as the library writes them */
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->cep = (srv_ep){SRV_EP_CLIENT, p};
    p->mep = (srv_ep){SRV_EP_LIB, p};
    p->cfd = cfd;
    p->mfd = sv[0];
    p->addr = *addr;
    p->next = f->pipes;
    if (f->pipes) f->pipes->prev = p;
    f->pipes = p;
    f->n_pipes++;
    /* the client's socket is in the epoll set already (it was pending) */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->cep};
    epoll_ctl(f->efd, EPOLL_CTL_MOD, cfd, &ev);
    p->cev = EPOLLIN;
    watch(f, p->mfd, &p->mep, &p->mev, EPOLLIN);
    pthread_mutex_lock(&f->handover_mu);
    if (f->detached) close(sv[1]); /* stopping: the pipe ends at once */
    /* the library closes its end itself when it cannot take it (its limits):
     * the pump then sees the end and closes the client's socket */
    else lg_mhd()->add_connection(s->daemon, sv[1], (const struct sockaddr *)addr, alen);
    pthread_mutex_unlock(&f->handover_mu);
    return 0;
}

void srv_pump_sweep(srv_front *f, double now) {
    for (srv_pipe *p = f->pipes, *next; p; p = next) {
        next = p->next;
        if (p->lingering && now >= p->deadline) pipe_free(f, p);
    }
}

void srv_pump_drain(srv_front *f) {
    for (srv_pipe *p = f->pipes, *next; p; p = next) {
        next = p->next;
        if (!p->lingering) continue;
        if (!p->c_eof) drain_now(p, f->scratch);
        pipe_free(f, p);
    }
}

void srv_pump_close_all(srv_front *f) {
    while (f->pipes) pipe_free(f, f->pipes);
    srv_pump_reap(f);
}
