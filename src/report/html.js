// Filtering of the test list by name, status and tag. Without this script (a strict
// Content-Security-Policy) the list stays grouped by status and fully shown.
(function () {
  var box = document.getElementById("filters");
  if (!box) return;
  box.hidden = false;
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");
  var tag = document.getElementById("filter-tag");
  function apply() {
    var t = text.value.toLowerCase(), s = status.value, g = tag.value;
    document.querySelectorAll("table.tests tr[data-status]").forEach(function (row) {
      var tags = row.getAttribute("data-tags").split(" ");
      var show = row.getAttribute("data-name").indexOf(t) >= 0 &&
        (!s || row.getAttribute("data-status") === s) && (!g || tags.indexOf(g) >= 0);
      row.hidden = !show;
    });
  }
  [text, status, tag].forEach(function (el) { el.addEventListener("input", apply); });
})();
