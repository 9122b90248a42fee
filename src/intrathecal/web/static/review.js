// Live program review: posts the draft to the review API on every change (debounced) and shows
// the findings. Hard findings disable saving; soft findings each need a reason to acknowledge.
(function () {
  const form = document.getElementById("program-form");
  if (!form) return;
  const area = document.getElementById("program_toml");
  const out = document.getElementById("review");
  const save = document.getElementById("save");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const reasons = {};
  let timer = null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function acknowledgements() {
    return Object.entries(reasons).filter(([, why]) => why.trim())
      .map(([code, why]) => ({ code: code, why: why }));
  }

  async function review() {
    const body = { program_toml: area.value, acknowledgements: [] };
    const answer = await fetch(form.dataset.review, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await answer.json();
    out.replaceChildren();
    if (!data.ok) {
      out.append(el("h2", "The program cannot be read", "error"));
      const list = el("ul");
      data.errors.forEach((e) => list.append(el("li", e.field + ": " + e.message, "error")));
      out.append(list);
      if (save) save.disabled = true;
      return;
    }
    const hard = data.findings.filter((f) => f.severity === "hard");
    const soft = data.findings.filter((f) => f.severity === "soft");
    out.append(el("h2", hard.length ? "Blocked by a hard limit" :
      soft.length ? "Soft limits: acknowledge each with a reason" : "No limit crossed",
      hard.length ? "error" : soft.length ? "soft" : "ok"));
    const list = el("ul");
    data.findings.forEach((f) => {
      const item = el("li", f.severity.toUpperCase() + " " + f.code + ": " + f.message, f.severity);
      item.dataset.code = f.code;
      if (f.severity === "soft") {
        const input = el("input");
        input.name = "ack_" + f.code;
        input.placeholder = "reason to accept (recorded with your name)";
        input.size = 50;
        input.value = reasons[f.code] || "";
        input.addEventListener("input", () => { reasons[f.code] = input.value; gate(hard, soft); });
        item.append(el("br"), input);
      }
      list.append(item);
    });
    out.append(list);
    const table = el("table");
    table.append(rowOf(["setting", "old", "new", "change"], "th"));
    data.comparison.forEach((r) => {
      const row = rowOf([r.setting, r.old, r.new, r.change], "td");
      if (r.change) row.className = "changed";
      table.append(row);
    });
    out.append(el("h3", "Old and new side by side"), table);
    gate(hard, soft);
  }

  function rowOf(cells, tag) {
    const tr = el("tr");
    cells.forEach((c) => tr.append(el(tag, c)));
    return tr;
  }

  function gate(hard, soft) {
    if (!save) return;
    const missing = soft.filter((f) => !(reasons[f.code] || "").trim());
    save.disabled = hard.length > 0 || missing.length > 0;
    save.title = hard.length ? "a hard limit blocks saving" :
      missing.length ? "acknowledge every soft limit first" : "";
  }

  area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(review, 300); });
  review();
})();
