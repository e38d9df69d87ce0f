/* model.c - the model stage: a bundle (labels + logistic regression) plus
 * the encoder its spec names, loaded and cross-checked once, immutable
 * afterwards; batch prediction with per-thread scratch; the lg_stage that
 * decides a record when the top probability reaches the threshold. */
#include "logify/model.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logify/bundle.h"
#include "logify/srcfeat.h"

struct lg_model {
    lg_bundle *bundle;   /* labels, classifier, threshold, figures */
    lg_encoder *encoder; /* rebuilt from bundle->encoder_spec */
    size_t *by_name;     /* (n_labels) class indices in byte order of their labels */
};

struct lg_model_scratch {
    const lg_model *m;
    lg_encoder_scratch *enc;
    lg_embeddings emb; /* the batch's rows */
    float *proba;      /* (n_classes) */
    lg_svm_scratch svm;          /* SVM bundles */
    lg_centroid_scratch cs;      /* open set of logreg bundles */
};

/* ---- Loading ------------------------------------------------------------------------- */

void lg_model_free(lg_model *m) {
    if (!m) return;
    lg_encoder_free(m->encoder);
    lg_bundle_free(m->bundle);
    free(m->by_name);
    free(m);
}

/* "sbert:DIR" with a relative DIR that exists inside the bundle is taken
 * relative to the bundle (so a bundle may carry its encoder); anything else
 * is used as written. */
static lg_err build_encoder(const char *dir, const char *spec, lg_encoder **out, lg_errmsg *err) {
    if (!strncmp(spec, "sbert:", 6) && spec[6] && spec[6] != '/') {
        char cand[4200];
        struct stat st;
        snprintf(cand, sizeof cand, "%s/%s", dir, spec + 6);
        if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode))
            return lg_encoder_sbert_new(cand, out, err);
    }
    return lg_encoder_new(spec, out, err);
}

typedef struct {
    const char *name;
    size_t idx;
} named;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

lg_err lg_model_load(const char *dir, lg_model **out, lg_errmsg *err) {
    *out = NULL;
    lg_model *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, LG_ENOMEM, "model: out of memory");
    lg_errmsg why;
    lg_err e = lg_bundle_read(dir, &m->bundle, &why);
    if (e) {
        lg_model_free(m);
        /* the reader's message names the bundle already (its directory or
         * one of its files): say it once */
        if (!strncmp(why.msg, "model bundle ", 13)) return lg_fail(err, e, "%s", why.msg);
        if (strstr(why.msg, dir)) return lg_fail(err, e, "model bundle: %s", why.msg);
        return lg_fail(err, e, "model bundle %.200s: %.280s", dir, why.msg);
    }
    const lg_bundle *b = m->bundle;
    e = build_encoder(dir, b->encoder_spec, &m->encoder, &why);
    if (e) {
        e = lg_fail(err, e == LG_EUNSUPPORTED || e == LG_ENOMEM ? e : LG_EMODEL,
                    "model bundle %.200s: encoder '%.100s': %.200s", dir, b->encoder_spec, why.msg);
        lg_model_free(m);
        return e;
    }
    size_t wdim = b->kind == LG_CLF_SVM ? b->svm->dim : b->clf->dim;
    if (lg_encoder_dim(m->encoder) != wdim) {
        e = lg_fail(
            err, LG_EMODEL,
            "model bundle %.200s: encoder '%.100s' gives %zu dimensions, weights expect %zu", dir,
            b->encoder_spec, lg_encoder_dim(m->encoder), wdim);
    } else if ((b->kind == LG_CLF_SVM || b->fw) && !lg_encoder_is_sparse(m->encoder)) {
        e = lg_fail(err, LG_EMODEL,
                    "model bundle %.200s: an ovr_linear_svm classifier or feature weights "
                    "need a sparse encoder",
                    dir);
    } else if (lg_encoder_config_hash(m->encoder) != b->encoder_hash) {
        e = lg_fail(
            err, LG_EMODEL,
            "model bundle %.200s: encoder '%.100s' is configured differently from the one the "
            "model was trained with (config hash %016llx, bundle says %016llx); retrain",
            dir, b->encoder_spec, (unsigned long long)lg_encoder_config_hash(m->encoder),
            (unsigned long long)b->encoder_hash);
    }
    if (!e && !(m->by_name = malloc(b->n_labels * sizeof *m->by_name)))
        e = lg_fail(err, LG_ENOMEM, "model labels: out of memory");
    named *tmp = e ? NULL : malloc(b->n_labels * sizeof *tmp);
    if (!e && !tmp) e = lg_fail(err, LG_ENOMEM, "model labels: out of memory");
    if (!e) { /* label lookup by name: indices sorted by label */
        for (size_t i = 0; i < b->n_labels; i++)
            tmp[i].name = b->labels[i], tmp[i].idx = i;
        qsort(tmp, b->n_labels, sizeof *tmp, cmp_named);
        for (size_t i = 0; i < b->n_labels; i++)
            m->by_name[i] = tmp[i].idx;
    }
    free(tmp);
    if (!e && b->kind == LG_CLF_LOGREG && b->cent && b->cent->dense)
        e = lg_logreg_seal_joint(b->clf, b->cent->dense, b->cent->Kp, err);
    if (e) {
        lg_model_free(m);
        return e;
    }
    *out = m;
    return LG_OK;
}

