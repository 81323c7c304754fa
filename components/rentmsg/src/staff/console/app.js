// Staff console: plain JavaScript over the staff API. Each person signs in
// with their username and password (POST /api/session); the server answers
// with an HttpOnly session cookie that this script never sees or stores, and
// every call rides on it (credentials: "same-origin"). No token is kept in
// the page or in web storage: the break-glass staff_token
// is for API clients and recovery, not for the console. Controls the
// signed-in role may not use are hidden (the API refuses them anyway).
// Data is only ever put in the page as text.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { codes: [], tenant: null, templates: [], me: null, users: [], editing: null };
  const RANKS = { viewer: 0, collector: 1, manager: 2, admin: 3 };
  const ROLE_NAMES = { viewer: "Viewer", collector: "Collector", manager: "Manager", admin: "Administrator" };
  const LANGUAGE_NAMES = { en: "English", es: "Español", fr: "Français" };

  // May the signed-in person use a control that needs `role`?
  function can(role) {
    return !!state.me && (RANKS[state.me.role] ?? -1) >= RANKS[role];
  }

  // Show only what the role may use: every element with data-role="<least role>".
  function applyRole() {
    for (const node of document.querySelectorAll("[data-role]")) node.hidden = !can(node.dataset.role);
  }

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "className") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const moneyFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  const money = (cents) => (typeof cents === "number" ? moneyFmt.format(cents / 100) : "");
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function say(text) {
    $("status").textContent = text || "";
  }

  function fail(text) {
    const e = $("error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  // One request on the session cookie. Referrer policy "same-origin" (the
  // page's too): under "no-referrer" a browser sends `Origin: null` on a
  // same-origin POST, and the API's CSRF check wants the real origin on
  // every cookie-carried write (nothing leaves for other origins: this page
  // calls no other origin).
  function request(method, path, body, accept) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (accept) headers["Accept"] = accept;
    return fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "same-origin", referrerPolicy: "same-origin",
    }).catch((e) => { throw new Error("The server could not be reached: " + e.message); });
  }

  async function api(method, path, body, accept) {
    const resp = await request(method, path, body, accept);
    if (resp.status === 401) {
      signOut("Your session is not valid any more; sign in again.");
      throw new Error("not signed in");
    }
    if (accept && !accept.includes("json")) {
      const blob = await resp.blob();
      return { status: resp.status, blob, resp };
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
    return { status: resp.status, data };
  }

  function errorOf(r) {
    return (r.data && r.data.error) || ("Request failed (" + r.status + ")");
  }

  function reasonsList(reasons) {
    if (window.rentmsgDay) return window.rentmsgDay.rules(reasons);
    if (!reasons || !reasons.length) return null;
    return el("ul", { className: "reasons" }, reasons.map((r) => el("li", {}, el("strong", { text: r.rule }), ": " + r.detail)));
  }

  // ------------------------------------------------------------ views

  const VIEWS = ["login", "today", "calls", "tenant", "inbox", "reports", "users"];

  function show(view) {
    for (const v of VIEWS) $("view-" + v).hidden = v !== view;
    for (const b of document.querySelectorAll("nav button[data-view]")) {
      if (b.dataset.view === view) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    const heading = document.querySelector("#view-" + view + " h2");
    if (heading) { heading.tabIndex = -1; heading.focus(); }
  }

  // Back to the sign-in page (the cookie is already gone or refused).
  function signOut(message) {
    state.me = null;
    state.tenant = null;
    state.users = [];
    applyRole();
    $("nav").hidden = true;
    $("whoami").hidden = true;
    $("me-name").textContent = "";
    $("me-role").textContent = "";
    $("users-secret-token").value = "";
    show("login");
    say("");
    fail(message || "");
    $("login-username").focus();
  }

  async function signOutClicked() {
    fail("");
    try { await request("DELETE", "/api/session"); } catch (_) { /* signed out locally anyway */ }
    signOut("");
    say("Signed out.");
  }

  // "Retry-After: 840" → "14 minutes" (at least one).
  function minutes(retryAfter) {
    const secs = parseInt(retryAfter || "", 10);
    const n = Math.max(1, Math.ceil((isNaN(secs) ? 900 : secs) / 60));
    return n + (n === 1 ? " minute" : " minutes");
  }

  async function signIn(ev) {
    ev.preventDefault();
    fail("");
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username) { $("login-username").focus(); return fail("Enter your username."); }
    if (!password) { $("login-password").focus(); return fail("Enter your password."); }
    $("login-submit").disabled = true;
    say("Signing in…");
    let resp;
    try {
      resp = await request("POST", "/api/session", { username, password });
    } catch (e) {
      $("login-submit").disabled = false;
      say("");
      return fail(e.message);
    } finally {
      $("login-password").value = "";
    }
    $("login-submit").disabled = false;
    say("");
    if (resp.status === 401) { $("login-password").focus(); return fail("Wrong username or password."); }
    if (resp.status === 429) { $("login-password").focus(); return fail("Too many attempts, try again in " + minutes(resp.headers.get("Retry-After")) + "."); }
    if (resp.status !== 204) {
      let msg = "Sign-in failed (" + resp.status + ")";
      try { const d = await resp.json(); if (d && d.error) msg = d.error; } catch (_) { /* keep the status */ }
      return fail(msg);
    }
    await started();
  }

  // Who is signed in (GET /api/me), then the first page.
  async function started() {
    const me = await api("GET", "/api/me");
    if (me.status !== 200) return fail(errorOf(me));
    state.me = me.data;
    $("me-name").textContent = me.data.display_name || me.data.username;
    $("me-role").textContent = (ROLE_NAMES[me.data.role] || me.data.role) + (me.data.property_ids && me.data.property_ids.length ? " · properties " + me.data.property_ids.join(", ") : "");
    applyRole();
    $("whoami").hidden = false;
    $("nav").hidden = false;
    const codes = await api("GET", "/api/call-result-codes");
    state.codes = codes.status === 200 ? codes.data.codes : [];
    say("Signed in as " + (me.data.display_name || me.data.username) + ".");
    if (window.rentmsgDay) { window.rentmsgDay.restoreFilter(); await window.rentmsgDay.loadToday(); } else await loadCalls();
  }

  // ------------------------------------------------------------ call list

  // The stage and callable filters are the server's, over the whole list;
  // "More" follows the page's cursor.
  async function loadCalls(ev, after) {
    if (ev) ev.preventDefault();
    fail("");
    show("calls");
    const params = new URLSearchParams({ limit: "200" });
    const prop = $("calls-property").value.trim();
    if (prop) params.set("property_id", prop);
    const stage = $("calls-stage").value;
    if (stage) params.set("stage", stage);
    const onlyCallable = $("calls-callable-only").checked;
    if (onlyCallable) params.set("callable", "true");
    if (after) params.set("after", after);
    if (window.rentmsgDay) window.rentmsgDay.saveFilter();
    say("Loading the call list…");
    const r = await api("GET", "/api/call-list?" + params);
    if (r.status !== 200) return fail(errorOf(r));
    const body = after ? $("calls-table").tBodies[0] : clear($("calls-table").tBodies[0]);
    for (const it of r.data.items) {
      const status = it.callable
        ? el("span", { className: "ok", text: "Callable now" })
        : el("div", {},
            el("span", { className: "no", text: it.decision === "block" ? "Not callable" : "Not yet" }),
            it.callable_at ? " — callable from " + when(it.callable_at) : "",
            reasonsList(it.reasons));
      const due = it.promise_due_today;
      body.append(el("tr", { "data-tenant": it.tenant_id, "data-stage": it.stage, "data-callable": String(it.callable), "data-promise-due": due ? "true" : "false" },
        el("td", {}, el("button", { type: "button", className: "secondary", text: it.name + " (" + it.tenant_id + ")", on: { click: () => openTenant(it.tenant_id) } }), it.unit ? " unit " + it.unit : "",
          due ? el("span", { className: "promise-due", text: "Promise due today: " + money(due.amount_cents) }) : ""),
        el("td", { text: it.property_name || it.property_id }),
        el("td", { className: "num", text: money(it.balance_cents) }),
        el("td", { className: "num", text: it.days_past_due }),
        el("td", { text: it.phone || "none on file" }),
        el("td", { className: "num", text: it.attempts_7d }),
        el("td", {}, status)));
    }
    const shown = body.rows.length;
    const which = stage ? " at stage " + stage : "";
    $("calls-summary").textContent = r.data.total + " overdue tenant(s)" + which + " due for a call; " +
      (onlyCallable ? "showing " + shown + " callable now" : r.data.callable + " of this page callable now") + " (as of " + when(r.data.as_of) + ")." +
      (r.data.stopped_at_bound ? " The search for callable tenants stopped at its limit; more may follow." : "");
    const more = $("calls-more");
    more.hidden = !r.data.next;
    more.dataset.after = r.data.next || "";
    say("Call list loaded.");
  }

  // ------------------------------------------------------------ tenant page

  async function openTenant(id) {
    fail("");
    say("Loading tenant " + id + "…");
    const enc = encodeURIComponent(id);
    const [t, ledger, contacts, decision, templates, promises] = await Promise.all([
      api("GET", "/api/tenants/" + enc),
      api("GET", "/api/tenants/" + enc + "/ledger"),
      api("GET", "/api/tenants/" + enc + "/contacts?limit=200"),
      can("collector") ? api("POST", "/api/compliance/check", { tenant_id: id, channel: "phone", manual: true }) : Promise.resolve({ status: 0 }),
      api("GET", "/api/notice-templates"),
      api("GET", "/api/tenants/" + enc + "/promises"),
    ]);
    if (t.status !== 200) { say(""); return fail(errorOf(t)); }
    state.tenant = t.data;
    state.templates = templates.status === 200 ? templates.data.templates : [];
    show("tenant");
    renderTenant(t.data);
    renderDecision(decision.status === 200 ? decision.data : null);
    renderLedger(ledger.status === 200 ? ledger.data.entries : []);
    renderHistory(contacts.status === 200 ? contacts.data.contacts : []);
    renderPromises(promises.status === 200 ? promises.data.promises : null);
    $("msg-language").value = t.data.language;
    renderTemplates();
    if (window.rentmsgDay) await window.rentmsgDay.loadConversation(id);
    say("Tenant " + id + " loaded.");
  }

  function renderTenant(v) {
    $("tenant-title").textContent = v.name + " (" + v.tenant_id + ")";
    const facts = clear($("tenant-facts"));
    const add = (k, val) => facts.append(el("dt", { text: k }), el("dd", { text: val }));
    add("Property", (v.property_name || v.property_id) + (v.unit ? ", unit " + v.unit : ""));
    add("Balance", money(v.balance_cents) + " (" + money(v.overdue_cents) + " overdue)");
    add("Days past due", String(v.days_past_due));
    add("Status", v.status);
    add("Time zone", v.time_zone);
    add("Consent", v.consent);
    add("Exclusion status", v.exclusion_status);
    // The language notices, pages and replies use; staff change it here.
    const langSel = el("select", { id: "tenant-language", on: { change: () => setLanguage(langSel.value) } });
    for (const [code, name] of [["en", "English"], ["es", "Español"], ["fr", "Français"]]) {
      langSel.append(el("option", { value: code, text: name }));
    }
    langSel.value = v.language;
    facts.append(el("dt", {}, el("label", { for: "tenant-language", text: "Language" })),
      el("dd", {}, langSel, el("span", { text: v.language_source === "tenant" ? " (the tenant's own)" : " (the property's default)" })));

    const num = clear($("call-number"));
    for (const p of v.contact_points.filter((p) => p.channel === "phone")) {
      num.append(el("option", { value: p.kind, text: p.kind.replace("_", " ") + ": " + p.address }));
    }
    if (!num.options.length) num.append(el("option", { value: "", text: "No number on file" }));
    const res = clear($("call-result"));
    res.append(el("option", { value: "", text: "Choose a result" }));
    for (const c of state.codes) res.append(el("option", { value: c.code, text: c.code + ": " + c.label }));
    $("call-override-row").hidden = true;
    $("call-override").value = "";

    $("consent-now").textContent = "Tenant-wide: " + v.consent;
    const f = v.exclusions;
    $("excl-bankruptcy").checked = f.bankruptcy.on;
    $("excl-bankruptcy-reason").value = f.bankruptcy.reason || "";
    $("excl-texting").checked = f.disable_texting_auto_calls.on;
    $("excl-auto").checked = f.disable_auto_communications.on;

    const points = clear($("points-table").tBodies[0]);
    for (const p of v.contact_points) {
      const consent = Object.entries(p.consent).map(([ch, s]) => ch + ": " + s).join(", ");
      const cust = p.exclusions.by_customer.on ? "Yes (STOP" + (p.exclusions.by_customer.set_at ? ", " + when(p.exclusions.by_customer.set_at) : "") + "; only their START lifts it)" : "No";
      const user = p.exclusions.by_user;
      const reasonId = "px-" + p.kind;
      const toggle = !can("collector") ? el("span", { text: user.on ? "Yes" + (user.reason ? " (" + user.reason + ")" : "") : "No" }) : el("form", { className: "inline point-exclusion", on: { submit: (ev) => setPointExclusion(ev, p.kind, !user.on, reasonId) } },
        user.on ? el("span", { text: "Yes" + (user.reason ? " (" + user.reason + ")" : "") }) : null,
        user.on ? null : el("label", { for: reasonId, className: "sr-only", text: "Reason to exclude " + p.address }),
        user.on ? null : el("input", { id: reasonId, placeholder: "reason", maxlength: "500" }),
        el("button", { type: "submit", className: "secondary", text: user.on ? "Remove" : "Exclude" }));
      points.append(el("tr", {}, el("td", { text: p.kind }), el("td", { text: p.address }), el("td", { text: consent }), el("td", { text: cust }), el("td", {}, toggle)));
    }
    const notes = clear($("notes-list"));
    for (const n of v.notes) notes.append(el("li", {}, el("strong", { text: n.kind }), " " + when(n.at) + " by " + n.author + ": " + n.body));
  }

  function renderDecision(d) {
    const p = clear($("call-decision"));
    if (!d) return;
    if (d.decision === "allow") {
      p.append(el("span", { className: "ok", text: "A call is allowed now." }));
      if (d.warnings && d.warnings.length) p.append(reasonsList(d.warnings));
    } else {
      p.append(el("span", { className: "no", text: d.decision === "defer" ? "Not callable now" + (d.defer_until ? "; callable from " + when(d.defer_until) : "") : "Not callable" }), reasonsList(d.reasons));
      $("call-override-row").hidden = false;
    }
  }

  function renderLedger(entries) {
    const body = clear($("ledger-table").tBodies[0]);
    for (const e of entries.slice().reverse()) {
      body.append(el("tr", {}, el("td", { text: e.date }), el("td", { text: e.due_date }), el("td", { text: e.kind }), el("td", { className: "num", text: money(e.amount_cents) }), el("td", { text: e.reference })));
    }
  }

  function renderHistory(contacts) {
    const body = clear($("history-table").tBodies[0]);
    for (const c of contacts) {
      body.append(el("tr", {}, el("td", { text: when(c.at) }), el("td", { text: c.channel }), el("td", { text: c.direction }), el("td", { text: c.address }), el("td", { text: c.status }), el("td", { text: c.body })));
    }
  }

  function renderPromises(list) {
    $("promises-section").hidden = list === null;
    const body = clear($("promises-table").tBodies[0]);
    for (const p of list || []) {
      body.append(el("tr", {}, el("td", { text: when(p.created_at) }), el("td", { text: p.promised_date }), el("td", { className: "num", text: p.amount_cents ? money(p.amount_cents) : "balance" }), el("td", { text: p.status }), el("td", { text: p.source })));
    }
  }

  function renderTemplates() {
    const sel = clear($("msg-template"));
    sel.append(el("option", { value: "", text: "Free text" }));
    const ch = $("msg-channel").value;
    const lang = $("msg-language").value;
    for (const t of state.templates.filter((t) => t.channel === ch && t.language === lang)) {
      sel.append(el("option", { value: t.stage, text: "Notice stage " + t.stage + (t.subject ? ": " + t.subject : "") }));
    }
  }

  function cents(text) {
    const m = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + (m[2] ? parseInt(m[2].padEnd(2, "0"), 10) : 0);
  }

  async function recordCall(ev) {
    ev.preventDefault();
    fail("");
    const v = state.tenant;
    if (!v) return;
    const code = $("call-result").value;
    if (code === "") { $("call-result").focus(); return fail("Choose the call result."); }
    const body = { result_code: Number(code) };
    const notes = $("call-notes").value.trim();
    if (notes) body.notes = notes;
    if ($("call-number").value) body.address = $("call-number").value;
    if ($("call-inbound").checked) {
      say("Recording the inbound call…");
      const r = await api("POST", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/inbound-calls", body);
      say("");
      if (r.status !== 201) return fail(errorOf(r));
      $("call-notes").value = "";
      $("call-inbound").checked = false;
      await openTenant(v.tenant_id);
      say("Inbound call recorded: " + r.data.result_label + (r.data.right_party_contact ? " (a conversation: calls wait 7 days)" : "") + ".");
      $("history-title").focus();
      return;
    }
    if ($("call-promise").checked) {
      const date = $("call-promise-date").value;
      if (!date) { $("call-promise-date").focus(); return fail("Give the promised date."); }
      body.promise = { date };
      const amount = $("call-promise-amount").value.trim();
      if (amount) {
        const c = cents(amount);
        if (c === null || c <= 0) { $("call-promise-amount").focus(); return fail("The amount must look like 250 or 250.00."); }
        body.promise.amount_cents = c;
      }
    }
    const reason = $("call-override").value.trim();
    if (reason) body.override_reason = reason;
    say("Recording the call…");
    const r = await api("POST", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/calls", body);
    if (r.status === 201) {
      $("call-notes").value = "";
      $("call-promise").checked = false;
      $("call-promise-date").value = "";
      $("call-promise-amount").value = "";
      await openTenant(v.tenant_id);
      say("Call recorded: " + r.data.result_label + (r.data.promise ? ", with a promise to pay" : "") + (r.data.overridden ? " (override audited)" : "") + ".");
      if (window.rentmsgDay) await window.rentmsgDay.offerNext(v.tenant_id);
      $("history-title").focus();
      return;
    }
    if (r.status === 409 && r.data && r.data.decision) {
      renderDecision(r.data.decision);
      $("call-override-row").hidden = false;
      $("call-override").focus();
      say("");
      return fail(r.data.error);
    }
    say("");
    fail(errorOf(r));
  }

  async function sendMessage(ev) {
    ev.preventDefault();
    fail("");
    const v = state.tenant;
    if (!v) return;
    const body = { channel: $("msg-channel").value, purpose: $("msg-purpose").value, language: $("msg-language").value };
    const stage = $("msg-template").value;
    if (stage) body.template_stage = Number(stage);
    else {
      body.body = $("msg-body").value.trim();
      const subject = $("msg-subject").value.trim();
      if (subject) body.subject = subject;
    }
    const r = await api("POST", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/messages", body);
    if (r.status !== 201) return fail(errorOf(r));
    $("msg-body").value = "";
    const reasons = (r.data.reasons || []).map((x) => x.rule).join(", ");
    say("Message " + r.data.id + " in " + (LANGUAGE_NAMES[r.data.language] || r.data.language) + " " + r.data.state + (reasons ? " (" + reasons + ")" : "") + ". It goes out with the next send pass.");
  }

  async function sendNow() {
    fail("");
    const r = await api("POST", "/api/send", undefined);
    if (r.status !== 200) return fail(errorOf(r));
    say("Send pass: " + r.data.sent + " sent, " + r.data.deferred + " deferred, " + r.data.blocked + " blocked, " + r.data.failed + " failed.");
    if (state.tenant) await openTenant(state.tenant.tenant_id);
  }

  async function saveConsent(ev) {
    ev.preventDefault();
    fail("");
    const v = state.tenant;
    const body = { status: $("consent-status").value };
    const evidence = $("consent-evidence").value.trim();
    if (evidence) body.evidence = evidence;
    const r = await api("PUT", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/consent", body);
    if (r.status !== 200) return fail(errorOf(r));
    $("consent-evidence").value = "";
    await openTenant(v.tenant_id);
    say("Consent saved.");
  }

  async function saveExclusions(ev) {
    ev.preventDefault();
    fail("");
    const v = state.tenant;
    const on = $("excl-bankruptcy").checked;
    const reason = $("excl-bankruptcy-reason").value.trim();
    if (on && !reason) { $("excl-bankruptcy-reason").focus(); return fail("Bankruptcy needs a reason."); }
    const body = {
      bankruptcy: { on, reason: reason || null },
      disable_texting_auto_calls: $("excl-texting").checked,
      disable_auto_communications: $("excl-auto").checked,
    };
    const r = await api("PUT", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/exclusions", body);
    if (r.status !== 200) return fail(errorOf(r));
    await openTenant(v.tenant_id);
    say("Exclusions saved.");
  }

  async function setLanguage(language) {
    fail("");
    const v = state.tenant;
    const r = await api("PATCH", "/api/tenants/" + encodeURIComponent(v.tenant_id), { language });
    if (r.status !== 200) return fail(errorOf(r));
    await openTenant(v.tenant_id);
    say("Language set.");
  }

  async function setPointExclusion(ev, kind, on, reasonId) {
    ev.preventDefault();
    fail("");
    const v = state.tenant;
    const body = { on };
    const input = $(reasonId);
    if (on && input && input.value.trim()) body.reason = input.value.trim();
    const r = await api("PUT", "/api/tenants/" + encodeURIComponent(v.tenant_id) + "/contact-points/" + encodeURIComponent(kind) + "/exclusion", body);
    if (r.status !== 200) return fail(errorOf(r));
    await openTenant(v.tenant_id);
    say(on ? "Number excluded." : "Exclusion removed.");
  }

  // ------------------------------------------------------------ inbox

  async function loadInbox(ev) {
    if (ev) ev.preventDefault();
    fail("");
    show("inbox");
    const r = await api("GET", "/api/inbox?status=" + encodeURIComponent($("inbox-status").value));
    if (r.status !== 200) return fail(errorOf(r));
    const body = clear($("inbox-table").tBodies[0]);
    for (const m of r.data.messages || r.data.items || []) {
      const tenants = (m.tenants || []).map((t) => el("button", { type: "button", className: "secondary", text: (t.name || "") + " (" + t.tenant_id + ")", on: { click: () => openTenant(t.tenant_id) } }));
      const action = m.handled_at
        ? el("span", { text: "Handled " + when(m.handled_at) + " by " + (m.handled_by || "") })
        : !can("collector") ? el("span", { text: "Open" })
        : el("button", { type: "button", className: "mark-handled", text: "Mark handled", "aria-label": "Mark handled: message from " + m.from, on: { click: () => markHandled(m.id) } });
      const actions = [action];
      if (m.revocation_phrase && !m.undone_at) {
        actions.unshift(el("span", { text: "Taken as an opt-out (\"" + m.revocation_phrase + "\"). " }));
        if (can("collector")) actions.push(el("button", { type: "button", className: "secondary undo-opt-out", text: "Undo opt-out", "aria-label": "Undo the opt-out: message from " + m.from, on: { click: () => undoOptOut(m.id) } }));
      } else if (m.undone_at) {
        actions.unshift(el("span", { text: "Opt-out undone " + when(m.undone_at) + " by " + (m.undone_by || "") + ". " }));
      }
      if (window.rentmsgDay) actions.push(...window.rentmsgDay.inboxActions(m));
      body.append(el("tr", {}, el("td", { text: when(m.received_at) }), el("td", { text: m.from }), el("td", {}, tenants.length ? tenants : "unknown number"), el("td", { text: m.body }), el("td", {}, actions)));
    }
    say("Inbox loaded.");
  }

  async function markHandled(id) {
    const r = await api("POST", "/api/inbox/" + id + "/handled", undefined);
    if (r.status !== 200) return fail(errorOf(r));
    await loadInbox();
    say("Message marked handled.");
  }

  async function undoOptOut(id) {
    const r = await api("POST", "/api/inbox/" + id + "/undo-opt-out", undefined);
    if (r.status !== 200) return fail(errorOf(r));
    await loadInbox();
    say("Opt-out undone (audited).");
  }

  // ------------------------------------------------------------ reports

  function reportParams() {
    const p = new URLSearchParams();
    if ($("reports-from").value) p.set("from", $("reports-from").value);
    if ($("reports-to").value) p.set("to", $("reports-to").value);
    if ($("reports-property").value.trim()) p.set("property_id", $("reports-property").value.trim());
    if ($("reports-by-language").checked) p.set("by", "language");
    return p;
  }

  let chartUrl = null;

  async function loadReports(ev) {
    if (ev) ev.preventDefault();
    fail("");
    show("reports");
    const p = reportParams();
    const r = await api("GET", "/api/reports?" + p);
    if (r.status !== 200) return fail(errorOf(r));
    const cols = ["queued", "sent", "delivered", "blocked", "failed", "replies", "opt_outs", "links_opened", "promises", "promises_kept", "promises_broken", "payments_after_notice"];
    if (!$("reports-from").value) $("reports-from").value = r.data.from;
    if (!$("reports-to").value) $("reports-to").value = r.data.to;
    const table = $("reports-table");
    clear(table.tHead).append(el("tr", {}, el("th", { scope: "col", text: "Property" }), cols.map((c) => el("th", { scope: "col", className: "num", text: c.replace(/_/g, " ") })), el("th", { scope: "col", text: "Blocked by reason" })));
    const body = clear(table.tBodies[0]);
    const row = (name, c) => el("tr", {}, el("th", { scope: "row", text: name }), cols.map((k) => el("td", { className: "num", text: c[k] })),
      el("td", { text: Object.entries(c.blocked_by_reason || {}).map(([k, n]) => k + ": " + n).join("; ") }));
    const lang = (l) => LANGUAGE_NAMES[l.language] || l.language;
    for (const prop of r.data.properties) {
      body.append(row(prop.property_name + " (" + prop.property_id + ")", prop));
      for (const l of prop.languages || []) body.append(row("… " + lang(l) + " (" + prop.property_id + ")", l));
    }
    body.append(row("All", r.data.totals));
    // Per language and currency: figures of two currencies are never added.
    for (const l of r.data.languages || []) body.append(row("All, " + lang(l) + " (" + l.currency + ")", l));
    // The chart draws the totals; the split is the table's.
    p.delete("by");
    const svg = await api("GET", "/api/reports/chart.svg?" + p, undefined, "image/svg+xml");
    if (svg.status === 200) {
      if (chartUrl) URL.revokeObjectURL(chartUrl);
      chartUrl = URL.createObjectURL(svg.blob);
      $("reports-chart").src = chartUrl;
      $("reports-chart").alt = "Bar chart of messages and outcomes, " + r.data.from + " to " + r.data.to + " (the same figures as the table)";
      $("reports-caption").textContent = "From " + r.data.from + " to " + r.data.to;
      $("reports-figure").hidden = false;
    }
    say("Report from " + r.data.from + " to " + r.data.to + ".");
  }

  async function downloadCsv() {
    fail("");
    const r = await api("GET", "/api/reports?" + reportParams(), undefined, "text/csv");
    if (r.status !== 200) return fail("The CSV could not be made (" + r.status + ").");
    const url = URL.createObjectURL(r.blob);
    const a = el("a", { href: url, download: "report.csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // ------------------------------------------------------------ staff users (admin)

  function propertyList(text) {
    return text.split(",").map((p) => p.trim()).filter((p) => p);
  }

  // A token is shown once, in a read-only field, focused so it can be copied.
  function showToken(username, token) {
    $("users-secret-who").textContent = username;
    $("users-secret-token").value = token;
    $("users-secret").hidden = false;
    $("users-secret-title").focus();
  }

  function hideToken() {
    $("users-secret-token").value = "";
    $("users-secret").hidden = true;
  }

  async function loadUsers() {
    fail("");
    show("users");
    const r = await api("GET", "/api/staff-users");
    if (r.status !== 200) return fail(errorOf(r));
    state.users = r.data.users || [];
    const body = clear($("users-table").tBodies[0]);
    for (const u of state.users) {
      body.append(el("tr", { "data-user": u.username },
        el("td", { text: u.username }),
        el("td", { text: u.display_name }),
        el("td", { text: ROLE_NAMES[u.role] || u.role }),
        el("td", { text: u.property_ids.length ? u.property_ids.join(", ") : "all" }),
        el("td", { text: (u.disabled ? "disabled" : "active") + (u.has_password ? "" : ", no password") }),
        el("td", {}, el("button", { type: "button", className: "secondary edit-user", text: "Edit", "aria-label": "Edit " + u.username, on: { click: () => editUser(u.id) } }))));
    }
    say(state.users.length + " staff account(s).");
  }

  function editUser(id) {
    const u = state.users.find((x) => x.id === id);
    if (!u) return;
    state.editing = u;
    $("user-edit-title").textContent = "Edit " + u.username;
    $("user-edit-display").value = u.display_name || "";
    $("user-edit-role").value = u.role;
    $("user-edit-properties").value = u.property_ids.join(", ");
    $("user-edit-disabled").checked = !!u.disabled;
    $("user-password").value = "";
    $("user-edit").hidden = false;
    $("user-edit-title").focus();
  }

  async function createUser(ev) {
    ev.preventDefault();
    fail("");
    hideToken();
    const body = { username: $("user-new-username").value.trim(), role: $("user-new-role").value, property_ids: propertyList($("user-new-properties").value) };
    const display = $("user-new-display").value.trim();
    if (display) body.display_name = display;
    const password = $("user-new-password").value;
    if (password) body.password = password;
    const r = await api("POST", "/api/staff-users", body);
    $("user-new-password").value = "";
    if (r.status !== 201) return fail(errorOf(r));
    for (const f of ["user-new-username", "user-new-display", "user-new-properties"]) $(f).value = "";
    await loadUsers();
    say("Account " + r.data.username + " created.");
    showToken(r.data.username, r.data.token);
  }

  async function saveUser(ev) {
    ev.preventDefault();
    fail("");
    const u = state.editing;
    if (!u) return;
    const body = {
      display_name: $("user-edit-display").value.trim(),
      role: $("user-edit-role").value,
      property_ids: propertyList($("user-edit-properties").value),
      disabled: $("user-edit-disabled").checked,
    };
    const r = await api("PATCH", "/api/staff-users/" + u.id, body);
    if (r.status !== 200) return fail(errorOf(r));
    await loadUsers();
    editUser(u.id);
    say("Account " + u.username + " saved.");
  }

  async function rotateToken() {
    fail("");
    const u = state.editing;
    if (!u) return;
    const r = await api("POST", "/api/staff-users/" + u.id + "/token", undefined);
    if (r.status !== 200) return fail(errorOf(r));
    say("New token for " + u.username + "; the old one no longer works.");
    showToken(u.username, r.data.token);
  }

  async function setPassword(ev) {
    ev.preventDefault();
    fail("");
    const u = state.editing;
    if (!u) return;
    const password = $("user-password").value;
    if (password.length < 12) { $("user-password").focus(); return fail("The password needs at least 12 characters."); }
    const r = await api("PUT", "/api/staff-users/" + u.id + "/password", { password });
    $("user-password").value = "";
    if (r.status !== 204) return fail(errorOf(r));
    await loadUsers();
    say("Password set for " + u.username + ".");
  }

  // ------------------------------------------------------------ wiring

  // The hooks day.js builds on.
  window.rentmsgConsole = { api, el, clear, show, say, fail, errorOf, openTenant, can };

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOutClicked);
    $("nav-users").addEventListener("click", () => loadUsers());
    $("user-new-form").addEventListener("submit", createUser);
    $("user-edit-form").addEventListener("submit", saveUser);
    $("user-rotate").addEventListener("click", rotateToken);
    $("user-password-form").addEventListener("submit", setPassword);
    $("users-secret-done").addEventListener("click", () => { hideToken(); $("users-title").focus(); });
    $("nav-calls").addEventListener("click", () => loadCalls());
    $("nav-inbox").addEventListener("click", () => loadInbox());
    $("nav-reports").addEventListener("click", () => loadReports());
    $("calls-filter").addEventListener("submit", loadCalls);
    $("calls-callable-only").addEventListener("change", () => loadCalls());
    $("calls-stage").addEventListener("change", () => loadCalls());
    $("calls-more").addEventListener("click", () => loadCalls(null, $("calls-more").dataset.after));
    $("open-tenant").addEventListener("submit", (ev) => { ev.preventDefault(); const id = $("open-tenant-id").value.trim(); if (id) openTenant(id); });
    $("call-form").addEventListener("submit", recordCall);
    $("msg-form").addEventListener("submit", sendMessage);
    $("msg-channel").addEventListener("change", renderTemplates);
    $("msg-language").addEventListener("change", renderTemplates);
    $("msg-send-now").addEventListener("click", sendNow);
    $("consent-form").addEventListener("submit", saveConsent);
    $("excl-form").addEventListener("submit", saveExclusions);
    $("inbox-filter").addEventListener("submit", loadInbox);
    $("reports-form").addEventListener("submit", loadReports);
    $("reports-csv").addEventListener("click", downloadCsv);
    $("reports-by-language").addEventListener("change", () => loadReports());
    window.addEventListener("unhandledrejection", (e) => { if (!(e.reason && e.reason.message === "not signed in")) fail(String(e.reason && e.reason.message || e.reason)); });
    applyRole();
    // Still signed in (the cookie outlives a reload)? Otherwise the sign-in page, quietly.
    request("GET", "/api/me").then((r) => (r.status === 200 ? started() : signOut(""))).catch(() => signOut(""));
  });
})();
