/* llm_int.h - what the LLM stage's files (llm.c, llm_http.c, llm_text.c)
 * share and nobody else sees: the client struct, the request type of the
 * HTTP layer and small text helpers. */
#ifndef LOGIFY_LLM_INT_H
#define LOGIFY_LLM_INT_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "logify/dynlib_curl.h"
#include "logify/llm.h"

/* ---- The client (immutable after lg_llm_new, except where noted) -------- */

/* How a request asks the server to keep its answer to the allowed labels
 * (docs/llm.md, "Constrained answers"), strongest first. */
typedef enum {
    LLM_FORM_SCHEMA = 0, /* OpenAI: response_format {type: json_schema, json_schema: {...}} */
    LLM_FORM_JSON_SCHEMA, /* llama.cpp: top-level json_schema */
    LLM_FORM_GUIDED,      /* vLLM: guided_choice (one message) / guided_json */
    LLM_FORM_FORMAT,      /* Ollama: format = the schema */
    LLM_FORM_GRAMMAR,     /* llama.cpp: a GBNF grammar */
    LLM_FORM_JSON,        /* response_format {type: json_object}: any JSON */
    LLM_FORM_NONE,        /* nothing: the prompt alone */
    LLM_FORMS
} llm_form;

/* The `constrain` setting: which forms may be used. */
typedef enum {
    LLM_CONSTRAIN_AUTO = 0,
    LLM_CONSTRAIN_SCHEMA,
    LLM_CONSTRAIN_GRAMMAR,
    LLM_CONSTRAIN_JSON,
    LLM_CONSTRAIN_NONE
} llm_constrain;

/* The name of a form as the settings, logs and cache file spell it. */
const char *llm_form_name(llm_form f);
/* The request field a server names when it refuses the form. */
const char *llm_form_field(llm_form f);
/* The range of forms a constrain setting allows: [*first, *last]. */
void llm_constrain_range(llm_constrain c, llm_form *first, llm_form *last);

typedef struct llm_cache llm_cache;

struct lg_llm {
    char *url;      /* full chat-completions URL */
    char *endpoint; /* scheme://host[:port] for messages */
    char *model;
    char *api_key;        /* never printed; NULL for keyless local servers */
    char *auth_header;    /* "Authorization: Bearer <key>" or NULL */
    size_t batch;         /* messages per request */
    size_t concurrency;   /* requests in flight per stage call */
    size_t max_message;   /* bytes of one message put in a prompt */
    long max_tokens;      /* per request, scaled by batch; 0 = not sent */
    unsigned max_retries; /* re-sends after the first attempt */
    double timeout;       /* per request, seconds */
    double connect_timeout;
    double deadline; /* per stage call, seconds */
    double backoff;  /* first backoff, seconds (doubles per retry) */
    double max_backoff;
    double max_retry_after;
    unsigned breaker_failures; /* consecutive failures that open it */
    double breaker_cooldown;   /* seconds between half-open probes */
    double breaker_wait;       /* seconds after a trip that rows wait for a probe */
    llm_constrain constrain;
    int allow_unclassified; /* `Unclassified` is in the enum sent */
    int adaptive;           /* concurrency adapts (starts at 2, up to `concurrency`) */
    char **default_labels;
    size_t n_default_labels;

    /* mutable, shared by threads */
    int form;                 /* atomic: the form requests use now (llm_form) */
    int form_known;           /* atomic: 1 once probed or remembered */
    double probe_not_before;  /* under form_mu: no new probe before (lg_now()) */
    pthread_mutex_t form_mu;  /* held while one thread probes */
    pthread_mutex_t breaker_mu; /* guards the breaker fields below */
    unsigned consecutive_failures;
    int open;               /* the breaker is open */
    double opened_at;       /* lg_now() time of the trip */
    double next_probe;      /* lg_now() time of the next half-open probe */
    int half_open_probe;    /* a probe is out */
    char last_failure[128];
    double window;          /* adaptive concurrency: requests in flight allowed */
    double best_latency;    /* shortest answered request seen, seconds */
    pthread_mutex_t why_mu;     /* guards first_why */
    char first_why[LG_LLM_WHY_KINDS][160]; /* the first reason of each kind */
    llm_cache *cache;         /* own lock inside */
    lg_llm_counters counters; /* atomic adds */
};

#define LLM_COUNT(llm, field, n)                                                                   \
    __atomic_fetch_add(&(llm)->counters.field, (uint64_t)(n), __ATOMIC_RELAXED)

/* Counts one row left Unclassified for why (llm.c), keeping the first text. */
void llm_count_unlabelled(lg_llm *llm, lg_llm_why why, const char *reason);

/* ---- HTTP layer (llm_http.c) -------------------------------------------- */

typedef enum {
    LLM_REQ_PENDING = 0,
    LLM_REQ_OK,              /* HTTP 200 with a parsable reply: content set */
    LLM_REQ_FAILED,  /* gave up: reason set */
    LLM_REQ_REFUSED  /* HTTP 400/422/500 naming the form's field */
} llm_req_state;

