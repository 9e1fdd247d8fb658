// Headless Chromium for the end-to-end tests: Debian's /usr/bin/chromium driven by
// playwright-core, with a recorder of what goes over the wire and readers for what a visitor
// sees. Nothing here answers a request: the server is always the real worker.

import { chromium } from 'playwright-core';

import { quiet } from '../worker/wait.mjs';

/** Debian's Chromium (never a browser downloaded by `playwright install`). */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** The texts of the demo site's hero, as the visitor reads them. */
export const HERO = {
  homeResearching: 'Forecast revenue you can defend in the board meeting.',
  evaluating: 'See why finance teams switch to Ledgerly',
  ready: 'Your forecast, live in two weeks',
};

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/**
 * A browser context on the worker. Playwright sets `navigator.webdriver`, which the snippet
 * treats as a bot; `window.intentAllowAutomation` is its documented, test-only switch, set
 * before any page script runs. `initScripts` run after it, on every page.
 */
export async function newVisitor(browser, baseURL, { initScripts = [], ...options } = {}) {
  const context = await browser.newContext({ baseURL, ...options });
  await context.addInitScript(() => { window.intentAllowAutomation = true; });
  for (const script of initScripts) await context.addInitScript(script);
  const wire = new Wire(context);
  return { context, wire };
}

/**
 * Everything the context's pages request, with the bodies sent to `/v1/collect` parsed and
 * their answers kept. Observation only: requests continue untouched.
 */
export class Wire {
  constructor(context) {
    this.requests = [];
    this.answers = [];
    this.console = [];
    context.on('request', (req) => this.requests.push(req));
    context.on('response', (resp) => {
      if (isCollect(resp.request())) {
        this.answers.push(resp.json().catch((e) => ({ unreadable: String(e) })));
      }
    });
    context.on('page', (page) => {
      page.on('console', (m) => this.console.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => this.console.push(`[pageerror] ${e.message}`));
    });
  }

  /** Requests whose path is `path` (or matches it, for a RegExp). */
  to(path) {
    return this.requests.filter((r) => {
      const p = new URL(r.url()).pathname;
      return path instanceof RegExp ? path.test(p) : p === path;
    });
  }

  /** The parsed bodies of every `/v1/collect` call so far. */
  collectBodies() {
    return this.requests.filter(isCollect).map((r) => JSON.parse(r.postData() ?? 'null'));
  }

  /** Every event sent to `/v1/collect` so far, in order, optionally of one `type`. */
  events(type) {
    const all = this.collectBodies().flatMap((b) => b?.events ?? []);
    return type ? all.filter((e) => e.type === type) : all;
  }

  /** The answers `/v1/collect` gave so far, parsed. */
  async collectAnswers() {
    return Promise.all(this.answers);
  }

  /** A short account of the traffic and the console, for failure messages. */
  summary() {
    const lines = this.requests.map((r) => {
      const body = isCollect(r) ? ` ${r.postData()}` : '';
      return `${r.method()} ${r.url()}${body}`;
    });
    return `--- requests ---\n${lines.join('\n')}\n--- console ---\n${this.console.join('\n')}`;
  }
}

function isCollect(req) {
  return req.method() === 'POST' && new URL(req.url()).pathname === '/v1/collect';
}

/** What the visitor sees: the hero's heading and the tier on `<html>`. */
export async function seen(page) {
  return page.evaluate(() => ({
    hero: document.querySelector('[data-intent-slot="hero"] h1')?.textContent.trim() ?? null,
    tier: document.documentElement.getAttribute('data-intent-tier'),
  }));
}

/** Waits until `<html data-intent-tier>` says `tier`, then returns what the visitor sees. */
export async function waitForTier(page, tier, timeout = 10_000) {
  await page.waitForFunction((t) => document.documentElement.getAttribute('data-intent-tier') === t, tier, { timeout });
  return seen(page);
}

/**
 * Waits until the tracker runs: the loader's queue stub has been replaced by the snippet's own
 * `intent()`, which also means its history and click listeners are installed.
 */
export async function waitForSnippet(page, timeout = 10_000) {
  await page.waitForFunction(
    () => typeof window.intent === 'function' && !String(window.intent).includes('intent.q'),
    null,
    { timeout },
  );
}

/** A single-page navigation, as a router would make it. */
export async function pushState(page, path) {
  await page.evaluate((p) => history.pushState({}, '', p), path);
}

/** The value of the `intent_profile` cookie in `context`, or null. */
export async function profileCookie(context) {
  const c = (await context.cookies()).find((k) => k.name === 'intent_profile');
  return c ? c.value : null;
}

export { until } from '../worker/wait.mjs';

/**
 * Waits until the worker's log has been quiet for a moment and returns its length: the mark
 * from which `collectsSince` counts. Beacons sent while a page is left (`pagehide`) go out from
 * the browser after the page is gone, so no page-level listener sees them; wrangler's log of
 * the requests the worker served does.
 */
export function quietMark(w) {
  return quiet(() => w.log().length, "wrangler's log");
}

/** How many `/v1/collect` calls the worker served since `mark`. */
export const collectsSince = (w, mark) => (w.log().slice(mark).match(/POST \/v1\/collect/g) ?? []).length;

/**
 * Waits until the visitor's browser has sent nothing for longer than the snippet's one-second
 * heartbeat and retry period: whatever a page would still send has gone out by then, so what
 * was not sent will not be.
 */
export const settle = (wire) => quiet(() => wire.requests.length, "the browser's requests", 1500);

/**
 * The visitors of a suite of journeys against a running worker. `suite()` gives the suite's
 * `{ browser, w }` once started. `visitor(options)` opens a new visitor (its own browser
 * context); `journey(fn)` wraps a test so that its visitors' contexts are closed afterwards and,
 * on failure, their traffic and console and the tail of wrangler's log join the message.
 */
export function journeys(suite, logLines = 60) {
  const contexts = [];
  async function visitor(options) {
    const { browser, w } = suite();
    const v = await newVisitor(browser, w.url, options);
    contexts.push(v);
    return v;
  }
  const journey = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      for (const { wire } of contexts) err.message += `\n${wire.summary()}`;
      const { w } = suite();
      const tail = w ? w.log().split('\n').slice(-logLines).join('\n') : '(the worker did not start)';
      err.message += `\n--- wrangler dev log (last ${logLines} lines) ---\n${tail}`;
      throw err;
    } finally {
      for (const { context } of contexts.splice(0)) await context.close().catch(() => {});
    }
  };
  return { visitor, journey };
}
