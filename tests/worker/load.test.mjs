// A bounded load test on loopback: many visitors at once, each making a run of collect calls
// and carrying its token forward, some of them leaving for more than 30 minutes between calls;
// one in five browses pages in proxy mode instead, carrying the cookie.
// Every answer must be a 200, and must show every event the visitor has sent so far: the rules
// below add segments that reveal exact counts (`pricing-3`: at least three pricing views), so a
// lost or double-counted event shows as a wrong segment list, and a wrong visit count in the
// token. Prints requests, errors and latency percentiles; no timing is asserted.
//
// LOAD_VISITORS and LOAD_CALLS change the size; LOAD_SECONDS bounds the run (default 15 s).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, DEFAULT_RULES, PROFILE_KEYS } from './harness.mjs';
import { reissue, decodeToken } from './token.mjs';

const VISITORS = Number(process.env.LOAD_VISITORS ?? 50);
const CALLS = Number(process.env.LOAD_CALLS ?? 60);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 15);
const UPTO = 10;
const VISIT_GAP_SECS = 31 * 60;

/** The default rules plus segments that count exactly, up to UPTO, what the visitors do. */
function loadRules() {
  const config = JSON.parse(DEFAULT_RULES);
  config.revision = 'load';
  config.segments = [];
  for (let n = 1; n <= UPTO; n++) {
    config.segments.push({ name: `pricing-${n}`, when: { viewed: { group: 'pricing', at_least: n, within: '1d' } } });
    config.segments.push({ name: `blog-${n}`, when: { viewed: { group: 'blog', at_least: n, within: '1d' } } });
    config.segments.push({ name: `trial-${n}`, when: { event: { name: 'trial_start', at_least: n, within: '1d' } } });
    config.segments.push({ name: `plan-click-${n}`, when: { click: { target: 'plan-*', at_least: n, within: '1d' } } });
  }
  for (let n = 1; n <= 8; n++) config.segments.push({ name: `visits-${n}`, when: { visits: { at_least: n, within: '1d' } } });
  return JSON.stringify(config);
}

/** What a visitor does, with what it adds to the counts the rules see. */
const ACTIONS = [
  [30, { type: 'pageview', url: 'https://demo.test/blog/post' }, 'blog'],
  [14, { type: 'pageview', url: 'https://demo.test/pricing/' }, 'pricing'],
  [10, { type: 'pageview', url: 'https://demo.test/product/' }, 'product'],
  [8, { type: 'pageview', url: 'https://demo.test/docs/start' }, null],
  [4, { type: 'pageview', url: 'https://demo.test/compare/' }, 'compare'],
  [4, { type: 'pageview', url: 'https://demo.test/customers/acme' }, 'customers'],
  [2, { type: 'pageview', url: 'https://demo.test/book-a-demo/' }, 'demo'],
  [8, { type: 'event', name: 'trial_start', props: { plan: 'team' } }, 'trial'],
  [10, { type: 'click', url: 'https://demo.test/pricing/', target: 'plan-team' }, 'click'],
  [3, { type: 'click', url: 'https://demo.test/', target: 'https://elsewhere.example/' }, null],
  [6, { type: 'engagement', url: 'https://demo.test/docs/start', seconds: 15, scroll: 60 }, null],
  [1, { type: 'event', name: 'demo_request' }, 'demoRequest'],
];
const TOTAL_WEIGHT = ACTIONS.reduce((s, [w]) => s + w, 0);

/** Pages of the demo site a proxy-mode visitor loads, with the page group each counts for. */
const PAGES = [
  ['/blog/rolling-forecasts-without-spreadsheet-sprawl/', 'blog'],
  ['/pricing/', 'pricing'],
  ['/product/', 'product'],
  ['/docs/', null],
  ['/', null],
  ['/compare/', 'compare'],
  ['/customers/northwind/', 'customers'],
  ['/book-a-demo/', 'demo'],
];

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pick(rand) {
  let r = rand() * TOTAL_WEIGHT;
  for (const a of ACTIONS) {
    r -= a[0];
    if (r < 0) return a;
  }
  return ACTIONS.at(-1);
}

