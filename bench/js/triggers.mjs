// The triggers' figures, on local workerd (`make bench`, step 9):
//
//   node bench/js/triggers.mjs --out FILE [--trips 20] [--deliveries 5000]
//
// - trigger_p95_s: a new visitor's collect calls (three pricing views, one call each, as a
//   visitor browsing would make them) until a local receiver has the signed `audience.entered`
//   webhook for that visitor, one visitor after another; the clock starts at the call that
//   makes the visitor `ready`. The path: the answer, the event queue, the audience store's
//   ingest and outbox, its alarm, the deliveries queue, the consumer's request.
// - deliveries_per_s: `--deliveries` visitors put in `ready` at once (batches of 100 records
//   handed to the store as the event queue's consumer hands them, through bench/store/entry.mjs),
//   each notifying a webhook receiver that answers 200 at once; deliveries received a second,
//   from the first to the last to arrive, with every one checked to have arrived once and been
//   recorded `delivered`.
//
// The queues run as `wrangler dev` runs them (batches of up to 50 deliveries, a second's wait
// for a batch to fill); DELIVERY_RETRY_SCHEDULE is the short one of `make dev`, and no
// delivery here fails. Everything is timed from here, over loopback.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, drive, median } from './drive.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const outFile = opt('--out');
const TRIPS = Number(opt('--trips', '20'));
const DELIVERIES = Number(opt('--deliveries', '5000'));

const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
const pct = (xs, p) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
};

/** A receiver on 127.0.0.1 that answers 200 at once and notes when each webhook arrived. */
async function receiver() {
  const arrivals = new Map();
  let duplicates = 0;
  const waiters = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200);
      res.end();
      const at = performance.now();
      let visitor;
      try {
        visitor = JSON.parse(Buffer.concat(chunks).toString('utf8')).visitor.id;
      } catch {
        return;
      }
      if (arrivals.has(visitor)) {
        duplicates += 1;
        return;
      }
      arrivals.set(visitor, at);
      waiters.get(visitor)?.(at);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    arrivals,
    duplicates: () => duplicates,
    /** Resolves to the arrival time of `visitor`'s webhook. */
    arrival: (visitor, timeoutMs) => new Promise((resolve, reject) => {
      if (arrivals.has(visitor)) return resolve(arrivals.get(visitor));
      const timer = setTimeout(() => reject(new Error(`no webhook for ${visitor} within ${timeoutMs} ms`)), timeoutMs);
      waiters.set(visitor, (at) => { clearTimeout(timer); resolve(at); });
    }),
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The default rules with one webhook destination at the receiver, notified on entering `ready`. */
function rules(defaultRules, port) {
  const config = JSON.parse(defaultRules);
  config.revision = 'bench-triggers';
  config.destinations = { hook: { type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: 'env:WEBHOOK_SECRET' } };
  config.triggers = [{ when: 'entered', audience: 'ready', to: ['hook'] }];
  return JSON.stringify(config, null, 2);
}

const VARS = { ALLOW_LOOPBACK_DESTINATIONS: 'true', DELIVERY_RETRY_SCHEDULE: '1s,2s,5s,10s,30s' };

