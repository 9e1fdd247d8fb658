// Stand-ins for the consent platforms' documented JavaScript APIs, for the browser tests of the
// consent adapters (crates/snippet/js/consent.js): tests/e2e/adapters.test.mjs against the real
// worker, crates/snippet/tests/consent/adapters.test.mjs against the built snippet alone.
//
// Each stand-in is a page script, placed before the Intent Edge tag as a platform's own tag is.
// It keeps the visitor's choice in a cookie of its own (`cmp=yes|no`), as the real platforms
// do, so the next page starts from it, and exposes `cmp.choose(accept)`, which does what the
// platform does when the visitor clicks in its banner: update its state and fire its events.
// `from` is what the site writes in `data-consent-from` for the category or purposes that
// cover a behavioural profile.

export const PLATFORMS = {
  // OneTrust: `OnetrustActiveGroups` lists the active category ids; `OneTrustGroupsUpdated`
  // fires on window when they change. C0004 is OneTrust's default "Targeting Cookies".
  onetrust: {
    from: 'onetrust:C0004',
    script: `
      const groups = (accept) => accept ? ',C0001,C0004,' : ',C0001,';
      window.OnetrustActiveGroups = groups(/(^|; )cmp=yes/.test(document.cookie));
      window.cmp = { choose(accept) {
        document.cookie = 'cmp=' + (accept ? 'yes' : 'no') + '; Path=/';
        window.OnetrustActiveGroups = groups(accept);
        window.dispatchEvent(new CustomEvent('OneTrustGroupsUpdated',
          { detail: window.OnetrustActiveGroups.split(',').filter(Boolean) }));
      } };`,
  },
  // Cookiebot: `Cookiebot.consent` has a boolean per category; `CookiebotOnConsentReady`,
  // `CookiebotOnAccept` and `CookiebotOnDecline` fire on window.
  cookiebot: {
    from: 'cookiebot:marketing',
    script: `
      const accepted = /(^|; )cmp=yes/.test(document.cookie);
      window.Cookiebot = { hasResponse: /(^|; )cmp=/.test(document.cookie),
        consent: { necessary: true, preferences: false, statistics: false, marketing: accepted } };
      window.addEventListener('load', () => window.dispatchEvent(new Event('CookiebotOnConsentReady')));
      window.cmp = { choose(accept) {
        document.cookie = 'cmp=' + (accept ? 'yes' : 'no') + '; Path=/';
        Cookiebot.hasResponse = true;
        Cookiebot.consent.marketing = accept;
        window.dispatchEvent(new Event(accept ? 'CookiebotOnAccept' : 'CookiebotOnDecline'));
      } };`,
  },
  // IAB TCF v2.2: `__tcfapi('addEventListener', 2, callback)` calls back with the TC data at
  // once and on each change (`eventStatus` "tcloaded", then "useractioncomplete").
  tcf: {
    from: 'tcf',
    script: `
      const listeners = [];
      const data = (status, accept) => ({ tcString: 'x', eventStatus: status, gdprApplies: true,
        purpose: { consents: accept ? { 1: true, 2: true, 5: true, 6: true } : { 1: true } } });
      let tc = data('tcloaded', /(^|; )cmp=yes/.test(document.cookie));
      window.__tcfapi = (command, version, callback) => {
        if (command === 'addEventListener' && version === 2) { listeners.push(callback); callback(tc, true); }
      };
      window.cmp = { choose(accept) {
        document.cookie = 'cmp=' + (accept ? 'yes' : 'no') + '; Path=/';
        tc = data('useractioncomplete', accept);
        listeners.forEach((callback) => callback(tc, true));
      } };`,
  },
  // Google Consent Mode v2: `gtag('consent', 'default' | 'update', {...})` pushes its
  // arguments to `dataLayer`.
  gcm: {
    from: 'gcm:personalization_storage',
    script: `
      window.dataLayer = window.dataLayer || [];
      window.gtag = function () { dataLayer.push(arguments); };
      gtag('consent', 'default', { ad_storage: 'denied', analytics_storage: 'denied',
        personalization_storage: 'denied' });
      if (/(^|; )cmp=yes/.test(document.cookie)) gtag('consent', 'update', { personalization_storage: 'granted' });
      window.cmp = { choose(accept) {
        document.cookie = 'cmp=' + (accept ? 'yes' : 'no') + '; Path=/';
        gtag('consent', 'update', { personalization_storage: accept ? 'granted' : 'denied' });
      } };`,
  },
};
