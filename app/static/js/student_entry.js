/* Student questionnaire: save answers as they are chosen, so a dropped connection loses nothing. */
(function () {
  var form = document.getElementById('answers');
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
