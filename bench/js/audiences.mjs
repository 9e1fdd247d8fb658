// The audience layer's figures, on local workerd (`make bench`, step 7):
//
//   node bench/js/audiences.mjs --out FILE [--visitors 5000] [--calls 4] [--members 100000]
//        [--rounds 3] [--n 400] [--trips 20] [--parts store,collect]
//
// - store_ingest_events_per_s: batches of 100 records, as the queue consumer hands them over,
//   handed one after another to one store object by the worker (bench/store/entry.mjs adds the
//   route that does what the consumer does); events stored over wall time. The batches are made
//   as the edge makes records (bench/wasm's audience-batches): returning visitors, 100
//   different ones per batch, each call a page view and an engagement report (the collect call
//   of the other benchmarks). Beside it: the same with one-event calls, and an empty batch's
//   time (the floor: the runtime's call into the object).
// - audience_list_ms_100k / audience_csv_s_100k: `ready` filled with 100,000 visitors, then its
//   first page (`limit=100`) and its whole CSV through the admin API, medians.
// - event_to_list_p95_s: a new visitor's collect call (three pricing views) until the admin
//   API's first page of `ready` shows a new member, one visitor after another.
// - collect_p50_ratio_with_pipeline: collect's p50 on the worker with the pipeline over the
//   same worker without the queue bindings, the two alternating in rounds, sequential calls of a
//   returning visitor; the median of the rounds' ratios.
//
// workerd's clocks stand still while code runs, so everything is timed from here, over HTTP on
// loopback: what a user of the API would see.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, collectBody, drive, median, returningToken } from './drive.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const outFile = opt('--out');
const VISITORS = Number(opt('--visitors', '5000'));
const CALLS = Number(opt('--calls', '4'));
const MEMBERS = Number(opt('--members', '100000'));
const ROUNDS = Number(opt('--rounds', '3'));
const N = Number(opt('--n', '400'));
const TRIPS = Number(opt('--trips', '20'));
// `--parts collect`: only collect's p50 with the pipeline on and off (for trying a change);
// `--parts store`: only the store's figures.
const PARTS = opt('--parts', 'store,collect').split(',');

const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
const pct = (xs, p) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
};

