/* sbert_load.c - loading a sentence-transformers model directory:
 * config.json, vocab.txt + tokenizer_config.json (or tokenizer.json),
 * model.safetensors, modules.json, <pooling dir>/config.json,
 * sentence_bert_config.json.
 * Every missing or inconsistent file fails with a message naming the file
 * and the field. The forward pass is in sbert.c. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logify/dynlib.h"
#include "bert/sbert_internal.h"
#include "bert/sbert_kernels.h"
#include "bert/sbert_quant.h"
#include "logify/jsonguard.h"

#define SB_JSON_MAX (4u << 20)

/* ---- Small JSON helpers -------------------------------------------------- */

static lg_err path_join(char *buf, size_t cap, const char *dir, const char *a, const char *b,
                        lg_errmsg *err) {
    int n = b ? snprintf(buf, cap, "%s/%s/%s", dir, a, b) : snprintf(buf, cap, "%s/%s", dir, a);
    if (n < 0 || (size_t)n >= cap) return lg_fail(err, LG_ELIMIT, "path too long: %s", dir);
    return LG_OK;
}

/* Loads a JSON object file; *out NULL when absent and optional. */
static lg_err load_json(const char *path, int optional, json_t **out, lg_errmsg *err) {
    *out = NULL;
    if (access(path, F_OK) != 0) {
        if (optional) return LG_OK;
        return lg_fail(err, LG_ENOTFOUND,
                       "%s: missing (not a sentence-transformers model directory?)", path);
    }
    char *text = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, SB_JSON_MAX, &text, &len, err);
    if (e) return e;
    json_error_t je;
    int oom;
    json_t *j = lg_json_loadb(text, len, 0, &je, &oom);
    free(text);
    if (oom) return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", path);
    if (!j) return lg_fail(err, LG_EMODEL, "%s: line %d: %s", path, je.line, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return lg_fail(err, LG_EMODEL, "%s: not a JSON object", path);
    }
    *out = j;
    return LG_OK;
}

/* Reads an integer field in [lo, hi]; def < 0 means required. */
static lg_err get_int(json_t *o, const char *path, const char *field, long def, long lo, long hi,
                      int *out, lg_errmsg *err) {
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) {
        if (def < 0) return lg_fail(err, LG_EMODEL, "%s: field '%s' missing", path, field);
        *out = (int)def;
        return LG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return lg_fail(err, LG_EMODEL, "%s: field '%s' must be an integer in [%ld, %ld]", path,
                       field, lo, hi);
    *out = (int)json_integer_value(v);
    return LG_OK;
}

static int get_bool(json_t *o, const char *field, int def) {
    json_t *v = json_object_get(o, field);
    if (json_is_boolean(v)) return json_is_true(v);
    return def;
}

/* ---- Weights ------------------------------------------------------------- */

static lg_err own(lg_sbert *m, void *p, lg_errmsg *err) {
    if (m->n_owned == m->cap_owned) {
        size_t nc = m->cap_owned ? m->cap_owned * 2 : 64;
        void **np = realloc(m->owned, nc * sizeof *np);
        if (!np) {
            free(p);
            return lg_fail(err, LG_ENOMEM, "sbert weights: out of memory");
        }
        m->owned = np;
        m->cap_owned = nc;
    }
    m->owned[m->n_owned++] = p;
    return LG_OK;
}

/* Finds `name` (with or without the "bert." prefix) and checks its shape
 * (d1 == 0 for a vector). */
static lg_err find_tensor(lg_sbert *m, const char *path, const char *name, int64_t d0, int64_t d1,
                          const lg_st_tensor **out, lg_errmsg *err) {
    char full[256];
    const lg_st_tensor *t = lg_safetensors_find(&m->st, name);
    if (!t) {
        snprintf(full, sizeof full, "bert.%s", name);
        t = lg_safetensors_find(&m->st, full);
    }
    if (!t) return lg_fail(err, LG_EMODEL, "%s: tensor '%s' missing", path, name);
    if (t->dtype == LG_ST_OTHER)
        return lg_fail(err, LG_EMODEL, "%s: tensor '%s': dtype must be F32, F16 or BF16", path,
                       name);
    int ok = d1 ? (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1)
                : (t->ndim == 1 && t->shape[0] == d0);
    if (!ok) {
        if (d1)
            return lg_fail(err, LG_EMODEL,
                           "%s: tensor '%s': shape must be [%lld, %lld] (config.json)", path, name,
                           (long long)d0, (long long)d1);
        return lg_fail(err, LG_EMODEL, "%s: tensor '%s': shape must be [%lld] (config.json)", path,
                       name, (long long)d0);
    }
    *out = t;
    return LG_OK;
}

