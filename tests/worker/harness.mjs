// Runs the real worker under `wrangler dev` (local workerd, local KV) for the integration tests.
//
// Each test file starts its own worker on a free port with its own KV directory, so files do not
// see each other's rules or profiles. The worker must be built first (`make worker site`, which
// `make test-worker` does): the harness starts wrangler from a copy of wrangler.toml without the
// [build] command, so a test run never rebuilds, and always tests exactly the built artefact.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, existsSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { until } from './wait.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'node_modules', '.bin');
const WRANGLER = join(BIN, 'wrangler');

/** The dev-only admin token from .dev.vars. */
export const ADMIN_TOKEN = readDevVar('ADMIN_TOKEN');
/** The dev-only keyring from .dev.vars. */
export const PROFILE_KEYS = readDevVar('PROFILE_KEYS');
/** The dev-only token of POST /v1/events from .dev.vars. */
export const INGEST_TOKEN = readDevVar('INGEST_TOKEN');
/** The built-in default rules, as the engine ships them. */
export const DEFAULT_RULES = readFileSync(join(ROOT, 'crates/engine/src/default_rules.json'), 'utf8');

/**
 * Runs `intentctl` as a marketer would (built by cargo if needed), with `env` added to the
 * environment; resolves to its exit code and output.
 */
export async function intentctl(args, env = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)('cargo', ['run', '-q', '-p', 'intentctl', '--', ...args], {
      cwd: ROOT,
      timeout: 600_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A variable of .dev.vars (the dev-only secrets), as the worker reads it. */
export function readDevVar(name) {
  const text = readFileSync(join(ROOT, '.dev.vars'), 'utf8');
  const m = text.match(new RegExp(`^${name}="?([^"\\n]*)"?`, 'm'));
  if (!m) throw new Error(`.dev.vars has no ${name}`);
  return m[1];
}

const childEnv = {
  ...process.env,
  PATH: `${BIN}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  DO_NOT_TRACK: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * A copy of `source` (a wrangler.toml, relative to the repository) without [build], with
 * absolute paths, in `dir` next to a copy of .dev.vars. `main` replaces its entry module (a
 * path relative to the repository); `withoutKv` also drops the [[kv_namespaces]] table, for a
 * worker whose RULES binding is missing; `withoutQueues` drops the queue producer and consumer,
 * for a worker without the event pipeline; `withoutConsumers` drops only the consumers, for a
 * worker that enqueues but whose queues nobody consumes in its process; `devVars` overrides secrets of .dev.vars (`null`
 * removes one).
 */
export function testConfig(dir, { withoutKv = false, withoutQueues = false, withoutConsumers = false, devVars = {}, main = null, source = 'wrangler.toml' } = {}) {
  const src = readFileSync(join(ROOT, source), 'utf8');
  const base = dirname(join(ROOT, source));
  const out = [];
  let skipping = false;
  for (const line of src.split('\n')) {
    if (/^\s*\[/.test(line)) {
      skipping = /^\s*\[build\]\s*$/.test(line) || (withoutKv && /^\s*\[\[kv_namespaces\]\]\s*$/.test(line))
        || (withoutQueues && /^\s*\[\[queues\.(producers|consumers)\]\]\s*$/.test(line))
        || (withoutConsumers && /^\s*\[\[queues\.consumers\]\]\s*$/.test(line));
    }
    if (!skipping) out.push(line);
  }
  let text = out.join('\n');
  text = text.replace(/^main\s*=\s*"([^"]+)"/m, (_, p) => `main = "${main ? join(ROOT, main) : resolve(base, p)}"`);
  text = text.replace(/^directory\s*=\s*"([^"]+)"/m, (_, p) => `directory = "${resolve(base, p)}"`);
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, text);
  copyFileSync(join(ROOT, '.dev.vars'), join(dir, '.dev.vars'));
  if (Object.keys(devVars).length) {
    let vars = readFileSync(join(dir, '.dev.vars'), 'utf8');
    for (const [name, value] of Object.entries(devVars)) {
      vars = vars.replace(new RegExp(`^${name}=.*\\n?`, 'm'), '');
      if (value !== null) vars += `${name}=${JSON.stringify(value)}\n`;
    }
    writeFileSync(join(dir, '.dev.vars'), vars);
  }
  return config;
}

/**
 * Starts the worker. Options: `vars` (overrides of wrangler.toml vars), `kv` (initial KV
 * contents, key -> text or bytes; defaults to the default rules under `rules`), `withoutKv`
 * (no RULES binding at all), `withoutQueues` (no event pipeline), `withoutConsumers` (the
 * queues bound, nobody consuming them), `main` (another entry module,
 * relative to the repository, wrapping the built worker), `devVars` (overrides of the
 * .dev.vars secrets), `logLevel` (wrangler's; `info` logs every request, which some tests
 * read) and `args` (more `wrangler dev` arguments, e.g. `--test-scheduled`).
 */
export async function startWorker({ vars = {}, kv = { rules: DEFAULT_RULES }, withoutKv = false, withoutQueues = false, withoutConsumers = false, main = null, devVars = {}, logLevel = 'info', args = [] } = {}) {
  for (const built of ['worker/build/index.js', 'dist/site']) {
    if (!existsSync(join(ROOT, built))) {
      throw new Error(`${built} is missing: run \`make worker site\` before the worker tests`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'intent-worker-test-'));
  const config = testConfig(dir, { withoutKv, withoutQueues, withoutConsumers, devVars, main });
  // Without the binding there is nothing to seed (and wrangler could not find the namespace).
  const worker = await startWrangler({ dir, config, kv: withoutKv ? {} : kv, vars, logLevel, args });
  const state = join(dir, 'state');
  // NOTE: wrangler's local KV (miniflare) keeps each value in a file under
  // <state>/v3/kv/<namespace id>/blobs/. Putting a named pipe where such a file was makes every
  // read of the value fail inside KV ("KV GET failed: 500": its size no longer matches), which
  // is what a KV outage looks like to the worker. (A folder would not do: it reads as a JSON
  // listing.) If miniflare changes that layout, kvBlobs finds nothing and the tests say so.
  const kvBlobs = () => {
    const kvDir = join(state, 'v3', 'kv');
    const dirs = existsSync(kvDir) ? readdirSync(kvDir).filter((d) => !d.startsWith('miniflare-')) : [];
    return dirs.flatMap((d) => {
      const blobs = join(kvDir, d, 'blobs');
      return existsSync(blobs) ? readdirSync(blobs).filter((f) => !f.endsWith('.broken')).map((f) => join(blobs, f)) : [];
    });
  };
  /** Makes every read of the values now in KV fail; returns what `repairKvStorage` needs. */
  worker.breakKvStorage = () => {
    const blobs = kvBlobs();
    if (!blobs.length) throw new Error('no local KV value files found: has miniflare changed its storage layout?');
    for (const blob of blobs) {
      renameSync(blob, `${blob}.broken`);
      execFileSync('mkfifo', [blob]);
    }
    return blobs;
  };
  worker.repairKvStorage = (blobs) => {
    for (const blob of blobs) {
      rmSync(blob);
      renameSync(`${blob}.broken`, blob);
    }
  };
  return worker;
}

