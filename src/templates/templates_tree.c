/* templates_tree.c - the template miner's tables: the prefix tree's nodes
 * (one open-addressing table keyed by bytes, also holding the first-token
 * buckets of templates_merge.c) and the group links between templates.
 * Below both templates.c and templates_merge.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "templates/templates_int.h"

/* The nodes' hash: 8 bytes a step (FNV-1a's byte a step, one multiply
 * each, was a tenth of the miner's time); table positions only, never
 * written anywhere (template ids stay FNV-1a of the text). */
static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

static lg_err nodes_grow(lg_tpl_miner *m) {
    size_t nc = m->cap_nodes ? m->cap_nodes * 2 : 256;
    tpl_node *nn = calloc(nc, sizeof *nn);
    if (!nn) return LG_ENOMEM;
    for (size_t i = 0; i < m->cap_nodes; i++) {
        tpl_node *o = &m->nodes[i];
        if (!o->h) continue;
        size_t j = o->h & (nc - 1);
        while (nn[j].h) j = (j + 1) & (nc - 1);
        nn[j] = *o;
    }
    free(m->nodes);
    m->nodes = nn;
    m->cap_nodes = nc;
    return LG_OK;
}

lg_err tpl_node_push(tpl_node *nd, uint32_t index) {
    if (nd->nm == nd->cm) {
        uint32_t nc = nd->cm ? nd->cm * 2 : 4;
        uint32_t *p = realloc(nd->memb, nc * sizeof *p);
        if (!p) return LG_ENOMEM;
        nd->memb = p;
        nd->cm = nc;
    }
    nd->memb[nd->nm++] = index;
    return LG_OK;
}

/* Finds the node with this key; creates it when `create` (NULL on no
 * memory or when absent and not created). */
tpl_node *tpl_node_get(lg_tpl_miner *m, const char *key, size_t klen, int create, int *created) {
    if (created) *created = 0;
    if (create && (m->n_nodes + 1) * 2 > m->cap_nodes && nodes_grow(m)) return NULL;
    if (!m->cap_nodes) return NULL;
    uint64_t h = hash_bytes(key, klen);
    size_t j = h & (m->cap_nodes - 1);
    for (;;) {
        tpl_node *nd = &m->nodes[j];
        if (!nd->h) break;
        if (nd->h == h && nd->klen == klen && tpl_eq(nd->key, key, klen)) return nd;
        j = (j + 1) & (m->cap_nodes - 1);
    }
    if (!create) return NULL;
    tpl_node *nd = &m->nodes[j];
    nd->key = malloc(klen ? klen : 1);
    if (!nd->key) return NULL;
    memcpy(nd->key, key, klen);
    nd->klen = (uint32_t)klen;
    nd->h = h;
    m->n_nodes++;
    if (created) *created = 1;
    return nd;
}

uint32_t tpl_root(const lg_tpl_miner *m, uint32_t i) {
    while (m->t[i].root != i) i = m->t[i].root;
    return i;
}

/* ---- Small helpers shared by the miner's files ---------------------- */

/* A plain word: letters, '-' or '_' only, not all capitals (LOOKING,
 * RUNNING, HTTPS: states and enum values), and not a value word (booleans
 * and the like are values wherever they appear). */
int tpl_plain_word(const char *s, size_t n) {
    static const char *values[] = {"yes", "no", "on", "off", "null", "none", "nil",
                                   "enabled", "disabled", "unknown"};
    if (!n) return 0;
    size_t lower = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(((c | 32) >= 'a' && (c | 32) <= 'z') || c == '-' || c == '_')) return 0;
        lower += c >= 'a' && c <= 'z';
    }
    if (!lower) return 0;
    for (size_t v = 0; v < sizeof values / sizeof *values; v++)
        if (strlen(values[v]) == n && !strncasecmp(values[v], s, n)) return 0;
    return 1;
}

/* Turns token pos of t into <*>. A keyed token also marks its tree level
 * <*> in wild_path (the template stays in its leaf; a state file files it
 * under the <*> child, where the same lines reach it). */
void tpl_make_wild(tpl *t, uint32_t pos) {
    if (t->len[pos] == TPL_WILD) return;
    t->len[pos] = TPL_WILD;
    t->n_const--;
    for (uint32_t j = 0; j < t->nkey; j++)
        if (t->kpos[j] == pos) t->wild_path |= 1u << j;
}
