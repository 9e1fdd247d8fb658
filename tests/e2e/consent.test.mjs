// Consent end to end in headless Chromium: the demo site served by the real worker with
// CONSENT=required (the worker marks the pages' tags `data-consent="required"`, which shows the
// demo's own banner). Declining keeps the default content and stores nothing (checked in the
// browser's cookies, its localStorage and the network log); accepting personalises, and three
// pricing views make the visitor `ready`; withdrawing removes the cookie and the token at once.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker } from '../worker/harness.mjs';
import {
  HERO, launch, seen, waitForTier, waitForSnippet, profileCookie, until, quietMark, collectsSince,
  settle, journeys,
} from './browser.mjs';

/** What the visitor's browser holds of Intent Edge: its cookies and its localStorage keys. */
async function stored(context, page) {
  const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c.value]));
  const local = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('intent_')));
  return { cookies, local };
}

describe('CONSENT=required in headless Chromium', () => {
  let w;
  let browser;

  before(async () => {
    [w, browser] = await Promise.all([startWorker({ vars: { CONSENT: 'required' } }), launch()]);
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  const { visitor, journey } = journeys(() => ({ browser, w }));

  test('declining keeps the default content and stores nothing', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    const resp = await page.goto('/pricing/');
    assert.equal(resp.headers()['x-intent-tracking'], 'off; no-consent');
    await waitForSnippet(page);
    const banner = page.locator('.consent-banner');
    await banner.waitFor({ state: 'visible' });
    assert.deepEqual(await seen(page), { hero: (await seen(page)).hero, tier: null });
    assert.notEqual((await seen(page)).hero, HERO.evaluating);

    await page.click('[data-consent-choice="denied"]');
    await banner.waitFor({ state: 'hidden' });
    for (let i = 0; i < 2; i++) {
      const again = await page.goto('/pricing/');
      assert.equal(again.headers()['x-intent-tracking'], 'off; consent-denied');
      assert.equal(await page.locator('.consent-banner').isVisible(), false, 'the choice is remembered');
    }
    await settle(wire);
    assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });
    assert.deepEqual(wire.to('/v1/collect').map((r) => r.method()), [], 'nothing was sent to /v1/collect');
    for (const r of wire.to('/v1/decide')) {
      assert.equal((await r.response())?.headers()['set-cookie'] ?? null, null);
    }
    const s = await seen(page);
    assert.equal(s.tier, null);
    assert.notEqual(s.hero, HERO.evaluating);
  }));

  test('accepting personalises, three pricing views make the visitor ready, withdrawing removes cookie and token', journey(async () => {
    const { context, wire } = await visitor();
    const page = await context.newPage();
    await page.goto('/pricing/');
    await waitForSnippet(page);
    await page.locator('.consent-banner').waitFor({ state: 'visible' });
    assert.equal(await profileCookie(context), null);

    // Accepting: the snippet sends this page's view, and the page shows the answer's variants.
    await page.click('[data-consent-choice="granted"]');
    assert.deepEqual(await waitForTier(page, 'evaluating'), { hero: HERO.evaluating, tier: 'evaluating' });
    assert.equal(wire.to('/v1/collect').length >= 1, true);
    await until(async () => (await profileCookie(context)) !== null, 'the profile cookie');

    // Two more pricing pages, which the edge records and personalises itself.
    assert.equal((await page.goto('/pricing/')).headers()['x-intent-tier'], 'evaluating');
    const third = await page.goto('/pricing/');
    assert.equal(third.headers()['x-intent-tier'], 'ready');
    assert.deepEqual(await waitForTier(page, 'ready'), { hero: HERO.ready, tier: 'ready' });
    await waitForSnippet(page);

    // Withdrawing, from the footer's "Privacy choices".
    await page.click('.consent-reopen');
    await page.click('[data-consent-choice="denied"]');
    await until(async () => (await profileCookie(context)) === null, 'the profile cookie to be deleted');
    await until(async () => (await stored(context, page)).local.length === 0, 'the token to be removed');
    await settle(wire);
    const collects = wire.to('/v1/collect').length;
    assert.deepEqual(await stored(context, page), { cookies: { intent_consent: 'denied' }, local: [] });

    const after = await page.goto('/pricing/');
    assert.equal(after.headers()['x-intent-tracking'], 'off; consent-denied');
    assert.deepEqual(after.headers()['set-cookie'] ?? null, null, 'no cookie to delete any more');
    const s = await seen(page);
    assert.equal(s.tier, null);
    assert.notEqual(s.hero, HERO.ready);
    await settle(wire);
    assert.equal(wire.to('/v1/collect').length, collects, 'no more calls after withdrawing');
  }));

  // Regression: the page consent was granted on is not proxied (the edge served it without a
  // tier), yet the edge keeps the token in its cookie. Its last events used to wait in the
  // outbox for the next page, which sent them with the cookie as it was; a third page
  // requested before that answer had its recorded view overwritten by the older profile, and
  // the visitor went back from `ready` to `evaluating`. They now leave by beacon at `pagehide`.
  test('regression: the consenting page leaves its last events by beacon, not the outbox', journey(async () => {
    const { context, wire } = await visitor();
    await context.addInitScript(() => {
      window.outboxAtStart = localStorage.getItem('intent_outbox');
    });
    const page = await context.newPage();
    await page.goto('/pricing/');
    await waitForSnippet(page);
    await page.click('[data-consent-choice="granted"]');
    await waitForTier(page, 'evaluating');
    // Long enough for the engagement report the page sends when it is left.
    await page.waitForTimeout(1500);
    await settle(wire);
    const mark = await quietMark(w);
    const fetched = wire.to('/v1/collect').length;

    // The beacon goes out as the page is left, so only the worker's log sees it; the next
    // page, which the edge recorded, sends nothing of its own.
    await page.goto('/pricing/');
    assert.equal(await page.evaluate(() => window.outboxAtStart), null, 'nothing was left in the outbox');
    await settle(wire);
    await quietMark(w);
    assert.equal(collectsSince(w, mark), 1, 'one beacon with the consenting page\'s last events');
    assert.equal(wire.to('/v1/collect').length, fetched, 'the next page sent nothing of its own');

    const third = await page.goto('/pricing/');
    assert.equal(third.headers()['x-intent-tier'], 'ready');
    await settle(wire);
    assert.equal((await seen(page)).tier, 'ready', 'no older profile came back');
  }));
});
