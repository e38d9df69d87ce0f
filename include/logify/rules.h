/* rules.h - the rules stage: regexes from a YAML rules file compiled into
 * one Vectorscan database (one scan per line), with PCRE2 (JIT) as the
 * fallback for rules Vectorscan cannot compile (lookaround,
 * backreferences) and for rules flagged utf8. The first matching rule in
 * file order wins, as in the prototype. See docs/rules.md for the format.
 *
 * A compiled lg_rules is immutable and may be shared by any number of
 * threads; each thread matches with its own lg_rules_scratch.
 */
#ifndef LOGIFY_RULES_H
#define LOGIFY_RULES_H

#include "logify/common.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_rules lg_rules;
typedef struct lg_rules_scratch lg_rules_scratch;

enum {
    LG_RULE_CASELESS = 1u << 0,
    LG_RULE_DOTALL = 1u << 1,
    LG_RULE_MULTILINE = 1u << 2,
    LG_RULE_UTF8 = 1u << 3 /* pattern and message are UTF-8; PCRE2 engine */
};

typedef enum { LG_ENGINE_VECTORSCAN = 0, LG_ENGINE_PCRE2 = 1 } lg_rule_engine;

/* One rule as loaded; all strings owned by the lg_rules. */
typedef struct {
    const char *id;
    const char *label;
    const char *pattern;
    unsigned line;        /* line of the rule in its file */
    unsigned flags;       /* LG_RULE_* */
    char **sources;       /* NULL: every source */
    size_t n_sources;
    lg_rule_engine engine;
    const char *fallback_reason; /* why PCRE2 was used (Vectorscan's
                                    message), NULL for Vectorscan rules */
} lg_rule;

/* Loads and compiles a rules file. On failure *out is NULL and err holds
 * the first problem; if diag is non-NULL every problem found is appended
 * to it, one line each ("FILE:LINE: rule 'ID': message"). Caller frees
 * *out with lg_rules_free. */
lg_err lg_rules_load(const char *path, lg_buf *diag, lg_rules **out, lg_errmsg *err);
/* Same from text; name is used in messages. */
lg_err lg_rules_parse(const char *text, size_t len, const char *name, lg_buf *diag,
                      lg_rules **out, lg_errmsg *err);
void lg_rules_free(lg_rules *r);

size_t lg_rules_count(const lg_rules *r);
const lg_rule *lg_rules_get(const lg_rules *r, size_t i);
/* Number of rules compiled with the PCRE2 fallback. */
size_t lg_rules_fallback_count(const lg_rules *r);

lg_err lg_rules_scratch_new(const lg_rules *r, lg_rules_scratch **out, lg_errmsg *err);
void lg_rules_scratch_free(lg_rules_scratch *s);

/* Index of the first rule (file order) that applies to `source` and
 * matches `msg`, or -1 when none does. source may be NULL (no source).
 * Returns -2 on an engine failure (out of memory in the matcher). */
long lg_rules_match(const lg_rules *r, lg_rules_scratch *s, const char *source, const char *msg,
                    size_t len);

/* What each rule made of one message, for `logify rules test`. */
typedef enum {
    LG_RULE_NO_MATCH = 0,
    LG_RULE_MATCHED = 1,      /* matched; the winner is the first of these */
    LG_RULE_OTHER_SOURCE = 2, /* not applied: the rule is for other sources */
    LG_RULE_BAD_UTF8 = 3      /* utf8 rule skipped: message is not UTF-8 */
} lg_rule_outcome;

/* Fills outcome[0..count-1]. */
lg_err lg_rules_explain(const lg_rules *r, lg_rules_scratch *s, const char *source,
                        const char *msg, size_t len, lg_rule_outcome *outcome, lg_errmsg *err);

/* The rules stage for one route. The stage borrows `rules`, which must
 * outlive it. */
lg_err lg_rules_stage_new(const lg_rules *rules, const lg_stage_spec *spec, lg_stage *out,
                          lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
