// api.js: the one place that talks to the gateway's REST API (ui-glue/API.md).
//
// The session cookie travels by itself (same origin). Anything that changes
// state carries X-Requested-With: the server refuses it otherwise, which is
// what keeps other sites from acting with our cookie.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let unauthorized = () => {};

/** Called whenever the server says 401 (session expired, logged out elsewhere). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * @body: a value sent as JSON, or with @type a Blob/ArrayBuffer sent as it
 * is (a photo's bytes, for POST /api/photos).
 */
export async function request(path, { method = 'GET', body, type = null } = {}) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    init.headers['X-Requested-With'] = 'preread';
    init.headers['Content-Type'] = type || 'application/json';
    init.body = type ? body : JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'The gateway cannot be reached. Is preread running?');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status line has to do.
  }
  if (response.status === 401 && path !== '/api/login') {
    unauthorized();
    throw new ApiError(401, 'Please log in again.');
  }
  if (!response.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

export const get = (path) => request(path);
export const post = (path, body) => request(path, { method: 'POST', body });
export const postBytes = (path, blob, type) => request(path, { method: 'POST', body: blob, type });

/** "/api/worklist?text=..": only the parameters that have a value. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export const keyImageUrl = (jobId, number, overlay) =>
  `/api/jobs/${encodeURIComponent(jobId)}/key-images/${encodeURIComponent(number)}.png?overlay=${overlay ? 1 : 0}`;
