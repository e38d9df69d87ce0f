/* templates.c - the template miner: a fixed-depth prefix tree (token count,
 * then the first `depth` tokens) over templates, Drain's similarity match
 * inside a leaf, wildcard merging, stable ids. The algorithm and its
 * reasons: docs/templates.md. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logify/csv.h"
#include "templates/templates_int.h"

#define ID_SEED 0x6c6f67696679ULL /* "logify" */
#define KEY_SCAN_MAX 4096         /* templates of one length looked at for keyed siblings (the newest) */

/* ---- Options ---------------------------------------------------------- */

lg_err tpl_opts_check(const lg_tpl_opts *in, lg_tpl_opts *out, lg_errmsg *err) {
    lg_tpl_opts o = {2, 0.5, 100, 256, (size_t)1 << 20, 3};
    if (in) {
        o.depth = in->depth;
        if (in->sim > 0) o.sim = in->sim;
        if (in->max_children) o.max_children = in->max_children;
        if (in->max_tokens) o.max_tokens = in->max_tokens;
        if (in->max_templates) o.max_templates = in->max_templates;
        if (in->word_variants) o.word_variants = in->word_variants;
    }
    if (o.word_variants < 1 || o.word_variants > 64)
        return lg_fail(err, LG_EINVAL, "templates: word_variants must be 1..64");
    if (o.depth < 0 || o.depth > 8) return lg_fail(err, LG_EINVAL, "templates: depth must be 0..8");
    if (!(o.sim > 0 && o.sim <= 1)) return lg_fail(err, LG_EINVAL, "templates: similarity must be in (0, 1]");
    if (o.max_children < 2) return lg_fail(err, LG_EINVAL, "templates: max_children must be >= 2");
    if (o.max_tokens < 2 || o.max_tokens > 65536)
        return lg_fail(err, LG_EINVAL, "templates: max_tokens must be 2..65536");
    if (o.max_templates > UINT32_MAX - 1) o.max_templates = UINT32_MAX - 1;
    *out = o;
    return LG_OK;
}

lg_err lg_tpl_miner_new(const lg_tpl_opts *opts, lg_tpl_miner **out, lg_errmsg *err) {
    *out = NULL;
    lg_tpl_opts o;
    lg_err e = tpl_opts_check(opts, &o, err);
    if (e) return e;
    lg_tpl_miner *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, LG_ENOMEM, "templates miner: out of memory");
    m->opts = o;
    lg_buf_init(&m->key, (size_t)64 << 20);
    lg_buf_init(&m->render, (size_t)64 << 20);
    *out = m;
    return LG_OK;
}

void lg_tpl_miner_free(lg_tpl_miner *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_t; i++) {
        free(m->t[i].off); /* the block holding all its arrays */
        tpl_cand_free(m->t[i].cand);
    }
    free(m->t);
    for (size_t i = 0; i < m->cap_nodes; i++) {
        free(m->nodes[i].key);
        free(m->nodes[i].memb);
    }
    free(m->nodes);
    free(m->ids);
    free(m->id_idx);
    lg_tpl_tokens_free(&m->scratch);
    lg_buf_free(&m->key);
    lg_buf_free(&m->render);
    free(m);
}

void lg_tpl_get_opts(const lg_tpl_miner *m, lg_tpl_opts *out) { *out = m->opts; }
size_t lg_tpl_count(const lg_tpl_miner *m) { return m->n_t; }
uint64_t lg_tpl_id(const lg_tpl_miner *m, size_t i) { return i < m->n_t ? m->t[tpl_root(m, (uint32_t)i)].id : 0; }
size_t lg_tpl_group(const lg_tpl_miner *m, size_t i) { return i < m->n_t ? tpl_root(m, (uint32_t)i) : i; }
uint64_t lg_tpl_lines(const lg_tpl_miner *m, size_t i) { return i < m->n_t ? m->t[i].lines : 0; }

void lg_tpl_format_id(uint64_t id, char out[17]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, id >>= 4) out[i] = hx[id & 15];
    out[16] = '\0';
}

/* ---- Ids ---------------------------------------------------------------- */

static int id_find(const lg_tpl_miner *m, uint64_t id) {
    if (!m->cap_ids) return 0;
    size_t j = id & (m->cap_ids - 1);
    while (m->ids[j]) {
        if (m->ids[j] == id) return 1;
        j = (j + 1) & (m->cap_ids - 1);
    }
    return 0;
}

