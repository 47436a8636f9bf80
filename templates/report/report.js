// The group index: sort, filter and paginate the rows embedded as JSON in the page,
// so a report with thousands of groups opens from disk and stays responsive.
(function () {
  "use strict";
  var rows = JSON.parse(document.getElementById("groups-data").textContent);
  var table = document.getElementById("groups");
  var body = table.querySelector("tbody");
  var state = { key: "aler_minus_ber", dir: -1, page: 0, size: 50 };
  var els = {
    filter: document.getElementById("filter"),
    grouping: document.getElementById("grouping"),
    onlyValid: document.getElementById("only-valid"),
    // Present only when the report has crowd judgements of its failure modes.
    onlySpurious: document.getElementById("only-spurious"),
    size: document.getElementById("page-size"),
    prev: document.getElementById("prev"),
    next: document.getElementById("next"),
    info: document.getElementById("page-info")
  };
  var numeric = { n: 1, n_fail: 1, ber: 1, aler: 1, aler_minus_ber: 1, n_valid: 1, top_er: 1, top_ec: 1 };

  function fmt(key, v) {
    if (v === null || v === undefined) return "";
    if (key === "n" || key === "n_fail" || key === "n_valid") return String(v);
    return Number(v).toFixed(4);
  }
  function cell(tag, text, cls) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
  }
  function visible() {
    var q = els.filter.value.trim().toLowerCase();
    var g = els.grouping.value;
    var only = els.onlyValid.checked;
    var spurious = els.onlySpurious && els.onlySpurious.checked;
    return rows.filter(function (r) {
      return (!q || String(r["class"]).toLowerCase().indexOf(q) >= 0) && (!g || r.grouping === g) && (!only || r.n_valid > 0) && (!spurious || r.n_spurious > 0);
    });
  }
  function compare(a, b) {
    var x = a[state.key], y = b[state.key];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (numeric[state.key]) return (x - y) * state.dir;
    return String(x).localeCompare(String(y)) * state.dir;
  }
  function render() {
    var list = visible().sort(compare);
    var pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size;
    var frag = document.createDocumentFragment();
    list.slice(start, start + state.size).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.grouping = r.grouping;
      tr.dataset["class"] = r["class"];
      tr.appendChild(cell("td", r.grouping));
      var td = document.createElement("td");
      var a = document.createElement("a");
      a.href = r.href;
      a.textContent = r["class"];
      td.appendChild(a);
      tr.appendChild(td);
      ["n", "n_fail", "ber", "aler", "aler_minus_ber", "n_valid", "top_er", "top_ec"].forEach(function (k) {
        tr.appendChild(cell("td", fmt(k, r[k]), "num " + k));
      });
      var rule = document.createElement("td");
      if (r.top_rule) rule.appendChild(cell("code", r.top_rule));
      tr.appendChild(rule);
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    els.info.textContent = list.length
      ? "groups " + (start + 1) + "–" + Math.min(start + state.size, list.length) + " of " + list.length + " (page " + (state.page + 1) + " of " + pages + ")"
      : "no group matches";
    els.prev.disabled = state.page === 0;
    els.next.disabled = state.page >= pages - 1;
    table.querySelectorAll("th.sortable").forEach(function (th) {
      th.setAttribute("aria-sort", th.dataset.key === state.key ? (state.dir > 0 ? "ascending" : "descending") : "none");
    });
  }
  table.querySelectorAll("th.sortable").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.dataset.key;
      // Numbers start largest first (the usual question is "where is it worst?"); names A to Z.
      state.dir = key === state.key ? -state.dir : (numeric[key] ? -1 : 1);
      state.key = key;
      state.page = 0;
      render();
    });
  });
  [els.filter, els.grouping, els.onlyValid, els.onlySpurious].filter(Boolean).forEach(function (el) {
    el.addEventListener("input", function () { state.page = 0; render(); });
  });
  els.size.addEventListener("change", function () { state.size = Number(els.size.value); state.page = 0; render(); });
  els.prev.addEventListener("click", function () { state.page -= 1; render(); });
  els.next.addEventListener("click", function () { state.page += 1; render(); });
  render();
})();
