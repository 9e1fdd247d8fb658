// Audiences on the real worker: collect calls through the intent-events queue into the site's
// AudienceStore (a SQLite Durable Object), the lists, accounts, one visitor, the event log and
// erasure through the admin API, a window lapsing with no new event, a publish moving a visitor
// without a visit, a store failing mid-batch, and a site split over two shards. Everything is
// waited for with a deadline: the pipeline delivers within a few seconds.

import { createHash } from 'node:crypto';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, waitForLog, collect, decide, views, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';
import { until } from './wait.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** How long the pipeline may take to show a call in the lists (the brief: 5 s p95). */
const LISTED = 20_000;

/** The default rules plus a segment with a one-minute window, `pricing-now`. */
function rulesWith(tweak = () => {}, revision = 'audiences') {
  const config = JSON.parse(DEFAULT_RULES);
  config.revision = revision;
  config.segments = [{ name: 'pricing-now', when: { viewed: { group: 'pricing', within: '1m' } } }];
  tweak(config);
  return JSON.stringify(config, null, 2);
}

/** `ready` needs four pricing views, with the rest of `rulesWith`'s rules as they are. */
const READY_AT_FOUR = rulesWith((c) => {
  c.tiers[0].when.any[0].viewed.at_least = 4;
}, 'ready-at-four');

async function get(base, path, headers = auth) {
  const r = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* CSV, JSON Lines */ }
  return { status: r.status, headers: r.headers, text, json };
}

