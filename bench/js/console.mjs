// The console's figures for `make bench` (bench/run.sh, step 6), written to --out as JSON:
//   - the preview in headless Chromium's wasm: the console's engine (dist/engine-wasm) reads a
//     month of a 10,000-visitor site once, then replays it under the published and an edited
//     config (the preview of one edit replays every event twice); events replayed a second;
//   - the console's first screen: /admin/ from a loopback server until the sign-in form shows.
// Usage: node bench/js/console.mjs --month FILE --runs N --out FILE

import { createServer } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../../tests/e2e/browser.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const month = opt('--month');
const runs = Number(opt('--runs', '7'));
const out = opt('--out', 'target/bench/console.json');

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.css': 'text/css', '.jsonl': 'application/x-ndjson' };
const ROUTES = { '/engine/': join(ROOT, 'dist/engine-wasm'), '/admin/': join(ROOT, 'dist/console/admin') };

/** A loopback static server for the built files and the month's log. */
function serve() {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    let file;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<!doctype html><title>bench</title>');
    }
    if (path === '/month.jsonl') file = month;
    for (const [prefix, dir] of Object.entries(ROUTES)) {
      if (path.startsWith(prefix)) file = join(dir, normalize(path.slice(prefix.length) || 'index.html'));
    }
    if (!file || !existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    return res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const server = await serve();
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
const result = { chromium: browser.version() };
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  Object.assign(result, await page.evaluate(async (n) => {
    const e = await import('/engine/intent_engine_wasm.js');
    await e.default({ module_or_path: '/engine/intent_engine_wasm_bg.wasm' });
    const text = await (await fetch('/month.jsonl')).text();
    let t = performance.now();
    const log = new e.Log(text);
    const parseMs = performance.now() - t;
    const published = e.defaults();
    // The edit of the brief's scenario: ready needs four pricing views instead of three.
    const edited = published.replace('"at_least": 3', '"at_least": 4');
    const times = [];
    let moved = 0;
    let events = 0;
    for (let i = 0; i < n; i++) {
      t = performance.now();
      const p = JSON.parse(e.preview(published, edited, log, log.latest));
      times.push(performance.now() - t);
      moved = p.moved;
      events = p.events;
    }
    times.sort((a, b) => a - b);
    return { log_events: log.events, log_visitors: log.visitors, log_parse_ms: parseMs, preview_events: events, preview_moved: moved, preview_ms: times };
  }, runs));
  const median = result.preview_ms[Math.floor((result.preview_ms.length - 1) / 2)];
  result.preview_ms_median = median;
  // Each preview replays every event twice: under the published and the edited rules.
  result.preview_events_per_s = Math.round((2 * result.preview_events) / (median / 1000));

  const first = [];
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(`${base}/admin/`);
    await p.locator('#token').waitFor();
    first.push(await p.evaluate(() => performance.now()));
    await context.close();
  }
  first.sort((a, b) => a - b);
  result.first_screen_ms = first;
  result.first_screen_ms_median = first[Math.floor((first.length - 1) / 2)];
} finally {
  await browser.close();
  server.close();
}
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
