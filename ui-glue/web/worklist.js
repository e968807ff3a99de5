// worklist.js: the study worklist, most urgent AI result first.
//
// It polls GET /api/worklist every 3 s while the tab is visible and updates
// the table in place: rows are keyed by study id, refilled only when their
// data changed, and moved (not rebuilt) when the order changes, so scroll
// position and keyboard focus survive. A study that becomes critical or
// urgent flashes as it rises to the top.
import { get, withQuery } from './api.js';
import { h, replace, personName, dicomDate, timeEl, badge, priorityBadge, label } from './dom.js';
import { reportError, select, field, viewHeader, emptyState } from './ui.js';

const POLL_MS = 3000;
const FILTERS = ['text', 'from', 'to', 'modality', 'analyzer', 'priority', 'state'];
const MODALITIES = ['CT', 'MR', 'CR', 'DX', 'MG', 'US', 'PT', 'NM', 'XA', 'RF', 'OT', 'SC'];
const COLUMNS = [
  ['Priority', 'c-prio'], ['Patient', 'c-name'], ['Patient ID', 'c-pid'], ['Accession', 'c-acc'],
  ['Study date', 'c-date'], ['Description', 'c-desc'], ['Mod.', 'c-mod'], ['Analyzers', 'c-an'],
  ['AI summary', 'c-sum'], ['Findings', 'c-num'], ['Status', 'c-state'], ['Received', 'c-time c-received'],
  ['Complete', 'c-time c-complete'], ['Analyzed', 'c-time c-analyzed'], ['Delivered', 'c-time c-delivered'],
];

