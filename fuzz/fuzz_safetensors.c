/* fuzz_safetensors.c - libFuzzer harness for the safetensors header
 * parser: any bytes must give either a clean error or tensors whose byte
 * ranges lie inside the buffer and match dtype x shape; converting every
 * tensor to float must then stay inside those ranges (ASan checks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a private copy, so that ASan sees reads past the end of the input */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    lg_safetensors st;
    lg_errmsg err;
    if (lg_safetensors_parse(buf, size, "fuzz", &st, &err) == LG_OK) {
        for (size_t i = 0; i < st.n_tensors; i++) {
            const lg_st_tensor *t = &st.tensors[i];
            if (t->data < buf || t->data + t->nbytes > buf + size) abort();
            size_t width = t->dtype == LG_ST_F32 ? 4 : t->dtype == LG_ST_OTHER ? 0 : 2;
            if (!width || t->nbytes > (1u << 20)) continue;
            size_t n = t->nbytes / width;
            float *out = malloc((n ? n : 1) * sizeof *out);
            if (!out) break;
            lg_st_to_f32(t, out, n);
            free(out);
            if (lg_safetensors_find(&st, t->name) == NULL) abort();
        }
        lg_safetensors_close(&st);
    }
    free(buf);
    return 0;
}
