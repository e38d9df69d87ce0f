/* rules.c - load a YAML rules file, compile it into one Vectorscan
 * database (PCRE2 JIT for what Vectorscan cannot take), match lines. */
#include "logify/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/dynlib_hs.h"
#include "logify/dynlib_pcre2.h"
#include "logify/ytree.h"

#define RULES_MAX_FILE (16u << 20) /* 16 MiB of YAML */
#define RULES_MAX_COUNT 100000

struct lg_rules {
    lg_rule *rules;           /* (count) in file order */
    size_t count;
    hs_database_t *db;        /* Vectorscan rules; ids = rule index */
    pcre2_code **pcre;        /* (count) compiled fallback, NULL for VS rules */
    size_t *fallback;         /* indices of PCRE2 rules, ascending */
    size_t n_fallback;
    size_t max_ovector;
};

struct lg_rules_scratch {
    hs_scratch_t *hs;
    pcre2_match_data *md;
};

/* ---- Loading --------------------------------------------------------------- */

static void rule_clear(lg_rule *r) {
    free((char *)r->id);
    free((char *)r->label);
    free((char *)r->pattern);
    free((char *)r->fallback_reason);
    for (size_t i = 0; i < r->n_sources; i++) free(r->sources[i]);
    free(r->sources);
}

void lg_rules_free(lg_rules *r) {
    if (!r) return;
    for (size_t i = 0; i < r->count; i++) {
        rule_clear(&r->rules[i]);
        if (r->pcre && r->pcre[i]) lg_pcre2()->code_free(r->pcre[i]);
    }
    free(r->rules);
    free(r->pcre);
    free(r->fallback);
    if (r->db) lg_hs()->free_database(r->db);
    free(r);
}

/* Records one problem: into diag (all of them) and err (the first). */
typedef struct {
    const char *name;
    lg_buf *diag;
    lg_errmsg *err;
    size_t problems;
    int oom; /* an allocation failed: not a problem of the file */
} problems;

