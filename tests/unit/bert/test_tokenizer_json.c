/* test_tokenizer_json.c - tokenizer.json (src/bert/tokenizer_json.c).
 *
 * 1. Reference: scripts/gen_tokenizer_json.py turns ../shared's
 *    bert-base-uncased vocab.txt into tokenizer.json (the shape `tokenizers`
 *    saves); through it, all 46 Hugging Face cases of
 *    ../shared/tokenizer/wordpiece_vectors.jsonl must match id for id, and
 *    every case plus extra texts (special tokens, long words, controls,
 *    invalid UTF-8) must give the same ids as the vocab.txt path, uncased
 *    and cased. Skipped with a message when ../shared or python3 is absent.
 * 2. Parsing on small inline documents: what is accepted (BertNormalizer,
 *    Sequence normalizers, WhitespaceSplit + Punctuation, BertProcessing,
 *    prefix, max word length, added tokens beyond the vocabulary,
 *    clean_text / handle_chinese_chars off, tokenizer_config.json
 *    overrides) and every refusal with its message.
 * 3. Lower-casing commutes with NFD + dropping Mn on every code point (the
 *    reason a Sequence [Lowercase, NFD, StripAccents] is accepted). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>
#include <cmocka.h>

#include "bert/sbert_internal.h"

static char shared[1024], root[1024];

/* ---- Helpers -------------------------------------------------------------- */

static size_t encode(const lg_wordpiece *t, const char *text, size_t len, int32_t *ids,
                     size_t cap) {
    size_t k = 0;
    assert_int_equal(lg_wordpiece_encode(t, text, len, ids, cap, &k, NULL), LG_OK);
    return k;
}

/* Runs the generator; returns 0 when python3 or ../shared is missing. */
static int generate(const char *config, const char *out) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "python3 '%s/scripts/gen_tokenizer_json.py' "
             "'%s/tokenizer/bert-base-uncased-vocab.txt' '%s' -o '%s' 2>/dev/null",
             root, shared, config, out);
    return system(cmd) == 0;
}

/* Texts beyond the reference cases that both paths must agree on. */
static const char *const extra[] = {
    "hello[SEP] world [MASK]x [cls] [UNK][PAD][CLS]",
    "Ünïcödé ÀÉÎÕÜ İstanbul ǅ ß ﬁ Ω",
    "中文字符 和 日本語 한국어 mixed中text",
    "tab\tnew\nline\rcr\x0b\x0c\xc2\x85 nbsp\xc2\xa0zw\xe2\x80\x8bj",
    "ctrl\x01\x02\x7f del \xef\xbf\xbd repl \xff\xfe bad \xc3",
    "2024-01-01T00:00:00Z ERROR [svc-42] user=alice@example.com ip=10.0.0.1 path=/var/log/x.log",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaa abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "emoji 🦙🔥👩‍👩‍👧 ☃ ✓ … — “quotes” «guillemets» ¿qué?",
};

/* Compares the two tokenizers over the reference cases (and, when
 * check_ref, against the reference ids) and the extra texts. */
static void compare_paths(const lg_wordpiece *vt, const lg_wordpiece *jt, int check_ref, int *cases,
                          int *same) {
    char path[1200], line[65536];
    snprintf(path, sizeof path, "%s/tokenizer/wordpiece_vectors.jsonl", shared);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int32_t a[1024], b[1024];
    *cases = *same = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_t *jt_ = json_object_get(j, "text"), *ji = json_object_get(j, "ids");
        const char *text = json_string_value(jt_);
        size_t len = json_string_length(jt_);
        size_t ka = encode(vt, text, len, a, 1024), kb = encode(jt, text, len, b, 1024);
        int ok = ka == kb && !memcmp(a, b, ka * sizeof *a);
        if (check_ref) {
            ok = ok && kb == json_array_size(ji);
            for (size_t i = 0; ok && i < kb; i++)
                ok = b[i] == (int32_t)json_integer_value(json_array_get(ji, i));
        }
        if (!ok) fprintf(stderr, "mismatch: %s\n", text);
        *same += ok;
        (*cases)++;
        json_decref(j);
    }
    fclose(f);
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        size_t ka = encode(vt, extra[i], strlen(extra[i]), a, 1024);
        size_t kb = encode(jt, extra[i], strlen(extra[i]), b, 1024);
        int ok = ka == kb && !memcmp(a, b, ka * sizeof *a);
        if (!ok) fprintf(stderr, "mismatch (extra %zu): %s\n", i, extra[i]);
        *same += ok;
        (*cases)++;
    }
}

