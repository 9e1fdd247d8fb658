// Accounts: companies behind the visitors (the email domains of those who identified).

import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { html, LoadState, num, when, useLoad } from '../ui.js';

export function Accounts() {
  const [within, setWithin] = useState('7d');
  const load = useLoad(() => getJson(`/v1/admin/accounts?within=${within}`), within);
  const a = load.data;
  return html`<div>
    <div class="pane-head"><h1>Accounts</h1>
      <label>Seen within <select value=${within} onChange=${(e) => setWithin(e.target.value)}>
        <option value="7d">7 days</option><option value="30d">30 days</option><option value="90d">90 days</option>
      </select></label>
    </div>
    <${LoadState} load=${load} what="accounts" rows=${5} />
    ${a && html`<div class="scroll"><table>
      <thead><tr><th scope="col">Account</th><th scope="col" class="n">Visitors</th><th scope="col" class="n">Identified</th><th scope="col">Highest tier</th><th scope="col">Last seen</th></tr></thead>
      <tbody>${a.accounts.length === 0 ? html`<tr><td colspan="5" class="muted">No accounts yet: they come from visitors who identify with a work email.</td></tr>` : a.accounts.map((x) => html`<tr data-account=${x.account}>
        <th scope="row">${x.account}</th><td class="n">${num(x.visitors)}</td><td class="n">${num(x.identified)}</td><td>${x.tier}</td><td>${when(x.last_seen)}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </div>`;
}
