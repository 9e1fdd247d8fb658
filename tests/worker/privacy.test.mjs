// Privacy on the worker's side: privacy signals and crawlers get nothing stored on every route,
// and what is stored for everyone else — the token — holds times and counts only, decoded
// field by field here. Nothing about a visitor reaches KV or wrangler's log.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, waitForLog, collect, decide, journey, views, CookieJar, freePort } from './harness.mjs';
import { decodeToken } from './token.mjs';

let w;
const logged = (fn) => withLog(() => w, fn);
before(async () => { w = await startWorker(); });
after(async () => { await w?.stop(); });

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

// Distinctive values of everything personal a request can carry; none may come back stored.
const CANARY = {
  ua: 'Mozilla/5.0 (X11; Linux x86_64) ZqxCanaryBrowser/9.9',
  ip: '203.0.113.77',
  url: 'https://demo.test/pricing/zqx-url-canary?utm_source=zqx-utm-canary&email=zqx%40mail.example',
  referrer: 'https://zqx-referrer-canary.example/some/path?q=zqx-query-canary',
  title: 'Zqx title canary',
  target: 'zqx-click-canary',
  prop: 'zqx-prop-canary@mail.example',
};
const PERSONAL_HEADERS = {
  'user-agent': CANARY.ua,
  'x-forwarded-for': `${CANARY.ip}, 198.51.100.1`,
  'cf-connecting-ip': CANARY.ip,
  'x-real-ip': CANARY.ip,
  'true-client-ip': CANARY.ip,
};
const IP_BYTES = Buffer.from(CANARY.ip.split('.').map(Number));
/** Every token the worker issued in this file, to look for in the log at the end. */
const issued = [];

/** The strings that must not be inside a token's bytes, in any of the encodings a field could use. */
function assertHoldsNothingPersonal(token, label) {
  const t = decodeToken(token);
  for (const value of [...Object.values(CANARY), 'zqx', 'demo.test', 'pricing', 'mail.example']) {
    for (const enc of ['utf8', 'utf16le']) {
      assert.equal(t.payload.indexOf(Buffer.from(value, enc)), -1, `${label}: the token holds ${value} (${enc})`);
    }
  }
  assert.equal(t.payload.indexOf(IP_BYTES), -1, `${label}: the token holds the IP address's bytes`);
  return t;
}

