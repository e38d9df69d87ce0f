/* llm_http.c - the LLM stage's transport: chat-completion requests sent
 * concurrently through libcurl's multi interface, with bounded retries
 * (exponential backoff with jitter, Retry-After honoured), a per-request
 * timeout, an absolute deadline and a circuit breaker shared by all
 * threads.
 *
 * One llm_http per worker thread (the stage's scratch); the lg_llm it reads
 * is shared, and only its breaker (mutex) and counters (atomics) change. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm/llm_int.h"
#include "logify/jsonguard.h"

#define HTTP_MAX_REPLY (1u << 20) /* bytes of one reply body */

typedef struct {
    CURL *easy;
    llm_req *req;       /* NULL when the slot is free */
    lg_buf reply;       /* capped at HTTP_MAX_REPLY */
    double retry_after; /* seconds from the Retry-After header, or -1 */
    double started;     /* lg_now() when the attempt started */
    char errbuf[CURL_ERROR_SIZE];
} slot;

struct llm_http {
    CURLM *multi;
    slot *slots; /* (n_slots) */
    size_t n_slots;
    struct curl_slist *headers;
    uint64_t rng; /* xorshift state for jitter */
};

/* ---- Setup ----------------------------------------------------------------------- */

void llm_http_free(llm_http *h) {
    if (!h) return;
    for (size_t i = 0; h->slots && i < h->n_slots; i++) { /* slots: NULL when its calloc failed */
        if (h->slots[i].easy) {
            if (h->slots[i].req) lg_curl()->multi_remove_handle(h->multi, h->slots[i].easy);
            lg_curl()->easy_cleanup(h->slots[i].easy);
        }
        lg_buf_free(&h->slots[i].reply);
    }
    free(h->slots);
    if (h->multi) lg_curl()->multi_cleanup(h->multi);
    lg_curl()->slist_free_all(h->headers);
    free(h);
}

lg_err llm_http_new(const lg_llm *llm, llm_http **out, lg_errmsg *err) {
    *out = NULL;
    lg_err e = lg_curl_load(err); /* done by lg_llm_new already: a no-op then */
    if (e) return e;
    llm_http *h = calloc(1, sizeof *h);
    if (!h) return lg_fail(err, LG_ENOMEM, "llm http client: out of memory");
    h->n_slots = llm->concurrency;
    h->slots = calloc(h->n_slots, sizeof *h->slots);
    h->multi = lg_curl()->multi_init();
    if (!h->slots || !h->multi) goto oom;
    for (size_t i = 0; i < h->n_slots; i++) {
        lg_buf_init(&h->slots[i].reply, HTTP_MAX_REPLY);
        if (!(h->slots[i].easy = lg_curl()->easy_init())) goto oom;
    }
    static const char *const fixed[] = {"Content-Type: application/json",
                                        "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        struct curl_slist *l = lg_curl()->slist_append(h->headers, fixed[i]);
        if (!l) goto oom;
        h->headers = l;
    }
    if (llm->auth_header) {
        struct curl_slist *l = lg_curl()->slist_append(h->headers, llm->auth_header);
        if (!l) goto oom;
        h->headers = l;
    }
    h->rng = (uint64_t)(lg_now() * 1e9) ^ (uint64_t)(uintptr_t)h ^ 0x9E3779B97F4A7C15ULL;
    if (!h->rng) h->rng = 1;
    *out = h;
    return LG_OK;
oom:
    llm_http_free(h);
    return lg_fail(err, LG_ENOMEM, "out of memory (llm transport)");
}

