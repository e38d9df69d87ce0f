/* fuzz_wordpiece.c - libFuzzer harness for the BERT basic tokenizer +
 * WordPiece: any bytes (invalid UTF-8, control characters, CJK, very long
 * words) must tokenize without a crash into at most `cap` ids, each a valid
 * vocabulary id, with and without lower-casing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
                            "a\nb\nc\nab\n##b\n##c\n##ab\nthe\nlog\n##s\nerror\n"
                            "\xc3\xa9\n##\xc3\xa9\n\xe4\xb8\xad\n.\n,\n!\n0\n1\n##0\n##1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lg_wordpiece *wp[2];
    if (!wp[0]) {
        for (int k = 0; k < 2; k++) {
            lg_wordpiece_opts o = {k, -1, 1};
            if (lg_wordpiece_from_text(vocab, sizeof vocab - 1, "fuzz-vocab", &o, &wp[k], NULL))
                abort();
        }
    }
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    int32_t ids[64];
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        if (lg_wordpiece_encode(wp[k], text, size, ids, 64, &n, NULL) != LG_OK) continue;
        if (n > 64) abort();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= lg_wordpiece_vocab_size(wp[k])) abort();
    }
    free(text);
    return 0;
}
