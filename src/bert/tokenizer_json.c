/* tokenizer_json.c - a Hugging Face `tokenizers` file (tokenizer.json)
 * read into the WordPiece tokenizer of tokenizer.c.
 *
 * Only what BERT's pipeline can honour exactly is accepted; anything else
 * is refused with a message naming the file and the field (docs/bert.md):
 *   model           WordPiece: vocab (ids dense 0..n-1), unk_token,
 *                   continuing_subword_prefix, max_input_chars_per_word
 *   normalizer      BertNormalizer, null, Lowercase, or a Sequence of NFD +
 *                   StripAccents (+ Lowercase)
 *   pre_tokenizer   BertPreTokenizer, or WhitespaceSplit + Punctuation
 *                   (Isolated), alone or in a Sequence
 *   post_processor  TemplateProcessing "[CLS] $A [SEP]" or BertProcessing
 *   added_tokens    kept whole where they occur in the text (not
 *                   normalised, no lstrip/rstrip/single_word)
 *   truncation      max_length (direction Right)
 * padding and decoder do not change embeddings and are ignored.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"
#include "logify/jsonguard.h"

#define TJ_MAX_BYTES (64u << 20)

/* ---- Helpers ------------------------------------------------------------- */

static const char *type_of(json_t *o) {
    const char *t = json_string_value(json_object_get(o, "type"));
    return t ? t : "";
}

/* A boolean field: def when absent; 1 + error for another type. */
static lg_err get_flag(json_t *o, const char *name, const char *where, const char *field, int def,
                       int *out, lg_errmsg *err) {
    json_t *v = json_object_get(o, field);
    if (!v) {
        *out = def;
        return LG_OK;
    }
    if (!json_is_boolean(v))
        return lg_fail(err, LG_EMODEL, "%s: %s.%s must be true or false", name, where, field);
    *out = json_is_true(v);
    return LG_OK;
}

/* ---- model --------------------------------------------------------------- */

static lg_err read_model(json_t *root, const char *name, lg_wordpiece_spec *sp,
                         const char ***tokens, size_t *n_tokens, lg_errmsg *err) {
    json_t *m = json_object_get(root, "model");
    if (!json_is_object(m)) return lg_fail(err, LG_EMODEL, "%s: field 'model' missing", name);
    json_t *ty = json_object_get(m, "type");
    if (!json_is_string(ty))
        return lg_fail(err, LG_EMODEL, "%s: model.type missing (WordPiece expected)", name);
    if (strcmp(json_string_value(ty), "WordPiece") != 0)
        return lg_fail(err, LG_EMODEL,
                       "%s: model.type is '%s'; only WordPiece (BERT) tokenizers are supported",
                       name, json_string_value(ty));
    json_t *unk = json_object_get(m, "unk_token");
    if (!json_is_string(unk))
        return lg_fail(err, LG_EMODEL, "%s: model.unk_token missing or not a string", name);
    sp->unk_token = json_string_value(unk);
    json_t *pre = json_object_get(m, "continuing_subword_prefix");
    if (pre && !json_is_null(pre)) {
        if (!json_is_string(pre) || json_string_length(pre) > LG_WP_PREFIX_MAX ||
            strlen(json_string_value(pre)) != json_string_length(pre))
            return lg_fail(err, LG_EMODEL,
                           "%s: model.continuing_subword_prefix must be a string of at most %d "
                           "bytes",
                           name, LG_WP_PREFIX_MAX);
        sp->prefix = json_string_value(pre);
    }
    json_t *mc = json_object_get(m, "max_input_chars_per_word");
    if (mc && !json_is_null(mc)) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 1 ||
            json_integer_value(mc) > LG_WP_MAX_WORD_LIMIT)
            return lg_fail(err, LG_EMODEL,
                           "%s: model.max_input_chars_per_word must be an integer in [1, %d]", name,
                           LG_WP_MAX_WORD_LIMIT);
        sp->max_chars = (size_t)json_integer_value(mc);
    }
    json_t *v = json_object_get(m, "vocab");
    if (!json_is_object(v) || json_object_size(v) == 0)
        return lg_fail(err, LG_EMODEL, "%s: model.vocab missing or empty", name);
    size_t n = json_object_size(v);
    if (n > (size_t)INT32_MAX / 4)
        return lg_fail(err, LG_ELIMIT, "%s: model.vocab: too many tokens", name);
    const char **tok = calloc(n, sizeof *tok);
    if (!tok) return lg_fail(err, LG_ENOMEM, "tokenizer.json vocabulary: out of memory");
    const char *key;
    json_t *idv;
    size_t klen;
    json_object_keylen_foreach(v, key, klen, idv) {
        if (!json_is_integer(idv) || json_integer_value(idv) < 0 ||
            (size_t)json_integer_value(idv) >= n) {
            free(tok);
            return lg_fail(err, LG_EMODEL,
                           "%s: model.vocab: token '%s': id %s; ids must be integers 0..%zu "
                           "(dense)",
                           name, key, json_is_integer(idv) ? "out of range" : "not an integer",
                           n - 1);
        }
        size_t id = (size_t)json_integer_value(idv);
        if (strlen(key) != klen) {
            free(tok);
            return lg_fail(err, LG_EMODEL, "%s: model.vocab: token %zu contains a NUL", name, id);
        }
        if (tok[id]) {
            lg_err e = lg_fail(err, LG_EMODEL,
                               "%s: model.vocab: id %zu given to both '%s' and '%s' (ids must be "
                               "dense 0..%zu, each once)",
                               name, id, tok[id], key, n - 1);
            free(tok);
            return e;
        }
        tok[id] = key;
    }
    /* n keys, ids in [0, n), no id twice: every id 0..n-1 is used */
    *tokens = tok;
    *n_tokens = n;
    return LG_OK;
}

