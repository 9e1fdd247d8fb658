// The weekly audit on the real worker: rules with an `audit.weekly` trigger, traffic stored over
// two shards, then the cron (`--test-scheduled`'s /__scheduled, as wrangler runs it) audits the
// stored log and the site's first store writes one notification per subscribed destination,
// which the intent-deliveries consumer sends to receivers this test runs on 127.0.0.1: a signed
// webhook with the summary and warnings, a readable Slack message. The cron run again (as a
// redelivered or repeated cron in the same week) sends nothing more. Everything is waited for
// with a deadline.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { Webhook } from 'standardwebhooks';

import { startWorker, withLog, collect, views, waitForLog, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';
import { until } from './wait.mjs';
import { receiver, devSecret, adminJson as getJson } from './receivers.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const DELIVERED = 30_000;
const CRON = '0 6 * * 1';

async function cron(w) {
  const r = await fetch(`${w.url}/__scheduled?cron=${encodeURIComponent(CRON)}`);
  assert.equal(r.status, 200, await r.text());
}

describe('the weekly audit', () => {
  let w;
  let rx;
  const logged = (fn) => withLog(() => w, fn);

  before(async () => {
    rx = await receiver();
    const base = `http://127.0.0.1:${rx.port}`;
    const config = JSON.parse(DEFAULT_RULES);
    config.revision = 'audit-weekly';
    config.destinations = {
      weekly: { type: 'webhook', url: `${base}/weekly`, secret: 'env:WEBHOOK_SECRET' },
      visitors: { type: 'webhook', url: `${base}/visitors`, secret: 'env:WEBHOOK_SECRET' },
      chat: { type: 'slack', url: 'env:SLACK_WEBHOOK_URL' },
    };
    config.triggers = [
      { when: 'audit.weekly', to: ['weekly', 'chat'] },
      { when: 'entered', audience: 'ready', to: ['visitors'] },
    ];
    w = await startWorker({
      kv: { rules: JSON.stringify(config, null, 2) },
      vars: {
        AUDIENCE_SHARDS: 'demo=2',
        ALLOW_LOOPBACK_DESTINATIONS: 'true',
        DELIVERY_RETRY_SCHEDULE: '1s,1s,1s',
        PUBLIC_ORIGIN: 'https://edge.example.test',
      },
      devVars: { SLACK_WEBHOOK_URL: `${base}/slack` },
      args: ['--test-scheduled'],
      logLevel: 'log',
    });
  });
  after(async () => {
    await w?.stop();
    await rx?.close();
  });

  test('the cron sends the audit once to each subscriber: webhook and Slack', logged(async () => {
    // Three visitors become ready, one only reads the blog: ready holds 3 of 4, too broad.
    const ids = [];
    for (let i = 0; i < 3; i++) {
      let profile = null;
      let answer;
      for (let n = 0; n < 3; n++) {
        answer = await collect(w.url, { site: 'demo', profile, events: views('/pricing/') });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        profile = answer.body.profile;
      }
      assert.equal(answer.body.tier, 'ready');
      ids.push(answer.body.visitor);
    }
    const reader = await collect(w.url, { site: 'demo', profile: null, events: views('/blog/') });
    assert.equal(reader.status, 200, JSON.stringify(reader.body));
    ids.push(reader.body.visitor);
    // Stored (over both shards) before the cron reads the log.
    await until(async () => {
      const r = await fetch(`${w.url}/v1/admin/events?since=30d`, { headers: auth });
      const lines = (await r.text()).split('\n').filter(Boolean);
      return ids.every((id) => lines.some((l) => l.includes(id))) && lines.length >= 10;
    }, 'the ten events stored', DELIVERED);

    const from = w.log().length;
    await cron(w);
    await waitForLog(w, /weekly audit of site demo: 2 notification\(s\) written/, from, DELIVERED);
    // Again, as a cron delivered twice: the week's audit is already written.
    const again = w.log().length;
    await cron(w);
    await waitForLog(w, /weekly audit of site demo: already written this week/, again, DELIVERED);

    const got = await until(() => rx.requests.find((r) => r.path === '/weekly'), 'the audit webhook', DELIVERED);
    const verified = new Webhook(devSecret('WEBHOOK_SECRET')).verify(got.body, got.headers);
    assert.equal(verified.id, got.headers['webhook-id']);
    const body = JSON.parse(got.body);
    assert.deepEqual(Object.keys(body), ['type', 'id', 'timestamp', 'site', 'rules', 'audience', 'visitor', 'audit']);
    assert.equal(body.type, 'audit.weekly');
    assert.equal(body.id, got.headers['webhook-id']);
    assert.equal(body.site, 'demo');
    assert.match(body.rules, /^audit-weekly@/);
    assert.equal(body.audience, null);
    assert.equal(body.visitor, null);
    const audit = body.audit;
    assert.equal(audit.visitors, 4);
    assert.equal(audit.events, 10);
    const ready = audit.audiences.find((a) => a.name === 'ready');
    assert.deepEqual({ kind: ready.kind, members: ready.members, share: ready.share, entries: ready.entries },
      { kind: 'tier', members: 3, share: 0.75, entries: 3 });
    const broad = audit.warnings.find((x) => x.code === 'too-broad' && x.audience === 'ready');
    assert.ok(broad && broad.message.length > 0, JSON.stringify(audit.warnings));

    const slack = await until(() => rx.requests.find((r) => r.path === '/slack'), 'the audit on Slack', DELIVERED);
    const msg = JSON.parse(slack.body);
    assert.match(msg.text, /^Weekly audit of rules `audit-weekly@[0-9a-f]+`, .*: 4 visitors, 10 events, \d+ warnings?$/, msg.text);
    const blocks = JSON.stringify(msg.blocks);
    assert.ok(blocks.includes('*ready*: 3 members (75.0%)'), blocks);
    const sections = msg.blocks.map((b) => b.text?.text ?? '').join('\n');
    const escaped = broad.message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    assert.ok(sections.includes(`:warning: ${escaped}`), sections);
    assert.ok(blocks.includes('https://edge.example.test/admin/#/audit'), blocks);

    // The deliveries API lists one delivered audit per subscriber, and nothing more arrives.
    const listed = await until(async () => {
      const r = await getJson(w.url, '/v1/admin/deliveries');
      assert.equal(r.status, 200, r.text);
      const audits = r.json.deliveries.filter((d) => d.event === 'audit.weekly');
      return audits.length === 2 && audits.every((d) => d.status === 'delivered') && audits;
    }, 'both audit deliveries delivered', DELIVERED);
    assert.deepEqual(listed.map((d) => d.destination).sort(), ['chat', 'weekly']);
    assert.equal(rx.requests.filter((r) => r.path === '/weekly').length, 1);
    assert.equal(rx.requests.filter((r) => r.path === '/slack').length, 1);
    // The visitors' own trigger went on as before: the audit did not take its place.
    await until(() => rx.requests.filter((r) => r.path === '/visitors').length === 3, 'three audience.entered', DELIVERED);
  }));
});
