// Triggers on the real worker: a visitor entering `ready` makes the store write outbox rows,
// hand them to the intent-deliveries queue, and the consumer POST them to receivers this test
// runs on 127.0.0.1 (no network), signed as Standard Webhooks specifies; failures are retried on
// the (short, test) schedule with the same webhook-id, a delivery that keeps failing ends dead
// and is retried through the admin API, and the deliveries admin API shows all of it.
// Everything is waited for with a deadline.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, collect, views, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';
import { until } from './wait.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** How long a notification may take end to end here (queue, alarm, retries of 1 s). */
const DELIVERED = 30_000;

/** The dev-only webhook secret, read from .dev.vars as the worker reads it. */
function devSecret(name) {
  const m = readFileSync(join(ROOT, '.dev.vars'), 'utf8').match(new RegExp(`^${name}="?([^"\\n]*)"?`, 'm'));
  if (!m) throw new Error(`.dev.vars has no ${name}`);
  return m[1];
}
const WEBHOOK_SECRET = devSecret('WEBHOOK_SECRET');

/**
 * Standard Webhooks verification, written from the spec: the key is the base64 after `whsec_`,
 * the signed content `${id}.${timestamp}.${body}`, the signature header a space-separated list
 * of `v1,<base64 HMAC-SHA256>`.
 */
function verify(secret, headers, body) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (!id || !ts || !sigs) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sigs.split(' ').some((s) => {
    const [version, sig] = s.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/** A receiver on 127.0.0.1: records every request; `answer(path, n)` gives the status of the
 * n-th request (from 1) to `path`. */
async function receiver(answer) {
  const requests = [];
  const counts = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const n = (counts.get(req.url) ?? 0) + 1;
      counts.set(req.url, n);
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url, method: req.method, headers: req.headers, body });
      res.writeHead(answer(req.url, n));
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { requests, port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

async function getJson(base, path) {
  const r = await fetch(`${base}${path}`, { headers: auth, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json };
}

describe('trigger deliveries to webhooks', () => {
  let w;
  let rx;
  /** Whether `/down` answers 200 again. */
  let recovered = false;
  const logged = (fn) => withLog(() => w, fn);

  before(async () => {
    rx = await receiver((path, n) => {
      if (path === '/ok') return 200;
      if (path === '/flaky') return n <= 2 ? 500 : 200;
      if (path === '/down') return recovered ? 200 : 500;
      return 404;
    });
    const config = JSON.parse(DEFAULT_RULES);
    config.revision = 'triggers';
    const hook = (path) => ({ type: 'webhook', url: `http://127.0.0.1:${rx.port}${path}`, secret: 'env:WEBHOOK_SECRET' });
    config.destinations = { ok: hook('/ok'), flaky: hook('/flaky'), down: hook('/down') };
    config.triggers = [{ when: 'entered', audience: 'ready', to: ['ok', 'flaky', 'down'] }];
    w = await startWorker({
      kv: { rules: JSON.stringify(config, null, 2) },
      vars: { ALLOW_LOOPBACK_DESTINATIONS: 'true', DELIVERY_RETRY_SCHEDULE: '1s,1s,1s' },
    });
  });
  after(async () => {
    await w?.stop();
    await rx?.close();
  });

  let visitor;

  test('a visitor becoming ready is sent a signed audience.entered webhook', logged(async () => {
    let profile = null;
    let answer;
    for (const events of [views('/pricing/'), views('/pricing/'), views('/pricing/')]) {
      const a = await collect(w.url, { site: 'demo', profile, events });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      answer = a.body;
      profile = answer.profile;
    }
    assert.equal(answer.tier, 'ready');
    visitor = answer.visitor;
    const got = await until(() => rx.requests.find((r) => r.path === '/ok'), 'the webhook at /ok', DELIVERED);
    assert.equal(got.method, 'POST');
    assert.match(got.headers['content-type'], /application\/json/);
    assert.ok(verify(WEBHOOK_SECRET, got.headers, got.body), `the signature verifies: ${JSON.stringify(got.headers)}`);
    assert.ok(!verify('whsec_' + Buffer.from('another-secret-of-32-bytes-long!').toString('base64'), got.headers, got.body),
      'a signature under another secret does not verify');
    const body = JSON.parse(got.body);
    assert.equal(body.type, 'audience.entered');
    assert.equal(body.id, got.headers['webhook-id']);
    assert.equal(body.site, 'demo');
    assert.equal(body.audience.name, 'ready');
    assert.equal(body.visitor.id, visitor);
    const ts = Number(got.headers['webhook-timestamp']);
    assert.ok(Math.abs(ts - Date.now() / 1000) < 120, `a timestamp of now: ${ts}`);
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
