// dingtalk-sim: a stand-in for DingTalk's JSAPI [DT-jsapi][DT-jsapi-old]. The 免登 codes below were
// minted when this script was served (per org where the person is an internal member: one bound to each of
// its apps, for the new API's clientId, and one for the legacy call without it); each is single use, so load
// the script again for fresh ones.
(function () {
  "use strict";
  var inDingTalk = __IN_DINGTALK__;
  var codes = __CODES__;
  function answer(o, app) {
    if (!inDingTalk) {
      // Our choice: outside the DingTalk container every call fails with errorCode 7.
      return { ok: false, value: { errorCode: "7", errorMessage: "not in DingTalk" } };
    }
    var own = Object.prototype.hasOwnProperty;
    if (typeof o.corpId === "string" && own.call(codes, o.corpId) && typeof app === "string" && own.call(codes[o.corpId], app)) {
      return { ok: true, value: { code: codes[o.corpId][app] } };
    }
    // [DT-jsapi-old] error 3: no micro-app with this page's domain in that corp.
    return { ok: false, value: { errorCode: "3", errorMessage: "对应企业没有该域名微应用" } };
  }
  // The current API names the app (clientId, required here); the legacy one takes the corp only.
  function call(o, legacy) {
    o = o || {};
    var r = answer(o, legacy ? "*" : o.clientId);
    if (typeof o.onSuccess !== "function") {
      return new Promise(function (resolve, reject) {
        setTimeout(function () { (r.ok ? resolve : reject)(r.value); }, 0);
      });
    }
    // Callbacks run asynchronously, as the real bridge does.
    setTimeout(function () {
      if (r.ok) { o.onSuccess(r.value); } else if (typeof o.onFail === "function") { o.onFail(r.value); }
    }, 0);
  }
  function requestAuthCode(o) { return call(o, false); }
  function legacyRequestAuthCode(o) { return call(o, true); }
  window.dd = {
    requestAuthCode: requestAuthCode,
    getAuthCode: requestAuthCode,
    runtime: { permission: { requestAuthCode: legacyRequestAuthCode } }
  };
})();
