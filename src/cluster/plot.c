/* plot.c - the UMAP map of `logify cluster` as an SVG scatter with a legend
 * and as a self-contained HTML page (inline JSON, a canvas and a small
 * script; no network) with hover details and a colouring toggle.
 *
 * Rows with identical vectors share their coordinates exactly (UMAP runs on
 * the distinct vectors), so rows at the same spot with the same colour
 * (HTML: the same cluster and label) are drawn as one marker whose size
 * grows with the row count; legends count rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "logify/cluster.h"
#include "logify/csv.h"
#include "logify/svg.h"

#define N_COLORS 19
static const char *const palette[N_COLORS] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#393b79", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d"};
#define OTHER_COLOR "#c7c7c7"
#define NOISE_COLOR "#000000"

/* ---- Categories: what each point is coloured by ------------------------------- */

typedef struct {
    size_t n_cat;
    size_t *cat;     /* (n) category of each point */
    char **name;     /* (n_cat) legend text */
    size_t *count;   /* (n_cat) */
    const char **color;
} categories;

static void cat_free(categories *c) {
    if (c->name)
        for (size_t i = 0; i < c->n_cat; i++) free(c->name[i]);
    free(c->cat), free(c->name), free(c->count), free(c->color);
    memset(c, 0, sizeof *c);
}

typedef struct {
    size_t key, count;
    const char *name;
} key_count;

static int cmp_kc(const void *a, const void *b) {
    const key_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->name && y->name) return strcmp(x->name, y->name);
    return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *fmt_name(const char *pre, size_t v, const char *post) {
    lg_buf b;
    lg_buf_init(&b, 128);
    lg_buf_printf(&b, "%s%zu%s", pre, v, post);
    char *s = lg_strdup(lg_buf_cstr(&b));
    lg_buf_free(&b);
    return s;
}

/* by_label: distinct labels by count; else clusters by size. The first
 * N_COLORS get colours, the rest share "other"; noise is its own. */
