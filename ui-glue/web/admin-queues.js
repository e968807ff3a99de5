// admin-queues.js: the two queues an administrator replays failures from:
// analysis jobs (retry, cancel) and the outbox of deliveries to peers
// (retry, retry every dead letter, drop).
//
// Both refresh every 5 s, but not while the pointer or keyboard focus is in
// the table: a row must not move under a button someone is about to press.
import { get, post, withQuery } from './api.js';
import { h, replace, timeEl, badge, label } from './dom.js';
import { actionButton, table, viewHeader, toast, confirmDialog, emptyState, select, every, studyLink } from './ui.js';

const REFRESH_MS = 5000;
const FINISHED = ['done', 'declined', 'failed', 'timed-out', 'cancelled'];

/** The frame both views share: a heading, a state filter, and a refreshing slot. */
function queueView(main, { title, note, states, params, navigateTo, load, tools = [] }) {
  const state = params.get('state') || '';
  const filter = select('state', 'State', [['', states.anyLabel], ...states.list.map((s) => [s, label(s)])], state);
  const slot = h('div', { class: 'slot' }, h('p', { class: 'muted' }, 'Loading…'));
  let hovering = false;
  slot.addEventListener('pointerenter', () => { hovering = true; });
  slot.addEventListener('pointerleave', () => { hovering = false; });
  replace(main, h('section', { class: 'view admin-view' },
    viewHeader(title, note, ...tools),
    h('form', { class: 'filters filters-compact', role: 'search' }, filter),
    slot));
  filter.querySelector('select').addEventListener('change', (event) => {
    const value = event.target.value;
    history.replaceState(null, '', value ? `${navigateTo}?state=${encodeURIComponent(value)}` : navigateTo);
    poller.now();
  });
  let first = true;
  const poller = every(REFRESH_MS, async () => {
    const busy = hovering || slot.contains(document.activeElement) || document.querySelector('dialog[open]');
    if (busy && !first) return;
    const value = filter.querySelector('select').value;
    const content = await load(value);
    first = false;
    replace(slot, content);
  });
  return poller;
}

// ---- jobs ----------------------------------------------------------------------------------

export function mountJobs(main, { me, params }) {
  const isAdmin = me.role === 'admin';
  const poller = queueView(main, {
    title: 'Jobs',
    note: isAdmin ? 'Newest first' : 'Newest first · read-only',
    states: { anyLabel: 'All', list: ['queued', 'running', ...FINISHED] },
    params,
    navigateTo: '#/admin/jobs',
    load: async (state) => {
      const { jobs } = await get(withQuery('/api/jobs', { state, limit: 200 }));
      if (!jobs.length) {
        return emptyState('No jobs.', state ? 'None in this state.' : 'Jobs appear when a route sends a study to an analyzer.');
      }
      return table('jobs-table', ['Job', 'Study', 'Patient ID', 'Accession', 'Route', 'Analyzer', 'State', 'Attempts',
        'Why / summary', 'Queued', 'Started', 'Finished', isAdmin ? 'Actions' : null].filter(Boolean),
      jobs.map((j) => jobRow(j, isAdmin)));
    },
  });

  function jobRow(j, isAdmin) {
    const actions = [];
    if (isAdmin && FINISHED.includes(j.state)) {
      actions.push(actionButton('Retry', async () => {
        const answer = await post(`/api/jobs/${j.id}/retry`);
        toast(answer.message || `Job ${j.id} queued again`, 'ok');
        await poller.now();
      }, { cls: 'btn btn-small', title: `Run job ${j.id} again` }));
    }
    if (isAdmin && (j.state === 'queued' || j.state === 'running')) {
      actions.push(actionButton('Cancel', async () => {
        const ok = await confirmDialog({ title: `Cancel job ${j.id}?`, confirm: 'Cancel job', danger: true,
          message: `${j.analyzer} on ${j.patient_id || `study ${j.study_id}`} will not produce results.` });
        if (!ok) return;
        const answer = await post(`/api/jobs/${j.id}/cancel`);
        toast(answer.message || `Job ${j.id} cancelled`, 'ok');
        await poller.now();
      }, { cls: 'btn btn-small btn-danger-quiet' }));
    }
    const why = j.reason || j.results_error || j.summary;
    return h('tr', { dataset: { jobId: j.id, state: j.state } },
      h('td', { class: 'num mono' }, String(j.id)),
      h('td', {}, studyLink(j.study_id)),
      h('td', { class: 'mono' }, j.patient_id || ''),
      h('td', { class: 'mono' }, j.accession_number || ''),
      h('td', {}, j.route || ''),
      h('td', {}, j.analyzer, j.analyzer_version ? h('span', { class: 'version' }, ` v${j.analyzer_version}`) : null),
      h('td', {}, badge('state', j.state), j.results_state === 'failed' ? badge('flag', 'results-failed') : null),
      h('td', { class: 'num' }, `${j.attempts}${j.max_attempts ? ` / ${j.max_attempts}` : ''}`),
      h('td', { class: ['c-why', j.reason || j.results_error ? 'text-bad' : null], title: why || null }, why || ''),
      h('td', { class: 'c-time' }, timeEl(j.created_at)),
      h('td', { class: 'c-time' }, timeEl(j.started_at)),
      h('td', { class: 'c-time' }, timeEl(j.finished_at)),
      isAdmin ? h('td', { class: 'c-actions' }, actions) : null);
  }
  return () => poller.stop();
}

