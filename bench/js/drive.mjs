// What the benchmarks that drive workers over HTTP (load.mjs, handler.mjs, queue.mjs) share: a
// returning visitor's token and collect body, the proxy-mode cookie of a page view, the check that
// the worker and the site are built, a median, the way a driver ends, and the processes below
// wrangler with the CPU time they used.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';

/** A returning visitor: six calls' worth of history, then the token. */
export async function returningToken(base) {
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

/** The body of a returning visitor's collect call: a page view and an engagement report. */
export function collectBody(token) {
  return JSON.stringify({
    site: 'demo',
    profile: token,
    events: [
      { type: 'pageview', url: 'http://127.0.0.1/pricing/', referrer: 'https://www.google.com/' },
      { type: 'engagement', url: 'http://127.0.0.1/pricing/', seconds: 12, scroll: 40 },
    ],
  });
}

/** The `name=value` of the profile cookie a first view of the pricing page sets. */
export async function pageCookie(base) {
  const r = await fetch(`${base}/pricing/`, { headers: { 'user-agent': UA } });
  if (r.status !== 200) throw new Error(`${base}/pricing/ answered ${r.status}`);
  const text = await r.text();
  if (!text.includes('data-intent-slot')) throw new Error(`${base}/pricing/ has no slots to fill`);
  const set = r.headers.getSetCookie().find((c) => c.startsWith('intent_profile='));
  if (!set) throw new Error(`${base}/pricing/ set no profile cookie`);
  return set.split(';')[0];
}

export const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/**
 * Runs a driver's `main`: when the worker or the site is not built, writes `{"missing": ...}`
 * to `outFile` and runs nothing; when `main` fails, writes `{"failed": ...}` and exits 1. The
 * report says either in the figure's place.
 */
export function drive(name, outFile, main) {
  for (const built of ['worker/build/index.js', 'worker/build/index_bg.wasm', 'dist/site/pricing/index.html']) {
    if (!existsSync(join(ROOT, built))) {
      writeFileSync(outFile, `${JSON.stringify({ missing: `${built} is not built` })}\n`);
      console.log(`${name}: ${built} is missing; not run`);
      return;
    }
  }
  main().catch((e) => {
    console.error(`${name}: ${e.stack || e}`);
    writeFileSync(outFile, `${JSON.stringify({ failed: String(e.message || e).slice(0, 2000) })}\n`);
    process.exit(1);
  });
}

/**
 * The command line of a driver: `opt(name, default)` reads `--name value`; every driver takes
 * `--out FILE` and `--jsonlogic DOC.json` (the rules as JSON Logic, for the peer).
 */
export function driverOptions(argv = process.argv.slice(2)) {
  const opt = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  return { opt, outFile: opt('--out'), docPath: resolve(opt('--jsonlogic')) };
}

/** The processes below `pid`, as `[pid, command line]`. */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) ?? []) {
      let cmd = '';
      try { cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { /* gone */ }
      out.push([c, cmd]);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** CPU time the processes `pids` have used so far, in ns: every thread's, from the scheduler's account. */
export function cpuNs(pids) {
  let ns = 0;
  for (const pid of pids) {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch { /* a thread that ended */ }
    }
  }
  return ns;
}
