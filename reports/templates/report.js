/* Example filters. A filter (improved, regressed, unchanged, failing after tuning), a tuned state
   and a text search select examples across every page of a suite through its search index
   (search-N.js, loaded on first use). The selection lives in the URL fragment (#f=…&s=…&q=…), so
   the pager and the "pages with matches" links carry it from page to page. Without JavaScript
   the form stays hidden and every example is shown. */
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) return;
  var tuned = JSON.parse(form.getAttribute("data-states"));
  var files = JSON.parse(form.getAttribute("data-files"));
  var page = Number(form.getAttribute("data-page"));
  var indexFiles = form.getAttribute("data-index").split(" ");
  var status = document.getElementById("filter-status");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#rows > tr"));
  var pagerLinks = Array.prototype.slice.call(document.querySelectorAll(".pager a"));
  var index = null, waiting = null, timer = null, applied = null;

  // Mirrors reports/examples.py `matches`: one change letter per tuned state.
  function matches(filter, codes) {
    if (filter === "improved") return codes.indexOf("I") >= 0;
    if (filter === "regressed") return codes.indexOf("R") >= 0;
    if (filter === "unchanged") return codes.length > 0 && /^[PF]+$/.test(codes);
    if (filter === "failing") return /[RF]/.test(codes);
    return true;
  }

  function selection() {
    var checked = form.querySelector("input[name=f]:checked");
    var select = form.querySelector("select[name=s]");
    return {f: checked ? checked.value : "all", s: select ? select.value : "",
            q: form.querySelector("input[name=q]").value.trim().toLowerCase()};
  }

  function fragment(sel) {
    if (sel.f === "all" && !sel.q) return "";
    var parts = ["f=" + encodeURIComponent(sel.f)];
    if (sel.s) parts.push("s=" + encodeURIComponent(sel.s));
    if (sel.q) parts.push("q=" + encodeURIComponent(sel.q));
    return "#" + parts.join("&");
  }

  function restore() {
    var hash = location.hash.slice(1);
    if (!/^(f|s|q)=/.test(hash)) return;
    hash.split("&").forEach(function (part) {
      var kv = part.split("="), value = decodeURIComponent(kv[1] || "");
      if (kv[0] === "f") {
        var radio = form.querySelector("input[name=f][value='" + value.replace(/[^a-z]/g, "") + "']");
        if (radio) radio.checked = true;
      } else if (kv[0] === "s" && form.querySelector("select[name=s]")) {
        form.querySelector("select[name=s]").value = value;
      } else if (kv[0] === "q") {
        form.querySelector("input[name=q]").value = value;
      }
    });
  }

  function loadIndex(done) {
    if (index) return done();
    if (waiting) { waiting.push(done); return; }
    waiting = [done];
    var i = 0;
    (function next() {
      if (i === indexFiles.length) {
        index = window.REPORT_INDEX || [];
        waiting.forEach(function (f) { f(); });
        return;
      }
      var script = document.createElement("script");
      script.src = indexFiles[i++];
      script.onload = next;
      script.onerror = function () { status.textContent = "The search index could not be loaded."; };
      document.head.appendChild(script);
    })();
  }

  function link(p, count, hash) {
    var a = document.createElement("a");
    a.href = files[p - 1] + hash;
    a.textContent = p + " (" + count + ")";
    if (p === page) a.className = "here";
    return a;
  }

  function apply() {
    var sel = selection(), hash = fragment(sel);
    // The search box fires "change" again when it loses focus, e.g. on a click on a page link:
    // rebuilding the status then would remove the link under the pointer.
    if (hash === applied) return;
    applied = hash;
    try { history.replaceState(null, "", hash || location.pathname + location.search); } catch (e) { /* opaque origin */ }
    pagerLinks.forEach(function (a) { a.href = a.getAttribute("href").split("#")[0] + hash; });
    if (!hash) {
      rows.forEach(function (r) { r.hidden = false; });
      status.textContent = "";
      return;
    }
    loadIndex(function () {
      var col = sel.s ? tuned.indexOf(sel.s) : -1, here = {}, perPage = {}, total = 0;
      index.forEach(function (r) {
        var codes = col >= 0 ? r[2].charAt(col) : r[2];
        if (!matches(sel.f, codes) || (sel.q && r[3].indexOf(sel.q) < 0)) return;
        total += 1;
        perPage[r[1]] = (perPage[r[1]] || 0) + 1;
        if (r[1] === page) here[r[0]] = true;
      });
      var shown = 0;
      rows.forEach(function (r) {
        r.hidden = !here[r.getAttribute("data-id")];
        if (!r.hidden) shown += 1;
      });
      status.textContent = total + " of " + index.length + " examples match on all pages; " + shown + " on this page.";
      var pagesWith = Object.keys(perPage).map(Number).sort(function (a, b) { return a - b; });
      if (pagesWith.length) {
        var span = document.createElement("span");
        span.className = "pages-with";
        span.appendChild(document.createTextNode(" Pages with matches: "));
        pagesWith.forEach(function (p, k) {
          if (k) span.appendChild(document.createTextNode(" · "));
          span.appendChild(link(p, perPage[p], hash));
        });
        status.appendChild(span);
      }
    });
  }

  form.hidden = false;
  restore();
  form.addEventListener("change", apply);
  form.querySelector("input[name=q]").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 200);
  });
  apply();
})();
