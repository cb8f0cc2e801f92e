// Print and copy-link buttons of the policy page. No third-party code; without
// JavaScript the buttons stay hidden and the link can still be copied by hand.
(function () {
  "use strict";
  var print = document.getElementById("print-page");
  var copy = document.getElementById("copy-link");
  var field = document.getElementById("share-url");
  var status = document.getElementById("copy-status");
  if (print && window.print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  if (copy && field) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var done = function () { status.textContent = "链接已复制，可粘贴发送给他人"; };
      var manual = function () {
        field.focus();
        field.select();
        status.textContent = "请长按或按 Ctrl+C 复制上面的链接";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(copy.dataset.url).then(done, manual);
      } else {
        manual();
      }
    });
  }
})();
