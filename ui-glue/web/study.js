// study.js: one study: who and what it is, each analysis with its key images
// and findings, everyone's feedback, the series, and the result objects.
//
// Reading a study is audited (view-study), so this view does not re-read it
// on a timer. It watches the study's worklist row instead (not audited), and
// re-reads the study only when that row shows something changed.
import { get, post, withQuery } from './api.js';
import { h, replace, personName, dicomDate, timeEl, duration, badge, priorityBadge, label, uidEl } from './dom.js';
import { reportError, toast, emptyState } from './ui.js';
import { createViewer } from './viewer.js';
import { findingsPanel, feedbackTable } from './findings.js';

const WATCH_MS = 3000;
const RESULT_KINDS = { sr: 'Structured report', sc: 'Secondary capture (overlay burned in)',
  gsps: 'Presentation state', seg: 'Segmentation', kos: 'Key object selection' };

export function mount(main, { me, arg, backHash }) {
  const id = arg;
  let data = null;
  let stopped = false;
  let watchTimer = null;
  let rowSignature = null;
  let feedbackCount = null;
  let viewers = [];
  let panels = [];
  let active = null; // the viewer the keyboard shortcuts act on
  const feedbackSlot = h('div', { class: 'feedback-slot' });

  // Overlay on/off is one setting for the whole study, kept across re-renders.
  const shared = {
    overlay: true,
    setOverlay(on) {
      this.overlay = on;
      for (const v of viewers) v.refresh();
    },
  };

  const back = h('a', { class: 'back', href: backHash || '#/worklist' }, '← Worklist');
  replace(main, h('section', { class: 'view study-view' }, back, h('p', { class: 'muted loading-text' }, 'Loading study…')));

  async function load({ quiet = false } = {}) {
    try {
      data = await get(`/api/studies/${encodeURIComponent(id)}`);
    } catch (error) {
      if (stopped || error.status === 401) return;
      if (!quiet) {
        replace(main, h('section', { class: 'view study-view' }, back,
          emptyState(error.status === 404 ? 'No such study.' : 'The study could not be loaded.', error.message)));
      }
      reportError(error);
      return;
    }
    if (stopped) return;
    render();
  }

  // ---- feedback -------------------------------------------------------------------------

  async function submit(job, body, done) {
    try {
      await post(`/api/jobs/${job.id}/feedback`, body);
    } catch (error) {
      reportError(error);
      return false;
    }
    toast(done, 'ok');
    // The answer holds no feedback row, and re-reading the study would be
    // audited as one more view: the server's rule is applied here instead. A
    // user's agree/disagree (per finding) or negative (per job) replaces their
    // earlier one; misses add up.
    const finding = body.finding ?? null;
    if (body.verdict !== 'missed') {
      data.feedback = data.feedback.filter((fb) => !(fb.job_id === job.id && fb.user === me.user &&
        (fb.finding ?? null) === finding && fb.verdict !== 'missed'));
    }
    data.feedback.push({
      id: data.feedback.reduce((max, fb) => Math.max(max, fb.id), 0) + 1, // newest: ids grow with time
      job_id: job.id, finding, verdict: body.verdict, comment: body.comment ?? null, user: me.user,
      analyzer: job.analyzer, analyzer_version: job.analyzer_version, created_at: new Date().toISOString(),
    });
    feedbackCount = data.feedback.length; // so the watch re-reads only for someone else's verdicts
    applyFeedback();
    return true;
  }

  function applyFeedback() {
    for (const p of panels) p.applyFeedback(data.feedback);
    replace(feedbackSlot, feedbackTable(data.feedback, data.jobs));
  }

  function showKeyImage(job, number) {
    const v = viewers.find((x) => x.job.id === job.id);
    if (!v) return;
    active = v;
    v.show(number);
    const rect = v.el.getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) v.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  // ---- rendering -----------------------------------------------------------------------

  function render() {
    const { study, series, jobs, results } = data;
    // Keep which key image each analysis showed across a re-render.
    const shown = new Map(viewers.map((v) => [v.job.id, v.current]));
    const activeJob = active ? active.job.id : null;
    viewers = [];
    panels = [];
    const ctx = { me, submit, showKeyImage };
    const jobCards = jobs.map((job) => jobCard(job, ctx));
    active = viewers.find((v) => v.job.id === activeJob) || viewers.find((v) => v.hasImages) || null;
    for (const v of viewers) if (shown.has(v.job.id)) v.show(shown.get(v.job.id));
    feedbackCount = study.feedback_count;
    rowSignature = signature(study);
    document.title = `${personName(study.patient_name) || study.patient_id || 'Study'} · preread`;

    replace(main, h('section', { class: 'view study-view', dataset: { studyId: study.id } },
      back,
      studyHeader(study),
      h('section', { class: 'section' },
        h('h2', {}, 'AI analyses'),
        jobCards.length ? jobCards : h('p', { class: 'muted' }, 'No analysis was routed for this study.')),
      h('section', { class: 'section', id: 'feedback' }, h('h2', {}, 'Feedback'), feedbackSlot),
      h('div', { class: 'section-pair' },
        h('section', { class: 'section' }, h('h2', {}, 'Series'), seriesTable(series)),
        h('section', { class: 'section' }, h('h2', {}, 'Result objects'), resultsTable(results, jobs)))));
    applyFeedback();
  }

  function jobCard(job, ctx) {
    const done = job.state === 'done';
    let body;
    if (done) {
      const viewer = createViewer(job, shared, (v) => { active = v; });
      const panel = findingsPanel(job, ctx);
      viewers.push(viewer);
      panels.push(panel);
      body = h('div', { class: 'job-body' }, h('div', { class: 'job-viewer' }, viewer.el), panel.el);
    } else if (job.reason) {
      body = h('p', { class: `callout callout-${job.state}` }, job.reason);
    } else {
      const waiting = job.state === 'running' ? 'The analyzer is running…' : 'Waiting for an analyzer slot…';
      body = h('p', { class: 'muted' }, waiting);
    }
    const times = [
      ['Queued', job.created_at], ['Started', job.started_at], ['Finished', job.finished_at],
    ].map(([t, v]) => h('span', { class: 'kv' }, h('span', { class: 'k' }, t), timeEl(v)));
    const ran = duration(job.started_at, job.finished_at);
    return h('article', { class: `job job-${job.state}`, dataset: { jobId: job.id, analyzer: job.analyzer } },
      h('header', { class: 'job-head' },
        h('div', { class: 'job-title' },
          h('h3', {}, job.analyzer),
          job.analyzer_version ? h('span', { class: 'version' }, `v${job.analyzer_version}`) : null,
          badge('state', job.state),
          done ? priorityBadge(job.result_priority) : null,
          h('span', { class: 'muted job-route' }, `route ${job.route}`),
          job.attempts > 1 ? h('span', { class: 'muted' }, `attempt ${job.attempts}`) : null),
        h('div', { class: 'job-times' }, times, ran ? h('span', { class: 'kv' }, h('span', { class: 'k' }, 'Ran'), ran) : null)),
      job.summary ? h('p', { class: 'job-summary' }, job.summary) : null,
      body);
  }

  // ---- keyboard: O flips the overlay, arrows step through key images ------------------

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest('input, textarea, select, [contenteditable]')) return;
    if (event.key === 'o' || event.key === 'O') {
      event.preventDefault();
      shared.setOverlay(!shared.overlay);
    } else if ((event.key === 'ArrowLeft' || event.key === 'ArrowRight') && active) {
      event.preventDefault();
      active.step(event.key === 'ArrowLeft' ? -1 : 1);
    }
  }
  document.addEventListener('keydown', onKey);

  // ---- watching for changes ---------------------------------------------------------------

  async function watch() {
    if (stopped) return;
    if (data && !document.hidden && !main.querySelector('.comment-form:not([hidden])')) {
      const s = data.study;
      const key = s.accession_number || s.patient_id;
      try {
        const { studies } = await get(withQuery('/api/worklist', { text: key, limit: 1000 }));
        const row = studies.find((x) => x.id === s.id);
        if (!stopped && row && signature(row) !== rowSignature) await load({ quiet: true });
        else if (!stopped && row && row.feedback_count !== feedbackCount) {
          feedbackCount = row.feedback_count; // someone else's verdict
          const fresh = await get(`/api/studies/${encodeURIComponent(id)}`);
          if (!stopped) {
            data.feedback = fresh.feedback;
            applyFeedback();
          }
        }
      } catch {
        // The worklist shows connection trouble; a study being read stays as it is.
      }
    }
    if (!stopped) watchTimer = setTimeout(watch, WATCH_MS);
  }

  load().then(() => {
    if (!stopped) watchTimer = setTimeout(watch, WATCH_MS);
  });

  return () => {
    stopped = true;
    clearTimeout(watchTimer);
    document.removeEventListener('keydown', onKey);
  };
}