/* A float view of a tensor: the mmapped bytes themselves when they are
 * aligned F32, else a converted copy owned by the model. dst, when given,
 * receives a copy instead (used to stack Q/K/V). */
static lg_err tensor_f32(lg_sbert *m, const char *path, const char *name, int64_t d0, int64_t d1,
                         float *dst, const float **out, lg_errmsg *err) {
    const lg_st_tensor *t;
    lg_err e = find_tensor(m, path, name, d0, d1, &t, err);
    if (e) return e;
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (dst) {
        lg_st_to_f32(t, dst, n);
        if (out) *out = dst;
        return LG_OK;
    }
    if (t->dtype == LG_ST_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = (const float *)(const void *)t->data; /* little-endian host assumed */
        return LG_OK;
    }
    float *p = malloc(n * sizeof *p);
    if (!p) return lg_fail(err, LG_ENOMEM, "sbert weights: out of memory");
    lg_st_to_f32(t, p, n);
    if ((e = own(m, p, err))) return e;
    *out = p;
    return LG_OK;
}

static lg_err load_weights(lg_sbert *m, const char *path, lg_errmsg *err) {
    lg_err e;
    int64_t H = m->hidden, I = m->intermediate;
    if ((e = tensor_f32(m, path, "embeddings.word_embeddings.weight", m->vocab_size, H, NULL,
                        &m->word_emb, err)) ||
        (e = tensor_f32(m, path, "embeddings.position_embeddings.weight", m->max_positions, H, NULL,
                        &m->pos_emb, err)) ||
        (e = tensor_f32(m, path, "embeddings.token_type_embeddings.weight", m->type_vocab, H, NULL,
                        &m->type_emb, err)) ||
        (e = tensor_f32(m, path, "embeddings.LayerNorm.weight", H, 0, NULL, &m->emb_ln_g, err)) ||
        (e = tensor_f32(m, path, "embeddings.LayerNorm.bias", H, 0, NULL, &m->emb_ln_b, err)))
        return e;
    m->layer = calloc((size_t)m->layers, sizeof *m->layer);
    if (!m->layer) return lg_fail(err, LG_ENOMEM, "sbert layers: out of memory");
    char n[128];
#define T(suffix, d0, d1, dst, field)                                                              \
    do {                                                                                           \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix);                                   \
        if ((e = tensor_f32(m, path, n, d0, d1, dst, &L->field, err))) return e;                   \
    } while (0)
    for (int l = 0; l < m->layers; l++) {
        lg_bert_layer *L = &m->layer[l];
        float *wqkv = malloc((size_t)(3 * H * H) * sizeof *wqkv);
        if (!wqkv || (e = own(m, wqkv, err)))
            return wqkv ? e : lg_fail(err, LG_ENOMEM, "sbert weights: out of memory");
        float *bqkv = malloc((size_t)(3 * H) * sizeof *bqkv);
        if (!bqkv || (e = own(m, bqkv, err)))
            return bqkv ? e : lg_fail(err, LG_ENOMEM, "sbert weights: out of memory");
        const float *unused;
        static const char *qkv[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) {
            snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.weight", l, qkv[k]);
            if ((e = tensor_f32(m, path, n, H, H, wqkv + k * H * H, &unused, err))) return e;
            snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.bias", l, qkv[k]);
            if ((e = tensor_f32(m, path, n, H, 0, bqkv + k * H, &unused, err))) return e;
        }
        /* fold attention's 1/sqrt(head_dim) into the query projection */
        float qs = 1.0f / sqrtf((float)(H / m->heads));
        for (int64_t k = 0; k < H * H; k++)
            wqkv[k] *= qs;
        for (int64_t k = 0; k < H; k++)
            bqkv[k] *= qs;
        L->wqkv = wqkv;
        L->bqkv = bqkv;
        T("attention.output.dense.weight", H, H, NULL, wo);
        T("attention.output.dense.bias", H, 0, NULL, bo);
        T("attention.output.LayerNorm.weight", H, 0, NULL, ln1_g);
        T("attention.output.LayerNorm.bias", H, 0, NULL, ln1_b);
        T("intermediate.dense.weight", I, H, NULL, wi);
        T("intermediate.dense.bias", I, 0, NULL, bi);
        T("output.dense.weight", H, I, NULL, wout);
        T("output.dense.bias", H, 0, NULL, bout);
        T("output.LayerNorm.weight", H, 0, NULL, ln2_g);
        T("output.LayerNorm.bias", H, 0, NULL, ln2_b);
    }
