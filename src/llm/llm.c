/* llm.c - the LLM client: its configuration (config file `llm:` section,
 * `.env` in the working directory, environment; later sources win), the
 * shared lg_llm and its counters (docs/llm.md). The stage itself is in
 * llm_stage.c, the transport in llm_http.c, answer parsing in llm_text.c,
 * the template cache in llm_cache.c. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/llm_int.h"
#include "logify/ytree.h"

#define LLM_DEFAULT_BASE_URL "https://api.groq.com/openai/v1"
#define LLM_DEFAULT_MODEL "llama-3.3-70b-versatile"
#define LLM_DOTENV_MAX (64u << 10)

/* ---- Settings --------------------------------------------------------------------- */

/* Settings as collected from the sources, before they are checked. */
typedef struct {
    char *api_key, *base_url, *model, *cache_path;
    size_t cache_size;
    int cache_off;
} raw_settings;

static void raw_free(raw_settings *r) {
    free(r->api_key);
    free(r->base_url);
    free(r->model);
    free(r->cache_path);
}

/* Replaces *slot with a copy of v ("" clears it). */
static lg_err set_str(char **slot, const char *v, lg_errmsg *err) {
    char *c = *v ? lg_strdup(v) : NULL;
    if (*v && !c) return lg_fail(err, LG_ENOMEM, "llm settings: out of memory");
    free(*slot);
    *slot = c;
    return LG_OK;
}

static lg_err parse_num(const char *v, double lo, double hi, const char *name, const char *where,
                        double *out, lg_errmsg *err) {
    char *end;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == v || *end || !(d >= lo && d <= hi))
        return lg_fail(err, LG_EINVAL, "%s: llm %s must be a number from %g to %g, not '%.40s'",
                       where, name, lo, hi, v);
    *out = d;
    return LG_OK;
}

/* Applies one setting (key as in the config file) from `where` (for
 * messages). The API key's value is never echoed. */
static lg_err apply(lg_llm *llm, raw_settings *raw, const char *key, const char *v,
                    const char *where, lg_errmsg *err) {
    double d;
    lg_err e;
    if (!strcmp(key, "api_key")) return set_str(&raw->api_key, v, err);
    if (!strcmp(key, "base_url")) return set_str(&raw->base_url, v, err);
    if (!strcmp(key, "model")) return set_str(&raw->model, v, err);
    if (!strcmp(key, "cache")) {
        raw->cache_off = !*v || !strcasecmp(v, "off") || !strcasecmp(v, "none");
        return set_str(&raw->cache_path, raw->cache_off ? "" : v, err);
    }
    if (!strcmp(key, "constrain") || !strcmp(key, "json_mode")) {
        /* json_mode (the older setting): auto, on = json, off = none */
        static const struct {
            const char *name;
            llm_constrain c;
        } names[] = {{"auto", LLM_CONSTRAIN_AUTO},     {"schema", LLM_CONSTRAIN_SCHEMA},
                     {"grammar", LLM_CONSTRAIN_GRAMMAR}, {"json", LLM_CONSTRAIN_JSON},
                     {"none", LLM_CONSTRAIN_NONE},     {"on", LLM_CONSTRAIN_JSON},
                     {"true", LLM_CONSTRAIN_JSON},     {"off", LLM_CONSTRAIN_NONE},
                     {"false", LLM_CONSTRAIN_NONE}};
        int legacy = !strcmp(key, "json_mode");
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            if (strcasecmp(v, names[i].name)) continue;
            if (!legacy && i >= 5) break; /* on/off are json_mode's words only */
            if (legacy && (i >= 1 && i <= 4)) break;
            llm->constrain = names[i].c;
            return LG_OK;
        }
        return lg_fail(err, LG_EINVAL,
                       legacy ? "%s: llm json_mode must be auto, on or off"
                              : "%s: llm constrain must be auto, schema, grammar, json or none",
                       where);
    }
    if (!strcmp(key, "allow_unclassified") || !strcmp(key, "adaptive")) {
        int on = !strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "yes");
        if (!on && strcasecmp(v, "off") && strcasecmp(v, "false") && strcasecmp(v, "no"))
            return lg_fail(err, LG_EINVAL, "%s: llm %s must be on or off", where, key);
        if (!strcmp(key, "adaptive"))
            llm->adaptive = on;
        else
            llm->allow_unclassified = on;
        return LG_OK;
    }
