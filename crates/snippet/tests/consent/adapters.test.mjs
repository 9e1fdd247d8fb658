// Consent in a real headless Chromium, with the built snippet (dist/snippet: loader, glue, wasm
// and the consent adapters) as a visitor's browser gets it: a site that requires consent and
// takes the visitor's choice from its consent platform. Each platform is a stand-in page
// script with the platform's documented JavaScript API and events (tests/e2e/platforms.mjs,
// shared with tests/e2e/adapters.test.mjs, the same against the real worker); the edge is a fake
// /v1/collect on the same server, reached under another host name (`localhost` for pages
// served as `127.0.0.1`): snippet mode as most sites deploy it, the edge on another origin,
// where the token lives in localStorage alone. For each: before consent nothing is stored and nothing is
// sent; accepting starts the profile; withdrawing deletes the token at once and stops the
// calls; the next page starts from the recorded choice. Then the demo site's own banner, as
// `CONSENT=required` builds it.
//
// Run by `make test-snippet` (Node 22, playwright-core, Debian's Chromium).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch, newVisitor, waitForSnippet, until } from '../../../../tests/e2e/browser.mjs';
import { PLATFORMS } from '../../../../tests/e2e/platforms.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The fake edge's answer: a tier with a variant, so a started profile shows on the page. */
const answer = (n) => ({
  profile: `tok-${n}`, visitor: 'v-1', tier: 'ready', segments: ['hot'],
  variants: { hero: { html: '<h1>Ready hero</h1>' } },
});