export function mount(main, { params, navigate, remember }) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
  const rows = new Map(); // study id -> <tr>
  let timer = null;
  let sequence = 0; // answers to older requests are dropped
  let firstLoad = true;
  let stopped = false;

  const tbody = h('tbody', { id: 'worklist-body' });
  const count = h('span', { class: 'view-note', id: 'worklist-count' }, 'Loading…');
  const live = h('span', { class: 'live', id: 'live', title: 'The worklist refreshes itself every 3 seconds' },
    h('span', { class: 'live-dot' }), h('span', { class: 'live-text' }, 'Live'));
  const empty = h('div', { class: 'empty-slot' });
  const tableWrap = h('div', { class: 'table-wrap worklist-wrap' },
    h('table', { class: 'grid worklist', id: 'worklist' },
      h('thead', {}, h('tr', {}, COLUMNS.map(([t, c]) => h('th', { scope: 'col', class: c }, t)))),
      tbody));

  // ---- filters, kept in the hash so a reload or a shared link keeps them --------------

  const text = h('input', { type: 'search', name: 'text', id: 'f-text', value: filters.text,
    placeholder: 'Patient name or ID, accession, description', autocomplete: 'off' });
  const from = h('input', { type: 'date', name: 'from', id: 'f-from', value: isoDate(filters.from) });
  const to = h('input', { type: 'date', name: 'to', id: 'f-to', value: isoDate(filters.to) });
  const modality = h('input', { name: 'modality', id: 'f-modality', value: filters.modality, list: 'modalities',
    size: 5, autocomplete: 'off', placeholder: 'Any' });
  const analyzerField = select('analyzer', 'Analyzer', [['', 'Any']].concat(
    filters.analyzer ? [[filters.analyzer, filters.analyzer]] : []), filters.analyzer);
  const clear = h('button', { type: 'button', class: 'btn btn-ghost btn-small', id: 'f-clear' }, 'Clear filters');
  // On a phone only the search shows until this opens the rest (CSS hides it on wide screens).
  const more = h('button', { type: 'button', class: 'btn filters-toggle', id: 'f-more', 'aria-expanded': 'false',
    'aria-controls': 'filters' }, 'Filters');
  const form = h('form', { class: 'filters', role: 'search', id: 'filters' },
    h('label', { class: 'field field-grow', for: 'f-text' }, h('span', { class: 'field-label' }, 'Search'), text),
    more,
    field('Study date from', from, 'from'),
    field('to', to, 'to'),
    field('Modality', modality, 'modality'),
    h('datalist', { id: 'modalities' }, MODALITIES.map((m) => h('option', { value: m }))),
    analyzerField,
    select('priority', 'AI priority', [['', 'Any'], ['critical', 'Critical'], ['urgent', 'Urgent'],
      ['routine', 'Routine']], filters.priority),
    select('state', 'Status', [['', 'Any'], ...['receiving', 'waiting', 'analyzing', 'analyzed', 'failed']
      .map((s) => [s, label(s)])], filters.state),
    h('div', { class: 'field field-end' }, clear));

  let debounce = null;
  form.addEventListener('input', (event) => {
    clearTimeout(debounce);
    // Typing waits for a pause; pickers and selects apply at once.
    debounce = setTimeout(applyFilters, event.target === text || event.target === modality ? 300 : 0);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilters();
  });
  more.addEventListener('click', () => {
    const open = form.classList.toggle('open');
    more.setAttribute('aria-expanded', String(open));
  });
  clear.addEventListener('click', () => {
    for (const el of form.querySelectorAll('input, select')) el.value = '';
    applyFilters();
  });

  function applyFilters() {
    for (const el of form.querySelectorAll('input[name], select[name]')) {
      filters[el.name] = el.name === 'modality' ? el.value.trim().toUpperCase() : el.value.trim();
    }
    showActive();
    // replaceState: the hash changes without a hashchange, so nothing re-renders.
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    const hash = `#/worklist${query ? `?${query}` : ''}`;
    history.replaceState(null, '', hash);
    if (remember) remember(hash);
    poll();
  }
  function showActive() {
    clear.hidden = !FILTERS.some((k) => filters[k]);
    const n = FILTERS.filter((k) => k !== 'text' && filters[k]).length;
    more.textContent = n ? `Filters (${n})` : 'Filters';
  }
  showActive();

  // The analyzer filter offers the configured analyzers.
  get('/api/analyzers').then(({ analyzers }) => {
    const sel = analyzerField.querySelector('select');
    const names = new Set(analyzers.map((a) => a.name));
    if (filters.analyzer) names.add(filters.analyzer);
    replace(sel, h('option', { value: '' }, 'Any'),
      [...names].sort().map((n) => h('option', { value: n, selected: n === filters.analyzer }, n)));
  }).catch(() => {}); // the free choice stays; errors show on the worklist poll

  // ---- rows ----------------------------------------------------------------------------

  function open(id) {
    navigate(`#/study/${id}`);
  }

  tbody.addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-study-id]');
    if (tr && !window.getSelection().toString()) open(tr.dataset.studyId);
  });
  tbody.addEventListener('keydown', (event) => {
    const tr = event.target.closest('tr[data-study-id]');
    if (!tr) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open(tr.dataset.studyId);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) next.focus();
    }
  });

  function update(studies) {
    const focused = document.activeElement;
    const seen = new Set();
    studies.forEach((s, index) => {
      seen.add(s.id);
      let tr = rows.get(s.id);
      const isNew = !tr;
      const rose = tr && s.priority_rank > Number(tr.dataset.rank);
      if (isNew) {
        tr = h('tr', { tabindex: 0, dataset: { studyId: s.id } });
        rows.set(s.id, tr);
      }
      const signature = JSON.stringify(s);
      if (tr.dataset.signature !== signature) {
        tr.dataset.signature = signature;
        fillRow(tr, s);
      }
      // Move only what is out of place: an appendChild of every row would
      // blur the focused one and make screen readers re-announce the table.
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
      if (!firstLoad && (rose || isNew)) flash(tr, s.priority_rank >= 2 ? 'row-alert' : 'row-new');
    });
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
    const filtered = FILTERS.some((k) => filters[k]);
    count.textContent = `${studies.length} ${studies.length === 1 ? 'study' : 'studies'}` +
      (studies.length >= 200 ? ' (the newest 200)' : '') + (filtered ? ' match' : '');
    tableWrap.hidden = studies.length === 0;
    replace(empty, studies.length ? null : filtered
      ? emptyState('No studies match these filters.', 'Widen the date range or clear the filters.',
        h('button', { class: 'btn btn-small', type: 'button', onclick: () => clear.click() }, 'Clear filters'))
      : emptyState('No studies yet.', 'Studies appear here, live, as soon as a modality or PACS sends them ' +
        'to this gateway.'));
    firstLoad = false;
  }

  // ---- polling -----------------------------------------------------------------------

  async function poll() {
    clearTimeout(timer);
    timer = null;
    const mine = ++sequence;
    const query = { ...filters, from: isoDate(filters.from), to: isoDate(filters.to) };
    try {
      const { studies } = await get(withQuery('/api/worklist', query));
      if (stopped || mine !== sequence) return;
      update(studies);
      setLive(true);
    } catch (error) {
      if (stopped || mine !== sequence) return;
      setLive(false, error.message);
      if (error.status === 401) return; // the login view takes over
      reportError(error);
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    // A hidden tab does not poll: no load on the gateway for a forgotten tab.
    if (!stopped && !document.hidden) timer = setTimeout(poll, POLL_MS);
  }

  function setLive(ok, why) {
    live.classList.toggle('live-off', !ok);
    live.lastChild.textContent = ok ? 'Live' : 'Offline';
    live.title = ok ? `Refreshes every 3 seconds; last ${new Date().toLocaleTimeString()}` : why;
  }

  function onVisibility() {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
      live.classList.add('live-paused');
    } else {
      live.classList.remove('live-paused');
      poll();
    }
  }
  document.addEventListener('visibilitychange', onVisibility);

  replace(main, h('section', { class: 'view worklist-view' },
    viewHeader('Worklist', null, count, live), form, empty, tableWrap));
  poll();

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}

