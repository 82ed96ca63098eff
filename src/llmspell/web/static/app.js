// llmspell web: the little JavaScript the pages use. Every read-only view works without it;
// it adds the live timeline (server-sent events; the server sends each new row rendered) and
// the state page's slider.
"use strict";

function startLive(table) {
  const sid = table.dataset.session;
  const state = document.getElementById("live-state");
  const params = new URLSearchParams({after: table.dataset.after || "0",
                                      kind: table.dataset.kinds || ""});
  const source = new EventSource("/api/sessions/" + sid + "/events?" + params);
  const body = table.tBodies[0];
  if (state) state.textContent = "live";
  source.addEventListener("entry", (msg) => {
    const e = JSON.parse(msg.data);  // the row comes rendered by the page's own template
    if (document.getElementById("seq-" + e.seq)) return;
    const empty = body.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    body.insertAdjacentHTML("beforeend", e.html);
    const shown = document.getElementById("last-seq");
    if (shown) shown.textContent = String(e.seq);
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
