/* train.c - labeled CSV loading and the training run of `logify train`:
 * route + rules filter, rare labels, encoding, seeded stratified split,
 * fit / report / refit, figures as JSON, the bundle. */
#include "logify/train.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/csv.h"
#include "logify/jsonguard.h"
#include "logify/encoder.h"
#include "logify/srcfeat.h"

/* ---- Labeled data -------------------------------------------------------------- */

typedef struct {
    lg_dataset *d;
    long col_src, col_msg, col_label;
    int have_header;
    uint64_t checksum;
} load_state;

void lg_dataset_free(lg_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->rows[i].source);
        free(d->rows[i].message);
        free(d->rows[i].label);
    }
    free(d->rows);
    memset(d, 0, sizeof *d);
}

static lg_err on_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    load_state *st = user;
    lg_dataset *d = st->d;
    if (!st->have_header) {
        st->col_src = st->col_msg = st->col_label = -1;
        for (size_t i = 0; i < row->nfields; i++) {
            const char *f = row->fields[i];
            if (!strcmp(f, "source") && st->col_src < 0) st->col_src = (long)i;
            if (!strcmp(f, "log_message") && st->col_msg < 0) st->col_msg = (long)i;
            if (!strcmp(f, "target_label") && st->col_label < 0) st->col_label = (long)i;
        }
        const char *missing = st->col_src < 0     ? "source"
                              : st->col_msg < 0   ? "log_message"
                              : st->col_label < 0 ? "target_label"
                                                  : NULL;
        if (missing)
            return lg_fail(err, LG_ENOTFOUND,
                           "line %llu: missing required column '%s' (need source, "
                           "log_message, target_label)",
                           (unsigned long long)row->line, missing);
        st->have_header = 1;
        return LG_OK;
    }
    size_t need = (size_t)st->col_src;
    if ((size_t)st->col_msg > need) need = (size_t)st->col_msg;
    if ((size_t)st->col_label > need) need = (size_t)st->col_label;
    if (row->nfields <= need)
        return lg_fail(err, LG_EPARSE, "line %llu: %zu fields, the header names more",
                       (unsigned long long)row->line, row->nfields);
    if (!row->lens[st->col_label])
        return lg_fail(err, LG_EPARSE, "line %llu: empty target_label",
                       (unsigned long long)row->line);
    if (d->n == LG_DATASET_MAX_ROWS)
        return lg_fail(err, LG_ELIMIT, "more than %d rows", LG_DATASET_MAX_ROWS);
    size_t bytes = row->lens[st->col_src] + row->lens[st->col_msg] + row->lens[st->col_label] + 3;
    if (d->bytes + bytes > LG_DATASET_MAX_BYTES)
        return lg_fail(err, LG_ELIMIT, "data over %zu bytes", LG_DATASET_MAX_BYTES);
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        lg_labeled_row *r = realloc(d->rows, nc * sizeof *r);
        if (!r) return lg_fail(err, LG_ENOMEM, "training rows: out of memory");
        d->rows = r;
        d->cap = nc;
    }
    lg_labeled_row *r = &d->rows[d->n];
    r->source = lg_strndup(row->fields[st->col_src], row->lens[st->col_src]);
    r->message = lg_strndup(row->fields[st->col_msg], row->lens[st->col_msg]);
    r->message_len = row->lens[st->col_msg];
    r->label = lg_strndup(row->fields[st->col_label], row->lens[st->col_label]);
    d->n++; /* counted even when a copy failed, so that free() sees it */
    if (!r->source || !r->message || !r->label) return lg_fail(err, LG_ENOMEM, "training rows: out of memory");
    d->bytes += bytes;
    return LG_OK;
}

lg_err lg_dataset_load(const char *path, lg_dataset *out, lg_errmsg *err) {
    return lg_dataset_load_progress(path, NULL, out, err);
}

lg_err lg_dataset_load_progress(const char *path, lg_progress *prog, lg_dataset *out,
                                lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOMEM) /* fopen could not allocate its FILE */
        return lg_fail(err, LG_ENOMEM, "%s: out of memory", path);
    if (!f) return lg_fail(err, LG_ENOTFOUND, "%s: cannot open", path);
    load_state st = {out, -1, -1, -1, 0, 0};
    lg_csv_reader *rd = NULL;
    lg_errmsg why;
    lg_err e = lg_csv_reader_new(NULL, on_row, NULL, &st, &rd, &why);
    char *chunk = e ? NULL : malloc(1 << 16);
    if (!e && !chunk) e = lg_fail(&why, LG_ENOMEM, "reading the training data: out of memory");
    uint64_t h = lg_fnv1a64("", 0, 0), bytes = 0;
    size_t n;
    while (!e && (n = fread(chunk, 1, 1 << 16, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)chunk[i]) * 1099511628211ULL;
        e = lg_csv_feed(rd, chunk, n, &why);
        bytes += n;
        lg_progress_set(prog, out->n, bytes);
    }
    if (!e && ferror(f)) e = lg_fail(&why, LG_EIO, "read error");
    if (!e) e = lg_csv_finish(rd, &why);
    if (!e && !st.have_header) e = lg_fail(&why, LG_EPARSE, "empty input: no header row");
    free(chunk);
    lg_csv_reader_free(rd);
    fclose(f);
    if (e) {
        lg_dataset_free(out);
        return lg_fail(err, e, "%.200s: %.300s", path, why.msg);
    }
    out->checksum = h;
    return LG_OK;
}