/* ---- 1. Reference cases --------------------------------------------------- */

static void reference_run(int lower) {
    char dir[] = "/tmp/logify-tokjson-XXXXXX", cfg[256], out[256], vpath[1200];
    if (!mkdtemp(dir)) fail_msg("mkdtemp");
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    snprintf(out, sizeof out, "%s/tokenizer.json", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "{\"do_lower_case\": %s, \"strip_accents\": null, \"tokenize_chinese_chars\": true}",
            lower ? "true" : "false");
    fclose(f);
    int gen = generate(cfg, out);
    if (!gen) {
        unlink(cfg);
        rmdir(dir);
        printf("SKIP: python3 scripts/gen_tokenizer_json.py failed (python3 absent?)\n");
        skip();
    }
    lg_tokenizer_json tj;
    lg_errmsg err;
    if (lg_tokenizer_json_load(out, NULL, &tj, &err)) fail_msg("%s", err.msg);
    assert_int_equal(tj.cls_id, 101);
    assert_int_equal(tj.sep_id, 102);
    assert_int_equal(tj.unk_id, 100);
    assert_int_equal(tj.pad_id, 0);
    assert_int_equal(tj.lower, lower);
    assert_int_equal(tj.max_length, 0);
    assert_int_equal(lg_wordpiece_vocab_size(tj.tok), 30522);
    lg_wordpiece_opts o = {lower, -1, 1};
    lg_wordpiece *vt = NULL;
    snprintf(vpath, sizeof vpath, "%s/tokenizer/bert-base-uncased-vocab.txt", shared);
    if (lg_wordpiece_load(vpath, &o, &vt, &err)) fail_msg("%s", err.msg);
    int cases, same;
    compare_paths(vt, tj.tok, lower, &cases, &same);
    printf("tokenizer.json (%s): %d of %d texts give the vocab.txt path's ids%s\n",
           lower ? "uncased" : "cased", same, cases,
           lower ? " and the 46 reference cases match Hugging Face's ids" : "");
    assert_int_equal(cases, 46 + (int)(sizeof extra / sizeof *extra));
    assert_int_equal(same, cases);
    lg_wordpiece_free(vt);
    lg_tokenizer_json_free(&tj);
    unlink(out);
    unlink(cfg);
    rmdir(dir);
}

static void test_reference_uncased(void **state) {
    (void)state;
    reference_run(1);
}

static void test_reference_cased(void **state) {
    (void)state;
    reference_run(0);
}

/* ---- 2. Parsing ------------------------------------------------------------ */

