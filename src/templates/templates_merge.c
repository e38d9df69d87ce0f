/* templates_merge.c - variable-length variables: a free-text field or a list makes
 * lines of one event differ in token count, which a length-keyed tree puts
 * in different templates. Two templates of different lengths whose tokens
 * agree from the front and from the back, and whose differing middles are
 * <*> only (non-empty in both), are one event: the younger joins the
 * older's group, whose text shows the run as a single <*>. A new line
 * that fits a group with such a run (same prefix and suffix, anything in
 * between) joins it at once.
 *
 * Candidates come from a bucket per first token (its text, or <*>), kept
 * in the tree's node table under level byte 0xff. */
#include <stdlib.h>
#include <string.h>

#include "templates/templates_int.h"

#define BUCKET_LEVEL 0xff
#define LEN_BUCKET_LEVEL 0xfe /* templates by token count (keyed-token siblings) */
#define SCAN_MAX 4096 /* candidates looked at per check (the newest) */
#define NAME_WORDS 4  /* words of a program name in place of one <*> */

/* ---- Buckets ---------------------------------------------------------- */

static lg_err bucket_key(lg_buf *k, const char *tok, uint32_t len) {
    lg_buf_reset(k);
    char lv = (char)BUCKET_LEVEL;
    lg_err e = lg_buf_append(k, &lv, 1);
    if (!e) e = lg_buf_append(k, &len, sizeof len);
    if (!e && len != TPL_WILD) e = lg_buf_append(k, tok, len);
    return e;
}

static tpl_node *bucket(lg_tpl_miner *m, const char *tok, uint32_t len, int create) {
    if (bucket_key(&m->key, tok, len)) return NULL;
    return tpl_node_get(m, m->key.data, m->key.len, create, NULL);
}

tpl_node *tpl_len_bucket(lg_tpl_miner *m, uint32_t n, int create) {
    lg_buf_reset(&m->key);
    char lv = (char)LEN_BUCKET_LEVEL;
    if (lg_buf_append(&m->key, &lv, 1) || lg_buf_append(&m->key, &n, sizeof n)) return NULL;
    return tpl_node_get(m, m->key.data, m->key.len, create, NULL);
}

lg_err tpl_bucket_add(lg_tpl_miner *m, uint32_t i) {
    const tpl *t = &m->t[i];
    uint32_t len = t->n ? t->len[0] : 0;
    tpl_node *b = bucket(m, t->n ? t->text + t->off[0] : "", len, 1);
    if (!b || tpl_node_push(b, i)) return LG_ENOMEM;
    m->t[i].wild_bucket = len == TPL_WILD;
    b = tpl_len_bucket(m, t->n, 1);
    return b ? tpl_node_push(b, i) : LG_ENOMEM;
}

/* ---- Comparing templates ---------------------------------------------- */

static int same_tok(const tpl *a, uint32_t i, const tpl *b, uint32_t j) {
    uint32_t la = a->len[i], lb = b->len[j];
    if (la == TPL_WILD || lb == TPL_WILD) return la == lb;
    return la == lb && !memcmp(a->text + a->off[i], b->text + b->off[j], la);
}

static int all_wild(const tpl *t, uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++)
        if (t->len[i] != TPL_WILD) return 0;
    return 1;
}

/* A name of several words where others have one (`Google Chrome
 * Helper[12]: ...` beside `<*>[<*>]: ...`, the <*> of `sharingd`, `QQ`):
 * a's run, between the common front (p tokens) and back (s), is one <*>
 * and b's is 2 to NAME_WORDS capitalised plain words. Capitalised: words
 * in lower case in place of a value are another event (`Failed password
 * for <*> from` / `for invalid user <*> from`). */
static int name_of_words(const tpl *a, const tpl *b, uint32_t p, uint32_t s) {
    uint32_t bn = b->n - s - p;
    if (a->n - s - p != 1 || a->len[p] != TPL_WILD || bn < 2 || bn > NAME_WORDS) return 0;
    for (uint32_t i = p; i < p + bn; i++)
        if (b->len[i] == TPL_WILD || !tpl_plain_word(b->text + b->off[i], b->len[i]) ||
            !(b->text[b->off[i]] >= 'A' && b->text[b->off[i]] <= 'Z'))
            return 0;
    return 1;
}

/* a and b (lengths differ) are one event with a variable-length run:
 * fills the run [lo, hi) of each. */