static lg_err id_add(lg_tpl_miner *m, uint64_t id, uint32_t index) {
    if ((m->n_t + 1) * 2 > m->cap_ids) {
        size_t nc = m->cap_ids ? m->cap_ids * 2 : 256;
        uint64_t *ni = calloc(nc, sizeof *ni);
        uint32_t *nx = calloc(nc, sizeof *nx);
        if (!ni || !nx) {
            free(ni);
            free(nx);
            return LG_ENOMEM;
        }
        for (size_t i = 0; i < m->cap_ids; i++) {
            if (!m->ids[i]) continue;
            size_t j = m->ids[i] & (nc - 1);
            while (ni[j]) j = (j + 1) & (nc - 1);
            ni[j] = m->ids[i];
            nx[j] = m->id_idx[i];
        }
        free(m->ids);
        free(m->id_idx);
        m->ids = ni;
        m->id_idx = nx;
        m->cap_ids = nc;
    }
    size_t j = id & (m->cap_ids - 1);
    while (m->ids[j]) j = (j + 1) & (m->cap_ids - 1);
    m->ids[j] = id;
    m->id_idx[j] = index;
    return LG_OK;
}

/* ---- Tree keys -------------------------------------------------------- */

/* key = level byte, token count, then per level (position, length |
 * TPL_WILD, bytes) */
static lg_err key_start(lg_buf *k, uint32_t n, int level) {
    lg_buf_reset(k);
    char lv = (char)level;
    lg_err e = lg_buf_append(k, &lv, 1);
    return e ? e : lg_buf_append(k, &n, sizeof n);
}

static lg_err key_add(lg_buf *k, uint32_t pos, const char *tok, uint32_t len) {
    lg_err e = lg_buf_append(k, &pos, sizeof pos);
    if (!e) e = lg_buf_append(k, &len, sizeof len);
    if (!e && len != TPL_WILD) e = lg_buf_append(k, tok, len);
    return e;
}

static void key_set_level(lg_buf *k, int level) { k->data[0] = (char)level; }

/* ---- Templates -------------------------------------------------------- */

/* The closing brackets and quotes of a list's last item (`<ok>`, `(x)`):
 * part of the run that its <*> stands for. */
static size_t skip_closers(const tpl *t, size_t g, size_t ge) {
    while (g < ge && strchr(")]}>\"'", t->text[g])) g++;
    return g;
}

lg_err tpl_render(const tpl *t, lg_buf *out) {
    size_t pos = 0;
    lg_err e = LG_OK;
    int list = 0; /* a run over a list whose items hold constants (templates_merge.c) */
    for (uint32_t i = t->span_lo; i < t->span_hi && !list; i++) list = t->len[i] != TPL_WILD;
    for (uint32_t i = 0; i < t->n && !e; i++) {
        size_t g = pos, ge = t->off[i];
        if (i == 0)
            while (g < ge && (t->text[g] == ' ' || t->text[g] == '\t')) g++;
        if (list && i == t->span_hi) g = skip_closers(t, g, ge);
        int in_span = t->span_hi && i > t->span_lo && i < t->span_hi;
        /* host:port and the like: <*>:<*> is one value, shown as one <*> */
        if (i > 0 && t->len[i] == TPL_WILD && t->len[i - 1] == TPL_WILD && ge - g == 1 && t->text[g] == ':')
            in_span = 1;
        if (!in_span) e = lg_buf_append(out, t->text + g, ge - g);
        if (e) break;
        if (in_span) { /* one <*> for the whole variable-length run */
        } else if (list && i == t->span_lo)
            e = lg_buf_append(out, "<*>", 3);
        else if (t->len[i] == TPL_WILD && t->shape[i])
            e = tpl_shape_render(t->text + t->off[i], t->end[i] - t->off[i], out);
        else if (t->len[i] == TPL_WILD) e = lg_buf_append(out, "<*>", 3);
        else e = lg_buf_append(out, t->text + t->off[i], t->len[i]);
        pos = t->end[i];
    }
    size_t te = t->text_len;
    if (list && t->span_hi == t->n) pos = skip_closers(t, pos, te);
    while (te > pos && (t->text[te - 1] == ' ' || t->text[te - 1] == '\t' || t->text[te - 1] == '\r' ||
                        t->text[te - 1] == '\n'))
        te--;
    if (!e && te > pos) e = lg_buf_append(out, t->text + pos, te - pos);
    return e;
}

