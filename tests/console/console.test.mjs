// The marketer's console at /admin/ in Debian's headless Chromium (playwright-core), against the
// real worker on wrangler's local workerd started by tests/worker/harness.mjs: sign in (and a
// wrong token), break the rules and see the line and field, fix them while raising `ready` to
// four pricing views, preview the edit on a log and see the pricing visitor move, publish, roll
// back. Screenshots at 1280 and 390 px wide go to target/console/.
//
// The screens that read the audience store and the deliveries get their tests when those APIs
// are on the worker; until then the worker answers 404 and these screens say so.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startWorker, ROOT, ADMIN_TOKEN, DEFAULT_RULES, intentctl } from '../worker/harness.mjs';
import { launch } from '../e2e/browser.mjs';

const SHOTS = join(ROOT, 'target', 'console');
const PRICING_RULE = '{ "viewed": { "group": "pricing", "at_least": 3, "within": "14d" } }';

/** The default rules with the `ready` pricing condition changed to `replacement`. */
function defaultsWith(replacement) {
  assert.ok(DEFAULT_RULES.includes(PRICING_RULE), 'the default rules have the pricing condition');
  return DEFAULT_RULES.replace(PRICING_RULE, replacement);
}

/** The example log plus one visitor who viewed pricing three times in one sitting. */
function previewLog() {
  const fan = [0, 4, 9].map((m) => JSON.stringify({
    visitor: 'v-one-sitting', ts: `2026-11-29T10:0${m}:00Z`, type: 'pageview', url: 'https://demo.test/pricing/',
  }));
  return `${readFileSync(join(ROOT, 'examples/events/acme-november.jsonl'), 'utf8')}${fan.join('\n')}\n`;
}

/** Replaces the editor's whole text as a paste would. */
async function setEditorText(page, text) {
  await page.locator('.cm-content').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
  // Back to the top, where the edits of these tests are, for the screenshots.
  await page.keyboard.press('ControlOrMeta+Home');
}

