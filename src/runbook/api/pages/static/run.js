// The live run page: follows the run's server-sent events and decides its gate.
// Everything a cell printed is set with textContent: it is shown as text, never parsed.
"use strict";

(function () {
  const root = document.getElementById("run");
  if (!root) return;
  const runId = root.dataset.run;
  const mayDecide = root.dataset.mayDecide === "yes";
  const user = root.dataset.user;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const cells = new Map();
  let startedAt = null;
  let endedAt = null;

  function el(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  function seconds(ms) {
    return (ms / 1000).toFixed(1) + " s";
  }

  function cell(index) {
    let shown = cells.get(index);
    if (shown) return shown;
    // A cell the page was rendered with (the plan's): shown from now on.
    const planned = document.querySelector('#cells li[data-cell="' + index + '"]');
    if (planned) {
      planned.hidden = false;
      planned.className = "cell running";
      shown = {
        item: planned,
        title: planned.querySelector(".cell-head span"),
        state: planned.querySelector(".state"),
        time: planned.querySelector(".elapsed"),
        out: planned.querySelector(".output"),
        started: null,
        ended: null,
        planned: true,
      };
      cells.set(index, shown);
      return shown;
    }
    const item = el("li", "cell running");
    item.dataset.cell = String(index);
    const head = el("div", "cell-head");
    const title = el("span", "", "cell " + index);
    const state = el("span", "state running", "running");
    const time = el("span", "elapsed muted", "");
    head.append(title, " ", state, " ", time);
    const out = el("pre", "output");
    item.append(head, out);
    document.getElementById("cells").append(item);
    shown = { item, title, state, time, out, started: null, ended: null };
    cells.set(index, shown);
    return shown;
  }

  function setState(target, value) {
    target.className = "state " + value;
    target.textContent = value;
  }

  function tick() {
    const now = Date.now();
    if (startedAt !== null) {
      document.getElementById("elapsed").textContent = seconds((endedAt || now) - startedAt);
    }
    for (const shown of cells.values()) {
      if (shown.started !== null && shown.ended === null) {
        shown.time.textContent = seconds(now - shown.started);
      }
    }
  }

  function showGate(index, data) {
    const gate = document.getElementById("gate");
    document.getElementById("gate-label").textContent = data.label || "cell " + index;
    document.getElementById("gate-kind").textContent = data.kind;
    document.getElementById("gate-source").textContent = data.source || "";
    const values = document.getElementById("gate-values");
    values.replaceChildren();
    // The plan's values as the terminal shows them: name and text (secrets as references).
    for (const value of data.values || []) {
      const row = el("tr");
      const text = value.secret ? value.text + " (secret)" : value.text;
      row.append(el("th", "", value.name), el("td", "", text));
      values.append(row);
    }
    const error = document.getElementById("gate-error");
    error.hidden = !data.error;
    error.textContent = data.error || "";
    const buttons = document.getElementById("gate-buttons");
    buttons.replaceChildren();
    const note = document.getElementById("gate-note");
    const ownGate = data.by_other && user === root.dataset.executor;
    if (mayDecide && !ownGate) {
      note.textContent = "";
      for (const option of data.options || []) {
        const button = el("button", option === "abort" || option === "rollback" ? "danger" : "", option);
        button.type = "button";
        button.dataset.decision = option;
        button.addEventListener("click", () => decide(index, option, buttons));
        buttons.append(button);
      }
    } else {
      note.textContent = ownGate ? "Someone other than the executor decides this gate." :
        "Waiting for someone allowed to decide.";
    }
    gate.hidden = false;
  }

  function decide(index, decision, buttons) {
    for (const button of buttons.querySelectorAll("button")) button.disabled = true;
    const body = new URLSearchParams({ decision: decision });
    fetch("/ui/runs/" + encodeURIComponent(runId) + "/gates/" + index, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body: body,
      credentials: "same-origin",
    }).then((response) => {
      if (!response.ok) {
        document.getElementById("gate-note").textContent =
          "Refused (" + response.status + "): reload the page.";
        for (const button of buttons.querySelectorAll("button")) button.disabled = false;
      }
    });
  }

  const handlers = {
    "run.started": (event) => {
      startedAt = Date.parse(event.at);
    },
    "cell.started": (event) => {
      const shown = cell(event.cell);
      shown.started = Date.parse(event.at);
      const tags = (event.data.tags || []).join(" ");
      if (tags && !shown.planned) shown.title.textContent = "cell " + event.cell + " · " + tags;
    },
    "cell.output": (event) => {
      cell(event.cell).out.append(document.createTextNode(event.data.text || ""));
    },
    "gate.waiting": (event) => {
      const shown = cell(event.cell);
      setState(shown.state, "waiting");
      showGate(event.cell, event.data);
    },
    "cell.decided": (event) => {
      document.getElementById("gate").hidden = true;
      const shown = cell(event.cell);
      shown.item.append(el("p", "decided", event.data.decision + " by " + event.data.by));
    },
    "cell.finished": (event) => {
      const shown = cell(event.cell);
      shown.ended = Date.parse(event.at);
      setState(shown.state, event.data.status);
      shown.item.className = "cell " + event.data.status;
      if (event.data.duration !== null && event.data.duration !== undefined) {
        shown.time.textContent = event.data.duration.toFixed(2) + " s";
      }
      if (event.data.error) shown.item.append(el("p", "error", event.data.error));
    },
    "run.finished": (event) => {
      endedAt = Date.parse(event.at);
      setState(document.getElementById("run-state"), event.data.state);
      document.getElementById("message").textContent = event.data.message || "";
      document.getElementById("gate").hidden = true;
      document.getElementById("report").hidden = false;
      source.close();
      tick();
    },
  };

  const source = new EventSource("/ui/runs/" + encodeURIComponent(runId) + "/events");
  for (const [kind, handle] of Object.entries(handlers)) {
    source.addEventListener(kind, (message) => handle(JSON.parse(message.data)));
  }
  setInterval(tick, 250);
})();
