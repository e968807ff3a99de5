// admin-analyzers.js: the analyzers' health (queues, latency, quarantine)
// and, per analyzer version, how often radiologists agreed with it — the
// open evaluation of diagnostic accuracy the product promises.
import { get, post } from './api.js';
import { h, replace, badge, seconds, percent } from './dom.js';
import { actionButton, table, viewHeader, toast, reportError, confirmDialog, emptyState } from './ui.js';

const STATS = [
  ['judged_studies', 'Judged studies', 'Studies with any feedback on this version'],
  ['agreement', 'Agreement', 'Agreed findings among findings judged agree or disagree'],
  ['finding_sensitivity', 'Finding sensitivity', 'Agreed findings among agreed plus reported missed'],
  ['ppv', 'PPV', 'Flagged studies that were true positives: TP / (TP + FP)'],
  ['sensitivity', 'Sensitivity', 'TP / (TP + FN), at study level'],
  ['specificity', 'Specificity', 'TN / (TN + FP), at study level'],
];

export function mount(main, { me }) {
  const isAdmin = me.role === 'admin';
  const slot = h('div', { class: 'slot' }, h('p', { class: 'muted' }, 'Loading…'));
  const refresh = h('button', { class: 'btn btn-small', type: 'button' }, 'Refresh');
  replace(main, h('section', { class: 'view admin-view' },
    viewHeader('Analyzers', isAdmin ? null : 'read-only', refresh), slot));
  let stopped = false;

  async function load() {
    try {
      const { analyzers } = await get('/api/analyzers');
      if (!stopped) render(analyzers);
    } catch (error) {
      reportError(error);
    }
  }
  refresh.addEventListener('click', load);

  function render(analyzers) {
    if (!analyzers.length) {
      replace(slot, emptyState('No analyzers configured.', 'Add <analyzer> elements to the configuration.'));
      return;
    }
    const rows = analyzers.map((a) => h('tr', { dataset: { analyzer: a.name },
      class: a.quarantined ? 'row-quarantined' : null },
    h('td', {}, h('strong', {}, a.name), a.configured ? null : h('span', { class: 'muted' }, ' (no longer configured)')),
    h('td', {}, a.kind || '—'),
    h('td', { class: 'mono' }, a.version || '—'),
    // An analyzer that never ran has no counts yet: zero, not "undefined".
    h('td', { class: 'num' }, String(a.queued ?? 0)),
    h('td', { class: 'num' }, String(a.running ?? 0)),
    h('td', { class: 'num' }, String(a.done ?? 0)),
    h('td', { class: 'num' }, String(a.declined ?? 0)),
    h('td', { class: ['num', a.failed ? 'text-bad' : null] }, String(a.failed ?? 0)),
    h('td', { class: 'num' }, seconds(a.latency_p50_s)),
    h('td', { class: 'num' }, seconds(a.latency_p95_s)),
    h('td', {}, a.quarantined
      ? h('div', { class: 'quarantine' }, badge('state', 'failed', 'Quarantined'),
        h('span', { class: 'reason' }, a.quarantine_reason || ''),
        isAdmin ? actionButton('Enable', () => enable(a), { cls: 'btn btn-small btn-primary' }) : null)
      : h('span', { class: 'ok-text' }, a.consecutive_failures
        ? `active (${a.consecutive_failures} failure${a.consecutive_failures > 1 ? 's' : ''} in a row)` : 'active'))));

    const stats = analyzers.flatMap((a) => (a.feedback || []).map((fb) => h('tr', {
      dataset: { analyzer: a.name, version: fb.version } },
    h('td', {}, h('strong', {}, a.name)),
    h('td', { class: 'mono' }, fb.version),
    STATS.map(([key]) => h('td', { class: 'stat', dataset: { stat: key } },
      key === 'judged_studies' ? String(fb[key] ?? 0) : proportion(fb[key]))))));

    replace(slot,
      table('analyzers-table', ['Analyzer', 'Kind', 'Version', 'Queued', 'Running', 'Done', 'Declined',
        'Failed', 'Latency p50', 'p95', 'State'], rows),
      h('section', { class: 'section' },
        h('h2', {}, 'Feedback statistics'),
        h('p', { class: 'muted section-note' }, 'Per analyzer version, from radiologists\' verdicts. Each value: ' +
          'proportion (count / of) and its 95 % Wilson interval. Sensitivity and specificity mean something only ' +
          'where readers mark negative studies and missed findings.'),
        stats.length
          ? table('stats-table', ['Analyzer', 'Version', ...STATS.map(([, t, tip]) =>
            h('th', { scope: 'col', title: tip }, t))], stats)
          : emptyState('No feedback yet.', 'Statistics appear once radiologists agree or disagree with findings.')));
  }

  async function enable(a) {
    const ok = await confirmDialog({ title: `Enable ${a.name}?`, confirm: 'Enable',
      message: `${a.name} was quarantined: ${a.quarantine_reason || 'repeated failures'}. Jobs will be sent to it again.` });
    if (!ok) return;
    const answer = await post(`/api/analyzers/${encodeURIComponent(a.name)}/enable`);
    toast(answer.message || `${a.name} enabled`, 'ok');
    await load();
  }

  load();
  return () => { stopped = true; };
}

/** {count, of, value, ci95} as "88% (30/34) CI 73–95%"; "—" when nothing was judged. */
export function proportion(p) {
  if (!p || !p.of) return h('span', { class: 'nil', title: 'nothing judged yet' }, '—');
  const [lo, hi] = p.ci95 || [0, 1];
  return h('span', { class: 'prop' },
    h('span', { class: 'prop-value' }, percent(p.value)),
    h('span', { class: 'prop-count' }, ` (${p.count}/${p.of})`),
    h('span', { class: 'prop-ci' }, ` CI ${Math.round(lo * 100)}–${Math.round(hi * 100)}%`));
}
