/* svm.c - one-vs-rest linear SVM (squared hinge, L2, bias feature) by dual
 * coordinate descent with shrinking, each class trained against its own
 * rows and the rows that retrieve it among their nearest centroids;
 * prediction scores the nearest classes. See include/logify/svm.h. */
#include "logify/svm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Model ----------------------------------------------------------------------- */

void lg_svm_opts_default(lg_svm_opts *o) {
    o->C = 100.0; /* with purity weights, positional tokens, 1,000 epochs (docs/model.md) */
    o->epsilon = 0.1;
    o->max_epochs = 1000; /* scikit-learn's LinearSVC max_iter (docs/model.md) */
    o->candidates = 64;
    o->seed = 1;
    o->threads = 1;
}

void lg_svm_free(lg_svm *m) {
    if (!m) return;
    free(m->ptr);
    free(m->idx);
    free(m->val);
    free(m->bias);
    free(m);
}

lg_err lg_svm_new(size_t n_classes, size_t dim, size_t nnz, lg_svm **out, lg_errmsg *err) {
    *out = NULL;
    if (n_classes < 2 || dim < 1 || dim > (1u << 24))
        return lg_fail(err, LG_EINVAL, "svm: bad shape (%zu classes, dim %zu)", n_classes, dim);
    lg_svm *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, LG_ENOMEM, "svm model: out of memory");
    m->n_classes = n_classes;
    m->dim = dim;
    m->ptr = calloc(n_classes + 1, sizeof *m->ptr);
    m->idx = malloc((nnz ? nnz : 1) * sizeof *m->idx);
    m->val = malloc((nnz ? nnz : 1) * sizeof *m->val);
    m->bias = calloc(n_classes, sizeof *m->bias);
    if (!m->ptr || !m->idx || !m->val || !m->bias) {
        lg_svm_free(m);
        return lg_fail(err, LG_ENOMEM, "out of memory (svm weights)");
    }
    m->ptr[n_classes] = nnz;
    m->candidates = 64;
    m->platt_a = 1.0f;
    m->platt_b = 0.0f;
    *out = m;
    return LG_OK;
}

