// Editing the rules keeps visitors' intent (issue 12), and every tracked visitor has a random id
// (issue 14), on the real worker. The isolate cache is off (RULES_CACHE_SECONDS=0) so that each
// request sees KV as it is now.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startWorker, withLog, collect, decide, journey, views, CookieJar, ROOT, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';
import { decodeToken } from './token.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** The default rules plus a `webinar` page group and a segment that uses it. */
const WEBINAR = readFileSync(join(ROOT, 'examples/rules/webinar.json'), 'utf8');
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
/** A visitor id: 96 random bits as 16 base64url characters. */
const ID = /^[A-Za-z0-9_-]{16}$/;

async function admin(base, method, path, body, headers = {}) {
  const r = await fetch(`${base}${path}`, { method, headers: { ...auth, ...headers }, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json };
}

const publish = (base, text) => admin(base, 'PUT', '/v1/admin/rules', text);

describe('publishing rules that track one thing more', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ vars: { RULES_CACHE_SECONDS: '0' } }); });
  after(async () => { await w?.stop(); });

  test('a visitor with two pricing views becomes ready on the third, with nothing discarded', logged(async () => {
    const [, second] = await journey(w.url, [views('/pricing'), views('/pricing/enterprise')]);
    assert.equal(second.tier, 'evaluating');
    assert.match(second.visitor, ID);

    const put = await publish(w.url, WEBINAR);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.match(put.body.id, /^2026-12-webinar@/);
    assert.match(put.body.previous, /^default@/);
    assert.equal(
      put.body.profiles.summary,
      'keeps `pricing`, `demo`, the `demo_request` event, `compare`, `customers`, `product`, visits and last activity; starts `webinar` empty',
    );
    assert.deepEqual(put.body.profiles.started, ['`webinar`']);

    const third = await collect(w.url, { site: 'demo', profile: second.profile, events: views('/pricing') });
    assert.equal(third.status, 200);
    assert.equal(third.body.fresh, undefined, JSON.stringify(third.body));
    assert.equal(third.headers.get('x-intent-fresh'), null);
    assert.equal(third.body.tier, 'ready');
    assert.equal(third.headers.get('x-intent-rules'), put.body.id);
    assert.equal(third.body.visitor, second.visitor, 'the visitor keeps their id');
    // What only the new rules track starts empty, and counts from now on.
    const webinar = await collect(w.url, { site: 'demo', profile: third.body.profile, events: views('/webinar/q4') });
    assert.deepEqual(webinar.body.segments, ['webinar-attendee']);

    const back = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
  }));

  test('the same in proxy mode: the cookie is carried over', logged(async () => {
    const jar = new CookieJar();
    const headers = { 'user-agent': CHROME };
    for (const path of ['/pricing/', '/pricing/']) {
      const page = await jar.get(`${w.url}${path}`, headers);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('x-intent-tier'), 'evaluating');
    }
    const before = decodeToken(jar.cookies.get('intent_profile'));
    assert.match(before.visitor, ID);

    const put = await publish(w.url, WEBINAR);
    assert.equal(put.status, 200, JSON.stringify(put.body));

    const page = await jar.get(`${w.url}/pricing/`, headers);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-intent-fresh'), null);
    assert.equal(page.headers.get('x-intent-tier'), 'ready');
    assert.equal(page.headers.get('x-intent-rules'), put.body.id);
    assert.match(page.text, /<html[^>]*data-intent-tier="ready"/);
    const after = decodeToken(jar.cookies.get('intent_profile'));
    assert.equal(after.visitor, before.visitor);
    assert.notEqual(after.fingerprint, before.fingerprint, 'the new cookie is in the new rules\' shape');

    const back = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
  }));

  test('tokens of any kept version carry over, also after a rollback', logged(async () => {
    // Made under the defaults; then two publishes and a rollback to the second.
    const [a] = await journey(w.url, [views('/pricing', 2)]);
    const stricter = JSON.parse(DEFAULT_RULES);
    stricter.revision = 'stricter';
    stricter.tiers[0].when.any[0].viewed.at_least = 4;
    assert.equal((await publish(w.url, JSON.stringify(stricter))).status, 200);
    assert.equal((await publish(w.url, WEBINAR)).status, 200);
    const back = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.match(back.body.id, /^stricter@/);
    // The defaults' token, two versions ago: pricing ×2 kept, the fourth view makes them ready.
    const c = await collect(w.url, { site: 'demo', profile: a.profile, events: views('/pricing', 2) });
    assert.equal(c.body.fresh, undefined, JSON.stringify(c.body));
    assert.equal(c.body.tier, 'ready');
    assert.equal(c.body.visitor, a.visitor);
    const again = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.match(again.body.id, /^default@/);
  }));

  test('a token made under rules written to KV directly (no history) still starts fresh, and says why', logged(async () => {
    const other = JSON.parse(DEFAULT_RULES);
    other.revision = 'direct';
    other.page_groups.security = ['/security*'];
    other.tiers[1].when.any.push({ viewed: { group: 'security', within: '30d' } });
    await w.putKv('rules', JSON.stringify(other));
    const [a] = await journey(w.url, [views('/security')]);
    assert.equal(a.tier, 'evaluating');
    await w.putKv('rules', DEFAULT_RULES);
    const c = await collect(w.url, { site: 'demo', profile: a.profile, events: views('/blog/x') });
    assert.equal(c.body.fresh, 'other-rules');
    assert.equal(c.body.tier, 'researching');
  }));
});

