/* test_tokenizer.c - BERT BasicTokenizer + WordPiece (src/bert/tokenizer.c):
 * the 46 reference cases of ../shared/tokenizer (Hugging Face's tokenizer
 * on the bert-base-uncased vocabulary) must match id for id; plus
 * truncation, words over 100 characters, invalid UTF-8 and a cased
 * tokenizer on a small inline vocabulary. Skips (77) without ../shared. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bert/sbert_internal.h"

static char vocab_path[1024], cases_path[1024];
static lg_wordpiece *tok;

static void test_reference_cases(void **state) {
    (void)state;
    FILE *f = fopen(cases_path, "r");
    assert_non_null(f);
    char line[65536];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        assert_non_null(j);
        json_t *jt = json_object_get(j, "text"), *ji = json_object_get(j, "ids");
        int32_t ids[1024];
        size_t k = 0;
        lg_errmsg err;
        assert_int_equal(lg_wordpiece_encode(tok, json_string_value(jt), json_string_length(jt),
                                             ids, 1024, &k, &err),
                         LG_OK);
        int ok = k == json_array_size(ji);
        for (size_t i = 0; ok && i < k; i++)
            ok = ids[i] == (int32_t)json_integer_value(json_array_get(ji, i));
        if (!ok) {
            bad++;
            fprintf(stderr, "case %d mismatch: %s\n  got:", n, json_string_value(jt));
            for (size_t i = 0; i < k; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        n++;
        json_decref(j);
    }
    fclose(f);
    printf("tokenizer: %d of %d reference cases match\n", n - bad, n);
    assert_int_equal(n, 46);
    assert_int_equal(bad, 0);
}

static void test_truncation_and_long_words(void **state) {
    (void)state;
    int32_t ids[8];
    size_t k;
    const char *text = "hello world hello world hello world hello world";
    assert_int_equal(lg_wordpiece_encode(tok, text, strlen(text), ids, 5, &k, NULL), LG_OK);
    assert_int_equal(k, 5);
    assert_int_equal(ids[0], 7592);
    assert_int_equal(ids[4], 7592);
    char word[202];
    memset(word, 'a', 101);
    word[101] = '\0';
    assert_int_equal(lg_wordpiece_encode(tok, word, 101, ids, 8, &k, NULL), LG_OK);
    assert_int_equal(k, 1);
    assert_int_equal(ids[0], lg_wordpiece_id(tok, "[UNK]"));
    /* 100 characters are still split into pieces */
    assert_int_equal(lg_wordpiece_encode(tok, word, 100, ids, 8, &k, NULL), LG_OK);
    assert_true(k >= 1);
    assert_true(ids[0] != lg_wordpiece_id(tok, "[UNK]"));
    /* special tokens written in the text are kept whole (HF added tokens) */
    const char *sp = "hello[SEP] world [MASK]x [cls]";
    int32_t ids2[16];
    assert_int_equal(lg_wordpiece_encode(tok, sp, strlen(sp), ids2, 16, &k, NULL), LG_OK);
    int32_t want[] = {7592, 102, 2088, 103, 1060, 1031, 18856, 2015, 1033};
    assert_int_equal(k, sizeof want / sizeof *want);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(ids2[i], want[i]);
    /* invalid UTF-8 and NUL bytes are cleaned away */
    const char bad[] = "hello\xff\xfe\x00 world\xc3";
    assert_int_equal(lg_wordpiece_encode(tok, bad, sizeof bad - 1, ids, 8, &k, NULL), LG_OK);
    assert_int_equal(k, 2);
    assert_int_equal(ids[0], 7592);
    assert_int_equal(ids[1], 2088);
}

static void test_cased_inline_vocab(void **state) {
    (void)state;
    const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nHello\nhello\n##s\n,\ncafé\ncafe\n";
    lg_wordpiece_opts o = {0, -1, 1};
    lg_wordpiece *t = NULL;
    assert_int_equal(lg_wordpiece_from_text(vocab, sizeof vocab - 1, "inline", &o, &t, NULL),
                     LG_OK);
    int32_t ids[8];
    size_t k;
    const char *text = "Hellos, café hello";
    assert_int_equal(lg_wordpiece_encode(t, text, strlen(text), ids, 8, &k, NULL), LG_OK);
    assert_int_equal(k, 5);
    assert_int_equal(ids[0], 4); /* Hello */
    assert_int_equal(ids[1], 6); /* ##s */
    assert_int_equal(ids[2], 7); /* , */
    assert_int_equal(ids[3], 8); /* café: accents kept when cased */
    assert_int_equal(ids[4], 5);
    lg_wordpiece_free(t);
    /* a vocabulary without [UNK] is refused */
    lg_errmsg err;
    assert_int_equal(lg_wordpiece_from_text("a\nb\n", 4, "v.txt", &o, &t, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "[UNK]"));
}

