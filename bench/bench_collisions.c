/* bench_collisions.c - how many distinct lines of a labelled CSV the hash
 * encoder keeps apart: distinct messages, distinct vectors, and the
 * vectors shared by lines of two or more labels (those lines cannot be
 * told apart by any classifier). Built by bench/bench_collisions.sh
 * against a build's liblogifycore.a.
 *   bench_collisions SPEC DATA.csv
 * prints: lines=N distinct_lines=N distinct_vectors=N mixed_vectors=N
 *         lines_in_mixed_vectors=N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/encoder.h"
#include "logify/train.h"

typedef struct {
    uint64_t h;   /* vector hash */
    uint64_t m;   /* message hash */
    const char *label;
} item;

static int cmp_item(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    if (x->m != y->m) return x->m < y->m ? -1 : 1;
    return strcmp(x->label, y->label);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_collisions SPEC DATA.csv\n");
        return 2;
    }
    lg_errmsg err;
    lg_dataset d;
    lg_encoder *enc;
    lg_encoder_scratch *s;
    if (lg_dataset_load(argv[2], &d, &err) || lg_encoder_new(argv[1], &enc, &err) ||
        lg_encoder_scratch_new(enc, &s, &err)) {
        fprintf(stderr, "bench_collisions: %s\n", err.msg);
        return 1;
    }
    item *it = calloc(d.n, sizeof *it);
    lg_embeddings e;
    lg_embeddings_init(&e);
    for (size_t i = 0; i < d.n; i++) {
        const char *msg = d.rows[i].message;
        size_t len = d.rows[i].message_len;
        if (lg_encoder_encode_batch(enc, s, &msg, &len, 1, &e, &err)) {
            fprintf(stderr, "bench_collisions: %s\n", err.msg);
            return 1;
        }
        /* the vector as a set: sort (index, value) pairs by index */
        size_t n = e.indptr[1];
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && e.indices[b - 1] > e.indices[b]; b--) {
                uint32_t t = e.indices[b];
                e.indices[b] = e.indices[b - 1];
                e.indices[b - 1] = t;
                float v = e.values[b];
                e.values[b] = e.values[b - 1];
                e.values[b - 1] = v;
            }
        uint64_t h = lg_fnv1a64(e.indices, n * sizeof *e.indices, 0);
        it[i].h = lg_fnv1a64(e.values, n * sizeof *e.values, h);
        it[i].m = lg_fnv1a64(msg, len, 0);
        it[i].label = d.rows[i].label;
    }
    qsort(it, d.n, sizeof *it, cmp_item);
    size_t lines = 0, vecs = 0, mixed = 0, in_mixed = 0;
    for (size_t i = 0; i < d.n;) {
        size_t j = i, nl = 0;
        int several = 0;
        for (; j < d.n && it[j].h == it[i].h; j++) {
            if (j == i || it[j].m != it[j - 1].m) nl++;
            if (strcmp(it[j].label, it[i].label)) several = 1;
        }
        lines += nl;
        vecs++;
        if (several) mixed++, in_mixed += nl;
        i = j;
    }
    printf("lines=%zu distinct_lines=%zu distinct_vectors=%zu mixed_vectors=%zu "
           "distinct_lines_in_mixed_vectors=%zu\n",
           d.n, lines, vecs, mixed, in_mixed);
    lg_embeddings_free(&e);
    lg_encoder_scratch_free(s);
    lg_encoder_free(enc);
    lg_dataset_free(&d);
    free(it);
    return 0;
}
