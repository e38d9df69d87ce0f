/* llm.h - the LLM stage: an OpenAI-compatible chat API client
 * (docs/llm.md).
 *
 * One lg_llm per process, built from the configuration file's `llm:`
 * section, a `.env` file in the working directory and the environment
 * (GROQ_API_KEY / LOGIFY_LLM_*). It is shared read-only by every thread;
 * what it mutates (template cache, circuit breaker, counters) is locked or
 * atomic. Each worker thread owns its curl multi handle (stage scratch). */
#ifndef LOGIFY_LLM_H
#define LOGIFY_LLM_H

#include "logify/common.h"
#include "logify/config.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_llm lg_llm;

/* The reason lg_llm_new gives when there is neither an API key nor a base
 * URL; the pipeline writes it as the detail of every row routed to the
 * stage. */
#define LG_LLM_NOT_CONFIGURED "llm not configured"
/* What to tell the user to turn it on (for a warning, not for details). */
#define LG_LLM_CONFIG_HINT                                                                         \
    "set GROQ_API_KEY (or LOGIFY_LLM_API_KEY), or LOGIFY_LLM_BASE_URL for a local "                \
    "OpenAI-compatible server; see docs/llm.md"

/* Creates the client from the configuration (cfg->doc's `llm:` section,
 * cfg may be NULL), `.env` in the working directory and the environment.
 * Returns LG_ENOTFOUND with LG_LLM_NOT_CONFIGURED in err when the LLM is not
 * configured (no key and no base URL): the stage is then off. A bad setting
 * is LG_EINVAL naming it. Loads the persisted template cache if one is
 * configured. Caller frees *out with lg_llm_free. */
lg_err lg_llm_new(const lg_config *cfg, lg_llm **out, lg_errmsg *err);
/* Saves the template cache (when persisted and changed) and frees.
 * NULL is fine. */
void lg_llm_free(lg_llm *llm);

/* The LLM stage for one route; borrows llm (which is thread-safe).
 * spec->labels are the allowed labels (NULL: the default set from the
 * `llm: labels:` setting, else Workflow Error, Deprecation Warning). */
lg_err lg_llm_stage_new(lg_llm *llm, const lg_stage_spec *spec, lg_stage *out, lg_errmsg *err);

/* ---- Counters (for --stats and the server's metrics) ------------------- */

/* Why the stage left a row Unclassified. */
typedef enum {
    LG_LLM_WHY_REQUEST = 0, /* the request failed: network, timeout, HTTP error */
    LG_LLM_WHY_UNAVAILABLE, /* not sent: circuit breaker open, deadline spent */
    LG_LLM_WHY_OFF_LIST,    /* the answer was not an allowed label */
    LG_LLM_WHY_NO_ANSWER,   /* no usable answer (unparsable, out of memory) */
    LG_LLM_WHY_KINDS
} lg_llm_why;

/* "request failed", "answer not an allowed label", ... */
const char *lg_llm_why_name(lg_llm_why why);

/* What adds up (docs/llm.md, "Counters"): calls = answered + failures;
 * rows_labelled + rows_off_list + rows_unavailable = rows the stage saw;
 * rows_unlabelled = rows_off_list + rows_unavailable = the sum of
 * unlabelled_by[] (rows_off_list = unlabelled_by[LG_LLM_WHY_OFF_LIST]). */
typedef struct {
    uint64_t calls;            /* HTTP requests sent (retries, probes included) */
    uint64_t retries;          /* of those, re-sends of a request after a failure */
    uint64_t answered;         /* calls that got a chat completion back */
    uint64_t failures;         /* calls that did not (error, timeout, refusal) */
    uint64_t refusals;         /* of those, a constrain form refused (400/422/500) */
    uint64_t form_probes;      /* calls made to find the constrain form */
    uint64_t cache_hits;       /* rows answered from the template cache */
    uint64_t deduplicated;     /* labelled rows that shared another row's
                                  request (same template in one batch) */
    uint64_t rows_labelled;    /* rows given an allowed label */
    uint64_t rows_off_list;    /* rows whose answer was no allowed label */
    uint64_t rows_unavailable; /* rows that got no answer at all */
    uint64_t rows_unlabelled;  /* rows left Unclassified by the stage */
    uint64_t unlabelled_by[LG_LLM_WHY_KINDS]; /* the same rows by reason */
    uint64_t breaker_trips;    /* times the circuit breaker opened */
    uint64_t breaker_probes;   /* half-open probe calls */
    uint64_t breaker_closes;   /* times a probe closed it again */
    uint64_t prompt_tokens;   /* as reported by the server (usage) */
    uint64_t completion_tokens;
    uint64_t cache_evictions; /* least recently used templates dropped from
                                 a full cache */
} lg_llm_counters;

/* A consistent-enough snapshot (each field read atomically); zeros for a
 * NULL llm. */
void lg_llm_get_counters(const lg_llm *llm, lg_llm_counters *out);
/* Appends a one-line human description of the counters to out. */
lg_err lg_llm_counters_format(const lg_llm_counters *c, lg_buf *out);
/* Appends what cost rows their label, once per reason with the first
 * reason's text, e.g. "llm stage left 3 rows Unclassified: 3 request failed
 * (first: llm request failed: ...)". Appends nothing when no row was left
 * Unclassified by the stage. */
lg_err lg_llm_failures_format(const lg_llm *llm, lg_buf *out);
/* The model name and the host the client talks to (no key, no path
 * credentials); static for the life of llm. */
const char *lg_llm_model(const lg_llm *llm);
const char *lg_llm_endpoint(const lg_llm *llm);

/* Writes the template cache to its file now (a no-op when not persisted
 * or unchanged). */
lg_err lg_llm_cache_save(lg_llm *llm, lg_errmsg *err);

/* ---- Text helpers (exposed for the tests) -------------------------------- */

/* The masked template of a message: numbers, hex ids, UUIDs and IPv4
 * addresses replaced by <N>, <HEX>, <UUID>, <IP>; blank runs collapsed.
 * Appended to out (cap checked). */
lg_err lg_llm_template(const char *msg, size_t len, lg_buf *out);

/* Which allowed label an answer names, compared case- and
 * blank-insensitively; NULL when none. Returns labels[i] itself. */
const char *lg_llm_match_label(const char *answer, size_t len, char *const *labels, size_t n);

/* Parses the answer to a one-message request: a bare label, a quoted one,
 * {"label": "..."} or <category>...</category> (code fences and a
 * trailing full stop tolerated). Returns the allowed label or NULL. */
const char *lg_llm_parse_single(const char *content, size_t len, char *const *labels, size_t n);

/* Longest raw answer kept (for a record's detail). */
#define LG_LLM_RAW_MAX 96

/* Parses the answer to an n-message request: a JSON object with a list of
 * n labels ({"labels": [...]}; strings or {"label": ...} items) or a bare
 * list, possibly wrapped in prose or code fences. out[i] gets the allowed
 * label or NULL (off-list), raw[i] (optional, may be NULL) the item's text,
 * truncated. Returns LG_EPARSE when no list of exactly n items can be
 * found. */
lg_err lg_llm_parse_batch(const char *content, size_t len, size_t n, char *const *labels,
                          size_t n_labels, const char **out, char (*raw)[LG_LLM_RAW_MAX]);

#ifdef __cplusplus
}
#endif
#endif