/**
 * Runs `wrangler dev` on a free port of 127.0.0.1 for the config `config`, with its local state
 * in `dir` (removed by `stop()`), the KV binding `binding` seeded with `kv` (key -> text or
 * bytes), `vars` passed as `--var`, and wrangler's `logLevel`; resolves once `ready` answers
 * 200. The worker tests, the bench's load test and its handler benchmark all start workers so.
 */
export async function startWrangler({ dir, config, kv = {}, vars = {}, logLevel = 'info', binding = 'RULES', ready = '/v1/health', args: extra = [] }) {
  const state = join(dir, 'state');
  const kvArgs = ['--local', '--config', config, '--persist-to', state, '--binding', binding];

  const putKv = async (key, value) => {
    const file = join(dir, `kv-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, value);
    await promisify(execFile)(WRANGLER, ['kv', 'key', 'put', key, '--path', file, ...kvArgs], {
      env: childEnv,
      cwd: dir,
    });
  };
  const deleteKv = async (key) => {
    await promisify(execFile)(WRANGLER, ['kv', 'key', 'delete', key, ...kvArgs], { env: childEnv, cwd: dir });
  };
  const listKv = async () => {
    const { stdout } = await promisify(execFile)(WRANGLER, ['kv', 'key', 'list', ...kvArgs], { env: childEnv, cwd: dir });
    return JSON.parse(stdout).map((k) => k.name);
  };
  for (const [key, value] of Object.entries(kv)) await putKv(key, value);

  // A free port can be taken by another process between `freePort` and wrangler's bind (other
  // workers starting on the machine): wrangler then exits with "Address already in use", and
  // the start is tried again on another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchWrangler({ dir, config, state, vars, logLevel, ready, extra, putKv, deleteKv, listKv });
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(err.message)) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

/** One start of `wrangler dev` on a free port; see `startWrangler`. Leaves `dir` on failure. */
async function launchWrangler({ dir, config, state, vars, logLevel, ready, extra, putKv, deleteKv, listKv }) {
  const port = await freePort();
  const args = [
    'dev', '--local', '--config', config, '--persist-to', state,
    '--ip', '127.0.0.1', '--port', String(port), '--show-interactive-dev-session=false',
    '--log-level', logLevel, ...extra,
  ];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);

  const log = [];
  const child = spawn(WRANGLER, args, { env: childEnv, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  let exited = null;
  const exit = new Promise((res) => child.on('exit', (code, signal) => { exited = { code, signal }; res(); }));
  // If the test process dies without running its `after` hooks, take wrangler and workerd
  // (wrangler's own process group) down with it.
  const reap = () => { if (!exited) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } } };
  process.once('exit', reap);
  const kill = async () => {
    if (!exited) {
      try { process.kill(-child.pid, 'SIGINT'); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await exit;
      clearTimeout(timer);
    }
    process.removeListener('exit', reap);
  };

  const url = `http://127.0.0.1:${port}`;
  const worker = {
    url,
    port,
    dir,
    /** wrangler's process id (workerd runs in its process group). */
    pid: child.pid,
    log: () => log.join(''),
    putKv,
    deleteKv,
    /** The keys in the worker's KV namespace. */
    listKv,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await until(async () => {
      if (exited) {
        throw new Error(`wrangler dev exited (${JSON.stringify(exited)}) before it was ready:\n${worker.log()}`);
      }
      try {
        return (await fetch(`${url}${ready}`)).status === 200;
      } catch {
        return false; // not listening yet
      }
    }, `wrangler dev to answer ${ready}`, 120_000, 250);
  } catch (err) {
    await kill();
    err.message += `\n${worker.log()}`;
    throw err;
  }
  return worker;
}

/**
 * Waits until wrangler's log, from character `from` on, matches `pattern` (the worker's log
 * lines reach it a moment after the answer); resolves to that part of the log, and fails when
 * it has not matched after `timeoutMs`.
 */
export async function waitForLog(worker, pattern, from = 0, timeoutMs = 10_000) {
  return until(() => {
    const part = worker.log().slice(from);
    return pattern.test(part) && part;
  }, `${pattern} in the log`, timeoutMs);
}

/**
 * Wraps a test body so that a failure prints the tail of wrangler's log: what the worker
 * logged is usually the quickest way to the cause.
 */
export function withLog(getWorker, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const w = getWorker();
      if (w) {
        const tail = w.log().split('\n').slice(-80).join('\n');
        err.message += `\n--- wrangler dev log (last 80 lines) ---\n${tail}`;
      }
      throw err;
    }
  };
}

