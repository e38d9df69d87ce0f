/* server_guard.c - the deadline for a complete request head (slowloris).
 *
 * libmicrohttpd's connection timeout is an idle timeout: any byte resets
 * it, so a client sending one header line every 2 s holds a connection
 * (and, in the default mode, a thread) for ever; 1,100 of them took
 * /healthz down (issue 14, item 6). The guard gives each connection a
 * deadline by which the head of its next request must be complete:
 *   - a new connection: now + head_timeout;
 *   - after a request completes (keep-alive): now + max(head_timeout,
 *     idle timeout), so an idle keep-alive client is still closed by the
 *     idle timeout as before, and a slow head after it is bounded too.
 * on_request's first call (the head is complete) lifts it. A watchdog
 * thread wakes 4 times a second and shuts the socket of each connection
 * past its deadline down (shutdown(2), never close: libmicrohttpd owns the
 * descriptor, sees the end of the stream and closes the connection itself).
 * Records are removed under the lock in the CLOSED notification, which
 * libmicrohttpd sends before it closes the descriptor, so the watchdog
 * never shuts down a descriptor that was reused. The per-address
 * connection limit is libmicrohttpd's own (MHD_OPTION_PER_IP_CONNECTION_LIMIT,
 * set in server.c). */
#include "server/server_internal.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct srv_conn {
    srv_conn *prev, *next;
    int fd;
    double deadline; /* lg_now() time; 0 = a request is being read or answered */
    int cut;         /* shut down already */
};

static double keepalive_wait(const srv_guard *g) {
    return g->head_timeout > g->idle_timeout ? g->head_timeout : g->idle_timeout;
}

static void *watchdog(void *arg) {
    srv_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        double now = lg_now();
        for (srv_conn *k = g->head; k; k = k->next) {
            if (k->cut || !k->deadline || now < k->deadline) continue;
            shutdown(k->fd, SHUT_RDWR);
            k->cut = 1;
            __atomic_add_fetch(&g->head_timeouts, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

lg_err srv_guard_start(srv_guard *g, double head_timeout, double idle_timeout, lg_errmsg *err) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->head = NULL;
    g->stop = 0;
    g->head_timeout = head_timeout;
    g->idle_timeout = idle_timeout;
    g->inited = 1;
    if (pthread_create(&g->thread, NULL, watchdog, g) != 0) return lg_fail(err, LG_EIO, "cannot start a thread");
    g->running = 1;
    return LG_OK;
}

void srv_guard_stop(srv_guard *g) {
    if (!g->inited) return;
    if (g->running) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
        g->running = 0;
    }
    pthread_mutex_lock(&g->mu); /* connections libmicrohttpd did not report closed */
    while (g->head) {
        srv_conn *k = g->head;
        g->head = k->next;
        free(k);
    }
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    g->inited = 0;
}

void srv_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
    srv_guard *g = &((lg_server *)cls)->guard;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = lg_mhd()->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        srv_conn *k = calloc(1, sizeof *k);
        if (!k || !ci) { /* unguarded: still under the idle timeout */
            free(k);
            *socket_context = NULL;
            return;
        }
        k->fd = ci->connect_fd;
        k->deadline = lg_now() + g->head_timeout;
        pthread_mutex_lock(&g->mu);
        k->next = g->head;
        if (g->head) g->head->prev = k;
        g->head = k;
        pthread_mutex_unlock(&g->mu);
        *socket_context = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        srv_conn *k = *socket_context;
        if (!k) return;
        pthread_mutex_lock(&g->mu);
        if (k->prev) k->prev->next = k->next;
        else g->head = k->next;
        if (k->next) k->next->prev = k->prev;
        pthread_mutex_unlock(&g->mu);
        free(k);
        *socket_context = NULL;
    }
}

static srv_conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = lg_mhd()->get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void srv_guard_head_done(srv_guard *g, struct MHD_Connection *c) {
    srv_conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&g->mu);
    k->deadline = 0;
    pthread_mutex_unlock(&g->mu);
}

void srv_guard_request_done(srv_guard *g, struct MHD_Connection *c) {
    srv_conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&g->mu);
    k->deadline = lg_now() + keepalive_wait(g);
    pthread_mutex_unlock(&g->mu);
}