lg_err lg_svm_check(const lg_svm *m, lg_errmsg *err) {
    const size_t K = m->n_classes, nnz = m->ptr[K];
    for (size_t k = 0; k < K; k++) {
        if (m->ptr[k] > m->ptr[k + 1] || m->ptr[k + 1] > nnz)
            return lg_fail(err, LG_EMODEL, "svm: class %zu: bad offsets", k);
        if (!isfinite(m->bias[k])) return lg_fail(err, LG_EMODEL, "svm: bias %zu not finite", k);
        for (size_t q = m->ptr[k]; q < m->ptr[k + 1]; q++)
            if (m->idx[q] >= m->dim || (q > m->ptr[k] && m->idx[q] <= m->idx[q - 1]) ||
                !isfinite(m->val[q]))
                return lg_fail(err, LG_EMODEL,
                               "svm: class %zu: weights not ascending below %zu or not finite", k,
                               m->dim);
    }
    if (m->candidates < 1) return lg_fail(err, LG_EMODEL, "svm: candidates must be >= 1");
    if (!isfinite(m->platt_a) || !isfinite(m->platt_b))
        return lg_fail(err, LG_EMODEL, "svm: Platt coefficients must be finite");
    return LG_OK;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- Training ---------------------------------------------------------------------- */

typedef struct {
    const lg_embeddings *X;
    const size_t *row_of; /* (n_d) X row of each distinct row */
    const int *yd;        /* (n_d) class of each distinct row */
    const double *mult;   /* (n_d) multiplicity */
    const double *xsq;    /* (n_d) squared norm */
    const size_t *pptr;   /* (K + 1) pairs of each class */
    const uint32_t *prow; /* distinct rows of each class's problem */
    size_t K, D;
    const lg_svm_opts *o;
    /* results, per class */
    uint32_t **widx;
    float **wval;
    size_t *wn;
    float *bias;
    int *epochs;
    /* work sharing */
    pthread_mutex_t mu;
    size_t next;
    lg_err e;
} fit_job;

typedef struct {
    double *w;         /* (D) */
    uint8_t *mark;     /* (D) */
    uint32_t *touched; /* (D) */
    double *alpha;     /* (max class problem) */
    uint32_t *index;   /* (max class problem) */
} fit_work;

static double dot_row(const lg_embeddings *X, size_t i, const double *w) {
    double s = 0;
    for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
        s += w[X->indices[q]] * X->values[q];
    return s;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Dual coordinate descent for class k (liblinear's solve_l2r_l1l2_svc, L2
 * loss, bias as a feature of value 1). */
static lg_err fit_class(fit_job *J, fit_work *W, size_t k) {
    const lg_embeddings *X = J->X;
    const size_t a0 = J->pptr[k], n = J->pptr[k + 1] - a0;
    const uint32_t *R = J->prow + a0;
    double b = 0;
    size_t nt = 0;
    for (size_t s = 0; s < n; s++) {
        W->alpha[s] = 0;
        W->index[s] = (uint32_t)s;
    }
    uint64_t rng = J->o->seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)k;
    double pgmax_old = INFINITY; /* no upper bound on alpha (L2 loss): no pgmin shrinking */
    size_t active = n;
    int epoch = 0;
    for (; epoch < J->o->max_epochs; epoch++) {
        for (size_t s = 0; s + 1 < active; s++) { /* seeded shuffle */
            size_t j = s + (size_t)(splitmix64(&rng) % (active - s));
            uint32_t t = W->index[s];
            W->index[s] = W->index[j];
            W->index[j] = t;
        }
        double pgmax = -INFINITY, pgmin = INFINITY;
        for (size_t s = 0; s < active; s++) {
            uint32_t li = W->index[s];
            size_t d = R[li], i = J->row_of[d];
            double yi = J->yd[d] == (int)k ? 1.0 : -1.0;
            double dii = 1.0 / (2.0 * J->o->C * J->mult[d]);
            double G = yi * (dot_row(X, i, W->w) + b) - 1.0 + dii * W->alpha[li];
            double PG = 0;
            if (W->alpha[li] == 0) {
                if (G > pgmax_old) { /* shrink */
                    active--;
                    W->index[s] = W->index[active];
                    W->index[active] = li;
                    s--;
                    continue;
                }
                if (G < 0) PG = G;
            } else {
                PG = G;
            }
            if (PG > pgmax) pgmax = PG;
            if (PG < pgmin) pgmin = PG;
            if (fabs(PG) > 1e-12) {
                double old = W->alpha[li];
                double qd = J->xsq[d] + 1.0 + dii;
                W->alpha[li] = old - G / qd > 0 ? old - G / qd : 0;
                double step = (W->alpha[li] - old) * yi;
                for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++) {
                    uint32_t j = X->indices[q];
                    if (!W->mark[j]) W->mark[j] = 1, W->touched[nt++] = j;
                    W->w[j] += step * X->values[q];
                }
                b += step;
            }
        }
        if (pgmax - pgmin <= J->o->epsilon) {
            if (active == n) break;
            active = n;
            pgmax_old = INFINITY;
            continue;
        }
        pgmax_old = pgmax <= 0 ? INFINITY : pgmax;
    }
    qsort(W->touched, nt, sizeof *W->touched, cmp_u32);
    size_t nz = 0;
    for (size_t t = 0; t < nt; t++)
        nz += W->w[W->touched[t]] != 0.0;
    uint32_t *idx = malloc((nz ? nz : 1) * sizeof *idx);
    float *val = malloc((nz ? nz : 1) * sizeof *val);
    if (!idx || !val) {
        free(idx);
        free(val);
        return LG_ENOMEM;
    }
    size_t q = 0;
    for (size_t t = 0; t < nt; t++) {
        uint32_t j = W->touched[t];
        if (W->w[j] != 0.0) {
            idx[q] = j;
            val[q++] = (float)W->w[j];
        }
        W->w[j] = 0;
        W->mark[j] = 0;
    }
    J->widx[k] = idx;
    J->wval[k] = val;
    J->wn[k] = nz;
    J->bias[k] = (float)b;
    J->epochs[k] = epoch;
    return LG_OK;
}

