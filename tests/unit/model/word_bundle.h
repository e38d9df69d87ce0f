/* word_bundle.h - for the model's unit tests: a logistic-regression bundle
 * over "hash:dim=256" whose class k likes the words of words[k] (the weights
 * of each word's features are 12 x its encoded value), threshold 0.5, C 10.
 * Include once per test file (the helper is static). */
#ifndef LOGIFY_TEST_WORD_BUNDLE_H
#define LOGIFY_TEST_WORD_BUNDLE_H

#include <stdlib.h>
#include <string.h>

#include "logify/bundle.h"
#include "logify/encoder.h"
#include "logify/model.h"

#define WORD_BUNDLE_DIM 256

/* n labels and their words; the words' encodings are left in *enc_out (the
 * caller frees them) for a test that sets more from them. */
static lg_bundle *word_bundle(const char *const *labels, const char *const *words, size_t n,
                              lg_embeddings *enc_out) {
    lg_encoder *enc;
    assert_int_equal(lg_encoder_new("hash:dim=256", &enc, NULL), LG_OK);
    lg_encoder_scratch *s;
    assert_int_equal(lg_encoder_scratch_new(enc, &s, NULL), LG_OK);
    lg_embeddings_init(enc_out);
    size_t *lens = calloc(n, sizeof *lens);
    assert_non_null(lens);
    for (size_t k = 0; k < n; k++)
        lens[k] = strlen(words[k]);
    assert_int_equal(lg_encoder_encode_batch(enc, s, words, lens, n, enc_out, NULL), LG_OK);
    free(lens);
    lg_bundle *b = calloc(1, sizeof *b);
    assert_non_null(b);
    assert_int_equal(lg_logreg_new(n, WORD_BUNDLE_DIM, &b->clf, NULL), LG_OK);
    for (size_t k = 0; k < n; k++)
        for (size_t q = enc_out->indptr[k]; q < enc_out->indptr[k + 1]; q++)
            b->clf->W[enc_out->indices[q] * n + k] += 12 * enc_out->values[q];
    b->labels = calloc(n, sizeof *b->labels);
    assert_non_null(b->labels);
    for (size_t k = 0; k < n; k++)
        b->labels[k] = strdup(labels[k]);
    b->n_labels = n;
    b->encoder_spec = strdup(lg_encoder_spec(enc));
    b->encoder_hash = lg_encoder_config_hash(enc);
    b->encoder_config = strdup(lg_encoder_config_json(enc));
    b->threshold = 0.5;
    b->C = 10;
    lg_encoder_scratch_free(s);
    lg_encoder_free(enc);
    return b;
}

#endif
