/* server_docs.c - GET /openapi.json (docs/openapi.json, an OpenAPI 3.0
 * document of every endpoint, kept in step with server.c by
 * tests/http/test_api.py) and
 * GET /docs: Swagger UI when swagger-ui-dist is installed (web/docs, `make
 * docs-assets`, from npm; its files are read once at start and served from
 * memory), else a small built-in page that renders the same document. No
 * CDN is used either way. */
#include "server/server_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- OpenAPI document ------------------------------------------------------------- */

/* docs/openapi.json, compiled into the binary (src/core/embedded.S.in). */
extern const char lg_embedded_openapi[];
extern const uint64_t lg_embedded_openapi_size;

const char *srv_openapi_json(size_t *len) {
    *len = (size_t)lg_embedded_openapi_size;
    return lg_embedded_openapi;
}

/* ---- /docs ----------------------------------------------------------------------- */

/* Both pages are served without the API key: they fetch /openapi.json
 * themselves, and on a 401 ask for the key (a login form; kept in the tab's
 * sessionStorage, sent as a Bearer header, also by Swagger UI's "Try it
 * out"). Nothing about the routes is in the pages. */
#define LOGIN_HTML                                                                                 \
    "<form id=\"login\" style=\"display:none\" onsubmit=\"return setKey()\">This server needs its "   \
    "API key: <input id=\"key\" type=\"password\" autocomplete=\"current-password\"> "                \
    "<button>Open</button></form><p id=\"msg\"></p>\n"
#define LOGIN_JS                                                                                   \
    "function key(){return sessionStorage.getItem(\"logifyApiKey\")||\"\";}\n"                        \
    "function setKey(){sessionStorage.setItem(\"logifyApiKey\",document.getElementById(\"key\").value);" \
    "location.reload();return false;}\n"                                                            \
    "function loadDoc(){var h=key()?{Authorization:\"Bearer \"+key()}:{};\n"                          \
    " return fetch(\"/openapi.json\",{headers:h}).then(function(r){\n"                                \
    "  if(r.status===401){document.getElementById(\"login\").style.display=\"block\";\n"             \
    "   throw new Error(key()?\"that key was refused\":\"\");}\n"                                     \
    "  if(!r.ok)throw new Error(\"HTTP \"+r.status);return r.json();});}\n"

static const char swagger_page[] =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>Logify API</title>\n"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\"></head>\n"
    "<body>" LOGIN_HTML "<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script>\n" LOGIN_JS
    "loadDoc().then(function(doc){window.ui = SwaggerUIBundle({spec: doc, dom_id: \"#swagger-ui\",\n"
    " requestInterceptor: function(q){if(key())q.headers.Authorization=\"Bearer \"+key();return q;}});\n"
    "}).catch(function(e){document.getElementById(\"msg\").textContent=e.message;});\n"
    "</script>\n"
    "</body></html>\n";