/* A small BERT-shaped document, as gen_tokenizer_json.py writes it. */
static json_t *base_doc(void) {
    const char *text =
        "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
        " \"added_tokens\": ["
        "  {\"id\": 0, \"content\": \"[PAD]\", \"single_word\": false, \"lstrip\": false,"
        "   \"rstrip\": false, \"normalized\": false, \"special\": true},"
        "  {\"id\": 1, \"content\": \"[UNK]\", \"single_word\": false, \"lstrip\": false,"
        "   \"rstrip\": false, \"normalized\": false, \"special\": true},"
        "  {\"id\": 2, \"content\": \"[CLS]\", \"single_word\": false, \"lstrip\": false,"
        "   \"rstrip\": false, \"normalized\": false, \"special\": true},"
        "  {\"id\": 3, \"content\": \"[SEP]\", \"single_word\": false, \"lstrip\": false,"
        "   \"rstrip\": false, \"normalized\": false, \"special\": true}],"
        " \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true,"
        "   \"handle_chinese_chars\": true, \"strip_accents\": null, \"lowercase\": true},"
        " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
        " \"post_processor\": {\"type\": \"TemplateProcessing\","
        "   \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}},"
        "              {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
        "              {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
        "   \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2], \"tokens\": "
        "[\"[CLS]\"]},"
        "                       \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [3], \"tokens\": "
        "[\"[SEP]\"]}}},"
        " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true},"
        " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
        "   \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 100,"
        "   \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"hello\": 4,"
        "     \"world\": 5, \"##s\": 6, \",\": 7, \"!\": 8, \"cafe\": 9, \"café\": 10,"
        "     \"Hello\": 11, \"中\": 12, \"中文\": 13, \"x\": 14}}}";
    json_error_t je;
    json_t *d = json_loads(text, 0, &je);
    if (!d) fail_msg("base_doc: %s", je.text);
    return d;
}

static lg_err parse_doc(json_t *d, const lg_tokenizer_json_cfg *cfg, lg_tokenizer_json *out,
                        lg_errmsg *err) {
    char *s = json_dumps(d, 0);
    assert_non_null(s);
    lg_err e = lg_tokenizer_json_parse(s, strlen(s), "tokenizer.json", cfg, out, err);
    free(s);
    json_decref(d);
    return e;
}

/* Parses d (consumed) and tokenizes text; returns the id count. */
static size_t tok_doc(json_t *d, const lg_tokenizer_json_cfg *cfg, const char *text, int32_t *ids) {
    lg_tokenizer_json tj;
    lg_errmsg err;
    if (parse_doc(d, cfg, &tj, &err)) fail_msg("%s", err.msg);
    size_t k = encode(tj.tok, text, strlen(text), ids, 16);
    lg_tokenizer_json_free(&tj);
    return k;
}

#define ASSERT_IDS(ids, k, ...)                                                                    \
    do {                                                                                           \
        const int32_t want_[] = {__VA_ARGS__};                                                     \
        assert_int_equal((k), sizeof want_ / sizeof *want_);                                       \
        for (size_t i_ = 0; i_ < (k); i_++)                                                        \
            assert_int_equal((ids)[i_], want_[i_]);                                                \
    } while (0)

static json_t *at(json_t *d, const char *a, const char *b) {
    json_t *o = json_object_get(d, a);
    return b ? json_object_get(o, b) : o;
}

