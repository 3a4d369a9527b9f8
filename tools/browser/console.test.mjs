// The managers' console at /admin/ in a real browser: Debian's chromium driven by playwright-core.
//
// Works the console as a manager would, in Russian, with plain HTML forms (the console has no
// JavaScript): signs in with a key (and is refused a wrong one), finds a lead, tries to mark it
// lost without a reason (the alert), marks it lost with one, assigns it, sets a call-back in the
// studio's time, writes notes and reads the history; a scoped manager sees only its studio;
// a stale form is shown as a conflict; a class is cancelled on the week grid and the public
// schedule says so; the stats page draws its charts and its CSV link downloads; a form without
// its CSRF token is refused; signing out ends the session for good. Every change is checked
// through the JSON API too. Fails on any console error, page error, failed request, unexpected
// HTTP error or Content-Security-Policy violation (the console's CSP allows no script at all),
// and if the key ever lands in a cookie, localStorage, sessionStorage or a URL.
// axe-core checks every page against WCAG 2.1 A/AA (in a context that bypasses the CSP).
//
// Run by scripts/test-browser.sh (make test-browser), which starts a seeded server and sets:
//   COHAI_BASE_URL               the server, e.g. http://127.0.0.1:8080
//   COHAI_ADMIN_KEY              the admin key (named `admin`)
//   COHAI_MANAGER_KEY            a manager key limited to one studio ...
//   COHAI_MANAGER_NAME           ... its name in the server's admin_keys ...
//   COHAI_MANAGER_LOCATION       ... and that studio's id
//   COHAI_SECOND_MANAGER_KEY     a manager key of every studio ...
//   COHAI_SECOND_MANAGER_NAME    ... and its name (leads are assigned to it)
//   COHAI_SCREENSHOT_DIR         where the screenshots go (default: target/browser/console)
//   CHROMIUM                     the browser (default: /usr/bin/chromium; none is ever downloaded)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = process.env.COHAI_BASE_URL ?? 'http://127.0.0.1:8080';
const ADMIN_KEY = process.env.COHAI_ADMIN_KEY;
const MANAGER_KEY = process.env.COHAI_MANAGER_KEY;
const MANAGER_NAME = process.env.COHAI_MANAGER_NAME;
const MANAGER_LOCATION = Number(process.env.COHAI_MANAGER_LOCATION);
const SECOND_MANAGER_KEY = process.env.COHAI_SECOND_MANAGER_KEY;
const SECOND_MANAGER_NAME = process.env.COHAI_SECOND_MANAGER_NAME;
const SCREENSHOT_DIR = resolve(process.env.COHAI_SCREENSHOT_DIR ?? 'target/browser/console');
const EXECUTABLE = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Each step waits at most this long.
const TIMEOUT_MS = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

// Unique per run, so that a search finds this run's leads only.
const RUN = `r${Date.now().toString(36).slice(-5)}`;
const STATUS_LABELS = {
  new: 'Новый',
  contacted: 'Связались',
  trial_scheduled: 'Пробное занятие',
  converted: 'Клиент',
  lost: 'Потерян',
};

/** Everything that went wrong in a page, reported together at the end. */
const problems = [];
/** HTTP answers ≥ 400 seen by the browser: each must be one a test provoked on purpose. */
const httpErrors = [];
/** The (status, path) pairs the tests provoke on purpose. */
const provoked = [];
/** Every URL the browser requested (none may carry a key). */
const requested = [];
let browser;
/** The admin's desktop and phone pages (one session each). */
let desk;
let phone;
/** The leads this run creates: { id, name, phone, location_id }. */
const leads = {};
let locations = [];
let otherLocation; // a studio the scoped manager does not see

// --- the JSON API (the admin key as a bearer) --------------------------------------------------

async function api(method, path, body, key = ADMIN_KEY) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

async function getLead(id) {
  const { status, json, text } = await api('GET', `/api/v1/admin/leads/${id}`);
  assert.equal(status, 200, `GET lead ${id}: ${text}`);
  return json;
}

async function leadEvents(id) {
  const { status, json, text } = await api('GET', `/api/v1/admin/leads/${id}/events`);
  assert.equal(status, 200, `GET lead ${id} events: ${text}`);
  return json.items ?? json;
}

