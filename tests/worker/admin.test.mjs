// The admin API and CORS on the real worker: who gets in, who can read answers, and that no
// secret ever leaves the worker, in an answer or in wrangler's log.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, waitForLog, collect, views, ADMIN_TOKEN, PROFILE_KEYS, DEFAULT_RULES } from './harness.mjs';

const SECRETS = [ADMIN_TOKEN, ...PROFILE_KEYS.split(',').map((k) => k.slice(k.indexOf(':') + 1))];
const ALLOWED = 'http://localhost:8787';
const ROUTES = [
  ['GET', '/v1/admin/rules'],
  ['HEAD', '/v1/admin/rules'],
  ['GET', '/v1/admin/rules?version=previous'],
  ['PUT', '/v1/admin/rules'],
  ['POST', '/v1/admin/rules/rollback'],
  ['GET', '/v1/admin/rules/history'],
  ['HEAD', '/v1/admin/rules/history'],
];

/** Every answer a test saw, to check at the end that none carried a secret. */
const seen = [];

async function call(base, method, path, headers = {}, body) {
  const r = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  // The answer only: some requests carry the token on purpose.
  seen.push(`${method} ${r.status} ${JSON.stringify([...r.headers])} ${text}`);
  return { status: r.status, headers: r.headers, text, json };
}

function eagerRules() {
  const config = JSON.parse(DEFAULT_RULES);
  config.revision = 'admin-test';
  config.tiers[0].when = { viewed: { group: 'pricing', within: '7d' } };
  return JSON.stringify(config);
}

describe('the admin API with a token set', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ vars: { RULES_CACHE_SECONDS: '0' } }); });
  after(async () => { await w?.stop(); });

  // [what the Authorization header is, its value (undefined: none), the status it gets]
  // The scheme is case-insensitive and may be followed by more than one space (RFC 7235).
  const BEARERS = [
    ['no Authorization header', undefined, 401],
    ['an empty header', '', 401],
    ['"Bearer" alone', 'Bearer', 401],
    ['"Bearer " and nothing', 'Bearer ', 401],
    ['"Bearer" and only spaces', 'Bearer      ', 401],
    ['a wrong token', 'Bearer not-the-admin-token', 401],
    ['the token with one more character', `Bearer ${ADMIN_TOKEN}x`, 401],
    ['the token less its last character', `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, 401],
    ['the token in upper case', `Bearer ${ADMIN_TOKEN.toUpperCase()}`, 401],
    ['the token in quotes', `Bearer "${ADMIN_TOKEN}"`, 401],
    ['the token split by a space', `Bearer ${ADMIN_TOKEN.slice(0, 3)} ${ADMIN_TOKEN.slice(3)}`, 401],
    ['the token without a scheme', ADMIN_TOKEN, 401],
    ['the token as Basic', `Basic ${ADMIN_TOKEN}`, 401],
    ['the token as Basic credentials', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`, 401],
    ['the token under another scheme', `Token ${ADMIN_TOKEN}`, 401],
    ['"Bearer:" and the token', `Bearer:${ADMIN_TOKEN}`, 401],
    ['a wrong token, then the right one', `Bearer wrong, Bearer ${ADMIN_TOKEN}`, 401],
    ['the right token, then a wrong one', `Bearer ${ADMIN_TOKEN}, Bearer wrong`, 401],
    ['a 100 KB token', `Bearer ${'x'.repeat(100_000)}`, 401],
    ['the right token', `Bearer ${ADMIN_TOKEN}`, 200],
    ['a lower-case scheme', `bearer ${ADMIN_TOKEN}`, 200],
    ['an upper-case scheme', `BEARER ${ADMIN_TOKEN}`, 200],
    ['extra spaces around the token', `Bearer    ${ADMIN_TOKEN}   `, 200],
  ];
  for (const [name, value, status] of BEARERS) {
    test(`GET with ${name}: ${status}`, logged(async () => {
      const headers = value === undefined ? {} : { authorization: value };
      const r = await call(w.url, 'GET', '/v1/admin/rules', headers);
      assert.equal(r.status, status, r.text.slice(0, 200));
      if (status === 401) {
        assert.equal(r.json.error, 'unauthorized');
        assert.match(r.headers.get('www-authenticate'), /^Bearer realm=/);
      } else {
        assert.equal(r.json.revision, 'default');
      }
    }));
  }

  test('every admin route needs the token, and a refused PUT stores nothing', logged(async () => {
    for (const [method, path] of ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
        const r = await call(w.url, method, path, headers, method === 'PUT' ? eagerRules() : undefined);
        assert.equal(r.status, 401, `${method} ${path}`);
        if (method !== 'HEAD') assert.equal(r.json.error, 'unauthorized');
      }
    }
    const h = await call(w.url, 'GET', '/v1/health');
    assert.match(h.json.rules, /^default@/);
    const c = await collect(w.url, { site: 'demo', events: views('/pricing') });
    assert.equal(c.body.tier, 'evaluating', 'the eager rules were not published');
  }));

  test('the admin token, the signing keys and wrong guesses never reach the log', logged(async () => {
    const canary = 'guess-ZQX-admin-canary';
    await call(w.url, 'GET', '/v1/admin/rules', { authorization: `Bearer ${canary}` });
    await call(w.url, 'PUT', '/v1/admin/rules', { authorization: `Bearer ${ADMIN_TOKEN}` }, '{"broken": ');
    const log = w.log();
    for (const s of [...SECRETS, canary]) assert.ok(!log.includes(s), `the log holds ${s.slice(0, 6)}…`);
  }));
  // NOTE: after the log check, because this test puts the real token in query strings, and
  // wrangler's own request log prints each URL: one more reason the worker reads the token
  // from the Authorization header only.
  test('the token is read from the Authorization header only', logged(async () => {
    for (const [path, headers] of [
      [`/v1/admin/rules?token=${ADMIN_TOKEN}`, {}],
      [`/v1/admin/rules?access_token=${ADMIN_TOKEN}`, {}],
      ['/v1/admin/rules', { cookie: `token=${ADMIN_TOKEN}; authorization=Bearer%20${ADMIN_TOKEN}` }],
      ['/v1/admin/rules', { 'x-admin-token': ADMIN_TOKEN, 'proxy-authorization': `Bearer ${ADMIN_TOKEN}` }],
    ]) {
      assert.equal((await call(w.url, 'GET', path, headers)).status, 401, path);
    }
  }));

});

