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
