/* Behaviour that used to be inline handlers (the Content-Security-Policy allows scripts from this site only):
   forms with data-confirm ask first; buttons with data-print print; selects with data-autosubmit submit their
   form; elements with data-width-percent get that width (the progress bar). */
(function () {
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute('data-confirm');
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-print]');
    if (button) { window.print(); }
  });
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) { el.form.submit(); }
  });
  function widths() {
    document.querySelectorAll('[data-width-percent]').forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.getAttribute('data-width-percent')) || 0)) + '%';
    });
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', widths); } else { widths(); }
}());

/* Tables wider than their box (issue 17). The templates put wide tables in a scroll region (.table-wrap: role,
   tabindex, a name; app.css draws the shadow cue). For any other table that turns out wider than its box (long
   names, a narrow window), wrap it the same way; and give a scroll box that actually scrolls what a keyboard
   needs (focus, a role, a name). Without JavaScript such a table widens the page instead. */
(function () {
  function scrollBox(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var ox = window.getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll') { return p; }
    }
    return null;
  }
  function nameOf(table) {
    var caption = table.querySelector('caption');
    if (caption) { return caption.textContent.trim(); }
    var section = table.closest('section, .card');
    var heading = section && section.querySelector('h2, h3');
    return (heading ? heading.textContent : document.title).trim();
  }
  function fit() {
    document.querySelectorAll('main table').forEach(function (table) {
      var box = scrollBox(table);
      if (!box) {
        if (table.getBoundingClientRect().width <= table.parentElement.clientWidth + 1) { return; }
        box = document.createElement('div');
        box.className = 'table-wrap';
        table.parentNode.insertBefore(box, table);
        box.appendChild(table);
      }
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute('tabindex')) { box.setAttribute('tabindex', '0'); }
        if (!box.hasAttribute('role')) { box.setAttribute('role', 'region'); }
        if (!box.hasAttribute('aria-label') && !box.hasAttribute('aria-labelledby')) {
          box.setAttribute('aria-label', nameOf(table));
        }
      }
    });
  }
  var timer = null;
  window.addEventListener('resize', function () { clearTimeout(timer); timer = setTimeout(fit, 150); });
  document.addEventListener('toggle', fit, true);  // a <details> opened: its table has a width now
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', fit); } else { fit(); }
}());