static lg_err categorize(const lg_plot_data *d, int by_label, categories *c, lg_errmsg *err) {
    memset(c, 0, sizeof *c);
    size_t n = d->n, nk = 0;
    key_count *kc = NULL;
    const char **sorted = NULL;
    size_t *key = malloc((n ? n : 1) * sizeof *key); /* key of each point */
    lg_err e = LG_OK;
    if (!key) goto oom;
    if (by_label) {
        sorted = malloc((n ? n : 1) * sizeof *sorted);
        if (!sorted) goto oom;
        memcpy(sorted, d->labels, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_strp);
        size_t nd = 0;
        for (size_t i = 0; i < n; i++) nd += i == 0 || strcmp(sorted[i], sorted[i - 1]);
        kc = calloc(nd ? nd : 1, sizeof *kc);
        if (!kc) goto oom;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(sorted[i], sorted[i - 1])) {
                kc[nk] = (key_count){nk, 0, sorted[i]};
                nk++;
            }
            kc[nk - 1].count++;
        }
        for (size_t i = 0; i < n; i++) { /* binary search of the point's label */
            size_t lo = 0, hi = nk;
            while (lo + 1 < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(kc[mid].name, d->labels[i]) <= 0) lo = mid;
                else hi = mid;
            }
            key[i] = lo;
        }
    } else {
        nk = d->n_clusters + 1; /* last key: noise */
        kc = calloc(nk, sizeof *kc);
        if (!kc) goto oom;
        for (size_t k = 0; k < nk; k++) kc[k].key = k;
        for (size_t i = 0; i < n; i++) {
            key[i] = d->cluster[i] < 0 ? nk - 1 : (size_t)d->cluster[i];
            kc[key[i]].count++;
        }
    }
    /* rank keys (noise kept out of the ranking) */
    size_t ranked = by_label ? nk : nk - 1;
    key_count *rk = malloc((nk ? nk : 1) * sizeof *rk);
    size_t *rank_of = malloc((nk ? nk : 1) * sizeof *rank_of);
    if (!rk || !rank_of) {
        free(rk), free(rank_of);
        goto oom;
    }
    memcpy(rk, kc, nk * sizeof *rk);
    qsort(rk, ranked, sizeof *rk, cmp_kc);
    for (size_t r = 0; r < ranked; r++) rank_of[rk[r].key] = r;
    size_t colored = ranked < N_COLORS ? ranked : N_COLORS, others = ranked - colored;
    size_t other_pts = 0;
    for (size_t r = colored; r < ranked; r++) other_pts += rk[r].count;
    size_t noise_pts = by_label ? 0 : kc[nk - 1].count;
    c->n_cat = colored + (others > 0) + (noise_pts > 0);
    c->cat = malloc((n ? n : 1) * sizeof *c->cat);
    c->name = calloc(c->n_cat ? c->n_cat : 1, sizeof *c->name);
    c->count = calloc(c->n_cat ? c->n_cat : 1, sizeof *c->count);
    c->color = calloc(c->n_cat ? c->n_cat : 1, sizeof *c->color);
    if (!c->cat || !c->name || !c->count || !c->color) {
        free(rk), free(rank_of);
        goto oom;
    }
    for (size_t r = 0; r < colored; r++) {
        c->name[r] = by_label ? lg_strdup(rk[r].name) : fmt_name("cluster ", rk[r].key, "");
        c->count[r] = rk[r].count;
        c->color[r] = palette[r];
    }
    size_t other_cat = colored, noise_cat = colored + (others > 0);
    if (others) {
        c->name[other_cat] = fmt_name("", others, by_label ? " other labels" : " smaller clusters");
        c->count[other_cat] = other_pts;
        c->color[other_cat] = OTHER_COLOR;
    }
    if (noise_pts) {
        c->name[noise_cat] = lg_strdup("noise");
        c->count[noise_cat] = noise_pts;
        c->color[noise_cat] = NOISE_COLOR;
    }
    for (size_t i = 0; i < n; i++) {
        if (!by_label && key[i] == nk - 1) c->cat[i] = noise_cat;
        else c->cat[i] = rank_of[key[i]] < colored ? rank_of[key[i]] : other_cat;
    }
    for (size_t k = 0; k < c->n_cat; k++)
        if (!c->name[k]) {
            free(rk), free(rank_of);
            goto oom;
        }
    free(rk), free(rank_of);
    goto done;
oom:
    e = lg_fail(err, LG_ENOMEM, "plot: out of memory");
    cat_free(c);
done:
    free(key), free(kc), free(sorted);
    return e;
}

/* ---- Markers: rows at one spot with one colour ------------------------------------ */

typedef struct {
    const lg_plot_data *d;
    const size_t *cat;      /* (n) colour category, or NULL */
    const size_t *rep;      /* (markers) first row of each marker */
    size_t row;             /* the row being looked up */
} marker_key;

static int marker_eq(void *ctx, uint32_t id) {
    const marker_key *k = ctx;
    size_t a = k->rep[id], b = k->row;
    const lg_plot_data *d = k->d;
    if (memcmp(d->xy + 2 * a, d->xy + 2 * b, 2 * sizeof *d->xy)) return 0;
    if (k->cat) return k->cat[a] == k->cat[b];
    return d->cluster[a] == d->cluster[b] && (!d->labels || !strcmp(d->labels[a], d->labels[b]));
}

/* Groups the rows into markers: rows with the same coordinates (bit for bit)
 * and the same cat (cat NULL: the same cluster and label). rep (OUT,
 * (*n_markers)): the first row of each marker, ascending; weight (OUT): its
 * rows. Caller frees both. */