/** POST /v1/collect with a JSON body sent as text/plain, as the snippet does. */
export async function collect(base, body, headers = {}) {
  const r = await fetch(`${base}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, body: await jsonOrText(r) };
}

/** GET /v1/decide. */
export async function decide(base, { profile, slots, site, headers = {} } = {}) {
  const q = new URLSearchParams();
  if (slots) q.set('slots', slots);
  if (site) q.set('site', site);
  const h = { ...headers };
  if (profile) h['x-intent-profile'] = profile;
  const r = await fetch(`${base}/v1/decide${q.size ? `?${q}` : ''}`, { headers: h });
  return { status: r.status, headers: r.headers, body: await jsonOrText(r) };
}

async function jsonOrText(r) {
  const text = await r.text();
  try { return JSON.parse(text); } catch { return text; }
}

/** Page views of `path` on the demo site, as events. */
export function views(path, n = 1) {
  return Array.from({ length: n }, () => ({ type: 'pageview', url: `https://demo.test${path}` }));
}

/** Sends `steps` (arrays of events) one call after another, carrying the token; returns the answers. */
export async function journey(base, steps, headers = {}) {
  let profile = null;
  const answers = [];
  for (const events of steps) {
    const a = await collect(base, { site: 'demo', profile, events }, headers);
    if (a.status !== 200) throw new Error(`collect answered ${a.status}: ${JSON.stringify(a.body)}`);
    answers.push(a.body);
    profile = a.body.profile;
  }
  return answers;
}

/** A minimal cookie jar for proxy-mode page loads. */
export class CookieJar {
  constructor() { this.cookies = new Map(); }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  store(resp) {
    for (const line of resp.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  async get(url, headers = {}) {
    const h = { ...headers };
    if (this.cookies.size) h.cookie = this.header();
    const r = await fetch(url, { headers: h, redirect: 'manual' });
    this.store(r);
    return { status: r.status, headers: r.headers, text: await r.text() };
  }
}

/**
 * One HTTP request exactly as given, through node:http rather than fetch: the path is sent as
 * it is (`//v1/collect`, `/v1/../v1/collect` and `%2e%2e` are not normalised away), the body
 * may be raw bytes or a list of chunks (sent chunked, without a declared length), and header
 * values may carry bytes outside ASCII. Fails after `timeoutMs` without a complete answer.
 * Resolves to `{status, headers, text, json}`; `json` is the parsed body or undefined.
 */
export function rawRequest(base, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 10_000 } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolveReq, reject) => {
    const chunked = Array.isArray(body);
    const h = { connection: 'close', ...headers };
    if (body !== undefined && !chunked && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
      h['content-length'] = Buffer.byteLength(body);
    }
    const req = httpRequest({ host: hostname, port, method, path, headers: h, agent: false });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no complete answer to ${method} ${path.slice(0, 80)} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (err) => { clearTimeout(timer); reject(err); });
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolveReq({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    if (chunked) for (const c of body) req.write(c);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}