#define NUM(name, lo, hi, assign)                                                                  \
    if (!strcmp(key, name)) {                                                                      \
        if ((e = parse_num(v, lo, hi, name, where, &d, err)) == LG_OK) assign;                     \
        return e;                                                                                  \
    }
    NUM("batch", 1, 64, llm->batch = (size_t)d)
    NUM("concurrency", 1, 64, llm->concurrency = (size_t)d)
    NUM("timeout", 0.01, 3600, llm->timeout = d)
    NUM("connect_timeout", 0.01, 600, llm->connect_timeout = d)
    NUM("deadline", 0.05, 86400, llm->deadline = d)
    NUM("retries", 0, 20, llm->max_retries = (unsigned)d)
    NUM("backoff", 0, 600, llm->backoff = d)
    NUM("max_backoff", 0, 3600, llm->max_backoff = d)
    NUM("max_retry_after", 0, 3600, llm->max_retry_after = d)
    NUM("breaker_failures", 1, 100000, llm->breaker_failures = (unsigned)d)
    NUM("breaker_cooldown", 0.01, 86400, llm->breaker_cooldown = d)
    NUM("breaker_wait", 0, 86400, llm->breaker_wait = d)
    NUM("max_tokens", 0, 1000000, llm->max_tokens = (long)d)
    NUM("max_message", 16, 1 << 20, llm->max_message = (size_t)d)
    NUM("cache_size", 0, 100000000, raw->cache_size = (size_t)d)
#undef NUM
    return lg_fail(err, LG_EINVAL, "%s: llm has no setting '%.60s' (see docs/llm.md)", where, key);
}

/* Environment variable -> setting. Later entries win, so LOGIFY_LLM_API_KEY
 * beats GROQ_API_KEY. */
static const struct {
    const char *env, *key;
} env_map[] = {
    {"GROQ_API_KEY", "api_key"},           {"LOGIFY_LLM_API_KEY", "api_key"},
    {"LOGIFY_LLM_BASE_URL", "base_url"},   {"LOGIFY_LLM_MODEL", "model"},
    {"LOGIFY_LLM_BATCH", "batch"},         {"LOGIFY_LLM_CONCURRENCY", "concurrency"},
    {"LOGIFY_LLM_TIMEOUT", "timeout"},     {"LOGIFY_LLM_DEADLINE", "deadline"},
    {"LOGIFY_LLM_RETRIES", "retries"},     {"LOGIFY_LLM_CACHE", "cache"},
    {"LOGIFY_LLM_JSON_MODE", "json_mode"}, {"LOGIFY_LLM_CONSTRAIN", "constrain"},
    {"LOGIFY_LLM_ADAPTIVE", "adaptive"},
};
#define N_ENV (sizeof env_map / sizeof *env_map)

/* Reads `.env` in the working directory (KEY=VALUE lines, `export`,
 * quotes and comments as python-dotenv takes them) into vals[N_ENV]; only
 * the names in env_map are kept. A missing file is fine. */