static lg_err group_markers(const lg_plot_data *d, const size_t *cat, size_t **rep_out,
                            size_t **weight_out, size_t *n_markers, lg_errmsg *err) {
    size_t n = d->n;
    size_t *rep = malloc((n ? n : 1) * sizeof *rep), *w = calloc(n ? n : 1, sizeof *w);
    lg_idtable t;
    lg_err e = lg_idtable_init(&t, 1024, err);
    if (!e && (!rep || !w)) e = lg_fail(err, LG_ENOMEM, "plot: out of memory");
    marker_key k = {d, cat, rep, 0};
    for (size_t i = 0; i < n && !e; i++) {
        uint64_t key[2] = {0, cat ? cat[i] : (uint64_t)(int64_t)d->cluster[i]};
        memcpy(key, d->xy + 2 * i, 2 * sizeof *d->xy);
        uint32_t id;
        int added;
        k.row = i;
        e = lg_idtable_get(&t, lg_hash_bytes(key, sizeof key), marker_eq, &k, &id, &added, err);
        if (!e && added) rep[id] = i;
        if (!e) w[id]++;
    }
    *n_markers = t.count;
    lg_idtable_free(&t);
    if (e) {
        free(rep), free(w);
        return e;
    }
    *rep_out = rep;
    *weight_out = w;
    return LG_OK;
}

/* Radius of a marker of w rows: r for one row, + r/2 per factor 10. */
static double marker_r(double r, size_t w) { return r * (1.0 + 0.5 * log10((double)w)); }

/* ---- SVG ------------------------------------------------------------------------ */

/* escaped, invalid UTF-8 and control characters replaced (logify/svg.h) */
static lg_err put_xml(lg_buf *b, const char *s) { return lg_svg_text(b, s, 0); }

static void bbox(const lg_plot_data *d, float *x0, float *x1, float *y0, float *y1) {
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (size_t i = 0; i < d->n; i++) {
        float x = d->xy[2 * i], y = d->xy[2 * i + 1];
        *x0 = x < *x0 ? x : *x0;
        *x1 = x > *x1 ? x : *x1;
        *y0 = y < *y0 ? y : *y0;
        *y1 = y > *y1 ? y : *y1;
    }
    if (!(*x1 > *x0)) *x0 -= 1, *x1 += 1;
    if (!(*y1 > *y0)) *y0 -= 1, *y1 += 1;
}

lg_err lg_plot_svg(const lg_plot_data *d, int by_label, lg_buf *out, lg_errmsg *err) {
    if (by_label && !d->labels) by_label = 0;
    categories c;
    lg_err e = categorize(d, by_label, &c, err);
    if (e) return e;
    const double W = 1100, H = 780, PX = 20, PY = 50, PW = 760, PH = 710, LX = 800;
    float x0, x1, y0, y1;
    bbox(d, &x0, &x1, &y0, &y1);
    double sx = PW / (x1 - x0), sy = PH / (y1 - y0), s = sx < sy ? sx : sy;
    double ox = PX + (PW - s * (x1 - x0)) / 2, oy = PY + (PH - s * (y1 - y0)) / 2;
    size_t *rep = NULL, *wt = NULL, nm = 0;
    if ((e = group_markers(d, c.cat, &rep, &wt, &nm, err))) {
        cat_free(&c);
        return e;
    }
    double r = nm > 20000 ? 1.4 : nm > 5000 ? 1.8 : 2.6;
    e = lg_buf_printf(out,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                      "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
                      "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
                      "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                      "stroke=\"#dddddd\"/>\n<text x=\"%.0f\" y=\"30\" font-size=\"18\">",
                      W, H, W, H, PX, PY, PW, PH, PX);
    if (!e) e = put_xml(out, d->title ? d->title : "logify cluster");
    if (!e)
        e = lg_buf_printf(out, " (coloured by %s)</text>\n<g fill-opacity=\"0.75\">\n",
                          by_label ? "label" : "cluster");
    /* grey "other" and noise first, then the colours from the largest
     * category down, so that small groups stay visible on top */
    size_t n_colored = 0;
    while (n_colored < c.n_cat && strcmp(c.color[n_colored], OTHER_COLOR) &&
           strcmp(c.color[n_colored], NOISE_COLOR))
        n_colored++;
    for (size_t pass = 0; pass < c.n_cat && !e; pass++) {
        size_t specials = c.n_cat - n_colored;
        size_t k = pass < specials ? n_colored + pass : pass - specials;
        e = lg_buf_printf(out, "<g fill=\"%s\">\n", c.color[k]);
        for (size_t q = 0; q < nm && !e; q++) {
            size_t i = rep[q];
            if (c.cat[i] == k)
                e = lg_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>\n",
                                  ox + s * (d->xy[2 * i] - x0), oy + s * (y1 - d->xy[2 * i + 1]),
                                  marker_r(r, wt[q]));
        }
        if (!e) e = lg_buf_printf(out, "</g>\n");
    }
    if (!e) e = lg_buf_printf(out, "</g>\n<text x=\"%.0f\" y=\"%.0f\" font-size=\"15\" font-weight=\"bold\">%s</text>\n",
                              LX, PY + 5, by_label ? "label (rows)" : "cluster (rows)");
    for (size_t k = 0; k < c.n_cat && !e; k++) {
        double y = PY + 30 + 22.0 * (double)k;
        e = lg_buf_printf(out,
                          "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"6\" fill=\"%s\"/>"
                          "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\">",
                          LX + 6, y - 5, c.color[k], LX + 18, y);
        if (!e) e = put_xml(out, c.name[k]);
        if (!e) e = lg_buf_printf(out, " (%zu)</text>\n", c.count[k]);
    }
    if (!e) e = lg_buf_printf(out, "</svg>\n");
    cat_free(&c);
    free(rep), free(wt);
    if (e) return lg_fail(err, e, "plot: SVG too large");
    return LG_OK;
}