lg_err lg_tpl_text(const lg_tpl_miner *m, size_t index, lg_buf *out) {
    if (index >= m->n_t) return LG_EINVAL;
    return tpl_render(&m->t[tpl_root(m, (uint32_t)index)], out);
}

/* Builds the tree key of template t at `level` (<= t->nkey): its keyed
 * tokens, or <*> where wild_path says so. */
static lg_err tpl_key(const tpl *t, int level, lg_buf *k) {
    lg_err e = key_start(k, t->n, level);
    for (int j = 0; j < level && !e; j++) {
        uint32_t p = t->kpos[j];
        if (t->wild_path & (1u << j)) e = key_add(k, p, "", TPL_WILD);
        else e = key_add(k, p, t->text + t->off[p], t->len[p]);
    }
    return e;
}

/* The tokens a line is keyed by: its first `depth` tokens that are not
 * variables (leading timestamps, ids and addresses say nothing about the
 * event; Drain keys the first tokens whatever they are). */
static uint32_t line_keys(const lg_tpl_miner *m, const lg_tpl_tokens *tk, uint32_t kpos[8]) {
    uint32_t nk = 0;
    for (size_t i = 0; i < tk->n && nk < (uint32_t)m->opts.depth; i++)
        if (!tk->tok[i].var) kpos[nk++] = (uint32_t)i;
    return nk;
}

lg_err tpl_insert(lg_tpl_miner *m, const char *text, size_t text_len, const uint32_t *off,
                  const uint32_t *len, const uint8_t *wild, size_t n, const uint32_t *kpos,
                  uint32_t nkey, uint32_t wild_path, uint64_t id, uint64_t lines,
                  uint32_t *index_out) {
    if (m->n_t >= m->opts.max_templates) return LG_ELIMIT;
    if (m->n_t == m->cap_t) {
        size_t nc = m->cap_t ? m->cap_t * 2 : 64;
        tpl *p = realloc(m->t, nc * sizeof *p);
        if (!p) return LG_ENOMEM;
        m->t = p;
        m->cap_t = nc;
    }
    /* one block: the index arrays, then the text */
    size_t arr = 3 * n * sizeof(uint32_t) + n;
    char *blk = malloc(arr + text_len + 1);
    if (!blk) return LG_ENOMEM;
    tpl t = {0};
    t.off = (uint32_t *)(void *)blk;
    t.len = t.off + n;
    t.end = t.len + n;
    t.shape = (uint8_t *)(t.end + n);
    t.text = blk + arr;
    memcpy(t.text, text, text_len);
    t.text[text_len] = '\0';
    t.text_len = (uint32_t)text_len;
    t.n = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        t.off[i] = off[i];
        t.len[i] = wild[i] ? TPL_WILD : len[i];
        t.end[i] = off[i] + len[i];
        t.shape[i] = wild[i] == 2;
        t.n_shape += wild[i] == 2;
        if (!wild[i]) t.n_const++;
    }
    t.wild_path = wild_path;
    t.nkey = nkey > 8 ? 8 : nkey;
    for (uint32_t j = 0; j < t.nkey; j++) t.kpos[j] = kpos[j];
    t.lines = lines;
    t.root = (uint32_t)m->n_t;
    lg_err e = LG_OK;
    if (!id) {
        lg_buf_reset(&m->render);
        e = tpl_render(&t, &m->render);
        id = e ? 1 : lg_fnv1a64(m->render.data ? m->render.data : "", m->render.len, ID_SEED);
        while (!id || id_find(m, id)) id = lg_fnv1a64(&id, sizeof id, ID_SEED) + 1;
    } else if (id_find(m, id)) {
        e = LG_EPARSE; /* a state file with one id twice */
    }
    t.id = id;
    uint32_t index = (uint32_t)m->n_t;
    /* file it: create the path, counting children */
    int ld = (int)t.nkey;
    tpl_node *leaf = NULL;
    for (int lv = 0; lv <= ld && !e; lv++) {
        int created;
        if ((e = tpl_key(&t, lv, &m->key))) break;
        tpl_node *nd = tpl_node_get(m, m->key.data, m->key.len, 1, &created);
        if (!nd) {
            e = LG_ENOMEM;
            break;
        }
        if (created && lv > 0) {
            /* parent: same key one level shorter; its pointer may have
             * moved when the table grew, so look it up again */
            tpl_key(&t, lv - 1, &m->key);
            tpl_node *parent = tpl_node_get(m, m->key.data, m->key.len, 0, NULL);
            if (parent) parent->children++;
            tpl_key(&t, lv, &m->key);
            nd = tpl_node_get(m, m->key.data, m->key.len, 0, NULL);
        }
        leaf = nd;
    }
    if (!e) e = tpl_node_push(leaf, index);
    if (!e) e = id_add(m, id, index);
    if (e) {
        if (leaf && leaf->nm && leaf->memb[leaf->nm - 1] == index) leaf->nm--;
        free(blk);
        return e;
    }
    m->t[m->n_t++] = t;
    if ((e = tpl_bucket_add(m, index))) return e; /* the template stays; only the bucket is short */
    if (index_out) *index_out = index;
    return LG_OK;
}

