/* tokenizer.c - BERT's tokenizer: the BasicTokenizer (clean control
 * characters, isolate CJK ideographs, NFD + strip accents and lower-case
 * when uncased, split on whitespace and punctuation) followed by greedy
 * longest-match WordPiece with [UNK] for words over 100 characters.
 *
 * It follows Hugging Face's fast tokenizer (BertNormalizer +
 * BertPreTokenizer + WordPiece) character for character; utf8proc gives
 * the Unicode categories, NFD and case mapping. The text is processed as a
 * stream: one word of at most max_chars characters is held at a time, so
 * memory does not grow with the input.
 *
 * Two constructors: vocab.txt (lg_wordpiece_load / _from_text, the fixed
 * BERT settings: "##", 100 characters, [UNK] and the five [..] special
 * tokens) and a token list with every setting explicit (lg_wordpiece_new +
 * lg_wordpiece_add_token), which tokenizer_json.c fills from tokenizer.json.
 */
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"
#include "logify/dynlib_utf8proc.h"

#define WP_MAX_WORD_CHARS 100 /* longer words become [UNK] (HF default) */
#define WP_VOCAB_MAX_BYTES (64u << 20)
#define WP_ADDED_MAX 65536     /* added tokens */
#define WP_ADDED_MAX_BYTES 256 /* bytes of one added token */

typedef struct {
    char *s; /* content, matched literally in the raw text */
    size_t len;
    int32_t id;
} wp_added;

struct lg_wordpiece {
    char *text;          /* vocab tokens, NUL-separated */
    const char **tokens; /* (n) token strings, id = index */
    size_t n;
    int32_t *slots; /* open-addressing table of ids, -1 = empty */
    size_t n_slots; /* power of two */
    int32_t unk_id;
    int lower, strip, chinese, clean;
    char prefix[LG_WP_PREFIX_MAX + 1]; /* continuing-subword prefix ("##") */
    size_t prefix_len;
    size_t max_chars; /* longer words become unk_id */
    wp_added *added;  /* (n_added) kept whole where they occur in the text */
    size_t n_added, cap_added;
    uint8_t first[256]; /* 1: some added token starts with this byte */
    size_t n_ids;       /* largest id + 1 (vocabulary and added tokens) */
};

/* ---- Vocabulary ---------------------------------------------------------- */

/* Special tokens written literally in a text are matched first, as Hugging
 * Face's tokenizer does with its added tokens ("a [SEP] b" -> a, [SEP], b). */
static const char *const special_tokens[5] = {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"};

static uint64_t hash_bytes(const char *s, size_t n) {
    return lg_fnv1a64(s, n, 0);
}

static int32_t vocab_lookup(const lg_wordpiece *t, const char *s, size_t n) {
    size_t mask = t->n_slots - 1;
    for (size_t i = (size_t)hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = t->slots[i];
        if (id < 0) return -1;
        const char *tok = t->tokens[id];
        if (strncmp(tok, s, n) == 0 && tok[n] == '\0') return id;
    }
}

int32_t lg_wordpiece_id(const lg_wordpiece *t, const char *tok) {
    return vocab_lookup(t, tok, strlen(tok));
}

const char *lg_wordpiece_token(const lg_wordpiece *t, int32_t id) {
    return id >= 0 && (size_t)id < t->n ? t->tokens[id] : NULL;
}

size_t lg_wordpiece_vocab_size(const lg_wordpiece *t) {
    return t->n_ids;
}

void lg_wordpiece_free(lg_wordpiece *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].s);
    free(t->added);
    free(t->text);
    free(t->tokens);
    free(t->slots);
    free(t);
}

/* Builds the lookup table over t->tokens[0..n) and applies the settings.
 * Duplicate tokens: the first id wins (vocab.txt), or refused. The caller
 * frees t on error. */
