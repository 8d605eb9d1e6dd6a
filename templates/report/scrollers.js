/* A table wider than the screen scrolls sideways in its own box (WCAG 1.4.10 reflow): give each box that scrolls a
   tab stop and its table's caption as its name, so the keyboard can scroll it too (WCAG 2.1.1); a box that fits
   is left alone (no empty tab stops). Run on load and when the window changes width. */
(function () {
  function boxes() {
    return Array.prototype.filter.call(document.querySelectorAll(".jp-OutputArea-output, .table-wrap"), function (el) {
      return el.querySelector("table");
    });
  }
  function mark() {
    boxes().forEach(function (box) {
      var wide = box.scrollWidth > box.clientWidth + 1, mine = box.getAttribute("data-scroller") === "1";
      if (wide && !mine && !box.hasAttribute("tabindex")) {
        var caption = box.querySelector(".caption, caption");
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", (caption ? caption.textContent.trim() : "Table") + " (scrolls sideways)");
        box.setAttribute("data-scroller", "1");
      } else if (!wide && mine) {
        ["tabindex", "role", "aria-label", "data-scroller"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
  }
  mark();
  window.addEventListener("resize", mark);
})();
