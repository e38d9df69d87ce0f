/* kafka_config.c - the configuration file's `kafka:` section
 * (docs/kafka.md, docs/config.md), read into lg_kafka_opts:
 *
 *   kafka:
 *     brokers: kafka1:9092,kafka2:9092   # or a list
 *     group: logify
 *     input: logs
 *     output: logs-labelled
 *     dead_letter: logs-bad
 *     exactly_once: false
 *     transactional_id: logify-a         # with exactly_once
 *     source_field: source
 *     message_field: log_message
 *     source: MyApp                      # plain-text values of this source
 *     explain: false
 *     batch: 1024
 *     threads: 2
 *     max_value: 512K
 *     grace: 30
 *     metrics_port: 9464
 *     properties:                        # librdkafka's, as -X
 *       security.protocol: ssl
 *       consumer.session.timeout.ms: 6000
 *
 * The command line's flags win over the file (cmd_kafka.c merges the two).
 * Strings are borrowed from cfg's document; a list of brokers and the
 * properties ("key=value") are made in blocks the caller frees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/kafka.h"
#include "logify/ytree.h"

static lg_err bad(lg_errmsg *err, const char *path, const lg_ynode *v, const char *what) {
    return lg_fail(err, LG_EINVAL, "%s:%u: kafka.%s", path, v->line, what);
}

static lg_err get_str(const lg_ynode *v, const char *path, const char *key, const char **out, lg_errmsg *err) {
    const char *s = lg_yscalar(v);
    char what[128];
    snprintf(what, sizeof what, "%s must be a non-empty string", key);
    if (!s || !*s) return bad(err, path, v, what);
    *out = s;
    return LG_OK;
}

static lg_err get_whole(const lg_ynode *v, const char *path, const char *key, long lo, long hi, long *out,
                        lg_errmsg *err) {
    const char *s = lg_yscalar(v);
    char *end, what[128];
    snprintf(what, sizeof what, "%s must be a whole number in %ld..%ld", key, lo, hi);
    if (!s || !*s) return bad(err, path, v, what);
    long x = strtol(s, &end, 10);
    if (*end || x < lo || x > hi) return bad(err, path, v, what);
    *out = x;
    return LG_OK;
}

static lg_err get_bool(const lg_ynode *v, const char *path, const char *key, int *out, lg_errmsg *err) {
    char what[128];
    snprintf(what, sizeof what, "%s must be true or false", key);
    return lg_ybool(v, key, out, NULL) ? bad(err, path, v, what) : LG_OK;
}

/* brokers: a string, or a list of HOST:PORT joined with commas into mem. */
static lg_err get_brokers(const lg_ynode *v, const char *path, char **mem, const char **out, lg_errmsg *err) {
    if (v->kind == LG_Y_SCALAR) return get_str(v, path, "brokers", out, err);
    if (v->kind != LG_Y_SEQ || !v->n) return bad(err, path, v, "brokers must be HOST:PORT[,...] or a list of them");
    size_t need = 1;
    for (size_t i = 0; i < v->n; i++) {
        const char *s = lg_yscalar(v->items[i]);
        if (!s || !*s) return bad(err, path, v->items[i], "brokers: each must be HOST:PORT");
        need += strlen(s) + 1;
    }
    char *b = malloc(need), *p = b;
    if (!b) return lg_fail(err, LG_ENOMEM, "kafka brokers: out of memory");
    for (size_t i = 0; i < v->n; i++) p += sprintf(p, "%s%s", i ? "," : "", lg_yscalar(v->items[i]));
    free(*mem);
    *mem = b;
    *out = b;
    return LG_OK;
}

/* properties: a map of librdkafka keys to scalar values, as "key=value"
 * strings in one block (*mem). */
