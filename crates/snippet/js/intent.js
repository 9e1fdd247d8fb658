// Intent Edge loader: <script defer src="https://EDGE/intent.js" data-site="acme"></script>
// It defines the intent() queue stub, then loads the tracker (JS glue + wasm) from the same
// origin as this script. It never blocks rendering: the tag is defer/async and the tracker
// arrives through import(). Full-line comments are stripped by scripts/build-snippet.sh.
(function (w, d, n) {
  var s = d.currentScript, b, c, f, q = function (a) { return s.hasAttribute("data-" + a); };
  // Calls made before the tracker runs are queued on intent.q and replayed by it.
  w.intent = w.intent || function () { (intent.q = intent.q || []).push(arguments); };
  // The tag included twice: the first one wins.
  if (!s || w.intentEdge) return;
  w.intentEdge = 1;
  // Cheap privacy checks first, so an opted-out visitor does not even fetch the tracker,
  // which applies the full rule again (crates/snippet/src/privacy.rs). The visitor's choice
  // (GPC, DNT) also removes what an earlier visit stored: the token and the outbox.
  if (n.globalPrivacyControl || n.doNotTrack == "1" || w.doNotTrack == "1") {
    try { localStorage.removeItem("intent_profile"); localStorage.removeItem("intent_outbox"); } catch (e) {}
    return;
  }
  // data-allow-automation and window.intentAllowAutomation exist only for end-to-end tests,
  // which drive Chromium through automation (navigator.webdriver is true there).
  if (q("intent-off") || (n.webdriver && !q("allow-automation") && w.intentAllowAutomation !== true) ||
    d.querySelector("meta[name=intent-edge][content=off]")) return;
  b = s.src.replace(/[^/]*$/, "_intent/");
  f = function (e) { q("debug") && console.warn("intent: not loaded", e); };
  // A consent platform's adapter, only when the tag names one (data-consent-from): it turns
  // the platform's choice into intent('consent', ...) calls, queued like any other.
  (c = s.getAttribute("data-consent-from")) &&
    import(b + "consent.js").then(function (m) { m.connect(c, q("debug")); }).catch(f);
  // The glue and the wasm are fetched side by side; the glue's small synchronous init then
  // instantiates the wasm (its asynchronous, streaming init costs more bytes than it saves).
  b += "intent_snippet";
  Promise.all([import(b + ".js"), fetch(b + "_bg.wasm").then(function (r) { return r.arrayBuffer(); })])
    .then(function (a) {
      a[0].initSync({ module: a[1] });
      a[0].start(s, new URL("/v1/collect", s.src).href);
    }).catch(f);
})(window, document, navigator);