/* ---- Matching --------------------------------------------------------- */

/* Similarity of a line to a template of the same length: the share of the
 * template's constant tokens that the line repeats exactly (1 when the
 * template has none left). */
static double similarity(const tpl *t, const char *line, const lg_tpl_tokens *tk) {
    if (!t->n_const) return 1.0;
    uint32_t same = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t l = t->len[i];
        if (l == TPL_WILD) continue;
        const lg_tpl_token *x = &tk->tok[i];
        if (!x->var && x->len == l && tpl_eq(line + x->off, t->text + t->off[i], l)) same++;
    }
    return (double)same / t->n_const;
}

/* Walks the tree for a tokenised line: the exact token's child, else the
 * <*> child. Returns the leaf or NULL; *wild_path gets the <*> levels. */
static const tpl_node *descend(const lg_tpl_miner *m, lg_buf *k, const char *line,
                               const lg_tpl_tokens *tk, uint32_t *wild_path) {
    uint32_t n = (uint32_t)tk->n, kpos[8];
    int ld = (int)line_keys(m, tk, kpos);
    *wild_path = 0;
    /* the exact path first, in one lookup: when its leaf exists, so does
     * every node above it (a template files itself along its whole path),
     * and the walk below would take the exact child at every level */
    if (key_start(k, n, ld)) return NULL;
    for (int j = 0; j < ld; j++) {
        const lg_tpl_token *x = &tk->tok[kpos[j]];
        if (key_add(k, kpos[j], line + x->off, x->len)) return NULL;
    }
    const tpl_node *nd = tpl_node_get((lg_tpl_miner *)m, k->data, k->len, 0, NULL);
    if (nd || !ld) return nd;
    if (key_start(k, n, 0)) return NULL;
    nd = tpl_node_get((lg_tpl_miner *)m, k->data, k->len, 0, NULL);
    for (int j = 0; j < ld && nd; j++) {
        const lg_tpl_token *x = &tk->tok[kpos[j]];
        size_t mark = k->len;
        key_set_level(k, j + 1);
        const tpl_node *child = NULL;
        if (key_add(k, kpos[j], line + x->off, x->len)) return NULL;
        child = tpl_node_get((lg_tpl_miner *)m, k->data, k->len, 0, NULL);
        if (!child) k->len = mark;
        if (!child) {
            if (key_add(k, kpos[j], "", TPL_WILD)) return NULL;
            child = tpl_node_get((lg_tpl_miner *)m, k->data, k->len, 0, NULL);
            *wild_path |= 1u << j;
        }
        nd = child;
    }
    return nd;
}

/* Best template in a leaf: highest similarity, the older on ties. *exact
 * (may be NULL): the line repeats every constant token of it, so taking
 * the line changes nothing in it (no later template can beat that). */
static long best_in_leaf(const lg_tpl_miner *m, const tpl_node *leaf, const char *line,
                         const lg_tpl_tokens *tk, int *exact) {
    long best = -1;
    double bs = -1;
    for (uint32_t i = 0; i < leaf->nm; i++) {
        const tpl *t = &m->t[leaf->memb[i]];
        double s = similarity(t, line, tk);
        if (s > bs) {
            bs = s;
            best = leaf->memb[i];
            if (s >= 1.0) break;
        }
    }
    if (exact) *exact = bs >= 1.0;
    return bs >= m->opts.sim ? best : -1;
}

