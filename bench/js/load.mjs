// The load test of `make bench`: the real worker and its JavaScript peer (bench/peer-worker),
// each under `wrangler dev` on 127.0.0.1, driven by wrk for a bounded time against
// POST /v1/collect (a returning visitor's token and two events) and a proxied page (the
// pricing page with the profile cookie).
//
//   node bench/js/load.mjs --jsonlogic DOC.json --out FILE [--seconds 10]
//
// The real worker is started the way its integration tests start it (tests/worker/harness.mjs:
// the built bundle, no rebuild, its own local KV seeded with the default rules).

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const outFile = opt('--out');
const docPath = resolve(opt('--jsonlogic'));
const seconds = Math.min(30, Number(opt('--seconds', '10')));
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';

const env = {
  ...process.env,
  PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  DO_NOT_TRACK: '1',
  NO_COLOR: '1',
};

function devVar(name) {
  const m = readFileSync(join(ROOT, '.dev.vars'), 'utf8').match(new RegExp(`^${name}="?([^"\\n]*)"?`, 'm'));
  if (!m) throw new Error(`.dev.vars has no ${name}`);
  return m[1];
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

// The peer worker under wrangler dev, with its own KV holding the JSON Logic rules.
async function startPeer() {
  const dir = mkdtempSync(join(tmpdir(), 'intent-bench-peer-'));
  const config = join(ROOT, 'bench/peer-worker/wrangler.toml');
  const state = join(dir, 'state');
  await promisify(execFile)(
    WRANGLER,
    ['kv', 'key', 'put', 'rules', '--path', docPath, '--local', '--config', config, '--persist-to', state, '--binding', 'RULES'],
    { env, cwd: dir },
  );
  const port = await freePort();
  const child = spawn(
    WRANGLER,
    ['dev', '--local', '--config', config, '--persist-to', state, '--ip', '127.0.0.1', '--port', String(port),
      '--show-interactive-dev-session=false', '--var', `PROFILE_KEYS:${devVar('PROFILE_KEYS')}`],
    { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = [];
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  let exited = false;
  const exit = new Promise((r) => child.on('exit', () => { exited = true; r(); }));
  const url = `http://127.0.0.1:${port}`;
  const worker = {
    url,
    log: () => log.join(''),
    async stop() {
      if (!exited) {
        try { process.kill(-child.pid, 'SIGINT'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
        await exit;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`the peer's wrangler dev exited:\n${worker.log()}`);
    try {
      if ((await fetch(`${url}/v1/health`)).status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await worker.stop();
      throw new Error(`the peer's wrangler dev was not ready after 120 s:\n${worker.log()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return worker;
}

// A returning visitor: six calls' worth of history, then the token.
async function returningToken(base) {
  let profile = null;
  for (const path of ['/', '/product/', '/customers/', '/pricing/', '/blog/', '/compare/']) {
    const r = await fetch(`${base}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA },
      body: JSON.stringify({ site: 'demo', profile, events: [{ type: 'pageview', url: `http://127.0.0.1${path}` }] }),
    });
    if (r.status !== 200) throw new Error(`${base}: collect answered ${r.status}: ${await r.text()}`);
    profile = (await r.json()).profile;
  }
  return profile;
}

async function pageCookie(base) {
  const r = await fetch(`${base}/pricing/`, { headers: { 'user-agent': UA } });
  if (r.status !== 200) throw new Error(`${base}/pricing/ answered ${r.status}`);
  const text = await r.text();
  if (!text.includes('data-intent-slot')) throw new Error(`${base}/pricing/ has no slots to fill`);
  const set = r.headers.getSetCookie().find((c) => c.startsWith('intent_profile='));
  if (!set) throw new Error(`${base}/pricing/ set no profile cookie`);
  return set.split(';')[0];
}

function wrk(url, vars) {
  return new Promise((res, rej) => {
    const child = spawn('wrk', ['-t2', '-c8', `-d${seconds}s`, '--timeout', '5s', '-s', join(ROOT, 'bench/load.lua'), url], {
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

async function main() {
  for (const built of ['worker/build/index.js', 'worker/build/index_bg.wasm', 'dist/site/pricing/index.html']) {
    if (!existsSync(join(ROOT, built))) {
      writeFileSync(outFile, `${JSON.stringify({ missing: `${built} is not built` })}\n`);
      console.log(`load: ${built} is missing; no load test`);
      return;
    }
  }
  const { startWorker } = await import(join(ROOT, 'tests/worker/harness.mjs'));
  const sides = {};
  let real;
  let peer;
  // Interrupted (Ctrl-C on make bench): stop both wrangler processes before leaving.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      await Promise.all([real?.stop(), peer?.stop()]);
      process.exit(130);
    });
  }
  try {
    // One at a time: two wrangler dev processes starting together race for the same local sockets.
    real = await startWorker();
    peer = await startPeer();
    const results = { seconds, connections: 8, threads: 2, sides: {} };
    for (const [name, w] of [['intent-edge worker (Rust/wasm)', real], ['JS peer (json-logic-js)', peer]]) {
      const token = await returningToken(w.url);
      const body = JSON.stringify({
        site: 'demo',
        profile: token,
        events: [
          { type: 'pageview', url: 'http://127.0.0.1/pricing/', referrer: 'https://www.google.com/' },
          { type: 'engagement', url: 'http://127.0.0.1/pricing/', seconds: 12, scroll: 40 },
        ],
      });
      const cookie = await pageCookie(w.url);
      const collect = await wrk(`${w.url}/v1/collect`, { BENCH_METHOD: 'POST', BENCH_BODY: body, BENCH_COOKIE: '' });
      console.log(`  ${name} POST /v1/collect: ${JSON.stringify(collect)}`);
      const page = await wrk(`${w.url}/pricing/`, { BENCH_METHOD: 'GET', BENCH_BODY: '', BENCH_COOKIE: cookie });
      console.log(`  ${name} GET /pricing/ (proxy mode): ${JSON.stringify(page)}`);
      const panics = (w.log().match(/panicked|RuntimeError|Critical error|Uncaught/g) || []).length;
      sides[name] = { collect, page, panics_in_log: panics };
    }
    results.sides = sides;
    writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await Promise.all([real?.stop(), peer?.stop()]);
  }
}

main().catch((e) => {
  console.error(`load: ${e.stack || e}`);
  writeFileSync(outFile, `${JSON.stringify({ failed: String(e.message || e).slice(0, 2000) })}\n`);
  process.exit(1);
});