static void *fit_worker(void *arg) {
    fit_job *J = arg;
    size_t maxn = 1;
    for (size_t k = 0; k < J->K; k++)
        if (J->pptr[k + 1] - J->pptr[k] > maxn) maxn = J->pptr[k + 1] - J->pptr[k];
    fit_work W = {calloc(J->D, sizeof(double)), calloc(J->D, 1), malloc(J->D * sizeof(uint32_t)),
                  malloc(maxn * sizeof(double)), malloc(maxn * sizeof(uint32_t))};
    lg_err e = W.w && W.mark && W.touched && W.alpha && W.index ? LG_OK : LG_ENOMEM;
    for (;;) {
        pthread_mutex_lock(&J->mu);
        if (e && !J->e) J->e = e;
        size_t k = J->e ? J->K : J->next++;
        pthread_mutex_unlock(&J->mu);
        if (k >= J->K) break;
        e = fit_class(J, &W, k);
    }
    free(W.w);
    free(W.mark);
    free(W.touched);
    free(W.alpha);
    free(W.index);
    return NULL;
}

/* Identical rows (same class, same stored values) are kept once with a
 * multiplicity: the dual problem with cost C x m is the same problem. */
static size_t dedupe(const lg_embeddings *X, const int *y, const size_t *rows, size_t n,
                     size_t *row_of, int *yd, double *mult, size_t *slots, size_t tsize) {
    size_t kept = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r, a = X->indptr[i], len = X->indptr[i + 1] - a;
        uint64_t h = lg_fnv1a64(&y[i], sizeof y[i], 0);
        h = lg_fnv1a64(X->indices + a, len * sizeof *X->indices, h);
        h = lg_fnv1a64(X->values + a, len * sizeof *X->values, h);
        size_t t = (size_t)h & (tsize - 1);
        for (; slots[t]; t = (t + 1) & (tsize - 1)) {
            size_t k = slots[t] - 1, j = row_of[k], ka = X->indptr[j];
            if (yd[k] == y[i] && X->indptr[j + 1] - ka == len &&
                !memcmp(X->indices + ka, X->indices + a, len * sizeof *X->indices) &&
                !memcmp(X->values + ka, X->values + a, len * sizeof *X->values))
                break;
        }
        if (slots[t]) {
            mult[slots[t] - 1] += 1.0;
            continue;
        }
        slots[t] = kept + 1;
        row_of[kept] = i;
        yd[kept] = y[i];
        mult[kept++] = 1.0;
    }
    return kept;
}

/* Runs fn(arg) on `threads` threads (1..64), this one included, and waits
 * for them; a thread that cannot be started leaves its share to the others
 * (the workers take their work from a shared counter). */
static void run_threads(int threads, void *(*fn)(void *), void *arg) {
    int nth = threads > 1 ? (threads > 64 ? 64 : threads) : 1;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nth; t++)
        if (pthread_create(&th[started], NULL, fn, arg) == 0) started++;
    fn(arg);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

/* Candidates of each distinct row (its M nearest centroids) and its
 * squared norm, rows shared out in blocks over the threads, each with its
 * own centroid scratch; a row's result depends on the row only. */
typedef struct {
    const lg_embeddings *X;
    const lg_centroids *cent;
    const size_t *row_of;
    size_t nd, M, K;
    double *xsq;    /* (nd) */
    uint32_t *cand; /* (nd, M) */
    size_t *candn;  /* (nd) */
    pthread_mutex_t mu;
    size_t next;
    lg_err e;
} retrieve_job;