static void test_accepts(void **state) {
    (void)state;
    int32_t ids[16];
    size_t k;
    lg_tokenizer_json tj;
    lg_errmsg err;
    /* the base document */
    assert_int_equal(parse_doc(base_doc(), NULL, &tj, &err), LG_OK);
    assert_int_equal(tj.cls_id, 2);
    assert_int_equal(tj.sep_id, 3);
    assert_int_equal(tj.unk_id, 1);
    assert_int_equal(tj.pad_id, 0);
    assert_int_equal(tj.lower, 1);
    const char *t0 = "Hellos, CAFÉ[SEP]中文!";
    k = encode(tj.tok, t0, strlen(t0), ids, 16);
    ASSERT_IDS(ids, k, 4, 6, 7, 9, 3, 12, 1, 8); /* 中 alone, then 文 (not in vocab) */
    lg_tokenizer_json_free(&tj);

    /* cased, accents kept, CJK not isolated, no cleaning */
    json_t *d = base_doc();
    json_object_set_new(at(d, "normalizer", NULL), "lowercase", json_false());
    json_object_set_new(at(d, "normalizer", NULL), "handle_chinese_chars", json_false());
    json_object_set_new(at(d, "normalizer", NULL), "clean_text", json_false());
    k = tok_doc(d, NULL, "Hello café 中文 x\x01x", ids);
    ASSERT_IDS(ids, k, 11, 10, 13, 1);
    /* tokenizer_config.json's settings replace BertNormalizer's */
    d = base_doc();
    json_object_set_new(at(d, "normalizer", NULL), "lowercase", json_false());
    lg_tokenizer_json_cfg cfg = {1, -1, -1};
    k = tok_doc(d, &cfg, "Hello", ids);
    ASSERT_IDS(ids, k, 4);
    cfg = (lg_tokenizer_json_cfg){-1, 0, 0};
    k = tok_doc(base_doc(), &cfg, "CAFÉ 中文", ids);
    ASSERT_IDS(ids, k, 10, 13);

    /* normalizer null: nothing changes the text */
    d = base_doc();
    json_object_set_new(d, "normalizer", json_null());
    k = tok_doc(d, NULL, "Hello hello", ids);
    ASSERT_IDS(ids, k, 11, 4);
    /* Sequence [NFD, Lowercase, StripAccents] + [WhitespaceSplit, Punctuation] + BertProcessing */
    d = base_doc();
    json_object_set_new(d, "normalizer",
                        json_pack("{s:s, s:[{s:s}, {s:s}, {s:s}]}", "type", "Sequence",
                                  "normalizers", "type", "NFD", "type", "Lowercase", "type",
                                  "StripAccents"));
    json_object_set_new(d, "pre_tokenizer",
                        json_pack("{s:s, s:[{s:s}, {s:s, s:s}]}", "type", "Sequence",
                                  "pretokenizers", "type", "WhitespaceSplit", "type", "Punctuation",
                                  "behavior", "Isolated"));
    json_object_set_new(d, "post_processor",
                        json_pack("{s:s, s:[s,i], s:[s,i]}", "type", "BertProcessing", "sep",
                                  "[SEP]", 3, "cls", "[CLS]", 2));
    assert_int_equal(parse_doc(json_deep_copy(d), NULL, &tj, &err), LG_OK);
    assert_int_equal(tj.cls_id, 2);
    assert_int_equal(tj.sep_id, 3);
    lg_tokenizer_json_free(&tj);
    k = tok_doc(d, NULL, "Héllo,CAFÉ!中文", ids);
    ASSERT_IDS(ids, k, 4, 7, 9, 8, 13); /* no CJK splitting in a Sequence */
    /* Lowercase alone keeps accents */
    d = base_doc();
    json_object_set_new(d, "normalizer", json_pack("{s:s}", "type", "Lowercase"));
    k = tok_doc(d, NULL, "CAFÉ", ids);
    ASSERT_IDS(ids, k, 10);

    /* prefix, max word length, truncation, an added token beyond the vocabulary */
    d = base_doc();
    json_object_set_new(at(d, "model", NULL), "continuing_subword_prefix", json_string("@@"));
    json_object_set_new(at(d, "model", NULL), "max_input_chars_per_word", json_integer(6));
    json_object_del(at(d, "model", "vocab"), "##s");
    json_object_set_new(at(d, "model", "vocab"), "@@s", json_integer(6));
    json_array_append_new(at(d, "added_tokens", NULL),
                          json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", 15, "content",
                                    "<ip>", "single_word", 0, "lstrip", 0, "rstrip", 0,
                                    "normalized", 0, "special", 0));
    json_object_set_new(d, "truncation",
                        json_pack("{s:s, s:i, s:s, s:i}", "direction", "Right", "max_length", 128,
                                  "strategy", "LongestFirst", "stride", 0));
    assert_int_equal(parse_doc(json_deep_copy(d), NULL, &tj, &err), LG_OK);
    assert_int_equal(tj.max_length, 128);
    assert_int_equal(lg_wordpiece_vocab_size(tj.tok), 16);
    lg_tokenizer_json_free(&tj);
    k = tok_doc(d, NULL, "hellos worlds<ip>hellos x helloss", ids);
    ASSERT_IDS(ids, k, 4, 6, 5, 6, 15, 4, 6, 14, 1); /* "helloss": 7 characters > 6 */
    d = base_doc();
    json_object_set_new(at(d, "model", NULL), "max_input_chars_per_word", json_integer(5));
    k = tok_doc(d, NULL, "hello hellos", ids);
    ASSERT_IDS(ids, k, 4, 1); /* 6 characters > 5: [UNK] */
    /* added tokens: no added_tokens, no literal special-token matching */
    d = base_doc();
    json_object_del(d, "added_tokens");
    k = tok_doc(d, NULL, "x[SEP]", ids);
    ASSERT_IDS(ids, k, 14, 1, 1, 1); /* [, sep (unknown), ] */
}