/* ---- normalizer ---------------------------------------------------------- */

/* BertNormalizer's fields; tokenizer_config.json's do_lower_case,
 * strip_accents and tokenize_chinese_chars replace them when set, as
 * transformers' BertTokenizerFast does. */
static lg_err read_bert_normalizer(json_t *nz, const char *name, const lg_tokenizer_json_cfg *ov,
                                   lg_wordpiece_spec *sp, lg_errmsg *err) {
    lg_err e;
    if ((e = get_flag(nz, name, "normalizer", "clean_text", 1, &sp->clean, err)) ||
        (e = get_flag(nz, name, "normalizer", "handle_chinese_chars", 1, &sp->chinese, err)) ||
        (e = get_flag(nz, name, "normalizer", "lowercase", 1, &sp->lower, err)))
        return e;
    json_t *sa = json_object_get(nz, "strip_accents");
    if (!sa || json_is_null(sa))
        sp->strip = -1;
    else if (json_is_boolean(sa))
        sp->strip = json_is_true(sa);
    else
        return lg_fail(err, LG_EMODEL, "%s: normalizer.strip_accents must be true, false or null",
                       name);
    if (ov) {
        if (ov->lower >= 0) sp->lower = ov->lower;
        if (ov->strip != -1) sp->strip = ov->strip == -2 ? -1 : ov->strip;
        if (ov->chinese >= 0) sp->chinese = ov->chinese;
    }
    return LG_OK;
}

static lg_err read_normalizer(json_t *root, const char *name, const lg_tokenizer_json_cfg *ov,
                              lg_wordpiece_spec *sp, lg_errmsg *err) {
    json_t *nz = json_object_get(root, "normalizer");
    sp->clean = sp->chinese = sp->lower = sp->strip = 0;
    if (!nz || json_is_null(nz)) return LG_OK; /* no normalisation at all */
    const char *t = type_of(nz);
    if (!strcmp(t, "BertNormalizer")) return read_bert_normalizer(nz, name, ov, sp, err);
    if (!strcmp(t, "Lowercase")) {
        sp->lower = 1;
        return LG_OK;
    }
    if (strcmp(t, "Sequence") != 0)
        return lg_fail(err, LG_EMODEL,
                       "%s: normalizer.type '%s' is not supported (BertNormalizer, Lowercase, or "
                       "a Sequence of NFD, StripAccents and Lowercase are)",
                       name, t);
    json_t *list = json_object_get(nz, "normalizers");
    if (!json_is_array(list))
        return lg_fail(err, LG_EMODEL, "%s: normalizer.normalizers must be an array", name);
    /* NFD then StripAccents, with Lowercase anywhere: per character that is
     * NFD, drop Mn, lower-case (the order of lower-casing and NFD + Mn
     * removal does not matter: tests/unit/bert/test_tokenizer_json.c checks
     * every code point). */
    int nfd = 0;
    size_t i;
    json_t *el;
    json_array_foreach(list, i, el) {
        const char *et = type_of(el);
        if (!strcmp(et, "NFD")) {
            nfd = 1;
        } else if (!strcmp(et, "StripAccents")) {
            if (!nfd)
                return lg_fail(err, LG_EMODEL,
                               "%s: normalizer.normalizers[%zu]: StripAccents before NFD is not "
                               "supported",
                               name, i);
            sp->strip = 1;
        } else if (!strcmp(et, "Lowercase")) {
            sp->lower = 1;
        } else if (!strcmp(et, "BertNormalizer") && json_array_size(list) == 1) {
            return read_bert_normalizer(el, name, NULL, sp, err);
        } else {
            return lg_fail(err, LG_EMODEL,
                           "%s: normalizer.normalizers[%zu]: type '%s' is not supported (NFD, "
                           "StripAccents and Lowercase are)",
                           name, i, *et ? et : "(none)");
        }
    }
    if (nfd && !sp->strip)
        return lg_fail(err, LG_EMODEL,
                       "%s: normalizer: NFD without StripAccents (decomposed text) is not "
                       "supported",
                       name);
    return LG_OK;
}