#undef T
    const lg_st_tensor *we;
    find_tensor(m, path, "embeddings.word_embeddings.weight", m->vocab_size, H, &we, NULL);
    m->dtype = we->dtype_name;
    return LG_OK;
}

/* ---- Config files -------------------------------------------------------- */

static lg_err load_config(lg_sbert *m, const char *dir, lg_errmsg *err) {
    char path[PATH_MAX];
    json_t *j = NULL;
    lg_err e;
    if ((e = path_join(path, sizeof path, dir, "config.json", NULL, err)) ||
        (e = load_json(path, 0, &j, err)))
        return e;
    json_t *mt = json_object_get(j, "model_type");
    if (json_is_string(mt) && strcmp(json_string_value(mt), "bert") != 0) {
        e = lg_fail(err, LG_EMODEL, "%s: field 'model_type' is '%s'; only 'bert' is supported",
                    path, json_string_value(mt));
        goto out;
    }
    if ((e = get_int(j, path, "hidden_size", -1, 1, 16384, &m->hidden, err)) ||
        (e = get_int(j, path, "num_hidden_layers", -1, 1, 256, &m->layers, err)) ||
        (e = get_int(j, path, "num_attention_heads", -1, 1, 1024, &m->heads, err)) ||
        (e = get_int(j, path, "intermediate_size", -1, 1, 65536, &m->intermediate, err)) ||
        (e = get_int(j, path, "max_position_embeddings", -1, 1, 65536, &m->max_positions, err)) ||
        (e = get_int(j, path, "vocab_size", -1, 1, 1 << 24, &m->vocab_size, err)) ||
        (e = get_int(j, path, "type_vocab_size", 2, 1, 1024, &m->type_vocab, err)))
        goto out;
    if (m->hidden % m->heads) {
        e = lg_fail(err, LG_EMODEL,
                    "%s: field 'hidden_size' (%d) is not a multiple of "
                    "'num_attention_heads' (%d)",
                    path, m->hidden, m->heads);
        goto out;
    }
    json_t *act = json_object_get(j, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu") != 0)) {
        e = lg_fail(err, LG_EMODEL, "%s: field 'hidden_act' must be \"gelu\" (erf form)", path);
        goto out;
    }
    json_t *pet = json_object_get(j, "position_embedding_type");
    if (pet && (!json_is_string(pet) || strcmp(json_string_value(pet), "absolute") != 0)) {
        e = lg_fail(err, LG_EMODEL, "%s: field 'position_embedding_type' must be \"absolute\"",
                    path);
        goto out;
    }
    json_t *eps = json_object_get(j, "layer_norm_eps");
    m->ln_eps = 1e-12f;
    if (eps) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1) {
            e = lg_fail(err, LG_EMODEL, "%s: field 'layer_norm_eps' must be a number in (0, 1]",
                        path);
            goto out;
        }
        m->ln_eps = (float)json_number_value(eps);
    }
out:
    json_decref(j);
    return e;
}

/* tokenizer.json when there is no vocab.txt. tokenizer_config.json's
 * settings (cfg) replace a BertNormalizer's, as transformers does. */
static lg_err load_tokenizer_json(lg_sbert *m, const char *path, const lg_tokenizer_json_cfg *cfg,
                                  lg_errmsg *err) {
    lg_tokenizer_json tj;
    lg_err e = lg_tokenizer_json_load(path, cfg, &tj, err);
    if (e) return e;
    m->tok = tj.tok;
    m->cls_id = tj.cls_id;
    m->sep_id = tj.sep_id;
    m->pad_id = tj.pad_id;
    m->unk_id = tj.unk_id;
    m->tok_max_length = tj.max_length;
    m->do_lower_case = tj.lower;
    m->tokenizer = "tokenizer.json";
    return LG_OK;
}

/* The tokenizer: vocab.txt + tokenizer_config.json, or tokenizer.json
 * when there is no vocab.txt (docs/bert.md says why vocab.txt wins when
 * both are there). */