/** What, in a worklist row, means the study itself changed (feedback, and its "reviewed" flag, aside:
 * the reader's own verdicts must not re-render the view under their hands). */
function signature(s) {
  const flags = (s.flags || []).filter((f) => f !== 'reviewed');
  return JSON.stringify([s.state, flags, s.priority, s.analyzed_at, s.delivered_at, s.finding_count, s.instance_count]);
}

function studyHeader(s) {
  const name = personName(s.patient_name) || '(no name)';
  const attr = (k, v, cls = '') => h('div', { class: `attr ${cls}` }, h('dt', {}, k), h('dd', {}, v || '—'));
  const steps = [['Received', s.received_at], ['Complete', s.complete_at], ['Analyzed', s.analyzed_at],
    ['Delivered', s.delivered_at]];
  return h('header', { class: `study-head prio-head-${s.priority || 'none'}` },
    h('div', { class: 'study-title' },
      h('h1', { class: 'study-name', id: 'study-name' }, name),
      h('div', { class: 'badges' }, priorityBadge(s.priority), badge('state', s.state),
        (s.flags || []).map((f) => badge('flag', f)))),
    h('dl', { class: 'attrs' },
      attr('Patient ID', s.patient_id, 'mono'),
      attr('Accession', s.accession_number, 'mono'),
      attr('Study date', dicomDate(s.study_date), 'mono'),
      attr('Description', s.study_description),
      attr('Modalities', (s.modalities || []).join(', ')),
      attr('Instances', String(s.instance_count ?? '—')),
      h('div', { class: 'attr' }, h('dt', {}, 'Study UID'), h('dd', {}, uidEl(s.study_instance_uid)))),
    h('ol', { class: 'timeline', 'aria-label': 'Study path' }, steps.map(([t, v]) =>
      h('li', { class: v ? 'done' : 'todo' }, h('span', { class: 'tl-label' }, t), timeEl(v)))),
    s.summary ? h('p', { class: 'study-summary' }, s.summary) : null);
}

