/* server_jobs.c - background jobs of the console (docs/console.md):
 *   POST /v1/jobs/cluster   body: a CSV (log_message, optional source and
 *                           target_label) -> 202 {"id", "state": "running"}
 *   GET  /v1/jobs/ID        {"id", "kind", "state": running|done|failed|
 *                           canceled, "phase", "done", "total", "seconds",
 *                           "rows"} + "result" (the cluster report, when
 *                           done) or "error" (when failed)
 *   DELETE /v1/jobs/ID      a running job: asked to stop -> 202 {"id",
 *                           "state": "canceling"}; its next progress call
 *                           (every block, batch, iteration or epoch of each
 *                           phase) stops it, its thread frees the input and
 *                           every array of the analysis and ends, the job
 *                           reads "canceled" and its slot is free for a new
 *                           one. A finished job: removed with its result ->
 *                           200 {"id", "state": "deleted"}; then 404.
 * The clustering itself is the caller's function (lg_server_opts.cluster_fn:
 * `logify serve` passes src/cluster's report; the server folder does not
 * use the cluster folder). At most SRV_JOBS_MAX jobs are kept: a new one
 * takes a free slot or that of the oldest finished job; with every slot
 * running it is 503. Each job runs on its own thread; lg_server_free waits
 * for them. Job ids are 128 random bits. */
#include "server/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define JOB_RESULT_MAX ((size_t)512 << 20)

/* ---- Slots ---------------------------------------------------------------------- */

static int job_progress(void *user, const char *phase, size_t done, size_t total) {
    srv_job *j = user;
    pthread_mutex_lock(&j->s->jobs_mu);
    snprintf(j->phase, sizeof j->phase, "%s", phase);
    j->done = done;
    j->total = total;
    pthread_mutex_unlock(&j->s->jobs_mu);
    return __atomic_load_n(&j->cancel, __ATOMIC_ACQUIRE);
}

static void *job_main(void *arg) {
    srv_job *j = arg;
    lg_server *s = j->s;
    lg_buf out;
    lg_buf_init(&out, JOB_RESULT_MAX);
    lg_errmsg err = {{0}};
    lg_err e = s->o.cluster_fn(s->o.cluster_user, j->input, j->input_len, job_progress, j, &out,
                               &err);
    pthread_mutex_lock(&s->jobs_mu);
    free(j->input);
    j->input = NULL;
    j->t1 = lg_now();
    if (e == LG_ECANCELED || (e && __atomic_load_n(&j->cancel, __ATOMIC_ACQUIRE))) {
        j->state = SRV_JOB_CANCELED;
        lg_buf_free(&out);
    } else if (e) {
        j->state = SRV_JOB_FAILED;
        snprintf(j->error, sizeof j->error, "%s", err.msg[0] ? err.msg : lg_strerror(e));
        lg_buf_free(&out);
    } else {
        j->state = SRV_JOB_DONE;
        j->result = out;
    }
    pthread_mutex_unlock(&s->jobs_mu);
#ifdef __GLIBC__
    malloc_trim(0); /* the analysis' arrays go back to the system, not only to malloc */
#endif
    return NULL;
}

/* A slot for a new job (locked): a free one, else the oldest finished one
 * (joined and emptied); NULL when every slot is running. */
static srv_job *take_slot(lg_server *s) {
    srv_job *best = NULL;
    for (size_t i = 0; i < SRV_JOBS_MAX; i++) {
        srv_job *j = &s->jobs[i];
        if (!j->used) return j;
        if (j->state != SRV_JOB_RUNNING && (!best || j->t1 < best->t1)) best = j;
    }
    if (best) {
        pthread_join(best->thread, NULL); /* finished: returns at once */
        lg_buf_free(&best->result);
        memset(best, 0, sizeof *best);
    }
    return best;
}

void srv_jobs_free(lg_server *s) {
    for (size_t i = 0; i < SRV_JOBS_MAX; i++) /* every running job stops at its next step */
        if (s->jobs[i].used) __atomic_store_n(&s->jobs[i].cancel, 1, __ATOMIC_RELEASE);
    for (size_t i = 0; i < SRV_JOBS_MAX; i++) {
        srv_job *j = &s->jobs[i];
        if (!j->used) continue;
        pthread_join(j->thread, NULL);
        lg_buf_free(&j->result);
        free(j->input);
        memset(j, 0, sizeof *j);
    }
}

/* ---- GET /v1/jobs/ID ------------------------------------------------------------ */

static enum MHD_Result answer_job(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                  const char *id) {
    lg_buf b;
    lg_buf_init(&b, JOB_RESULT_MAX + 4096);
    static const char *const states[] = {"running", "done", "failed", "canceled"};
    int found = 0;
    lg_err e = LG_OK;
    pthread_mutex_lock(&s->jobs_mu);
    for (size_t i = 0; i < SRV_JOBS_MAX && !found; i++) {
        srv_job *j = &s->jobs[i];
        if (!j->used || strcmp(j->id, id)) continue;
        found = 1;
        double secs = (j->state == SRV_JOB_RUNNING ? lg_now() : j->t1) - j->t0;
        e = lg_buf_printf(&b,
                          "{\"id\":\"%s\",\"kind\":\"cluster\",\"state\":\"%s\",\"phase\":\"%s\","
                          "\"done\":%zu,\"total\":%zu,\"seconds\":%.3f,\"rows\":%zu",
                          j->id, states[j->state], j->phase, j->done, j->total, secs, j->rows);
        if (!e && j->state == SRV_JOB_FAILED) {
            e = lg_buf_append(&b, ",\"error\":", 9);
            if (!e) e = lg_json_put_string(&b, j->error, strlen(j->error));
        }
        if (!e && j->state == SRV_JOB_DONE) {
            e = lg_buf_append(&b, ",\"result\":", 10);
            if (!e) e = lg_buf_append(&b, j->result.data, j->result.len);
        }
        if (!e) e = lg_buf_putc(&b, '}');
    }
    pthread_mutex_unlock(&s->jobs_mu);
    enum MHD_Result ret;
    if (!found) ret = srv_respond_detail(s, c, rq, 404, "no such job (finished jobs are kept "
                                                        "until newer ones need their slot)");
    else if (e) ret = srv_respond_detail(s, c, rq, 500, "Internal Server Error");
    else ret = srv_respond(s, c, rq, 200, "application/json", b.data, b.len);
    lg_buf_free(&b);
    return ret;
}

