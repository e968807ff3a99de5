// upload.js: a doctor photographs a skin lesion with a phone and sends it
// (POST /api/photos). The gateway wraps the photo in a DICOM study and routes
// it like any other, so the answer's study id opens the usual study view,
// which fills in live when the analysis is done.
//
// The photo goes as it was taken (raw JPEG or PNG bytes, no re-encoding):
// what the analyzer and the archive see is what the camera saw.
import { postBytes, withQuery } from './api.js';
import { h, replace } from './dom.js';
import { toast, viewHeader } from './ui.js';

const TYPES = ['image/jpeg', 'image/png'];
const MAX_BYTES = 32 * 1024 * 1024; // the gateway's limit for a photo (ui-glue/API.md)
const SITES = ['Face', 'Scalp', 'Neck', 'Chest', 'Abdomen', 'Back', 'Left arm', 'Right arm', 'Left hand',
  'Right hand', 'Left leg', 'Right leg', 'Left foot', 'Right foot', 'Genital area'];

export function mount(main, { navigate }) {
  const patientId = h('input', { id: 'up-patient-id', name: 'patient_id', required: true, maxlength: 64,
    autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', inputmode: 'text' });
  const patientName = h('input', { id: 'up-patient-name', name: 'patient_name', maxlength: 64, autocomplete: 'off',
    placeholder: 'Family, Given' });
  const bodySite = h('input', { id: 'up-body-site', name: 'body_site', maxlength: 64, list: 'body-sites',
    autocomplete: 'off', placeholder: 'e.g. Left arm' });
  // capture: a phone opens its camera straight away; a desktop shows a file chooser.
  const file = h('input', { id: 'up-photo', name: 'photo', type: 'file', accept: TYPES.join(','),
    capture: 'environment', required: true, class: 'file-input' });
  const preview = h('img', { class: 'photo-preview', alt: 'The selected photo', hidden: true });
  const fileInfo = h('p', { class: 'muted file-info', id: 'up-file-info', 'aria-live': 'polite' }, 'No photo yet.');
  const message = h('p', { class: 'form-error', role: 'alert', id: 'up-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'up-submit' }, 'Send for analysis');

  file.addEventListener('change', () => {
    message.textContent = '';
    const f = file.files[0];
    if (!f) {
      preview.hidden = true;
      fileInfo.textContent = 'No photo yet.';
      return;
    }
    fileInfo.textContent = `${f.name} · ${megabytes(f.size)}`;
    if (!TYPES.includes(f.type)) {
      message.textContent = 'Please choose a JPEG or PNG photo.';
      preview.hidden = true;
      return;
    }
    // A data: URL, not a blob: one: the page's CSP allows images from 'self' and data: only.
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      preview.src = reader.result;
      preview.hidden = false;
    });
    reader.readAsDataURL(f);
  });

  const form = h('form', { class: 'upload-card card', id: 'upload-form', novalidate: true },
    h('label', { class: 'field', for: 'up-patient-id' },
      h('span', { class: 'field-label' }, 'Patient ID', h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')),
      patientId),
    h('label', { class: 'field', for: 'up-patient-name' }, h('span', { class: 'field-label' }, 'Patient name'),
      patientName),
    h('label', { class: 'field', for: 'up-body-site' }, h('span', { class: 'field-label' }, 'Body site'), bodySite),
    h('datalist', { id: 'body-sites' }, SITES.map((s) => h('option', { value: s }))),
    h('div', { class: 'field' },
      h('span', { class: 'field-label', id: 'up-photo-label' }, 'Photo', h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')),
      // The real input is visually hidden but focusable; its label is the big button.
      file,
      h('label', { for: 'up-photo', class: 'btn btn-block photo-button' }, 'Take or choose a photo'),
      fileInfo,
      preview),
    message,
    submit,
    h('p', { class: 'muted small' }, 'The photo becomes a DICOM study in this gateway and is analyzed like any other. ' +
      'The preliminary assessment supports, and does not replace, the clinician\'s judgement.'));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    const f = file.files[0];
    const id = patientId.value.trim();
    if (!id) {
      message.textContent = 'The patient ID is required.';
      patientId.focus();
      return;
    }
    if (!f) {
      message.textContent = 'Take or choose a photo first.';
      file.focus();
      return;
    }
    if (!TYPES.includes(f.type)) {
      message.textContent = 'Please choose a JPEG or PNG photo.';
      return;
    }
    if (f.size > MAX_BYTES) {
      message.textContent = `The photo (${megabytes(f.size)}) is larger than the gateway accepts (32 MiB).`;
      return;
    }
    if (id.includes('\\')) { // the one character a DICOM patient ID cannot hold
      message.textContent = 'A patient ID cannot contain a backslash.';
      patientId.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Sending…';
    try {
      const answer = await postBytes(withQuery('/api/photos', {
        patient_id: id,
        patient_name: dicomName(patientName.value),
        body_site: bodySite.value.trim(),
      }), f, f.type);
      toast(answer.message || 'Photo received', 'ok');
      navigate(`#/study/${answer.study_id}`);
    } catch (error) {
      if (error.status === 401) return;
      message.textContent = error.status === 404 || error.status === 405
        ? 'This gateway does not take photo uploads (POST /api/photos is missing).'
        : error.status === 413 ? `The photo (${megabytes(f.size)}) is larger than the gateway accepts.` : error.message;
    } finally {
      submit.disabled = false;
      submit.textContent = 'Send for analysis';
    }
  });

  replace(main, h('section', { class: 'view upload-view' },
    viewHeader('Skin photo', 'for a preliminary assessment'), form));
  patientId.focus();
}

// "Doe, Jane" as the DICOM person name "Doe^Jane": easier to type on a phone than "^".
function dicomName(text) {
  const t = text.trim();
  const comma = t.indexOf(',');
  return comma > 0 ? `${t.slice(0, comma).trim()}^${t.slice(comma + 1).trim()}` : t;
}

function megabytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}
