/* sbert_pull.c - `logify model pull`: downloads a sentence-transformers
 * model from a Hugging Face hub layout with libcurl.
 *
 * URL of a file: <endpoint>/<owner/name>/resolve/<revision>/<file>, as in
 * huggingface_hub. Each file is written to <file>.incomplete, resumed with
 * a Range request after a broken transfer (within the run and across
 * runs), validated (size, JSON syntax, safetensors header) and renamed into
 * place; files already in place are kept. The vocabulary is vocab.txt, or
 * tokenizer.json when the model has no vocab.txt. The directory is loaded with
 * lg_sbert_load at the end, so a pull that succeeds leaves a usable model.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logify/dynlib_curl.h"
#include "bert/sbert_internal.h"
#include "logify/jsonguard.h"

#define PULL_FILE_MAX ((curl_off_t)16 << 30) /* 16 GB per file */

typedef struct {
    FILE *f;
    CURL *curl;
    const char *label; /* file name for the progress bar */
    int progress;
    int checked;       /* status examined on the first body bytes */
    int discard;       /* error status: do not write the body */
    curl_off_t resume; /* bytes already on disk when the request started */
    curl_off_t written;
    int io_error;
    double last_draw;
    int drawn_full; /* the 100% line was drawn */
} pull_xfer;

/* ---- libcurl callbacks --------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
    pull_xfer *x = user;
    size_t n = size * nmemb;
    if (!x->checked) {
        long code = 0;
        lg_curl()->easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        x->checked = 1;
        if (code >= 300) {
            x->discard = 1;
        } else if (code == 200 && x->resume > 0) { /* server ignored Range: restart */
            if (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) != 0) x->io_error = 1;
            rewind(x->f);
            x->resume = 0;
        }
    }
    if (x->discard) return n;
    if (x->resume + x->written + (curl_off_t)n > PULL_FILE_MAX) return 0;
    if (fwrite(p, 1, n, x->f) != n) {
        x->io_error = 1;
        return 0;
    }
    x->written += (curl_off_t)n;
    return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    pull_xfer *x = user;
    (void)ultotal;
    (void)ulnow;
    double t = lg_now();
    if (!x->progress || x->discard || x->drawn_full || dltotal <= 0) return 0;
    if (t - x->last_draw < 0.1 && dlnow < dltotal) return 0;
    x->last_draw = t;
    x->drawn_full = dlnow >= dltotal;
    double done = (double)(x->resume + dlnow), total = (double)(x->resume + dltotal);
    int pct = total > 0 ? (int)(100.0 * done / total) : 0, w = 30, fill = pct * w / 100;
    char bar[32];
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\r  %-28.28s [%s] %3d%% %8.1f / %.1f MB", x->label, bar, pct, done / 1e6,
            total / 1e6);
    return 0;
}

/* ---- One file ------------------------------------------------------------ */

static lg_err validate(const char *path, const char *file, lg_errmsg *err) {
    size_t fl = strlen(file);
    if (fl > 5 && !strcmp(file + fl - 5, ".json")) {
        json_error_t je;
        unsigned long mark = lg_json_alloc_mark(); /* logify/jsonguard.h */
        json_t *j = json_load_file(path, 0, &je);
        if (lg_json_alloc_failed_since(mark)) {
            json_decref(j);
            return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", file);
        }
        if (!j)
            return lg_fail(err, LG_EMODEL, "%s: downloaded file is not JSON: %s", file, je.text);
        json_decref(j);
    } else if (!strcmp(file, "model.safetensors")) {
        lg_safetensors st;
        lg_err e = lg_safetensors_open(path, &st, err);
        if (e) return e;
        lg_safetensors_close(&st);
    } else {
        struct stat sb;
        if (stat(path, &sb) != 0 || sb.st_size == 0)
            return lg_fail(err, LG_EMODEL, "%s: downloaded file is empty", file);
    }
    return LG_OK;
}

/* Fetches file into dir/file; *missing (OUT) = 1 when the server answered
 * 404 and the file is optional. */