/* ---- pre_tokenizer ------------------------------------------------------- */

/* WhitespaceSplit and Punctuation (Isolated) together split exactly as
 * BertPreTokenizer does (whitespace removed, each punctuation character a
 * word of its own; the two classes are disjoint, so their order is free). */
static lg_err read_pre_tokenizer(json_t *root, const char *name, lg_errmsg *err) {
    json_t *pt = json_object_get(root, "pre_tokenizer");
    if (!pt || json_is_null(pt))
        return lg_fail(err, LG_EMODEL,
                       "%s: pre_tokenizer is null; BertPreTokenizer (or WhitespaceSplit + "
                       "Punctuation) is required",
                       name);
    const char *t = type_of(pt);
    if (!strcmp(t, "BertPreTokenizer")) return LG_OK;
    json_t *list = json_object_get(pt, "pretokenizers");
    if (strcmp(t, "Sequence") != 0 || !json_is_array(list))
        return lg_fail(err, LG_EMODEL,
                       "%s: pre_tokenizer.type '%s' is not supported (BertPreTokenizer, or a "
                       "Sequence of WhitespaceSplit and Punctuation, splits as BERT does)",
                       name, t);
    int ws = 0, punct = 0, bert = 0;
    size_t i;
    json_t *el;
    json_array_foreach(list, i, el) {
        const char *et = type_of(el);
        if (!strcmp(et, "BertPreTokenizer")) {
            bert = 1;
        } else if (!strcmp(et, "WhitespaceSplit")) {
            ws = 1;
        } else if (!strcmp(et, "Punctuation")) {
            const char *b = json_string_value(json_object_get(el, "behavior"));
            if (b && strcmp(b, "Isolated") != 0)
                return lg_fail(err, LG_EMODEL,
                               "%s: pre_tokenizer.pretokenizers[%zu]: Punctuation behavior '%s' "
                               "is not supported (Isolated is)",
                               name, i, b);
            punct = 1;
        } else {
            return lg_fail(err, LG_EMODEL,
                           "%s: pre_tokenizer.pretokenizers[%zu]: type '%s' is not supported "
                           "(BertPreTokenizer, WhitespaceSplit and Punctuation are)",
                           name, i, *et ? et : "(none)");
        }
    }
    if (bert ? (ws || punct || json_array_size(list) != 1) : !(ws && punct))
        return lg_fail(err, LG_EMODEL,
                       "%s: pre_tokenizer: this Sequence does not split as BERT does (it needs "
                       "BertPreTokenizer alone, or both WhitespaceSplit and Punctuation)",
                       name);
    return LG_OK;
}

/* ---- post_processor ------------------------------------------------------ */

/* Id of a TemplateProcessing special token: special_tokens[tok].ids must
 * hold exactly one id. */
static lg_err template_id(json_t *pp, const char *tok, const char *name, int32_t *out,
                          lg_errmsg *err) {
    json_t *st = json_object_get(json_object_get(pp, "special_tokens"), tok);
    json_t *ids = json_object_get(st, "ids");
    if (!json_is_array(ids) || json_array_size(ids) != 1 ||
        !json_is_integer(json_array_get(ids, 0)) ||
        json_integer_value(json_array_get(ids, 0)) < 0 ||
        json_integer_value(json_array_get(ids, 0)) >= INT32_MAX / 4)
        return lg_fail(err, LG_EMODEL,
                       "%s: post_processor.special_tokens['%s'].ids must hold exactly one id", name,
                       tok);
    *out = (int32_t)json_integer_value(json_array_get(ids, 0));
    return LG_OK;
}

