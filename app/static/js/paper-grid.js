/* Class grid of paper forms: keyboard-only entry. A digit fills the cell and moves to the next item (the last item
   of a row keeps the cursor); a digit that is
   not one of the item's answers is refused, naming the item; Enter goes to the first item of the next student;
   Space, Tab or ArrowRight leave a cell as it is (a blank stays blank); Backspace clears and steps back; arrows move.
   The row's total (the instrument's total scale, reverse items counted as the engine counts them) follows the
   typing. Without this script the page is a plain form that posts. */
(function () {
  var form = document.getElementById('paper-grid');
  if (!form) { return; }
  var live = document.getElementById('grid-live');
  var refused = form.getAttribute('data-refused');
  var rows = Array.prototype.slice.call(form.querySelectorAll('tbody tr[data-row]'));
  var grid = rows.map(function (tr) { return Array.prototype.slice.call(tr.querySelectorAll('input.cell')); });

  function allowed(cell) { return cell.getAttribute('data-values').split(','); }
  function range(cell) {
    var v = allowed(cell).map(Number);
    return Math.min.apply(null, v) + '–' + Math.max.apply(null, v);
  }
  function focus(r, c) {
    if (r < 0 || r >= grid.length) { return; }
    var row = grid[r];
    if (c < 0) { c = 0; }
    if (c >= row.length) { c = row.length - 1; }
    row[c].focus();
    row[c].select();
  }
  function where(cell) {
    for (var r = 0; r < grid.length; r++) {
      var c = grid[r].indexOf(cell);
      if (c >= 0) { return [r, c]; }
    }
    return null;
  }
  function next(r, c) {
    /* the last item of a row keeps the cursor: Enter goes on to the next student */
    if (c + 1 < grid[r].length) { focus(r, c + 1); } else { focus(r, c); }
  }
  function total(r) {
    var sum = null;
    grid[r].forEach(function (cell) {
      if (cell.getAttribute('data-total') !== '1' || cell.value === '') { return; }
      var v = Number(cell.value);
      if (allowed(cell).indexOf(cell.value) < 0) { return; }
      if (cell.getAttribute('data-reverse') === '1') {
        var vs = allowed(cell).map(Number);
        v = Math.max.apply(null, vs) + Math.min.apply(null, vs) - v;
      }
      sum = (sum || 0) + v;
    });
    rows[r].querySelector('td.total').textContent = sum === null ? '' : String(sum);
  }
  function say(text) { live.textContent = text; }

  form.addEventListener('keydown', function (ev) {
    var cell = ev.target;
    if (!cell.classList || !cell.classList.contains('cell')) { return; }
    var at = where(cell);
    if (!at) { return; }
    var r = at[0], c = at[1];
    var key = ev.key;
    if (/^[0-9]$/.test(key)) {
      ev.preventDefault();
      if (allowed(cell).indexOf(key) < 0) {
        cell.parentNode.classList.add('has-error');
        say(refused.replace('{n}', cell.getAttribute('data-item')).replace('{allowed}', range(cell)));
        return;
      }
      cell.value = key;
      cell.parentNode.classList.remove('has-error');
      say('');
      total(r);
      next(r, c);
    } else if (key === 'Enter') {
      ev.preventDefault();
      if (r + 1 < grid.length) { focus(r + 1, 0); } else { form.querySelector('[data-testid=grid-save]').focus(); }
    } else if (key === ' ' || key === 'ArrowRight' || (key === 'Tab' && !ev.shiftKey)) {
      ev.preventDefault();
      if (key === 'Tab' && r === grid.length - 1 && c === grid[r].length - 1) {
        form.querySelector('[data-testid=grid-draft-save]').focus();
        return;
      }
      next(r, c);
    } else if (key === 'ArrowLeft' || (key === 'Tab' && ev.shiftKey)) {
      ev.preventDefault();
      if (c > 0) { focus(r, c - 1); } else { focus(r - 1, grid[Math.max(r - 1, 0)].length - 1); }
    } else if (key === 'ArrowDown') {
      ev.preventDefault(); focus(r + 1, c);
    } else if (key === 'ArrowUp') {
      ev.preventDefault(); focus(r - 1, c);
    } else if (key === 'Backspace' || key === 'Delete') {
      ev.preventDefault();
      if (cell.value === '' && key === 'Backspace' && c > 0) { focus(r, c - 1); grid[r][c - 1].value = ''; }
      else { cell.value = ''; }
      cell.parentNode.classList.remove('has-error');
      total(r);
    } else if (key.length === 1 && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();  // letters and signs never enter a cell
    }
  });
  form.addEventListener('focusin', function (ev) {
    if (ev.target.classList && ev.target.classList.contains('cell')) { ev.target.select(); }
  });
  if (grid.length) {
    for (var r = 0; r < grid.length; r++) { total(r); }
    /* resume after the last row typed so far (a blank inside a typed row is meant to stay blank) */
    var last = -1;
    for (var i = 0; i < grid.length; i++) {
      if (grid[i].some(function (cell) { return cell.value !== ''; })) { last = i; }
    }
    focus(Math.min(last + 1, grid.length - 1), 0);
  }
})();