async function del(base, path, headers = auth) {
  const r = await fetch(`${base}${path}`, { method: 'DELETE', headers, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json };
}

/** One visitor's calls, one after another, carrying the token (from `token`, if given); returns
 * the last answer. */
async function visit(base, steps, headers = {}, site = 'demo', token = null) {
  let profile = token;
  let answer;
  for (const events of steps) {
    const a = await collect(base, { site, profile, events }, headers);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    answer = a.body;
    profile = answer.profile;
  }
  return answer;
}

/** Every member id of `name`, page by page with `limit`. */
async function allMembers(base, name, limit = 100, site = 'demo') {
  const ids = [];
  let cursor = null;
  for (;;) {
    const q = new URLSearchParams({ limit: String(limit), site });
    if (cursor) q.set('cursor', cursor);
    const r = await get(base, `/v1/admin/audiences/${name}?${q}`);
    assert.equal(r.status, 200, r.text);
    ids.push(...r.json.members.map((m) => m.visitor));
    cursor = r.json.next_cursor;
    if (!cursor) return ids;
  }
}

async function membersOf(base, name, site = 'demo') {
  const r = await get(base, `/v1/admin/audiences/${name}?site=${site}`);
  assert.equal(r.status, 200, r.text);
  return r.json.members;
}

function count(counts, name) {
  return counts.audiences.find((a) => a.name === name)?.members;
}

describe('audiences from collect calls', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  /** The visitor whose only pricing view is about to lapse out of `pricing-now`. */
  let lapsing;
  let lapsingSince;
  const people = {};

  before(async () => {
    w = await startWorker({ kv: { rules: rulesWith() } });
    // Started first: the one-minute window lapses while the other tests run.
    lapsing = (await visit(w.url, [views('/pricing/')])).visitor;
    lapsingSince = Date.now();
  });
  after(async () => { await w?.stop(); });

  test('three visitors land in ready, evaluating and researching', logged(async () => {
    const jane = await visit(w.url, [
      views('/pricing/'), views('/pricing/'), views('/pricing/'),
      [{ type: 'identify', email: 'Jane@Acme.com', traits: { name: 'Jane', plan: 'team' } }],
    ]);
    assert.equal(jane.tier, 'ready');
    assert.match(jane.visitor, /^[A-Za-z0-9_-]{16,}$/);
    assert.ok(!jane.profile.includes('acme'), 'the email never enters the token');
    const comparer = await visit(w.url, [views('/compare/')]);
    const reader = await visit(w.url, [views('/blog/')]);
    Object.assign(people, { jane: jane.visitor, comparer: comparer.visitor, reader: reader.visitor });
    assert.equal(new Set(Object.values(people)).size, 3);

    const ready = await until(async () => {
      const m = await membersOf(w.url, 'ready');
      return m.find((x) => x.visitor === people.jane && x.email) && m;
    }, 'Jane in ready with her email', LISTED);
    const listed = ready.find((x) => x.visitor === people.jane);
    assert.equal(listed.email, 'jane@acme.com');
    assert.equal(listed.account, 'acme.com');
    assert.equal(listed.tier, 'ready');
    assert.deepEqual(listed.segments, ['pricing-now']);
    assert.match(listed.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await until(async () => (await membersOf(w.url, 'evaluating')).some((x) => x.visitor === people.comparer),
      'the comparer in evaluating', LISTED);
    await until(async () => (await membersOf(w.url, 'researching')).some((x) => x.visitor === people.reader),
      'the blog reader in researching', LISTED);
    assert.ok(!(await membersOf(w.url, 'ready')).some((x) => x.visitor === people.comparer));

    const csv = await get(w.url, '/v1/admin/audiences/ready?format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type'), /^text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.equal(lines[0], 'visitor,email,account,tier,segments,score,since,last_seen');
    const row = lines.find((l) => l.startsWith(`${people.jane},`));
    assert.ok(row, csv.text);
    assert.match(row, new RegExp(`^${people.jane},jane@acme\\.com,acme\\.com,ready,pricing-now,,`));

    const counts = await get(w.url, '/v1/admin/audiences');
    assert.equal(counts.status, 200);
    assert.deepEqual(counts.json.audiences.map((a) => [a.name, a.kind]),
      [['ready', 'tier'], ['evaluating', 'tier'], ['researching', 'tier'], ['pricing-now', 'segment']]);
    assert.ok(count(counts.json, 'ready') >= 1 && count(counts.json, 'evaluating') >= 1);

    const accounts = await get(w.url, '/v1/admin/accounts?within=7d');
    assert.equal(accounts.status, 200, accounts.text);
    assert.deepEqual(accounts.json.accounts.map((a) => [a.account, a.visitors, a.identified, a.tier]),
      [['acme.com', 1, 1, 'ready']]);
  }));

  test('one visitor: record, memberships, timeline and explanation', logged(async () => {
    const r = await get(w.url, `/v1/admin/visitors/${people.jane}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.visitor.email, 'jane@acme.com');
    assert.equal(r.json.visitor.tier, 'ready');
    assert.ok(r.json.memberships.some((m) => m.audience === 'ready' && m.left === null));
    assert.deepEqual(r.json.timeline.map((e) => e.type), ['pageview', 'pageview', 'pageview', 'identify']);
    assert.ok(!JSON.stringify(r.json.timeline).includes('plan'), 'traits other than company_domain are not kept');
    assert.match(JSON.stringify(r.json.explanation), /pricing/);
  }));

  test('the event log exports as JSON Lines for intentctl simulate', logged(async () => {
    const r = await get(w.url, '/v1/admin/events?since=30d');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/x-ndjson/);
    const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
    const janes = lines.filter((l) => l.visitor === people.jane);
    assert.equal(janes.length, 4, r.text);
    assert.deepEqual(Object.keys(janes[0]).slice(0, 3), ['visitor', 'ts', 'type']);
    assert.equal(janes[0].url, 'https://demo.test/pricing/');
  }));

  test('a visitor under GPC who identifies is never stored', logged(async () => {
    const gpc = await visit(w.url, [[...views('/pricing/'), { type: 'identify', email: 'gpc-zqx@acme.com' }]], { 'sec-gpc': '1' });
    assert.equal(gpc.profile, null);
    assert.equal(gpc.visitor ?? null, null);
    // A call made after it has landed: the GPC call, enqueued nowhere, cannot come later.
    const marker = await visit(w.url, [views('/docs/')]);
    await until(async () => (await get(w.url, '/v1/admin/events')).text.includes(marker.visitor), 'the marker call', LISTED);
    const log = (await get(w.url, '/v1/admin/events')).text;
    assert.ok(!log.includes('gpc-zqx'), log);
    const accounts = await get(w.url, '/v1/admin/accounts?within=30d');
    assert.equal(accounts.json.accounts.find((a) => a.account === 'acme.com')?.visitors, 1);
  }));

  test('the admin routes need the token', logged(async () => {
    for (const path of ['/v1/admin/audiences', '/v1/admin/audiences/ready', '/v1/admin/audiences/ready?format=csv',
      '/v1/admin/accounts', `/v1/admin/visitors/${people.jane}`, '/v1/admin/events']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
        const r = await get(w.url, path, headers);
        assert.equal(r.status, 401, path);
        assert.equal(r.json.error, 'unauthorized');
      }
    }
    for (const path of [`/v1/admin/visitors/${people.jane}`, '/v1/admin/visitors?email=jane@acme.com']) {
      assert.equal((await del(w.url, path, {})).status, 401, path);
    }
    assert.equal((await membersOf(w.url, 'ready')).some((m) => m.visitor === people.jane), true, 'nothing was erased');
  }));

  test('bad parameters are 4xx with a message naming them', logged(async () => {
    const cases = [
      ['/v1/admin/audiences/ready?cursor=not-a-cursor', 400, 'cursor'],
      ['/v1/admin/audiences/ready?format=xml', 400, 'format'],
      ['/v1/admin/audiences/ready?limit=0', 400, 'limit'],
      ['/v1/admin/audiences/ready?limit=5000', 400, 'limit'],
      ['/v1/admin/accounts?within=7%20days', 400, 'within'],
      ['/v1/admin/accounts?within=-3d', 400, 'within'],
      ['/v1/admin/events?since=forever', 400, 'since'],
      ['/v1/admin/audiences/shoppers', 404, 'shoppers'],
      ['/v1/admin/audiences/', 404, 'no audience'],
      ['/v1/admin/visitors/x', 400, 'id'],
      ['/v1/admin/visitors/AAAAAAAAAAAAAAAAAAAAAA', 404, 'AAAAAAAAAAAAAAAAAAAAAA'],
      ['/v1/admin/audiences?site=nope', 400, 'nope'],
    ];
    for (const [path, status, named] of cases) {
      const r = await get(w.url, path);
      assert.equal(r.status, status, `${path}: ${r.text}`);
      assert.equal(typeof r.json.error, 'string', path);
      assert.ok(r.json.message.includes(named), `${path}: ${r.json.message}`);
    }
    // A cursor of another audience's listing is refused too.
    await visit(w.url, [views('/compare/')]);
    const page = await until(async () => {
      const r = await get(w.url, '/v1/admin/audiences/evaluating?limit=1');
      return r.json.next_cursor && r;
    }, 'two evaluating visitors', LISTED);
    const other = await get(w.url, `/v1/admin/audiences/ready?cursor=${page.json.next_cursor}`);
    assert.equal(other.status, 400);
    assert.match(other.json.message, /cursor/);
    const email = await del(w.url, '/v1/admin/visitors?email=not-an-email');
    assert.equal(email.status, 400);
    assert.match(email.json.message, /email/);
    assert.equal((await del(w.url, '/v1/admin/visitors')).status, 400);
    assert.equal((await get(w.url, '/v1/admin/nothing')).status, 404);
  }));

  test('rules that raise ready to four pricing views move Jane out without a visit', logged(async () => {
    const put = await fetch(`${w.url}/v1/admin/rules`, { method: 'PUT', headers: auth, body: READY_AT_FOUR });
    assert.equal(put.status, 200, await put.text());
    await until(async () => !(await membersOf(w.url, 'ready')).some((m) => m.visitor === people.jane),
      'Jane out of ready', LISTED);
    const evaluating = await membersOf(w.url, 'evaluating');
    const jane = evaluating.find((m) => m.visitor === people.jane);
    assert.ok(jane, JSON.stringify(evaluating));
    assert.equal(jane.email, 'jane@acme.com');
    const r = await get(w.url, `/v1/admin/visitors/${people.jane}`);
    const ready = r.json.memberships.find((m) => m.audience === 'ready');
    assert.ok(ready.left, JSON.stringify(r.json.memberships));
    // No new event: her timeline is what it was.
    assert.equal(r.json.timeline.length, 4);
  }));

  test('a one-minute window lapses about a minute later with no new event', logged(async () => {
    const left = await until(async () => {
      const r = await get(w.url, `/v1/admin/visitors/${lapsing}`);
      return r.json?.memberships?.find((m) => m.audience === 'pricing-now' && m.left) && r.json;
    }, 'the lapsing visitor to leave pricing-now', 150_000, 1000);
    const m = left.memberships.find((x) => x.audience === 'pricing-now');
    const stayed = (Date.parse(m.left) - Date.parse(m.entered)) / 1000;
    assert.ok(stayed >= 59 && stayed <= 125, `in pricing-now for ${stayed} s`);
    assert.ok(Date.now() - lapsingSince >= 59_000);
    assert.equal(left.timeline.length, 1, 'no new event');
    assert.ok(!(await membersOf(w.url, 'pricing-now')).some((x) => x.visitor === lapsing));
    assert.ok((await membersOf(w.url, 'evaluating')).some((x) => x.visitor === lapsing), 'still evaluating (30-day window)');
  }));

  test('erasure removes a person from every list and the event log', logged(async () => {
    // Jane on a second device, identified with the same address.
    const laptop = await visit(w.url, [views('/pricing/'), [{ type: 'identify', email: 'jane@acme.com' }]]);
    await until(async () => (await get(w.url, `/v1/admin/visitors/${laptop.visitor}`)).json?.visitor?.email,
      'the laptop identified', LISTED);
    const erased = await del(w.url, '/v1/admin/visitors?email=JANE@acme.com');
    assert.equal(erased.status, 200, erased.text);
    assert.deepEqual([...erased.json.visitors].sort(), [people.jane, laptop.visitor].sort());
    assert.ok(erased.json.events >= 6, erased.text);
    for (const name of ['ready', 'evaluating', 'researching', 'pricing-now']) {
      const ids = await allMembers(w.url, name);
      assert.ok(!ids.includes(people.jane) && !ids.includes(laptop.visitor), name);
    }
    const log = (await get(w.url, '/v1/admin/events')).text;
    assert.ok(!log.includes(people.jane) && !log.includes('jane@acme.com'), log);
    assert.equal((await get(w.url, `/v1/admin/visitors/${people.jane}`)).status, 404);
    assert.equal((await get(w.url, '/v1/admin/accounts?within=30d')).json.accounts.length, 0);

    const one = await del(w.url, `/v1/admin/visitors/${people.reader}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.json.visitors, [people.reader]);
    assert.ok(!(await allMembers(w.url, 'researching')).includes(people.reader));
  }));
});

describe('a publish that changes what profiles track', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  // Without the one-minute segment, which could lapse between the store's answer and the edge's.
  before(async () => { w = await startWorker({ kv: { rules: rulesWith((c) => { c.segments = []; }) } }); });
  after(async () => { await w?.stop(); });

  test('the store carries each profile over as the edge carries the token', logged(async () => {
    // A careers page the rules do not track yet: it is logged, but in no profile.
    const steps = [views('/pricing/'), views('/pricing/'), views('/pricing/'), views('/careers/')];
    const before = await visit(w.url, steps);
    assert.equal(before.tier, 'ready');
    await until(async () => (await membersOf(w.url, 'ready')).some((m) => m.visitor === before.visitor),
      'the visitor in ready', LISTED);
    // New rules: a careers group with a segment reading it, and ready at four pricing views.
    const careers = rulesWith((c) => {
      c.page_groups.careers = ['/careers*'];
      c.segments = [{ name: 'job-seeker', when: { viewed: { group: 'careers', at_least: 1 } } }];
      c.tiers[0].when.any[0].viewed.at_least = 4;
    }, 'careers');
    const put = await fetch(`${w.url}/v1/admin/rules`, { method: 'PUT', headers: auth, body: careers });
    assert.equal(put.status, 200, await put.text());
    const moved = await until(async () => (await membersOf(w.url, 'evaluating')).find((m) => m.visitor === before.visitor),
      'the visitor moved to evaluating by the backfill', LISTED);
    // The page treats the visitor so: their token, carried over, knows no careers view.
    const edge = await decide(w.url, { profile: before.profile, site: 'demo' });
    assert.equal(edge.status, 200, JSON.stringify(edge.body));
    assert.equal(edge.body.tier, 'evaluating');
    assert.equal(edge.body.visitor, before.visitor);
    assert.deepEqual(moved.segments, edge.body.segments);
    assert.ok(!moved.segments.includes('job-seeker'), JSON.stringify(moved));
    assert.deepEqual(await membersOf(w.url, 'job-seeker'), []);
    // The next careers view counts, at the edge and in the store alike.
    const after = await visit(w.url, [views('/careers/')], {}, 'demo', before.profile);
    assert.ok(after.segments.includes('job-seeker'), JSON.stringify(after));
    await until(async () => (await membersOf(w.url, 'job-seeker')).some((m) => m.visitor === before.visitor),
      'the visitor in job-seeker after a careers view', LISTED);
  }));
});

