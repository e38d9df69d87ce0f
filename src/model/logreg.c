/* logreg.c - multinomial logistic regression: objective + gradient over
 * sparse or dense rows, L-BFGS training through liblbfgs, prediction.
 * See include/logify/logreg.h for the objective. */
#include "logify/logreg.h"
#include "logify/dynlib_lbfgs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Model ---------------------------------------------------------------------- */

void lg_logreg_opts_default(lg_logreg_opts *o) {
    o->C = 10.0;
    o->balanced = 1;
    o->max_iter = 500;
    o->epsilon = 1e-6;
}

lg_err lg_logreg_new(size_t n_classes, size_t dim, lg_logreg **out, lg_errmsg *err) {
    *out = NULL;
    if (n_classes < 2 || n_classes > LG_LOGREG_MAX_CLASSES || dim == 0 || dim > (1u << 24))
        return lg_fail(err, LG_EINVAL, "logreg: bad shape (%zu classes, dim %zu)", n_classes, dim);
    lg_logreg *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, LG_ENOMEM, "logreg model: out of memory");
    m->n_classes = n_classes;
    m->dim = dim;
    m->W = calloc(n_classes * dim, sizeof *m->W);
    m->b = calloc(n_classes, sizeof *m->b);
    if (!m->W || !m->b) {
        lg_logreg_free(m);
        return lg_fail(err, LG_ENOMEM, "out of memory (logreg weights)");
    }
    *out = m;
    return LG_OK;
}

lg_err lg_logreg_seal(lg_logreg *m, lg_errmsg *err) {
    const size_t K = m->n_classes, Kp = (K + 3) & ~(size_t)3;
    free(m->Wp);
    m->Wp = calloc(m->dim * Kp, sizeof *m->Wp);
    if (!m->Wp) return lg_fail(err, LG_ENOMEM, "out of memory (logreg weights)");
    for (size_t j = 0; j < m->dim; j++)
        memcpy(m->Wp + j * Kp, m->W + j * K, K * sizeof *m->W);
    m->Kp = Kp;
    return LG_OK;
}

lg_err lg_logreg_seal_joint(lg_logreg *m, const float *cent_dense, size_t cent_kp,
                            lg_errmsg *err) {
    if (!m->Wp || cent_kp != m->Kp || !cent_dense)
        return lg_fail(err, LG_EINVAL, "logreg: joint table needs a sealed model and centroids "
                                       "of the same classes");
    const size_t Kp = m->Kp;
    free(m->Wj);
    if (!(m->Wj = malloc(m->dim * 2 * Kp * sizeof *m->Wj)))
        return lg_fail(err, LG_ENOMEM, "out of memory (logreg weights)");
    for (size_t j = 0; j < m->dim; j++) {
        memcpy(m->Wj + j * 2 * Kp, m->Wp + j * Kp, Kp * sizeof *m->Wj);
        memcpy(m->Wj + j * 2 * Kp + Kp, cent_dense + j * Kp, Kp * sizeof *m->Wj);
    }
    return LG_OK;
}

void lg_logreg_free(lg_logreg *m) {
    if (!m) return;
    free(m->Wj);
    free(m->Wp);
    free(m->W);
    free(m->b);
    free(m);
}

/* ---- Kernels -------------------------------------------------------------------- */

/* In-place softmax of s[0..K-1]; returns log-sum-exp. */
static double softmax_d(double *s, size_t K) {
    if (K == 0) return 0;
    double mx = s[0];
    for (size_t k = 1; k < K; k++)
        if (s[k] > mx) mx = s[k];
    double z = 0;
    for (size_t k = 0; k < K; k++) {
        s[k] = exp(s[k] - mx);
        z += s[k];
    }
    for (size_t k = 0; k < K; k++)
        s[k] /= z;
    /* z >= 1: the max term is exp(0) */
    // cppcheck-suppress invalidFunctionArg
    return mx + log(z);
}

/* scores s = x_row W + b, with W (D, K) feature-major doubles */
static void scores_d(const lg_embeddings *X, size_t row, const double *W, const double *b, size_t K,
                     double *s) {
    for (size_t k = 0; k < K; k++)
        s[k] = b[k];
    if (X->sparse) {
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++) {
            const double *w = W + (size_t)X->indices[q] * K;
            double v = X->values[q];
            for (size_t k = 0; k < K; k++)
                s[k] += v * w[k];
        }
    } else {
        const float *x = X->dense + row * X->dim;
        for (size_t j = 0; j < X->dim; j++) {
            if (x[j] == 0.0f) continue;
            const double *w = W + j * K;
            for (size_t k = 0; k < K; k++)
                s[k] += x[j] * w[k];
        }
    }
}

