/*
 * B12 helper chat widget: plain JavaScript, no framework, no build step, no outside requests
 * except to the configured Rasa server (REST channel) and widget.css next to this file.
 *
 * Add it with one script tag:
 *   <script src="widget.js" data-server="https://rasa.example.org" data-title="B12 helper"
 *           data-greeting="Hi! Ask me about vitamin B12 and autoimmunity." defer></script>
 * or set window.B12ChatConfig = {server, title, greeting, ...} before it (data-* attributes win).
 *
 * Options (data-* attribute / config key):
 *   data-server / server        base URL of the Rasa server (default: this page's origin); https:,
 *                               or http: on this machine (localhost, 127.0.0.1, [::1]) only: with any
 *                               other URL the widget sends nothing and shows the error bubble
 *   data-title / title          panel heading (default "B12 helper")
 *   data-greeting / greeting    first bubble, shown locally, never sent to the server
 *   data-open / open            "true": start with the panel open
 *   data-css / css              stylesheet URL (default widget.css beside widget.js; "none" for none)
 *   data-timeout / timeout      seconds to wait for a reply (default 30)
 * The page's address never changes the server (there is no ?server= parameter).
 *
 * Errors: when the server can't be reached, answers non-2xx, or sends no message, an error bubble gives
 * the emergency number.
 * Content loop: a message that quotes the source carries `source` (title, https URL, the section
 * headings quoted, the review date), shown as a small "Source" disclosure under it; the provider
 * caveat of a new answer carries "was this helpful?" buttons (payload /rate_answer{...}), shown as
 * two buttons under the answer and gone once one is clicked.
 * Safety: every message is rendered with text nodes (never innerHTML). The only links made are
 * https: URLs on hopkinsmedicine.org found in the assistant's messages (an http: one stays text). The conversation is
 * kept in sessionStorage as data (sender id and messages), never as HTML.
 */
