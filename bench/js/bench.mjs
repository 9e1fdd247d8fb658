// The engine as wasm against its JavaScript peers, in one Node process.
//
//   node bench/js/bench.mjs --engine NAME=DIR ... --suite LABEL:RULES_JSON:JSONLOGIC_JSON ... --out FILE
//
// Each DIR holds a build of the engine as wasm-bindgen output (--target nodejs); the first is the
// headline one, others (the same engine built differently) run beside it. For each suite (a rules config,
// `-` for the built-in default rules, and its JSON Logic form from `rules-to-jsonlogic`):
//   1. agreement: a corpus of generated visitor histories goes through every side call by call;
//      any difference in tier, segments or variants fails the run, loudly;
//   2. timing: each side's collect call (body in, answer out: verify, fold, classify, re-sign)
//      on an empty, a typical and a worst-case profile, each call timed on its own, sides
//      interleaved in rounds so that neither gets a quieter machine. The body comes in as UTF-8
//      bytes, as a worker reads it from the request; each side answers what its worker hands to
//      the response (the engine a view of its answer in wasm memory, as the worker passes to
//      `new Response`; the peers text).
// The peers: json-logic-js, json-logic-engine's compiled rules, and GrowthBook's evalCondition
// over the same rules as GrowthBook conditions. Then, for the default rules, where the time goes:
// the rule evaluation alone over precomputed counts, and each stage of a call on both sides.

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { evalCondition } from '@growthbook/growthbook';
import { LogicEngine } from 'json-logic-engine';
import { compileJsonLogicJs, makePeer } from './peer.mjs';

const require = createRequire(import.meta.url);
const SECRET = 'benchmark-secret-0123456789abcdef';
const T0 = 1_790_000_000; // seconds, as the native bench
const QUICK = process.env.BENCH_QUICK === '1';

const args = process.argv.slice(2);
const opt = (name) => {
  const out = [];
  for (let i = 0; i < args.length; i++) if (args[i] === name) out.push(args[i + 1]);
  return out;
};
const engineBuilds = opt('--engine').map((spec) => {
  const i = spec.indexOf('=');
  return { name: spec.slice(0, i), Engine: require(`${spec.slice(i + 1)}/intent_bench_wasm.js`).Engine };
});
const outFile = opt('--out')[0];
if (!engineBuilds.length || !outFile) {
  console.error('usage: bench.mjs --engine NAME=DIR ... --suite LABEL:RULES:JSONLOGIC ... --out FILE');
  process.exit(2);
}

const jle = new LogicEngine();
// Each peer: how it turns a rule's condition into a test, and which form of the condition it reads.
const compilers = {
  'json-logic-js': compileJsonLogicJs,
  'json-logic-engine': (logic) => jle.build(logic),
  growthbook: (cond) => (data) => evalCondition(data, cond),
};
const fields = { growthbook: 'growthbook' };

// A small deterministic PRNG (mulberry32), so every run sees the same corpus.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// What visitors of each suite's site do: pages (some with query strings and odd case), custom
// events and click targets, including things no rule looks at.
const SITES = {
  default: {
    paths: ['/', '/pricing', '/pricing/enterprise?utm_source=x', '/Pricing/', '/book-a-demo/', '/demo', '/contact-sales',
      '/product/forecasting', '/features', '/integrations/netsuite', '/compare/', '/vs/acme', '/alternatives',
      '/customers/northwind', '/case-studies/a', '/docs/api', '/blog/p', '/guides/x', '/about', '/pricingx'],
    events: ['demo_request', 'newsletter', 'trial_start'],
    clicks: ['cta-hero', 'pricing-plan-pro', 'https://other.example/'],
  },
  '50-rule': {
    paths: [...Array(12).keys()].flatMap((i) => [`/section${i}/page`, `/alt${i}/x`, `/other${i}`]),
    events: ['ev0', 'ev1', 'ev2', 'ev3', 'ev4', 'misc'],
    clicks: ['cta-0', 'cta-1x', 'cta-2', 'cta-3', 'nav'],
  },
};

function randomEvents(r, site, n) {
  const pick = (list) => list[Math.floor(r() * list.length)];
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.55) out.push({ type: 'pageview', url: `https://acme.test${pick(site.paths)}`, referrer: 'https://www.google.com/' });
    else if (k < 0.7) out.push({ type: 'engagement', url: `https://acme.test${pick(site.paths)}`, seconds: 12, scroll: 50 });
    else if (k < 0.85) out.push({ type: 'click', url: 'https://acme.test/', target: pick(site.clicks) });
    else out.push({ type: 'event', name: pick(site.events), props: { plan: 'pro' } });
  }
  return out;
}