/* ---- Objective ------------------------------------------------------------------- */

double lg_logreg_objective(const lg_logreg_problem *p, const double *theta, double *grad) {
    const size_t K = p->n_classes, D = p->X->dim;
    const double *W = theta, *b = theta + D * K;
    double *gW = grad, *gb = grad ? grad + D * K : NULL;
    double s[LG_LOGREG_MAX_CLASSES];
    double f = 0;
    if (grad) memset(grad, 0, (D * K + K) * sizeof *grad);
    for (size_t r = 0; r < p->n_rows; r++) {
        size_t i = p->rows ? p->rows[r] : r;
        int y = p->y[i];
        double sw = p->class_weight ? p->class_weight[y] : 1.0;
        if (p->row_weight) sw *= p->row_weight[r];
        scores_d(p->X, i, W, b, K, s);
        double lse = softmax_d(s, K); /* s now holds probabilities */
        /* -log p_y = lse - score_y; score_y = log(p_y) + lse */
        double py = s[y] > 1e-300 ? s[y] : 1e-300;
        f += sw * -log(py);
        (void)lse;
        if (!grad) continue;
        s[y] -= 1.0; /* dL/dscore = p - onehot(y) */
        for (size_t k = 0; k < K; k++) {
            s[k] *= sw;
            gb[k] += s[k];
        }
        if (p->X->sparse) {
            for (size_t q = p->X->indptr[i]; q < p->X->indptr[i + 1]; q++) {
                double *g = gW + (size_t)p->X->indices[q] * K;
                double v = p->X->values[q];
                for (size_t k = 0; k < K; k++)
                    g[k] += v * s[k];
            }
        } else {
            const float *x = p->X->dense + i * D;
            for (size_t j = 0; j < D; j++) {
                if (x[j] == 0.0f) continue;
                double *g = gW + j * K;
                for (size_t k = 0; k < K; k++)
                    g[k] += x[j] * s[k];
            }
        }
    }
    /* L2 on W only */
    double reg = 0, lam = 1.0 / p->C;
    for (size_t j = 0; j < D * K; j++) {
        reg += W[j] * W[j];
        if (grad) gW[j] += lam * W[j];
    }
    return f + 0.5 * lam * reg;
}

/* ---- Training ---------------------------------------------------------------------- */

typedef struct {
    lg_logreg_problem p;
    int iterations;
} train_inst;

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                const int n, const lbfgsfloatval_t step) {
    (void)n;
    (void)step;
    return lg_logreg_objective(&((train_inst *)inst)->p, x, g);
}

static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                    const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                    const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k, int ls) {
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((train_inst *)inst)->iterations = k;
    return 0;
}

static const char *lbfgs_text(int st) {
    switch (st) {
    case LBFGS_SUCCESS: return "converged";
    case LBFGS_ALREADY_MINIMIZED: return "already minimized";
    case LBFGS_STOP: return "stopped (no progress)";
    case LBFGSERR_MAXIMUMITERATION: return "iteration limit reached";
    case LBFGSERR_ROUNDING_ERROR: return "stopped at machine precision";
    case LBFGSERR_MAXIMUMLINESEARCH: return "line search limit reached";
    case LBFGSERR_MINIMUMSTEP:
    case LBFGSERR_MAXIMUMSTEP: return "line search step out of range";
    case LBFGSERR_OUTOFMEMORY: return "out of memory";
    default: return "optimiser error";
    }
}

/* can the result of this liblbfgs status be used? (the ones that stop
 * near the optimum are fine; the final loss is checked separately) */
static int usable(int st) {
    return st == LBFGS_SUCCESS || st == LBFGS_ALREADY_MINIMIZED || st == LBFGS_STOP ||
           st == LBFGSERR_MAXIMUMITERATION || st == LBFGSERR_ROUNDING_ERROR ||
           st == LBFGSERR_MAXIMUMLINESEARCH || st == LBFGSERR_MINIMUMSTEP ||
           st == LBFGSERR_MAXIMUMSTEP || st == LBFGSERR_INCREASEGRADIENT;
}