describe('a store that fails mid-batch', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => {
    // Every store object fails the ninth SQL statement of its first ingest, once: inside the
    // batch's transaction, after its events were appended.
    w = await startWorker({ vars: { AUDIENCE_FAULTS: 'ingest:9' } });
  });
  after(async () => { await w?.stop(); });

  test('loses no event and counts nothing twice', logged(async () => {
    const answers = await Promise.all([0, 1, 2, 3].map(() => visit(w.url, [views('/pricing/'), views('/pricing/'), views('/pricing/')])));
    const ids = answers.map((a) => a.visitor);
    await until(async () => {
      const ready = await membersOf(w.url, 'ready');
      return ids.every((id) => ready.some((m) => m.visitor === id));
    }, 'every visitor in ready after the retry', 60_000);
    assert.match(w.log(), /failing statement 9 of this ingest on purpose/);
    assert.match(w.log(), /did not take \d+ call\(s\)/);
    const log = (await get(w.url, '/v1/admin/events')).text.trim().split('\n');
    for (const id of ids) {
      assert.equal(log.filter((l) => l.includes(id)).length, 3, `${id}: each event once`);
      const r = await get(w.url, `/v1/admin/visitors/${id}`);
      assert.equal(r.json.memberships.filter((m) => m.audience === 'ready').length, 1, JSON.stringify(r.json.memberships));
    }
    assert.equal(count((await get(w.url, '/v1/admin/audiences')).json, 'ready'), 4);
  }));
});