/* ---- HTML ------------------------------------------------------------------------ */

/* A JSON string safe inside <script>: '<' as \u003c. */
static lg_err put_js_string(lg_buf *out, lg_buf *tmp, const char *s, size_t len) {
    lg_buf_reset(tmp);
    lg_err e = lg_json_put_string(tmp, s, len);
    for (size_t i = 0; i < tmp->len && !e; i++)
        e = tmp->data[i] == '<' ? lg_buf_append(out, "\\u003c", 6) : lg_buf_putc(out, tmp->data[i]);
    return e;
}

/* The categories of the markers (first rows rep (nm)). */
static lg_err put_categories(lg_buf *out, lg_buf *tmp, const categories *c, const size_t *rep,
                             size_t nm) {
    lg_err e = lg_buf_printf(out, "{\"cat\":[");
    for (size_t q = 0; q < nm && !e; q++)
        e = lg_buf_printf(out, "%s%zu", q ? "," : "", c->cat[rep[q]]);
    if (!e) e = lg_buf_printf(out, "],\"names\":[");
    for (size_t k = 0; k < c->n_cat && !e; k++) {
        if (k) e = lg_buf_putc(out, ',');
        if (!e) e = put_js_string(out, tmp, c->name[k], strlen(c->name[k]));
    }
    if (!e) e = lg_buf_printf(out, "],\"colors\":[");
    for (size_t k = 0; k < c->n_cat && !e; k++) e = lg_buf_printf(out, "%s\"%s\"", k ? "," : "", c->color[k]);
    if (!e) e = lg_buf_printf(out, "],\"counts\":[");
    for (size_t k = 0; k < c->n_cat && !e; k++) e = lg_buf_printf(out, "%s%zu", k ? "," : "", c->count[k]);
    if (!e) e = lg_buf_printf(out, "]}");
    return e;
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>logify cluster map</title>\n"
    "<style>body{font-family:DejaVu Sans,Arial,sans-serif;margin:12px;color:#222}"
    "#wrap{display:flex;gap:16px}canvas{border:1px solid #ddd}"
    "#legend div{font-size:13px;margin:3px 0;white-space:nowrap}"
    "#legend span{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:6px}"
    "#tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #888;padding:6px;"
    "max-width:560px;font-size:12px;display:none;box-shadow:2px 2px 6px #aaa;word-break:break-all}"
    "button{margin-right:6px}</style></head><body>\n";

static const char html_script[] =
    "<script>\n"
    "const cv=document.getElementById('map'),ctx=cv.getContext('2d'),tip=document.getElementById('tip');\n"
    "let mode=D.byLabel?'label':'cluster';\n"
    "let x0=Infinity,x1=-Infinity,y0=Infinity,y1=-Infinity;\n"
    "for(let i=0;i<D.n;i++){x0=Math.min(x0,D.x[i]);x1=Math.max(x1,D.x[i]);y0=Math.min(y0,D.y[i]);y1=Math.max(y1,D.y[i]);}\n"
    "if(!(x1>x0)){x0-=1;x1+=1;} if(!(y1>y0)){y0-=1;y1+=1;}\n"
    "const P=20,S=Math.min((cv.width-2*P)/(x1-x0),(cv.height-2*P)/(y1-y0));\n"
    "const px=i=>P+S*(D.x[i]-x0), py=i=>cv.height-P-S*(D.y[i]-y0);\n"
    "const R0=D.n>20000?1.5:D.n>5000?2:3, R=i=>R0*(1+0.5*Math.log10(D.w[i]));\n"
    "function cats(){return mode==='label'?D.label:D.cluster;}\n"
    "function draw(){const c=cats();ctx.clearRect(0,0,cv.width,cv.height);ctx.globalAlpha=0.75;\n"
    " const order=[...c.names.keys()].sort((a,b)=>c.counts[b]-c.counts[a]);\n"
    " for(const k of order){ctx.fillStyle=c.colors[k];for(let i=0;i<D.n;i++){if(c.cat[i]!==k)continue;"
    "ctx.beginPath();ctx.arc(px(i),py(i),R(i),0,6.2832);ctx.fill();}}\n"
    " const lg=document.getElementById('legend');lg.innerHTML='<b>'+mode+' (rows)</b>';\n"
    " c.names.forEach((nm,k)=>{const d=document.createElement('div');const s=document.createElement('span');"
    "s.style.background=c.colors[k];d.appendChild(s);d.appendChild(document.createTextNode(nm+' ('+c.counts[k]+')'));lg.appendChild(d);});\n"
    " document.getElementById('mode').textContent='coloured by '+mode;}\n"
    "function setMode(m){if(m==='label'&&!D.label)return;mode=m;draw();}\n"
    "cv.addEventListener('mousemove',ev=>{const r=cv.getBoundingClientRect();const mx=(ev.clientX-r.left)*cv.width/r.width,"
    "my=(ev.clientY-r.top)*cv.height/r.height;let best=-1,bd=64;\n"
    " for(let i=0;i<D.n;i++){const dx=px(i)-mx,dy=py(i)-my,d=dx*dx+dy*dy;if(d<bd){bd=d;best=i;}}\n"
    " if(best<0){tip.style.display='none';return;}\n"
    " tip.textContent='';const add=(k,v)=>{const b=document.createElement('b');b.textContent=k+': ';tip.appendChild(b);"
    "tip.appendChild(document.createTextNode(v));tip.appendChild(document.createElement('br'));};\n"
    " add('row',String(D.row[best])+(D.w[best]>1?' (and '+(D.w[best]-1)+' more rows here)':''));"
    "add('cluster',D.cl[best]<0?'noise':String(D.cl[best]));\n"
    " if(D.lab)add('label',D.lab[best]);if(D.src)add('source',D.src[best]);if(D.msg)add('message',D.msg[best]);\n"
    " tip.style.display='block';tip.style.left=(ev.clientX+14)+'px';tip.style.top=(ev.clientY+14)+'px';});\n"
    "cv.addEventListener('mouseleave',()=>{tip.style.display='none';});\n"
    "if(!D.label)document.getElementById('bl').disabled=true;\n"
    "draw();\n</script></body></html>\n";

#define HTML_MSG_MAX 600 /* bytes of a message kept for the tooltip */

lg_err lg_plot_html(const lg_plot_data *d, lg_buf *out, lg_errmsg *err) {
    categories cc, cl;
    memset(&cl, 0, sizeof cl);
    lg_err e = categorize(d, 0, &cc, err);
    if (e) return e;
    if (d->labels && (e = categorize(d, 1, &cl, err))) {
        cat_free(&cc);
        return e;
    }
    size_t *rep = NULL, *wt = NULL, nm = 0; /* markers: rows at one spot, same cluster and label */
    if ((e = group_markers(d, NULL, &rep, &wt, &nm, err))) {
        cat_free(&cc);
        cat_free(&cl);
        return e;
    }
    lg_buf tmp;
    lg_buf_init(&tmp, (size_t)1 << 24);
    e = lg_buf_append(out, html_head, sizeof html_head - 1);
    if (!e) e = lg_buf_printf(out, "<h3>");
    if (!e) e = put_xml(out, d->title ? d->title : "logify cluster");
    if (!e)
        e = lg_buf_printf(out,
                          "</h3>\n<div><button onclick=\"setMode('cluster')\">colour by cluster</button>"
                          "<button id=\"bl\" onclick=\"setMode('label')\">colour by label</button>"
                          "<span id=\"mode\"></span> &middot; hover a point for its message</div>\n"
                          "<div id=\"wrap\"><canvas id=\"map\" width=\"900\" height=\"760\"></canvas>"
                          "<div id=\"legend\"></div></div><div id=\"tip\"></div>\n"
                          "<script>\nconst D={\"n\":%zu,\"byLabel\":%s,\"x\":[",
                          nm, d->labels ? "true" : "false");
    for (size_t q = 0; q < nm && !e; q++)
        e = lg_buf_printf(out, "%s%.4g", q ? "," : "", d->xy[2 * rep[q]]);
    if (!e) e = lg_buf_printf(out, "],\"y\":[");
    for (size_t q = 0; q < nm && !e; q++)
        e = lg_buf_printf(out, "%s%.4g", q ? "," : "", d->xy[2 * rep[q] + 1]);
    if (!e) e = lg_buf_printf(out, "],\"cl\":[");
    for (size_t q = 0; q < nm && !e; q++)
        e = lg_buf_printf(out, "%s%d", q ? "," : "", (int)d->cluster[rep[q]]);
    if (!e) e = lg_buf_printf(out, "],\"row\":[");
    for (size_t q = 0; q < nm && !e; q++) e = lg_buf_printf(out, "%s%zu", q ? "," : "", rep[q] + 1);
    if (!e) e = lg_buf_printf(out, "],\"w\":[");
    for (size_t q = 0; q < nm && !e; q++) e = lg_buf_printf(out, "%s%zu", q ? "," : "", wt[q]);
    if (!e) e = lg_buf_printf(out, "],\n\"cluster\":");
    if (!e) e = put_categories(out, &tmp, &cc, rep, nm);
    if (!e) e = lg_buf_printf(out, ",\n\"label\":");
    if (!e) e = d->labels ? put_categories(out, &tmp, &cl, rep, nm) : lg_buf_printf(out, "null");
    const char *const *cols[3] = {d->labels, d->sources, d->msgs};
    const char *keys[3] = {"lab", "src", "msg"};
    for (int c = 0; c < 3 && !e; c++) {
        e = lg_buf_printf(out, ",\n\"%s\":", keys[c]);
        if (!e && !cols[c]) {
            e = lg_buf_printf(out, "null");
            continue;
        }
        if (!e) e = lg_buf_putc(out, '[');
        for (size_t q = 0; q < nm && !e; q++) {
            size_t i = rep[q];
            size_t len = (c == 2 && d->lens) ? d->lens[i] : strlen(cols[c][i]);
            if (len > HTML_MSG_MAX) len = HTML_MSG_MAX;
            if (q) e = lg_buf_putc(out, ',');
            if (!e) e = put_js_string(out, &tmp, cols[c][i], len);
        }
        if (!e) e = lg_buf_putc(out, ']');
    }
    if (!e) e = lg_buf_printf(out, "};\n</script>\n");
    if (!e) e = lg_buf_append(out, html_script, sizeof html_script - 1);
    lg_buf_free(&tmp);
    cat_free(&cc);
    cat_free(&cl);
    free(rep), free(wt);
    if (e) return lg_fail(err, e, "plot: HTML too large");
    return LG_OK;
}
