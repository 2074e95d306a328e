// Filtering and sorting for the book's data tables (no external libraries, works offline).
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
    if (input) {
      input.addEventListener("input", function () {
        var needle = input.value.toLowerCase();
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          row.style.display = row.textContent.toLowerCase().indexOf(needle) === -1 ? "none" : "";
        });
      });
    }
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".review-table-wrap.searchable"), setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
