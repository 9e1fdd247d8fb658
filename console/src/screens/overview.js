// Overview: audience counts from the audience store, and visitors and tier shares over the last
// 30 days, computed by the engine from the stored traffic.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { call, getJson } from '../api.js';
import { engine, recentTraffic, loadedTraffic, periodEnd, DAY } from '../engine.js';
import { html, LoadState, num, useLoad } from '../ui.js';

const COLOURS = ['#0b7a53', '#c77c02', '#6b7280', '#2563eb', '#9333ea'];

async function series() {
  const [e, traffic, rules] = await Promise.all([
    engine(),
    loadedTraffic() ?? recentTraffic(),
    call('/v1/admin/rules').then((r) => r.text()),
  ]);
  const end = periodEnd(traffic.log);
  const from = Math.floor(end / DAY) * DAY - 29 * DAY;
  return JSON.parse(e.daily(rules, traffic.log, from, 30));
}

function Chart({ title, data, labels, stacked }) {
  const box = useRef();
  useEffect(() => {
    if (!box.current) return undefined;
    const width = Math.max(280, box.current.clientWidth);
    const plot = new uPlot({
      width,
      height: 220,
      title,
      scales: { x: { time: true } },
      series: [{}, ...labels.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 2, fill: stacked ? `${COLOURS[i % COLOURS.length]}22` : undefined }))],
      axes: [{}, { size: 50 }],
    }, data, box.current);
    return () => plot.destroy();
  }, [data]);
  return html`<div class="chart" ref=${box}></div>`;
}

export function Overview() {
  const audiences = useLoad(() => getJson('/v1/admin/audiences'), 'audiences');
  const daily = useLoad(series, 'daily');
  const d = daily.data;
  const x = d?.days.map((day) => Date.parse(day.day) / 1000);
  return html`<div class="overview">
    <h1>Overview</h1>
    <section aria-labelledby="counts-h">
      <h2 id="counts-h">Audiences now</h2>
      <${LoadState} load=${audiences} what="audience store" rows=${1} />
      ${audiences.data && html`<ul class="counts">
        ${audiences.data.audiences.map((a) => html`<li data-audience=${a.name}><a href=${`#/audiences/${encodeURIComponent(a.name)}`}><span class="n">${num(a.members)}</span> ${a.name}</a> <span class="muted">${a.kind}</span></li>`)}
      </ul>`}
    </section>
    <section aria-labelledby="trend-h">
      <h2 id="trend-h">Last 30 days of stored traffic</h2>
      <${LoadState} load=${daily} what="event log" rows=${4} />
      ${d && html`<div class="charts">
        <${Chart} title="Visitors a day" data=${[x, d.days.map((day) => day.active)]} labels=${['active visitors']} />
        <${Chart} title="Tier share at each day's end" stacked=${true} data=${[x, ...d.tiers.map((_, t) => d.days.map((day) => {
          const total = day.members.reduce((a, b) => a + b, 0);
          return total ? Math.round((day.members[t] / total) * 1000) / 10 : 0;
        }))]} labels=${d.tiers.map((t) => `${t} %`)} />
        <${Chart} title=${`Entries into ${d.tiers[0]} a day`} data=${[x, d.days.map((day) => day.entries[0])]} labels=${[`into ${d.tiers[0]}`]} />
      </div>`}
    </section>
  </div>`;
}
