// Audit: the engine's report on the published rules over the stored recent traffic.

import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { engine, recentTraffic, loadedTraffic, periodEnd, DAY } from '../engine.js';
import { html, LoadState, Notice, num, pct, when, useLoad } from '../ui.js';

/** When the live rules were last made active (published or restored), if the worker keeps a history. */
async function lastPublished() {
  try {
    const j = await (await call('/v1/admin/rules/history')).json();
    const list = Array.isArray(j) ? j : (j.history ?? j.versions ?? []);
    const live = list.find((v) => v.active) ?? list[0];
    const t = live?.activated_at ?? live?.published_at;
    return t ? Date.parse(t) : undefined;
  } catch {
    return undefined;
  }
}

async function run(days) {
  const [e, traffic, rules, reviewed] = await Promise.all([
    engine(),
    loadedTraffic() ?? recentTraffic(),
    call('/v1/admin/rules').then((r) => r.text()),
    lastPublished(),
  ]);
  const to = periodEnd(traffic.log);
  const { report } = JSON.parse(e.audit(rules, traffic.log, to - days * DAY, to, reviewed));
  return { report, source: traffic.source };
}

export function Audit() {
  const [days, setDays] = useState(30);
  const load = useLoad(() => run(days), days);
  const r = load.data?.report;
  return html`<div class="audit">
    <div class="pane-head">
      <h1>Audit</h1>
      <label>Period <select value=${days} onChange=${(e) => setDays(Number(e.target.value))}>
        <option value="7">last 7 days</option><option value="14">last 14 days</option><option value="30">last 30 days</option>
      </select></label>
    </div>
    <${LoadState} load=${load} what="audit" rows=${8} />
    ${r && html`<p class="muted">Rules <code>${r.rules}</code> from ${when(r.from)} to ${when(r.to)}: ${num(r.visitors)} visitors, ${num(r.events)} events (${load.data.source}). Last reviewed (published): ${r.reviewed ? when(r.reviewed) : 'unknown — this worker keeps no publish history'}.</p>
    <section aria-labelledby="warn-h">
      <h2 id="warn-h">Warnings</h2>
      ${r.warnings.length === 0 ? html`<${Notice} kind="good">No warnings.<//>` : html`<ul class="warnings">
        ${r.warnings.map((w) => html`<li class=${`w-${w.code}`}><span class="badge">${w.code}</span> ${w.field && html`<code>${w.field}</code> `}${w.message}</li>`)}
      </ul>`}
    </section>
    <section aria-labelledby="aud-h">
      <h2 id="aud-h">Tiers and segments</h2>
      <div class="scroll"><table>
        <thead><tr><th scope="col">Audience</th><th scope="col" class="n">Members</th><th scope="col" class="n">Share</th><th scope="col" class="n">Reached</th><th scope="col" class="n">Entries</th><th scope="col" class="n">Exits</th><th scope="col" class="n">Condition held</th></tr></thead>
        <tbody>${r.audiences.map((a) => html`<tr>
          <th scope="row">${a.name} <span class="muted">${a.kind}${a.fallback ? ', fallback' : ''}</span></th>
          <td class="n">${num(a.members)}</td><td class="n">${pct(a.share)}</td><td class="n">${num(a.reached)}</td>
          <td class="n">${num(a.entries)}</td><td class="n">${num(a.exits)}</td><td class="n">${a.matched === undefined ? '' : num(a.matched)}</td>
        </tr>`)}</tbody>
      </table></div>
    </section>
    <section aria-labelledby="cond-h">
      <h2 id="cond-h">Conditions: for how many visitors each was ever true</h2>
      <div class="scroll"><table class="conditions">
        <thead><tr><th scope="col" class="n">Visitors</th><th scope="col" class="n">Share</th><th scope="col">Condition</th></tr></thead>
        <tbody>${r.conditions.map((c) => html`<tr class=${c.true_for === 0 ? 'never' : ''}>
          <td class="n">${num(c.true_for)}</td><td class="n">${pct(c.share)}</td>
          <td style=${`padding-left: ${0.5 + (c.field.split('.').length - 2) * 1.2}em`}>${c.text} <code class="muted">${c.field}</code></td>
        </tr>`)}</tbody>
      </table></div>
    </section>
    <section aria-labelledby="pages-h">
      <h2 id="pages-h">What each tier reads</h2>
      <div class="tier-pages">${r.pages.map((t) => html`<div class="card">
        <h3>${t.tier}</h3>
        ${t.most_viewed.length === 0 ? html`<p class="muted">No page views.</p>` : html`<table>
          <thead><tr><th scope="col">Page</th><th scope="col" class="n">Views</th><th scope="col" class="n">Visitors</th><th scope="col" class="n">Visible s</th></tr></thead>
          <tbody>${t.most_viewed.map((p) => html`<tr><td><code>${p.path}</code></td><td class="n">${num(p.views)}</td><td class="n">${num(p.visitors)}</td><td class="n">${num(p.engaged_seconds)}</td></tr>`)}</tbody>
        </table>`}
        ${t.most_engaged.length > 0 && html`<p class="muted">Most visible time: ${t.most_engaged.map((p) => p.path).join(', ')}</p>`}
      </div>`)}</div>
    </section>`}
  </div>`;
}
