/* bench_bert_latency.c - single-message latency of the Sentence-BERT
 * engine: model load time, the first encode (weights paged in from the
 * mmap), then REPS warm encodes of one message with 1 thread and with
 * THREADS threads, alternated (1, N, 1, N, ...) so that both see the same
 * machine load; prints the medians (p50), the 99th percentiles, their
 * ratio (speedup), the best times, and the CPU time of the 1-thread
 * encode. COUNT > 1 encodes that many copies of the message
 * per call (a small batch). Used by bench_bert.sh. bench_bert_latency MODEL_DIR MESSAGE [REPS]
 * [THREADS] [COUNT] */
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

/* sorts t; the median (t[0] is then the best) */
static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp);
    return t[n / 2];
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR MESSAGE [REPS] [THREADS] [COUNT]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 30, threads = argc > 4 ? atoi(argv[4]) : 2;
    int count = argc > 5 ? atoi(argv[5]) : 1;
    if (reps < 1 || reps > 10000) reps = 30;
    if (threads < 1 || threads > 64) threads = 2;
    if (count < 1 || count > 64) count = 1;
    lg_errmsg err;
    lg_sbert *m = NULL;
    lg_sbert_scratch *s1 = NULL, *sn = NULL;
    double t0 = lg_now();
    if (lg_sbert_load(argv[1], &m, &err) || lg_sbert_scratch_new(m, &s1, &err) ||
        lg_sbert_scratch_new(m, &sn, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double load = lg_now() - t0;
    const char *msg[64];
    size_t len[64], ntok = 0;
    for (int i = 0; i < count; i++) {
        msg[i] = argv[2];
        len[i] = strlen(argv[2]);
    }
    int32_t ids[512];
    lg_sbert_tokenize(m, msg[0], len[0], ids, 512, &ntok, NULL);
    float *out = malloc((size_t)count * (size_t)lg_sbert_dim(m) * sizeof *out);
    double *t1 = malloc((size_t)reps * sizeof *t1), *tn = malloc((size_t)reps * sizeof *tn),
           *c1 = malloc((size_t)reps * sizeof *c1);
    if (!out || !t1 || !tn || !c1) return 1;
    /* one scratch per setting: each keeps its threads between calls, as a
     * server thread's scratch does */
    lg_sbert_scratch_set(s1, 32, 1);
    lg_sbert_scratch_set(sn, 32, threads);
    t0 = lg_now();
    if (lg_sbert_encode(m, s1, msg, len, (size_t)count, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double first = lg_now() - t0;
    lg_sbert_encode(m, sn, msg, len, (size_t)count, out, NULL); /* starts its threads */
    for (int r = 0; r < reps; r++) {
        double c0 = cpu_now();
        t0 = lg_now();
        lg_sbert_encode(m, s1, msg, len, (size_t)count, out, NULL);
        t1[r] = lg_now() - t0;
        c1[r] = cpu_now() - c0;
        t0 = lg_now();
        lg_sbert_encode(m, sn, msg, len, (size_t)count, out, NULL);
        tn[r] = lg_now() - t0;
    }
    double w1 = median(t1, reps), wn = median(tn, reps);
    double cpu1 = median(c1, reps);
    /* the 99th percentile (t1, tn are sorted by median()) */
    int i99 = (int)(0.99 * (double)(reps - 1) + 0.5);
    printf("latency tokens=%zu count=%d load_ms=%.1f first_ms=%.2f warm_ms_threads1=%.2f "
           "warm_ms_threads%d=%.2f speedup=%.2f best_ms_threads1=%.2f best_ms_threads%d=%.2f "
           "warm_cpu_ms_threads1=%.2f p99_ms_threads1=%.2f p99_ms_threads%d=%.2f\n",
           ntok, count, load * 1e3, first * 1e3, w1 * 1e3, threads, wn * 1e3, w1 / wn, t1[0] * 1e3,
           threads, tn[0] * 1e3, cpu1 * 1e3, t1[i99] * 1e3, threads, tn[i99] * 1e3);
    free(out);
    free(t1);
    free(tn);
    free(c1);
    lg_sbert_scratch_free(s1);
    lg_sbert_scratch_free(sn);
    lg_sbert_free(m);
    return 0;
}
