/* server_classify.c - the three classify endpoints:
 *   POST /classify/            multipart upload of a CSV (the prototype's);
 *                              bytes go through lg_job as they arrive
 *   POST /v1/classify          {"logs": [{source, log_message}]} ->
 *                              {"results": [{label, stage, confidence, detail}]}
 *   POST /v1/classify/stream   NDJSON in, NDJSON out (chunked), batches of
 *                              STREAM_BATCH records classified as lines arrive
 * Each one classifies while the body arrives and holds only its answer
 * (srv_spool) until the body ends; errors become FastAPI-shaped bodies
 * ({"detail": ...}) with no internals: those go to the log under the
 * request id. */
#include "server/server_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logify/job.h"
#include "logify/jsonguard.h"
#include "logify/templates.h"
#include "server/server_json.h"

#define STREAM_BATCH 256
#define STREAM_MAX_LINE (1u << 20)
#define JSON_BATCH 1024
#define POST_BUFFER (64u << 10)

/* The answer may be larger than the request (labels, quoting, JSON keys). */
static size_t answer_cap(const lg_server *s) { return s->o.max_upload * 2 + (1u << 20); }

/* A failure inside the engine: the client sees a generic 500, the log the
 * detail. */
static void fail_internal(srv_req *rq, const char *what, const char *msg) {
    lg_log(LG_LOG_ERROR, "request %s: %s: %s", rq->id, what, msg);
    srv_req_fail(rq, 500, "Internal Server Error");
}

/* Answers a remembered failure. */
static enum MHD_Result answer_failure(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    if (rq->dx) return srv_direct_cut(s, rq); /* the head went out already */
    if (rq->fail_status == 422) /* fail_detail already holds the JSON list */
        return srv_respond(s, c, rq, 422, "application/json", rq->fail_detail,
                           strlen(rq->fail_detail));
    return srv_respond_detail(s, c, rq, rq->fail_status, rq->fail_detail);
}

/* FastAPI/pydantic's 422 body for a missing or mistyped field. */
static void fail_validation(srv_req *rq, const char *loc, const char *type, const char *msg) {
    if (rq->discard) return;
    rq->discard = 1;
    rq->fail_status = 422;
    snprintf(rq->fail_detail, sizeof rq->fail_detail,
             "{\"detail\":[{\"type\":\"%s\",\"loc\":[%s],\"msg\":\"%s\"}]}", type, loc, msg);
}

/* ---- POST /classify/ ---------------------------------------------------------- */

typedef struct {
    lg_server *s;
    srv_req *rq;
    struct MHD_PostProcessor *pp;
    lg_job *job;
    lg_pset *set;    /* the pipeline set the job runs on (held until freed) */
    srv_spool *spool;
    int file_seen;   /* a part named "file" with a filename */
    int file_closed; /* that part ended (a later "file" part is ignored) */
    int in_file;
    /* ?format=jsonl, ?explain=1, ?templates=1: the answer `logify classify
     * --format jsonl --explain --templates` writes (the console's table and
     * downloads); without them the prototype's CSV */
    lg_out_format format;
    int explain, templates;
    /* with explain or templates: a fresh miner of this request's own, so
     * that its template ids are the CLI's for the same file (the server's
     * miner, which has seen other requests, still counts novelty) */
    struct lg_tpl_miner *own;
} upload_state;

static lg_err upload_sink(void *user, const char *data, size_t len, lg_errmsg *err) {
    upload_state *u = user;
    lg_err e = srv_spool_append(u->spool, data, len);
    if (e == LG_ELIMIT) return lg_fail(err, e, "answer larger than %zu bytes", u->spool->max);
    if (e) return lg_fail(err, e, "upload: spooling the answer: out of memory");
    return LG_OK;
}

static void upload_job_error(srv_req *rq, lg_err e, const char *msg) {
    switch (e) {
    case LG_ENOTFOUND:
        srv_req_fail(rq, 400, "CSV must contain 'source' and 'log_message' columns. %s", msg);
        break;
    case LG_EPARSE: srv_req_fail(rq, 400, "Malformed CSV: %s", msg); break;
    case LG_ELIMIT: srv_req_fail(rq, 413, "%s", msg); break;
    default: fail_internal(rq, "classify", msg);
    }
}

