// worklist.mjs: the web worklist driven in Debian's Chromium, as a
// radiologist and an administrator use it. tests/test-browser.c starts a
// real `preread serve`, makes the studies, and runs this with:
//
//   PREREAD_WEB_URL      the daemon's web URL ("http://127.0.0.1:PORT/")
//   PREREAD_BINARY       preread, to send studies while the page is open
//   PREREAD_TARGET       AET@HOST:PORT of the daemon's DICOM port
//   PREREAD_ROUTINE, PREREAD_URGENT   folders of the two studies
//   PREREAD_PHOTO        a JPEG for the upload page ("" when none could be made)
//   PREREAD_ARTEFACTS    where the screenshots go
//   PREREAD_RAD_PASSWORD, PREREAD_ADMIN_PASSWORD   for the users "rad" and "admin"
//   PREREAD_CHROMIUM     the browser (default /usr/bin/chromium)
//
// Any console error, uncaught exception, failed request or CSP violation in
// the page fails the run, except the few a step expects (the 401 of the
// first GET /api/me before logging in). Progress goes to stderr as TAP
// comments; the last stdout line is a JSON summary for the C side.
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const env = process.env;
const BASE = env.PREREAD_WEB_URL;
const OUT = env.PREREAD_ARTEFACTS;
const WAIT = 30000; // for what the daemon does (receive, analyze); the page itself is quick
const started = Date.now();
const problems = [];
let expected = []; // [status, path] pairs a step allows as "failed to load" console errors
let shotNumber = 0;

