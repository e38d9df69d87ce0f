/* templates.h - the template miner: an online log parser of the Drain
 * family that turns lines into templates (`Received block <*> of size <*>`).
 *
 * One pass, one line at a time: a line is split into tokens (blanks and
 * field-separating punctuation, never inside a word), a preprocessor marks
 * the tokens that are variables (numbers, hex, IPs, paths, UUIDs,
 * durations, sizes, ... : docs/templates.md), and a fixed-depth prefix tree
 * (token count, then the first `depth` tokens) leads to a few candidate
 * templates; the most similar one above the threshold takes the line and
 * turns the positions that differ into `<*>`, otherwise the line starts a
 * new template. A template only ever gets more general, and keeps the id it
 * got when it was born: a 64-bit FNV-1a hash of its first text, so the same
 * input gives the same ids on every run and machine.
 *
 * Memory: per template its tokens (at most max_tokens) and one copy of the
 * line that started it; per line nothing is kept. Not thread-safe: one
 * miner per thread, or a lock around lg_tpl_add.
 */
#ifndef LOGIFY_TEMPLATES_H
#define LOGIFY_TEMPLATES_H

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Tokens (the preprocessor) ---------------------------------------- */

typedef struct {
    uint32_t off, len; /* token bytes in the line */
    uint8_t var;       /* 1: the preprocessor recognised a variable */
} lg_tpl_token;

/* A tokenised line. Reuse one across lines (lg_tpl_tokens_free at the
 * end); tokens point into the line, which must outlive them. */
typedef struct {
    lg_tpl_token *tok; /* (n) in line order */
    size_t n, cap;
} lg_tpl_tokens;

/* Splits line into tokens, at most max_tokens (0 = 256); what is left
 * beyond the cap becomes one last variable token. Bytes between tokens
 * (blanks, separators) are the template's constant glue. */
lg_err lg_tpl_tokenize(const char *line, size_t len, size_t max_tokens, lg_tpl_tokens *out);
void lg_tpl_tokens_free(lg_tpl_tokens *t);

/* ---- The miner -------------------------------------------------------- */

typedef struct {
    int depth;            /* leading tokens keyed in the tree (default 2, 0..8) */
    double sim;           /* similarity threshold in (0, 1] (default 0.5) */
    size_t max_children;  /* children per tree node before new tokens go to
                             the <*> child (default 100) */
    size_t max_tokens;    /* tokens per line (default 256) */
    size_t max_templates; /* beyond it lg_tpl_add fails LG_ELIMIT (default 1M) */
    int word_variants;    /* lines that differ from a template in one word
                             only start a sibling template until this many
                             siblings exist; then the word is a variable
                             (default 3; 1 = generalise at once, as Drain) */
} lg_tpl_opts;

typedef struct lg_tpl_miner lg_tpl_miner;

/* Result of lg_tpl_add / lg_tpl_match. */
typedef struct {
    uint32_t index; /* template index, 0 .. lg_tpl_count-1, in birth order */
    uint64_t id;    /* stable id of the template's group */
    int is_new;     /* the line started a new group (a new id) */
    int changed;    /* the line made the template more general */
    int variant;    /* the line's word at a position its template turned
                       into <*> before it settled (0, 1, ...; -1: none):
                       keep it with the line for lg_tpl_resolve */
} lg_tpl_result;

/* opts may be NULL for the defaults. Free with lg_tpl_miner_free. */
lg_err lg_tpl_miner_new(const lg_tpl_opts *opts, lg_tpl_miner **out, lg_errmsg *err);
void lg_tpl_miner_free(lg_tpl_miner *m);
/* The options in force (after defaults, or as loaded from a state file). */
void lg_tpl_get_opts(const lg_tpl_miner *m, lg_tpl_opts *out);

/* Learns from one line (any bytes; empty is fine) and says which template
 * took it. */
lg_err lg_tpl_add(lg_tpl_miner *m, const char *line, size_t len, lg_tpl_result *out,
                  lg_errmsg *err);
/* Finds the template a line belongs to without learning. LG_ENOTFOUND
 * when none is similar enough. */
lg_err lg_tpl_match(const lg_tpl_miner *m, const char *line, size_t len, lg_tpl_result *out);

/* Templates are numbered 0 .. lg_tpl_count-1 in birth order. Templates of
 * different lengths that differ only in a run of variables (a free-text
 * field, a list) form one group: the oldest one's id and text stand for
 * all (lg_tpl_group gives its index; a template alone is its own group). */
size_t lg_tpl_count(const lg_tpl_miner *m);
size_t lg_tpl_group(const lg_tpl_miner *m, size_t index);
uint64_t lg_tpl_id(const lg_tpl_miner *m, size_t index);    /* the group's id */
uint64_t lg_tpl_lines(const lg_tpl_miner *m, size_t index); /* lines this template took */
/* Appends the group's text (variables as <*>) to out. */
lg_err lg_tpl_text(const lg_tpl_miner *m, size_t index, lg_buf *out);
/* Appends a JSON array of the line's variables under template `index`
 * (the tokens at its <*> positions), e.g. ["blk_1","5120"]. */
lg_err lg_tpl_params_json(const lg_tpl_miner *m, size_t index, const char *line, size_t len,
                          lg_buf *out);
/* At the end of a run whose rows wait for their final template: a
 * template that turned a plain word into <*> before it settled (a second
 * event of one word's difference arriving early: `... terminating` /
 * `... Interrupted`) and saw 2 to word_variants (at most 8) plain words
 * there, each on 3 or more lines, is split into one template per word, as
 * the siblings rule would have made them had the first word come three
 * times first. The template keeps its index and id (its text shows its
 * own word again); the others are new templates, ids from their text.
 * Returns how many templates were split. Lines keep their (index,
 * variant) from lg_tpl_add: lg_tpl_resolve gives their template. */
size_t lg_tpl_split_words(lg_tpl_miner *m);
/* The template of a line taken as (index, variant) after
 * lg_tpl_split_words (index itself when it was not split). */
size_t lg_tpl_resolve(const lg_tpl_miner *m, size_t index, int variant);
/* 16 lowercase hex digits + NUL. */
void lg_tpl_format_id(uint64_t id, char out[17]);

/* ---- State ------------------------------------------------------------ */

/* Writes the miner (options, templates, ids, counts) to path atomically (a
 * temporary file beside it, renamed into place). Format: docs/templates.md. */
lg_err lg_tpl_save(const lg_tpl_miner *m, const char *path, lg_errmsg *err);
/* Creates a miner from a state file. A missing file is LG_ENOTFOUND; a file
 * that is not a Logify template state, or is damaged, is LG_EPARSE with a
 * message naming the file and line. */
lg_err lg_tpl_load(const char *path, lg_tpl_miner **out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
