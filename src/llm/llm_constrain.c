/* llm_constrain.c - answers constrained to the allowed labels: the request
 * fields of each server kind's form (OpenAI structured outputs, llama.cpp's
 * top-level json_schema and GBNF grammar, vLLM's guided decoding, Ollama's
 * format), the probe that finds the strongest form a server honours, and
 * the step down to a weaker form when a server refuses one
 * (docs/llm.md, "Constrained answers").
 *
 * The schema is an enum of the route's labels (plus `Unclassified` when
 * allow_unclassified is on): {"label": <enum>} for one message,
 * {"labels": [<enum> x n]} with minItems = maxItems = n for a batch. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_int.h"
#include "logify/jsonguard.h"

#define PROBE_TOKEN "zq-logify-probe"      /* no model says this unprompted */
#define CONSTRAIN_CACHE_MODEL "logify:constrain" /* cache key: (this, "-", url) */

/* ---- Schemas and grammars ----------------------------------------------------------- */

/* The enum: the labels, then Unclassified when allowed and not a label. */
static json_t *label_enum(char *const *labels, size_t n, int allow_unclassified) {
    json_t *e = json_array();
    int has = 0;
    for (size_t i = 0; e && i < n; i++) {
        has |= !strcmp(labels[i], "Unclassified");
        if (json_array_append_new(e, json_string(labels[i]))) goto fail;
    }
    if (e && allow_unclassified && !has && json_array_append_new(e, json_string("Unclassified")))
        goto fail;
    return e;
fail:
    json_decref(e);
    return NULL;
}

/* {"label": enum} or {"labels": [enum] of exactly n}. Takes the enum. */
static json_t *answer_schema(json_t *en, size_t n_msgs) {
    json_t *item = json_pack("{s:s, s:o}", "type", "string", "enum", en);
    if (!item) return NULL;
    json_t *prop = n_msgs == 1 ? item
                               : json_pack("{s:s, s:o, s:I, s:I}", "type", "array", "items", item,
                                           "minItems", (json_int_t)n_msgs, "maxItems",
                                           (json_int_t)n_msgs);
    const char *key = n_msgs == 1 ? "label" : "labels";
    return prop ? json_pack("{s:s, s:{s:o}, s:[s], s:b}", "type", "object", "properties", key,
                            prop, "required", key, "additionalProperties", 0)
                : NULL;
}

/* Appends s as a GBNF string literal that matches s JSON-encoded. */
static lg_err gbnf_json_string(lg_buf *g, const char *s) {
    json_t *tmp = json_string(s);
    char *js = lg_json_dumps(tmp, JSON_ENCODE_ANY);
    json_decref(tmp);
    if (!js) return LG_ENOMEM;
    lg_err e = lg_buf_putc(g, '"');
    for (const char *p = js; *p && !e; p++) {
        if (*p == '"' || *p == '\\') e = lg_buf_putc(g, '\\');
        if (!e) e = lg_buf_putc(g, *p);
    }
    if (!e) e = lg_buf_putc(g, '"');
    free(js);
    return e;
}

/* A GBNF grammar for the answer: the same shape as answer_schema. */
static char *answer_grammar(json_t *en, size_t n_msgs) {
    lg_buf g;
    lg_buf_init(&g, 1u << 20);
    lg_err e = lg_buf_printf(&g, "root ::= \"{\\\"%s\\\": %s\" ", n_msgs == 1 ? "label" : "labels",
                             n_msgs == 1 ? "" : "[");
    for (size_t i = 0; i < n_msgs && !e; i++)
        e = lg_buf_printf(&g, "%slabel ", i ? "\", \" " : "");
    if (!e) e = lg_buf_printf(&g, "\"%s}\"\nlabel ::= ", n_msgs == 1 ? "" : "]");
    for (size_t i = 0; i < json_array_size(en) && !e; i++) {
        if (i) e = lg_buf_append(&g, " | ", 3);
        if (!e) e = gbnf_json_string(&g, json_string_value(json_array_get(en, i)));
    }
    if (!e) e = lg_buf_putc(&g, '\n');
    char *out = e ? NULL : lg_strdup(lg_buf_cstr(&g));
    lg_buf_free(&g);
    return out;
}

lg_err llm_constrain_apply(json_t *body, llm_form form, char *const *labels, size_t n_labels,
                           int allow_unclassified, size_t n_msgs) {
    if (form == LLM_FORM_NONE) return LG_OK;
    if (form == LLM_FORM_JSON) /* any JSON: only worth it for a list */
        return n_msgs > 1 && json_object_set_new(body, "response_format",
                                                 json_pack("{s:s}", "type", "json_object"))
                   ? LG_ENOMEM
                   : LG_OK;
    json_t *en = label_enum(labels, n_labels, allow_unclassified);
    if (!en) return LG_ENOMEM;
    int rc = -1;
    if (form == LLM_FORM_GRAMMAR) {
        char *g = answer_grammar(en, n_msgs);
        json_decref(en);
        if (!g) return LG_ENOMEM;
        rc = json_object_set_new(body, "grammar", json_string(g));
        free(g);
        return rc ? LG_ENOMEM : LG_OK;
    }
    if (form == LLM_FORM_GUIDED && n_msgs == 1)
        return json_object_set_new(body, "guided_choice", en) ? LG_ENOMEM : LG_OK;
    json_t *schema = answer_schema(en, n_msgs);
    if (!schema) return LG_ENOMEM;
    switch (form) {
    case LLM_FORM_SCHEMA:
        rc = json_object_set_new(body, "response_format",
                                 json_pack("{s:s, s:{s:s, s:b, s:o}}", "type", "json_schema",
                                           "json_schema", "name", "logify_labels", "strict", 1,
                                           "schema", schema));
        break;
    case LLM_FORM_JSON_SCHEMA: rc = json_object_set_new(body, "json_schema", schema); break;
    case LLM_FORM_GUIDED: rc = json_object_set_new(body, "guided_json", schema); break;
    case LLM_FORM_FORMAT: rc = json_object_set_new(body, "format", schema); break;
    default: json_decref(schema); break;
    }
    return rc ? LG_ENOMEM : LG_OK;
}

