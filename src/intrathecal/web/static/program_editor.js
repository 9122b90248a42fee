// The structured program editor: rows are added and removed here; every change posts the form
// to the server's review (debounced), which answers with errors by field, the findings, the
// totals per day and per drug, and old against new. No clinical rule is written in this file.
(function () {
  const form = document.getElementById("program-editor");
  if (!form) return;
  const out = document.getElementById("review");
  const finish = document.getElementById("finish");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const reasons = {};
  let timer = null;
  let asked = 0;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // --- rows ------------------------------------------------------------------------------------

  function nextIndex(kind) {
    let most = -1;
    form.querySelectorAll("[name^=" + kind + "_]").forEach((input) => {
      const m = input.name.match(/^[a-z]+_(\d+)_/);
      if (m) most = Math.max(most, Number(m[1]));
    });
    return most + 1;
  }

  function renumber(kind) {
    // Labels say "Basal step 2" by position; names keep their index (the server orders them).
    form.querySelectorAll("tr[data-row=" + kind + "]").forEach((row, position) => {
      row.querySelectorAll("[aria-label]").forEach((node) => {
        node.setAttribute("aria-label",
          node.getAttribute("aria-label").replace(/\d+|__n__/, String(position + 1)));
      });
    });
  }

  function addRow(kind) {
    const template = document.getElementById("row-" + kind);
    const i = String(nextIndex(kind));
    const html = template.innerHTML.replaceAll("__i__", i);
    const body = document.querySelector("#" + kind + "-rows tbody");
    body.insertAdjacentHTML("beforeend", html.replaceAll("__n__", "0"));
    renumber(kind);
    const first = body.lastElementChild.querySelector("input, select");
    if (first) first.focus();
    changed();
  }

  form.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const add = target.closest("[data-add]");
    if (add) { addRow(add.dataset.add); return; }
    const remove = target.closest("[data-remove]");
    if (remove) {
      const row = remove.closest("tr");
      const kind = row.dataset.row;
      row.remove();
      renumber(kind);
      changed();
    }
  });

  // --- weekly cycle, copy a day to the weekdays, demand on/off -------------------------------

  const weekly = document.getElementById("weekly");
  function showWeekly() {
    form.classList.toggle("weekly", weekly.checked && !weekly.disabled);
  }
  weekly.addEventListener("change", showWeekly);
  showWeekly();

  // --- the delivery mode: the server lists the device's modes and, on each section, the modes
  // that take it (data-modes); a section the mode lacks is hidden and disabled, so not posted.

  const mode = document.getElementById("mode");
  function showMode() {
    form.querySelectorAll("[data-modes]").forEach((node) => {
      const shown = node.dataset.modes.split(" ").includes(mode.value);
      node.hidden = !shown;
      if (node instanceof HTMLFieldSetElement || node instanceof HTMLButtonElement) {
        node.disabled = !shown;
      } else {
        node.querySelectorAll("input, select").forEach((input) => { input.disabled = !shown; });
      }
    });
    showWeekly();
  }
  mode.addEventListener("change", () => {
    showMode();
    // A mode that is its doses (periodic flow): open one row to fill when there is none.
    const doses = document.getElementById("periodic-fields");
    const required = doses.dataset.required.split(" ").includes(mode.value);
    if (required && !document.querySelector("#periodic-rows tbody tr")) addRow("periodic");
  });
  showMode();

  document.getElementById("copy-weekdays").addEventListener("click", () => {
    // Every step that runs on the chosen day runs Monday to Friday too; the others stop running
    // on weekdays. Saturday and Sunday are left as they were.
    const from = document.getElementById("copy-from").value;
    const weekdays = ["mon", "tue", "wed", "thu", "fri"];
    form.querySelectorAll("tr[data-row=basal], tr[data-row=periodic]").forEach((row) => {
      const boxes = Array.from(row.querySelectorAll("input[type=checkbox]"));
      const source = boxes.find((b) => b.value === from);
      if (!source) return;
      boxes.filter((b) => weekdays.includes(b.value)).forEach((b) => { b.checked = source.checked; });
    });
    changed();
  });

  const demand = document.getElementById("demand_on");
  function showDemand() {
    form.classList.toggle("demand", demand.checked);
  }
  demand.addEventListener("change", showDemand);
  showDemand();

  // --- the server's review -----------------------------------------------------------------

  function markErrors(errors) {
    form.querySelectorAll(".field-error").forEach((span) => { span.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    errors.forEach((e) => {
      if (!e.field) return;
      const span = form.querySelector('.field-error[data-for="' + e.field + '"]');
      if (span) span.textContent = e.message;
      const input = form.querySelector('[name="' + e.field + '"]');
      if (input) input.setAttribute("aria-invalid", "true");
    });
  }

  function table(headers, rows, id) {
    const t = el("table");
    if (id) t.id = id;
    const head = el("tr");
    headers.forEach((h) => head.append(el("th", h)));
    t.append(head);
    rows.forEach((cells) => {
      const tr = el("tr");
      cells.forEach((c) => tr.append(el("td", c)));
      t.append(tr);
    });
    return t;
  }

  function showTotals(totals) {
    const box = el("div");
    box.id = "totals";
    box.append(el("h2", "Totals"));
    box.append(table(["Drug", "Mean daily dose", totals.demand ? "With every demand bolus" : ""],
      totals.drugs.map((d) => [d.drug, d.mean, totals.demand ? d.worst : ""]), "totals-drugs"));
    if (totals.days.length > 1) {
      box.append(table(["Day", "Volume", "Dose"],
        totals.days.map((d) => [d.day, d.volume, d.doses.join(", ")]), "totals-days"));
    }
    box.append(el("p", "Volume " + totals.volume + " (mean)" +
      (totals.demand ? "; at most " + totals.worst_volume + " with every demand bolus" : ""),
      "note"));
    return box;
  }

  async function review() {
    const mine = ++asked;
    const answer = await fetch(form.dataset.review, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
      body: new URLSearchParams(new FormData(form)),
    });
    if (mine !== asked) return; // a later change has asked again
    if (!answer.ok) {
      out.replaceChildren(el("p", "The review could not be run (" + answer.status + ")", "error"));
      finish.disabled = true;
      return;
    }
    const data = await answer.json();
    out.replaceChildren();
    markErrors(data.errors || []);
    if (!data.ok) {
      out.append(el("h2", "Correct the marked fields", "error"));
      const list = el("ul");
      data.errors.forEach((e) => list.append(el("li", e.label + ": " + e.message, "error")));
      out.append(list);
      finish.disabled = true;
      finish.title = "correct the marked fields first";
      return;
    }
    out.append(showTotals(data.totals));
    const hard = data.findings.filter((f) => f.severity === "hard");
    const soft = data.findings.filter((f) => f.severity === "soft");
    out.append(el("h2", hard.length ? "Blocked by a hard limit" :
      soft.length ? "Soft limits: acknowledge each with a reason" : "No limit crossed",
      hard.length ? "error" : soft.length ? "soft" : "ok"));
    const list = el("ul");
    list.id = "findings";
    data.findings.forEach((f) => {
      const item = el("li", f.severity.toUpperCase() + " " + f.code + ": " + f.message, f.severity);
      item.dataset.code = f.code;
      if (f.severity === "soft") {
        const input = el("input");
        input.name = "ack_" + f.code;
        input.setAttribute("aria-label", "Reason to accept " + f.code);
        input.placeholder = "reason to accept (recorded with your name)";
        input.maxLength = 500;
        input.value = reasons[f.code] || "";
        input.addEventListener("input", () => { reasons[f.code] = input.value; });
        item.append(el("br"), input);
      }
      list.append(item);
    });
    out.append(list);
    if (data.notices.length) {
      const notes = el("ul", undefined, "note");
      data.notices.forEach((n) => notes.append(el("li", n.message)));
      out.append(el("h3", "Notes"), notes);
    }
    const rows = data.comparison.map((r) => [r.setting, r.old, r.new, r.change]);
    const compared = table(["setting", "old", "new", "change"], rows);
    compared.querySelectorAll("tr").forEach((tr, i) => {
      if (i > 0 && data.comparison[i - 1].change) tr.className = "changed";
    });
    out.append(el("h3", "Old and new side by side"), compared);
    finish.disabled = hard.length > 0;
    finish.title = hard.length ? "a hard limit blocks signing" : "";
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(review, 250);
  }

  form.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.name &&
        event.target.name.startsWith("ack_")) return; // a reason, not the program
    if (event.target.id === "reason") return;
    changed();
  });
  form.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement || event.target.type === "checkbox") changed();
  });
  review();
})();
