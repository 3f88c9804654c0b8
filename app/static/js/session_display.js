/* The projected session screen: counts down the time left and polls the name-free display.json for the three
   counts. It never receives or shows a student, a level or a crisis. */
(function () {
  var cfg = document.getElementById('display-config');
  var left = document.getElementById('display-left');
  var full = document.getElementById('display-fullscreen');
  if (full) {
    full.addEventListener('click', function () {
      var el = document.documentElement;
      if (el.requestFullscreen) { el.requestFullscreen().catch(function () {}); }
    });
  }
  var seconds = left ? parseInt(left.getAttribute('data-seconds'), 10) || 0 : 0;
  function showLeft() {
    if (!left) { return; }
    var s = Math.max(0, seconds);
    left.textContent = Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2);
  }
  if (left) { setInterval(function () { seconds -= 1; showLeft(); }, 1000); }
  if (!cfg || !window.fetch) { return; }
  var url = cfg.getAttribute('data-url');
  var polling = true;
  function poll() {
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        Object.keys(data.counts).forEach(function (k) {
          var el = document.querySelector('[data-count="' + k + '"]');
          if (el) { el.textContent = data.counts[k]; }
        });
        seconds = data.seconds_left; showLeft();
        polling = data.polling;
      })
      .catch(function () {})
      .then(function () { if (polling) { setTimeout(poll, 4000); } });
  }
  setTimeout(poll, 3000);
})();