lg_err lg_dataset_load_buf(const char *name, const char *data, size_t len, lg_dataset *out,
                          lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    load_state st = {out, -1, -1, -1, 0, 0};
    lg_csv_reader *rd = NULL;
    lg_errmsg why;
    lg_err e = lg_csv_reader_new(NULL, on_row, NULL, &st, &rd, &why);
    if (!e) e = lg_csv_feed(rd, data, len, &why);
    if (!e) e = lg_csv_finish(rd, &why);
    if (!e && !st.have_header) e = lg_fail(&why, LG_EPARSE, "empty input: no header row");
    lg_csv_reader_free(rd);
    if (e) {
        lg_dataset_free(out);
        return lg_fail(err, e, "%.200s: %.300s", name, why.msg);
    }
    out->checksum = lg_fnv1a64(data, len, 0);
    return LG_OK;
}

/* ---- Helpers ------------------------------------------------------------------------ */

void lg_train_opts_default(lg_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->encoder_spec = NULL; /* by the classifier: LG_TRAIN_ENCODER(_SVM) (docs/model.md) */
    o->seed = 42;
    o->test_fraction = 0.2;
    o->min_label_rows = 1;
    o->threshold = 0.5;
    o->classifier = "auto";
    o->feature_weights = "auto";
    o->source_feature = "auto";
    o->unknown_threshold = -1; /* automatic, from the held-out split */
    lg_logreg_opts_default(&o->lr);
    lg_svm_opts_default(&o->svm);
}