lg_err lg_tpl_match(const lg_tpl_miner *m, const char *line, size_t len, lg_tpl_result *out) {
    memset(out, 0, sizeof *out);
    lg_tpl_tokens tk = {0};
    lg_buf k;
    lg_buf_init(&k, (size_t)64 << 20);
    lg_err e = lg_tpl_tokenize(line, len, m->opts.max_tokens, &tk);
    long best = -1;
    if (!e) {
        uint32_t wp;
        const tpl_node *leaf = descend(m, &k, line, &tk, &wp);
        if (leaf) best = best_in_leaf(m, leaf, line, &tk, NULL);
        if (best < 0) e = LG_ENOTFOUND;
    }
    out->variant = -1;
    if (!e) {
        out->index = (uint32_t)best;
        out->id = m->t[tpl_root(m, (uint32_t)best)].id;
    }
    lg_tpl_tokens_free(&tk);
    lg_buf_free(&k);
    return e;
}

/* The tree path a new template takes: <*> for variables, and for a new
 * token under a node that already has max_children - 1 children. */
static uint32_t new_wild_path(lg_tpl_miner *m, const char *line, const lg_tpl_tokens *tk,
                              const uint32_t *kpos, uint32_t nkey) {
    uint32_t n = (uint32_t)tk->n, wp = 0;
    if (key_start(&m->key, n, 0)) return 0;
    for (uint32_t j = 0; j < nkey; j++) {
        const lg_tpl_token *x = &tk->tok[kpos[j]];
        tpl_node *parent = tpl_node_get(m, m->key.data, m->key.len, 0, NULL);
        size_t mark = m->key.len;
        key_set_level(&m->key, (int)j + 1);
        key_add(&m->key, kpos[j], line + x->off, x->len);
        if (!tpl_node_get(m, m->key.data, m->key.len, 0, NULL) && parent &&
            parent->children + 1 >= m->opts.max_children) {
            m->key.len = mark;
            key_add(&m->key, kpos[j], "", TPL_WILD);
            wp |= 1u << j;
        }
    }
    return wp;
}

/* ---- Words that may name different events ------------------------------ */

/* The one position where the line differs from t by a plain word (t has a
 * plain word there too, past the tree's keyed tokens), or -1 when the
 * difference is anything else; `settled`: only when t has held its word
 * for WORD_EVIDENCE lines. */
static long one_word_diff(const lg_tpl_miner *m, const tpl *t, const char *line, const lg_tpl_tokens *tk,
                          int settled) {
    long pos = -1;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t l = t->len[i];
        if (l == TPL_WILD) continue;
        const lg_tpl_token *x = &tk->tok[i];
        if (!x->var && x->len == l && tpl_eq(line + x->off, t->text + t->off[i], l)) continue;
        if (pos >= 0 || x->var) return -1;
        for (uint32_t j = 0; j < t->nkey; j++)
            if (t->kpos[j] == i) return -1; /* a keyed token: other leaves hold its siblings */
        if (!tpl_plain_word(line + x->off, x->len) || !tpl_plain_word(t->text + t->off[i], l)) return -1;
        pos = i;
    }
    /* evidence that the word is a constant: the template has held it for
     * a few lines (a variable shows a second value early). Without it
     * (siblings from the first line on) the generated logs gain (GA 0.961
     * -> 0.973 on seed 1), but a word with two values in the whole input
     * (sda/sdb, root/admin) would split its event: docs/templates.md */
    return t->n_const >= 3 && (!settled || t->lines >= WORD_EVIDENCE) ? pos : -1;
}

static int same_but(const tpl *a, const tpl *b, uint32_t pos) {
    if (a->n != b->n || b->len[pos] == TPL_WILD) return 0;
    for (uint32_t i = 0; i < a->n; i++) {
        if (i == pos) continue;
        uint32_t la = a->len[i], lb = b->len[i];
        if (la != lb) return 0;
        if (la != TPL_WILD && !tpl_eq(a->text + a->off[i], b->text + b->off[i], la)) return 0;
    }
    return 1;
}