static int ends_with_csv(const char *name) {
    size_t n = strlen(name);
    return n >= 4 && !strcasecmp(name + n - 4, ".csv");
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size) {
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    upload_state *u = cls;
    srv_req *rq = u->rq;
    if (rq->discard) return MHD_YES;
    if (!key && errno == ENOMEM) { /* the library's copy of the part's name failed */
        fail_internal(rq, "upload", "upload: a part's name: out of memory");
        return MHD_YES;
    }
    if (!key || strcmp(key, "file")) { /* other form fields are ignored */
        u->in_file = 0;
        return MHD_YES;
    }
    if (off == 0) { /* a new "file" part */
        if (u->file_seen) u->file_closed = 1;
        if (u->file_closed) return MHD_YES;
        if (!filename && errno == ENOMEM) { /* the library's copy of the file name failed */
            fail_internal(rq, "upload", "upload: a file name: out of memory");
            return MHD_YES;
        }
        if (!filename) {
            fail_validation(rq, "\"body\",\"file\"", "value_error",
                            "Expected UploadFile, received: <class 'str'>");
            return MHD_YES;
        }
        u->file_seen = 1;
        if (!ends_with_csv(filename)) {
            srv_req_fail(rq, 400, "File must be a CSV.");
            return MHD_YES;
        }
        lg_job_opts jo = {0};
        u->set = lg_live_acquire(u->s->live);
        jo.pipeline = lg_pset_pipeline(u->set);
        jo.format = u->format;
        jo.explain = u->explain;
        jo.threads = 2; /* parse on this thread, classify + write on a second */
        jo.max_rows = u->s->o.max_rows;
        jo.sink = upload_sink;
        jo.sink_user = u;
        jo.templates = u->s->templates; /* counted; a column with --templates */
        jo.templates_lock = &u->s->templates_mu;
        jo.template_column = u->s->o.template_ids;
        lg_errmsg err = {{0}};
        if (u->explain || u->templates) { /* as the CLI: --explain carries template_id */
            if (lg_tpl_miner_new(NULL, &u->own, &err)) {
                fail_internal(rq, "upload", err.msg);
                return MHD_YES;
            }
            jo.templates = u->own;
            jo.templates_lock = NULL;
            jo.novelty = u->s->templates;
            jo.novelty_lock = &u->s->templates_mu;
            jo.template_column = 1;
        }
        if (!(u->spool = srv_spool_new(answer_cap(u->s)))) {
            fail_internal(rq, "upload", "upload: the answer spool: out of memory");
            return MHD_YES;
        }
        rq->spool = u->spool;
        rq->ctype = u->format == LG_OUT_JSONL ? "application/x-ndjson" : "text/csv; charset=utf-8";
        if (lg_job_new(&jo, &u->job, &err)) {
            fail_internal(rq, "upload", err.msg);
            return MHD_YES;
        }
    }
    if (u->file_closed || !u->job || !size) return MHD_YES;
    lg_errmsg err = {{0}};
    lg_err e = lg_job_feed(u->job, data, size, &err);
    if (e) upload_job_error(rq, e, err.msg);
    return MHD_YES;
}

enum MHD_Result srv_upload_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    upload_state *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    u->s = s;
    u->rq = rq;
    rq->state = u;
    const char *fmt = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *ex = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "explain");
    const char *tp = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "templates");
    const char *cut = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cut");
    if (fmt && strcmp(fmt, "csv") && strcmp(fmt, "jsonl"))
        srv_req_fail(rq, 400, "format must be csv or jsonl");
    else if ((ex && strcmp(ex, "0") && strcmp(ex, "1")) || (tp && strcmp(tp, "0") && strcmp(tp, "1")) ||
             (cut && strcmp(cut, "0") && strcmp(cut, "1")))
        srv_req_fail(rq, 400, "explain, templates and cut must be 0 or 1");
    u->format = fmt && !strcmp(fmt, "jsonl") ? LG_OUT_JSONL : LG_OUT_CSV;
    u->explain = ex && !strcmp(ex, "1");
    u->templates = tp && !strcmp(tp, "1");
    rq->end_on_detail = cut && !strcmp(cut, "0");
    errno = 0;
    u->pp = lg_mhd()->create_post_processor(c, POST_BUFFER, post_iter, u);
    if (!u->pp && errno == ENOMEM) /* its buffer could not be allocated */
        fail_internal(rq, "upload", "upload: the form parser: out of memory");
    else if (!u->pp) /* not multipart/form-data: no "file" field can be there */
        fail_validation(rq, "\"body\",\"file\"", "missing", "Field required");
    return MHD_YES;
}

