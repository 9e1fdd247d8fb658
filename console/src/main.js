// The marketer's console at /admin/: sign-in with the admin token, then the screens. Routing is
// by the URL's hash (#/rules, #/audiences/ready, ...), so the worker serves one page.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, session, whenUnauthorized, describe } from './api.js';
import { html } from './ui.js';
import { Rules } from './screens/rules.js';
import { Audit } from './screens/audit.js';
import { Overview } from './screens/overview.js';
import { Audiences, Audience } from './screens/audiences.js';
import { Accounts } from './screens/accounts.js';
import { Visitor } from './screens/visitor.js';
import { Deliveries } from './screens/deliveries.js';

const SCREENS = [
  ['overview', 'Overview'],
  ['audiences', 'Audiences'],
  ['accounts', 'Accounts'],
  ['rules', 'Rules'],
  ['audit', 'Audit'],
  ['deliveries', 'Deliveries'],
];

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { screen: parts[0] || 'rules', arg: parts[1] };
}

function SignIn({ onSignedIn, notice }) {
  const [error, setError] = useState(notice);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const token = new FormData(e.target).get('token').trim();
    if (!token) return setError('Enter the admin token.');
    setBusy(true);
    try {
      // GET rather than HEAD: a refusal's JSON body says why (a closed admin API, say).
      await call('/v1/admin/rules', { token });
      session.set(token);
      onSignedIn();
    } catch (err) {
      setError(err.status === 401
        ? 'That is not this worker\'s admin token. Use the value of its ADMIN_TOKEN secret (.dev.vars for make dev).'
        : describe(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="signin">
    <form onSubmit=${submit} aria-describedby="signin-help">
      <h1>Intent Edge console</h1>
      <p id="signin-help">Sign in with the worker's admin token. It is kept in this tab only and sent with every call.</p>
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" autofocus required />
      <button type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
      <p class="signin-error" role="alert" aria-live="assertive">${error ?? ''}</p>
    </form>
  </main>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(session.get()));
  const [notice, setNotice] = useState();
  const [where, setWhere] = useState(route());
  useEffect(() => {
    const on = () => setWhere(route());
    addEventListener('hashchange', on);
    whenUnauthorized(() => {
      session.clear();
      setNotice('The worker no longer accepts the token this tab had. Sign in again.');
      setSignedIn(false);
    });
    return () => removeEventListener('hashchange', on);
  }, []);
  if (!signedIn) return html`<${SignIn} notice=${notice} onSignedIn=${() => { setNotice(); setSignedIn(true); }} />`;
  const { screen, arg } = where;
  const current = screen === 'visitors' ? 'audiences' : screen;
  let body;
  switch (screen) {
    case 'overview': body = html`<${Overview} />`; break;
    case 'audiences': body = arg ? html`<${Audience} name=${arg} />` : html`<${Audiences} />`; break;
    case 'accounts': body = html`<${Accounts} />`; break;
    case 'visitors': body = html`<${Visitor} id=${arg} />`; break;
    case 'audit': body = html`<${Audit} />`; break;
    case 'deliveries': body = html`<${Deliveries} />`; break;
    default: body = html`<${Rules} />`;
  }
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/rules">Intent Edge</a>
      <nav aria-label="Screens">
        ${SCREENS.map(([id, label]) => html`<a href=${`#/${id}`} aria-current=${current === id ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <button class="link" onClick=${() => { session.clear(); setSignedIn(false); }}>Sign out</button>
    </header>
    <main id="main">${body}</main>
  </div>`;
}

const root = document.getElementById('app');
// The boot message goes: Preact renders into an empty element.
root.textContent = '';
render(html`<${App} />`, root);
