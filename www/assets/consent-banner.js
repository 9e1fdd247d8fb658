// Ledgerly's own consent banner, for the Intent Edge demo. It does something only when the
// Intent Edge tag says the site requires consent (data-consent="required", which
// `CONSENT=required make dev` puts on every page's tag): then, until the visitor has chosen,
// a banner asks, and its buttons tell Intent Edge with intent('consent', 'granted' | 'denied').
// "Privacy choices" in the footer opens it again, to change one's mind. The choice itself is
// kept by Intent Edge in its `intent_consent` cookie, which this script only reads.
(function () {
  var tag = document.querySelector('script[src$="/intent.js"][data-consent="required"]');
  if (!tag) return;
  window.intent = window.intent || function () { (intent.q = intent.q || []).push(arguments); };

  var banner = document.createElement('section');
  banner.className = 'consent-banner';
  banner.setAttribute('aria-label', 'Privacy choices');
  banner.innerHTML =
    '<p><b>Your choice.</b> With your consent, Ledgerly remembers which pages you read here ' +
    '(in your browser, for up to 90 days) to show what fits where you are in your evaluation. ' +
    'Nothing is stored or sent until you accept.</p>' +
    '<div class="consent-actions">' +
    '<button type="button" class="button button-small" data-consent-choice="granted">Accept</button>' +
    '<button type="button" class="button button-small button-ghost" data-consent-choice="denied">Decline</button>' +
    '</div>';
  banner.hidden = /(^|;\s*)intent_consent=(granted|denied)(;|$)/.test(document.cookie);
  banner.addEventListener('click', function (e) {
    var choice = e.target.getAttribute && e.target.getAttribute('data-consent-choice');
    if (!choice) return;
    window.intent('consent', choice);
    banner.hidden = true;
  });

  function mount() {
    document.body.appendChild(banner);
    var bottom = document.querySelector('.footer-bottom');
    if (bottom) {
      var open = document.createElement('button');
      open.type = 'button';
      open.className = 'consent-reopen';
      open.textContent = 'Privacy choices';
      open.addEventListener('click', function () { banner.hidden = false; });
      bottom.appendChild(open);
    }
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