/** The batches of `audience-batches`, one array of records a line. */
function batches(args) {
  const text = execFileSync('cargo', ['run', '-q', '--release', '-p', 'intent-bench-wasm', '--bin', 'audience-batches', '--', ...args], {
    cwd: ROOT,
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  return text.trim().split('\n');
}

/**
 * Hands the batches to the store object `object` one after another, as the queue consumer does,
 * through the bench route (bench/store/entry.mjs), a hundred batches a request; events stored,
 * and the time per batch.
 */
async function ingest(base, object, lines) {
  let events = 0;
  let sent = 0;
  for (const line of lines) sent += JSON.parse(line).reduce((n, r) => n + r.events.length, 0);
  const started = performance.now();
  for (let i = 0; i < lines.length; i += 100) {
    const body = lines.slice(i, i + 100).join('\n');
    const r = await fetch(`${base}/__bench/ingest?object=${encodeURIComponent(object)}`, { method: 'POST', body });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`ingest answered ${r.status}: ${text.slice(0, 300)}`);
    const done = JSON.parse(text);
    if (done.rejected) throw new Error(`the store refused ${done.rejected} records`);
    events += done.events;
  }
  const seconds = (performance.now() - started) / 1000;
  if (events !== sent) throw new Error(`${sent} events sent, ${events} stored`);
  return {
    events,
    batches: lines.length,
    seconds: r2(seconds),
    events_per_s: Math.round(events / seconds),
    batch_ms: r2((seconds * 1000) / lines.length),
  };
}

async function admin(base, path, token) {
  const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path} answered ${r.status}: ${text.slice(0, 300)}`);
  return text;
}

async function timed(fn) {
  const t = performance.now();
  const out = await fn();
  return [performance.now() - t, out];
}

async function collectP50(base, body, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await fetch(`${base}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`collect answered ${r.status}`);
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The store's figures: ingest, the 100,000-member list and CSV, a collect call to the list. */
async function storeFigures(result, workers, harness, at) {
  const { startWorker, ADMIN_TOKEN } = harness;
  console.log(`  making ${VISITORS} visitors x ${CALLS} calls and ${MEMBERS} ready visitors`);
  const returning = batches(['--shape', 'returning', '--visitors', String(VISITORS), '--calls', String(CALLS), '--at', String(at)]);
  const views = batches(['--shape', 'returning', '--visitors', String(VISITORS), '--calls', String(CALLS), '--at', String(at), '--page-views-only']);
  const ready = batches(['--shape', 'ready', '--visitors', String(MEMBERS), '--at', String(at)]);

  const store = await startWorker({ main: 'bench/store/entry.mjs', logLevel: 'warn' });
  workers.push(store);
  // Warm-up: the object started and migrated, the isolate compiled; not counted.
  await ingest(store.url, 'warm-up:0', returning.slice(0, 5));
  result.ingest = await ingest(store.url, 'ingest:0', returning);
  console.log(`  ingest: ${JSON.stringify(result.ingest)}`);
  // The same with page views alone: a batch of 100 one-event calls, each of another visitor.
  result.ingest_page_views = await ingest(store.url, 'views:0', views);
  console.log(`  ingest, one-event calls: ${JSON.stringify(result.ingest_page_views)}`);
  // The floor: empty batches, the runtime's call into the object and an ingest of nothing.
  result.empty_batch_ms = (await ingest(store.url, 'ingest:0', Array(100).fill('[]'))).batch_ms;
  console.log(`  an empty batch: ${result.empty_batch_ms} ms`);
  // The site's own object, which the admin API lists.
  result.fill = await ingest(store.url, 'demo:0', ready);
  console.log(`  ${MEMBERS} ready visitors: ${JSON.stringify(result.fill)}`);
  const counts = JSON.parse(await admin(store.url, '/v1/admin/audiences', ADMIN_TOKEN));
  const members = counts.audiences.find((a) => a.name === 'ready').members;
  if (members !== MEMBERS) throw new Error(`ready has ${members} members, not ${MEMBERS}`);

  const list = [];
  for (let i = 0; i < 21; i++) {
    const [ms, text] = await timed(() => admin(store.url, '/v1/admin/audiences/ready?limit=100', ADMIN_TOKEN));
    if (JSON.parse(text).members.length !== 100) throw new Error('the first page does not hold 100 members');
    list.push(ms);
  }
  result.list_ms = { median: r2(median(list)), p95: r2(pct(list, 95)), runs: list.length };
  console.log(`  first page of ${MEMBERS}: ${JSON.stringify(result.list_ms)}`);
  const csv = [];
  for (let i = 0; i < 3; i++) {
    const [ms, text] = await timed(() => admin(store.url, '/v1/admin/audiences/ready?format=csv', ADMIN_TOKEN));
    const rows = text.trim().split('\n').length - 1;
    if (rows !== MEMBERS) throw new Error(`the CSV has ${rows} rows, not ${MEMBERS}`);
    csv.push(ms / 1000);
  }
  result.csv_s = { median: r2(median(csv)), runs: csv.map(r2) };
  console.log(`  whole CSV of ${MEMBERS}: ${JSON.stringify(result.csv_s)}`);

  // From a collect call to a new member at the top of `ready` (newest entries first).
  const trips = [];
  const top = async () => JSON.parse(await admin(store.url, '/v1/admin/audiences/ready?limit=1', ADMIN_TOKEN)).members[0]?.visitor;
  for (let i = 0; i < TRIPS; i++) {
    const before = await top();
    const events = [0, 1, 2].map(() => ({ type: 'pageview', url: 'https://demo.test/pricing/' }));
    const t = performance.now();
    const r = await fetch(`${store.url}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ site: 'demo', profile: null, events }),
    });
    if (r.status !== 200) throw new Error(`collect answered ${r.status}`);
    for (;;) {
      if ((await top()) !== before) break;
      if (performance.now() - t > 60_000) throw new Error('a visitor did not reach the list within 60 s');
      await new Promise((res) => setTimeout(res, 25));
    }
    trips.push((performance.now() - t) / 1000);
  }
  result.event_to_list_s = { p95: r2(pct(trips, 95)), median: r2(median(trips)), max: r2(Math.max(...trips)), runs: trips.length };
  console.log(`  collect call to the list: ${JSON.stringify(result.event_to_list_s)}`);
  await store.stop();
  workers.length = 0;
}

/** Collect's latency with the pipeline on and off, the two alternating. */
async function collectFigures(result, workers, harness) {
  const { startWorker } = harness;
  // Collect's latency with the pipeline on and off, the two alternating.
  const on = await startWorker({ logLevel: 'warn' });
  workers.push(on);
  const off = await startWorker({ logLevel: 'warn', withoutQueues: true });
  workers.push(off);
  const sides = [{ name: 'on', w: on, p50: [] }, { name: 'off', w: off, p50: [] }];
  for (const side of sides) {
    side.body = collectBody(await returningToken(side.w.url));
    await collectP50(side.w.url, side.body, Math.min(100, N));
  }
  const ratios = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...sides].reverse() : sides;
    for (const side of order) side.p50.push(await collectP50(side.w.url, side.body, N));
    ratios.push(sides[0].p50.at(-1) / sides[1].p50.at(-1));
    console.log(`  round ${round + 1}: collect p50 on ${r2(sides[0].p50.at(-1))} ms, off ${r2(sides[1].p50.at(-1))} ms`);
  }
  result.collect = {
    p50_ms_on: r2(median(sides[0].p50)),
    p50_ms_off: r2(median(sides[1].p50)),
    ratio: r2(median(ratios)),
    ratios: ratios.map(r2),
    calls_per_round: N,
  };
}

async function main() {
  const harness = await import(join(ROOT, 'tests/worker/harness.mjs'));
  const workers = [];
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      await Promise.all(workers.map((w) => w.stop()));
      process.exit(130);
    });
  }
  const at = Math.floor(Date.now() / 1000) - 3600;
  const result = { visitors: VISITORS, calls: CALLS, members: MEMBERS };
  try {
    if (PARTS.includes('store')) await storeFigures(result, workers, harness, at);
    if (PARTS.includes('collect')) await collectFigures(result, workers, harness);
    const panics = workers.reduce((n, w) => n + (w.log().match(/panicked|RuntimeError|Critical error|Uncaught/g) || []).length, 0);
    result.panics_in_log = panics;
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

drive('audiences', outFile, main);
