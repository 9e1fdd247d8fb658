// Every call the console makes to the worker's admin API: the admin token from session storage
// on each one, and errors as values the screens can show.

const KEY = 'intent-edge-admin-token';

/** The admin token, kept in session storage only: it goes when the tab closes. */
export const session = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An answer other than 2xx, with the worker's `{"error", "message"}` when it sent one. */
export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }

  /** The route is not on this worker (yet): the screen says what is missing. */
  get notLanded() {
    return this.status === 404 && (this.code === 'not_found' || this.code === undefined);
  }
}

let onUnauthorized = () => {};
/** What to do when the worker refuses the token (it was rotated, or the tab's copy is stale). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * Calls the admin API; resolves to the Response, or throws an ApiError. `token` overrides the
 * stored one (for signing in).
 */
export async function call(path, { method = 'GET', body, headers = {}, token } = {}) {
  let r;
  try {
    r = await fetch(path, {
      method,
      body,
      cache: 'no-store',
      headers: { authorization: `Bearer ${token ?? session.get() ?? ''}`, ...headers },
    });
  } catch (e) {
    throw new ApiError(0, 'network', `The worker could not be reached (${e.message}).`, path);
  }
  if (r.ok) return r;
  const text = await r.text();
  let code;
  let message = text || r.statusText;
  try {
    const j = JSON.parse(text);
    code = j.error;
    message = j.message ?? j.error ?? message;
  } catch { /* not JSON */ }
  const err = new ApiError(r.status, code, message, path);
  if (r.status === 401 && token === undefined) onUnauthorized(err);
  throw err;
}

/** GET as JSON. */
export async function getJson(path) {
  return (await call(path)).json();
}

/** What the screens say for an error: who is missing what. */
export function describe(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  if (err.notLanded) {
    return `This worker has no ${err.path.split('?')[0]} yet (it answered 404): the API this screen reads is not deployed here.`;
  }
  if (err.status === 401) return 'The worker refused the admin token. Sign in again with the current ADMIN_TOKEN.';
  return `${err.message} (${err.status || 'no answer'})`;
}
