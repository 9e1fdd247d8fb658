// A marketer's session in the console at /admin/, in Debian's headless Chromium (playwright-core),
// against the real worker on wrangler's local workerd started by tests/worker/harness.mjs. Three
// visitors come first, through the collect API as the snippet sends them: Jane views pricing three
// times and identifies as jane@acme.com, one visitor compares, one reads the blog; once the
// audience store lists them (waited for with a deadline), the marketer signs in (and a wrong token
// is refused), reads the overview, the audiences (counts, members, the CSV), the accounts and Jane's
// own record; breaks the rules and sees the line and field; fixes them while raising `ready` to
// four pricing views and sees, on the stored traffic, Jane move (and on a log file too); publishes
// and sees the store move her, rolls back by the history's id; and reads the audit, which matches `intentctl audit` on the same
// stored log. Last, the deliveries: rules with two webhook destinations at a receiver this test
// runs on 127.0.0.1 (one answering 500 until told otherwise, one 410) are published, a fourth
// visitor enters `ready`, the deliveries go dead on the (short) retry schedule and the Deliveries
// screen shows them and the disabled destination; the
// receiver recovers, Retry is pressed, the screen shows it delivered, and the receiver got one
// signed call per attempt, all with one webhook-id.
// Screenshots at 1280 and 390 px wide go to target/console/.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startWorker, ROOT, ADMIN_TOKEN, DEFAULT_RULES, intentctl, collect, views } from '../worker/harness.mjs';
import { until, quiet } from '../worker/wait.mjs';
import { receiver, verifyWebhook, devSecret } from '../worker/receivers.mjs';
import { launch } from '../e2e/browser.mjs';
import { Webhook } from 'standardwebhooks';

const SHOTS = join(ROOT, 'target', 'console');
/** How long the event pipeline may take to show a call in the store's lists. */
const LISTED = 20_000;
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

/** The retry schedule the worker runs with here: three retries a second apart, then dead. */
const RETRY_SCHEDULE = '1s,1s,1s';
/** Attempts until dead under it: the first and one per step. */
const ATTEMPTS_TO_DEAD = 4;

/** Replaces the editor's whole text as a paste would. */
async function setEditorText(page, text) {
  await page.locator('.cm-content').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
  // Back to the top, where the edits of these tests are, for the screenshots.
  await page.keyboard.press('ControlOrMeta+Home');
}

async function admin(w, path, init = {}) {
  return fetch(`${w.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) }, signal: AbortSignal.timeout(30_000) });
}

async function adminJson(w, path) {
  const r = await admin(w, path);
  assert.equal(r.status, 200, path);
  return r.json();
}

/** One visitor's calls, one after another, carrying the token; the last answer. */
async function visit(base, steps) {
  let profile = null;
  let answer;
  for (const events of steps) {
    const a = await collect(base, { site: 'demo', profile, events });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    answer = a.body;
    profile = answer.profile;
  }
  return answer;
}

/** A new tab already signed in (the token in its session storage), on `hash`. */
async function signedIn(browser, w, hash = '', viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ baseURL: w.url, viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${m.text()} ${m.location()?.url ?? ''}`); });
  await page.goto('/admin/');
  await page.evaluate((t) => sessionStorage.setItem('intent-edge-admin-token', t), ADMIN_TOKEN);
  await page.goto(`/admin/${hash}`);
  await page.reload();
  return { context, page, problems };
}

/** The page's errors, but for the browser's own lines about answers the console handled. */
function unexpected(problems, allowed = /^Failed to load resource: .* 401 /) {
  return problems.filter((p) => !allowed.test(p));
}

