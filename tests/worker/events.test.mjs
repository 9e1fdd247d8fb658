// POST /v1/events on the real worker: events from an email platform about a person who
// identified on the site go through the intent-events queue into the site's audience store,
// count in her audiences (five `email_opened` put her in examples/brief's `offer-a-demo`),
// never in her token, start no visit, and count once however often the batch is posted with
// the same Idempotency-Key. Bad input gets a 4xx naming the field; a wrong token 401.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, collect, views, ADMIN_TOKEN, INGEST_TOKEN, ROOT } from './harness.mjs';
import { until, quiet } from './wait.mjs';

const BRIEF = readFileSync(join(ROOT, 'examples/brief/rules.json'), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const LISTED = 20_000;

async function post(base, body, { token = INGEST_TOKEN, key = null, headers = {} } = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  if (key !== null) h['idempotency-key'] = key;
  const r = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: h,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json };
}

/** The store's record of visitor `id`, or null while the store has none (a 404). */
async function visitor(base, id) {
  const r = await fetch(`${base}/v1/admin/visitors/${id}`, { headers: admin, signal: AbortSignal.timeout(30_000) });
  if (r.status === 404) return null;
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}

/** An `email_opened` event for `email`, `hoursAgo` hours ago. */
function opened(email, hoursAgo, n) {
  return {
    email,
    type: 'event',
    name: 'email_opened',
    ts: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
    props: { campaign: `newsletter-${n}` },
  };
}