function seriesTable(series) {
  if (!series.length) return h('p', { class: 'muted' }, 'No series.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid series-table' },
    h('thead', {}, h('tr', {}, ['#', 'Modality', 'Body part', 'Description', 'Images', 'Series UID'].map((t) =>
      h('th', { scope: 'col' }, t)))),
    h('tbody', {}, series.map((x) => h('tr', {},
      h('td', { class: 'num' }, String(x.series_number ?? '')),
      h('td', {}, x.modality || ''),
      h('td', {}, x.body_part_examined || ''),
      h('td', {}, x.series_description || ''),
      h('td', { class: 'num' }, String(x.instance_count ?? '')),
      h('td', {}, uidEl(x.series_instance_uid)))))));
}

function resultsTable(results, jobs) {
  if (!results.length) return h('p', { class: 'muted' }, 'No result objects yet.');
  const analyzerOf = new Map(jobs.map((j) => [j.id, j.analyzer]));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid results-table', id: 'results-table' },
    h('thead', {}, h('tr', {}, ['Kind', 'Analysis', 'SOP instance', 'Made', 'Deliveries'].map((t) =>
      h('th', { scope: 'col' }, t)))),
    h('tbody', {}, results.map((r) => h('tr', {},
      h('td', { title: RESULT_KINDS[r.kind] || r.kind }, h('span', { class: 'kind' }, r.kind.toUpperCase()),
        h('span', { class: 'muted kind-text' }, RESULT_KINDS[r.kind] || '')),
      h('td', {}, analyzerOf.get(r.job_id) || `job ${r.job_id}`),
      h('td', {}, uidEl(r.sop_instance_uid)),
      h('td', { class: 'c-time' }, timeEl(r.created_at)),
      h('td', {}, r.deliveries.length
        ? h('span', { class: 'badges' }, r.deliveries.map((d) => {
          const i = d.lastIndexOf(':');
          const peer = d.slice(0, i);
          const state = d.slice(i + 1);
          return badge('state', state, `${peer}: ${label(state)}`);
        }))
        : h('span', { class: 'muted' }, 'kept here (no peer)')))))));
}