static lg_err load_tokenizer(lg_sbert *m, const char *dir, lg_errmsg *err) {
    char path[PATH_MAX];
    json_t *j = NULL;
    lg_err e;
    lg_wordpiece_opts o = {1, -1, 1};
    lg_tokenizer_json_cfg cfg = {-1, -1, -1};
    if ((e = path_join(path, sizeof path, dir, "tokenizer_config.json", NULL, err)) ||
        (e = load_json(path, 1, &j, err)))
        return e;
    if (j) {
        o.do_lower_case = get_bool(j, "do_lower_case", 1);
        json_t *sa = json_object_get(j, "strip_accents");
        if (json_is_boolean(sa)) o.strip_accents = json_is_true(sa);
        o.chinese_chars = get_bool(j, "tokenize_chinese_chars", 1);
        if (json_is_boolean(json_object_get(j, "do_lower_case"))) cfg.lower = o.do_lower_case;
        if (json_is_boolean(sa)) cfg.strip = o.strip_accents;
        if (json_is_null(sa)) cfg.strip = -2;
        if (json_is_boolean(json_object_get(j, "tokenize_chinese_chars")))
            cfg.chinese = o.chinese_chars;
        json_t *tc = json_object_get(j, "tokenizer_class");
        if (json_is_string(tc) && !strstr(json_string_value(tc), "Bert")) {
            e = lg_fail(err, LG_EMODEL,
                        "%s: field 'tokenizer_class' is '%s'; only BERT WordPiece "
                        "tokenizers are supported",
                        path, json_string_value(tc));
            json_decref(j);
            return e;
        }
        json_decref(j);
    }
    m->do_lower_case = o.do_lower_case;
    if ((e = path_join(path, sizeof path, dir, "vocab.txt", NULL, err))) return e;
    if (access(path, F_OK) != 0) {
        char jpath[PATH_MAX];
        if ((e = path_join(jpath, sizeof jpath, dir, "tokenizer.json", NULL, err))) return e;
        if (access(jpath, F_OK) != 0)
            return lg_fail(err, LG_ENOTFOUND,
                           "%s: missing, and no tokenizer.json either (the WordPiece vocabulary)",
                           path);
        if ((e = load_tokenizer_json(m, jpath, &cfg, err))) return e;
        memcpy(path, jpath, sizeof path);
    } else {
        m->tokenizer = "vocab.txt";
        if ((e = lg_wordpiece_load(path, &o, &m->tok, err))) return e;
        struct {
            const char *tok;
            int32_t *id;
        } sp[] = {{"[CLS]", &m->cls_id},
                  {"[SEP]", &m->sep_id},
                  {"[PAD]", &m->pad_id},
                  {"[UNK]", &m->unk_id}};
        for (size_t i = 0; i < 4; i++) {
            *sp[i].id = lg_wordpiece_id(m->tok, sp[i].tok);
            if (*sp[i].id < 0 && i != 2)
                return lg_fail(err, LG_EMODEL, "%s: special token %s missing", path, sp[i].tok);
        }
    }
    if (lg_wordpiece_vocab_size(m->tok) > (size_t)m->vocab_size)
        return lg_fail(err, LG_EMODEL, "%s: %zu token ids but config.json field 'vocab_size' is %d",
                       path, lg_wordpiece_vocab_size(m->tok), m->vocab_size);
    return LG_OK;
}

/* modules.json -> pooling directory and whether Normalize is present; then
 * the pooling config and sentence_bert_config.json. */