/** A stand-in page of platform `name`, its tag loaded from the edge at `edge`. */
function platformPage(name, edge) {
  const { from, script } = PLATFORMS[name];
  return `<!doctype html><html><head><title>${name}</title>
<script>${script}</script>
<script defer src="${edge}/intent.js" data-site="demo" data-consent="required" data-consent-from="${from}"></script>
</head><body>
<div data-intent-slot="hero"><h1>Default hero</h1></div>
<button data-intent-track="plan-pro">Pro</button>
</body></html>`;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves the demo site built with CONSENT=required (dist/snippet included), the stand-in
 * pages under /cmp/, and a fake /v1/collect and /v1/decide, to pages of any origin. */
function serve(site) {
  let calls = 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
    if (path === '/v1/collect' || path === '/v1/decide') {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer(path === '/v1/collect' ? ++calls : calls)));
      });
      return;
    }
    const cmp = path.match(/^\/cmp\/(\w+)\.html$/);
    if (cmp && PLATFORMS[cmp[1]]) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(platformPage(cmp[1], `http://localhost:${server.address().port}`));
      return;
    }
    let file = join(site, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(site) || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  // Each test starts counting the fake edge's tokens from 1.
  server.reset = () => { calls = 0; };
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Counts, in the page and as they happen, the calls the snippet makes to /v1/collect. */
function countCollects() {
  window.__collects = 0;
  const fetch = window.fetch;
  window.fetch = function (url, init) {
    if (String(url).endsWith('/v1/collect')) window.__collects++;
    return fetch.apply(this, arguments);
  };
  const beacon = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (url, body) => {
    if (String(url).endsWith('/v1/collect')) window.__collects++;
    return beacon(url, body);
  };
}

/** What the device holds and what the page shows. */
const state = (page) => page.evaluate(() => ({
  consent: (document.cookie.match(/(?:^|; )intent_consent=([^;]*)/) || [])[1] ?? null,
  stored: Object.keys(localStorage).sort(),
  token: localStorage.getItem('intent_profile'),
  tier: document.documentElement.getAttribute('data-intent-tier'),
  hero: document.querySelector('[data-intent-slot="hero"] h1')?.textContent ?? null,
  collects: window.__collects,
}));

describe('consent in headless Chromium', () => {
  let browser;
  let server;
  let base;
  let site;

  before(async () => {
    for (const f of ['intent.js', '_intent/intent_snippet.js', '_intent/intent_snippet_bg.wasm', '_intent/consent.js']) {
      assert.ok(existsSync(join(ROOT, 'dist/snippet', f)), `dist/snippet/${f}: run scripts/build-snippet.sh`);
    }
    site = mkdtempSync(join(tmpdir(), 'intent-consent-site-'));
    execFileSync(join(ROOT, 'scripts/build-site.sh'), {
      env: { ...process.env, CONSENT: 'required', SITE_OUT: join(site, 'site') },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    site = join(site, 'site');
    [browser, server] = await Promise.all([launch(), serve(site)]);
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    await browser?.close();
    server?.close();
    if (site) rmSync(dirname(site), { recursive: true, force: true });
  });

  for (const name of Object.keys(PLATFORMS)) {
    test(`${name}: nothing before consent, a profile after, nothing once withdrawn`, async () => {
      server.reset();
      const { context, wire } = await newVisitor(browser, base, { initScripts: [countCollects] });
      try {
        const page = await context.newPage();
        const consented = (want) => until(async () => (await state(page)).consent === want, `intent_consent=${want}`);

        // The platform says the visitor has not accepted: nothing stored, nothing sent.
        await page.goto(`/cmp/${name}.html`);
        await waitForSnippet(page);
        await consented('denied');
        await page.click('[data-intent-track]');
        await page.evaluate(() => { window.intent('event', 'before_consent'); history.pushState({}, '', '?b'); });
        assert.deepEqual(await state(page),
          { consent: 'denied', stored: [], token: null, tier: null, hero: 'Default hero', collects: 0 });
        assert.equal(wire.to('/v1/collect').length, 0);
        assert.equal(wire.to('/_intent/consent.js').length, 1, 'the adapter was loaded');

        // Accepted in the platform's banner: the profile starts with this page's view.
        await page.evaluate(() => window.cmp.choose(true));
        await until(async () => (await state(page)).token === 'tok-1', 'the first answer');
        assert.deepEqual(await state(page),
          { consent: 'granted', stored: ['intent_profile'], token: 'tok-1', tier: 'ready', hero: 'Ready hero', collects: 1 });
        assert.deepEqual(wire.events().map((e) => e.type), ['pageview']);

        // Withdrawn: the token goes at once, the page shows its own content, no more calls.
        await page.evaluate(() => window.cmp.choose(false));
        await page.click('[data-intent-track]');
        await page.evaluate(() => { window.intent('event', 'after_withdrawal'); history.pushState({}, '', '?c'); });
        assert.deepEqual(await state(page),
          { consent: 'denied', stored: [], token: null, tier: null, hero: 'Default hero', collects: 1 });

        // The next page starts from the recorded choice: still nothing...
        await page.goto(`/cmp/${name}.html`);
        await waitForSnippet(page);
        await page.evaluate(() => window.intent('event', 'next_page'));
        assert.deepEqual(await state(page),
          { consent: 'denied', stored: [], token: null, tier: null, hero: 'Default hero', collects: 0 });
        // ... until the visitor accepts again; and the page after that is tracked at once.
        await page.evaluate(() => window.cmp.choose(true));
        await until(async () => (await state(page)).token === 'tok-2', 'the answer after accepting again');
        await page.goto(`/cmp/${name}.html`);
        await until(async () => (await state(page)).token === 'tok-3', 'the answer on the next page');
        assert.deepEqual(await state(page),
          { consent: 'granted', stored: ['intent_profile'], token: 'tok-3', tier: 'ready', hero: 'Ready hero', collects: 1 });
        assert.deepEqual(wire.collectBodies().map((b) => b.profile), [null, null, 'tok-2']);
      } catch (err) {
        err.message += `\n${wire.summary()}`;
        throw err;
      } finally {
        await context.close();
      }
    });
  }

  test('the demo site built with CONSENT=required asks with its own banner', async () => {
    server.reset();
    const { context, wire } = await newVisitor(browser, base, { initScripts: [countCollects] });
    try {
      const page = await context.newPage();
      await page.goto('/pricing/');
      await waitForSnippet(page);
      const banner = page.locator('.consent-banner');
      await banner.waitFor({ state: 'visible' });
      const before = await state(page);
      assert.equal(before.consent, null);
      assert.deepEqual(before.stored, []);
      assert.equal(before.collects, 0);

      await page.click('[data-consent-choice="denied"]');
      await banner.waitFor({ state: 'hidden' });
      assert.equal((await state(page)).consent, 'denied');
      await page.goto('/product/');
      await waitForSnippet(page);
      assert.equal(await banner.isVisible(), false, 'the choice is remembered');
      assert.deepEqual((await state(page)).stored, []);

      // Changing one's mind from the footer.
      await page.click('.consent-reopen');
      await page.click('[data-consent-choice="granted"]');
      await until(async () => (await state(page)).token === 'tok-1', 'the first answer');
      const after = await state(page);
      assert.equal(after.consent, 'granted');
      assert.equal(after.tier, 'ready');
      assert.equal(wire.to('/v1/collect').length, 1);
      assert.equal(wire.events()[0].type, 'pageview');
      assert.equal(new URL(wire.events()[0].url).pathname, '/product/');
    } catch (err) {
      err.message += `\n${wire.summary()}`;
      throw err;
    } finally {
      await context.close();
    }
  });
});