#define RETRIEVE_BLOCK 256

static void *retrieve_worker(void *arg) {
    retrieve_job *R = arg;
    const lg_embeddings *X = R->X;
    lg_centroid_scratch cs;
    lg_err e = R->M == R->K ? (memset(&cs, 0, sizeof cs), LG_OK)
                            : lg_centroid_scratch_init(R->cent, &cs, NULL);
    for (;;) {
        pthread_mutex_lock(&R->mu);
        if (e && !R->e) R->e = e;
        size_t a = R->e ? R->nd : R->next;
        R->next = a + RETRIEVE_BLOCK;
        pthread_mutex_unlock(&R->mu);
        if (a >= R->nd) break;
        size_t z = a + RETRIEVE_BLOCK < R->nd ? a + RETRIEVE_BLOCK : R->nd;
        for (size_t d = a; d < z; d++) {
            size_t i = R->row_of[d];
            double ss = 0;
            for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
                ss += (double)X->values[q] * X->values[q];
            R->xsq[d] = ss;
            if (R->M == R->K) {
                R->candn[d] = R->K;
                continue;
            }
            int best;
            lg_centroids_score(R->cent, X, i, &cs, &best);
            R->candn[d] = lg_centroids_top(&cs, R->M, R->cand + d * R->M);
        }
    }
    lg_centroid_scratch_clear(&cs);
    return NULL;
}

