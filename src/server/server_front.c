/* server_front.c - the front door: our own accept loop in front of
 * libmicrohttpd, so that a bad request head is answered by us, with JSON,
 * before the library sees it (issue 14, item 9; the checks are in
 * server_head.c).
 *
 * One thread owns the listening socket and an epoll set. It accepts each
 * connection and waits for its first request head without taking it out of
 * the socket (recv with MSG_PEEK, at most SRV_HEAD_MAX bytes; SO_RCVLOWAT is
 * set one past what was seen, so that epoll wakes only when more has come,
 * and the search for the head's end resumes where it stopped). Then:
 *   - a complete, acceptable head: SO_RCVLOWAT back to 1 and the socket
 *     stays here, pumped to and from libmicrohttpd through a socketpair
 *     (server_pump.c: every later head on the connection is checked too);
 *     the library gets the other end (MHD_add_connection, with the client's
 *     address) and applies its own limits (connections in all, per address)
 *     as for a connection it accepted. A first request that closes the
 *     connection (Connection: close, HTTP/1.0) has no later head: the
 *     library gets the client's socket itself, as before the pump;
 *   - a bad head: one HTTP/1.1 response with a JSON {"detail": ...} body and
 *     Connection: close, counted in the metrics and the access log; the
 *     input is then drained for at most LINGER_S (a close with unread data
 *     would reset the connection and could destroy the answer);
 *   - no complete head within --head-timeout: the connection is closed and
 *     counted in logify_http_head_timeouts_total, as the guard
 *     (server_guard.c) does for the later heads of a keep-alive connection;
 *   - connections still waiting for their head are capped: at most
 *     --max-per-ip per client address (more are closed at once, as the
 *     library does at its own limit) and --max-connections in all (more get
 *     a 503 and are closed).
 * Stopping: srv_front_detach (no hand-over once the library is stopping),
 * then, after MHD_stop_daemon, srv_front_stop lets the pipes pass on what
 * the library wrote before it closed (at most DRAIN_S) and ends the thread. */
#define _GNU_SOURCE /* accept4 */
#include "server/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINGER_S 1.0  /* after a bad head's answer: how long to drain input */
#define TICK_MS 250   /* deadline sweep */
#define BACKLOG 1024
#define DRAIN_S 1.0   /* stopping: how long the pipes may take to pass the last answers on */
#define SCRATCH (64u << 10)

struct srv_pending {
    srv_ep ep;
    srv_pending *prev, *next;
    int fd;
    struct sockaddr_storage addr;
    socklen_t alen;
    double t0, deadline;
    size_t scanned; /* srv_head_check's resume point */
    int lingering;  /* answered: draining input until the client closes */
};

static srv_ep LISTEN_TAG = {SRV_EP_LISTEN, NULL}, WAKE_TAG = {SRV_EP_WAKE, NULL};

/* ---- The pending list ------------------------------------------------------------ */

static void unlink_pending(srv_front *f, srv_pending *p) {
    if (p->prev) p->prev->next = p->next;
    else f->head = p->next;
    if (p->next) p->next->prev = p->prev;
    f->n_pending--;
}

static void drop(srv_front *f, srv_pending *p) {
    unlink_pending(f, p);
    close(p->fd); /* also leaves the epoll set */
    free(p);
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16);
    return 0;
}

static void set_lowat(int fd, int n) { setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof n); }

/* ---- Answers ------------------------------------------------------------------------ */

/* Sends the whole answer (it fits an empty socket buffer: a few hundred
 * bytes), without waiting. Returns the bytes sent. */
static size_t send_answer(lg_server *s, int fd, unsigned status, const char *detail, char *id, size_t idcap) {
    lg_buf out;
    lg_buf_init(&out, 4096);
    srv_bad_head_answer(s, status, detail, id, idcap, &out);
    ssize_t k = out.len ? send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
    lg_buf_free(&out);
    return k > 0 ? (size_t)k : 0;
}

/* Answers a bad head, then drains what the client sends until it closes. */
static void reject(lg_server *s, srv_front *f, srv_pending *p, const srv_head_result *r) {
    char id[32];
    set_lowat(p->fd, 1);
    size_t out = send_answer(s, p->fd, r->status, r->detail, id, sizeof id);
    srv_bad_head_log(s, &p->addr, id, r, out, lg_now() - p->t0);
    shutdown(p->fd, SHUT_WR);
    p->lingering = 1;
    p->deadline = lg_now() + LINGER_S;
    (void)f;
}

/* ---- Events --------------------------------------------------------------------------- */

