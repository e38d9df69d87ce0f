/* templates_int.h - the template miner's insides, shared by templates.c
 * (the tree and the matching), templates_tree.c (the tables),
 * templates_merge.c (variable-length runs) and templates_state.c (save
 * and load). Not public. */
#ifndef LOGIFY_TEMPLATES_INT_H
#define LOGIFY_TEMPLATES_INT_H

#include "logify/templates.h"

#include <string.h>

#define TPL_WILD UINT32_MAX /* a token length meaning <*> */
#define WORD_EVIDENCE 3     /* lines before a one-word difference may mean another event */

#define CAND_MAX 8   /* words counted at one position */
#define CAND_WORD 64 /* bytes of a counted word */
#define CAND_GLUE 16 /* bytes after it kept for its template's text (`Interrupted.`) */
#define GLUE_OWN 0xff /* glue too long: the template's own is used */

/* templates_split.c: one word seen where a young template got a <*> */
typedef struct {
    uint64_t cnt;  /* lines with it */
    uint32_t to;   /* after the split: its template */
    uint8_t vlen;  /* bytes of the word in val */
    uint8_t glen;  /* bytes of glue after it in val, or GLUE_OWN */
    char val[CAND_WORD + CAND_GLUE]; /* the word, then the glue of its first line */
} cand_word;

struct tpl_cand {
    uint32_t pos;   /* the token position turned <*> */
    uint32_t nv, cap; /* words seen (nv <= cap) */
    int split;      /* lg_tpl_split_words split it: v[].to is set */
    cand_word v[];  /* (cap) */
};


/* Equality of n bytes, inline: tokens and tree keys are a few bytes, and
 * a call to memcmp for each cost a tenth of the miner's time. */
static inline int tpl_eq(const char *a, const char *b, size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (; n; a++, b++, n--)
        if (*a != *b) return 0;
    return 1;
}

/* One template. Its tokens point into `text`, a copy of the line that
 * started it; the bytes between tokens are its glue. Generalising sets a
 * token's length to TPL_WILD, nothing else changes. */
typedef struct {
    uint64_t id;       /* stable: FNV-1a of the first template text */
    uint64_t lines;    /* lines taken */
    uint32_t n;        /* tokens */
    uint32_t n_const;  /* tokens that are not <*> */
    uint32_t wild_path; /* bit j: the tree key at prefix level j is <*> */
    uint32_t nkey;     /* tree levels below the length (<= depth) */
    uint32_t kpos[8];  /* (nkey) the token keyed at each level: the first
                          tokens the preprocessor did not call variables */
    uint32_t root;     /* the template whose id and text this one's lines
                          take (itself, or an older one it was merged into
                          because they differ only in a variable-length
                          run of <*>) */
    uint32_t span_lo, span_hi; /* tokens [lo, hi) are one variable-length
                                  <*> when rendered (hi == 0: none) */
    uint32_t text_len;
    char *text;        /* (text_len) bytes of the first line */
    uint32_t *off;     /* (n) token offsets in text */
    uint32_t *len;     /* (n) token lengths, TPL_WILD for <*> */
    uint32_t *end;     /* (n) end of the token in text (glue starts there) */
    uint8_t *shape;    /* (n) 1: a <*> shown with the words around its
                          numbers (blk_<*>, <*>ms), every line so far
                          having had that shape there */
    uint32_t n_shape;  /* positions with shape set */
    uint32_t wild_bucket; /* filed in the <*> first-token bucket (templates_merge.c) */
    struct tpl_cand *cand; /* NULL, or the words seen at a position turned
                              <*> before the template settled (not saved
                              in a state file) */
} tpl;

/* A node of the prefix tree, in one open-addressing table keyed by
 * (level, token count, leading keys). Inner nodes count their children;
 * leaves list their templates. */
typedef struct {
    uint64_t h;       /* 0 = empty slot */
    char *key;
    uint32_t klen;
    uint32_t children;
    uint32_t *memb;   /* (nm) template indices */
    uint32_t nm, cm;
} tpl_node;

