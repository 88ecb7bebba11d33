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
  if (STATIC) return STATIC.answer(path, Object.fromEntries(qs));
  const resp = await fetch(`/api/${path}${qs.toString() ? "?" + qs : ""}`);
  const data = await resp.json().catch(() => ({ reason: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error(data.reason || `HTTP ${resp.status}`);
  return data;
}

function fmt(v, col) {
  if (v === null || v === undefined) return "";
  if (col === "run_id") return String(v).slice(0, 12);
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

function kvTable(obj) {
  const rows = Object.entries(obj || {}).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", { class: "mono" }, fmt(v))));
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
        label: labels[s.run] || s.run.slice(0, 12), stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
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
    compareBtn.disabled = ids.length !== 2;
    state.timers.forEach(clearInterval); state.timers = [];
    state.charts.forEach((c) => c.destroy ? c.destroy() : c.dispose()); state.charts = [];
    const panel = curvesPanel(ids, labels);
    curvesSlot.replaceChildren(panel.node);
    panel.live(ids.filter((id) => running.has(id)));
    state.timers.push(setInterval(refresh, 3000));
  }

  function render(data) {
    last = data;
    const cols = orderColumns(data.columns).filter((c) => !isHidden(c) && !(state.hideConstant && data.constant.includes(c)));
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
      labels[r.run_id] = `${String(r.run_id).slice(0, 8)} ${r.experiment || ""}`;
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
      const data = await api("runs", q);
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
  compareBtn.addEventListener("click", () => { const [a, b] = [...state.selected]; location.hash = `#/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`; });
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
  main.append(el("h1", {}, "Run ", el("span", { class: "mono" }, r.run_id), " ", status(r.status)));
  main.append(el("div", { class: "grid2" },
    el("div", {}, el("div", { class: "panel" }, el("h2", {}, "Run"), kvTable(base)),
      el("div", { class: "panel" }, el("h2", {}, "Params"), kvTable(group("params"))),
      el("div", { class: "panel" }, el("h2", {}, "Results"), kvTable(group("results")))),
    el("div", {}, el("div", { class: "panel" }, el("h2", {}, "Version"),
      kvTable({ version: r.version, commit: r.commit, branch: r.branch }),
      el("pre", { class: "code", style: "margin-top:8px;max-height:140px" }, data.commit_message || "(commit not in this clone)")),
      el("div", { class: "panel" }, el("h2", {}, "Meta"), kvTable(group("meta"))))));
  if (data.environment || (data.inputs || []).length) main.append(worldPanel(data.environment, data.inputs || []));
  const labels = { [r.run_id]: r.run_id.slice(0, 12) };
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
  const data = await api("sweep", { experiment, metric: params.get("metric") || "" });
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
    grid: { left: 50, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "value", name: "trial" }, yAxis: { type: "value", scale: true },
    series: [{ name: "trial", type: "scatter", symbolSize: 6, data: data.trials.filter((t) => t.value !== null).map((t) => [t.trial, t.value]) },
      { name: "best so far", type: "line", step: "end", showSymbol: false, data: data.trials.filter((t) => t.best !== null).map((t) => [t.trial, t.best]) }],
  });
  const imp = data.importance || {};
  if (imp.values) {
    const max = Math.max(...Object.values(imp.values), 1e-9);
    impBox.append(el("table", { class: "kv" }, Object.entries(imp.values).map(([k, v]) => el("tr", {}, el("td", {}, k),
      el("td", {}, el("span", { class: "bar", style: `width:${Math.round(160 * v / max)}px` }), ` ${v.toFixed(3)}`)))));
  } else impBox.append(el("div", { class: "muted" }, imp.error || "not available"));
  const dims = data.params.map((p, i) => {
    const vals = trials.map((t) => t.params[p]);
    const numeric = vals.every((v) => typeof v === "number" || v === null);
    return numeric ? { dim: i, name: p } : { dim: i, name: p, type: "category", data: [...new Set(vals.map(String))] };
  });
  dims.push({ dim: data.params.length, name: data.metric, scale: true });
  const par = echart(parBox);
  const values = trials.map((t) => t.value);
  par.setOption({
    animation: false, backgroundColor: "transparent",
    parallelAxis: dims, parallel: { left: 60, right: 80, top: 30, bottom: 30 },
    visualMap: { show: true, min: Math.min(...values), max: Math.max(...values), dimension: data.params.length, right: 0, top: "middle",
      inRange: { color: data.goal === "min" ? ["#2b8a3e", "#fab005", "#e03131"] : ["#e03131", "#fab005", "#2b8a3e"] } },
    series: [{ type: "parallel", lineStyle: { width: 1.2, opacity: 0.7 }, data: trials.map((t) => [...data.params.map((p) => {
      const v = t.params[p]; return typeof v === "number" || v === null ? v : String(v); }), t.value]) }],
  });
  for (const p of data.params) {
    const box = el("div", { class: "chart", style: "min-height:220px;height:220px" });
    scatter.append(el("div", {}, el("div", { class: "muted" }, p), box));
    const numeric = trials.every((t) => typeof t.params[p] === "number" || t.params[p] === null);
    const c = echart(box);
    c.setOption({
      animation: false, backgroundColor: "transparent", tooltip: { trigger: "item" }, grid: { left: 50, right: 10, top: 10, bottom: 30 },
      xAxis: numeric ? { type: "value", scale: true } : { type: "category", data: [...new Set(trials.map((t) => String(t.params[p])))] },
      yAxis: { type: "value", scale: true },
      series: [{ type: "scatter", symbolSize: 7, data: trials.map((t) => [numeric ? t.params[p] : String(t.params[p]), t.value]) }],
    });
  }
}

// ---------------------------------------------------------------- compare page

async function comparePage(main, params) {
  const a = el("input", { type: "text", id: "cmp-a", placeholder: "run, version, branch or commit", value: params.get("a") || "" });
  const b = el("input", { type: "text", id: "cmp-b", placeholder: "run, version, branch or commit", value: params.get("b") || "" });
  const metric = el("input", { type: "text", id: "cmp-metric", placeholder: "metric (optional)", value: params.get("metric") || "" });
  const go = el("button", { class: "primary", onclick: () => {
    location.hash = `#/compare?a=${encodeURIComponent(a.value)}&b=${encodeURIComponent(b.value)}${metric.value ? "&metric=" + encodeURIComponent(metric.value) : ""}`;
  } }, "Compare");
  main.append(el("div", { class: "toolbar" }, el("h1", { style: "margin:0 12px 0 0" }, "Compare"), a, el("span", { class: "muted" }, "vs"), b, metric, go));
  if (STATIC && !params.get("a")) {
    try { const g = (await api("compare", {})).groups; params.set("a", g[0].label); params.set("b", g[1].label); a.value = g[0].label; b.value = g[1].label; } catch (e) { /* nothing to compare */ }
  }
  if (!params.get("a") || !params.get("b")) { main.append(el("div", { class: "empty" }, "pick two runs, versions, branches or commits (or select two rows on the Runs page)")); return; }
  const data = await api("compare", { a: params.get("a"), b: params.get("b"), metric: params.get("metric") || "" });
  const groups = data.groups;
  main.append(el("div", { class: "panel" }, el("h2", {}, "Groups"), el("table", { class: "runs" },
    el("thead", {}, el("tr", {}, ["group", "kind", "runs", "versions"].map((h) => el("th", {}, h)))),
    el("tbody", {}, groups.map((g) => el("tr", {}, el("td", { class: "mono" }, g.label), el("td", {}, g.kind), el("td", { class: "num" }, g.runs), el("td", { class: "mono" }, g.versions.join(", "))))))));
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
        el("td", { class: verdict.includes("better") ? "better" : verdict.includes("worse") ? "worse" : "muted" }, verdict)));
    }
    main.append(el("div", { class: "panel" }, el("h2", {}, `Results — experiment ${rep.experiment}`), el("table", { class: "runs compare-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "metric"), rep.groups.map((g) => el("th", {}, `mean ${g.label}`)), el("th", {}, "difference"), el("th", {}, "95% CI (bootstrap)"), el("th", {}, "verdict"))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 6, class: "empty" }, "no numeric results in common"))))));
    if (rep.params.length) {
      main.append(el("div", { class: "panel" }, el("h2", {}, `Params that differ — ${rep.experiment}`), el("table", { class: "runs" },
        el("thead", {}, el("tr", {}, el("th", {}, "param"), rep.groups.map((g) => el("th", {}, g.label)))),
        el("tbody", {}, rep.params.map((p) => el("tr", {}, el("td", {}, p.name), rep.groups.map((g) => el("td", { class: "mono" }, (p.values[g.label] || []).join(", ")))))))));
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