function randomPhone() {
  return `+7916${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
}

async function createLead(key, fields) {
  const lead = { phone: randomPhone(), ...fields, name: `${fields.name} ${RUN}` };
  const { status, json, text } = await api('POST', '/api/v1/admin/leads', lead);
  assert.equal(status, 201, `POST /api/v1/admin/leads: ${text}`);
  leads[key] = { ...lead, id: json.id };
  return leads[key];
}

// --- time in a studio's zone -------------------------------------------------------------------

/** The wall-clock parts of the instant `ms` in the zone `tz`. */
function wallClock(ms, tz) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return parts;
}

/** `YYYY-MM-DD` of the instant `ms` in the zone `tz`. */
function localDate(ms, tz) {
  const p = wallClock(ms, tz);
  return `${p.year}-${p.month}-${p.day}`;
}

/** The instant (ms) at which the clocks of `tz` show `date` (YYYY-MM-DD) `time` (HH:MM). */
function zonedToUtc(date, time, tz) {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  const offsetAt = (ms) => {
    const p = wallClock(ms, tz);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms;
  };
  let guess = wall - offsetAt(wall);
  guess = wall - offsetAt(guess);
  return guess;
}

function addDays(date, days) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The Monday of the week of `date` (YYYY-MM-DD). */
function mondayOf(date) {
  const [y, m, d] = date.split('-').map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday = 0
  return addDays(date, -weekday);
}

// --- the browser ---------------------------------------------------------------------------------

/** A test provokes `status` on `path` (a string: the exact pathname; or a RegExp) on purpose. */
function provoke(status, path) {
  provoked.push({ status, path });
}

function isProvoked(status, url) {
  const { pathname } = new URL(url, BASE_URL);
  return provoked.some(
    (p) => p.status === status && (p.path instanceof RegExp ? p.path.test(pathname) : p.path === pathname),
  );
}

/** The console's CSP must allow no script at all and styles from this origin only. */
function checkCsp(csp, url) {
  const directives = Object.fromEntries(
    (csp ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name.toLowerCase(), values]),
  );
  const source = (name) => directives[name] ?? directives['default-src'];
  const wrong = [];
  if (!csp) wrong.push('no Content-Security-Policy');
  for (const name of ['script-src', 'script-src-elem', 'script-src-attr']) {
    const values = directives[name] ?? source('script-src');
    if (!values || values.join(' ') !== "'none'") wrong.push(`${name} is ${values?.join(' ')}`);
  }
  for (const name of ['style-src', 'style-src-elem', 'style-src-attr']) {
    const values = directives[name] ?? source('style-src');
    if (!values || !values.every((v) => v === "'self'" || v === "'none'")) {
      wrong.push(`${name} is ${values?.join(' ')}`);
    }
  }
  if (wrong.length) problems.push(`CSP of ${url}: ${wrong.join('; ')} (header: ${csp})`);
}

async function newContext(options) {
  const context = await browser.newContext({ ...options, acceptDownloads: true, locale: 'ru-RU' });
  context.setDefaultTimeout(TIMEOUT_MS);
  context.on('console', (msg) => {
    const text = msg.text();
    // Chromium logs every HTTP error as "Failed to load resource": one of those the tests
    // provoke on purpose is expected, any other is a problem.
    const failed = /Failed to load resource: the server responded with a status of (\d+)/.exec(text);
    if (failed) {
      httpErrors.push({ status: Number(failed[1]), url: msg.location().url || msg.page()?.url() || '?', via: 'console' });
    } else if (msg.type() === 'error' || /content security policy/i.test(text)) {
      problems.push(`console ${msg.type()} on ${msg.page()?.url()}: ${text}`);
    }
  });
  context.on('weberror', (error) => problems.push(`page error: ${error.error().message}`));
  context.on('request', (request) => requested.push(request.url()));
  context.on('requestfailed', (request) => {
    // Following a link to a file is a download: chromium aborts the navigation it started.
    // The tab icon is cancelled when the page is left before it arrives.
    const aborted = request.failure()?.errorText === 'net::ERR_ABORTED';
    if (aborted && (request.url().includes('/admin/leads/export.csv') || request.url().endsWith('/admin/static/icon.svg'))) return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  context.on('response', (response) => {
    const url = response.url();
    if (response.status() >= 400) {
      httpErrors.push({ status: response.status(), url, via: `${response.request().method()} response` });
    }
    const isPage = response.request().resourceType() === 'document';
    if (isPage && new URL(url).pathname.startsWith('/admin') && (response.status() < 300 || response.status() >= 400)) {
      checkCsp(response.headers()['content-security-policy'], url);
    }
  });
  // CSP violations are reported to the test from inside the page (init scripts and bindings
  // come from the browser's debugging protocol: the page's CSP does not apply to them).
  await context.exposeBinding('__cohaiCspViolation', (_source, violation) =>
    problems.push(`CSP violation: ${violation}`),
  );
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cohaiCspViolation(
        `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} on ${location.pathname} (${e.sourceFile}:${e.lineNumber})`,
      );
    });
  });
  return context;
}

async function newPage(options) {
  const context = await newContext(options);
  return context.newPage();
}

/** Clicks `target` (a link or a button) and returns the final answer of the navigation it
 * starts (after any redirect), once that page has loaded. */
async function follow(page, target) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().isNavigationRequest() && r.request().frame() === page.mainFrame() && (r.status() < 300 || r.status() >= 400),
    ),
    target.click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** Clicks the button `name` of a form and returns the final answer (after any redirect). */
async function submit(page, name, scope = page) {
  return follow(page, scope.getByRole('button', { name, exact: true }));
}

/** Whether the answer is the GET a successful POST was redirected (303) to. */
function redirectedFromPost(response) {
  const from = response.request().redirectedFrom();
  return from?.method() === 'POST' && response.request().method() === 'GET';
}

/** What the page says, for a failure's message: its heading and any alert. */
async function said(page) {
  const text = await page.locator('h1, [role=alert], [role=status]').allInnerTexts().catch(() => []);
  return JSON.stringify(text.map((t) => t.trim().replace(/\s+/g, ' ')));
}

async function goto(page, path) {
  const response = await page.goto(`${BASE_URL}${path}`, { waitUntil: 'load' });
  await assertNoScript(page);
  return response;
}

async function assertNoScript(page) {
  assert.equal(await page.locator('script').count(), 0, `no <script> on ${page.url()}`);
}

/** A screenshot: the whole page on a desktop, the screen on a phone. */
async function shot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, name);
  await page.screenshot({ path, fullPage: page.viewportSize().width > 600 });
  console.log(`# screenshot: ${path}`);
}

/** The page's own width must fit the viewport: a phone never scrolls sideways. */
async function assertFitsWidth(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client + 1, `${page.url()} is ${scroll}px wide in a ${client}px viewport`);
}

async function signIn(page, key) {
  await goto(page, '/admin/login');
  await page.getByLabel('Ключ доступа', { exact: true }).fill(key);
  const response = await submit(page, 'Войти');
  assert.equal(response.status(), 200, `signed in: ${response.url()} says ${await said(page)}`);
  assert.equal(new URL(page.url()).pathname, '/admin/leads', 'a sign-in lands on the inbox');
  assert.ok(redirectedFromPost(response), 'the sign-in POST was redirected');
  return response;
}

/** Every form of the page carries the hidden CSRF token (GET filter forms need none). */
async function assertCsrfFields(page) {
  const forms = page.locator('form');
  const n = await forms.count();
  for (let i = 0; i < n; i += 1) {
    const form = forms.nth(i);
    const method = ((await form.getAttribute('method')) ?? 'get').toLowerCase();
    if (method !== 'post') continue;
    const csrf = form.locator('input[type=hidden][name=csrf]');
    assert.equal(await csrf.count(), 1, `a CSRF field in the form to ${await form.getAttribute('action')}`);
    assert.ok(((await csrf.getAttribute('value')) ?? '').length >= 32, 'a CSRF token of substance');
  }
}

