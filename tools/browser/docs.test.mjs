// Swagger UI at /docs in a real browser: Debian's chromium driven by playwright-core.
//
// Proves that the vendored Swagger UI assets load and run under the server's
// Content-Security-Policy: the page renders, "Try it out" → "Execute" on a public call and,
// after "Authorize" with the admin key, on an admin call shows a 200 and the JSON; no console
// error, page error, failed request, HTTP error or CSP violation happens along the way.
//
// Run by scripts/test-browser.sh (make test-browser), which starts a seeded server and sets:
//   COHAI_BASE_URL    the server, e.g. http://127.0.0.1:8080
//   COHAI_ADMIN_KEY   an admin API key the server accepts
//   COHAI_SCREENSHOT  where to save the screenshot (default: target/browser/docs.png)
//   CHROMIUM          the browser (default: /usr/bin/chromium; no browser is ever downloaded)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = process.env.COHAI_BASE_URL ?? 'http://127.0.0.1:8080';
const ADMIN_KEY = process.env.COHAI_ADMIN_KEY;
const SCREENSHOT = resolve(process.env.COHAI_SCREENSHOT ?? 'target/browser/docs.png');
const EXECUTABLE = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Each step waits at most this long: the whole run stays well under a minute.
const TIMEOUT_MS = 15_000;

/** Everything that went wrong in the page, reported together at the end. */
const problems = [];
let browser;
let page;

before(async () => {
  assert.ok(ADMIN_KEY, 'COHAI_ADMIN_KEY must be set (scripts/test-browser.sh sets it)');
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
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
  context.setDefaultTimeout(TIMEOUT_MS);
  page = await context.newPage();

  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /content security policy/i.test(text)) {
      problems.push(`console ${msg.type()}: ${text}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });
  // Registered before any of the page's scripts run (init scripts are not subject to the CSP).
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} in ${e.sourceFile}:${e.lineNumber}`);
    });
  });
});

after(async () => {
  if (page) {
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    // The viewport at the last operation run (the full page is ~15,000 px tall).
    await page.locator('.opblock.is-open').last().scrollIntoViewIfNeeded({ timeout: 2_000 }).catch(() => {});
    await page.screenshot({ path: SCREENSHOT }).catch((e) => console.log(`# no screenshot: ${e.message}`));
    console.log(`# screenshot: ${SCREENSHOT}`);
  }
  await browser?.close();
});

/** Expands an operation, runs "Try it out" → "Execute", and returns the live response. */
async function tryItOut(operationDomId) {
  const op = page.locator(`#${operationDomId}`);
  await op.locator('.opblock-summary').first().click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  await op.getByRole('button', { name: 'Execute' }).click();
  const live = op.locator('.live-responses-table .response');
  await live.first().waitFor();
  const status = (await live.locator('.response-col_status').first().innerText()).trim();
  const body = await live.locator('.response-col_description .highlight-code pre').first().textContent();
  return { status, body, op };
}

test('Swagger UI renders /docs from the vendored assets', async () => {
  const response = await page.goto(`${BASE_URL}/docs`, { waitUntil: 'load' });
  assert.equal(response.status(), 200, 'GET /docs (after its redirect to /docs/)');
  assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'self'/, 'the docs CSP is in force');
  await page.locator('.swagger-ui .info .title').waitFor();
  await page.locator('#operations-catalog-listLocations').waitFor();
  const title = await page.locator('.swagger-ui .info .title').innerText();
  assert.ok(title.length > 0, 'the API title is shown');
});

test('"Try it out" on GET /api/v1/locations shows a 200 and the JSON', async () => {
  const { status, body } = await tryItOut('operations-catalog-listLocations');
  assert.equal(status, '200', `response code shown; body: ${body}`);
  const json = JSON.parse(body);
  assert.ok(Array.isArray(json.items), `JSON with items: ${body.slice(0, 300)}`);
  assert.ok(json.items.length > 0, 'the demo data has locations');
});

test('"Authorize" with the admin key, then GET /api/v1/admin/leads shows a 200 and the JSON', async () => {
  await page.locator('.auth-wrapper button.authorize').click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  await dialog.waitFor();
  await dialog.locator('#auth-bearer-value').fill(ADMIN_KEY);
  await dialog.getByRole('button', { name: 'Apply credentials' }).click();
  await dialog.getByRole('button', { name: 'Remove authorization' }).waitFor(); // "Logout": authorized
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });

  const { status, body, op } = await tryItOut('operations-admin-listLeads');
  assert.equal(status, '200', `response code shown; body: ${body}`);
  const json = JSON.parse(body);
  assert.ok(Array.isArray(json.items), `JSON with items: ${body.slice(0, 300)}`);
  const curl = await op.locator('.curl-command').first().textContent();
  assert.match(curl ?? '', /Authorization: Bearer/, 'the request carried the key');
});

test('no console error, page error, failed request or CSP violation', async () => {
  const violations = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual([...problems, ...violations.map((v) => `CSP violation: ${v}`)], []);
});