lg_err lg_svm_train(const lg_embeddings *X, const int *y, const size_t *rows, size_t n,
                    size_t n_classes, const lg_centroids *cent, const lg_svm_opts *o,
                    lg_svm **out, lg_svm_fit_info *info, lg_errmsg *err) {
    *out = NULL;
    const size_t K = n_classes, D = X->dim;
    if (!X->sparse) return lg_fail(err, LG_EUNSUPPORTED, "svm: needs a sparse encoder");
    if (n == 0) return lg_fail(err, LG_EINVAL, "training set is empty");
    if (K < 2) return lg_fail(err, LG_EINVAL, "training needs at least two classes");
    if (!(o->C > 0) || o->candidates < 1)
        return lg_fail(err, LG_EINVAL, "svm: C must be > 0 and candidates >= 1");
    if (cent->n_classes != K || cent->dim != D)
        return lg_fail(err, LG_EINVAL, "svm: centroids of another shape");
    const size_t M = o->candidates < K ? o->candidates : K;
    const double t0 = lg_now();
    lg_err e = LG_OK;
    size_t tsize = 16;
    while (tsize < 2 * n)
        tsize *= 2;
    size_t *row_of = malloc(n * sizeof *row_of), *slots = calloc(tsize, sizeof *slots);
    int *yd = malloc(n * sizeof *yd);
    double *mult = malloc(n * sizeof *mult), *xsq = NULL;
    uint32_t *cand = NULL, *prow = NULL;
    size_t *pptr = calloc(K + 2, sizeof *pptr), *candn = NULL;
    fit_job J;
    memset(&J, 0, sizeof J);
    lg_svm *m = NULL;
    if (!row_of || !slots || !yd || !mult || !pptr) goto nomem;
    for (size_t r = 0; r < n; r++) {
        int k = y[rows ? rows[r] : r];
        if (k < 0 || (size_t)k >= K) {
            e = lg_fail(err, LG_EINVAL, "svm: label index %d out of range", k);
            goto done;
        }
    }
    size_t nd = dedupe(X, y, rows, n, row_of, yd, mult, slots, tsize);
    free(slots);
    slots = NULL;
    /* candidates of each distinct row: its M nearest centroids */
    xsq = malloc(nd * sizeof *xsq);
    cand = malloc(nd * M * sizeof *cand);
    candn = malloc(nd * sizeof *candn);
    if (!xsq || !cand || !candn) goto nomem;
    {
        retrieve_job R;
        memset(&R, 0, sizeof R);
        R.X = X, R.cent = cent, R.row_of = row_of, R.nd = nd, R.M = M, R.K = K;
        R.xsq = xsq, R.cand = cand, R.candn = candn;
        pthread_mutex_init(&R.mu, NULL);
        run_threads(o->threads, retrieve_worker, &R);
        pthread_mutex_destroy(&R.mu);
        if (R.e) goto nomem;
    }
    /* pairs: class k's problem = its rows + rows that retrieve k */
    for (size_t d = 0; d < nd; d++) {
        pptr[yd[d] + 1]++;
        for (size_t c = 0; c < candn[d]; c++) {
            size_t k = M == K ? c : cand[d * M + c];
            if ((int)k != yd[d]) pptr[k + 1]++;
        }
    }
    for (size_t k = 0; k < K; k++)
        pptr[k + 1] += pptr[k];
    if (!(prow = malloc((pptr[K] ? pptr[K] : 1) * sizeof *prow))) goto nomem;
    {
        size_t *fill = malloc((K + 1) * sizeof *fill);
        if (!fill) goto nomem;
        memcpy(fill, pptr, (K + 1) * sizeof *fill);
        for (size_t d = 0; d < nd; d++) {
            prow[fill[yd[d]]++] = (uint32_t)d;
            for (size_t c = 0; c < candn[d]; c++) {
                size_t k = M == K ? c : cand[d * M + c];
                if ((int)k != yd[d]) prow[fill[k]++] = (uint32_t)d;
            }
        }
        free(fill);
    }
    free(cand);
    cand = NULL;
    /* train the classes */
    J.X = X, J.row_of = row_of, J.yd = yd, J.mult = mult, J.xsq = xsq, J.pptr = pptr;
    J.prow = prow, J.K = K, J.D = D, J.o = o;
    J.widx = calloc(K, sizeof *J.widx);
    J.wval = calloc(K, sizeof *J.wval);
    J.wn = calloc(K, sizeof *J.wn);
    J.bias = calloc(K, sizeof *J.bias);
    J.epochs = calloc(K, sizeof *J.epochs);
    if (!J.widx || !J.wval || !J.wn || !J.bias || !J.epochs) goto nomem;
    pthread_mutex_init(&J.mu, NULL);
    run_threads(o->threads, fit_worker, &J);
    pthread_mutex_destroy(&J.mu);
    if (J.e) goto nomem;
    size_t nnz = 0;
    for (size_t k = 0; k < K; k++)
        nnz += J.wn[k];
    if ((e = lg_svm_new(K, D, nnz, &m, err))) goto done;
    size_t q = 0;
    double ep = 0;
    int hit = 0;
    for (size_t k = 0; k < K; k++) {
        memcpy(m->idx + q, J.widx[k], J.wn[k] * sizeof *m->idx);
        memcpy(m->val + q, J.wval[k], J.wn[k] * sizeof *m->val);
        q += J.wn[k];
        m->ptr[k + 1] = q;
        m->bias[k] = J.bias[k];
        ep += J.epochs[k];
        hit += J.epochs[k] >= o->max_epochs;
    }
    m->candidates = o->candidates;
    m->cent = cent;
    if (info) {
        info->pairs = pptr[K];
        info->weights = nnz;
        info->mean_epochs = ep / (double)K;
        info->max_epochs_hit = hit;
        info->seconds = lg_now() - t0;
    }
    *out = m;
    m = NULL;
    goto done;
nomem:
    e = lg_fail(err, LG_ENOMEM, "out of memory (svm training)");
done:
    if (J.widx)
        for (size_t k = 0; k < K; k++) {
            free(J.widx[k]);
            free(J.wval[k]);
        }
    free(J.widx);
    free(J.wval);
    free(J.wn);
    free(J.bias);
    free(J.epochs);
    lg_svm_free(m);
    free(row_of);
    free(slots);
    free(yd);
    free(mult);
    free(xsq);
    free(cand);
    free(candn);
    free(pptr);
    free(prow);
    return e;
}