/* The siblings of t (t included) in its leaf: templates equal to t but
 * for a word at pos. Fills sib (up to cap) and returns how many. */
static size_t siblings(const lg_tpl_miner *m, const tpl_node *leaf, uint32_t ti, uint32_t pos, uint32_t *sib,
                       size_t cap) {
    size_t c = 0;
    for (uint32_t k = 0; k < leaf->nm && c < cap; k++)
        if (leaf->memb[k] == ti || same_but(&m->t[ti], &m->t[leaf->memb[k]], pos)) sib[c++] = leaf->memb[k];
    return c;
}

/* Turns pos into <*> in every sibling and makes them one group. */
static void merge_siblings(lg_tpl_miner *m, const uint32_t *sib, size_t c, uint32_t pos) {
    uint32_t root = tpl_root(m, sib[0]);
    for (size_t k = 1; k < c; k++) {
        uint32_t r = tpl_root(m, sib[k]);
        if (r < root) root = r;
    }
    for (size_t k = 0; k < c; k++) {
        tpl_make_wild(&m->t[sib[k]], pos);
        uint32_t r = tpl_root(m, sib[k]);
        if (r != root) m->t[r].root = root;
    }
}

/* ---- Siblings across leaves ------------------------------------------- */

/* u takes every line t takes: equal tokens, or <*> in u */
static int generalises(const tpl *u, const tpl *t) {
    if (u->n != t->n) return 0;
    for (uint32_t i = 0; i < u->n; i++) {
        uint32_t lu = u->len[i], lt = t->len[i];
        if (lu == TPL_WILD) continue;
        if (lu != lt || !tpl_eq(u->text + u->off[i], t->text + t->off[i], lu)) return 0;
    }
    return 1;
}

/* The templates of node nd (its newest `scan`, 0 = all) that template bi
 * takes every line of join its group, whose text gets <*> where bi has
 * it: after bi was generalised in its leaf (siblings of a word that turned
 * out to be a variable), or when bi was born under other keys than they.
 * Returns how many groups joined. */
static size_t absorb(lg_tpl_miner *m, const tpl_node *nd, uint32_t bi, uint32_t scan) {
    size_t joined = 0;
    uint32_t from = scan && nd->nm > scan ? nd->nm - scan : 0;
    for (uint32_t k = from; k < nd->nm; k++) {
        uint32_t u = nd->memb[k];
        uint32_t rb = tpl_root(m, bi), ru = tpl_root(m, u);
        if (ru == rb || !generalises(&m->t[bi], &m->t[u])) continue;
        uint32_t root = rb < ru ? rb : ru, other = rb < ru ? ru : rb;
        tpl *r = &m->t[root];
        if (r->n == m->t[bi].n)
            for (uint32_t i = 0; i < r->n; i++)
                if (m->t[bi].len[i] == TPL_WILD) tpl_make_wild(r, i);
        m->t[other].root = root;
        joined++;
    }
    return joined;
}

/* A keyed token is a tree level, so a program or user name in front
 * (`(bob) CMD (run-parts /x)`, `sharingd[12]: Failed to connect ...`)
 * puts every value in its own leaf, where the word-variant rule above
 * never sees the others. So when template ti is born, the templates of its
 * token count that equal it but for one keyed constant are its siblings:
 * with word_variants of them, that position is a variable and they are one
 * group; when one of them already holds <*> there, ti joins its group. */
