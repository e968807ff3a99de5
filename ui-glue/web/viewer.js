// viewer.js: one analysis's key images, with the AI overlay on or off.
//
// The server renders each key image once (windowed like the result objects)
// with or without the findings drawn on it; the overlay switch just changes
// which of the two PNGs is shown. Its state is shared by all viewers of the
// study, so "O" flips every one of them the same way.
import { keyImageUrl } from './api.js';
import { h, replace } from './dom.js';

/**
 * @job: a done job with key_images. @shared: {overlay: bool}. @onActivate:
 * called when the user interacts (the study's keyboard shortcuts follow the
 * last viewer used).
 */
export function createViewer(job, shared, onActivate) {
  const images = job.key_images || [];
  let current = images.length ? images[0].number : null;

  const img = h('img', { class: 'key-image', alt: '', decoding: 'async', dataset: { jobId: job.id } });
  const status = h('div', { class: 'frame-status', role: 'status' });
  const frame = h('div', { class: 'frame loading' }, img, status);
  const caption = h('span', { class: 'viewer-caption' });
  const toggle = h('button', { type: 'button', class: 'btn btn-small overlay-toggle', 'aria-pressed': 'true',
    title: 'Show or hide the AI overlay (key: O)', dataset: { jobId: job.id } });
  const thumbs = h('div', { class: 'thumbs', role: 'group', 'aria-label': 'Key images' });

  img.addEventListener('load', () => {
    frame.classList.remove('loading', 'failed');
    status.textContent = '';
  });
  img.addEventListener('error', () => {
    frame.classList.remove('loading');
    frame.classList.add('failed');
    status.textContent = 'This key image could not be rendered.';
  });
  toggle.addEventListener('click', () => {
    onActivate(api);
    shared.setOverlay(!shared.overlay);
  });
  frame.addEventListener('click', () => onActivate(api));

  function show(number) {
    if (!images.some((k) => k.number === number)) return;
    current = number;
    refresh();
  }

  function step(delta) {
    const i = images.findIndex((k) => k.number === current);
    if (i >= 0 && images.length > 1) show(images[(i + delta + images.length) % images.length].number);
  }

  function refresh() {
    if (current === null) return;
    const url = keyImageUrl(job.id, current, shared.overlay);
    if (img.getAttribute('src') !== url) {
      frame.classList.add('loading');
      status.textContent = 'Loading…';
      img.src = url;
    }
    img.alt = `Key image ${current} of ${images.length}, ${job.analyzer}, AI overlay ${shared.overlay ? 'shown' : 'hidden'}`;
    img.dataset.number = current;
    img.dataset.overlay = shared.overlay ? '1' : '0';
    toggle.setAttribute('aria-pressed', String(shared.overlay));
    toggle.textContent = shared.overlay ? 'Overlay on' : 'Overlay off';
    toggle.classList.toggle('is-on', shared.overlay);
    caption.textContent = images.length > 1 ? `Key image ${current} of ${images.length}` : 'Key image';
    for (const b of thumbs.children) b.setAttribute('aria-current', String(Number(b.dataset.number) === current));
  }

  // Thumbnails only when there is something to choose between; they always show the
  // overlay (they are for finding the right image, not for reading it).
  if (images.length > 1) {
    replace(thumbs, images.map((k) => h('button', {
      type: 'button', class: 'thumb', dataset: { number: k.number }, title: `Key image ${k.number}`,
      onclick: () => {
        onActivate(api);
        show(k.number);
      },
    }, h('img', { src: keyImageUrl(job.id, k.number, true), alt: `Key image ${k.number}`, loading: 'lazy' }),
    h('span', { class: 'thumb-n' }, String(k.number)))));
  }

  const el = images.length
    ? h('figure', { class: 'viewer', dataset: { jobId: job.id } },
      frame,
      h('figcaption', { class: 'viewer-bar' }, caption,
        images.length > 1 ? h('span', { class: 'kbd-hint' }, h('kbd', {}, '←'), h('kbd', {}, '→')) : null,
        h('span', { class: 'spacer' }), h('kbd', { class: 'kbd-hint', title: 'Keyboard shortcut' }, 'O'), toggle),
      images.length > 1 ? thumbs : null)
    : h('div', { class: 'viewer viewer-none' }, h('p', {}, 'No key image for this analysis.'));

  const api = { el, job, show, step, refresh, hasImages: images.length > 0, get current() { return current; } };
  refresh();
  return api;
}