// ---- outbox --------------------------------------------------------------------------------

export function mountOutbox(main, { me, params }) {
  const isAdmin = me.role === 'admin';
  const retryDead = isAdmin ? actionButton('Retry all dead letters', async () => {
    const ok = await confirmDialog({ title: 'Retry every dead letter?', confirm: 'Retry all',
      message: 'Every delivery that gave up becomes due now, with a fresh give-up horizon.' });
    if (!ok) return;
    const answer = await post('/api/outbox/retry-dead');
    toast(answer.message || 'Dead letters queued again', 'ok');
    await poller.now();
  }, { cls: 'btn btn-small', title: 'POST /api/outbox/retry-dead' }) : null;
  if (retryDead) retryDead.id = 'retry-dead';

  const poller = queueView(main, {
    title: 'Outbox',
    note: 'Deliveries to peers, newest first',
    states: { anyLabel: 'All but sent', list: ['pending', 'sending', 'dead', 'sent', 'cancelled'] },
    params,
    navigateTo: '#/admin/outbox',
    tools: [retryDead],
    load: async (state) => {
      const { items } = await get(withQuery('/api/outbox', { state, limit: 200 }));
      const dead = items.filter((i) => i.state === 'dead').length;
      if (retryDead) retryDead.hidden = state !== '' && state !== 'dead';
      if (!items.length) {
        return state ? emptyState('Nothing in this state.') : emptyState('Nothing waiting.', 'Every delivery has reached its peer.');
      }
      return [
        dead ? h('p', { class: 'callout callout-failed' }, `${dead} dead letter${dead > 1 ? 's' : ''}: ` +
          'deliveries that gave up. Fix the peer, then retry them.') : null,
        table('outbox-table', ['Item', 'Study', 'What', 'Peer', 'State', 'Attempts', 'Last error', 'Next attempt',
          'Sent', 'Created', isAdmin ? 'Actions' : null].filter(Boolean), items.map((i) => itemRow(i, isAdmin))),
      ];
    },
  });

  function itemRow(i, isAdmin) {
    const actions = [];
    if (isAdmin && (i.state === 'dead' || i.state === 'pending')) {
      actions.push(actionButton('Retry', async () => {
        const answer = await post(`/api/outbox/${i.id}/retry`);
        toast(answer.message || `Item ${i.id} due now`, 'ok');
        await poller.now();
      }));
      actions.push(actionButton('Drop', async () => {
        const ok = await confirmDialog({ title: `Drop delivery ${i.id}?`, confirm: 'Drop for good', danger: true,
          message: `${i.peer} will never receive this ${i.result_kind ? i.result_kind.toUpperCase() : i.kind}.` });
        if (!ok) return;
        const answer = await post(`/api/outbox/${i.id}/drop`);
        toast(answer.message || `Item ${i.id} dropped`, 'ok');
        await poller.now();
      }, { cls: 'btn btn-small btn-danger-quiet' }));
    }
    const what = i.kind === 'result' ? `result ${i.result_kind ? i.result_kind.toUpperCase() : ''}` : i.kind;
    return h('tr', { dataset: { itemId: i.id, state: i.state }, class: i.state === 'dead' ? 'row-dead' : null },
      h('td', { class: 'num mono' }, String(i.id)),
      h('td', {}, studyLink(i.study_id)),
      h('td', {}, what),
      h('td', {}, i.peer || ''),
      h('td', {}, badge('state', i.state)),
      h('td', { class: 'num' }, String(i.attempts ?? 0)),
      h('td', { class: ['c-why', i.last_error ? 'text-bad' : null], title: i.last_error || null }, i.last_error || ''),
      h('td', { class: 'c-time' }, i.state === 'pending' ? timeEl(i.next_attempt_at) : h('span', { class: 'nil' }, '—')),
      h('td', { class: 'c-time' }, timeEl(i.sent_at)),
      h('td', { class: 'c-time' }, timeEl(i.created_at)),
      isAdmin ? h('td', { class: 'c-actions' }, actions) : null);
  }
  return () => poller.stop();
}
