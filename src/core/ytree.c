/* ytree.c - libyaml event stream -> lg_ynode tree with line numbers. */
#include "logify/ytree.h"

#include "logify/dynlib_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YTREE_MAX_DEPTH 64

static lg_ynode *node_new(lg_ynode_kind kind, unsigned line) {
    lg_ynode *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

void lg_ytree_free(lg_ynode *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) lg_ytree_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
}

static int node_push(lg_ynode *parent, lg_ynode *child) {
    lg_ynode **p = realloc(parent->items, (parent->n + 1) * sizeof *p);
    if (!p) return -1;
    parent->items = p;
    parent->items[parent->n++] = child;
    return 0;
}

static lg_err no_memory(const char *name, lg_errmsg *err) {
    return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading YAML", name);
}

/* The parser's failure: its syntax error with the place, or out of memory
 * (libyaml's malloc failed: no place, and no syntax error to report). */
static lg_err parse_fail(const yaml_parser_t *ps, const char *name, lg_errmsg *err) {
    if (ps->error == YAML_MEMORY_ERROR) return no_memory(name, err);
    return lg_fail(err, LG_EPARSE, "%s:%zu:%zu: %s", name, ps->problem_mark.line + 1,
                   ps->problem_mark.column + 1, ps->problem ? ps->problem : "syntax error");
}

/* Builds the node that starts with the event just read; recursive with a
 * depth cap. */
static lg_err build(yaml_parser_t *ps, yaml_event_t *ev, const char *name, int depth,
                    lg_ynode **out, lg_errmsg *err) {
    unsigned line = (unsigned)ev->start_mark.line + 1;
    *out = NULL;
    if (depth > YTREE_MAX_DEPTH) return lg_fail(err, LG_EPARSE, "%s:%u: nesting too deep", name, line);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return lg_fail(err, LG_EPARSE, "%s:%u: YAML aliases are not supported", name, line);
    case YAML_SCALAR_EVENT: {
        lg_ynode *n = node_new(LG_Y_SCALAR, line);
        if (!n) return no_memory(name, err);
        n->str = lg_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->len = ev->data.scalar.length;
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        if (!n->str) {
            free(n);
            return no_memory(name, err);
        }
        *out = n;
        return LG_OK;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        lg_ynode *n = node_new(is_map ? LG_Y_MAP : LG_Y_SEQ, line);
        if (!n) return no_memory(name, err);
        for (;;) {
            yaml_event_t child_ev;
            if (!lg_yaml()->parser_parse(ps, &child_ev)) {
                lg_ytree_free(n);
                return parse_fail(ps, name, err);
            }
            if (child_ev.type == end) {
                lg_yaml()->event_delete(&child_ev);
                break;
            }
            lg_ynode *child = NULL;
            lg_err e = build(ps, &child_ev, name, depth + 1, &child, err);
            lg_yaml()->event_delete(&child_ev);
            if (!e && node_push(n, child) != 0) {
                lg_ytree_free(child);
                e = no_memory(name, err);
            }
            if (e) {
                lg_ytree_free(n);
                return e;
            }
        }
        if (is_map) {
            for (size_t i = 0; i < n->n; i += 2) {
                if (n->items[i]->kind != LG_Y_SCALAR) {
                    unsigned kl = n->items[i]->line;
                    lg_ytree_free(n);
                    return lg_fail(err, LG_EPARSE, "%s:%u: map keys must be plain strings", name, kl);
                }
            }
        }
        *out = n;
        return LG_OK;
    }
    default:
        return lg_fail(err, LG_EPARSE, "%s:%u: unexpected YAML event", name, line);
    }
}

lg_err lg_ytree_parse(const char *text, size_t len, const char *name, lg_ynode **out,
                      lg_errmsg *err) {
    yaml_parser_t ps;
    yaml_event_t ev;
    lg_err e = LG_OK;
    *out = NULL;
    lg_err le = lg_yaml_load(err);
    if (le) return le;
    if (!lg_yaml()->parser_initialize(&ps)) return no_memory(name, err);
    lg_yaml()->parser_set_input_string(&ps, (const unsigned char *)text, len);
    for (;;) {
        if (!lg_yaml()->parser_parse(&ps, &ev)) {
            e = parse_fail(&ps, name, err);
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
            lg_yaml()->event_delete(&ev);
            break;
        }
        if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
            e = build(&ps, &ev, name, 0, out, err);
            lg_yaml()->event_delete(&ev);
            break;
        }
        lg_yaml()->event_delete(&ev);
    }
    lg_yaml()->parser_delete(&ps);
    if (e) {
        lg_ytree_free(*out);
        *out = NULL;
    }
    if (!e && !*out) e = lg_fail(err, LG_EPARSE, "%s: empty document", name);
    return e;
}

lg_err lg_ytree_load(const char *path, size_t max_bytes, lg_ynode **out, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, max_bytes, &text, &len, err);
    if (e) return e;
    e = lg_ytree_parse(text, len, path, out, err);
    free(text);
    return e;
}

const lg_ynode *lg_ymap_get(const lg_ynode *m, const char *key) {
    if (!m || m->kind != LG_Y_MAP) return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->items[i]->str, key) == 0) return m->items[i + 1];
    return NULL;
}

const char *lg_yscalar(const lg_ynode *n) { return n && n->kind == LG_Y_SCALAR ? n->str : NULL; }

lg_err lg_ynumber(const lg_ynode *n, const char *what, double *out, lg_errmsg *err) {
    const char *s = lg_yscalar(n);
    if (!s) return lg_fail(err, LG_EINVAL, "line %u: %s must be a number", n ? n->line : 0, what);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return lg_fail(err, LG_EINVAL, "line %u: %s must be a number, got '%s'", n->line, what, s);
    *out = v;
    return LG_OK;
}

lg_err lg_ybool(const lg_ynode *n, const char *what, int *out, lg_errmsg *err) {
    const char *s = lg_yscalar(n);
    if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))) {
        *out = 1;
        return LG_OK;
    }
    if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))) {
        *out = 0;
        return LG_OK;
    }
    return lg_fail(err, LG_EINVAL, "line %u: %s must be true or false", n ? n->line : 0, what);
}
