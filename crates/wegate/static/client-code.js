// The in-client sign-in page (dingtalk_web): asks the workplace app's JSAPI, loaded just before this script,
// for a code and takes it to wegate's callback with the login's state; a refusal goes there as error=, so
// that wegate's page says what happened. No inline script: the page's CSP allows this file and the JSAPI only.
(function () {
  "use strict";
  var el = document.getElementById("client-code");
  if (!el) { return; }
  var d = el.dataset;
  function go(params) {
    var sep = d.callback.indexOf("?") < 0 ? "?" : "&";
    window.location.replace(d.callback + sep + params + "&state=" + encodeURIComponent(d.state));
  }
  function fail(e) {
    var text = e && (e.errorMessage || e.message || e.errorCode) ? String(e.errorMessage || e.message || e.errorCode) : String(e);
    go("error=jsapi_failed&error_description=" + encodeURIComponent(text.slice(0, 200)));
  }
  var dd = window.dd;
  // The current API names the app (DingTalk ≥ 7.0.45 mobile, 7.0.50 PC); older clients have only the
  // legacy one, which names the corp.
  var current = dd && typeof dd.requestAuthCode === "function";
  var legacy = dd && dd.runtime && dd.runtime.permission && typeof dd.runtime.permission.requestAuthCode === "function";
  if (!current && !legacy) {
    fail("the DingTalk JSAPI did not load");
    return;
  }
  var done = false;
  // A bridge that never answers must not leave the person on this page.
  var timer = window.setTimeout(function () {
    if (!done) { done = true; go("error=jsapi_timeout&error_description=" + encodeURIComponent("DingTalk did not answer")); }
  }, 15000);
  function once(f) {
    return function (x) { if (!done) { done = true; window.clearTimeout(timer); f(x); } };
  }
  var options = {
    corpId: d.corpId,
    clientId: d.clientId,
    onSuccess: once(function (r) {
      if (r && r.code) { go("code=" + encodeURIComponent(r.code)); } else { fail("no code"); }
    }),
    onFail: once(fail)
  };
  try {
    if (current) { dd.requestAuthCode(options); } else { dd.runtime.permission.requestAuthCode(options); }
  } catch (e) {
    once(fail)(e);
  }
})();
