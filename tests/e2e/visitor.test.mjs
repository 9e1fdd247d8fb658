// A visitor's journeys through the demo site in real headless Chromium, against the server
// `make dev` runs: the built worker serving www/ in proxy mode on wrangler's local workerd,
// with its own local KV seeded with the default rules (started by tests/worker/harness.mjs on
// a free port). Each test is a new browser context, so a new visitor with an empty cookie jar
// and empty localStorage, and asserts both what the visitor sees in the DOM and what went over
// the wire. Requests are observed, never answered by the test; the one test that needs a page
// with the tag twice changes the real server's HTML on its way to the browser.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { startWorker, ROOT, PROFILE_KEYS } from '../worker/harness.mjs';
import { reissue } from '../worker/token.mjs';
import {
  HERO, launch, seen, waitForTier, waitForSnippet, pushState, profileCookie, until,
  quietMark, collectsSince, settle, journeys,
} from './browser.mjs';
import { decodeToken } from '../worker/token.mjs';

/** The profile's last activity (seconds since the epoch) and the visits it has seen. */
const readProfile = (token) => {
  const { lastSeen, visitsTotal } = decodeToken(token);
  return { lastSeen, visits: visitsTotal };
};

const SHOTS = join(ROOT, 'target', 'e2e');
const MINUTE = 60;

/** The response headers of a page the worker served. */
async function served(page, path) {
  const resp = await page.goto(path);
  assert.equal(resp.status(), 200, `GET ${path}`);
  return resp.headers();
}

/** Three `/pricing/` page loads: the default rules' "pricing viewed ≥ 3 times within 14 days". */
async function viewPricingThrice(page) {
  const tiers = [];
  for (let i = 0; i < 3; i++) tiers.push((await served(page, '/pricing/'))['x-intent-tier']);
  return tiers;
}


