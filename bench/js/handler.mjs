// The worker's own cost per request, inside workerd: `make bench`'s handler benchmark.
//
//   node bench/js/handler.mjs --jsonlogic DOC.json --out FILE [--n 400] [--rounds 9]
//
// Each worker runs behind a repeat loop (bench/handler/): one `POST /__bench` runs its real
// handler `n` times on fresh copies of a request, and the same loop with a trivial answer in
// place of the handler is the baseline. workerd's clocks stand still while code runs, so the
// loop is measured from here: the CPU time the workerd process running the worker spent on the
// request (every thread's, from /proc/<pid>/task/*/schedstat, in nanoseconds); per call,
// (handler - baseline) / n. The rounds alternate handler and baseline and the figure is their
// median. (Wall time, kept beside it, also counts the moments another process had the core.)
// With the queue bound, a loop of a route that records is measured until workerd has gone quiet
// after it (`settled` below), so its figure holds the queue's broker, consumer and store too.
//
// Then a CPU profile of the collect loop through workerd's inspector (V8's sampling profiler,
// every 100 µs unless `--sampling-us` says otherwise), whose top entries say where the time goes: self time per function, per call.
//
// Routes: collect (a returning visitor's token and two events), decide (the token in
// X-Intent-Profile), a proxied page (the pricing page with the profile cookie, read to its
// end), health, and the floor: a collect call for an unknown site, which reads the headers and
// the body, parses a few bytes and answers a fixed 400 (the runtime boundary, without the
// engine). The JavaScript peer does collect, the page and health.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ROOT, UA, collectBody, cpuNs, descendants, drive, driverOptions, median, pageCookie, returningToken,
} from './drive.mjs';

const { opt, outFile, docPath } = driverOptions();
const N = Number(opt('--n', '400'));
const ROUNDS = Number(opt('--rounds', '9'));
const PROFILE_REQUESTS = Number(opt('--profile-requests', '10'));
// Which routes to measure (all by default), and whether to profile: for trying a change.
const ONLY = opt('--routes', 'collect,decide,page,health,floor').split(',');
const PROFILE = opt('--profile', 'yes') !== 'no';
const PROFILE_ROUTE = opt('--profile-route', 'collect');
// V8's sampling interval in µs: finer shows the short stages, at the price of more overhead.
const SAMPLING_US = Number(opt('--sampling-us', '100'));
// A folder to keep each profile in whole (`real-collect.cpuprofile`, `peer-collect.cpuprofile`),
// for Chrome DevTools (Performance, Load profile) or a script that follows its call tree.
const SAVE_PROFILE = opt('--save-profile', '');
// What of the audience pipeline runs in the measured process (`--pipeline`):
// - `whole` (the default): the worker with its queues as deployed. A collect call makes its
//   message and hands it to the message its isolate is filling, which one `send` sends; under
//   `wrangler dev` the queue's broker, the consumer and the site's `AudienceStore` (in the
//   worker's own isolate) run in the same workerd process, so their work is counted in the
//   call's CPU, where Cloudflare runs them as other invocations.
// - `producer`: the queue bound and nobody consuming it in the process (the local broker keeps
//   what it is sent).
// - `off`: no queue bindings: a collect call records but enqueues nothing, the visitor's own path.
// (`--without-queues yes` is the older name of `--pipeline off`.) Unless `--without-queues-too
// no`, a run in `whole` mode also measures collect on a worker without queue bindings.
const PIPELINE = opt('--without-queues', 'no') === 'yes' ? 'off' : opt('--pipeline', 'whole');
if (!['producer', 'whole', 'off'].includes(PIPELINE)) throw new Error(`--pipeline: producer, whole or off, not ${PIPELINE}`);
const ALSO_OFF = PIPELINE === 'whole' && opt('--without-queues-too', 'yes') !== 'no' && ONLY.includes('collect');
// Loops of each kind run before the rounds: the isolate compiled, its caches filled, and its
// wasm and JavaScript tiered up (with one, the first rounds still ran slower than the later ones).
const WARMUP = Number(opt('--warmup', '3'));

const r2 = (x) => Math.round(x * 100) / 100;

