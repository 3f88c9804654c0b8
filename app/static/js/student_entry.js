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
  if (!form || !window.fetch) { return; }
  var state = document.getElementById('save-state');
  var timer = null;
  function save() {
    var body = new FormData(form);
    fetch(form.getAttribute('data-save'), { method: 'POST', body: body, credentials: 'same-origin',
      headers: { 'X-CSRFToken': body.get('csrf_token') } })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (res) {
        if (res[1].saved) { state.textContent = state.getAttribute('data-saved') || '已保存'; }
        else if (res[1].reason === 'ended') { window.location.reload(); }
      })
      .catch(function () { state.textContent = state.getAttribute('data-offline') || '网络中断，恢复后会继续保存'; });
  }
  form.addEventListener('change', function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 600);
  });
})();