async function collect(base, profile, events) {
  const r = await fetch(`${base}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body: JSON.stringify({ site: 'demo', profile, events }),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`collect answered ${r.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const pricing = [{ type: 'pageview', url: 'https://demo.test/pricing/' }];

async function main() {
  const { startWorker, ADMIN_TOKEN, DEFAULT_RULES } = await import(join(ROOT, 'tests/worker/harness.mjs'));
  const workers = [];
  const receivers = [];
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      await Promise.all(workers.map((w) => w.stop()));
      process.exit(130);
    });
  }
  const result = { trips: TRIPS, deliveries: DELIVERIES };
  try {
    // 1. From the collect call that makes a visitor ready to the webhook.
    const rx = await receiver();
    receivers.push(rx);
    const w = await startWorker({ kv: { rules: rules(DEFAULT_RULES, rx.port) }, vars: VARS, logLevel: 'warn' });
    workers.push(w);
    const trip = async () => {
      const first = await collect(w.url, null, pricing);
      const second = await collect(w.url, first.profile, pricing);
      const t = performance.now();
      const third = await collect(w.url, second.profile, pricing);
      if (third.tier !== 'ready') throw new Error(`three pricing views gave ${third.tier}, not ready`);
      const at = await rx.arrival(third.visitor, 60_000);
      return (at - t) / 1000;
    };
    await trip(); // warm-up: the store object started and migrated; not counted
    const trips = [];
    for (let i = 0; i < TRIPS; i++) trips.push(await trip());
    result.trigger_s = { p95: r2(pct(trips, 95)), median: r2(median(trips)), max: r2(Math.max(...trips)), runs: trips.length };
    console.log(`  collect call to the webhook: ${JSON.stringify(result.trigger_s)}`);
    await w.stop();
    workers.length = 0;

    // 2. Deliveries a second to a receiver that answers at once.
    const sink = await receiver();
    receivers.push(sink);
    const at = Math.floor(Date.now() / 1000) - 60;
    const text = execFileSync('cargo', ['run', '-q', '--release', '-p', 'intent-bench-wasm', '--bin', 'audience-batches', '--',
      '--shape', 'ready', '--visitors', String(DELIVERIES), '--at', String(at)], { cwd: ROOT, maxBuffer: 1 << 30, encoding: 'utf8' });
    const lines = text.trim().split('\n');
    const store = await startWorker({ main: 'bench/store/entry.mjs', kv: { rules: rules(DEFAULT_RULES, sink.port) }, vars: VARS, logLevel: 'warn' });
    workers.push(store);
    const started = performance.now();
    for (let i = 0; i < lines.length; i += 10) {
      const r = await fetch(`${store.url}/__bench/ingest?object=demo:0`, { method: 'POST', body: lines.slice(i, i + 10).join('\n') });
      const answer = await r.text();
      if (r.status !== 200) throw new Error(`ingest answered ${r.status}: ${answer.slice(0, 300)}`);
    }
    const ingested = performance.now();
    const deadline = Date.now() + 600_000;
    while (sink.arrivals.size < DELIVERIES) {
      if (Date.now() > deadline) throw new Error(`${sink.arrivals.size} of ${DELIVERIES} webhooks arrived within 10 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const times = [...sink.arrivals.values()].sort((a, b) => a - b);
    const first = times[0];
    const last = times[times.length - 1];
    // Every one recorded delivered (the reports reached the store): none left pending or failed.
    const auth = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
    const count = async (status) => {
      const r = await fetch(`${store.url}/v1/admin/deliveries?status=${status}`, auth);
      const body = await r.text();
      if (r.status !== 200) throw new Error(`deliveries answered ${r.status}: ${body.slice(0, 300)}`);
      return JSON.parse(body).deliveries.length;
    };
    const settle = Date.now() + 60_000;
    for (;;) {
      const [pending, failed] = [await count('pending'), await count('failed')];
      if (pending === 0 && failed === 0) break;
      if (Date.now() > settle) throw new Error(`${pending} deliveries still pending and ${failed} failed after the last arrival`);
      await new Promise((r) => setTimeout(r, 200));
    }
    result.throughput = {
      deliveries: sink.arrivals.size,
      duplicates: sink.duplicates(),
      ingest_s: r2((ingested - started) / 1000),
      first_to_last_s: r2((last - first) / 1000),
      per_s: Math.round((sink.arrivals.size - 1) / ((last - first) / 1000)),
      // Those that arrived after the last batch was ingested: the store no longer busy with ingest.
      after_ingest_per_s: (() => {
        const later = times.filter((t) => t >= ingested);
        return later.length > 1 ? Math.round((later.length - 1) / ((later[later.length - 1] - later[0]) / 1000)) : null;
      })(),
      from_ingest_start_per_s: Math.round(sink.arrivals.size / ((last - started) / 1000)),
    };
    console.log(`  deliveries: ${JSON.stringify(result.throughput)}`);
    const panics = workers.reduce((n, x) => n + (x.log().match(/panicked|RuntimeError|Critical error|Uncaught/g) || []).length, 0);
    result.panics_in_log = panics;
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all(workers.map((x) => x.stop()));
    await Promise.all(receivers.map((x) => x.close()));
  }
}

drive('triggers', outFile, main);