describe('the admin API without a token set', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ devVars: { ADMIN_TOKEN: null } }); });
  after(async () => { await w?.stop(); });

  test('is closed to everyone, an empty bearer included', logged(async () => {
    for (const [method, path] of ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: `Bearer ${ADMIN_TOKEN}` }, { authorization: 'Bearer undefined' }]) {
        const r = await call(w.url, method, path, headers, method === 'PUT' ? eagerRules() : undefined);
        assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
        if (method !== 'HEAD') assert.equal(r.json.error, 'admin_disabled');
      }
    }
  }));
});

describe('the admin API with a token too short to be safe', () => {
  const SHORT = 'short-but-set-ZQX';
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ devVars: { ADMIN_TOKEN: SHORT } }); });
  after(async () => { await w?.stop(); });

  test('stays closed, even to that token, and says how to fix it', logged(async () => {
    for (const [method, path] of ROUTES) {
      const r = await call(w.url, method, path, { authorization: `Bearer ${SHORT}` }, method === 'PUT' ? eagerRules() : undefined);
      assert.equal(r.status, 403, `${method} ${path}`);
      if (method === 'HEAD') continue;
      assert.equal(r.json.error, 'admin_disabled');
      assert.match(r.json.message, /shorter than 32 characters/);
      assert.ok(!r.text.includes(SHORT), 'the token is not in the answer');
    }
    const h = await (await fetch(`${w.url}/v1/health`)).json();
    assert.match(h.rules, /^default@/, 'nothing was published');
    assert.match(await waitForLog(w, /ADMIN_TOKEN is too short/), /ADMIN_TOKEN is too short/);
    assert.ok(!w.log().includes(SHORT), 'the token is not in the log');
  }));
});

describe('the admin API with an empty token', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ devVars: { ADMIN_TOKEN: '' } }); });
  after(async () => { await w?.stop(); });

  test('is closed: an empty secret is no secret', logged(async () => {
    for (const authorization of ['Bearer ', 'Bearer', 'Bearer ""']) {
      const r = await call(w.url, 'GET', '/v1/admin/rules', { authorization });
      assert.equal(r.status, 403, authorization);
      assert.equal(r.json.error, 'admin_disabled');
    }
  }));
});

describe('an unusable signing keyring', () => {
  // A secret too short to sign with: the API says what is wrong without showing the secret,
  // and pages still work with their default content.
  const SECRET = 'short-ZQX-12';
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ devVars: { PROFILE_KEYS: `k9:${SECRET}` } }); });
  after(async () => { await w?.stop(); });

  test('collect and decide answer 503 naming the key, never its secret', logged(async () => {
    const c = await call(w.url, 'POST', '/v1/collect', { 'content-type': 'text/plain' }, JSON.stringify({ site: 'demo', events: views('/pricing') }));
    assert.equal(c.status, 503, c.text);
    assert.equal(c.json.error, 'not_configured');
    assert.match(c.json.message, /k9/);
    const d = await call(w.url, 'GET', '/v1/decide');
    assert.equal(d.status, 503);
    const page = await call(w.url, 'GET', '/pricing/');
    assert.equal(page.status, 200);
    assert.match(page.text, /data-intent-tier="researching"/);
    for (const r of [c, d, page]) assert.ok(!r.text.includes(SECRET) && !JSON.stringify([...r.headers]).includes(SECRET));
    assert.ok(!w.log().includes(SECRET), 'the secret is in the log');
  }));
});