/* Uniform in [0, 1). */
static double rand01(llm_http *h) {
    uint64_t x = h->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    h->rng = x;
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- Circuit breaker ------------------------------------------------------------- */

/* Closed: requests go. `breaker_failures` consecutive failed calls open it
 * (one trip, one warning). Open: requests wait (within their deadline);
 * every `breaker_cooldown` seconds one of them goes as the half-open
 * probe. An answer (any call's) closes it; a failed probe sets the next
 * probe time. Calls that were already in flight when it opened and fail
 * afterwards change nothing: no second trip. */

/* May a request start now? 1: yes; 2: yes, as the half-open probe (the
 * caller releases it with breaker_release_probe once the attempt is over);
 * 0: not now: *retry_at is when to ask again, reason says why. */
int llm_breaker_allow(lg_llm *llm, double now, double *retry_at, char *reason, size_t cap) {
    int ok = 1;
    pthread_mutex_lock(&llm->breaker_mu);
    if (llm->open) {
        if (llm->half_open_probe || now < llm->next_probe) {
            ok = 0;
            *retry_at = now >= llm->opened_at + llm->breaker_wait ? INFINITY /* fail now */
                        : llm->half_open_probe                   ? now + 0.05
                                                                 : llm->next_probe;
            snprintf(reason, cap, "llm unavailable: circuit open after %u failures (last: %s)",
                     llm->consecutive_failures, llm->last_failure);
        } else {
            llm->half_open_probe = 1; /* this request is the probe */
            ok = 2;
        }
    }
    pthread_mutex_unlock(&llm->breaker_mu);
    if (ok == 2) {
        LLM_COUNT(llm, breaker_probes, 1);
        lg_log(LG_LOG_INFO, "llm: circuit breaker half-open: one probe request");
    }
    return ok;
}

/* Ends a probe that was abandoned (deadline) or ended without a verdict. */
void llm_breaker_release_probe(lg_llm *llm) {
    pthread_mutex_lock(&llm->breaker_mu);
    llm->half_open_probe = 0;
    pthread_mutex_unlock(&llm->breaker_mu);
}

/* Records a call's outcome for the breaker: failed (why) or the server
 * answered; probe: the call was the half-open probe. */
void llm_breaker_record(lg_llm *llm, int failed, int probe, const char *why, double now) {
    int tripped = 0, closed = 0;
    unsigned count;
    pthread_mutex_lock(&llm->breaker_mu);
    if (!failed) {
        closed = llm->open;
        llm->open = 0;
        llm->consecutive_failures = 0;
        if (probe) llm->half_open_probe = 0;
    } else if (probe) {
        llm->half_open_probe = 0;
        llm->next_probe = now + llm->breaker_cooldown;
        snprintf(llm->last_failure, sizeof llm->last_failure, "%s", why);
    } else if (!llm->open) {
        llm->consecutive_failures++;
        snprintf(llm->last_failure, sizeof llm->last_failure, "%s", why);
        if (llm->consecutive_failures >= llm->breaker_failures) {
            llm->open = 1;
            llm->opened_at = now;
            llm->next_probe = now + llm->breaker_cooldown;
            tripped = 1;
        }
    }
    count = llm->consecutive_failures;
    pthread_mutex_unlock(&llm->breaker_mu);
    if (tripped) {
        LLM_COUNT(llm, breaker_trips, 1);
        char msg[256];
        snprintf(msg, sizeof msg, "%s", why);
        llm_scrub(msg, llm->api_key);
        lg_log(LG_LOG_WARN,
               "llm: circuit breaker open after %u consecutive failures (last: %s); one probe "
               "request every %g s, rows wait for it up to %g s (within the deadline)",
               count, msg, llm->breaker_cooldown, llm->breaker_wait);
    }
    if (closed) {
        LLM_COUNT(llm, breaker_closes, 1);
        lg_log(LG_LOG_WARN, "llm: circuit breaker closed: the server answers again");
    }
}

/* ---- Adaptive concurrency ------------------------------------------------------------ */

/* Requests in flight allowed now (>= 1, <= concurrency). */
static size_t window_now(lg_llm *llm) {
    pthread_mutex_lock(&llm->breaker_mu);
    size_t w = (size_t)llm->window;
    pthread_mutex_unlock(&llm->breaker_mu);
    return w < 1 ? 1 : w > llm->concurrency ? llm->concurrency : w;
}

/* Additive increase while latency holds (within twice the best seen plus
 * 50 ms), multiplicative decrease on queueing (slower) or overload (429,
 * 503: overloaded = 1). */
static void window_update(lg_llm *llm, double latency, int overloaded) {
    if (!llm->adaptive) return;
    pthread_mutex_lock(&llm->breaker_mu);
    double w = llm->window;
    if (overloaded) {
        w *= 0.5;
    } else {
        if (latency < 0) latency = 0;
        if (llm->best_latency <= 0 || latency < llm->best_latency) llm->best_latency = latency;
        if (latency <= 2 * llm->best_latency + 0.05)
            w += 1.0 / w;
        else
            w *= 0.75;
    }
    if (w < 1) w = 1;
    if (w > (double)llm->concurrency) w = (double)llm->concurrency;
    llm->window = w;
    pthread_mutex_unlock(&llm->breaker_mu);
}

/* ---- One attempt -------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
    slot *s = user;
    size_t n = size * nmemb;
    return lg_buf_append(&s->reply, p, n) == LG_OK ? n : 0;
}

/* Parses a Retry-After value (RFC 9110 10.2.3): delay-seconds, or an HTTP
 * date in any of the three forms (IMF-fixdate "Sun, 06 Nov 1994 08:49:37
 * GMT", the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
 * "Sun Nov  6 08:49:37 1994"), read by curl_getdate and taken relative to
 * now. Returns 1 with *out = seconds to wait (>= 0; a date in the past is
 * 0), or 0 when the value is neither (the caller then backs off as if there
 * were no header). */
int llm_parse_retry_after(const char *value, size_t len, time_t now, double *out) {
    char v[128];
    while (len && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
                   value[len - 1] == '\n'))
        len--;
    if (!len || len >= sizeof v) return 0; /* a longer value is no date we know */
    memcpy(v, value, len);
    v[len] = '\0';
    if (memchr(v, '\0', len)) return 0; /* a NUL inside: garbage */
    size_t digits = strspn(v, "0123456789");
    if (digits) { /* delay-seconds (a fraction tolerated) */
        size_t frac = v[digits] == '.' ? strspn(v + digits + 1, "0123456789") + 1 : 0;
        if (digits + frac != len) return 0;
        double secs = strtod(v, NULL);
        if (!isfinite(secs)) return 0;
        *out = secs;
        return 1;
    }
    time_t t = lg_curl()->getdate(v, NULL);
    if (t < 0) return 0;
    double d = difftime(t, now);
    *out = d > 0 ? d : 0;
    return 1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user) {
    slot *s = user;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    double secs;
    if (n > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1) &&
        llm_parse_retry_after(p + sizeof name - 1, n - (sizeof name - 1), time(NULL), &secs))
        s->retry_after = secs;
    return n;
}

