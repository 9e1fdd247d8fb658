// The JavaScript peer: what a JavaScript Workers developer would write for the same job as the
// engine's collect path, with the rules as JSON Logic (see bench/wasm/src/jsonlogic.rs for the
// document this reads). Per call: parse the body, verify the signed profile (HMAC-SHA256 with
// node:crypto), fold the new events into it, compute the windowed counts the rules read,
// evaluate the tiers (first match wins) and segments, pick the variants, re-sign the profile
// and write the answer.
//
// The profile keeps what the engine's compact profile keeps for these rules (the same number of
// recent timestamps per page group, event and click target, the 16 most recent visits), as JSON
// rather than a binary layout: the peer carries no more than it needs, and its token is what a
// JavaScript developer would ship (base64url JSON and a base64url signature).

import { createHmac, timingSafeEqual } from 'node:crypto';
import jsonLogic from 'json-logic-js';

const FORMAT = 1;
const utf8In = new TextDecoder();
const SKEW_S = 300;
const MAX_EVENTS = 50;

function globRegExp(pattern) {
  const escaped = pattern
    .toLowerCase()
    .split('*')
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

// The lower-cased path of a URL or bare path, without query or fragment (as the engine reads it).
export function pathOf(url) {
  let rest = url;
  const scheme = url.indexOf('://');
  if (scheme >= 0) {
    rest = url.slice(scheme + 3);
    const start = rest.search(/[/?#]/);
    rest = start < 0 ? '' : rest.slice(start);
  }
  const end = rest.search(/[?#]/);
  const path = end < 0 ? rest : rest.slice(0, end);
  return path === '' ? '/' : path.toLowerCase();
}

/** json-logic-js, the choice a JavaScript developer would make: `apply` on every call. */
export function compileJsonLogicJs(logic) {
  return (data) => jsonLogic.truthy(jsonLogic.apply(logic, data));
}

function propText(v) {
  return typeof v === 'string' ? v : String(v);
}

/**
 * Builds the peer for one converted rules document.
 * @param doc     the JSON Logic document from `rules-to-jsonlogic`
 * @param secret  the HMAC key
 * @param compile turns one rule's condition into `(data) => truthy`
 * @param field   which form of the condition `compile` reads: `logic` (JSON Logic, the default)
 *                or `growthbook`
 */
export function makePeer(doc, { secret, compile, field = 'logic' }) {
  const horizon = doc.horizon_s;
  const gap = doc.visit_gap_s;
  const visitsKept = doc.visits_kept;
  const groups = doc.track.groups.map((g) => ({ keep: g.keep, res: g.patterns.map(globRegExp) }));
  const events = doc.track.events.map((e) => ({ name: e.name, props: Object.entries(e.props), keep: e.keep }));
  const clicks = doc.track.clicks.map((c) => ({ re: globRegExp(c.target), keep: c.keep }));
  const counters = Object.entries(doc.counters).map(([name, c]) => ({ name, ...c }));
  const tiers = doc.tiers.map((t) => ({ name: t.name, test: compile(t[field]) }));
  const segments = doc.segments.map((s) => ({ name: s.name, test: compile(s[field]) }));
  const variants = doc.variants;
  // The profile's shape: a token made for rules that track other things is discarded.
  const shape = `${horizon}|${doc.track.groups.map((g) => `${g.name}:${g.keep}`).join(',')}|${doc.track.events
    .map((e) => `${e.name}:${e.keep}`)
    .join(',')}|${doc.track.clicks.map((c) => `${c.target}:${c.keep}`).join(',')}`;

  const fresh = () => ({
    v: FORMAT,
    s: shape,
    l: 0,
    n: 0,
    vs: [],
    g: groups.map(() => []),
    e: events.map(() => []),
    c: clicks.map(() => []),
  });

  const sign = (site, payload) => createHmac('sha256', secret).update(site).update('.').update(payload).digest();

  function encode(site, profile) {
    const payload = Buffer.from(JSON.stringify(profile)).toString('base64url');
    return `${payload}.${sign(site, payload).toString('base64url')}`;
  }

  // The verified profile, or a reason it was discarded.
  function decode(site, token, now) {
    if (typeof token !== 'string' || token.length > 4096) return { reason: 'malformed' };
    const dot = token.indexOf('.');
    if (dot < 0) return { reason: 'malformed' };
    const payload = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = sign(site, payload);
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return { reason: 'bad-signature' };
    let p;
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString());
    } catch {
      return { reason: 'malformed' };
    }
    if (p.v !== FORMAT || p.s !== shape) return { reason: 'other-rules' };
    if (p.l > now + SKEW_S) return { reason: 'from-the-future' };
    if (now - p.l > horizon) return { reason: 'expired' };
    return { profile: p };
  }

  const push = (list, at, keep) => {
    if (list.length >= keep) list.shift();
    list.push(at);
  };

  function fold(p, nowIn, ev) {
    if (p.l !== 0 && nowIn - p.l > horizon) Object.assign(p, fresh());
    const now = Math.max(nowIn, p.l);
    const newVisit = p.l === 0 || now - p.l > gap;
    p.l = now;
    if (newVisit) {
      push(p.vs, now, visitsKept);
      p.n += 1;
    }
    const oldest = now - horizon;
    if (p.vs.length && p.vs[0] < oldest) p.vs = p.vs.filter((t) => t >= oldest);
    for (const list of [p.g, p.e, p.c]) {
      for (let i = 0; i < list.length; i++) {
        if (list[i].length && list[i][0] < oldest) list[i] = list[i].filter((t) => t >= oldest);
      }
    }
    switch (ev.type) {
      case 'pageview': {
        const path = pathOf(ev.url);
        for (let i = 0; i < groups.length; i++) {
          if (groups[i].res.some((re) => re.test(path))) push(p.g[i], now, groups[i].keep);
        }
        break;
      }
      case 'click': {
        const target = ev.target.toLowerCase();
        for (let i = 0; i < clicks.length; i++) {
          if (clicks[i].re.test(target)) push(p.c[i], now, clicks[i].keep);
        }
        break;
      }
      case 'event': {
        const props = ev.props || {};
        for (let i = 0; i < events.length; i++) {
          const want = events[i];
          if (want.name === ev.name && want.props.every(([k, v]) => k in props && propText(props[k]) === v)) {
            push(p.e[i], now, want.keep);
          }
        }
        break;
      }
      default:
        // Engagement: none of the converted rules read it.
        break;
    }
  }

  const countFrom = (list, from) => {
    let n = 0;
    for (let i = list.length - 1; i >= 0 && list[i] >= from; i--) n++;
    return n;
  };

  function counts(p, now) {
    const data = {};
    for (const c of counters) {
      switch (c.count) {
        case 'group':
          data[c.name] = countFrom(p.g[c.index], now - c.within_s);
          break;
        case 'event':
          data[c.name] = countFrom(p.e[c.index], now - c.within_s);
          break;
        case 'click':
          data[c.name] = countFrom(p.c[c.index], now - c.within_s);
          break;
        case 'visits':
          data[c.name] = countFrom(p.vs, now - c.within_s);
          break;
        default:
          data[c.name] = p.l === 0 ? Number.MAX_SAFE_INTEGER : now - p.l;
      }
    }
    return data;
  }

  function check(call) {
    if (call === null || typeof call !== 'object') return 'expected a JSON object';
    if (typeof call.site !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(call.site)) return '`site`: expected a site id';
    if (call.profile != null && typeof call.profile !== 'string') return '`profile`: expected a token or null';
    if (call.events === undefined) call.events = [];
    if (!Array.isArray(call.events) || call.events.length > MAX_EVENTS) return '`events`: expected at most 50 events';
    for (const ev of call.events) {
      if (ev === null || typeof ev !== 'object') return '`events`: expected objects';
      if (ev.type === 'pageview' || ev.type === 'engagement') {
        if (typeof ev.url !== 'string') return '`url`: expected text';
      } else if (ev.type === 'click') {
        if (typeof ev.target !== 'string') return '`target`: expected text';
      } else if (ev.type === 'event') {
        if (typeof ev.name !== 'string') return '`name`: expected text';
      } else {
        return '`type`: unknown kind';
      }
    }
    return null;
  }

  /**
   * One visitor call without the JSON: verify the token (or start fresh), fold the events,
   * classify, re-sign. Proxy mode uses this with the page view it records itself.
   */
  function visit(site, token, evs, nowMs) {
    const now = Math.floor(nowMs / 1000);
    let profile;
    let reason;
    if (token == null) {
      profile = fresh();
    } else {
      const got = decode(site, token, now);
      profile = got.profile || fresh();
      reason = got.reason;
    }
    for (const ev of evs) fold(profile, now, ev);
    const data = counts(profile, now);
    let tier = doc.fallback;
    for (const t of tiers) {
      if (t.test(data)) {
        tier = t.name;
        break;
      }
    }
    const inSegments = [];
    for (const s of segments) if (s.test(data)) inSegments.push(s.name);
    return { token: encode(site, profile), tier, segments: inSegments, variants: variants[tier], fresh: reason };
  }

  /** One `POST /v1/collect`: the body in, the answer body out. */
  function collect(body, nowMs) {
    let call;
    try {
      call = JSON.parse(body);
    } catch (e) {
      return JSON.stringify({ error: String(e.message) });
    }
    const problem = check(call);
    if (problem) return JSON.stringify({ error: problem });
    const out = visit(call.site, call.profile, call.events, nowMs);
    const answer = { profile: out.token, tier: out.tier, segments: out.segments, variants: out.variants };
    if (out.fresh) answer.fresh = out.fresh;
    return JSON.stringify(answer);
  }

  /**
   * The same call as a JavaScript worker makes it: the request body's bytes in (`await
   * request.json()` decodes the UTF-8 and parses), the answer's text out, as `new Response(text)`
   * takes it (the runtime encodes it natively, so the peer is not charged for that here).
   */
  function collectBytes(body, nowMs) {
    return collect(utf8In.decode(body), nowMs);
  }

  return { collect, collectBytes, visit, counts, decode, encode, fresh, fold, tiers, segments };
}