static lg_err fetch(CURL *c, const char *base, const char *dir, const char *file, int required,
                    const lg_sbert_pull_opts *o, int *missing, lg_errmsg *err) {
    char url[4096], final[PATH_MAX], part[PATH_MAX];
    *missing = 0;
    if ((size_t)snprintf(url, sizeof url, "%s/%s", base, file) >= sizeof url ||
        (size_t)snprintf(final, sizeof final, "%s/%s", dir, file) >= sizeof final ||
        (size_t)snprintf(part, sizeof part, "%s/%s.incomplete", dir, file) >= sizeof part)
        return lg_fail(err, LG_ELIMIT, "path or URL too long for %s", file);
    if (access(final, F_OK) == 0) return LG_OK; /* complete from an earlier run */
    int attempts = 1 + (o->retries > 0 ? o->retries : 0);
    char cerr[CURL_ERROR_SIZE];
    for (int a = 0; a < attempts; a++) {
        struct stat sb;
        curl_off_t have = stat(part, &sb) == 0 ? (curl_off_t)sb.st_size : 0;
        FILE *f = fopen(part, "ab");
        if (!f) return lg_fail(err, LG_EIO, "%s: %s", part, strerror(errno));
        pull_xfer x = {f, c, file, o->progress, 0, 0, have, 0, 0, 0, 0};
        cerr[0] = '\0';
        lg_curl()->easy_setopt(c, CURLOPT_URL, url);
        lg_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        lg_curl()->easy_setopt(c, CURLOPT_WRITEDATA, &x);
        lg_curl()->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        lg_curl()->easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        lg_curl()->easy_setopt(c, CURLOPT_NOPROGRESS, o->progress ? 0L : 1L);
        lg_curl()->easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, have);
        lg_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        CURLcode rc = lg_curl()->easy_perform(c);
        long code = 0;
        lg_curl()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        int ioe = x.io_error;
        if (fclose(f) != 0) ioe = 1;
        if (o->progress && !x.discard) fputc('\n', stderr);
        if (ioe) return lg_fail(err, LG_EIO, "%s: write failed", part);
        if (code == 404) {
            unlink(part);
            if (!required) {
                *missing = 1;
                return LG_OK;
            }
            return lg_fail(err, LG_ENOTFOUND, "%s: 404 not found (model name, revision or file)",
                           url);
        }
        if (code == 416) { /* our partial file does not fit the remote one: start over */
            unlink(part);
            continue;
        }
        if (code == 401 || code == 403)
            return lg_fail(err, LG_ENET, "%s: HTTP %ld (gated or private model? set HF_TOKEN)", url,
                           code);
        if (rc == CURLE_OK && code >= 400) return lg_fail(err, LG_ENET, "%s: HTTP %ld", url, code);
        if (rc != CURLE_OK) {
            lg_log(LG_LOG_WARN, "model pull: %s: %s (attempt %d of %d, %lld bytes kept)", file,
                   cerr[0] ? cerr : lg_curl()->easy_strerror(rc), a + 1, attempts,
                   (long long)(x.resume + x.written));
            if (a + 1 < attempts) {
                struct timespec ts = {0, 200000000L * (a + 1)};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        lg_err e = validate(part, file, err);
        if (e) {
            unlink(part);
            return e;
        }
        if (rename(part, final) != 0)
            return lg_fail(err, LG_EIO, "rename %s -> %s: %s", part, final, strerror(errno));
        return LG_OK;
    }
    return lg_fail(err, LG_ENET,
                   "%s: download failed after %d attempts (partial data kept in %s; "
                   "run again to resume)",
                   url, attempts, part);
}

/* ---- The model ----------------------------------------------------------- */

static int valid_name(const char *s) {
    if (!*s || strstr(s, "..") || s[0] == '/' || s[0] == '.') return 0;
    int slashes = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return 0;
    }
    return slashes <= 1;
}

static lg_err mkdirs(const char *path, lg_errmsg *err) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
        return lg_fail(err, LG_ELIMIT, "path too long");
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return lg_fail(err, LG_EIO, "mkdir %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return lg_fail(err, LG_EIO, "mkdir %s: %s", tmp, strerror(errno));
    return LG_OK;
}

/* Pooling directories named by modules.json (normally "1_Pooling"). */
static lg_err pooling_dirs(const char *dir, char out[][256], int cap, int *n, lg_errmsg *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    json_error_t je;
    unsigned long mark = lg_json_alloc_mark();
    json_t *mods = json_load_file(path, 0, &je);
    *n = 0;
    if (lg_json_alloc_failed_since(mark)) {
        json_decref(mods);
        return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading JSON", path);
    }
    if (!json_is_array(mods)) {
        json_decref(mods);
        return lg_fail(err, LG_EMODEL, "%s: not a JSON array of modules", path);
    }
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m) {
        const char *ty = json_string_value(json_object_get(m, "type"));
        const char *pa = json_string_value(json_object_get(m, "path"));
        if (ty && pa && strstr(ty, "Pooling") && *n < cap) {
            if (strstr(pa, "..") || pa[0] == '/' || strlen(pa) >= 200) {
                json_decref(mods);
                return lg_fail(err, LG_EMODEL, "%s: module %zu: bad 'path'", path, i);
            }
            snprintf(out[(*n)++], 256, "%s/config.json", pa);
        }
    }
    json_decref(mods);
    return LG_OK;
}

