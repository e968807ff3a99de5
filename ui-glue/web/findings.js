// findings.js: one analysis's findings, and the radiologist's feedback on them.
//
// Findings are numbered from 1 in the order the API lists them: that number is
// what POST /api/jobs/ID/feedback refers to. Agree/Disagree is one click; the
// user's current verdict (the server keeps the latest one per user and finding)
// is shown pressed. "Missed finding" and "Study is negative" are per analysis.
import { h, replace, num, ucum, percent, badge, timeEl } from './dom.js';

const SHOWN = 8; // findings listed before "Show all"
const SHOWN_MEASUREMENTS = 6;
const LONG_TEXT = 220; // characters of a finding's text shown before "More"

const SHAPES = {
  point: 'Point', polyline: 'Line', polygon: 'Outline', circle: 'Circle', ellipse: 'Ellipse',
  'point-3d': '3D point', 'polyline-3d': '3D line', mask: 'Mask',
};

/** The key image a finding is drawn on: its SOP instance, or any slice of a mask. */
export function keyImageOf(finding, job) {
  const loc = finding.location;
  if (!loc) return null;
  const uids = loc.sop_instance_uid ? [loc.sop_instance_uid] : (loc.slices || []).map((s) => s.sop_instance_uid);
  for (const uid of uids) {
    const k = (job.key_images || []).find((ki) => ki.sop_instance_uid === uid);
    if (k) return k.number;
  }
  return null;
}

/**
 * @ctx: {me, submit(job, body) -> Promise, showKeyImage(job, number)}.
 * Returns {el, applyFeedback(feedback)}: the feedback-dependent parts are
 * updated in place, so giving a verdict does not reload the images.
 */
export function findingsPanel(job, ctx) {
  const findings = job.findings || [];
  const items = findings.map((f, i) => findingItem(job, f, i + 1, ctx));
  const list = findings.length
    ? h('ol', { class: 'findings', dataset: { jobId: job.id } }, items.map((it) => it.el))
    : h('p', { class: 'muted no-findings' }, 'The analyzer reported no findings.');
  // A long list is cut to its first findings (the analyzer's order, most
  // relevant first by convention) so the study-level marks stay in sight.
  let more = null;
  if (items.length > SHOWN) {
    for (const it of items.slice(SHOWN)) it.el.hidden = true;
    more = h('button', { type: 'button', class: 'btn btn-small btn-ghost show-all', 'aria-expanded': 'false' },
      `Show all ${items.length} findings`);
    more.addEventListener('click', () => {
      for (const it of items) it.el.hidden = false;
      more.remove();
    });
  }

  const missed = jobAction(job, ctx, 'missed', 'Missed finding…', 'Record missed finding',
    'What did the AI miss? Where? (optional)');
  const negative = jobAction(job, ctx, 'negative', 'Study is negative…', 'Record negative study',
    'Comment (optional)');
  const note = h('p', { class: 'job-feedback-note muted' });
  const el = h('div', { class: 'findings-panel' },
    h('div', { class: 'panel-title' },
      h('h3', {}, 'Findings'), h('span', { class: 'count-pill' }, String(findings.length))),
    list,
    more,
    h('div', { class: 'job-feedback', dataset: { jobId: job.id } },
      h('div', { class: 'job-feedback-buttons' }, missed.button, negative.button), missed.form, negative.form, note));

  function applyFeedback(feedback) {
    const mine = feedback.filter((fb) => fb.job_id === job.id && fb.user === ctx.me.user);
    for (const it of items) it.apply(feedback.filter((fb) => fb.job_id === job.id && fb.finding === it.number));
    const myMissed = mine.filter((fb) => fb.verdict === 'missed').length;
    const myNegative = latest(mine.filter((fb) => ['negative'].includes(fb.verdict) && fb.finding == null));
    negative.button.setAttribute('aria-pressed', String(Boolean(myNegative)));
    missed.button.setAttribute('aria-pressed', String(myMissed > 0));
    const parts = [];
    if (myMissed) parts.push(`You reported ${myMissed} missed finding${myMissed > 1 ? 's' : ''}.`);
    if (myNegative) parts.push('You marked this study negative.');
    note.textContent = parts.join(' ');
  }
  return { el, applyFeedback, items };
}

