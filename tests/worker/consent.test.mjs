// Consent at the edge (docs/PRIVACY.md, "Consent"): a site with CONSENT=required records and
// stores nothing for a visitor without the snippet's consent cookie `intent_consent=granted`,
// proxy-mode pages included with JavaScript off; `intent_consent=denied` deletes the profile
// cookie under either setting. The browser side of the same journey is tests/e2e/consent.test.mjs.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, CookieJar, collect, views } from './harness.mjs';

const READY_HERO = '<h1>Your forecast, live in two weeks</h1>';
const EVALUATING_HERO = '<h1>See why finance teams switch to Ledgerly</h1>';
const SNIPPET_ORIGIN = 'https://www.acme.test';

function slot(html, name) {
  const m = html.match(new RegExp(`<[a-z]+ [^>]*data-intent-slot="${name}"[^>]*>[\\s\\S]*?</(div|a)>`));
  return m ? m[0] : null;
}

const profileCookies = (r) => r.headers.getSetCookie().filter((c) => c.startsWith('intent_profile='));

describe('CONSENT=required', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ vars: { CONSENT: 'required', ALLOWED_ORIGINS: SNIPPET_ORIGIN } }); });
  after(async () => { await w?.stop(); });

  test('without consent a page sets no cookie, shows the default content and no tier', logged(async () => {
    const r = await fetch(`${w.url}/pricing/`);
    const html = await r.text();
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers.getSetCookie(), []);
    assert.equal(r.headers.get('x-intent-tracking'), 'off; no-consent');
    assert.equal(r.headers.get('x-intent-tier'), null);
    assert.doesNotMatch(html, /data-intent-tier/);
    assert.ok(!slot(html, 'hero').includes(EVALUATING_HERO), slot(html, 'hero'));
    // The page's tag (and any tag the worker adds) tells the snippet to wait for consent.
    const tags = html.match(/<script[^>]*intent\.js[^>]*>/g);
    assert.equal(tags.length, 1, html);
    assert.match(tags[0], /data-consent="required"/);
  }));

  test('with intent_consent=granted the visitor is tracked, and a profile cookie without it is ignored', logged(async () => {
    const jar = new CookieJar();
    jar.cookies.set('intent_consent', 'granted');
    const first = await jar.get(`${w.url}/pricing/`);
    assert.equal(first.headers.get('x-intent-tier'), 'evaluating');
    assert.match(first.text, /<html[^>]*data-intent-tier="evaluating"/);
    assert.ok(slot(first.text, 'hero').includes(EVALUATING_HERO));
    const profile = jar.cookies.get('intent_profile');
    assert.ok(profile, 'the profile cookie is set once consent is granted');

    // The consent cookie gone (cleared by the visitor, expired): the profile cookie is neither
    // read, nor renewed, nor deleted, and nothing the visitor does is recorded.
    const noConsent = { cookie: `intent_profile=${profile}` };
    for (let i = 0; i < 3; i++) {
      const page = await fetch(`${w.url}/pricing/`, { headers: noConsent });
      const html = await page.text();
      assert.deepEqual(page.headers.getSetCookie(), []);
      assert.equal(page.headers.get('x-intent-tracking'), 'off; no-consent');
      assert.doesNotMatch(html, /data-intent-tier/);
      assert.ok(!slot(html, 'hero').includes(EVALUATING_HERO));
    }
    const c = await collect(w.url, { site: 'demo', profile, events: views('/pricing/', 5) }, noConsent);
    assert.equal(c.status, 200);
    assert.equal(c.body.profile, null);
    assert.equal(c.headers.get('x-intent-tracking'), 'off; no-consent');
    assert.deepEqual(profileCookies(c), []);
    const d = await fetch(`${w.url}/v1/decide`, { headers: noConsent });
    const dj = await d.json();
    assert.equal(dj.profile, null);
    assert.equal(dj.tier, 'researching');
    assert.deepEqual(d.headers.getSetCookie(), []);

    // Consent again: the profile is as it was after the one recorded view.
    const again = await fetch(`${w.url}/v1/decide`, { headers: { cookie: `intent_profile=${profile}; intent_consent=granted` } });
    assert.equal((await again.json()).tier, 'evaluating');
    await jar.get(`${w.url}/pricing/`);
    const third = await jar.get(`${w.url}/pricing/`);
    assert.equal(third.headers.get('x-intent-tier'), 'ready');
    assert.ok(slot(third.text, 'hero').includes(READY_HERO));
  }));

  test('intent_consent=denied deletes the profile cookie, on pages and on /v1/decide', logged(async () => {
    const jar = new CookieJar();
    jar.cookies.set('intent_consent', 'granted');
    await jar.get(`${w.url}/pricing/`);
    const profile = jar.cookies.get('intent_profile');
    assert.ok(profile);
    for (const path of ['/pricing/', '/v1/decide']) {
      const r = await fetch(`${w.url}${path}`, { headers: { cookie: `intent_profile=${profile}; intent_consent=denied` } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-intent-tracking'), 'off; consent-denied');
      const cleared = profileCookies(r);
      assert.equal(cleared.length, 1, path);
      assert.match(cleared[0], /^intent_profile=; .*Max-Age=0/);
      await r.text();
    }
  }));

  test('cross-origin (snippet mode) a collect call is itself the evidence of consent', logged(async () => {
    const headers = { origin: SNIPPET_ORIGIN };
    const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/', 3) }, headers);
    assert.equal(c.status, 200);
    assert.equal(c.body.tier, 'ready');
    assert.ok(c.body.profile);
    // The same call from the site's own origin, without the consent cookie, records nothing.
    const same = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/', 3) });
    assert.equal(same.body.profile, null);
    assert.equal(same.body.tier, 'researching');
  }));
});

describe('CONSENT=implied (the default)', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('pages are tracked without a consent cookie, and the tag asks for none', logged(async () => {
    const r = await fetch(`${w.url}/pricing/`);
    const html = await r.text();
    assert.equal(profileCookies(r).length, 1);
    assert.match(html, /<html[^>]*data-intent-tier="evaluating"/);
    assert.doesNotMatch(html, /data-consent=/);
  }));

  test('intent_consent=denied deletes the profile cookie and records nothing, as GPC', logged(async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 3; i++) await jar.get(`${w.url}/pricing/`);
    assert.ok(jar.cookies.get('intent_profile'));
    jar.cookies.set('intent_consent', 'denied');
    const r = await jar.get(`${w.url}/pricing/`);
    assert.equal(r.headers.get('x-intent-tracking'), 'off; consent-denied');
    assert.ok(!slot(r.text, 'hero').includes(READY_HERO));
    assert.equal(jar.cookies.get('intent_profile'), undefined, 'the cookie was cleared');
  }));
});