static lg_err read_dotenv(char **vals, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    lg_errmsg ignore;
    if (lg_read_file(".env", LLM_DOTENV_MAX, &text, &len, &ignore) != LG_OK) return LG_OK;
    lg_err e = LG_OK;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !e; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (!strncmp(line, "export ", 7)) line += 7;
        char *eq = strchr(line, '=');
        if (*line == '#' || !eq) continue;
        char *k_end = eq;
        while (k_end > line && isspace((unsigned char)k_end[-1]))
            k_end--;
        *k_end = '\0';
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        size_t vl = strlen(v);
        while (vl && isspace((unsigned char)v[vl - 1]))
            v[--vl] = '\0';
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v[vl - 1] = '\0';
            v++;
        } else {
            char *hash = strstr(v, " #");
            if (hash) {
                *hash = '\0';
                vl = strlen(v);
                while (vl && isspace((unsigned char)v[vl - 1]))
                    v[--vl] = '\0';
            }
        }
        for (size_t i = 0; i < N_ENV; i++)
            if (!strcmp(line, env_map[i].env)) e = set_str(&vals[i], v, err);
    }
    free(text);
    return e;
}

/* Applies the `llm:` section of the config file. */
static lg_err apply_config(lg_llm *llm, raw_settings *raw, const lg_config *cfg, int *dotenv,
                           lg_errmsg *err) {
    const lg_ynode *sec = cfg && cfg->doc ? lg_ymap_get(cfg->doc, "llm") : NULL;
    if (!sec) return LG_OK;
    const char *file = cfg->path ? cfg->path : "config";
    if (sec->kind != LG_Y_MAP)
        return lg_fail(err, LG_EINVAL, "%s:%u: llm must be a map of settings", file, sec->line);
    lg_err e = LG_OK;
    for (size_t i = 0; i + 1 < sec->n && !e; i += 2) {
        const char *k = sec->items[i]->str;
        const lg_ynode *v = sec->items[i + 1];
        char where[300];
        snprintf(where, sizeof where, "%s:%u", file, v->line);
        if (!strcmp(k, "labels")) {
            if (v->kind != LG_Y_SEQ || v->n == 0)
                return lg_fail(err, LG_EINVAL, "%s: llm labels must be a non-empty list", where);
            llm->default_labels = calloc(v->n, sizeof *llm->default_labels);
            if (!llm->default_labels) return lg_fail(err, LG_ENOMEM, "llm labels: out of memory");
            for (size_t j = 0; j < v->n; j++) {
                const char *l = lg_yscalar(v->items[j]);
                if (!l || !*l)
                    return lg_fail(err, LG_EINVAL, "%s: each llm label must be a string", where);
                if (!(llm->default_labels[llm->n_default_labels++] = lg_strdup(l)))
                    return lg_fail(err, LG_ENOMEM, "llm labels: out of memory");
            }
        } else if (!strcmp(k, "dotenv")) {
            e = lg_ybool(v, "llm dotenv", dotenv, err);
        } else {
            const char *s = lg_yscalar(v);
            if (!s) return lg_fail(err, LG_EINVAL, "%s: llm %s must be a single value", where, k);
            e = apply(llm, raw, k, s, where, err);
        }
    }
    return e;
}

/* Builds llm->url ("<base>/chat/completions" unless the base already ends
 * so) and llm->endpoint (scheme://host[:port], no credentials). */
static lg_err set_url(lg_llm *llm, const char *base, lg_errmsg *err) {
    if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8))
        return lg_fail(err, LG_EINVAL, "llm base_url must start with http:// or https://");
    size_t n = strlen(base);
    while (n > 8 && base[n - 1] == '/')
        n--;
    static const char suffix[] = "/chat/completions";
    size_t sl = sizeof suffix - 1;
    int has = n >= sl && !strncmp(base + n - sl, suffix, sl);
    llm->url = malloc(n + sl + 1);
    if (!llm->url) return lg_fail(err, LG_ENOMEM, "llm url: out of memory");
    memcpy(llm->url, base, n);
    memcpy(llm->url + n, has ? "" : suffix, has ? 1 : sl + 1);
    if (has) llm->url[n] = '\0';
    const char *host = strstr(base, "://") + 3;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at && (!slash || at < slash)) host = at + 1; /* drop user:password@ */
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    size_t schl = (size_t)(strstr(base, "://") - base) + 3;
    llm->endpoint = malloc(schl + hl + 1);
    if (!llm->endpoint) return lg_fail(err, LG_ENOMEM, "llm url: out of memory");
    memcpy(llm->endpoint, base, schl);
    memcpy(llm->endpoint + schl, host, hl);
    llm->endpoint[schl + hl] = '\0';
    return LG_OK;
}

