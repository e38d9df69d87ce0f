/* sbert_quant_model.c - `--quantize int8` applied to a loaded model
 * (docs/bert.md, "int8"): $LOGIFY_SBERT_QUANTIZE, the load-time
 * calibration (the float model encodes built-in texts while every
 * projection records max |a| per input channel), the SmoothQuant factors
 * and the int8 copies of the projections (sbert_quant.c). Called by
 * sbert_load.c; kept apart from the kernels so that the product
 * (sbert_gemm.c -> sbert_quant.c) never depends on the forward pass
 * (sbert.c) that calibration runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_quant.h"

/* ---- The model ------------------------------------------------------------------- */

lg_err sb_quant_from_env(int *int8, lg_errmsg *err) {
    const char *v = getenv("LOGIFY_SBERT_QUANTIZE");
    *int8 = 0;
    if (!v || !*v || !strcmp(v, "none")) return LG_OK;
    if (!strcmp(v, "int8")) {
        *int8 = 1;
        return LG_OK;
    }
    return lg_fail(err, LG_EINVAL,
                   "LOGIFY_SBERT_QUANTIZE=%.64s: unknown quantisation (must be int8 or none)", v);
}

/* Calibration texts: what the float model encodes at load to measure each
 * projection's activations per input channel. Written for this purpose
 * (none comes from the test or seed data): log lines of many shapes,
 * plain English, ids, paths, numbers, a little markup and other scripts. */
static const char *const calib_texts[] = {
    "Connection to database server db-03 timed out after 30 seconds",
    "User alice logged in from 10.4.2.17 using two-factor authentication",
    "GET /api/v2/orders/88213 HTTP/1.1 returned 404 in 12 ms",
    "POST /login 500 Internal Server Error: upstream closed the connection",
    "Disk usage on /var/lib/postgresql reached 91% (warning threshold 85%)",
    "java.lang.NullPointerException at com.shop.cart.CheckoutService.total(CheckoutService.java:142)",
    "Traceback (most recent call last): File \"worker.py\", line 77, in run KeyError: 'job_id'",
    "kernel: Out of memory: Killed process 4312 (python3) total-vm:8123456kB",
    "Backup job nightly-full completed successfully, 1,284 files, 37.5 GB",
    "Certificate for api.example.org expires in 6 days; renewal scheduled",
    "Rate limit exceeded for client key 7f3a9c: 1200 requests in 60 s",
    "Payment of $49.99 for invoice INV-2024-0117 was declined by the bank",
    "Scheduled maintenance window starts Sunday 02:00 UTC and lasts two hours",
    "sshd[2210]: Failed password for invalid user admin from 198.51.100.23 port 52144",
    "CPU load average 7.82 5.41 3.10 on host web-12, 4 cores",
    "Cache miss ratio rose to 0.37 after deploying build 5.2.1-rc3",
    "{\"level\":\"error\",\"msg\":\"queue full\",\"queue\":\"emails\",\"size\":10000}",
    "WARN  [main] o.a.k.clients.NetworkClient - Broker may not be available",
    "The quarterly report shows a steady increase in customer retention.",
    "Please restart the service after updating the configuration file.",
    "A quick brown fox jumps over the lazy dog near the river bank.",
    "Our team will review the pull request and merge it by Friday.",
    "The weather today is sunny with a light breeze from the west.",
    "Shipment 55-XK-0921 left the warehouse in Rotterdam at 14:32",
    "retrying request (attempt 3 of 5) after 800ms backoff",
    "Memory usage 15.2 GiB of 16 GiB; swap in use 2.1 GiB",
    "Access denied: role 'viewer' lacks permission 'billing.write'",
    "TLS handshake failed: unknown certificate authority",
    "Le service de paiement est temporairement indisponible.",
    "Der Benutzer wurde nach fünf Fehlversuchen gesperrt.",
    "ERROR 1045 (28000): Access denied for user 'root'@'localhost'",
    "<html><body><h1>503 Service Unavailable</h1></body></html>",
    "ok",
    "",
    "Index rebuild for table events took 412.7 seconds; 12,004,339 rows scanned "
    "and 3 partitions were skipped because they were already up to date, while "
    "the replication lag on the standby peaked at 9.3 seconds during the rebuild",
};
#define N_CALIB (sizeof calib_texts / sizeof *calib_texts)

/* SmoothQuant's migration strength: s_k = max|a_k|^alpha / max|w_k|^(1 - alpha) */
#define SMOOTH_ALPHA 0.5f