struct lg_tpl_miner {
    lg_tpl_opts opts;
    tpl *t;           /* (n_t) templates in birth order */
    size_t n_t, cap_t;
    tpl_node *nodes;  /* (cap_nodes) hash table, power of two */
    size_t n_nodes, cap_nodes;
    uint64_t *ids;    /* (cap_ids) open-addressing set of ids -> index + 1 */
    uint32_t *id_idx;
    size_t cap_ids;
    lg_tpl_tokens scratch;
    lg_buf key;       /* scratch for tree keys */
    lg_buf render;    /* scratch for template text */
};

/* Adds a template born from tokens (off, len) of text (copied); wild[i]
 * marks the positions that are <*> (2: shown with its shape), kpos/nkey the tokens keyed in the tree,
 * wild_path the <*> tree levels; id 0 = derive it
 * from the text. Files it under its tree leaf. */
lg_err tpl_insert(lg_tpl_miner *m, const char *text, size_t text_len, const uint32_t *off,
                  const uint32_t *len, const uint8_t *wild, size_t n, const uint32_t *kpos,
                  uint32_t nkey, uint32_t wild_path, uint64_t id, uint64_t lines,
                  uint32_t *index_out);
/* templates_tokenize.c: a value token whose numbers sit among words
 * (blk_-42, 10ms, node-31, core.1234, 123_456; not 10.0.0.1, 0x1f, a
 * UUID, a path) is shown with its numbers as <*>: tpl_shape_ok says
 * whether s has such a shape, tpl_shape_eq whether a and b have the same
 * one, tpl_shape_render appends it. */
int tpl_shape_ok(const char *s, size_t n);
int tpl_shape_eq(const char *a, size_t na, const char *b, size_t nb);
lg_err tpl_shape_render(const char *s, size_t n, lg_buf *out);
/* Renders template t (no root lookup) into out. */
lg_err tpl_render(const tpl *t, lg_buf *out);
/* The group template of index i (follows root links). */
uint32_t tpl_root(const lg_tpl_miner *m, uint32_t i);

/* templates_merge.c: templates of different lengths that differ only in a run of
 * <*> become one group. Files template i under its first-token bucket and
 * its token-count bucket. */
lg_err tpl_bucket_add(lg_tpl_miner *m, uint32_t i);
/* After template i was born or generalised: merges its group with a
 * compatible one of another length, if any. */
void tpl_merge_check(lg_tpl_miner *m, uint32_t i);
/* A group with a variable-length run that a new tokenised line fits
 * (prefix and suffix equal, anything in the run): its root, or -1. */
long tpl_span_match(lg_tpl_miner *m, const char *line, const lg_tpl_tokens *tk);
/* The templates with n tokens (a node whose memb lists them), or NULL. */
tpl_node *tpl_len_bucket(lg_tpl_miner *m, uint32_t n, int create);
/* The tree's node table, also used for the buckets (level byte 0xff). */
tpl_node *tpl_node_get(lg_tpl_miner *m, const char *key, size_t klen, int create, int *created);

/* Appends a template index to a node's list. */
lg_err tpl_node_push(tpl_node *nd, uint32_t index);

/* templates_tree.c: a plain word (letters, '-', '_'; not all capitals,
 * not a value word such as yes/null/enabled). */
int tpl_plain_word(const char *s, size_t n);
/* templates_tree.c: turns token pos of t into <*> (a keyed token also
 * marks its tree level <*> in wild_path). */
void tpl_make_wild(tpl *t, uint32_t pos);
/* templates_split.c: template ti, younger than WORD_EVIDENCE lines, is
 * about to turn its plain word at pos into <*> for a line whose token
 * there is another plain word: starts counting the words there. Returns
 * the line's variant (1) or -1. */
int tpl_cand_start(lg_tpl_miner *m, uint32_t ti, uint32_t pos, const char *line, size_t len,
                   const lg_tpl_tokens *tk);
/* A line taken by template t: its variant, -1 when t counts no words
 * (a value that is not a plain word, or one word too many, stops the
 * counting for good). */
int tpl_cand_note(tpl *t, const char *line, size_t len, const lg_tpl_tokens *tk);
/* Frees a template's count (free(NULL) and a stopped one are fine). */
void tpl_cand_free(struct tpl_cand *c);
/* A count that is going (not NULL, not stopped). */
int tpl_cand_live(const struct tpl_cand *c);

/* Fills defaults and checks ranges. */
lg_err tpl_opts_check(const lg_tpl_opts *in, lg_tpl_opts *out, lg_errmsg *err);

#endif
