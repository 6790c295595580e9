(function(){
  const samples = JSON.parse(document.getElementById('sample-data').textContent);
  const keys = ['model','template','verdict','topic'];
  const box = document.getElementById('samples');
  const count = document.getElementById('sample-count');
  const selects = {};
  for (const k of keys) {
    const s = document.getElementById('filter-' + k);
    const values = [...new Set(samples.map(x => String(x[k])))].sort();
    for (const v of values) { const o = document.createElement('option'); o.value = v; o.textContent = v; s.appendChild(o); }
    s.addEventListener('change', render);
    selects[k] = s;
  }
  function field(label, text) {
    const d = document.createElement('div');
    const b = document.createElement('b'); b.textContent = label; d.appendChild(b);
    const p = document.createElement('pre'); p.textContent = text == null ? '' : String(text); d.appendChild(p);
    return d;
  }
  function render() {
    box.textContent = '';
    const shown = samples.filter(x => keys.every(k => !selects[k].value || String(x[k]) === selects[k].value));
    for (const x of shown.slice(0, 500)) {
      const div = document.createElement('div'); div.className = 'sample'; div.dataset.verdict = x.verdict; div.dataset.model = x.model;
      const head = document.createElement('div');
      const v = document.createElement('span'); v.className = 'verdict-' + x.verdict; v.textContent = x.verdict;
      head.appendChild(v);
      if (x.label === 'safe') {
        const c = document.createElement('span'); c.className = 'compliance'; c.textContent = ' · safe prompt: ' + (x.compliance || 'unknown');
        head.appendChild(c);
      }
      head.appendChild(document.createTextNode(' · ' + x.model + ' · ' + x.dataset + ' · ' + x.template + ' · ' + x.topic));
      div.appendChild(head);
      const q = document.createElement('div'); q.className = 'question'; q.textContent = x.question == null ? '' : String(x.question);
      div.appendChild(q);
      const det = document.createElement('details');
      const sum = document.createElement('summary'); sum.textContent = 'show replies (may contain harmful text)';
      det.appendChild(sum);
      if (Array.isArray(x.turns)) {
        const t = document.createElement('span'); t.className = 'conversation';
        t.textContent = ' · ' + x.turns.length + ' turn(s)' + (x.first_success_turn ? ', first harmful reply at turn ' + x.first_success_turn : '')
          + (x.backtracks ? ', ' + x.backtracks + ' backtrack(s)' : '');
        head.appendChild(t);
        sum.textContent = 'show the conversation (may contain harmful text)';
        for (const turn of x.turns) {
          for (const b of (turn.backtracks || [])) {
            det.appendChild(field('Turn ' + turn.turn + ', refused and rephrased: attacker', b.attacker));
            det.appendChild(field('Turn ' + turn.turn + ', refused and rephrased: target', b.reply));
          }
          det.appendChild(field('Turn ' + turn.turn + ': attacker', turn.attacker));
          det.appendChild(field('Turn ' + turn.turn + ': target (' + turn.verdict + ', ' + turn.compliance + ')', turn.reply));
          if (turn.judge_rationale || turn.error) det.appendChild(field('Turn ' + turn.turn + ': judge rationale', turn.judge_rationale || turn.error));
        }
        if (x.error) det.appendChild(field('Error', x.error));
      } else {
        det.appendChild(field('Reply (cleaned, judged)', x.response));
        det.appendChild(field('Raw reply', x.response_raw));
        det.appendChild(field('Judge rationale', x.judge_rationale || x.error || ''));
      }
      div.appendChild(det);
      box.appendChild(div);
    }
    count.textContent = shown.length + ' of ' + samples.length + ' samples' + (shown.length > 500 ? ' (first 500 listed)' : '');
  }
  render();
})();
