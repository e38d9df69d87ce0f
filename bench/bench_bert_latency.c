/* bench_bert_latency.c - single-message latency of the Sentence-BERT
 * engine: model load time, the first encode (weights paged in from the
 * mmap), then the median of REPS warm encodes of one message with 1 and
 * with THREADS BLAS threads. Used by bench_bert.sh.
 *   bench_bert_latency MODEL_DIR MESSAGE [REPS] [THREADS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logify/sbert.h"

/* CPU time of this thread: less sensitive than wall time to a busy machine */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR MESSAGE [REPS] [THREADS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 30, threads = argc > 4 ? atoi(argv[4]) : 2;
    if (reps < 1 || reps > 10000) reps = 30;
    lg_errmsg err;
    lg_sbert *m = NULL;
    lg_sbert_scratch *s = NULL;
    double t0 = lg_now();
    if (lg_sbert_load(argv[1], &m, &err) || lg_sbert_scratch_new(m, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double load = lg_now() - t0;
    const char *msg = argv[2];
    size_t len = strlen(msg), ntok = 0;
    int32_t ids[512];
    lg_sbert_tokenize(m, msg, len, ids, 512, &ntok, NULL);
    float *out = malloc((size_t)lg_sbert_dim(m) * sizeof *out);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!out || !t) return 1;
    lg_sbert_scratch_set(s, 1, 1);
    t0 = lg_now();
    if (lg_sbert_encode(m, s, &msg, &len, 1, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double first = lg_now() - t0;
    printf("latency tokens=%zu load_ms=%.1f first_ms=%.2f", ntok, load * 1e3, first * 1e3);
    int th[2] = {1, threads};
    for (int k = 0; k < 2; k++) {
        lg_sbert_scratch_set(s, 1, th[k]);
        for (int r = 0; r < reps; r++) {
            t0 = lg_now();
            lg_sbert_encode(m, s, &msg, &len, 1, out, NULL);
            t[r] = lg_now() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        printf(" warm_ms_threads%d=%.2f", th[k], t[reps / 2] * 1e3);
    }
    lg_sbert_scratch_set(s, 1, 1);
    for (int r = 0; r < reps; r++) {
        double c0 = cpu_now();
        lg_sbert_encode(m, s, &msg, &len, 1, out, NULL);
        t[r] = cpu_now() - c0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf(" warm_cpu_ms_threads1=%.2f", t[reps / 2] * 1e3);
    printf("\n");
    free(out);
    free(t);
    lg_sbert_scratch_free(s);
    lg_sbert_free(m);
    return 0;
}