// Gaps between calls, in seconds: within a visit, a new visit, days, weeks, past the horizon.
const GAPS = [20, 300, 1900, 4 * 3600, 86_400, 3 * 86_400, 8 * 86_400, 20 * 86_400, 100 * 86_400];

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const utf8In = new TextDecoder();
const utf8Out = new TextEncoder();
const text = (answer) => (typeof answer === 'string' ? answer : utf8In.decode(answer));
/** One call of a side with a body written as text; the answer parsed. */
const callJson = (side, body, nowMs) => JSON.parse(text(side(utf8Out.encode(body), nowMs)));

function agreement(label, sides, site, visitors) {
  const r = rng(0x1ee7 + label.length);
  const names = Object.keys(sides);
  const tiers = {};
  let calls = 0;
  for (let v = 0; v < visitors; v++) {
    const tokens = Object.fromEntries(names.map((n) => [n, null]));
    let t = T0 + Math.floor(r() * 30 * 86_400);
    const steps = 1 + Math.floor(r() * 30);
    for (let s = 0; s < steps; s++) {
      t += GAPS[Math.floor(Math.pow(r(), 1.6) * GAPS.length)];
      const events = randomEvents(r, site, Math.floor(r() * 5));
      const answers = {};
      for (const n of names) {
        const body = JSON.stringify({ site: 'demo', profile: tokens[n], events });
        const a = callJson(sides[n], body, t * 1000);
        if (a.error) throw new Error(`${label}: ${n} refused a corpus call: ${a.error}\n${body}`);
        tokens[n] = a.profile;
        answers[n] = canonical({ tier: a.tier, segments: a.segments, variants: a.variants });
      }
      const want = answers[names[0]];
      for (const n of names.slice(1)) {
        if (answers[n] !== want) {
          throw new Error(
            `DISAGREEMENT (${label}, visitor ${v}, call ${s}, t=${t}):\n  ${names[0]}: ${want}\n  ${n}: ${answers[n]}\n  events: ${JSON.stringify(events)}`,
          );
        }
      }
      const tier = JSON.parse(want).tier;
      tiers[tier] = (tiers[tier] || 0) + 1;
      calls++;
    }
  }
  return { visitors, calls, tiers };
}

// The same histories as the native bench (crates/engine/benches/classify.rs): each call a page
// view, an engagement report, a click and a custom event.
function history(site, collect, calls, spacing) {
  const urls = site.histUrls;
  let token = null;
  let t = T0;
  for (let i = 0; i < calls; i++) {
    t += spacing;
    const u = urls[i % urls.length];
    const events = [
      { type: 'pageview', url: u, referrer: 'https://www.site1.com/' },
      { type: 'engagement', url: u, seconds: 15, scroll: 60 },
      { type: 'click', target: `cta-${i % 4}` },
      { type: 'event', name: `ev${i % 5}` },
    ];
    token = callJson(collect, JSON.stringify({ site: 'demo', profile: token, events }), t * 1000).profile;
  }
  return { token, now: t + 60 };
}
SITES.default.histUrls = ['/', '/pricing', '/product', '/vs/x', '/customers/a', '/docs/api', '/blog/p', '/book-a-demo'].map(
  (p) => `https://acme.test${p}`,
);
SITES['50-rule'].histUrls = [...Array(12).keys()].map((i) => `https://acme.test/section${i}/page?utm_source=src${i % 3}`);

function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.floor((s.length - 1) * p)];
  let sum = 0;
  for (const x of s) sum += x;
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { p50_us: r3(q(0.5) / 1000), p99_us: r3(q(0.99) / 1000), mean_us: r3(sum / s.length / 1000), calls: s.length };
}

function timeSides(inputs, rounds, perRound, warmup) {
  readAnswers = false;
  try {
    return timeEachSide(inputs, rounds, perRound, warmup);
  } finally {
    readAnswers = true;
  }
}

function timeEachSide(inputs, rounds, perRound, warmup) {
  const names = Object.keys(inputs);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) {
    const { fn, body, nowMs } = inputs[n];
    for (let i = 0; i < warmup; i++) fn(body, nowMs);
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const n of order) {
      const { fn, body, nowMs } = inputs[n];
      const out = samples[n];
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint();
        fn(body, nowMs);
        out.push(Number(process.hrtime.bigint() - start));
      }
    }
  }
  return Object.fromEntries(names.map((n) => [n, stats(samples[n])]));
}

