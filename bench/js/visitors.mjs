// Visitors for the benchmarks that drive a worker over HTTP (load.mjs, handler.mjs): a
// returning visitor's token, and the proxy-mode cookie of a page view.

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