static lg_err load_modules(lg_sbert *m, const char *dir, lg_errmsg *err) {
    char path[PATH_MAX], ppath[PATH_MAX];
    lg_err e;
    if ((e = path_join(path, sizeof path, dir, "modules.json", NULL, err))) return e;
    if (access(path, F_OK) != 0)
        return lg_fail(err, LG_ENOTFOUND,
                       "%s: missing (not a sentence-transformers model directory?)", path);
    char *text = NULL;
    size_t len = 0;
    if ((e = lg_read_file(path, SB_JSON_MAX, &text, &len, err))) return e;
    json_error_t je;
    int oom;
    json_t *mods = lg_json_loadb(text, len, 0, &je, &oom);
    free(text);
    if (oom) return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", path);
    if (!mods) return lg_fail(err, LG_EMODEL, "%s: line %d: %s", path, je.line, je.text);
    json_t *pool = NULL, *pcfg = NULL, *sb = NULL;
    int have_transformer = 0;
    if (!json_is_array(mods)) {
        e = lg_fail(err, LG_EMODEL, "%s: must be a JSON array of modules", path);
        goto out;
    }
    size_t i;
    json_t *mod;
    json_array_foreach(mods, i, mod) {
        json_t *ty = json_object_get(mod, "type"), *pa = json_object_get(mod, "path");
        if (!json_is_string(ty)) {
            e = lg_fail(err, LG_EMODEL, "%s: module %zu: field 'type' missing", path, i);
            goto out;
        }
        const char *t = json_string_value(ty);
        const char *last = strrchr(t, '.');
        last = last ? last + 1 : t;
        if (!strcmp(last, "Transformer")) {
            have_transformer = 1;
        } else if (!strcmp(last, "Pooling")) {
            pool = pa;
            if (!json_is_string(pa) || strstr(json_string_value(pa), "..")) {
                e = lg_fail(err, LG_EMODEL, "%s: module %zu: field 'path' missing or invalid", path,
                            i);
                goto out;
            }
        } else if (!strcmp(last, "Normalize")) {
            m->normalize = 1;
        } else {
            e = lg_fail(err, LG_EMODEL,
                        "%s: module %zu: type '%s' is not supported (Transformer, "
                        "Pooling and Normalize are)",
                        path, i, t);
            goto out;
        }
    }
    if (!have_transformer || !pool) {
        e = lg_fail(err, LG_EMODEL, "%s: needs a Transformer and a Pooling module", path);
        goto out;
    }
    if ((e = path_join(ppath, sizeof ppath, dir, json_string_value(pool), "config.json", err)) ||
        (e = load_json(ppath, 0, &pcfg, err)))
        goto out;
    int mean = get_bool(pcfg, "pooling_mode_mean_tokens", 0),
        cls = get_bool(pcfg, "pooling_mode_cls_token", 0),
        mx = get_bool(pcfg, "pooling_mode_max_tokens", 0),
        msq = get_bool(pcfg, "pooling_mode_mean_sqrt_len_tokens", 0);
    if (mean + cls + mx + msq != 1 || mx || msq) {
        e = lg_fail(err, LG_EMODEL,
                    "%s: exactly one of 'pooling_mode_mean_tokens' and "
                    "'pooling_mode_cls_token' must be true (other modes are not supported)",
                    ppath);
        goto out;
    }
    m->pooling = cls ? LG_SBERT_POOL_CLS : LG_SBERT_POOL_MEAN;
    json_t *wd = json_object_get(pcfg, "word_embedding_dimension");
    if (wd && (!json_is_integer(wd) || json_integer_value(wd) != m->hidden)) {
        e = lg_fail(err, LG_EMODEL,
                    "%s: field 'word_embedding_dimension' differs from "
                    "config.json 'hidden_size' (%d)",
                    ppath, m->hidden);
        goto out;
    }
    if ((e = path_join(ppath, sizeof ppath, dir, "sentence_bert_config.json", NULL, err)) ||
        (e = load_json(ppath, 1, &sb, err)))
        goto out;
    /* sentence_bert_config.json's max_seq_length, as sentence-transformers
     * (it overrides tokenizer.json's truncation); else tokenizer.json's
     * truncation.max_length; else max_position_embeddings */
    m->max_seq_length = m->max_positions;
    if (m->tok_max_length > 0 && m->tok_max_length < m->max_positions)
        m->max_seq_length = m->tok_max_length;
    if (sb && (e = get_int(sb, ppath, "max_seq_length", m->max_seq_length, 2, m->max_positions,
                           &m->max_seq_length, err)))
        goto out;
out:
    json_decref(mods);
    json_decref(pcfg);
    json_decref(sb);
    return e;
}

/* Chooses the ISA path and the projection kernel. $LOGIFY_ISA = "avx512",
 * "avx2" or "generic" forces the path (of the packed GEMM and of the
 * element-wise kernels; an ISA this CPU lacks is an error) and the packed
 * kernel with it; else the widest path the CPU runs. $LOGIFY_SBERT_GEMM =
 * "openblas" or "packed" forces the projection kernel; else a rule on the
 * ISA (lg_sbert_gemm_prefer_packed: the same choice on every load). */