/* events: epoll's; EPOLLRDHUP / EPOLLHUP: the client will send no more. */
static void on_readable(lg_server *s, srv_front *f, srv_pending *p, uint32_t events) {
    char buf[SRV_HEAD_MAX];
    if (p->lingering) {
        ssize_t k;
        while ((k = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {}
        if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) drop(f, p);
        return;
    }
    ssize_t n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) { /* gone before its head was complete */
        drop(f, p);
        return;
    }
    srv_head_result r;
    switch (srv_head_check(buf, (size_t)n, s->o.max_upload, &p->scanned, &r)) {
    case SRV_HEAD_PARTIAL:
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) { /* half a head, and the client is done */
            drop(f, p);
            return;
        }
        set_lowat(p->fd, (int)n + 1);
        return;
    case SRV_HEAD_BAD: reject(s, f, p, &r); return;
    case SRV_HEAD_OK: break;
    }
    set_lowat(p->fd, 1);
    unlink_pending(f, p);
    if (r.close) { /* one request only: no later head to check, the library takes the socket */
        epoll_ctl(f->efd, EPOLL_CTL_DEL, p->fd, NULL);
        pthread_mutex_lock(&f->handover_mu);
        if (f->detached) close(p->fd);
        /* the library closes the socket itself when it cannot take it (its limits) */
        else lg_mhd()->add_connection(s->daemon, p->fd, (const struct sockaddr *)&p->addr, p->alen);
        pthread_mutex_unlock(&f->handover_mu);
    } else if (srv_pump_adopt(s, f, p->fd, &p->addr, p->alen)) {
        close(p->fd); /* out of memory or descriptors */
    }
    free(p);
}

static void accept_all(lg_server *s, srv_front *f) {
    for (;;) {
        srv_pending *p = calloc(1, sizeof *p);
        if (!p) { /* out of memory: close the client's connection rather than leave it
                   * waiting, with the (level-triggered) listener spinning on it */
            int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) return;
            close(fd);
            continue;
        }
        p->alen = sizeof p->addr;
        p->fd = accept4(f->lfd, (struct sockaddr *)&p->addr, &p->alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (p->fd < 0) {
            int e = errno;
            free(p);
            if (e == EINTR || e == ECONNABORTED) continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) { /* no spin: retry at the next tick */
                struct epoll_event ev = {.events = 0, .data.ptr = &LISTEN_TAG};
                epoll_ctl(f->efd, EPOLL_CTL_MOD, f->lfd, &ev);
                f->paused = 1;
            }
            return;
        }
        unsigned same = 0;
        for (srv_pending *q = f->head; q && same < s->o.max_per_ip; q = q->next)
            same += same_address(&q->addr, &p->addr);
        if (same >= s->o.max_per_ip) { /* as libmicrohttpd does at its per-address limit */
            close(p->fd);
            free(p);
            continue;
        }
        if (f->n_pending >= s->o.max_connections) {
            srv_head_result r = {.status = 503};
            snprintf(r.detail, sizeof r.detail, "too many connections waiting for their request head");
            char id[32];
            size_t out = send_answer(s, p->fd, r.status, r.detail, id, sizeof id);
            srv_bad_head_log(s, &p->addr, id, &r, out, 0);
            close(p->fd);
            free(p);
            continue;
        }
        p->t0 = lg_now();
        p->deadline = p->t0 + (double)s->o.head_timeout_s;
        p->ep = (srv_ep){SRV_EP_PENDING, p};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &p->ep};
        if (epoll_ctl(f->efd, EPOLL_CTL_ADD, p->fd, &ev)) {
            close(p->fd);
            free(p);
            continue;
        }
        p->next = f->head;
        if (f->head) f->head->prev = p;
        f->head = p;
        f->n_pending++;
    }
}

static void sweep(lg_server *s, srv_front *f) {
    double now = lg_now();
    for (srv_pending *p = f->head, *next; p; p = next) {
        next = p->next;
        if (now < p->deadline) continue;
        if (!p->lingering) __atomic_add_fetch(&s->guard.head_timeouts, 1, __ATOMIC_RELAXED);
        drop(f, p);
    }
    srv_pump_sweep(f, now);
    if (f->paused && f->lfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &LISTEN_TAG};
        epoll_ctl(f->efd, EPOLL_CTL_MOD, f->lfd, &ev);
        f->paused = 0;
    }
}

