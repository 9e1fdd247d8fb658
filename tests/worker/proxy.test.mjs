// Proxy mode on the real worker: pages come back with the tier's slot content in the HTML.
// First over the bundled demo site (ORIGIN empty, as `make dev` serves it), then in front of a
// real origin server.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { startWorker, withLog, CookieJar, collect, journey, freePort } from './harness.mjs';

const READY_HERO = '<h1>Your forecast, live in two weeks</h1>';
const EVALUATING_HERO = '<h1>See why finance teams switch to Ledgerly</h1>';

function slot(html, name) {
  const m = html.match(new RegExp(`<[a-z]+ [^>]*data-intent-slot="${name}"[^>]*>[\\s\\S]*?</(div|a)>`));
  return m ? m[0] : null;
}

describe('proxy mode over the bundled site', () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('the page view is recorded from the request and the slots follow the tier', logged(async () => {
    const jar = new CookieJar();
    const home = await jar.get(`${w.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.text, /<html[^>]*data-intent-tier="researching"/);
    assert.ok(!slot(home.text, 'hero').includes('data-intent-filled'), 'researching keeps the page hero');

    const first = await jar.get(`${w.url}/pricing/`);
    assert.equal(first.headers.get('x-intent-tier'), 'evaluating');
    assert.ok(slot(first.text, 'hero').includes(EVALUATING_HERO), slot(first.text, 'hero'));
    assert.match(slot(first.text, 'cta'), /href="\/pricing\/"[^>]*>Compare plans</);

    await jar.get(`${w.url}/pricing/`);
    const third = await jar.get(`${w.url}/pricing/`);
    assert.equal(third.headers.get('x-intent-tier'), 'ready');
    assert.match(third.text, /<html[^>]*data-intent-tier="ready"/);
    assert.ok(slot(third.text, 'hero').includes(READY_HERO), slot(third.text, 'hero'));
    assert.match(slot(third.text, 'cta'), /href="\/book-a-demo\/"[^>]*>Book your demo</);
    assert.match(slot(third.text, 'pricing-nudge'), /Ready to talk numbers/);

    // Other pages show the same visitor's tier.
    const home2 = await jar.get(`${w.url}/`);
    assert.ok(slot(home2.text, 'hero').includes(READY_HERO));
  }));

  test('the cookie is first-party, HttpOnly, SameSite=Lax, not Secure on 127.0.0.1', logged(async () => {
    const r = await fetch(`${w.url}/`);
    const cookie = r.headers.getSetCookie().find((c) => c.startsWith('intent_profile='));
    assert.ok(cookie, 'a profile cookie is set');
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /Secure/);
    assert.equal(r.headers.get('cache-control'), 'private, no-cache');
  }));

  test('the rules id is on every page and API answer', logged(async () => {
    const r = await fetch(`${w.url}/`);
    assert.match(r.headers.get('x-intent-rules'), /^default@[0-9a-f]{8}$/);
    const c = await collect(w.url, { site: 'demo', events: [] });
    assert.equal(c.headers.get('x-intent-rules'), r.headers.get('x-intent-rules'));
  }));

  test('page views the snippet sends with the cookie (single-page navigations) count', logged(async () => {
    const jar = new CookieJar();
    await jar.get(`${w.url}/pricing/`);
    const c = await collect(w.url, { site: 'demo', profile: null, events: [{ type: 'pageview', url: `${w.url}/pricing/plans` }] }, { cookie: jar.header() });
    assert.equal(c.status, 200);
    assert.equal(c.body.tier, 'evaluating');
    jar.store({ headers: c.headers });
    const third = await jar.get(`${w.url}/pricing/`);
    assert.equal(third.headers.get('x-intent-tier'), 'ready', 'two page loads and one navigation');
  }));

  test('the cookie wins over a token the snippet also sends', logged(async () => {
    const jar = new CookieJar();
    await jar.get(`${w.url}/`);
    const [other] = await journey(w.url, [[{ type: 'pageview', url: 'https://demo.test/pricing' }]]);
    const c = await collect(w.url, { site: 'demo', profile: other.profile, events: [] }, { cookie: jar.header() });
    assert.equal(c.body.tier, 'researching', 'the cookie visitor has seen only the home page');
  }));

  test('events sent by the snippet with the cookie move the tier', logged(async () => {
    const jar = new CookieJar();
    await jar.get(`${w.url}/product/`);
    const c = await collect(w.url, { site: 'demo', events: [{ type: 'event', name: 'demo_request' }] }, { cookie: jar.header() });
    assert.equal(c.body.tier, 'ready');
    assert.ok(c.headers.getSetCookie().some((s) => s.startsWith('intent_profile=')));
    jar.store({ headers: c.headers });
    const page = await jar.get(`${w.url}/`);
    assert.ok(slot(page.text, 'hero').includes(READY_HERO));
  }));

  test('a forged cookie starts fresh, never an error page', logged(async () => {
    const r = await fetch(`${w.url}/pricing/`, { headers: { cookie: 'intent_profile=forged.token.value' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-intent-fresh'), 'malformed');
    assert.equal(r.headers.get('x-intent-tier'), 'evaluating');
  }));

  test('with Sec-GPC the page shows default content, records nothing and drops the cookie', logged(async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 3; i++) await jar.get(`${w.url}/pricing/`);
    const r = await jar.get(`${w.url}/pricing/`, { 'sec-gpc': '1' });
    assert.equal(r.status, 200);
    assert.match(r.text, /<html[^>]*data-intent-tier="researching"/);
    assert.ok(!slot(r.text, 'hero').includes(READY_HERO));
    assert.equal(jar.cookies.size, 0, 'the cookie was cleared');
  }));

  test('crawlers get the default page and no cookie', logged(async () => {
    const r = await fetch(`${w.url}/pricing/`, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; bingbot/2.0)' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers.getSetCookie(), []);
    assert.equal(r.headers.get('x-intent-tracking'), 'off; bot');
  }));

  test('prefetches are personalised but not counted', logged(async () => {
    const jar = new CookieJar();
    await jar.get(`${w.url}/pricing/`);
    for (let i = 0; i < 3; i++) await jar.get(`${w.url}/pricing/`, { 'sec-purpose': 'prefetch' });
    const d = await fetch(`${w.url}/v1/decide`, { headers: { cookie: jar.header() } }).then((r) => r.json());
    assert.equal(d.tier, 'evaluating');
  }));

  test('pages keep one loader tag; other files pass through untouched', logged(async () => {
    const r = await fetch(`${w.url}/pricing/`);
    const html = await r.text();
    assert.equal(html.match(/intent\.js/g).length, 1);
    const css = await fetch(`${w.url}/assets/site.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /text\/css/);
    assert.equal(css.headers.get('x-intent-tier'), null);
  }));

  test('HEAD requests and 404s are not personalised', logged(async () => {
    const head = await fetch(`${w.url}/pricing/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.deepEqual(head.headers.getSetCookie(), []);
    const missing = await fetch(`${w.url}/no-such-page/`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.headers.getSetCookie(), []);
  }));
});

describe('proxy mode in front of an origin', () => {
  let w;
  let origin;
  const hits = [];
  const logged = (fn) => withLog(() => w, fn);

  const PAGE_HEAD = '<!doctype html><html><head><title>Acme pricing</title></head><body>';
  const PAGE_BODY = '<div data-intent-slot="hero"><h1>Origin hero</h1></div><a data-intent-slot="cta" href="/signup">Sign up</a>';
  // A page that opts out of tracking, as the snippet reads it.
  const PRIVATE_PAGE = '<!doctype html><html><head><title>Acme pricing for partners</title>'
    + '<meta name="intent-edge" content="off"></head><body>' + PAGE_BODY + '</body></html>';

  before(async () => {
    const port = await freePort();
    origin = createServer((req, res) => {
      hits.push(req.url);
      if (req.url === '/pricing/partners') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag: '"p1"' });
        res.end(PRIVATE_PAGE);
        return;
      }
      if (req.url === '/pricing/partners-slow') {
        // The head in three parts, the opt-out in the last: the worker reads on until it knows.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        const cut = [PRIVATE_PAGE.indexOf('<title>'), PRIVATE_PAGE.indexOf('<meta name="intent-edge"') + 12];
        res.write(PRIVATE_PAGE.slice(0, cut[0]));
        setTimeout(() => res.write(PRIVATE_PAGE.slice(cut[0], cut[1])), 100);
        setTimeout(() => res.end(PRIVATE_PAGE.slice(cut[1])), 200);
        return;
      }
      if (req.url.startsWith('/slow')) {
        // The first half now, the rest 1.5 s later: the worker must not wait for the end.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.write(PAGE_HEAD + '<p>first part</p>' + ' '.repeat(4096));
        setTimeout(() => res.end(PAGE_BODY + '</body></html>'), 1500);
        return;
      }
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        res.end();
        return;
      }
      if (req.url === '/moved-absolute') {
        res.writeHead(301, { location: `http://${req.headers.host}/pricing?from=old` });
        res.end();
        return;
      }
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/pricing' });
        res.end();
        return;
      }
      if (req.url === '/data.bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from([0, 1, 2, 3, 255]));
        return;
      }
      if (req.url.startsWith('/echo')) {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ host: req.headers.host, forwardedHost: req.headers['x-forwarded-host'], method: req.method, url: req.url, body: Buffer.concat(chunks).toString() }));
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag: '"v1"', 'content-length': Buffer.byteLength(PAGE_HEAD + PAGE_BODY + '</body></html>') });
      res.end(PAGE_HEAD + PAGE_BODY + '</body></html>');
    });
    await new Promise((r) => origin.listen(port, '127.0.0.1', r));
    w = await startWorker({ vars: { ORIGIN: `http://127.0.0.1:${port}` } });
  });
  after(async () => {
    await w?.stop();
    await new Promise((r) => origin?.close(r));
  });

  test('origin pages are personalised, the loader injected, validators dropped', logged(async () => {
    const jar = new CookieJar();
    let r;
    for (let i = 0; i < 3; i++) r = await jar.get(`${w.url}/pricing?utm_source=ads`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-intent-tier'), 'ready');
    assert.ok(slot(r.text, 'hero').includes(READY_HERO), r.text);
    assert.match(slot(r.text, 'cta'), /href="\/book-a-demo\/"[^>]*>Book your demo</);
    assert.ok(r.text.includes('<script defer src="/intent.js" data-site="demo"></script></body>'), r.text);
    assert.equal(r.headers.get('etag'), null);
    assert.ok(hits.includes('/pricing?utm_source=ads'), 'the query string reaches the origin');
  }));

  test('a page that opts out passes through untouched, and its views are not recorded', logged(async () => {
    const jar = new CookieJar();
    const first = await jar.get(`${w.url}/pricing`);
    assert.equal(first.headers.get('x-intent-tier'), 'evaluating');
    assert.ok(jar.cookies.size, 'a cookie to keep');
    const kept = jar.header();
    for (const path of ['/pricing/partners', '/pricing/partners-slow', '/pricing/partners']) {
      const r = await jar.get(`${w.url}${path}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-intent-tracking'), 'off; page');
      assert.equal(r.headers.get('x-intent-tier'), null);
      assert.deepEqual(r.headers.getSetCookie(), [], 'the cookie is neither set nor cleared');
      assert.ok(r.text === PRIVATE_PAGE, `${path}: byte for byte as the origin sent it:\n${r.text}`);
    }
    assert.equal(jar.header(), kept);
    // Three pricing views make a visitor ready: the partner pages did not count.
    const second = await jar.get(`${w.url}/pricing`);
    assert.equal(second.headers.get('x-intent-tier'), 'evaluating', 'the second recorded pricing view');
    const third = await jar.get(`${w.url}/pricing`);
    assert.equal(third.headers.get('x-intent-tier'), 'ready');
    assert.ok(slot(third.text, 'hero').includes(READY_HERO));
  }));

  test('the page streams: the first bytes arrive before the origin has finished', logged(async () => {
    const start = Date.now();
    // NOTE: identity encoding, because wrangler's local server gzips text/html itself and
    // its compressor holds small outputs until the end; the worker's own output streams.
    const r = await fetch(`${w.url}/slow`, { headers: { 'accept-encoding': 'identity' } });
    const reader = r.body.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - start;
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const doneAt = Date.now() - start;
    assert.ok(firstAt < 1200, `first chunk after ${firstAt} ms`);
    assert.ok(doneAt >= 1400, `whole page after ${doneAt} ms`);
    assert.ok(text.includes('first part'));
    assert.ok(text.includes('Origin hero'), 'a researching visitor keeps the origin hero');
    assert.ok(text.includes('/intent.js'));
  }));

  test('a page the browser cached before the worker was there still comes back personalised', logged(async () => {
    const r = await fetch(`${w.url}/pricing`, { headers: { 'if-none-match': '"v1"', accept: 'text/html,application/xhtml+xml', 'sec-fetch-dest': 'document' } });
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('x-intent-tier'));
    assert.match(await r.text(), /data-intent-tier=/);
    // Other conditional requests still get their 304.
    const css = await fetch(`${w.url}/style.css`, { headers: { 'if-none-match': '"v1"', accept: 'text/css' } });
    assert.equal(css.status, 304);
  }));

  test('redirects and other content pass through untouched', logged(async () => {
    const moved = await fetch(`${w.url}/moved`, { redirect: 'manual' });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.get('location'), '/pricing');
    const absolute = await fetch(`${w.url}/moved-absolute`, { redirect: 'manual' });
    assert.equal(absolute.status, 301);
    assert.equal(absolute.headers.get('location'), `${w.url}/pricing?from=old`, 'redirects to the origin host come back to the public host');
    const bin = await fetch(`${w.url}/data.bin`);
    assert.deepEqual([...new Uint8Array(await bin.arrayBuffer())], [0, 1, 2, 3, 255]);
  }));

  test('POSTs reach the origin with their body', logged(async () => {
    const r = await fetch(`${w.url}/echo?x=1`, { method: 'POST', body: 'hello' });
    const body = await r.json();
    assert.equal(body.method, 'POST');
    assert.equal(body.url, '/echo?x=1');
    assert.equal(body.body, 'hello');
    assert.equal(body.host, `127.0.0.1:${origin.address().port}`, 'the origin sees its own host name');
    assert.equal(body.forwardedHost, `127.0.0.1:${w.port}`, 'and the public one in X-Forwarded-Host');
  }));

  test('the snippet and the API never go to the origin', logged(async () => {
    const before = hits.length;
    await fetch(`${w.url}/intent.js`);
    await fetch(`${w.url}/_intent/intent_snippet.js`);
    await collect(w.url, { site: 'demo', events: [] });
    assert.equal(hits.length, before);
  }));
});
