/* templates_split.c - word counts for one-word events whose second word
 * came early (rule 7 of docs/templates.md).
 *
 * A word that differs from a settled template (WORD_EVIDENCE lines) starts
 * a sibling template (templates.c, rule 4); one that differs from a young
 * template turns into <*> at once, as in Drain. So `PacketResponder 1 for
 * block blk_1 terminating` followed, one line later, by `...
 * Interrupted.` made one event of two, and the same lines in another order
 * made two. Here a young template that turns a plain word into <*> counts
 * the words seen there afterwards (at most min(word_variants, CAND_MAX)
 * words of up to CAND_WORD bytes; any other value stops the count for
 * good). lg_tpl_split_words (templates.c) splits the template at the end
 * of a run whose rows wait for their final template. Lines carry the
 * word's slot (lg_tpl_result.variant), so no line is kept. */
#include <stdlib.h>
#include <string.h>

#include "templates/templates_int.h"

/* A count stopped for good (another value came): its memory is freed
 * and the template points here, so that no count starts again. */
static struct tpl_cand cand_dead; /* never written: only its address is used */

static int cand_stop(tpl *t) {
    if (t->cand != &cand_dead) free(t->cand);
    t->cand = &cand_dead;
    return -1;
}

void tpl_cand_free(struct tpl_cand *c) {
    if (c != &cand_dead) free(c);
}

int tpl_cand_live(const struct tpl_cand *c) { return c && c != &cand_dead; }

/* ---- Counting ---------------------------------------------------------- */

/* The slot of word w (n bytes, then g bytes of glue up to the next token
 * or the end), a new one if there is room; -1 when there is not. */
static int cand_slot(struct tpl_cand *c, const char *w, size_t n, size_t g) {
    for (uint32_t v = 0; v < c->nv; v++)
        if (c->v[v].vlen == n && tpl_eq(c->v[v].val, w, n)) return (int)v;
    if (c->nv == c->cap || n > CAND_WORD) return -1;
    if (g > CAND_GLUE) g = GLUE_OWN;
    cand_word *x = &c->v[c->nv];
    memcpy(x->val, w, n + (g == GLUE_OWN ? 0 : g));
    x->vlen = (uint8_t)n;
    x->glen = (uint8_t)g;
    x->cnt = 0;
    return (int)c->nv++;
}

int tpl_cand_start(lg_tpl_miner *m, uint32_t ti, uint32_t pos, const char *line, size_t len,
                   const lg_tpl_tokens *tk) {
    tpl *t = &m->t[ti];
    if (t->cand || pos >= t->n || tk->n != t->n) return -1;
    uint32_t cap = m->opts.word_variants < CAND_MAX ? (uint32_t)m->opts.word_variants : CAND_MAX;
    struct tpl_cand *c = calloc(1, sizeof *c + cap * sizeof(cand_word));
    if (!c) return -1; /* no count, no split: the template is as Drain leaves it */
    t->cand = c;
    c->pos = pos;
    c->cap = cap;
    /* the template's own word: every line it took so far had it */
    int s0 = cand_slot(c, t->text + t->off[pos], t->len[pos], 0);
    if (s0 < 0) return cand_stop(t);
    c->v[s0].cnt = t->lines;
    return tpl_cand_note(t, line, len, tk);
}

int tpl_cand_note(tpl *t, const char *line, size_t len, const lg_tpl_tokens *tk) {
    struct tpl_cand *c = t->cand;
    if (!tpl_cand_live(c) || c->split || tk->n != t->n) return -1;
    const lg_tpl_token *x = &tk->tok[c->pos];
    int s = -1;
    if (!x->var && tpl_plain_word(line + x->off, x->len)) {
        /* its glue: up to the next token, or to the line's end, blanks dropped */
        size_t we = (size_t)x->off + x->len, ge = c->pos + 1 < tk->n ? tk->tok[c->pos + 1].off : len;
        if (c->pos + 1 == tk->n)
            while (ge > we && (line[ge - 1] == ' ' || line[ge - 1] == '\t' || line[ge - 1] == '\r' ||
                               line[ge - 1] == '\n'))
                ge--;
        s = cand_slot(c, line + x->off, x->len, ge - we);
    }
    if (s < 0) return cand_stop(t);
    c->v[s].cnt++;
    return s;
}