void lg_train_result_free(lg_train_result *res) {
    if (!res) return;
    lg_report_clear(&res->train);
    lg_report_clear(&res->test);
    lg_bundle_free(res->bundle);
    json_decref(res->figures);
    memset(res, 0, sizeof *res);
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* where the route table sends a row before (or instead of) the model */
enum { GOES_MODEL, GOES_RULES, GOES_LLM, GOES_NOWHERE };

static int destination(const lg_train_opts *o, lg_rules_scratch *rs, const lg_labeled_row *r) {
    if (!o->routes) return GOES_MODEL;
    const lg_route *route = lg_routes_find(o->routes, r->source);
    if (!route) return GOES_NOWHERE;
    for (size_t j = 0; j < route->n_stages; j++) {
        switch (route->stages[j].kind) {
        case LG_STAGE_RULES:
            if (o->rules &&
                lg_rules_match(o->rules, rs, r->source, r->message, r->message_len) >= 0)
                return GOES_RULES;
            break;
        case LG_STAGE_MODEL: return GOES_MODEL;
        case LG_STAGE_LLM: return GOES_LLM;
        default: break;
        }
    }
    return GOES_NOWHERE;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* One trained classifier with its working memory, for the reports. */
typedef struct {
    lg_clf_kind kind;
    const lg_logreg *lr;
    const lg_svm *svm;
    const lg_centroids *cent;
    float *proba; /* (K) */
    lg_svm_scratch ss;
    lg_centroid_scratch cs;
} predictor;

static lg_err predictor_init(predictor *p, lg_clf_kind kind, const lg_logreg *lr,
                             const lg_svm *svm, const lg_centroids *cent, size_t K,
                             lg_errmsg *err) {
    memset(p, 0, sizeof *p);
    p->kind = kind, p->lr = lr, p->svm = svm, p->cent = cent;
    if (!(p->proba = calloc(K, sizeof *p->proba))) return lg_fail(err, LG_ENOMEM, "training: the predictor: out of memory");
    return kind == LG_CLF_SVM ? lg_svm_scratch_init(svm, &p->ss, err)
                              : lg_centroid_scratch_init(cent, &p->cs, err);
}

static void predictor_clear(predictor *p) {
    free(p->proba);
    lg_svm_scratch_clear(&p->ss);
    lg_centroid_scratch_clear(&p->cs);
    memset(p, 0, sizeof *p);
}

static int predict(predictor *p, const lg_embeddings *X, size_t row, float *prob, float *sim) {
    if (p->kind == LG_CLF_SVM) return lg_svm_predict_row(p->svm, X, row, &p->ss, prob, sim);
    int best;
    *sim = lg_centroids_score(p->cent, X, row, &p->cs, &best);
    int k = lg_logreg_predict_row(p->lr, X, row, p->proba);
    *prob = k >= 0 ? p->proba[k] : 0.0f;
    return k;
}

/* Predictions of rows[0..n-1]: class (-1: none) into k_out, best centroid
 * similarity into sim_out and (SVM) the winning decision value into
 * top_out (each (n), sim_out and top_out may be NULL). Rows are shared out
 * in blocks over `threads` threads, each with its own predictor; a row's
 * answer depends on the row only, so the arrays do not depend on the
 * number of threads. */
typedef struct {
    lg_clf_kind kind;
    const lg_logreg *lr;
    const lg_svm *svm;
    const lg_centroids *cent;
    size_t K;
    const lg_embeddings *X;
    const size_t *rows;
    size_t n;
    int *k_out;
    float *sim_out, *top_out;
    pthread_mutex_t mu;
    size_t next;
    lg_err e;
    lg_errmsg err;
} predict_job;

#define PREDICT_BLOCK 256

static void *predict_worker(void *arg) {
    predict_job *J = arg;
    predictor p;
    lg_errmsg why = {0};
    lg_err e = predictor_init(&p, J->kind, J->lr, J->svm, J->cent, J->K, &why);
    for (;;) {
        pthread_mutex_lock(&J->mu);
        if (e && !J->e) J->e = e, J->err = why;
        size_t a = J->e ? J->n : J->next;
        J->next = a + PREDICT_BLOCK;
        pthread_mutex_unlock(&J->mu);
        if (a >= J->n) break;
        size_t z = a + PREDICT_BLOCK < J->n ? a + PREDICT_BLOCK : J->n;
        for (size_t r = a; r < z; r++) {
            float prob, sim;
            int k = predict(&p, J->X, J->rows[r], &prob, &sim);
            J->k_out[r] = k;
            if (J->sim_out) J->sim_out[r] = sim;
            if (J->top_out) {
                float top = 0.0f;
                if (k >= 0 && p.kind == LG_CLF_SVM) {
                    top = p.ss.score[0];
                    for (size_t c = 1; c < p.ss.n_cand; c++)
                        if (p.ss.score[c] > top) top = p.ss.score[c];
                }
                J->top_out[r] = top;
            }
        }
    }
    predictor_clear(&p);
    return NULL;
}

static lg_err predict_rows(lg_clf_kind kind, const lg_logreg *lr, const lg_svm *svm,
                           const lg_centroids *cent, size_t K, const lg_embeddings *X,
                           const size_t *rows, size_t n, int threads, int *k_out, float *sim_out,
                           float *top_out, lg_errmsg *err) {
    predict_job J;
    memset(&J, 0, sizeof J);
    J.kind = kind, J.lr = lr, J.svm = svm, J.cent = cent, J.K = K, J.X = X, J.rows = rows;
    J.n = n, J.k_out = k_out, J.sim_out = sim_out, J.top_out = top_out;
    pthread_mutex_init(&J.mu, NULL);
    int nth = threads > 1 ? (threads > 64 ? 64 : threads) : 1;
    if ((size_t)nth > n / PREDICT_BLOCK + 1) nth = (int)(n / PREDICT_BLOCK + 1);
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nth; t++)
        if (pthread_create(&th[started], NULL, predict_worker, &J) == 0) started++;
    predict_worker(&J);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&J.mu);
    if (J.e) return lg_fail(err, J.e, "%s", J.err.msg);
    return LG_OK;
}

/* Adds the predictions k[0..n-1] of rows[0..n-1] to rep. */
static lg_err report_rows(const int *k, const int *y, const size_t *rows, size_t n, char **labels,
                          lg_report *rep, lg_errmsg *err) {
    for (size_t r = 0; r < n; r++) {
        lg_err e = lg_report_add(rep, labels[y[rows[r]]], k[r] >= 0 ? labels[k[r]] : "(no answer)",
                                 err);
        if (e) return e;
    }
    return LG_OK;
}

/* Platt scaling of the SVM's winning decision value s on the held-out
 * rows: p(right | s) = 1 / (1 + exp(-(a s + b))), fitted by Newton's
 * method with Platt's smoothed targets ((N+ + 1) / (N+ + 2), 1 / (N- + 2)),
 * so that a held-out split with no miss still gives finite coefficients.
 * No held-out rows: a = 5, b = 0. kp, top: the rows' predictions and
 * winning decision values (predict_rows). */
