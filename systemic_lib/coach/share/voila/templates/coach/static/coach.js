// Keyboard shortcuts for the coach app. A key press outside a text box clicks the visible button carrying the
// class "coach-key-<key>" (the demand workshop: v value, f failure, 1-9 a failure type, s skip, u undo).
// PageDown / PageUp (what a presenter's clicker sends) press Next / Back.
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function visible(el) {
    return el.offsetParent !== null && !el.disabled;
  }
  document.addEventListener('keydown', function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || typing(ev.target)) return;
    var cls = null;
    if (ev.key === 'PageDown') cls = 'coach-next';
    else if (ev.key === 'PageUp') cls = 'coach-back';
    else if (/^[a-z0-9]$/i.test(ev.key)) cls = 'coach-key-' + ev.key.toLowerCase();
    if (!cls) return;
    var el = Array.prototype.find.call(document.getElementsByClassName(cls), visible);
    if (el) { ev.preventDefault(); el.click(); el.focus(); }
  });
})();
// The current step is marked for assistive technology too (aria-current), not only by its look; sliders get names.
(function () {
  var queued = false;
  function mark() {
    queued = false;
    document.querySelectorAll('.coach-steps .jupyter-button').forEach(function (b) {
      if (b.classList.contains('coach-current')) b.setAttribute('aria-current', 'step');
      else b.removeAttribute('aria-current');
    });
    // a slider's handle is named by the slider's own label ("Coverage"), which ipywidgets does not link to it
    document.querySelectorAll('.coach-app .widget-slider').forEach(function (s) {
      var label = s.querySelector('.widget-label');
      var name = label && label.textContent.trim();
      s.querySelectorAll('[role=slider]').forEach(function (h) {
        if (name && h.getAttribute('aria-label') !== name) h.setAttribute('aria-label', name);
      });
    });
  }
  new MutationObserver(function () {
    if (!queued) { queued = true; requestAnimationFrame(mark); }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
})();
// "Print this summary": the browser's own print (A4; the print CSS shows the summary alone).
document.addEventListener('click', function (ev) {
  if (ev.target && ev.target.closest && ev.target.closest('.coach-print-button')) window.print();
});
