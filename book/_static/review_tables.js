// Filtering and sorting for the book's data tables, and enlarging its figures
// (no external libraries, works offline).
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }
  function asNumber(text) {
    var cleaned = text.replace(/\u2212/g, "-").replace(/,/g, "");
    return /^-?\d+(\.\d+)?$/.test(cleaned) ? parseFloat(cleaned) : null;
  }
  function sortBy(table, index, ascending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var nx = asNumber(x), ny = asNumber(y);
      var order = (nx !== null && ny !== null) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function setUp(wrap) {
    var table = wrap.querySelector("table");
    var input = wrap.querySelector("input[data-filter-for]");
    if (!table || !table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.setAttribute("role", "button");
      th.setAttribute("tabindex", "0");
      th.setAttribute("aria-sort", "none");
      th.title = "Sort by this column";
      var activate = function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
          other.setAttribute("aria-sort", "none");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        sortBy(table, index, ascending);
      };
      th.addEventListener("click", activate);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
      });
    });
    // Tables read as cards (wide tables, phones) sort from a menu instead of their headings.
    var tools = wrap.querySelector(".review-table-tools");
    if (tools) {
      var label = document.createElement("label");
      label.className = "review-sort-menu";
      label.textContent = "Sort by ";
      var menu = document.createElement("select");
      menu.setAttribute("aria-controls", table.id);
      var none = document.createElement("option");
      none.value = "";
      none.textContent = "(file order)";
      menu.appendChild(none);
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
        [["asc", " \u25B2"], ["desc", " \u25BC"]].forEach(function (pair) {
          var option = document.createElement("option");
          option.value = index + ":" + pair[0];
          option.textContent = th.textContent.replace(/\s*[\u21C5\u25B2\u25BC]\s*$/, "") + pair[1];
          menu.appendChild(option);
        });
      });
      menu.addEventListener("change", function () {
        if (!menu.value) { return; }
        var parts = menu.value.split(":");
        var index = parseInt(parts[0], 10), ascending = parts[1] === "asc";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other, i) {
          other.setAttribute("aria-sort", i === index ? (ascending ? "ascending" : "descending") : "none");
        });
        sortBy(table, index, ascending);
      });
      label.appendChild(menu);
      tools.appendChild(label);
    }
    var count = wrap.querySelector(".review-row-count");
    var total = table.tBodies[0].rows.length;
    if (input) {
      input.addEventListener("input", function () {
        var needle = input.value.toLowerCase();
        var shown = 0;
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          var hide = row.textContent.toLowerCase().indexOf(needle) === -1;
          row.style.display = hide ? "none" : "";
          if (!hide) { shown += 1; }
        });
        if (count) {
          count.textContent = shown === total ? total + (total === 1 ? " row" : " rows")
            : "showing " + shown + " of " + total + " rows";
        }
      });
    }
  }
  // A figure opens at its full drawn size in an overlay; on a phone the overlay scrolls
  // sideways, so the text is read at its designed size instead of shrunk to the screen.
  function enlarge(figure) {
    var overlay = document.createElement("div");
    overlay.className = "review-figure-overlay";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "review-figure-close";
    close.textContent = "Close";
    var canvas = figure.querySelector(".review-figure-canvas").cloneNode(true);
    overlay.appendChild(close);
    overlay.appendChild(canvas);
    var caption = figure.querySelector("figcaption");
    if (caption) { overlay.appendChild(caption.cloneNode(true)); }
    function dismiss() { overlay.remove(); document.removeEventListener("keydown", onKey); }
    function onKey(event) { if (event.key === "Escape") { dismiss(); } }
    close.addEventListener("click", dismiss);
    overlay.addEventListener("click", function (event) { if (event.target === overlay) { dismiss(); } });
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
    close.focus();
  }
  function setUpFigure(figure) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "review-enlarge";
    var number = figure.querySelector(".review-figure-number");
    button.textContent = "Enlarge " + (number ? number.textContent.replace(/\.$/, "").toLowerCase() : "figure");
    button.addEventListener("click", function () { enlarge(figure); });
    figure.querySelector(".review-figure-canvas").addEventListener("click", function () { enlarge(figure); });
    figure.appendChild(button);
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".review-table-wrap.searchable"), setUp);
    Array.prototype.forEach.call(document.querySelectorAll("figure.review-figure"), setUpFigure);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