/** The workerd process that runs the worker itself (the one with an inspector). */
function workerdOf(w) {
  const found = descendants(w.pid).filter(([, cmd]) => /workerd serve/.test(cmd) && /--inspector-addr/.test(cmd));
  if (found.length !== 1) throw new Error(`expected one workerd running the worker below ${w.pid}, found ${found.length}`);
  return found[0][0];
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// With the queue bound, the calls of a loop that record (collect, a proxied page) are sent 20 ms
// after them, and reach the consumer and the store up to a second later (`max_batch_timeout`),
// in the same workerd process. Each loop of such a route, its baseline's too, is therefore
// measured until the process has gone quiet again: the pipeline's whole cost is counted, and in
// the loop that caused it, not in the next one (where it made single rounds read 800 µs, or
// less than nothing). Quiet: at least SETTLE_MS after the loop, then a QUIET_MS window in
// which workerd spent under QUIET_CPU_MS of CPU. The baseline waits the same, so what an idle
// process spends cancels out.
const SETTLE_MS = 1200;
const QUIET_MS = 250;
const QUIET_CPU_MS = 1;
const SETTLE_LIMIT_MS = 20_000;

/** Resolves once workerd has gone quiet after a loop (see SETTLE_MS). */
async function settled(w) {
  await sleep(SETTLE_MS);
  const limit = Date.now() + SETTLE_LIMIT_MS;
  for (;;) {
    const c0 = cpuNs([w.workerd]);
    await sleep(QUIET_MS);
    if ((cpuNs([w.workerd]) - c0) / 1e6 < QUIET_CPU_MS) return;
    if (Date.now() > limit) throw new Error(`workerd was still busy ${SETTLE_LIMIT_MS / 1000} s after a loop`);
  }
}

/**
 * Runs one bench loop; resolves to the CPU time workerd spent on it (until it had gone quiet
 * again, when `settle`) and its wall time to the answer, in ms, and what the loop saw.
 */
async function loop(w, request, baseline, settle = false) {
  const cpu0 = cpuNs([w.workerd]);
  const t0 = process.hrtime.bigint();
  const r = await fetch(`${w.url}/__bench`, {
    method: 'POST',
    body: JSON.stringify({ n: N, request, baseline }),
  });
  const text = await r.text();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (settle) await settled(w);
  const cpuMs = (cpuNs([w.workerd]) - cpu0) / 1e6;
  if (r.status !== 200) throw new Error(`the bench loop answered ${r.status}: ${text.slice(0, 500)}`);
  return { ms, cpuMs, ...JSON.parse(text) };
}

/**
 * The handler's cost per call in µs of workerd's CPU: the median over the rounds of
 * (handler - baseline) / n. CPU time, not wall time: on a shared machine a loop is preempted
 * by other work, which wall time would count. The wall-time figure is kept beside it.
 */
async function measure(w, request, expectStatus, settle = false) {
  for (let i = 0; i < WARMUP; i++) {
    await loop(w, request, false, settle);
    await loop(w, request, true, settle);
  }
  const perCall = [];
  const wall = [];
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0;
    const a = await loop(w, request, !first, settle);
    const b = await loop(w, request, first, settle);
    const [handler, base] = first ? [a, b] : [b, a];
    const statuses = Object.keys(handler.statuses);
    if (statuses.length !== 1 || Number(statuses[0]) !== expectStatus) {
      throw new Error(`${request.method} ${request.path}: statuses ${JSON.stringify(handler.statuses)}, expected ${expectStatus}`);
    }
    perCall.push(((handler.cpuMs - base.cpuMs) * 1000) / N);
    wall.push(((handler.ms - base.ms) * 1000) / N);
  }
  return { us: r2(median(perCall)), rounds_us: perCall.map(r2), wall_us: r2(median(wall)), settled: settle };
}