/** The shard of a visitor id among `n`, as the store computes it: SHA-256, first 8 bytes LE. */
function shardOf(id, n) {
  const digest = createHash('sha256').update(id).digest();
  return Number(digest.readBigUInt64LE(0) % BigInt(n));
}

describe('a site over two shards', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  // `--test-scheduled`: wrangler serves /__scheduled to run the cron trigger, whose report is a
  // console.log line, which wrangler prints from log level `log` on.
  before(async () => {
    w = await startWorker({ vars: { AUDIENCE_SHARDS: 'demo=2' }, args: ['--test-scheduled'], logLevel: 'log' });
  });
  after(async () => { await w?.stop(); });

  test('lists, counts, accounts and erasure answer as one store', logged(async () => {
    // Ready visitors until each shard holds at least two, so that every merge is exercised.
    const people = [];
    while ([0, 1].some((s) => people.filter((p) => shardOf(p.id, 2) === s).length < 2)) {
      assert.ok(people.length < 24, 'visitor ids do not spread over the shards');
      const i = people.length;
      const email = `buyer${i}@shop${i % 2}.example`;
      const a = await visit(w.url, [views('/pricing/'), views('/pricing/'), views('/pricing/'),
        [{ type: 'identify', email }]]);
      people.push({ id: a.visitor, email, account: `shop${i % 2}.example` });
    }
    const ids = people.map((p) => p.id);
    await until(async () => {
      const r = await get(w.url, '/v1/admin/audiences');
      return count(r.json, 'ready') === people.length;
    }, 'every visitor counted in ready', LISTED);
    await until(async () => (await allMembers(w.url, 'ready')).length === people.length, 'every visitor listed', LISTED);
    // Pages of two cover everyone once across the shards.
    const paged = await allMembers(w.url, 'ready', 2);
    assert.deepEqual([...paged].sort(), [...ids].sort());
    const expected = {};
    for (const p of people) expected[p.account] = (expected[p.account] ?? 0) + 1;
    const accounts = await until(async () => {
      const a = (await get(w.url, '/v1/admin/accounts')).json.accounts;
      return a.reduce((n, x) => n + x.identified, 0) === people.length && a;
    }, 'every visitor identified', LISTED);
    assert.deepEqual(Object.fromEntries(accounts.map((a) => [a.account, a.visitors])), expected);
    const csv = (await get(w.url, '/v1/admin/audiences/ready?format=csv')).text.trim().split('\n');
    assert.equal(csv.length, people.length + 1);
    const log = (await get(w.url, '/v1/admin/events')).text.trim().split('\n');
    assert.equal(log.length, people.length * 4);
    const gone = people[1];
    const erased = await del(w.url, `/v1/admin/visitors?email=${gone.email}`);
    assert.deepEqual(erased.json.visitors, [gone.id]);
    assert.equal(count((await get(w.url, '/v1/admin/audiences')).json, 'ready'), people.length - 1);
    const other = people[2];
    const one = await get(w.url, `/v1/admin/visitors/${other.id}`);
    assert.equal(one.json.visitor.email, other.email);
  }));

  test('the weekly cron checks every store of the site', logged(async () => {
    const from = w.log().length;
    const r = await fetch(`${w.url}/__scheduled?cron=${encodeURIComponent('0 6 * * 1')}`);
    assert.equal(r.status, 200, await r.text());
    await waitForLog(w, /cron 0 6 \* \* 1: 2 audience store\(s\) checked, 0 failed/, from);
  }));
});

describe('a worker without the intent-events queue binding', () => {
  let w;
  before(async () => {
    w = await startWorker({ withoutQueues: true });
  });
  after(async () => {
    await w?.stop();
  });

  test('answers every collect call and says once that the store receives nothing', withLog(() => w, async () => {
    const said = /no `EVENTS` queue binding: the audience store receives nothing/g;
    for (let i = 0; i < 3; i++) {
      const a = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/') });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.ok(a.body.visitor, JSON.stringify(a.body));
    }
    await waitForLog(w, new RegExp(said.source));
    assert.equal(w.log().match(said).length, 1, w.log());
    assert.doesNotMatch(w.log(), /panicked|RuntimeError|Uncaught/);
  }));
});
