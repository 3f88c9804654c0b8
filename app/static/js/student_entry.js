/* Student questionnaire: save answers as they are chosen, so a dropped connection loses nothing. */
/* A conditional question (ASQ question 5) shows only when the answers above call for it; without this script it
   stays visible with its note ("answer only if ..."), and the server ignores it when it was not to be asked. */
(function () {
  var form = document.getElementById('answers');
  if (!form) { return; }
  var conditional = form.querySelectorAll('fieldset[data-ask-if-items]');
  if (!conditional.length) { return; }
  function checked(n) {
    var input = form.querySelector('input[name=q' + n + ']:checked');
    return input ? input.value : null;
  }
  function update() {
    conditional.forEach(function (fs) {
      var items = fs.getAttribute('data-ask-if-items').split(',');
      var answers = fs.getAttribute('data-ask-if-answers').split(',');
      var asked = items.some(function (n) { return answers.indexOf(checked(n)) >= 0; });
      fs.hidden = !asked;
      fs.querySelectorAll('input').forEach(function (input) {
        input.required = asked;
        if (!asked) { input.checked = false; }
      });
      var note = fs.querySelector('.ask-note');
      if (note) { note.hidden = true; }
    });
  }
  form.addEventListener('change', update);
  update();
})();
/* Student questionnaire: the progress bar moves with each answer; answers are saved as they are chosen, so a
   dropped connection loses nothing. */
(function () {
  var form = document.getElementById('answers');
  var bar = document.getElementById('progress');
  function moveBar() {
    if (!form || !bar) { return; }
    var before = +bar.getAttribute('data-before'), total = +bar.getAttribute('data-total');
    var items = +bar.getAttribute('data-items');
    var answered = {};
    Array.prototype.forEach.call(form.querySelectorAll('input[type=radio]:checked'), function (r) { answered[r.name] = 1; });
    var share = items ? Object.keys(answered).length / items : 0;
    var pct = total ? Math.round(100 * (before + share) / total) : 0;
    bar.setAttribute('aria-valuenow', pct);
    bar.firstElementChild.style.width = pct + '%';
  }
  if (form) { form.addEventListener('change', moveBar); }
})();
/* Student questionnaire: answers survive a dropped connection.

   - Each answer is saved to the server as it is chosen (autosave, sealed there as a draft) and kept in this tab's
     sessionStorage (never localStorage: it ends with the tab) until the server has the submitted page; then it is
     removed. Nothing of a submitted page stays in the browser.
   - Submitting goes through fetch with the page's one-time token (form_token) as its idempotency key: when the
     connection is down, or drops before the answer arrives, the same request is sent again (same token) when it
     returns; the server stores one screening however many copies reach it (app/form_tokens.py).
   - While offline the page says so (#save-state, data-offline).
   Without JavaScript (or fetch) the form posts as a normal form. */
(function () {
  var form = document.getElementById('answers');
  if (!form || !window.fetch || !window.FormData) { return; }
  var state = document.getElementById('save-state');
  var button = form.querySelector('[type=submit]');
  var instrument = form.querySelector('input[name=instrument]').value;
  var tokenInput = form.querySelector('input[name=form_token]');
  var STORE = 'xinmiao-answers';
  var RETRY_MS = 2000;
  var timer = null;
  var sending = false;
  var retryTimer = null;

  function store() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }
  function keep() {
    var s = store();
    if (!s) { return; }
    var answers = {};
    Array.prototype.forEach.call(form.querySelectorAll('input[type=radio]:checked'), function (el) {
      answers[el.name] = el.value;
    });
    s.setItem(STORE, JSON.stringify({ instrument: instrument, token: tokenInput ? tokenInput.value : '', answers: answers }));
  }
  function forget() {
    var s = store();
    if (s) { s.removeItem(STORE); }
  }
  function restore() {
    var s = store();
    if (!s) { return; }
    var kept = null;
    try { kept = JSON.parse(s.getItem(STORE) || 'null'); } catch (e) { kept = null; }
    if (!kept || kept.instrument !== instrument) { forget(); return; }  // that page was submitted: nothing to keep
    if (tokenInput && kept.token) { tokenInput.value = kept.token; }     // the same page: the same idempotency key
    Object.keys(kept.answers || {}).forEach(function (name) {
      var boxes = form.querySelectorAll('input[type=radio][name="' + name + '"]');
      var anyChecked = Array.prototype.some.call(boxes, function (b) { return b.checked; });
      if (anyChecked) { return; }
      Array.prototype.forEach.call(boxes, function (b) { if (b.value === kept.answers[name]) { b.checked = true; } });
    });
  }
  function say(attr, fallback) {
    if (state) { state.textContent = state.getAttribute(attr) || fallback; }
  }
  function offline() {
    say('data-offline', '网络中断，答案已保存在本机，恢复后自动提交');
    form.classList.add('is-offline');
  }

  function save() {
    var body = new FormData(form);
    body.delete('form_token');
    fetch(form.getAttribute('data-save'), { method: 'POST', body: body, credentials: 'same-origin',
      headers: { 'X-CSRFToken': body.get('csrf_token') } })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (res) {
        form.classList.remove('is-offline');
        if (res[1].saved) { say('data-saved', '已保存'); }
        else if (res[1].reason === 'ended') { window.location.reload(); }
      })
      .catch(offline);
  }

  function send() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    say('data-sending', '正在提交…');
    fetch(form.action, { method: 'POST', body: new FormData(form), credentials: 'same-origin', redirect: 'follow' })
      .then(function (r) {
        if (r.redirected || r.status === 409) {
          // stored (now, or by an earlier copy that reached the server): go on to the next page
          forget();
          window.location.assign(r.url);
          return;
        }
        // the server answered with the page again (an unanswered question, an expired form): let it show it
        sending = false;
        form.submit();
      })
      .catch(function () {
        offline();
        retryTimer = setTimeout(send, RETRY_MS);
      });
  }

  restore();
  form.addEventListener('change', function () {
    keep();
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 600);
  });
  form.addEventListener('submit', function (ev) {
    if (!form.checkValidity()) { return; }  // the browser names the unanswered question
    ev.preventDefault();
    if (sending) { return; }
    sending = true;
    if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
    keep();
    send();
  });
  window.addEventListener('online', function () { if (sending && retryTimer) { send(); } });
})();