static lg_err choose_gemm(lg_sbert *m, lg_errmsg *err) {
    const char *env = getenv("LOGIFY_SBERT_GEMM"), *isa_env = getenv("LOGIFY_ISA");
    int want;
    /* OpenBLAS: loaded with the first model, not at start-up (logify/dynlib.h) */
    lg_err eb = lg_blas_load(err);
    if (eb) return eb;
    m->isa = lg_isa_best();
    if (isa_env && *isa_env) {
        lg_err e = lg_isa_parse(isa_env, &m->isa, err);
        if (e) return e;
    }
    m->kern = sb_kernels_for(m->isa);
    int int8; /* $LOGIFY_SBERT_QUANTIZE (--quantize): int8 projections (sbert_quant.c) */
    lg_err eq = sb_quant_from_env(&int8, err);
    if (eq || int8) return eq ? eq : sb_quant_model(m, err);
    if (env && !strcmp(env, "packed"))
        want = 1;
    else if (env && !strcmp(env, "openblas"))
        want = 0;
    else if (isa_env && *isa_env)
        want = 1;
    else
        want = lg_sbert_gemm_prefer_packed(m->isa);
    m->gemm = "openblas";
    if (!want) return LG_OK;
    int H = m->hidden, I = m->intermediate;
    for (int l = 0; l < m->layers; l++) {
        lg_bert_layer *L = &m->layer[l];
        lg_err e;
        if ((e = lg_gemm_pack(L->wqkv, 3 * H, H, m->isa, &L->pqkv, err)) ||
            (e = lg_gemm_pack(L->wo, H, H, m->isa, &L->po, err)) ||
            (e = lg_gemm_pack(L->wi, I, H, m->isa, &L->pi, err)) ||
            (e = lg_gemm_pack(L->wout, H, I, m->isa, &L->pout, err)))
            return e;
    }
    m->use_packed = 1;
    m->gemm = m->isa == LG_ISA_AVX512 ? "packed-avx512"
              : m->isa == LG_ISA_AVX2 ? "packed-avx2"
                                      : "packed-generic";
    return LG_OK;
}

/* ---- Public -------------------------------------------------------------- */

void lg_sbert_free(lg_sbert *m) {
    if (!m) return;
    sb_quant_free(m);
    for (int l = 0; m->layer && l < m->layers; l++) {
        lg_gemm_free(&m->layer[l].pqkv);
        lg_gemm_free(&m->layer[l].po);
        lg_gemm_free(&m->layer[l].pi);
        lg_gemm_free(&m->layer[l].pout);
    }
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->layer);
    lg_wordpiece_free(m->tok);
    lg_safetensors_close(&m->st);
    free(m);
}

lg_err lg_sbert_load(const char *dir, lg_sbert **out, lg_errmsg *err) {
    *out = NULL;
    lg_sbert *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, LG_ENOMEM, "sbert model: out of memory");
    char path[PATH_MAX];
    lg_err e;
    if ((e = load_config(m, dir, err)) || (e = load_tokenizer(m, dir, err)) ||
        (e = load_modules(m, dir, err)) ||
        (e = path_join(path, sizeof path, dir, "model.safetensors", NULL, err)) ||
        (e = lg_safetensors_open(path, &m->st, err)) || (e = load_weights(m, path, err)) ||
        (e = choose_gemm(m, err))) {
        lg_sbert_free(m);
        return e;
    }
    *out = m;
    return LG_OK;
}

int lg_sbert_dim(const lg_sbert *m) {
    return m->hidden;
}

void lg_sbert_info_get(const lg_sbert *m, lg_sbert_info *o) {
    o->hidden = m->hidden;
    o->layers = m->layers;
    o->heads = m->heads;
    o->intermediate = m->intermediate;
    o->max_positions = m->max_positions;
    o->max_seq_length = m->max_seq_length;
    o->vocab_size = m->vocab_size;
    o->do_lower_case = m->do_lower_case;
    o->normalize = m->normalize;
    o->pooling = m->pooling;
    o->dtype = m->dtype;
    o->gemm = m->gemm;
    o->isa = lg_isa_name(m->isa);
    o->tokenizer = m->tokenizer;
}

uint64_t lg_sbert_weights_hash(const lg_sbert *m, uint64_t h) {
    return lg_fnv1a64(m->st.map, m->st.map_len, h);
}

double lg_sbert_flops(const lg_sbert *m, size_t n) {
    double H = m->hidden, F = m->intermediate, L = m->layers, t = (double)n;
    return 2 * t * L * (4 * H * H + 2 * H * F) + 4 * L * t * t * H;
}