/* ---- Prediction ---------------------------------------------------------------------- */

lg_err lg_svm_scratch_init(const lg_svm *m, lg_svm_scratch *s, lg_errmsg *err) {
    memset(s, 0, sizeof *s);
    lg_err e = lg_centroid_scratch_init(m->cent, &s->cs, err);
    if (e) return e;
    size_t M = m->candidates < m->n_classes ? m->candidates : m->n_classes;
    s->cand = malloc(M * sizeof *s->cand);
    s->score = malloc(M * sizeof *s->score);
    s->xd = calloc(m->dim, sizeof *s->xd);
    if (!s->cand || !s->score || !s->xd) {
        lg_svm_scratch_clear(s);
        return lg_fail(err, LG_ENOMEM, "out of memory (svm scratch)");
    }
    return LG_OK;
}

void lg_svm_scratch_clear(lg_svm_scratch *s) {
    lg_centroid_scratch_clear(&s->cs);
    free(s->cand);
    free(s->score);
    free(s->xd);
    memset(s, 0, sizeof *s);
}

/* w_k . x with x scattered into the dense xd: one gather per stored
 * weight, no branches. Eight partial sums in a fixed order (the result
 * depends on the weights and the row only, not on the CPU or threads);
 * a merge of the two sorted lists mispredicts on every step and was two
 * thirds of prediction time with 1,407 classes (docs/model.md). */
static float class_score(const lg_svm *m, size_t k, const float *xd) {
    const uint32_t *wi = m->idx + m->ptr[k];
    const float *wv = m->val + m->ptr[k];
    const size_t nw = m->ptr[k + 1] - m->ptr[k];
    float p[8] = {0};
    size_t q = 0;
    for (; q + 8 <= nw; q += 8)
        for (size_t t = 0; t < 8; t++)
            p[t] += wv[q + t] * xd[wi[q + t]];
    for (; q < nw; q++)
        p[0] += wv[q] * xd[wi[q]];
    return m->bias[k] + (((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])));
}

int lg_svm_predict_row(const lg_svm *m, const lg_embeddings *X, size_t row, lg_svm_scratch *s,
                       float *prob, float *sim) {
    const size_t K = m->n_classes;
    int best = -1;
    *sim = lg_centroids_score(m->cent, X, row, &s->cs, &best);
    *prob = 0;
    s->n_cand = 0;
    if (best < 0 || !X->sparse) return -1;
    /* the row scattered (features are unique within a row; one past the
     * model's dim cannot carry a weight) */
    const size_t q0 = X->indptr[row], q1 = X->indptr[row + 1];
    for (size_t q = q0; q < q1; q++)
        if (X->indices[q] < m->dim) s->xd[X->indices[q]] = X->values[q];
    size_t nc;
    if (m->candidates >= K) {
        nc = K;
        for (size_t k = 0; k < K; k++)
            s->cand[k] = (uint32_t)k;
    } else {
        nc = lg_centroids_top(&s->cs, m->candidates, s->cand);
    }
    int top = -1;
    s->n_cand = nc;
    for (size_t c = 0; c < nc; c++) {
        s->score[c] = class_score(m, s->cand[c], s->xd);
        if (top < 0 || s->score[c] > s->score[top]) top = (int)c;
    }
    for (size_t q = q0; q < q1; q++)
        if (X->indices[q] < m->dim) s->xd[X->indices[q]] = 0.0f;
    for (size_t c = 0; c < nc; c++)
        if (!isfinite(s->score[c])) return -1;
    *prob = (float)(1.0 / (1.0 + exp(-((double)m->platt_a * s->score[top] + m->platt_b))));
    return (int)s->cand[top];
}