size_t lg_model_n_labels(const lg_model *m) {
    return m->bundle->n_labels;
}
const char *lg_model_label(const lg_model *m, size_t i) {
    return m->bundle->labels[i];
}
double lg_model_threshold(const lg_model *m) {
    return m->bundle->threshold;
}
const lg_encoder *lg_model_encoder(const lg_model *m) {
    return m->encoder;
}
const lg_logreg *lg_model_classifier(const lg_model *m) {
    return m->bundle->clf;
}
const char *lg_model_classifier_type(const lg_model *m) {
    return m->bundle->kind == LG_CLF_SVM ? "ovr_linear_svm" : "multinomial_logreg";
}
double lg_model_unknown_threshold(const lg_model *m) {
    return m->bundle->cent ? m->bundle->unknown_threshold : -1.0;
}
const char *lg_model_training_json(const lg_model *m) {
    return m->bundle->training;
}

lg_err lg_model_label_index(const lg_model *m, const char *label, size_t *out, lg_errmsg *err) {
    size_t lo = 0, hi = m->bundle->n_labels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->bundle->labels[m->by_name[mid]], label);
        if (c == 0) {
            *out = m->by_name[mid];
            return LG_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char known[300] = "";
    size_t used = 0;
    for (size_t i = 0; i < m->bundle->n_labels && used < sizeof known - 1; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                 m->bundle->labels[i]);
    return lg_fail(err, LG_ENOTFOUND, "label '%.100s' is not one of the model's labels (%s)", label,
                   known);
}

/* ---- Prediction -------------------------------------------------------------------- */

lg_err lg_model_scratch_new(const lg_model *m, lg_model_scratch **out, lg_errmsg *err) {
    *out = NULL;
    lg_model_scratch *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "model scratch: out of memory");
    s->m = m;
    lg_embeddings_init(&s->emb);
    s->proba = calloc(m->bundle->n_labels, sizeof *s->proba);
    lg_err e = s->proba ? lg_encoder_scratch_new(m->encoder, &s->enc, err)
                        : lg_fail(err, LG_ENOMEM, "model scratch: out of memory");
    if (!e && m->bundle->kind == LG_CLF_SVM)
        e = lg_svm_scratch_init(m->bundle->svm, &s->svm, err);
    else if (!e && m->bundle->cent)
        e = lg_centroid_scratch_init(m->bundle->cent, &s->cs, err);
    if (e) {
        lg_model_scratch_free(s);
        return e;
    }
    *out = s;
    return LG_OK;
}

