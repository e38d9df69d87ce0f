/* bench_model.c - encode + predict throughput of a model bundle on one
 * thread, timed in both wall-clock and thread CPU time (the machines are
 * shared: CPU time is the figure that does not depend on the neighbours).
 * Built and run by bench/bench_model.sh:
 *   bench_model BUNDLE_DIR CSV REPEATS BATCH
 * prints "messages=N wall_s=W cpu_s=C". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logify/model.h"
#include "logify/train.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_model BUNDLE CSV REPEATS BATCH\n");
        return 2;
    }
    lg_errmsg err;
    lg_model *m;
    lg_dataset d;
    if (lg_model_load(argv[1], &m, &err) || lg_dataset_load(argv[2], &d, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    long reps = atol(argv[3]);
    size_t batch = (size_t)atol(argv[4]);
    lg_model_scratch *s;
    if (lg_model_scratch_new(m, &s, &err)) return 1;
    const char **msgs = malloc(batch * sizeof *msgs);
    size_t *lens = malloc(batch * sizeof *lens);
    int *cls = malloc(batch * sizeof *cls);
    float *prob = malloc(batch * sizeof *prob);
    float *sim = malloc(batch * sizeof *sim); /* open-set similarity, as the stage asks */
    size_t total = 0, row = 0;
    long sink = 0;
    double w0 = lg_now(), c0 = cpu_now();
    for (long r = 0; r < reps; r++) {
        for (size_t done = 0; done < d.n; done += batch) {
            size_t n = d.n - done < batch ? d.n - done : batch;
            for (size_t i = 0; i < n; i++, row = (row + 1) % d.n) {
                msgs[i] = d.rows[row].message;
                lens[i] = d.rows[row].message_len;
            }
            if (lg_model_predict(m, s, msgs, lens, n, cls, prob, sim, &err)) {
                fprintf(stderr, "bench_model: %s\n", err.msg);
                return 1;
            }
            for (size_t i = 0; i < n; i++)
                sink += cls[i];
            total += n;
        }
    }
    double wall = lg_now() - w0, cpu = cpu_now() - c0;
    printf("messages=%zu wall_s=%.4f cpu_s=%.4f checksum=%ld\n", total, wall, cpu, sink);
    free(msgs);
    free(lens);
    free(cls);
    free(prob);
    free(sim);
    lg_model_scratch_free(s);
    lg_dataset_free(&d);
    lg_model_free(m);
    return 0;
}