static lg_err start(lg_llm *llm, llm_http *h, slot *s, llm_req *r, double now, double deadline,
                    lg_errmsg *err) {
    CURL *c = s->easy;
    lg_curl()->easy_reset(c);
    lg_buf_reset(&s->reply);
    s->retry_after = -1;
    s->errbuf[0] = '\0';
    double budget = deadline - now;
    if (budget > llm->timeout) budget = llm->timeout;
    long timeout_ms = (long)ceil(budget * 1000.0); /* never before the deadline */
    if (timeout_ms < 1) timeout_ms = 1;
    long connect_ms = (long)(llm->connect_timeout * 1000.0);
    if (connect_ms > timeout_ms) connect_ms = timeout_ms;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (cc == CURLE_OK) cc = lg_curl()->easy_setopt(c, opt, val)
    SET(CURLOPT_URL, llm->url);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    SET(CURLOPT_POSTFIELDS, r->body);
    SET(CURLOPT_HTTPHEADER, h->headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_USERAGENT, "logify/" LOGIFY_VERSION);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PRIVATE, s);
#undef SET
    if (cc != CURLE_OK)
        return lg_fail(err, LG_EINTERNAL, "llm: curl setup: %s", lg_curl()->easy_strerror(cc));
    CURLMcode mc = lg_curl()->multi_add_handle(h->multi, c);
    if (mc != CURLM_OK)
        return lg_fail(err, LG_EINTERNAL, "llm: curl: %s", lg_curl()->multi_strerror(mc));
    s->req = r;
    s->started = now;
    r->running = 1;
    r->attempt++;
    if (!r->probe) r->tries++;
    LLM_COUNT(llm, calls, 1);
    if (r->attempt > 1) LLM_COUNT(llm, retries, 1);
    return LG_OK;
}

