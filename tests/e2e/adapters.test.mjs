// The consent adapters end to end: the real worker with CONSENT=required in proxy mode in front
// of a site's origin, headless Chromium as the visitor, and each consent platform as a
// stand-in for its documented JavaScript API (tests/e2e/platforms.mjs). The origin is the demo
// site (www/) as a site running that platform would serve it: the platform's script first,
// then the tag with `data-consent="required" data-consent-from="..."`, and no banner of its
// own. `?cmp=<platform>` picks the platform, so one worker serves the four sites; the page
// groups only read the path.
//
// For each platform: before consent, no cookie but the choice, no localStorage entry, no call
// to the API and the default content; after accepting in the platform's banner, the profile
// starts from that page and three pricing views make the visitor `ready`; after withdrawing
// there, the edge's cookie and the token are gone at once and no call follows.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

import { ROOT, startWorker, freePort } from '../worker/harness.mjs';
import {
  HERO, launch, seen, waitForTier, waitForSnippet, profileCookie, until, settle, journeys,
} from './browser.mjs';
import { PLATFORMS } from './platforms.mjs';

const WWW = join(ROOT, 'www');
const TAG = '<script defer src="/intent.js" data-site="demo"></script>';
const BANNER = '<script defer src="/assets/consent-banner.js"></script>';
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.svg': 'image/svg+xml', '.js': 'text/javascript' };

/** A demo page as a site running `platform` serves it. */
function withPlatform(html, platform) {
  const { from, script } = PLATFORMS[platform];
  if (!html.includes(TAG)) throw new Error(`the demo page has no ${TAG}`);
  return html
    .replace(BANNER, '')
    .replace(TAG, `<script>${script}</script>\n  <script defer src="/intent.js" data-site="demo" data-consent="required" data-consent-from="${from}"></script>`);
}

/** The site's origin: www/ as files, its pages with the platform `?cmp=` names. */
function startOrigin(port) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://origin');
    let file = join(WWW, decodeURIComponent(url.pathname));
    if (file.startsWith(WWW) && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(WWW) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    let body = readFileSync(file);
    const platform = url.searchParams.get('cmp');
    if (type.startsWith('text/html') && PLATFORMS[platform]) body = withPlatform(body.toString('utf8'), platform);
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(server)));
}

/** What the visitor's browser holds of Intent Edge: its cookies and its localStorage keys. */
async function stored(context, page) {
  const cookies = Object.fromEntries((await context.cookies())
    .filter((c) => c.name.startsWith('intent_')).map((c) => [c.name, c.value]));
  const local = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('intent_')));
  return { cookies, local };
}

const api = (wire) => wire.to(/^\/v1\//);
const consentCookie = async (context) => (await context.cookies()).find((c) => c.name === 'intent_consent')?.value ?? null;

describe('consent platforms against the real worker (CONSENT=required, proxy mode)', () => {
  let w;
  let origin;
  let browser;

  before(async () => {
    const port = await freePort();
    origin = await startOrigin(port);
    [w, browser] = await Promise.all([
      startWorker({ vars: { CONSENT: 'required', ORIGIN: `http://127.0.0.1:${port}` } }),
      launch(),
    ]);
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
    await new Promise((r) => (origin ? origin.close(r) : r()));
  });

  const { visitor, journey } = journeys(() => ({ browser, w }));

  for (const name of Object.keys(PLATFORMS)) {
    test(`${name}: nothing before consent, ready after three pricing views, nothing once withdrawn`, journey(async () => {
      const { context, wire } = await visitor();
      const page = await context.newPage();
      const pricing = `/pricing/?cmp=${name}`;

      // The platform says the visitor has not accepted (yet): the adapter records the choice,
      // and that cookie is all the device holds. Nothing the visitor does is sent.
      const first = await page.goto(pricing);
      assert.equal(first.headers()['x-intent-tracking'], 'off; no-consent');
      assert.equal(first.headers()['set-cookie'] ?? null, null);
      await waitForSnippet(page);
      await until(async () => (await consentCookie(context)) === 'denied', 'the adapter to record the choice');
      assert.equal(wire.to('/_intent/consent.js').length, 1, 'the adapter was loaded');
      await page.evaluate(() => {
        window.intent('event', 'before_consent');
        history.pushState({}, '', '/pricing/?cmp=again');
      });
      await settle(wire);
      assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });
      assert.deepEqual(api(wire).map((r) => r.url()), [], 'no call to the API before consent');
      const defaults = await seen(page);
      assert.equal(defaults.tier, null);
      assert.ok(![HERO.evaluating, HERO.ready].includes(defaults.hero), `the default hero, not ${defaults.hero}`);

      // Accepted in the platform's banner: the profile starts with this page's view.
      await page.evaluate(() => window.cmp.choose(true));
      assert.deepEqual(await waitForTier(page, 'evaluating'), { hero: HERO.evaluating, tier: 'evaluating' });
      assert.equal(await consentCookie(context), 'granted');
      await until(async () => (await profileCookie(context)) !== null, "the edge's profile cookie");
      assert.deepEqual(wire.events().map((e) => e.type), ['pageview']);

      // Two more pricing pages, which the edge records and personalises from the first byte.
      assert.equal((await page.goto(pricing)).headers()['x-intent-tier'], 'evaluating');
      const third = await page.goto(pricing);
      assert.equal(third.headers()['x-intent-tier'], 'ready');
      assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
      await waitForSnippet(page);

      // Withdrawn in the platform's preference centre: the edge's cookie and the token go at
      // once, and nothing more is sent, on this page or the next.
      await page.evaluate(() => window.cmp.choose(false));
      await until(async () => (await profileCookie(context)) === null, "the edge's profile cookie to be deleted");
      await settle(wire);
      assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });
      const calls = api(wire).length;
      await page.evaluate(() => window.intent('event', 'after_withdrawal'));

      const next = await page.goto(pricing);
      assert.equal(next.headers()['x-intent-tracking'], 'off; consent-denied');
      assert.equal(next.headers()['set-cookie'] ?? null, null, 'no cookie to delete any more');
      await waitForSnippet(page);
      assert.deepEqual(await seen(page), defaults);
      await settle(wire);
      assert.deepEqual(api(wire).slice(calls).map((r) => r.url()), [], 'no call after withdrawing');
      assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });
    }));
  }

  test('withdrawing on the page that granted deletes the cookie the edge had just set', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    await page.goto('/pricing/?cmp=onetrust');
    await waitForSnippet(page);
    await until(async () => (await consentCookie(context)) === 'denied', 'the adapter to record the choice');

    await page.evaluate(() => window.cmp.choose(true));
    await waitForTier(page, 'evaluating');
    await until(async () => (await profileCookie(context)) !== null, "the edge's profile cookie");

    // Same page, no navigation in between: the snippet recorded this page's view itself.
    await page.evaluate(() => window.cmp.choose(false));
    await until(async () => (await profileCookie(context)) === null, "the edge's profile cookie to be deleted");
    await settle(wire);
    assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });
    assert.deepEqual(wire.to('/v1/collect').length, 1);
  }));
});
