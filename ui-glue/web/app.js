// app.js: the shell. Who is logged in, the header and navigation, and the
// hash router (#/worklist, #/study/ID, #/upload, #/admin/..., #/login) — hash routes
// because the daemon serves the same index.html for "/" only, and a reload
// must land where the user was.
import { get, post, onUnauthorized } from './api.js';
import { h, replace } from './dom.js';
import { reportError } from './ui.js';
import * as login from './login.js';
import * as worklist from './worklist.js';
import * as study from './study.js';
import * as analyzers from './admin-analyzers.js';
import * as queues from './admin-queues.js';
import * as config from './admin-config.js';
import * as upload from './upload.js';

// Each view: mount(container, ctx) -> optional cleanup function.
const VIEWS = {
  worklist: { mount: worklist.mount, nav: 'worklist', title: 'Worklist' },
  study: { mount: study.mount, nav: 'worklist', title: 'Study' },
  upload: { mount: upload.mount, nav: 'upload', title: 'Skin photo' },
  'admin/analyzers': { mount: analyzers.mount, nav: 'admin/analyzers', title: 'Analyzers' },
  'admin/jobs': { mount: queues.mountJobs, nav: 'admin/jobs', title: 'Jobs' },
  'admin/outbox': { mount: queues.mountOutbox, nav: 'admin/outbox', title: 'Outbox' },
  'admin/routes': { mount: config.mountRoutes, nav: 'admin/routes', title: 'Routes' },
  'admin/audit': { mount: config.mountAudit, nav: 'admin/audit', title: 'Audit trail', admin: true },
};

const NAV = [
  ['worklist', 'Worklist'], ['upload', 'Skin photo'], ['admin/analyzers', 'Analyzers'], ['admin/jobs', 'Jobs'],
  ['admin/outbox', 'Outbox'], ['admin/routes', 'Routes'], ['admin/audit', 'Audit', true],
];

let me = null; // {user, role} once logged in
let cleanup = null;
let lastWorklist = '#/worklist'; // the study view's "back" keeps the worklist's filters

/** "#/study/4?x=1" -> {path: "study", arg: "4", params}. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, query = ''] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  let path = parts[0] || 'worklist';
  let arg = parts[1];
  if (path === 'admin') {
    path = `admin/${parts[1] || 'analyzers'}`;
    arg = parts[2];
  }
  return { path, arg, params: new URLSearchParams(query) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function goLogin() {
  const here = location.hash && !location.hash.startsWith('#/login') ? location.hash : '#/worklist';
  me = null;
  navigate(`#/login?next=${encodeURIComponent(here)}`);
}

function renderHeader(active) {
  const header = document.getElementById('top');
  if (!me) {
    header.hidden = true;
    return;
  }
  header.hidden = false;
  const links = NAV.filter(([, , adminOnly]) => !adminOnly || me.role === 'admin').map(([path, text]) =>
    h('a', { href: `#/${path}`, class: 'nav-link', 'aria-current': path === active ? 'page' : null,
      dataset: { nav: path } }, text));
  const logout = h('button', { class: 'btn btn-ghost btn-small', type: 'button', id: 'logout' }, 'Log out');
  logout.addEventListener('click', async () => {
    try {
      await post('/api/logout');
    } catch (error) {
      reportError(error);
    }
    me = null;
    // The last user's messages are not the next one's.
    replace(document.getElementById('toasts'));
    navigate('#/login');
  });
  replace(header,
    h('a', { class: 'brand', href: '#/worklist', 'aria-label': 'preread worklist' },
      h('img', { src: '/logo.svg', alt: '', width: 22, height: 22 }),
      h('span', { class: 'brand-name' }, 'preread'),
      h('span', { class: 'brand-sub' }, 'AI gateway')),
    h('nav', { class: 'nav', 'aria-label': 'Main' }, links),
    h('div', { class: 'user' },
      h('span', { class: 'user-name', id: 'user-name' }, me.user),
      h('span', { class: `role role-${me.role}`, id: 'user-role' }, me.role),
      logout));
}

async function route() {
  const { path, arg, params } = parseHash();
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = document.getElementById('app');
  if (path === 'login') {
    renderHeader(null);
    document.title = 'Log in · preread';
    cleanup = login.mount(main, {
      next: params.get('next') || '#/worklist',
      onLogin(who) {
        me = who;
        navigate(params.get('next') || '#/worklist');
      },
    });
    return;
  }
  if (!me) {
    try {
      me = await get('/api/me');
    } catch (error) {
      if (error.status !== 401) reportError(error);
      return; // 401 already went to the login view
    }
  }
  let view = VIEWS[path];
  if (!view || (view.admin && me.role !== 'admin')) {
    view = VIEWS.worklist;
    history.replaceState(null, '', '#/worklist');
  }
  if (path === 'worklist') lastWorklist = location.hash || '#/worklist';
  // The worklist keeps its filters in the hash with replaceState (no
  // hashchange); it reports them here so "back" from a study restores them.
  const remember = (hash) => { lastWorklist = hash; };
  renderHeader(view.nav);
  document.title = `${view.title} · preread`;
  main.className = `view-${view.nav.replace('/', '-')}`;
  replace(main);
  cleanup = view.mount(main, { me, arg, params, navigate, remember, backHash: lastWorklist }) || null;
  main.focus({ preventScroll: true });
}

onUnauthorized(() => {
  if (!location.hash.startsWith('#/login')) goLogin();
});
window.addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/worklist');
route();