static lg_err finish(lg_wordpiece *t, const lg_wordpiece_spec *sp, int refuse_dups,
                     const char *name, lg_errmsg *err) {
    lg_err le = lg_utf8proc_load(err); /* the encoder's Unicode tables, loaded with a vocabulary */
    if (le) return le;
    if (t->n == 0) return lg_fail(err, LG_EMODEL, "%s: empty vocabulary", name);
    if (t->n > INT32_MAX / 4) return lg_fail(err, LG_ELIMIT, "%s: too many tokens", name);
    size_t pl = strlen(sp->prefix);
    if (pl > LG_WP_PREFIX_MAX)
        return lg_fail(err, LG_EMODEL, "%s: continuing-subword prefix over %d bytes", name,
                       LG_WP_PREFIX_MAX);
    if (sp->max_chars < 1 || sp->max_chars > LG_WP_MAX_WORD_LIMIT)
        return lg_fail(err, LG_EMODEL, "%s: max_input_chars_per_word must be in [1, %d]", name,
                       LG_WP_MAX_WORD_LIMIT);
    t->n_slots = 16;
    while (t->n_slots < t->n * 2)
        t->n_slots <<= 1;
    t->slots = malloc(t->n_slots * sizeof *t->slots);
    if (!t->slots) return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
    memset(t->slots, 0xff, t->n_slots * sizeof *t->slots);
    for (size_t id = 0; id < t->n; id++) {
        const char *tok = t->tokens[id];
        size_t n = strlen(tok);
        int32_t prev = vocab_lookup(t, tok, n);
        if (prev >= 0) { /* duplicate */
            if (refuse_dups)
                return lg_fail(err, LG_EMODEL, "%s: token '%s' has two ids (%d and %zu)", name, tok,
                               prev, id);
            continue; /* first id wins */
        }
        size_t mask = t->n_slots - 1, i = (size_t)hash_bytes(tok, n) & mask;
        while (t->slots[i] >= 0)
            i = (i + 1) & mask;
        t->slots[i] = (int32_t)id;
    }
    t->n_ids = t->n;
    t->unk_id = vocab_lookup(t, sp->unk_token, strlen(sp->unk_token));
    if (t->unk_id < 0) return lg_fail(err, LG_EMODEL, "%s: no %s token", name, sp->unk_token);
    t->lower = sp->lower;
    t->strip = sp->strip < 0 ? t->lower : sp->strip;
    t->chinese = sp->chinese;
    t->clean = sp->clean;
    memcpy(t->prefix, sp->prefix, pl + 1);
    t->prefix_len = pl;
    t->max_chars = sp->max_chars;
    return LG_OK;
}

lg_err lg_wordpiece_new(const char *const *tokens, size_t n, const lg_wordpiece_spec *sp,
                        const char *name, lg_wordpiece **out, lg_errmsg *err) {
    *out = NULL;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += strlen(tokens[i]) + 1;
        if (bytes > WP_VOCAB_MAX_BYTES)
            return lg_fail(err, LG_ELIMIT, "%s: vocabulary over 64 MB", name);
    }
    lg_wordpiece *t = calloc(1, sizeof *t);
    if (!t) return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
    t->text = malloc(bytes ? bytes : 1);
    t->tokens = malloc((n ? n : 1) * sizeof *t->tokens);
    if (!t->text || !t->tokens) {
        lg_wordpiece_free(t);
        return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
    }
    char *p = t->text;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tokens[i]);
        memcpy(p, tokens[i], l + 1);
        t->tokens[i] = p;
        p += l + 1;
    }
    t->n = n;
    lg_err e = finish(t, sp, 1, name, err);
    if (e) {
        lg_wordpiece_free(t);
        return e;
    }
    *out = t;
    return LG_OK;
}

lg_err lg_wordpiece_add_token(lg_wordpiece *t, const char *content, int32_t id, const char *name,
                              lg_errmsg *err) {
    size_t len = strlen(content);
    if (len == 0 || len > WP_ADDED_MAX_BYTES)
        return lg_fail(err, LG_EMODEL, "%s: added token of %zu bytes (1 to %d)", name, len,
                       WP_ADDED_MAX_BYTES);
    if (id < 0 || id >= INT32_MAX / 4)
        return lg_fail(err, LG_EMODEL, "%s: added token '%s': id %d out of range", name, content,
                       id);
    if (t->n_added >= WP_ADDED_MAX)
        return lg_fail(err, LG_ELIMIT, "%s: over %d added tokens", name, WP_ADDED_MAX);
    if (t->n_added == t->cap_added) {
        size_t nc = t->cap_added ? t->cap_added * 2 : 8;
        wp_added *na = realloc(t->added, nc * sizeof *na);
        if (!na) return lg_fail(err, LG_ENOMEM, "tokenizer added tokens: out of memory");
        t->added = na;
        t->cap_added = nc;
    }
    char *s = malloc(len + 1);
    if (!s) return lg_fail(err, LG_ENOMEM, "tokenizer added tokens: out of memory");
    memcpy(s, content, len + 1);
    t->added[t->n_added++] = (wp_added){s, len, id};
    t->first[(uint8_t)content[0]] = 1;
    if ((size_t)id + 1 > t->n_ids) t->n_ids = (size_t)id + 1;
    return LG_OK;
}