describe('the token holds times and counts, nothing else', () => {
  test('a snippet-mode token, decoded field by field', logged(async () => {
    const before = Math.floor(Date.now() / 1000);
    const answers = await journey(w.url, [
      [{ type: 'pageview', url: CANARY.url, referrer: CANARY.referrer, title: CANARY.title }],
      [
        { type: 'engagement', url: CANARY.url, seconds: 42, scroll: 80 },
        { type: 'click', url: CANARY.url, target: CANARY.target },
        { type: 'pageview', url: 'https://demo.test/compare/zqx', referrer: CANARY.referrer },
        { type: 'event', name: 'demo_request', props: { email: CANARY.prop, plan: 'pro' } },
      ],
    ], PERSONAL_HEADERS);
    const token = answers.at(-1).profile;
    issued.push(...answers.map((a) => a.profile));
    assert.equal(answers.at(-1).tier, 'ready');

    const t = assertHoldsNothingPersonal(token, 'collect');
    assert.equal(t.format, 3);
    // The visitor's id is random bytes, the same as the answer's `visitor`.
    assert.equal(t.visitor, answers.at(-1).visitor);
    assert.match(t.visitor, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(Math.abs(t.lastSeen - before) < 120, `last activity ${t.lastSeen}, now ${before}`);
    assert.equal(t.visitsTotal, 1);
    assert.equal(t.visits.length, 1);
    // No default rule reads a visit's engagement or tests its landing page: the visit is only
    // its start (the 42 seconds and 80 % scroll reported above are not kept).
    assert.deepEqual(t.visits[0], { age: 0 });
    // The default rules count six things (pricing, demo, compare, customers and product pages,
    // and demo_request): one time each for pricing, compare and demo_request, in whatever order
    // the rules compile them.
    assert.equal(t.series.length, 6);
    assert.deepEqual(t.series.map((s) => s.length).sort(), [0, 0, 0, 1, 1, 1]);
    for (const hits of t.series) for (const age of hits) assert.ok(age >= 0 && age < 120, `age ${age}`);
    // Every byte is one of the fields above, and the signature: there is room for nothing else.
    assert.equal(t.mac.length, 32);
    assert.ok(t.payload.length < 53, `a payload of ${t.payload.length} bytes`);
  }));

  test('a proxy-mode cookie token, decoded field by field', logged(async () => {
    const jar = new CookieJar();
    const headers = { ...PERSONAL_HEADERS, referer: CANARY.referrer };
    await jar.get(`${w.url}/pricing/`, headers);
    const page = await jar.get(`${w.url}/customers/`, headers);
    assert.equal(page.status, 200);
    const token = jar.cookies.get('intent_profile');
    assert.ok(token, 'a cookie was set');
    issued.push(token);
    const t = assertHoldsNothingPersonal(token, 'cookie');
    assert.equal(t.visitsTotal, 1);
    assert.equal(t.visits.length, 1);
    assert.deepEqual(Object.keys(t.visits[0]), ['age']);
    assert.deepEqual(t.series.map((s) => s.length).sort(), [0, 0, 0, 0, 1, 1]);
  }));
});

// [name, request headers, X-Intent-Tracking]
const NOT_TRACKED = [
  ['Sec-GPC: 1', { 'sec-gpc': '1', 'user-agent': CHROME }, 'off; gpc'],
  ['DNT: 1', { dnt: '1', 'user-agent': CHROME }, 'off; dnt'],
  ['Sec-GPC: 1 and DNT: 1', { 'sec-gpc': '1', dnt: '1', 'user-agent': CHROME }, 'off; gpc'],
  ...[
    'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
    'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)',
    'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)',
    'DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)',
    'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
    'Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)',
    'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
    'Twitterbot/1.0',
    'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
    'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
    'TelegramBot (like TwitterBot)',
    'WhatsApp/2.23.20.0',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 Chrome-Lighthouse',
  ].map((ua) => [`crawler ${ua.slice(0, 60)}`, { 'user-agent': ua }, 'off; bot']),
];

describe('privacy signals and crawlers: nothing stored, on every route', () => {
  let readyToken;
  before(async () => {
    const [a] = await journey(w.url, [views('/pricing', 3)], { 'user-agent': CHROME });
    assert.equal(a.tier, 'ready');
    readyToken = a.profile;
    issued.push(readyToken);
  });

  for (const [name, headers, label] of NOT_TRACKED) {
    test(name, logged(async () => {
      // collect: a new visitor, one with a token, one with the proxy-mode cookie.
      const fresh = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing', 3) }, headers);
      const known = await collect(w.url, { site: 'demo', profile: readyToken, events: views('/pricing') }, headers);
      const cookied = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, { ...headers, cookie: `intent_profile=${readyToken}` });
      for (const [what, c] of [['new visitor', fresh], ['with a token', known], ['with the cookie', cookied]]) {
        assert.equal(c.status, 200, what);
        assert.equal(c.body.profile, null, `${what}: no token`);
        assert.equal(c.body.tier, 'researching', `${what}: the fallback tier`);
        assert.deepEqual(c.body.variants, {}, `${what}: the default content`);
        assert.equal(c.headers.get('x-intent-tracking'), label, what);
        assert.equal(c.headers.get('x-intent-tier'), null, what);
      }
      assert.deepEqual(fresh.headers.getSetCookie(), []);
      assert.deepEqual(known.headers.getSetCookie(), []);
      assert.match(cookied.headers.getSetCookie().join('\n'), /^intent_profile=; .*Max-Age=0/, 'the cookie is deleted');

      // decide: the token sent is not handed back, so nothing of it is kept either.
      const d = await decide(w.url, { profile: readyToken, headers });
      assert.equal(d.status, 200);
      assert.equal(d.body.profile, null);
      assert.equal(d.body.tier, 'researching');
      assert.equal(d.headers.get('x-intent-tracking'), label);

      // pages: the default content, no cookie set, an existing one deleted.
      const page = await fetch(`${w.url}/pricing/`, { headers });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html[^>]*data-intent-tier="researching"/);
      assert.deepEqual(page.headers.getSetCookie(), []);
      assert.equal(page.headers.get('x-intent-tracking'), label);
      const withCookie = await fetch(`${w.url}/pricing/`, { headers: { ...headers, cookie: `intent_profile=${readyToken}` } });
      await withCookie.arrayBuffer();
      assert.match(withCookie.headers.getSetCookie().join('\n'), /^intent_profile=; .*Max-Age=0/);
    }));
  }

  // Signals that say nothing, and clients that are not crawlers: tracked as usual.
  const TRACKED = [
    ['Sec-GPC: 0', { 'sec-gpc': '0', 'user-agent': CHROME }],
    ['DNT: 0', { dnt: '0', 'user-agent': CHROME }],
    ['DNT: null', { dnt: 'null', 'user-agent': CHROME }],
    ['no user agent at all', { 'user-agent': '' }],
    ['curl', { 'user-agent': 'curl/8.5.0' }],
    ['mobile Safari', { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1' }],
  ];
  for (const [name, headers] of TRACKED) {
    test(`${name}: tracked`, logged(async () => {
      const c = await collect(w.url, { site: 'demo', profile: null, events: views('/pricing') }, headers);
      assert.equal(c.status, 200);
      assert.equal(typeof c.body.profile, 'string');
      assert.equal(c.body.tier, 'evaluating');
      assert.equal(c.headers.get('x-intent-tracking'), null);
      issued.push(c.body.profile);
    }));
  }
});

describe('nothing about visitors outside the token', () => {
  test('KV holds the rules and nothing per visitor', logged(async () => {
    assert.deepEqual(await w.listKv(), ['rules']);
  }));

  test("wrangler's log holds no token, address, user agent, URL, referrer or event", logged(async () => {
    // Wait for the last requests' lines to arrive.
    await waitForLog(w, /GET \/pricing\/ 200/, w.log().length - 2000);
    const log = w.log();
    assert.ok(issued.length >= 10, `${issued.length} tokens issued`);
    for (const token of issued) assert.ok(!log.includes(token), 'a token is in the log');
    for (const [what, value] of Object.entries(CANARY)) {
      assert.ok(!log.includes(value), `the ${what} is in the log`);
    }
    assert.ok(!/zqx/i.test(log), 'a canary is in the log');
  }));
});

describe('an origin that cannot be reached', () => {
  let proxied;
  before(async () => {
    // A port nothing listens on.
    proxied = await startWorker({ vars: { ORIGIN: `http://127.0.0.1:${await freePort()}` } });
  });
  after(async () => { await proxied?.stop(); });

  test("502, and the page's address is not in the worker's log", withLog(() => proxied, async () => {
    const r = await fetch(`${proxied.url}/zqx-private-path/report?id=zqx-query`, { headers: PERSONAL_HEADERS });
    assert.equal(r.status, 502);
    await r.arrayBuffer();
    const log = await waitForLog(proxied, /fetching a page upstream failed/);
    assert.match(log, /fetching a page upstream failed/);
    // wrangler's own request lines ("[wrangler:info] GET /path 502") are the platform's log,
    // as Cloudflare's request logs are; the worker's lines are the rest.
    const workerLines = log.split('\n').filter((line) => !line.startsWith('[wrangler:info]'));
    assert.ok(!/zqx/i.test(workerLines.join('\n')), workerLines.join('\n'));
  }));
});