(function () {
  "use strict";

  if (window.B12Chat) return; // loaded twice: keep the first

  const CAVEAT_PREFIX = "This is general information, not medical advice";
  const EMERGENCY_PREFIX = "This may be an emergency";
  const ERROR_TEXT =
    "Sorry, I can't reach the assistant right now. " +
    "If this is an emergency, call your local emergency number now (911 in the US).";
  const LINK_HOST = "hopkinsmedicine.org";
  const MAX_HISTORY = 200;
  const MAX_INPUT = 1000;
  const RATE_PAYLOAD = "/rate_answer";
  const MAX_SOURCE_TEXT = 200;

  const script =
    document.currentScript ||
    (function () {
      const all = document.querySelectorAll('script[src*="widget.js"]');
      return all[all.length - 1] || null;
    })();
  const data = (script && script.dataset) || {};
  const given = window.B12ChatConfig && typeof window.B12ChatConfig === "object" ? window.B12ChatConfig : {};

  function option(attr, key, fallback) {
    if (data[attr] !== undefined && data[attr] !== "") return String(data[attr]);
    if (given[key] !== undefined && given[key] !== null && given[key] !== "") return String(given[key]);
    return fallback;
  }

  const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

  // The one rule for every URL the widget uses (the server, a link): https:, or http: on this machine
  // only, and no user name or password. Returns the parsed URL, or null.
  function safeUrl(value) {
    let u;
    try {
      u = new URL(value);
    } catch (e) {
      return null;
    }
    if (u.username || u.password) return null;
    if (u.protocol === "https:") return u;
    if (u.protocol === "http:" && LOOPBACK.indexOf(u.hostname.toLowerCase()) !== -1) return u;
    return null;
  }

  function serverUrl() {
    const server = option("server", "server", window.location.origin);
    if (!safeUrl(server)) {
      if (window.console) window.console.error("B12 helper: the server must be https:// (http:// only on this machine)");
      return null;
    }
    return server.replace(/\/+$/, "");
  }

  const config = {
    server: serverUrl(),
    title: option("title", "title", "B12 helper"),
    greeting: option("greeting", "greeting", "Hi! Ask me about vitamin B12 and autoimmunity."),
    open: option("open", "open", "false") === "true",
    css: option("css", "css", script && script.src ? new URL("widget.css", script.src).href : "widget.css"),
    timeoutMs: Math.max(1, Number(option("timeout", "timeout", "30")) || 30) * 1000,
  };
  const endpoint = config.server ? config.server + "/webhooks/rest/webhook" : null;
  const storageKey = "b12chat:v1:" + endpoint;

  // ---- state kept in sessionStorage (data only, never HTML) ----------------------------------

  function newSenderId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons
      .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string" && b.title.trim())
      .map((b) => ({ title: b.title, payload: b.payload }));
  }

  function shortText(value) {
    return typeof value === "string" && value.trim() ? value.trim().slice(0, MAX_SOURCE_TEXT) : null;
  }

  // Where a message's quotes come from, kept as plain strings; a link only if allowedLink says so.
  function cleanSource(source) {
    if (!source || typeof source !== "object") return null;
    const title = shortText(source.title);
    if (!title) return null;
    const out = { title: title, sections: [] };
    if (Array.isArray(source.sections)) out.sections = source.sections.map(shortText).filter(Boolean).slice(0, 5);
    const reviewed = shortText(source.reviewed);
    if (reviewed) out.reviewed = reviewed;
    const by = shortText(source.reviewed_by);
    if (by) out.reviewedBy = by;
    const url = typeof source.url === "string" ? allowedLink(source.url) : null;
    if (url) out.url = url;
    return out;
  }

  function cleanItem(item) {
    if (!item || typeof item.text !== "string") return null;
    if (["user", "bot", "error"].indexOf(item.from) === -1) return null;
    const out = { from: item.from, text: item.text };
    const buttons = cleanButtons(item.buttons);
    if (item.from === "bot" && buttons.length) out.buttons = buttons;
    const source = item.from === "bot" ? cleanSource(item.source) : null;
    if (source) out.source = source;
    return out;
  }

  function load() {
    let saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null");
    } catch (e) {
      saved = null; // storage blocked or corrupt: start fresh
    }
    const state = { sender: newSenderId(), history: [], open: config.open };
    if (saved && typeof saved === "object") {
      if (typeof saved.sender === "string" && /^[A-Za-z0-9-]{8,64}$/.test(saved.sender)) state.sender = saved.sender;
      if (Array.isArray(saved.history)) state.history = saved.history.map(cleanItem).filter(Boolean);
      if (typeof saved.open === "boolean") state.open = saved.open;
    }
    return state;
  }

  const state = load();

  function save() {
    if (state.history.length > MAX_HISTORY) state.history = state.history.slice(-MAX_HISTORY);
    try {
      window.sessionStorage.setItem(
        storageKey,
        JSON.stringify({ sender: state.sender, history: state.history, open: state.open })
      );
    } catch (e) {
      // storage full or blocked: the conversation still works, it just won't survive a reload
    }
  }

  // ---- DOM helpers --------------------------------------------------------------------------

  let idCount = 0;
  function uid(name) {
    idCount += 1;
    return "b12c-" + name + "-" + idCount;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function srOnly(text) {
    return el("span", "b12c-sr", text);
  }

  function allowedLink(raw) {
    const u = safeUrl(raw);
    if (!u || u.protocol !== "https:") return null;
    const host = u.hostname.toLowerCase();
    if (host !== LINK_HOST && !host.endsWith("." + LINK_HOST)) return null;
    return u.href;
  }

  // The one way a link is made: `href` has passed allowedLink; it opens in a new tab, and says so.
  function linkTo(href, text) {
    const a = el("a", "b12c-link", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.appendChild(srOnly(" (opens in a new tab)"));
    return a;
  }

  // Text as text nodes; https: hopkinsmedicine.org URLs become links. Nothing is parsed as HTML.
  function appendText(parent, text, withLinks) {
    if (!withLinks) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    const re = /https?:\/\/[^\s<>"'`]+/gi;
    let last = 0;
    let match;
    while ((match = re.exec(text)) !== null) {
      let raw = match[0];
      const trail = raw.match(/[.,;:!?)\]}]+$/);
      if (trail) raw = raw.slice(0, raw.length - trail[0].length);
      const href = allowedLink(raw);
      if (!href) continue;
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(linkTo(href, raw));
      last = match.index + raw.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // ---- build the widget -----------------------------------------------------------------------

  const root = el("div", "b12c-root");
  root.hidden = true; // shown once the stylesheet has loaded (or failed), to avoid a flash of raw markup

  const panelId = uid("panel");
  const titleId = uid("title");
  const inputId = uid("input");

  const launcher = el("button", "b12c-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-controls", panelId);
  launcher.appendChild(el("span", "b12c-launcher-icon")).setAttribute("aria-hidden", "true"); // CSS speech bubble
  launcher.appendChild(el("span", "b12c-launcher-text", config.title));

  const panel = el("section", "b12c-panel");
  panel.id = panelId;
  panel.setAttribute("aria-labelledby", titleId);

  const header = el("div", "b12c-header");
  const title = el("h2", "b12c-title", config.title);
  title.id = titleId;
  const resetButton = el("button", "b12c-reset", "Start over");
  resetButton.type = "button";
  const closeButton = el("button", "b12c-close");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  closeButton.appendChild(el("span", "", "\u00D7")).setAttribute("aria-hidden", "true");
  header.append(title, resetButton, closeButton);

  // The scrolling part: focusable, so that a keyboard user can scroll it (arrow keys, Page Up/Down).
  const scroller = el("div", "b12c-scroll");
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "region");
  scroller.setAttribute("aria-label", "Messages");
  const notice = el(
    "p",
    "b12c-notice",
    "Automated helper, not a doctor. In an emergency, call your local emergency number (911 in the US)."
  );
  const log = el("div", "b12c-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation with " + config.title);
  log.setAttribute("aria-busy", "false");

  const typing = el("div", "b12c-typing");
  typing.setAttribute("role", "status");
  typing.hidden = true;
  const dots = el("span", "b12c-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.append(el("span"), el("span"), el("span"));
  typing.append(dots, srOnly("The assistant is typing\u2026"));
  scroller.append(notice, log, typing);

  const form = el("form", "b12c-form");
  form.noValidate = true;
  const label = el("label", "b12c-label", "Type your question");
  label.htmlFor = inputId;
  const row = el("div", "b12c-row");
  const input = el("input", "b12c-input");
  input.id = inputId;
  input.type = "text";
  input.name = "message";
  input.autocomplete = "off";
  input.maxLength = MAX_INPUT;
  input.setAttribute("enterkeyhint", "send");
  input.placeholder = "e.g. What is pernicious anemia?";
  const sendButton = el("button", "b12c-send", "Send");
  sendButton.type = "submit";
  row.append(input, sendButton);
  form.append(label, row);

  panel.append(header, scroller, form);
  root.append(panel, launcher);

  // ---- rendering ------------------------------------------------------------------------------

  function kindOf(item) {
    if (item.from === "user") return "user";
    if (item.from === "error") return "error";
    const text = item.text.trim();
    if (text.indexOf(CAVEAT_PREFIX) === 0) return "caveat";
    if (text.indexOf(EMERGENCY_PREFIX) === 0) return "emergency";
    return "bot";
  }

  const WHO = { user: "You said: ", bot: "Assistant: ", caveat: "Assistant: ", emergency: "Assistant: ", error: "" };

  function renderItem(item) {
    const kind = kindOf(item);
    const msg = el("div", "b12c-msg b12c-msg--" + (kind === "user" ? "user" : "bot"));
    if (kind === "caveat" || kind === "emergency" || kind === "error") msg.classList.add("b12c-msg--" + kind);
    if (WHO[kind]) msg.appendChild(srOnly(WHO[kind]));
    const body = el("span", "b12c-text");
    appendText(body, item.text, kind !== "user");
    msg.appendChild(body);
    if (item.source) msg.appendChild(renderSource(item.source));
    return msg;
  }

  // A small disclosure: the source's title, the parts quoted, the review date and the link.
  function renderSource(source) {
    const details = el("details", "b12c-source");
    details.appendChild(el("summary", "b12c-source-summary", "Source"));
    const facts = el("div", "b12c-source-facts");
    facts.appendChild(el("p", null, "Quoted from: " + source.title));
    if (source.sections.length) facts.appendChild(el("p", null, "Parts quoted: " + source.sections.join("; ")));
    if (source.reviewed) {
      const by = source.reviewedBy ? " by our " + source.reviewedBy : "";
      facts.appendChild(el("p", null, "Last checked: " + source.reviewed + by));
    }
    if (source.url) {
      const p = el("p");
      p.appendChild(linkTo(source.url, source.url));
      facts.appendChild(p);
    }
    details.appendChild(facts);
    return details;
  }

  function isRating(buttons) {
    return buttons.length > 0 && buttons.every((b) => b.payload.indexOf(RATE_PAYLOAD) === 0);
  }

  function renderReplies(buttons) {
    const rating = isRating(buttons);
    const group = el("div", "b12c-replies" + (rating ? " b12c-replies--rating" : ""));
    group.setAttribute("role", "group");
    if (rating) {
      const label = el("span", "b12c-rating-label", "Was this helpful?");
      label.id = uid("rating");
      group.setAttribute("aria-labelledby", label.id);
      group.appendChild(label);
    } else {
      group.setAttribute("aria-label", "Suggested replies");
    }
    buttons.forEach((b) => {
      const button = el("button", "b12c-reply", b.title);
      button.type = "button";
      button.addEventListener("click", () => {
        send(b.payload, b.title);
        input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }

  function clearReplies() {
    Array.prototype.slice.call(log.querySelectorAll(".b12c-replies")).forEach((g) => g.remove());
  }

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function greetingItem() {
    const g = renderItem({ from: "bot", text: config.greeting });
    g.classList.add("b12c-msg--greeting");
    return g;
  }

  function renderAll() {
    log.textContent = "";
    if (config.greeting) log.appendChild(greetingItem());
    state.history.forEach((item) => log.appendChild(renderItem(item)));
    const last = state.history[state.history.length - 1];
    if (last && last.buttons) log.appendChild(renderReplies(last.buttons));
  }

  // Show a reply from its start: scroll the user's message to the top (the browser clamps at the end).
  function scrollToMessage(node) {
    if (!node || !node.isConnected) return scrollToEnd();
    const offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    scroller.scrollTop += offset - 8;
  }

  function add(item) {
    state.history.push(item);
    save();
    const node = renderItem(item);
    log.appendChild(node);
    if (item.buttons && item.buttons.length) log.appendChild(renderReplies(item.buttons));
    scrollToEnd();
    return node;
  }

  // ---- talking to Rasa --------------------------------------------------------------------------

  let pending = 0;
  let queue = Promise.resolve();

  function setBusy(busy) {
    log.setAttribute("aria-busy", busy ? "true" : "false");
    root.setAttribute("data-busy", busy ? "true" : "false");
    typing.hidden = !busy;
    if (busy) scrollToEnd();
  }

  function post(message) {
    if (!endpoint) return Promise.reject(new Error("no safe server configured"));
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), config.timeoutMs) : null;
    return fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: message }),
      signal: controller ? controller.signal : undefined,
    })
      .then((response) => {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then((replies) => {
        if (!Array.isArray(replies)) throw new Error("unexpected reply");
        return replies;
      })
      .finally(() => {
        if (timer) clearTimeout(timer);
      });
  }

  // Returns how many messages were shown.
  function showReplies(replies) {
    let shown = 0;
    replies.forEach((r) => {
      if (!r || typeof r !== "object") return;
      const buttons = cleanButtons(r.buttons);
      const text = typeof r.text === "string" ? r.text : "";
      if (!text.trim() && !buttons.length) return; // images, custom payloads: not shown
      const item = { from: "bot", text: text };
      if (buttons.length) item.buttons = buttons;
      const source = cleanSource(r.source);
      if (source) item.source = source;
      add(item);
      shown += 1;
    });
    return shown;
  }

  function send(message, shown) {
    clearReplies();
    const mine = add({ from: "user", text: shown });
    pending += 1;
    setBusy(true);
    const senderAtSend = state.sender;
    queue = queue
      .then(() => post(message))
      .then(
        (replies) => {
          // An empty answer (the assistant's REST channel never sends one; a proxy might): never leave
          // the patient without a reply, show the error with the emergency number.
          if (state.sender === senderAtSend && showReplies(replies) === 0) add({ from: "error", text: ERROR_TEXT });
        },
        () => {
          if (state.sender === senderAtSend) add({ from: "error", text: ERROR_TEXT });
        }
      )
      .then(() => {
        pending -= 1;
        if (pending === 0) setBusy(false);
        scrollToMessage(mine);
      });
  }

  // ---- events ---------------------------------------------------------------------------------

  function setOpen(open, focusTarget) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    root.classList.toggle("b12c-open", open);
    if (open) {
      scrollToEnd();
      if (focusTarget !== false) input.focus();
    } else if (focusTarget !== false) {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });

  resetButton.addEventListener("click", () => {
    state.sender = newSenderId();
    state.history = [];
    save();
    renderAll();
    input.value = "";
    input.focus();
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    send(text, text);
    input.focus();
  });

  // ---- start ----------------------------------------------------------------------------------

  function show() {
    root.hidden = false;
    if (state.open) scrollToEnd();
  }

  function start() {
    renderAll();
    setOpen(state.open, false);
    setBusy(false);
    document.body.appendChild(root);
    if (config.css && config.css !== "none") {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = config.css;
      link.addEventListener("load", show);
      link.addEventListener("error", show);
      document.head.appendChild(link);
      setTimeout(show, 3000);
    } else {
      show();
    }
  }

  window.B12Chat = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    reset: () => resetButton.click(),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