function findingItem(job, f, number, ctx) {
  const keyImage = keyImageOf(f, job);
  const loc = f.location;
  const agree = verdictButton('agree', '✓ Agree', number);
  const disagree = verdictButton('disagree', '✗ Disagree', number);
  const tally = h('span', { class: 'tally' });

  for (const [button, verdict] of [[agree, 'agree'], [disagree, 'disagree']]) {
    button.addEventListener('click', async (event) => {
      event.stopPropagation();
      agree.disabled = disagree.disabled = true;
      try {
        const done = `${verdict === 'agree' ? 'Agreed with' : 'Disagreed with'} finding ${number}`;
        await ctx.submit(job, { verdict, finding: number }, done);
      } finally {
        agree.disabled = disagree.disabled = false;
      }
    });
  }

  let where = null;
  if (loc) {
    const shape = SHAPES[loc.shape] || loc.shape;
    const detail = loc.shape === 'mask' && loc.voxels_inside ? ` · ${loc.voxels_inside} voxels` : '';
    if (keyImage !== null) {
      where = h('button', { type: 'button', class: 'link loc', title: 'Show this key image',
        onclick: (event) => {
          event.stopPropagation();
          ctx.showKeyImage(job, keyImage);
        } }, `${shape}${detail} · key image ${keyImage}`);
    } else {
      const space = loc.shape.endsWith('-3d') ? ' · patient coordinates' : '';
      where = h('span', { class: 'loc muted' }, `${shape}${detail}${space}`);
    }
  }

  const measurements = (f.measurements || []).map((m) =>
    h('span', { class: 'meas' },
      m.concept && m.concept.meaning ? h('span', { class: 'meas-name' }, m.concept.meaning) : null,
      h('span', { class: 'meas-value' }, `${num(m.value)}${ucum(m.unit) ? `\u202f${ucum(m.unit)}` : ''}`)));

  const el = h('li', { class: 'finding', dataset: { finding: number, keyImage: keyImage ?? '' },
    tabindex: keyImage !== null ? 0 : null },
  h('span', { class: 'f-num', 'aria-hidden': 'true' }, String(number)),
  h('div', { class: 'f-main' },
    h('div', { class: 'f-head' },
      h('span', { class: 'f-type' }, (f.type && f.type.meaning) || 'Finding'),
      f.category && f.category.meaning ? h('span', { class: 'chip chip-cat' }, f.category.meaning) : null,
      f.site && f.site.meaning ? h('span', { class: 'chip' }, f.site.meaning) : null,
      typeof f.confidence === 'number'
        ? h('span', { class: 'conf', title: 'The analyzer\'s confidence' },
          h('span', { class: 'conf-bar' }, h('span', { class: `conf-fill conf-${Math.round(f.confidence * 10)}` })),
          percent(f.confidence))
        : null),
    f.text ? findingText(f.text) : null,
    measurements.length ? measurementList(measurements) : null,
    h('div', { class: 'f-foot' }, where, tally)),
  h('div', { class: 'f-verdict', role: 'group', 'aria-label': `Feedback on finding ${number}` }, agree, disagree));

  // Clicking a finding (not its buttons) shows the key image it is on.
  if (keyImage !== null) {
    el.addEventListener('click', () => ctx.showKeyImage(job, keyImage));
    el.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && event.target === el) ctx.showKeyImage(job, keyImage);
    });
  }

  function apply(feedback) {
    const mine = latest(feedback.filter((fb) => fb.user === ctx.me.user && ['agree', 'disagree'].includes(fb.verdict)));
    agree.setAttribute('aria-pressed', String(mine?.verdict === 'agree'));
    disagree.setAttribute('aria-pressed', String(mine?.verdict === 'disagree'));
    el.dataset.verdict = mine ? mine.verdict : '';
    // Everyone's latest verdict, so a second reader sees the first one's opinion.
    const byUser = new Map();
    for (const fb of feedback) if (['agree', 'disagree'].includes(fb.verdict)) byUser.set(fb.user, fb);
    const agrees = [...byUser.values()].filter((fb) => fb.verdict === 'agree');
    const disagrees = [...byUser.values()].filter((fb) => fb.verdict === 'disagree');
    replace(tally, agrees.length ? h('span', { class: 'tally-agree', title: agrees.map((x) => x.user).join(', ') },
      `✓ ${agrees.length}`) : null,
    disagrees.length ? h('span', { class: 'tally-disagree', title: disagrees.map((x) => x.user).join(', ') },
      `✗ ${disagrees.length}`) : null);
  }
  return { el, number, apply };
}