describe('a visitor in headless Chromium', () => {
  let w;
  let browser;

  before(async () => {
    [w, browser] = await Promise.all([startWorker(), launch()]);
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  const { visitor, journey } = journeys(() => ({ browser, w }), 80);


  test('a new visitor sees the researching hero', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    const headers = await served(page, '/');
    assert.equal(headers['x-intent-tier'], 'researching');
    await waitForSnippet(page);

    assert.deepEqual(await seen(page), { hero: HERO.homeResearching, tier: 'researching' });
    assert.equal(await page.locator('[data-intent-slot="hero"]').getAttribute('data-intent-filled'), null,
      'the page keeps its own hero');
    assert.equal(wire.to('/intent.js').length, 1, 'the loader was fetched');
    assert.equal(wire.to(/\/_intent\/.*\.wasm$/).length, 1, 'the tracker was fetched');
    await settle(wire);
    assert.deepEqual(wire.events('pageview'), [], 'the edge counted this page view itself; the snippet does not repeat it');
    await page.screenshot({ path: join(SHOTS, 'home-researching.png') });
  }));

  test('after three /pricing/ views the hero shows the ready variant', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    const tiers = await viewPricingThrice(page);
    assert.deepEqual(tiers, ['evaluating', 'evaluating', 'ready'], 'the tier of each page as served');
    assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
    assert.equal(await page.locator('html[data-intent-tier=ready]').count(), 1);
    // The views went over the wire as page loads, each carrying the cookie of the one before.
    const loads = wire.to('/pricing/').filter((r) => r.isNavigationRequest());
    assert.equal(loads.length, 3);
    assert.doesNotMatch((await loads[0].allHeaders()).cookie ?? '', /intent_profile=/);
    assert.match((await loads[2].allHeaders()).cookie ?? '', /intent_profile=/);
    assert.ok(await profileCookie(context), 'the profile is kept in the first-party cookie');

    // Every page shows the same visitor's tier.
    await served(page, '/');
    await waitForSnippet(page);
    assert.deepEqual(await seen(page), { hero: HERO.ready, tier: 'ready' });
    const cta = page.locator('[data-intent-slot="cta"]');
    assert.equal((await cta.textContent()).trim(), 'Book your demo');
    assert.equal(await cta.getAttribute('href'), '/book-a-demo/');
    await page.screenshot({ path: join(SHOTS, 'home-ready.png') });
  }));

  // Visits: a new visit starts after 30 minutes without activity. Rather than wait, the test
  // moves the visitor's saved token 31 minutes into the past, exactly as tests/worker does for
  // expiry: every time in a profile is stored relative to its last activity, so shifting that
  // one value (and re-signing with the dev key of .dev.vars) gives the token the visitor would
  // hold had they closed the browser 31 minutes ago. The visit count is read from the tokens
  // the worker itself issues (`decodeToken` of tests/worker/token.mjs).
  test('closing and reopening the browser keeps the visitor ready, and a return visit counts', journey(async () => {
    const first = await visitor();
    const page1 = await first.context.newPage();
    await viewPricingThrice(page1);
    assert.equal((await waitForTier(page1, 'ready')).tier, 'ready');
    const state = await first.context.storageState();
    const token = (await profileCookie(first.context));
    assert.ok(token, 'a profile cookie after three views');
    const before = readProfile(token);
    assert.equal(before.visits, 1, 'three page views in a row are one visit');
    await first.context.close();

    // Reopened at once: the same visit goes on.
    const again = await visitor({ storageState: state });
    const page2 = await again.context.newPage();
    const h2 = await served(page2, '/');
    assert.equal(h2['x-intent-tier'], 'ready');
    assert.equal(h2['x-intent-fresh'], undefined, 'the saved profile was accepted');
    assert.deepEqual(await seen(page2), { hero: HERO.ready, tier: 'ready' });
    assert.equal(readProfile(await profileCookie(again.context)).visits, 1, 'no gap, no new visit');
    await again.context.close();

    // Reopened after 31 idle minutes: a return visit.
    const shift = (t) => reissue(t, { keysSpec: PROFILE_KEYS, shiftSecs: -31 * MINUTE });
    const later = structuredClone(state);
    for (const c of later.cookies) if (c.name === 'intent_profile') c.value = shift(c.value);
    for (const o of later.origins) {
      for (const e of o.localStorage) if (e.name === 'intent_profile') e.value = shift(e.value);
    }
    const back = await visitor({ storageState: later });
    const page3 = await back.context.newPage();
    const h3 = await served(page3, '/');
    const sent = (await back.wire.to('/')[0].allHeaders()).cookie ?? '';
    assert.match(sent, /intent_profile=/, 'the reopened browser sent its saved profile');
    assert.equal(h3['x-intent-fresh'], undefined, 'the saved profile was accepted');
    assert.equal(h3['x-intent-tier'], 'ready');
    await waitForSnippet(page3);
    assert.deepEqual(await seen(page3), { hero: HERO.ready, tier: 'ready' });
    assert.equal(await page3.locator('html[data-intent-tier=ready]').count(), 1);
    const after = readProfile(await profileCookie(back.context));
    assert.equal(after.visits, before.visits + 1, 'the return visit was counted');
  }));

  test('a single-page navigation is counted as a page view by the edge', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    await served(page, '/');
    await waitForSnippet(page);
    assert.equal((await seen(page)).tier, 'researching');

    await pushState(page, '/pricing/');
    await until(async () => (await wire.collectAnswers()).length === 1, 'the answer to the navigation');
    const views = wire.events('pageview');
    assert.equal(views.length, 1, JSON.stringify(views));
    assert.equal(new URL(views[0].url).pathname, '/pricing/');
    const [answer] = await wire.collectAnswers();
    assert.equal(answer.tier, 'evaluating', 'the edge counted the view: pricing viewed within 30 days');
    assert.deepEqual(await waitForTier(page, 'evaluating'), { hero: HERO.evaluating, tier: 'evaluating' });

    // Two more pricing views by navigation make three: ready.
    const paths = ['/pricing/', '/product/', '/pricing/', '/product/', '/pricing/'];
    for (let i = 1; i < paths.length; i++) {
      await pushState(page, paths[i]);
      await until(() => wire.events('pageview').length === i + 1, `page view ${i + 1} sent`);
    }
    assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
    assert.deepEqual(wire.events('pageview').map((e) => new URL(e.url).pathname), paths);
    // The edge itself, asked with the visitor's cookie, agrees.
    const decided = await (await context.request.get('/v1/decide')).json();
    assert.equal(decided.tier, 'ready');
  }));

  test('with Global Privacy Control on, nothing is stored and nothing is sent', journey(async () => {
    const mark = await quietMark(w);
    const { context, wire } = await visitor({
      extraHTTPHeaders: { 'Sec-GPC': '1' },
      initScripts: [() => {
        Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
      }],
    });
    const page = await context.newPage();
    for (let i = 0; i < 3; i++) {
      assert.equal((await served(page, '/pricing/'))['x-intent-tracking'], 'off; gpc');
    }
    assert.equal(await page.evaluate(() => navigator.globalPrivacyControl), true);
    // What would otherwise be sent: a navigation and a custom event.
    await pushState(page, '/pricing/');
    await page.evaluate(() => window.intent('event', 'demo_request', {}));
    await settle(wire);

    for (const doc of wire.to('/pricing/')) assert.equal((await doc.allHeaders())['sec-gpc'], '1');
    assert.deepEqual(wire.to('/v1/collect').map((r) => r.method()), [], 'nothing sent to /v1/collect');
    assert.equal(wire.to(/\/_intent\//).length, 0, 'the tracker is not even downloaded');
    assert.equal(await profileCookie(context), null, 'no profile cookie');
    assert.equal(await page.evaluate(() => localStorage.getItem('intent_profile')), null, 'no token in localStorage');
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    const s = await seen(page);
    assert.equal(s.tier, 'researching');
    assert.notEqual(s.hero, HERO.ready);
    assert.notEqual(s.hero, HERO.evaluating);
    // Leaving the page is when a tracker sends its last beacon, which only the worker sees.
    await page.close({ runBeforeUnload: true });
    await context.close();
    await quietMark(w);
    assert.equal(collectsSince(w, mark), 0, 'the worker received no /v1/collect call');
  }));

  test('with JavaScript off, a proxied page carries its tier variant in the HTML', journey(async () => {
    const { context, wire } = await visitor({ javaScriptEnabled: false });
    const page = await context.newPage();
    const tiers = await viewPricingThrice(page);
    assert.deepEqual(tiers, ['evaluating', 'evaluating', 'ready']);
    assert.deepEqual(await seen(page), { hero: HERO.ready, tier: 'ready' });
    assert.equal(await page.locator('[data-intent-slot="hero"][data-intent-filled]').count(), 1,
      'the worker filled the slot');
    assert.equal(wire.to(/\/_intent\//).length, 0, 'no page script ran: the loader fetched no tracker');
    await served(page, '/');
    assert.deepEqual(await seen(page), { hero: HERO.ready, tier: 'ready' });
    assert.equal(wire.to('/v1/collect').length, 0, 'the page views were recorded from the page requests alone');
  }));

  test('calls queued before the tag loads are delivered', journey(async () => {
    const { context, wire } = await visitor({
      initScripts: [() => {
        window.intent = window.intent || function () { (intent.q = intent.q || []).push(arguments); };
        window.intent('event', 'demo_request', {});
      }],
    });
    const page = await context.newPage();
    const headers = await served(page, '/');
    assert.equal(headers['x-intent-tier'], 'researching', 'served before the event arrived');
    await until(async () => (await wire.collectAnswers()).length >= 1, 'an answer from /v1/collect');
    const [answer] = await wire.collectAnswers();
    assert.equal(answer.tier, 'ready', 'the demo_request rule');
    assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
    await settle(wire);
    const events = wire.events('event');
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].name, 'demo_request');
    // The edge recorded it: the next page is served ready.
    assert.equal((await served(page, '/product/'))['x-intent-tier'], 'ready');
  }));

  test('the book-a-demo form sends demo_request, then identifies the visitor', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    await served(page, '/book-a-demo/');
    await waitForSnippet(page);
    await page.fill('#demo-name', 'Jane Doe');
    await page.fill('#demo-email', ' Jane@Acme.com ');
    await page.selectOption('#demo-size', '51-200');
    await page.click('#demo-form button[type=submit]');
    await page.locator('#demo-thanks').waitFor({ state: 'visible' });

    // The request is counted first: identify waits for its answer and goes in a call of its own.
    await until(() => wire.events('identify').length === 1, 'the identify event');
    const bodies = wire.collectBodies();
    const first = bodies.findIndex((b) => b.events.some((e) => e.type === 'event'));
    const second = bodies.findIndex((b) => b.events.some((e) => e.type === 'identify'));
    assert.ok(first >= 0 && second > first, JSON.stringify(bodies));
    assert.deepEqual(bodies[first].events.find((e) => e.type === 'event'),
      { type: 'event', name: 'demo_request', props: { size: '51-200' } });
    assert.deepEqual(wire.events('identify'),
      [{ type: 'identify', email: 'Jane@Acme.com', traits: { company_size: '51-200' } }]);
    assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
    assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('@')), false,
      'the email is not stored in the browser');
  }));

  test('the tag included twice sends each event once', journey(async () => {
    const { context, wire } = await visitor();
    const TAG = '<script defer src="/intent.js" data-site="demo"></script>';
    // The real server's page, with its loader tag repeated (as a template and a tag manager
    // would both add it).
    await context.route((url) => url.pathname === '/', async (route) => {
      const resp = await route.fetch();
      const html = await resp.text();
      assert.ok(html.includes(TAG), 'the demo page has the tag');
      await route.fulfill({ response: resp, body: html.replace(TAG, `${TAG}\n${TAG}`) });
    });
    const page = await context.newPage();
    await served(page, '/');
    assert.equal(await page.locator('script[src="/intent.js"]').count(), 2, 'the page has the tag twice');
    await waitForSnippet(page);

    await pushState(page, '/pricing/');
    await until(async () => (await wire.collectAnswers()).length === 1, 'the answer to the navigation');
    await page.evaluate(() => window.intent('event', 'demo_request', {}));
    await waitForTier(page, 'ready');
    await settle(wire);

    assert.equal(wire.to(/\/_intent\/.*\.wasm$/).length, 1, 'the tracker was loaded once');
    const views = wire.events('pageview').map((e) => new URL(e.url).pathname);
    assert.deepEqual(views, ['/pricing/'], 'one page view for one navigation');
    const custom = wire.events('event').map((e) => e.name);
    assert.deepEqual(custom, ['demo_request'], 'one custom event for one call');
    assert.deepEqual(await seen(page), { hero: HERO.ready, tier: 'ready' });
  }));
});
