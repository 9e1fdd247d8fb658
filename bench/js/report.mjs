// Gathers the figures of one `make bench` run into target/bench/summary.json and
// docs/PERFORMANCE.md, prints the budget table, and exits 1 when a figure misses its budget or
// could not be measured.
//
//   node bench/js/report.mjs --dir target/bench --started ISO --load-before "1.0 0.8 0.5"
//        --markdown docs/PERFORMANCE.md --summary target/bench/summary.json

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const dir = opt('--dir', 'target/bench');
const started = opt('--started', new Date().toISOString());
const loadBefore = opt('--load-before', '');
const mdPath = opt('--markdown', 'docs/PERFORMANCE.md');
const summaryPath = opt('--summary', join(dir, 'summary.json'));

const read = (name) => {
  const p = join(dir, name);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return null;
  }
};
const cmd = (c, a) => {
  try {
    return execFileSync(c, a, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};

const native = read('engine-native.json') || [];
const wasm = read('wasm-vs-js.json');
const sizes = read('sizes.json') || {};
const load = read('load.json') || { missing: 'the load test did not run' };
// A failure's message goes into a table cell: no colours, no line breaks, short.
const oneLine = (text) =>
  String(text)
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 240);
const loadProblem = oneLine(load.missing || load.failed || 'no result');
const handler = read('handler.json') || { missing: 'the handler benchmark did not run' };
const handlerProblem = oneLine(handler.missing || handler.failed || 'no result');
const audiences = read('audiences.json') || { missing: 'the audience benchmark did not run' };
const audiencesProblem = oneLine(audiences.missing || audiences.failed || 'no result');
const triggers = read('triggers.json') || { missing: 'the triggers benchmark did not run' };
const triggersProblem = oneLine(triggers.missing || triggers.failed || 'no result');
const hReal = handler.real ?? {};
const hPeer = handler.peer ?? {};
const defaultDoc = read('default.jsonlogic.json');
const consoleRun = read('console.json');
const consoleSizes = read('console-sizes.json') || {};
const simulateRuns = existsSync(join(dir, 'simulate.jsonl'))
  ? readFileSync(join(dir, 'simulate.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];
const cold = existsSync(join(dir, 'coldstart.jsonl'))
  ? readFileSync(join(dir, 'coldstart.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];

const ENGINE = 'intent-engine (wasm)';
const SPEED = 'intent-engine (wasm, opt-level 3)';
const BUILDS = [
  [ENGINE, 'shipped'],
  [SPEED, 'all opt-level 3'],
];
const JL = 'json-logic-js';
const JLE = 'json-logic-engine';
const GB = 'growthbook';
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const max = (xs) => (xs.length ? Math.max(...xs) : null);
const min = (xs) => (xs.length ? Math.min(...xs) : null);
const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

// Native: the default rules' cases (empty, typical, worst-case profile), p99 of the worst.
const nativeDefault = native.filter((c) => c.case.startsWith('default/'));
const native50 = native.filter((c) => c.case.startsWith('50-rule/'));

const suite = (label) => wasm?.suites?.find((s) => s.label === label) || null;
const def = suite('default');
const fifty = suite('50-rule');
const side = (s, name, key) => (s ? s.cases.map((c) => c.sides[name]?.[key]).filter((x) => x != null) : []);
const ratios = (s, peer, ours = ENGINE) =>
  s && s.cases.every((c) => c.sides[ours]) ? s.cases.map((c) => c.sides[peer].p50_us / c.sides[ours].p50_us) : [];

const file = (p) => sizes[p] || null;
const loader = file('dist/snippet/intent.js');
const glue = file('dist/snippet/_intent/intent_snippet.js');
const snippetWasm = file('dist/snippet/_intent/intent_snippet_bg.wasm');
// The JavaScript of the upload: the entry (wrangler.toml `main`), its handlers and the glue.
const workerJs = ['worker/main.js', 'worker/js/entry.js', 'worker/build/index.js'].map(file);
const workerWasm = file('worker/build/index_bg.wasm');
const sum = (parts, key) => (parts.every(Boolean) ? parts.reduce((a, p) => a + p[key], 0) : null);

const ours = load.sides?.['intent-edge worker (Rust/wasm)'];
const peerLoad = load.sides?.['JS peer (json-logic-js)'];
const offLoad = load.sides?.['intent-edge worker (Rust/wasm), without queue bindings'];

const summary = {
  classify_p99_us_native: r2(max(nativeDefault.map((c) => c.p99_us))),
  classify_p50_us_native: r2(max(nativeDefault.map((c) => c.p50_us))),
  classify_p99_us_native_50rule: r2(max(native50.map((c) => c.p99_us))),
  classify_p99_us_wasm: r2(max(side(def, ENGINE, 'p99_us'))),
  classify_p50_us_wasm: r2(max(side(def, ENGINE, 'p50_us'))),
  jsonlogic_js_p50_us: r2(max(side(def, JL, 'p50_us'))),
  jsonlogic_js_p99_us: r2(max(side(def, JL, 'p99_us'))),
  jsonlogic_engine_p50_us: r2(max(side(def, JLE, 'p50_us'))),
  speedup_vs_jsonlogic: r2(min(ratios(def, JL))),
  speedup_vs_jsonlogic_engine: r2(min(ratios(def, JLE))),
  speedup_vs_growthbook: r2(min(ratios(def, GB))),
  speedup_vs_jsonlogic_50rule: r2(min(ratios(fifty, JL))),
  speedup_vs_jsonlogic_engine_50rule: r2(min(ratios(fifty, JLE))),
  speedup_vs_jsonlogic_speed_build: r2(min(ratios(def, JL, SPEED))),
  speedup_vs_jsonlogic_engine_speed_build: r2(min(ratios(def, JLE, SPEED))),
  classify_p99_us_wasm_speed_build: r2(max(side(def, SPEED, 'p99_us'))),
  loader_gzip_bytes: loader?.gzip ?? null,
  snippet_gzip_bytes: sum([loader, glue, snippetWasm], 'gzip'),
  snippet_raw_bytes: sum([loader, glue, snippetWasm], 'raw'),
  worker_gzip_bytes: sum([...workerJs, workerWasm], 'gzip'),
  worker_raw_bytes: sum([...workerJs, workerWasm], 'raw'),
  token_max_bytes: defaultDoc?.max_token_bytes ?? null,
  coldstart_ms: r2(median(cold.map((c) => c.total_ms))),
  load_requests: ours ? ours.collect.requests + ours.page.requests : null,
  load_5xx: ours ? ours.collect.status_5xx + ours.page.status_5xx : null,
  load_dropped: ours
    ? ours.collect.socket_errors + ours.collect.timeouts + ours.page.socket_errors + ours.page.timeouts
    : null,
  load_p99_ms: ours ? ours.collect.p99_ms : null,
  load_rps: ours ? ours.collect.rps : null,
  load_page_p99_ms: ours ? ours.page.p99_ms : null,
  load_page_rps: ours ? ours.page.rps : null,
  load_peer_rps: peerLoad ? peerLoad.collect.rps : null,
  load_peer_p99_ms: peerLoad ? peerLoad.collect.p99_ms : null,
  load_rps_vs_js_peer: ours && peerLoad ? r2(ours.collect.rps / peerLoad.collect.rps) : null,
  load_rps_without_queues: offLoad ? offLoad.collect.rps : null,
  load_rps_without_queues_vs_js_peer: offLoad && peerLoad ? r2(offLoad.collect.rps / peerLoad.collect.rps) : null,
  collect_handler_us: hReal.collect?.us ?? null,
  collect_handler_us_without_queues: hReal.collect_without_queues?.us ?? null,
  collect_handler_us_js_peer: hPeer.collect?.us ?? null,
  collect_handler_speedup_vs_js_peer: hReal.collect && hPeer.collect ? r2(hPeer.collect.us / hReal.collect.us) : null,
  decide_handler_us: hReal.decide?.us ?? null,
  proxy_page_handler_us: hReal.page?.us ?? null,
  proxy_page_handler_us_js_peer: hPeer.page?.us ?? null,
  health_handler_us: hReal.health?.us ?? null,
  health_handler_us_js_peer: hPeer.health?.us ?? null,
  handler_floor_us: hReal.floor?.us ?? null,
  store_ingest_events_per_s: audiences.ingest?.events_per_s ?? null,
  store_ingest_events_per_s_one_event_calls: audiences.ingest_page_views?.events_per_s ?? null,
  store_empty_batch_ms: audiences.empty_batch_ms ?? null,
  collect_p50_ratio_with_pipeline: audiences.collect?.ratio ?? null,
  collect_p50_ms_with_pipeline: audiences.collect?.p50_ms_on ?? null,
  collect_p50_ms_without_pipeline: audiences.collect?.p50_ms_off ?? null,
  audience_list_ms_100k: audiences.list_ms?.median ?? null,
  audience_csv_s_100k: audiences.csv_s?.median ?? null,
  event_to_list_p95_s: audiences.event_to_list_s?.p95 ?? null,
  trigger_p95_s: triggers.trigger_s?.p95 ?? null,
  deliveries_per_s: triggers.throughput?.per_s ?? null,
  preview_events_per_s_wasm: consoleRun?.preview_events_per_s ?? null,
  preview_ms_wasm: r2(consoleRun?.preview_ms_median ?? null),
  preview_log_events: consoleRun?.preview_events ?? null,
  preview_log_parse_ms_wasm: r2(consoleRun?.log_parse_ms ?? null),
  simulate_events_per_s_native: median(simulateRuns.map((t) => t.replay_events_per_s)),
  simulate_read_events_per_s_native: median(simulateRuns.map((t) => t.read_events_per_s)),
  simulate_total_events_per_s_native: median(simulateRuns.map((t) => t.total_events_per_s)),
  simulate_read_share: simulateRuns.length ? r2(median(simulateRuns.map((t) => t.read_ms / t.total_ms))) : null,
  console_js_gzip_bytes: consoleSizes['app.js']?.gzip ?? null,
  console_css_gzip_bytes: consoleSizes['app.css']?.gzip ?? null,
  console_wasm_gzip_bytes: consoleSizes['engine.wasm']?.gzip ?? null,
  console_first_screen_ms: r2(consoleRun?.first_screen_ms_median ?? null),
};

// Each budget: the figure, whether it holds, and what it is compared with.
const KiB = 1024;
// The size budgets, from the one file the scripts read too.
const BUDGET = Object.fromEntries(
  readFileSync(new URL('../../budgets.env', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.match(/^([A-Z_]+)=(\d+)\s*$/))
    .filter(Boolean)
    .map((m) => [m[1], Number(m[2])]),
);
for (const name of ['LOADER_GZIP_BUDGET', 'SNIPPET_GZIP_BUDGET', 'WORKER_GZIP_BUDGET']) {
  if (!BUDGET[name]) throw new Error(`budgets.env has no ${name}`);
}
const fmtBudget = (b) => (b >= KiB * KiB ? `≤ ${b / (KiB * KiB)} MiB` : b >= KiB ? `≤ ${b / KiB} KiB` : `≤ ${b} B`);
const fmtB = (b) => (b == null ? 'missing' : b >= 10 * KiB ? `${(b / KiB).toFixed(1)} KiB (${b} B)` : `${b} B`);
const fmtUs = (x) => (x == null ? 'missing' : `${x.toFixed(2)} µs`);
const fmtX = (x) => (x == null ? 'missing' : `${x.toFixed(2)}×`);
const typical = (s, name) => s?.cases.find((c) => c.case.endsWith('/typical'))?.sides[name];
// The profile case where `ours` is the fewest times faster than `peer`: the one a "lowest over
// the profiles" ratio comes from.
const lowestCase = (s, peer, ours = ENGINE) =>
  s?.cases
    .filter((c) => c.sides[peer] && c.sides[ours])
    .reduce((a, c) => (!a || c.sides[peer].p50_us / c.sides[ours].p50_us < a.sides[peer].p50_us / a.sides[ours].p50_us ? c : a), null) ?? null;
const atLowest = (s, peer) => {
  const c = lowestCase(s, peer);
  return c
    ? { measured: `${fmtUs(c.sides[ENGINE].p50_us)} (${c.case.split('/')[1]} profile)`, peer: fmtUs(c.sides[peer].p50_us) }
    : { measured: 'missing', peer: 'missing' };
};
const worstCase = def?.cases.find((c) => c.case.endsWith('/worst'));
const budgets = [
  {
    figure: 'classify one visitor, native, default rules (p99, worst of empty/typical/size-bound profiles)',
    budget: '≤ 10 µs',
    value: summary.classify_p99_us_native,
    ok: (v) => v <= 10,
    measured: fmtUs(summary.classify_p99_us_native),
    peer: '—',
    ratio: '—',
  },
  {
    figure: 'classify one visitor as wasm in Node 22, body in → answer out (p99, worst profile case)',
    budget: '≤ 50 µs',
    value: summary.classify_p99_us_wasm,
    ok: (v) => v <= 50,
    measured: fmtUs(summary.classify_p99_us_wasm),
    peer: summary.jsonlogic_js_p99_us == null ? '—' : `json-logic-js peer p99 ${fmtUs(summary.jsonlogic_js_p99_us)}`,
    ratio: '—',
  },
  {
    figure: 'full path against json-logic-js, same Node process (p50 ratio, lowest over the profiles)',
    budget: '≥ 5× faster',
    value: summary.speedup_vs_jsonlogic,
    ok: (v) => v >= 5,
    ...atLowest(def, JL),
    ratio: fmtX(summary.speedup_vs_jsonlogic),
  },
  {
    figure: "full path against json-logic-engine's compiled rules (p50 ratio, lowest over the profiles)",
    budget: 'faster (> 1×)',
    value: summary.speedup_vs_jsonlogic_engine,
    ok: (v) => v > 1,
    ...atLowest(def, JLE),
    ratio: fmtX(summary.speedup_vs_jsonlogic_engine),
  },
  {
    figure: 'loader `intent.js` (gzip)',
    budget: fmtBudget(BUDGET.LOADER_GZIP_BUDGET),
    value: summary.loader_gzip_bytes,
    ok: (v) => v <= BUDGET.LOADER_GZIP_BUDGET,
    measured: fmtB(summary.loader_gzip_bytes),
    peer: 'Plausible ~1 KiB',
    ratio: summary.loader_gzip_bytes == null ? '—' : `${((summary.loader_gzip_bytes / KiB) * 100).toFixed(0)} % of Plausible`,
  },
  {
    figure: 'snippet on the wire: loader + glue + wasm (gzip)',
    budget: fmtBudget(BUDGET.SNIPPET_GZIP_BUDGET),
    value: summary.snippet_gzip_bytes,
    ok: (v) => v <= BUDGET.SNIPPET_GZIP_BUDGET,
    measured: fmtB(summary.snippet_gzip_bytes),
    peer: "Segment's budget 27 KiB; posthog-js ~50 KiB",
    ratio:
      summary.snippet_gzip_bytes == null
        ? '—'
        : `${((27 * KiB) / summary.snippet_gzip_bytes).toFixed(1)}× smaller than Segment's budget, ${((50 * KiB) / summary.snippet_gzip_bytes).toFixed(1)}× than posthog-js`,
  },
  {
    figure: 'worker bundle: its JavaScript (main.js, js/entry.js, index.js) + wasm (gzip)',
    budget: fmtBudget(BUDGET.WORKER_GZIP_BUDGET),
    value: summary.worker_gzip_bytes,
    ok: (v) => v <= BUDGET.WORKER_GZIP_BUDGET,
    measured: fmtB(summary.worker_gzip_bytes),
    peer: '—',
    ratio: summary.worker_gzip_bytes == null ? '—' : `${((summary.worker_gzip_bytes / BUDGET.WORKER_GZIP_BUDGET) * 100).toFixed(0)} % of the budget`,
  },
  {
    figure: 'largest profile token the default rules can produce (`Rules::max_token_bytes`)',
    budget: '≤ 1 KiB',
    value: summary.token_max_bytes,
    ok: (v) => v <= KiB,
    measured: fmtB(summary.token_max_bytes),
    peer: worstCase ? `JSON-profile peer, same size-bound history: ${worstCase.token_bytes[JL]} B` : '—',
    ratio: worstCase ? fmtX(worstCase.token_bytes[JL] / summary.token_max_bytes) : '—',
  },
  {
    figure: 'the worker\'s own cost per `POST /v1/collect` inside workerd (median of the repeat loop less its baseline)',
    budget: '≤ 40 µs',
    value: summary.collect_handler_us,
    ok: (v) => v <= 40,
    measured: summary.collect_handler_us == null ? `missing: ${handlerProblem}` : fmtUs(summary.collect_handler_us),
    peer: summary.collect_handler_us_js_peer == null ? '—' : `JS peer ${fmtUs(summary.collect_handler_us_js_peer)}`,
    ratio: summary.handler_floor_us == null ? '—' : `floor (body read, fixed answer) ${fmtUs(summary.handler_floor_us)}`,
  },
  {
    figure: 'the same, against the JavaScript worker doing the same job (json-logic-js, node:crypto)',
    budget: '≥ 3× less',
    value: summary.collect_handler_speedup_vs_js_peer,
    ok: (v) => v >= 3,
    measured: summary.collect_handler_us == null ? 'missing' : fmtUs(summary.collect_handler_us),
    peer: summary.collect_handler_us_js_peer == null ? 'missing' : fmtUs(summary.collect_handler_us_js_peer),
    ratio: fmtX(summary.collect_handler_speedup_vs_js_peer),
  },
  {
    figure: 'the worker\'s own cost per `GET /v1/health` inside workerd',
    budget: '≤ 15 µs',
    value: summary.health_handler_us,
    ok: (v) => v <= 15,
    measured: summary.health_handler_us == null ? 'missing' : fmtUs(summary.health_handler_us),
    peer: summary.health_handler_us_js_peer == null ? '—' : `JS peer ${fmtUs(summary.health_handler_us_js_peer)} (answers \`ok\` only)`,
    ratio: '—',
  },
  {
    figure: '`POST /v1/collect` requests a second under load, `wrangler dev` on loopback (median of the runs)',
    budget: '≥ the JS peer\'s',
    value: summary.load_rps_vs_js_peer,
    ok: (v) => v >= 1,
    measured: ours ? `${summary.load_rps} req/s` : `missing: ${loadProblem}`,
    peer: peerLoad ? `JS peer ${peerLoad.collect.rps} req/s` : '—',
    ratio: fmtX(summary.load_rps_vs_js_peer),
  },
  {
    figure: '`POST /v1/collect` and a proxied page under load, `wrangler dev` on loopback',
    budget: 'no 5xx, no panic, nothing dropped',
    value: ours ? { ...summary, panics: ours.panics_in_log, ok2xx: ours.collect.ok + ours.page.ok } : null,
    ok: (v) => v.load_5xx === 0 && v.load_dropped === 0 && v.panics === 0 && v.ok2xx === v.load_requests,
    measured: ours
      ? `${summary.load_requests} requests, ${summary.load_5xx} 5xx, ${summary.load_dropped} dropped, ${ours.panics_in_log} panics; collect ${summary.load_rps} req/s, p99 ${summary.load_p99_ms} ms`
      : `missing: ${loadProblem}`,
    peer: peerLoad ? `JS peer: collect ${peerLoad.collect.rps} req/s, p99 ${peerLoad.collect.p99_ms} ms` : '—',
    ratio: peerLoad && ours ? `${fmtX(ours.collect.rps / peerLoad.collect.rps)} the peer's req/s` : '—',
  },
];
const audMissing = (v, fmt) => (v == null ? `missing: ${audiencesProblem}` : fmt(v));
budgets.push(
  {
    figure: `one site's audience store ingesting batches of 100 calls (a page view and an engagement report each, ${audiences.visitors ?? '?'} returning visitors, 100 different ones a batch), local workerd`,
    budget: '≥ 10,000 events/s',
    value: summary.store_ingest_events_per_s,
    ok: (v) => v >= 10000,
    measured: audMissing(summary.store_ingest_events_per_s, (v) => `${v} events/s (${audiences.ingest.batch_ms} ms a batch)`),
    peer: summary.store_ingest_events_per_s_one_event_calls == null ? '—' : `one-event calls: ${summary.store_ingest_events_per_s_one_event_calls} events/s`,
    ratio: summary.store_empty_batch_ms == null ? '—' : `an empty batch: ${summary.store_empty_batch_ms} ms`,
  },
  {
    figure: '`POST /v1/collect` p50 with the event pipeline over without it (same run, alternating rounds)',
    budget: '≤ 1.10',
    value: summary.collect_p50_ratio_with_pipeline,
    ok: (v) => v <= 1.1,
    measured: audMissing(summary.collect_p50_ratio_with_pipeline, (v) => `${v.toFixed(2)} (${summary.collect_p50_ms_with_pipeline} ms over ${summary.collect_p50_ms_without_pipeline} ms)`),
    peer: '—',
    ratio: audiences.collect ? `rounds: ${audiences.collect.ratios.join(', ')}` : '—',
  },
  {
    figure: `first page (100 members) of a ${audiences.members ?? 100000}-member audience through the admin API (median)`,
    budget: '≤ 100 ms',
    value: summary.audience_list_ms_100k,
    ok: (v) => v <= 100,
    measured: audMissing(summary.audience_list_ms_100k, (v) => `${v} ms (p95 ${audiences.list_ms.p95} ms)`),
    peer: '—',
    ratio: '—',
  },
  {
    figure: `the whole CSV of a ${audiences.members ?? 100000}-member audience through the admin API (median of ${audiences.csv_s?.runs?.length ?? 0})`,
    budget: '≤ 3 s',
    value: summary.audience_csv_s_100k,
    ok: (v) => v <= 3,
    measured: audMissing(summary.audience_csv_s_100k, (v) => `${v} s`),
    peer: '—',
    ratio: '—',
  },
  {
    figure: 'from a collect call to the visitor in the audience list, through the queue and the store (p95)',
    budget: '≤ 5 s',
    value: summary.event_to_list_p95_s,
    ok: (v) => v <= 5,
    measured: audMissing(summary.event_to_list_p95_s, (v) => `${v} s (median ${audiences.event_to_list_s.median} s, ${audiences.event_to_list_s.runs} visitors)`),
    peer: "PostHog's cohorts: daily",
    ratio: '—',
  },
);
const trigMissing = (v, fmt) => (v == null ? `missing: ${triggersProblem}` : fmt(v));
budgets.push(
  {
    figure: 'from the collect call that makes a visitor `ready` to the signed webhook at a local receiver, through both queues and the store (p95)',
    budget: '≤ 5 s',
    value: summary.trigger_p95_s,
    ok: (v) => v <= 5,
    measured: trigMissing(summary.trigger_p95_s, (v) => `${v} s (median ${triggers.trigger_s.median} s, max ${triggers.trigger_s.max} s, ${triggers.trigger_s.runs} visitors)`),
    peer: '—',
    ratio: '—',
  },
  {
    figure: `webhook deliveries a second to a local receiver that answers at once (${triggers.deliveries ?? '?'} visitors entering \`ready\` at once, first to last arrival)`,
    budget: '≥ 500 /s',
    value: summary.deliveries_per_s,
    ok: (v) => v >= 500,
    measured: trigMissing(summary.deliveries_per_s, (v) => `${v} /s (${triggers.throughput.deliveries} in ${triggers.throughput.first_to_last_s} s, ${triggers.throughput.duplicates} sent twice)`),
    peer: '—',
    ratio: triggers.throughput ? `from the first ingest: ${triggers.throughput.from_ingest_start_per_s} /s; once the ingest is done: ${triggers.throughput.after_ingest_per_s ?? '—'} /s` : '—',
  },
);
const fmtRate = (x) => (x == null ? 'missing' : `${(x / 1e6).toFixed(2)} M events/s`);
budgets.push(
  {
    figure: `preview: a month of a 10,000-visitor site (${summary.preview_log_events ?? '?'} events) replayed under the published and an edited config in headless Chromium's wasm (events replayed a second, both replays counted)`,
    budget: '≥ 2 M events/s',
    value: summary.preview_events_per_s_wasm,
    ok: (v) => v >= 2e6,
    measured: summary.preview_events_per_s_wasm == null ? 'missing' : `${fmtRate(summary.preview_events_per_s_wasm)} (one preview ${summary.preview_ms_wasm} ms)`,
    peer: '—',
    ratio: summary.preview_log_parse_ms_wasm == null ? '—' : `reading the log once: ${summary.preview_log_parse_ms_wasm} ms`,
  },
  {
    figure: '`intentctl simulate` over the same month, natively: the replay (fold + decide per visitor)',
    budget: '≥ 5 M events/s',
    value: summary.simulate_events_per_s_native,
    ok: (v) => v >= 5e6,
    measured: fmtRate(summary.simulate_events_per_s_native),
    peer: '—',
    ratio: summary.simulate_read_events_per_s_native == null ? '—'
      : `reading the JSON: ${fmtRate(summary.simulate_read_events_per_s_native)}, ${Math.round(summary.simulate_read_share * 100)} % of the command's time; whole command ${fmtRate(summary.simulate_total_events_per_s_native)}`,
  },
  {
    figure: "the console's first screen (sign-in) on loopback, headless Chromium, from navigation",
    budget: '≤ 1 s',
    value: summary.console_first_screen_ms,
    ok: (v) => v <= 1000,
    measured: summary.console_first_screen_ms == null ? 'missing' : `${summary.console_first_screen_ms} ms`,
    peer: '—',
    ratio: `JS ${fmtB(summary.console_js_gzip_bytes)} + CSS ${fmtB(summary.console_css_gzip_bytes)} + engine wasm ${fmtB(summary.console_wasm_gzip_bytes)} gzipped`,
  },
);
for (const b of budgets) {
  b.verdict = b.value == null ? 'missing' : b.ok(b.value) ? 'meets' : 'MISSES';
}

// ---------------------------------------------------------------- the page
const cpu = os.cpus()[0]?.model || 'unknown CPU';
const machine = `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`;
let wranglerVersion = 'unknown';
try {
  wranglerVersion = JSON.parse(readFileSync('node_modules/wrangler/package.json', 'utf8')).version;
} catch { /* not installed */ }
const tools = `${cmd('rustc', ['--version'])}; Node ${process.version}; wrangler ${wranglerVersion}; json-logic-js ${pkgVersion('json-logic-js')}, json-logic-engine ${pkgVersion('json-logic-engine')}, @growthbook/growthbook ${pkgVersion('@growthbook/growthbook')}`;
function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(`bench/js/node_modules/${name}/package.json`, 'utf8')).version;
  } catch {
    return 'missing';
  }
}

const L = [];
const row = (cells) => L.push(`| ${cells.join(' | ')} |`);
L.push('# Performance');
L.push('');
L.push('Written by `make bench` (`bench/run.sh`); every figure below comes from the same run. Rerun it to');
L.push('refresh this page. The budgets are the brief\'s; `target/bench/summary.json` has the same figures for');
L.push('machines.');
L.push('');
L.push(`- **Run:** ${started}${wasm?.quick ? ' (BENCH_QUICK: shortened, not for the record)' : ''}`);
// A machine that was busy when the run started may have stayed so; one that was idle says so.
const startedQuiet = loadBefore !== '' && Number(loadBefore.split(' ')[0]) < 0.5;
const machineNote = startedQuiet
  ? 'nothing else ran when the run started; the benchmark\'s own steps load it, so tails are noisier than on a dedicated machine; both sides of each comparison ran interleaved and saw the same noise'
  : 'a shared machine: other builds ran beside the benchmark, so tails are noisier than on a quiet one; both sides of each comparison ran interleaved in the same process and saw the same noise';
L.push(`- **Machine:** ${machine}; load average at the start ${loadBefore || 'unknown'} (${machineNote})`);
L.push(`- **Tools:** ${tools}`);
L.push('');
L.push('## Budgets');
L.push('');
row(['figure', 'budget', 'measured', 'peer', 'ratio', 'verdict']);
row(['---', '---', '---', '---', '---', '---']);
for (const b of budgets) row([b.figure, b.budget, b.measured, b.peer, b.ratio, b.verdict === 'meets' ? '✓ meets' : `✗ ${b.verdict}`]);
if (summary.speedup_vs_growthbook != null) {
  const gb = atLowest(def, GB);
  row(["full path against GrowthBook's `evalCondition` over the same rules as GrowthBook conditions (p50 ratio, lowest over the profiles)", '— (no budget)', gb.measured, gb.peer, fmtX(summary.speedup_vs_growthbook), 'reported']);
}
if (summary.coldstart_ms != null) {
  const c = median(cold.map((x) => x.compile_ms));
  const i = median(cold.map((x) => x.instantiate_ms));
  row(['cold start: `WebAssembly.compile` + instantiate of the worker\'s wasm, Node 22, fresh process (median of ' + cold.length + ')', '—', `${summary.coldstart_ms} ms (compile ${r2(c)} ms, instantiate ${r2(i)} ms)`, '—', '—', 'reported']);
} else {
  row(['cold start of the worker\'s wasm', '—', 'missing: worker/build/index_bg.wasm not built', '—', '—', 'missing']);
}
L.push('');

if (def) {
  L.push('## The engine as wasm against the JSON Logic peers');
  L.push('');
  L.push('One Node 22 process. Each side takes the `POST /v1/collect` body as UTF-8 bytes, as a worker reads it');
  L.push('from the request (a JavaScript worker\'s `request.json()` decodes it, the engine reads the bytes), and');
  L.push('answers what its worker hands to the response: a view of the answer\'s bytes in wasm memory from the');
  L.push('engine (the worker calls `new Response(view, init)`, `worker/src/runtime/http.rs`, and the runtime copies');
  L.push('the bytes natively), text from the peers (`new Response(text)`; the runtime encodes it natively). Neither');
  L.push('side is charged for the copy or the encoding the runtime does. In between: read the');
  L.push('body, verify the signed profile, fold the events (a page view and an');
  L.push('engagement report), compute what the rules read, pick the tier (first match wins), segments and');
  L.push('variants, re-sign. The peers are plain JavaScript with the rules converted to JSON Logic by');
  L.push('`rules-to-jsonlogic` (`bench/wasm/src/jsonlogic.rs`), HMAC-SHA256 from `node:crypto`, and a JSON profile');
  L.push('that keeps exactly what the engine\'s compact profile keeps for these rules. Before any timing, every side');
  L.push('answers every call of a generated corpus and must agree on tier, segments and variants:');
  L.push('');
  for (const s of wasm.suites) {
    L.push(`- ${s.label} (\`${s.rules_id}\`): ${s.agreement.calls} calls from ${s.agreement.visitors} generated visitors, all sides agree; tiers reached ${Object.entries(s.agreement.tiers).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ')}${Object.keys(s.agreement.tiers).length > 8 ? ', …' : ''}.`);
  }
  L.push('');
  L.push('Where the set-up favours the peers: their request check is lighter (types only, where the engine also');
  L.push('enforces every size limit and names the field), their glob patterns are V8 regular expressions, and');
  const tokenRatios = (wasm.suites || []).flatMap((st) => st.cases)
    .map((c) => c.token_bytes?.[JL] / c.token_bytes?.[ENGINE])
    .filter((r) => Number.isFinite(r));
  const tokenSpan = tokenRatios.length
    ? `${Math.min(...tokenRatios).toFixed(1)}× to ${Math.max(...tokenRatios).toFixed(1)}× the size of`
    : 'larger than';
  L.push(`their rules are compiled once at start-up like the engine's. Their tokens are JSON, ${tokenSpan}`);
  L.push('the engine\'s (the last column), which costs on the wire rather than in this table.');
  L.push('');
  L.push('GrowthBook\'s `evalCondition` is a third peer, with the same rules written as GrowthBook (MongoDB-style)');
  L.push('conditions over the same counters; the brief sets no budget against it.');
  L.push('');
  L.push('Per call, each timed on its own (µs); ratio = peer p50 / engine p50:');
  L.push('');
  row(['rules / profile', 'engine build', 'tier', 'engine p50', 'engine p99', 'json-logic-js p50', 'p99', 'ratio', 'json-logic-engine p50', 'p99', 'ratio', 'GrowthBook p50', 'p99', 'ratio', 'tokens (engine / peer)']);
  row(Array(15).fill('---'));
  for (const s of wasm.suites) {
    for (const c of s.cases) {
      const j = c.sides[JL];
      const k = c.sides[JLE];
      const g = c.sides[GB];
      const peerCells = (p, e) => (p ? [p.p50_us.toFixed(2), p.p99_us.toFixed(2), `${(p.p50_us / e.p50_us).toFixed(2)}×`] : ['—', '—', '—']);
      for (const [build, label] of BUILDS) {
        const e = c.sides[build];
        if (!e) continue;
        row([c.case, label, c.tier, e.p50_us.toFixed(2), e.p99_us.toFixed(2), ...peerCells(j, e), ...peerCells(k, e), ...peerCells(g, e), `${c.token_bytes[build]} / ${c.token_bytes[JL]} B`]);
      }
    }
  }
  L.push('');
  L.push('"shipped" is the engine built with the release profile the worker ships with: the crates the call');
  L.push('spends its time in (`intent-engine`, `sha2`, `hmac`, `digest`, `block-buffer`, `serde_json`,');
  L.push('`serde_path_to_error`, `base64-simd`, `vsimd`, `memchr`, and this adapter, whose HMAC-SHA256 timing instantiates those crates\' code)');
  L.push('at `opt-level = 3`, everything else tuned for size (`opt-level = "z"`).');
  L.push('"all opt-level 3" builds everything for speed, for comparison only. All sides ran');
  L.push('interleaved in the same process.');
  L.push('');

  L.push('## Where the time goes');
  L.push('');
  L.push('Each stage on its own, typical profile, default rules: ns a call, the median over batches of 100 calls');
  L.push('(the stages of one side add up to about its whole call):');
  L.push('');
  const eb = Object.entries(def.engine_breakdown_ns?.[ENGINE] || {});
  const present = BUILDS.filter(([b]) => def.engine_breakdown_ns?.[b]);
  row(['engine stage (wasm)', ...present.map(([, label]) => `${label} ns`)]);
  row(['---', ...present.map(() => '---:')]);
  for (const [k] of eb) row([k, ...present.map(([b]) => def.engine_breakdown_ns[b][k])]);
  L.push('');
  const pb = Object.entries(def.peer_breakdown_ns || {});
  row(['json-logic-js peer stage', 'ns']);
  row(['---', '---:']);
  for (const [k, v] of pb) row([k, v]);
  L.push('');
  const eo = def.eval_only_ns || {};
  L.push(`The tier rules alone over precomputed counts: json-logic-js ${eo[JL]} ns, json-logic-engine's compiled rules ${eo[JLE]} ns,`);
  L.push(`GrowthBook's \`evalCondition\` ${eo[GB] ?? '—'} ns a call. As the brief says, rule evaluation is not where`);
  L.push('the time goes: on both sides the call is');
  L.push('dominated by reading JSON, the two HMAC-SHA256 computations (verify and re-sign) and writing JSON.');
  const engStages = eb.filter(([k]) => !k.startsWith('whole') && !k.startsWith('call into') && !k.startsWith('of which'));
  engStages.sort((a, b) => b[1] - a[1]);
  if (engStages.length) {
    L.push(`In the engine the largest stages are ${engStages.slice(0, 3).map(([k, v]) => `${k} (${v} ns)`).join(', ')}; evaluating the rules is ${def.engine_breakdown_ns[ENGINE]['evaluate tiers + segments + variants']} ns.`);
  }
  L.push('');
}

if (nativeDefault.length) {
  L.push('## The engine natively');
  L.push('');
  L.push('`cargo bench -p intent-engine --bench classify` (criterion, bench profile `opt-level = 3`); the full path');
  L.push('without JSON (the worker\'s JSON reading and writing are not in it): verify and decode the token, fold two');
  L.push('events, evaluate, pick variants, re-sign. Each call timed on its own, 50 000 calls per case.');
  L.push('');
  row(['case', 'p50 µs', 'p99 µs', 'token bytes', 'largest possible token']);
  row(['---', '---:', '---:', '---:', '---:']);
  for (const c of native) row([c.case, c.p50_us.toFixed(2), c.p99_us.toFixed(2), c.token_bytes, c.max_token_bytes]);
  L.push('');
}

L.push('## Sizes');
L.push('');
L.push('Each file gzipped on its own with `gzip -9`, as a server sends it (the same count as');
L.push('`scripts/size-check.sh` and `scripts/test-worker.sh`). The consent adapters,');
L.push('`_intent/consent.js`, are fetched only for a tag with `data-consent-from`, after the snippet,');
L.push('and are not part of its budget.');
L.push('');
row(['file', 'raw', 'gzip', 'built']);
row(['---', '---:', '---:', '---']);
for (const [p, v] of Object.entries(sizes)) {
  row([`\`${p}\``, v ? v.raw : 'missing', v ? v.gzip : 'missing', v ? v.built : '—']);
}
L.push('');

L.push('## Load test');
L.push('');
if (ours) {
  L.push(`wrk, ${load.threads} threads, ${load.connections} connections, ${load.seconds} s per run, 127.0.0.1 only; each worker under its own`);
  L.push('`wrangler dev --local` (the real worker exactly as its integration tests start it, from the built bundle;');
  L.push('the peer is `bench/peer-worker/`, json-logic-js with the same rules from its own local KV). Collect calls');
  L.push('carry a returning visitor\'s token and two events; page loads are `/pricing/` in proxy mode with the');
  L.push('profile cookie (page view recorded from the request, slots filled while streaming).');
  L.push(`The real worker has its queues as deployed (\`--pipeline ${load.pipeline ?? 'whole'}\`${(load.pipeline ?? 'whole') === 'whole' ? ': the queue\'s consumer and the site\'s store run in its workerd process, on the same two cores' : ''}).`);
  L.push('');
  row(['worker', 'endpoint', 'requests', '2xx', '5xx', 'dropped', 'req/s', 'p50 ms', 'p99 ms']);
  row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
  for (const [name, s] of Object.entries(load.sides)) {
    for (const [ep, r] of [['POST /v1/collect', s.collect], ['GET /pricing/ (proxy)', s.page]].filter(([, r]) => r)) {
      row([name, ep, r.requests, r.ok, r.status_5xx, r.socket_errors + r.timeouts, r.rps, r.p50_ms.toFixed(1), r.p99_ms.toFixed(1)]);
    }
  }
  L.push('');
  if (offLoad && peerLoad) {
    L.push(`Without queue bindings (the visitor's path alone: nothing reaches a store, as with the peer), the real`);
    L.push(`worker served ${offLoad.collect.rps} collect calls a second, ${fmtX(offLoad.collect.rps / peerLoad.collect.rps)} the peer's, in the same rounds (runs:`);
    L.push(`${offLoad.collect.rps_each.join(', ')}; the peer's: ${peerLoad.collect.rps_each.join(', ')}). The difference from the first row is what the`);
    L.push('queue\'s local broker, its consumer and the audience store cost on these two cores, which on Cloudflare');
    L.push('are other invocations.');
    L.push('');
  }
  L.push('Under `wrangler dev` a request takes milliseconds, against microseconds of engine time: these figures');
  L.push('show robustness under load and the cost of everything around the engine, not the engine\'s speed.');
  if (peerLoad && ours.collect.rps < 0.95 * peerLoad.collect.rps) {
    L.push(`Here the JavaScript peer served ${fmtX(peerLoad.collect.rps / ours.collect.rps)} the collect calls per second. Per request the real worker`);
    L.push('also checks the origin and the content type, sets its rules, tier and privacy headers, and reaches the');
    L.push('request, headers and response through the runtime\'s JavaScript objects; its engine is the shipped');
    L.push(`build measured above.${offLoad ? ' The worker without queue bindings, above, shows how much of the difference is the pipeline sharing the cores.' : ''}`);
  }
} else {
  L.push(`Missing: ${loadProblem}.`);
}
L.push('');

L.push('## The worker\'s own cost per request, inside workerd');
L.push('');
if (handler.real) {
  L.push(`Each worker runs behind a repeat loop (\`bench/handler/\`): one request runs its real handler ${handler.n} times on`);
  L.push('fresh copies of a request, reading each answer to its end, and the same loop answering a fixed response');
  L.push('instead is the baseline. workerd\'s clocks stand still while code runs, so each loop is measured from');
  L.push('outside, as the CPU time the workerd process running the worker spent on it (all its threads, from');
  L.push('`/proc/<pid>/task/*/schedstat`: on a shared machine wall time would also count other processes\' turns);');
  L.push(`per call, (handler − baseline) / ${handler.n}. ${handler.rounds} rounds alternate handler and baseline; the figure is their`);
  L.push('median (`bench/js/handler.mjs`). Both workers run under `wrangler dev --log-level warn` from their built');
  L.push('bundles, on the same machine. `real.js:N` in the profile is a line of the bundled JavaScript, named by');
  L.push('its source around the function\'s start: wasm-bindgen\'s shim for one call out of wasm (`__wbg_get_…`: a');
  L.push('request header read; `__wbg_readBody_…`: the body\'s native read), `K`: `respond` of `worker/js/http.js`,');
  L.push('which builds the answer, or the loop itself (`withBenchLoop`, `async (req) =>`).');
  L.push('');
  row(['route', 'Rust worker (µs a call)', 'JS peer (µs a call)', 'rounds (Rust, µs)']);
  row(['---', '---:', '---:', '---']);
  const names = { collect: '`POST /v1/collect` (returning visitor, 2 events)', collect_without_queues: '`POST /v1/collect` without queue bindings (records, enqueues nothing)', decide: '`GET /v1/decide?slots=hero,cta`', page: '`GET /pricing/`, proxy mode, read to the end', health: '`GET /v1/health`', floor: 'floor: `POST /v1/collect` for an unknown site (headers, body read, 400)' };
  for (const [k, label] of Object.entries(names)) {
    row([label, hReal[k] ? hReal[k].us : '—', hPeer[k] ? hPeer[k].us : '—', hReal[k] ? hReal[k].rounds_us.join(', ') : '—']);
  }
  L.push('');
  L.push('The floor is the runtime boundary without the engine: the entry, the route, the headers the collect');
  L.push('call reads, the body in one native read, a few bytes parsed, and an answer built in one construction.');
  L.push('');
  if (Object.values(handler.real).some((r) => r?.worker === 'without queue bindings')) {
    L.push('Decide, health and the floor record nothing; with the queue bound they are measured on a second worker');
    L.push('of the same build without queue bindings (after its collect, which warms the code they share), so that');
    L.push('what the pipeline does after a recording loop cannot fall into their rounds.');
    L.push('');
  }
  L.push('A collect call also records: the handler makes the message and `enqueue` of `worker/js/http.js` adds');
  L.push('it to the message its isolate is filling for the `intent-events` queue (the calls of 20 ms, up to 100');
  L.push('and 60,000 bytes, share one), sent in `ctx.waitUntil` after the answer. Under `wrangler dev` the');
  L.push('queue\'s broker, its consumer and the site\'s `AudienceStore` run in the same workerd process, where');
  L.push('Cloudflare runs them as other invocations and bills them on their own. The collect row counts them all');
  L.push(`(\`--pipeline ${handler.pipeline ?? 'whole'}\`): the call, its message, the send, the broker, the consumer's batch and the store's SQLite`);
  L.push('`exec` (their rate on their own is the audience benchmark\'s ingest figure).');
  if (handler.real.collect?.settled) {
    L.push('Each of its loops, the baseline\'s too, is measured until workerd has gone quiet after it (at least');
    L.push('1.2 s, then a quarter of a second under 1 ms of CPU): the consumer\'s batch comes up to a second after');
    L.push('the calls, and without the wait its work fell into whichever loop ran next, which made single rounds');
    L.push('read 800 µs or less than nothing and left most of it uncounted.');
  }
  L.push('The row below it is a worker without queue bindings, whose collect records but enqueues nothing: the');
  L.push('visitor\'s path alone. How the difference splits (measured with the queue bound and nobody consuming');
  L.push('it, and in a profile spanning the consumer\'s batches): the producer\'s side, the message made, sent and');
  L.push('kept by the local broker, and the consumer\'s, the broker\'s delivery, the messages read and the store\'s');
  L.push('ingest (`docs/PERFORMANCE-CHANGES.md`). The JS peer enqueues nothing.');
  for (const [side, title] of [['real', 'Rust worker'], ['peer', 'JS peer']]) {
    const p = handler.profiles?.[side];
    L.push('');
    L.push(`CPU profile of the ${title}'s collect loop (V8's sampler through workerd's inspector, every ${handler.sampling_us} µs; self time per function, per call, the loop's own work included):`);
    L.push('');
    if (Array.isArray(p)) {
      const code = (t) => (t ? `\`${t.replace(/\|/g, '\\|').replace(/`/g, "'")}\`` : '');
      row(['function', 'its source', 'µs a call', 'share']);
      row(['---', '---', '---:', '---:']);
      for (const e of p) row([code(e.name), code(e.source), e.us_per_call, `${e.share} %`]);
    } else {
      L.push(`Missing: ${oneLine(p?.failed ?? 'not profiled')}.`);
    }
  }
  L.push('');
  L.push('What a call costs beyond the engine, stage by stage, as the profile names them: the runtime\'s');
  L.push('`Request` and `Response` objects (workerd builds each; the loop\'s copy of the request is in the');
  L.push('baseline too, the answer\'s `Response` is the handler\'s); the body\'s native read (`request.arrayBuffer()`');
  L.push('and the call back into wasm with its bytes); a call out of wasm for each request header read, for the');
  L.push('URL and the method, and for `respond`, which turns the answer\'s status and headers (one text) into the');
  L.push('plain object `new Response` reads; UTF-8 decoding of the strings that leave wasm (`decode`); the');
  L.push('garbage collection of all these objects; and the wasm itself (`wasm-function[…]`: reading the body,');
  L.push('verifying and re-signing the token — two HMAC-SHA256 —, folding, the rules, the answer). The floor row');
  L.push('is what is left with the engine taken out: the price of the runtime boundary.');
  L.push('');
  L.push('To rerun the profile alone: `node bench/js/handler.mjs --jsonlogic target/bench/default.jsonlogic.json --out');
  L.push('target/bench/handler.json` (after `make worker site`); it starts both workers with `--inspector-port`, runs');
  L.push('the collect loop under `Profiler.start` / `Profiler.stop` and prints the top entries (`--profile-route');
  L.push('health` profiles another route, `--sampling-us 25` samples finer, `--routes collect,health` measures only');
  L.push('those, `--save-profile DIR` keeps each profile whole as `DIR/real-collect.cpuprofile`, which Chrome');
  L.push('DevTools loads). The same profile opens live in DevTools: connect to the inspector port and record while');
  L.push('sending `POST /__bench`. The queue\'s consumer and the store run in the same isolate a second after the');
  L.push('calls (`max_batch_timeout`): a profile shows their share only when its loops span more than that');
  L.push('(`--profile-requests 40`).');
  L.push('');
  L.push('How each change to this cost was measured before and after, with its time and load:');
  L.push('[PERFORMANCE-CHANGES.md](PERFORMANCE-CHANGES.md).');
} else {
  L.push(`Missing: ${handlerProblem}.`);
}
L.push('');

L.push('## The audience layer');
L.push('');
if (audiences.ingest) {
  L.push('`bench/js/audiences.mjs`, on local workerd under `wrangler dev`, the worker as built. The store\'s batches are');
  L.push('made as the edge makes queue records (`bench/wasm/src/bin/audience-batches.rs`: each call folded into the');
  L.push('visitor\'s profile, which the record carries) and handed to one store object one after another, as the');
  L.push('queue consumer hands over a batch (`bench/store/entry.mjs` adds the route that does so, inside the worker).');
  L.push('workerd\'s clocks stand still while code runs, so everything is timed from outside, in wall time.');
  L.push('');
  row(['what', 'events', 'batches', 'events/s', 'ms a batch']);
  row(['---', '---:', '---:', '---:', '---:']);
  row([`returning visitors, calls of a page view and an engagement report`, audiences.ingest.events, audiences.ingest.batches, audiences.ingest.events_per_s, audiences.ingest.batch_ms]);
  if (audiences.ingest_page_views) row(['the same, calls of one page view', audiences.ingest_page_views.events, audiences.ingest_page_views.batches, audiences.ingest_page_views.events_per_s, audiences.ingest_page_views.batch_ms]);
  if (audiences.fill) row([`${audiences.members} new visitors, three pricing views each (filling \`ready\`)`, audiences.fill.events, audiences.fill.batches, audiences.fill.events_per_s, audiences.fill.batch_ms]);
  row(['empty batches: the runtime\'s call into the object, an ingest of nothing', 0, 100, '—', audiences.empty_batch_ms]);
  L.push('');
  L.push('A batch costs the call into the object (the empty batch\'s time, which a JavaScript Durable Object');
  L.push('answering at once costs too under `wrangler dev` on this machine) plus the store\'s own work, which');
  L.push('grows with the visitors in the batch more than with their events: each visitor\'s profile is verified,');
  L.push('evaluated, its next lapse found and re-encoded, and written in multi-row statements.');
  L.push('Natively over SQLite, `cargo bench -p intent-audience` measures the store\'s own work alone.');
} else {
  L.push(`Missing: ${audiencesProblem}.`);
}
L.push('');

const misses = budgets.filter((b) => b.verdict !== 'meets');
L.push('## Misses');
L.push('');
if (!misses.length) {
  L.push('None: every figure meets its budget.');
} else {
  for (const b of misses) L.push(`- **${b.figure}**: ${b.verdict === 'missing' ? 'not measured in this run' : `${b.measured} against ${b.budget}`}.`);
  if (misses.some((b) => b.figure.startsWith('classify one visitor as wasm'))) {
    L.push('');
    L.push(`The wasm p99 moves with the machine's other work (load average ${loadBefore || 'unknown'} at the start of this run; each`);
    L.push(`call is timed on its own, so a preemption or a garbage collection lands in the tail): the p50 of the same calls`);
    L.push(`is ${fmtUs(summary.classify_p50_us_wasm)}.`);
  }
  if (misses.some((b) => b.figure.startsWith('the worker\'s own cost') || b.figure.startsWith('the same, against'))) {
    L.push('');
    if (startedQuiet) {
      L.push(`The handler figures are CPU time of a machine on which nothing else ran (load average ${loadBefore} at the`);
      L.push('start); a run\'s rounds still spread by a fifth or more (the rows above), so a difference of a few');
      L.push('microseconds between two runs says little. What they say: a request that does no');
    } else {
      L.push(`The handler figures are CPU time of a machine shared with other builds (load average ${loadBefore || 'unknown'} at`);
      L.push('the start), which also slows a process\'s own CPU work (caches, the other core\'s hyperthread); rerun on a');
      L.push('quiet machine before reading them as absolutes. What they say either way: a request that does no');
    }
    L.push('work (`health`) costs a few microseconds, the runtime boundary (the floor: headers, body, a fixed');
    L.push('answer) and `decide` some tens, and the engine a few of those. The goal of 40 µs sits near the floor');
    const third = summary.collect_handler_us_js_peer == null ? null : r2(summary.collect_handler_us_js_peer / 3);
    L.push(`itself (${summary.handler_floor_us == null ? 'not measured' : fmtUs(summary.handler_floor_us)}), the runtime's price for a request and its answer before any work; 3x the peer is ${third == null ? 'not measured' : fmtUs(third)} a call.`);
    L.push('Done so far against the issue\'s profile: a body of declared length in one native read (no');
    L.push('stream reader), vars and secrets read once per isolate, the URL sliced rather than parsed, the hot');
    L.push('routes on the runtime\'s request object; the entry of our own (collect, decide and health answer');
    L.push('without a future or a microtask; the body read by `request.arrayBuffer()` in JavaScript, which calls');
    L.push('the entry again with the bytes); the request\'s head and the hot handlers\' headers read in one call');
    L.push('out of wasm each and carried across the body\'s read; the answer\'s status and headers as one text');
    L.push('that `respond` makes into a plain object for `new Response`; the queue message sent from JavaScript');
    L.push('(`enqueue`), the calls of 20 ms sharing one message. What the profile shows next: the wasm itself');
    L.push('(the worker crate is built for size; at opt-level 3 a collect call took about a tenth less, at 76 KB');
    L.push('over the bundle\'s budget), the answer\'s `new Response` and `respond`, and the garbage of the runtime\'s');
    L.push('objects.');
  }
  if (misses.some((b) => b.figure.startsWith('full path')) && def) {
    L.push('');
    L.push('Why the engine does not beat json-logic-js by the margin asked everywhere. Done so far, each measured');
    L.push('by this bench: the crates of the hot path build at opt-level 3 inside the size-tuned worker; a valid');
    L.push('collect body is parsed in one pass, its text borrowed rather than copied; each tier\'s variants are');
    L.push('rendered to JSON once, when the rules compile; the answer is written into one buffer and handed to');
    L.push('the runtime as a view of wasm memory; a profile keeps all its hits in one list; SHA-256 runs on wasm');
    L.push('SIMD (sha2 0.11). Together they took the typical call from about 15 µs to the figure above.');
    L.push('');
    L.push('Profile by profile (default rules, p50; the floor is the two HMAC-SHA256 computations the brief');
    L.push('requires, verify the incoming token and sign the new one, timed on their own in the shipped build):');
    L.push('');
    row(['profile', 'engine µs', 'json-logic-js µs', 'ratio', '5× means µs', 'HMAC-SHA256 floor µs', 'everything else µs', 'everything else at 5× µs']);
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
    const gaps = [];
    for (const c of def.cases) {
      const ours = c.sides[ENGINE]?.p50_us;
      const jl = c.sides[JL]?.p50_us;
      const floor = c.engine_hmac_ns?.[ENGINE];
      if (ours == null || jl == null) continue;
      const target = jl / 5;
      const rest = floor == null ? null : ours - floor / 1000;
      const restAt5 = floor == null ? null : target - floor / 1000;
      if (rest != null && ours > target) gaps.push({ name: c.case.split('/')[1], cut: 1 - Math.max(0, restAt5) / rest });
      row([c.case.split('/')[1], ours.toFixed(2), jl.toFixed(2), fmtX(jl / ours), target.toFixed(2),
        floor == null ? 'missing' : (floor / 1000).toFixed(2), rest == null ? 'missing' : rest.toFixed(2),
        restAt5 == null ? 'missing' : restAt5.toFixed(2)]);
    }
    L.push('');
    if (gaps.length) {
      L.push(`Where the ratio falls short (${gaps.map((g) => g.name).join(', ')}), everything but the HMAC (reading and checking the`);
      L.push('body, decoding, folding, classifying, encoding, writing the answer, crossing the boundary) would have to');
      L.push(`shrink by ${gaps.map((g) => `${Math.round(g.cut * 100)} % (${g.name})`).join(', ')}. The HMAC floor grows with the token, which`);
      L.push('grows with the history kept (a new visitor\'s call only signs), while most of the peers\' cost is fixed work');
      L.push('(JSON, `node:crypto` calls) that grows more slowly. SHA-256 has no hardware instructions in wasm; the');
      L.push('peers hash in V8\'s native code.');
    }
  }
}
L.push('');

writeFileSync(mdPath, `${L.join('\n')}\n`);
writeFileSync(summaryPath, `${JSON.stringify({ ...summary, run: started, machine, budgets: budgets.map(({ figure, budget, verdict }) => ({ figure, budget, verdict })) }, null, 2)}\n`);

console.log('');
for (const b of budgets) console.log(`${b.verdict === 'meets' ? 'ok  ' : 'FAIL'}  ${b.figure}: ${b.measured} (budget ${b.budget})`);
console.log(`\nwrote ${mdPath} and ${summaryPath}`);
if (misses.length) {
  console.error(`bench: ${misses.length} figure(s) miss their budget or were not measured: ${misses.map((b) => b.verdict).join(', ')}`);
  process.exit(1);
}
