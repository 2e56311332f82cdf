/* shopscope frame, on every page: the phone menu button and the loading indicator.

Pages are rendered on the server and a first load on big data can take many seconds, so
a link click, a form submit or a fetch that takes longer than BUSY_DELAY_MS shows a bar and
a "Loading…" status (role=status, aria-busy on <main>) until the next page replaces this one.
Downloads (/api/… links, download attributes) do not count: the page stays. */
(function () {
  "use strict";

  var BUSY_DELAY_MS = 250;
  var SLOW_MS = 4000;
  var root = document.documentElement;
  root.classList.add("js");

  // -- menu button (phone width): collapses the nav and account links ----------------------
  var toggle = document.getElementById("menu-toggle");
  var menu = document.getElementById("top-menu");
  if (toggle && menu) {
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    };
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // -- loading indicator ------------------------------------------------------------------
  var busy = document.getElementById("busy");
  var main = document.querySelector("main");
  var pending = 0;
  var showTimer = null;
  var slowTimer = null;

  var show = function () {
    if (!busy) { return; }
    busy.classList.add("on");
    busy.querySelector(".busy-text").textContent = busy.getAttribute("data-text");
    if (main) { main.setAttribute("aria-busy", "true"); }
    slowTimer = window.setTimeout(function () {
      busy.querySelector(".busy-text").textContent = busy.getAttribute("data-slow");
    }, SLOW_MS);
  };
  var start = function () {
    pending += 1;
    if (showTimer === null && !(busy && busy.classList.contains("on"))) {
      showTimer = window.setTimeout(function () { showTimer = null; show(); }, BUSY_DELAY_MS);
    }
  };
  var stop = function (all) {
    pending = all ? 0 : Math.max(0, pending - 1);
    if (pending > 0) { return; }
    window.clearTimeout(showTimer);
    window.clearTimeout(slowTimer);
    showTimer = null;
    if (!busy) { return; }
    busy.classList.remove("on");
    busy.querySelector(".busy-text").textContent = "";
    if (main) { main.removeAttribute("aria-busy"); }
  };
  window.shopscopeBusy = { start: start, stop: stop };

  var leavesForAPage = function (link) {
    if (link.hasAttribute("download") || (link.target && link.target !== "_self")) {
      return false;
    }
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.indexOf("/api/") === 0) {
      return false;
    }
    // a jump within this page is no load
    return !(url.hash && url.pathname === window.location.pathname &&
             url.search === window.location.search);
  };
  // Listeners on window run after the page's own: a handler that cancels the event wins.
  window.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
        event.ctrlKey || event.shiftKey || event.altKey) { return; }
    if (leavesForAPage(link)) { start(); }
  });
  window.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.target && form.target !== "_self")) { return; }
    start();
  });
  // Back/forward restores a page from the cache with the indicator still on.
  window.addEventListener("pageshow", function () { stop(true); });

  if (window.fetch) {
    var fetch = window.fetch;
    window.fetch = function () {
      start();
      return fetch.apply(this, arguments).then(function (response) {
        stop();
        return response;
      }, function (error) {
        stop();
        throw error;
      });
    };
  }
})();
