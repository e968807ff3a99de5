// dom.js: building DOM safely, and turning API values into what people read.
//
// Everything here builds nodes with createElement and textContent: patient
// names, descriptions and analyzer texts come from DICOM files anyone can
// send, so they must never be parsed as HTML.

/**
 * h('td', {class: 'num', title: 'x', dataset: {id: 4}, onclick: fn}, child, ...)
 * Children may be strings, numbers, nodes, arrays of those, or null/false
 * (skipped). Props: `class` (string or array), `dataset`, `on<event>`
 * (listeners), booleans (present or absent) and plain attributes. There is
 * deliberately no way to set `style` or raw HTML.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'style' || key === 'innerHTML') {
      throw new Error(`h(): ${key} is not allowed (CSP, hostile input)`);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of @el in one go (one layout, scroll kept). */
export function replace(el, ...children) {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  el.replaceChildren(fragment);
}

// ---- values -------------------------------------------------------------------------

/** DICOM PN "Last^First^Middle^Prefix^Suffix" as "Last, First Middle". */
export function personName(pn) {
  if (!pn) return '';
  const alphabetic = String(pn).split('=')[0]; // ideographic/phonetic groups follow '='
  const [last = '', first = '', middle = '', prefix = '', suffix = ''] = alphabetic.split('^').map((p) => p.trim());
  const given = [prefix, first, middle].filter(Boolean).join(' ');
  let name = last && given ? `${last}, ${given}` : last || given;
  if (suffix) name += ` ${suffix}`;
  return name;
}

/** DICOM DA "20261101" as "2026-11-01". */
export function dicomDate(da) {
  if (!da) return '';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : da;
}

const pad = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An ISO time as compact local time: "14:03:22" today, "Nov 22 14:03" this year, else "2025-11-22 14:03". */
export function compactTime(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const now = new Date();
  const hm = `${pad(t.getHours())}:${pad(t.getMinutes())}`;
  if (t.toDateString() === now.toDateString()) return `${hm}:${pad(t.getSeconds())}`;
  if (t.getFullYear() === now.getFullYear()) return `${MONTHS[t.getMonth()]} ${t.getDate()} ${hm}`;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${hm}`;
}

/** A <time> with the compact local form shown and the full ISO value as tooltip; "—" for null. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'nil', title: 'not yet' }, '—');
  const local = new Date(iso);
  return h('time', { datetime: iso, title: `${iso}\n${local.toString()}` }, compactTime(iso));
}

/** Seconds between two ISO times as "0.31 s", "42 s", "3 min 5 s". */
export function duration(fromIso, toIso) {
  if (!fromIso || !toIso) return '';
  return seconds((new Date(toIso) - new Date(fromIso)) / 1000);
}

export function seconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '—';
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A proportion 0..1 as "88%" (one decimal below 10%). */
export function percent(v) {
  if (v === null || v === undefined) return '—';
  const p = v * 100;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

/** A number without float noise: 9.100000001 -> "9.1". */
export function num(v) {
  if (typeof v !== 'number') return String(v ?? '');
  return String(Number(v.toPrecision(4)));
}

// UCUM codes as radiologists write them.
const UCUM = { "[hnsf'U]": 'HU', um: 'µm', mm2: 'mm²', mm3: 'mm³', cm2: 'cm²', cm3: 'cm³', m2: 'm²', deg: '°',
  mL: 'mL', ml: 'mL', '1': '', '{ratio}': '', '{count}': '' };

export function ucum(unit) {
  if (!unit) return '';
  if (unit in UCUM) return UCUM[unit];
  return unit.replace(/^\{(.*)\}$/, '$1'); // {annotation} units: the annotation is the text
}

/** A long UID as "…3290029367913116" with the whole UID as tooltip. */
export function uidEl(uid) {
  if (!uid) return h('span', { class: 'nil' }, '—');
  const short = uid.length > 18 ? `…${uid.slice(-16)}` : uid;
  return h('span', { class: 'uid', title: uid }, short);
}

// ---- badges ----------------------------------------------------------------------------

const LABELS = {
  critical: 'Critical', urgent: 'Urgent', routine: 'Routine', none: 'No AI result',
  receiving: 'Receiving', waiting: 'Waiting', analyzing: 'Analyzing', analyzed: 'Analyzed', failed: 'Failed',
  updated: 'Updated', 'analysis-failed': 'Analysis failed', 'results-failed': 'Results failed',
  'delivery-failed': 'Delivery failed', reviewed: 'Reviewed',
  queued: 'Queued', running: 'Running', done: 'Done', declined: 'Declined', 'timed-out': 'Timed out',
  cancelled: 'Cancelled', pending: 'Pending', sending: 'Sending', sent: 'Sent', dead: 'Dead letter',
  agree: 'Agree', disagree: 'Disagree', missed: 'Missed finding', negative: 'Negative study',
  built: 'Built',
};

export function label(value) {
  return LABELS[value] ?? String(value ?? '').replace(/-/g, ' ');
}

/** A badge: kind is prio / state / flag / verdict, value selects its colour. */
export function badge(kind, value, text = label(value), title = null) {
  return h('span', { class: `badge ${kind} ${kind}-${value}`, title }, text);
}

export function priorityBadge(priority) {
  return badge('prio', priority || 'none', label(priority || 'none'));
}
