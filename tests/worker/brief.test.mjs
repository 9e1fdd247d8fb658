// The brief's row 3 on the real worker, with examples/brief/rules.json published: "clicks the
// same product link in two emails → demonstrated interest". Two visits that land on a product
// page from an email link put the visitor in `email-product-interest`, on the page (the collect
// answer) and in the segment's audience; one from an email and one typed in do not. (Rows 6 and
// 7, whose opens come from the email platform, are tests/worker/events.test.mjs.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startWorker, withLog, collect, ADMIN_TOKEN, PROFILE_KEYS, ROOT } from './harness.mjs';
import { reissue } from './token.mjs';
import { until } from './wait.mjs';

const BRIEF = readFileSync(join(ROOT, 'examples/brief/rules.json'), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Longer than the 30 idle minutes that end a visit. */
const VISIT_GAP_SECS = 31 * 60;
const LISTED = 20_000;

const view = (url, referrer) => ({ type: 'pageview', url: `https://demo.test${url}`, ...(referrer ? { referrer } : {}) });

/** Two visits, each landing on `landings[i]` then reading pricing; the answers of each call. */
async function twoVisits(base, landings) {
  let profile = null;
  const answers = [];
  for (const landing of landings) {
    // Leaving for more than 30 minutes: the same token, its clock moved back.
    if (profile) profile = reissue(profile, { keysSpec: PROFILE_KEYS, shiftSecs: -VISIT_GAP_SECS });
    const a = await collect(base, { site: 'demo', profile, events: [view(landing), view('/pricing/')] });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    answers.push(a.body);
    profile = a.body.profile;
  }
  return answers;
}

describe("the brief's examples on the real worker", () => {
  let w;
  const logged = (fn) => withLog(() => w, fn);
  before(async () => { w = await startWorker({ kv: { rules: BRIEF } }); });
  after(async () => { await w?.stop(); });

  test('two visits from email links to product pages: demonstrated interest', logged(async () => {
    const clicked = await twoVisits(w.url, [
      '/product/?utm_source=newsletter&utm_medium=email&utm_campaign=nov-launch',
      '/features/forecasting/?utm_source=newsletter&utm_medium=email&utm_campaign=dec-digest',
    ]);
    assert.ok(!clicked[0].segments.includes('email-product-interest'), JSON.stringify(clicked[0]));
    assert.ok(clicked[1].segments.includes('email-product-interest'), JSON.stringify(clicked[1]));

    // One email click, then the product page typed in: one filtered visit, not two.
    const once = await twoVisits(w.url, [
      '/product/?utm_medium=email&utm_campaign=nov-launch',
      '/product/',
    ]);
    assert.ok(!once[1].segments.includes('email-product-interest'), JSON.stringify(once[1]));
    // Two email clicks that landed on the blog: not product pages.
    const blog = await twoVisits(w.url, [
      '/blog/forecasting-101/?utm_medium=email',
      '/blog/close-faster/?utm_medium=email',
    ]);
    assert.ok(!blog[1].segments.includes('email-product-interest'), JSON.stringify(blog[1]));

    // The segment's audience is the list: the first visitor, and neither of the others, once
    // the store has all four calls of each.
    for (const a of [clicked, once, blog]) {
      await until(async () => {
        const r = await fetch(`${w.url}/v1/admin/visitors/${a[1].visitor}`, { headers: admin });
        return r.status === 200 && (await r.json()).timeline.length === 4;
      }, `visitor ${a[1].visitor} stored`, LISTED);
    }
    const r = await fetch(`${w.url}/v1/admin/audiences/email-product-interest`, { headers: admin });
    assert.equal(r.status, 200);
    const listed = await r.json();
    assert.deepEqual(listed.members.map((m) => m.visitor), [clicked[1].visitor]);
  }));
});