describe('events from other tools', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ kv: { rules: BRIEF } }); });
  after(async () => { await w?.stop(); });

  test('five email opens put an identified visitor in offer-a-demo, once', logged(async () => {
    let a = await collect(w.url, { site: 'demo', events: views('/') });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    a = await collect(w.url, {
      site: 'demo', profile: a.body.profile,
      events: [{ type: 'identify', email: 'Maria@Globex.com' }],
    });
    assert.equal(a.status, 200);
    const id = a.body.visitor;
    const token = a.body.profile;
    await until(async () => (await visitor(w.url, id))?.visitor.email === 'maria@globex.com',
      'Maria identified in the store', LISTED);

    // Four opens, posted twice with the same key: counted once, not yet five.
    const four = [1, 2, 3, 4].map((n) => opened('maria@globex.com', 24 * n, n));
    for (let i = 0; i < 2; i++) {
      const r = await post(w.url, { site: 'demo', events: four }, { key: 'esp-batch-1' });
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.json, { accepted: 4, idempotency_key: 'esp-batch-1' });
    }
    const timeline = await until(async () => {
      const t = (await visitor(w.url, id)).timeline.filter((e) => e.name === 'email_opened');
      return t.length >= 4 && t;
    }, 'four opens in her timeline', LISTED);
    assert.equal(timeline.length, 4);
    let record = await visitor(w.url, id);
    assert.ok(!record.visitor.segments.includes('offer-a-demo'), JSON.stringify(record.visitor));

    // The fifth, without a key: one is made and returned.
    const fifth = await post(w.url, { site: 'demo', events: [opened('MARIA@globex.com', 1, 5)] });
    assert.equal(fifth.status, 202, fifth.text);
    assert.match(fifth.json.idempotency_key, /^[A-Za-z0-9_-]{16}$/);
    record = await until(async () => {
      const r = await visitor(w.url, id);
      return r.visitor.segments.includes('offer-a-demo') && r;
    }, 'Maria in offer-a-demo', LISTED);
    const listed = await fetch(`${w.url}/v1/admin/audiences/offer-a-demo`, { headers: admin }).then((r) => r.json());
    assert.deepEqual(listed.members.map((m) => [m.visitor, m.email]), [[id, 'maria@globex.com']]);
    // The same batch again, grown by a click (the fifth event of the key, so a new id): the
    // click is stored, the four opens are not stored again: five opens in her timeline.
    const click = { ...opened('maria@globex.com', 1, 6), name: 'email_clicked' };
    const again = await post(w.url, { site: 'demo', events: [...four, click] }, { key: 'esp-batch-1' });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.accepted, 5);
    await until(async () => (await visitor(w.url, id)).timeline.some((e) => e.name === 'email_clicked'),
      'the click in her timeline', LISTED);
    await quiet(async () => (await visitor(w.url, id)).timeline.length, 'her timeline');
    const opens = (await visitor(w.url, id)).timeline.filter((e) => e.name === 'email_opened');
    assert.equal(opens.length, 5, JSON.stringify(opens));

    // No activity on the site: her last seen is her page view's; and her token knows nothing of
    // the opens (the page's tier is on-site behaviour), nor does her next answer.
    const onSite = await collect(w.url, { site: 'demo', profile: token, events: views('/blog/') });
    assert.equal(onSite.status, 200);
    assert.ok(!onSite.body.segments.includes('offer-a-demo'), JSON.stringify(onSite.body));
    // After that page view (whose profile has no opens) she stays in the audience.
    await until(async () => {
      const r = await visitor(w.url, id);
      return r.timeline.some((e) => e.url?.includes('/blog/')) && r;
    }, 'the blog view stored', LISTED);
    record = await visitor(w.url, id);
    assert.ok(record.visitor.segments.includes('offer-a-demo'), JSON.stringify(record.visitor));
  }));

  test('an email no visitor identified with is accepted, kept nowhere and counts later for no one', logged(async () => {
    // Ana identifies first: her event is the mark that the store has taken the call.
    let a = await collect(w.url, { site: 'demo', events: views('/') });
    a = await collect(w.url, {
      site: 'demo', profile: a.body.profile,
      events: [{ type: 'identify', email: 'ana@initech.com' }],
    });
    assert.equal(a.status, 200);
    const ana = a.body.visitor;
    await until(async () => (await visitor(w.url, ana))?.visitor.email === 'ana@initech.com',
      'Ana identified in the store', LISTED);

    const stranger = { ...opened('bob@initech.com', 2, 1), props: { campaign: 'stranger-probe' } };
    const mark = { ...opened('ana@initech.com', 2, 1), props: { campaign: 'ana-mark' } };
    const r = await post(w.url, { site: 'demo', events: [stranger, mark] });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.accepted, 2);
    await until(async () => (await visitor(w.url, ana)).timeline.some((e) => e.props?.campaign === 'ana-mark'),
      "Ana's open in her timeline", LISTED);
    const log = async () => (await fetch(`${w.url}/v1/admin/events?since=30d`, { headers: admin }).then((x) => x.text()));
    await quiet(async () => (await log()).length, 'the event log');
    const text = await log();
    assert.match(text, /ana-mark/);
    assert.doesNotMatch(text, /stranger-probe/);

    // Bob identifies afterwards: the open posted before he did counts nowhere.
    let b = await collect(w.url, { site: 'demo', events: views('/') });
    b = await collect(w.url, {
      site: 'demo', profile: b.body.profile,
      events: [{ type: 'identify', email: 'bob@initech.com' }],
    });
    const bob = b.body.visitor;
    const record = await until(async () => {
      const v = await visitor(w.url, bob);
      return v?.visitor.email === 'bob@initech.com' && v;
    }, 'Bob identified in the store', LISTED);
    assert.deepEqual(record.timeline.filter((e) => e.name === 'email_opened'), []);
  }));

  test('a wrong or missing token is 401, the admin token included', logged(async () => {
    const body = { site: 'demo', events: [opened('maria@globex.com', 1, 9)] };
    for (const token of ['not-the-token', ADMIN_TOKEN, null]) {
      const r = await post(w.url, body, { token });
      assert.equal(r.status, 401, `${token}: ${r.text}`);
      assert.equal(r.json.error, 'unauthorized');
      assert.match(r.json.message, /INGEST_TOKEN/);
    }
  }));

  test('bad input is a 400 naming the field', logged(async () => {
    const ok = opened('maria@globex.com', 1, 1);
    const cases = [
      [{ site: 'demo', events: [{ ...ok, email: 'maria-at-globex' }] }, /^`events\[0\]\.email`/],
      [{ site: 'demo', events: [ok, { ...ok, ts: '2020-01-01T00:00:00Z' }] }, /^`events\[1\]\.ts`: .*older than the rules' horizon/],
      [{ site: 'demo', events: [{ ...ok, ts: 'last tuesday' }] }, /^`events\[0\]\.ts`/],
      [{ site: 'demo', events: [{ ...ok, type: 'pageview', url: '/' }] }, /^`events\[0\]\.type`/],
      [{ site: 'demo', events: Array(501).fill(ok) }, /^`events`: 501 events; post at most 500/],
      [{ site: 'demo', events: [] }, /^`events`/],
      [{ site: 'nope', events: [ok] }, /site `nope`/],
      ['{"site": "demo", "events": [', /JSON/],
    ];
    for (const [body, message] of cases) {
      const r = await post(w.url, body);
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.message, message);
    }
    const badKey = await post(w.url, { site: 'demo', events: [ok] }, { key: 'has space' });
    assert.equal(badKey.status, 400);
    assert.match(badKey.json.message, /^`Idempotency-Key`/);
    const get = await fetch(`${w.url}/v1/events`, { headers: { authorization: `Bearer ${INGEST_TOKEN}` } });
    assert.equal(get.status, 405);
  }));
});