/* does compact column c stand for original column j? */
static int same_col(const uint32_t *col_of, uint32_t c, uint32_t j) {
    return col_of[j] == c + 1;
}

static int row_finite(const lg_embeddings *X, size_t i) {
    if (X->sparse) {
        for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
            if (!isfinite(X->values[q]) || X->indices[q] >= X->dim) return 0;
        return 1;
    }
    for (size_t j = 0; j < X->dim; j++)
        if (!isfinite(X->dense[i * X->dim + j])) return 0;
    return 1;
}

lg_err lg_logreg_train(const lg_embeddings *X, const int *y, const size_t *rows, size_t n_rows,
                       size_t n_classes, const lg_logreg_opts *o, lg_logreg **out,
                       lg_logreg_fit_info *info, lg_errmsg *err) {
    *out = NULL;
    lg_logreg_opts def;
    if (!o) {
        lg_logreg_opts_default(&def);
        o = &def;
    }
    if (n_rows == 0) return lg_fail(err, LG_EINVAL, "training set is empty");
    if (n_classes < 2 || n_classes > LG_LOGREG_MAX_CLASSES)
        return lg_fail(err, LG_EINVAL,
                       "the logistic regression takes 2..%d classes, got %zu (its weights are "
                       "dense: use --classifier svm or auto for more)",
                       LG_LOGREG_MAX_CLASSES, n_classes);
    if (!(o->C > 0) || !isfinite(o->C))
        return lg_fail(err, LG_EINVAL, "C must be a positive number");
    size_t counts[LG_LOGREG_MAX_CLASSES] = {0};
    for (size_t r = 0; r < n_rows; r++) {
        size_t i = rows ? rows[r] : r;
        if (i >= X->n_rows) return lg_fail(err, LG_EINVAL, "row %zu out of range", i);
        if (y[i] < 0 || (size_t)y[i] >= n_classes)
            return lg_fail(err, LG_EINVAL, "row %zu: label index %d out of range", i, y[i]);
        if (!row_finite(X, i))
            return lg_fail(err, LG_EINVAL,
                           "row %zu: the encoder produced a non-finite value (NaN/Inf)", i);
        counts[y[i]]++;
    }
    size_t present = 0;
    for (size_t k = 0; k < n_classes; k++)
        present += counts[k] > 0;
    if (present < 2)
        return lg_fail(err, LG_EINVAL,
                       "training needs at least two classes; the rows hold only one");
    double cw[LG_LOGREG_MAX_CLASSES];
    for (size_t k = 0; k < n_classes; k++)
        cw[k] = !o->balanced ? 1.0
                : counts[k]  ? (double)n_rows / ((double)present * (double)counts[k])
                             : 0.0;

    /* Sparse rows: columns no training row touches keep weight 0 (their
     * gradient is the L2 term alone), so the optimiser runs over the used
     * columns only (a compacted copy of the rows) and the result is
     * scattered back. Same minimiser, far fewer variables. */
    const size_t D = X->dim, K = n_classes;
    lg_embeddings Xc;
    lg_embeddings_init(&Xc);
    uint32_t *col_of = NULL;    /* (D) compact column + 1, 0 = unused */
    uint32_t *used_cols = NULL; /* (Dc) original column of each compact one */
    int *yc = NULL;
    double *mult = NULL;  /* (rows kept) how many identical rows each stands for */
    size_t *slots = NULL; /* dedupe table: kept row + 1 */
    size_t n_t = n_rows;  /* rows the optimiser sees */
    size_t Dc = D;
    const lg_embeddings *Xt = X;
    const size_t *rows_t = rows;
    const int *y_t = y;
    lbfgsfloatval_t *theta = NULL;
    lg_logreg *m = NULL;
    lg_err e = LG_OK;
    double t0 = lg_now();
    if (X->sparse) {
        col_of = calloc(D, sizeof *col_of);
        yc = calloc(n_rows, sizeof *yc);
        mult = calloc(n_rows, sizeof *mult);
        size_t tsize = 16;
        while (tsize < 2 * n_rows)
            tsize *= 2;
        slots = calloc(tsize, sizeof *slots);
        if (!mult || !slots) {
            e = lg_fail(err, LG_ENOMEM, "logreg training: out of memory");
            goto done;
        }
        size_t nnz = 0;
        for (size_t r = 0; r < n_rows; r++) {
            size_t i = rows ? rows[r] : r;
            nnz += X->indptr[i + 1] - X->indptr[i];
        }
        if (!col_of || !yc || (e = lg_embeddings_reserve_sparse(&Xc, n_rows, D, nnz, err))) {
            if (!e) e = lg_fail(err, LG_ENOMEM, "logreg training: out of memory");
            goto done;
        }
        /* Logs repeat: identical rows (same label, same stored values in
         * the same order) are kept once with a multiplicity, which leaves
         * the objective unchanged. */
        Dc = 0;
        size_t q2 = 0, kept = 0;
        Xc.indptr[0] = 0;
        for (size_t r = 0; r < n_rows; r++) {
            size_t i = rows ? rows[r] : r;
            size_t a = X->indptr[i], len = X->indptr[i + 1] - a;
            uint64_t h = lg_fnv1a64(&y[i], sizeof y[i], 0);
            h = lg_fnv1a64(X->indices + a, len * sizeof *X->indices, h);
            h = lg_fnv1a64(X->values + a, len * sizeof *X->values, h);
            size_t t = (size_t)h & (tsize - 1);
            int dup = 0;
            for (; slots[t]; t = (t + 1) & (tsize - 1)) {
                size_t k = slots[t] - 1, ka = Xc.indptr[k], klen = Xc.indptr[k + 1] - ka;
                if (yc[k] != y[i] || klen != len) continue;
                size_t q = 0;
                for (; q < len; q++)
                    if (Xc.values[ka + q] != X->values[a + q] ||
                        same_col(col_of, Xc.indices[ka + q], X->indices[a + q]) == 0)
                        break;
                if (q == len) {
                    mult[k] += 1.0;
                    dup = 1;
                    break;
                }
            }
            if (dup) continue;
            slots[t] = kept + 1;
            yc[kept] = y[i];
            mult[kept] = 1.0;
            for (size_t q = a; q < a + len; q++, q2++) {
                uint32_t j = X->indices[q];
                if (!col_of[j]) col_of[j] = (uint32_t)++Dc;
                Xc.indices[q2] = col_of[j] - 1;
                Xc.values[q2] = X->values[q];
            }
            Xc.indptr[++kept] = q2;
        }
        n_t = kept;
        Xc.n_rows = kept;
        if (!(used_cols = calloc(Dc + 1, sizeof *used_cols))) {
            e = lg_fail(err, LG_ENOMEM, "logreg training: out of memory");
            goto done;
        }
        for (size_t j = 0; j < D; j++)
            if (col_of[j]) used_cols[col_of[j] - 1] = (uint32_t)j;
        Xc.dim = Dc ? Dc : 1;
        Dc = Xc.dim;
        Xt = &Xc;
        rows_t = NULL;
        y_t = yc;
    }
    const size_t nvar = Dc * K + K;
    if (nvar > (size_t)1 << 28) {
        e = lg_fail(err, LG_ELIMIT, "model too large (%zu weights)", nvar);
        goto done;
    }
    train_inst prob = {{Xt, y_t, rows_t, n_t, K, cw, mult, o->C}, 0};
    if ((e = lg_lbfgs_load(err)) != LG_OK) goto done;
    if (!(theta = lg_lbfgs()->malloc((int)nvar))) {
        e = lg_fail(err, LG_ENOMEM, "out of memory (optimiser)");
        goto done;
    }
    memset(theta, 0, nvar * sizeof *theta);
    lbfgs_parameter_t param;
    lg_lbfgs()->parameter_init(&param);
    param.max_iterations = o->max_iter;
    param.epsilon = o->epsilon;
    lbfgsfloatval_t fx = 0;
    int st = lg_lbfgs()->run((int)nvar, theta, &fx, evaluate, progress, &prob, &param);
    if (!usable(st) || !isfinite(fx)) {
        e = lg_fail(err, LG_EMODEL, "training failed: %s (liblbfgs %d, loss %g)", lbfgs_text(st),
                    st, (double)fx);
        goto done;
    }
    if ((e = lg_logreg_new(K, D, &m, err))) goto done;
    for (size_t j = 0; j < Dc; j++) {
        size_t to = X->sparse ? used_cols[j] : j;
        if (X->sparse && j >= Xc.dim) break;
        for (size_t k = 0; k < K; k++)
            m->W[to * K + k] = (float)theta[j * K + k];
    }
    for (size_t k = 0; k < K; k++)
        m->b[k] = (float)theta[Dc * K + k];
    if ((e = lg_logreg_seal(m, err))) goto done;
    if (info) {
        info->iterations = prob.iterations;
        info->status = st;
        info->status_text = lbfgs_text(st);
        info->loss = fx;
        info->seconds = lg_now() - t0;
    }
    *out = m;
    m = NULL;
done:
    lg_logreg_free(m);
    if (theta) lg_lbfgs()->free(theta);
    lg_embeddings_free(&Xc);
    free(col_of);
    free(used_cols);
    free(yc);
    free(mult);
    free(slots);
    return e;
}