/* The answer text of a chat-completion reply, or NULL; adds its usage. */
static char *reply_content(lg_llm *llm, const char *body, size_t len, int *oom) {
    /* a model may emit U+0000 (seen from llama.cpp with random weights):
     * valid JSON, kept (the text is cut there) instead of calling it malformed */
    json_error_t je;
    json_t *root = lg_json_loadb(body, len, JSON_ALLOW_NUL, &je, oom); /* *oom: no reply, or one with a byte lost */
    if (!root) return NULL;
    json_t *usage = json_object_get(root, "usage");
    json_t *pt = json_object_get(usage, "prompt_tokens");
    json_t *ct = json_object_get(usage, "completion_tokens");
    if (json_is_integer(pt) && json_integer_value(pt) > 0)
        LLM_COUNT(llm, prompt_tokens, json_integer_value(pt));
    if (json_is_integer(ct) && json_integer_value(ct) > 0)
        LLM_COUNT(llm, completion_tokens, json_integer_value(ct));
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    char *out = json_is_string(content)
                    ? lg_strndup(json_string_value(content), json_string_length(content))
                    : NULL;
    if (json_is_string(content) && !out) *oom = 1;
    json_decref(root);
    llm_scrub(out, llm->api_key); /* the decoded text may spell the key */
    return out;
}

/* The error text a server put in its reply ({"error": {"message": ...}}),
 * else the body itself, as a snippet. */
static void reply_error(const char *body, size_t len, char *dst, size_t cap) {
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *m = json_object_get(json_object_get(root, "error"), "message");
    if (!json_is_string(m)) m = json_object_get(root, "error");
    if (json_is_string(m))
        llm_snippet(json_string_value(m), json_string_length(m), dst, cap);
    else
        llm_snippet(body, len, dst, cap);
    json_decref(root);
}

/* Ends an attempt: the request is done, failed, or scheduled again.
 * Returns 1 when the request left the PENDING state. */