/* ---- Client ------------------------------------------------------------------------- */

/* curl_global_init, once per process whichever thread gets there first. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static void curl_init_once(void) {
    curl_init_result = lg_curl()->global_init(CURL_GLOBAL_DEFAULT);
}

void lg_llm_free(lg_llm *llm) {
    if (!llm) return;
    lg_errmsg err;
    if (llm->cache && llm_cache_save(llm->cache, &err) != LG_OK) lg_log(LG_LOG_WARN, "%s", err.msg);
    llm_cache_free(llm->cache);
    free(llm->url);
    free(llm->endpoint);
    free(llm->model);
    if (llm->api_key) memset(llm->api_key, 0, strlen(llm->api_key));
    free(llm->api_key);
    if (llm->auth_header) memset(llm->auth_header, 0, strlen(llm->auth_header));
    free(llm->auth_header);
    for (size_t i = 0; i < llm->n_default_labels; i++)
        free(llm->default_labels[i]);
    free(llm->default_labels);
    pthread_mutex_destroy(&llm->breaker_mu);
    pthread_mutex_destroy(&llm->form_mu);
    pthread_mutex_destroy(&llm->why_mu);
    free(llm);
}

lg_err lg_llm_new(const lg_config *cfg, lg_llm **out, lg_errmsg *err) {
    *out = NULL;
    lg_llm *llm = calloc(1, sizeof *llm);
    if (!llm) return lg_fail(err, LG_ENOMEM, "llm client: out of memory");
    pthread_mutex_init(&llm->breaker_mu, NULL);
    pthread_mutex_init(&llm->form_mu, NULL);
    pthread_mutex_init(&llm->why_mu, NULL);
    llm->batch = 8;
    llm->concurrency = 4;
    llm->max_message = 2000;
    llm->max_tokens = 24;
    llm->max_retries = 3;
    llm->timeout = 30;
    llm->connect_timeout = 10;
    llm->deadline = 120;
    llm->backoff = 0.5;
    llm->max_backoff = 8;
    llm->max_retry_after = 30;
    llm->breaker_failures = 5;
    llm->breaker_cooldown = 2;
    llm->breaker_wait = 10;
    llm->constrain = LLM_CONSTRAIN_AUTO;
    llm->allow_unclassified = 1;
    llm->adaptive = 1;
    raw_settings raw = {0};
    raw.cache_size = 100000;
    char *dot[N_ENV] = {0};
    int dotenv = 1;
    lg_err e = apply_config(llm, &raw, cfg, &dotenv, err);
    if (!e && dotenv) e = read_dotenv(dot, err);
    /* .env first, then the real environment over it (python-dotenv never
     * overrides a variable that is already set) */
    for (int pass = 0; pass < 2 && !e; pass++) {
        for (size_t i = 0; i < N_ENV && !e; i++) {
            const char *v = pass == 0 ? dot[i] : getenv(env_map[i].env);
            if (!v || !*v) continue;
            char where[64];
            snprintf(where, sizeof where, "%s%s", pass == 0 ? ".env " : "", env_map[i].env);
            e = apply(llm, &raw, env_map[i].key, v, where, err);
        }
    }
    for (size_t i = 0; i < N_ENV; i++) {
        if (dot[i]) memset(dot[i], 0, strlen(dot[i]));
        free(dot[i]);
    }
    if (e) goto fail;
    /* adaptive concurrency starts at 2 requests in flight (or the cap) */
    llm->window = !llm->adaptive || llm->concurrency < 2 ? (double)llm->concurrency : 2.0;
    llm_form first, last;
    llm_constrain_range(llm->constrain, &first, &last);
    llm->form = (int)first;
    if (!raw.api_key && !raw.base_url) {
        e = lg_fail(err, LG_ENOTFOUND, LG_LLM_NOT_CONFIGURED);
        goto fail;
    }
    if ((e = set_url(llm, raw.base_url ? raw.base_url : LLM_DEFAULT_BASE_URL, err))) goto fail;
    llm->model = lg_strdup(raw.model ? raw.model : LLM_DEFAULT_MODEL);
    if (!llm->model) goto oom;
    json_t *probe = json_string(llm->model); /* it goes into every request body */
    if (!probe) {
        e = lg_fail(err, LG_EINVAL, "llm model must be UTF-8 text");
        goto fail;
    }
    json_decref(probe);
    if (raw.api_key) {
        for (const char *p = raw.api_key; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F) {
                e = lg_fail(err, LG_EINVAL, "llm api key holds control characters");
                goto fail;
            }
        size_t n = strlen(raw.api_key) + 32;
        llm->api_key = raw.api_key;
        raw.api_key = NULL;
        if (!(llm->auth_header = malloc(n))) goto oom;
        snprintf(llm->auth_header, n, "Authorization: Bearer %s", llm->api_key);
    }
    if (!raw.cache_off && raw.cache_size > 0 &&
        (e = llm_cache_new(raw.cache_path, raw.cache_size, &llm->cache, err)))
        goto fail;
    /* libcurl is loaded here, not at start-up (logify/dynlib.h) */
    if ((e = lg_curl_load(err))) goto fail;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        e = lg_fail(err, LG_EINTERNAL, "llm: curl_global_init failed");
        goto fail;
    }
    raw_free(&raw);
    *out = llm;
    return LG_OK;