function log(message) {
  process.stderr.write(`# [${((Date.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

for (const name of ['PREREAD_WEB_URL', 'PREREAD_BINARY', 'PREREAD_TARGET', 'PREREAD_ROUTINE', 'PREREAD_URGENT',
  'PREREAD_ARTEFACTS', 'PREREAD_RAD_PASSWORD', 'PREREAD_ADMIN_PASSWORD']) {
  if (!env[name]) {
    console.error(`worklist.mjs: ${name} is not set (run through tests/test-browser)`);
    process.exit(2);
  }
}
mkdirSync(OUT, { recursive: true });

// ---- the page's health --------------------------------------------------------------------

function isExpected(text, url) {
  const m = /status of (\d+)/.exec(text);
  if (!m || !url) return false;
  const { pathname } = new URL(url);
  return expected.some(([status, p]) => Number(m[1]) === status && pathname === p);
}

function watch(page, name) {
  page.on('console', (msg) => {
    const where = msg.location() && msg.location().url;
    if (msg.type() === 'error') {
      if (isExpected(msg.text(), where)) return;
      problems.push(`${name}: console error: ${msg.text()} (${where || '?'})`);
      log(`PROBLEM ${problems.at(-1)}`);
    } else if (msg.type() === 'warning') {
      log(`${name}: console warning: ${msg.text()}`);
    }
  });
  page.on('pageerror', (error) => {
    problems.push(`${name}: uncaught: ${error.message}`);
    log(`PROBLEM ${problems.at(-1)}`);
  });
  page.on('requestfailed', (request) => {
    // An image whose src changed while it loaded (the overlay switch) is aborted: that is no fault.
    const failure = request.failure() ? request.failure().errorText : '';
    if (failure === 'net::ERR_ABORTED') return;
    problems.push(`${name}: request failed: ${request.url()} ${failure}`);
    log(`PROBLEM ${problems.at(-1)}`);
  });
}

async function newContext(browser, options) {
  const context = await browser.newContext(options);
  // CSP violations also reach the console, but this says which directive and where.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const blocked = e.blockedURI || 'inline';
      console.error(`CSP violation: ${e.violatedDirective} blocked ${blocked} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return context;
}

async function shot(page, name, { fullPage = true } = {}) {
  // Whatever the page shows must be data or words, never a script's leftovers.
  const text = await page.evaluate(() => document.body.innerText);
  check(!/\bundefined\b|\bNaN\b|\[object Object\]/.test(text), `a script's leftovers on the page before "${name}"`);
  // A sticky header would land mid-page in a full-page shot taken scrolled.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  shotNumber += 1;
  const file = path.join(OUT, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  log(`screenshot ${file}`);
}

async function step(title, fn) {
  log(title);
  await fn();
  check(problems.length === 0, `page problems during "${title}":\n  ${problems.join('\n  ')}`);
}

function send(dir) {
  const r = spawnSync(env.PREREAD_BINARY, ['send', '-q', '--to', env.PREREAD_TARGET, dir], { encoding: 'utf8' });
  check(r.status === 0, `preread send ${dir}: ${r.status} ${r.stderr}`);
}

async function login(page, user, password) {
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#top:not([hidden]) #user-name');
  check(await page.textContent('#user-name') === user, `logged in as ${user}`);
}

const rowOf = (patientId) => `#worklist-body tr:has(td.c-pid:text-is("${patientId}"))`;

/** No horizontal scrolling: the page is exactly as wide as the screen. */
async function fitsWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

// ---- the scenario -------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: env.PREREAD_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
  headless: true,
});
const summary = { ok: false, photo: 'not tried' };
try {
  const desk = await newContext(browser, { viewport: { width: 1440, height: 900 } });
  const page = await desk.newPage();
  watch(page, 'desktop');
  let urgentStudyId = null;

  await step('a radiologist logs in', async () => {
    expected = [[401, '/api/me']]; // the page asks who is logged in before anyone is
    await page.goto(BASE);
    await page.waitForSelector('#login-user');
    await shot(page, 'login');
    await login(page, 'rad', env.PREREAD_RAD_PASSWORD);
    expected = [];
    await page.waitForSelector('#worklist-count:text("0 studies")');
    check(await page.textContent('#user-role') === 'radiologist', 'the header shows the role');
    check(await page.locator('a[data-nav="admin/audit"]').count() === 0, 'no audit link for a radiologist');
    check(await page.locator('a[data-nav="worklist"][aria-current="page"]').count() === 1, 'worklist is the current page');
    // A marker that a reload would lose: the worklist must update without one.
    await page.evaluate(() => { window.prereadNoReload = true; });
  });

  await step('a routine study sent with preread send appears live', async () => {
    send(env.PREREAD_ROUTINE);
    await page.waitForSelector(rowOf('PID-R'), { timeout: WAIT });
    await page.waitForSelector(`${rowOf('PID-R')}[data-state="analyzed"]`, { timeout: WAIT });
    check(await page.evaluate(() => window.prereadNoReload === true), 'no page reload');
    const row = page.locator(rowOf('PID-R'));
    check(await row.getAttribute('data-priority') === 'routine', 'brightest-spot makes it routine');
    check(await row.locator('.prio-routine').count() === 1, 'a routine badge');
    check((await row.locator('td.c-sum').textContent()).includes('brightest-spot'), 'the AI summary');
    await shot(page, 'worklist-routine');
  });

  await step('an urgent study arrives and rises to the top, critical', async () => {
    send(env.PREREAD_URGENT);
    await page.waitForSelector('#worklist-body tr:first-child[data-priority="critical"]:has(td.c-pid:text-is("URG-1"))',
      { timeout: WAIT });
    const first = page.locator('#worklist-body tr').first();
    check(await first.locator('.badge.prio-critical').textContent() === 'Critical', 'a critical badge');
    check(await page.locator('#worklist-body tr').nth(1).locator('td.c-pid').textContent() === 'PID-R',
      'the routine study is second');
    check(await page.evaluate(() => window.prereadNoReload === true), 'still no page reload');
    urgentStudyId = await first.getAttribute('data-study-id');
    await shot(page, 'worklist-urgent-on-top');
  });

  await step('filters narrow the list and live in the URL', async () => {
    await page.fill('#f-text', 'URG');
    await page.waitForFunction(() => location.hash.includes('text=URG') &&
      document.querySelectorAll('#worklist-body tr').length === 1, null, { timeout: 10000 });
    await page.click('#f-clear');
    await page.selectOption('#f-priority', 'critical');
    await page.waitForFunction(() => location.hash.includes('priority=critical') &&
      document.querySelectorAll('#worklist-body tr').length === 1, null, { timeout: 10000 });
    await page.reload(); // a reload (or a shared link) keeps them
    await page.waitForSelector(`${rowOf('URG-1')}`);
    check(await page.inputValue('#f-priority') === 'critical', 'the priority filter survives a reload');
    check(await page.locator('#worklist-body tr').count() === 1, 'still filtered after the reload');
    await page.click('#f-clear');
    await page.waitForFunction(() => document.querySelectorAll('#worklist-body tr').length === 2 &&
      !location.hash.includes('priority'), null, { timeout: 10000 });
  });

  const contract = page.locator('article.job[data-analyzer="contract"]');
  await step('the urgent study opens, from the keyboard, with its key images', async () => {
    await page.focus(rowOf('URG-1'));
    await page.keyboard.press('Enter');
    await page.waitForSelector(`.study-view[data-study-id="${urgentStudyId}"]`);
    check((await page.textContent('#study-name')).includes('Urgent'), 'the patient name');
    await contract.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('article.job[data-analyzer="contract"] img.key-image');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: WAIT });
    check(await contract.locator('.finding').count() >= 1, 'the contract analyzer\'s findings are listed');
    check((await contract.locator('.job-head').textContent()).includes('v1.2.3'), 'the analyzer version is shown');
    await shot(page, 'study-overlay-on');
  });

  await step('the overlay switches off and on', async () => {
    const img = contract.locator('img.key-image');
    const toggle = contract.locator('button.overlay-toggle');
    const before = await img.getAttribute('src');
    check(before.endsWith('overlay=1') && await toggle.getAttribute('aria-pressed') === 'true', 'overlay on at first');
    await toggle.click();
    await page.waitForFunction(() => {
      const i = document.querySelector('article.job[data-analyzer="contract"] img.key-image');
      return i.getAttribute('src').endsWith('overlay=0') && i.complete && i.naturalWidth > 0;
    }, null, { timeout: WAIT });
    check(await img.getAttribute('data-overlay') === '0', 'the image says overlay off');
    check(await toggle.getAttribute('aria-pressed') === 'false', 'the switch says off');
    await shot(page, 'study-overlay-off');
    await page.keyboard.press('o'); // the keyboard shortcut
    await page.waitForFunction(() => document.querySelector('article.job[data-analyzer="contract"] img.key-image')
      .getAttribute('src').endsWith('overlay=1'), null, { timeout: 5000 });
  });

  let findingCount = 0;
  await step('the radiologist agrees, disagrees, and marks a miss', async () => {
    findingCount = await contract.locator('.finding').count();
    const vote = (n, verdict) => contract.locator(`li.finding[data-finding="${n}"] button.vote-${verdict}`);
    await vote(1, 'agree').click();
    await page.waitForSelector('article.job[data-analyzer="contract"] li.finding[data-finding="1"] ' +
      'button.vote-agree[aria-pressed="true"]');
    if (findingCount >= 2) {
      await vote(2, 'disagree').click();
      await page.waitForSelector('article.job[data-analyzer="contract"] li.finding[data-finding="2"] ' +
        'button.vote-disagree[aria-pressed="true"]');
    }
    await contract.locator('button.action-missed').click();
    await contract.locator('form.form-missed textarea').fill('Nodule in the right upper lobe, not reported');
    await contract.locator('form.form-missed button[type="submit"]').click();
    await page.waitForSelector('article.job[data-analyzer="contract"] button.action-missed[aria-pressed="true"]');
    const rows = findingCount >= 2 ? 3 : 2;
    await page.waitForFunction((n) => document.querySelectorAll('#feedback-table tbody tr').length === n, rows);
    check((await page.textContent('#feedback-table')).includes('Nodule in the right upper lobe'), 'the comment is listed');
    check((await contract.locator('.job-feedback-note').textContent()).includes('1 missed finding'), 'the miss is noted');
    await shot(page, 'study-feedback');
  });

  await step('the API counts the feedback', async () => {
    const answer = await desk.request.get(`${BASE}api/analyzers`);
    check(answer.ok(), `GET /api/analyzers: ${answer.status()}`);
    const { analyzers } = await answer.json();
    const stats = analyzers.find((a) => a.name === 'contract').feedback.find((f) => f.version === '1.2.3');
    check(stats, 'feedback statistics for contract 1.2.3');
    const judged = findingCount >= 2 ? 2 : 1;
    check(stats.agreement.count === 1 && stats.agreement.of === judged,
      `agreement ${stats.agreement.count}/${stats.agreement.of}, expected 1/${judged}`);
    check(stats.finding_sensitivity.count === 1 && stats.finding_sensitivity.of === 2,
      `finding sensitivity ${stats.finding_sensitivity.count}/${stats.finding_sensitivity.of}, expected 1/2 (one miss)`);
    check(stats.judged_studies === 1, 'one judged study');
  });

  await step('back on the worklist the study shows as reviewed', async () => {
    await page.click('a.back');
    await page.waitForSelector(`${rowOf('URG-1')} .flag-reviewed`, { timeout: WAIT });
    await shot(page, 'worklist-reviewed');
  });

  await step('the radiologist logs out; an admin logs in', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-user');
    check(await page.isHidden('#top'), 'no header when logged out');
    await login(page, 'admin', env.PREREAD_ADMIN_PASSWORD);
    check(await page.locator('a[data-nav="admin/audit"]').count() === 1, 'an audit link for an admin');
  });

  await step('the analyzers page shows the feedback statistics', async () => {
    await page.click('a[data-nav="admin/analyzers"]');
    const stats = page.locator('.stats-table tr[data-analyzer="contract"][data-version="1.2.3"]');
    await stats.waitFor();
    const agreement = await stats.locator('td[data-stat="agreement"]').textContent();
    check(agreement.includes(findingCount >= 2 ? '(1/2)' : '(1/1)') && agreement.includes('CI'),
      `agreement cell "${agreement}"`);
    check(await page.locator('.analyzers-table tr[data-analyzer="brightest-spot"]').count() === 1, 'every analyzer listed');
    await shot(page, 'admin-analyzers');
  });

  await step('the audit trail lists the feedback', async () => {
    await page.click('a[data-nav="admin/audit"]');
    await page.waitForSelector('.audit-table tr[data-action="feedback"]');
    const n = await page.locator('.audit-table tr[data-action="feedback"]').count();
    check(n === (findingCount >= 2 ? 3 : 2), `${n} feedback actions in the audit trail`);
    check(await page.locator('.audit-table tr[data-action="view-study"]').count() >= 1, 'the study view is audited');
    await shot(page, 'admin-audit');
  });

  await step('jobs, routes, and retrying the dead letters', async () => {
    await page.click('a[data-nav="admin/jobs"]');
    await page.waitForSelector('.jobs-table tr[data-job-id]');
    check(await page.locator('.jobs-table tr[data-job-id]').count() === 3, 'three jobs');
    await shot(page, 'admin-jobs');
    await page.click('a[data-nav="admin/routes"]');
    await page.waitForSelector('#routes li[data-route="urgent"]');
    await shot(page, 'admin-routes');
    // Results to a peer nobody listens on become dead letters within seconds.
    await page.click('a[data-nav="admin/outbox"]');
    await page.waitForSelector('.outbox-table tr[data-state="dead"]', { timeout: WAIT });
    await shot(page, 'admin-outbox');
    await page.click('#retry-dead');
    await page.click('dialog[open] button[value="ok"]');
    await page.waitForSelector('.toast-ok');
    const audit = await (await desk.request.get(`${BASE}api/audit?limit=20`)).json();
    check(audit.audit.some((a) => a.action === 'retry-dead-letters' && a.user === 'admin'), 'retry-dead-letters audited');
  });
  await desk.close();

  const phone = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  await step('at phone width the worklist fits the screen', async () => {
    expected = [[401, '/api/me']];
    await mobile.goto(BASE);
    await login(mobile, 'rad', env.PREREAD_RAD_PASSWORD);
    expected = [];
    await mobile.waitForSelector(rowOf('URG-1'));
    check(await fitsWidth(mobile), 'no horizontal scrolling on the worklist');
    check(await mobile.locator(`${rowOf('URG-1')} .prio-critical`).isVisible(), 'the critical badge is visible');
    await shot(mobile, 'phone-worklist');
    await mobile.click(rowOf('URG-1'));
    await mobile.waitForSelector('article.job[data-analyzer="contract"] img.key-image');
    await mobile.waitForFunction(() => {
      const img = document.querySelector('article.job[data-analyzer="contract"] img.key-image');
      return img.complete && img.naturalWidth > 0;
    }, null, { timeout: WAIT });
    check(await fitsWidth(mobile), 'no horizontal scrolling on the study');
    // A new session shows the reader's earlier verdicts.
    check(await mobile.getAttribute('article.job[data-analyzer="contract"] li.finding[data-finding="1"] button.vote-agree',
      'aria-pressed') === 'true', 'the earlier agree is shown pressed');
    await mobile.locator('article.job[data-analyzer="contract"] .viewer').scrollIntoViewIfNeeded();
    await shot(mobile, 'phone-study', { fullPage: false });
  });

  await step('a skin photo is uploaded from the phone', async () => {
    const probe = await phone.request.get(`${BASE}api/photos`);
    await mobile.goto(`${BASE}#/upload`);
    await mobile.waitForSelector('#upload-form');
    await mobile.fill('#up-patient-id', 'SKIN-1');
    await mobile.fill('#up-patient-name', 'Haut, Hanna');
    await mobile.fill('#up-body-site', 'Left forearm');
    check(await mobile.getAttribute('#up-photo', 'capture') === 'environment', 'the camera opens on a phone');
    if (!env.PREREAD_PHOTO) {
      summary.photo = 'no JPEG could be made (sl-make-photo.py, img2dcm, dcmj2pnm)';
      log(`photo upload not tried: ${summary.photo}`);
      return;
    }
    await mobile.setInputFiles('#up-photo', env.PREREAD_PHOTO);
    await mobile.waitForSelector('img.photo-preview:not([hidden])');
    check(await fitsWidth(mobile), 'no horizontal scrolling on the upload page');
    await shot(mobile, 'phone-upload');
    if (probe.status() === 404) {
      // The endpoint is not in this build: the page must say so plainly.
      expected = [[404, '/api/photos']];
      await mobile.click('#up-submit');
      await mobile.waitForSelector('#up-error:text("does not take photo uploads")');
      expected = [];
      summary.photo = 'POST /api/photos answers 404 in this build: upload page checked up to its error message';
      log(summary.photo);
      await shot(mobile, 'phone-upload-missing');
      return;
    }
    await mobile.evaluate(() => { window.prereadNoReload = true; });
    await mobile.click('#up-submit');
    await mobile.waitForFunction(() => /^#\/study\/\d+$/.test(location.hash), null, { timeout: WAIT });
    await mobile.waitForSelector('.study-view[data-study-id]', { timeout: WAIT });
    check((await mobile.textContent('#study-name')).includes('Haut'), 'the photo\'s study opens');
    const doneAtOnce = await mobile.locator('article.job[data-analyzer="skin-lesion"].job-done').count() > 0;
    // The study view fills in by itself once the skin-lesion analysis is done.
    await mobile.waitForFunction(() => {
      const img = document.querySelector('article.job[data-analyzer="skin-lesion"] img.key-image');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: WAIT });
    check(await mobile.locator('article.job[data-analyzer="skin-lesion"] li.finding').count() >= 1, 'a finding');
    check(await fitsWidth(mobile), 'no horizontal scrolling on the photo\'s study');
    check(await mobile.evaluate(() => window.prereadNoReload === true), 'the study view updated without a reload');
    summary.photo = `uploaded and analyzed (${doneAtOnce ? 'done when the study opened' : 'the study view filled in live'})`;
    await shot(mobile, 'phone-photo-study');
  });
  await phone.close();
  summary.ok = true;
} catch (error) {
  log(`FAILED: ${error.message}`);
  summary.error = error.message;
  // What the page looked like when it went wrong.
  for (const context of browser.contexts()) {
    for (const p of context.pages()) {
      await p.screenshot({ path: path.join(OUT, `failure-${++shotNumber}.png`), fullPage: true }).catch(() => {});
    }
  }
} finally {
  await browser.close();
}
summary.seconds = Math.round((Date.now() - started) / 100) / 10;
summary.screenshots = shotNumber;
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