static void problem(problems *p, unsigned line, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(problems *p, unsigned line, const char *id, const char *fmt, ...) {
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char full[LG_ERRMSG_MAX];
    if (id)
        snprintf(full, sizeof full, "%s:%u: rule '%s': %s", p->name, line, id, what);
    else
        snprintf(full, sizeof full, "%s:%u: %s", p->name, line, what);
    if (p->problems == 0 && p->err) snprintf(p->err->msg, sizeof p->err->msg, "%s", full);
    if (p->diag) lg_buf_printf(p->diag, "%s\n", full);
    p->problems++;
}

static int parse_flags(const lg_ynode *f, unsigned *flags, problems *p, const char *id) {
    const lg_ynode *one = f;
    size_t n = 1;
    if (f->kind == LG_Y_SEQ) n = f->n;
    else if (f->kind != LG_Y_SCALAR) {
        problem(p, f->line, id, "flags must be a list such as [caseless]");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (f->kind == LG_Y_SEQ) one = f->items[i];
        const char *s = lg_yscalar(one);
        if (!s) {
            problem(p, one->line, id, "each flag must be a word");
            return -1;
        }
        if (!strcmp(s, "caseless") || !strcmp(s, "i")) *flags |= LG_RULE_CASELESS;
        else if (!strcmp(s, "dotall") || !strcmp(s, "s")) *flags |= LG_RULE_DOTALL;
        else if (!strcmp(s, "multiline") || !strcmp(s, "m")) *flags |= LG_RULE_MULTILINE;
        else if (!strcmp(s, "utf8") || !strcmp(s, "u")) *flags |= LG_RULE_UTF8;
        else {
            problem(p, one->line, id,
                    "unknown flag '%s' (known: caseless, dotall, multiline, utf8)", s);
            return -1;
        }
    }
    return 0;
}

static int parse_sources(const lg_ynode *s, lg_rule *rule, problems *p) {
    size_t n = s->kind == LG_Y_SEQ ? s->n : 1;
    if (s->kind == LG_Y_MAP) {
        problem(p, s->line, rule->id, "sources must be a list of source names");
        return -1;
    }
    rule->sources = lg_calloc(n ? n : 1, sizeof *rule->sources);
    if (!rule->sources) return p->oom = 1, -1;
    for (size_t i = 0; i < n; i++) {
        const lg_ynode *one = s->kind == LG_Y_SEQ ? s->items[i] : s;
        if (one->kind != LG_Y_SCALAR) {
            problem(p, one->line, rule->id, "each source must be a name");
            return -1;
        }
        if (!(rule->sources[rule->n_sources++] = lg_strdup(one->str))) return p->oom = 1, -1;
    }
    return 0;
}

/* Fills rule from its YAML map; returns -1 after recording a problem. */
static int parse_rule(const lg_ynode *m, lg_rule *rule, problems *p) {
    rule->line = m->line;
    if (m->kind != LG_Y_MAP) {
        problem(p, m->line, NULL, "each rule must be a map with id, label and pattern");
        return -1;
    }
    const char *id = lg_yscalar(lg_ymap_get(m, "id"));
    for (size_t i = 0; i < m->n; i += 2) {
        const char *k = m->items[i]->str;
        if (strcmp(k, "id") && strcmp(k, "label") && strcmp(k, "pattern") && strcmp(k, "flags") &&
            strcmp(k, "sources") && strcmp(k, "description")) {
            problem(p, m->items[i]->line, id,
                    "unknown key '%s' (known: id, label, pattern, flags, sources, description)", k);
            return -1;
        }
    }
    const char *label = lg_yscalar(lg_ymap_get(m, "label"));
    const char *pattern = lg_yscalar(lg_ymap_get(m, "pattern"));
    if (!id || !*id) {
        problem(p, m->line, NULL, "rule has no id");
        return -1;
    }
    if (!label || !*label) {
        problem(p, m->line, id, "rule has no label");
        return -1;
    }
    if (!strcmp(label, LG_UNCLASSIFIED)) {
        problem(p, m->line, id, "'%s' is not a label a rule may give", LG_UNCLASSIFIED);
        return -1;
    }
    if (!pattern || !*pattern) {
        problem(p, m->line, id, "rule has no pattern");
        return -1;
    }
    rule->id = lg_strdup(id);
    rule->label = lg_strdup(label);
    rule->pattern = lg_strdup(pattern);
    if (!rule->id || !rule->label || !rule->pattern) return p->oom = 1, -1;
    const lg_ynode *f = lg_ymap_get(m, "flags");
    if (f && parse_flags(f, &rule->flags, p, id) != 0) return -1;
    const lg_ynode *s = lg_ymap_get(m, "sources");
    if (s && parse_sources(s, rule, p) != 0) return -1;
    return 0;
}

static unsigned hs_flags_of(unsigned f) {
    unsigned hf = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
    if (f & LG_RULE_CASELESS) hf |= HS_FLAG_CASELESS;
    if (f & LG_RULE_DOTALL) hf |= HS_FLAG_DOTALL;
    if (f & LG_RULE_MULTILINE) hf |= HS_FLAG_MULTILINE;
    return hf;
}

static uint32_t pcre_flags_of(unsigned f) {
    uint32_t pf = 0;
    if (f & LG_RULE_CASELESS) pf |= PCRE2_CASELESS;
    if (f & LG_RULE_DOTALL) pf |= PCRE2_DOTALL;
    if (f & LG_RULE_MULTILINE) pf |= PCRE2_MULTILINE;
    if (f & LG_RULE_UTF8) pf |= PCRE2_UTF | PCRE2_UCP;
    return pf;
}

/* Compiles rule i with PCRE2 (JIT when available). */
static int compile_pcre(lg_rules *r, size_t i, problems *p) {
    lg_rule *rule = &r->rules[i];
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = lg_pcre2()->compile((PCRE2_SPTR)rule->pattern, PCRE2_ZERO_TERMINATED,
                                   pcre_flags_of(rule->flags), &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        lg_pcre2()->get_error_message(code, msg, sizeof msg);
        problem(p, rule->line, rule->id, "pattern does not compile at offset %zu: %s", (size_t)off,
                (const char *)msg);
        return -1;
    }
    lg_pcre2()->jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is off */
    uint32_t cap = 0;
    lg_pcre2()->pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &cap);
    if (cap + 1 > r->max_ovector) r->max_ovector = cap + 1;
    r->pcre[i] = re;
    rule->engine = LG_ENGINE_PCRE2;
    return 0;
}