describe('the console', () => {
  let w;
  let browser;
  const dir = mkdtempSync(join(tmpdir(), 'intent-console-test-'));
  /** The three visitors' ids, as the collect answers give them. */
  const people = {};
  let rx;
  /** Whether the receiver answers 200 again: `/gone` answers 410, the rest 500 until then. */
  let recovered = false;

  before(async () => {
    rx = await receiver((path) => (path === '/gone' ? 410 : recovered ? 200 : 500));
    [w, browser] = await Promise.all([startWorker({
      vars: { ALLOW_LOOPBACK_DESTINATIONS: 'true', DELIVERY_RETRY_SCHEDULE: RETRY_SCHEDULE },
    }), launch()]);
    mkdirSync(SHOTS, { recursive: true });
    const jane = await visit(w.url, [
      views('/pricing/'), views('/pricing/'), views('/pricing/'),
      [{ type: 'identify', email: 'jane@acme.com' }],
    ]);
    assert.equal(jane.tier, 'ready');
    people.jane = jane.visitor;
    people.comparer = (await visit(w.url, [views('/compare/')])).visitor;
    people.reader = (await visit(w.url, [views('/blog/')])).visitor;
    // The store has them once the pipeline has delivered: every member listed, every event logged.
    const listed = async (name, id) => (await adminJson(w, `/v1/admin/audiences/${name}`)).members.some((m) => m.visitor === id && (id !== people.jane || m.email));
    await until(async () => (await listed('ready', people.jane)) && (await listed('evaluating', people.comparer))
      && (await listed('researching', people.reader)), 'the three visitors in the store', LISTED);
    await until(async () => {
      const log = await (await admin(w, '/v1/admin/events?since=30d')).text();
      return log.trim().split('\n').length === 6;
    }, 'the six events in the stored log', LISTED);
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
    await rx?.close();
  });

  test('sign in, then the overview, the audiences, the CSV, the accounts and one visitor', async () => {
    const context = await browser.newContext({ baseURL: w.url, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${m.text()} ${m.location()?.url ?? ''}`); });
    try {
      const collects = [];
      page.on('request', (r) => { if (new URL(r.url()).pathname === '/v1/collect') collects.push(r.url()); });
      const first = await page.goto('/admin/#/overview');
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
      // The token lives in this tab's session storage, and nowhere else.
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('intent-edge-admin-token')), ADMIN_TOKEN);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      assert.equal(await page.evaluate(() => document.cookie), '');

      // Overview: the store's counts, and the charts of the stored traffic.
      const counts = await adminJson(w, '/v1/admin/audiences');
      assert.deepEqual(counts.audiences.map((a) => [a.name, a.members]), [['ready', 1], ['evaluating', 1], ['researching', 1]]);
      for (const a of counts.audiences) {
        const n = page.locator(`.counts li[data-audience="${a.name}"] .n`);
        await n.waitFor();
        assert.equal((await n.textContent()).trim(), String(a.members), a.name);
      }
      await until(async () => (await page.locator('.charts .uplot').count()) === 3, 'the three charts', 20_000);
      await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

      // Audiences: the counts the API gives.
      await page.getByRole('link', { name: 'Audiences' }).click();
      for (const a of counts.audiences) {
        const row = page.locator(`table.audiences tr[data-audience="${a.name}"]`);
        await row.waitFor();
        assert.deepEqual((await row.locator('td').allTextContents()).map((t) => t.trim()), [a.kind, String(a.members)]);
      }
      await page.screenshot({ path: join(SHOTS, 'audiences.png'), fullPage: true });

      // One audience: its members, and the CSV the API gives.
      await page.locator('table.audiences').getByRole('link', { name: 'ready' }).click();
      const member = page.locator(`table.members tr[data-visitor="${people.jane}"]`);
      await member.waitFor();
      const cells = (await member.locator('td').allTextContents()).map((t) => t.trim());
      assert.deepEqual(cells.slice(0, 5), [people.jane, 'jane@acme.com', 'acme.com', 'ready', '']);
      assert.equal(await page.locator('table.members tbody tr').count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
      await page.screenshot({ path: join(SHOTS, 'audience-ready.png'), fullPage: true });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      assert.equal(download.suggestedFilename(), 'ready.csv');
      const csv = readFileSync(await download.path(), 'utf8');
      assert.equal(csv, await (await admin(w, '/v1/admin/audiences/ready?format=csv')).text());
      assert.match(csv, new RegExp(`^visitor,email,account,tier,segments,score,since,last_seen\\n${people.jane},jane@acme\\.com,acme\\.com,ready,`));

      // Accounts: acme.com, from Jane's email.
      await page.getByRole('link', { name: 'Accounts' }).click();
      const acme = page.locator('tr[data-account="acme.com"]');
      await acme.waitFor();
      assert.deepEqual((await acme.locator('td').allTextContents()).map((t) => t.trim()).slice(0, 3), ['1', '1', 'ready']);
      assert.equal(await page.locator('tr[data-account]').count(), 1);

      // One visitor: Jane's record, tier history, explanation and timeline, from the member list.
      await page.goto('/admin/#/audiences/ready');
      await page.locator(`table.members tr[data-visitor="${people.jane}"] a`).click();
      await page.locator('.facts').waitFor();
      const record = await adminJson(w, `/v1/admin/visitors/${people.jane}`);
      assert.equal((await page.locator('.facts dd').first().textContent()).trim(), 'ready');
      assert.match(await page.locator('.facts').textContent(), /jane@acme\.com.*acme\.com/s);
      const entered = page.locator('.memberships tr[data-audience="ready"] td');
      assert.equal((await entered.nth(2).textContent()).trim(), '—', 'still in ready');
      assert.equal(await page.locator('.memberships tbody tr').count(), record.memberships.length);
      assert.deepEqual(await page.locator('ol.timeline li strong').allTextContents(), ['pageview', 'pageview', 'pageview', 'identify']);
      assert.equal((await page.locator('.explanation li[data-rule="ready"] > .badge').textContent()).trim(), 'matched');
      assert.match(await page.locator('.explanation li[data-rule="ready"]').textContent(), /pricing/);
      await page.screenshot({ path: join(SHOTS, 'visitor.png'), fullPage: true });

      assert.deepEqual(collects, [], 'the console records nothing about the marketer');
      // The wrong token's 401 is the browser's own log line about an answer the console handled.
      assert.deepEqual(unexpected(problems), [], 'no errors in the page');
    } finally {
      await context.close();
    }
  });

  test('break and fix the rules, preview on the stored traffic and on a file, publish, roll back', async () => {
    const { context, page, problems } = await signedIn(browser, w, '#/rules');
    try {
      await page.locator('.verdict.good').waitFor();
      assert.match(await page.locator('.verdict').textContent(), /Valid: rules default@/);
      // The version live now: the defaults, whether or not the history has recorded them yet.
      const before = (await admin(w, '/v1/admin/rules')).headers.get('x-intent-rules');
      assert.match(before, /^default@/);

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

      // Fix it while raising ready to four pricing views: the stored traffic replays under both
      // rules, and Jane, with her three pricing views, moves down.
      const edited = defaultsWith('{ "viewed": { "group": "pricing", "at_least": 4, "within": "14d" } }');
      await setEditorText(page, edited);
      await page.locator('.verdict.good').waitFor();
      assert.match(await page.locator('.source').textContent(), /last 30 days stored by the worker: 6 events of 3 visitors/);
      const stored = page.locator('.preview-box[data-source="stored"]');
      await stored.locator('table.preview').waitFor();
      const rowOf = (box, name) => box.locator(`table.preview tr[data-audience="${name}"] td`).allTextContents();
      assert.deepEqual(await rowOf(stored, 'ready'), ['1', '0', '-1']);
      assert.deepEqual(await rowOf(stored, 'evaluating'), ['1', '2', '+1']);
      assert.deepEqual(await rowOf(stored, 'researching'), ['1', '1', '0']);
      assert.deepEqual(await stored.locator('.moves li').evaluateAll((li) => li.map((l) => l.dataset.visitor)), [people.jane]);
      assert.match(await stored.locator('.moves li').textContent(), /ready\s*→\s*evaluating/);
      // The changes against the published rules are shown in the editor.
      await page.locator('.cm-changedLine, .cm-insertedLine').first().waitFor();
      await page.screenshot({ path: join(SHOTS, 'rules-preview.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, 'rules-preview-390.png'), fullPage: true });
      // Nothing is wider than the phone's screen but the tables' own scroll boxes.
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390 + 1), 'no sideways scrolling at 390 px');
      await page.setViewportSize({ width: 1280, height: 900 });

      // Another log, from a file: the preview replays it instead.
      const logFile = join(dir, 'traffic.jsonl');
      writeFileSync(logFile, previewLog());
      await page.locator('input[type=file]').setInputFiles(logFile);
      const fromFile = page.locator('.preview-box[data-source="file"]');
      await fromFile.locator('table.preview').waitFor();
      assert.match(await page.locator('.source').textContent(), /the file traffic\.jsonl/);
      assert.deepEqual(await rowOf(fromFile, 'ready'), ['5', '4', '-1']);
      assert.deepEqual(await fromFile.locator('.moves li').evaluateAll((li) => li.map((l) => l.dataset.visitor)), ['v-one-sitting']);
      assert.match(await fromFile.locator('.moves li').textContent(), /ready\s*→\s*evaluating/);
      // And back to the stored traffic.
      await page.getByRole('button', { name: 'Use the stored traffic' }).click();
      await stored.locator('table.preview').waitFor();
      assert.deepEqual(await rowOf(stored, 'ready'), ['1', '0', '-1']);

      // Publish: the worker now serves the edited rules, and the history lists them as active.
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByText(/^Published /).waitFor();
      assert.equal(await (await admin(w, '/v1/admin/rules')).text(), edited);
      await page.locator('.verdict.good', { hasText: 'as published' }).waitFor();
      const history = await adminJson(w, '/v1/admin/rules/history');
      assert.notEqual(history.active, before);
      await page.locator(`.history li[data-version="${history.active}"] .badge`, { hasText: 'live' }).waitFor();

      // The store recomputes everyone under the published rules: Jane leaves ready without
      // visiting again, as the preview said, and the audiences screen shows it.
      const countOf = async (name) => (await adminJson(w, '/v1/admin/audiences')).audiences.find((a) => a.name === name)?.members;
      await until(async () => (await countOf('ready')) === 0 && (await countOf('evaluating')) === 2, 'Jane moved to evaluating in the store', LISTED);
      await page.getByRole('link', { name: 'Audiences' }).click();
      const tdsOf = (name) => page.locator(`table.audiences tr[data-audience="${name}"] td`).allTextContents();
      await page.locator('table.audiences').waitFor();
      assert.deepEqual(await tdsOf('ready'), ['tier', '0']);
      assert.deepEqual(await tdsOf('evaluating'), ['tier', '2']);
      await page.getByRole('link', { name: 'Rules' }).click();
      await page.locator('.verdict.good', { hasText: 'as published' }).waitFor();

      // Roll back by the history's id: the defaults are live again, and the editor shows them.
      await page.locator(`.history li[data-version="${before}"]`).getByRole('button', { name: 'Roll back to this' }).click();
      await page.getByText(/^Rolled back/).waitFor();
      assert.equal(await (await admin(w, '/v1/admin/rules')).text(), DEFAULT_RULES);
      assert.equal((await adminJson(w, '/v1/admin/rules/history')).active, before);
      await page.locator('.verdict.good', { hasText: 'as published' }).waitFor();
      await page.locator(`.history li[data-version="${before}"] .badge`, { hasText: 'live' }).waitFor();
      assert.equal(await page.locator('.live code').textContent(), JSON.parse(await (await fetch(`${w.url}/v1/health`)).text()).rules);
      // And Jane is back in ready.
      await until(async () => (await countOf('ready')) === 1, 'Jane back in ready in the store', LISTED);
      assert.deepEqual(unexpected(problems), [], 'no errors in the page');
    } finally {
      await context.close();
    }
  });

  test('the audit screen matches intentctl audit on the stored log', async () => {
    const { context, page, problems } = await signedIn(browser, w, '#/audit');
    try {
      await page.getByRole('heading', { name: 'Warnings' }).waitFor();
      const logFile = join(dir, 'stored.jsonl');
      writeFileSync(logFile, await (await admin(w, '/v1/admin/events?since=30d')).text());
      const rulesFile = join(dir, 'published.json');
      writeFileSync(rulesFile, await (await admin(w, '/v1/admin/rules')).text());
      const cli = await intentctl(['audit', '--rules', rulesFile, '--events', logFile, '--json']);
      assert.equal(cli.code, 0, cli.stderr);
      const report = JSON.parse(cli.stdout);
      assert.equal(report.visitors, 3);
      assert.match(await page.locator('.audit > p.muted').textContent(), new RegExp(`${report.visitors} visitors, ${report.events} events \\(the last 30 days stored by the worker\\)`));
      for (const a of report.audiences) {
        const row = page.locator('tr', { has: page.locator('th', { hasText: new RegExp(`^${a.name} `) }) }).first();
        assert.equal((await row.locator('td').first().textContent()).trim(), String(a.members), a.name);
      }
      await page.screenshot({ path: join(SHOTS, 'audit.png'), fullPage: true });
      assert.deepEqual(unexpected(problems), [], 'no errors in the page');
    } finally {
      await context.close();
    }
  });

  test('a dead delivery on the Deliveries screen, retried once the receiver recovers', async () => {
    // Rules with webhook destinations at the receiver, notified when a visitor enters `ready`:
    // `ops` fails until the receiver recovers, `gone` answers 410 and is disabled.
    const config = JSON.parse(DEFAULT_RULES);
    const hook = (path) => ({ type: 'webhook', url: rx.url(path), secret: 'env:WEBHOOK_SECRET' });
    config.destinations = { ops: hook('/hook'), gone: hook('/gone') };
    config.triggers = [{ when: 'entered', audience: 'ready', to: ['ops', 'gone'] }];
    const put = await admin(w, '/v1/admin/rules', { method: 'PUT', body: JSON.stringify(config, null, 2) });
    assert.equal(put.status, 200, await put.text());
    // A fourth visitor enters ready (the publish itself fires nothing for Jane, already there).
    const lee = await visit(w.url, [views('/pricing/'), views('/pricing/'), views('/pricing/')]);
    assert.equal(lee.tier, 'ready');
    const listed = async (status) => (await adminJson(w, `/v1/admin/deliveries?status=${status}`)).deliveries;
    await until(async () => (await listed('dead')).length === 2, 'both deliveries dead', 60_000);
    const dead = (await listed('dead')).find((d) => d.destination === 'ops');
    const gone = (await listed('dead')).find((d) => d.destination === 'gone');
    assert.equal(gone.attempts, 1, 'a 410 is not retried');
    const disabled = (await adminJson(w, '/v1/admin/deliveries')).disabled;
    assert.deepEqual(Object.keys(disabled), ['gone']);
    assert.equal(dead.visitor, lee.visitor);
    assert.equal(dead.attempts, ATTEMPTS_TO_DEAD);
    const calls = () => rx.requests.filter((c) => c.path === '/hook');
    assert.equal(calls().length, ATTEMPTS_TO_DEAD, 'one call per attempt');

    const { context, page, problems } = await signedIn(browser, w, '#/deliveries');
    try {
      const row = page.locator(`table.deliveries tr[data-delivery="${dead.id}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-status'), 'dead');
      assert.equal((await row.locator('td.status').textContent()).trim(), 'dead');
      assert.equal((await row.locator('td.attempts').textContent()).trim(), String(ATTEMPTS_TO_DEAD));
      assert.match(await row.textContent(), /audience\.entered/);
      assert.match(await row.textContent(), /500/);
      // The destination the 410 disabled, with the API's reason, and its delivery marked.
      const off = page.locator('ul.disabled li[data-destination="gone"]');
      await off.waitFor();
      assert.ok((await off.textContent()).includes(disabled.gone), `the reason shown: ${disabled.gone}`);
      await page.locator(`table.deliveries tr[data-delivery="${gone.id}"] .badge`, { hasText: 'disabled' }).waitFor();
      assert.equal(await row.locator('.badge').count(), 0, 'ops is not disabled');
      await page.screenshot({ path: join(SHOTS, 'deliveries.png'), fullPage: true });

      // The receiver recovers; Retry queues it again and the screen says so.
      recovered = true;
      await row.getByRole('button', { name: 'Retry' }).click();
      await page.locator('.notice.good', { hasText: `Delivery ${dead.id} to ops is pending again` }).waitFor();
      // Delivered: the Delivered tab lists it (refreshed until the consumer has reported).
      await page.getByRole('button', { name: 'delivered', exact: true }).click();
      const done = page.locator(`table.deliveries tr[data-delivery="${dead.id}"][data-status="delivered"]`);
      await until(async () => {
        if (await done.count()) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      }, 'the retried delivery shown as delivered', 30_000, 500);
      assert.equal((await done.locator('td.attempts').textContent()).trim(), String(ATTEMPTS_TO_DEAD + 1));

      // Retrying a delivered one is refused, and the screen says why.
      await page.getByRole('button', { name: 'dead', exact: true }).click();
      await page.locator(`table.deliveries tr[data-delivery="${gone.id}"]`).waitFor();
      assert.equal(await page.locator(`table.deliveries tr[data-delivery="${dead.id}"]`).count(), 0);
      const again = await admin(w, `/v1/admin/deliveries/${dead.id}/retry`, { method: 'POST' });
      assert.equal(again.status, 400);

      // Exactly one signed call per attempt, every one with the delivery's id as webhook-id.
      await quiet(async () => rx.requests.length, 'the receiver\'s calls', 2_000);
      assert.equal(calls().length, ATTEMPTS_TO_DEAD + 1);
      assert.deepEqual(calls().map((c) => c.answered), [...Array(ATTEMPTS_TO_DEAD).fill(500), 200]);
      assert.deepEqual([...new Set(calls().map((c) => c.headers['webhook-id']))], [dead.id]);
      assert.equal(rx.requests.filter((c) => c.path === '/gone').length, 1, 'the disabled destination is called no more');
      const secret = devSecret('WEBHOOK_SECRET');
      for (const c of calls()) {
        assert.ok(verifyWebhook(secret, c.headers, c.body), 'signed with the webhook secret');
        assert.equal(new Webhook(secret).verify(c.body, c.headers).id, dead.id, 'and verified by the Standard Webhooks library');
      }
      const body = JSON.parse(calls()[ATTEMPTS_TO_DEAD].body);
      assert.equal(body.type, 'audience.entered');
      assert.deepEqual(unexpected(problems), [], 'no errors in the page');
    } finally {
      await context.close();
    }
  });
});