/* Character classes at their range boundaries, as BERT's BasicTokenizer
 * draws them: every ASCII punctuation character (33-47, 58-64, 91-96,
 * 123-126) splits a word; the first and last code points of the CJK
 * ranges stand alone (spaces around each). */
static void test_class_boundaries(void **state) {
    (void)state;
    const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n";
    lg_wordpiece_opts o = {1, -1, 1};
    lg_wordpiece *t = NULL;
    assert_int_equal(lg_wordpiece_from_text(vocab, sizeof vocab - 1, "inline", &o, &t, NULL),
                     LG_OK);
    int32_t ids[8];
    size_t k;
    /* "a<c>b" -> a [UNK] b when c splits (punctuation, CJK), one [UNK] when not */
    /* the ranges' ends, and the ASCII symbols that are not Unicode
     * punctuation ($ + < = > ^ ` | ~: Sc, Sm, Sk) but split all the same */
    static const int32_t punct[] = {33, 47, 58, 64, 91, 96, 123, 126, 36, 43, 60, 61, 62, 94, 124};
    for (size_t i = 0; i < sizeof punct / sizeof *punct; i++) {
        char text[4] = {'a', (char)punct[i], 'b', 0};
        assert_int_equal(lg_wordpiece_encode(t, text, 3, ids, 8, &k, NULL), LG_OK);
        if (k != 3 || ids[0] != 4 || ids[1] != 1 || ids[2] != 5)
            fail_msg("'%s': %zu ids, expected a [UNK] b", text, k);
    }
    static const char *const cjk[] = {"\xe4\xb8\x80", /* U+4E00 */ "\xe9\xbf\xbf", /* U+9FFF */
                                      "\xe3\x90\x80", /* U+3400 */ "\xe4\xb6\xbf", /* U+4DBF */
                                      "\xef\xa4\x80", /* U+F900 */ "\xef\xab\xbf", /* U+FAFF */
                                      "\xf0\xa0\x80\x80" /* U+20000 */};
    for (size_t i = 0; i < sizeof cjk / sizeof *cjk; i++) {
        char text[16];
        int n = snprintf(text, sizeof text, "a%sb", cjk[i]);
        assert_int_equal(lg_wordpiece_encode(t, text, (size_t)n, ids, 8, &k, NULL), LG_OK);
        if (k != 3 || ids[0] != 4 || ids[1] != 1 || ids[2] != 5)
            fail_msg("CJK case %zu: %zu ids, expected a [UNK] b", i, k);
    }
    /* just past a CJK range, U+4DC0 (a Yijing hexagram: a symbol, neither
     * CJK nor punctuation) stays inside the word: one [UNK] */
    const char *outside = "a\xe4\xb7\x80" "b";
    assert_int_equal(lg_wordpiece_encode(t, outside, strlen(outside), ids, 8, &k, NULL), LG_OK);
    assert_int_equal(k, 1);
    assert_int_equal(ids[0], 1);
    /* unassigned code points are kept, as Hugging Face's fast tokenizer
     * keeps them (only Cc, Cf, Co, Cs are dropped): U+0378 makes its word
     * [UNK]; U+FADA (unassigned, in a CJK range) stands alone; U+E000
     * (private use) is dropped, so "a<U+E000>b" is the word "ab" */
    static const struct {
        const char *text;
        size_t n_ids;
    } kept[] = {{"a\xcd\xb8" "b", 1}, {"a\xef\xab\x9a" "b", 3}, {"a\xee\x80\x80" "b", 1}};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        assert_int_equal(lg_wordpiece_encode(t, kept[i].text, strlen(kept[i].text), ids, 8, &k, NULL),
                         LG_OK);
        if (k != kept[i].n_ids) fail_msg("kept case %zu: %zu ids, expected %zu", i, k, kept[i].n_ids);
    }
    lg_wordpiece_free(t);
}

int main(void) {
    const char *shared = getenv("LOGIFY_SHARED");
    if (!shared) shared = "../shared";
    snprintf(vocab_path, sizeof vocab_path, "%s/tokenizer/bert-base-uncased-vocab.txt", shared);
    snprintf(cases_path, sizeof cases_path, "%s/tokenizer/wordpiece_vectors.jsonl", shared);
    FILE *f = fopen(cases_path, "r");
    if (!f) {
        printf("SKIP: %s not found (../shared is absent)\n", cases_path);
        return 77;
    }
    fclose(f);
    lg_wordpiece_opts o = {1, -1, 1};
    lg_errmsg err;
    if (lg_wordpiece_load(vocab_path, &o, &tok, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_cases),
        cmocka_unit_test(test_truncation_and_long_words),
        cmocka_unit_test(test_cased_inline_vocab),
        cmocka_unit_test(test_class_boundaries),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    lg_wordpiece_free(tok);
    return rc;
}
