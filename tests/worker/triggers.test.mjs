// Triggers on the real worker: a visitor entering `ready` makes the store write outbox rows,
// hand them to the intent-deliveries queue, and the consumer POST them to receivers this test
// runs on 127.0.0.1 (no network), signed as Standard Webhooks specifies; failures are retried on
// the (short, test) schedule with the same webhook-id, a delivery that keeps failing ends dead
// and is retried through the admin API, and the deliveries admin API shows all of it.
// Everything is waited for with a deadline.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { Webhook } from 'standardwebhooks';

import { startWorker, withLog, collect, views, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';
import { until, quiet } from './wait.mjs';
import { receiver, verifyWebhook as verify, devSecret, adminJson as getJson } from './receivers.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** How long a notification may take end to end here (queue, alarm, retries of 1 s). */
const DELIVERED = 30_000;

const WEBHOOK_SECRET = devSecret('WEBHOOK_SECRET');

describe('trigger deliveries', () => {
  let w;
  let rx;
  /** Whether `/down` answers 200 again. */
  let recovered = false;
  const logged = (fn) => withLog(() => w, fn);
  /** The visitor whose only pricing view lapses out of `pricing-now` while the other tests run. */
  let lee;
  /** The rules the worker starts with. */
  let config;

  before(async () => {
    rx = await receiver((path, n) => {
      if (path === '/flaky') return n <= 2 ? 500 : 200;
      if (path === '/down') return recovered ? 200 : 500;
      if (path === '/gone') return 410;
      if (path === '/moved') return [302, { location: `http://127.0.0.1:${rx.port}/followed` }];
      return 200;
    });
    const base = `http://127.0.0.1:${rx.port}`;
    config = JSON.parse(DEFAULT_RULES);
    config.revision = 'triggers';
    config.segments = [{ name: 'pricing-now', when: { viewed: { group: 'pricing', within: '1m' } } }];
    const hook = (path) => ({ type: 'webhook', url: `${base}${path}`, secret: 'env:WEBHOOK_SECRET' });
    config.destinations = {
      ok: hook('/ok'),
      flaky: hook('/flaky'),
      down: hook('/down'),
      gone: hook('/gone'),
      once: hook('/once'),
      every: hook('/every'),
      chat: { type: 'slack', url: 'env:SLACK_WEBHOOK_URL' },
      crm: { type: 'hubspot', token: 'env:HUBSPOT_TOKEN' },
      leads: { type: 'salesforce', instance_url: `${base}/sf`, token: 'env:SALESFORCE_TOKEN', external_id_field: 'Intent_Email__c' },
      cdp: { type: 'segment', write_key: 'env:SEGMENT_WRITE_KEY', url: `${base}/v1/batch` },
    };
    config.triggers = [
      { when: 'entered', audience: 'ready', to: ['ok', 'flaky', 'down', 'gone', 'chat', 'crm', 'leads', 'cdp'] },
      { when: 'identified', to: ['crm', 'leads'] },
      { when: 'entered', audience: 'pricing-now', to: ['once'], at_most: '1/30d' },
      { when: 'left', audience: 'pricing-now', to: ['every'] },
    ];
    w = await startWorker({
      kv: { rules: JSON.stringify(config, null, 2) },
      vars: {
        ALLOW_LOOPBACK_DESTINATIONS: 'true',
        DELIVERY_RETRY_SCHEDULE: '1s,1s,1s',
        HUBSPOT_API_BASE: `${base}/hubspot`,
        PUBLIC_ORIGIN: 'https://edge.example.test',
      },
      devVars: { SLACK_WEBHOOK_URL: `${base}/slack` },
    });
    // Started first: the one-minute window lapses while the other tests run.
    const first = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/') });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    lee = { visitor: first.body.visitor, profile: first.body.profile };
  });
  after(async () => {
    await w?.stop();
    await rx?.close();
  });

  let jane;
  let janeProfile;

  test('a visitor becoming ready is sent a signed audience.entered webhook', logged(async () => {
    let answer;
    for (const events of [views('/pricing/'), views('/pricing/'), views('/pricing/')]) {
      const a = await collect(w.url, { site: 'demo', profile: janeProfile ?? null, events });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      answer = a.body;
      janeProfile = answer.profile;
    }
    assert.equal(answer.tier, 'ready');
    jane = answer.visitor;
    const got = await until(() => rx.requests.find((r) => r.path === '/ok'), 'the webhook at /ok', DELIVERED);
    assert.equal(got.method, 'POST');
    assert.match(got.headers['content-type'], /application\/json/);
    assert.ok(verify(WEBHOOK_SECRET, got.headers, got.body), `the signature verifies: ${JSON.stringify(got.headers)}`);
    // And with the Standard Webhooks project's own library, as a receiver would.
    const verified = new Webhook(WEBHOOK_SECRET).verify(got.body, got.headers);
    assert.equal(verified.id, got.headers['webhook-id']);
    assert.throws(() => new Webhook(WEBHOOK_SECRET).verify(got.body.replace('"ready"', '"evaluating"'), got.headers));
    assert.ok(!verify('whsec_' + Buffer.from('another-secret-of-32-bytes-long!').toString('base64'), got.headers, got.body),
      'a signature under another secret does not verify');
    const tampered = got.body.replace('"ready"', '"researching"');
    assert.notEqual(tampered, got.body);
    assert.ok(!verify(WEBHOOK_SECRET, got.headers, tampered), 'a changed body does not verify');
    const body = JSON.parse(got.body);
    assert.deepEqual(Object.keys(body), ['type', 'id', 'timestamp', 'site', 'rules', 'audience', 'visitor']);
    assert.equal(body.type, 'audience.entered');
    assert.equal(body.id, got.headers['webhook-id']);
    assert.equal(body.site, 'demo');
    assert.deepEqual(body.audience, { name: 'ready', kind: 'tier' });
    assert.equal(body.visitor.id, jane);
    assert.equal(body.visitor.tier, 'ready');
    assert.equal(body.visitor.email, null);
    const ts = Number(got.headers['webhook-timestamp']);
    assert.ok(Math.abs(ts - Date.now() / 1000) < 120, `a timestamp of now: ${ts}`);
  }));

  test('the Slack channel gets a readable message: who, which audience, why, a console link', logged(async () => {
    const got = await until(() => rx.requests.find((r) => r.path === '/slack'), 'the Slack message', DELIVERED);
    assert.equal(got.method, 'POST');
    assert.equal(got.headers['webhook-signature'], undefined, 'a Slack message is not a signed webhook');
    const msg = JSON.parse(got.body);
    assert.match(msg.text, new RegExp(`Visitor ${jane} entered \\*ready\\*`), msg.text);
    assert.match(msg.text, /pricing/, `the why names the condition: ${msg.text}`);
    assert.ok(Array.isArray(msg.blocks) && msg.blocks.length >= 2, got.body);
    const context = JSON.stringify(msg.blocks);
    assert.ok(context.includes(`https://edge.example.test/admin/#/visitors/${jane}`), `a link to the visitor: ${context}`);
  }));

  test('HubSpot: skipped with the reason until she identifies, then upserted with the token', logged(async () => {
    const skipped = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries?status=skipped');
      assert.equal(r.status, 200, r.text);
      return r.json.deliveries.find((d) => d.destination === 'crm' && d.visitor === jane);
    }, 'the CRM delivery skipped', DELIVERED);
    assert.equal(skipped.type, 'hubspot');
    assert.equal(skipped.attempts, 0);
    assert.match(skipped.error, /not identified/);
    assert.equal(rx.requests.filter((r) => r.path.startsWith('/hubspot')).length, 0, 'nothing sent to the CRM yet');

    const a = await collect(w.url, {
      site: 'demo', profile: janeProfile, events: [{ type: 'identify', email: 'Jane@Acme.com' }],
    });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const got = await until(() => rx.requests.find((r) => r.path.startsWith('/hubspot')), 'the HubSpot upsert', DELIVERED);
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/hubspot/crm/v3/objects/contacts/batch/upsert');
    assert.equal(got.headers.authorization, `Bearer ${devSecret('HUBSPOT_TOKEN')}`);
    const body = JSON.parse(got.body);
    assert.equal(body.inputs.length, 1);
    const [input] = body.inputs;
    assert.equal(input.idProperty, 'email');
    assert.equal(input.id, 'jane@acme.com');
    assert.equal(input.properties.email, 'jane@acme.com');
    assert.equal(input.properties.intent_tier, 'ready');
    assert.equal(typeof input.properties.intent_segments, 'string');
    assert.ok('intent_score' in input.properties, got.body);
    const listed = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries?status=delivered');
      return r.json.deliveries.find((d) => d.destination === 'crm' && d.event === 'visitor.identified');
    }, 'the identified delivery listed', DELIVERED);
    assert.equal(listed.attempts, 1);
  }));

  test('Salesforce: the Lead upserted by its external id once she has identified', logged(async () => {
    const skipped = (await getJson(w.url, '/v1/admin/deliveries?status=skipped')).json.deliveries
      .find((d) => d.destination === 'leads' && d.event === 'audience.entered');
    assert.ok(skipped, 'entering ready before identifying is skipped for Salesforce too');
    assert.match(skipped.error, /not identified/);
    const got = await until(() => rx.requests.find((r) => r.path.startsWith('/sf/')), 'the Salesforce upsert', DELIVERED);
    assert.equal(got.method, 'PATCH');
    assert.equal(got.path, '/sf/services/data/v61.0/sobjects/Lead/Intent_Email__c/jane%40acme.com');
    assert.equal(got.headers.authorization, `Bearer ${devSecret('SALESFORCE_TOKEN')}`);
    const body = JSON.parse(got.body);
    assert.equal(body.Email, 'jane@acme.com');
    assert.equal(body.Company, 'acme.com');
    assert.equal(body.Intent_Tier__c, 'ready');
  }));

  test('Segment: an identify and a track in one batch, with the write key as basic auth', logged(async () => {
    const got = await until(() => rx.requests.find((r) => r.path === '/v1/batch'), 'the Segment batch', DELIVERED);
    assert.equal(got.method, 'POST');
    const key = devSecret('SEGMENT_WRITE_KEY');
    assert.equal(got.headers.authorization, `Basic ${Buffer.from(`${key}:`).toString('base64')}`);
    const { batch } = JSON.parse(got.body);
    assert.deepEqual(batch.map((m) => m.type), ['identify', 'track']);
    assert.equal(batch[1].event, 'Audience Entered');
    assert.equal(batch[1].properties.audience, 'ready');
    for (const m of batch) assert.equal(m.anonymousId, jane);
    const listed = (await getJson(w.url, '/v1/admin/deliveries?status=delivered')).json.deliveries
      .find((d) => d.destination === 'cdp');
    assert.equal(listed?.id, batch[1].messageId, 'the track call carries the delivery id, for deduplication');
  }));

  test('500, 500, 200: delivered on the third attempt with the same webhook-id', logged(async () => {
    const flaky = await until(() => {
      const got = rx.requests.filter((r) => r.path === '/flaky');
      return got.length >= 3 && got;
    }, 'three attempts at /flaky', DELIVERED);
    const ids = new Set(flaky.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1, `one webhook-id across the attempts: ${[...ids]}`);
    for (const r of flaky) assert.ok(verify(WEBHOOK_SECRET, r.headers, r.body));
    const listed = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries?status=delivered');
      assert.equal(r.status, 200, r.text);
      return r.json.deliveries.find((d) => d.destination === 'flaky');
    }, 'the flaky delivery listed as delivered', DELIVERED);
    assert.equal(listed.id, [...ids][0]);
    assert.equal(listed.attempts, 3);
    assert.equal(listed.last_status, 200);
    assert.equal(listed.event, 'audience.entered');
    assert.equal(listed.type, 'webhook');
    assert.equal(listed.next_attempt_at, null);
    assert.equal(rx.requests.filter((r) => r.path === '/flaky').length, 3, 'not sent again once delivered');
  }));

  test('410: the destination is disabled after one attempt', logged(async () => {
    const listed = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries');
      assert.equal(r.status, 200, r.text);
      return r.json.disabled?.gone && r.json;
    }, 'the destination `gone` disabled', DELIVERED);
    assert.match(listed.disabled.gone, /disabled/);
    const d = listed.deliveries.find((x) => x.destination === 'gone');
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status, 410);
    assert.equal(rx.requests.filter((r) => r.path === '/gone').length, 1, 'not tried again');
  }));

  test('always 500: dead at the end of the schedule, then retried from the admin API', logged(async () => {
    const dead = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries?status=dead');
      assert.equal(r.status, 200, r.text);
      return r.json.deliveries.find((d) => d.destination === 'down');
    }, 'the delivery to /down dead', DELIVERED);
    // One first attempt and one per wait of the schedule (1s,1s,1s).
    assert.equal(dead.attempts, 4);
    assert.equal(dead.last_status, 500);
    assert.equal(dead.next_attempt_at, null);
    assert.equal(rx.requests.filter((r) => r.path === '/down').length, 4);

    recovered = true;
    const retried = await fetch(`${w.url}/v1/admin/deliveries/${dead.id}/retry`, { method: 'POST', headers: auth });
    const answer = await retried.json();
    assert.equal(retried.status, 200, JSON.stringify(answer));
    assert.equal(answer.id, dead.id);
    assert.equal(answer.status, 'pending');

    const done = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries?status=delivered');
      return r.json.deliveries.find((d) => d.id === dead.id);
    }, 'the retried delivery delivered', DELIVERED);
    assert.equal(done.attempts, 5);
    const down = rx.requests.filter((r) => r.path === '/down');
    assert.equal(down.length, 5);
    assert.equal(new Set(down.map((r) => r.headers['webhook-id'])).size, 1, 'the retry keeps the webhook-id');
  }));

  test('at_most "1/30d": a visitor who leaves and comes back is notified once', logged(async () => {
    const forLee = (path) => rx.requests.filter((r) => r.path === path && JSON.parse(r.body).visitor.id === lee.visitor);
    await until(() => forLee('/once').length >= 1, 'the first entry notified', DELIVERED);
    // The one-minute window lapses, and the store's alarm moves her out within a minute.
    const left = await until(() => forLee('/every')[0], 'the audience.left notification', 180_000, 500);
    assert.equal(JSON.parse(left.body).type, 'audience.left');
    assert.equal(JSON.parse(left.body).audience.name, 'pricing-now');

    const back = await collect(w.url, { site: 'demo', profile: lee.profile, events: views('/pricing/') });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.visitor, lee.visitor);
    const entries = await until(async () => {
      const r = await getJson(w.url, `/v1/admin/visitors/${lee.visitor}`);
      const mine = r.json?.memberships?.filter((m) => m.audience === 'pricing-now') ?? [];
      return mine.length >= 2 && mine;
    }, 'her second entry into pricing-now', DELIVERED);
    assert.equal(entries.filter((m) => m.left === null).length, 1, JSON.stringify(entries));
    // Nothing more comes for her: the second entry was held back by at_most.
    const after = await quiet(() => forLee('/once').length, 'the notifications to /once', 3_000, DELIVERED);
    assert.equal(after, 1, 'notified once in 30 days');
    const held = (await getJson(w.url, '/v1/admin/deliveries')).json.deliveries
      .filter((d) => d.destination === 'once' && d.visitor === lee.visitor);
    assert.equal(held.length, 1, JSON.stringify(held));
  }));

  test('the deliveries API names what is wrong', logged(async () => {
    const bad = await getJson(w.url, '/v1/admin/deliveries?status=lost');
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.message, /status/);
    const unknown = await getJson(w.url, '/v1/admin/deliveries?colour=red');
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.json.message, /colour/);
    const missing = await fetch(`${w.url}/v1/admin/deliveries/msg_nosuchdelivery/retry`, { method: 'POST', headers: auth });
    assert.equal(missing.status, 404, await missing.text());
    const delivered = (await getJson(w.url, '/v1/admin/deliveries?status=delivered')).json.deliveries[0];
    const again = await fetch(`${w.url}/v1/admin/deliveries/${delivered.id}/retry`, { method: 'POST', headers: auth });
    assert.equal(again.status, 400, 'a delivered delivery is not retried');
    const anon = await fetch(`${w.url}/v1/admin/deliveries`);
    assert.equal(anon.status, 401);
  }));

  test('private and metadata addresses are refused at publish even with loopback allowed', logged(async () => {
    for (const url of ['http://10.0.0.1/', 'http://169.254.169.254/', 'https://10.0.0.1/hook']) {
      const config = JSON.parse(DEFAULT_RULES);
      config.destinations = { ops: { type: 'webhook', url, secret: 'env:WEBHOOK_SECRET' } };
      config.triggers = [{ when: 'entered', audience: 'ready', to: ['ops'] }];
      const put = await fetch(`${w.url}/v1/admin/rules`, { method: 'PUT', headers: auth, body: JSON.stringify(config, null, 2) });
      const body = await put.json();
      assert.equal(put.status, 422, `${url}: ${JSON.stringify(body)}`);
      assert.match(body.message, /destinations\.ops\.url/, `${url}: ${body.message}`);
    }
  }));

  /** The rules of the worker with a new segment of pricing viewers, notifying `path`. */
  const withSegment = (name, path) => {
    const c = structuredClone(config);
    c.revision = name;
    c.segments.push({ name, when: { viewed: { group: 'pricing', within: '30d' } } });
    c.destinations[name] = { type: 'webhook', url: `http://127.0.0.1:${rx.port}${path}`, secret: 'env:WEBHOOK_SECRET' };
    c.triggers.push({ when: 'entered', audience: name, to: [name] });
    return JSON.stringify(c, null, 2);
  };
  const publish = (text, query = '') => fetch(`${w.url}/v1/admin/rules${query}`, { method: 'PUT', headers: auth, body: text });
  const members = async (name) => (await getJson(w.url, `/v1/admin/audiences/${name}`)).json?.members?.length ?? 0;

  test('a publish fires triggers for its backfill only when it asks to', logged(async () => {
    const bad = await publish(withSegment('quiet-viewers', '/quiet'), '?fire_triggers=yes');
    assert.equal(bad.status, 400, await bad.text());

    const plain = await publish(withSegment('quiet-viewers', '/quiet'));
    assert.equal(plain.status, 200, await plain.text());
    // The backfill puts Jane and Lee (who viewed pricing) in the new segment, and tells no one.
    await until(async () => (await members('quiet-viewers')) >= 2, 'the first backfill', DELIVERED);

    const asked = await publish(withSegment('loud-viewers', '/loud'), '?fire_triggers=true');
    assert.equal(asked.status, 200, await asked.text());
    const loud = await until(() => {
      const got = rx.requests.filter((r) => r.path === '/loud');
      return got.length >= 2 && got;
    }, 'the backfill of the second publish notifying', DELIVERED);
    const told = loud.map((r) => JSON.parse(r.body));
    assert.deepEqual(new Set(told.map((b) => b.visitor.id)), new Set([jane, lee.visitor]));
    for (const b of told) assert.equal(b.audience.name, 'loud-viewers');
    assert.equal(rx.requests.filter((r) => r.path === '/quiet').length, 0, 'the publish that did not ask fired nothing');
  }));

  test('a redirect is a failed attempt, never followed', logged(async () => {
    const put = await publish(withSegment('moved-viewers', '/moved'), '?fire_triggers=true');
    assert.equal(put.status, 200, await put.text());
    const moved = (await until(() => {
      const got = rx.requests.filter((r) => r.path === '/moved');
      return got.length >= 2 && got;
    }, 'the notifications to the moved destination', DELIVERED)).map((r) => JSON.parse(r.body));
    assert.deepEqual(new Set(moved.map((b) => b.visitor.id)), new Set([jane, lee.visitor]));
    const ids = new Set(rx.requests.filter((r) => r.path === '/moved').map((r) => r.headers['webhook-id']));
    const listed = await until(async () => {
      const all = (await getJson(w.url, '/v1/admin/deliveries')).json.deliveries.filter((d) => ids.has(d.id));
      return all.length === ids.size && all.every((d) => d.attempts >= 1 && d.last_status === 302) && all;
    }, 'the deliveries to report the 302', DELIVERED);
    for (const d of listed) assert.notEqual(d.status, 'delivered', JSON.stringify(d));
    assert.equal(rx.requests.filter((r) => r.path === '/followed').length, 0, 'the Location was never requested');
  }));
});

describe('loopback destinations without ALLOW_LOOPBACK_DESTINATIONS', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('a publish naming http://127.0.0.1 or a private address is refused with the field named', logged(async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://10.0.0.1/', 'http://169.254.169.254/']) {
      const config = JSON.parse(DEFAULT_RULES);
      config.destinations = { ops: { type: 'webhook', url, secret: 'env:WEBHOOK_SECRET' } };
      config.triggers = [{ when: 'entered', audience: 'ready', to: ['ops'] }];
      const put = await fetch(`${w.url}/v1/admin/rules`, { method: 'PUT', headers: auth, body: JSON.stringify(config, null, 2) });
      const body = await put.json();
      assert.equal(put.status, 422, `${url}: ${JSON.stringify(body)}`);
      assert.match(body.message, /destinations\.ops\.url/, `${url}: ${body.message}`);
    }
  }));
});