void srv_upload_feed(lg_server *s, srv_req *rq, const char *data, size_t len) {
    (void)s;
    upload_state *u = rq->state;
    errno = 0; /* libmicrohttpd's parser allocates (names); ENOMEM below is its failure */
    if (!u->pp || lg_mhd()->post_process(u->pp, data, len) == MHD_YES) return;
    if (errno == ENOMEM) fail_internal(rq, "upload", "upload: the form parser: out of memory");
    else srv_req_fail(rq, 400, "Malformed multipart/form-data body");
}

enum MHD_Result srv_upload_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    upload_state *u = rq->state;
    if (u->pp) { /* flushes the last bytes into the iterator */
        if (lg_mhd()->destroy_post_processor(u->pp) != MHD_YES)
            srv_req_fail(rq, 400, "Malformed multipart/form-data body");
        u->pp = NULL;
    }
    if (!rq->discard && !u->file_seen)
        fail_validation(rq, "\"body\",\"file\"", "missing", "Field required");
    if (!rq->discard) {
        lg_errmsg err = {{0}};
        lg_err e = lg_job_finish(u->job, &err);
        if (e) upload_job_error(rq, e, err.msg);
    }
    if (rq->discard) {
        lg_job_stop(u->job); /* the rows before the failure go out first, then the reason */
        return answer_failure(s, c, rq);
    }
    lg_job_stats st;
    lg_job_get_stats(u->job, &st);
    srv_metrics_rows(&s->metrics, st.decided, st.labels, st.label_rows, st.n_labels);
    __atomic_fetch_add(&s->metrics.new_templates, st.new_templates, __ATOMIC_RELAXED);
    srv_spool *sp = u->spool;
    u->spool = rq->spool = NULL; /* the response owns it now */
    return srv_respond_spool(s, c, rq, 200, rq->ctype, sp, 0);
}

void srv_upload_free(srv_req *rq) {
    upload_state *u = rq->state;
    if (!u) return;
    if (u->pp) lg_mhd()->destroy_post_processor(u->pp);
    lg_job_free(u->job);
    lg_tpl_miner_free(u->own);
    lg_pset_release(u->set); /* after the job: its workers are the set's */
    srv_spool_free(u->spool);
    free(u);
    rq->state = NULL;
}

/* ---- Shared by the JSON endpoints ------------------------------------------------- */

/* Appends {"label":..,"stage":..,"confidence":..,"detail":..} (and
 * "template_id" when tid is not 0). */
static lg_err put_result(lg_buf *b, const lg_record *r, uint64_t tid) {
    lg_err e = lg_buf_append(b, "{\"label\":", 9);
    if (!e) e = lg_json_put_string(b, r->label, strlen(r->label));
    if (!e) e = lg_buf_printf(b, ",\"stage\":\"%s\",\"confidence\":", lg_stage_kind_name(r->stage));
    if (!e) e = r->confidence < 0 ? lg_buf_append(b, "null", 4) : lg_buf_printf(b, "%.4f", r->confidence);
    if (!e) e = lg_buf_append(b, ",\"detail\":", 10);
    if (!e) e = lg_json_put_string(b, r->detail, strlen(r->detail));
    if (!e && tid) {
        char id[17];
        lg_tpl_format_id(tid, id);
        e = lg_buf_printf(b, ",\"template_id\":\"%s\"", id);
    }
    if (!e) e = lg_buf_putc(b, '}');
    return e;
}

/* Takes a record's input from a JSON object: log_message (string, required),
 * source (string or absent/null = ""). Returns the bad field's name. */
static const char *record_from_json(json_t *o, lg_record *r, const char **why) {
    json_t *msg = json_object_get(o, "log_message");
    json_t *src = json_object_get(o, "source");
    if (!msg) {
        *why = "missing";
        return "log_message";
    }
    if (!json_is_string(msg)) {
        *why = "string_type";
        return "log_message";
    }
    if (src && !json_is_null(src) && !json_is_string(src)) {
        *why = "string_type";
        return "source";
    }
    memset(r, 0, sizeof *r);
    r->message = json_string_value(msg);
    r->message_len = json_string_length(msg);
    r->source = src && json_is_string(src) ? json_string_value(src) : "";
    r->source_len = strlen(r->source);
    lg_record_reset(r);
    return NULL;
}

