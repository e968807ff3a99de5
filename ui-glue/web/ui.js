// ui.js: the non-blocking pieces every view shares: toasts, the confirm
// dialog, and small form controls.
import { h } from './dom.js';

const toasts = () => document.getElementById('toasts');

/**
 * A message in the corner that goes away by itself (errors stay longer).
 * The same text is not stacked twice: a poll failing every 3 s shows once.
 */
export function toast(message, kind = 'error', ms = kind === 'error' ? 8000 : 3500) {
  const box = toasts();
  if (!box) return;
  for (const existing of box.children) {
    if (existing.dataset.message === message) {
      existing.dataset.until = String(Date.now() + ms);
      return;
    }
  }
  const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status',
    dataset: { message, until: String(Date.now() + ms) } },
  h('span', { class: 'toast-text' }, message), close);
  const remove = () => {
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 200);
  };
  close.addEventListener('click', remove);
  box.append(el);
  const tick = () => (Date.now() >= Number(el.dataset.until) ? remove() : setTimeout(tick, 500));
  setTimeout(tick, 500);
}

/** Shows an API error, except 401 (the login view already says it all). */
export function reportError(error) {
  if (error && error.status === 401) return;
  toast(error && error.message ? error.message : String(error));
}

/**
 * A modal confirmation (<dialog>): resolves true on confirm. Used before
 * actions that are hard to undo (dropping a delivery, cancelling a job).
 */
export function confirmDialog({ title, message, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { class: ['btn', danger ? 'btn-danger' : 'btn-primary'], value: 'ok' }, confirm);
    const cancel = h('button', { class: 'btn', value: 'cancel', formnovalidate: true }, 'Cancel');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        h('p', {}, message),
        h('div', { class: 'dialog-actions' }, cancel, ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A <select> with "" meaning any. options: [value, label] pairs. */
export function select(name, labelText, options, value) {
  const el = h('select', { name, id: `f-${name}` },
    options.map(([v, text]) => h('option', { value: v, selected: v === (value ?? '') }, text)));
  return field(labelText, el, name);
}

export function field(labelText, control, name) {
  return h('label', { class: 'field', for: `f-${name}` }, h('span', { class: 'field-label' }, labelText), control);
}

/** A button that runs an async action, disabled while it runs. */
export function actionButton(text, action, { cls = 'btn btn-small', title = null } = {}) {
  const button = h('button', { class: cls, type: 'button', title }, text);
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    button.disabled = true;
    try {
      await action(button);
    } catch (error) {
      reportError(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A table with a sticky header inside a horizontally scrolling box. */
export function table(cls, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: `grid ${cls}` },
      h('thead', {}, h('tr', {}, headers.map((x) => (typeof x === 'string' ? h('th', { scope: 'col' }, x) : x)))),
      h('tbody', {}, rows)));
}

/** A view's heading row: title, an optional note, then tools on the right. */
export function viewHeader(title, note, ...tools) {
  return h('div', { class: 'view-head' },
    h('h1', {}, title),
    note ? h('span', { class: 'view-note' }, note) : null,
    h('div', { class: 'view-tools' }, tools));
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', {}, text) : null, actions);
}

/**
 * Runs async @fn now and then @ms after each run ends (never two at once),
 * pausing while the tab is hidden so a forgotten tab costs the gateway
 * nothing. Returns {stop(), now()}; now() runs it at once (after an action).
 */
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  let running = null;
  let again = false; // asked for while a run was under way: its answer may predate an action
  const run = async () => {
    if (stopped) return undefined;
    if (running) {
      again = true;
      return running;
    }
    clearTimeout(timer);
    timer = null;
    running = (async () => {
      try {
        await fn();
      } catch (error) {
        reportError(error);
      }
    })();
    await running;
    running = null;
    if (again) {
      again = false;
      return run();
    }
    if (!stopped && !document.hidden) timer = setTimeout(run, ms);
    return undefined;
  };
  const onVisibility = () => {
    if (!document.hidden && !timer && !running) run();
  };
  document.addEventListener('visibilitychange', onVisibility);
  run();
  return {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

/** A link to a study's view. */
export function studyLink(id, text = `Study ${id}`) {
  return id ? h('a', { href: `#/study/${encodeURIComponent(id)}`, class: 'study-link' }, text) : h('span', { class: 'nil' }, '—');
}
