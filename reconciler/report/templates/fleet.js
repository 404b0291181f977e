"use strict";
// Sort and filter the rows the page already holds (it is whole without scripts): rows are moved
// and hidden, never built from data; the state lives in the URL's hash so a view can be shared.
(function () {
  var island = document.getElementById("fleet-data");
  var tbody = document.getElementById("rows");
  var controls = document.getElementById("controls");
  var select = document.getElementById("state-filter");
  var status = document.getElementById("shown");
  if (!island || !tbody || !controls || !select || !status) { return; }
  var data = JSON.parse(island.textContent);
  var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr[data-row]"));
  var headers = Array.prototype.slice.call(document.querySelectorAll("th[data-sort]"));
  var view = { state: "", sort: "state", dir: "asc" };

  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    var state = params.get("state") || "";
    view.state = data.states.indexOf(state) >= 0 ? state : "";
    var sort = params.get("sort") || "state";
    view.sort = headers.some(function (h) { return h.dataset.sort === sort; }) ? sort : "state";
    view.dir = params.get("dir") === "desc" ? "desc" : "asc";
  }

  function key(index) { return data.rows[index][view.sort]; }

  function compare(a, b) {
    var x = key(a), y = key(b);
    var result;
    if (x === y) { result = 0; }
    else if (x === null) { return 1; }  // missing values last, whichever the direction
    else if (y === null) { return -1; }
    else if (typeof x === "number" && typeof y === "number") { result = x - y; }
    else { result = String(x).localeCompare(String(y)); }
    if (result === 0) { result = data.rows[a].tenant.localeCompare(data.rows[b].tenant); }
    return view.dir === "desc" ? -result : result;
  }

  function render() {
    var order = rows.map(function (tr) { return Number(tr.dataset.row); }).sort(compare);
    var shown = 0;
    order.forEach(function (index) {
      var tr = rows[index];
      var visible = !view.state || data.rows[index].stateName === view.state;
      tr.hidden = !visible;
      if (visible) { shown += 1; }
      tbody.appendChild(tr);
    });
    headers.forEach(function (th) {
      if (th.dataset.sort === view.sort) {
        th.setAttribute("aria-sort", view.dir === "asc" ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    select.value = view.state;
    status.textContent = shown + " of " + rows.length + " tenants shown";
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (view.state) { params.set("state", view.state); }
    params.set("sort", view.sort);
    params.set("dir", view.dir);
    try {
      history.replaceState(null, "", "#" + params.toString());
    } catch (e) {
      // A sandboxed frame (an artifact viewer) may refuse: the view still changes, unshared.
    }
    render();
  }

  headers.forEach(function (th) {
    var button = th.querySelector("button");
    button.addEventListener("click", function () {
      if (view.sort === th.dataset.sort) { view.dir = view.dir === "asc" ? "desc" : "asc"; }
      else { view.sort = th.dataset.sort; view.dir = "asc"; }
      writeHash();
    });
  });
  select.addEventListener("change", function () { view.state = select.value; writeHash(); });
  window.addEventListener("hashchange", function () { readHash(); render(); });
  // Printed, every tenant's details are open.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  controls.hidden = false;
  readHash();
  render();
})();