static void key_siblings(lg_tpl_miner *m, uint32_t ti) {
    const tpl_node *b = tpl_len_bucket(m, m->t[ti].n, 0);
    if (!b || m->t[ti].n_const < 3 || m->opts.word_variants < 2) return;
    uint32_t from = b->nm > KEY_SCAN_MAX ? b->nm - KEY_SCAN_MAX : 0;
    tpl *t = &m->t[ti];
    for (uint32_t k = b->nm; k-- > from;) { /* a group that takes it, filed under other keys */
        uint32_t u = b->memb[k];
        if (u != ti && m->t[u].n_const >= 2 && generalises(&m->t[u], t)) {
            for (uint32_t i = 0; i < t->n; i++)
                if (m->t[u].len[i] == TPL_WILD) tpl_make_wild(t, i);
            t->root = tpl_root(m, u);
            return;
        }
    }
    if (absorb(m, b, ti, KEY_SCAN_MAX)) return;
    for (uint32_t j = 0; j < t->nkey; j++) {
        uint32_t pos = t->kpos[j], sib[64];
        if (t->len[pos] == TPL_WILD || !tpl_plain_word(t->text + t->off[pos], t->len[pos])) continue;
        size_t c = 0;
        sib[c++] = ti;
        for (uint32_t k = b->nm; k-- > from && c < 64;) {
            uint32_t u = b->memb[k];
            const tpl *x = &m->t[u];
            if (u != ti && x->len[pos] != TPL_WILD && tpl_plain_word(x->text + x->off[pos], x->len[pos]) &&
                same_but(x, t, pos))
                sib[c++] = u;
        }
        if (c >= (size_t)m->opts.word_variants) {
            merge_siblings(m, sib, c, pos);
            /* the name a <*> now: the templates of its length that it takes
             * every line of (a name that is not a plain word: `QQ[1]: ...`)
             * join too (before tpl_merge_check, which may grow the table b is in) */
            absorb(m, b, ti, KEY_SCAN_MAX);
            for (size_t k = 0; k < c; k++) tpl_merge_check(m, sib[k]);
            return;
        }
    }
}

/* A line taken by t: a shaped <*> whose token has another shape in this
 * line (12ms after 10s) is shown as <*> from now on. */
static void keep_shapes(tpl *t, const char *line, const lg_tpl_tokens *tk) {
    for (uint32_t i = 0; i < t->n && t->n_shape; i++) {
        if (!t->shape[i]) continue;
        const lg_tpl_token *x = &tk->tok[i];
        if (tpl_shape_eq(line + x->off, x->len, t->text + t->off[i], t->end[i] - t->off[i])) continue;
        t->shape[i] = 0;
        t->n_shape--;
    }
}