/** A CDP session with the worker's isolate, through wrangler's inspector port. */
async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspector target on port ${port}: ${JSON.stringify(targets)}`);
  // NOTE: wrangler's inspector proxy refuses a client that names itself (undici sends a
  // user agent) without an `Origin` header.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${port}` } });
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = () => rej(new Error('the inspector connection failed'));
  });
  let next = 1;
  const pending = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) {
      const { res, rej } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) rej(new Error(`${JSON.stringify(msg.error)}`));
      else res(msg.result);
    }
  };
  return {
    send(method, params = {}) {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((res, rej) => pending.set(id, { res, rej }));
    },
    close: () => ws.close(),
  };
}

/** Self time per function of a V8 CPU profile, in µs per handler call, largest first. */
function topEntries(profile, calls, count = Number(opt('--top', '12'))) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const frames = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the gap to the next one.
    const dt = deltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]);
    const f = node.callFrame;
    const where = f.url ? ` ${f.url.split('/').pop()}${f.url.endsWith('.wasm') || f.url.startsWith('wasm') ? '' : `:${f.lineNumber + 1}`}` : '';
    const name = `${f.functionName || '(anonymous)'}${where}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    frames.set(name, f);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, us_per_call: r2(us / calls), share: r2((us / total) * 100), frame: frames.get(name) }));
}

/**
 * Names each JavaScript entry by its source around its start (the bundle's line numbers say little:
 * wrangler bundles the minified glue again), read through the inspector's debugger.
 */
async function withSource(cdp, entries) {
  await cdp.send('Debugger.enable');
  const sources = new Map();
  for (const entry of entries) {
    const f = entry.frame;
    delete entry.frame;
    if (!f?.url || f.url.endsWith('.wasm') || f.url.startsWith('wasm') || !f.scriptId) continue;
    try {
      if (!sources.has(f.scriptId)) {
        sources.set(f.scriptId, (await cdp.send('Debugger.getScriptSource', { scriptId: f.scriptId })).scriptSource.split('\n'));
      }
      const line = sources.get(f.scriptId)[f.lineNumber] ?? '';
      // From a little before the function: glue functions are `name: function(…)`.
      entry.source = line.slice(Math.max(0, f.columnNumber - 70), f.columnNumber + 60).trim();
    } catch { /* no source: the name alone */ }
  }
  await cdp.send('Debugger.disable');
  return entries;
}

/** A CPU profile of the handler loop of `request`, sampled every `SAMPLING_US` µs. */
async function profileOf(w, request, file) {
  const cdp = await inspector(w.inspectorPort);
  try {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_US });
    await cdp.send('Profiler.start');
    for (let i = 0; i < PROFILE_REQUESTS; i++) await loop(w, request, false);
    const { profile } = await cdp.send('Profiler.stop');
    if (file) writeFileSync(file, JSON.stringify(profile));
    return await withSource(cdp, topEntries(profile, PROFILE_REQUESTS * N));
  } finally {
    cdp.close();
  }
}

async function start(harness, { main, source, kv, vars, pipeline = 'off' }) {
  const { startWrangler, testConfig, freePort } = harness;
  const dir = mkdtempSync(join(tmpdir(), 'intent-bench-handler-'));
  const config = testConfig(dir, { main, source, withoutQueues: pipeline === 'off', withoutConsumers: pipeline === 'producer' });
  const inspectorPort = await freePort();
  const w = await startWrangler({
    dir,
    config,
    kv,
    vars,
    logLevel: 'warn',
    args: ['--inspector-port', String(inspectorPort)],
  });
  w.inspectorPort = inspectorPort;
  w.workerd = workerdOf(w);
  return w;
}

async function main() {
  const harness = await import(join(ROOT, 'tests/worker/harness.mjs'));
  let real;
  let peer;
  let other;
  try {
    real = await start(harness, { main: 'bench/handler/real.mjs', kv: { rules: harness.DEFAULT_RULES }, pipeline: PIPELINE });
    peer = await start(harness, {
      main: 'bench/handler/peer.mjs',
      source: 'bench/peer-worker/wrangler.toml',
      kv: { rules: readFileSync(docPath) },
      vars: { PROFILE_KEYS: harness.PROFILE_KEYS },
    });
    const requests = async (w) => {
      const token = await returningToken(w.url);
      const cookie = await pageCookie(w.url);
      return {
        collect: { method: 'POST', path: '/v1/collect', headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA }, body: collectBody(token) },
        decide: { method: 'GET', path: '/v1/decide?slots=hero,cta', headers: { 'x-intent-profile': token, 'user-agent': UA } },
        page: { method: 'GET', path: '/pricing/', headers: { cookie, 'user-agent': UA, accept: 'text/html' } },
        health: { method: 'GET', path: '/v1/health', headers: { 'user-agent': UA } },
        floor: {
          method: 'POST',
          path: '/v1/collect',
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA },
          body: JSON.stringify({ site: 'not-served', profile: null, events: [] }),
        },
      };
    };
    // As a request arrives over HTTP: a body of known length declares it.
    const declared = (set) => {
      for (const r of Object.values(set)) {
        if (r.body != null) r.headers['content-length'] = String(Buffer.byteLength(r.body));
      }
      return set;
    };
    const ours = declared(await requests(real));
    const theirs = declared(await requests(peer));
    const result = { n: N, rounds: ROUNDS, sampling_us: SAMPLING_US, pipeline: PIPELINE, real: {}, peer: {}, profiles: {} };
    // With the queue bound, the routes that record nothing (decide, health, the floor) are
    // measured on a second worker without queue bindings, the same build: whatever the pipeline
    // does after a recording loop (the consumer's batch, the store's alarm) cannot fall into
    // their rounds (on one worker, health read 49.83 and 114.29 µs in rounds after the page
    // loops and 12.34-13.72 later; part of that may have been the machine). Its collect, the
    // visitor's path alone, is measured first unless `--without-queues-too no`, which warms the
    // code the others share, as collect did when every route ran on one worker.
    const routes = [['collect', 200], ['decide', 200], ['page', 200], ['health', 200], ['floor', 400]].filter(([n]) => ONLY.includes(n));
    const records = (name) => name === 'collect' || name === 'page';
    const quiet = PIPELINE !== 'off' && (ALSO_OFF || routes.some(([n]) => !records(n)));
    if (quiet) {
      other = await start(harness, { main: 'bench/handler/real.mjs', kv: { rules: harness.DEFAULT_RULES }, pipeline: 'off' });
      const theirsOff = declared(await requests(other));
      if (ALSO_OFF) {
        result.real.collect_without_queues = await measure(other, theirsOff.collect, 200);
        console.log(`  worker (Rust/wasm) collect without queue bindings: ${result.real.collect_without_queues.us} µs a call`);
      }
      for (const [name, status] of routes.filter(([n]) => !records(n))) {
        result.real[name] = { ...(await measure(other, theirsOff[name], status)), worker: 'without queue bindings' };
        console.log(`  worker (Rust/wasm) ${name} (without queue bindings): ${result.real[name].us} µs a call`);
      }
      await other.stop();
      other = undefined;
    }
    for (const [name, status] of routes.filter(([n]) => !quiet || records(n))) {
      result.real[name] = await measure(real, ours[name], status, PIPELINE !== 'off' && records(name));
      console.log(`  worker (Rust/wasm) ${name}: ${result.real[name].us} µs a call`);
    }
    for (const name of ['collect', 'page', 'health'].filter((n) => ONLY.includes(n))) {
      result.peer[name] = await measure(peer, theirs[name], 200);
      console.log(`  JS peer ${name}: ${result.peer[name].us} µs a call`);
    }
    for (const [side, w, reqs] of PROFILE ? [['real', real, ours], ['peer', peer, theirs]] : []) {
      try {
        const file = SAVE_PROFILE ? join(SAVE_PROFILE, `${side}-${PROFILE_ROUTE}.cpuprofile`) : null;
        if (file) mkdirSync(SAVE_PROFILE, { recursive: true });
        result.profiles[side] = await profileOf(w, reqs[PROFILE_ROUTE], file);
      } catch (e) {
        result.profiles[side] = { failed: String(e.message || e) };
      }
      console.log(`  profile of ${side} ${PROFILE_ROUTE}: ${JSON.stringify(result.profiles[side]).slice(0, 400)}`);
    }
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all([real?.stop(), peer?.stop(), other?.stop()]);
  }
}

drive('handler', outFile, main);
