/* Class session page: poll the status endpoint every few seconds; update statuses; show crisis alerts at once. */
(function () {
  var cfg = document.getElementById('session-config');
  if (!cfg || !window.fetch) { return; }
  var url = cfg.getAttribute('data-url');
  var alerts = document.getElementById('crisis-alerts');
  function nameOf(publicId) {
    var row = document.querySelector('tr[data-student="' + publicId + '"]');
    return row ? row.getAttribute('data-name') : '';
  }
  function addAlert(c) {
    if (c.acknowledged || alerts.querySelector('[data-warning="' + c.warning + '"]')) { return; }
    var box = document.createElement('div');
    box.className = 'alert-crisis';
    box.setAttribute('data-warning', c.warning);
    var strong = document.createElement('strong');
    strong.textContent = cfg.getAttribute('data-title') + '：';
    box.appendChild(strong);
    box.appendChild(document.createTextNode(nameOf(c.student) + ' ' + cfg.getAttribute('data-alert') + ' '));
    var form = document.createElement('form');
    form.method = 'post'; form.action = c.ack_url; form.className = 'inline';
    [['csrf_token', cfg.getAttribute('data-csrf')], ['next', cfg.getAttribute('data-next')]].forEach(function (kv) {
      var input = document.createElement('input');
      input.type = 'hidden'; input.name = kv[0]; input.value = kv[1]; form.appendChild(input);
    });
    var button = document.createElement('button');
    button.type = 'submit'; button.className = 'button danger'; button.textContent = cfg.getAttribute('data-ack');
    form.appendChild(button);
    box.appendChild(form);
    alerts.appendChild(box);
  }
  function update(data) {
    Object.keys(data.counts).forEach(function (k) {
      var el = document.querySelector('[data-count="' + k + '"]');
      if (el) { el.textContent = data.counts[k]; }
    });
    Object.keys(data.students).forEach(function (pid) {
      var cell = document.querySelector('tr[data-student="' + pid + '"] td.status');
      if (cell) { var s = data.students[pid]; cell.className = 'status status-' + s; cell.textContent = data.labels[s]; }
    });
    data.crises.forEach(addAlert);
  }
  var polling = true;
  function poll() {
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { update(data); polling = data.polling; })
      .catch(function () {})
      .then(function () { if (polling) { setTimeout(poll, 4000); } });
  }
  setTimeout(poll, 3000);
})();
