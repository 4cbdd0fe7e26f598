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
  if (!dd || typeof dd.requestAuthCode !== "function") {
    fail("the DingTalk JSAPI did not load");
    return;
  }
  try {
    dd.requestAuthCode({
      corpId: d.corpId,
      clientId: d.clientId,
      onSuccess: function (r) {
        if (r && r.code) { go("code=" + encodeURIComponent(r.code)); } else { fail("no code"); }
      },
      onFail: fail
    });
  } catch (e) {
    fail(e);
  }
})();