describe('CORS', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  const collectBody = JSON.stringify({ site: 'demo', events: [] });
  // [route, method, extra headers, body, the status a configured origin gets]
  const API = [
    ['collect', 'POST', '/v1/collect', { 'content-type': 'text/plain' }, collectBody, 200],
    ['collect, bad body', 'POST', '/v1/collect', { 'content-type': 'text/plain' }, '{', 400],
    ['collect, too big', 'POST', '/v1/collect', { 'content-type': 'text/plain' }, ' '.repeat(70_000), 413],
    ['decide', 'GET', '/v1/decide', {}, undefined, 200],
    ['decide, unknown site', 'GET', '/v1/decide?site=acme', {}, undefined, 400],
    ['health', 'GET', '/v1/health', {}, undefined, 200],
    ['an unknown route', 'GET', '/v1/nope', {}, undefined, 404],
    ['a wrong method', 'DELETE', '/v1/collect', {}, undefined, 405],
    ['admin without a token', 'GET', '/v1/admin/rules', {}, undefined, 401],
  ];
  for (const [name, method, path, headers, body, status] of API) {
    test(`${name}: a configured origin may read the answer`, logged(async () => {
      const r = await call(w.url, method, path, { ...headers, origin: ALLOWED }, body);
      assert.equal(r.status, status, r.text.slice(0, 200));
      assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED);
      assert.match(r.headers.get('vary') ?? '', /Origin/);
      assert.equal(r.headers.get('access-control-allow-credentials'), null);
    }));
  }

  // Origins that are not configured, some of them made to look like one that is.
  const FOREIGN = [
    'https://evil.example',
    'http://localhost:8787.evil.example',
    'http://evil.localhost:8787',
    'https://localhost:8787',
    'http://localhost',
    'http://localhost:87870',
    'http://localhost:878',
    'http://127.0.0.1:8787.evil.example',
    'http://127.0.0.2:8787',
    'null',
    '*',
    `${ALLOWED}, https://evil.example`,
    `https://evil.example ${ALLOWED}`,
    `${ALLOWED}@evil.example`,
    'file://',
  ];
  for (const origin of FOREIGN) {
    test(`origin ${JSON.stringify(origin)}: refused, and no CORS headers anywhere`, logged(async () => {
      for (const [name, method, path, headers, body] of API) {
        const r = await call(w.url, method, path, { ...headers, origin }, body);
        assert.ok(r.status < 500, `${name}: ${r.status}`);
        assert.equal(r.headers.get('access-control-allow-origin'), null, name);
        assert.equal(r.headers.get('access-control-allow-credentials'), null, name);
        if (path === '/v1/collect' && method === 'POST' || path.startsWith('/v1/decide')) {
          assert.equal(r.status, 403, name);
          assert.equal(r.json.error, 'origin_not_allowed');
        }
      }
      const pre = await call(w.url, 'OPTIONS', '/v1/collect', { origin, 'access-control-request-method': 'POST' });
      assert.equal(pre.status, 403);
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
      const page = await call(w.url, 'GET', '/pricing/', { origin });
      assert.equal(page.headers.get('access-control-allow-origin'), null);
      const snippet = await call(w.url, 'GET', '/intent.js', { origin });
      assert.equal(snippet.headers.get('access-control-allow-origin'), null);
    }));
  }

  test('preflights: configured origins only, and without an Origin none', logged(async () => {
    const ok = await call(w.url, 'OPTIONS', '/v1/collect', { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(ok.headers.get('access-control-allow-credentials'), null);
    const none = await call(w.url, 'OPTIONS', '/v1/collect', { 'access-control-request-method': 'POST' });
    assert.equal(none.status, 403);
    assert.equal(none.headers.get('access-control-allow-origin'), null);
  }));

  test('pages never carry CORS headers, even for a configured origin', logged(async () => {
    const page = await call(w.url, 'GET', '/pricing/', { origin: ALLOWED });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('access-control-allow-origin'), null);
  }));
});

describe('no secret in any answer', () => {
  test('of all the answers above', () => {
    assert.ok(seen.length > 100, `${seen.length} answers seen`);
    for (const s of seen) for (const secret of SECRETS) assert.ok(!s.includes(secret), s.slice(0, 200));
  });
});