function fillRow(tr, s) {
  tr.dataset.rank = s.priority_rank ?? 0;
  tr.dataset.priority = s.priority || 'none';
  tr.dataset.state = s.state;
  for (const c of [...tr.classList]) if (c.startsWith('prio-row-')) tr.classList.remove(c);
  tr.classList.add(`prio-row-${s.priority || 'none'}`);
  const name = personName(s.patient_name);
  tr.setAttribute('aria-label', `${label(s.priority || 'none')}: ${name || 'no name'}, ${s.patient_id || ''}`);
  // data-label: the column's name, shown beside the value when rows become cards on a phone.
  const cell = (cls, name, content, tooltip = null) => h('td', { class: cls, 'data-label': name, title: tooltip },
    content || '');
  replace(tr,
    h('td', { class: 'c-prio', 'data-label': 'Priority' }, priorityBadge(s.priority)),
    h('td', { class: 'c-name', 'data-label': 'Patient' }, h('span', { class: 'pname' }, name || '(no name)')),
    cell('c-pid mono', 'Patient ID', s.patient_id),
    cell('c-acc mono', 'Accession', s.accession_number),
    cell('c-date mono', 'Study date', dicomDate(s.study_date)),
    cell('c-desc', 'Description', s.study_description, s.study_description),
    cell('c-mod', 'Modalities', (s.modalities || []).join(' ')),
    cell('c-an', 'Analyzers', (s.analyzers || []).join(', ')),
    cell('c-sum', 'AI summary', s.summary, s.summary),
    h('td', { class: 'c-num', 'data-label': 'Findings' }, s.finding_count ? String(s.finding_count) : '—'),
    h('td', { class: 'c-state', 'data-label': 'Status' },
      h('span', { class: 'badges' }, badge('state', s.state), (s.flags || []).map((f) => badge('flag', f)))),
    h('td', { class: 'c-time c-received', 'data-label': 'Received' }, timeEl(s.received_at)),
    h('td', { class: 'c-time c-complete', 'data-label': 'Complete' }, timeEl(s.complete_at)),
    h('td', { class: 'c-time c-analyzed', 'data-label': 'Analyzed' }, timeEl(s.analyzed_at)),
    h('td', { class: 'c-time c-delivered', 'data-label': 'Delivered' }, timeEl(s.delivered_at)));
}

function flash(tr, cls) {
  tr.classList.remove('row-alert', 'row-new');
  void tr.offsetWidth; // restart the animation when it flashes again
  tr.classList.add(cls);
  tr.addEventListener('animationend', () => tr.classList.remove(cls), { once: true });
}

// The API takes YYYY-MM-DD, as does <input type=date>; the hash may hold either form.
function isoDate(v) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(v || '');
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}
