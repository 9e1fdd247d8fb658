// One test per defect found in the worker, named after the issue and item that reported it.
// (The CLI's side of the same defects: crates/intentctl/tests/regression.rs.) The isolate
// cache is off (RULES_CACHE_SECONDS=0) so that each request sees KV as it is now.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, intentctl, ADMIN_TOKEN, DEFAULT_RULES } from './harness.mjs';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function admin(base, method, path, { body, headers = {} } = {}) {
  const r = await fetch(`${base}${path}`, { method, headers: { ...auth, ...headers }, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json, text };
}

/** The default rules under another revision label, so that each is a version of its own. */
function revision(label) {
  const config = JSON.parse(DEFAULT_RULES);
  config.revision = label;
  return JSON.stringify(config, null, 2);
}

const etagOf = async (base) => (await admin(base, 'GET', '/v1/admin/rules')).headers.get('etag');
const activeId = async (base) => (await admin(base, 'GET', '/v1/admin/rules')).headers.get('x-intent-rules');

describe('issue 20: publishing rules', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ vars: { RULES_CACHE_SECONDS: '0' } }); });
  after(async () => { await w?.stop(); });

  test('20.1: eight concurrent publishes over the same version: one wins, seven get 412 and are told what won', logged(async () => {
    const tag = await etagOf(w.url);
    assert.match(tag, /^"default@[0-9a-f]{8}"$/);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => admin(w.url, 'PUT', '/v1/admin/rules', {
      body: revision(`conc-${i + 1}`),
      headers: { 'if-match': tag },
    })));
    const won = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 412);
    assert.equal(won.length, 1, answers.map((a) => `${a.status} ${a.text.slice(0, 120)}`).join('\n'));
    assert.equal(refused.length, 7);
    const winner = won[0].body.id;
    assert.equal(won[0].body.previous, tag.slice(1, -1));
    for (const r of refused) {
      assert.equal(r.body.error, 'precondition_failed');
      assert.equal(r.body.current, winner);
      assert.match(r.body.message, new RegExp(`the active version is now ${winner.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.deepEqual(r.body.meanwhile.map((v) => v.id), [winner]);
      assert.equal(r.headers.get('etag'), `"${winner}"`);
    }
    assert.equal(await activeId(w.url), winner);
    // Rollback honours If-Match too.
    const stale = await admin(w.url, 'POST', '/v1/admin/rules/rollback', { headers: { 'if-match': tag } });
    assert.equal(stale.status, 412);
    assert.equal(await activeId(w.url), winner);
  }));

  test('20.1: eight concurrent publishes without If-Match: all stored, one after another, none lost', logged(async () => {
    const before = await activeId(w.url);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => admin(w.url, 'PUT', '/v1/admin/rules', {
      body: revision(`free-${i + 1}`),
    })));
    assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200));
    const ids = answers.map((a) => a.body.id);
    const previous = answers.map((a) => a.body.previous);
    assert.equal(new Set(previous).size, 8, `each replaced a different version: ${previous}`);
    assert.ok(previous.includes(before));
    const history = await admin(w.url, 'GET', '/v1/admin/rules/history');
    assert.equal(history.status, 200);
    const kept = history.body.versions.map((v) => v.id);
    for (const id of ids) assert.ok(kept.includes(id), `${id} is in the history`);
    // The chain of `previous` runs through all eight.
    const chain = [];
    for (let id = history.body.active; id && chain.length < 9; id = history.body.versions.find((v) => v.id === id)?.previous) {
      chain.push(id);
    }
    assert.deepEqual(chain.slice(0, 9).sort(), [...ids, before].sort());
  }));

  test('20.2: rolling back twice goes two versions back, not back and forth; rollback to a chosen id', logged(async () => {
    const ids = [];
    for (const label of ['step-a', 'step-b', 'step-c']) {
      const put = await admin(w.url, 'PUT', '/v1/admin/rules', { body: revision(label) });
      assert.equal(put.status, 200, put.text);
      ids.push(put.body.id);
    }
    const [a, b, c] = ids;
    const first = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual([first.body.id, first.body.previous], [b, c]);
    const second = await admin(w.url, 'POST', '/v1/admin/rules/rollback');
    assert.equal(second.status, 200, second.text);
    assert.deepEqual([second.body.id, second.body.previous], [a, b]);
    assert.equal(await activeId(w.url), a);

    const chosen = await admin(w.url, 'POST', '/v1/admin/rules/rollback', { body: JSON.stringify({ to: c }) });
    assert.equal(chosen.status, 200, chosen.text);
    assert.deepEqual([chosen.body.id, chosen.body.previous], [c, a]);

    const history = await admin(w.url, 'GET', '/v1/admin/rules/history');
    const entry = (id) => history.body.versions.find((v) => v.id === id);
    assert.equal(history.body.active, c);
    assert.equal(entry(c).active, true);
    assert.equal(entry(a).active, false);
    assert.match(entry(c).published_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(entry(c).activated_at >= entry(c).published_at, 'made active again, no earlier than it was published');
    assert.equal(typeof entry(b).summary, 'string');

    // Refusals name what is wrong.
    const cases = [
      [{ to: c }, 409, 'already_active'],
      [{ to: 'never@00000000' }, 404, 'unknown_version'],
      [{ to: 'garbage' }, 400, 'bad_request'],
      [{ to: 7 }, 400, 'bad_request'],
      [{ towards: a }, 400, 'bad_request'],
    ];
    for (const [body, status, error] of cases) {
      const r = await admin(w.url, 'POST', '/v1/admin/rules/rollback', { body: JSON.stringify(body) });
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error, error);
    }
    assert.equal(await activeId(w.url), c);

    // The same through intentctl.
    const env = { INTENT_ADMIN_TOKEN: ADMIN_TOKEN, INTENT_URL: w.url };
    const listed = await intentctl(['history'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`\\* ${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  published`));
    const rolled = await intentctl(['rollback', a], env);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /rolled back to step-a@/);
    assert.equal(await activeId(w.url), a);
  }));

  test('20.3: `?version=` other than `previous` or a kept version id is a 400 naming the field', logged(async () => {
    for (const bad of ['garbage', 'PREVIOUS', 'current', '../x', '', 'default@1C63F927']) {
      const r = await admin(w.url, 'GET', `/v1/admin/rules?version=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, `${bad}: ${r.text}`);
      assert.equal(r.body.error, 'bad_request');
      assert.match(r.body.message, /^`version`: expected `previous` or a version id/);
    }
    const typo = await admin(w.url, 'GET', '/v1/admin/rules?versoin=previous');
    assert.equal(typo.status, 400);
    assert.match(typo.body.message, /unknown query parameter `versoin`/);
    const twice = await admin(w.url, 'GET', '/v1/admin/rules?version=previous&version=previous');
    assert.equal(twice.status, 400);
    const missing = await admin(w.url, 'GET', '/v1/admin/rules?version=never@00000000');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'unknown_version');

    const put = await admin(w.url, 'PUT', '/v1/admin/rules', { body: revision('versioned') });
    assert.equal(put.status, 200, put.text);
    const previous = await admin(w.url, 'GET', '/v1/admin/rules?version=previous');
    assert.equal(previous.status, 200);
    assert.equal(previous.headers.get('x-intent-rules'), put.body.previous);
    const byId = await admin(w.url, 'GET', `/v1/admin/rules?version=${encodeURIComponent(put.body.id)}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.text, revision('versioned'), 'a kept version, byte for byte');
  }));

  test('20.4: intentctl publishes with the token from INTENT_ADMIN_TOKEN alone', logged(async () => {
    const out = await intentctl(['publish', 'examples/rules/webinar.json', '--url', w.url], { INTENT_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /published examples\/rules\/webinar\.json as 2026-12-webinar@[0-9a-f]{8}/);
    assert.match(out.stdout, /visitors' profiles: keeps `pricing`.*; starts `webinar` empty/);
    assert.match(await activeId(w.url), /^2026-12-webinar@/);
  }));
});