/* ---- POST /v1/classify ------------------------------------------------------------ */

typedef struct {
    lg_buf body;
} json_state;

enum MHD_Result srv_json_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    (void)c;
    json_state *js = calloc(1, sizeof *js);
    if (!js) return MHD_NO;
    lg_buf_init(&js->body, s->o.max_upload);
    rq->state = js;
    return MHD_YES;
}

void srv_json_feed(lg_server *s, srv_req *rq, const char *data, size_t len) {
    json_state *js = rq->state;
    lg_err e = lg_buf_append(&js->body, data, len);
    if (e == LG_ELIMIT) srv_req_fail(rq, 413, "request body larger than %zu bytes", s->o.max_upload);
    else if (e) fail_internal(rq, "json body", "request body: out of memory");
}

enum MHD_Result srv_json_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    json_state *js = rq->state;
    if (rq->discard) return answer_failure(s, c, rq);
    srv_json_logs L;
    srv_json_logs_init(&L, js->body.len + 64, s->o.max_rows);
    char jerr[160];
    lg_record *recs = NULL;
    lg_pset *set = NULL;
    lg_worker *w = NULL;
    lg_buf out;
    lg_buf_init(&out, answer_cap(s));
    size_t n = 0;
    if (srv_json_parse(js->body.data ? js->body.data : "", js->body.len, &L, jerr, sizeof jerr)) {
        if (L.too_many)
            srv_req_fail(rq, 413, "more than %llu logs in one request", (unsigned long long)s->o.max_rows);
        else if (L.no_memory)
            fail_internal(rq, "json request", "request body: parsing the JSON: out of memory");
        else
            srv_req_fail(rq, 400, "invalid JSON at %s", jerr);
        goto done;
    }
    lg_buf_free(&js->body); /* parsed: the text is no longer needed */
    if (L.invalid) {
        char loc[96];
        if (L.index < 0 && !L.field[0]) snprintf(loc, sizeof loc, "\"body\"");
        else if (L.index < 0) snprintf(loc, sizeof loc, "\"body\",\"%s\"", L.field);
        else if (!L.field[0]) snprintf(loc, sizeof loc, "\"body\",\"logs\",%ld", L.index);
        else snprintf(loc, sizeof loc, "\"body\",\"logs\",%ld,\"%s\"", L.index, L.field);
        fail_validation(rq, loc, L.type, L.msg);
        goto done;
    }
    n = L.n;
    if (n && !(recs = calloc(n, sizeof *recs))) {
        fail_internal(rq, "json", "request rows: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const srv_json_log *lg = &L.logs[i];
        lg_record *r = &recs[i];
        r->message = L.arena.data + lg->message_off;
        r->message_len = lg->message_len;
        r->source = lg->has_source ? L.arena.data + lg->source_off : "";
        r->source_len = lg->has_source ? lg->source_len : 0;
        lg_record_reset(r);
    }
    lg_errmsg err = {{0}};
    if (n) set = lg_live_acquire(s->live); /* one set for the whole request */
    if (n && !(w = lg_pset_worker_get(set, &err))) {
        fail_internal(rq, "worker", err.msg);
        goto done;
    }
    for (size_t i = 0; i < n; i += JSON_BATCH) {
        size_t k = n - i < JSON_BATCH ? n - i : JSON_BATCH;
        if (lg_pipeline_run(lg_pset_pipeline(set), w, recs + i, k, &err)) {
            fail_internal(rq, "classify", err.msg);
            goto done;
        }
    }
    srv_tally tally = {0};
    lg_err e = lg_buf_append(&out, "{\"results\":[", 12);
    for (size_t i = 0; i < n && !e; i++) {
        if (i) e = lg_buf_putc(&out, ',');
        uint64_t tid = srv_templates_add(s, recs[i].message, recs[i].message_len);
        if (!e) e = put_result(&out, &recs[i], tid); /* JSON answers always carry it */
        srv_tally_add(&tally, &s->metrics, &recs[i]);
    }
    if (!e) e = lg_buf_append(&out, "]}", 2);
    srv_tally_flush(&tally, &s->metrics);
    if (e == LG_ELIMIT) srv_req_fail(rq, 413, "answer larger than %zu bytes", answer_cap(s));
    else if (e) fail_internal(rq, "json answer", "answer: out of memory");
done:
    if (set) lg_pset_worker_put(set, w);
    lg_pset_release(set); /* the tally above was flushed: no label of it is held */
    free(recs);
    srv_json_logs_free(&L);
    enum MHD_Result ret;
    if (rq->discard) {
        ret = answer_failure(s, c, rq);
    } else {
        rq->bytes_out = out.len;
        struct MHD_Response *r =
            lg_mhd()->create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_FREE);
        if (r) {
            out.data = NULL; /* the response frees it */
            lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            lg_mhd()->add_response_header(r, "X-Request-Id", rq->id);
            if (__atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
                lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
            rq->status = 200;
            ret = lg_mhd()->queue_response(c, 200, r);
            lg_mhd()->destroy_response(r);
        } else {
            ret = MHD_NO;
        }
    }
    lg_buf_free(&out);
    return ret;
}