lg_err lg_wordpiece_from_text(const char *text, size_t len, const char *name,
                              const lg_wordpiece_opts *o, lg_wordpiece **out, lg_errmsg *err) {
    *out = NULL;
    if (len > WP_VOCAB_MAX_BYTES) return lg_fail(err, LG_ELIMIT, "%s: vocabulary over 64 MB", name);
    lg_wordpiece *t = calloc(1, sizeof *t);
    if (!t) return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
    t->text = malloc(len + 1);
    if (!t->text) goto nomem;
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    t->tokens = malloc((lines + 1) * sizeof *t->tokens);
    if (!t->tokens) goto nomem;
    char *p = t->text, *end = t->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        *e = '\0';
        if (e > p && e[-1] == '\r') e[-1] = '\0';
        t->tokens[t->n++] = p;
        p = e + 1;
    }
    lg_wordpiece_spec sp = {1, -1, 1, 1, "[UNK]", "##", WP_MAX_WORD_CHARS};
    if (o) {
        sp.lower = o->do_lower_case;
        sp.strip = o->strip_accents;
        sp.chinese = o->chinese_chars;
    }
    lg_err e = finish(t, &sp, 0, name, err);
    for (size_t k = 0; !e && k < 5; k++) {
        int32_t id = vocab_lookup(t, special_tokens[k], strlen(special_tokens[k]));
        if (id >= 0) e = lg_wordpiece_add_token(t, special_tokens[k], id, name, err);
    }
    if (e) {
        lg_wordpiece_free(t);
        return e;
    }
    *out = t;
    return LG_OK;
nomem:
    lg_wordpiece_free(t);
    return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
}

lg_err lg_wordpiece_load(const char *vocab_path, const lg_wordpiece_opts *o, lg_wordpiece **out,
                         lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(vocab_path, WP_VOCAB_MAX_BYTES, &text, &len, err);
    if (e) return e;
    e = lg_wordpiece_from_text(text, len, vocab_path, o, out, err);
    free(text);
    return e;
}

/* ---- Character classes (as in HF tokenizers' bert normalizer) ------------ */

static int is_ws(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') return 1;
    if (c == 0x2028 || c == 0x2029) return 1;
    return lg_utf8proc()->category(c) == UTF8PROC_CATEGORY_ZS;
}

/* Characters the cleaner drops, as Hugging Face's (fast) BERT normalizer
 * does: control, format, private-use and surrogate code points, but not
 * unassigned ones (Cn): those stay in their word (which then becomes
 * [UNK]), or stand alone inside a CJK range, like any ideograph. */
static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    switch (lg_utf8proc()->category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS: return 1;
    default: return 0;
    }
}

static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    switch (lg_utf8proc()->category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return 1;
    default: return 0;
    }
}

static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- Streaming pre-tokenizer + WordPiece --------------------------------- */

/* Split points of the pre-tokenizer: Rust's char::is_whitespace, which
 * adds VT, FF and U+0085 to is_ws (with clean_text they are controls and
 * already gone). */
static int is_split_ws(int32_t c) {
    return is_ws(c) || c == 0x0B || c == 0x0C || c == 0x85;
}

typedef struct {
    const lg_wordpiece *t;
    char *word; /* (max_chars * 4 + 8) UTF-8 of the current word */
    size_t word_len;
    size_t *char_off; /* (max_chars + 1) byte offset of each char */
    size_t n_chars;   /* may exceed the max: then unk */
    int32_t *ids;
    size_t cap, n;
    char *piece;     /* (prefix_len + max_chars * 4 + 8) */
    int32_t *pieces; /* (max_chars) */
} wp_state;

static void emit_id(wp_state *s, int32_t id) {
    if (s->n < s->cap) s->ids[s->n++] = id;
}

/* Greedy longest-match-first WordPiece over the current word. */
static void flush_word(wp_state *s) {
    if (s->n_chars == 0) return;
    const lg_wordpiece *t = s->t;
    if (s->n_chars > t->max_chars) {
        emit_id(s, t->unk_id);
        goto done;
    }
    s->char_off[s->n_chars] = s->word_len;
    int32_t *pieces = s->pieces;
    size_t np = 0, start = 0;
    while (start < s->n_chars) {
        int32_t found = -1;
        size_t end;
        for (end = s->n_chars; end > start; end--) {
            size_t b0 = s->char_off[start], b1 = s->char_off[end], pl = 0;
            if (start > 0) {
                memcpy(s->piece, t->prefix, t->prefix_len);
                pl = t->prefix_len;
            }
            memcpy(s->piece + pl, s->word + b0, b1 - b0);
            pl += b1 - b0;
            found = vocab_lookup(t, s->piece, pl);
            if (found >= 0) break;
        }
        if (found < 0) {
            np = 0;
            pieces[np++] = t->unk_id;
            break;
        }
        pieces[np++] = found;
        start = end;
    }
    for (size_t i = 0; i < np; i++)
        emit_id(s, pieces[i]);
done:
    s->word_len = 0;
    s->n_chars = 0;
}

