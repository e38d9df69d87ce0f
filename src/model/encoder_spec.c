/* encoder_spec.c - lg_encoder_new: the encoder named by a spec string
 * ("hash", "hash:dim=N,seed=S", "sbert:DIR"). It sits above the encoders
 * (encoder_hash.c, encoder_sbert.c), which sit above the interface they
 * implement (encoder.c, encoder_impl.h). Adding an encoder: add its prefix
 * here. */
#include "logify/encoder.h"

#include <string.h>

lg_err lg_encoder_new(const char *spec, lg_encoder **out, lg_errmsg *err) {
    *out = NULL;
    if (!spec || !*spec) spec = "hash";
    if (!strcmp(spec, "hash")) return lg_encoder_hash_new(NULL, out, err);
    if (!strncmp(spec, "hash:", 5)) return lg_encoder_hash_new(spec + 5, out, err);
    if (!strncmp(spec, "sbert:", 6)) {
        if (!spec[6]) return lg_fail(err, LG_EINVAL, "encoder spec 'sbert:' needs a directory");
        return lg_encoder_sbert_new(spec + 6, out, err);
    }
    return lg_fail(err, LG_EINVAL,
                   "unknown encoder spec '%.200s' (expected hash, hash:dim=N, or sbert:DIR)", spec);
}
