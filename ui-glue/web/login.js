// login.js: the login view. POST /api/login sets the HttpOnly session cookie;
// nothing about the session is kept in script-readable storage.
import { post } from './api.js';
import { h, replace } from './dom.js';

export function mount(main, { onLogin }) {
  main.className = 'view-login';
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'login-error', role: 'alert', id: 'login-error' });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h('form', { class: 'login-card', 'aria-labelledby': 'login-title' },
    h('div', { class: 'login-brand' },
      h('img', { src: '/logo.svg', alt: '', width: 40, height: 40 }),
      h('div', {},
        h('h1', { id: 'login-title' }, 'preread'),
        h('p', { class: 'login-sub' }, 'AI pre-read worklist'))),
    h('label', { class: 'field', for: 'login-user' }, h('span', { class: 'field-label' }, 'User name'), user),
    h('label', { class: 'field', for: 'login-password' }, h('span', { class: 'field-label' }, 'Password'), password),
    message,
    submit,
    h('p', { class: 'login-note' }, 'AI results support, and do not replace, the radiologist\'s read.'));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    submit.disabled = true;
    submit.textContent = 'Checking…'; // the server hashes with PBKDF2: this takes a moment
    try {
      const who = await post('/api/login', { user: user.value.trim(), password: password.value });
      password.value = '';
      onLogin(who);
    } catch (error) {
      message.textContent = error.status === 401 ? 'Wrong user name or password.' : error.message;
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  replace(main, h('div', { class: 'login-wrap' }, form));
  user.focus();
}
