// A collector's day: the start page, a tenant's conversation with a reply
// box, replies from the inbox, times in the tenant's zone, the "why" behind
// each rule, and the next callable tenant after a call. Built on the hooks
// app.js exposes (window.rentmsgConsole); data goes in the page as text only.
// Filter preferences live in localStorage; credentials never do.
"use strict";

(function () {
  const FILTER_KEY = "rentmsg.callFilter";
  const $ = (id) => document.getElementById(id);
  const C = () => window.rentmsgConsole;

  // ------------------------------------------------------------ times

  const staffZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  function fmt(d, zone) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(d).replace(",", "");
  }

  // "Sat 5 Dec 08:00 EST", and the staff member's own time beside it when it differs.
  function moment(iso, zone) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    let z = zone;
    try { fmt(d, z); } catch (_) { z = "UTC"; }
    const there = fmt(d, z || "UTC");
    const here = fmt(d, staffZone);
    return there === here ? there : there + " (your time " + here + ")";
  }

  // Each rule's short name in front, the long reason behind a "why" disclosure.
  function rules(reasons) {
    const { el } = C();
    if (!reasons || !reasons.length) return null;
    return el("ul", { className: "reasons" }, reasons.map((r) =>
      el("li", {}, el("strong", { text: r.rule }), " ", el("details", { className: "why" }, el("summary", { text: "why" }), el("span", { text: r.detail })))));
  }

  // ------------------------------------------------------------ start page

  async function loadToday() {
    const { api, el, clear, show, say, fail, errorOf } = C();
    fail("");
    show("today");
    const r = await api("GET", "/api/today");
    if (r.status !== 200) return fail(errorOf(r));
    $("today-when").textContent = "Today is " + r.data.date + " in " + r.data.zone + ".";
    const grid = clear($("today-figures"));
    for (const f of r.data.figures) {
      grid.append(el("button", { type: "button", className: "figure secondary", "data-key": f.key, "aria-controls": "today-list", on: { click: () => openFigure(f) } },
        el("span", { className: "count", text: (f.at_least ? "at least " : "") + f.count }), el("span", { className: "what", text: f.label })));
    }
    clear($("today-list"));
    say("Start page loaded.");
  }

  function openFigure(f) {
    const { el, clear, openTenant } = C();
    const box = clear($("today-list"));
    box.append(el("h3", { id: "today-list-title", tabindex: "-1", text: f.label + " (" + (f.at_least ? "at least " : "") + f.count + ")" }));
    if (!f.items.length) box.append(el("p", { text: "Nothing here." }));
    const ul = el("ul", { className: "figure-items" });
    for (const it of f.items) {
      ul.append(el("li", {},
        it.tenant_id ? el("button", { type: "button", className: "secondary", text: it.tenant_id, on: { click: () => openTenant(it.tenant_id) } }) : "",
        " ", el("span", { text: it.label || "" }), it.at ? el("span", { className: "hint", text: " " + moment(it.at, it.time_zone) }) : ""));
    }
    box.append(ul);
    if (f.count > f.items.length) box.append(el("p", { className: "hint", text: "Showing the first " + f.items.length + "." }));
    $("today-list-title").focus();
  }

  // ------------------------------------------------------------ conversation

  let convTenant = null;

  async function loadConversation(tenantId) {
    const { api, el, clear } = C();
    convTenant = tenantId;
    const r = await api("GET", "/api/tenants/" + encodeURIComponent(tenantId) + "/conversation?limit=100");
    const list = clear($("conv-list"));
    if (r.status !== 200) return;
    const zone = r.data.time_zone;
    for (const m of r.data.messages) {
      list.append(el("li", { className: "bubble " + m.direction, "data-direction": m.direction },
        el("span", { className: "meta", text: (m.direction === "inbound" ? "Tenant" : "Us") + " · " + m.channel + " · " + moment(m.at, zone) + " · " + m.status }),
        el("span", { className: "text", text: m.body })));
    }
    for (const w of r.data.waiting) {
      list.append(el("li", { className: "bubble outbound waiting" },
        el("span", { className: "meta", text: "Us · " + w.channel + " · " + w.state + (w.not_before ? " · not before " + moment(w.not_before, zone) : "") }),
        el("span", { className: "text", text: w.custom_body || "" }), rules(w.state === "sent" ? [] : (w.decision === "allow" ? [] : w.reasons))));
    }
    if (!list.firstChild) list.append(el("li", { className: "hint", text: "No texts or emails yet." }));
    $("conv-zone").textContent = "Times in the tenant's zone (" + zone + ")" + (zone !== staffZone ? ", yours beside them (" + staffZone + ")." : ".");
  }

  async function sendReply(tenantId, body, inboxId, resultNode) {
    const { api, el, clear, say, fail } = C();
    fail("");
    const payload = { body };
    if (inboxId) payload.inbox_id = inboxId;
    say("Sending the reply…");
    const r = await api("POST", "/api/tenants/" + encodeURIComponent(tenantId) + "/replies", payload);
    const out = clear(resultNode);
    if (r.status === 201) {
      const d = r.data;
      const msg = d.delivery === "sent" ? "Sent." : d.will_go_at ? "Queued: goes at " + moment(d.will_go_at, staffZone) + ". " + (d.note || "") : "Reply " + d.delivery + ". " + (d.note || "");
      out.append(el("p", { className: "ok", text: msg }));
      say(msg);
      return true;
    }
    if (r.status === 409 && r.data) {
      out.append(el("p", { className: "error", text: r.data.decision === "defer" ? "Not now: the rules defer this reply" + (r.data.defer_until ? " until " + moment(r.data.defer_until, staffZone) : "") + "." : "The rules block this reply." }), rules(r.data.reasons));
      say("");
      fail(r.data.error);
      return false;
    }
    say("");
    fail((r.data && r.data.error) || "Request failed (" + r.status + ")");
    return false;
  }

  async function onReply(ev) {
    ev.preventDefault();
    const body = $("conv-body").value.trim();
    if (!convTenant || !body) { $("conv-body").focus(); return; }
    if (await sendReply(convTenant, body, null, $("conv-result"))) {
      $("conv-body").value = "";
      await loadConversation(convTenant);
    }
  }

  // Inbox rows get a reply box that sends in one step.
  function inboxActions(m) {
    const { el, can } = C();
    const tenant = (m.tenants || [])[0];
    // Answering is a collector's action; a viewer reads the inbox only.
    if (!tenant || m.handled_at || !can("collector")) return [];
    const id = "reply-" + m.id;
    const result = el("div", { className: "reply-result", "aria-live": "polite" });
    const input = el("textarea", { id, rows: "2", maxlength: "1530", className: "reply-body" });
    const form = el("form", { className: "reply-form", on: { submit: async (ev) => {
      ev.preventDefault();
      const body = input.value.trim();
      if (!body) { input.focus(); return; }
      if (await sendReply(tenant.tenant_id, body, m.id, result)) { input.value = ""; form.querySelector("button").disabled = true; }
    } } },
    el("label", { for: id, text: "Reply to " + (tenant.name || tenant.tenant_id) }), input,
    el("button", { type: "submit", className: "reply-send", text: "Send reply" }), result);
    return [form];
  }

  // ------------------------------------------------------------ call list

  function savedFilter() {
    try { return JSON.parse(localStorage.getItem(FILTER_KEY) || "{}") || {}; } catch (_) { return {}; }
  }

  function restoreFilter() {
    const f = savedFilter();
    if (f.property_id) $("calls-property").value = f.property_id;
    if (f.callable) $("calls-callable-only").checked = true;
    if (f.stage) $("calls-stage").value = f.stage;
  }

  function saveFilter() {
    localStorage.setItem(FILTER_KEY, JSON.stringify({ property_id: $("calls-property").value.trim(), callable: $("calls-callable-only").checked, stage: $("calls-stage").value }));
  }

  // After a call, the next callable tenant on the list.
  async function offerNext(doneTenant) {
    const { api, el, clear, openTenant } = C();
    const box = clear($("next-tenant"));
    // The server applies the saved filters; two is enough to skip the tenant just called.
    const params = new URLSearchParams({ limit: "2", callable: "true" });
    const f = savedFilter();
    if (f.property_id) params.set("property_id", f.property_id);
    if (f.stage) params.set("stage", f.stage);
    const r = await api("GET", "/api/call-list?" + params);
    if (r.status !== 200) return;
    const next = r.data.items.find((i) => i.tenant_id !== doneTenant);
    if (!next) { box.append(el("p", { text: "Nobody else is callable now." })); return; }
    box.append(el("p", {}, "Next callable tenant: ",
      el("button", { type: "button", id: "next-tenant-open", text: next.name + " (" + next.tenant_id + ")", on: { click: () => openTenant(next.tenant_id) } })));
  }

  window.rentmsgDay = { loadToday, loadConversation, inboxActions, offerNext, restoreFilter, saveFilter, moment, rules };

  document.addEventListener("DOMContentLoaded", () => {
    $("nav-today").addEventListener("click", () => loadToday());
    $("conv-form").addEventListener("submit", onReply);
    // Common results in one key press (a select needs the arrow keys).
    for (const b of document.querySelectorAll("#call-quick button")) {
      b.addEventListener("click", () => { $("call-result").value = b.dataset.code; C().say("Result: " + $("call-result").selectedOptions[0].text + "."); });
    }
  });
})();
