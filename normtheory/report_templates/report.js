// Filter the verdict table by document, verdict and kind (no libraries: the report works offline).
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#verdicts tbody tr"));
  var shown = document.getElementById("shown");
  var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-filter]"));

  function apply() {
    var visible = 0;
    rows.forEach(function (row) {
      var keep = selects.every(function (s) {
        return s.value === "" || row.getAttribute("data-" + s.getAttribute("data-filter")) === s.value;
      });
      row.hidden = !keep;
      if (keep) { visible += 1; }
    });
    shown.textContent = visible + " of " + rows.length + " claims shown";
  }

  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
}());