typedef struct {
    /* in */
    char *body; /* request JSON; owned by the caller */
    size_t body_len;
    llm_form form;  /* how the answer is constrained */
    int form_probe; /* a constrain-form probe: any HTTP reply is a verdict */
    /* bookkeeping */
    unsigned attempt;  /* attempts made (calls) */
    unsigned tries;    /* of those, made while the breaker was closed */
    double not_before; /* lg_now() time of the next attempt */
    int running;
    int probe; /* this attempt is the breaker's half-open trial */
    /* out */
    llm_req_state state;
    long status;    /* HTTP status of the last attempt; 0: no reply */
    char *content;              /* OK: the answer text (malloc'd; caller frees) */
    char reason[LG_DETAIL_MAX]; /* FAILED: why (no key in it) */
} llm_req;

/* Per-thread transport: a curl multi handle (keeps connections alive
 * between calls) and one easy handle per concurrent request. */
typedef struct llm_http llm_http;

lg_err llm_http_new(const lg_llm *llm, llm_http **out, lg_errmsg *err);
void llm_http_free(llm_http *h);

/* Sends reqs[0..n-1] with at most llm->concurrency in flight, retrying
 * with backoff, honouring Retry-After and the circuit breaker, until each
 * is OK, FAILED or JSON_UNSUPPORTED, or the absolute lg_now() deadline
 * passes (the rest FAILED). Never takes longer than the deadline plus a
 * fraction of a second. Returns an error only when curl itself fails. */
lg_err llm_http_run(lg_llm *llm, llm_http *h, llm_req *reqs, size_t n, double deadline,
                    lg_errmsg *err);

/* The circuit breaker (docs/llm.md, "Circuit breaker"); `now` is lg_now()
 * time, passed in so that tests can drive it with their own clock.
 * allow: 1 = go, 2 = go as the half-open probe (release it with
 * release_probe if it ends without record), 0 = wait until *retry_at
 * (reason says why). record: a call's outcome (failed: why; probe: it was
 * the half-open probe). */
int llm_breaker_allow(lg_llm *llm, double now, double *retry_at, char *reason, size_t cap);
void llm_breaker_release_probe(lg_llm *llm);
void llm_breaker_record(lg_llm *llm, int failed, int probe, const char *why, double now);

/* Parses a Retry-After header value: delay-seconds or an HTTP date (the
 * three forms of RFC 9110) relative to now. Returns 1 with *out = seconds
 * to wait (>= 0; a past date gives 0), 0 when it is neither. */
int llm_parse_retry_after(const char *value, size_t len, time_t now, double *out);

/* ---- Constrained answers (llm_constrain.c) -------------------------------- */

/* Adds the fields of `form` to a request body for n_msgs messages whose
 * answers must be one of labels (plus Unclassified when allowed). */
lg_err llm_constrain_apply(json_t *body, llm_form form, char *const *labels, size_t n_labels,
                           int allow_unclassified, size_t n_msgs);
/* Finds the form to use when the setting leaves a choice and it is not
 * known yet (remembered in the cache file, else probed through h within
 * deadline); a server that cannot be reached leaves it unknown. */
void llm_constrain_ensure(lg_llm *llm, llm_http *h, double deadline);
/* After the server refused `refused`: moves to the next weaker form of the
 * setting's range (once, whichever thread sees it first). Returns 0 when
 * there is none. */
int llm_constrain_step_down(lg_llm *llm, llm_form refused);

/* ---- Template cache (llm_cache.c) ----------------------------------------- */

/* Maps (model, label set, masked template) to the label the model gave;
 * at most max_entries, the least recently used evicted first; thread-safe;
 * optionally loaded from and saved to a JSON-lines file (oldest first). */
lg_err llm_cache_new(const char *path, size_t max_entries, llm_cache **out, lg_errmsg *err);
void llm_cache_free(llm_cache *c);
/* Copies the cached label into label[cap] and makes the entry the most
 * recently used; returns 1 on a hit. */
int llm_cache_get(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                  char *label, size_t cap);
/* Adds or replaces an entry, as the most recently used; when the cache is
 * full the least recently used one is evicted. */
void llm_cache_put(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                   const char *label);
/* Entries held, and entries evicted since the cache was created (not
 * counting a file longer than the cache at load). */
size_t llm_cache_count(llm_cache *c);
uint64_t llm_cache_evictions(llm_cache *c);
/* Writes the file (temporary file + rename) when persisted and changed
 * (entries or their recency order); lookups wait only while the entries
 * are copied out, not for the disk. */
lg_err llm_cache_save(llm_cache *c, lg_errmsg *err);

/* ---- Stage (llm_stage.c) ---------------------------------------------------- */

/* Starts a run on a stage scratch (what the stage's scratch_new made): from
 * now on, the stage calls made with it share one `deadline` of LLM time
 * (rows past it get a reason, cache hits still answer) until the next
 * llm_stage_begin_run. Without it, `deadline` bounds each call on its own.
 * The hook for the pipeline to mark a run (one classify, one HTTP request):
 * see docs/llm.md, "deadline". */
void llm_stage_begin_run(void *scratch);

/* ---- Text helpers (llm_text.c) ------------------------------------------ */

/* Appends s[0..len) with invalid UTF-8 replaced by U+FFFD and NULs by
 * blanks, at most max bytes of input. */
lg_err llm_utf8_clean(const char *s, size_t len, size_t max, lg_buf *out);
/* Copies a printable, truncated view of s into dst[cap]. */
void llm_snippet(const char *s, size_t len, char *dst, size_t cap);
/* Replaces every occurrence of key in s (NUL-terminated) with "***". */
void llm_scrub(char *s, const char *key);

#endif
