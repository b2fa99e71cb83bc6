(function () {
  "use strict";
  var toolbar = document.getElementById("toolbar");
  var select = document.getElementById("verdict-filter");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  if (!toolbar || !select || !search || !shown) {
    return;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#files tbody tr"));
  var texts = rows.map(function (row) {
    return row.textContent.toLowerCase();
  });
  function apply() {
    var want = select.value;
    var query = search.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row, i) {
      var ok = (!want || row.getAttribute("data-verdict") === want) &&
        (!query || texts[i].indexOf(query) !== -1);
      row.hidden = !ok;
      var detail = document.getElementById(row.getAttribute("data-detail"));
      if (detail) {
        detail.hidden = !ok;
      }
      if (ok) {
        count += 1;
      }
    });
    shown.textContent = String(count);
  }
  select.addEventListener("change", apply);
  search.addEventListener("input", apply);
  toolbar.hidden = false;
  apply();
})();
