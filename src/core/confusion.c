/* confusion.c - sparse confusion matrix (include/logify/confusion.h): a
 * label table (hash of names -> ids in order of appearance) and a hash of
 * the (truth, pred) cells that occur. Both tables double when half full. */
#include "logify/confusion.h"

#include <stdlib.h>
#include <string.h>

void lg_confusion_init(lg_confusion *c) {
    memset(c, 0, sizeof *c);
}

void lg_confusion_clear(lg_confusion *c) {
    for (size_t i = 0; i < c->n_labels; i++) free(c->labels[i]);
    free(c->labels);
    free(c->lslot);
    free(c->cells);
    memset(c, 0, sizeof *c);
}

static uint64_t cell_hash(uint32_t t, uint32_t p) {
    uint64_t z = ((uint64_t)t << 32 | p) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- Labels -------------------------------------------------------------------- */

static size_t label_slot(const lg_confusion *c, const char *label) {
    size_t mask = c->lslots - 1, i = (size_t)lg_fnv1a64(label, strlen(label), 0) & mask;
    while (c->lslot[i] && strcmp(c->labels[c->lslot[i] - 1], label)) i = (i + 1) & mask;
    return i;
}

long lg_confusion_label_id(const lg_confusion *c, const char *label) {
    if (!c->lslots) return -1;
    uint32_t v = c->lslot[label_slot(c, label)];
    return v ? (long)v - 1 : -1;
}

static lg_err label_grow(lg_confusion *c, lg_errmsg *err) {
    size_t ns = c->lslots ? c->lslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "out of memory (confusion labels)");
    free(c->lslot);
    c->lslot = s;
    c->lslots = ns;
    for (size_t id = 0; id < c->n_labels; id++) c->lslot[label_slot(c, c->labels[id])] = (uint32_t)id + 1;
    return LG_OK;
}

static lg_err label_intern(lg_confusion *c, const char *label, uint32_t *id, lg_errmsg *err) {
    long have = lg_confusion_label_id(c, label);
    if (have >= 0) {
        *id = (uint32_t)have;
        return LG_OK;
    }
    if (c->n_labels >= 0x7fffffff) return lg_fail(err, LG_ELIMIT, "more than 2^31 labels");
    lg_err e;
    if ((c->n_labels + 1) * 2 > c->lslots && (e = label_grow(c, err))) return e;
    if (c->n_labels == c->labels_cap) {
        size_t nc = c->labels_cap ? c->labels_cap * 2 : 32;
        char **l = realloc(c->labels, nc * sizeof *l);
        if (!l) return lg_fail(err, LG_ENOMEM, "out of memory (confusion labels)");
        c->labels = l;
        c->labels_cap = nc;
    }
    char *copy = lg_strdup(label);
    if (!copy) return lg_fail(err, LG_ENOMEM, "confusion labels: out of memory");
    c->labels[c->n_labels] = copy;
    c->lslot[label_slot(c, label)] = (uint32_t)c->n_labels + 1;
    *id = (uint32_t)c->n_labels++;
    return LG_OK;
}

/* ---- Cells --------------------------------------------------------------------- */

static size_t cell_slot(const lg_confusion_cell *cells, size_t slots, uint32_t t, uint32_t p) {
    size_t mask = slots - 1, i = (size_t)cell_hash(t, p) & mask;
    while (cells[i].rows && (cells[i].truth != t || cells[i].pred != p)) i = (i + 1) & mask;
    return i;
}

uint64_t lg_confusion_get(const lg_confusion *c, uint32_t truth, uint32_t pred) {
    if (!c->cslots) return 0;
    return c->cells[cell_slot(c->cells, c->cslots, truth, pred)].rows;
}

static lg_err cells_grow(lg_confusion *c, lg_errmsg *err) {
    size_t ns = c->cslots ? c->cslots * 2 : 256;
    lg_confusion_cell *n = calloc(ns, sizeof *n);
    if (!n) return lg_fail(err, LG_ENOMEM, "out of memory (confusion cells)");
    for (size_t i = 0; i < c->cslots; i++)
        if (c->cells[i].rows) n[cell_slot(n, ns, c->cells[i].truth, c->cells[i].pred)] = c->cells[i];
    free(c->cells);
    c->cells = n;
    c->cslots = ns;
    return LG_OK;
}

lg_err lg_confusion_add(lg_confusion *c, const char *truth, const char *pred, lg_errmsg *err) {
    uint32_t t, p;
    lg_err e;
    if ((e = label_intern(c, truth, &t, err)) || (e = label_intern(c, pred, &p, err))) return e;
    if ((c->n_cells + 1) * 2 > c->cslots && (e = cells_grow(c, err))) return e;
    lg_confusion_cell *cell = &c->cells[cell_slot(c->cells, c->cslots, t, p)];
    if (!cell->rows) {
        cell->truth = t;
        cell->pred = p;
        c->n_cells++;
    }
    cell->rows++;
    c->rows++;
    return LG_OK;
}

json_t *lg_confusion_json(const lg_confusion *c) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < c->n_labels; i++) {
        json_t *row = json_object();
        if (!row || json_object_set_new(o, c->labels[i], row)) {
            json_decref(o);
            return NULL;
        }
    }
    for (size_t s = 0; o && s < c->cslots; s++) {
        const lg_confusion_cell *cell = &c->cells[s];
        if (!cell->rows) continue;
        json_t *row = json_object_get(o, c->labels[cell->truth]);
        if (json_object_set_new(row, c->labels[cell->pred], json_integer((json_int_t)cell->rows))) {
            json_decref(o);
            return NULL;
        }
    }
    /* labels only ever predicted have no row of their own */
    for (size_t i = 0; o && i < c->n_labels; i++)
        if (!json_object_size(json_object_get(o, c->labels[i]))) json_object_del(o, c->labels[i]);
    return o;
}