async function assertSignedInChrome(page, { name, admin }) {
  const nav = page.locator('header nav');
  await nav.getByRole('link', { name: 'Лиды', exact: true }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Лиды', exact: true }).getAttribute('href'), '/admin/leads');
  assert.equal(await nav.getByRole('link', { name: 'Статистика', exact: true }).getAttribute('href'), '/admin/stats');
  const timetable = nav.getByRole('link', { name: 'Расписание', exact: true });
  if (admin) {
    assert.equal(await timetable.getAttribute('href'), '/admin/timetable');
  } else {
    assert.equal(await timetable.count(), 0, 'a manager has no timetable link');
  }
  await page.getByRole('button', { name: 'Выйти', exact: true }).waitFor();
  const header = await page.locator('header').first().innerText();
  assert.ok(header.includes(name), `the header names the key "${name}": ${header}`);
  await assertCsrfFields(page);
}

/** Opens the inbox's collapsible filters (a <details>, closed while no filter is in use), as a
 * person would: by its summary. */
async function openFilters(page) {
  const details = page.locator('details').filter({ has: page.locator('[name=status]') });
  if ((await details.count()) && !(await details.evaluate((d) => d.open))) {
    await details.locator('summary').click();
  }
}

/** The inbox row of a lead, or the empty locator. */
function row(page, lead) {
  return page.locator(`tr[data-lead-id="${lead.id}"]`);
}

/** Opens the card of `lead` and checks its heading. */
async function openCard(page, lead) {
  const response = await goto(page, `/admin/leads/${lead.id}`);
  assert.equal(response.status(), 200, `card of ${lead.id}`);
  assert.equal((await page.getByRole('heading', { level: 1 }).innerText()).trim(), lead.name);
  await assertCsrfFields(page);
  return response;
}

/** The form of the card that holds the control labelled `label`. */
function formOf(page, selector) {
  return page.locator('form').filter({ has: page.locator(selector) });
}

async function expectSaved(page, response) {
  assert.ok(redirectedFromPost(response),
    `the change was redirected back (got ${response.status()} ${response.url()}, which says ${await said(page)})`);
  assert.equal(response.status(), 200);
  assert.match(new URL(page.url()).pathname, /^\/admin\/leads\/\d+$/, 'back on the card');
  assert.match(await page.getByRole('status').innerText(), /Сохранено/);
}

// --- set-up --------------------------------------------------------------------------------------

before(async () => {
  for (const [name, value] of Object.entries({
    COHAI_ADMIN_KEY: ADMIN_KEY,
    COHAI_MANAGER_KEY: MANAGER_KEY,
    COHAI_MANAGER_NAME: MANAGER_NAME,
    COHAI_MANAGER_LOCATION: MANAGER_LOCATION,
    COHAI_SECOND_MANAGER_KEY: SECOND_MANAGER_KEY,
    COHAI_SECOND_MANAGER_NAME: SECOND_MANAGER_NAME,
  })) {
    assert.ok(value, `${name} must be set (scripts/test-browser.sh sets it)`);
  }
  const list = await api('GET', '/api/v1/locations');
  assert.equal(list.status, 200, list.text);
  locations = list.json.items;
  assert.ok(locations.some((l) => l.id === MANAGER_LOCATION), `location ${MANAGER_LOCATION} exists`);
  otherLocation = locations.find((l) => l.id !== MANAGER_LOCATION);
  assert.ok(otherLocation, 'the demo data has a second studio');

  // Anna comes from the website's form (its history starts with the actor "website").
  const anna = { name: `Анна Браузерова ${RUN}`, phone: randomPhone(), email: `anna.${RUN}@example.com`,
    message: 'Хочу на растяжку по вечерам', location_id: otherLocation.id, consent: true, utm_source: 'instagram' };
  const form = await fetch(`${BASE_URL}/api/v1/leads`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(anna),
  });
  assert.ok([200, 201].includes(form.status), `POST /api/v1/leads: ${form.status} ${await form.clone().text()}`);
  const receipt = await form.json();
  leads.anna = { ...anna, id: receipt.id };
  // Boris is in the scoped manager's studio; Vera is elsewhere and her call-back is overdue;
  // Gleb is for the CSRF check; Dina for the stale edit.
  await createLead('boris', { name: 'Борис Тестов', location_id: MANAGER_LOCATION, source: 'instagram' });
  await createLead('vera', { name: 'Вера Звонкова', location_id: otherLocation.id, source: 'phone',
    next_contact_at: new Date(Date.now() - 3 * 3600_000).toISOString() });
  await createLead('gleb', { name: 'Глеб Защитин', location_id: otherLocation.id });
  await createLead('dina', { name: 'Дина Параллельная', location_id: MANAGER_LOCATION, notes: 'Первая заметка' });

  browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  desk = await newPage(DESKTOP);
  phone = await newPage(PHONE);
});

after(async () => {
  await browser?.close();
});

// --- the scenarios -------------------------------------------------------------------------------

test('sign-in: a wrong key is refused, the right one opens a session; the key is stored nowhere', async () => {
  const page = desk;
  const response = await goto(page, '/admin/login');
  assert.equal(response.status(), 200);
  assert.equal((await page.locator('form').filter({ has: page.locator('input[name=key]') }).getAttribute('method'))?.toLowerCase(),
    'post', 'the key travels in a POST body, never in a URL');
  const field = page.getByLabel('Ключ доступа', { exact: true });
  assert.equal(await field.getAttribute('type'), 'password');
  assert.equal(await field.getAttribute('name'), 'key');

  provoke(401, '/admin/login');
  const wrongKey = `wrong-${RUN}-key`;
  await field.fill(wrongKey);
  const refused = await submit(page, 'Войти');
  assert.equal(refused.status(), 401, `a wrong key answers 401; the page says ${await said(page)}`);
  assert.match(await page.getByRole('alert').innerText(), /Неверный ключ/);
  assert.ok(!(await refused.text()).includes(wrongKey), 'the refused key is not echoed back');
  assert.equal((await page.context().cookies()).filter((c) => c.name === 'cohai_console').length, 0, 'no session');

  await signIn(page, ADMIN_KEY);
  await assertSignedInChrome(page, { name: 'admin', admin: true });
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'cohai_console');
  assert.ok(session, `the session cookie is set: ${cookies.map((c) => c.name)}`);
  assert.equal(session.httpOnly, true, 'HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'SameSite=Strict');
  assert.equal(session.path, '/admin', 'path /admin');
  assert.equal(session.secure, false, 'no Secure on 127.0.0.1 (plain HTTP)');
  assert.ok(session.value.length >= 32, 'a random token');
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('cohai_console'), 'scripts cannot read it');

  await signIn(phone, ADMIN_KEY);
  await assertSignedInChrome(phone, { name: 'admin', admin: true });

  for (const p of [page, phone]) {
    const stored = await p.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
    const all = [...(await p.context().cookies()).map((c) => `${c.name}=${c.value}`), stored];
    for (const value of all) {
      assert.ok(!value.includes(ADMIN_KEY), `the key is not stored by the browser: ${value.slice(0, 80)}`);
    }
  }
});