static int compatible(const tpl *a, const tpl *b, uint32_t *alo, uint32_t *ahi, uint32_t *blo,
                      uint32_t *bhi) {
    uint32_t na = a->n, nb = b->n, mn = na < nb ? na : nb;
    uint32_t p = 0, s = 0;
    while (p < mn && same_tok(a, p, b, p)) p++;
    while (s < mn - p && same_tok(a, na - 1 - s, b, nb - 1 - s)) s++;
    /* the run must be non-empty on both sides: widen it over a <*> that
     * both share next to it */
    while ((na - s == p || nb - s == p) && p > 0 && a->len[p - 1] == TPL_WILD) p--;
    while ((na - s == p || nb - s == p) && s > 0 && a->len[na - s] == TPL_WILD) s--;
    if (na - s <= p || nb - s <= p) return 0;
    if ((!all_wild(a, p, na - s) || !all_wild(b, p, nb - s)) && !name_of_words(a, b, p, s) &&
        !name_of_words(b, a, p, s))
        return 0;
    uint32_t consts = 0;
    for (uint32_t i = 0; i < p; i++) consts += a->len[i] != TPL_WILD;
    for (uint32_t i = na - s; i < na; i++) consts += a->len[i] != TPL_WILD;
    if (consts < 2) return 0; /* `<*> <*>` and `<*>` say nothing */
    *alo = p, *ahi = na - s, *blo = p, *bhi = nb - s;
    return 1;
}

/* A list whose items hold a constant (`node-31 0x1f <ok> node-32 0x2f
 * <ok>`), where the run is not <*> only: a (na tokens) and b (nb > na) are
 * one event when b is a with nb - na tokens inserted at the end of their
 * common front, and those are whole repetitions of the k tokens before
 * them, a unit holding a <*>. The run is every repetition of the unit
 * there, in both. */
static int list_run(const tpl *a, const tpl *b, uint32_t *alo, uint32_t *ahi, uint32_t *blo, uint32_t *bhi) {
    uint32_t na = a->n, nb = b->n, d = nb - na, p = 0;
    if (nb <= na) return 0;
    while (p < na && same_tok(a, p, b, p)) p++;
    for (uint32_t i = p; i < na; i++) /* the rest of a is b's end */
        if (!same_tok(a, i, b, i + d)) return 0;
    for (uint32_t k = 2; k <= d && k <= p && k <= 16; k++) {
        if (d % k) continue;
        uint32_t u = p - k; /* the unit: a's (and b's) tokens [u, p) */
        if (all_wild(a, u, p)) continue; /* compatible()'s case */
        int wild = 0, rep = 1;
        for (uint32_t j = u; j < p; j++) wild |= a->len[j] == TPL_WILD;
        for (uint32_t j = 0; j < d && rep; j++) rep = same_tok(b, p + j, a, u + j % k);
        if (!wild || !rep) continue;
        uint32_t lo = u, hi = p;
        for (;;) { /* earlier repetitions in a */
            int same = lo >= k;
            for (uint32_t j = 0; j < k && same; j++) same = same_tok(a, lo - k + j, a, u + j);
            if (!same) break;
            lo -= k;
        }
        for (;;) { /* later ones */
            int same = hi + k <= na;
            for (uint32_t j = 0; j < k && same; j++) same = same_tok(a, hi + j, a, u + j);
            if (!same) break;
            hi += k;
        }
        uint32_t consts = 0;
        for (uint32_t i = 0; i < lo; i++) consts += a->len[i] != TPL_WILD;
        for (uint32_t i = hi; i < na; i++) consts += a->len[i] != TPL_WILD;
        if (consts < 2) return 0;
        *alo = lo, *ahi = hi, *blo = lo, *bhi = hi + d;
        return 1;
    }
    return 0;
}

static void widen_span(tpl *t, uint32_t lo, uint32_t hi, int list) {
    if (hi - lo < 2 && !t->span_hi) return; /* a single <*> renders as one already */
    if (!t->span_hi) {
        t->span_lo = lo;
        t->span_hi = hi;
        return;
    }
    list |= !all_wild(t, t->span_lo, t->span_hi); /* a list's run already */
    if (lo < t->span_lo) t->span_lo = lo;
    if (hi > t->span_hi) t->span_hi = hi;
    int wild = 0, cons = 0; /* a list's run may hold constants, not only them */
    for (uint32_t i = t->span_lo; i < t->span_hi; i++) {
        wild |= t->len[i] == TPL_WILD;
        cons |= t->len[i] != TPL_WILD;
    }
    if (!wild || (cons && !list)) t->span_hi = 0; /* cannot show it as one <*> */
}