/* The element k of a template: "SpecialToken" or "Sequence" with its id;
 * type_id must be 0 (single sentences). */
static const char *template_piece(json_t *single, size_t k, const char *kind) {
    json_t *o = json_object_get(json_array_get(single, k), kind);
    json_t *tid = json_object_get(o, "type_id");
    if (!o || (tid && (!json_is_integer(tid) || json_integer_value(tid) != 0))) return NULL;
    return json_string_value(json_object_get(o, "id"));
}

static lg_err read_post_processor(json_t *root, const char *name, lg_tokenizer_json *out,
                                  lg_errmsg *err) {
    json_t *pp = json_object_get(root, "post_processor");
    const char *t = pp && !json_is_null(pp) ? type_of(pp) : "null";
    if (!strcmp(t, "BertProcessing")) {
        json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
        json_t *ci = json_array_get(cls, 1), *si = json_array_get(sep, 1);
        if (!json_is_integer(ci) || !json_is_integer(si) || json_integer_value(ci) < 0 ||
            json_integer_value(si) < 0 || json_integer_value(ci) >= INT32_MAX / 4 ||
            json_integer_value(si) >= INT32_MAX / 4)
            return lg_fail(err, LG_EMODEL,
                           "%s: post_processor (BertProcessing): 'cls' and 'sep' must be "
                           "[token, id]",
                           name);
        out->cls_id = (int32_t)json_integer_value(ci);
        out->sep_id = (int32_t)json_integer_value(si);
        return LG_OK;
    }
    if (strcmp(t, "TemplateProcessing") != 0)
        return lg_fail(err, LG_EMODEL,
                       "%s: post_processor.type '%s' is not supported (TemplateProcessing "
                       "\"[CLS] $A [SEP]\" or BertProcessing are)",
                       name, t);
    json_t *single = json_object_get(pp, "single");
    const char *a = NULL, *b = NULL, *seq = NULL;
    if (json_is_array(single) && json_array_size(single) == 3) {
        a = template_piece(single, 0, "SpecialToken");
        seq = template_piece(single, 1, "Sequence");
        b = template_piece(single, 2, "SpecialToken");
    }
    if (!a || !b || !seq || strcmp(seq, "A") != 0)
        return lg_fail(err, LG_EMODEL,
                       "%s: post_processor.single must be <special> $A <special> with type_id "
                       "0, as BERT's \"[CLS] $A [SEP]\"",
                       name);
    lg_err e;
    if ((e = template_id(pp, a, name, &out->cls_id, err)) ||
        (e = template_id(pp, b, name, &out->sep_id, err)))
        return e;
    return LG_OK;
}

/* ---- added_tokens, truncation --------------------------------------------- */

static lg_err read_added(json_t *root, const char *name, lg_tokenizer_json *out, lg_errmsg *err) {
    json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list)) return LG_OK;
    if (!json_is_array(list))
        return lg_fail(err, LG_EMODEL, "%s: added_tokens must be an array", name);
    size_t n_vocab = lg_wordpiece_vocab_size(out->tok), i;
    json_t *el;
    json_array_foreach(list, i, el) {
        json_t *idv = json_object_get(el, "id"), *cv = json_object_get(el, "content");
        if (!json_is_integer(idv) || json_integer_value(idv) < 0 ||
            json_integer_value(idv) >= INT32_MAX / 4 || !json_is_string(cv) ||
            strlen(json_string_value(cv)) != json_string_length(cv) || json_string_length(cv) == 0)
            return lg_fail(err, LG_EMODEL,
                           "%s: added_tokens[%zu]: needs an integer 'id' and a non-empty "
                           "'content'",
                           name, i);
        const char *c = json_string_value(cv);
        int32_t id = (int32_t)json_integer_value(idv);
        static const char *const unsupported[] = {"single_word", "lstrip", "rstrip"};
        for (size_t k = 0; k < 3; k++)
            if (json_is_true(json_object_get(el, unsupported[k])))
                return lg_fail(err, LG_EMODEL,
                               "%s: added_tokens[%zu] '%s': %s=true is not supported (added "
                               "tokens are matched as written)",
                               name, i, c, unsupported[k]);
        /* absent: HF's default, normalised unless special */
        json_t *nv = json_object_get(el, "normalized");
        int normalized =
            json_is_boolean(nv) ? json_is_true(nv) : !json_is_true(json_object_get(el, "special"));
        if (normalized)
            return lg_fail(err, LG_EMODEL,
                           "%s: added_tokens[%zu] '%s': 'normalized' must be false (matching "
                           "after normalisation is not supported)",
                           name, i, c);
        int32_t vid = lg_wordpiece_id(out->tok, c);
        if (vid >= 0 && vid != id)
            return lg_fail(err, LG_EMODEL,
                           "%s: added_tokens[%zu] '%s' has id %d but model.vocab gives it %d", name,
                           i, c, id, vid);
        if (vid < 0 && (size_t)id < n_vocab)
            return lg_fail(err, LG_EMODEL,
                           "%s: added_tokens[%zu] '%s': id %d belongs to model.vocab token '%s'",
                           name, i, c, id, lg_wordpiece_token(out->tok, id));
        lg_err e = lg_wordpiece_add_token(out->tok, c, id, name, err);
        if (e) return e;
    }
    return LG_OK;
}