test('inbox: filters, counts, search finds a lead, an overdue call-back is marked (desktop and phone)', async () => {
  const page = desk;
  await goto(page, '/admin/leads');
  assert.equal((await page.getByRole('heading', { level: 1 }).innerText()).trim(), 'Лиды');
  for (const lead of Object.values(leads)) {
    const link = row(page, lead).locator('td').first().getByRole('link', { name: lead.name, exact: true });
    assert.equal(await link.getAttribute('href'), `/admin/leads/${lead.id}`, `the row of ${lead.name}`);
  }
  // The filter form.
  const filter = page.locator('form').filter({ has: page.locator('[name=q]') });
  assert.equal(((await filter.getAttribute('method')) ?? 'get').toLowerCase(), 'get', 'filters are a GET form');
  assert.equal(await page.getByLabel('Поиск', { exact: true }).getAttribute('name'), 'q');
  await openFilters(page);
  assert.equal(await page.getByLabel('Статус', { exact: true }).getAttribute('name'), 'status');
  assert.equal(await page.getByLabel('Студия', { exact: true }).getAttribute('name'), 'location_id');
  assert.equal(await page.getByLabel('Ответственный', { exact: true }).getAttribute('name'), 'assignee');
  assert.equal(await page.getByLabel('Сортировка', { exact: true }).getAttribute('name'), 'sort');
  const overdueBox = page.getByRole('checkbox', { name: 'Только просроченные', exact: true });
  assert.equal(await overdueBox.getAttribute('name'), 'overdue');
  assert.equal(await overdueBox.getAttribute('value'), 'true');
  // Counts per status are links.
  for (const [status, label] of Object.entries(STATUS_LABELS)) {
    const links = page.getByRole('link', { name: new RegExp(label) });
    const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(hrefs.some((h) => new URL(h, BASE_URL).searchParams.get('status') === status),
      `a count link for ${status}: ${hrefs}`);
  }
  const newCount = page.getByRole('link', { name: /Новый/ }).filter({ hasText: /\d/ }).first();
  await follow(page, newCount);
  assert.equal(new URL(page.url()).searchParams.get('status'), 'new');
  assert.equal(await row(page, leads.anna).count(), 1, 'the "new" count link lists the new leads');

  // The overdue call-back.
  await goto(page, '/admin/leads');
  const vera = row(page, leads.vera);
  assert.match((await vera.getAttribute('class')) ?? '', /\boverdue\b/, 'an overdue row is marked');
  assert.match(await vera.innerText(), /Просрочен/);
  const anna = row(page, leads.anna);
  assert.doesNotMatch((await anna.getAttribute('class')) ?? '', /\boverdue\b/, 'a lead without a call-back is not');

  // Search by the name, then only overdue ones.
  await page.getByLabel('Поиск', { exact: true }).fill(`Браузерова ${RUN}`);
  const found = await submit(page, 'Показать');
  assert.equal(found.status(), 200);
  assert.equal(new URL(page.url()).searchParams.get('q'), `Браузерова ${RUN}`);
  assert.equal(await page.locator('tr[data-lead-id]').count(), 1, 'the search finds exactly Anna');
  assert.equal(await row(page, leads.anna).count(), 1);
  await page.getByLabel('Поиск', { exact: true }).fill(RUN);
  await openFilters(page);
  await overdueBox.check();
  await submit(page, 'Показать');
  assert.equal(new URL(page.url()).searchParams.get('overdue'), 'true');
  const overdueIds = await page.locator('tr[data-lead-id]').evaluateAll((rs) => rs.map((r) => Number(r.dataset.leadId)));
  assert.deepEqual(overdueIds, [leads.vera.id], 'only the overdue call-back');
  // A studio filter.
  await goto(page, '/admin/leads');
  await openFilters(page);
  await page.getByLabel('Студия', { exact: true }).selectOption(String(MANAGER_LOCATION));
  await submit(page, 'Показать');
  assert.equal(new URL(page.url()).searchParams.get('location_id'), String(MANAGER_LOCATION));
  assert.equal(await row(page, leads.boris).count(), 1, 'a lead of that studio is listed');
  assert.equal(await row(page, leads.anna).count(), 0, 'a lead of another studio is not');

  // Paging: one lead a page, through this run's leads.
  await goto(page, `/admin/leads?q=${encodeURIComponent(RUN)}&limit=1`);
  const seen = new Set();
  for (let i = 0; i < Object.keys(leads).length; i += 1) {
    const ids = await page.locator('tr[data-lead-id]').evaluateAll((rs) => rs.map((r) => r.dataset.leadId));
    assert.equal(ids.length, 1, `one lead on page ${i + 1}`);
    seen.add(ids[0]);
    const next = page.getByRole('link', { name: 'Дальше', exact: true });
    if (i < Object.keys(leads).length - 1) {
      await follow(page, next);
    } else {
      assert.equal(await next.count(), 0, 'no "Дальше" on the last page');
    }
  }
  assert.equal(seen.size, Object.keys(leads).length, 'the pages go through every lead of the run once');
  await follow(page, page.getByRole('link', { name: 'Назад', exact: true }));
  assert.equal(await page.locator('tr[data-lead-id]').count(), 1, '"Назад" goes to the page before');

  // On a phone.
  await goto(phone, '/admin/leads');
  assert.equal(await row(phone, leads.vera).count(), 1);
  await phone.getByLabel('Поиск', { exact: true }).fill(`Браузерова ${RUN}`);
  await submit(phone, 'Показать');
  assert.equal(await row(phone, leads.anna).count(), 1, 'the search works on a phone');
  await goto(phone, '/admin/leads');
  await assertFitsWidth(phone);
  // The screenshots are taken at the end of the day's work (before signing out).
});