static void add_char(wp_state *s, int32_t c) {
    if (s->n_chars < s->t->max_chars) {
        s->char_off[s->n_chars] = s->word_len;
        s->word_len += (size_t)lg_utf8proc()->encode_char(c, (utf8proc_uint8_t *)s->word + s->word_len);
    }
    s->n_chars++;
}

/* Feeds one normalised character to the pre-tokenizer. `alone` forces the
 * character into a word of its own (CJK ideographs). */
static void feed(wp_state *s, int32_t c, int alone) {
    if (is_split_ws(c)) {
        flush_word(s);
    } else if (alone || is_punct(c)) {
        flush_word(s);
        add_char(s, c);
        flush_word(s);
    } else {
        add_char(s, c);
    }
}

static int32_t lower_char(int32_t c) {
    return lg_utf8proc()->tolower(c);
}

/* The longest added token starting at p (n bytes left), or NULL. */
static const wp_added *match_added(const lg_wordpiece *t, const uint8_t *p, size_t n) {
    const wp_added *best = NULL;
    for (size_t k = 0; k < t->n_added; k++) {
        const wp_added *a = &t->added[k];
        if (a->len <= n && (!best || a->len > best->len) && !memcmp(p, a->s, a->len)) best = a;
    }
    return best;
}

lg_err lg_wordpiece_encode(const lg_wordpiece *t, const char *text, size_t len, int32_t *ids,
                           size_t cap, size_t *n_ids, lg_errmsg *err) {
    size_t mc = t->max_chars, wcap = mc * 4 + 8;
    wp_state *s = malloc(sizeof *s + wcap + (t->prefix_len + wcap) + (mc + 1) * sizeof(size_t) +
                         mc * sizeof(int32_t) + 16);
    if (!s) return lg_fail(err, LG_ENOMEM, "tokenizer: out of memory");
    s->t = t;
    s->char_off = (size_t *)(void *)(s + 1);
    s->pieces = (int32_t *)(void *)(s->char_off + mc + 1);
    s->word = (char *)(s->pieces + mc);
    s->piece = s->word + wcap;
    s->word_len = s->n_chars = 0;
    s->ids = ids;
    s->cap = cap;
    s->n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len && s->n < s->cap) {
        if (t->first[p[i]]) { /* added / special tokens are kept whole */
            const wp_added *a = match_added(t, p + i, len - i);
            if (a) {
                flush_word(s);
                emit_id(s, a->id);
                i += a->len;
                continue;
            }
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t k = lg_utf8proc()->iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) { /* invalid UTF-8: the byte becomes U+FFFD (cleaned away) */
            i++;
            c = 0xFFFD;
        } else {
            i += (size_t)k;
        }
        /* BertNormalizer: clean text */
        if (t->clean) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_ws(c)) {
                feed(s, ' ', 0);
                continue;
            }
        }
        int alone = t->chinese && is_cjk(c);
        if (!t->strip) {
            if (t->lower && c == 0x130) { /* full lower-case mapping of U+0130 */
                feed(s, 'i', alone);
                feed(s, 0x307, alone);
            } else {
                feed(s, t->lower ? lower_char(c) : c, alone);
            }
            continue;
        }
        /* strip accents: NFD, drop nonspacing marks (Mn), then lower-case */
        utf8proc_int32_t d[32];
        int last = 0;
        utf8proc_ssize_t nd = lg_utf8proc()->decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &last);
        if (nd < 0 || nd > 32) {
            d[0] = c;
            nd = 1;
        }
        for (utf8proc_ssize_t j = 0; j < nd; j++) {
            if (lg_utf8proc()->category(d[j]) == UTF8PROC_CATEGORY_MN) continue;
            feed(s, t->lower ? lower_char(d[j]) : d[j], alone);
        }
    }
    if (s->n < s->cap) flush_word(s);
    *n_ids = s->n;
    free(s);
    return LG_OK;
}
