// The snippet's API on the real worker: tier transitions, decide, tokens, privacy, CORS, bad input.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';

import { startWorker, withLog, collect, decide, journey, views, intentctl, PROFILE_KEYS } from './harness.mjs';
import { decodeToken, reissue, tamper } from './token.mjs';

/** `intentctl token --json` on `token` (the engine's reading of it), or its refusal. */
async function engineReads(token, at) {
  const out = await intentctl(['token', token, '--site', 'demo', '--at', at, '--json'], { PROFILE_KEYS });
  return out.code === 0 ? JSON.parse(out.stdout) : { refused: out.stderr };
}

let w;
const logged = (fn) => withLog(() => w, fn);
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const DAY = 24 * 3600;

before(async () => { w = await startWorker(); });
after(async () => { await w?.stop(); });

describe('tier transitions under the default rules', () => {
  test('three pricing views over three calls make a visitor ready', logged(async () => {
    const tiers = (await journey(w.url, [[], views('/pricing'), views('/pricing/'), views('/pricing')])).map((a) => a.tier);
    assert.deepEqual(tiers, ['researching', 'evaluating', 'evaluating', 'ready']);
  }));

  test('the answer carries the tier variants of every slot', logged(async () => {
    const [, ready] = await journey(w.url, [views('/', 1), views('/pricing', 3)]);
    assert.equal(ready.tier, 'ready');
    assert.deepEqual(ready.segments, []);
    assert.equal(ready.variants.cta.text, 'Book your demo');
    assert.equal(ready.variants.cta.href, '/book-a-demo/');
    assert.match(ready.variants.hero.html, /<h1>/);
    assert.ok(ready.variants['pricing-nudge']);
  }));

  test('researching visitors get no variants: slots keep the page content', logged(async () => {
    const [a] = await journey(w.url, [views('/blog/some-post', 2)]);
    assert.equal(a.tier, 'researching');
    assert.deepEqual(a.variants, {});
    assert.equal(typeof a.profile, 'string');
  }));

  test('a demo_request event makes a visitor ready', logged(async () => {
    const tiers = (await journey(w.url, [views('/product'), [{ type: 'event', name: 'demo_request', props: { plan: 'pro' } }]])).map((a) => a.tier);
    assert.deepEqual(tiers, ['researching', 'ready']);
  }));

  test('a compare page makes a visitor evaluating; demo page twice makes them ready', logged(async () => {
    const tiers = (await journey(w.url, [views('/compare/'), views('/book-a-demo/'), views('/demo')])).map((a) => a.tier);
    assert.deepEqual(tiers, ['evaluating', 'evaluating', 'ready']);
  }));

  test('product viewed three times makes a visitor evaluating', logged(async () => {
    const tiers = (await journey(w.url, [views('/product'), views('/features/forecasting'), views('/integrations')])).map((a) => a.tier);
    assert.deepEqual(tiers, ['researching', 'researching', 'evaluating']);
  }));

  test('engagement and click events are accepted', logged(async () => {
    const [a] = await journey(w.url, [[
      { type: 'pageview', url: 'https://demo.test/docs/?utm_source=news&utm_medium=email', referrer: 'https://news.example/', title: 'Docs' },
      { type: 'engagement', url: 'https://demo.test/docs/', seconds: 42, scroll: 80 },
      { type: 'click', url: 'https://demo.test/docs/', target: 'compare-link-pricing' },
    ]]);
    assert.equal(a.tier, 'researching');
  }));

  test('tokens stay within 1 KiB after a long history', logged(async () => {
    const steps = [];
    for (let i = 0; i < 20; i++) steps.push([...views('/pricing', 5), ...views(`/blog/post-${i}`, 5), ...views('/customers/acme', 5)]);
    const answers = await journey(w.url, steps);
    for (const a of answers) assert.ok(a.profile.length <= 1024, `token of ${a.profile.length} bytes`);
    assert.equal(answers.at(-1).tier, 'ready');
  }));
});