/** The tier and segments the rules give for these counts (everything is inside every window). */
function expected(c) {
  const ready = c.pricing >= 3 || c.demo >= 2 || c.demoRequest >= 1 || (c.pricing >= 1 && c.visits >= 3);
  const evaluating = c.pricing >= 1 || c.compare >= 1 || (c.customers >= 1 && c.visits >= 2) || c.product >= 3;
  const segments = [];
  for (let n = 1; n <= UPTO; n++) {
    if (c.pricing >= n) segments.push(`pricing-${n}`);
    if (c.blog >= n) segments.push(`blog-${n}`);
    if (c.trial >= n) segments.push(`trial-${n}`);
    if (c.click >= n) segments.push(`plan-click-${n}`);
  }
  for (let n = 1; n <= 8; n++) if (c.visits >= n) segments.push(`visits-${n}`);
  return { tier: ready ? 'ready' : evaluating ? 'evaluating' : 'researching', segments: segments.sort() };
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

let w;
before(async () => { w = await startWorker({ kv: { rules: loadRules() } }); });
after(async () => { await w?.stop(); });

test(`${VISITORS} visitors at once, up to ${CALLS} calls each: no 5xx, nothing lost`, { timeout: 90_000 }, withLog(() => w, async (t) => {
  const health = await (await fetch(`${w.url}/v1/health`)).json();
  assert.match(health.rules, /^load@/, `the load rules are active: ${JSON.stringify(health)}`);

  const deadline = Date.now() + SECONDS * 1000;
  const latencies = [];
  const statuses = {};
  const problems = [];
  let requests = 0;
  let pageLoads = 0;
  let leaves = 0;

  async function call(path, init, page = false) {
    const started = performance.now();
    requests++;
    if (page) pageLoads++;
    let r;
    try {
      r = await fetch(`${w.url}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      statuses[err.name] = (statuses[err.name] ?? 0) + 1;
      throw err;
    }
    const body = await r.text();
    latencies.push(performance.now() - started);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    return { status: r.status, body, headers: r.headers };
  }

  /** A proxy-mode visitor: page loads with the cookie; decide (with the cookie) shows segments. */
  async function pageVisitor(v) {
    const rand = rng(0x85ebca6b ^ (v * 104729));
    const counts = { pricing: 0, blog: 0, product: 0, compare: 0, customers: 0, demo: 0, trial: 0, click: 0, demoRequest: 0, visits: 0 };
    let cookie = null;
    for (let step = 0; step < CALLS && Date.now() < deadline; step++) {
      if (cookie && rand() < 0.08) {
        cookie = reissue(cookie, { keysSpec: PROFILE_KEYS, shiftSecs: -VISIT_GAP_SECS });
        leaves++;
        counts.newVisit = true;
      }
      const [path, counted] = PAGES[Math.floor(rand() * PAGES.length)];
      if (counted) counts[counted]++;
      if (step === 0 || counts.newVisit) counts.visits++;
      counts.newVisit = false;
      const want = expected(counts);
      let r;
      try {
        r = await call(path, { headers: cookie ? { cookie: `intent_profile=${cookie}` } : {} }, true);
      } catch (err) {
        problems.push(`page visitor ${v} step ${step}: ${err.message}`);
        return;
      }
      const set = r.headers.getSetCookie().find((c) => c.startsWith('intent_profile='));
      const tier = r.headers.get('x-intent-tier');
      if (r.status !== 200 || !set || tier !== want.tier || !r.body.includes(`data-intent-tier="${want.tier}"`) || r.headers.get('x-intent-fresh')) {
        problems.push(`page visitor ${v} step ${step}: ${r.status} ${path}, tier ${tier}, expected ${want.tier}, cookie ${Boolean(set)}, fresh ${r.headers.get('x-intent-fresh')}`);
        return;
      }
      cookie = set.slice('intent_profile='.length).split(';')[0];
      const visits = decodeToken(cookie).visitsTotal;
      if (visits !== counts.visits) {
        problems.push(`page visitor ${v} step ${step}: the cookie counts ${visits} visits, expected ${counts.visits}`);
        return;
      }
      if (step % 5 === 4) {
        const d = await call('/v1/decide', { headers: { cookie: `intent_profile=${cookie}` } });
        const decided = d.status === 200 ? JSON.parse(d.body) : null;
        const got = decided && JSON.stringify({ tier: decided.tier, segments: [...decided.segments].sort() });
        if (got !== JSON.stringify(want)) {
          problems.push(`page visitor ${v} step ${step}: decide gave ${got ?? d.status}, expected ${JSON.stringify(want)}`);
          return;
        }
      }
    }
  }

  async function visitor(v) {
    if (v % 5 === 4) return pageVisitor(v);
    const rand = rng(0x9e3779b9 ^ (v * 7919));
    const counts = { pricing: 0, blog: 0, product: 0, compare: 0, customers: 0, demo: 0, trial: 0, click: 0, demoRequest: 0, visits: 0 };
    let token = null;
    for (let step = 0; step < CALLS && Date.now() < deadline; step++) {
      // Now and then the visitor leaves for 31 minutes: its token's clock moves back.
      if (token && rand() < 0.08) {
        token = reissue(token, { keysSpec: PROFILE_KEYS, shiftSecs: -VISIT_GAP_SECS });
        leaves++;
        counts.newVisit = true;
      }
      const events = [];
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) {
        const [, event, counted] = pick(rand);
        events.push(event);
        if (counted) counts[counted]++;
      }
      if (step === 0 || counts.newVisit) counts.visits++;
      counts.newVisit = false;

      let r;
      try {
        r = await call('/v1/collect', {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8' },
          body: JSON.stringify({ site: 'demo', profile: token, events }),
        });
      } catch (err) {
        problems.push(`visitor ${v} step ${step}: ${err.message}`);
        return;
      }
      if (r.status !== 200) {
        problems.push(`visitor ${v} step ${step}: ${r.status} ${r.body.slice(0, 200)}`);
        return;
      }
      const answer = JSON.parse(r.body);
      const want = expected(counts);
      const got = { tier: answer.tier, segments: [...answer.segments].sort() };
      if (answer.fresh || JSON.stringify(got) !== JSON.stringify(want)) {
        problems.push(`visitor ${v} step ${step}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}${answer.fresh ? ` (fresh: ${answer.fresh})` : ''}`);
        return;
      }
      const visits = decodeToken(answer.profile).visitsTotal;
      if (visits !== counts.visits) {
        problems.push(`visitor ${v} step ${step}: the token counts ${visits} visits, expected ${counts.visits}`);
        return;
      }
      token = answer.profile;

      // Every fifth call, decide must give the same answer and record nothing.
      if (step % 5 === 4) {
        const d = await call('/v1/decide', { headers: { 'x-intent-profile': token } });
        const decided = d.status === 200 ? JSON.parse(d.body) : null;
        if (!decided || decided.profile !== token || decided.tier !== want.tier) {
          problems.push(`visitor ${v} step ${step}: decide answered ${d.status} ${d.body.slice(0, 200)}`);
          return;
        }
      }
    }
  }

  const started = Date.now();
  await Promise.all(Array.from({ length: VISITORS }, (_, v) => visitor(v)));
  const seconds = (Date.now() - started) / 1000;

  const sorted = [...latencies].sort((a, b) => a - b);
  const serverErrors = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
  const summary = [
    `${VISITORS} visitors, ${requests} requests (${pageLoads} of them page loads) in ${seconds.toFixed(1)} s (${(requests / seconds).toFixed(0)}/s), ${leaves} returns after 31 minutes away`,
    `statuses ${JSON.stringify(statuses)}, 5xx ${serverErrors}, problems ${problems.length}`,
    `latency ms: p50 ${percentile(sorted, 50).toFixed(1)}, p90 ${percentile(sorted, 90).toFixed(1)}, p99 ${percentile(sorted, 99).toFixed(1)}, max ${sorted.at(-1).toFixed(1)}`,
  ];
  for (const line of summary) t.diagnostic(line);
  console.log(`load: ${summary.join('\n      ')}`);

  assert.equal(serverErrors, 0, 'no 5xx');
  assert.deepEqual(problems, []);
  assert.ok(requests >= VISITORS * 5, `only ${requests} requests were made`);
  assert.doesNotMatch(w.log(), /panicked|RuntimeError|unreachable|Uncaught/i);
}));