/** The measurements; past the first few (size first, by analyzers' habit) behind "+N more". */
function measurementList(items) {
  const box = h('div', { class: 'f-meas' }, items);
  if (items.length <= SHOWN_MEASUREMENTS) return box;
  for (const m of items.slice(SHOWN_MEASUREMENTS)) m.hidden = true;
  const more = h('button', { type: 'button', class: 'link f-more' }, `+${items.length - SHOWN_MEASUREMENTS} more`);
  more.addEventListener('click', (event) => {
    event.stopPropagation();
    for (const m of items) m.hidden = false;
    more.remove();
  });
  box.append(more);
  return box;
}

/** A finding's text; a long one (analyzers explain themselves) folds to three lines. */
function findingText(text) {
  const p = h('p', { class: 'f-text' }, text);
  if (text.length <= LONG_TEXT) return p;
  p.classList.add('clamped');
  const toggle = h('button', { type: 'button', class: 'link f-more', 'aria-expanded': 'false' }, 'More');
  toggle.addEventListener('click', (event) => {
    event.stopPropagation(); // not a click on the finding (which shows its key image)
    const open = p.classList.toggle('clamped') === false;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? 'Less' : 'More';
  });
  return h('div', { class: 'f-text-wrap' }, p, toggle);
}

function verdictButton(verdict, text, number) {
  return h('button', { type: 'button', class: `vote vote-${verdict}`, 'aria-pressed': 'false',
    dataset: { verdict, finding: number }, title: `${verdict === 'agree' ? 'Agree' : 'Disagree'} with finding ${number}` },
  text);
}

/** "Missed finding" / "Study is negative": a button that opens a small comment form. */
function jobAction(job, ctx, verdict, buttonText, submitText, placeholder) {
  const button = h('button', { type: 'button', class: `btn btn-small job-action action-${verdict}`,
    'aria-expanded': 'false', 'aria-pressed': 'false', dataset: { verdict } }, buttonText);
  const comment = h('textarea', { name: 'comment', rows: 2, maxlength: 2000, placeholder,
    'aria-label': `Comment for ${buttonText.replace('…', '')}` });
  const send = h('button', { type: 'submit', class: 'btn btn-small btn-primary' }, submitText);
  const cancel = h('button', { type: 'button', class: 'btn btn-small btn-ghost' }, 'Cancel');
  const form = h('form', { class: `comment-form form-${verdict}`, hidden: true, dataset: { verdict } },
    comment, h('div', { class: 'comment-actions' }, cancel, send));
  const close = () => {
    form.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };
  button.addEventListener('click', () => {
    form.hidden = !form.hidden;
    button.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) comment.focus();
  });
  cancel.addEventListener('click', close);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    send.disabled = true;
    try {
      const body = { verdict };
      if (comment.value.trim()) body.comment = comment.value.trim();
      const ok = await ctx.submit(job, body, verdict === 'missed' ? 'Missed finding recorded' : 'Negative study recorded');
      if (ok) {
        comment.value = '';
        close();
      }
    } finally {
      send.disabled = false;
    }
  });
  return { button, form };
}

/** The newest of some feedback rows (ids grow with time). */
function latest(rows) {
  return rows.reduce((a, b) => (a && a.id > b.id ? a : b), null);
}

/** The study-wide list of everyone's feedback. */
export function feedbackTable(feedback, jobs) {
  const jobsById = new Map(jobs.map((j) => [j.id, j]));
  if (!feedback.length) return h('p', { class: 'muted' }, 'No feedback yet.');
  const rows = [...feedback].sort((a, b) => b.id - a.id).map((fb) => {
    const job = jobsById.get(fb.job_id);
    const f = job && fb.finding ? (job.findings || [])[fb.finding - 1] : null;
    const what = fb.finding ? `#${fb.finding}${f && f.type ? ` ${f.type.meaning}` : ''}` : 'whole study';
    return h('tr', { dataset: { feedbackId: fb.id, verdict: fb.verdict } },
      h('td', { class: 'c-time' }, timeEl(fb.created_at)),
      h('td', {}, fb.user),
      h('td', {}, `${fb.analyzer}${fb.analyzer_version ? ` ${fb.analyzer_version}` : ''}`),
      h('td', {}, what),
      h('td', {}, badge('verdict', fb.verdict)),
      h('td', { class: 'c-comment' }, fb.comment || h('span', { class: 'nil' }, '—')));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid feedback-table', id: 'feedback-table' },
    h('thead', {}, h('tr', {}, ['When', 'Who', 'Analysis', 'Finding', 'Verdict', 'Comment'].map((t) =>
      h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}
