// llmspell web: the little JavaScript the pages use. Every read-only view works without it;
// it adds the live timeline (server-sent events) and submits the state page's slider.
"use strict";

function text(tag, value, cls) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.textContent = value == null ? "" : String(value);
  return el;
}

function timelineRow(sid, e) {
  const tr = document.createElement("tr");
  tr.className = "k-" + e["class"] + " fresh";
  tr.id = "seq-" + e.seq;
  const seq = text("td", "", "num");
  const link = text("a", e.seq);
  link.href = "/sessions/" + sid + "/state?seq=" + e.seq;
  seq.appendChild(link);
  tr.appendChild(seq);
  tr.appendChild(text("td", (e.time || "").slice(11, 23), "time"));
  const kind = document.createElement("td");
  kind.appendChild(text("span", e.kind, "kind"));
  tr.appendChild(kind);
  const what = document.createElement("td");
  for (const [k, v] of Object.entries(e.summary || {})) {
    const f = text("span", k + "=", "f");
    f.appendChild(text("b", v));
    what.appendChild(f);
  }
  if (e.data != null) {
    const d = document.createElement("details");
    d.appendChild(text("summary", e.call ? "request / response" : "data"));
    d.appendChild(text("pre", JSON.stringify(e.data, null, 2)));
    what.appendChild(d);
  }
  if (e.correlation_id) what.appendChild(text("span", e.correlation_id, "cid"));
  tr.appendChild(what);
  tr.appendChild(text("td", e.latency_ms, "num"));
  tr.appendChild(text("td", e.tokens, "num"));
  return tr;
}

function startLive(table) {
  const sid = table.dataset.session;
  const state = document.getElementById("live-state");
  const params = new URLSearchParams({after: table.dataset.after || "0"});
  const kinds = (table.dataset.kinds || "").split(",").filter(Boolean);
  const source = new EventSource("/api/sessions/" + sid + "/events?" + params);
  const body = table.tBodies[0];
  if (state) state.textContent = "live";
  source.addEventListener("entry", (msg) => {
    const e = JSON.parse(msg.data);
    if (kinds.length && !kinds.some((k) => e.kind === k || e.kind.startsWith(k + "."))) return;
    if (document.getElementById("seq-" + e.seq)) return;
    const empty = body.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    body.appendChild(timelineRow(sid, e));
  });
  source.addEventListener("end", () => { source.close(); if (state) state.textContent = "ended"; });
  source.onerror = () => { if (state) state.textContent = "reconnecting"; };
  source.onopen = () => { if (state) state.textContent = "live"; };
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("timeline");
  if (table && table.dataset.live === "yes") startLive(table);
  const slider = document.getElementById("seq-slider");
  const box = document.getElementById("seq-box");
  if (slider && box) {
    document.getElementById("seq-slider-label").hidden = false;
    slider.addEventListener("input", () => { box.value = slider.value; });
    slider.addEventListener("change", () => box.form.submit());
    box.addEventListener("input", () => { slider.value = box.value; });
  }
});