lg_err lg_tpl_add(lg_tpl_miner *m, const char *line, size_t len, lg_tpl_result *out,
                  lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    if (!line) len = 0;
    if (len > UINT32_MAX - 1) len = UINT32_MAX - 1;
    lg_tpl_tokens *tk = &m->scratch;
    lg_err e = lg_tpl_tokenize(line ? line : "", len, m->opts.max_tokens, tk);
    if (e) return lg_fail(err, e, "templates: out of memory");
    uint32_t wp;
    const tpl_node *leaf = descend(m, &m->key, line, tk, &wp);
    int exact = 0;
    long best = leaf ? best_in_leaf(m, leaf, line, tk, &exact) : -1;
    out->variant = -1;
    if (best >= 0 && exact) { /* the common case: nothing to generalise */
        m->t[best].lines++;
        if (m->t[best].n_shape) keep_shapes(&m->t[best], line, tk);
        if (m->t[best].cand) out->variant = tpl_cand_note(&m->t[best], line, len, tk);
        out->index = (uint32_t)best;
        out->id = m->t[tpl_root(m, (uint32_t)best)].id;
        return LG_OK;
    }
    long sib_of = -1; /* the template a new one is a word sibling of */
    if (best >= 0 && m->opts.word_variants > 1) {
        long pos = one_word_diff(m, &m->t[best], line, tk, 1);
        if (pos >= 0) {
            uint32_t sib[64] = {0}; /* (c) filled by siblings(); zeroed for GCC's flow analysis */
            size_t c = siblings(m, leaf, (uint32_t)best, (uint32_t)pos, sib, 64);
            if (c < (size_t)m->opts.word_variants) { /* a sibling: maybe another event */
                sib_of = best;
                best = -1;
            }
            else {
                merge_siblings(m, sib, c, (uint32_t)pos);
                for (size_t k = 0; k < c; k++) tpl_merge_check(m, sib[k]);
            }
        }
    }
    if (best >= 0) {
        tpl *t = &m->t[best];
        if (t->cand) out->variant = tpl_cand_note(t, line, len, tk);
        else if (m->opts.word_variants > 1 && t->lines < WORD_EVIDENCE) {
            /* a young template about to lose a word: count the words
             * there, the end of the run may split it (templates_split.c) */
            long pos = one_word_diff(m, t, line, tk, 0);
            if (pos >= 0) out->variant = tpl_cand_start(m, (uint32_t)best, (uint32_t)pos, line, len, tk);
            t = &m->t[best];
        }
        if (t->n_shape) keep_shapes(t, line, tk);
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t l = t->len[i];
            if (l == TPL_WILD) continue;
            const lg_tpl_token *x = &tk->tok[i];
            if (x->var || x->len != l || !tpl_eq(line + x->off, t->text + t->off[i], l)) {
                t->len[i] = TPL_WILD;
                t->n_const--;
                out->changed = 1;
            }
        }
        t->lines++;
        if (out->changed) {
            absorb(m, leaf, (uint32_t)best, 0);
            tpl_merge_check(m, (uint32_t)best);
        }
        out->index = (uint32_t)best;
        out->id = m->t[tpl_root(m, (uint32_t)best)].id;
        return LG_OK;
    }
    long span_root = tpl_span_match(m, line, tk);
    /* a new template */
    size_t n = tk->n;
    uint32_t *arr = malloc((2 * n + 1) * sizeof *arr + n + 1);
    if (!arr) return lg_fail(err, LG_ENOMEM, "templates: out of memory");
    uint8_t *wild = (uint8_t *)(arr + 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        arr[i] = tk->tok[i].off;
        arr[n + i] = tk->tok[i].len;
        wild[i] = tk->tok[i].var;
        if (wild[i] && tpl_shape_ok(line + tk->tok[i].off, tk->tok[i].len)) wild[i] = 2;
    }
    if (sib_of >= 0) /* born with its sibling's <*>: they differ in one word only */
        for (size_t i = 0; i < n; i++)
            if (!wild[i] && m->t[sib_of].len[i] == TPL_WILD) wild[i] = 1;
    uint32_t kpos[8], nkey = line_keys(m, tk, kpos);
    wp = new_wild_path(m, line, tk, kpos, nkey);
    uint32_t index;
    e = tpl_insert(m, line ? line : "", len, arr, arr + n, wild, n, kpos, nkey, wp, 0, 1, &index);
    free(arr);
    if (e == LG_ELIMIT)
        return lg_fail(err, e, "templates: more than %zu templates (max_templates)", m->opts.max_templates);
    if (e) return lg_fail(err, e, "templates: out of memory");
    /* a keyed token born <*> (from its sibling) marks its level <*>, as
     * make_wild does: the template stays in its leaf, a state file files it
     * under the <*> child (without the bit the file was refused on load) */
    for (uint32_t j = 0; j < m->t[index].nkey; j++)
        if (m->t[index].len[m->t[index].kpos[j]] == TPL_WILD) m->t[index].wild_path |= 1u << j;
    if (span_root >= 0) m->t[index].root = (uint32_t)span_root; /* a known variable-length group */
    else {
        key_siblings(m, index);
        if (tpl_root(m, index) == index) tpl_merge_check(m, index);
    }
    out->index = index;
    out->id = m->t[tpl_root(m, index)].id;
    out->is_new = tpl_root(m, index) == index;
    return LG_OK;
}

/* ---- Parameters ------------------------------------------------------- */

lg_err lg_tpl_params_json(const lg_tpl_miner *m, size_t index, const char *line, size_t len,
                          lg_buf *out) {
    if (index >= m->n_t) return LG_EINVAL;
    const tpl *t = &m->t[index];
    lg_tpl_tokens tk = {0};
    lg_err e = lg_tpl_tokenize(line ? line : "", line ? len : 0, m->opts.max_tokens, &tk);
    int first = 1;
    if (!e) e = lg_buf_putc(out, '[');
    for (size_t i = 0; i < tk.n && !e; i++) {
        /* the line's token at a <*> position; a line of another length
         * (not mined by this template) gives its variable tokens */
        int take = tk.n == t->n ? t->len[i] == TPL_WILD : tk.tok[i].var;
        if (!take) continue;
        if (!first) e = lg_buf_putc(out, ',');
        first = 0;
        if (!e) e = lg_json_put_string(out, line + tk.tok[i].off, tk.tok[i].len);
    }
    if (!e) e = lg_buf_putc(out, ']');
    lg_tpl_tokens_free(&tk);
    return e;
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
        if (!tpl_cand_live(c) || c->split || c->nv < 2 || grouped[i] || m->t[i].len[c->pos] != TPL_WILD)
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
    if (!tpl_cand_live(c) || !c->split || (uint32_t)variant >= c->nv) return index;
    return c->v[variant].to;
}
