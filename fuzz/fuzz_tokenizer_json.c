/* fuzz_tokenizer_json.c - libFuzzer harness for the tokenizer.json reader
 * (src/bert/tokenizer_json.c): any bytes must parse or be refused without a
 * crash or a leak; a document that is accepted must tokenize a few texts
 * (and its own bytes) into at most `cap` ids, each below the vocabulary
 * size, with [CLS]/[SEP] ids inside it too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lg_tokenizer_json tj;
    if (lg_tokenizer_json_parse((const char *)data, size, "fuzz", NULL, &tj, NULL) != LG_OK) {
        if (tj.tok) abort(); /* nothing to free after an error */
        return 0;
    }
    size_t nv = lg_wordpiece_vocab_size(tj.tok);
    if ((size_t)tj.cls_id >= nv || (size_t)tj.sep_id >= nv || (size_t)tj.unk_id >= nv) abort();
    static const char *const texts[] = {
        "Hello, world! [CLS] a##b ab\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
        "\x01\xff [SEP][UNK]aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    int32_t ids[64];
    for (size_t k = 0; k < 3; k++) {
        const char *t = k < 2 ? texts[k] : (const char *)data;
        size_t len = k < 2 ? strlen(t) : size, n = 0;
        if (lg_wordpiece_encode(tj.tok, t, len, ids, 64, &n, NULL) != LG_OK) continue;
        if (n > 64) abort();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= nv) abort();
    }
    lg_tokenizer_json_free(&tj);
    return 0;
}
