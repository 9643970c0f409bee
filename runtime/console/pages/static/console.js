// The console's one script: follows the server-sent events at /api/events and swaps each page's
// live region (server-rendered) in place; waterfall selection and collapse; keyboard shortcuts;
// times in the browser's time zone; invoking functions from the Functions page. No build step.
import { formatClock, formatDateTime, formatDuration, formatRelative } from "./format.js";

(() => {
  const main = document.getElementById("main");
  const liveButton = document.getElementById("live");
  const page = document.body.dataset.page;

  // --- times in the browser's own time zone ------------------------------------------------
  const relativeTimes = (root) => {
    for (const el of root.querySelectorAll("[data-relative]")) {
      el.textContent = formatRelative(Number(el.dataset.relative));
    }
  };
  function localTimes(root) {
    for (const el of root.querySelectorAll("time[data-ms]")) {
      const ms = Number(el.dataset.ms);
      el.textContent = el.dataset.format === "full" ? formatDateTime(ms) : formatClock(ms);
      el.title = formatDateTime(ms);
    }
    relativeTimes(root);
  }
  localTimes(document);
  setInterval(() => relativeTimes(document), 1000);

  // --- the waterfall -----------------------------------------------------------------------
  const collapsed = new Set();
  let selected = new URL(location.href).searchParams.get("span") || null;

  function rowOf(spanId) {
    return main.querySelector(`.wf-row[data-span="${CSS.escape(spanId)}"]`);
  }

  function applyWaterfall() {
    const rows = main.querySelectorAll(".wf-row");
    if (rows.length === 0) return;
    for (const row of rows) {
      const ancestors = row.dataset.ancestors ? row.dataset.ancestors.split(" ") : [];
      row.hidden = ancestors.some((id) => collapsed.has(id));
      if (row.hasAttribute("aria-expanded")) {
        const open = !collapsed.has(row.dataset.span);
        row.setAttribute("aria-expanded", String(open));
        const twist = row.querySelector(".twist");
        if (twist) {
          twist.setAttribute(
            "aria-label",
            `${open ? "collapse" : "expand"} ${row.querySelector(".name").textContent}`,
          );
        }
      }
      const isSelected = row.dataset.span === selected && !row.hidden;
      row.classList.toggle("sel", isSelected);
      row.setAttribute("aria-selected", String(isSelected));
      const detail = document.getElementById(`detail-${row.dataset.span}`);
      if (detail) detail.hidden = !isSelected;
    }
  }

  function select(spanId, { scroll = false, focus = false } = {}) {
    selected = spanId;
    const row = spanId && rowOf(spanId);
    if (row) {
      // Selecting a hidden span opens its ancestors.
      for (const id of (row.dataset.ancestors || "").split(" ")) collapsed.delete(id);
    }
    applyWaterfall();
    const url = new URL(location.href);
    if (spanId) url.searchParams.set("span", spanId);
    else url.searchParams.delete("span");
    url.hash = spanId ? `span-${spanId}` : "";
    history.replaceState(null, "", url);
    if (row && scroll) row.scrollIntoView({ block: "nearest" });
    if (row && focus) row.focus({ preventScroll: !scroll });
  }

  main.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const toggle = target.closest("[data-toggle]");
    if (toggle) {
      const id = toggle.dataset.toggle;
      if (collapsed.has(id)) collapsed.delete(id);
      else collapsed.add(id);
      applyWaterfall();
      return;
    }
    const jump = target.closest("[data-select]");
    if (jump) {
      event.preventDefault();
      select(jump.dataset.select, { scroll: true, focus: true });
      return;
    }
    const tool = target.closest("[data-wf]");
    if (tool) {
      collapsed.clear();
      if (tool.dataset.wf === "collapse") {
        for (const row of main.querySelectorAll(".wf-row[aria-expanded]")) {
          if (row.dataset.ancestors) collapsed.add(row.dataset.span);
        }
      }
      applyWaterfall();
      return;
    }
    const row = target.closest(".wf-row");
    if (row && !target.closest("a")) {
      select(row.dataset.span === selected ? null : row.dataset.span);
    }
  });

  main.addEventListener("keydown", (event) => {
    const row = event.target instanceof Element && event.target.closest(".wf-row");
    if (!row) return;
    const visible = [...main.querySelectorAll(".wf-row:not([hidden])")];
    const index = visible.indexOf(row);
    const id = row.dataset.span;
    const move = (next) => {
      if (next) {
        next.focus();
        if (selected) select(next.dataset.span, { scroll: true });
      }
    };
    if (event.key === "ArrowDown" || event.key === "j") move(visible[index + 1]);
    else if (event.key === "ArrowUp" || event.key === "k") move(visible[index - 1]);
    else if (event.key === "Enter" || event.key === " ") select(id === selected ? null : id);
    else if (event.key === "ArrowLeft" && row.hasAttribute("aria-expanded")) collapsed.add(id);
    else if (event.key === "ArrowRight") collapsed.delete(id);
    else if (event.key === "Escape") select(null);
    else return;
    event.preventDefault();
    applyWaterfall();
  });

  if (selected) select(selected, { scroll: true });

  // --- live updates ------------------------------------------------------------------------
  const liveOn = main.dataset.live;
  const liveTrace = main.dataset.trace;
  let paused = false;
  let timer = 0;
  let inflight = false;
  let again = false;
  let last = 0;
  const MIN_GAP_MS = page === "functions" || page === "graph" ? 2000 : 700;

  function setState(state, label) {
    if (!liveButton) return;
    liveButton.dataset.state = paused ? "paused" : state;
    liveButton.querySelector(".label").textContent = paused ? "paused" : label;
    liveButton.setAttribute("aria-pressed", String(paused));
    liveButton.title = paused
      ? "Live updates paused: click (or press p) to resume"
      : "Live updates: click (or press p) to pause";
  }

  function schedule() {
    if (paused || !liveOn) return;
    if (inflight) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(0, last + MIN_GAP_MS - Date.now()));
  }

  async function refresh() {
    if (paused) return;
    inflight = true;
    last = Date.now();
    try {
      const response = await fetch(location.href, {
        headers: { "x-console-fragment": "main" },
        cache: "no-store",
      });
      if (response.status === 200 || response.status === 404) swap(await response.text());
    } catch {
      // Offline for a moment: the event stream reconnects and brings the next update.
    } finally {
      inflight = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function swap(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const stats = template.content.getElementById("stats-next");
    if (stats) {
      stats.remove();
      const current = document.getElementById("stats");
      if (current) morph(current, stats.content.firstElementChild);
    }
    const seen = new Set(
      [...main.querySelectorAll("[data-trace-id]")].map((el) => el.dataset.traceId),
    );
    const next = document.createElement("main");
    next.append(template.content);
    morphChildren(main, next);
    if (seen.size > 0) {
      for (const row of main.querySelectorAll("[data-trace-id]")) {
        if (!seen.has(row.dataset.traceId)) row.classList.add("fresh");
      }
    }
    localTimes(main);
    applyWaterfall();
    document.dispatchEvent(new CustomEvent("console:updated"));
  }

  // --- patching the page in place -----------------------------------------------------------
  // A fresh render is merged into the live page node by node (matched by id or data key), so
  // what the user holds keeps its identity: focus, an open invoke form, its text, its answer,
  // the scroll position. (A morphing library would need a bundling step; this is all it takes.)
  const KEYS = [
    "traceId",
    "span",
    "detail",
    "service",
    "route",
    "cron",
    "consumer",
    "function",
    "edge",
    "node",
  ];
  const KEEP_ATTRIBUTES = new Set(["open"]);

  function keyOf(node) {
    if (node.nodeType !== 1) return null;
    if (node.id) return `#${node.id}`;
    for (const key of KEYS) {
      if (node.dataset[key] !== undefined) return `${key}:${node.dataset[key]}`;
    }
    return null;
  }

  function sameKind(a, b) {
    return a.nodeType === b.nodeType && (a.nodeType !== 1 || a.tagName === b.tagName);
  }

  function morph(from, to) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    for (const { name, value } of to.attributes) {
      if (from.getAttribute(name) !== value) from.setAttribute(name, value);
    }
    for (const { name } of [...from.attributes]) {
      if (!to.hasAttribute(name) && !KEEP_ATTRIBUTES.has(name)) from.removeAttribute(name);
    }
    // What the user typed, chose or got back stays as it is.
    if (from.matches("input, textarea, select, output")) return;
    morphChildren(from, to);
  }

  function morphChildren(parent, next) {
    const keyed = new Map();
    for (const child of parent.childNodes) {
      const key = keyOf(child);
      if (key) keyed.set(key, child);
    }
    let current = parent.firstChild;
    for (const incoming of [...next.childNodes]) {
      const key = keyOf(incoming);
      let match = null;
      if (key) {
        match = keyed.get(key) || null;
        if (match && !sameKind(match, incoming)) match = null;
        keyed.delete(key);
      } else if (current && !keyOf(current) && sameKind(current, incoming)) {
        match = current;
      }
      if (match) {
        if (match === current) current = current.nextSibling;
        else parent.insertBefore(match, current);
        morph(match, incoming);
      } else {
        parent.insertBefore(incoming, current);
      }
    }
    while (current) {
      const after = current.nextSibling;
      current.remove();
      current = after;
    }
  }

  function onEvent(type, data) {
    if (!liveOn) return;
    if (liveOn === "any" || liveOn === type) {
      if (liveTrace && type === "trace" && data && data.trace && data.trace.traceId !== liveTrace) {
        return;
      }
      schedule();
    }
  }

  // One event stream per visible tab: a hidden tab lets its connection go (browsers allow a host
  // only a few at a time over HTTP/1.1) and catches up when it is shown again.
  let source = null;
  function handle(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = undefined;
    }
    const type = (data && data.type) || event.type;
    onEvent(type, data);
  }
  function connect() {
    if (source) return;
    source = new EventSource("/api/events");
    let opened = false;
    source.onopen = () => {
      setState("live", "live");
      if (opened) schedule(); // reconnected: catch up on what happened meanwhile
      opened = true;
    };
    source.onerror = () => setState("offline", "reconnecting");
    source.onmessage = handle;
    for (const type of ["trace", "log", "metrics"]) source.addEventListener(type, handle);
  }
  function disconnect() {
    if (!source) return;
    source.close();
    source = null;
    setState("offline", "hidden");
  }
  if (liveOn && "EventSource" in globalThis) {
    connect();
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        disconnect();
      } else {
        connect();
        schedule();
      }
    });
  } else {
    setState("offline", liveOn ? "no live updates" : "static");
  }

  function togglePause() {
    paused = !paused;
    setState(liveButton ? liveButton.dataset.state : "live", "live");
    if (!paused) {
      setState("live", "live");
      schedule();
    }
  }
  if (liveButton) liveButton.addEventListener("click", togglePause);

  // --- filters: apply on change -------------------------------------------------------------
  for (const form of document.querySelectorAll("form.filters")) {
    form.addEventListener("change", (event) => {
      if (event.target.matches("select, input[type=checkbox]")) form.requestSubmit();
    });
    form.addEventListener("submit", () => {
      // Keep the URL clean: drop empty fields.
      for (const field of form.querySelectorAll("input, select")) {
        if (field.name && field.value === "" && field.type !== "checkbox") field.disabled = true;
      }
    });
  }

  // --- keyboard shortcuts -------------------------------------------------------------------
  const NAV = { t: "/", g: "/graph", l: "/logs", m: "/metrics", f: "/functions" };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof Element && target.matches("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.key === "p" && liveButton) togglePause();
    else if (event.key === "/") {
      const field = document.querySelector(".filters input:not([type=checkbox])");
      if (!field) return;
      field.focus();
      field.select();
    } else if (NAV[event.key] && !(target instanceof Element && target.closest(".wf-row"))) {
      location.href = NAV[event.key];
    } else return;
    event.preventDefault();
  });

  // --- the Functions page: invoke, run now --------------------------------------------------
  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }
  async function sendJson(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    let data;
    try {
      data = await response.json();
    } catch {
      data = { error: `the console answered ${response.status} without JSON` };
    }
    return { response, data };
  }

  main.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const output = form.querySelector("output.result");
    if (form.classList.contains("invoke-form")) {
      event.preventDefault();
      const path = form.elements.path.value.trim();
      let body;
      if (form.elements.body && form.elements.body.value.trim() !== "") {
        try {
          body = JSON.parse(form.elements.body.value);
        } catch (error) {
          output.innerHTML = `<span class="st bad">not JSON</span> ${escapeHtml(error.message)}`;
          return;
        }
      }
      output.textContent = "sending…";
      try {
        const { response, data } = await sendJson(
          "POST",
          `/api/functions/${encodeURIComponent(form.dataset.service)}/invoke`,
          { method: form.dataset.method, path, body },
        );
        if (!response.ok) {
          output.innerHTML = `<span class="st bad">${response.status}</span> ${
            escapeHtml(String(data.error ?? "failed"))
          }`;
          return;
        }
        const ok = data.status < 400;
        const text = typeof data.body === "string" ? data.body : JSON.stringify(data.body, null, 2);
        output.innerHTML = `<span class="st ${ok ? "ok" : "bad"}">${data.status}</span> in ${
          formatDuration(data.durationMs)
        } · <a class="trace-link" href="/traces/${encodeURIComponent(data.traceId)}">trace ${
          escapeHtml(data.traceId.slice(0, 8))
        } →</a><pre>${escapeHtml(text ?? "")}</pre>`;
      } catch (error) {
        output.innerHTML = `<span class="st bad">failed</span> ${escapeHtml(String(error))}`;
      }
    } else if (form.classList.contains("flag-form")) {
      event.preventDefault();
      const variant = event.submitter && event.submitter.value;
      if (!variant) return;
      output.textContent = "switching…";
      try {
        const { response, data } = await sendJson(
          "PUT",
          `/api/flags/${encodeURIComponent(form.dataset.flag)}`,
          { variant },
        );
        if (!response.ok) {
          output.innerHTML = `<span class="st bad">${response.status}</span> ${
            escapeHtml(String(data.error ?? "failed"))
          }`;
          return;
        }
        for (const button of form.querySelectorAll("button.variant")) {
          const current = button.value === data.variant;
          button.classList.toggle("current", current);
          button.setAttribute("aria-pressed", String(current));
        }
        const item = form.closest("li");
        if (item) {
          item.classList.toggle("on", data.variant !== "off");
          const value = item.querySelector(".flag-value");
          if (value) value.textContent = JSON.stringify(data.value);
        }
        const panel = form.closest(".flags-panel");
        const badge = panel && panel.querySelector("h2 .badge");
        if (badge) {
          const on = panel.querySelectorAll("li.on").length;
          badge.textContent = on > 0 ? `${on} on` : "all off";
          badge.classList.toggle("bad", on > 0);
        }
        output.textContent = `now ${data.variant}`;
      } catch (error) {
        output.innerHTML = `<span class="st bad">failed</span> ${escapeHtml(String(error))}`;
      }
    } else if (form.classList.contains("run-form")) {
      event.preventDefault();
      output.textContent = "starting…";
      try {
        const { response, data } = await sendJson(
          "POST",
          `/api/functions/${encodeURIComponent(form.dataset.service)}/crons/${
            encodeURIComponent(form.dataset.cron)
          }/run`,
          {},
        );
        output.innerHTML = response.ok
          ? `started · <a class="trace-link" href="/traces/${
            encodeURIComponent(data.traceId)
          }">trace ${escapeHtml(data.traceId.slice(0, 8))} →</a>`
          : `<span class="st bad">${response.status}</span> ${
            escapeHtml(String(data.error ?? "failed"))
          }`;
      } catch (error) {
        output.innerHTML = `<span class="st bad">failed</span> ${escapeHtml(String(error))}`;
      }
    }
  });
})();