oom:
    e = lg_fail(err, LG_ENOMEM, "llm client: out of memory");
fail:
    if (raw.api_key) memset(raw.api_key, 0, strlen(raw.api_key));
    raw_free(&raw);
    llm_scrub(err ? err->msg : NULL, llm->api_key);
    lg_llm_free(llm);
    return e;
}

const char *lg_llm_model(const lg_llm *llm) {
    return llm ? llm->model : "";
}
const char *lg_llm_endpoint(const lg_llm *llm) {
    return llm ? llm->endpoint : "";
}

lg_err lg_llm_cache_save(lg_llm *llm, lg_errmsg *err) {
    return llm && llm->cache ? llm_cache_save(llm->cache, err) : LG_OK;
}

void lg_llm_get_counters(const lg_llm *llm, lg_llm_counters *out) {
    memset(out, 0, sizeof *out);
    if (!llm) return;
#define GET(f) out->f = __atomic_load_n(&llm->counters.f, __ATOMIC_RELAXED)
    GET(calls);
    GET(retries);
    GET(answered);
    GET(failures);
    GET(refusals);
    GET(form_probes);
    GET(cache_hits);
    GET(deduplicated);
    GET(rows_labelled);
    GET(rows_off_list);
    GET(rows_unavailable);
    GET(breaker_trips);
    GET(breaker_probes);
    GET(breaker_closes);
    GET(rows_unlabelled);
    for (int k = 0; k < LG_LLM_WHY_KINDS; k++) GET(unlabelled_by[k]);
    GET(prompt_tokens);
    GET(completion_tokens);
#undef GET
    out->cache_evictions = llm_cache_evictions(llm->cache);
}

const char *lg_llm_why_name(lg_llm_why why) {
    static const char *const names[LG_LLM_WHY_KINDS] = {"request failed", "not sent (circuit open or deadline spent)",
                                                        "answer not an allowed label",
                                                        "no usable answer"};
    return why < LG_LLM_WHY_KINDS ? names[why] : "?";
}

