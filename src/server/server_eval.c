/* server_eval.c - the console's evaluation view (docs/console.md):
 *   POST /v1/eval?name=FILE.csv   body: a labelled CSV (source,
 *                                 log_message, target_label, as `logify
 *                                 eval --data`)
 *   -> 200 `logify eval --json`'s object (rows, accuracy, macro_f1,
 *      per_label, confusion, per_stage, unclassified, unknown_to_model,
 *      model) plus "svg": the document `logify eval --plot` writes for a
 *      file of that name (lg_evalplot_svg: every label escaped as text).
 * The rows go through the server's current pipeline set on one of its
 * workers (the same cascade `logify classify` and the other endpoints
 * use); the counting is lg_eval_rows, the function `logify eval` runs. A
 * malformed file is 400 with the CLI's reason ("FILE.csv: line 3: ...");
 * more than --max-rows rows is 413. */
#include "server/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/eval.h"
#include "logify/evalplot.h"
#include "logify/jsonguard.h"
#include "logify/train.h"

#define EVAL_ANSWER_MAX ((size_t)256 << 20)

typedef struct {
    lg_buf body;
    char name[256]; /* the file's name for the SVG's title and the errors */
} eval_post;

enum MHD_Result srv_eval_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    eval_post *p = calloc(1, sizeof *p);
    if (!p) return MHD_NO;
    const char *name = lg_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    if (!name || !name[0]) name = "upload.csv";
    const char *base = strrchr(name, '/'); /* as the CLI titles a path: its last part */
    snprintf(p->name, sizeof p->name, "%s", base && base[1] ? base + 1 : name);
    lg_buf_init(&p->body, s->o.max_upload);
    rq->state = p;
    rq->handler = SRV_H_EVAL;
    return MHD_YES;
}

void srv_eval_feed(lg_server *s, srv_req *rq, const char *data, size_t len) {
    (void)s;
    eval_post *p = rq->state;
    lg_err e = lg_buf_append(&p->body, data, len);
    if (e == LG_ELIMIT) srv_req_fail(rq, 413, "request body larger than %zu bytes", p->body.max);
    else if (e) srv_req_fail(rq, 500, "out of memory (reading the request body)");
}

/* The answer: the eval object with "svg" added, as compact JSON. */
static lg_err eval_answer(const lg_eval *ev, const char *model_desc, const char *name, lg_buf *out,
                          lg_errmsg *err) {
    char title[300];
    snprintf(title, sizeof title, "logify eval: %s", name);
    lg_buf svg;
    lg_buf_init(&svg, EVAL_ANSWER_MAX);
    lg_err e = lg_evalplot_svg(&ev->rep, &ev->cm, title, &svg, err);
    json_t *j = e ? NULL : lg_eval_json(ev, model_desc);
    if (!e && !j) e = lg_fail(err, LG_ENOMEM, "eval answer: out of memory");
    if (!e && json_object_set_new(j, "svg", json_stringn(svg.data ? svg.data : "", svg.len)))
        e = lg_fail(err, LG_ENOMEM, "eval answer: the SVG: out of memory");
    char *text = e ? NULL : lg_json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!e && !text) e = lg_fail(err, LG_ENOMEM, "eval answer: out of memory (writing its JSON)");
    if (!e) e = lg_buf_append(out, text, strlen(text));
    free(text);
    json_decref(j);
    lg_buf_free(&svg);
    return e;
}

enum MHD_Result srv_eval_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    eval_post *p = rq->state;
    if (rq->discard) return srv_respond_detail(s, c, rq, rq->fail_status, rq->fail_detail);
    if (!p->body.len) return srv_respond_detail(s, c, rq, 400, "empty body: send the labelled CSV");
    lg_dataset ds = {0};
    lg_eval ev;
    lg_eval_init(&ev);
    lg_errmsg err = {{0}};
    lg_buf out;
    lg_buf_init(&out, EVAL_ANSWER_MAX);
    lg_pset *set = NULL;
    lg_worker *w = NULL;
    enum MHD_Result ret;
    lg_err e = lg_dataset_load_buf(p->name, p->body.data, p->body.len, &ds, &err);
    lg_buf_free(&p->body); /* parsed: the text is no longer needed */
    if (e) {
        ret = srv_respond_detail(s, c, rq, e == LG_ENOMEM ? 500 : 400, err.msg);
        goto done;
    }
    if (ds.n > s->o.max_rows) {
        char d[96];
        snprintf(d, sizeof d, "more than %llu rows in one request", (unsigned long long)s->o.max_rows);
        ret = srv_respond_detail(s, c, rq, 413, d);
        goto done;
    }
    set = lg_live_acquire(s->live); /* one set for the whole evaluation */
    if (!(w = lg_pset_worker_get(set, &err))) {
        ret = srv_respond_detail(s, c, rq, 500, err.msg);
        goto done;
    }
    const lg_resources *res = lg_pset_resources(set);
    const lg_pset_info *info = lg_pset_get_info(set);
    char model_desc[LG_DETAIL_MAX + 32];
    if (res->model)
        snprintf(model_desc, sizeof model_desc, "%s", info->model_dir ? info->model_dir : "default bundle");
    else
        snprintf(model_desc, sizeof model_desc, "none (%s)", res->model_missing);
    if ((e = lg_eval_rows(&ev, lg_pset_pipeline(set), w, res->model, ds.rows, ds.n, NULL, &err)) ||
        (e = eval_answer(&ev, model_desc, p->name, &out, &err))) {
        ret = srv_respond_detail(s, c, rq, e == LG_ELIMIT ? 413 : 500, err.msg);
        goto done;
    }
    ret = srv_respond(s, c, rq, 200, "application/json", out.data, out.len);
done:
    if (set) lg_pset_worker_put(set, w);
    lg_pset_release(set);
    lg_buf_free(&out);
    lg_eval_clear(&ev);
    lg_dataset_free(&ds);
    return ret;
}

void srv_eval_free(srv_req *rq) {
    eval_post *p = rq->state;
    if (!p) return;
    lg_buf_free(&p->body);
    free(p);
    rq->state = NULL;
}