/* the projections of layer L: weight, shape, and its packed-weight slot */
typedef struct {
    const float *w;
    int n, k;
    lg_gemm_w *pw;
} proj;

static void layer_projs(const lg_sbert *m, lg_bert_layer *L, proj p[4]) {
    int H = m->hidden, I = m->intermediate;
    p[0] = (proj){L->wqkv, 3 * H, H, &L->pqkv};
    p[1] = (proj){L->wo, H, H, &L->po};
    p[2] = (proj){L->wi, I, H, &L->pi};
    p[3] = (proj){L->wout, H, I, &L->pout};
}

/* s (k): the smoothing factor per input channel from the activations'
 * max |a| (amax) and the weights' max |w| per column */
static void smoothing(const proj *p, const float *amax, float *s) {
    for (int kk = 0; kk < p->k; kk++) {
        float wmax = 0;
        for (int j = 0; j < p->n; j++) {
            float v = p->w[(size_t)j * (size_t)p->k + (size_t)kk];
            v = v < 0 ? -v : v;
            wmax = v > wmax ? v : wmax;
        }
        float f = 1.0f;
        if (amax[kk] > 0 && wmax > 0)
            f = powf(amax[kk], SMOOTH_ALPHA) / powf(wmax, 1.0f - SMOOTH_ALPHA);
        s[kk] = f > 1e-4f && f < 1e4f ? f : 1.0f;
    }
}

/* The float model (packed kernel) encodes the calibration texts, one
 * thread; every projection records max |a| per input channel. */
static lg_err calibrate(lg_sbert *m, lg_errmsg *err) {
    lg_sbert_scratch *s = NULL;
    int H = m->hidden;
    float *out = malloc(N_CALIB * (size_t)H * sizeof *out);
    if (!out) return lg_fail(err, LG_ENOMEM, "out of memory (int8 calibration)");
    lg_err e = lg_sbert_scratch_new(m, &s, err);
    if (!e) {
        lg_sbert_scratch_set(s, 32, 1);
        e = lg_sbert_encode(m, s, calib_texts, NULL, N_CALIB, out, err);
    }
    lg_sbert_scratch_free(s);
    free(out);
    return e;
}

lg_err sb_quant_model(lg_sbert *m, lg_errmsg *err) {
    lg_isa qi = lg_q8_isa(m->isa);
    lg_err e;
    proj p[4];
    m->q8 = calloc((size_t)m->layers * 4, sizeof *m->q8);
    if (!m->q8) return lg_fail(err, LG_ENOMEM, "out of memory (int8 weights)");
    /* 1. the float model on packed weights, each projection observed */
    for (int l = 0; l < m->layers; l++) {
        layer_projs(m, &m->layer[l], p);
        for (int t = 0; t < 4; t++) {
            lg_q8_w *q = &m->q8[l * 4 + t];
            q->n = p[t].n;
            q->k = p[t].k;
            q->amax = calloc((size_t)p[t].k, sizeof *q->amax);
            if (!q->amax) return lg_fail(err, LG_ENOMEM, "out of memory (int8 calibration)");
            if ((e = lg_gemm_pack(p[t].w, p[t].n, p[t].k, m->isa, p[t].pw, err))) return e;
            p[t].pw->q8 = q;
        }
    }
    m->use_packed = 1;
    if ((e = calibrate(m, err))) return e;
    /* 2. smoothing folded into the weights, which are quantised; the float
     * copies go */
    for (int l = 0; l < m->layers; l++) {
        layer_projs(m, &m->layer[l], p);
        for (int t = 0; t < 4; t++) {
            lg_q8_w *q = &m->q8[l * 4 + t];
            float *s = malloc((size_t)p[t].k * sizeof *s);
            if (!s) return lg_fail(err, LG_ENOMEM, "out of memory (int8 weights)");
            smoothing(&p[t], q->amax, s);
            lg_q8_free(q);
            e = lg_q8_pack(p[t].w, p[t].n, p[t].k, s, qi, q, err);
            free(s);
            if (e) return e;
            lg_gemm_w *pw = p[t].pw;
            lg_gemm_free(pw);
            pw->n = p[t].n;
            pw->k = p[t].k;
            pw->np = q->np;
            pw->isa = m->isa;
            pw->q8 = q;
        }
    }
    m->gemm = lg_q8_name(qi);
    return LG_OK;
}

void sb_quant_free(lg_sbert *m) {
    if (!m->q8) return;
    for (int i = 0; i < m->layers * 4; i++)
        lg_q8_free(&m->q8[i]);
    free(m->q8);
    m->q8 = NULL;
}
