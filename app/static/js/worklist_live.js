/* The counselor's worklist: polls the number of unacknowledged urgent help requests and reloads the page when it
   changes, so an urgent request to talk shows up without a manual reload. */
(function () {
  var cfg = document.getElementById('worklist-live');
  if (!cfg || !window.fetch) { return; }
  var known = parseInt(cfg.getAttribute('data-urgent'), 10) || 0;
  function poll() {
    fetch(cfg.getAttribute('data-url'), { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { if (data.urgent > known) { window.location.reload(); } else { known = data.urgent; } })
      .catch(function () {})
      .then(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 3000);
})();
