/* ytree.h - a YAML document loaded (with libyaml) into a small read-only
 * tree of maps, sequences and scalars that remembers each node's line, so
 * that configuration errors can name the line they come from. */
#ifndef LOGIFY_YTREE_H
#define LOGIFY_YTREE_H

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LG_Y_SCALAR, LG_Y_SEQ, LG_Y_MAP } lg_ynode_kind;

typedef struct lg_ynode lg_ynode;
struct lg_ynode {
    lg_ynode_kind kind;
    unsigned line;      /* 1-based line of the node's start */
    char *str;          /* SCALAR: the value (NUL-terminated) */
    size_t len;         /* SCALAR: its length */
    int quoted;         /* SCALAR: written with quotes */
    lg_ynode **items;   /* SEQ: items; MAP: keys and values interleaved */
    size_t n;           /* SEQ: item count; MAP: 2 * pair count */
};

/* Parses a YAML text (first document only). `name` is used in messages
 * ("rules.yaml:12:3: ..."). Aliases are rejected. Caller frees *out with
 * lg_ytree_free. */
lg_err lg_ytree_parse(const char *text, size_t len, const char *name, lg_ynode **out,
                      lg_errmsg *err);
/* Reads and parses a file (at most max_bytes). */
lg_err lg_ytree_load(const char *path, size_t max_bytes, lg_ynode **out, lg_errmsg *err);
void lg_ytree_free(lg_ynode *n);

/* MAP lookup; NULL when absent or when m is not a map. */
const lg_ynode *lg_ymap_get(const lg_ynode *m, const char *key);
/* Scalar string or NULL when n is not a scalar. */
const char *lg_yscalar(const lg_ynode *n);
/* Parses a scalar as a double / boolean; LG_EINVAL with a message naming
 * `what` and the line otherwise. */
lg_err lg_ynumber(const lg_ynode *n, const char *what, double *out, lg_errmsg *err);
lg_err lg_ybool(const lg_ynode *n, const char *what, int *out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