lg_err lg_sbert_pull(const char *name, const char *dir, const lg_sbert_pull_opts *o,
                     lg_errmsg *err) {
    static const struct {
        const char *file;
        int required;
    } files[] = {{"config.json", 1},
                 {"modules.json", 1},
                 {"vocab.txt", 0}, /* else tokenizer.json, below */
                 {"tokenizer_config.json", 0},
                 {"special_tokens_map.json", 0},
                 {"sentence_bert_config.json", 0},
                 {"config_sentence_transformers.json", 0},
                 {"model.safetensors", 1}};
    if (!valid_name(name))
        return lg_fail(err, LG_EINVAL,
                       "model name '%s': expected owner/name (letters, digits, "
                       "'-', '_', '.')",
                       name);
    const char *endpoint =
        o && o->endpoint && *o->endpoint ? o->endpoint : "https://huggingface.co";
    const char *rev = o && o->revision && *o->revision ? o->revision : "main";
    lg_sbert_pull_opts def = {0};
    if (!o) o = &def;
    lg_err e = lg_curl_load(err); /* libcurl: loaded now, not at start-up */
    if (e) return e;
    CURL *c = lg_curl()->easy_init();
    if (!c) return lg_fail(err, LG_EINTERNAL, "curl_easy_init failed");
    struct curl_slist *hdr = NULL;
    char *auth = NULL, *erev = lg_curl()->easy_escape(c, rev, 0);
    char base[2048];
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        el--;
    if (!erev || (size_t)snprintf(base, sizeof base, "%.*s/%s/resolve/%s", (int)el, endpoint, name,
                                  erev) >= sizeof base) {
        e = lg_fail(err, LG_ELIMIT, "endpoint URL too long");
        goto out;
    }
    if ((e = mkdirs(dir, err))) goto out; /* only once the request can be made */
    if (o->token && *o->token) {
        size_t n = strlen(o->token) + 32;
        auth = malloc(n);
        if (!auth) {
            e = lg_fail(err, LG_ENOMEM, "sbert pull: out of memory");
            goto out;
        }
        snprintf(auth, n, "Authorization: Bearer %s", o->token);
        hdr = lg_curl()->slist_append(hdr, auth);
    }
    lg_curl()->easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    lg_curl()->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    lg_curl()->easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    lg_curl()->easy_setopt(c, CURLOPT_USERAGENT, "logify/" LOGIFY_VERSION);
    lg_curl()->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    lg_curl()->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    lg_curl()->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    lg_curl()->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    lg_curl()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    int missing;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if ((e = fetch(c, base, dir, files[i].file, files[i].required, o, &missing, err))) goto out;
        /* no vocab.txt: tokenizer.json (many hub models ship only that) */
        if (!strcmp(files[i].file, "vocab.txt") && missing) {
            if ((e = fetch(c, base, dir, "tokenizer.json", 0, o, &missing, err))) goto out;
            if (missing) {
                e = lg_fail(err, LG_ENOTFOUND,
                            "%s: neither vocab.txt nor tokenizer.json found (404): not a BERT "
                            "WordPiece model?",
                            base);
                goto out;
            }
        }
        if (!strcmp(files[i].file, "modules.json")) {
            char pools[4][256];
            int np = 0;
            if ((e = pooling_dirs(dir, pools, 4, &np, err))) goto out;
            for (int k = 0; k < np; k++) {
                char sub[PATH_MAX];
                snprintf(sub, sizeof sub, "%s/%s", dir, pools[k]);
                *strrchr(sub, '/') = '\0';
                if ((e = mkdirs(sub, err)) ||
                    (e = fetch(c, base, dir, pools[k], 1, o, &missing, err)))
                    goto out;
            }
        }
    }
    lg_sbert *m = NULL;
    if ((e = lg_sbert_load(dir, &m, err))) goto out;
    lg_sbert_free(m);
out:
    lg_curl()->slist_free_all(hdr);
    free(auth);
    lg_curl()->free(erev);
    lg_curl()->easy_cleanup(c);
    return e;
}