/* ---- Prediction ---------------------------------------------------------------------- */

static int finish_proba(const float *s, size_t K, float *proba);

int lg_logreg_predict_row(const lg_logreg *m, const lg_embeddings *X, size_t row, float *proba) {
    const size_t K = m->n_classes;
    float s[LG_LOGREG_MAX_CLASSES + 4];
    for (size_t k = 0; k < K; k++)
        s[k] = m->b[k];
    if (X->sparse && m->Wp) { /* fast path: padded rows, 4-wide blocks */
        const size_t Kp = m->Kp;
        for (size_t k = K; k < Kp; k++)
            s[k] = 0;
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++) {
            uint32_t j = X->indices[q];
            if (j >= m->dim) continue;
            const float *w = m->Wp + (size_t)j * Kp;
            const float v = X->values[q];
            for (size_t kb = 0; kb < Kp; kb += 4)
                for (size_t t = 0; t < 4; t++)
                    s[kb + t] += v * w[kb + t];
        }
    } else if (X->sparse) {
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++) {
            uint32_t j = X->indices[q];
            if (j >= m->dim) continue; /* cannot happen for a matching encoder */
            const float *w = m->W + (size_t)j * K;
            float v = X->values[q];
            for (size_t k = 0; k < K; k++)
                s[k] += v * w[k];
        }
    } else {
        const float *x = X->dense + row * X->dim;
        for (size_t j = 0; j < X->dim && j < m->dim; j++) {
            const float *w = m->W + j * K;
            for (size_t k = 0; k < K; k++)
                s[k] += x[j] * w[k];
        }
    }
    return finish_proba(s, K, proba);
}