// Time of one call of `fn`, in ns, for stages too short to time one call at a time: calls run in
// batches of 100, and the median batch's mean is the figure, so that a batch the machine's other
// work (or a garbage collection) interrupted does not count.
function meanNs(fn, n) {
  const batch = 100;
  for (let i = 0; i < n / 4; i++) fn(i);
  const per = [];
  for (let b = 0; b < n / batch; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn(i);
    per.push(Number(process.hrtime.bigint() - start) / batch);
  }
  per.sort((x, y) => x - y);
  return per[Math.floor(per.length / 2)];
}

// The engine hands its answer to `intentBenchRespond` as a view of its memory, as the worker
// hands it to `new Response(view, init)`, where the runtime copies it natively (as it encodes the
// peers' text). The view is only valid during that call (the engine frees the answer after it):
// where answers are checked it is decoded there; while timing it is kept unread, as the peers'
// answer strings are.
let answered;
let readAnswers = true;
globalThis.intentBenchRespond = (view) => {
  answered = readAnswers ? utf8In.decode(view) : view;
};

const report = { node: process.version, quick: QUICK, suites: [] };
const ENGINE = engineBuilds[0].name;

for (const spec of opt('--suite')) {
  const [label, rulesPath, docPath] = spec.split(':');
  const rulesJson = rulesPath === '-' ? '' : readFileSync(rulesPath, 'utf8');
  const doc = JSON.parse(readFileSync(docPath, 'utf8'));
  const site = SITES[label];
  if (!site) throw new Error(`no generated site for suite ${label}`);
  const engines = engineBuilds.map(({ name, Engine }) => ({ name, engine: new Engine(rulesJson, `k1:${SECRET}`) }));
  const engine = engines[0].engine;
  if (engine.rulesId() !== doc.rules_id) {
    throw new Error(`${label}: the JSON Logic document is for ${doc.rules_id}, the engine has ${engine.rulesId()}: regenerate it`);
  }
  const peers = Object.fromEntries(
    Object.entries(compilers).map(([n, compile]) => [n, makePeer(doc, { secret: SECRET, compile, field: fields[n] })]),
  );
  const sides = {};
  for (const e of engines) {
    sides[e.name] = (b, t) => {
      e.engine.collect(b, t);
      return answered;
    };
  }
  for (const [n, p] of Object.entries(peers)) sides[n] = p.collectBytes;

  const visitors = QUICK ? 200 : 1500;
  const agreed = agreement(label, sides, site, visitors);
  console.log(`${label}: all ${Object.keys(sides).length} sides agree on ${agreed.calls} calls of ${visitors} visitors; tiers ${JSON.stringify(agreed.tiers)}`);
  if (Object.keys(agreed.tiers).length < Math.min(3, doc.tiers.length + 1)) {
    throw new Error(`${label}: the corpus reached only tiers ${Object.keys(agreed.tiers)}; it must cover every tier`);
  }

  const batchUrl = site.histUrls[1];
  const batch = [
    { type: 'pageview', url: batchUrl, referrer: 'https://www.google.com/' },
    { type: 'engagement', url: batchUrl, seconds: 12, scroll: 40 },
  ];
  const cases = [];
  for (const [name, calls, spacing] of [['empty', 0, 0], ['typical', 6, 86_400], ['worst', 400, 2_000]]) {
    const inputs = {};
    const tokenBytes = {};
    let tier;
    for (const [n, fn] of Object.entries(sides)) {
      const h = history(site, fn, calls, spacing);
      const body = utf8Out.encode(JSON.stringify({ site: 'demo', profile: h.token, events: batch }));
      const out = JSON.parse(text(fn(body, h.now * 1000)));
      tokenBytes[n] = out.profile.length;
      if (tier !== undefined && out.tier !== tier) throw new Error(`${label}/${name}: ${n} says ${out.tier}, not ${tier}`);
      tier = out.tier;
      inputs[n] = { fn, body, nowMs: h.now * 1000 };
    }
    const timing = QUICK ? timeSides(inputs, 4, 500, 500) : timeSides(inputs, 10, 3000, 5000);
    // The floor of each engine build's call on this profile: its two HMAC-SHA256 computations
    // alone, over as many bytes as verifying and signing cover here.
    const hmacNs = {};
    for (const { name: n, engine: e } of engines) {
      e.prepare(utf8In.decode(inputs[n].body), inputs[n].nowMs);
      hmacNs[n] = Math.round(meanNs(() => e.stage(8), QUICK ? 20_000 : 100_000));
    }
    cases.push({ case: `${label}/${name}`, tier, token_bytes: tokenBytes, sides: timing, engine_hmac_ns: hmacNs });
    const row = Object.entries(timing)
      .map(([n, s]) => `${n} p50 ${s.p50_us.toFixed(2)} p99 ${s.p99_us.toFixed(2)}`)
      .join(' | ');
    console.log(`  ${label}/${name} (${tier}): ${row} µs`);
  }
  const suite = { label, rules_id: doc.rules_id, max_token_bytes: engine.maxTokenBytes(), agreement: agreed, cases };

  if (label === 'default') {
    // Where a peer's time goes, on the typical profile: each stage on its own.
    const peer = peers['json-logic-js'];
    const h = history(site, peer.collectBytes, 6, 86_400);
    const body = JSON.stringify({ site: 'demo', profile: h.token, events: batch });
    const now = h.now;
    const decoded = peer.decode('demo', h.token, now).profile;
    const data = peer.counts(decoded, now);
    const n = QUICK ? 20_000 : 100_000;
    const evalOnly = {};
    for (const [name, compile] of Object.entries(compilers)) {
      const fns = doc.tiers.map((t) => compile(t[fields[name] || 'logic']));
      evalOnly[name] = meanNs(() => {
        for (const f of fns) if (f(data)) return 1;
        return 0;
      }, n);
    }
    const bytes = utf8Out.encode(body);
    const breakdown = {
      'decode body bytes (TextDecoder)': meanNs(() => utf8In.decode(bytes), n),
      'JSON.parse body': meanNs(() => JSON.parse(body), n),
      'verify + decode token': meanNs(() => peer.decode('demo', h.token, now), n),
      'fold 2 events': meanNs(() => {
        const p = structuredClone(decoded);
        for (const ev of batch) peer.fold(p, now, ev);
      }, n),
      'structuredClone (subtract from fold)': meanNs(() => structuredClone(decoded), n),
      'windowed counts': meanNs(() => peer.counts(decoded, now), n),
      'evaluate tiers (json-logic-js)': evalOnly['json-logic-js'],
      'sign + encode token': meanNs(() => peer.encode('demo', decoded), n),
      'JSON.stringify answer': meanNs(
        () => JSON.stringify({ profile: h.token, tier: 'ready', segments: [], variants: doc.variants.ready }),
        n,
      ),
    };
    // The engine's stages, the same way, on its own typical profile, for each build.
    const eh = history(site, sides[ENGINE], 6, 86_400);
    const etext = JSON.stringify({ site: 'demo', profile: eh.token, events: batch });
    const ebody = utf8Out.encode(etext);
    suite.engine_breakdown_ns = {};
    readAnswers = false;
    for (const { name, engine: e } of engines) {
      e.prepare(etext, eh.now * 1000);
      const stage = (k) => () => e.stage(k);
      const stages = {
        'call into wasm (no work)': meanNs(stage(0), n),
        'bytes across the boundary (body in, answer out)': meanNs(() => e.echo(ebody), n),
        'read + check body': meanNs(stage(1), n),
        'verify + decode token': meanNs(stage(2), n),
        'fold 2 events (incl. profile clone)': meanNs(stage(3), n),
        'evaluate tiers + segments + variants': meanNs(stage(4), n),
        'sign + encode token': meanNs(stage(5), n),
        'write answer': meanNs(stage(6), n),
        'whole call inside wasm': meanNs(stage(7), n),
        'whole call from JavaScript': meanNs(() => e.collect(ebody, eh.now * 1000), n),
        'of which HMAC-SHA256 alone (verify + sign)': meanNs(stage(8), n),
      };
      suite.engine_breakdown_ns[name] = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v)]));
      console.log(`  ${name} by stage (typical profile): ${JSON.stringify(suite.engine_breakdown_ns[name])} ns`);
    }
    readAnswers = true;
    suite.eval_only_ns = Object.fromEntries(Object.entries(evalOnly).map(([k, v]) => [k, Math.round(v)]));
    suite.peer_breakdown_ns = Object.fromEntries(Object.entries(breakdown).map(([k, v]) => [k, Math.round(v)]));
    console.log(`  tier rules alone over precomputed counts: ${JSON.stringify(suite.eval_only_ns)} ns`);
    console.log(`  json-logic-js peer by stage (typical profile): ${JSON.stringify(suite.peer_breakdown_ns)} ns`);
  }
  report.suites.push(suite);
}

writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${outFile}`);