describe('JSON answers', () => {
  /** The raw HTTP answer to `method path` with `body`: status, headers and body bytes. */
  const raw = (method, path, body) =>
    new Promise((resolve, reject) => {
      const req = request(`${w.url}${path}`, { method, headers: { 'content-type': 'text/plain' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  // The worker hands a JSON body to the runtime as a view of its wasm memory; the runtime must
  // copy it whole, with its length known up front (not chunked), whatever the status.
  test('come whole, with their exact length', logged(async () => {
    const events = [{ type: 'pageview', url: 'https://demo.test/pricing/é', title: 'Préix' }];
    const cases = [
      ['POST', '/v1/collect', JSON.stringify({ site: 'demo', profile: null, events })],
      ['GET', '/v1/decide?slots=hero,cta'],
      ['GET', '/v1/health'],
      ['GET', '/v1/nowhere'],
      ['POST', '/v1/collect', '{"site":'],
    ];
    for (const [method, path, body] of cases) {
      const res = await raw(method, path, body);
      assert.equal(res.headers['transfer-encoding'], undefined, `${method} ${path}`);
      assert.equal(Number(res.headers['content-length']), res.body.length, `${method} ${path}`);
      assert.match(res.headers['content-type'], /^application\/json/);
      const answer = JSON.parse(res.body.toString('utf8'));
      assert.ok(res.status < 500, `${method} ${path}: ${res.status}`);
      if (path === '/v1/collect' && res.status === 200) assert.ok(answer.profile.length > 40);
    }
  }));
});

describe('decide', () => {
  test('records nothing', logged(async () => {
    const [a] = await journey(w.url, [views('/pricing')]);
    assert.equal(a.tier, 'evaluating');
    for (let i = 0; i < 5; i++) {
      const d = await decide(w.url, { profile: a.profile });
      assert.equal(d.status, 200);
      assert.equal(d.body.tier, 'evaluating');
      assert.equal(d.body.profile, a.profile, 'decide hands back the token it was sent, unchanged');
    }
    // Had decide counted anything, two more pricing views would not be needed for `ready`.
    const again = await collect(w.url, { site: 'demo', profile: a.profile, events: views('/pricing') });
    assert.equal(again.body.tier, 'evaluating');
    const third = await collect(w.url, { site: 'demo', profile: again.body.profile, events: views('/pricing') });
    assert.equal(third.body.tier, 'ready');
  }));

  test('returns only the slots asked for', logged(async () => {
    const [a] = await journey(w.url, [views('/pricing', 3)]);
    const d = await decide(w.url, { profile: a.profile, slots: 'hero,cta' });
    assert.equal(d.body.tier, 'ready');
    assert.deepEqual(Object.keys(d.body.variants).sort(), ['cta', 'hero']);
    assert.equal(d.headers.get('x-intent-tier'), 'ready');
  }));

  test('without a token: the fallback tier and no token', logged(async () => {
    const d = await decide(w.url, { slots: 'hero' });
    assert.equal(d.status, 200);
    assert.equal(d.body.tier, 'researching');
    assert.equal(d.body.profile, null);
  }));

  test('reads the proxy-mode cookie too', logged(async () => {
    const [a] = await journey(w.url, [views('/pricing', 3)]);
    const d = await decide(w.url, { headers: { cookie: `other=1; intent_profile=${a.profile}` } });
    assert.equal(d.body.tier, 'ready');
  }));

  test('refuses an unknown site and too many slots', logged(async () => {
    assert.equal((await decide(w.url, { site: 'nope' })).status, 400);
    const many = Array.from({ length: 40 }, (_, i) => `s${i}`).join(',');
    const d = await decide(w.url, { slots: many });
    assert.equal(d.status, 400);
    assert.match(d.body.message, /slots/);
  }));
});

describe('tokens that cannot be used start the visitor fresh, never an error', () => {
  async function readyToken() {
    const [a] = await journey(w.url, [views('/pricing', 3)]);
    assert.equal(a.tier, 'ready');
    return a.profile;
  }

  const cases = {
    'tampered': (t) => tamper(t),
    'garbage': () => 'not-a-token',
    'truncated': (t) => t.slice(0, 20),
    'expired (last seen 91 days ago)': (t) => reissue(t, { keysSpec: PROFILE_KEYS, shiftSecs: -91 * DAY }),
    'from the future': (t) => reissue(t, { keysSpec: PROFILE_KEYS, shiftSecs: 2 * DAY }),
    'signed with a key the worker does not hold': (t) => reissue(t, { keysSpec: PROFILE_KEYS, secret: 'an-attackers-secret-of-enough-length', tag: 'other' }),
    'forged with a wrong secret under the real key id': (t) => reissue(t, { keysSpec: PROFILE_KEYS, secret: 'an-attackers-secret-of-enough-length' }),
  };
  for (const [name, make] of Object.entries(cases)) {
    test(name, logged(async () => {
      const bad = make(await readyToken());
      const c = await collect(w.url, { site: 'demo', profile: bad, events: views('/docs/') });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      assert.equal(c.body.tier, 'researching');
      assert.equal(typeof c.body.fresh, 'string');
      assert.equal(c.headers.get('x-intent-fresh'), c.body.fresh);
      assert.notEqual(c.body.profile, bad);
      const d = await decide(w.url, { profile: bad });
      assert.equal(d.status, 200);
      assert.equal(d.body.tier, 'researching');
      assert.equal(d.body.profile, null);
    }));
  }

  test('a token moved in time but still within the horizon is accepted', logged(async () => {
    const moved = reissue(await readyToken(), { keysSpec: PROFILE_KEYS, shiftSecs: -DAY });
    const d = await decide(w.url, { profile: moved });
    assert.equal(d.body.fresh, undefined);
    assert.equal(d.body.tier, 'ready');
  }));

  test('these tests read and re-sign tokens exactly as the engine does (`intentctl token`)', logged(async () => {
    const token = await readyToken();
    const mine = decodeToken(token);
    const at = new Date((mine.lastSeen + 3600) * 1000).toISOString().replace('.000Z', 'Z');
    const engine = await engineReads(token, at);
    assert.ok(!engine.refused, engine.refused);
    assert.equal(Date.parse(engine.profile.last_seen) / 1000, mine.lastSeen);
    assert.equal(engine.profile.visits, mine.visitsTotal);
    assert.equal(engine.profile.visit_starts.length, mine.visits.length);
    assert.equal(engine.explanation.tier, 'ready');
    // Moved a day back and re-signed here: the engine verifies it and sees the day.
    const moved = await engineReads(reissue(token, { keysSpec: PROFILE_KEYS, shiftSecs: -DAY }), at);
    assert.ok(!moved.refused, moved.refused);
    assert.equal(Date.parse(moved.profile.last_seen) / 1000, mine.lastSeen - DAY);
    const forged = await engineReads(tamper(token), at);
    assert.match(forged.refused, /bad-signature/);
  }));

  test('a token from another site is not accepted', logged(async () => {
    const t = await readyToken();
    const forged = reissue(t, { keysSpec: PROFILE_KEYS, site: 'other' });
    const d = await decide(w.url, { profile: forged });
    assert.equal(d.body.tier, 'researching');
    assert.equal(d.body.fresh, 'bad-signature');
  }));
});

describe('privacy', () => {
  const signals = {
    'Sec-GPC: 1': { 'sec-gpc': '1' },
    'DNT: 1': { dnt: '1' },
    'a crawler': { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
  };
  for (const [name, headers] of Object.entries(signals)) {
    test(`${name}: nothing recorded, no token, default variants`, logged(async () => {
      const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing', 3) }, headers);
      assert.equal(c.status, 200);
      assert.equal(c.body.profile, null);
      assert.equal(c.body.tier, 'researching');
      assert.deepEqual(c.body.variants, {});
      assert.match(c.headers.get('x-intent-tracking'), /^off/);
      assert.equal(c.headers.get('set-cookie'), null);
      const d = await decide(w.url, { headers });
      assert.equal(d.body.profile, null);
    }));
  }

  test('a tracked visitor who turns GPC on keeps nothing', logged(async () => {
    const [a] = await journey(w.url, [views('/pricing', 3)]);
    const c = await collect(w.url, { site: 'demo', profile: a.profile, events: views('/pricing') }, { 'sec-gpc': '1' });
    assert.equal(c.body.profile, null);
    assert.equal(c.body.tier, 'researching');
  }));

  test('an ordinary browser is tracked', logged(async () => {
    const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, { 'user-agent': CHROME, 'sec-gpc': '0' });
    assert.equal(c.body.tier, 'evaluating');
    assert.equal(c.headers.get('x-intent-tracking'), null);
  }));
});

describe('first party', () => {
  // `Sec-Fetch-Site: same-origin` (the worker on the site's own route, called by its pages)
  // keeps the profile in a first-party cookie; any other caller keeps the token itself.
  test('a same-origin call gets its profile as a cookie, another call does not', logged(async () => {
    const same = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, { 'sec-fetch-site': 'same-origin' });
    assert.equal(same.status, 200);
    assert.match(same.headers.get('set-cookie') ?? '', /^intent_profile=[^;]+;/);
    for (const headers of [{}, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'none' }]) {
      const other = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, headers);
      assert.equal(other.status, 200);
      assert.ok(other.body.profile.length > 40);
      assert.equal(other.headers.get('set-cookie'), null, JSON.stringify(headers));
    }
  }));
});

describe('CORS', () => {
  const allowed = 'http://localhost:8787';
  test('configured origins may read answers, with no preflight for text/plain', logged(async () => {
    const c = await collect(w.url, { site: 'demo', events: [] }, { origin: allowed });
    assert.equal(c.status, 200);
    assert.equal(c.headers.get('access-control-allow-origin'), allowed);
    assert.match(c.headers.get('vary'), /Origin/);
  }));

  test('other origins are refused and get no CORS headers', logged(async () => {
    const c = await collect(w.url, { site: 'demo', events: [] }, { origin: 'https://evil.example' });
    assert.equal(c.status, 403);
    assert.equal(c.body.error, 'origin_not_allowed');
    assert.equal(c.headers.get('access-control-allow-origin'), null);
  }));

  test('preflight: allowed for configured origins only', logged(async () => {
    const ok = await fetch(`${w.url}/v1/decide`, { method: 'OPTIONS', headers: { origin: allowed, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-intent-profile' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), allowed);
    assert.match(ok.headers.get('access-control-allow-headers'), /x-intent-profile/);
    const no = await fetch(`${w.url}/v1/collect`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(no.status, 403);
    assert.equal(no.headers.get('access-control-allow-origin'), null);
  }));

  test('the snippet files may be loaded cross-origin by configured sites', logged(async () => {
    const ok = await fetch(`${w.url}/_intent/intent_snippet_bg.wasm`, { headers: { origin: allowed } });
    await ok.arrayBuffer();
    assert.equal(ok.headers.get('access-control-allow-origin'), allowed);
    const no = await fetch(`${w.url}/intent.js`, { headers: { origin: 'https://evil.example' } });
    await no.arrayBuffer();
    assert.equal(no.headers.get('access-control-allow-origin'), null);
  }));

  test('same-origin calls need no CORS', logged(async () => {
    const c = await collect(w.url, { site: 'demo', events: [] }, { origin: w.url });
    assert.equal(c.status, 200);
  }));
});

describe('bad input gets a 4xx JSON error, never a 5xx', () => {
  const event = { type: 'pageview', url: 'https://demo.test/' };
  const cases = [
    ['malformed JSON', '{"site": "demo", "events": [', 400],
    ['not an object', '[1, 2, 3]', 400],
    ['empty body', '', 400],
    ['wrong type for site', { site: 5, events: [] }, 400],
    ['wrong type for events', { site: 'demo', events: 'pageview' }, 400],
    ['missing site', { events: [event] }, 400],
    ['unknown event kind', { site: 'demo', events: [{ type: 'purchase', url: 'https://demo.test/' }] }, 400],
    ['event without its fields', { site: 'demo', events: [{ type: 'pageview' }] }, 400],
    ['wrong field type in an event', { site: 'demo', events: [{ type: 'engagement', url: 'https://demo.test/', seconds: 'long' }] }, 400],
    ['too many events', { site: 'demo', events: Array.from({ length: 51 }, () => event) }, 400],
    ['unknown site', { site: 'acme', events: [event] }, 400],
    ['invalid site id', { site: 'no spaces allowed', events: [event] }, 400],
    ['profile of the wrong type', { site: 'demo', profile: 42, events: [] }, 400],
    ['oversized URL', { site: 'demo', events: [{ type: 'pageview', url: `https://demo.test/${'a'.repeat(5000)}` }] }, 400],
    ['body over 64 KiB', { site: 'demo', events: [{ type: 'event', name: 'x', props: { pad: 'p'.repeat(70 * 1024) } }] }, 413],
  ];
  for (const [name, body, status] of cases) {
    test(name, logged(async () => {
      const c = await collect(w.url, body);
      assert.equal(c.status, status, JSON.stringify(c.body).slice(0, 300));
      assert.equal(typeof c.body.error, 'string');
      assert.equal(typeof c.body.message, 'string');
      assert.ok(c.body.message.length > 5);
    }));
  }

  test('the error names the field', logged(async () => {
    const c = await collect(w.url, { site: 'demo', events: [event, { type: 'purchase' }] });
    assert.match(c.body.message, /events\[1\]/);
  }));

  test('a body over 64 KiB without a declared length gets 413', logged(async () => {
    const big = JSON.stringify({ site: 'demo', events: [] }) + ' '.repeat(70 * 1024);
    const stream = new ReadableStream({
      start(ctrl) { for (let i = 0; i < big.length; i += 8192) ctrl.enqueue(new TextEncoder().encode(big.slice(i, i + 8192))); ctrl.close(); },
    });
    const r = await fetch(`${w.url}/v1/collect`, { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 413);
  }));

  test('invalid UTF-8', logged(async () => {
    const r = await fetch(`${w.url}/v1/collect`, { method: 'POST', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
  }));

  test('form encodings get 415', logged(async () => {
    const r = await fetch(`${w.url}/v1/collect`, { method: 'POST', body: 'site=demo', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 415);
    assert.equal((await r.json()).error, 'unsupported_media_type');
  }));

  test('wrong method gets 405 with Allow; unknown routes 404', logged(async () => {
    const r = await fetch(`${w.url}/v1/collect`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    const n = await fetch(`${w.url}/v1/nope`);
    assert.equal(n.status, 404);
    assert.equal((await n.json()).error, 'not_found');
  }));

  test('random garbage never gets a 5xx', logged(async () => {
    let seed = 42;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pieces = ['{', '}', '[', ']', '"site"', '"demo"', ':', ',', '"events"', '"type"', '"pageview"', '"url"', 'null', '1e999', '-0', 'true', '"\\u0000"', '"\\ud800"', '{"site":"demo","events":[', '"profile"'];
    for (let i = 0; i < 60; i++) {
      let body = '';
      const n = 1 + Math.floor(rand() * 12);
      for (let j = 0; j < n; j++) body += pieces[Math.floor(rand() * pieces.length)];
      const c = await collect(w.url, body);
      assert.ok(c.status < 500, `${body} -> ${c.status}`);
    }
  }));
});