void lg_model_scratch_free(lg_model_scratch *s) {
    if (!s) return;
    lg_encoder_scratch_free(s->enc);
    lg_embeddings_free(&s->emb);
    lg_svm_scratch_clear(&s->svm);
    lg_centroid_scratch_clear(&s->cs);
    free(s->proba);
    free(s);
}

lg_err lg_model_predict(const lg_model *m, lg_model_scratch *s, const char *const *msgs,
                        const size_t *lens, size_t n, int *cls, float *prob, float *sim,
                        lg_errmsg *err) {
    return lg_model_predict_src(m, s, msgs, lens, NULL, NULL, n, cls, prob, sim, err);
}

lg_err lg_model_predict_src(const lg_model *m, lg_model_scratch *s, const char *const *msgs,
                            const size_t *lens, const char *const *srcs, const size_t *src_lens,
                            size_t n, int *cls, float *prob, float *sim, lg_errmsg *err) {
    if (s->m != m) return lg_fail(err, LG_EINVAL, "model scratch belongs to another model");
    lg_err e = lg_encoder_encode_batch(m->encoder, s->enc, msgs, lens, n, &s->emb, err);
    if (e) return e;
    const lg_bundle *b = m->bundle;
    if (b->source_feature > 0 && srcs &&
        (e = lg_srcfeat_add(&s->emb, srcs, src_lens, b->source_feature, err)))
        return e;
    if (b->fw && s->emb.sparse) lg_featw_apply(b->fw, NULL, &s->emb, 0, n);
    for (size_t i = 0; i < n; i++) {
        float sm = 1.0f;
        int k;
        if (b->kind == LG_CLF_SVM) {
            k = lg_svm_predict_row(b->svm, &s->emb, i, &s->svm, &prob[i], &sm);
        } else {
            if (b->clf->Wj && s->emb.sparse) { /* weights and centroids in one pass */
                k = lg_logreg_predict_row_joint(b->clf, &s->emb, i, s->proba, &sm);
            } else {
                k = lg_logreg_predict_row(b->clf, &s->emb, i, s->proba);
                int best;
                if (b->cent) sm = lg_centroids_score(b->cent, &s->emb, i, &s->cs, &best);
            }
            prob[i] = k >= 0 ? s->proba[k] : 0.0f;
        }
        cls[i] = k;
        if (sim) sim[i] = sm;
    }
    return LG_OK;
}

/* ---- The stage --------------------------------------------------------------------- */

typedef struct {
    const lg_model *m;
    double threshold;
    double unknown; /* open set: similarity below it is passed on; < 0: off */
} stage_ctx;

typedef struct {
    lg_model_scratch *ms;
    const char **msgs; /* (cap) */
    size_t *lens;      /* (cap) */
    const char **srcs; /* (cap) */
    size_t *src_lens;  /* (cap) */
    int *cls;          /* (cap) */
    float *prob;       /* (cap) */
    float *sim;        /* (cap) */
    size_t cap;
} stage_scratch;

static void stage_scratch_free(void *p) {
    stage_scratch *s = p;
    if (!s) return;
    lg_model_scratch_free(s->ms);
    free(s->msgs);
    free(s->lens);
    free(s->srcs);
    free(s->src_lens);
    free(s->cls);
    free(s->prob);
    free(s->sim);
    free(s);
}

static lg_err stage_scratch_new(const void *ctx, void **out, lg_errmsg *err) {
    const stage_ctx *c = ctx;
    stage_scratch *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "model stage scratch: out of memory");
    lg_err e = lg_model_scratch_new(c->m, &s->ms, err);
    if (e) {
        stage_scratch_free(s);
        return e;
    }
    *out = s;
    return LG_OK;
}