typedef void (*mutate_fn)(json_t *d);

static void refused(json_t *d, const char *needle) {
    lg_tokenizer_json tj;
    lg_errmsg err;
    err.msg[0] = '\0';
    lg_err e = parse_doc(d, NULL, &tj, &err);
    if (e == LG_OK) fail_msg("accepted; expected a refusal containing '%s'", needle);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "tokenizer.json"))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_null(tj.tok);
    printf("  refused: %s\n", err.msg);
}

static json_t *with(const char *a, const char *b, json_t *v) {
    json_t *d = base_doc();
    json_object_set_new(b ? at(d, a, NULL) : d, b ? b : a, v);
    return d;
}

static void test_refusals(void **state) {
    (void)state;
    refused(with("model", "type", json_string("BPE")),
            "model.type is 'BPE'; only WordPiece (BERT) tokenizers are supported");
    refused(with("model", "type", json_string("Unigram")), "model.type is 'Unigram'");
    json_t *d = base_doc();
    json_object_del(at(d, "model", NULL), "type");
    refused(d, "model.type missing");
    d = base_doc();
    json_object_set_new(at(d, "model", "vocab"), "x", json_integer(16)); /* gap at 14 */
    refused(d, "token 'x': id out of range; ids must be integers 0..14 (dense)");
    d = base_doc();
    json_object_set_new(at(d, "model", "vocab"), "x", json_integer(13)); /* twice 13 */
    json_object_set_new(at(d, "model", "vocab"), "y", json_integer(14));
    refused(d, "given to both");
    d = base_doc();
    json_object_set_new(at(d, "model", "vocab"), "x", json_string("14"));
    refused(d, "not an integer");
    refused(with("model", "vocab", json_object()), "model.vocab missing or empty");
    refused(with("model", "unk_token", json_string("<unk>")), "no <unk> token");
    refused(with("model", "unk_token", json_null()), "model.unk_token missing");
    refused(with("model", "continuing_subword_prefix", json_string("#################")),
            "continuing_subword_prefix");
    refused(with("model", "max_input_chars_per_word", json_integer(0)),
            "max_input_chars_per_word must be an integer in [1, 1000]");
    refused(with("model", "max_input_chars_per_word", json_integer(5000)),
            "max_input_chars_per_word");
    refused(with("normalizer", NULL, json_pack("{s:s}", "type", "NFKC")),
            "normalizer.type 'NFKC' is not supported");
    refused(with("normalizer", NULL,
                 json_pack("{s:s, s:[{s:s}, {s:s}]}", "type", "Sequence", "normalizers", "type",
                           "NFKD", "type", "Lowercase")),
            "normalizer.normalizers[0]: type 'NFKD' is not supported");
    refused(with("normalizer", NULL,
                 json_pack("{s:s, s:[{s:s}]}", "type", "Sequence", "normalizers", "type", "NFD")),
            "NFD without StripAccents");
    refused(with("normalizer", NULL,
                 json_pack("{s:s, s:[{s:s}, {s:s}]}", "type", "Sequence", "normalizers", "type",
                           "StripAccents", "type", "NFD")),
            "StripAccents before NFD");
    refused(with("normalizer", "strip_accents", json_string("yes")),
            "normalizer.strip_accents must be true, false or null");
    refused(with("normalizer", "lowercase", json_integer(1)),
            "normalizer.lowercase must be true or false");
    refused(with("pre_tokenizer", NULL, json_pack("{s:s}", "type", "Whitespace")),
            "pre_tokenizer.type 'Whitespace' is not supported");
    refused(with("pre_tokenizer", NULL, json_pack("{s:s}", "type", "Metaspace")),
            "pre_tokenizer.type 'Metaspace'");
    refused(with("pre_tokenizer", NULL, json_null()), "pre_tokenizer is null");
    refused(with("pre_tokenizer", NULL,
                 json_pack("{s:s, s:[{s:s}]}", "type", "Sequence", "pretokenizers", "type",
                           "WhitespaceSplit")),
            "does not split as BERT does");
    refused(
        with("pre_tokenizer", NULL,
             json_pack("{s:s, s:[{s:s}, {s:s, s:s}]}", "type", "Sequence", "pretokenizers", "type",
                       "WhitespaceSplit", "type", "Punctuation", "behavior", "Removed")),
        "Punctuation behavior 'Removed' is not supported");
    refused(with("pre_tokenizer", NULL,
                 json_pack("{s:s, s:[{s:s}, {s:s}]}", "type", "Sequence", "pretokenizers", "type",
                           "WhitespaceSplit", "type", "Digits")),
            "pretokenizers[1]: type 'Digits' is not supported");
    refused(with("post_processor", NULL, json_null()), "post_processor.type 'null'");
    refused(with("post_processor", NULL, json_pack("{s:s}", "type", "RobertaProcessing")),
            "post_processor.type 'RobertaProcessing' is not supported");
    d = base_doc();
    json_array_remove(at(d, "post_processor", "single"), 0);
    refused(d, "post_processor.single must be <special> $A <special>");
    d = base_doc();
    json_object_set_new(
        json_object_get(json_array_get(at(d, "post_processor", "single"), 2), "SpecialToken"),
        "type_id", json_integer(1));
    refused(d, "post_processor.single");
    d = base_doc();
    json_object_set_new(json_object_get(at(d, "post_processor", "special_tokens"), "[CLS]"), "ids",
                        json_pack("[i,i]", 2, 3));
    refused(d, "post_processor.special_tokens['[CLS]'].ids must hold exactly one id");
    d = base_doc();
    json_object_set_new(json_object_get(at(d, "post_processor", "special_tokens"), "[SEP]"), "ids",
                        json_pack("[i]", 99));
    refused(d, "[CLS]/[SEP] ids 2/99 outside the vocabulary");
    static const char *const flags[] = {"lstrip", "rstrip", "single_word"};
    for (size_t i = 0; i < 3; i++) {
        d = base_doc();
        json_object_set_new(json_array_get(at(d, "added_tokens", NULL), 2), flags[i], json_true());
        char needle[64];
        snprintf(needle, sizeof needle, "added_tokens[2] '[CLS]': %s=true is not supported",
                 flags[i]);
        refused(d, needle);
    }
    d = base_doc();
    json_object_set_new(json_array_get(at(d, "added_tokens", NULL), 1), "normalized", json_true());
    refused(d, "'normalized' must be false");
    d = base_doc();
    json_object_set_new(json_array_get(at(d, "added_tokens", NULL), 1), "id", json_integer(5));
    refused(d, "added_tokens[1] '[UNK]' has id 5 but model.vocab gives it 1");
    d = base_doc();
    json_array_append_new(at(d, "added_tokens", NULL),
                          json_pack("{s:i, s:s, s:b, s:b}", "id", 4, "content", "<x>", "normalized",
                                    0, "special", 1));
    refused(d, "id 4 belongs to model.vocab token 'hello'");
    refused(
        with("truncation", NULL, json_pack("{s:s, s:i}", "direction", "Left", "max_length", 64)),
        "truncation.direction must be \"Right\"");
    refused(with("truncation", NULL, json_pack("{s:i}", "max_length", 1)),
            "truncation.max_length must be an integer >= 2");
    refused(json_array(), "not a JSON object");
    /* text-level errors */
    lg_tokenizer_json tj;
    lg_errmsg err;
    const char dup[] = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"a\": 1}}}";
    assert_int_equal(
        lg_tokenizer_json_parse(dup, sizeof dup - 1, "tokenizer.json", NULL, &tj, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "duplicate"));
    printf("  refused: %s\n", err.msg);
    assert_int_equal(lg_tokenizer_json_parse("{", 1, "tokenizer.json", NULL, &tj, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "tokenizer.json: line 1"));
    assert_int_equal(
        lg_tokenizer_json_load("/nonexistent/tokenizer.json", NULL, &tj, &err) != LG_OK, 1);
}

