// Admin page of github.com/trailkit/audit: times in the viewer's zone,
// typeahead on the search box, and the live tail. Data is only ever set as
// text (textContent); every URL is relative to the page.
(function () {
  "use strict";

  var dayFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  var clockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  var numFmt = new Intl.NumberFormat();
  var picking = false; // a suggestion was picked: the page is on its way to its filter

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function localTime(t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    t.title = d.toISOString();
    // In the table, the day above the time; elsewhere on one line.
    t.textContent = dayFmt.format(d) + (t.closest(".c-time") ? "\n" : ", ") + clockFmt.format(d);
  }

  function localTimes(root) {
    var ts = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < ts.length; i++) localTime(ts[i]);
  }

  // Filters: the form submits only the fields that hold something, and a
  // changed ID drops the type that came with an earlier pick.
  function setupForm() {
    var form = document.getElementById("filters");
    if (!form) return;
    // Dates are midnight in tz (UTC without it): send the viewer's zone
    // with a date, unless the page already carries one.
    var zone = browserZone();
    if (zone && !form.querySelector("input[name='tz']")) {
      var zs = document.querySelectorAll(".date-zone");
      for (var j = 0; j < zs.length; j++) zs[j].textContent = zone;
    }
    form.addEventListener("submit", function (ev) {
      if (picking) { ev.preventDefault(); return; }
      var dated = form.querySelector("input[name='since']").value || form.querySelector("input[name='until']").value;
      if (zone && dated && !form.querySelector("input[name='tz']")) {
        var tz = document.createElement("input");
        tz.type = "hidden";
        tz.name = "tz";
        tz.value = zone;
        form.appendChild(tz);
      }
      var fs = form.querySelectorAll("input[name], select[name]");
      for (var i = 0; i < fs.length; i++) {
        var f = fs[i];
        if (f.value === "" || (f.name === "order" && f.value === "newest") ||
            (f.name === "per_page" && f.value === "50")) f.disabled = true;
      }
    });
    // Back/forward cache: re-enable what the submit disabled.
    window.addEventListener("pageshow", function () {
      var fs = form.querySelectorAll("[disabled]");
      for (var i = 0; i < fs.length; i++) fs[i].disabled = false;
    });
    [["actor", "actor_type"], ["resource", "resource_type"]].forEach(function (p) {
      var input = form.querySelector("input[name='" + p[0] + "']:not([type=hidden])");
      var typ = form.querySelector("input[type=hidden][name='" + p[1] + "']");
      if (input && typ) {
        var was = input.value;
        input.addEventListener("change", function () {
          if (input.value !== was && typ.parentNode) typ.parentNode.removeChild(typ);
        });
      }
    });
  }

  // Typeahead: an ARIA combobox over api/suggest. A pick becomes a filter
  // (as audit.Suggestion.Filter says); Enter without a pick searches.
  function setupSuggest() {
    var input = document.getElementById("search");
    var list = document.getElementById("suggestions");
    if (!input || !list) return;
    var items = [], active = -1, timer = 0, seq = 0, ctrl = null;
    var kinds = { action: "Action", actor: "Actor", resource: "Resource" };

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      var lis = list.children;
      for (var j = 0; j < lis.length; j++) lis[j].setAttribute("aria-selected", j === i ? "true" : "false");
      active = i;
      if (i >= 0 && lis[i]) {
        input.setAttribute("aria-activedescendant", lis[i].id);
        lis[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function pick(s) {
      picking = true;
      var p = new URLSearchParams(window.location.search);
      ["after", "prev", "page", "search"].forEach(function (k) { p.delete(k); });
      if (s.kind === "action") {
        p.set("action", s.value);
      } else if (s.kind === "actor") {
        p.set("actor", s.value);
        if (s.type) p.set("actor_type", s.type); else p.delete("actor_type");
      } else {
        ["resource", "resource_type"].forEach(function (k) { p.delete(k); });
        p.set("subject", s.value);
        if (s.type) p.set("subject_type", s.type); else p.delete("subject_type");
      }
      close();
      var q = p.toString();
      window.location.href = q ? "?" + q : "./";
    }

    function render(sugs) {
      items = sugs;
      list.textContent = "";
      if (!sugs.length) {
        var none = el("li", "none", "No suggestions — press Enter to search actions");
        none.setAttribute("role", "option");
        none.setAttribute("aria-disabled", "true");
        none.id = "sug-none";
        list.appendChild(none);
      }
      sugs.forEach(function (s, i) {
        var li = el("li");
        li.id = "sug-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.appendChild(el("span", "kind", kinds[s.kind] || s.kind));
        var val = el("span", "val", s.kind === "action" ? s.value : (s.name || s.value));
        if (s.kind !== "action") {
          var sub = [s.type, s.name ? s.value : ""].filter(Boolean).join(" · ");
          if (sub) val.appendChild(el("span", "sub", sub));
        }
        li.appendChild(val);
        li.appendChild(el("span", "count", numFmt.format(s.count) + (s.count === 1 ? " event" : " events")));
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pick(s); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function fetchSuggestions() {
      var term = input.value.trim();
      var mine = ++seq;
      if (ctrl) ctrl.abort();
      if (!term) { close(); return; }
      ctrl = typeof AbortController === "function" ? new AbortController() : null;
      fetch("api/suggest?q=" + encodeURIComponent(term) + "&limit=8", {
        headers: { Accept: "application/json" }, credentials: "same-origin", signal: ctrl ? ctrl.signal : undefined
      }).then(function (r) {
        if (!r.ok) throw new Error("suggest: " + r.status);
        return r.json();
      }).then(function (body) {
        if (mine !== seq || document.activeElement !== input) return;
        render((body && body.suggestions) || []);
      }).catch(function () {
        if (mine === seq) close();
      });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 150);
    });
    input.addEventListener("keydown", function (ev) {
      var open = !list.hidden && items.length > 0;
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        if (list.hidden) { fetchSuggestions(); return; }
        if (open) highlight(active + 1 >= items.length ? 0 : active + 1);
      } else if (ev.key === "ArrowUp") {
        ev.preventDefault();
        if (open) highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (ev.key === "Enter") {
        if (open && active >= 0) { ev.preventDefault(); pick(items[active]); }
        else close(); // the form submits search=TERM
      } else if (ev.key === "Escape") {
        if (!list.hidden) { ev.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  // Live tail: an EventSource on api/tail with the page's filters; each
  // event becomes a row on top, and the total goes up.
  function refCell(td, r) {
    var zero = !r || (!r.type && !r.id && !r.name);
    var primary = zero ? "System" : (r.name || r.id || r.type);
    td.appendChild(el("span", "primary" + (zero ? " muted" : ""), primary));
    var sec = "";
    if (!zero) {
      if (r.name && r.type) sec = r.type + " · " + (r.id || "");
      else if (r.name) sec = r.id || "";
      else sec = r.type || "";
    }
    if (sec) td.appendChild(el("span", "secondary", sec));
  }

  function row(e) {
    var tr = el("tr", "fresh");
    var td = el("td", "c-time");
    td.setAttribute("data-label", "Time");
    var t = el("time");
    t.setAttribute("datetime", e.occurred_at);
    t.textContent = e.occurred_at;
    td.appendChild(t);
    localTime(t);
    tr.appendChild(td);

    td = el("td", "c-ref"); td.setAttribute("data-label", "Actor"); refCell(td, e.actor); tr.appendChild(td);

    td = el("td", "c-action"); td.setAttribute("data-label", "Action");
    var a = el("a", "", e.action);
    a.setAttribute("href", "events/" + encodeURIComponent(e.id));
    td.appendChild(a); tr.appendChild(td);

    td = el("td", "c-ref"); td.setAttribute("data-label", "Resource"); refCell(td, e.resource); tr.appendChild(td);

    td = el("td", "c-outcome"); td.setAttribute("data-label", "Outcome");
    var fail = e.outcome === "failure";
    td.appendChild(el("span", "badge " + (fail ? "badge-failure" : "badge-success"), fail ? "Failure" : "Success"));
    tr.appendChild(td);

    td = el("td", "c-origin"); td.setAttribute("data-label", "Origin");
    var ip = e.origin && e.origin.ip;
    td.appendChild(el("span", ip ? "primary mono" : "primary muted", ip || "—"));
    tr.appendChild(td);
    return tr;
  }

  function setupTail() {
    var btn = document.getElementById("live");
    var rows = document.getElementById("rows");
    if (!btn || !rows || typeof EventSource !== "function") return;
    var status = document.getElementById("live-status");
    var total = document.getElementById("total");
    var label = btn.querySelector(".live-label");
    var es = null, seen = {}, got = 0;
    var since = btn.getAttribute("data-since") ? new Date(btn.getAttribute("data-since")) : null;
    btn.hidden = false;

    function say(s) { if (status) status.textContent = s; }

    function bump() {
      if (!total) return;
      var n = (parseInt(total.getAttribute("data-total"), 10) || 0) + 1;
      var per = parseInt(total.getAttribute("data-per-page"), 10) || 50;
      total.setAttribute("data-total", String(n));
      total.textContent = numFmt.format(n);
      var t2 = document.getElementById("total-2");
      if (t2) t2.textContent = numFmt.format(n);
      // The new row is shown above the page's rows: one more on screen.
      var to = document.getElementById("shown-to");
      if (to) to.textContent = numFmt.format(rows.children.length);
      var pages = document.getElementById("pages");
      if (pages) pages.textContent = numFmt.format(Math.ceil(n / per));
    }

    function stop(msg) {
      if (es) { es.close(); es = null; }
      btn.removeAttribute("data-state");
      btn.setAttribute("aria-pressed", "false");
      label.textContent = "Live tail";
      say(msg || "");
    }

    function start() {
      es = new EventSource(btn.getAttribute("data-src"));
      btn.setAttribute("aria-pressed", "true");
      btn.setAttribute("data-state", "connecting");
      es.onopen = function () {
        btn.setAttribute("data-state", "open");
        if (!got) say("Live: connected; new events appear at the top as they are recorded.");
      };
      label.textContent = "Live";
      say("Live: new events appear at the top as they are recorded.");
      es.onmessage = function (m) {
        var e;
        try { e = JSON.parse(m.data); } catch (err) { return; }
        if (!e || !e.id || seen[e.id]) return;
        if (since && new Date(e.occurred_at) < since) return; // before the page's "From"
        seen[e.id] = true;
        var table = document.getElementById("events");
        var empty = document.getElementById("empty");
        if (table) table.hidden = false;
        if (empty) empty.hidden = true;
        rows.insertBefore(row(e), rows.firstChild);
        bump();
        got++;
        say("Live: " + numFmt.format(got) + (got === 1 ? " new event" : " new events") + " since you turned it on.");
      };
      es.onerror = function () {
        if (es && es.readyState === EventSource.CLOSED) stop("Live tail is unavailable.");
        else { btn.setAttribute("data-state", "connecting"); say("Live: reconnecting…"); }
      };
    }

    btn.addEventListener("click", function () {
      if (es) stop("Live tail off.");
      else start();
    });
  }

  // browserZone is the viewer's IANA time zone, or "" when unknown.
  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (err) {
      return "";
    }
  }

  function init() {
    localTimes(document);
    var zone = document.getElementById("zone");
    var z = browserZone();
    if (zone && z) zone.textContent = "your time zone (" + z + ")";
    setupForm();
    setupSuggest();
    setupTail();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