/* Compiles every Vectorscan rule into one database; a rule Vectorscan
 * rejects moves to PCRE2 (or is reported when PCRE2 rejects it too). */
static int compile_all(lg_rules *r, problems *p) {
    size_t n = r->count;
    const char **pats = lg_malloc((n ? n : 1) * sizeof *pats);
    unsigned *flags = lg_malloc((n ? n : 1) * sizeof *flags);
    unsigned *ids = lg_malloc((n ? n : 1) * sizeof *ids);
    char *excluded = lg_calloc(n ? n : 1, 1);
    int rc = -1;
    if (!pats || !flags || !ids || !excluded) goto done;
    for (size_t i = 0; i < n; i++) {
        if (!r->rules[i].pattern) { /* the rule did not parse: reported already */
            excluded[i] = 1;
            continue;
        }
        if (r->rules[i].flags & LG_RULE_UTF8) {
            excluded[i] = 1;
            r->rules[i].fallback_reason = lg_strdup("utf8 rules run on PCRE2");
            if (compile_pcre(r, i, p) != 0) { /* reported */ }
        }
    }
    for (;;) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (excluded[i]) continue;
            pats[m] = r->rules[i].pattern;
            flags[m] = hs_flags_of(r->rules[i].flags);
            ids[m] = (unsigned)i;
            m++;
        }
        if (m == 0) break;
        hs_compile_error_t *cerr = NULL;
        hs_database_t *db = NULL;
        if (lg_hs()->compile_multi(pats, flags, ids, (unsigned)m, HS_MODE_BLOCK, NULL, &db,
                                   &cerr) == HS_SUCCESS) {
            r->db = db;
            break;
        }
        if (cerr->expression < 0 || (size_t)cerr->expression >= m) {
            problem(p, 0, NULL, "Vectorscan: %s", cerr->message);
            lg_hs()->free_compile_error(cerr);
            goto done;
        }
        size_t bad = ids[cerr->expression];
        excluded[bad] = 1;
        r->rules[bad].fallback_reason = lg_strdup(cerr->message);
        lg_hs()->free_compile_error(cerr);
        compile_pcre(r, bad, p); /* a PCRE2 failure is recorded as a problem */
    }
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) nf += r->pcre[i] != NULL;
    r->fallback = lg_malloc((nf ? nf : 1) * sizeof *r->fallback);
    if (!r->fallback) goto done;
    for (size_t i = 0; i < n; i++)
        if (r->pcre[i]) r->fallback[r->n_fallback++] = i;
    rc = 0;
done:
    free(pats);
    free(flags);
    free(ids);
    free(excluded);
    return rc;
}