static const char builtin_page[] =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>Logify API</title>\n"
    "<style>\n"
    "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}\n"
    "h1{margin-bottom:0}.op{border:1px solid #ccc;border-radius:6px;margin:1em 0;padding:.6em 1em}\n"
    ".m{display:inline-block;min-width:4.5em;font-weight:bold;color:#fff;border-radius:4px;text-align:center;margin-right:.6em}\n"
    ".get{background:#2b7bb9}.post{background:#2f9e44}code,pre{background:#f4f4f4;border-radius:4px}\n"
    "pre{padding:.6em;overflow:auto;font-size:13px}.note{color:#666}\n"
    "</style></head><body>\n"
    "<h1>Logify API</h1>\n"
    "<p class=\"note\">Built-in renderer of <a href=\"/openapi.json\">/openapi.json</a>\n"
    "(Swagger UI is used instead when its assets are installed: <code>make docs-assets</code>).</p>\n"
    LOGIN_HTML
    "<div id=\"out\">loading /openapi.json ...</div>\n"
    "<script>\n" LOGIN_JS
    "function esc(s){return String(s).replace(/[&<>\"]/g,function(c){return {\"&\":\"&amp;\",\"<\":\"&lt;\",\">\":\"&gt;\",\"\\\"\":\"&quot;\"}[c];});}\n"
    "function deref(doc,o){while(o&&o[\"$ref\"]){var p=o[\"$ref\"].slice(2).split(\"/\");o=doc;for(var i=0;i<p.length;i++)o=o[p[i]];}return o;}\n"
    "loadDoc().then(function(doc){\n"
    " var h=\"<p>\"+esc(doc.info.description||\"\")+\"</p>\";\n"
    " Object.keys(doc.paths).forEach(function(path){var item=doc.paths[path];\n"
    "  Object.keys(item).forEach(function(m){var op=item[m];\n"
    "   h+=\"<div class='op'><span class='m \"+m+\"'>\"+m.toUpperCase()+\"</span><code>\"+esc(path)+\"</code> \"+esc(op.summary||\"\");\n"
    "   if(op.description)h+=\"<p>\"+esc(op.description)+\"</p>\";\n"
    "   if(op.requestBody){Object.keys(op.requestBody.content).forEach(function(ct){\n"
    "    h+=\"<p>Request body <code>\"+esc(ct)+\"</code></p><pre>\"+esc(JSON.stringify(deref(doc,op.requestBody.content[ct].schema),null,1))+\"</pre>\";});}\n"
    "   h+=\"<p>Responses:</p><ul>\";\n"
    "   Object.keys(op.responses).forEach(function(code){var r=deref(doc,op.responses[code]);\n"
    "    h+=\"<li><b>\"+esc(code)+\"</b> \"+esc(r.description||\"\")+\"</li>\";});\n"
    "   h+=\"</ul></div>\";});});\n"
    " var sc=doc.components.schemas;h+=\"<h2>Schemas</h2>\";\n"
    " Object.keys(sc).forEach(function(n){h+=\"<h3>\"+esc(n)+\"</h3><pre>\"+esc(JSON.stringify(sc[n],null,1))+\"</pre>\";});\n"
    " document.getElementById(\"out\").innerHTML=h;\n"
    "}).catch(function(e){document.getElementById(\"out\").textContent=\"cannot load /openapi.json: \"+e.message;});\n"
    "</script></body></html>\n";

const char *srv_docs_html(const lg_server *s, size_t *len) {
    if (srv_docs_asset(s, "swagger-ui-bundle.js") && srv_docs_asset(s, "swagger-ui.css")) {
        *len = sizeof swagger_page - 1;
        return swagger_page;
    }
    *len = sizeof builtin_page - 1;
    return builtin_page;
}

const srv_asset *srv_docs_asset(const lg_server *s, const char *name) {
    for (size_t i = 0; i < s->n_assets; i++)
        if (!strcmp(s->assets[i].name, name)) return &s->assets[i];
    return NULL;
}

static const struct {
    const char *name, *ctype;
} asset_files[] = {
    {"swagger-ui-bundle.js", "application/javascript; charset=utf-8"},
    {"swagger-ui.css", "text/css; charset=utf-8"},
    {"favicon-32x32.png", "image/png"},
};

#define ASSET_MAX (16u << 20)

/* Loads the files from dir; 1 when the two that matter were there. */
static int load_from(lg_server *s, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/swagger-ui-bundle.js", dir);
    if (access(path, R_OK) != 0) return 0;
    for (size_t i = 0; i < sizeof asset_files / sizeof *asset_files; i++) {
        srv_asset *a = &s->assets[s->n_assets];
        snprintf(path, sizeof path, "%s/%s", dir, asset_files[i].name);
        if (lg_read_file(path, ASSET_MAX, &a->data, &a->len, NULL) != LG_OK) continue;
        snprintf(a->name, sizeof a->name, "%s", asset_files[i].name);
        a->ctype = asset_files[i].ctype;
        s->n_assets++;
    }
    if (srv_docs_asset(s, "swagger-ui.css")) {
        lg_log(LG_LOG_INFO, "docs: Swagger UI from %s", dir);
        return 1;
    }
    for (size_t i = 0; i < s->n_assets; i++) free(s->assets[i].data);
    s->n_assets = 0;
    return 0;
}

void srv_docs_load_assets(lg_server *s) {
    if (s->o.docs_assets && *s->o.docs_assets) {
        if (!load_from(s, s->o.docs_assets))
            lg_log(LG_LOG_WARN, "docs: no swagger-ui-dist files in %s; /docs uses the built-in page",
                   s->o.docs_assets);
        return;
    }
    const char *env = getenv("LOGIFY_DOCS_ASSETS");
    if (env && *env && load_from(s, env)) return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    static const char *const rel[] = {"/../web/docs/node_modules/swagger-ui-dist",
                                      "/../share/logify/swagger-ui"};
    char dir[4200];
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        snprintf(dir, sizeof dir, "%s%s", exe, rel[i]);
        if (load_from(s, dir)) return;
    }
}
