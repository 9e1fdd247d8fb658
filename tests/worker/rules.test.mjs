// Rules on the real worker: the admin API (auth, validation, publish, rollback) and the
// fallbacks when KV holds nothing usable. The isolate cache is off (RULES_CACHE_SECONDS=0) so
// every request sees KV as it is now.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, collect, journey, views, intentctl, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The default rules with `ready` reached on the first pricing view. */
function eagerRules(revision = 'eager') {
  const config = JSON.parse(DEFAULT_RULES);
  config.revision = revision;
  config.tiers[0].when = { viewed: { group: 'pricing', within: '7d' } };
  return JSON.stringify(config, null, 2);
}

async function admin(base, method, body, headers = auth, path = '/v1/admin/rules') {
  const r = await fetch(`${base}${path}`, { method, headers, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json };
}

async function health(base) {
  return (await fetch(`${base}/v1/health`)).json();
}

describe('admin API', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ vars: { RULES_CACHE_SECONDS: '0' } }); });
  after(async () => { await w?.stop(); });

  test('needs the bearer token', logged(async () => {
    const none = await admin(w.url, 'GET', undefined, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
    const wrong = await admin(w.url, 'GET', undefined, { authorization: `Bearer ${ADMIN_TOKEN}x` });
    assert.equal(wrong.status, 401);
    const basic = await admin(w.url, 'GET', undefined, { authorization: `Basic ${ADMIN_TOKEN}` });
    assert.equal(basic.status, 401);
    const put = await admin(w.url, 'PUT', eagerRules(), {});
    assert.equal(put.status, 401);
    assert.equal((await health(w.url)).rules.startsWith('default@'), true, 'nothing was stored');
  }));

  test('GET answers the active rules with their id', logged(async () => {
    const r = await admin(w.url, 'GET');
    assert.equal(r.status, 200);
    assert.equal(r.body.revision, 'default');
    assert.match(r.headers.get('x-intent-rules'), /^default@[0-9a-f]{8}$/);
    assert.equal(r.headers.get('x-intent-rules-source'), 'kv');
  }));

  test('PUT refuses a broken config with its line and field, and stores nothing', logged(async () => {
    const before = (await health(w.url)).rules;
    const broken = eagerRules().replace('"within": "7d"', '"within": "a week"');
    const r = await admin(w.url, 'PUT', broken);
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'invalid_rules');
    assert.match(r.body.message, /^line \d+, `[^`]*within[^`]*`/);
    const syntax = await admin(w.url, 'PUT', '{"version": 1,');
    assert.equal(syntax.status, 422);
    assert.match(syntax.body.message, /line \d+/);
    const empty = await admin(w.url, 'PUT', '');
    assert.equal(empty.status, 422);
    assert.equal((await health(w.url)).rules, before);
  }));

  test('PUT over 256 KiB gets 413', logged(async () => {
    const r = await admin(w.url, 'PUT', ' '.repeat(300 * 1024));
    assert.equal(r.status, 413);
  }));

  test('GET answers the rules exactly as published, and they publish again as they are, even near 256 KiB', logged(async () => {
    const config = JSON.parse(DEFAULT_RULES);
    config.revision = 'near-the-limit';
    // 50 segments of 30 conditions each: written compactly, several times longer pretty-printed.
    config.segments = Array.from({ length: 50 }, (_, i) => ({
      name: `s${i}`,
      when: { any: Array.from({ length: 30 }, (_, j) => ({ visits: { at_least: 1 + (j % 16), within: `${1 + i}d` } })) },
    }));
    // Long variants fill the rest, to just under the limit.
    const limit = 256 * 1024;
    for (let i = 0; JSON.stringify(config).length < limit - 9000; i++) {
      config.variants[`filler${i}`] = { default: { text: 'x'.repeat(8000) } };
    }
    const text = JSON.stringify(config);
    assert.ok(text.length < limit && text.length > limit - 9000, `${text.length} bytes`);
    assert.ok(JSON.stringify(config, null, 2).length > limit, 'pretty-printed, this config would not fit a publish');

    const put = await admin(w.url, 'PUT', text);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const got = await fetch(`${w.url}/v1/admin/rules`, { headers: auth });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('x-intent-rules'), put.body.id);
    const body = await got.text();
    assert.equal(body.length, text.length);
    assert.ok(body === text, 'the answer is the published text, byte for byte');

    const again = await admin(w.url, 'PUT', body);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.id, put.body.id);
    assert.equal(again.body.previous, null, 'the same text again is not a new version');
    const back = await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
  }));

  test('published rules take effect, the previous version is kept, rollback restores it', logged(async () => {
    const defaultId = (await health(w.url)).rules;
    const [before] = await journey(w.url, [views('/pricing')]);
    assert.equal(before.tier, 'evaluating');

    const put = await admin(w.url, 'PUT', eagerRules());
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.match(put.body.id, /^eager@[0-9a-f]{8}$/);
    assert.equal(put.body.previous, defaultId);
    assert.equal(put.headers.get('x-intent-rules'), put.body.id);

    const after = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') });
    assert.equal(after.body.tier, 'ready');
    assert.equal(after.headers.get('x-intent-rules'), put.body.id);
    const page = await fetch(`${w.url}/`);
    assert.equal(page.headers.get('x-intent-rules'), put.body.id);

    const previous = await admin(w.url, 'GET', undefined, auth, '/v1/admin/rules?version=previous');
    assert.equal(previous.status, 200);
    assert.equal(previous.body.revision, 'default');

    const back = await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.id, defaultId);
    assert.equal(back.body.previous, put.body.id);
    const again = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') });
    assert.equal(again.body.tier, 'evaluating');
    assert.equal((await health(w.url)).rules, defaultId);
  }));

  test('the proxy-mode cookie lasts as long as the rules\' horizon', logged(async () => {
    const maxAge = async () => {
      const page = await fetch(`${w.url}/pricing/`);
      assert.equal(page.status, 200);
      const cookie = page.headers.getSetCookie().find((c) => c.startsWith('intent_profile='));
      assert.ok(cookie, 'a profile cookie');
      return Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    };
    assert.equal(await maxAge(), 90 * 86_400, 'the default rules keep 90 days');
    const config = JSON.parse(DEFAULT_RULES);
    config.revision = 'thirty-days';
    config.horizon = '30d';
    const put = await admin(w.url, 'PUT', JSON.stringify(config));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(await maxAge(), 30 * 86_400);
    await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
  }));

  test('a token made under the rules a publish replaced is carried over to the new ones', logged(async () => {
    const [a] = await journey(w.url, [views('/pricing')]);
    const config = JSON.parse(DEFAULT_RULES);
    config.revision = 'other-groups';
    config.page_groups.security = ['/security*'];
    config.tiers[1].when.any.push({ viewed: { group: 'security', within: '30d' } });
    const put = await admin(w.url, 'PUT', JSON.stringify(config));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.match(put.body.profiles.summary, /starts `security` empty$/);
    const c = await collect(w.url, { site: 'demo', profile: a.profile, events: views('/security') });
    assert.equal(c.status, 200);
    assert.equal(c.body.fresh, undefined);
    assert.equal(c.body.tier, 'evaluating');
    assert.equal(c.body.visitor, a.visitor);
    await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
  }));

  test('intentctl-style publishing: the same file twice keeps a real previous version', logged(async () => {
    const first = await admin(w.url, 'PUT', eagerRules('twice'));
    const second = await admin(w.url, 'PUT', eagerRules('twice'));
    assert.equal(second.status, 200);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.body.previous, null, 'republishing the same text does not overwrite the rollback copy');
    const previous = await admin(w.url, 'GET', undefined, auth, '/v1/admin/rules?version=previous');
    assert.notEqual(previous.body.revision, 'twice');
    await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
  }));

  test('intentctl publish goes through the admin API; a broken file is refused before sending', logged(async () => {
    const ok = await intentctl(['publish', 'examples/rules/campaigns.json', '--url', w.url, '--token', ADMIN_TOKEN]);
    assert.equal(ok.code, 0, ok.stderr);
    const h = await health(w.url);
    assert.match(h.rules, /^2026-11-campaigns@/);
    assert.ok(ok.stdout.includes(h.rules), ok.stdout);
    const bad = await intentctl(['publish', 'examples/rules/broken-window.json', '--url', w.url, '--token', ADMIN_TOKEN]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /line \d+, `tiers\[0\]\.when\.any\[1\]\.viewed\.within`/);
    const wrong = await intentctl(['publish', 'examples/rules/default.json', '--url', w.url, '--token', 'not-the-token']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /401/);
    assert.equal((await health(w.url)).rules, h.rules);
    const back = await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
    assert.equal(back.status, 200);
  }));

  test('broken or missing KV rules fall back to the last good config', logged(async () => {
    const put = await admin(w.url, 'PUT', eagerRules('last-good'));
    assert.equal(put.status, 200);
    await w.putKv('rules', '{"version": 1, "tiers": ');
    let h = await health(w.url);
    assert.equal(h.rules, put.body.id);
    assert.equal(h.rules_source, 'last-good');
    const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') });
    assert.equal(c.status, 200);
    assert.equal(c.body.tier, 'ready', 'the last good (eager) rules still apply');
    assert.equal(c.headers.get('x-intent-rules-source'), 'last-good');

    await w.putKv('rules', '   ');
    h = await health(w.url);
    assert.equal(h.rules_source, 'last-good');
    await w.deleteKv('rules');
    h = await health(w.url);
    assert.equal(h.rules_source, 'last-good');

    // A valid publish ends the fallback.
    const fixed = await admin(w.url, 'PUT', DEFAULT_RULES);
    assert.equal(fixed.status, 200);
    h = await health(w.url);
    assert.equal(h.rules_source, 'kv');
    assert.equal(h.rules, fixed.body.id);
  }));
});

describe('a worker that never saw valid rules', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => {
    w = await startWorker({ vars: { RULES_CACHE_SECONDS: '0' }, kv: { rules: 'this is not JSON' } });
  });
  after(async () => { await w?.stop(); });

  test('runs on the built-in default rules', logged(async () => {
    const h = await health(w.url);
    assert.equal(h.rules_source, 'builtin');
    assert.match(h.rules, /^default@/);
    const answers = await journey(w.url, [views('/pricing'), views('/pricing'), views('/pricing')]);
    assert.deepEqual(answers.map((a) => a.tier), ['evaluating', 'evaluating', 'ready']);
    const page = await fetch(`${w.url}/pricing/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-intent-rules-source'), 'builtin');
    const got = await fetch(`${w.url}/v1/admin/rules`, { headers: auth });
    assert.equal(got.headers.get('x-intent-rules-source'), 'builtin');
    assert.ok((await got.text()) === DEFAULT_RULES, 'the built-in rules as `intentctl defaults` prints them');
  }));

  test('rollback without a previous version is refused', logged(async () => {
    const r = await admin(w.url, 'POST', undefined, auth, '/v1/admin/rules/rollback');
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'no_previous_rules');
  }));
});