/* ---- Stepping down ------------------------------------------------------------------- */

int llm_constrain_step_down(lg_llm *llm, llm_form refused) {
    llm_form first, last;
    llm_constrain_range(llm->constrain, &first, &last);
    if (refused >= last) return 0;
    int expect = (int)refused, next = (int)refused + 1;
    if (__atomic_compare_exchange_n(&llm->form, &expect, next, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
        lg_log(LG_LOG_WARN, "llm: the server refuses the '%s' form; using '%s' from now on",
               llm_form_name(refused), llm_form_name((llm_form)next));
        if (llm->cache)
            llm_cache_put(llm->cache, CONSTRAIN_CACHE_MODEL, "-", llm->url,
                          llm_form_name((llm_form)next));
    }
    return 1;
}

/* ---- The probe ----------------------------------------------------------------------- */

typedef enum { PROBE_HONOURED, PROBE_IGNORED, PROBE_REFUSED, PROBE_NO_ANSWER } probe_result;

/* One probe request in form f: the answer is constrained to PROBE_TOKEN,
 * which the prompt never mentions, so only a server that honours the form
 * answers it. */
static probe_result probe_one(lg_llm *llm, llm_http *h, llm_form f, double deadline,
                              lg_errmsg *err) {
    char *const token[] = {PROBE_TOKEN};
    json_t *body = json_pack("{s:s, s:f, s:I, s:[{s:s, s:s}, {s:s, s:s}]}", "model", llm->model,
                             "temperature", 0.0, "max_tokens", (json_int_t)48, "messages",
                             "role", "system", "content", "Reply with a short greeting.", "role",
                             "user", "content", "Hello!");
    if (!body) return PROBE_NO_ANSWER;
    llm_req r = {0};
    r.form = f;
    r.form_probe = 1;
    if (llm_constrain_apply(body, f, token, 1, 0, 1) == LG_OK)
        r.body = lg_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!r.body) return PROBE_NO_ANSWER;
    r.body_len = strlen(r.body);
    lg_err e = llm_http_run(llm, h, &r, 1, deadline, err);
    LLM_COUNT(llm, form_probes, r.attempt);
    probe_result out = PROBE_NO_ANSWER;
    if (!e && r.state == LLM_REQ_REFUSED)
        out = PROBE_REFUSED;
    else if (!e && r.state == LLM_REQ_FAILED && r.status) /* an error reply: not this form */
        out = PROBE_IGNORED;
    else if (!e && r.state == LLM_REQ_OK)
        out = f >= LLM_FORM_JSON ||
                      lg_llm_parse_single(r.content, strlen(r.content), token, 1) != NULL
                  ? PROBE_HONOURED
                  : PROBE_IGNORED;
    free(r.body);
    free(r.content);
    return out;
}

void llm_constrain_ensure(lg_llm *llm, llm_http *h, double deadline) {
    llm_form first, last;
    llm_constrain_range(llm->constrain, &first, &last);
    if (first == last || __atomic_load_n(&llm->form_known, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&llm->form_mu);
    if (__atomic_load_n(&llm->form_known, __ATOMIC_ACQUIRE) || lg_now() < llm->probe_not_before)
        goto out;
    char name[64];
    if (llm->cache && llm_cache_get(llm->cache, CONSTRAIN_CACHE_MODEL, "-", llm->url, name,
                                    sizeof name)) {
        for (int f = (int)first; f <= (int)last; f++)
            if (!strcmp(name, llm_form_name((llm_form)f))) {
                __atomic_store_n(&llm->form, f, __ATOMIC_RELAXED);
                __atomic_store_n(&llm->form_known, 1, __ATOMIC_RELEASE);
                lg_log(LG_LOG_INFO, "llm: constrain form '%s' (remembered for %s)", name,
                       llm->endpoint);
                goto out;
            }
    }
    llm_form chosen = last;
    for (int f = (int)first; f <= (int)last; f++) {
        if (f >= LLM_FORM_JSON) { /* cannot be told from an answer: refusals step down */
            chosen = (llm_form)f;
            break;
        }
        lg_errmsg err;
        probe_result pr = probe_one(llm, h, (llm_form)f, deadline, &err);
        if (pr == PROBE_NO_ANSWER) { /* server away: ask again in a while */
            llm->probe_not_before = lg_now() + 10;
            goto out;
        }
        if (pr == PROBE_HONOURED) {
            chosen = (llm_form)f;
            break;
        }
    }
    __atomic_store_n(&llm->form, (int)chosen, __ATOMIC_RELAXED);
    __atomic_store_n(&llm->form_known, 1, __ATOMIC_RELEASE);
    if (chosen < LLM_FORM_JSON && chosen == last)
        lg_log(LG_LOG_WARN, "llm: %s honours no form of constrain %s; using '%s' anyway",
               llm->endpoint, llm->constrain == LLM_CONSTRAIN_SCHEMA ? "schema" : "auto",
               llm_form_name(chosen));
    else
        lg_log(LG_LOG_INFO, "llm: constrain form '%s' for %s (probed)", llm_form_name(chosen),
               llm->endpoint);
    if (llm->cache) llm_cache_put(llm->cache, CONSTRAIN_CACHE_MODEL, "-", llm->url,
                                  llm_form_name(chosen));
out:
    pthread_mutex_unlock(&llm->form_mu);
}