static void scan(lg_tpl_miner *m, uint32_t i, const tpl_node *b) {
    if (!b) return;
    uint32_t from = b->nm > SCAN_MAX ? b->nm - SCAN_MAX : 0;
    for (uint32_t k = from; k < b->nm; k++) {
        uint32_t j = b->memb[k];
        const tpl *t = &m->t[i], *u = &m->t[j];
        if (u->n == t->n) continue;
        uint32_t ri = tpl_root(m, i), rj = tpl_root(m, j);
        if (ri == rj) continue;
        uint32_t tlo, thi, ulo, uhi;
        int list = 0;
        if (!compatible(t, u, &tlo, &thi, &ulo, &uhi)) {
            list = list_run(t, u, &tlo, &thi, &ulo, &uhi) || list_run(u, t, &ulo, &uhi, &tlo, &thi);
            if (!list) continue;
        }
        uint32_t older = ri < rj ? ri : rj, younger = ri < rj ? rj : ri;
        m->t[younger].root = older;
        /* show the run as one <*> in the group's text */
        if (older != i && older != j) continue; /* the group's text shows another's run */
        uint32_t lo = older == i ? tlo : ulo, hi = older == i ? thi : uhi;
        if (!list) /* a name of words in the older one: a <*> now (others have one) */
            for (uint32_t k2 = lo; k2 < hi; k2++) tpl_make_wild(&m->t[older], k2);
        widen_span(&m->t[older], lo, hi, list);
    }
}

void tpl_merge_check(lg_tpl_miner *m, uint32_t i) {
    tpl *t = &m->t[i];
    if (t->n < 2) return;
    if (t->len[0] == TPL_WILD && !t->wild_bucket) {
        /* its first token became <*> (a name that varies): file it under
         * <*> too, where a later template of another length looks */
        tpl_node *w = bucket(m, "", TPL_WILD, 1);
        if (w && tpl_node_push(w, i) == LG_OK) t->wild_bucket = 1;
        t = &m->t[i];
    }
    tpl_node *b = bucket(m, t->text + t->off[0], t->len[0] == TPL_WILD ? TPL_WILD : t->len[0], 0);
    scan(m, i, b);
    if (t->len[0] != TPL_WILD) scan(m, i, bucket(m, "", TPL_WILD, 0));
}

/* ---- A new line against groups with a run ------------------------------ */

static int line_tok_eq(const tpl *t, uint32_t i, const char *line, const lg_tpl_token *x) {
    if (t->len[i] == TPL_WILD) return 1;
    return !x->var && x->len == t->len[i] && !memcmp(line + x->off, t->text + t->off[i], x->len);
}

static int line_fits(const tpl *r, const char *line, const lg_tpl_tokens *tk) {
    if (!r->span_hi || r->n == tk->n) return 0;
    uint32_t lo = r->span_lo, hi = r->span_hi, n = (uint32_t)tk->n;
    uint32_t suffix = r->n - hi;
    if (n < lo + suffix + 1) return 0; /* the run takes at least one token */
    for (uint32_t i = 0; i < lo; i++)
        if (!line_tok_eq(r, i, line, &tk->tok[i])) return 0;
    for (uint32_t s = 0; s < suffix; s++)
        if (!line_tok_eq(r, r->n - 1 - s, line, &tk->tok[n - 1 - s])) return 0;
    return 1;
}

long tpl_span_match(lg_tpl_miner *m, const char *line, const lg_tpl_tokens *tk) {
    if (tk->n < 2) return -1;
    const lg_tpl_token *x = &tk->tok[0];
    const tpl_node *bs[2] = {x->var ? NULL : bucket(m, line + x->off, x->len, 0), NULL};
    bs[1] = bucket(m, "", TPL_WILD, 0);
    for (int q = 0; q < 2; q++) {
        const tpl_node *b = bs[q];
        if (!b) continue;
        uint32_t from = b->nm > SCAN_MAX ? b->nm - SCAN_MAX : 0;
        for (uint32_t k = from; k < b->nm; k++) {
            uint32_t r = b->memb[k];
            if (tpl_root(m, r) == r && line_fits(&m->t[r], line, tk)) return r;
        }
    }
    return -1;
}