static lg_err get_props(const lg_ynode *v, const char *path, lg_kafka_opts *o, char **mem, lg_errmsg *err) {
    if (v->kind != LG_Y_MAP) return bad(err, path, v, "properties must be a map of librdkafka properties");
    size_t n = v->n / 2, need = 1;
    if (n > LG_KAFKA_MAX_PROPS) return bad(err, path, v, "properties: too many (at most 64)");
    for (size_t i = 0; i < v->n; i += 2) {
        const char *k = lg_yscalar(v->items[i]), *val = lg_yscalar(v->items[i + 1]);
        if (!k || !*k || strchr(k, '=')) return bad(err, path, v->items[i], "properties: a key must be a name");
        if (!val) return bad(err, path, v->items[i + 1], "properties: a value must be a scalar");
        need += strlen(k) + strlen(val) + 2;
    }
    char *b = malloc(need), *p = b;
    if (!b) return lg_fail(err, LG_ENOMEM, "kafka properties: out of memory");
    o->n_props = 0;
    for (size_t i = 0; i < v->n; i += 2) {
        o->props[o->n_props++] = p;
        p += sprintf(p, "%s=%s", lg_yscalar(v->items[i]), lg_yscalar(v->items[i + 1])) + 1;
    }
    free(*mem);
    *mem = b;
    return LG_OK;
}

lg_err lg_kafka_opts_from_config(const lg_config *cfg, lg_kafka_opts *o, int *metrics_port, char *mem[2],
                                 lg_errmsg *err) {
    const lg_ynode *sec = cfg->doc ? lg_ymap_get(cfg->doc, "kafka") : NULL;
    const char *path = cfg->path ? cfg->path : "config";
    char *brokers_mem = NULL, *props_mem = NULL;
    mem[0] = mem[1] = NULL;
    if (!sec) return LG_OK;
    if (sec->kind != LG_Y_MAP) return bad(err, path, sec, "the section must be a map");
    lg_err e = LG_OK;
    for (size_t i = 0; i + 1 < sec->n && !e; i += 2) {
        const char *k = lg_yscalar(sec->items[i]);
        const lg_ynode *v = sec->items[i + 1];
        long x = 0;
        if (!k) e = bad(err, path, sec->items[i], "keys must be plain names");
        else if (!strcmp(k, "brokers")) e = get_brokers(v, path, &brokers_mem, &o->brokers, err);
        else if (!strcmp(k, "group")) e = get_str(v, path, k, &o->group, err);
        else if (!strcmp(k, "input")) e = get_str(v, path, k, &o->input, err);
        else if (!strcmp(k, "output")) e = get_str(v, path, k, &o->output, err);
        else if (!strcmp(k, "dead_letter")) e = get_str(v, path, k, &o->dead_letter, err);
        else if (!strcmp(k, "transactional_id")) e = get_str(v, path, k, &o->transactional_id, err);
        else if (!strcmp(k, "source")) e = get_str(v, path, k, &o->source, err);
        else if (!strcmp(k, "source_field")) e = get_str(v, path, k, &o->source_field, err);
        else if (!strcmp(k, "message_field")) e = get_str(v, path, k, &o->message_field, err);
        else if (!strcmp(k, "exactly_once")) e = get_bool(v, path, k, &o->exactly_once, err);
        else if (!strcmp(k, "explain")) e = get_bool(v, path, k, &o->explain, err);
        else if (!strcmp(k, "properties")) e = get_props(v, path, o, &props_mem, err);
        else if (!strcmp(k, "batch")) {
            if (!(e = get_whole(v, path, k, 1, 100000, &x, err))) o->batch_max = (size_t)x;
        } else if (!strcmp(k, "threads")) {
            if (!(e = get_whole(v, path, k, 1, 64, &x, err))) o->threads = (int)x;
        } else if (!strcmp(k, "metrics_port")) {
            if (!(e = get_whole(v, path, k, 0, 65535, &x, err))) *metrics_port = (int)x;
        } else if (!strcmp(k, "max_value")) {
            if (lg_parse_size(lg_yscalar(v), &o->max_value) || o->max_value < 1 || o->max_value > (256u << 20))
                e = bad(err, path, v, "max_value must be a size such as 512K (at most 256M)");
        } else if (!strcmp(k, "grace")) {
            double g;
            if (lg_ynumber(v, "kafka.grace", &g, NULL) || g <= 0 || g > 86400)
                e = bad(err, path, v, "grace must be a number of seconds in (0, 86400]");
            else
                o->grace_seconds = g;
        } else {
            char what[160];
            snprintf(what, sizeof what, "%.64s: unknown setting (see docs/kafka.md)", k);
            e = bad(err, path, sec->items[i], what);
        }
    }
    if (e) {
        free(brokers_mem);
        free(props_mem);
        return e;
    }
    mem[0] = brokers_mem;
    mem[1] = props_mem;
    return LG_OK;
}