void srv_json_free(srv_req *rq) {
    json_state *js = rq->state;
    if (!js) return;
    lg_buf_free(&js->body);
    free(js);
    rq->state = NULL;
}

/* ---- POST /v1/classify/stream ------------------------------------------------------- */

/* The field names log shippers use, tried in order after log_message and
 * source when the request says ?fields=shippers (docs/server.md). */
static const char *const shipper_msg_keys[] = {"log_message", "message", "log", "msg", "MESSAGE"};
static const char *const shipper_src_keys[] = {"source", "service", "host", "app"};

typedef struct {
    lg_server *s;
    int shippers;            /* ?fields=shippers: map message/log/msg/MESSAGE, service/host/app */
    int whole;               /* ?on_error=fail: a bad line fails the request (the old way) */
    lg_buf line;             /* a line split across body pieces */
    uint64_t line_no;        /* lines seen */
    uint64_t rows;
    json_t *objs[STREAM_BATCH];
    lg_record recs[STREAM_BATCH];
    size_t n;
    lg_live_handle h;        /* the set and its worker: one set for the request,
                                except a live stream, which moves to a newer
                                set between pieces */
    srv_spool *spool;
    srv_tally tally;
} stream_state;

static int spool_dump(const char *buf, size_t size, void *data) {
    return srv_spool_append(data, buf, size) == LG_OK ? 0 : -1;
}

/* An answer line that could not be made: past the answer's cap (413), or
 * out of memory (Jansson's objects, the spool's chunks: 500). */
static void stream_answer_fail(srv_req *rq, const srv_spool *sp) {
    if (sp->failed == LG_ELIMIT) srv_req_fail(rq, 413, "answer larger than %zu bytes", sp->max);
    else fail_internal(rq, "stream answer", "answer: out of memory");
}

