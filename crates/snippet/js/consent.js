// Intent Edge consent adapters: /_intent/consent.js, loaded by intent.js only when the tag
// names a consent platform, e.g. <script defer src=".../intent.js" data-site="acme"
// data-consent="required" data-consent-from="onetrust:C0004"></script>. Each adapter reads
// the platform's own documented JavaScript API and events and turns the visitor's choice into
// intent('consent', 'granted' | 'denied'), which the snippet queues and handles like any other
// call. It is an ES module (intent.js calls connect) and is shipped minified.

const w = window;
let told;

/** Tells the snippet the visitor's choice, once for each change. */
function tell(granted) {
  const choice = granted ? "granted" : "denied";
  if (choice !== told) {
    told = choice;
    try {
      w.intent("consent", choice);
    } catch (e) {
      // The snippet never throws; a page that replaced `intent` may.
    }
  }
}

const listen = (events, f) => events.forEach((e) => w.addEventListener(e, f));

const adapters = {
  // OneTrust: `OnetrustActiveGroups` is the comma-separated list of the categories the
  // visitor allows (",C0001,C0004,"), and OneTrust fires `OneTrustGroupsUpdated` on window
  // once it has loaded and whenever the visitor changes their choice. `onetrust:C0004` grants
  // consent while C0004 (commonly "Targeting cookies") is active.
  onetrust(group) {
    const check = () => {
      const groups = w.OnetrustActiveGroups;
      if (typeof groups == "string") tell(`,${groups},`.includes(`,${group},`));
    };
    listen(["OneTrustGroupsUpdated"], check);
    check();
  },

  // Cookiebot: `Cookiebot.consent` has a boolean for each category (`necessary`,
  // `preferences`, `statistics`, `marketing`), and Cookiebot fires `CookiebotOnConsentReady`,
  // `CookiebotOnAccept` and `CookiebotOnDecline` on window. `cookiebot:marketing` grants
  // consent while the marketing category is accepted.
  cookiebot(category) {
    const check = () => {
      const consent = w.Cookiebot && w.Cookiebot.consent;
      if (consent) tell(consent[category] === true);
    };
    listen(["CookiebotOnConsentReady", "CookiebotOnAccept", "CookiebotOnDecline"], check);
    check();
  },

  // IAB TCF v2.2: `__tcfapi('addEventListener', 2, callback)` calls back with the TC data once
  // the CMP has loaded it (`eventStatus` "tcloaded") and whenever the visitor acts
  // ("useractioncomplete"). `tcf` grants consent where GDPR does not apply, or where the
  // visitor consented to purposes 1 (store and/or access information on a device), 5 (create
  // profiles to personalise content) and 6 (use profiles to select personalised content);
  // `tcf:1,5,6,9` names other purposes. The CMP's stub may come after this tag: it is looked
  // for every 200 ms for 10 s.
  tcf(list) {
    const purposes = (list || "1,5,6").split(",");
    let tries = 0;
    const connect = () => {
      if (typeof w.__tcfapi != "function") {
        if (tries++ < 50) setTimeout(connect, 200);
        return;
      }
      w.__tcfapi("addEventListener", 2, (tc, ok) => {
        if (!ok || !tc || !/^(tcloaded|useractioncomplete)$/.test(tc.eventStatus)) return;
        const consents = (tc.purpose && tc.purpose.consents) || {};
        tell(tc.gdprApplies === false || purposes.every((p) => consents[p] === true));
      });
    };
    connect();
  },

  // Google Consent Mode v2: `gtag('consent', 'default' | 'update', {...})` pushes its
  // arguments to `dataLayer`. `gcm:personalization_storage` reads that type: the last
  // `update` decides; before one, the defaults do, and one default that denies it is enough
  // (a default may be meant for the visitor's region only, which the page cannot tell).
  gcm(type) {
    const layer = (w.dataLayer = w.dataLayer || []);
    let update, denied, granted;
    const read = (command) => {
      const state = command && command[0] == "consent" && command[2] && command[2][type];
      if (state != "granted" && state != "denied") return;
      if (command[1] == "update") update = state == "granted";
      else if (command[1] == "default") state == "granted" ? (granted = true) : (denied = true);
    };
    const check = () => {
      const state = update !== undefined ? update : denied ? false : granted;
      if (state !== undefined) tell(state);
    };
    for (let i = 0; i < layer.length; i++) read(layer[i]);
    check();
    const push = layer.push;
    layer.push = function () {
      const result = push.apply(this, arguments);
      for (let i = 0; i < arguments.length; i++) read(arguments[i]);
      check();
      return result;
    };
  },
};

/**
 * Connects the adapter `spec` names ("onetrust:C0004", "cookiebot:marketing", "tcf",
 * "gcm:personalization_storage"). A spec it does not know is logged with `data-debug`.
 */
export function connect(spec, debug) {
  const at = spec.indexOf(":");
  const name = at < 0 ? spec : spec.slice(0, at);
  const arg = at < 0 ? "" : spec.slice(at + 1);
  if (Object.prototype.hasOwnProperty.call(adapters, name) && (arg || name == "tcf")) {
    try {
      adapters[name](arg);
    } catch (e) {
      if (debug) console.warn("intent: consent adapter failed", e);
    }
  } else if (debug) {
    console.warn("intent: unknown data-consent-from", spec);
  }
}