lg_err lg_rules_parse(const char *text, size_t len, const char *name, lg_buf *diag,
                      lg_rules **out, lg_errmsg *err) {
    *out = NULL;
    lg_ynode *doc = NULL;
    lg_err e = lg_hs_load(err); /* Vectorscan: loaded with the first rules, not at start-up */
    if (!e) e = lg_pcre2_load(err); /* and PCRE2 */
    if (!e) e = lg_ytree_parse(text, len, name, &doc, err);
    if (e) {
        if (diag && err) lg_buf_printf(diag, "%s\n", err->msg);
        return e;
    }
    problems p = {name, diag, err, 0, 0};
    const lg_ynode *list = doc;
    lg_rules *r = lg_calloc(1, sizeof *r);
    if (!r) {
        lg_ytree_free(doc);
        return lg_fail(err, LG_ENOMEM, "rules: out of memory");
    }
    if (doc->kind == LG_Y_MAP) {
        const lg_ynode *ver = lg_ymap_get(doc, "version");
        if (ver && (!lg_yscalar(ver) || strcmp(ver->str, "1") != 0))
            problem(&p, ver->line, NULL, "unsupported rules format version (this Logify reads 1)");
        list = lg_ymap_get(doc, "rules");
        if (!list) problem(&p, doc->line, NULL, "no 'rules:' list");
    }
    if (list && list->kind != LG_Y_SEQ) {
        problem(&p, list->line, NULL, "'rules' must be a list of rules");
        list = NULL;
    }
    if (list && list->n > RULES_MAX_COUNT)
        problem(&p, list->line, NULL, "more than %d rules", RULES_MAX_COUNT);
    if (p.problems == 0 && list) {
        size_t n = list->n;
        r->rules = lg_calloc(n ? n : 1, sizeof *r->rules);
        r->pcre = lg_calloc(n ? n : 1, sizeof *r->pcre);
        if (!r->rules || !r->pcre) {
            e = lg_fail(err, LG_ENOMEM, "rules: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (parse_rule(list->items[i], &r->rules[r->count], &p) == 0 && !p.oom) {
                for (size_t j = 0; j < r->count; j++) {
                    if (!strcmp(r->rules[j].id, r->rules[r->count].id)) {
                        problem(&p, list->items[i]->line, r->rules[j].id,
                                "duplicate id (first defined on line %u)", r->rules[j].line);
                        break;
                    }
                }
            }
            r->count++; /* a partly filled rule is freed with the rest */
            if (p.oom) {
                e = lg_fail(err, LG_ENOMEM, "rules: out of memory");
                goto out;
            }
        }
        /* compile even after other problems, so that `rules check` reports
         * every problem at once */
        if (compile_all(r, &p) != 0 && p.problems == 0) e = lg_fail(err, LG_ENOMEM, "rules: compiling the patterns: out of memory");
    }
    if (!e && p.problems) e = LG_ECOMPILE;
out:
    lg_ytree_free(doc);
    if (e) {
        if (p.problems > 1 && err) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l, " (and %zu more problems)", p.problems - 1);
        }
        lg_rules_free(r);
        return e;
    }
    *out = r;
    return LG_OK;
}

lg_err lg_rules_load(const char *path, lg_buf *diag, lg_rules **out, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    lg_err e = lg_read_file(path, RULES_MAX_FILE, &text, &len, err);
    if (e) {
        if (diag && err) lg_buf_printf(diag, "%s\n", err->msg);
        return e;
    }
    e = lg_rules_parse(text, len, path, diag, out, err);
    free(text);
    return e;
}

size_t lg_rules_count(const lg_rules *r) { return r->count; }
const lg_rule *lg_rules_get(const lg_rules *r, size_t i) { return i < r->count ? &r->rules[i] : NULL; }
size_t lg_rules_fallback_count(const lg_rules *r) { return r->n_fallback; }

/* ---- Matching ---------------------------------------------------------------- */

lg_err lg_rules_scratch_new(const lg_rules *r, lg_rules_scratch **out, lg_errmsg *err) {
    lg_rules_scratch *s = lg_calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "rules scratch: out of memory");
    if (r->db && lg_hs()->alloc_scratch(r->db, &s->hs) != HS_SUCCESS) {
        free(s);
        return lg_fail(err, LG_ENOMEM, "out of memory for Vectorscan's scratch space");
    }
    if (r->n_fallback &&
        !(s->md = lg_pcre2()->match_data_create((uint32_t)(r->max_ovector ? r->max_ovector : 1), NULL))) {
        if (s->hs) lg_hs()->free_scratch(s->hs);
        free(s);
        return lg_fail(err, LG_ENOMEM, "rules scratch: out of memory");
    }
    *out = s;
    return LG_OK;
}

void lg_rules_scratch_free(lg_rules_scratch *s) {
    if (!s) return;
    if (s->hs) lg_hs()->free_scratch(s->hs);
    lg_pcre2()->match_data_free(s->md);
    free(s);
}

static int applies(const lg_rule *rule, const char *source) {
    if (!rule->sources) return 1;
    if (!source) return 0;
    for (size_t i = 0; i < rule->n_sources; i++)
        if (!strcmp(rule->sources[i], source)) return 1;
    return 0;
}

typedef struct {
    const lg_rules *r;
    const char *source;
    unsigned best;           /* lowest applicable matching index so far */
    lg_rule_outcome *outcome; /* explain mode: record every match */
} scan_ctx;

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *user) {
    (void)from;
    (void)to;
    (void)flags;
    scan_ctx *c = user;
    if (!applies(&c->r->rules[id], c->source)) return 0;
    if (c->outcome) c->outcome[id] = LG_RULE_MATCHED;
    if (id < c->best) c->best = id;
    return !c->outcome && id == 0; /* rule 0 cannot be beaten: stop */
}