static void fit_platt(const int *kp, const float *top, const int *y, const size_t *rows, size_t n,
                      float *a_out, float *b_out) {
    double *s = malloc((n + 1) * sizeof *s);
    int *ok = malloc((n + 1) * sizeof *ok);
    size_t m = 0, npos = 0;
    for (size_t r = 0; s && ok && r < n; r++) {
        if (kp[r] < 0) continue;
        s[m] = top[r];
        ok[m] = kp[r] == y[rows[r]];
        npos += (size_t)ok[m++];
    }
    double A = 5.0, B = 0.0;
    if (m) {
        double tp = ((double)npos + 1) / ((double)npos + 2), tn = 1.0 / ((double)(m - npos) + 2);
        for (int it = 0; it < 50; it++) {
            double g1 = 0, g2 = 0, h11 = 1e-6, h22 = 1e-6, h12 = 0;
            for (size_t i = 0; i < m; i++) {
                double t = ok[i] ? tp : tn, q = 1.0 / (1.0 + exp(-(A * s[i] + B)));
                double d = q - t, w = q * (1 - q);
                g1 += d * s[i], g2 += d;
                h11 += w * s[i] * s[i], h22 += w, h12 += w * s[i];
            }
            double det = h11 * h22 - h12 * h12;
            if (!(fabs(det) > 1e-300)) break;
            double dA = (h22 * g1 - h12 * g2) / det, dB = (h11 * g2 - h12 * g1) / det;
            A -= dA, B -= dB;
            if (fabs(dA) + fabs(dB) < 1e-9) break;
        }
        if (!isfinite(A) || !isfinite(B)) A = 5.0, B = 0.0;
    }
    free(s);
    free(ok);
    *a_out = (float)A;
    *b_out = (float)B;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Held-out rows' best centroid similarity: quantiles and the share below
 * the open-set threshold (they would be passed on). *th < 0 asks for the
 * automatic threshold: min(cap, the held-out 1st percentile - 0.05), so
 * that about 99% of held-out lines of known kinds stay above it; *th gets
 * the value used. cap: LG_TRAIN_UNKNOWN, LG_TRAIN_UNKNOWN_PURITY with
 * purity weights (known lines sit closer to their centroids). */
static json_t *open_set_json(float *sims, size_t n, double cap, double *th_io) {
    double th = *th_io;
    if (!n) {
        if (th < 0) *th_io = th = cap;
        return json_pack("{s:s, s:f, s:I}", "method", "best cosine similarity to a class centroid",
                         "unknown_threshold", th, "held_out_rows", (json_int_t)0);
    }
    qsort(sims, n, sizeof *sims, cmp_float);
    if (th < 0) {
        th = (double)sims[(size_t)(0.01 * (double)(n - 1))] - 0.05;
        th = th > cap ? cap : th < 0 ? 0 : th;
        th = floor(th * 100 + 0.5) / 100; /* two decimals, as printed */
        *th_io = th;
    }
    size_t below = 0;
    while (below < n && sims[below] < th)
        below++;
#define Q(f) ((double)sims[(size_t)((f) * (double)(n - 1))])
    return json_pack("{s:s, s:f, s:I, s:I, s:f, s:{s:f, s:f, s:f, s:f, s:f}}", "method",
                     "best cosine similarity to a class centroid", "unknown_threshold", th,
                     "held_out_rows", (json_int_t)n, "held_out_below_threshold", (json_int_t)below,
                     "held_out_share_below", (double)below / (double)n, "held_out_similarity",
                     "min", Q(0), "p01", Q(0.01), "p05", Q(0.05), "p50", Q(0.5), "max", Q(1));
#undef Q
}

static json_t *fit_json(const lg_train_result *r, int final) {
    if (r->kind == LG_CLF_SVM) {
        const lg_svm_fit_info *f = final ? &r->svm_final : &r->svm_split;
        return json_pack("{s:I, s:I, s:f, s:i}", "pairs", (json_int_t)f->pairs, "weights",
                         (json_int_t)f->weights, "mean_epochs", f->mean_epochs,
                         "classes_at_epoch_limit", f->max_epochs_hit);
    }
    const lg_logreg_fit_info *f = final ? &r->final_fit : &r->split_fit;
    return json_pack("{s:i, s:s, s:f}", "iterations", f->iterations, "status", f->status_text,
                     "loss", f->loss);
}

/* ---- The run --------------------------------------------------------------------------- */

lg_err lg_train_run(const lg_dataset *d, const lg_train_opts *o, lg_train_result *res,
                    lg_errmsg *err) {
    memset(res, 0, sizeof *res);
    lg_report_init(&res->train);
    lg_report_init(&res->test);
    lg_err e = LG_OK;
    lg_rules_scratch *rs = NULL;
    lg_encoder *enc = NULL;
    lg_encoder_scratch *es = NULL;
    lg_embeddings X;
    lg_embeddings_init(&X);
    lg_logreg *split_m = NULL, *final_m = NULL;
    size_t *sel = calloc(d->n + 1, sizeof *sel); /* rows going to the model */
    int *dest = calloc(d->n + 1, sizeof *dest);
    char **labels = NULL;      /* (K) sorted, borrowed */
    size_t *label_rows = NULL; /* (distinct labels) */
    char **all_labels = calloc(d->n + 1, sizeof *all_labels);
    int *y = NULL;
    const char **msgs = NULL, **srcs = NULL;
    size_t *lens = NULL, *src_lens = NULL, *train_idx = NULL, *test_idx = NULL, *order = NULL;
    json_t *rare = json_array(), *open_set = NULL;
    int figures_oom = 0; /* a json_* call of the figures failed (out of memory) */
    lg_centroids *split_c = NULL, *final_c = NULL;
    lg_svm *split_s = NULL, *final_s = NULL;
    lg_featw *split_fw = NULL, *final_fw = NULL;
    float *sims = NULL;
    double unknown = LG_TRAIN_UNKNOWN;
    if (!sel || !dest || !all_labels || !rare) {
        e = lg_fail(err, LG_ENOMEM, "training: label selection: out of memory");
        goto done;
    }
    if (o->rules && (e = lg_rules_scratch_new(o->rules, &rs, err))) goto done;

    /* 1. where each row goes */
    res->rows = d->n;
    size_t n_model = 0;
    lg_progress_phase(o->progress, "routing", "rows", d->n, 0);
    for (size_t i = 0; i < d->n; i++) {
        if (i % 4096 == 0) lg_progress_set(o->progress, i, 0);
        dest[i] = destination(o, rs, &d->rows[i]);
        if (dest[i] == GOES_RULES)
            res->by_rules++;
        else if (dest[i] == GOES_LLM)
            res->to_llm++;
        else if (dest[i] == GOES_NOWHERE)
            res->no_model++;
        else
            all_labels[n_model++] = d->rows[i].label;
    }
    /* 2. labels of the model rows, rare ones set aside */
    qsort(all_labels, n_model, sizeof *all_labels, cmp_str);
    size_t n_distinct = 0;
    label_rows = calloc(n_model + 1, sizeof *label_rows);
    labels = calloc(n_model + 1, sizeof *labels);
    if (!label_rows || !labels) {
        e = lg_fail(err, LG_ENOMEM, "training: the labels: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_model; i++) {
        if (i == 0 || strcmp(all_labels[i], all_labels[i - 1]))
            all_labels[n_distinct++] = all_labels[i];
        label_rows[n_distinct - 1]++;
    }
    size_t K = 0;
    for (size_t j = 0; j < n_distinct; j++) {
        if (label_rows[j] < o->min_label_rows) {
            res->rare_rows += label_rows[j];
            if (res->rare_labels++ < 20) /* the first names; the count is separate */
                if (json_array_append_new(rare, json_pack("{s:s, s:I}", "label", all_labels[j],
                                                          "rows", (json_int_t)label_rows[j])))
                    figures_oom = 1;
        } else {
            labels[K++] = all_labels[j];
        }
    }
    if (!strcmp(o->classifier ? o->classifier : "auto", "auto"))
        res->kind = K <= LG_TRAIN_AUTO_LOGREG ? LG_CLF_LOGREG : LG_CLF_SVM;
    else if (!strcmp(o->classifier, "logreg"))
        res->kind = LG_CLF_LOGREG;
    else if (!strcmp(o->classifier, "svm"))
        res->kind = LG_CLF_SVM;
    else {
        e = lg_fail(err, LG_EINVAL, "unknown classifier '%.40s' (auto, logreg or svm)",
                    o->classifier);
        goto done;
    }
    lg_featw_method fwm = LG_FEATW_NONE;
    const char *fws = o->feature_weights ? o->feature_weights : "auto";
    if (!strcmp(fws, "auto"))
        fwm = res->kind == LG_CLF_SVM ? LG_FEATW_PURITY : LG_FEATW_NONE;
    else if ((e = lg_featw_method_parse(fws, &fwm, err)))
        goto done;
    /* 3. the rows used, their class index */
    y = calloc(d->n + 1, sizeof *y);
    msgs = calloc(d->n + 1, sizeof *msgs);
    lens = calloc(d->n + 1, sizeof *lens);
    srcs = calloc(d->n + 1, sizeof *srcs);
    src_lens = calloc(d->n + 1, sizeof *src_lens);
    if (!y || !msgs || !lens || !srcs || !src_lens) {
        e = lg_fail(err, LG_ENOMEM, "training: the rows: out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
        if (dest[i] != GOES_MODEL) continue;
        const char *key = d->rows[i].label;
        char **hit = bsearch(&key, labels, K, sizeof *labels, cmp_str);
        if (!hit) continue; /* rare */
        y[res->used] = (int)(hit - labels);
        msgs[res->used] = d->rows[i].message;
        lens[res->used] = d->rows[i].message_len;
        srcs[res->used] = d->rows[i].source;
        src_lens[res->used] = strlen(d->rows[i].source);
        sel[res->used++] = i;
    }
    if (res->used == 0) {
        e = lg_fail(err, LG_EINVAL,
                    "training set is empty: of %zu rows, %zu are decided by rules, %zu go "
                    "to the LLM, %zu have no model stage and %zu have labels too rare to learn",
                    res->rows, res->by_rules, res->to_llm, res->no_model, res->rare_rows);
        goto done;
    }
    if (K < 2) {
        e = lg_fail(err, LG_EINVAL,
                    "training set has a single class ('%s'): a classifier needs two or more",
                    labels[0]);
        goto done;
    }

    /* 4. encode every used row once */
    double t0 = lg_now();
    if (o->progress) {
        char what[64];
        snprintf(what, sizeof what, "encoding %zu rows", res->used);
        lg_progress_phase(o->progress, what, NULL, 0, 0);
    }
    const char *spec = o->encoder_spec ? o->encoder_spec
                       : res->kind == LG_CLF_SVM ? LG_TRAIN_ENCODER_SVM
                                                 : LG_TRAIN_ENCODER;
    if ((e = lg_encoder_new(spec, &enc, err))) goto done;
    if ((e = lg_encoder_scratch_new(enc, &es, err))) goto done;
    if ((e = lg_encoder_encode_batch(enc, es, msgs, lens, res->used, &X, err))) goto done;
    if (!X.sparse) fwm = LG_FEATW_NONE; /* a dense encoder has no features to weigh */
    /* the source column as a feature (srcfeat.h): it needs the feature
     * weights (it is weighed as any feature; a bundle with it is version 4) */
    const char *sfs = o->source_feature ? o->source_feature : "auto";
    int src_on = 0;
    if (!strcmp(sfs, "on")) {
        src_on = 1;
    } else if (!strcmp(sfs, "auto")) {
        src_on = res->kind == LG_CLF_SVM;
        for (size_t r = 1; src_on == 1 && r < res->used; r++) /* 2 distinct, non-empty */
            if (src_lens[r] && src_lens[0] &&
                (src_lens[r] != src_lens[0] || memcmp(srcs[r], srcs[0], src_lens[0])))
                src_on = 2;
        src_on = src_on == 2;
    } else if (strcmp(sfs, "off")) {
        e = lg_fail(err, LG_EINVAL, "unknown source feature setting '%.40s' (auto, on or off)",
                    sfs);
        goto done;
    }
    if (src_on && fwm == LG_FEATW_NONE) {
        if (!strcmp(sfs, "on")) {
            e = lg_fail(err, LG_EINVAL,
                        "--source-feature on needs feature weights (--feature-weights purity "
                        "or idf, and a sparse encoder)");
            goto done;
        }
        src_on = 0;
    }
    if (src_on && (e = lg_srcfeat_add(&X, srcs, src_lens, LG_SRCFEAT_VALUE, err))) goto done;
    res->encode_seconds = lg_now() - t0;

    /* 5. stratified split: per class, a seeded shuffle; the first
     * round(fraction * n_k) rows (at least 1, at most n_k - 1) are test */
    train_idx = calloc(res->used, sizeof *train_idx);
    test_idx = calloc(res->used, sizeof *test_idx);
    order = calloc(res->used, sizeof *order);
    if (!train_idx || !test_idx || !order) {
        e = lg_fail(err, LG_ENOMEM, "training: the split: out of memory");
        goto done;
    }
    /* rows of each class in data order (counting sort: one pass, not one
     * per class) */
    size_t *cls_ptr = calloc(K + 1, sizeof *cls_ptr), *cls_row = malloc(res->used * sizeof *cls_row);
    if (!cls_ptr || !cls_row) {
        free(cls_ptr);
        free(cls_row);
        e = lg_fail(err, LG_ENOMEM, "training: the split: out of memory");
        goto done;
    }
    for (size_t r = 0; r < res->used; r++)
        cls_ptr[y[r] + 1]++;
    for (size_t k = 0; k < K; k++)
        cls_ptr[k + 1] += cls_ptr[k];
    for (size_t r = 0; r < res->used; r++)
        cls_row[cls_ptr[y[r]]++] = r;
    for (size_t k = K; k > 0; k--) /* back to the starts */
        cls_ptr[k] = cls_ptr[k - 1];
    cls_ptr[0] = 0;
    uint64_t rng = o->seed;
    for (size_t k = 0; k < K; k++) {
        size_t m = cls_ptr[k + 1] - cls_ptr[k];
        memcpy(order, cls_row + cls_ptr[k], m * sizeof *order);
        for (size_t r = m; r > 1; r--) { /* Fisher-Yates */
            size_t j = (size_t)(splitmix64(&rng) % r);
            size_t t = order[r - 1];
            order[r - 1] = order[j];
            order[j] = t;
        }
        size_t nt = (size_t)(o->test_fraction * (double)m + 0.5);
        if (nt < 1 && m >= 2) nt = 1;
        if (nt >= m) nt = m ? m - 1 : 0;
        for (size_t r = 0; r < m; r++) {
            if (r < nt)
                test_idx[res->test_rows++] = order[r];
            else
                train_idx[res->train_rows++] = order[r];
        }
    }
    free(cls_ptr);
    free(cls_row);
    /* keep data order inside each part (deterministic and easy to read) */
    qsort(train_idx, res->train_rows, sizeof *train_idx, cmp_size);
    qsort(test_idx, res->test_rows, sizeof *test_idx, cmp_size);
    /* 6. fit on train (centroids, classifier), report train and test */
    if (!(sims = calloc(res->test_rows + 1, sizeof *sims))) {
        e = lg_fail(err, LG_ENOMEM, "training: the similarity figures: out of memory");
        goto done;
    }
    lg_progress_phase(o->progress, "fitting on the train split", NULL, 0, 0);
    /* feature weights of the train rows, applied to every row (the test
     * rows are weighed as unseen lines would be) */
    if (fwm != LG_FEATW_NONE) {
        if ((e = lg_featw_fit(&X, y, K, train_idx, res->train_rows, fwm, &split_fw, err)))
            goto done;
        lg_featw_apply(split_fw, NULL, &X, 0, res->used);
    }
    if ((e = lg_centroids_build(&X, y, train_idx, res->train_rows, NULL, K, &split_c, err)))
        goto done;
    if (res->kind == LG_CLF_SVM)
        e = lg_svm_train(&X, y, train_idx, res->train_rows, K, split_c, &o->svm, &split_s,
                         &res->svm_split, err);
    else
        e = lg_logreg_train(&X, y, train_idx, res->train_rows, K, &o->lr, &split_m,
                            &res->split_fit, err);
    if (e) goto done;
    int *kp = malloc((res->used + 1) * sizeof *kp);
    float *top = malloc((res->test_rows + 1) * sizeof *top);
    if (!kp || !top) {
        free(kp);
        free(top);
        e = lg_fail(err, LG_ENOMEM, "training: the similarity figures: out of memory");
        goto done;
    }
    /* held-out rows once: Platt scaling, the test report, the open set */
    e = predict_rows(res->kind, split_m, split_s, split_c, K, &X, test_idx, res->test_rows,
                     o->svm.threads, kp, sims, top, err);
    float platt_a = 5.0f, platt_b = 0.0f;
    if (!e && split_s) {
        fit_platt(kp, top, y, test_idx, res->test_rows, &platt_a, &platt_b);
        split_s->platt_a = platt_a, split_s->platt_b = platt_b;
    }
    if (!e) e = report_rows(kp, y, test_idx, res->test_rows, labels, &res->test, err);
    /* the train report: every train row up to LG_TRAIN_REPORT_MAX, else
     * that many spread evenly over them (a million rows would cost as much
     * as a fit again, for a figure a sample gives as well) */
    size_t nrep = res->train_rows;
    if (nrep > LG_TRAIN_REPORT_MAX) {
        nrep = LG_TRAIN_REPORT_MAX;
        for (size_t r = 0; r < nrep; r++) /* in place: the source index is >= r */
            order[r] = train_idx[(size_t)((double)r * (double)res->train_rows / (double)nrep)];
    } else {
        memcpy(order, train_idx, nrep * sizeof *order);
    }
    res->train_report_rows = nrep;
    if (!e)
        e = predict_rows(res->kind, split_m, split_s, split_c, K, &X, order, nrep, o->svm.threads,
                         kp, NULL, NULL, err);
    if (!e) e = report_rows(kp, y, order, nrep, labels, &res->train, err);
    free(kp);
    free(top);
    if (e) goto done;
    unknown = o->unknown_threshold;
    open_set = open_set_json(sims, res->test_rows,
                             fwm == LG_FEATW_PURITY ? LG_TRAIN_UNKNOWN_PURITY : LG_TRAIN_UNKNOWN,
                             &unknown);
    /* 7. refit on all used rows */
    lg_progress_phase(o->progress, "refitting on all rows", NULL, 0, 0);
    if (fwm != LG_FEATW_NONE) { /* re-weighed with the weights of all rows */
        if ((e = lg_featw_fit(&X, y, K, NULL, res->used, fwm, &final_fw, err))) goto done;
        /* (fitted on the weighed rows: df only counts which features a row holds) */
        lg_featw_apply(final_fw, split_fw, &X, 0, res->used);
    }
    if ((e = lg_centroids_build(&X, y, NULL, res->used, NULL, K, &final_c, err))) goto done;
    if (res->kind == LG_CLF_SVM) {
        e = lg_svm_train(&X, y, NULL, res->used, K, final_c, &o->svm, &final_s, &res->svm_final,
                         err);
        if (!e) final_s->platt_a = platt_a, final_s->platt_b = platt_b;
    } else {
        e = lg_logreg_train(&X, y, NULL, res->used, K, &o->lr, &final_m, &res->final_fit, err);
    }
    if (e) goto done;

    /* 8. figures and the bundle */
    unsigned long json_mark = lg_json_alloc_mark(); /* logify/jsonguard.h */
    char sum[17];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)d->checksum);
    double gap = lg_report_accuracy(&res->train) - lg_report_accuracy(&res->test);
    json_t *label_arr = json_array();
    for (size_t k = 0; k < K && label_arr; k++)
        if (json_array_append_new(label_arr, json_string(labels[k]))) figures_oom = 1;
    res->figures = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:s, s:s, s:I, s:f, s:f, "
        "s:s, s:{s:I, s:I, s:I}, s:o, s:o, s:f, s:o, s:o, s:o}",
        "data", o->data_name ? o->data_name : "", "data_fnv1a64", sum, "rows",
        (json_int_t)res->rows, "decided_by_rules", (json_int_t)res->by_rules, "routed_to_llm",
        (json_int_t)res->to_llm, "no_model_stage", (json_int_t)res->no_model, "rare_rows",
        (json_int_t)res->rare_rows, "min_label_rows", (json_int_t)o->min_label_rows,
        "rare_label_count", (json_int_t)res->rare_labels, "rare_labels", rare, "training_rows",
        (json_int_t)res->used, "labels", label_arr, "encoder", lg_encoder_spec(enc), "classifier",
        res->kind == LG_CLF_SVM ? "ovr_linear_svm" : "multinomial_logreg", "seed", (json_int_t)o->seed, "test_fraction", o->test_fraction, "C",
        res->kind == LG_CLF_SVM ? o->svm.C : o->lr.C, "class_weight",
        res->kind == LG_CLF_SVM ? "none" : o->lr.balanced ? "balanced" : "none", "split", "train_rows",
        (json_int_t)res->train_rows, "test_rows", (json_int_t)res->test_rows, "train_report_rows",
        (json_int_t)res->train_report_rows, "train",
        lg_report_json(&res->train), "test", lg_report_json(&res->test), "accuracy_gap", gap,
        "split_fit", fit_json(res, 0), "final_fit", fit_json(res, 1), "open_set", open_set);
    /* only when there are any: bundles without them keep their bytes */
    if (res->figures && fwm != LG_FEATW_NONE &&
        json_object_set_new(res->figures, "feature_weights",
                            json_string(lg_featw_method_name(fwm))))
        figures_oom = 1;
    if (res->figures && src_on &&
        json_object_set_new(res->figures, "source_feature", json_real(LG_SRCFEAT_VALUE)))
        figures_oom = 1;
    rare = NULL; /* stolen by json_pack (also on failure) */
    open_set = NULL;
    if (!res->figures || figures_oom) { /* a field missing from meta.json's figures */
        e = lg_fail(err, LG_ENOMEM, "out of memory (figures)");
        goto done;
    }
    lg_bundle *b = calloc(1, sizeof *b);
    if (!b) {
        e = lg_fail(err, LG_ENOMEM, "training: the bundle: out of memory");
        goto done;
    }
    res->bundle = b;
    b->labels = calloc(K, sizeof *b->labels);
    b->encoder_spec = lg_strdup(lg_encoder_spec(enc));
    b->encoder_config = lg_strdup(lg_encoder_config_json(enc));
    b->training =
        json_dumps(res->figures, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!b->labels || !b->encoder_spec || !b->encoder_config || !b->training ||
        lg_json_alloc_failed_since(json_mark)) { /* the figures' text may lack a key */
        e = lg_fail(err, LG_ENOMEM, "training: the figures: out of memory");
        goto done;
    }
    for (size_t k = 0; k < K; k++) {
        if (!(b->labels[k] = lg_strdup(labels[k]))) {
            e = lg_fail(err, LG_ENOMEM, "training: the bundle labels: out of memory");
            goto done;
        }
        b->n_labels = k + 1;
    }
    b->encoder_hash = lg_encoder_config_hash(enc);
    b->threshold = o->threshold;
    b->unknown_threshold = unknown;
    b->kind = res->kind;
    b->C = res->kind == LG_CLF_SVM ? o->svm.C : o->lr.C;
    b->balanced = res->kind == LG_CLF_SVM ? 0 : o->lr.balanced;
    b->clf = final_m;
    b->svm = final_s;
    b->cent = final_c;
    b->fw = final_fw;
    b->source_feature = src_on ? LG_SRCFEAT_VALUE : 0;
    final_fw = NULL;
    final_m = NULL;
    final_s = NULL;
    final_c = NULL;
done:
    json_decref(rare);
    json_decref(open_set);
    free(sims);
    lg_logreg_free(split_m);
    lg_logreg_free(final_m);
    lg_svm_free(split_s);
    lg_svm_free(final_s);
    lg_centroids_free(split_c);
    lg_centroids_free(final_c);
    lg_featw_free(split_fw);
    lg_featw_free(final_fw);
    lg_embeddings_free(&X);
    lg_encoder_scratch_free(es);
    lg_encoder_free(enc);
    lg_rules_scratch_free(rs);
    free(sel);
    free(dest);
    free(labels);
    free(label_rows);
    free(all_labels);
    free(y);
    free(msgs);
    free(lens);
    free(srcs);
    free(src_lens);
    free(train_idx);
    free(test_idx);
    free(order);
    if (e) lg_train_result_free(res);
    return e;
}