describe('the visitor id', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('is made at the first collect, kept in the token and returned by collect and decide', logged(async () => {
    const [first, second] = await journey(w.url, [views('/'), views('/product')]);
    assert.match(first.visitor, ID);
    assert.equal(second.visitor, first.visitor);
    assert.equal(decodeToken(second.profile).visitor, first.visitor);
    const d = await decide(w.url, { profile: second.profile });
    assert.equal(d.status, 200);
    assert.equal(d.body.visitor, first.visitor);
    const [other] = await journey(w.url, [views('/')]);
    assert.match(other.visitor, ID);
    assert.notEqual(other.visitor, first.visitor, 'two visitors, two ids');
  }));

  test('a call that records nothing makes no id; the first that records something does', logged(async () => {
    // A call without events keeps the visitor as they were (issue 20.11): a new visitor gets
    // neither a token nor an id. (A token without an id, as older formats carry, gains one on
    // its next recording call: the engine's tests hold `process` to that.)
    const empty = await collect(w.url, { site: 'demo', profile: null, events: [] });
    assert.equal(empty.status, 200);
    assert.equal(empty.body.visitor, null, 'a call that records nothing makes no id');
    assert.equal(empty.body.profile, null);
    const d = await decide(w.url, {});
    assert.equal(d.body.visitor, null);
    const next = await collect(w.url, { site: 'demo', profile: null, events: views('/') });
    assert.match(next.body.visitor, ID);
    assert.equal(decodeToken(next.body.profile).visitor, next.body.visitor);
  }));

  test('in proxy mode the cookie carries it, and the snippet\'s collect answers it', logged(async () => {
    const jar = new CookieJar();
    await jar.get(`${w.url}/`, { 'user-agent': CHROME });
    const cookie = jar.cookies.get('intent_profile');
    const id = decodeToken(cookie).visitor;
    assert.match(id, ID);
    const c = await collect(w.url, { site: 'demo', profile: null, events: [{ type: 'event', name: 'newsletter' }] }, { cookie: jar.header() });
    assert.equal(c.body.visitor, id);
  }));

  test('none under GPC, DNT or for a crawler', logged(async () => {
    for (const headers of [{ 'sec-gpc': '1' }, { dnt: '1' }, { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }]) {
      const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, headers);
      assert.equal(c.status, 200);
      assert.equal(c.body.visitor, null, JSON.stringify(headers));
      assert.equal(c.body.profile, null);
    }
  }));
});