async function admin(w, path, init = {}) {
  return fetch(`${w.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });
}

describe('the console', () => {
  let w;
  let browser;
  const dir = mkdtempSync(join(tmpdir(), 'intent-console-test-'));

  before(async () => {
    [w, browser] = await Promise.all([startWorker(), launch()]);
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  test('sign in, break and fix the rules, preview, publish, roll back', async () => {
    const context = await browser.newContext({ baseURL: w.url, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    try {
      const collects = [];
      page.on('request', (r) => { if (new URL(r.url()).pathname === '/v1/collect') collects.push(r.url()); });
      const first = await page.goto('/admin/');
      // The console is not a page of the site: its own files, never personalised or tracked,
      // under its own Content-Security-Policy.
      const h = first.headers();
      assert.equal(h['x-intent-tier'], undefined);
      assert.equal(h['set-cookie'], undefined);
      assert.match(h['content-security-policy'] ?? '', /default-src 'self'.*frame-ancestors 'none'/);
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(await page.locator('script[src*="intent.js"]').count(), 0);

      // A wrong token is refused with a clear message, and nothing is stored.
      await page.getByLabel('Admin token').fill('not-the-admin-token-not-the-admin-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('not this worker\'s admin token').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);

      await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.verdict.good').waitFor();
      assert.match(await page.locator('.verdict').textContent(), /Valid: rules default@/);
      // The token lives in this tab's session storage, and nowhere else.
      assert.equal(await page.evaluate(() => Object.values(sessionStorage).includes(localStorage.getItem('x') ?? 'none')), false);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      assert.equal(await page.evaluate(() => document.cookie), '');

      // Break the rules as a marketer would: the line and the field appear as intentctl says them.
      const broken = defaultsWith('{ "viewed": { "group": "pricing", "at_least": 3, "within": "7 days" } }');
      const brokenFile = join(dir, 'broken.json');
      writeFileSync(brokenFile, broken);
      const cli = await intentctl(['validate', brokenFile]);
      assert.equal(cli.code, 1);
      const said = cli.stderr.trim().slice(`${brokenFile}: `.length);
      const [, line, field, reason] = /^line (\d+), `([^`]+)`: (.*)$/.exec(said);
      await setEditorText(page, broken);
      const verdict = page.locator('.verdict.bad');
      await verdict.waitFor();
      assert.equal(await verdict.getAttribute('data-field'), field);
      assert.equal((await verdict.locator('.where').textContent()).trim(), `line ${line}, ${field}`);
      assert.equal((await verdict.locator('.what').textContent()).trim(), reason);
      // The editor marks the line itself.
      await page.locator('.cm-lintRange-error').first().waitFor();
      assert.equal(await page.getByRole('button', { name: 'Publish' }).isDisabled(), true);
      await page.screenshot({ path: join(SHOTS, 'rules-broken.png') });

      // Fix it while raising ready to four pricing views; preview on a log file (this worker has
      // no stored event log yet, so the console offers a file instead).
      const edited = defaultsWith('{ "viewed": { "group": "pricing", "at_least": 4, "within": "14d" } }');
      await setEditorText(page, edited);
      await page.locator('.verdict.good').waitFor();
      const logFile = join(dir, 'traffic.jsonl');
      writeFileSync(logFile, previewLog());
      await page.locator('input[type=file]').setInputFiles(logFile);
      const ready = page.locator('table.preview tr[data-audience="ready"]');
      await ready.waitFor();
      const cells = await ready.locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 3), ['5', '4', '-1']);
      const moved = page.locator('.moves li[data-visitor="v-one-sitting"]');
      await moved.waitFor();
      assert.match(await moved.textContent(), /ready\s*→\s*evaluating/);
      assert.equal(await page.locator('.moves li').count(), 1);
      // The changes against the published rules are shown in the editor.
      await page.locator('.cm-changedLine, .cm-insertedLine').first().waitFor();
      await page.screenshot({ path: join(SHOTS, 'rules-preview.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, 'rules-preview-390.png'), fullPage: true });
      // Nothing is wider than the phone's screen but the tables' own scroll boxes.
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390 + 1), 'no sideways scrolling at 390 px');
      await page.setViewportSize({ width: 1280, height: 900 });

      // Publish: the worker now serves the edited rules.
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByText(/^Published /).waitFor();
      assert.equal(await (await admin(w, '/v1/admin/rules')).text(), edited);
      await page.locator('.verdict.good', { hasText: 'as published' }).waitFor();

      // Roll back: the defaults are live again, and the editor shows them.
      await page.getByRole('button', { name: /Roll back/ }).first().click();
      await page.getByText(/^Rolled back/).waitFor();
      assert.equal(await (await admin(w, '/v1/admin/rules')).text(), DEFAULT_RULES);
      await page.locator('.verdict.good', { hasText: 'as published' }).waitFor();
      assert.equal(await page.locator('.live code').textContent(), JSON.parse(await (await fetch(`${w.url}/v1/health`)).text()).rules);

      assert.deepEqual(collects, [], 'the console records nothing about the marketer');
      // The wrong token's 401, and the 404s of the APIs this worker does not have yet, are the
      // browser's own log lines about answers the console handled; nothing else may appear.
      assert.deepEqual(problems.filter((p) => !/^Failed to load resource: .* (401|404) /.test(p)), [], 'no errors in the page');
    } finally {
      await context.close();
    }
  });

  test('the audit screen shows the engine\'s report on a log', async () => {
    const context = await browser.newContext({ baseURL: w.url, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto('/admin/');
      await page.evaluate((t) => sessionStorage.setItem('intent-edge-admin-token', t), ADMIN_TOKEN);
      await page.reload();
      await page.locator('input[type=file]').waitFor();
      const logFile = join(dir, 'traffic.jsonl');
      writeFileSync(logFile, previewLog());
      await page.locator('input[type=file]').setInputFiles(logFile);
      await page.locator('table.preview').waitFor();
      await page.getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('heading', { name: 'Warnings' }).waitFor();
      const cli = await intentctl(['audit', '--events', logFile, '--json']);
      const report = JSON.parse(cli.stdout);
      for (const a of report.audiences) {
        const row = page.locator('tr', { has: page.locator('th', { hasText: new RegExp(`^${a.name} `) }) }).first();
        assert.equal((await row.locator('td').first().textContent()).trim(), String(a.members), a.name);
      }
      await page.screenshot({ path: join(SHOTS, 'audit.png'), fullPage: true });
      // Screens whose API is not on this worker say what is missing instead of breaking.
      for (const [link, what] of [['Audiences', /No audience store on this worker yet/], ['Deliveries', /No deliveries on this worker yet/], ['Accounts', /No accounts on this worker yet/]]) {
        await page.getByRole('link', { name: link }).click();
        await page.getByText(what).waitFor();
      }
    } finally {
      await context.close();
    }
  });
});
