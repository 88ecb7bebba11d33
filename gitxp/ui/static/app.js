/* gitxp dashboard: hand-written vanilla JS. Every value from the store is put in the page with textContent
   (never innerHTML), so a param value like a script tag is shown as text. Charts: uPlot (curves),
   ECharts (parallel coordinates, scatter). Works against the live server (/api/...) or, in an exported report,
   against window.GITXP_DATA. */
"use strict";

const STATIC = window.GITXP_DATA || null;
const state = {
  selected: new Set(JSON.parse(sessionStorage.getItem("gitxp.selected") || "[]")),
  query: { q: "", where: "", experiment: "", status: "", sort: "", group: "", offset: 0, limit: 100 },
  hidden: localStorage.getItem("gitxp.hidden") ? new Set(JSON.parse(localStorage.getItem("gitxp.hidden"))) : null,
  hideConstant: localStorage.getItem("gitxp.hideConstant") === "1",
  timers: [],
  charts: [],
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "value") node.value = v;
    else if (k === "checked") node.checked = !!v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) qs.set(k, v);
  if (STATIC) return remember(STATIC.answer(path, Object.fromEntries(qs)));
  const resp = await fetch(`/api/${path}${qs.toString() ? "?" + qs : ""}`);
  const data = await resp.json().catch(() => ({ reason: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error(data.reason || `HTTP ${resp.status}`);
  return remember(data);
}

/* The ids as shown that an answer carries (``short_ids``: run id -> shortest prefix unique in the store). */
function remember(data) {
  if (data && data.short_ids) Object.assign(SHORT, data.short_ids);
  return data;
}

/* Run ids as shown: the shortest prefix unique in the store, as the server computed it (``short_ids``). */
const SHORT = {};
function shortId(id) { return SHORT[id] || String(id); }

function fmt(v, col) {
  if (v === null || v === undefined) return "";
  if (col === "run_id") return shortId(v);
  if (col === "commit") return String(v).slice(0, 10);
  if (col === "duration" && typeof v === "number") return v < 120 ? v.toFixed(1) + "s" : (v / 60).toFixed(1) + "m";
  if (col === "started" || col === "ended") return String(v).replace("T", " ").slice(0, 19);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  if (Array.isArray(v)) return v.join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/* Columns a first look needs; commit, ended and meta.* start hidden (the column chooser shows them). */
function isHidden(c) { return state.hidden ? state.hidden.has(c) : c === "commit" || c === "ended" || c.startsWith("meta."); }
function orderColumns(cols) {
  const rank = (c) => ["run_id", "experiment", "status", "version", "branch", "started", "duration"].includes(c) ? 0
    : c.startsWith("results.") ? 1 : c.startsWith("params.") ? 2 : c.startsWith("meta.") ? 4 : 3;
  return cols.map((c, i) => [rank(c), i, c]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
}

function status(s) { return el("span", { class: `st st-${s}` }, s || ""); }
function setStatus(text) { document.getElementById("status").textContent = text; }
function banner(msg) { return el("div", { class: "banner" }, msg); }
function saveSelection() { sessionStorage.setItem("gitxp.selected", JSON.stringify([...state.selected])); }
function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
const PALETTE = ["#2f6fde", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d",
  "#862e9c", "#d6336c", "#1971c2", "#a61e4d"];

function clearPage() {
  state.timers.forEach(clearInterval); state.timers = [];
  state.charts.forEach((c) => c.destroy ? c.destroy() : c.dispose()); state.charts = [];
  const main = document.getElementById("main"); main.replaceChildren(); return main;
}

function fmtBytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function diffView(text) {
  const pre = el("pre", { class: "code diff" });
  if (!text) { pre.textContent = "(no differences)"; return pre; }
  for (const line of text.split("\n")) {
    let cls = null;
    if (line.startsWith("diff --git") || line.startsWith("+++") || line.startsWith("---") || line.startsWith("index ")) cls = "d-file";
    else if (line.startsWith("@@")) cls = "d-hunk";
    else if (line.startsWith("+")) cls = "d-add";
    else if (line.startsWith("-")) cls = "d-del";
    pre.appendChild(cls ? el("span", { class: cls }, line) : document.createTextNode(line + "\n"));
  }
  return pre;
}

async function post(path, body) {
  // edits: POST with the page's session token (see gitxp/ui/server.py); GETs never change anything
  const token = (document.querySelector('meta[name="gitxp-token"]') || {}).content || "";
  const resp = await fetch(`/api/${path}`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-Gitxp-Token": token },
    body: JSON.stringify(body), credentials: "same-origin",
  });
  const data = await resp.json().catch(() => ({ reason: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error(data.reason || `HTTP ${resp.status}`);
  return data;
}

function manageRunPanel(runId, life) {
  // tags, note and archive of one run (the CLI's life-cycle ops); absent from a static export
  const panel = el("div", { class: "panel", id: "manage" }, el("h2", {}, "Tags, note, archive"));
  const msg = el("span", { class: "muted", id: "manage-msg" });
  const tags = el("span", { class: "tags" });
  const noteBox = el("textarea", { id: "note", rows: 2, placeholder: "a note on this run" });
  const archived = el("span", { class: "archived-flag" });
  let current = life;
  const act = async (action, body) => {
    try {
      current = await post(`edit/${action}`, { run: runId, ...body });
      msg.textContent = current.changed.length ? `${action}: saved` : `${action}: nothing to change`;
      draw();
    } catch (e) { msg.textContent = e.message; }
  };
  const tagInput = el("input", { type: "text", id: "tag-name", placeholder: "new tag" });
  const archiveBtn = el("button", { id: "archive", onclick: () => act(current.archived ? "unarchive" : "archive", {}) });
  function draw() {
    tags.replaceChildren(...current.tags.map((t) => el("span", { class: "tag" }, t,
      el("button", { class: "untag", title: `remove tag ${t}`, onclick: () => act("untag", { name: t }) }, "×"))));
    noteBox.value = current.note || "";
    archiveBtn.textContent = current.archived ? "Unarchive" : "Archive";
    archived.textContent = current.archived ? "archived: hidden from listings, comparisons and searches" : "";
  }
  draw();
  panel.append(
    el("div", { class: "toolbar" }, el("span", {}, "Tags: "), tags, tagInput,
      el("button", { id: "add-tag", onclick: () => { if (tagInput.value.trim()) act("tag", { name: tagInput.value.trim() }); tagInput.value = ""; } }, "Add tag")),
    el("div", { class: "toolbar" }, noteBox, el("button", { id: "save-note", onclick: () => act("note", { text: noteBox.value }) }, "Save note")),
    el("div", { class: "toolbar" }, archiveBtn, archived, msg));
  return panel;
}

function kvTable(obj) {
  // a traceback (or any multi-line text, or a list of lines) keeps its lines
  const cell = (k, v) => (/traceback/i.test(k) || (typeof v === "string" && v.includes("\n"))
    ? el("td", {}, el("pre", { class: "code traceback" }, Array.isArray(v) ? v.join("\n") : String(v)))
    : el("td", { class: "mono" }, fmt(v)));
  const rows = Object.entries(obj || {}).map(([k, v]) => el("tr", {}, el("td", {}, k), cell(k, v)));
  return rows.length ? el("table", { class: "kv" }, rows) : el("div", { class: "muted" }, "(none)");
}

// ---------------------------------------------------------------- curves (uPlot)

function ema(values, alpha) {
  if (!alpha) return values;
  let last = null;
  return values.map((v) => (v === null || typeof v !== "number") ? v : (last = last === null ? v : alpha * last + (1 - alpha) * v));
}

/* A curves panel: metric chooser, x axis, smoothing, log scale; polls live runs every 1.5 s. */
function curvesPanel(runIds, labels) {
  const box = el("div", { class: "panel curves" });
  const metricSel = el("select", { id: "metric" });
  const xSel = el("select", { id: "xaxis" }, el("option", { value: "step" }, "x: step"), el("option", { value: "time" }, "x: wall time"));
  const smooth = el("input", { type: "range", min: 0, max: 0.98, step: 0.02, value: 0, id: "smooth", title: "smoothing (EMA)" });
  const logY = el("input", { type: "checkbox", id: "logy" });
  const info = el("span", { class: "muted", id: "curve-info" });
  const chartBox = el("div", { class: "chart", id: "curves-chart" });
  box.append(el("h2", {}, "Curves"), el("div", { class: "toolbar" }, metricSel, xSel,
    el("label", { class: "check" }, "smoothing", smooth), el("label", { class: "check" }, logY, "log scale"), info), chartBox);
  const curveLabels = {};
  const series = new Map(); // key run|metric -> {run, metric, steps, values, times, last_step}
  let plot = null;
  let metrics = [];

  function draw() {
    if (plot) { plot.destroy(); state.charts = state.charts.filter((c) => c !== plot); plot = null; }
    const metric = metricSel.value;
    const chosen = [...series.values()].filter((s) => s.metric === metric);
    chartBox.replaceChildren();
    chartBox.dataset.series = String(chosen.length);
    if (!chosen.length) { chartBox.append(el("div", { class: "empty" }, runIds.length ? "no per-step metrics for these runs" : "select runs in the table to plot their curves")); return; }
    const useTime = xSel.value === "time";
    const alpha = Number(smooth.value);
    const tables = chosen.map((s) => {
      const xs = useTime ? s.times.map((t, i) => t ?? s.steps[i]) : s.steps;
      const pairs = xs.map((x, i) => [x, s.values[i]]).sort((a, b) => a[0] - b[0]);
      return [pairs.map((p) => p[0]), ema(pairs.map((p) => typeof p[1] === "number" ? p[1] : null), alpha)];
    });
    const data = uPlot.join(tables);
    const fg = css("--fg"), grid = css("--line");
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts = {
      width: Math.max(300, chartBox.clientWidth || 900), height: 320,
      scales: { x: { time: useTime }, y: { distr: logY.checked ? 3 : 1 } },
      axes: [axis, axis],
      series: [{ label: useTime ? "time" : "step" }, ...chosen.map((s, i) => ({
        label: curveLabels[s.run] || labels[s.run] || shortId(s.run), stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
        value: (u, v) => v === null || v === undefined ? "–" : Number(v.toPrecision(5)).toString(),
      }))],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    plot = new uPlot(opts, data, chartBox);
    state.charts.push(plot);
    const total = chosen.reduce((n, s) => n + s.points, 0);
    info.textContent = `${chosen.length} run(s), ${total} points`;
  }

  async function load(after) {
    if (!runIds.length) { draw(); return false; }
    const width = Math.max(200, Math.round(chartBox.clientWidth || 900));
    const params = { runs: runIds.join(","), width };
    if (after !== undefined) params.after = after;
    const data = await api("curves", params);
    Object.assign(curveLabels, data.labels || {});  // the params that tell these runs apart
    for (const s of data.series) {
      const key = `${s.run}|${s.metric}`;
      const old = series.get(key);
      if (old && after !== undefined) {
        const keep = s.steps.map((x, i) => i).filter((i) => s.steps[i] > old.last_step);
        for (const i of keep) { old.steps.push(s.steps[i]); old.values.push(s.values[i]); old.times.push(s.times[i]); }
        old.points += keep.length; old.last_step = Math.max(old.last_step, s.last_step);
      } else series.set(key, s);
    }
    if (data.metrics.length !== metrics.length) {
      const current = metricSel.value;
      metrics = data.metrics;
      metricSel.replaceChildren(...metrics.map((m) => el("option", { value: m }, m)));
      if (metrics.includes(current)) metricSel.value = current;
    }
    return data.series.length > 0;
  }

  for (const c of [metricSel, xSel, smooth, logY]) c.addEventListener("input", draw);
  load().then(draw).catch((e) => chartBox.replaceChildren(banner(e.message)));
  return {
    node: box,
    live(runningIds) {
      if (!runningIds.length || STATIC) return;
      state.timers.push(setInterval(async () => {
        const last = Math.min(...[...series.values()].filter((s) => runningIds.includes(s.run)).map((s) => s.last_step), Infinity);
        try { if (await load(Number.isFinite(last) ? last : undefined)) draw(); } catch (e) { setStatus(e.message); }
      }, 1500));
    },
  };
}

// ---------------------------------------------------------------- runs page

async function runsPage(main) {
  const q = state.query;
  const search = el("input", { type: "search", placeholder: "filter text…", value: q.q, id: "q" });
  const where = el("input", { type: "text", class: "where", placeholder: "where: results.acc > 0.9 and params.optim == \"adam\"", value: q.where, id: "where" });
  const expSel = el("select", { id: "experiment" }, el("option", { value: "" }, "all experiments"));
  const stSel = el("select", { id: "status-filter" }, ["", "running", "finished", "failed", "interrupted", "crashed", "pruned", "cancelled"]
    .map((s) => el("option", { value: s }, s || "any status")));
  stSel.value = q.status;
  const groupSel = el("select", { id: "group" }, ["", "experiment", "version", "status", "branch"].map((g) => el("option", { value: g }, g ? `group by ${g}` : "no grouping")));
  groupSel.value = q.group;
  const hideConst = el("input", { type: "checkbox", id: "hide-constant", checked: state.hideConstant });
  const colsBtn = el("button", { id: "columns" }, "Columns ▾");
  const compareBtn = el("button", { id: "compare-selected" }, "Compare selected");
  const clearBtn = el("button", {}, "Clear selection");
  const message = el("div");
  const wrap = el("div", { class: "tablewrap" });
  const pager = el("div", { class: "pager" });
  main.append(el("div", { class: "panel" },
    el("div", { class: "toolbar" }, search, where, expSel, stSel, groupSel, el("label", { class: "check" }, hideConst, "hide constant columns"), colsBtn),
    message, wrap, pager,
    el("div", { class: "toolbar", style: "margin-top:8px" }, compareBtn, clearBtn, el("span", { class: "muted", id: "selection" }))));
  const curvesSlot = el("div");
  main.append(curvesSlot);

  api("experiments").then((d) => {
    for (const e of d.experiments) expSel.append(el("option", { value: e.name }, `${e.name} (${e.runs})`));
    expSel.value = q.experiment;
  }).catch(() => {});

  let last = null;
  const labels = {};
  let running = new Set();

  function renderCurves() {
    const ids = [...state.selected];
    document.getElementById("selection").textContent = ids.length ? `${ids.length} selected` : "select rows to plot and compare";
    compareBtn.disabled = ids.length < 2;
    state.timers.forEach(clearInterval); state.timers = [];
    state.charts.forEach((c) => c.destroy ? c.destroy() : c.dispose()); state.charts = [];
    const panel = curvesPanel(ids, labels);
    curvesSlot.replaceChildren(panel.node);
    panel.live(ids.filter((id) => running.has(id)));
    state.timers.push(setInterval(refresh, 3000));
  }

  function visibleColumns(data) {
    return orderColumns(data.columns).filter((c) => !isHidden(c) && !(state.hideConstant && data.constant.includes(c)));
  }

  function render(data) {
    last = data;
    const cols = visibleColumns(data);
    const [sortKey, desc] = q.sort ? [q.sort.replace(/^-/, ""), q.sort.startsWith("-")] : ["", false];
    const head = el("tr", {}, el("th", {}, el("input", { type: "checkbox", title: "select page", onchange: (ev) => {
      for (const r of data.rows) ev.target.checked ? state.selected.add(r.run_id) : state.selected.delete(r.run_id);
      saveSelection(); render(last); renderCurves();
    } })), cols.map((c) => {
      const [grp, name] = c.includes(".") ? [c.split(".")[0], c.slice(c.indexOf(".") + 1)] : ["", c];
      return el("th", { class: sortKey === c ? "sorted" : "", "data-col": c, title: `sort by ${c}`, onclick: () => {
        q.sort = sortKey === c ? (desc ? c : "-" + c) : (c.startsWith("results.") ? "-" + c : c); q.offset = 0; refresh();
      } }, grp ? el("span", { class: "grp" }, grp) : el("span", { class: "grp" }, "\u00a0"), name + (sortKey === c ? (desc ? " ▼" : " ▲") : ""));
    }));
    const body = [];
    for (const err of data.errors || []) body.push(el("tr", { class: "error" }, el("td", { colspan: cols.length + 1 }, "⚠ " + err)));
    let group = undefined;
    for (const r of data.rows) {
      labels[r.run_id] = `${shortId(r.run_id)} ${r.experiment || ""}`;
      if (r.status === "running") running.add(r.run_id);
      if (q.group && r[q.group] !== group) {
        group = r[q.group];
        const n = (data.groups.find((g) => g.value === group) || {}).runs;
        body.push(el("tr", { class: "group" }, el("td", { colspan: cols.length + 1 }, `${q.group}: ${fmt(group)}${n ? ` — ${n} runs` : ""}`)));
      }
      const sel = state.selected.has(r.run_id);
      const box = el("input", { type: "checkbox", checked: sel, onchange: (ev) => {
        ev.target.checked ? state.selected.add(r.run_id) : state.selected.delete(r.run_id); saveSelection();
        ev.target.closest("tr").classList.toggle("selected", ev.target.checked); renderCurves();
      } });
      body.push(el("tr", { class: sel ? "selected" : "", "data-run": r.run_id }, el("td", {}, box), cols.map((c) => {
        const v = r[c];
        if (c === "run_id") return el("td", { class: "id" }, el("a", { href: `#/run/${encodeURIComponent(v)}` }, fmt(v, c)));
        if (c === "status") return el("td", {}, status(v));
        if (c === "experiment" && v) return el("td", {}, el("a", { href: `#/sweep/${encodeURIComponent(v)}` }, v));
        return el("td", { class: typeof v === "number" ? "num" : "", title: fmt(v, c) }, fmt(v, c));
      })));
    }
    if (!data.rows.length && !(data.errors || []).length) body.push(el("tr", {}, el("td", { colspan: cols.length + 1, class: "empty" }, "no runs match")));
    wrap.replaceChildren(el("table", { class: "runs", id: "runs-table" }, el("thead", {}, head), el("tbody", {}, body)));
    const end = Math.min(data.offset + data.rows.length, data.total);
    pager.replaceChildren(
      el("button", { disabled: q.offset === 0, onclick: () => { q.offset = Math.max(0, q.offset - q.limit); refresh(); } }, "‹ prev"),
      el("span", { id: "count" }, `${data.total ? data.offset + 1 : 0}–${end} of ${data.total} runs` + (data.total !== data.total_all ? ` (${data.total_all} in total)` : "")),
      el("button", { disabled: end >= data.total, onclick: () => { q.offset += q.limit; refresh(); } }, "next ›"));
  }

  // The table is rebuilt only when the answer changed, and only from the newest request: an older answer that
  // arrives late (the 3 s poll racing a filter change) never replaces a newer one, and an unchanged table is
  // not swapped under the user's pointer.
  let asked = 0, shown = 0, lastKey = "";
  async function refresh() {
    const ticket = ++asked;
    try {
      const data = await api("runs", { ...q, qcols: q.q && last ? visibleColumns(last).join(",") : "" });
      if (ticket < shown) return;
      shown = ticket;
      message.replaceChildren();
      running = new Set(data.rows.filter((r) => r.status === "running").map((r) => r.run_id));
      const key = JSON.stringify([q, data]);
      if (key !== lastKey) { lastKey = key; render(data); }
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      if (ticket < shown) return;
      shown = ticket;
      message.replaceChildren(banner(e.message));
    }
  }

  let typing = null;
  const later = () => { clearTimeout(typing); typing = setTimeout(() => { q.offset = 0; refresh(); }, 250); };
  search.addEventListener("input", () => { q.q = search.value; later(); });
  const applyWhere = () => { if (where.value !== q.where) { q.where = where.value; q.offset = 0; refresh(); } };
  where.addEventListener("keydown", (ev) => { if (ev.key === "Enter") applyWhere(); });
  where.addEventListener("change", applyWhere); // (Enter fires both: one query, not two)
  expSel.addEventListener("change", () => { q.experiment = expSel.value; q.offset = 0; refresh(); });
  stSel.addEventListener("change", () => { q.status = stSel.value; q.offset = 0; refresh(); });
  groupSel.addEventListener("change", () => { q.group = groupSel.value; q.offset = 0; refresh(); });
  hideConst.addEventListener("change", () => { state.hideConstant = hideConst.checked; localStorage.setItem("gitxp.hideConstant", hideConst.checked ? "1" : "0"); render(last); });
  clearBtn.addEventListener("click", () => { state.selected.clear(); saveSelection(); render(last); renderCurves(); });
  compareBtn.addEventListener("click", () => {
    const ids = [...state.selected];
    // two runs: the statistics of A vs B; more: side by side (params, results, curves, parallel coordinates)
    location.hash = ids.length === 2 ? `#/compare?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(ids[1])}` : `#/compare?runs=${ids.map(encodeURIComponent).join(",")}`;
  });
  colsBtn.addEventListener("click", (ev) => {
    const existing = document.querySelector(".chooser"); if (existing) { existing.remove(); return; }
    if (!last) return;
    const box = el("div", { class: "chooser" }, orderColumns(last.columns).map((c) => el("label", {}, el("input", { type: "checkbox", checked: !isHidden(c), onchange: (e) => {
      if (!state.hidden) state.hidden = new Set(last.columns.filter(isHidden));
      e.target.checked ? state.hidden.delete(c) : state.hidden.add(c); localStorage.setItem("gitxp.hidden", JSON.stringify([...state.hidden])); render(last);
    } }), " ", c)));
    const r = ev.target.getBoundingClientRect();
    box.style.left = `${r.left + window.scrollX}px`; box.style.top = `${r.bottom + window.scrollY + 4}px`;
    document.body.append(box);
  });
  await refresh();
  renderCurves();
}

// ---------------------------------------------------------------- run page

async function runPage(main, id) {
  const data = await api(`run/${encodeURIComponent(id)}`);
  const r = data.record;
  const group = (p) => Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(p + ".")).map(([k, v]) => [k.slice(p.length + 1), v]));
  const base = Object.fromEntries(["run_id", "experiment", "status", "started", "ended", "duration"].filter((k) => k in r).map((k) => [k, fmt(r[k], k === "run_id" ? "" : k)]));
  if (r.elapsed) base.duration = `${base.duration} so far`;
  main.append(el("h1", {}, "Run ", el("span", { class: "mono" }, r.run_id), " ", status(r.status)));
  main.append(el("div", { class: "grid2" },
    el("div", {}, el("div", { class: "panel" }, el("h2", {}, "Run"), kvTable(base)),
      el("div", { class: "panel" }, el("h2", {}, "Params"), kvTable(group("params"))),
      el("div", { class: "panel" }, el("h2", {}, "Results"), kvTable(group("results")))),
    el("div", {}, el("div", { class: "panel" }, el("h2", {}, "Version"),
      kvTable({ version: r.version, commit: r.commit, branch: r.branch }),
      el("pre", { class: "code", style: "margin-top:8px;max-height:140px" }, data.commit_message || "(commit not in this clone)")),
      el("div", { class: "panel" }, el("h2", {}, "Meta"), kvTable(group("meta"))))));
  if (!STATIC && data.lifecycle) main.append(manageRunPanel(r.run_id, data.lifecycle));
  if (data.environment || (data.inputs || []).length) main.append(worldPanel(data.environment, data.inputs || []));
  const labels = { [r.run_id]: shortId(r.run_id) };
  // a finished run that logged no per-step metrics gets no (empty) curves panel
  const panel = STATIC || r.status === "running" || (data.metrics || []).length ? curvesPanel([r.run_id], labels) : null;
  if (panel) main.append(panel.node);
  const arts = data.artifacts || [];
  if (arts.length) {
    const src = (a) => `api/artifact/${encodeURIComponent(r.run_id)}/${a.name.split("/").map(encodeURIComponent).join("/")}`;
    const images = STATIC ? [] : arts.filter((a) => a.image);
    main.append(el("div", { class: "panel", id: "artifacts" }, el("h2", {}, "Artifacts"),
      images.length ? el("div", { class: "images" }, images.map((a) => el("figure", {},
        el("img", { src: src(a), alt: a.name, loading: "lazy" }), el("figcaption", { class: "mono" }, a.name)))) : null,
      el("table", { class: "kv" }, el("tbody", {}, arts.map((a) => el("tr", {}, el("td", { class: "mono" }, a.name),
        el("td", { class: "num" }, fmtBytes(a.size)), el("td", { class: "muted" }, a.stored === "ref" ? "in the store" : "at the artifact location")))))));
  }
  main.append(el("div", { class: "panel" }, el("h2", {}, "Uncommitted changes (diff against ", el("span", { class: "mono" }, String(r.commit || "").slice(0, 10)), ")"),
    el("div", { id: "diff" }, diffView(data.diff))));
  const log = el("pre", { class: "code log", id: "log" }, data.log || "(no output captured)");
  main.append(el("div", { class: "panel" }, el("h2", {}, "Output", data.log_truncated ? el("span", { class: "muted" }, " (tail)") : null), log));
  if (r.status === "running" && !STATIC) {
    panel.live([r.run_id]);
    let size = data.log_size;
    state.timers.push(setInterval(async () => {
      try {
        const more = await api(`run/${encodeURIComponent(id)}`, { log_from: size });
        if (more.log) { if (size === 0) log.textContent = ""; log.append(document.createTextNode(more.log)); log.scrollTop = log.scrollHeight; }
        size = more.log_size;
        if (more.record.status !== "running") setStatus(`run ${more.record.status}`);
      } catch (e) { setStatus(e.message); }
    }, 1500));
  }
}

/* The run's environment (python, platform, packages) and its declared inputs (gitxp.store.envs / inputs). */
function worldPanel(env, inputs) {
  const pkgs = Object.entries((env && env.packages) || {});
  const fields = env ? Object.fromEntries(Object.entries(env).filter(([k]) => k !== "packages")) : {};
  return el("div", { class: "panel", id: "environment" }, el("h2", {}, "Environment and inputs"),
    env ? kvTable(fields) : el("div", { class: "muted" }, "no environment recorded"),
    env ? el("details", {}, el("summary", {}, `${pkgs.length} packages`),
      el("table", { class: "kv" }, el("tbody", {}, pkgs.map(([n, v]) => el("tr", {}, el("td", { class: "mono" }, n), el("td", { class: "mono" }, v)))))) : null,
    inputs.length ? el("table", { class: "kv", id: "inputs" }, el("tbody", {}, inputs.map((i) => el("tr", {},
      el("td", { class: "mono" }, i.path), el("td", { class: "mono" }, i.hash), el("td", { class: "num" }, fmtBytes(i.size)))))) : null);
}

// ---------------------------------------------------------------- sweep page

/* Param importance: computed in the background, never in the sweep page's request; shown when ready (polled). */
function importancePanel(impBox, first, experiment, metric) {
  function show(imp) {
    impBox.replaceChildren();
    if (imp.pending) { impBox.append(el("div", { class: "muted", id: "importance-pending" }, "computing…")); return false; }
    if (!imp.values) { impBox.append(el("div", { class: "muted" }, imp.error || "not available")); return true; }
    const max = Math.max(...Object.values(imp.values), 1e-9);
    const used = imp.sampled ? `a sample of ${imp.runs} of ${imp.eligible} runs` : `${imp.runs} runs`;
    const absent = imp.conditional && imp.conditional.length ? `; absent counted as a level for ${imp.conditional.join(", ")}` : "";
    const versions = imp.versions > 1 ? `; ${imp.versions} code versions, a factor of their own: (code version)` : "";
    impBox.append(el("div", { class: "muted" }, used + absent + versions),
      el("table", { class: "kv" }, Object.entries(imp.values).map(([k, v]) => el("tr", {}, el("td", {}, k),
        el("td", {}, el("span", { class: "bar", style: `width:${Math.round(160 * v / max)}px` }), ` ${v.toFixed(3)}`)))));
    return true;
  }
  if (show(first) || STATIC) return;
  const poll = setInterval(async () => {
    try { if (show(await api("importance", { experiment, metric }))) clearInterval(poll); }
    catch (e) { clearInterval(poll); impBox.replaceChildren(el("div", { class: "muted" }, e.message)); }
  }, 1000);
  state.timers.push(poll);
}

function echart(node) {
  const chart = echarts.init(node, window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : null, { renderer: "canvas" });
  state.charts.push(chart);
  return chart;
}

async function sweepPage(main, experiment, params) {
  const exps = (await api("experiments")).experiments;
  const expSel = el("select", { id: "sweep-exp" }, exps.map((e) => el("option", { value: e.name }, `${e.name} (${e.runs})`)));
  if (!experiment && exps.length) experiment = exps[0].name;
  expSel.value = experiment || "";
  const metricIn = el("input", { type: "text", id: "sweep-metric", placeholder: "metric:max", value: params.get("metric") || "" });
  const go = () => { location.hash = `#/sweep/${encodeURIComponent(expSel.value)}${metricIn.value ? "?metric=" + encodeURIComponent(metricIn.value) : ""}`; };
  expSel.addEventListener("change", go); metricIn.addEventListener("change", go);
  main.append(el("div", { class: "toolbar" }, el("h1", { style: "margin:0 12px 0 0" }, "Sweep"), expSel, metricIn));
  if (!experiment) { main.append(el("div", { class: "empty" }, "no experiments recorded yet")); return; }
  const data = await api("sweep", { experiment, metric: params.get("metric") || "", metric2: params.get("metric2") || "" });
  if (!data.metric) { main.append(el("div", { class: "empty" }, "the runs of this experiment report no results")); return; }
  const title = `${data.metric} (${data.goal})`;
  const trials = data.trials.filter((t) => t.value !== null);
  const top = el("div", { class: "grid2" });
  const bestBox = el("div", { class: "chart", id: "best-chart" });
  const impBox = el("div", { id: "importance" });
  top.append(el("div", { class: "panel" }, el("h2", {}, `Best so far — ${title}`), bestBox),
    el("div", { class: "panel" }, el("h2", {}, "Param importance (fANOVA)"), impBox));
  const parBox = el("div", { class: "chart", id: "parallel", style: "height:340px" });
  const scatter = el("div", { class: "grid3", id: "scatters" });
  main.append(top, el("div", { class: "panel" }, el("h2", {}, "Parallel coordinates"), parBox), el("div", { class: "panel" }, el("h2", {}, `Each param against ${data.metric}`), scatter));
  const best = echart(bestBox);
  best.setOption({
    animation: false, backgroundColor: "transparent", tooltip: { trigger: "axis" }, legend: { data: ["trial", "best so far"] },
    grid: { left: 50, right: 20, top: 30, bottom: 42 },
    xAxis: { type: "value", name: "trial", nameLocation: "middle", nameGap: 24 }, yAxis: { type: "value", scale: true },
    series: [{ name: "trial", type: "scatter", symbolSize: 6, data: data.trials.filter((t) => t.value !== null).map((t) => [t.trial, t.value]) },
      { name: "best so far", type: "line", step: "end", showSymbol: false, data: data.trials.filter((t) => t.best !== null).map((t) => [t.trial, t.best]) }],
  });
  importancePanel(impBox, data.importance || {}, experiment, params.get("metric") || "");
  sweepAnalysis(data, trials, parBox, scatter, main);
}

const ABSENT = "(absent)";

function versionColors(data) {
  const colors = {};
  data.versions.forEach((v, i) => { colors[v.version] = PALETTE[i % PALETTE.length]; });
  return colors;
}

function paramAxis(data, trials, p) {
  // one parallel-coordinates axis; a conditional param's absence is its own place, never a crossing line
  const info = (data.param_info || {})[p] || {};
  const vals = trials.map((t) => t.params[p]).filter((v) => v !== undefined && v !== null);
  if (info.numeric) {
    const nums = vals.map(Number);
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const absent = info.log ? lo / 10 : lo - (hi - lo || Math.abs(lo) || 1) * 0.15;
    const axis = { name: info.log ? `${p} (log)` : p, type: info.log ? "log" : "value", scale: true };
    if (trials.some((t) => t.params[p] === undefined)) {
      axis.min = absent;
      axis.axisLabel = { formatter: (v) => (Math.abs(v - absent) <= Math.abs(absent) * 1e-9 ? ABSENT : String(+v.toPrecision(4))) };
    }
    return { axis, value: (t) => (t.params[p] === undefined ? absent : Number(t.params[p])) };
  }
  const cats = [...new Set(vals.map(String))];
  if (trials.some((t) => t.params[p] === undefined)) cats.push(ABSENT);
  return { axis: { name: p, type: "category", data: cats }, value: (t) => (t.params[p] === undefined ? ABSENT : String(t.params[p])) };
}

function sweepAnalysis(data, trials, parBox, scatter, main) {
  const colors = versionColors(data);
  const manyVersions = data.versions.length > 1;
  // ---- parallel coordinates: params (absent values at their own place) and the objective; colour by objective or version
  const axes = data.params.map((p) => paramAxis(data, trials, p));
  const dims = axes.map((a, i) => ({ dim: i, ...a.axis }));
  dims.push({ dim: data.params.length, name: data.metric, type: "value", scale: true });
  if (manyVersions) dims.push({ dim: data.params.length + 1, name: "version", type: "category", data: data.versions.map((v) => v.version) });
  const values = trials.map((t) => t.value);
  const colorBy = el("select", { id: "par-color" }, el("option", { value: "objective" }, `colour by ${data.metric}`),
    manyVersions ? el("option", { value: "version" }, "colour by code version") : null);
  parBox.parentNode.insertBefore(el("div", { class: "toolbar" }, colorBy,
    el("span", { class: "muted" }, `${trials.length} trials with a value`, manyVersions ? `, ${data.versions.length} code versions` : "")), parBox);
  const par = echart(parBox);
  const drawPar = () => {
    const byVersion = colorBy.value === "version";
    const row = (t) => [...axes.map((a) => a.value(t)), t.value, ...(manyVersions ? [t.version] : [])];
    par.setOption({
      animation: false, backgroundColor: "transparent", tooltip: { trigger: "item" },
      parallelAxis: dims, parallel: { left: 60, right: 90, top: 30, bottom: 30 },
      visualMap: byVersion ? undefined : { show: true, min: Math.min(...values), max: Math.max(...values), dimension: data.params.length, right: 0, top: "middle",
        inRange: { color: data.goal === "min" ? ["#2b8a3e", "#fab005", "#e03131"] : ["#e03131", "#fab005", "#2b8a3e"] } },
      series: byVersion
        ? data.versions.map((v) => ({ type: "parallel", name: v.version, lineStyle: { width: 1.2, opacity: 0.7, color: colors[v.version] },
            data: trials.filter((t) => t.version === v.version).map(row) }))
        : [{ type: "parallel", lineStyle: { width: 1.2, opacity: 0.7 }, data: trials.map(row) }],
      legend: byVersion ? { data: data.versions.map((v) => v.version), top: 0 } : undefined,
    }, true);
  };
  colorBy.addEventListener("change", drawPar);
  drawPar();
  // ---- slice plots: the objective against each param; log axes where the param is log-scaled; one colour per version
  for (const p of data.params) {
    const info = (data.param_info || {})[p] || {};
    const box = el("div", { class: "chart slice", "data-param": p, style: "min-height:220px;height:220px" });
    const absent = trials.filter((t) => t.params[p] === undefined).length;
    scatter.append(el("div", {}, el("div", { class: "muted" }, p, info.log ? ` — log axis (${info.why})` : "",
      absent ? ` — absent in ${absent} trial(s)` : ""), box));
    const have = trials.filter((t) => t.params[p] !== undefined);
    const c = echart(box);
    const point = (t) => [info.numeric ? Number(t.params[p]) : String(t.params[p]), t.value, t.run_id];
    c.setOption({
      animation: false, backgroundColor: "transparent", tooltip: { trigger: "item", formatter: (it) => `${it.data[2]}<br>${p} = ${it.data[0]}<br>${data.metric} = ${it.data[1]}` },
      grid: { left: 50, right: 10, top: manyVersions ? 24 : 10, bottom: 30 },
      legend: manyVersions ? { top: 0, textStyle: { fontSize: 10 } } : undefined,
      xAxis: info.numeric ? { type: info.log ? "log" : "value", scale: true, name: info.log ? "log" : "" } : { type: "category", data: [...new Set(have.map((t) => String(t.params[p])))] },
      yAxis: { type: "value", scale: true },
      series: data.versions.map((v) => ({ type: "scatter", name: v.version, symbolSize: 7, itemStyle: { color: colors[v.version] },
        data: have.filter((t) => t.version === v.version).map(point) })),
    });
  }
  // ---- contour: the objective over two numeric params (mean per cell of a grid, log-spaced where the axis is log)
  const numeric = data.params.filter((p) => ((data.param_info || {})[p] || {}).numeric);
  if (numeric.length >= 2) {
    const xSel = el("select", { id: "contour-x" }, numeric.map((p) => el("option", { value: p }, p)));
    const ySel = el("select", { id: "contour-y" }, numeric.map((p) => el("option", { value: p }, p)));
    ySel.value = numeric[1];
    const box = el("div", { class: "chart", id: "contour", style: "height:360px" });
    main.append(el("div", { class: "panel" }, el("h2", {}, `Contour — ${data.metric} over two params`),
      el("div", { class: "toolbar" }, "x", xSel, "y", ySel, el("span", { class: "muted" }, "mean of the trials in each cell (log-spaced cells on a log axis); empty cells had no trial")), box));
    const chart = echart(box);
    const drawContour = () => chart.setOption(contourOption(data, trials, xSel.value, ySel.value), true);
    xSel.addEventListener("change", drawContour); ySel.addEventListener("change", drawContour);
    drawContour();
  }
  // ---- Pareto front (two objectives): the front drawn, dominated trials faded
  const pickSecond = el("select", { id: "metric2" }, el("option", { value: "" }, "second objective…"),
    (data.results || []).filter((r) => r !== data.metric).flatMap((r) => [el("option", { value: `${r}:min` }, `${r} (min)`), el("option", { value: `${r}:max` }, `${r} (max)`)]));
  const paretoBox = el("div", { class: "chart", id: "pareto", style: "height:360px" });
  const paretoPanel = el("div", { class: "panel" }, el("h2", {}, "Pareto front"), el("div", { class: "toolbar" }, STATIC ? null : pickSecond,
    el("span", { class: "muted", id: "pareto-info" }, data.pareto ? `${data.pareto.front.length} of ${data.pareto.runs} finished trials on the front`
      : STATIC ? "this experiment records one objective (gitxp ui picks a second)" : "pick a second objective")));
  if (data.pareto) paretoPanel.append(paretoBox);
  main.append(paretoPanel);
  pickSecond.value = data.pareto ? `${data.pareto.objectives[1].name}:${data.pareto.objectives[1].goal}` : "";
  pickSecond.addEventListener("change", () => {
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    if (pickSecond.value) q.set("metric2", pickSecond.value); else q.delete("metric2");
    location.hash = `${location.hash.split("?")[0]}?${q}`;
  });
  if (data.pareto) {
    const [o1, o2] = data.pareto.objectives;
    const front = new Set(data.pareto.front);
    const pts = trials.filter((t) => t.status === "finished" && t.value !== null && t.value2 !== null && t.value2 !== undefined);
    const line = pts.filter((t) => front.has(t.run_id)).map((t) => [t.value, t.value2, t.run_id]).sort((a, b) => a[0] - b[0]);
    echart(paretoBox).setOption({
      animation: false, backgroundColor: "transparent", legend: { top: 0 },
      tooltip: { trigger: "item", formatter: (it) => `${it.data[2]}<br>${o1.name} = ${it.data[0]}<br>${o2.name} = ${it.data[1]}` },
      grid: { left: 60, right: 20, top: 30, bottom: 40 },
      xAxis: { type: "value", scale: true, name: `${o1.name} (${o1.goal})`, nameLocation: "middle", nameGap: 26 },
      yAxis: { type: "value", scale: true, name: `${o2.name} (${o2.goal})` },
      series: [
        { name: "dominated", type: "scatter", symbolSize: 6, itemStyle: { opacity: 0.25, color: "#868e96" }, data: pts.filter((t) => !front.has(t.run_id)).map((t) => [t.value, t.value2, t.run_id]) },
        { name: "Pareto front", type: "line", step: false, symbolSize: 9, itemStyle: { color: "#e8590c" }, data: line },
      ],
    });
  }
}

function contourOption(data, trials, px, py) {
  const info = data.param_info || {};
  const bins = 12;
  const have = trials.filter((t) => t.params[px] !== undefined && t.params[py] !== undefined && t.value !== null);
  const edges = (p) => {
    const v = have.map((t) => Number(t.params[p])), log = (info[p] || {}).log;
    const f = log ? Math.log10 : (x) => x, g = log ? (x) => 10 ** x : (x) => x;
    const lo = f(Math.min(...v)), hi = f(Math.max(...v)), w = (hi - lo) / bins || 1;
    return { cell: (x) => Math.min(bins - 1, Math.max(0, Math.floor((f(x) - lo) / w))), label: (i) => String(+g(lo + (i + 0.5) * w).toPrecision(3)) };
  };
  const ex = edges(px), ey = edges(py);
  const sums = new Map();
  for (const t of have) {
    const key = `${ex.cell(Number(t.params[px]))},${ey.cell(Number(t.params[py]))}`;
    const [s, n] = sums.get(key) || [0, 0];
    sums.set(key, [s + t.value, n + 1]);
  }
  const cells = [...sums.entries()].map(([k, [s, n]]) => [...k.split(",").map(Number), s / n]);
  const vals = cells.map((c) => c[2]);
  const labels = (e) => Array.from({ length: bins }, (_, i) => e.label(i));
  return {
    animation: false, backgroundColor: "transparent", tooltip: { position: "top" },
    grid: { left: 70, right: 90, top: 20, bottom: 50 },
    xAxis: { type: "category", data: labels(ex), name: px, nameLocation: "middle", nameGap: 32 },
    yAxis: { type: "category", data: labels(ey), name: py },
    visualMap: { min: Math.min(...vals), max: Math.max(...vals), calculable: true, precision: 3, right: 0, top: "middle",
      inRange: { color: data.goal === "min" ? ["#2b8a3e", "#fab005", "#e03131"] : ["#e03131", "#fab005", "#2b8a3e"] } },
    series: [{ type: "heatmap", data: cells, label: { show: false } }],
  };
}

// ---------------------------------------------------------------- compare page

async function compareRunsPage(main, ids) {
  // several runs side by side: what differs first, then everything; curves overlaid; parallel coordinates
  const data = await api("compare_runs", { runs: ids.join(",") });
  const runs = data.runs;
  const labels = {};
  const differ = new Set(data.differ);
  const short = (id) => (data.short_ids || {})[id] || shortId(id);
  for (const r of runs) {
    const p = data.params.filter((k) => differ.has(`params.${k}`) && r.params[k] !== undefined).map((k) => `${k}=${fmt(r.params[k])}`).join(" ");
    labels[r.run_id] = p || short(r.run_id);
  }
  main.append(el("div", { class: "toolbar" }, el("h1", { style: "margin:0 12px 0 0" }, `Compare ${runs.length} runs`),
    runs.length === 2 ? el("a", { href: `#/compare?a=${encodeURIComponent(runs[0].run_id)}&b=${encodeURIComponent(runs[1].run_id)}` }, "statistics of A vs B") : null,
    el("label", { class: "check" }, el("input", { type: "checkbox", id: "only-diff", checked: true, onchange: (ev) => draw(ev.target.checked) }), "only what differs")));
  const tableBox = el("div", { class: "panel", id: "runs-compare" });
  main.append(tableBox);
  const rowFor = (label, key, get) => el("tr", { class: differ.has(key) ? "differs" : "" }, el("td", {}, label),
    runs.map((r) => el("td", { class: "mono" }, fmt(get(r)))));
  function draw(only) {
    const keep = (key) => !only || differ.has(key);
    const rows = [
      ...["experiment", "status", "version", "branch", "started", "duration"].filter((k) => keep(k) || k === "version").map((k) => rowFor(k, k, (r) => r[k])),
      ...data.params.filter((k) => keep(`params.${k}`)).map((k) => rowFor(`params.${k}`, `params.${k}`, (r) => r.params[k])),
      ...data.results.map((k) => rowFor(`results.${k}`, `results.${k}`, (r) => r.results[k])),
    ];
    tableBox.replaceChildren(el("h2", {}, "Params and results"), el("div", { class: "tablewrap" }, el("table", { class: "runs compare-runs" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), runs.map((r) => el("th", {}, el("a", { class: "mono", href: `#/run/${encodeURIComponent(r.run_id)}` }, short(r.run_id)), el("div", { class: "muted" }, labels[r.run_id]))))),
      el("tbody", {}, rows))));
  }
  draw(true);
  const panel = curvesPanel(runs.map((r) => r.run_id), labels);
  main.append(panel.node);
  const numericParams = data.params.filter((k) => runs.every((r) => r.params[k] === undefined || typeof r.params[k] === "number"));
  const cols = [...numericParams.map((k) => ["params", k]), ...data.results.map((k) => ["results", k])].filter(([g, k]) => runs.some((r) => r[g][k] !== undefined));
  if (cols.length >= 2) {
    const box = el("div", { class: "chart", id: "compare-parallel", style: "height:320px" });
    main.append(el("div", { class: "panel" }, el("h2", {}, "Parallel coordinates"), box));
    echart(box).setOption({
      animation: false, backgroundColor: "transparent", legend: { top: 0, type: "scroll" }, tooltip: { trigger: "item" },
      parallelAxis: cols.map(([g, k], i) => {
        // explicit extents: ECharts' own do not cover every series of a parallel chart
        const vs = runs.map((r) => r[g][k]).filter((v) => typeof v === "number");
        const lo = Math.min(...vs), hi = Math.max(...vs), pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
        return { dim: i, name: k, type: "value", min: +(lo - pad).toPrecision(4), max: +(hi + pad).toPrecision(4) };
      }), parallel: { left: 60, right: 60, top: 40, bottom: 30 },
      series: runs.map((r, i) => ({ type: "parallel", name: labels[r.run_id], lineStyle: { width: 2, color: PALETTE[i % PALETTE.length] },
        data: [cols.map(([g, k]) => (r[g][k] === undefined ? null : r[g][k]))] })),
    });
  }
}

async function comparePage(main, params) {
  if (params.get("runs")) return compareRunsPage(main, params.get("runs").split(",").filter(Boolean));
  const a = el("input", { type: "text", id: "cmp-a", placeholder: "run, version, branch or commit", value: params.get("a") || "" });
  const b = el("input", { type: "text", id: "cmp-b", placeholder: "run, version, branch or commit", value: params.get("b") || "" });
  const metric = el("input", { type: "text", id: "cmp-metric", placeholder: "metric (optional)", value: params.get("metric") || "" });
  const go = el("button", { class: "primary", onclick: () => {
    location.hash = `#/compare?a=${encodeURIComponent(a.value)}&b=${encodeURIComponent(b.value)}${metric.value ? "&metric=" + encodeURIComponent(metric.value) : ""}`;
  } }, "Compare");
  main.append(el("div", { class: "toolbar" }, el("h1", { style: "margin:0 12px 0 0" }, "Compare"), a, el("span", { class: "muted" }, "vs"), b, metric, go));
  if (STATIC) {
    // an exported report holds a few comparisons only: choose among them (never free text that it cannot answer)
    const have = (await api("comparisons")).comparisons;
    if (!have.length) { main.append(el("div", { class: "empty" }, "this report has a single version: nothing to compare")); return; }
    const pick = el("select", { id: "cmp-pick" }, have.map((c, i) => el("option", { value: String(i) }, `${c.a} vs ${c.b}`)));
    const chosen = have.findIndex((c) => c.a === params.get("a") && c.b === params.get("b"));
    pick.value = String(Math.max(0, chosen));
    pick.addEventListener("change", () => { const c = have[Number(pick.value)]; location.hash = `#/compare?a=${encodeURIComponent(c.a)}&b=${encodeURIComponent(c.b)}`; });
    main.querySelector(".toolbar").replaceChildren(el("h1", { style: "margin:0 12px 0 0" }, "Compare"), pick,
      el("span", { class: "muted" }, `${have.length} comparison(s) in this report; gitxp ui compares any two`));
    if (!params.get("a") && !params.get("b")) { params.set("a", have[0].a); params.set("b", have[0].b); }
  }
  if (!params.get("a") || !params.get("b")) { main.append(el("div", { class: "empty" }, "pick two runs, versions, branches or commits (or select two rows on the Runs page)")); return; }
  const data = await api("compare", { a: params.get("a"), b: params.get("b"), metric: params.get("metric") || "", all_versions: params.get("all_versions") || "", reruns: params.get("reruns") || "" });
  const groups = data.groups;
  main.append(el("div", { class: "panel" }, el("h2", {}, "Groups"), el("table", { class: "runs" },
    el("thead", {}, el("tr", {}, ["group", "kind", "runs", "versions"].map((h) => el("th", {}, h)))),
    el("tbody", {}, groups.map((g) => el("tr", {}, el("td", { class: "mono" }, g.label), el("td", {}, g.kind), el("td", { class: "num" }, g.runs), el("td", { class: "mono" }, g.versions.join(", "))))))));
  const notes = groups.flatMap((g) => g.notes || [g.note]).filter((n) => n);
  if (notes.length) main.append(el("div", { class: "panel muted", id: "compare-sides" }, notes.map((n) => el("div", {}, n))));
  if (!data.reports.length) main.append(el("div", { class: "panel empty" }, "no experiment has runs in both groups"));
  for (const rep of data.reports) {
    const rows = [];
    for (const m of rep.metrics) {
      const d = m.differences[0] || {};
      const verdict = d.verdict || "";
      rows.push(el("tr", {}, el("td", {}, `${m.name} (${m.goal})`),
        m.groups.map((g) => el("td", { class: "num" }, g.mean === null ? "–" : `${fmt(g.mean)}${g.std !== null ? " ± " + fmt(g.std) : ""} (n=${g.runs})`)),
        el("td", { class: "num" }, d.mean_diff === undefined ? "–" : fmt(d.mean_diff)),
        el("td", { class: "num" }, d.ci95 ? `[${fmt(d.ci95[0])}, ${fmt(d.ci95[1])}]` : "–"),
        el("td", { class: verdict.includes("better") ? "better" : verdict.includes("worse") ? "worse" : "muted" }, verdict + (verdict && d.on ? ` (${d.on})` : ""))));
    }
    main.append(el("div", { class: "panel" }, el("h2", {}, `Results — experiment ${rep.experiment}`), el("table", { class: "runs compare-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "metric"), rep.groups.map((g) => el("th", {}, `mean ${g.label}`)), el("th", {}, "difference"), el("th", {}, "95% CI (bootstrap)"), el("th", {}, "verdict"))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 6, class: "empty" }, "no numeric results in common"))))));
    if (rep.params.length) {
      main.append(el("div", { class: "panel" }, el("h2", {}, `Params that differ — ${rep.experiment}`), el("table", { class: "runs" },
        el("thead", {}, el("tr", {}, el("th", {}, "param"), rep.groups.map((g) => el("th", {}, g.label)))),
        el("tbody", {}, rep.params.map((p) => el("tr", {}, el("td", {}, p.name), rep.groups.map((g) => el("td", { class: "mono" }, (p.counts ? (p.counts[g.label] || []).map(([v, n]) => `${v} (${n} run${n === 1 ? "" : "s"})`) : (p.values[g.label] || [])).join(", ")))))))));
    }
  }
  for (const e of data.environment || []) {
    main.append(el("div", { class: "panel", id: "env-diff" }, el("h2", {}, `Environment: ${e.a} → ${e.b}`),
      el("ul", { class: "mono" }, e.lines.map((line) => el("li", {}, line)), e.notes.map((n) => el("li", { class: "muted" }, n)))));
  }
  for (const d of data.inputs || []) {
    main.append(el("div", { class: "panel", id: "inputs-diff" }, el("h2", {}, `Inputs that differ: ${d.a} → ${d.b}`),
      el("ul", { class: "mono" }, d.inputs.map((i) => el("li", {}, `${i.path}: ${i.a.join(", ") || "(not declared)"} → ${i.b.join(", ") || "(not declared)"}`)))));
  }
  main.append(el("div", { class: "panel" }, el("h2", {}, "Code diff"), el("div", { id: "code-diff" }, diffView(data.diff))));
}

// ---------------------------------------------------------------- router

async function route() {
  const main = clearPage();
  document.querySelector(".chooser")?.remove();
  const hash = location.hash.replace(/^#\/?/, "") || "runs";
  const [path, qs] = hash.split("?");
  const params = new URLSearchParams(qs || "");
  const parts = path.split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === (parts[0] === "run" ? "runs" : parts[0]));
  try {
    if (parts[0] === "run" && parts[1]) await runPage(main, parts[1]);
    else if (parts[0] === "sweep") await sweepPage(main, parts[1] || "", params);
    else if (parts[0] === "compare") await comparePage(main, params);
    else await runsPage(main);
  } catch (e) {
    main.append(banner(e.message));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  if (!STATIC) api("info").then((d) => { document.getElementById("repo").textContent = d.repo; }).catch(() => {});
  else document.getElementById("repo").textContent = STATIC.title || "";
  route();
});