/* Classifies the pending batch and appends its lines to the answer. */
static void stream_flush(lg_server *s, srv_req *rq, stream_state *st) {
    if (!st->n || rq->discard) return;
    lg_errmsg err = {{0}};
    if (!st->h.set || rq->eager) {
        /* the tally points at the set's labels: when the handle moves to a
         * newer set, flush it while the old set is still held */
        lg_pset *prev = st->h.set;
        if (prev) lg_pset_retain(prev);
        lg_err e = lg_live_handle_refresh(s->live, &st->h, &err);
        if (prev && st->h.set != prev) srv_tally_flush(&st->tally, &s->metrics);
        lg_pset_release(prev);
        if (e) {
            fail_internal(rq, "worker", err.msg);
            return;
        }
    }
    if (rq->eager) lg_worker_begin_run(st->h.worker); /* a live stream: each piece is a run (per-run
                                                      budgets must not run out over hours) */
    if (lg_pipeline_run(lg_pset_pipeline(st->h.set), st->h.worker, st->recs, st->n, &err)) {
        fail_internal(rq, "classify", err.msg);
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        const lg_record *r = &st->recs[i];
        json_t *o = st->objs[i];
        srv_tally_add(&st->tally, &s->metrics, r);
        uint64_t tid = srv_templates_add(s, r->message, r->message_len);
        char tidx[17];
        lg_tpl_format_id(tid, tidx);
        /* detail may hold bytes that are not UTF-8 (then json_string fails:
         * ""); any other failure is memory, and the line cannot be answered */
        errno = 0;
        json_t *detail = json_string(r->detail);
        if (!detail && errno != ENOMEM) detail = json_string("");
        int bad = (tid && json_object_set_new(o, "template_id", json_string(tidx))) ||
                  json_object_set_new(o, "target_label", json_string(r->label)) ||
                  json_object_set_new(o, "stage", json_string(lg_stage_kind_name(r->stage))) ||
                  json_object_set_new(o, "confidence", r->confidence < 0 ? json_null()
                                                       : json_real(round(r->confidence * 1e4) / 1e4));
        if (!bad) {
            bad = json_object_set_new(o, "detail", detail) != 0; /* takes detail, even failing */
            detail = NULL;
        }
        json_decref(detail); /* not taken: an earlier field failed */
        if (bad) {
            fail_internal(rq, "stream answer", "stream: the answer: out of memory");
            break;
        }
        /* 16 digits: the client's own numbers (a shipper's float
         * timestamp) come back as sent; the confidence is rounded */
        unsigned long mark = lg_json_alloc_mark(); /* a key lost in the dump: the answer fails */
        bad = json_dump_callback(o, spool_dump, st->spool, JSON_COMPACT | JSON_REAL_PRECISION(16)) != 0 ||
              srv_spool_append(st->spool, "\n", 1) != LG_OK;
        if (!bad && lg_json_alloc_failed_since(mark)) {
            fail_internal(rq, "stream answer", "out of memory (writing a line's JSON)");
            break;
        }
        if (bad) {
            stream_answer_fail(rq, st->spool);
            break;
        }
    }
    for (size_t i = 0; i < st->n; i++) json_decref(st->objs[i]);
    st->n = 0;
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

/* ?fields=shippers: the first message key present must be a string; the
 * source is the first of its keys holding a string ("" when none does). */
static const char *record_from_shipper(json_t *o, lg_record *r, char *why, size_t cap) {
    json_t *msg = NULL;
    const char *mkey = NULL;
    for (size_t i = 0; i < sizeof shipper_msg_keys / sizeof *shipper_msg_keys && !msg; i++)
        if ((msg = json_object_get(o, shipper_msg_keys[i]))) mkey = shipper_msg_keys[i];
    if (!msg) {
        snprintf(why, cap, "no message field (log_message, message, log, msg or MESSAGE)");
        return why;
    }
    if (!json_is_string(msg)) {
        snprintf(why, cap, "field '%s' must be a string", mkey);
        return why;
    }
    json_t *src = json_object_get(o, "source");
    if (src && !json_is_null(src) && !json_is_string(src)) {
        snprintf(why, cap, "field 'source' must be a string");
        return why;
    }
    for (size_t i = 1; i < sizeof shipper_src_keys / sizeof *shipper_src_keys && !json_is_string(src); i++)
        src = json_object_get(o, shipper_src_keys[i]);
    memset(r, 0, sizeof *r);
    r->message = json_string_value(msg);
    r->message_len = json_string_length(msg);
    r->source = json_is_string(src) ? json_string_value(src) : "";
    r->source_len = strlen(r->source);
    lg_record_reset(r);
    return NULL;
}

/* A bad line: by default its own answer line {"line": N, "detail": ...} in
 * its place, and the request goes on (a log shipper would retry or drop
 * every good line of a batch answered 400); with ?on_error=fail the
 * request fails, as it used to. */
static void stream_bad_line(lg_server *s, srv_req *rq, stream_state *st, unsigned status,
                            const char *detail) {
    stream_flush(s, rq, st); /* the lines before it are answered first, in order */
    if (st->whole || rq->discard) {
        srv_req_fail(rq, status, "line %llu: %s", (unsigned long long)st->line_no, detail);
        return;
    }
    json_t *e = json_pack("{sI ss}", "line", (json_int_t)st->line_no, "detail", detail);
    int bad = !e || json_dump_callback(e, spool_dump, st->spool, JSON_COMPACT) != 0 ||
              srv_spool_append(st->spool, "\n", 1) != LG_OK;
    json_decref(e);
    __atomic_add_fetch(&s->metrics.stream_bad_lines, 1, __ATOMIC_RELAXED);
    if (bad && !e) fail_internal(rq, "stream answer", "stream: a line: out of memory");
    else if (bad) stream_answer_fail(rq, st->spool);
}

static void stream_line(lg_server *s, srv_req *rq, stream_state *st, const char *p, size_t n) {
    st->line_no++;
    if (blank(p, n)) return;
    json_error_t jerr;
    int oom;
    json_t *o = lg_json_loadb(p, n, 0, &jerr, &oom);
    char m[300];
    if (oom) { /* a byte of the line may be lost: not classified */
        stream_flush(s, rq, st);
        fail_internal(rq, "stream line", "out of memory (reading a line's JSON)");
        return;
    }
    if (!o) {
        snprintf(m, sizeof m, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        stream_bad_line(s, rq, st, 400, m);
        return;
    }
    const char *why = NULL, *bad = NULL;
    if (!json_is_object(o)) bad = "expected a JSON object";
    else if (st->shippers) bad = record_from_shipper(o, &st->recs[st->n], m, sizeof m);
    else if (record_from_json(o, &st->recs[st->n], &why))
        bad = why && !strcmp(why, "missing") ? "field 'log_message' is required" : "field must be a string";
    if (bad) {
        json_decref(o);
        stream_bad_line(s, rq, st, 400, bad);
        return;
    }
    if (++st->rows > s->o.max_rows) {
        json_decref(o);
        stream_flush(s, rq, st);
        srv_req_fail(rq, 413, "more than %llu records in one request",
                     (unsigned long long)s->o.max_rows);
        return;
    }
    st->objs[st->n++] = o;
    if (st->n == STREAM_BATCH) stream_flush(s, rq, st);
}

enum MHD_Result srv_stream_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    stream_state *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    st->s = s;
    lg_buf_init(&st->line, STREAM_MAX_LINE);
    rq->state = st;
    if (!(st->spool = srv_spool_new(answer_cap(s)))) fail_internal(rq, "stream", "stream: out of memory");
    rq->spool = st->spool;
    rq->ctype = "application/x-ndjson";
    const char *fields = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fields");
    const char *on_error = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "on_error");
    if (fields && strcmp(fields, "shippers") && strcmp(fields, "strict"))
        srv_req_fail(rq, 400, "fields must be strict (log_message, source) or shippers");
    else if (on_error && strcmp(on_error, "line") && strcmp(on_error, "fail"))
        srv_req_fail(rq, 400, "on_error must be line (an error object per bad line) or fail");
    st->shippers = fields && !strcmp(fields, "shippers");
    st->whole = on_error && !strcmp(on_error, "fail");
    /* A body of unknown length (chunked) is a live stream: its lines are
     * answered as each piece arrives (server_direct.c), not after --hold. */
    rq->eager = !lg_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return MHD_YES;
}

