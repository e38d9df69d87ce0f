/* encoder_sbert.c - the "sbert:DIR" encoder (Sentence-BERT, dense rows).
 *
 * Placeholder: the Sentence-BERT engine (include/logify/sbert.h) is a
 * separate piece of work; its developer replaces this file with the real
 * factory (an lg_encoder_ops table wrapped with lg_encoder_wrap, dense
 * output, batched). Until then the spec is recognised and refused with a
 * clear error. */
#include "logify/encoder.h"

lg_err lg_encoder_sbert_new(const char *dir, lg_encoder **out, lg_errmsg *err) {
    (void)dir;
    *out = NULL;
    return lg_fail(err, LG_EUNSUPPORTED, "sbert encoder not available yet");
}