static lg_err read_truncation(json_t *root, const char *name, lg_tokenizer_json *out,
                              lg_errmsg *err) {
    json_t *tr = json_object_get(root, "truncation");
    if (!tr || json_is_null(tr)) return LG_OK;
    json_t *ml = json_object_get(tr, "max_length"), *dir = json_object_get(tr, "direction");
    if (!json_is_integer(ml) || json_integer_value(ml) < 2 || json_integer_value(ml) > 1 << 20)
        return lg_fail(err, LG_EMODEL,
                       "%s: truncation.max_length must be an integer >= 2 ([CLS] and [SEP])", name);
    if (dir && (!json_is_string(dir) || strcmp(json_string_value(dir), "Right") != 0))
        return lg_fail(err, LG_EMODEL,
                       "%s: truncation.direction must be \"Right\" (texts are cut at the end)",
                       name);
    out->max_length = (int)json_integer_value(ml);
    return LG_OK;
}

/* ---- Public -------------------------------------------------------------- */

void lg_tokenizer_json_free(lg_tokenizer_json *t) {
    if (!t) return;
    lg_wordpiece_free(t->tok);
    t->tok = NULL;
}

lg_err lg_tokenizer_json_parse(const char *text, size_t len, const char *name,
                               const lg_tokenizer_json_cfg *cfg, lg_tokenizer_json *out,
                               lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    out->pad_id = -1;
    if (len > TJ_MAX_BYTES) return lg_fail(err, LG_ELIMIT, "%s: over 64 MB", name);
    json_error_t je;
    int oom;
    json_t *root = lg_json_loadb(text, len, JSON_REJECT_DUPLICATES, &je, &oom);
    if (oom) return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", name);
    if (!root) return lg_fail(err, LG_EMODEL, "%s: line %d: %s", name, je.line, je.text);
    const char **tokens = NULL;
    size_t n = 0;
    lg_wordpiece_spec sp = {1, -1, 1, 1, "[UNK]", "##", 100};
    lg_err e;
    if (!json_is_object(root)) {
        e = lg_fail(err, LG_EMODEL, "%s: not a JSON object", name);
        goto out;
    }
    if ((e = read_model(root, name, &sp, &tokens, &n, err)) ||
        (e = read_normalizer(root, name, cfg, &sp, err)) ||
        (e = read_pre_tokenizer(root, name, err)) ||
        (e = read_post_processor(root, name, out, err)) ||
        (e = read_truncation(root, name, out, err)) ||
        (e = lg_wordpiece_new(tokens, n, &sp, name, &out->tok, err)) ||
        (e = read_added(root, name, out, err)))
        goto out;
    size_t n_ids = lg_wordpiece_vocab_size(out->tok);
    if ((size_t)out->cls_id >= n_ids || (size_t)out->sep_id >= n_ids) {
        e = lg_fail(err, LG_EMODEL,
                    "%s: post_processor: [CLS]/[SEP] ids %d/%d outside the vocabulary (%zu)", name,
                    out->cls_id, out->sep_id, n_ids);
        goto out;
    }
    out->unk_id = lg_wordpiece_id(out->tok, sp.unk_token);
    out->pad_id = lg_wordpiece_id(out->tok, "[PAD]");
    out->lower = sp.lower;
out:
    if (e) lg_tokenizer_json_free(out);
    free(tokens);
    json_decref(root);
    return e;
}

lg_err lg_tokenizer_json_load(const char *path, const lg_tokenizer_json_cfg *cfg,
                              lg_tokenizer_json *out, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    lg_err e = lg_read_file(path, TJ_MAX_BYTES, &text, &len, err);
    if (e) return e;
    e = lg_tokenizer_json_parse(text, len, path, cfg, out, err);
    free(text);
    return e;
}
