/* Long POSTs (imports, confirmations): a form marked data-long disables its submit button on the first submit and
   shows that the work is running (a <progress> without a value: the browser shows it as busy), so the same form
   is not sent twice by an impatient second click. The server refuses a second copy anyway (its one-time token,
   app/form_tokens.py); this only says what is going on. Without JavaScript the form posts as usual. */
(function () {
  var forms = document.querySelectorAll('form[data-long]');
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener('submit', function (ev) {
      if (form.getAttribute('data-sent') === '1') { ev.preventDefault(); return; }
      form.setAttribute('data-sent', '1');
      form.setAttribute('aria-busy', 'true');
      Array.prototype.forEach.call(form.querySelectorAll('button[type=submit], input[type=submit]'), function (b) {
        // disabled after this event: a disabled button's own name/value would not be sent
        setTimeout(function () { b.disabled = true; }, 0);
      });
      var status = form.querySelector('.long-progress');
      if (!status) {
        status = document.createElement('p');
        status.className = 'long-progress';
        status.setAttribute('role', 'status');
        var bar = document.createElement('progress');
        bar.setAttribute('aria-label', form.getAttribute('data-long'));
        status.appendChild(bar);
        status.appendChild(document.createTextNode(' ' + form.getAttribute('data-long')));
        form.appendChild(status);
      }
    });
  });
})();

/* After a refused submit the page comes back with its errors: put the focus on the first field in error
   (its error text is linked to it by aria-describedby, so a screen reader reads it). */
(function () {
  var first = document.querySelector('main [aria-invalid="true"]');
  if (first && typeof first.focus === 'function') { first.focus(); }
})();
