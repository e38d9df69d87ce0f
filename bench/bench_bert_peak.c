/* bench_bert_peak.c - Logify's BERT throughput as a share of OpenBLAS's
 * sgemm peak, measured so that a shared machine's load hits both alike:
 * in one process, ROUNDS rounds each encode all the lines of LINES.txt
 * (as `logify embed` does: chunks of CHUNK lines handed to the encoder,
 * which batches them BATCH at a time, THREADS threads) and then run
 * OpenBLAS sgemm 1024 x 1536 x 384 (../shared/anchors/sgemm_peak.c's
 * shape, THREADS threads) for about as long; the best round of each side
 * is kept (load only lowers a rate) and their ratio printed. Whatever
 * OPENBLAS_CORETYPE and LOGIFY_ISA say applies to both sides. Used by
 * bench_bert.sh. Usage: bench_bert_peak MODEL_DIR LINES.txt [THREADS]
 * [ROUNDS] [BATCH] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/sbert.h"

void openblas_set_num_threads(int n);

enum { GM = 1024, GN = 1536, GK = 384, MAX_LINES = 100000, CHUNK = 4096 /* cmd_embed.c's */ };

/* GFLOPS of sgemm calls repeated for at least `secs` seconds */
static double sgemm_gflops(const float *a, const float *b, float *c, double secs) {
    int reps = 0;
    double t0 = lg_now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GM, GN, GK, 1, a, GK, b, GN, 0, c, GN);
        reps++;
    } while ((t = lg_now() - t0) < secs);
    return 2.0 * GM * GN * GK * reps / t / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR LINES.txt [THREADS] [ROUNDS] [BATCH]\n", argv[0]);
        return 2;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 2, rounds = argc > 4 ? atoi(argv[4]) : 5;
    int batch = argc > 5 ? atoi(argv[5]) : 32;
    if (threads < 1 || threads > 64) threads = 2;
    if (rounds < 1 || rounds > 1000) rounds = 5;
    if (batch < 1 || batch > 1024) batch = 32;
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **lines = malloc(MAX_LINES * sizeof *lines);
    size_t *lens = malloc(MAX_LINES * sizeof *lens), n = 0;
    char buf[65536];
    while (lines && lens && n < MAX_LINES && fgets(buf, sizeof buf, f)) {
        size_t l = strcspn(buf, "\r\n");
        buf[l] = 0;
        lines[n] = strdup(buf);
        lens[n++] = l;
    }
    fclose(f);
    if (!n) {
        fprintf(stderr, "%s: no lines\n", argv[2]);
        return 1;
    }
    lg_errmsg err;
    lg_sbert *m = NULL;
    lg_sbert_scratch *s = NULL;
    if (lg_sbert_load(argv[1], &m, &err) || lg_sbert_scratch_new(m, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    lg_sbert_scratch_set(s, batch, threads);
    double flops = 0;
    int32_t ids[4096];
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        if (lg_sbert_tokenize(m, lines[i], lens[i], ids, 4096, &k, NULL) == LG_OK)
            flops += lg_sbert_flops(m, k);
    }
    float *out = malloc((size_t)CHUNK * (size_t)lg_sbert_dim(m) * sizeof *out);
    float *a = malloc(sizeof(float) * GM * GK), *b = malloc(sizeof(float) * GK * GN),
          *c = malloc(sizeof(float) * GM * GN);
    if (!out || !a || !b || !c) return 1;
    for (long i = 0; i < (long)GM * GK; i++) a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < (long)GK * GN; i++) b[i] = (float)(i % 5) * 0.1f;
    openblas_set_num_threads(threads);
    sgemm_gflops(a, b, c, 0.2); /* warm-up: threads started, pages touched */
    lg_sbert_encode(m, s, (const char *const *)lines, lens, n < (size_t)batch ? n : (size_t)batch,
                    out, NULL);
    double best_l = 0, best_p = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = lg_now();
        for (size_t i = 0; i < n; i += CHUNK) {
            size_t k = n - i < CHUNK ? n - i : CHUNK;
            if (lg_sbert_encode(m, s, (const char *const *)lines + i, lens + i, k, out, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        }
        double t = lg_now() - t0, gl = flops / t / 1e9;
        double gp = sgemm_gflops(a, b, c, t < 1 ? 1 : t);
        printf("round %d logify_GFLOPS=%.1f sgemm_GFLOPS=%.1f\n", r + 1, gl, gp);
        if (gl > best_l) best_l = gl;
        if (gp > best_p) best_p = gp;
    }
    printf("peak threads=%d texts=%zu rounds=%d logify_GFLOPS=%.1f sgemm_GFLOPS=%.1f pct=%.0f\n",
           threads, n, rounds, best_l, best_p, 100 * best_l / best_p);
    return 0;
}