/* ---- DELETE /v1/jobs/ID ---------------------------------------------------------- */

static enum MHD_Result delete_job(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                  const char *id) {
    int found = 0, status = 200;
    pthread_mutex_lock(&s->jobs_mu);
    for (size_t i = 0; i < SRV_JOBS_MAX && !found; i++) {
        srv_job *j = &s->jobs[i];
        if (!j->used || strcmp(j->id, id)) continue;
        found = 1;
        if (j->state == SRV_JOB_RUNNING) { /* its thread stops, frees and ends */
            __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
            status = 202;
        } else { /* finished: joined at once, its result freed, the slot emptied */
            pthread_join(j->thread, NULL);
            lg_buf_free(&j->result);
            memset(j, 0, sizeof *j);
        }
    }
    pthread_mutex_unlock(&s->jobs_mu);
    if (!found) return srv_respond_detail(s, c, rq, 404, "no such job (finished jobs are kept "
                                                          "until newer ones need their slot)");
    char body[96];
    int n = snprintf(body, sizeof body, "{\"id\":\"%.32s\",\"state\":\"%s\"}", id,
                     status == 202 ? "canceling" : "deleted");
    return srv_respond(s, c, rq, status, "application/json", body, (size_t)n);
}

/* ---- POST /v1/jobs/cluster ---------------------------------------------------------- */

typedef struct {
    lg_buf body;
} job_post;

enum MHD_Result srv_jobs_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                               const char *url, const char *method) {
    const char *rest = url + strlen("/v1/jobs/");
    int post = !strcmp(method, "POST");
    if (!strcmp(rest, "cluster")) {
        if (!post) return srv_respond_detail(s, c, rq, 405, "Method Not Allowed");
        if (!s->o.cluster_fn)
            return srv_respond_detail(s, c, rq, 501, "this server has no clustering");
        job_post *p = calloc(1, sizeof *p);
        if (!p) return MHD_NO;
        lg_buf_init(&p->body, s->o.max_upload);
        rq->state = p;
        rq->handler = SRV_H_JOB;
        return MHD_YES;
    }
    if (post) return srv_respond_detail(s, c, rq, 405, "Method Not Allowed");
    if (!strcmp(method, "DELETE")) return delete_job(s, c, rq, rest);
    return answer_job(s, c, rq, rest);
}

void srv_jobs_feed(lg_server *s, srv_req *rq, const char *data, size_t len) {
    (void)s;
    job_post *p = rq->state;
    if (lg_buf_append(&p->body, data, len))
        srv_req_fail(rq, 413, "request body larger than %zu bytes", p->body.max);
}

enum MHD_Result srv_jobs_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    job_post *p = rq->state;
    if (rq->discard) return srv_respond_detail(s, c, rq, rq->fail_status, rq->fail_detail);
    if (!p->body.len) return srv_respond_detail(s, c, rq, 400, "empty body: send the CSV rows");
    size_t rows = 0;
    for (size_t i = 0; i < p->body.len; i++) rows += p->body.data[i] == '\n';
    pthread_mutex_lock(&s->jobs_mu);
    srv_job *j = take_slot(s);
    if (!j) {
        pthread_mutex_unlock(&s->jobs_mu);
        char d[96];
        snprintf(d, sizeof d, "%d jobs are running already; retry later", SRV_JOBS_MAX);
        return srv_respond_detail(s, c, rq, 503, d);
    }
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        pthread_mutex_unlock(&s->jobs_mu);
        return srv_respond_detail(s, c, rq, 500, "Internal Server Error");
    }
    for (int i = 0; i < 16; i++) snprintf(j->id + 2 * i, 3, "%02x", rnd[i]);
    j->s = s;
    j->used = 1;
    j->state = SRV_JOB_RUNNING;
    snprintf(j->phase, sizeof j->phase, "queued");
    j->t0 = lg_now();
    j->rows = rows ? rows - 1 : 0; /* lines after the header (a quoted newline counts too) */
    j->input = p->body.data;
    j->input_len = p->body.len;
    lg_buf_init(&j->result, 0);
    p->body.data = NULL;
    p->body.len = p->body.cap = 0;
    if (pthread_create(&j->thread, NULL, job_main, j)) {
        free(j->input);
        memset(j, 0, sizeof *j);
        pthread_mutex_unlock(&s->jobs_mu);
        return srv_respond_detail(s, c, rq, 503, "cannot start a job thread; retry later");
    }
    char body[128];
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"state\":\"running\"}", j->id);
    pthread_mutex_unlock(&s->jobs_mu);
    return srv_respond(s, c, rq, 202, "application/json", body, (size_t)n);
}

void srv_jobs_post_free(srv_req *rq) {
    job_post *p = rq->state;
    if (!p) return;
    lg_buf_free(&p->body);
    free(p);
    rq->state = NULL;
}