void llm_count_unlabelled(lg_llm *llm, lg_llm_why why, const char *reason) {
    LLM_COUNT(llm, rows_unlabelled, 1);
    if (why == LG_LLM_WHY_OFF_LIST)
        LLM_COUNT(llm, rows_off_list, 1);
    else
        LLM_COUNT(llm, rows_unavailable, 1);
    LLM_COUNT(llm, unlabelled_by[why], 1);
    pthread_mutex_lock(&llm->why_mu);
    if (!llm->first_why[why][0]) snprintf(llm->first_why[why], sizeof llm->first_why[why], "%s", reason);
    pthread_mutex_unlock(&llm->why_mu);
}

lg_err lg_llm_failures_format(const lg_llm *llm, lg_buf *out) {
    lg_llm_counters c;
    lg_llm_get_counters(llm, &c);
    if (!c.rows_unlabelled) return LG_OK;
    lg_err e = lg_buf_printf(out, "llm stage left %llu row%s Unclassified:",
                             (unsigned long long)c.rows_unlabelled, c.rows_unlabelled == 1 ? "" : "s");
    const char *sep = "";
    pthread_mutex_lock((pthread_mutex_t *)&llm->why_mu);
    for (int k = 0; k < LG_LLM_WHY_KINDS && !e; k++) {
        if (!c.unlabelled_by[k]) continue;
        e = lg_buf_printf(out, "%s %llu %s (first: %s)", sep, (unsigned long long)c.unlabelled_by[k],
                          lg_llm_why_name((lg_llm_why)k), llm->first_why[k]);
        sep = ";";
    }
    pthread_mutex_unlock((pthread_mutex_t *)&llm->why_mu);
    return e;
}

lg_err lg_llm_counters_format(const lg_llm_counters *c, lg_buf *out) {
    typedef unsigned long long ull;
    return lg_buf_printf(
        out,
        "llm: %llu calls (%llu retries, %llu answered, %llu failed, %llu form refusals, %llu form "
        "probes), %llu rows labelled, %llu off-list, %llu unavailable, %llu cache hits, %llu "
        "deduplicated, %llu breaker trips, %llu breaker probes, %llu breaker closes, tokens %llu "
        "prompt + %llu "
        "completion, %llu cache evictions",
        (ull)c->calls, (ull)c->retries, (ull)c->answered, (ull)c->failures, (ull)c->refusals,
        (ull)c->form_probes, (ull)c->rows_labelled, (ull)c->rows_off_list,
        (ull)c->rows_unavailable, (ull)c->cache_hits, (ull)c->deduplicated,
        (ull)c->breaker_trips, (ull)c->breaker_probes, (ull)c->breaker_closes,
        (ull)c->prompt_tokens, (ull)c->completion_tokens, (ull)c->cache_evictions);
}

/* ---- Constrain forms ------------------------------------------------------------- */

static const struct {
    const char *name, *field;
} forms[LLM_FORMS] = {
    {"schema", "response_format"}, {"json_schema", "json_schema"}, {"guided", "guided_"},
    {"format", "format"},          {"grammar", "grammar"},         {"json", "response_format"},
    {"none", ""},
};

const char *llm_form_name(llm_form f) {
    return f < LLM_FORMS ? forms[f].name : "?";
}
const char *llm_form_field(llm_form f) {
    return f < LLM_FORMS ? forms[f].field : "";
}

void llm_constrain_range(llm_constrain c, llm_form *first, llm_form *last) {
    switch (c) {
    case LLM_CONSTRAIN_SCHEMA: *first = LLM_FORM_SCHEMA, *last = LLM_FORM_FORMAT; break;
    case LLM_CONSTRAIN_GRAMMAR: *first = *last = LLM_FORM_GRAMMAR; break;
    case LLM_CONSTRAIN_JSON: *first = *last = LLM_FORM_JSON; break;
    case LLM_CONSTRAIN_NONE: *first = *last = LLM_FORM_NONE; break;
    default: *first = LLM_FORM_SCHEMA, *last = LLM_FORM_NONE; break;
    }
}
