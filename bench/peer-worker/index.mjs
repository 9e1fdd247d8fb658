// A minimal JavaScript worker doing the Intent Edge worker's job with json-logic-js, as a
// JavaScript developer would write it: POST /v1/collect (verify, fold, classify, re-sign) and
// proxy-mode pages (record the page view from the request, fill the `data-intent-slot`
// elements with HTMLRewriter, set the profile cookie). Rules come from KV as JSON Logic.
import { compileJsonLogicJs, makePeer } from '../js/peer.mjs';

const COOKIE = 'intent_profile';
const SITE = 'demo';
let cached = null;

async function peerFor(env) {
  const ttl = Number(env.RULES_CACHE_SECONDS || 30) * 1000;
  if (cached && Date.now() - cached.at < ttl) return cached.peer;
  const doc = await env.RULES.get('rules', 'json');
  if (!doc) throw new Error('no rules in KV');
  const first = String(env.PROFILE_KEYS || '').split(',')[0];
  const secret = first.slice(first.indexOf(':') + 1);
  cached = { peer: makePeer(doc, { secret, compile: compileJsonLogicJs }), at: Date.now() };
  return cached.peer;
}

function cookieToken(req) {
  const header = req.headers.get('cookie') || '';
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === COOKIE) return part.slice(i + 1).trim() || null;
  }
  return null;
}

function fillSlots(variants) {
  return new HTMLRewriter().on('[data-intent-slot]', {
    element(el) {
      const v = variants[el.getAttribute('data-intent-slot')];
      if (!v) return;
      if (v.html != null) el.setInnerContent(v.html, { html: true });
      else if (v.text != null) el.setInnerContent(v.text);
      if (v.href != null) el.setAttribute('href', v.href);
      for (const [k, val] of Object.entries(v.attrs || {})) el.setAttribute(k, val);
    },
  });
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === '/v1/health') return new Response('ok');
    if (url.pathname === '/v1/collect') {
      if (req.method !== 'POST') return new Response('POST only', { status: 405 });
      const peer = await peerFor(env);
      const out = peer.collect(await req.text(), Date.now());
      const status = out.startsWith('{"error"') ? 400 : 200;
      return new Response(out, { status, headers: { 'content-type': 'application/json' } });
    }
    const upstream = await env.ASSETS.fetch(req);
    const type = upstream.headers.get('content-type') || '';
    if (req.method !== 'GET' || !type.includes('text/html')) return upstream;
    const peer = await peerFor(env);
    const pageview = { type: 'pageview', url: req.url, referrer: req.headers.get('referer') || undefined };
    const out = peer.visit(SITE, cookieToken(req), [pageview], Date.now());
    const resp = fillSlots(out.variants).transform(upstream);
    const headers = new Headers(resp.headers);
    headers.append('set-cookie', `${COOKIE}=${out.token}; Path=/; Max-Age=7776000; HttpOnly; SameSite=Lax`);
    headers.set('x-intent-tier', out.tier);
    return new Response(resp.body, { status: resp.status, headers });
  },
};