/* softmax of s[0..K-1] into proba; the arg-max, or -1 (proba all zero) when
 * a score is not finite */
static int finish_proba(const float *s, size_t K, float *proba) {
    int best = 0;
    for (size_t k = 0; k < K; k++) {
        if (!isfinite(s[k])) {
            memset(proba, 0, K * sizeof *proba);
            return -1;
        }
        if (s[k] > s[best]) best = (int)k;
    }
    float z = 0;
    for (size_t k = 0; k < K; k++) {
        proba[k] = expf(s[k] - s[best]);
        z += proba[k];
    }
    for (size_t k = 0; k < K; k++)
        proba[k] /= z;
    return best;
}

int lg_logreg_predict_row_joint(const lg_logreg *m, const lg_embeddings *X, size_t row,
                                float *proba, float *sim) {
    const size_t K = m->n_classes, Kp = m->Kp;
    if (!m->Wj || !X->sparse) {
        *sim = 0;
        return lg_logreg_predict_row(m, X, row, proba);
    }
    float s[2 * (LG_LOGREG_MAX_CLASSES + 4)]; /* scores, then similarities */
    for (size_t k = 0; k < Kp; k++) {
        s[k] = k < K ? m->b[k] : 0;
        s[Kp + k] = 0;
    }
    float ss = 0;
    for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++) {
        uint32_t j = X->indices[q];
        const float v = X->values[q];
        ss += v * v;
        if (j >= m->dim) continue;
        const float *w = m->Wj + (size_t)j * 2 * Kp;
        for (size_t kb = 0; kb < 2 * Kp; kb += 4)
            for (size_t t = 0; t < 4; t++)
                s[kb + t] += v * w[kb + t];
    }
    float best_sim = 0;
    for (size_t k = 0; k < K; k++)
        if (s[Kp + k] > best_sim) best_sim = s[Kp + k];
    *sim = ss > 0 ? best_sim / sqrtf(ss) : 0.0f;
    return finish_proba(s, K, proba);
}
