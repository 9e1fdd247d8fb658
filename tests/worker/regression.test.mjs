// One test per defect found in the worker, named after the issue and item that reported it.
// (The CLI's side of the same defects: crates/intentctl/tests/regression.rs.) The isolate
// cache is off (RULES_CACHE_SECONDS=0) so that each request sees KV as it is now.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  startWorker, withLog, intentctl, collect, decide, views, rawRequest, CookieJar, freePort, ADMIN_TOKEN, DEFAULT_RULES, ROOT,
} from './harness.mjs';

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

describe('issue 20: content, collect and decide', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('20.11: a collect call with "events": [] keeps the visitor exactly as they were', logged(async () => {
    const fresh = await collect(w.url, { site: 'demo', profile: null, events: [] });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.profile, null, 'a new visitor gets no token of no activity');
    assert.equal(fresh.body.fresh, undefined);

    const first = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/', 3) });
    assert.equal(first.body.tier, 'ready');
    const empty = await collect(w.url, { site: 'demo', profile: first.body.profile, events: [] });
    assert.equal(empty.body.profile, first.body.profile, 'the token comes back unchanged');
    assert.equal(empty.body.tier, 'ready');
    const next = await collect(w.url, { site: 'demo', profile: empty.body.profile, events: views('/', 1) });
    assert.equal(next.body.fresh, undefined, 'the next call does not find it expired');
    assert.equal(next.body.tier, 'ready');

    // In proxy mode the cookie is not set again either.
    const jar = new CookieJar();
    await jar.get(`${w.url}/pricing/`);
    const r = await collect(w.url, { site: 'demo', profile: null, events: [] }, { cookie: jar.header() });
    assert.deepEqual(r.headers.getSetCookie(), []);
  }));

  test('20.12: /v1/decide answers "profile": null for a discarded token, as the README says', logged(async () => {
    const d = await decide(w.url, { profile: 'not-a-token' });
    assert.equal(d.status, 200);
    assert.equal(d.body.profile, null);
    assert.equal(d.body.fresh, 'malformed');
    const good = (await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/') })).body.profile;
    assert.equal((await decide(w.url, { profile: good })).body.profile, good);
    // The README said "the token sent, unchanged" whatever it was: it now says what the
    // worker does.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith('| `GET /v1/decide'));
    assert.ok(row, 'the README lists /v1/decide');
    assert.match(row, /`profile` is the token sent, unchanged, when it is valid, and `null` when it was discarded \(with `fresh` saying why/);
  }));

  test('20.13: a body of [] is answered in the contract\'s words', logged(async () => {
    const r = await collect(w.url, '[]');
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'bad_request');
    assert.match(r.body.message, /^expected a JSON object `\{"site": .*, found an array$/);
    assert.doesNotMatch(r.body.message, /CollectRequest|invalid length/);
    const fields = await collect(w.url, '["demo", null, []]');
    assert.equal(fields.status, 400, 'an array of the fields in order is no collect body');
  }));

  test('20.13: a gzip-encoded body is a 415 saying the encoding is not supported', logged(async () => {
    const body = gzipSync(JSON.stringify({ site: 'demo', profile: null, events: views('/pricing/') }));
    for (const headers of [{ 'content-encoding': 'gzip' }, {}]) {
      const r = await rawRequest(w.url, {
        method: 'POST', path: '/v1/collect', body, headers: { 'content-type': 'text/plain', ...headers },
      });
      assert.equal(r.status, 415, JSON.stringify(headers));
      assert.equal(r.json.error, 'unsupported_encoding');
      assert.match(r.json.message, /not supported; send the JSON uncompressed$/);
    }
  }));

  test('20.13: unknown fields in events are ignored, by decision, and the events still count', logged(async () => {
    const events = views('/pricing/', 3).map((e) => ({ ...e, color: 'red', seconds: 3 }));
    const r = await collect(w.url, { site: 'demo', profile: null, events, v: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.body.tier, 'ready');
  }));
});

describe('issue 20: variants keyed by segment', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  const rules = JSON.parse(DEFAULT_RULES);
  rules.revision = 'segments';
  rules.segments = [{ name: 'pricing-fan', when: { viewed: { group: 'pricing', at_least: 1 } } }];
  rules.variants.hero['pricing-fan'] = { html: '<h1>Plans for every team</h1>' };
  before(async () => { w = await startWorker({ kv: { rules: JSON.stringify(rules, null, 2) } }); });
  after(async () => { await w?.stop(); });

  test('20.6: a segment\'s variant wins over the tier\'s, and proxy mode exposes the segments', logged(async () => {
    const jar = new CookieJar();
    const home = await jar.get(`${w.url}/`);
    assert.doesNotMatch(home.text, /data-intent-segments/);
    assert.equal(home.headers.get('x-intent-segments'), null);

    const page = await jar.get(`${w.url}/pricing/`);
    assert.equal(page.headers.get('x-intent-tier'), 'evaluating');
    assert.equal(page.headers.get('x-intent-segments'), 'pricing-fan');
    assert.match(page.text, /<html[^>]*data-intent-tier="evaluating"[^>]*data-intent-segments="pricing-fan"/);
    assert.match(page.text, /data-intent-slot="hero"[^>]*><h1>Plans for every team<\/h1>/);

    const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing/') });
    assert.deepEqual(c.body.segments, ['pricing-fan']);
    assert.deepEqual(c.body.variants.hero, { html: '<h1>Plans for every team</h1>' });
  }));
});

describe('issue 20: pages in other charsets (proxy mode in front of an origin)', () => {
  let w;
  let origin;
  const logged = (fn) => withLog(() => w, fn);
  const rules = JSON.parse(DEFAULT_RULES);
  rules.revision = 'charsets';
  rules.variants.hero.evaluating = { html: '<h1>Prévisions — 5 € →</h1>' };
  const PAGE = '<!doctype html><html><head><title>Tarifs</title></head><body><p>Déjà</p>'
    + '<div data-intent-slot="hero"><h1>Origine</h1></div></body></html>';
  const UTF16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(PAGE, 'utf16le')]);

  before(async () => {
    const port = await freePort();
    origin = createServer((req, res) => {
      if (req.url === '/pricing/latin1') {
        res.writeHead(200, { 'content-type': 'text/html; charset=iso-8859-1' });
        res.end(Buffer.from(PAGE, 'latin1'));
      } else if (req.url === '/pricing/meta') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(Buffer.from(PAGE.replace('<head>', '<head><meta charset="windows-1252">'), 'latin1'));
      } else {
        // Known by its byte order mark. (A `charset=utf-16` header is refused by wrangler's
        // local runtime itself before the worker's answer reaches the client; the worker's
        // reading of that header is tested natively in `worker/src/rewrite.rs`.)
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(UTF16);
      }
    });
    await new Promise((r) => origin.listen(port, '127.0.0.1', r));
    w = await startWorker({ vars: { ORIGIN: `http://127.0.0.1:${port}` }, kv: { rules: JSON.stringify(rules, null, 2) } });
  });
  after(async () => {
    await w?.stop();
    await new Promise((r) => origin?.close(r));
  });

  test('20.7: a variant is written in the page\'s charset, header or <meta>, characters it lacks as references', logged(async () => {
    for (const path of ['/pricing/latin1', '/pricing/meta']) {
      const r = await fetch(`${w.url}${path}`);
      assert.equal(r.headers.get('x-intent-tier'), 'evaluating', path);
      const bytes = Buffer.from(await r.arrayBuffer());
      // windows-1252 (what browsers read for ISO-8859-1): é 0xE9, — 0x97, € 0x80; → has none.
      const want = Buffer.from([...Buffer.from('<h1>Pr'), 0xe9, ...Buffer.from('visions '), 0x97,
        ...Buffer.from(' 5 '), 0x80, ...Buffer.from(' &#8594;</h1>')]);
      assert.ok(bytes.includes(want), `${path}: ${bytes.toString('latin1')}`);
      assert.ok(bytes.includes(Buffer.from('<p>D\xe9j\xe0</p>', 'latin1')), 'the page\'s own text is untouched');
    }
  }));

  test('20.7: a UTF-16 page passes through byte for byte, nothing recorded, no loader tag', logged(async () => {
    const r = await fetch(`${w.url}/pricing/utf16`);
    assert.equal(r.status, 200);
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.ok(bytes.equals(UTF16), 'the same bytes');
    assert.deepEqual(r.headers.getSetCookie(), []);
    assert.equal(r.headers.get('x-intent-tier'), null);
    assert.equal(r.headers.get('x-intent-tracking'), 'off; charset');
  }));
});

describe('issue 20: the loader tag (proxy mode in front of an origin)', () => {
  let w;
  let origin;
  const logged = (fn) => withLog(() => w, fn);
  const OWN = '<script defer src="/intent.js" data-site="demo"></script>';
  const MARKER = '<!--intent-edge-loader-tag-->';
  const HEAD = '<!doctype html><html><head><title>Pricing</title></head><body><p>Plans</p>';
  const PAGES = {
    '/pricing/own-after-body': [HEAD + '</body>', OWN + '</html>'],
    '/pricing/own-after-html': [HEAD + '</body></html>', OWN],
    '/pricing/own-in-capitals': [HEAD.replace('</head>', '<SCRIPT DEFER SRC="/INTENT.JS" DATA-SITE="demo"></SCRIPT></head>') + '</body></html>'],
    '/pricing/marker-text': [HEAD + `<div title="${MARKER}">x</div><script>var m = '${MARKER}';</script></body></html>`],
    '/pricing/none': [HEAD + '</body></html>'],
  };

  before(async () => {
    const port = await freePort();
    origin = createServer((req, res) => {
      const parts = PAGES[req.url];
      if (!parts) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such page');
        return;
      }
      // Each part is sent on its own, the next 200 ms later: the page's own tag after
      // `</body>` comes in a later chunk than `</body>` itself.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      const send = (i) => {
        if (i === parts.length - 1) { res.end(parts[i]); return; }
        res.write(parts[i]);
        setTimeout(() => send(i + 1), 200);
      };
      send(0);
    });
    await new Promise((r) => origin.listen(port, '127.0.0.1', r));
    w = await startWorker({ vars: { ORIGIN: `http://127.0.0.1:${port}` } });
  });
  after(async () => {
    await w?.stop();
    await new Promise((r) => origin?.close(r));
  });

  test('20.8: a page loading intent.js after </body> or in capitals keeps its one tag', logged(async () => {
    for (const path of ['/pricing/own-after-body', '/pricing/own-after-html', '/pricing/own-in-capitals']) {
      const r = await fetch(`${w.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('x-intent-tier'), 'evaluating', `${path}: the page was personalised`);
      const text = await r.text();
      assert.equal(text.match(/intent\.js/gi).length, 1, `${path}: ${text}`);
      assert.ok(!text.includes('intent-edge-loader-tag'), `${path}: ${text}`);
      assert.ok(text.endsWith(PAGES[path].join('').slice(-20)), `${path}: the page's end is intact: ${text}`);
    }
    const none = await (await fetch(`${w.url}/pricing/none`)).text();
    assert.ok(none.includes(`<p>Plans</p>${OWN}</body></html>`), none);
  }));

  test('20.8: a page holding the marker\'s text keeps it, and gets the tag before </body>', logged(async () => {
    const text = await (await fetch(`${w.url}/pricing/marker-text`)).text();
    assert.ok(text.includes(`<div title="${MARKER}">x</div><script>var m = '${MARKER}';</script>${OWN}</body></html>`), text);
    assert.equal(text.match(/intent\.js/g).length, 1, text);
  }));
});
