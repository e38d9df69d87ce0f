/* console.js - the Logify console (GET / on `logify serve`; docs/console.md).
 * Plain JS, no library, no network beyond this server. Log lines are
 * hostile input: every value reaches the page through textContent or an
 * SVG attribute, never as HTML (no innerHTML anywhere in this file), and
 * the server's Content-Security-Policy forbids inline script and eval.
 *
 *   Classify  a CSV (picked, dropped, or pasted lines with a source) goes to
 *             POST /classify/?format=jsonl&explain=1&templates=1&cut=0, read as it
 *             streams into a column store; a virtual table (only the visible
 *             rows exist in the DOM), filters, sort, counts as SVG bars.
 *             Downloads post the same file again with the CLI's options, so
 *             they are `logify classify FILE --explain [--format jsonl]`
 *             byte for byte (the server writes them with the CLI's writer).
 *   Clusters  POST /v1/jobs/cluster with the classified rows, progress from
 *             GET /v1/jobs/ID, then the map (SVG) and the clusters.
 *   Evaluate  a labelled CSV to POST /v1/eval?name=FILE: `logify eval --json`'s
 *             figures as tables and `logify eval --plot`'s SVG, rebuilt
 *             element by element from a whitelist (text stays text).
 *   Live      /metrics every 2 s: rows/s, labels over time, templates, LLM.
 * The API key, when the server wants one, is asked for on the first 401,
 * kept in this closure only and sent as the Bearer header. */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const STAGES = ['rules', 'model', 'llm', 'none'];
  const fmtInt = (n) => n.toLocaleString('en-US');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // ---- API key and requests -------------------------------------------------------

  let apiKey = null; // memory only: never in a URL, a cookie or storage
  let keyWait = null;

  function askKey(message) {
    if (keyWait) return keyWait.promise;
    const form = $('login');
    $('login-msg').textContent = message || '';
    form.hidden = false;
    $('key').focus();
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    keyWait = { promise, resolve };
    return promise;
  }
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('key').value;
    if (!k) return;
    apiKey = k;
    $('key').value = '';
    $('login').hidden = true;
    const w = keyWait;
    keyWait = null;
    if (w) w.resolve();
  });

  // fetch with the key; on 401 asks for it (again) and retries.
  async function api(path, opts = {}) {
    for (;;) {
      const headers = Object.assign({}, opts.headers || {});
      if (apiKey !== null) headers.Authorization = 'Bearer ' + apiKey;
      const r = await fetch(path, Object.assign({}, opts, { headers, cache: 'no-store', credentials: 'omit' }));
      if (r.status !== 401) return r;
      await askKey(apiKey === null ? '' : 'The server refused that key.');
    }
  }

  async function detailOf(r) {
    const t = await r.text().catch(() => '');
    try {
      const d = JSON.parse(t).detail;
      if (typeof d === 'string') return d;
      if (Array.isArray(d)) return d.map((x) => x.msg || JSON.stringify(x)).join('; ');
    } catch (e) { /* not JSON */ }
    return (r.status + ' ' + r.statusText + ' ' + t).trim();
  }

  // The server's reason in the words `logify classify FILE` prints on stderr.
  function cliError(name, detail) {
    const m = /^(?:Malformed CSV: |CSV must contain 'source' and 'log_message' columns\. )(.*)$/s.exec(detail);
    return m ? 'logify: error: ' + name + ': ' + m[1] : detail;
  }

  // ---- Tabs ----------------------------------------------------------------------------

  const tabs = ['classify', 'clusters', 'eval', 'live'];
  function showTab(name) {
    for (const t of tabs) {
      const on = t === name;
      $('tab-' + t).setAttribute('aria-selected', on ? 'true' : 'false');
      $('tab-' + t).tabIndex = on ? 0 : -1;
      $('view-' + t).hidden = !on;
    }
    if (name === 'live') live.start(); else live.stop();
    if (name === 'classify') table.render();
  }
  tabs.forEach((t, i) => {
    const b = $('tab-' + t);
    b.addEventListener('click', () => showTab(t));
    b.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (!d) return;
      const n = tabs[(i + d + tabs.length) % tabs.length];
      showTab(n);
      $('tab-' + n).focus();
    });
  });

  // ---- The column store ------------------------------------------------------------------

  class Dict {
    constructor() { this.list = []; this.map = new Map(); }
    id(s) {
      let i = this.map.get(s);
      if (i === undefined) { i = this.list.length; this.list.push(s); this.map.set(s, i); }
      return i;
    }
  }

  const store = {
    n: 0, cap: 0, msg: [], src: null, lab: null, stg: null, conf: null, det: null, tid: null,
    d: null, file: null, name: '', gen: 0,
    reset() {
      this.n = 0; this.cap = 0; this.msg = [];
      this.src = this.lab = this.stg = this.det = this.tid = this.conf = null;
      this.d = { src: new Dict(), lab: new Dict(), stg: new Dict(), det: new Dict(), tid: new Dict() };
      for (const s of STAGES) this.d.stg.id(s);
      this.d.tid.id('');
      this.gen++;
    },
    grow() {
      const cap = this.cap ? this.cap * 2 : 4096;
      const g = (a, T) => { const b = new T(cap); if (a) b.set(a); return b; };
      this.src = g(this.src, Uint32Array); this.lab = g(this.lab, Uint32Array);
      this.stg = g(this.stg, Uint8Array); this.det = g(this.det, Uint32Array);
      this.tid = g(this.tid, Uint32Array); this.conf = g(this.conf, Float32Array);
      this.cap = cap;
    },
    push(o) {
      if (this.n === this.cap) this.grow();
      const i = this.n++;
      this.msg.push(String(o.log_message ?? ''));
      this.src[i] = this.d.src.id(String(o.source ?? ''));
      this.lab[i] = this.d.lab.id(String(o.target_label ?? ''));
      this.stg[i] = this.d.stg.id(String(o.stage ?? ''));
      this.conf[i] = typeof o.confidence === 'number' ? o.confidence : NaN;
      this.det[i] = this.d.det.id(String(o.detail ?? ''));
      this.tid[i] = this.d.tid.id(o.template_id == null ? '' : String(o.template_id));
    },
  };
  store.reset();

  // ---- Classify --------------------------------------------------------------------------

  const ui = { busy: false };
  function setStatus(t) { $('status').textContent = t; }
  function showError(t) { const e = $('error'); e.textContent = t; e.hidden = !t; }

  async function classify(file, name) {
    if (ui.busy) return;
    ui.busy = true;
    showError('');
    store.reset();
    store.file = file;
    store.name = name;
    $('results').hidden = true;
    $('cluster-go').disabled = true;
    // the clusters of earlier rows no longer apply
    $('cluster-out').hidden = true;
    $('glist').hidden = true;
    $('cluster-progress').hidden = true;
    $('cluster-summary').textContent = '';
    clusterError('');
    setStatus('Classifying ' + name + '…');
    const t0 = performance.now();
    let failure = '';
    try {
      const fd = new FormData();
      fd.append('file', file, name);
      // cut=0: a failure past the first 4 MiB of answer ends it with a
      // {"detail"} line instead of breaking the transfer (which would make
      // the browser drop the rows not read yet, and the reason)
      const r = await api('/classify/?format=jsonl&explain=1&templates=1&cut=0', { method: 'POST', body: fd });
      if (!r.ok) {
        failure = cliError(name, await detailOf(r));
      } else {
        failure = await readJsonl(r, name, t0);
      }
    } catch (e) {
      failure = failure || 'The request failed: ' + e.message;
    }
    ui.busy = false;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (failure) {
      showError(failure);
      setStatus(store.n ? fmtInt(store.n) + ' rows before the error' : '');
    } else {
      setStatus(fmtInt(store.n) + ' rows from ' + name + ' in ' + secs + ' s');
    }
    if (store.n) { // after a failure too: the rows before it
      filters.rebuildOptions();
      filters.apply();
      charts.draw();
      $('results').hidden = false;
      $('cluster-go').disabled = store.n < 2 || !!failure;
      table.render();
    }
  }

  // Reads an NDJSON answer into the store; returns '' or the failure (the
  // server ends a cut-off answer with a {"detail": ...} line).
  async function readJsonl(r, name, t0) {
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let rest = '', failure = '', last = 0;
    const line = (s) => {
      if (!s) return;
      const o = JSON.parse(s);
      if (!('target_label' in o) && typeof o.detail === 'string') failure = cliError(name, o.detail);
      else store.push(o);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = rest + dec.decode(value, { stream: true });
        let a = 0, b;
        while ((b = text.indexOf('\n', a)) >= 0) { line(text.slice(a, b)); a = b + 1; }
        rest = text.slice(a);
        const now = performance.now();
        if (now - last > 250) {
          last = now;
          setStatus(fmtInt(store.n) + ' rows… (' + ((now - t0) / 1000).toFixed(1) + ' s)');
        }
      }
      line(rest + dec.decode());
    } catch (e) {
      return failure || 'The answer was cut off after ' + fmtInt(store.n) + ' rows: ' + e.message;
    }
    return failure;
  }

  // ---- Inputs: pick, drop, paste ----------------------------------------------------------

  $('pick').addEventListener('click', () => $('file').click());
  $('file').addEventListener('change', () => {
    const f = $('file').files[0];
    if (f) { $('file-name').textContent = f.name; classify(f, f.name); }
    $('file').value = '';
  });
  // A drop zone: a file dropped on it goes to onFile.
  function dropZone(zone, onFile) {
    zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (ev) => {
      ev.preventDefault();
      zone.classList.remove('over');
      const f = ev.dataTransfer && ev.dataTransfer.files[0];
      if (f) onFile(f);
    });
  }
  dropZone($('drop'), (f) => { $('file-name').textContent = f.name; classify(f, f.name); });
  // the page itself must not navigate to a file dropped next to the zone
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

  const csvField = (s) => '"' + s.replace(/"/g, '""') + '"';
  $('paste-go').addEventListener('click', () => {
    const lines = $('paste-text').value.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (!lines.length) { showError('Paste at least one log line.'); return; }
    const src = csvField($('paste-source').value.trim() || 'ModernCRM');
    const csv = 'source,log_message\n' + lines.map((l) => src + ',' + csvField(l)).join('\n') + '\n';
    $('file-name').textContent = '';
    classify(new File([csv], 'pasted.csv', { type: 'text/csv' }), 'pasted.csv');
  });

  // ---- Downloads: the CLI's bytes -------------------------------------------------------------

  async function download(fmt) {
    if (!store.file || ui.busy) return;
    const explain = $('dl-explain').checked;
    const btn = $('dl-' + fmt);
    btn.disabled = true;
    showError('');
    try {
      const fd = new FormData();
      fd.append('file', store.file, store.name);
      const r = await api('/classify/?format=' + fmt + (explain ? '&explain=1' : ''), { method: 'POST', body: fd });
      if (!r.ok) { showError(cliError(store.name, await detailOf(r))); return; }
      const blob = await r.blob();
      const a = el('a');
      a.href = URL.createObjectURL(blob);
      a.download = store.name.replace(/\.csv$/i, '') + '.classified.' + fmt;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    } catch (e) {
      showError('The download failed: ' + e.message);
    } finally {
      btn.disabled = false;
    }
  }
  $('dl-csv').addEventListener('click', () => download('csv'));
  $('dl-jsonl').addEventListener('click', () => download('jsonl'));

  // ---- Filters and sort -------------------------------------------------------------------------

  const filters = {
    view: new Uint32Array(0), // row indices shown, in display order
    sortKey: 'row', sortDir: 1,
    rebuildOptions() {
      const fill = (sel, dict, keep) => {
        const s = $(sel);
        while (s.options.length > 1) s.remove(1);
        const names = dict.list.filter((x, i) => keep(i)).slice().sort();
        for (const n of names) { const o = el('option', '', n); o.value = n; s.appendChild(o); }
      };
      const used = (col, k) => { const seen = new Uint8Array(k); for (let i = 0; i < store.n; i++) seen[col[i]] = 1; return (i) => seen[i] === 1; };
      fill('f-label', store.d.lab, used(store.lab, store.d.lab.list.length));
      fill('f-stage', store.d.stg, used(store.stg, store.d.stg.list.length));
      fill('f-source', store.d.src, used(store.src, store.d.src.list.length));
    },
    apply() {
      const want = (sel, dict) => { const v = $(sel).value; return v === '' ? -1 : dict.map.get(v) ?? -2; };
      const fl = want('f-label', store.d.lab), fs = want('f-stage', store.d.stg), fo = want('f-source', store.d.src);
      const text = $('f-text').value.toLowerCase();
      const out = new Uint32Array(store.n);
      let k = 0;
      for (let i = 0; i < store.n; i++) {
        if (fl !== -1 && store.lab[i] !== fl) continue;
        if (fs !== -1 && store.stg[i] !== fs) continue;
        if (fo !== -1 && store.src[i] !== fo) continue;
        if (text && !store.msg[i].toLowerCase().includes(text)) continue;
        out[k++] = i;
      }
      this.view = out.subarray(0, k);
      this.sort();
      $('shown').textContent = k === store.n ? fmtInt(k) + ' rows' : fmtInt(k) + ' of ' + fmtInt(store.n) + ' rows';
      charts.mark();
      table.reset();
    },
    // Keys as numbers: interned columns by the rank of their string, so that
    // one Float64Array sort (key * 2^26 + row) orders the view.
    sort() {
      const v = this.view, key = this.sortKey, dir = this.sortDir;
      if (key === 'row') { if (dir < 0) v.reverse(); return; }
      const rankOf = (dict) => {
        const order = dict.list.map((s, i) => i).sort((a, b) => (dict.list[a] < dict.list[b] ? -1 : dict.list[a] > dict.list[b] ? 1 : 0));
        const r = new Uint32Array(dict.list.length);
        order.forEach((id, pos) => { r[id] = pos; });
        return r;
      };
      let k;
      if (key === 'conf') {
        k = (i) => (Number.isNaN(store.conf[i]) ? 0 : 1 + Math.round(store.conf[i] * 10000));
      } else if (key === 'msg') {
        const idx = Array.from(v).sort((a, b) => (store.msg[a] < store.msg[b] ? -1 : store.msg[a] > store.msg[b] ? 1 : a - b));
        if (dir < 0) idx.reverse();
        v.set(idx);
        return;
      } else {
        const col = { source: store.src, label: store.lab, stage: store.stg, detail: store.det, tid: store.tid }[key];
        const dict = { source: store.d.src, label: store.d.lab, stage: store.d.stg, detail: store.d.det, tid: store.d.tid }[key];
        const r = rankOf(dict);
        k = (i) => r[col[i]];
      }
      const SH = 67108864; // 2^26 rows at most
      const f = new Float64Array(v.length);
      let max = 0;
      for (let j = 0; j < v.length; j++) { const x = k(v[j]); if (x > max) max = x; f[j] = x; }
      for (let j = 0; j < v.length; j++) f[j] = (dir > 0 ? f[j] : max - f[j]) * SH + v[j];
      f.sort();
      for (let j = 0; j < v.length; j++) v[j] = f[j] % SH;
    },
  };
  for (const id of ['f-label', 'f-stage', 'f-source']) $(id).addEventListener('change', () => filters.apply());
  let textTimer = 0;
  $('f-text').addEventListener('input', () => { clearTimeout(textTimer); textTimer = setTimeout(() => filters.apply(), 150); });

  // ---- The table (virtual scrolling) ----------------------------------------------------------

  const COLS = [
    ['row', '#'], ['source', 'source'], ['msg', 'log_message'], ['label', 'label'],
    ['stage', 'stage'], ['conf', 'confidence'], ['detail', 'detail'], ['tid', 'template'],
  ];
  const ROW_H = 24, MAX_H = 8000000; // past MAX_H the scroll position maps onto the rows
  const table = {
    pool: [], first: -1,
    init() {
      const head = $('thead');
      for (const [key, title] of COLS) {
        const b = el('button', '', title);
        b.type = 'button';
        b.dataset.key = key;
        b.setAttribute('aria-sort', key === 'row' ? 'ascending' : 'none');
        b.addEventListener('click', () => {
          filters.sortDir = filters.sortKey === key ? -filters.sortDir : 1;
          filters.sortKey = key;
          for (const x of head.children) x.setAttribute('aria-sort', x.dataset.key === key ? (filters.sortDir > 0 ? 'ascending' : 'descending') : 'none');
          filters.apply();
        });
        head.appendChild(b);
      }
      $('viewport').addEventListener('scroll', () => this.render(), { passive: true });
      window.addEventListener('resize', () => this.render());
    },
    reset() {
      const vp = $('viewport');
      const n = filters.view.length;
      $('spacer').style.height = Math.min(n * ROW_H, MAX_H) + 'px';
      vp.scrollTop = 0;
      this.first = -1;
      this.render();
    },
    render() {
      const vp = $('viewport'), rows = $('rows');
      if (vp.offsetParent === null) return; // hidden
      const n = filters.view.length;
      const vis = Math.ceil(vp.clientHeight / ROW_H) + 1;
      while (this.pool.length < vis) {
        const r = el('div', 'row');
        r.setAttribute('role', 'row');
        for (let c = 0; c < COLS.length; c++) r.appendChild(el('span'));
        rows.appendChild(r);
        this.pool.push(r);
      }
      const st = vp.scrollTop;
      const full = n * ROW_H;
      let first, top;
      if (full <= MAX_H) {
        first = Math.floor(st / ROW_H);
        top = first * ROW_H;
      } else {
        const range = Math.max(1, MAX_H - vp.clientHeight);
        first = Math.round((Math.min(st, range) / range) * Math.max(0, n - vis + 1));
        top = st;
      }
      rows.style.transform = 'translateY(' + top + 'px)';
      const v = filters.view;
      for (let j = 0; j < this.pool.length; j++) {
        const r = this.pool[j];
        const k = first + j;
        if (k >= n) { r.hidden = true; continue; }
        r.hidden = false;
        const i = v[k];
        const c = r.children;
        const conf = store.conf[i];
        const vals = [String(i + 1), store.d.src.list[store.src[i]], store.msg[i], store.d.lab.list[store.lab[i]],
          store.d.stg.list[store.stg[i]], Number.isNaN(conf) ? '' : conf.toFixed(4), store.d.det.list[store.det[i]],
          store.d.tid.list[store.tid[i]]];
        for (let x = 0; x < vals.length; x++) {
          if (c[x].textContent !== vals[x]) { c[x].textContent = vals[x]; }
        }
        c[2].title = vals[2];
        c[6].title = vals[6];
        r.dataset.row = String(i + 1);
      }
      this.first = first;
    },
  };
  table.init();

  // ---- Charts: rows by label and by stage --------------------------------------------------------

  const charts = {
    draw() {
      this.bars('chart-label', store.lab, store.d.lab, 'f-label', 30, 600);
      this.bars('chart-stage', store.stg, store.d.stg, 'f-stage', 8, 300);
      this.mark();
    },
    // Horizontal bars, largest first; at most `top` bars, the rest summed.
    bars(id, col, dict, filterId, top, W) {
      const counts = new Float64Array(dict.list.length);
      for (let i = 0; i < store.n; i++) counts[col[i]]++;
      let items = dict.list.map((name, i) => ({ name, count: counts[i] })).filter((x) => x.count > 0);
      items.sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
      if (items.length > top) {
        const rest = items.slice(top - 1);
        items = items.slice(0, top - 1);
        items.push({ name: '(' + rest.length + ' more labels)', count: rest.reduce((s, x) => s + x.count, 0), other: true });
      }
      const svg = $(id);
      clear(svg);
      const LH = 22, LW = W > 400 ? 170 : 70, NW = 70;
      const H = items.length * LH + 4;
      svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
      svg.setAttribute('width', String(W));
      svg.setAttribute('height', String(H));
      const max = Math.max(1, ...items.map((x) => x.count));
      items.forEach((it, k) => {
        const g = svgEl('g', { class: 'bar', transform: 'translate(0,' + (k * LH + 2) + ')' });
        g.dataset.name = it.name;
        g.dataset.count = String(it.count);
        const name = svgEl('text', { x: LW - 6, y: 15, 'text-anchor': 'end', class: 'name' }, it.name.length > 26 ? it.name.slice(0, 25) + '…' : it.name);
        name.appendChild(svgEl('title', {}, it.name));
        g.appendChild(name);
        g.appendChild(svgEl('rect', { x: LW, y: 3, height: LH - 6, width: Math.max(1, ((W - LW - NW) * it.count) / max) }));
        g.appendChild(svgEl('text', { x: LW + 4 + ((W - LW - NW) * it.count) / max, y: 15, class: 'count' }, fmtInt(it.count)));
        if (!it.other) {
          g.setAttribute('tabindex', '0');
          g.setAttribute('role', 'button');
          g.setAttribute('aria-label', it.name + ': ' + it.count + ' rows; filter');
          const pick = () => { const s = $(filterId); s.value = s.value === it.name ? '' : it.name; filters.apply(); };
          g.addEventListener('click', pick);
          g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } });
        }
        svg.appendChild(g);
      });
    },
    mark() {
      for (const [id, f] of [['chart-label', 'f-label'], ['chart-stage', 'f-stage']]) {
        const v = $(f).value;
        for (const g of $(id).querySelectorAll('g.bar')) g.classList.toggle('on', v !== '' && g.dataset.name === v);
      }
    },
  };

  // ---- Clusters: a server job, then the map ------------------------------------------------------

  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
    '#ff9da7', '#9c755f', '#2f4b7c', '#a05195', '#d45087', '#665191', '#00876c', '#bc5090'];
  const colorOf = (c) => (c < 0 ? '#b8bec8' : PALETTE[c % PALETTE.length]);
  const clusters = { result: null, gen: -1, points: [], byId: new Map() };

  function clusterError(t) { const e = $('cluster-error'); e.textContent = t; e.hidden = !t; }

  // Cancel: DELETE /v1/jobs/ID; the job stops at its next step and the
  // polling below sees "canceled".
  let runningJob = null;
  $('cluster-cancel').addEventListener('click', async () => {
    if (!runningJob) return;
    $('cluster-cancel').disabled = true;
    $('cluster-phase').textContent = 'canceling…';
    try {
      const r = await api('/v1/jobs/' + encodeURIComponent(runningJob), { method: 'DELETE' });
      if (!r.ok) clusterError(await detailOf(r));
    } catch (e) {
      clusterError('Cancel failed: ' + e.message);
    }
  });

  $('cluster-go').addEventListener('click', async () => {
    if (!store.n) return;
    const btn = $('cluster-go');
    btn.disabled = true;
    clusterError('');
    $('cluster-out').hidden = true;
    $('glist').hidden = true;
    $('cluster-summary').textContent = '';
    const gen = store.gen;
    // the classified rows: their messages and the labels they got
    const parts = ['log_message,target_label\n'];
    for (let i = 0; i < store.n; i++) parts.push(csvField(store.msg[i]) + ',' + csvField(store.d.lab.list[store.lab[i]]) + '\n');
    try {
      const r = await api('/v1/jobs/cluster', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: new Blob(parts, { type: 'text/csv' }) });
      if (r.status !== 202) { clusterError(await detailOf(r)); return; }
      const { id } = await r.json();
      runningJob = id;
      $('cluster-cancel').hidden = false;
      $('cluster-cancel').disabled = false;
      $('cluster-cancel').focus(); // the start button is disabled: keyboard focus moves on
      $('cluster-progress').hidden = false;
      for (;;) {
        const q = await api('/v1/jobs/' + encodeURIComponent(id));
        if (!q.ok) { clusterError(await detailOf(q)); return; }
        const j = await q.json();
        const frac = j.total ? j.done / j.total : 0;
        $('cluster-bar').style.width = (100 * Math.min(1, frac)).toFixed(1) + '%';
        $('cluster-phase').textContent = j.state === 'running'
          ? j.phase + (j.total ? ' ' + fmtInt(j.done) + ' / ' + fmtInt(j.total) : '') + ' · ' + j.seconds.toFixed(1) + ' s'
          : j.state;
        if (j.state === 'failed') { clusterError(j.error); return; }
        if (j.state === 'canceled') {
          $('cluster-phase').textContent = 'canceled after ' + j.seconds.toFixed(1) + ' s (in ' + j.phase + ')';
          $('cluster-summary').textContent = 'The cluster job was canceled.';
          return;
        }
        if (j.state === 'done') { drawClusters(j.result, gen); $('cluster-phase').textContent = 'done in ' + j.seconds.toFixed(1) + ' s'; return; }
        await new Promise((res) => setTimeout(res, 300));
      }
    } catch (e) {
      clusterError('The cluster job failed: ' + e.message);
    } finally {
      runningJob = null;
      const refocus = document.activeElement === $('cluster-cancel') || document.activeElement === document.body;
      $('cluster-cancel').hidden = true;
      btn.disabled = store.n < 2;
      if (refocus && !btn.disabled) btn.focus();
    }
  });

  const MAP_W = 640, MAP_H = 480, MAX_MARKS = 50000;

  function drawClusters(res, gen) {
    clusters.result = res;
    clusters.gen = gen;
    clusters.labelRank = null;
    clusters.byId = new Map(res.groups.map((g) => [g.id, g]));
    $('cluster-summary').textContent = fmtInt(res.rows) + ' rows, ' +
      (res.templates === null ? '' : fmtInt(res.templates) + ' templates, ') + fmtInt(res.distinct) + ' distinct vectors, ' +
      fmtInt(res.clusters) + ' clusters, ' + fmtInt(res.noise) + ' noise' +
      (res.silhouette === null ? '' : ', silhouette ' + res.silhouette.toFixed(3));
    // one mark per distinct position (identical embeddings share a point)
    const p = res.points, n = p.length / 3;
    const seen = new Map(), marks = [];
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = p[3 * i], y = p[3 * i + 1], c = p[3 * i + 2];
      const key = x + ',' + y + ',' + c;
      const m = seen.get(key);
      if (m) { m.count++; continue; }
      const mk = { x, y, c, row: i, count: 1 };
      seen.set(key, mk);
      marks.push(mk);
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    const shown = marks.length > MAX_MARKS ? marks.filter((m, k) => k % Math.ceil(marks.length / MAX_MARKS) === 0) : marks;
    clusters.points = shown;
    const sx = (x) => 12 + ((x - x0) / Math.max(1e-9, x1 - x0)) * (MAP_W - 24);
    const sy = (y) => 12 + ((y1 - y) / Math.max(1e-9, y1 - y0)) * (MAP_H - 24);
    const svg = $('map');
    clear(svg);
    svg.setAttribute('viewBox', '0 0 ' + MAP_W + ' ' + MAP_H);
    const frag = document.createDocumentFragment();
    shown.forEach((m, k) => {
      const r = Math.min(9, 2.5 + Math.log2(m.count));
      const c = svgEl('circle', { cx: sx(m.x).toFixed(1), cy: sy(m.y).toFixed(1), r: r.toFixed(1), fill: markColor(m) });
      c.dataset.k = String(k);
      c.dataset.c = String(m.c);
      frag.appendChild(c);
    });
    svg.appendChild(frag);
    if (shown.length < marks.length) $('cluster-summary').textContent += ' (map: ' + fmtInt(shown.length) + ' of ' + fmtInt(marks.length) + ' distinct points)';
    $('cluster-out').hidden = false;
    // the list of clusters (keyboard: a button per cluster)
    const body = $('glist-body');
    clear(body);
    for (const g of res.groups) {
      const tr = el('tr');
      const b = el('button', '', g.id < 0 ? 'noise' : 'cluster ' + g.id);
      b.type = 'button';
      b.addEventListener('click', () => selectCluster(g.id));
      const td0 = el('td');
      td0.appendChild(b);
      tr.appendChild(td0);
      tr.appendChild(el('td', '', fmtInt(g.size)));
      tr.appendChild(el('td', '', g.label === null ? '' : g.label + ' (' + Math.round(g.label_share * 100) + '%)'));
      tr.appendChild(el('td', '', g.template === null ? '' : g.template));
      tr.appendChild(el('td', '', g.rules.length ? g.rules[0].id + (g.rules.length > 1 ? ' (+' + (g.rules.length - 1) + ')' : '') : ''));
      body.appendChild(tr);
    }
    $('glist').hidden = false;
    showDetail(null);
  }

  // Colour by cluster, or by the label the row got (the label's rank among
  // the labels, so that a label keeps its colour).
  function markColor(m) {
    if ($('map-color').value !== 'label' || clusters.gen !== store.gen) return colorOf(m.c);
    const lab = store.lab[m.row];
    if (!clusters.labelRank) {
      const names = store.d.lab.list.map((x, i) => i).sort((a, b) => (store.d.lab.list[a] < store.d.lab.list[b] ? -1 : 1));
      clusters.labelRank = new Map(names.map((id, r) => [id, r]));
    }
    return store.d.lab.list[lab] === 'Unclassified' ? '#b8bec8' : PALETTE[clusters.labelRank.get(lab) % PALETTE.length];
  }
  $('map-color').addEventListener('change', () => {
    clusters.labelRank = null;
    for (const c of $('map').querySelectorAll('circle')) c.setAttribute('fill', markColor(clusters.points[+c.dataset.k]));
  });

  function rowMessage(row) {
    return clusters.gen === store.gen && row < store.n ? store.msg[row] : '';
  }

  const tip = $('tip');
  $('map').addEventListener('mousemove', (ev) => {
    const k = ev.target.dataset && ev.target.dataset.k;
    if (k === undefined) { tip.hidden = true; return; }
    const m = clusters.points[+k];
    clear(tip);
    tip.appendChild(el('div', '', rowMessage(m.row)));
    const lab = clusters.gen === store.gen ? store.d.lab.list[store.lab[m.row]] : '';
    tip.appendChild(el('div', 'muted', 'label: ' + lab + ' · ' + (m.c < 0 ? 'noise' : 'cluster ' + m.c) +
      (m.count > 1 ? ' · ' + fmtInt(m.count) + ' rows here' : '')));
    const box = $('map').parentElement.getBoundingClientRect();
    tip.style.left = Math.min(ev.clientX - box.left + 12, box.width - 200) + 'px';
    tip.style.top = ev.clientY - box.top + 12 + 'px';
    tip.hidden = false;
  });
  $('map').addEventListener('mouseleave', () => { tip.hidden = true; });
  $('map').addEventListener('click', (ev) => {
    const c = ev.target.dataset && ev.target.dataset.c;
    if (c !== undefined) selectCluster(+c);
  });

  function selectCluster(id) {
    for (const c of $('map').querySelectorAll('circle')) {
      const on = +c.dataset.c === id;
      c.classList.toggle('sel', on);
      c.classList.toggle('dim', !on);
    }
    showDetail(clusters.byId.get(id) || null);
  }

  function showDetail(g) {
    const d = $('cluster-detail');
    clear(d);
    if (!g) { d.appendChild(el('p', 'muted', 'Hover a point for its line; click one to see its cluster.')); return; }
    d.appendChild(el('h2', '', g.id < 0 ? 'Noise' : 'Cluster ' + g.id));
    const dl = el('dl');
    const add = (k, v) => { dl.appendChild(el('dt', '', k)); dl.appendChild(el('dd', '', v)); };
    add('rows', fmtInt(g.size) + ' of ' + fmtInt(clusters.result.rows));
    if (g.label !== null) add('label', g.label + ' (' + (g.label_share * 100).toFixed(1) + '%)');
    if (g.template !== null) add('template', g.template);
    d.appendChild(dl);
    d.appendChild(el('h3', '', 'Examples'));
    const ul = el('ul');
    for (const x of g.examples) ul.appendChild(el('li', 'mono', x));
    d.appendChild(ul);
    if (!g.rules.length) {
      d.appendChild(el('p', 'muted', clusters.result.by === 'template'
        ? 'No rule suggested (no template of 5 rows or more here).'
        : g.id < 0 ? 'Noise gets no rule.' : 'No rule suggested (cluster smaller than 5 rows, or no stable template).'));
      return;
    }
    d.appendChild(el('h3', '', g.rules.length === 1 ? 'Suggested rule' : 'Suggested rules (' + g.rules.length + ', one per template)'));
    for (const rule of g.rules) {
      const box = el('div', 'rule');
      const rl = el('dl');
      const radd = (k, v) => { rl.appendChild(el('dt', '', k)); rl.appendChild(el('dd', '', v)); };
      radd('id', rule.id);
      if (rule.group !== null) radd('rows of', rule.group + ' (' + fmtInt(rule.size) + ' rows)');
      radd('label', rule.label);
      radd('pattern', rule.pattern);
      radd('coverage', fmtInt(rule.coverage) + ' rows');
      if (rule.precision !== null) radd('precision', rule.precision.toFixed(4) + (rule.precision < 1 ? ' (REVIEW)' : ''));
      box.appendChild(rl);
      const pre = el('pre', 'rule-yaml', rule.yaml);
      const b = el('button', 'copy-yaml', 'Copy as YAML');
      b.type = 'button';
      const said = el('span', 'muted');
      b.addEventListener('click', async () => {
        said.textContent = (await copyText(rule.yaml, pre)) ? ' copied' : ' select the text and copy it';
      });
      box.appendChild(b);
      box.appendChild(said);
      box.appendChild(pre);
      d.appendChild(box);
    }
  }

  // The clipboard API needs a secure context (https or localhost); else the
  // old selection copy.
  async function copyText(text, node) {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (e) { /* fall through */ }
    const sel = window.getSelection(), range = document.createRange();
    range.selectNodeContents(node);
    sel.removeAllRanges();
    sel.addRange(range);
    try { return document.execCommand('copy'); } catch (e) { return false; }
  }

  // ---- Evaluate: POST /v1/eval, the figures and the SVG of `logify eval --plot` ------------------

  // The server's SVG (lg_evalplot_svg escapes every label) is still not put
  // into the page as markup: it is parsed as XML (which runs nothing) and
  // rebuilt with createElementNS from a whitelist of elements and
  // attributes; text nodes are copied as text. Anything else is dropped.
  const SVG_TAGS = new Set(['svg', 'g', 'rect', 'text', 'title', 'line']);
  const SVG_ATTRS = /^(x|y|x1|y1|x2|y2|width|height|viewBox|fill|stroke|stroke-width|opacity|font-family|font-size|font-weight|text-anchor|transform|class|data-[a-z0-9-]+)$/;
  function safeSvg(text) {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const root = doc.documentElement;
    if (!root || root.namespaceURI !== SVG || root.localName !== 'svg' || doc.getElementsByTagName('parsererror').length)
      throw new Error('the server\'s SVG does not parse');
    const copy = (src) => {
      const e = document.createElementNS(SVG, src.localName);
      for (const a of src.attributes) if (SVG_ATTRS.test(a.name) && !/url\(|script:/i.test(a.value)) e.setAttribute(a.name, a.value);
      for (const ch of src.childNodes) {
        if (ch.nodeType === Node.TEXT_NODE) e.appendChild(document.createTextNode(ch.nodeValue));
        else if (ch.nodeType === Node.ELEMENT_NODE && ch.namespaceURI === SVG && SVG_TAGS.has(ch.localName)) e.appendChild(copy(ch));
      }
      return e;
    };
    return copy(root);
  }

  const evalState = { svg: '', name: '' };
  function evalError(t) { const e = $('eval-error'); e.textContent = t; e.hidden = !t; }
  const fmt4 = (x) => (typeof x === 'number' ? x.toFixed(4) : '');

  async function evaluate(file, name) {
    evalError('');
    $('eval-out').hidden = true;
    $('eval-pick').disabled = true;
    $('eval-status').textContent = 'Evaluating ' + name + '…';
    const t0 = performance.now();
    try {
      const r = await api('/v1/eval?name=' + encodeURIComponent(name), { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: file });
      if (!r.ok) {
        const d = await detailOf(r);
        evalError(r.status === 400 ? 'logify: error: ' + d : d);
        $('eval-status').textContent = '';
        return;
      }
      const j = await r.json();
      evalState.svg = j.svg;
      evalState.name = name;
      $('eval-summary').textContent = fmtInt(j.rows) + ' rows, ' + Object.keys(j.per_label).length + ' labels: accuracy ' +
        fmt4(j.accuracy) + ', macro F1 ' + fmt4(j.macro_f1) + ', weighted F1 ' + fmt4(j.weighted_f1) + ' · model: ' + j.model;
      const lb = $('eval-labels-body');
      clear(lb);
      for (const [lab, v] of Object.entries(j.per_label)) {
        const tr = el('tr');
        tr.dataset.label = lab;
        for (const x of [lab, fmt4(v.precision), fmt4(v.recall), fmt4(v.f1), fmtInt(v.support)]) tr.appendChild(el('td', '', x));
        lb.appendChild(tr);
      }
      const sb = $('eval-stages-body');
      clear(sb);
      for (const st of ['rules', 'model', 'llm', 'none']) {
        const v = j.per_stage[st];
        if (!v) continue;
        const tr = el('tr');
        tr.dataset.stage = st;
        for (const x of [st === 'none' ? 'none (Unclassified)' : st, fmtInt(v.rows), st === 'none' || !v.rows ? '' : fmt4(v.accuracy)]) tr.appendChild(el('td', '', x));
        sb.appendChild(tr);
      }
      const box = $('eval-plot');
      clear(box);
      box.appendChild(safeSvg(j.svg));
      $('eval-out').hidden = false;
      $('eval-status').textContent = fmtInt(j.rows) + ' rows from ' + name + ' in ' + ((performance.now() - t0) / 1000).toFixed(1) + ' s';
    } catch (e) {
      evalError('The evaluation failed: ' + e.message);
      $('eval-status').textContent = '';
    } finally {
      $('eval-pick').disabled = false;
    }
  }
  $('eval-pick').addEventListener('click', () => $('eval-file').click());
  $('eval-file').addEventListener('change', () => {
    const f = $('eval-file').files[0];
    if (f) { $('eval-name').textContent = f.name; evaluate(f, f.name); }
    $('eval-file').value = '';
  });
  dropZone($('eval-drop'), (f) => { $('eval-name').textContent = f.name; evaluate(f, f.name); });
  // the SVG as the server wrote it: `logify eval --plot`'s file, byte for byte
  $('eval-svg-dl').addEventListener('click', () => {
    if (!evalState.svg) return;
    const a = el('a');
    a.href = URL.createObjectURL(new Blob([evalState.svg], { type: 'image/svg+xml' }));
    a.download = evalState.name.replace(/\.csv$/i, '') + '.eval.svg';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  });

  // ---- Live: the server's /metrics ---------------------------------------------------------------

  function parseMetrics(text) {
    const m = new Map(); // name -> [{labels, value}]
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const r = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)/.exec(line);
      if (!r) continue;
      const labels = {};
      if (r[3]) for (const p of r[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2].replace(/\\(.)/g, (a, c) => (c === 'n' ? '\n' : c));
      if (!m.has(r[1])) m.set(r[1], []);
      m.get(r[1]).push({ labels, value: Number(r[4]) });
    }
    return m;
  }
  const sum = (m, name) => (m.get(name) || []).reduce((s, x) => s + x.value, 0);

  const live = {
    timer: 0, prev: null, hist: [], labels: new Set(), HIST: 60,
    start() { if (!this.timer) { this.tick(); this.timer = setInterval(() => this.tick(), 2000); } },
    stop() { clearInterval(this.timer); this.timer = 0; },
    async tick() {
      let m;
      try {
        const r = await api('/metrics');
        if (!r.ok) { $('live-msg').textContent = await detailOf(r); return; }
        m = parseMetrics(await r.text());
      } catch (e) { $('live-msg').textContent = 'No answer from the server: ' + e.message; return; }
      const now = performance.now() / 1000;
      const perLabel = new Map();
      for (const x of m.get('logify_label_rows_total') || []) perLabel.set(x.labels.label, x.value);
      const cur = { t: now, rows: sum(m, 'logify_rows_total'), perLabel };
      $('m-rows').textContent = fmtInt(cur.rows);
      $('m-templates').textContent = fmtInt(sum(m, 'logify_new_templates_total'));
      $('m-llm').textContent = fmtInt(sum(m, 'logify_llm_calls_total'));
      $('m-cache').textContent = fmtInt(sum(m, 'logify_llm_cache_hits_total'));
      $('m-inflight').textContent = fmtInt(sum(m, 'logify_http_requests_in_flight'));
      if (this.prev) {
        const dt = Math.max(1e-3, cur.t - this.prev.t);
        $('m-rate').textContent = fmtInt(Math.round((cur.rows - this.prev.rows) / dt));
        const rates = new Map();
        for (const [lab, v] of perLabel) { rates.set(lab, Math.max(0, (v - (this.prev.perLabel.get(lab) || 0)) / dt)); this.labels.add(lab); }
        this.hist.push(rates);
        if (this.hist.length > this.HIST) this.hist.shift();
        this.draw();
      }
      $('live-msg').textContent = 'Updated ' + new Date().toLocaleTimeString();
      this.prev = cur;
    },
    draw() {
      const svg = $('live-chart');
      clear(svg);
      const W = 800, H = 240, L = 50, R = 190, T = 8, B = 20;
      svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
      let max = 1;
      for (const h of this.hist) for (const v of h.values()) if (v > max) max = v;
      svg.appendChild(svgEl('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
      svg.appendChild(svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
      svg.appendChild(svgEl('text', { x: L - 4, y: T + 10, 'text-anchor': 'end' }, fmtInt(Math.round(max))));
      svg.appendChild(svgEl('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'));
      svg.appendChild(svgEl('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, 'now'));
      const labs = [...this.labels].sort();
      labs.forEach((lab, k) => {
        const pts = this.hist.map((h, i) => {
          const x = L + ((W - L - R) * (i + this.HIST - this.hist.length)) / (this.HIST - 1);
          const y = H - B - ((H - T - B) * (h.get(lab) || 0)) / max;
          return x.toFixed(1) + ',' + y.toFixed(1);
        });
        const color = PALETTE[k % PALETTE.length];
        const pl = svgEl('polyline', { points: pts.join(' '), stroke: color });
        pl.dataset.label = lab;
        svg.appendChild(pl);
        if (k < 14) {
          svg.appendChild(svgEl('rect', { x: W - R + 10, y: T + k * 16, width: 10, height: 10, fill: color }));
          svg.appendChild(svgEl('text', { x: W - R + 26, y: T + k * 16 + 9 }, lab));
        }
      });
    },
  };

  // ---- Start -------------------------------------------------------------------------------------

  showTab('classify');
  // learn at once whether the server wants a key (it asks before anything else)
  api('/readyz').then(async (r) => {
    if (!r.ok) setStatus('The server is not ready: ' + (await detailOf(r)));
  }).catch((e) => setStatus('No answer from the server: ' + e.message));
})();