static int finish(lg_llm *llm, llm_http *h, slot *s, CURLcode cc, double deadline) {
    llm_req *r = s->req;
    s->req = NULL;
    r->running = 0;
    double now = lg_now();
    long status = 0;
    lg_curl()->easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    /* a server may echo the key back: remove it before any snippet is cut */
    if (llm->api_key && s->reply.data && strstr(s->reply.data, llm->api_key)) {
        llm_scrub(s->reply.data, llm->api_key);
        s->reply.len = strlen(s->reply.data);
    }
    const char *body = lg_buf_cstr(&s->reply);
    size_t blen = s->reply.len;
    char why[200], snip[LG_LLM_RAW_MAX];
    int retryable = 0, breaker_fail = 0;
    why[0] = '\0';

    int probe = r->probe;
    r->status = cc == CURLE_OK ? status : 0;
    if (cc == CURLE_OK && r->form_probe && status != 200 && status != 429 &&
        !((status == 400 || status == 422 || status >= 500) &&
          strstr(body, llm_form_field(r->form)))) {
        /* a form probe the server answered with an error: its verdict on
         * the form (the server is alive): no retry, no breaker failure */
        LLM_COUNT(llm, failures, 1);
        llm_breaker_record(llm, 0, probe, "", now);
        reply_error(body, blen, snip, sizeof snip);
        snprintf(r->reason, sizeof r->reason, "llm form probe: HTTP %ld '%s'", status, snip);
        llm_scrub(r->reason, llm->api_key);
        r->state = LLM_REQ_FAILED;
        return 1;
    }
    if (cc == CURLE_WRITE_ERROR && s->reply.len + CURL_MAX_WRITE_SIZE >= HTTP_MAX_REPLY) {
        snprintf(why, sizeof why, "llm reply larger than %u bytes", HTTP_MAX_REPLY);
        breaker_fail = 1;
    } else if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "llm unavailable: %.150s",
                 s->errbuf[0] ? s->errbuf : lg_curl()->easy_strerror(cc));
        retryable = breaker_fail = 1;
    } else if (status == 200) {
        int oom = 0;
        char *content = reply_content(llm, body, blen, &oom);
        if (content) {
            LLM_COUNT(llm, answered, 1);
            llm_breaker_record(llm, 0, probe, "", now);
            window_update(llm, now - s->started, 0);
            r->content = content;
            r->state = LLM_REQ_OK;
            return 1;
        }
        llm_snippet(body, blen, snip, sizeof snip);
        if (oom) /* the reply may be fine: not a breaker failure */
            snprintf(why, sizeof why, "llm reply not read: out of memory");
        else
            snprintf(why, sizeof why, "llm reply malformed (no choices[0].message.content): '%s'",
                     snip);
        breaker_fail = !oom;
    } else if (status == 429) {
        snprintf(why, sizeof why, "llm rate-limited (HTTP 429)");
        retryable = 1; /* the server is alive: not a breaker failure */
        llm_breaker_record(llm, 0, probe, "", now);
        window_update(llm, 0, 1);
    } else if ((status == 400 || status == 422 || status >= 500) && r->form != LLM_FORM_NONE &&
               strstr(body, llm_form_field(r->form))) {
        /* the server refuses the constrain form: alive, not a breaker failure */
        LLM_COUNT(llm, failures, 1);
        LLM_COUNT(llm, refusals, 1);
        llm_breaker_record(llm, 0, probe, "", now);
        reply_error(body, blen, snip, sizeof snip);
        snprintf(r->reason, sizeof r->reason, "llm server refuses the '%s' form: HTTP %ld '%s'",
                 llm_form_name(r->form), status, snip);
        llm_scrub(r->reason, llm->api_key);
        r->state = LLM_REQ_REFUSED;
        return 1;
    } else if (status >= 500) {
        reply_error(body, blen, snip, sizeof snip);
        snprintf(why, sizeof why, "llm server error: HTTP %ld '%s'", status, snip);
        retryable = breaker_fail = 1;
        if (status == 503) window_update(llm, 0, 1);
    } else {
        reply_error(body, blen, snip, sizeof snip);
        snprintf(why, sizeof why, "llm request refused: HTTP %ld '%s'", status, snip);
        breaker_fail = 1;
    }
    LLM_COUNT(llm, failures, 1); /* a call without an answer */
    llm_scrub(why, llm->api_key);
    if (breaker_fail) llm_breaker_record(llm, 1, probe, why, now);

    if (retryable && r->tries <= llm->max_retries) {
        double delay;
        if (s->retry_after >= 0) {
            if (s->retry_after > llm->max_retry_after) {
                snprintf(r->reason, sizeof r->reason,
                         "%.150s; server asked to retry after %.0f s (more than max_retry_after)",
                         why, s->retry_after);
                goto failed;
            }
            delay = s->retry_after * (1.0 + 0.1 * rand01(h)); /* never earlier than asked */
        } else {
            unsigned k = r->tries ? r->tries - 1 : 0;
            delay = llm->backoff * pow(2.0, (double)k);
            if (delay > llm->max_backoff) delay = llm->max_backoff;
            delay *= 0.5 + 0.5 * rand01(h); /* jitter: spread the herd */
        }
        if (now + delay >= deadline) {
            snprintf(r->reason, sizeof r->reason, "%.180s; no time left for a retry", why);
            goto failed;
        }
        r->not_before = now + delay;
        return 0;
    }
    if (retryable)
        snprintf(r->reason, sizeof r->reason, "%.190s (after %u attempts)", why, r->attempt);
    else
        snprintf(r->reason, sizeof r->reason, "%s", why);
failed:
    llm_scrub(r->reason, llm->api_key);
    r->state = LLM_REQ_FAILED;
    return 1;
}

/* ---- The loop ------------------------------------------------------------------------ */