static void *front_loop(void *arg) {
    lg_server *s = arg;
    srv_front *f = &s->front;
    double next_sweep = lg_now() + TICK_MS / 1e3, drain_until = 0;
    for (;;) {
        if (!f->draining && __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
            /* the library has stopped: nothing to hand over any more; the
             * pipes pass on what it wrote before it closed */
            f->draining = 1;
            drain_until = lg_now() + DRAIN_S;
            while (f->head) drop(f, f->head);
            srv_pump_drain(f);
        }
        if (f->draining && (!f->pipes || lg_now() >= drain_until)) break;
        struct epoll_event evs[64];
        int n = epoll_wait(f->efd, evs, 64, f->draining ? 50 : TICK_MS);
        for (int i = 0; i < n; i++) {
            srv_ep *ep = evs[i].data.ptr;
            switch (ep->kind) {
            case SRV_EP_WAKE: {
                uint64_t v;
                if (read(f->wake, &v, sizeof v) < 0) {}
                break;
            }
            case SRV_EP_LISTEN:
                if (f->lfd >= 0 && !f->draining) accept_all(s, f);
                break;
            case SRV_EP_PENDING: on_readable(s, f, ep->owner, evs[i].events); break;
            default: srv_pump_event(s, f, ep, evs[i].events); /* an ended pipe stays until the reap */
            }
        }
        if (__atomic_load_n(&f->quiesce, __ATOMIC_ACQUIRE) && f->lfd >= 0) {
            close(f->lfd); /* no new connections; those with a head pending go on */
            f->lfd = -1;
        }
        if (lg_now() >= next_sweep) {
            sweep(s, f);
            next_sweep = lg_now() + TICK_MS / 1e3;
        }
        srv_pump_reap(f);
    }
    while (f->head) drop(f, f->head);
    srv_pump_close_all(f);
    return NULL;
}

/* ---- Lifecycle ------------------------------------------------------------------------- */

/* Each kept connection takes three descriptors (the client's socket and a
 * socketpair): raise the soft limit towards the hard one when the default
 * (often 1,024) would not hold --max-connections of them. */
static void raise_fd_limit(unsigned max_connections) {
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections * 3 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
        lg_log(LG_LOG_WARN, "open files limited to %llu: fewer than --max-connections %u kept connections "
               "(3 descriptors each) may be served", (unsigned long long)rl.rlim_cur, max_connections);
}

lg_err srv_front_start(lg_server *s, const struct addrinfo *ai, lg_errmsg *err) {
    srv_front *f = &s->front;
    raise_fd_limit(s->o.max_connections);
    f->lfd = f->efd = f->wake = -1;
    pthread_mutex_init(&f->handover_mu, NULL);
    f->inited = 1;
    if (!(f->scratch = malloc(SCRATCH))) {
        srv_front_stop(f);
        return lg_fail(err, LG_ENOMEM, "server front door: out of memory");
    }
    f->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (f->lfd < 0 || setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(f->lfd, ai->ai_addr, ai->ai_addrlen) || listen(f->lfd, BACKLOG)) {
        srv_front_stop(f);
        return lg_fail(err, LG_EIO, "cannot listen on %s:%u (address in use, or not allowed)", s->host,
                       (unsigned)s->o.port);
    }
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    if (!getsockname(f->lfd, (struct sockaddr *)&a, &al))
        f->port = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&a)->sin6_port
                                                : ((struct sockaddr_in *)(void *)&a)->sin_port);
    f->efd = epoll_create1(EPOLL_CLOEXEC);
    f->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = &LISTEN_TAG};
    struct epoll_event ew = {.events = EPOLLIN, .data.ptr = &WAKE_TAG};
    if (f->efd < 0 || f->wake < 0 || epoll_ctl(f->efd, EPOLL_CTL_ADD, f->lfd, &el) ||
        epoll_ctl(f->efd, EPOLL_CTL_ADD, f->wake, &ew) ||
        pthread_create(&f->thread, NULL, front_loop, s)) {
        srv_front_stop(f);
        return lg_fail(err, LG_EIO, "cannot start the accept thread");
    }
    f->running = 1;
    return LG_OK;
}

static void wake(srv_front *f) {
    uint64_t one = 1;
    if (f->wake >= 0 && write(f->wake, &one, sizeof one) < 0) {}
}

void srv_front_quiesce(srv_front *f) {
    if (!f->running) return;
    __atomic_store_n(&f->quiesce, 1, __ATOMIC_RELEASE);
    wake(f);
}

void srv_front_detach(srv_front *f) {
    if (!f->inited) return;
    pthread_mutex_lock(&f->handover_mu);
    f->detached = 1;
    pthread_mutex_unlock(&f->handover_mu);
}

void srv_front_stop(srv_front *f) {
    if (!f->inited) return;
    srv_front_detach(f);
    if (f->running) {
        __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
        wake(f);
        pthread_join(f->thread, NULL);
        f->running = 0;
    }
    if (f->lfd >= 0) close(f->lfd);
    if (f->efd >= 0) close(f->efd);
    if (f->wake >= 0) close(f->wake);
    f->lfd = f->efd = f->wake = -1;
    free(f->scratch);
    f->scratch = NULL;
    pthread_mutex_destroy(&f->handover_mu);
    f->inited = 0;
}
