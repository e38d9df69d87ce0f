/* templates_split.c - one-word events whose second word came early.
 *
 * A word that differs from a settled template (WORD_EVIDENCE lines) starts
 * a sibling template (templates.c, rule 4 of docs/templates.md); one that
 * differs from a young template turns into <*> at once, as in Drain. So
 * `PacketResponder 1 for block blk_1 terminating` followed, one line
 * later, by `... Interrupted.` made one event of two, and the same lines
 * in another order made two. Here a young template that turns a plain
 * word into <*> counts the words seen there afterwards (at most
 * min(word_variants, CAND_MAX) words of up to CAND_WORD bytes; any other
 * value stops the count for good). At the end of a run whose rows wait
 * for their final template (lg_tpl_split_words), a template that saw 2 to
 * word_variants words there, each on WORD_EVIDENCE or more lines, and is
 * alone in its group, is split: one template per word, the result the
 * siblings rule gives when the first word comes three times first. Lines
 * carry the word's slot (lg_tpl_result.variant), so no line is kept. */
#include <stdlib.h>
#include <string.h>

#include "templates/templates_int.h"

#define CAND_MAX 8   /* words counted at one position */
#define CAND_WORD 64 /* bytes of a counted word */
#define CAND_GLUE 16 /* bytes after it kept for its template's text (`Interrupted.`) */
#define GLUE_OWN 0xff /* glue too long: the template's own is used */

/* one word seen at the counted position */
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
    if (!c || c == &cand_dead || c->split || tk->n != t->n) return -1;
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

/* ---- The split ---------------------------------------------------------- */

/* Template ti's sibling with word v at the counted position: a new
 * template, its text ti's first line with that word in place. */
static lg_err born_sibling(lg_tpl_miner *m, uint32_t ti, uint32_t v, uint32_t *index) {
    const tpl *t = &m->t[ti];
    const struct tpl_cand *c = t->cand;
    uint32_t p = c->pos, n = t->n;
    /* t's bytes [off[p], ge) (the word and its glue) give way to the
     * word and the glue of its first line */
    uint32_t ge = p + 1 < n ? t->off[p + 1] : t->text_len;
    const cand_word *w = &c->v[v];
    uint32_t wl = w->vlen, gl = w->glen == GLUE_OWN ? ge - t->end[p] : w->glen;
    const char *glue = w->glen == GLUE_OWN ? t->text + t->end[p] : w->val + wl;
    size_t tl = (size_t)t->text_len - (ge - t->off[p]) + wl + gl;
    char *text = malloc(tl + 1);
    uint32_t *arr = malloc((size_t)n * 2 * sizeof *arr + n + 1);
    uint8_t *wild = arr ? (uint8_t *)(arr + 2 * n) : NULL;
    if (!text || !arr) {
        free(text);
        free(arr);
        return LG_ENOMEM;
    }
    memcpy(text, t->text, t->off[p]);
    memcpy(text + t->off[p], w->val, wl);
    memcpy(text + t->off[p] + wl, glue, gl);
    memcpy(text + t->off[p] + wl + gl, t->text + ge, t->text_len - ge);
    uint32_t at = t->off[p] + wl + gl; /* where token p + 1 starts now */
    for (uint32_t i = 0; i < n; i++) {
        arr[i] = i <= p ? t->off[i] : t->off[i] - ge + at;
        arr[n + i] = i == p ? wl : t->end[i] - t->off[i];
        wild[i] = t->len[i] != TPL_WILD ? 0 : t->shape[i] ? 2 : 1;
    }
    wild[p] = 0;
    uint32_t kpos[8], nkey = t->nkey, wp = t->wild_path;
    memcpy(kpos, t->kpos, sizeof kpos);
    lg_err e = tpl_insert(m, text, tl, arr, arr + n, wild, n, kpos, nkey, wp, 0, w->cnt, index);
    free(text);
    free(arr);
    return e;
}

size_t lg_tpl_split_words(lg_tpl_miner *m) {
    size_t nt = m->n_t, done = 0;
    /* a template that is in a group with others keeps it (the group's
     * text and id stand for all) */
    uint8_t *grouped = calloc(nt ? nt : 1, 1);
    if (!grouped) return 0;
    for (size_t i = 0; i < nt; i++)
        if (m->t[i].root != i) grouped[i] = grouped[tpl_root(m, (uint32_t)i)] = 1;
    for (uint32_t i = 0; i < nt; i++) {
        struct tpl_cand *c = m->t[i].cand;
        if (!c || c == &cand_dead || c->split || c->nv < 2 || grouped[i] || m->t[i].len[c->pos] != TPL_WILD)
            continue;
        int enough = 1;
        for (uint32_t v = 0; v < c->nv; v++) enough &= c->v[v].cnt >= WORD_EVIDENCE;
        if (!enough) continue;
        c->v[0].to = i;
        uint32_t v = 1;
        for (; v < c->nv; v++)
            if (born_sibling(m, i, v, &c->v[v].to)) break;
        if (v < c->nv) { /* out of memory or templates: the rest stay where they are */
            for (uint32_t k = 1; k < v; k++) m->t[i].lines -= c->v[k].cnt;
            for (uint32_t k = v; k < c->nv; k++) c->v[k].to = i;
            c->split = 1;
            continue;
        }
        tpl *t = &m->t[i]; /* tpl_insert may have moved the table */
        t->len[c->pos] = t->end[c->pos] - t->off[c->pos];
        t->n_const++;
        t->lines = c->v[0].cnt;
        c->split = 1;
        done++;
    }
    free(grouped);
    return done;
}

size_t lg_tpl_resolve(const lg_tpl_miner *m, size_t index, int variant) {
    if (index >= m->n_t || variant < 0) return index;
    const struct tpl_cand *c = m->t[index].cand;
    if (!c || c == &cand_dead || !c->split || (uint32_t)variant >= c->nv) return index;
    return c->v[variant].to;
}