static int pcre_matches(const lg_rules *r, lg_rules_scratch *s, size_t i, const char *msg,
                        size_t len) {
    int rc = lg_pcre2()->match(r->pcre[i], (PCRE2_SPTR)msg, len, 0, 0, s->md, NULL);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) return -1; /* bad UTF-8 */
    return 0; /* match limits etc.: treat as no match */
}

long lg_rules_match(const lg_rules *r, lg_rules_scratch *s, const char *source, const char *msg,
                    size_t len) {
    scan_ctx c = {r, source, (unsigned)r->count, NULL};
    if (r->db) {
        hs_error_t he = lg_hs()->scan(r->db, msg, (unsigned)len, 0, s->hs, on_match, &c);
        if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED) return -2;
    }
    for (size_t k = 0; k < r->n_fallback && r->fallback[k] < c.best; k++) {
        size_t i = r->fallback[k];
        if (applies(&r->rules[i], source) && pcre_matches(r, s, i, msg, len) == 1) return (long)i;
    }
    return c.best < r->count ? (long)c.best : -1;
}

lg_err lg_rules_explain(const lg_rules *r, lg_rules_scratch *s, const char *source,
                        const char *msg, size_t len, lg_rule_outcome *outcome, lg_errmsg *err) {
    for (size_t i = 0; i < r->count; i++)
        outcome[i] = applies(&r->rules[i], source) ? LG_RULE_NO_MATCH : LG_RULE_OTHER_SOURCE;
    scan_ctx c = {r, source, (unsigned)r->count, outcome};
    if (r->db) {
        hs_error_t he = lg_hs()->scan(r->db, msg, (unsigned)len, 0, s->hs, on_match, &c);
        if (he != HS_SUCCESS && he != HS_SCAN_TERMINATED)
            return lg_fail(err, LG_EINTERNAL, "Vectorscan scan failed (%d)", he);
    }
    for (size_t k = 0; k < r->n_fallback; k++) {
        size_t i = r->fallback[k];
        if (outcome[i] == LG_RULE_OTHER_SOURCE) continue;
        int m = pcre_matches(r, s, i, msg, len);
        if (m == 1) outcome[i] = LG_RULE_MATCHED;
        else if (m < 0) outcome[i] = LG_RULE_BAD_UTF8;
    }
    return LG_OK;
}

/* ---- The stage ------------------------------------------------------------------ */

static lg_err stage_scratch_new(const void *ctx, void **out, lg_errmsg *err) {
    return lg_rules_scratch_new(ctx, (lg_rules_scratch **)out, err);
}

static void stage_scratch_free(void *s) { lg_rules_scratch_free(s); }

static lg_err stage_process(const void *ctx, void *scratch, lg_record **recs, size_t n,
                            lg_errmsg *err) {
    const lg_rules *r = ctx;
    for (size_t i = 0; i < n; i++) {
        lg_record *rec = recs[i];
        long k = lg_rules_match(r, scratch, rec->source, rec->message, rec->message_len);
        if (k == -2) return lg_fail(err, LG_ENOMEM, "rules stage: Vectorscan scan failed");
        if (k >= 0) {
            lg_record_decide(rec, LG_STAGE_RULES, r->rules[k].label, 1.0);
            lg_record_detail(rec, "rule %s", r->rules[k].id);
        } else {
            lg_record_detail(rec, "no rule matched");
        }
    }
    return LG_OK;
}

static const lg_stage_ops rules_stage_ops = {
    "rules", LG_STAGE_RULES, stage_scratch_new, stage_scratch_free, stage_process, NULL, NULL,
};

lg_err lg_rules_stage_new(const lg_rules *rules, const lg_stage_spec *spec, lg_stage *out,
                          lg_errmsg *err) {
    (void)spec;
    (void)err;
    out->ops = &rules_stage_ops;
    out->ctx = (void *)rules; /* borrowed; ctx_free is NULL */
    return LG_OK;
}