test('lead card: lost needs a reason, then lost, assigned, a call-back, notes; the history names the actors', async () => {
  const page = desk;
  const lead = leads.anna;
  const location = locations.find((l) => l.id === lead.location_id);

  // Found through the search, opened from its row.
  await goto(page, `/admin/leads?q=${encodeURIComponent(lead.name)}`);
  await follow(page, row(page, lead).getByRole('link', { name: lead.name, exact: true }));
  assert.equal(new URL(page.url()).pathname, `/admin/leads/${lead.id}`);
  await openCard(page, lead);
  const card = await page.locator('main').innerText();
  for (const value of [lead.email, lead.message, lead.phone.slice(-4), location.name]) {
    assert.ok(card.includes(value), `the card shows ${value}`);
  }

  // Lost without a reason: refused, nothing changes.
  const status = page.getByLabel('Статус', { exact: true });
  assert.equal(await status.getAttribute('name'), 'status');
  const options = await status.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent.trim()]));
  assert.deepEqual(Object.fromEntries(options), STATUS_LABELS, 'the status options');
  provoke(422, `/admin/leads/${lead.id}`);
  await status.selectOption({ label: 'Потерян' });
  await page.getByLabel('Причина отказа', { exact: true }).fill('');
  const refused = await submit(page, 'Сохранить');
  assert.equal(refused.status(), 422, `lost without a reason answers 422; the page says ${await said(page)}`);
  assert.match(await page.getByRole('alert').innerText(), /Укажите причину отказа/);
  assert.equal((await getLead(lead.id)).status, 'new', 'nothing changed');

  // Lost with a reason.
  await openCard(page, lead);
  await page.getByLabel('Статус', { exact: true }).selectOption({ label: 'Потерян' });
  await page.getByLabel('Причина отказа', { exact: true }).fill('Далеко от дома');
  await expectSaved(page, await submit(page, 'Сохранить'));
  let stored = await getLead(lead.id);
  assert.equal(stored.status, 'lost');
  assert.equal(stored.lost_reason, 'Далеко от дома');
  assert.equal(await page.getByLabel('Статус', { exact: true }).inputValue(), 'lost', 'the card shows the new status');

  // Assigned to the second manager.
  const assignee = page.getByLabel('Ответственный', { exact: true });
  assert.equal(await assignee.getAttribute('name'), 'assignee');
  const people = await assignee.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent.trim()]));
  assert.deepEqual(people[0], ['', '— нет —'], 'the first option is nobody');
  // One option per configured key that may see the lead: not the manager of another studio.
  assert.deepEqual(people.slice(1).map(([value]) => value).sort(), ['admin', SECOND_MANAGER_NAME].sort(),
    `the keys that see a lead of ${location.name}: ${JSON.stringify(people)}`);
  await assignee.selectOption(SECOND_MANAGER_NAME);
  await expectSaved(page, await submit(page, 'Сохранить'));
  stored = await getLead(lead.id);
  assert.equal(stored.assignee, SECOND_MANAGER_NAME);
  assert.equal(await page.getByLabel('Ответственный', { exact: true }).inputValue(), SECOND_MANAGER_NAME);

  // A call-back tomorrow at 15:30 in the studio's time.
  const callBack = page.getByLabel('Перезвонить', { exact: true });
  assert.equal(await callBack.getAttribute('type'), 'datetime-local');
  assert.equal(await callBack.getAttribute('name'), 'next_contact_at');
  const callBackForm = formOf(page, 'input[name=next_contact_at]');
  assert.ok((await callBackForm.innerText()).includes(location.timezone), `the zone ${location.timezone} is shown by the call-back`);
  const tomorrow = addDays(localDate(Date.now(), location.timezone), 1);
  await callBack.fill(`${tomorrow}T15:30`);
  await expectSaved(page, await submit(page, 'Сохранить'));
  stored = await getLead(lead.id);
  assert.equal(Date.parse(stored.next_contact_at), zonedToUtc(tomorrow, '15:30', location.timezone),
    `15:30 in ${location.timezone} is ${stored.next_contact_at}`);
  assert.equal(await page.getByLabel('Перезвонить', { exact: true }).inputValue(), `${tomorrow}T15:30`, 'shown back in the studio time');

  // Notes.
  const notes = page.getByLabel('Заметки', { exact: true });
  assert.equal(await notes.evaluate((e) => e.tagName), 'TEXTAREA');
  await notes.fill('Перезвонить после отпуска.\nПредложить утренние группы.');
  await expectSaved(page, await submit(page, 'Сохранить'));
  stored = await getLead(lead.id);
  assert.equal(stored.notes, 'Перезвонить после отпуска.\nПредложить утренние группы.');
  assert.equal(await page.getByLabel('Заметки', { exact: true }).inputValue(), stored.notes);

  // The history: one item per event, oldest first, with the actor.
  await page.getByRole('heading', { name: 'История', exact: true }).waitFor();
  const items = await page.locator('ol.history > li').allInnerTexts();
  const events = await leadEvents(lead.id);
  const kinds = events.map((e) => e.kind);
  assert.equal(kinds[0], 'created');
  for (const kind of ['status_changed', 'assigned', 'updated']) {
    assert.ok(kinds.includes(kind), `a ${kind} event: ${kinds}`);
  }
  assert.equal(items.length, events.length, `one item per event: ${JSON.stringify(items)}`);
  events.forEach((event, i) => assert.ok(items[i].includes(event.actor), `item ${i} names ${event.actor}: ${items[i]}`));
  assert.equal(events[0].actor, 'website');
  assert.ok(events.slice(1).every((e) => e.actor === 'admin'), 'the console records the signed-in key');
  assert.match(items[kinds.indexOf('status_changed')], /Новый → Потерян/, 'the status change says from what to what');
  assert.ok(items[kinds.indexOf('assigned')].includes(SECOND_MANAGER_NAME), 'the assignment says to whom');
  assert.match(items[0], /website/);
  await shot(page, 'card-desktop.png');

  // On a phone: the same card, and a change works there too.
  await openCard(phone, lead);
  await phone.getByLabel('Статус', { exact: true }).selectOption({ label: 'Связались' });
  await expectSaved(phone, await submit(phone, 'Сохранить'));
  assert.equal((await getLead(lead.id)).status, 'contacted');
  await assertFitsWidth(phone);
  await shot(phone, 'card-phone.png');
});