void srv_stream_feed(lg_server *s, srv_req *rq, const char *data, size_t len) {
    stream_state *st = rq->state;
    while (len && !rq->discard) {
        const char *nl = memchr(data, '\n', len);
        size_t k = nl ? (size_t)(nl - data) : len;
        if (!nl || st->line.len) { /* (part of) a line split across pieces */
            if (lg_buf_append(&st->line, data, k)) {
                srv_req_fail(rq, 413, "line %llu: longer than %u bytes",
                             (unsigned long long)st->line_no + 1, STREAM_MAX_LINE);
                return;
            }
            if (nl) {
                stream_line(s, rq, st, st->line.data, st->line.len);
                lg_buf_reset(&st->line);
            }
        } else {
            stream_line(s, rq, st, data, k);
        }
        if (!nl) break;
        data += k + 1;
        len -= k + 1;
    }
    if (rq->eager) stream_flush(s, rq, st); /* no waiting for a full batch */
}

enum MHD_Result srv_stream_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    stream_state *st = rq->state;
    if (!rq->discard && st->line.len) { /* a last line without a newline */
        stream_line(s, rq, st, st->line.data, st->line.len);
        lg_buf_reset(&st->line);
    }
    stream_flush(s, rq, st);
    if (rq->discard) return answer_failure(s, c, rq);
    srv_spool *sp = st->spool;
    st->spool = rq->spool = NULL;
    return srv_respond_spool(s, c, rq, 200, rq->ctype, sp, 1);
}

void srv_stream_free(srv_req *rq) {
    stream_state *st = rq->state;
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) json_decref(st->objs[i]);
    srv_tally_flush(&st->tally, &st->s->metrics); /* rows classified, even if the client left */
    lg_live_handle_release(&st->h); /* after the tally: it holds the set's labels */
    lg_buf_free(&st->line);
    srv_spool_free(st->spool);
    free(st);
    rq->state = NULL;
}