/* ---- 3. Lower-casing vs NFD + Mn removal ---------------------------------- */

/* NFD of c without Mn characters into d; returns the count. */
static size_t nfd_no_mn(int32_t c, int32_t *d) {
    int32_t tmp[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, tmp, 32, UTF8PROC_DECOMPOSE, &last);
    if (n < 0 || n > 32) {
        tmp[0] = c;
        n = 1;
    }
    size_t k = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++)
        if (utf8proc_category(tmp[i]) != UTF8PROC_CATEGORY_MN) d[k++] = tmp[i];
    return k;
}

static void test_lowercase_commutes(void **state) {
    (void)state;
    size_t diff = 0, checked = 0;
    for (int32_t c = 0; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        int32_t a[32], b[64], tmp[32], lc[2];
        /* ours: NFD, drop Mn, lower-case each character */
        size_t na = nfd_no_mn(c, a);
        for (size_t i = 0; i < na; i++)
            a[i] = utf8proc_tolower(a[i]);
        /* lower-case first (full mapping of U+0130), then NFD and drop Mn */
        size_t nl = 1, nb = 0;
        lc[0] = utf8proc_tolower(c);
        if (c == 0x130) {
            lc[0] = 'i';
            lc[1] = 0x307;
            nl = 2;
        }
        for (size_t i = 0; i < nl; i++) {
            size_t k = nfd_no_mn(lc[i], tmp);
            memcpy(b + nb, tmp, k * sizeof *tmp);
            nb += k;
        }
        /* NFD, lower-case, then drop Mn */
        int32_t e[32];
        int last = 0;
        utf8proc_ssize_t ne = utf8proc_decompose_char(c, e, 32, UTF8PROC_DECOMPOSE, &last);
        int same_c = 1;
        if (ne >= 1 && ne <= 32) {
            size_t k = 0;
            for (utf8proc_ssize_t i = 0; i < ne; i++) {
                int32_t l = utf8proc_tolower(e[i]);
                if (utf8proc_category(l) == UTF8PROC_CATEGORY_MN) continue;
                same_c = same_c && k < na && a[k] == l;
                k++;
            }
            same_c = same_c && k == na;
        }
        if (na != nb || memcmp(a, b, na * sizeof *a) != 0 || !same_c) {
            if (diff < 5) fprintf(stderr, "U+%04X: orders differ\n", (unsigned)c);
            diff++;
        }
        checked++;
    }
    printf("lower-casing vs NFD + Mn removal: %zu code points, %zu differ\n", checked, diff);
    assert_int_equal(diff, 0);
}

int main(void) {
    const char *s = getenv("LOGIFY_SHARED"), *r = getenv("LOGIFY_ROOT");
    snprintf(shared, sizeof shared, "%s", s ? s : "../shared");
    snprintf(root, sizeof root, "%s", r ? r : ".");
    char cases[1200];
    snprintf(cases, sizeof cases, "%s/tokenizer/wordpiece_vectors.jsonl", shared);
    int have_shared = access(cases, R_OK) == 0;
    if (!have_shared)
        printf("SKIP (reference tests only): %s not found (../shared is absent)\n", cases);
    const struct CMUnitTest with_shared[] = {
        cmocka_unit_test(test_reference_uncased),
        cmocka_unit_test(test_reference_cased),
    };
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_lowercase_commutes),
    };
    int rc = cmocka_run_group_tests(always, NULL, NULL);
    if (have_shared) rc |= cmocka_run_group_tests(with_shared, NULL, NULL);
    return rc;
}