test('a stale form (the lead changed meanwhile) shows the conflict and changes nothing', async () => {
  const lead = leads.dina;
  const first = desk;
  const second = await desk.context().newPage(); // the same session, another tab
  await openCard(first, lead);
  await openCard(second, lead);
  const version = await formOf(second, 'textarea[name=notes]').locator('input[type=hidden][name=version]').inputValue();
  assert.ok(version, 'each form carries the version it was rendered from');

  await first.getByLabel('Статус', { exact: true }).selectOption({ label: 'Связались' });
  await expectSaved(first, await submit(first, 'Сохранить'));

  provoke(409, /^\/admin\/leads\/\d+$/);
  await second.getByLabel('Заметки', { exact: true }).fill('Устаревшая правка');
  const conflict = await submit(second, 'Сохранить');
  assert.equal(conflict.status(), 409, `a stale edit answers 409 (${conflict.url()} says ${await said(second)})`);
  assert.match(await second.getByRole('alert').innerText(), /Лид уже изменили/);
  const stored = await getLead(lead.id);
  assert.equal(stored.notes, 'Первая заметка', 'the stale change was not applied');
  assert.equal(stored.status, 'contacted', 'the other change stays');
  await second.close();
});

test('CSRF: a console form posted without its token (or from another site) is refused', async () => {
  const page = desk;
  const lead = leads.gleb;
  await openCard(page, lead);
  const form = formOf(page, 'select[name=status]');
  const action = new URL(await form.getAttribute('action'), page.url()).href;
  const version = await form.locator('input[name=version]').inputValue();
  const csrf = await form.locator('input[name=csrf]').inputValue();
  const { pathname } = new URL(action);
  provoke(403, pathname);
  const post = (fields, headers = {}) =>
    page.request.post(action, { form: fields, headers: { Origin: BASE_URL, ...headers }, maxRedirects: 0 });

  const without = await post({ status: 'contacted', lost_reason: '', version });
  assert.equal(without.status(), 403, `no CSRF field: ${without.status()}`);
  const wrong = await post({ status: 'contacted', lost_reason: '', version, csrf: 'f'.repeat(64) });
  assert.equal(wrong.status(), 403, `a wrong CSRF token: ${wrong.status()}`);
  const crossSite = await post({ status: 'contacted', lost_reason: '', version, csrf },
    { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' });
  assert.equal(crossSite.status(), 403, `from another site: ${crossSite.status()}`);
  assert.equal((await getLead(lead.id)).status, 'new', 'nothing changed');

  // The same request with the token goes through: the refusals were the token's.
  const genuine = await post({ status: 'contacted', lost_reason: '', version, csrf });
  assert.equal(genuine.status(), 303, `with the token: ${genuine.status()} ${await genuine.text()}`);
  assert.equal((await getLead(lead.id)).status, 'contacted');
});

test('a manager limited to one studio sees only its leads; another studio\'s card is 404, the timetable 403', async () => {
  const page = await newPage(DESKTOP);
  await signIn(page, MANAGER_KEY);
  await assertSignedInChrome(page, { name: MANAGER_NAME, admin: false });
  await goto(page, `/admin/leads?q=${encodeURIComponent(RUN)}`);
  const ids = await page.locator('tr[data-lead-id]').evaluateAll((rs) => rs.map((r) => Number(r.dataset.leadId)).sort());
  assert.deepEqual(ids, [leads.boris.id, leads.dina.id].sort(), 'only the leads of its studio');
  await goto(page, '/admin/leads');
  assert.equal(await row(page, leads.anna).count(), 0, 'another studio\'s lead is absent');
  assert.ok(!(await page.locator('main').innerText()).includes(leads.anna.name));

  provoke(404, `/admin/leads/${leads.anna.id}`);
  const hidden = await goto(page, `/admin/leads/${leads.anna.id}`);
  assert.equal(hidden.status(), 404, 'another studio\'s card is 404 (not 403)');
  assert.ok(!(await page.content()).includes(leads.anna.name), 'and shows nothing of the lead');

  await openCard(page, leads.boris);
  const people = await page.getByLabel('Ответственный', { exact: true }).locator('option')
    .evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(people.sort(), ['', 'admin', MANAGER_NAME, SECOND_MANAGER_NAME].sort(),
    'a lead of its studio may go to any key');
  await page.getByLabel('Статус', { exact: true }).selectOption({ label: 'Клиент' });
  await expectSaved(page, await submit(page, 'Сохранить'));
  const events = await leadEvents(leads.boris.id);
  assert.equal(events.at(-1).actor, MANAGER_NAME, 'the manager is the actor');
  assert.ok((await page.locator('ol.history > li').last().innerText()).includes(MANAGER_NAME));

  provoke(403, '/admin/timetable');
  const timetable = await goto(page, '/admin/timetable');
  assert.equal(timetable.status(), 403, 'the timetable is for admins only');

  // The unscoped manager sees every studio.
  const other = await newPage(DESKTOP);
  await signIn(other, SECOND_MANAGER_KEY);
  await assertSignedInChrome(other, { name: SECOND_MANAGER_NAME, admin: false });
  await goto(other, `/admin/leads?q=${encodeURIComponent(RUN)}`);
  assert.equal(await other.locator('tr[data-lead-id]').count(), Object.keys(leads).length, 'every lead of the run');
  await page.context().close();
  await other.context().close();
});

test('timetable: the week grid, cancelling a class strikes it through and the public schedule says so', async () => {
  const page = desk;
  const location = otherLocation;
  // A class still to come (the seed generates the coming two weeks).
  const upcoming = await fetch(`${BASE_URL}/api/v1/schedule?location_id=${location.id}`).then((r) => r.json());
  const session = upcoming.items.find((s) => s.status === 'scheduled');
  assert.ok(session, `a scheduled class at ${location.name}`);
  const day = localDate(Date.parse(session.starts_at), location.timezone);
  const week = mondayOf(day);
  const publicUrl = `${BASE_URL}/api/v1/schedule?location_id=${location.id}&from=${day}&to=${day}`;
  const before = await fetch(publicUrl).then((r) => r.json());
  assert.equal(before.items.find((s) => s.id === session.id)?.status, 'scheduled');

  // The studio chosen in the form, the weeks paged.
  await goto(page, '/admin/timetable');
  await assertSignedInChrome(page, { name: 'admin', admin: true });
  await page.getByLabel('Студия', { exact: true }).selectOption(String(location.id));
  await submit(page, 'Показать');
  assert.equal(new URL(page.url()).searchParams.get('location_id'), String(location.id));
  await goto(page, `/admin/timetable?location_id=${location.id}&week=${week}`);
  await follow(page, page.getByRole('link', { name: 'Следующая неделя →', exact: true }));
  assert.equal(mondayOf(new URL(page.url()).searchParams.get('week')), addDays(week, 7), 'the next week');
  await follow(page, page.getByRole('link', { name: '← Предыдущая неделя', exact: true }));
  assert.equal(mondayOf(new URL(page.url()).searchParams.get('week')), week, 'and back');
  assert.equal(new URL(page.url()).searchParams.get('location_id'), String(location.id), 'paging keeps the studio');

  // Seven day columns, Monday to Sunday.
  const days = page.locator('.day');
  assert.equal(await days.count(), 7, 'seven day columns');
  const link = page.locator(`a.session[href="/admin/timetable/sessions/${session.id}"]`);
  assert.equal(await link.count(), 1, 'the class is on the grid');
  assert.doesNotMatch((await link.getAttribute('class')) ?? '', /\bcancelled\b/);
  await shot(page, 'timetable-desktop.png');

  // Cancel it.
  await follow(page, link);
  assert.equal(new URL(page.url()).pathname, `/admin/timetable/sessions/${session.id}`);
  await assertCsrfFields(page);
  const reason = page.getByLabel('Причина отмены', { exact: true });
  assert.equal(await reason.getAttribute('name'), 'reason');
  await reason.fill('Тренер заболел');
  const cancelled = await submit(page, 'Отменить занятие');
  assert.ok(redirectedFromPost(cancelled), `the cancellation redirects (got ${cancelled.status()}: ${await said(page)})`);
  const back = new URL(page.url());
  assert.equal(back.pathname, '/admin/timetable', 'back on the grid');
  assert.equal(mondayOf(back.searchParams.get('week')), week, "that class's week");
  const struck = page.locator(`a.session[href="/admin/timetable/sessions/${session.id}"]`);
  assert.match((await struck.getAttribute('class')) ?? '', /\bcancelled\b/, 'marked cancelled');
  assert.equal(await struck.locator('del').count(), 1, 'struck through');

  const stored = await api('GET', `/api/v1/admin/class-sessions/${session.id}`);
  assert.equal(stored.json.status, 'cancelled');
  assert.equal(stored.json.cancellation_reason, 'Тренер заболел');
  const after = await fetch(publicUrl).then((r) => r.text());
  const shown = JSON.parse(after).items.find((s) => s.id === session.id);
  assert.equal(shown?.status, 'cancelled', `the public schedule at once: ${after.slice(0, 300)}`);
  assert.match(after, /"status":"cancelled"/);

  await goto(phone, `/admin/timetable?location_id=${location.id}&week=${week}`);
  assert.equal(await phone.locator(`a.session.cancelled[href="/admin/timetable/sessions/${session.id}"]`).count(), 1);
  await shot(phone, 'timetable-phone.png');
});

test('stats: the filters, three charts, and the CSV link downloads the same leads', async () => {
  const page = desk;
  await goto(page, '/admin/stats');
  await assertSignedInChrome(page, { name: 'admin', admin: true });
  const today = new Date().toISOString().slice(0, 10);
  const from = addDays(today, -30);
  const to = addDays(today, 1);
  const fromField = page.getByLabel('С', { exact: true });
  const toField = page.getByLabel('По', { exact: true });
  assert.equal(await fromField.getAttribute('name'), 'created_from');
  assert.equal(await fromField.getAttribute('type'), 'date');
  assert.equal(await toField.getAttribute('name'), 'created_to');
  assert.equal(await toField.getAttribute('type'), 'date');
  await fromField.fill(from);
  await toField.fill(to);
  await page.getByLabel('Студия', { exact: true }).selectOption(String(otherLocation.id));
  await submit(page, 'Показать');
  const query = new URL(page.url()).searchParams;
  assert.equal(query.get('created_from'), from);
  assert.equal(query.get('created_to'), to);
  assert.equal(query.get('location_id'), String(otherLocation.id));

  for (const caption of ['Воронка', 'Конверсия по студиям', 'Конверсия по источникам']) {
    const figure = page.locator('figure').filter({ has: page.locator('figcaption', { hasText: caption }) });
    assert.equal(await figure.count(), 1, `a figure captioned "${caption}"`);
    assert.ok((await figure.locator('svg[role=img]').count()) >= 1, `an inline SVG chart in "${caption}"`);
  }

  // The CSV of the same filters.
  const csvLink = page.getByRole('link', { name: 'Скачать CSV', exact: true });
  const href = await csvLink.getAttribute('href');
  const target = new URL(href, BASE_URL);
  assert.equal(target.pathname, '/admin/leads/export.csv');
  assert.ok(href.startsWith('/admin/leads/export.csv?'), href);
  // The same studio and period; the period's days are the studio's, so the link names the
  // instants its midnights fall on.
  assert.equal(target.searchParams.get('location_id'), String(otherLocation.id), 'the CSV keeps the studio');
  const zone = otherLocation.timezone;
  assert.equal(Date.parse(target.searchParams.get('created_from')), zonedToUtc(from, '00:00', zone),
    `the CSV starts at midnight of ${from} in ${zone}: ${href}`);
  assert.equal(Date.parse(target.searchParams.get('created_to')), zonedToUtc(addDays(to, 1), '00:00', zone),
    `the CSV ends at the end of ${to} in ${zone}: ${href}`);
  const [download] = await Promise.all([page.waitForEvent('download'), csvLink.click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(download.suggestedFilename(), /\.csv$/);
  assert.ok(csv.includes(leads.anna.name), 'the CSV has a lead of that studio');
  assert.ok(csv.includes(leads.vera.name));
  assert.ok(!csv.includes(leads.boris.name), 'and none of another studio');
  const fetched = await page.request.get(target.href);
  assert.equal(fetched.status(), 200);
  assert.match(fetched.headers()['content-type'], /^text\/csv/);
  // Every studio, the default period, for the screenshots.
  await goto(page, '/admin/stats');
  assert.equal(await page.locator('figure svg[role=img]').count(), 3);
  await shot(page, 'stats-desktop.png');

  await goto(phone, '/admin/stats');
  assert.equal(await phone.locator('figure svg[role=img]').count(), 3, 'the three charts on a phone');
  await shot(phone, 'stats-phone.png');
});

test('accessibility: axe-core finds no WCAG 2.1 A/AA violation on any page (desktop and phone)', async () => {
  // axe is a script, which the console's CSP forbids: it runs in a context of its own that
  // bypasses the CSP, signed in with the desktop page's session (the CSP itself is checked
  // in every other test).
  const axe = readFileSync(resolve(import.meta.dirname, 'node_modules/axe-core/axe.min.js'), 'utf8');
  const session = await desk.context().storageState();
  const grid = await desk.context().newPage();
  await goto(grid, '/admin/timetable');
  const classHref = await grid.locator('a.session').first().getAttribute('href');
  await grid.close();
  const pages = ['/admin/leads', `/admin/leads/${leads.anna.id}`, '/admin/timetable', classHref, '/admin/stats'];
  const found = [];
  for (const viewport of [DESKTOP, PHONE]) {
    for (const [path, storageState] of [['/admin/login', undefined], ...pages.map((p) => [p, session])]) {
      const context = await browser.newContext({ ...viewport, bypassCSP: true, locale: 'ru-RU', storageState });
      const page = await context.newPage();
      const response = await page.goto(new URL(path, BASE_URL).href);
      assert.ok(response.ok(), `${path} answers ${response.status()}`);
      await page.addScriptTag({ content: axe });
      const result = await page.evaluate(() =>
        // eslint-disable-next-line no-undef
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      // axe ran and checked something (labels, contrast, landmarks…), not an empty page.
      assert.ok(result.passes.length >= 10, `${path}: axe checked only ${result.passes.length} rules`);
      for (const v of result.violations) {
        found.push(`${path} at ${viewport.viewport.width}px: ${v.id} (${v.impact}): ${v.help}; ` +
          v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
      }
      await context.close();
    }
  }
  assert.deepEqual(found, [], 'no accessibility violation');
});

test('sign-out ends the session: the old cookie no longer opens the inbox', async () => {
  const page = desk;
  const context = page.context();
  // The inbox after the day's work (every status but one), for the screenshots.
  await goto(page, '/admin/leads');
  await shot(page, 'inbox-desktop.png');
  await goto(phone, '/admin/leads');
  await shot(phone, 'inbox-phone.png');
  const old = (await context.cookies()).find((c) => c.name === 'cohai_console');
  assert.ok(old, 'signed in');
  const out = await submit(page, 'Выйти');
  assert.ok(redirectedFromPost(out), 'sign-out is a POST, redirected');
  assert.equal(new URL(page.url()).pathname, '/admin/login');
  assert.equal((await context.cookies()).filter((c) => c.name === 'cohai_console').length, 0, 'the cookie is cleared');

  await context.addCookies([old]); // a copy kept by someone
  const again = await goto(page, '/admin/leads');
  assert.equal(new URL(page.url()).pathname, '/admin/login', 'the old session is gone');
  assert.ok(again.request().redirectedFrom(), 'redirected to the sign-in');
  const content = await page.content();
  for (const lead of Object.values(leads)) {
    assert.ok(!content.includes(lead.name), 'no lead data shown');
  }
  const direct = await page.request.get(`${BASE_URL}/admin/leads/${leads.anna.id}`, { maxRedirects: 0 });
  assert.equal(direct.status(), 303);
  assert.equal(direct.headers().location, `/admin/login?next=%2Fadmin%2Fleads%2F${leads.anna.id}`);
});

test('a sign-in returns to the page that sent the browser to sign in', async () => {
  const page = desk;
  const card = `/admin/leads/${leads.anna.id}`;
  await goto(page, card);
  const at = new URL(page.url());
  assert.equal(at.pathname, '/admin/login', 'no session: the sign-in page');
  assert.equal(at.searchParams.get('next'), card, 'which knows where to return');
  await page.getByLabel('Ключ доступа', { exact: true }).fill(ADMIN_KEY);
  const response = await submit(page, 'Войти');
  assert.equal(response.status(), 200, `signed in: ${response.url()} says ${await said(page)}`);
  assert.ok(redirectedFromPost(response), 'the sign-in POST was redirected');
  assert.equal(new URL(page.url()).pathname, card, 'back on the card, not the inbox');
});

test('no console error, page error, failed request, unexpected HTTP error or CSP violation; no key in a URL', async () => {
  const unexpected = httpErrors
    .filter((e) => !isProvoked(e.status, e.url))
    .map((e) => `HTTP ${e.status} (${e.via}): ${e.url}`);
  const keys = [ADMIN_KEY, MANAGER_KEY, SECOND_MANAGER_KEY];
  const leaked = requested.filter((url) => keys.some((key) => url.includes(key) || url.includes(encodeURIComponent(key))));
  assert.deepEqual([...problems, ...unexpected, ...leaked.map((url) => `a key in a URL: ${url}`)], []);
});