static lg_err ensure_cap(stage_scratch *s, size_t n, lg_errmsg *err) {
    if (n <= s->cap) return LG_OK;
    const char **m = realloc(s->msgs, n * sizeof *m);
    if (m) s->msgs = m;
    size_t *l = m ? realloc(s->lens, n * sizeof *l) : NULL;
    if (l) s->lens = l;
    int *c = l ? realloc(s->cls, n * sizeof *c) : NULL;
    if (c) s->cls = c;
    float *p = c ? realloc(s->prob, n * sizeof *p) : NULL;
    if (p) s->prob = p;
    float *q = p ? realloc(s->sim, n * sizeof *q) : NULL;
    if (q) s->sim = q;
    const char **sr = q ? realloc(s->srcs, n * sizeof *sr) : NULL;
    if (sr) s->srcs = sr;
    size_t *sl = sr ? realloc(s->src_lens, n * sizeof *sl) : NULL;
    if (sl) s->src_lens = sl;
    if (!sl) return lg_fail(err, LG_ENOMEM, "out of memory (model stage)");
    s->cap = n;
    return LG_OK;
}

static lg_err stage_process(const void *ctx, void *scratch, lg_record **recs, size_t n,
                            lg_errmsg *err) {
    const stage_ctx *c = ctx;
    stage_scratch *s = scratch;
    lg_err e = ensure_cap(s, n, err);
    if (e) return e;
    for (size_t i = 0; i < n; i++) {
        s->msgs[i] = recs[i]->message;
        s->lens[i] = recs[i]->message_len;
        s->srcs[i] = recs[i]->source;
        s->src_lens[i] = recs[i]->source ? recs[i]->source_len : 0;
    }
    if ((e = lg_model_predict_src(c->m, s->ms, s->msgs, s->lens, s->srcs, s->src_lens, n, s->cls,
                                  s->prob, s->sim, err)))
        return e;
    for (size_t i = 0; i < n; i++) {
        lg_record *rec = recs[i];
        if (c->unknown >= 0 && s->sim[i] < c->unknown) {
            lg_record_detail(rec, "unlike any training line: similarity %.2f < %.2f", s->sim[i],
                             c->unknown);
            continue;
        }
        if (s->cls[i] < 0) {
            lg_record_detail(rec, "model: non-finite scores for this message");
            continue;
        }
        const char *label = lg_model_label(c->m, (size_t)s->cls[i]);
        double p = s->prob[i];
        if (p >= c->threshold) {
            lg_record_decide(rec, LG_STAGE_MODEL, label, p);
            lg_record_detail(rec, "model p=%.2f", p);
        } else {
            /* enough digits that p and the threshold read apart
             * ("p=1.00 < 1.00" said nothing) */
            int prec = 2;
            while (prec < 6 && round(p * pow(10, prec)) >= round(c->threshold * pow(10, prec)))
                prec++;
            lg_record_detail(rec, "model below threshold: %s p=%.*f < %.*f", label, prec, p, prec,
                             c->threshold);
        }
    }
    return LG_OK;
}

static void stage_ctx_free(void *ctx) {
    free(ctx);
}

static const lg_stage_ops model_stage_ops = {
    "model", LG_STAGE_MODEL, stage_scratch_new, stage_scratch_free, stage_process, stage_ctx_free,
    NULL,
};

lg_err lg_model_stage_new(const lg_model *m, const lg_stage_spec *spec, double default_threshold,
                          lg_stage *out, lg_errmsg *err) {
    double th = spec && spec->threshold >= 0 ? spec->threshold : default_threshold;
    if (!(th >= 0 && th <= 1))
        return lg_fail(err, LG_EINVAL, "model threshold %g is not in [0, 1]", th);
    stage_ctx *c = calloc(1, sizeof *c);
    if (!c) return lg_fail(err, LG_ENOMEM, "model stage: out of memory");
    c->m = m;
    c->threshold = th;
    c->unknown = lg_model_unknown_threshold(m);
    out->ops = &model_stage_ops;
    out->ctx = c;
    return LG_OK;
}