lg_err llm_http_run(lg_llm *llm, llm_http *h, llm_req *reqs, size_t n, double deadline,
                    lg_errmsg *err) {
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        reqs[i].running = 0;
        if (reqs[i].state == LLM_REQ_PENDING) left++;
    }
    size_t cursor = 0; /* requests before it have all started once */
    lg_err e = LG_OK;
    while (left > 0 && !e) {
        double now = lg_now();
        if (now >= deadline) {
            for (size_t i = 0; i < h->n_slots; i++) {
                slot *s = &h->slots[i];
                if (!s->req) continue;
                lg_curl()->multi_remove_handle(h->multi, s->easy);
                LLM_COUNT(llm, failures, 1); /* a call cut short */
                s->req->running = 0;
                if (s->req->probe) llm_breaker_release_probe(llm);
                s->req->probe = 0;
                s->req = NULL;
            }
            for (size_t i = 0; i < n; i++) {
                if (reqs[i].state != LLM_REQ_PENDING) continue;
                reqs[i].state = LLM_REQ_FAILED;
                snprintf(reqs[i].reason, sizeof reqs[i].reason,
                         "llm unavailable: no answer within the deadline (%g s)", llm->deadline);
            }
            break;
        }
        /* fill free slots (as many as the adaptive window allows): retries
         * that are due first, then new requests */
        size_t in_flight = 0, limit = window_now(llm);
        for (size_t si = 0; si < h->n_slots; si++)
            in_flight += h->slots[si].req != NULL;
        for (size_t si = 0; si < h->n_slots && !e && in_flight < limit; si++) {
            if (h->slots[si].req) continue;
            llm_req *pick = NULL;
            for (size_t i = 0; i < cursor && !pick; i++)
                if (reqs[i].state == LLM_REQ_PENDING && !reqs[i].running &&
                    reqs[i].not_before <= now)
                    pick = &reqs[i];
            while (!pick && cursor < n) {
                llm_req *r = &reqs[cursor++];
                if (r->state == LLM_REQ_PENDING) pick = r;
            }
            if (!pick) break;
            double retry_at = now;
            int allowed = llm_breaker_allow(llm, now, &retry_at, pick->reason, sizeof pick->reason);
            if (!allowed) {
                if (retry_at >= deadline) { /* no probe before the deadline */
                    llm_scrub(pick->reason, llm->api_key);
                    pick->state = LLM_REQ_FAILED;
                    left--;
                } else {
                    pick->not_before = retry_at; /* wait for the probe */
                }
                si--; /* the slot is still free */
                continue;
            }
            pick->probe = allowed == 2;
            e = start(llm, h, &h->slots[si], pick, now, deadline, err);
            if (e && pick->probe) llm_breaker_release_probe(llm);
            if (!e) in_flight++;
        }
        if (e || left == 0) break;

        int running = 0;
        CURLMcode mc = lg_curl()->multi_perform(h->multi, &running);
        if (mc != CURLM_OK) {
            e = lg_fail(err, LG_EINTERNAL, "llm: curl: %s", lg_curl()->multi_strerror(mc));
            break;
        }
        CURLMsg *msg;
        int queued;
        while ((msg = lg_curl()->multi_info_read(h->multi, &queued)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            lg_curl()->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = msg->data.result;
            lg_curl()->multi_remove_handle(h->multi, msg->easy_handle);
            if (!s || !s->req) continue;
            llm_req *r = s->req;
            if (finish(llm, h, s, cc, deadline)) left--; /* a probe's verdict recorded */
            r->probe = 0;
        }
        if (left == 0) break;

        /* sleep until a socket is ready, a retry is due or the deadline */
        now = lg_now();
        double wake = deadline;
        in_flight = 0;
        for (size_t si = 0; si < h->n_slots; si++)
            in_flight += h->slots[si].req != NULL;
        int free_slot = in_flight < window_now(llm);
        if (free_slot) {
            if (cursor < n) wake = now;
            for (size_t i = 0; i < cursor; i++)
                if (reqs[i].state == LLM_REQ_PENDING && !reqs[i].running &&
                    reqs[i].not_before < wake)
                    wake = reqs[i].not_before;
        }
        double wait = wake - now;
        if (wait > 0.5) wait = 0.5;
        if (wait < 0) wait = 0;
        if (wait > 0 || running) {
            mc = lg_curl()->multi_poll(h->multi, NULL, 0, (int)(wait * 1000.0) + (wait > 0), NULL);
            if (mc != CURLM_OK)
                e = lg_fail(err, LG_EINTERNAL, "llm: curl: %s", lg_curl()->multi_strerror(mc));
        }
    }
    if (e) { /* leave no handle pointing at the caller's requests */
        for (size_t i = 0; i < h->n_slots; i++) {
            slot *s = &h->slots[i];
            if (!s->req) continue;
            lg_curl()->multi_remove_handle(h->multi, s->easy);
            if (s->req->probe) llm_breaker_release_probe(llm);
            s->req->running = s->req->probe = 0;
            s->req = NULL;
        }
    }
    return e;
}
