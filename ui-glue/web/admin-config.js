// admin-config.js: what the gateway was told (the routes, read-only: they
// change in the configuration file, validated, then reloaded) and what people
// did through it (the audit trail, admin only).
import { get, withQuery } from './api.js';
import { h, replace, timeEl } from './dom.js';
import { table, viewHeader, emptyState, select, every } from './ui.js';

// ---- routes --------------------------------------------------------------------------------

export function mountRoutes(main) {
  const slot = h('div', { class: 'slot' }, h('p', { class: 'muted' }, 'Loading…'));
  const source = h('span', { class: 'view-note mono' });
  replace(main, h('section', { class: 'view admin-view' }, viewHeader('Routes', null, source), slot));
  let stopped = false;

  get('/api/routes').then(({ source: file, routes }) => {
    if (stopped) return;
    source.textContent = file ? `from ${file}` : 'built-in defaults';
    source.title = 'Routes change in the configuration file (check it with preread check-config, then reload)';
    if (!routes.length) {
      replace(slot, emptyState('No routes.', 'Studies are stored but sent to no analyzer.'));
      return;
    }
    // First match wins in the configuration's order, so the order is shown as is.
    replace(slot, h('ol', { class: 'routes', id: 'routes' }, routes.map((r) => h('li', { class: 'route card',
      dataset: { route: r.name } },
    h('header', { class: 'route-head' },
      h('h2', {}, r.name),
      // The route's queue priority, not an AI result: a neutral chip, not a priority badge.
      h('span', { class: `chip chip-route-${r.priority}` }, `${r.priority} priority`)),
    h('dl', { class: 'route-body' },
      h('dt', {}, 'When'), h('dd', {}, r.match || 'every study'),
      h('dt', {}, 'Analyze with'),
      h('dd', {}, r.analyses.length
        ? h('ul', { class: 'plain' }, r.analyses.map((a) => h('li', {},
          h('strong', {}, a.analyzer),
          a.series ? h('span', { class: 'muted' }, ` · series where ${a.series}`) : null,
          a.prefer ? h('span', { class: 'muted' }, ` · ${a.prefer}`) : null)))
        : h('span', { class: 'muted' }, 'nothing (forward only)')),
      h('dt', {}, 'Results to'), h('dd', {}, destinations(r.results_to, 'kept here')),
      h('dt', {}, 'Forward to'), h('dd', {}, destinations(r.forward_to, 'nowhere')))))));
  }).catch((error) => {
    if (!stopped) replace(slot, emptyState('The routes could not be read.', error.message));
  });
  return () => { stopped = true; };
}

function destinations(list, none) {
  return list && list.length ? list.join(', ') : h('span', { class: 'muted' }, none);
}

// ---- audit ---------------------------------------------------------------------------------

const ACTIONS = ['login', 'login-failed', 'logout', 'view-study', 'feedback', 'retry-job', 'cancel-job',
  'retry-delivery', 'retry-dead-letters', 'drop-delivery', 'enable-analyzer', 'upload-photo'];
const QUIET = new Set(['login', 'logout', 'view-study']);

export function mountAudit(main, { params }) {
  // The API has no action filter; the newest 1000 are filtered here.
  const action = select('action', 'Action', [['', 'All'], ...ACTIONS.map((a) => [a, a])], params.get('action') || '');
  const slot = h('div', { class: 'slot' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('section', { class: 'view admin-view' },
    viewHeader('Audit trail', 'Newest first'),
    h('form', { class: 'filters filters-compact', role: 'search' }, action), slot));
  const sel = action.querySelector('select');
  sel.addEventListener('change', () => {
    history.replaceState(null, '', sel.value ? `#/admin/audit?action=${encodeURIComponent(sel.value)}` : '#/admin/audit');
    poller.now();
  });

  const poller = every(10000, async () => {
    if (slot.contains(document.activeElement)) return;
    const { audit } = await get(withQuery('/api/audit', { limit: 1000 }));
    const rows = audit.filter((a) => !sel.value || a.action === sel.value);
    if (!rows.length) {
      replace(slot, emptyState('Nothing recorded.', sel.value ? 'No such action among the newest 1000.' : null));
      return;
    }
    replace(slot, table('audit-table', ['When', 'User', 'Role', 'Action', 'Target', 'Detail', 'From'],
      rows.map((a) => h('tr', { dataset: { action: a.action }, class: QUIET.has(a.action) ? 'row-quiet' : null },
        h('td', { class: 'c-time' }, timeEl(a.logged_at)),
        h('td', {}, a.user || h('span', { class: 'nil' }, '—')),
        h('td', {}, a.role || ''),
        h('td', {}, h('span', { class: `action action-${a.action}` }, a.action)),
        h('td', { class: 'mono' }, a.target || ''),
        h('td', { class: 'c-why', title: a.detail || null }, a.detail || ''),
        h('td', { class: 'mono' }, a.remote || '')))));
  });
  return () => poller.stop();
}
