// The load test of `make bench`: the real worker and its JavaScript peer (bench/peer-worker),
// each under `wrangler dev` on 127.0.0.1 with request logging off, driven by wrk for a bounded
// time against POST /v1/collect (a returning visitor's token and two events) and a proxied
// page (the pricing page with the profile cookie): a warm-up, then at least three rounds that
// alternate the sides, reported as medians. With the whole pipeline (the default), collect also
// runs on a third worker without queue bindings, in the same rounds.
//
//   node bench/js/load.mjs --jsonlogic DOC.json --out FILE [--seconds 10] [--rounds 3] [--warmup 3]
//
// Both workers are started the way the integration tests start the real one
// (tests/worker/harness.mjs: the built bundle, no rebuild, their own local KV).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, collectBody, drive, driverOptions, median, pageCookie, returningToken } from './drive.mjs';

const { opt, outFile, docPath } = driverOptions();
const seconds = Math.min(30, Number(opt('--seconds', '10')));
// Runs per side (the figure is their median) and the warm-up before them.
const rounds = Math.max(3, Number(opt('--rounds', '3')));
const warmup = Math.min(seconds, Number(opt('--warmup', '3')));
// What of the audience pipeline runs beside the real worker (as in bench/js/handler.mjs):
// `whole` (the default: the queue's consumer and the store in the same workerd process, sharing
// its cores, where Cloudflare runs them as other invocations), `producer` (the queue bound,
// nobody consuming it) or `off` (no queue bindings).
const pipeline = opt('--pipeline', 'whole');
if (!['producer', 'whole', 'off'].includes(pipeline)) throw new Error(`--pipeline: producer, whole or off, not ${pipeline}`);
// With the whole pipeline, collect is also run on a third worker without queue bindings (the
// visitor's path alone, which records and enqueues nothing), in the same alternation, unless
// `--without-queues-too no`: the difference is what the queue, its consumer and the store cost
// the two cores here.
const alsoOff = pipeline === 'whole' && opt('--without-queues-too', 'yes') !== 'no';
const OFF_SIDE = 'intent-edge worker (Rust/wasm), without queue bindings';

// The peer under `wrangler dev`, started as the worker tests start the real worker
// (tests/worker/harness.mjs), with its own KV holding the JSON Logic rules.
async function startPeer(startWrangler, profileKeys) {
  const dir = mkdtempSync(join(tmpdir(), 'intent-bench-peer-'));
  return startWrangler({
    dir,
    config: join(ROOT, 'bench/peer-worker/wrangler.toml'),
    kv: { rules: readFileSync(docPath) },
    vars: { PROFILE_KEYS: profileKeys },
    logLevel: 'warn',
  });
}

function wrk(url, vars, secs) {
  return new Promise((res, rej) => {
    const child = spawn('wrk', ['-t2', '-c8', `-d${secs}s`, '--timeout', '5s', '-s', join(ROOT, 'bench/load.lua'), url], {
      env: { ...process.env, ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (code !== 0 || !line) rej(new Error(`wrk failed (${code}):\n${out}`));
      else res(JSON.parse(line.slice('BENCH_JSON '.length)));
    });
  });
}


/**
 * The runs of one request kind on one side, as one figure: counts summed over every run (so
 * "nothing dropped" covers them all), rates and latencies the median of the runs.
 */
function combine(runs) {
  const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
  const med = (k) => Math.round(median(runs.map((r) => r[k])) * 1000) / 1000;
  return {
    runs: runs.length,
    requests: sum('requests'),
    ok: sum('ok'),
    status_4xx: sum('status_4xx'),
    status_5xx: sum('status_5xx'),
    socket_errors: sum('socket_errors'),
    timeouts: sum('timeouts'),
    seconds: sum('seconds'),
    rps: med('rps'),
    rps_each: runs.map((r) => r.rps),
    p50_ms: med('p50_ms'),
    p90_ms: med('p90_ms'),
    p99_ms: med('p99_ms'),
    max_ms: Math.max(...runs.map((r) => r.max_ms)),
  };
}

async function main() {
  const { startWorker, startWrangler, PROFILE_KEYS } = await import(join(ROOT, 'tests/worker/harness.mjs'));
  let real;
  let peer;
  let other;
  // Interrupted (Ctrl-C on make bench): stop every wrangler process before leaving.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      await Promise.all([real?.stop(), peer?.stop(), other?.stop()]);
      process.exit(130);
    });
  }
  try {
    // One at a time: two wrangler dev processes starting together race for the same local
    // sockets. Request logging off (`--log-level warn`): the figure is the worker's, less
    // wrangler's console.
    real = await startWorker({ logLevel: 'warn', withoutQueues: pipeline === 'off', withoutConsumers: pipeline === 'producer' });
    peer = await startPeer(startWrangler, PROFILE_KEYS);
    const sides = [
      { name: 'intent-edge worker (Rust/wasm)', w: real, pages: true },
      { name: 'JS peer (json-logic-js)', w: peer, pages: true },
    ];
    if (alsoOff) {
      other = await startWorker({ logLevel: 'warn', withoutQueues: true });
      sides.push({ name: OFF_SIDE, w: other, pages: false });
    }
    for (const side of sides) {
      side.body = collectBody(await returningToken(side.w.url));
      side.cookie = await pageCookie(side.w.url);
      side.collect = [];
      side.page = [];
    }
    const collectRun = (side, secs) =>
      wrk(`${side.w.url}/v1/collect`, { BENCH_METHOD: 'POST', BENCH_BODY: side.body, BENCH_COOKIE: '' }, secs);
    const pageRun = (side, secs) =>
      wrk(`${side.w.url}/pricing/`, { BENCH_METHOD: 'GET', BENCH_BODY: '', BENCH_COOKIE: side.cookie }, secs);
    // Warm-up: each isolate compiled, its rules cached, the JITs warm; not counted.
    for (const side of sides) {
      await collectRun(side, warmup);
      if (side.pages) await pageRun(side, warmup);
    }
    // The sides alternate, the first of each round changing, so that a machine busier in one
    // moment than the next weighs on both alike.
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...sides].reverse() : sides;
      for (const side of order) {
        const c = await collectRun(side, seconds);
        console.log(`  round ${round + 1} ${side.name} POST /v1/collect: ${JSON.stringify(c)}`);
        side.collect.push(c);
        if (!side.pages) continue;
        const p = await pageRun(side, seconds);
        console.log(`  round ${round + 1} ${side.name} GET /pricing/ (proxy mode): ${JSON.stringify(p)}`);
        side.page.push(p);
      }
    }
    const results = { seconds, rounds, warmup_seconds: warmup, pipeline, connections: 8, threads: 2, log_level: 'warn', sides: {} };
    for (const side of sides) {
      const panics = (side.w.log().match(/panicked|RuntimeError|Critical error|Uncaught/g) || []).length;
      results.sides[side.name] = { collect: combine(side.collect), page: side.pages ? combine(side.page) : null, panics_in_log: panics };
    }
    writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await Promise.all([real?.stop(), peer?.stop(), other?.stop()]);
  }
}

drive('load', outFile, main);
