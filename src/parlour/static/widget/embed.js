/* Parlour comment widget. Plain ES2020: no framework, no build step, no dependencies.
   Renders into a Shadow DOM and builds every node with createElement/textContent; the only HTML it inserts is a
   comment's `html`, sanitised by the server with an allowlist (see setHtml). Works under a strict CSP: no inline
   script or style, no eval; styles come from widget.css, loaded into the shadow root. */
(() => {
  "use strict";
  if (window.Parlour && window.Parlour.render) return; // the script was included twice

  // document.currentScript is only set while this script first runs (it is null later for async scripts).
  const SCRIPT = document.currentScript;
  const SRC = (SCRIPT && SCRIPT.src) || location.href;
  const API = new URL(SRC).origin + "/api/v1";
  // The server replaces the placeholder with its content-hashed asset folder; unreplaced (the file served as it
  // is, e.g. from /static/widget/), the assets sit next to this script.
  const PLACED = "__PARLOUR_ASSETS__";
  const ASSETS = (/^https?:\/\//.test(PLACED) ? PLACED : new URL(".", SRC).href).replace(/\/?$/, "/");
  const LANGS = ["en", "de"];
  const SORTS = ["top", "newest", "oldest"];
  const DEFAULTS = { max_body_chars: 5000, max_name_chars: 64, edit_window_seconds: 900, max_depth: 8, sign_in_required: false };
  const PAGE = 20;
  const MAX_TIMER = 2147483647;
  const instances = new WeakMap();
  let leaving = false; // the page is unloading: requests cut short are not the reader's problem
  addEventListener("pagehide", () => (leaving = true));
  addEventListener("pageshow", () => (leaving = false));

  // ---------------------------------------------------------------- small helpers

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child != null && child !== false) node.append(child); // strings become text
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function icon(path) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon");
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", path);
    svg.append(p);
    return svg;
  }
  const HEART = "M12 21s-7.5-4.6-9.6-9.3C.9 8.2 3 4.5 6.6 4.5c2.1 0 3.9 1.2 5.4 3.1 1.5-1.9 3.3-3.1 5.4-3.1 3.6 0 5.7 3.7 4.2 7.2C19.5 16.4 12 21 12 21z";
  const CHEVRON = "M6 9l6 6 6-6";

  // Trusted Types: when the page enforces them, a policy named "parlour" must be allowed for comment HTML.
  let policy = null;
  try {
    if (window.trustedTypes) policy = window.trustedTypes.createPolicy("parlour", { createHTML: (s) => s });
  } catch (_) {
    policy = null;
  }

  // The one place HTML enters the page: comment.html, rendered from Markdown and sanitised with nh3 on the server.
  function setHtml(node, html) {
    node.innerHTML = policy ? policy.createHTML(html) : html;
    for (const a of node.querySelectorAll("a[href]")) {
      a.target = "_blank";
      a.rel = "nofollow ugc noopener";
    }
  }

  const store = {
    get(key, fallback) {
      try {
        const value = localStorage.getItem("parlour:" + key);
        return value == null ? fallback : JSON.parse(value);
      } catch (_) {
        return fallback; // storage blocked (private mode, sandboxed frames): work without memory
      }
    },
    set(key, value) {
      try {
        if (value == null || value === "") localStorage.removeItem("parlour:" + key);
        else localStorage.setItem("parlour:" + key, JSON.stringify(value));
      } catch (_) {
        /* full or blocked: nothing to do */
      }
    },
  };

  function randomKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const chars = (text) => Array.from(text).length; // code points, as the server counts
  const safeWebsite = (url) => {
    try {
      const parsed = new URL(url);
      return /^https?:$/.test(parsed.protocol) ? parsed.href : null;
    } catch (_) {
      return null;
    }
  };
  const reducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;

  // Highlights may overlap (a word list and a model category on the same word): one <mark> per stretch.
  const mergedSpans = (highlights) => {
    const merged = [];
    for (const { start, end } of [...highlights].sort((a, b) => a.start - b.start || a.end - b.end)) {
      const last = merged[merged.length - 1];
      if (last && start <= last[1]) last[1] = Math.max(last[1], end);
      else merged.push([start, end]);
    }
    return merged;
  };

  class ApiError extends Error {
    constructor(status, detail, errors) {
      super(detail);
      this.status = status;
      this.errors = errors || [];
    }
  }

  // ---------------------------------------------------------------- reader sign-in (publisher SSO)

  // The publisher's token is exchanged for a short Parlour session, kept in memory only and sent as a Bearer
  // token: no cookies, which browsers block in embeds anyway. One session per site, shared by its threads.
  const sessions = new Map(); // site -> Promise<{token, expires, reader} | null>
  const threads = new Set(); // live threads, told when the reader signs in or out
  let loginHandler = null; // the host page's onLoginRequest

  function exchange(site, token) {
    const pending = fetch(API + "/reader/session", {
      method: "POST",
      credentials: "omit",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ site, token }),
    })
      .then(async (response) => {
        const data = await response.json().catch(() => null);
        if (!response.ok) {
          console.warn("Parlour: sign-in refused:", (data && data.detail) || response.status); // eslint-disable-line no-console
          return null;
        }
        return { token: data.session_token, expires: Date.parse(data.expires_at), reader: data.reader };
      })
      .catch(() => null);
    sessions.set(site, pending);
    return pending;
  }

  async function sessionFor(site) {
    const session = await (sessions.get(site) || null);
    return session && session.expires > Date.now() + 5000 ? session : null;
  }

  // ---------------------------------------------------------------- i18n

  const catalogs = new Map();
  function catalog(lang) {
    if (!catalogs.has(lang)) {
      const url = ASSETS + "i18n/" + lang + ".json";
      catalogs.set(lang, fetch(url).then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status)))));
    }
    return catalogs.get(lang);
  }

  // Each formatter is used once right away: the browser loads its locale data on first use (20-100 ms in
  // Chromium), which then happens while the thread is still on its way, not after it arrived.
  function formatters(lang) {
    const f = {
      plural: new Intl.PluralRules(lang),
      number: new Intl.NumberFormat(lang),
      relative: new Intl.RelativeTimeFormat(lang, { numeric: "auto" }),
      absolute: new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short" }),
    };
    f.plural.select(1);
    f.number.format(1);
    f.relative.format(-1, "day");
    f.absolute.format(Date.now());
    return f;
  }

  async function translator(lang) {
    const loading = catalog(lang); // asked for before the formatters' slow first use
    let formats = formatters(lang);
    let messages;
    try {
      messages = await loading;
    } catch (_) {
      lang = "en";
      formats = formatters(lang);
      messages = await catalog("en").catch(() => ({}));
    }
    const { plural, number, relative, absolute } = formats;
    const t = (key, vars = {}) => {
      let message = messages[key];
      if (message && typeof message === "object") message = message[plural.select(vars.count || 0)] || message.other;
      if (typeof message !== "string") return key;
      return message.replace(/\{(\w+)\}/g, (all, name) =>
        name in vars ? (typeof vars[name] === "number" ? number.format(vars[name]) : String(vars[name])) : all,
      );
    };
    t.lang = lang;
    t.number = (n) => number.format(n);
    t.absolute = (date) => absolute.format(date);
    t.relative = (date) => {
      const seconds = (date.getTime() - Date.now()) / 1000;
      const abs = Math.abs(seconds);
      if (abs < 45) return t("time.now");
      const units = [
        ["minute", 60, 3600],
        ["hour", 3600, 86400],
        ["day", 86400, 604800],
        ["week", 604800, 2629800],
        ["month", 2629800, 31557600],
        ["year", 31557600, Infinity],
      ];
      const [unit, size] = units.find(([, , limit]) => abs < limit);
      return relative.format(Math.round(seconds / size), unit);
    };
    return t;
  }

  function pickLang(value) {
    const base = String(value || "en").toLowerCase().split(/[-_]/)[0];
    return LANGS.includes(base) ? base : "en";
  }

  // ---------------------------------------------------------------- one thread

  class Thread {
    constructor(host, options) {
      this.host = host;
      this.o = options;
      this.byId = new Map(); // comment id -> entry {c, node, head, body, actions, slot, replies, content}
      this.fresh = new Set(); // ids announced by the stream, not shown yet
      this.held = []; // stream events that arrived while this reader's own post was on its way
      this.mine = new Set(); // ids this reader posted in this page: the stream's echo is ignored
      this.forms = new Set(); // open forms: redrawn when the reader signs in or out, or when /config arrives
      this.session = null;
      this.timers = new Set();
      this.abort = new AbortController();
      this.serial = 0;
      this.story = null;
      this.total = 0;
      this.sort = options.sort;
      this.cursor = null;
      this.backoff = 0;
      this.loads = 0; // thread loads started: only the latest one's answer is drawn
      this.root = host.shadowRoot || host.attachShadow({ mode: "open" });
      this.root.replaceChildren();
    }

    id(prefix) {
      return "p" + ++this.serial + "-" + prefix;
    }

    later(fn, ms) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        fn();
      }, Math.min(ms, MAX_TIMER));
      this.timers.add(timer);
      return timer;
    }

    destroy() {
      this.dead = true;
      threads.delete(this);
      this.abort.abort();
      if (this.es) this.es.close();
      if (this.resizes) this.resizes.disconnect();
      for (const timer of this.timers) clearTimeout(timer);
      clearInterval(this.ticker);
      this.root.replaceChildren();
    }

    async api(method, path, { query, body, headers, cache, keepalive, auth } = {}) {
      let url = API + path;
      if (query) url += "?" + new URLSearchParams(query);
      const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "omit" };
      // Reads stay anonymous (cacheable, no CORS preflight); writes carry the reader's session when there is one.
      const session = (method !== "GET" || auth) && this.session;
      if (session) init.headers.Authorization = "Bearer " + session.token;
      init.signal = keepalive ? null : this.abort.signal;
      init.keepalive = Boolean(keepalive); // finishes even when the reader leaves the page at once
      if (cache) init.cache = cache;
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
      let response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        if (error.name === "AbortError" || leaving) throw Object.assign(new Error("aborted"), { name: "AbortError" });
        throw new ApiError(0, this.t ? this.t("error.offline") : "Network error");
      }
      if (response.status === 204) return null;
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
      if (!response.ok) {
        const detail = (data && data.detail) || (this.t ? this.t("error.server", { status: response.status }) : "HTTP " + response.status);
        if (response.status === 401 && session) this.sessionLost();
        if (response.status === 401 && data && /login-required$/.test(data.type || "")) this.requestLogin();
        throw new ApiError(response.status, detail, data && data.errors);
      }
      return data;
    }

    // ------------------------------------------------------------ start-up

    // The first page is drawn as soon as it, the strings and the stylesheet are here. The site's config (DEFAULTS
    // until then) and the reader's session follow into the drawn thread: neither may delay the first comment.
    async start() {
      const { o } = this;
      // The critical path: asked for before anything else. Just after this reader posted or deleted here, past the
      // few seconds the browser may keep the thread, so that a reload shows what they did.
      const first = this.fetchPage(null, this.changedHereLately() ? "no-cache" : undefined).catch((error) => error);
      const config = this.api("GET", "/config", { query: { site: o.site } }).catch(() => ({}));
      if (o.sso && !sessions.has(o.site)) exchange(o.site, o.sso);
      const link = h("link", { rel: "stylesheet", href: ASSETS + "widget.css" });
      const styled = new Promise((resolve) => {
        link.addEventListener("load", resolve);
        link.addEventListener("error", resolve);
        this.later(resolve, 3000);
      });
      this.frame = h("div", { class: "parlour", hidden: true, "data-state": "loading" });
      this.root.append(link, this.frame);
      this.applyTheme();
      // Every request is on its way: the slow synchronous work now overlaps the wait for the answers.
      const strings = translator(o.lang);
      this.cap(); // measured now, while the widget is hidden: later it would cost a layout of the whole thread
      const [t, page] = await Promise.all([strings, first, styled]);
      if (this.dead) return;
      threads.add(this);
      this.t = t;
      this.config = { ...DEFAULTS };
      // "ready" (data-state) waits for both: it says the widget is complete, not merely visible.
      const followers = Promise.all([
        config.then((values) => this.dead || this.configured(values)),
        sessionFor(o.site).then((session) => this.dead || this.session || !session || this.signedIn(session)),
      ]);
      this.frame.lang = t.lang;
      this.build();
      this.frame.hidden = false;
      if (page instanceof Error) {
        if (page.name !== "AbortError") this.showLoadError(page);
        return;
      }
      this.showPage(page, true);
      await Promise.all([this.loadOwnPending(), followers]);
      if (this.dead) return;
      this.frame.dataset.state = "ready";
      this.began();
    }

    // What starts once the thread is shown for the first time, after start() or after "Try again".
    began() {
      if (this.started) return;
      this.started = true;
      this.followHash();
      window.addEventListener("hashchange", () => this.followHash(), { signal: this.abort.signal });
      this.ticker = setInterval(() => this.tick(), 60000);
      this.connect();
    }

    // This reader posted here, or deleted their comments, within the minute: the browser's copy is out of date.
    changedHereLately() {
      const lately = Date.now() - 60000;
      const posted = Object.values(this.owned()).some((v) => v.url === this.o.url && v.p > lately);
      return posted || store.get("changed:" + this.o.site, 0) > lately;
    }

    applyTheme() {
      const forced = this.o.theme === "light" || this.o.theme === "dark";
      const media = matchMedia("(prefers-color-scheme: dark)");
      const apply = () => {
        const dark = forced ? this.o.theme === "dark" : media.matches;
        this.frame.dataset.theme = dark ? "dark" : "light";
      };
      if (forced) this.frame.dataset.forced = "";
      else media.addEventListener("change", apply, { signal: this.abort.signal });
      apply();
    }

    build() {
      const { t } = this;
      this.live = h("div", { class: "vh", role: "status", "aria-live": "polite", "aria-atomic": "true" });
      this.countHeading = h("h2", { class: "p-count", id: this.id("count"), tabindex: "-1" });
      this.sortButtons = SORTS.map((sort) =>
        h("button", {
          type: "button",
          class: "p-sort-btn",
          "data-sort": sort,
          "aria-pressed": String(sort === this.sort),
          text: t("sort." + sort),
          onclick: () => this.changeSort(sort),
        }),
      );
      const sortGroup = h("div", { class: "p-sort", role: "group", "aria-label": t("sort.label") }, ...this.sortButtons);
      this.notice = h("p", { class: "p-notice", hidden: true, text: t("thread.closed") });
      this.composeSlot = h("div", { class: "p-compose" });
      this.newBar = h("button", { type: "button", class: "p-new", hidden: true, onclick: () => this.showFresh() });
      this.list = h("div", { class: "p-list" });
      this.foot = h("div", { class: "p-foot" });
      this.frame.append(
        this.live,
        h("header", { class: "p-head" }, this.countHeading, sortGroup),
        this.notice,
        this.composeSlot,
        h("div", { class: "p-new-wrap" }, this.newBar),
        this.list,
        this.foot,
      );
      this.setCount(0);
      this.showSkeleton();
    }

    showSkeleton() {
      const bones = [];
      for (let i = 0; i < 3; i++) {
        bones.push(h("div", { class: "p-bone", "aria-hidden": "true" }, h("span"), h("span"), h("span")));
      }
      this.list.setAttribute("aria-busy", "true");
      this.list.replaceChildren(h("p", { class: "vh", text: this.t("thread.loading") }), ...bones);
    }

    showLoadError(error) {
      const { t } = this;
      this.frame.dataset.state = "error";
      this.list.removeAttribute("aria-busy");
      this.countHeading.textContent = t("header.title"); // not "0 comments": nobody knows yet
      // The first request may fail before the catalog is here: its message is said again in the reader's language.
      const why = error.status === 0 ? t("error.offline") : error.message;
      this.list.replaceChildren(
        h(
          "div",
          { class: "p-error", role: "alert" },
          h("p", { text: t("error.load") + " " + why }),
          h("button", { type: "button", class: "btn", text: t("error.retry"), onclick: () => this.reload() }),
        ),
      );
    }

    fetchPage(cursor, cache) {
      const query = { site: this.o.site, url: this.o.url, sort: this.sort, limit: String(this.o.limit || PAGE) };
      if (cursor) query.cursor = cursor;
      return this.api("GET", "/threads", { query, cache });
    }

    async reload() {
      const load = ++this.loads; // a sort chosen while an earlier one is loading wins, whatever answers first
      this.frame.dataset.state = "loading";
      this.showSkeleton();
      this.foot.replaceChildren();
      try {
        const page = await this.fetchPage(null, "no-cache");
        if (load !== this.loads) return;
        this.showPage(page, true);
        await this.loadOwnPending();
        if (load !== this.loads) return;
        this.frame.dataset.state = "ready";
        this.began();
      } catch (error) {
        if (error.name !== "AbortError" && load === this.loads) this.showLoadError(error);
      }
    }

    setCount(total) {
      this.total = Math.max(0, total);
      this.countHeading.textContent = this.t("header.count", { count: this.total });
    }

    showPage(page, first) {
      if (first) {
        this.byId.clear();
        this.list.replaceChildren();
        this.list.removeAttribute("aria-busy");
        this.story = page.story;
        this.closed = Boolean(page.story && page.story.closed);
        this.setCount(page.total);
        this.notice.hidden = !this.closed;
        if (this.closed) this.composeSlot.replaceChildren();
        else if (!this.composeSlot.firstChild) this.composeSlot.append(this.form({ mode: "new" }).form);
      }
      // The first page brings featured comments from anywhere in the thread; later pages skip ones already shown.
      for (const c of page.featured || []) this.add(c, null, "featured");
      for (const c of page.comments) this.add(c, null, c.featured ? "featured" : "end");
      this.cursor = page.next_cursor;
      this.renderFoot();
    }

    renderFoot() {
      const { t } = this;
      this.foot.replaceChildren();
      if (this.cursor) {
        const button = h("button", { type: "button", class: "btn p-more", text: t("thread.loadMore") });
        button.addEventListener("click", () => this.loadMore(button));
        this.foot.append(button);
      } else if (!this.list.querySelector(".c")) {
        this.foot.append(h("p", { class: "p-empty", text: t("thread.empty") }));
      }
    }

    async loadMore(button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      const before = this.list.children.length;
      try {
        const page = await this.fetchPage(this.cursor);
        this.showPage(page, false);
        // Keep the keyboard where the reader was: on the first comment of the new page.
        const next = this.list.children[before];
        if (next) next.focus({ preventScroll: true });
      } catch (error) {
        if (error.name === "AbortError") return;
        button.disabled = false;
        button.removeAttribute("aria-busy");
        this.flash(button, error.message);
      }
    }

    async changeSort(sort) {
      if (sort === this.sort) return;
      this.sort = sort;
      store.set("sort", sort);
      for (const button of this.sortButtons) button.setAttribute("aria-pressed", String(button.dataset.sort === sort));
      await this.reload();
    }

    // ------------------------------------------------------------ comments

    cap() {
      // Indentation levels shown before "continue this thread": fewer on a narrow column. Measured once, then kept
      // current by a ResizeObserver, which is told sizes without forcing a layout: measuring for every comment
      // forced a layout of the growing thread each time.
      const levels = (width) => (width <= 480 ? 3 : 5);
      if (!this.capLevels) {
        this.capLevels = levels(this.host.getBoundingClientRect().width);
        this.resizes = new ResizeObserver(([entry]) => {
          const box = entry.borderBoxSize && entry.borderBoxSize[0];
          this.capLevels = levels(box ? box.inlineSize : entry.contentRect.width);
        });
        this.resizes.observe(this.host);
      }
      return this.capLevels;
    }

    nameOf(c) {
      return (c && c.author && c.author.name) || this.t("comment.anonymous");
    }

    // Add a comment (and its nested replies) under parent (an entry) or at the top level. A comment already
    // shown is not added twice, but replies it brings that are new are added under it.
    add(c, parent, where) {
      const existing = this.byId.get(c.id);
      if (existing) {
        for (const reply of c.replies || []) this.add(reply, existing, "sorted");
        return existing;
      }
      const entry = this.renderComment(c);
      if (parent) {
        this.placeReply(parent, entry);
      } else if (where === "start") {
        this.list.prepend(entry.node);
      } else if (where === "featured") {
        // Featured comments are pinned above the others, in the order they come.
        this.list.insertBefore(entry.node, this.list.querySelector(":scope > .c:not(.c--featured)"));
      } else {
        this.list.append(entry.node);
      }
      for (const reply of c.replies || []) this.add(reply, entry, "end");
      this.renderMore(entry);
      return entry;
    }

    placeReply(parent, entry) {
      const box = parent.replies;
      const when = entry.c.created_at;
      let before = null;
      for (const sibling of box.children) {
        if (sibling.classList.contains("c") && sibling.dataset.created > when) {
          before = sibling;
          break;
        }
      }
      box.insertBefore(entry.node, before || parent.moreButton || null);
      box.hidden = false;
      parent.c.reply_count = Math.max(parent.c.reply_count || 0, box.querySelectorAll(":scope > .c").length);
      this.capReplies(parent);
    }

    renderComment(c) {
      const node = h("article", {
        class: "c",
        id: "comment-" + c.id,
        "data-id": c.id,
        "data-d": Math.min(c.depth, 9),
        "data-created": c.created_at,
        tabindex: "-1",
      });
      const entry = { c, node };
      entry.slot = h("div", { class: "c-slot" });
      entry.replies = h("div", { class: "c-replies", id: this.id("replies"), role: "group", hidden: true });
      entry.content = h("div", { class: "c-content", id: this.id("content") });
      this.byId.set(c.id, entry);
      this.fillMain(entry);
      entry.content.append(entry.slot, entry.replies);
      node.append(entry.head, entry.content);
      return entry;
    }

    gone(c) {
      return c.status === "deleted" || c.status === "removed";
    }

    // Build (or rebuild) a comment's header, body and actions; its replies and open forms stay as they are.
    fillMain(entry) {
      const { c, node } = entry;
      const { t } = this;
      const head = this.gone(c) ? this.tombstone(entry) : this.header(entry);
      const body = h("div", { class: "c-body", dir: "auto" }); // Arabic or Hebrew text runs right to left
      if (!this.gone(c)) setHtml(body, c.html);
      const actions = this.gone(c) ? h("div", { class: "c-actions", hidden: true }) : this.actionBar(entry);
      if (entry.head) {
        entry.head.replaceWith(head);
        entry.body.replaceWith(body);
        entry.actions.replaceWith(actions);
      } else {
        entry.content.append(body, actions);
      }
      Object.assign(entry, { head, body, actions });
      node.classList.toggle("c--gone", this.gone(c));
      node.classList.toggle("c--featured", Boolean(c.featured));
      node.classList.toggle("c--pending", c.status === "pending");
      node.classList.toggle("c--mine", Boolean(this.own(c.id)));
      if (this.gone(c)) {
        node.removeAttribute("aria-labelledby");
        node.setAttribute("aria-label", t("comment.goneLabel"));
      } else {
        node.removeAttribute("aria-labelledby");
        node.setAttribute("aria-label", t("comment.label", { name: this.nameOf(c) })); // "Comment by Ann", not "Ann"
      }
      entry.replies.setAttribute("aria-label", t("thread.replies", { name: this.nameOf(c) }));
    }

    tombstone(entry) {
      const text = entry.c.status === "removed" ? "comment.removed" : "comment.deleted";
      const avatar = h("span", { class: "c-avatar c-avatar--gone", "aria-hidden": "true" });
      return h("div", { class: "c-head" }, avatar, h("p", { class: "c-tomb", text: this.t(text) }));
    }

    header(entry) {
      const { c } = entry;
      const { t } = this;
      const name = this.nameOf(c);
      entry.authorId = entry.authorId || this.id("author");
      const website = c.author && c.author.website && safeWebsite(c.author.website);
      const author = website
        ? h("a", {
            class: "c-author",
            id: entry.authorId,
            dir: "auto",
            href: website,
            rel: "nofollow ugc noopener",
            target: "_blank",
            "aria-label": t("comment.website", { name }),
            text: name,
          })
        : h("span", { class: "c-author", id: entry.authorId, dir: "auto", text: name });
      const seed = c.author && c.author.avatar_seed;
      const picture = this.o.avatars === "pictures" && c.author && c.author.avatar && safeWebsite(c.author.avatar);
      const avatar = picture
        ? h("span", { class: "c-avatar c-avatar--picture", "aria-hidden": "true" }, avatarImage(picture, seed, name))
        : seed
        ? this.identiconLater(h("span", { class: "c-avatar c-avatar--identicon", "aria-hidden": "true" }), seed)
        : h("span", { class: "c-avatar", "aria-hidden": "true", text: Array.from(name)[0].toUpperCase() });
      avatar.style.setProperty("--hue", String(hue(name))); // CSSOM, allowed under a strict style-src
      const toggle = h(
        "button",
        {
          type: "button",
          class: "c-toggle",
          "aria-expanded": String(!entry.collapsed),
          "aria-controls": entry.content.id,
          "aria-label": t("thread.toggle", { name }),
          onclick: () => this.collapse(entry, !entry.collapsed),
        },
        icon(CHEVRON),
      );
      const when = new Date(c.created_at);
      const time = h("time", { datetime: c.created_at, title: t.absolute(when), text: t.relative(when) });
      const permalink = h(
        "a",
        { class: "c-time", href: this.pageLink(c.id), onclick: (event) => this.onPermalink(event, c.id) },
        time,
      );
      const meta = h("span", { class: "c-meta" }, permalink);
      if (c.edited_at) {
        const edited = new Date(c.edited_at);
        meta.append(
          h("span", { class: "c-edited", title: t("comment.editedAt", { time: t.absolute(edited) }) }, t("comment.edited")),
        );
      }
      const badges = h("span", { class: "c-badges" });
      if (c.featured) badges.append(h("span", { class: "badge badge--featured", text: "★ " + t("comment.featured") }));
      // Badges the publisher gives its signed-in readers (Subscriber, Staff…), as plain text.
      for (const badge of (c.author && c.author.badges) || []) badges.append(h("span", { class: "badge", text: badge }));
      if (c.status === "pending") badges.append(h("span", { class: "badge badge--pending", text: t("comment.pending") }));
      else if (this.own(c.id)) badges.append(h("span", { class: "badge", text: t("comment.you") }));
      const parent = this.byId.get(c.parent_id);
      const line = h("div", { class: "c-line" }, author, badges, meta);
      if (parent && c.depth >= this.cap()) {
        line.append(h("span", { class: "c-to", text: "↳ " + t("comment.inReplyTo", { name: this.nameOf(parent.c) }) }));
      }
      entry.hiddenNote = h("span", { class: "c-hidden-note", hidden: !entry.collapsed });
      this.setHiddenNote(entry);
      return h("header", { class: "c-head" }, avatar, line, entry.hiddenNote, toggle);
    }

    // Identicons are drawn in the task after the comments went in: their SVG cells would delay the first comment.
    identiconLater(avatar, seed) {
      if (!this.icons) {
        this.icons = [];
        this.later(() => {
          for (const [node, cells] of this.icons) node.append(identicon(cells));
          this.icons = null;
        }, 0);
      }
      this.icons.push([avatar, seed]);
      return avatar;
    }

    pageLink(id) {
      return location.href.split("#")[0] + "#comment-" + id;
    }

    onPermalink(event, id) {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      history.pushState(null, "", "#comment-" + id);
      this.reveal(id);
    }

    actionBar(entry) {
      const { c } = entry;
      const { t } = this;
      const bar = h("div", { class: "c-actions" });
      const reacted = this.reacted().includes(c.id);
      const react = h(
        "button",
        {
          type: "button",
          class: "act act--react",
          "aria-pressed": String(reacted),
          "aria-label": t("action.like", { count: c.reaction_count }),
          onclick: () => this.react(entry, react),
        },
        icon(HEART),
        h("span", { class: "act-count", text: c.reaction_count ? t.number(c.reaction_count) : "" }),
      );
      entry.reactButton = c.status === "approved" ? react : null; // nothing to like before it is published
      if (entry.reactButton) bar.append(react);
      if (c.status === "approved" && !this.closed) {
        bar.append(this.action(t("action.reply"), (button) => this.openReply(entry, button)));
      }
      if (c.status === "approved") bar.append(this.action(t("action.share"), (button) => this.share(entry, button)));
      const own = this.own(c.id);
      const until = own && Date.parse(own.u);
      if (until && until > Date.now()) {
        bar.append(
          this.action(t("action.edit"), (button) => this.openEdit(entry, button)),
          this.action(t("action.delete"), (button) => this.confirmDelete(entry, button)),
        );
        // Hide them when the window closes.
        this.later(() => {
          if (entry.actions === bar && !bar.contains(this.root.activeElement)) {
            const fresh = this.actionBar(entry);
            bar.replaceWith(fresh);
            entry.actions = fresh;
          }
        }, until - Date.now() + 1000);
      } else if (!own && c.status === "approved") {
        const reported = entry.reported;
        const report = this.action(t(reported ? "action.reported" : "action.report"), (button) =>
          this.openReport(entry, button),
        );
        report.disabled = Boolean(reported);
        bar.append(report);
      }
      return bar;
    }

    action(label, run) {
      const button = h("button", { type: "button", class: "act", text: label });
      button.addEventListener("click", () => run(button));
      return button;
    }

    setHiddenNote(entry) {
      const count = entry.replies ? entry.replies.querySelectorAll(".c").length : 0;
      entry.hiddenNote.textContent = count ? this.t("thread.collapsed", { count }) : this.t("thread.collapsedNone");
    }

    collapse(entry, collapsed) {
      entry.collapsed = collapsed;
      entry.content.hidden = collapsed;
      entry.node.classList.toggle("c--collapsed", collapsed);
      const toggle = entry.head.querySelector(".c-toggle");
      if (toggle) toggle.setAttribute("aria-expanded", String(!collapsed));
      if (entry.hiddenNote) {
        this.setHiddenNote(entry);
        entry.hiddenNote.hidden = !collapsed;
      }
    }

    // "Show N more replies": the rest of a branch, through GET /comments/{id}/replies.
    renderMore(entry) {
      const more = entry.c.more_replies;
      if (entry.moreButton) entry.moreButton.remove();
      entry.moreButton = null;
      if (!more || more.count <= 0) return this.capReplies(entry);
      const button = h("button", {
        type: "button",
        class: "btn-link c-more",
        text: this.t("thread.moreReplies", { count: more.count }),
      });
      button.addEventListener("click", () => this.loadReplies(entry, button));
      entry.moreButton = button;
      entry.replies.append(button);
      entry.replies.hidden = false;
      this.capReplies(entry);
    }

    async loadReplies(entry, button) {
      const more = entry.c.more_replies;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      const known = entry.replies.querySelectorAll(":scope > .c").length;
      try {
        const query = { limit: "50" };
        if (more.cursor) query.cursor = more.cursor;
        const page = await this.api("GET", "/comments/" + entry.c.id + "/replies", { query });
        const firstNew = page.replies.find((r) => !this.byId.has(r.id));
        for (const reply of page.replies) this.add(reply, entry, "sorted");
        const added = entry.replies.querySelectorAll(":scope > .c").length - known;
        entry.c.more_replies = page.next_cursor
          ? { count: Math.max(1, more.count - added), cursor: page.next_cursor }
          : null;
        this.renderMore(entry);
        const target = firstNew && this.byId.get(firstNew.id);
        if (target) target.node.focus({ preventScroll: true });
      } catch (error) {
        if (error.name === "AbortError") return;
        button.disabled = false;
        button.removeAttribute("aria-busy");
        this.flash(button, error.message);
      }
    }

    // At the display cap, a branch's replies wait behind "Continue this thread" and then show unindented.
    capReplies(entry) {
      const box = entry.replies;
      if (entry.c.depth !== this.cap() - 1 || entry.continued || !box.querySelector(".c, .c-more")) {
        if (entry.continueButton && entry.continued) entry.continueButton.remove();
        return;
      }
      box.classList.add("c-replies--flat");
      box.hidden = true;
      if (entry.continueButton) return;
      const count = Math.max(entry.c.reply_count, box.querySelectorAll(":scope > .c").length);
      entry.continueButton = h("button", {
        type: "button",
        class: "btn-link c-continue",
        "aria-controls": box.id,
        "aria-expanded": "false",
        text: this.t("thread.continue", { count }),
        onclick: () => this.continueThread(entry, true),
      });
      entry.content.insertBefore(entry.continueButton, box);
    }

    continueThread(entry, focus) {
      entry.continued = true;
      entry.replies.hidden = false;
      if (entry.continueButton) {
        entry.continueButton.remove();
        entry.continueButton = null;
      }
      const first = entry.replies.querySelector(".c");
      if (first && focus) first.focus({ preventScroll: false });
      if (entry.moreButton && !first) entry.moreButton.click();
    }

    // ------------------------------------------------------------ the signed-in reader

    // The host page's sign-in: its onLoginRequest is asked to sign the reader in (then calls Parlour.login).
    requestLogin() {
      const handler = this.o.onLoginRequest || loginHandler;
      if (typeof handler === "function") handler({ site: this.o.site, url: this.o.url });
      else this.announce(this.t("signin.required"));
    }

    signedIn(session) {
      const signedOut = this.session && !session;
      this.session = session;
      if (signedOut) this.forgetAccountComments();
      this.redrawIdentities();
      if (session) this.loadAccountComments();
    }

    // A signed-in reader's comments on this story, from the server: on another device, or after the browser's
    // storage was cleared, they are still theirs to edit, delete and see while they await review.
    async loadAccountComments() {
      let mine;
      try {
        mine = await this.api("GET", "/reader/comments", { query: { url: this.o.url, limit: "100" }, auth: true });
      } catch (_) {
        return; // the marks are a convenience: the thread works without them
      }
      if (!this.session) return;
      for (const c of mine.comments) {
        if (this.own(c.id) && this.own(c.id).t) continue; // posted here anonymously: keep its token
        this.remember(c.id, { u: c.editable_until, url: this.o.url, s: c.status, a: 1 });
        const entry = this.byId.get(c.id);
        if (entry) this.fillMain(entry);
      }
      await this.loadOwnPending();
    }

    redrawIdentities() {
      for (const f of this.openForms()) {
        if (!f.identity) continue;
        const next = this.identity(f);
        f.identity.node.replaceWith(next.node);
        f.identity = next;
      }
    }

    openForms() {
      for (const f of this.forms) if (!f.form.isConnected) this.forms.delete(f);
      return [...this.forms];
    }

    // The site's /config arrives after the first render (which used DEFAULTS): bring the open forms up to date.
    configured(config) {
      const before = { ...this.config };
      Object.assign(this.config, config); // in place: the forms' counters read it on every keystroke
      for (const f of this.openForms()) {
        if (f.mode === "new" && !this.o.prompt) f.label.textContent = this.config.prompt || this.t("compose.prompt");
        f.count();
      }
      // Only a real change redraws the name fields: a redraw loses what the reader has typed in them.
      if (Boolean(before.sign_in_required) !== Boolean(this.config.sign_in_required)) this.redrawIdentities();
      for (const name of this.root.querySelectorAll('input[name="name"]')) {
        name.maxLength = this.config.max_name_chars; // not redrawn: the reader may have started typing
      }
    }

    // The signed-in reader's own corner: my comments on this site, my e-mail choices, my data, deletions.
    async openProfile(opener) {
      const { t } = this;
      let profile;
      let mine;
      try {
        [profile, mine] = await Promise.all([
          this.api("GET", "/reader", { auth: true }),
          this.api("GET", "/reader/comments", { auth: true, query: { limit: 20 } }),
        ]);
      } catch (error) {
        if (error.name !== "AbortError") this.flash(opener, error.message);
        return;
      }
      const list = h("ul", { class: "d-mine" });
      for (const c of mine.comments) {
        const where = c.story_title || c.story_url;
        const link = h("a", { href: c.story_url + "#comment-" + c.id, text: c.excerpt || "…" });
        const item = h("li", {}, link, h("span", { class: "d-where", text: " — " + where }));
        // What readers no longer see is said, not listed as if it were published.
        const fate = { removed: "profile.removed", rejected: "profile.rejected", pending: "comment.pending" }[c.status];
        if (fate) item.append(h("span", { class: "badge", text: t(fate) }));
        list.append(item);
      }
      if (!mine.comments.length) list.append(h("li", { text: t("profile.none") }));
      const status = h("p", { class: "f-alert", role: "status" });
      const content = h("div", { class: "d-form" }, h("h3", { text: t("profile.comments") }), list);
      const n = profile.notifications;
      if (n.available) {
        const boxes = ["reply", "moderation", "featured"].map((name) => {
          const box = h("input", { type: "checkbox", name, checked: n[name] });
          return h("label", { class: "d-radio" }, box, t("profile.notify." + name));
        });
        const daily = h("input", { type: "checkbox", name: "daily", checked: n.frequency === "daily" });
        const save = h("button", { type: "submit", class: "btn btn--ghost", text: t("profile.save") });
        const form = h(
          "form",
          { class: "d-reasons", novalidate: true },
          h("h3", { text: t("profile.email", { email: n.email || "" }) }),
          ...boxes,
          h("label", { class: "d-radio" }, daily, t("profile.daily")),
          save,
        );
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const body = { frequency: daily.checked ? "daily" : "immediate" };
          for (const label of boxes) body[label.firstChild.name] = label.firstChild.checked;
          try {
            await this.api("PATCH", "/reader/notifications", { body });
            status.classList.add("f-ok"); // a confirmation, not drawn as an error
            status.textContent = t("profile.saved");
          } catch (error) {
            status.classList.remove("f-ok");
            status.textContent = error.message;
          }
        });
        content.append(form);
      }
      const download = h("button", { type: "button", class: "btn btn--ghost", text: t("profile.download") });
      download.addEventListener("click", async () => {
        try {
          const data = await this.api("GET", "/reader/data", { auth: true });
          const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
          const a = h("a", { href: url, download: "parlour-" + this.o.site + "-my-data.json", hidden: true });
          this.frame.append(a);
          a.click();
          a.remove();
          this.later(() => URL.revokeObjectURL(url), 10000);
        } catch (error) {
          status.textContent = error.message;
        }
      });
      // Deleting takes two clicks on the same button: no browser dialog, and nothing lost to a stray click.
      const deleting = (label, path) => {
        const button = h("button", { type: "button", class: "btn btn--danger", text: t(label) });
        button.addEventListener("click", async () => {
          if (!button.dataset.armed) {
            button.dataset.armed = "1";
            button.textContent = t("profile.confirm");
            return;
          }
          try {
            await this.api("DELETE", path);
          } catch (error) {
            status.textContent = error.message;
            return;
          }
          if (path === "/reader") this.sessionLost();
          dialog.close();
          store.set("changed:" + this.o.site, Date.now()); // the thread drawn next is read from the server
          render(this.host, { ...this.o });
        });
        return button;
      };
      const close = h("button", { type: "button", class: "btn btn--ghost", text: t("profile.close") });
      content.append(
        status,
        h("div", { class: "f-buttons" }, download, deleting("profile.deleteComments", "/reader/comments")),
        h("div", { class: "f-buttons" }, deleting("profile.deleteAccount", "/reader"), close),
      );
      const dialog = this.modal(t("profile.title"), content, opener, close);
      close.addEventListener("click", () => dialog.close());
    }

    sessionLost() {
      sessions.delete(this.o.site);
      for (const thread of threads) if (thread.o.site === this.o.site) thread.signedIn(null);
    }

    // ------------------------------------------------------------ own comments

    owned() {
      return store.get("own:" + this.o.site, {});
    }

    own(id) {
      return this.owned()[id];
    }

    // How this reader proves a comment is theirs: its edit token, or, for one posted signed in, the session.
    proof(id) {
      const own = this.own(id);
      return own && own.t ? { headers: { "X-Parlour-Edit-Token": own.t } } : { auth: true };
    }

    // On a shared computer the next reader must not edit or delete what a signed-in reader posted: comments
    // posted signed in are remembered without a token, and forgotten at sign-out.
    forgetAccountComments() {
      const all = this.owned();
      let changed = false;
      for (const [id, value] of Object.entries(all)) {
        if (value.a) {
          delete all[id];
          changed = true;
          const entry = this.byId.get(Number(id));
          if (entry) this.later(() => this.fillMain(entry), 0);
        }
      }
      if (changed) store.set("own:" + this.o.site, all);
    }

    remember(id, data) {
      const all = this.owned();
      const cutoff = Date.now() - 30 * 86400000; // forget tokens a month after their window closed
      for (const [key, value] of Object.entries(all)) if (Date.parse(value.u) < cutoff) delete all[key];
      if (data) all[id] = { ...all[id], ...data };
      else delete all[id];
      store.set("own:" + this.o.site, all);
    }

    // Comments held for review are shown to their author only: fetched with the edit token on every load.
    async loadOwnPending() {
      const mine = Object.entries(this.owned()).filter(([id, v]) => v.url === this.o.url && v.s === "pending");
      await Promise.all(
        mine.map(async ([id, value]) => {
          if (this.byId.has(Number(id))) return;
          try {
            const found = await this.api("GET", "/comments/" + id, this.proof(id));
            if (found.comment.status === "pending") this.insertChain(found.ancestors, found.comment);
            else this.remember(id, { s: found.comment.status });
          } catch (error) {
            if (error.status === 404) this.remember(id, null);
          }
        }),
      );
    }

    reacted() {
      return store.get("reacted:" + this.o.site, []);
    }

    async react(entry, button) {
      const { c } = entry;
      const on = button.getAttribute("aria-pressed") !== "true";
      const show = (reacted, count) => {
        c.reaction_count = count;
        button.setAttribute("aria-pressed", String(reacted));
        button.setAttribute("aria-label", this.t("action.like", { count }));
        button.lastChild.textContent = count ? this.t.number(count) : "";
      };
      const remember = (reacted) => {
        const ids = this.reacted().filter((id) => id !== c.id);
        if (reacted) ids.push(c.id);
        store.set("reacted:" + this.o.site, ids.slice(-500));
      };
      const before = c.reaction_count;
      show(on, Math.max(0, before + (on ? 1 : -1))); // optimistic
      remember(on);
      try {
        const state = await this.api(on ? "PUT" : "DELETE", "/comments/" + c.id + "/reaction", { keepalive: true });
        show(state.reacted, state.reaction_count);
        remember(state.reacted);
      } catch (error) {
        if (error.name === "AbortError" || leaving) return;
        // A request cut short by the reader leaving fails before "pagehide": undo a moment later, which never
        // comes on a page that is going away.
        this.later(() => {
          show(!on, before);
          remember(!on);
          this.flash(button, error.message);
        }, error.status ? 0 : 300);
      }
    }

    // ------------------------------------------------------------ the compose form (new, reply, edit)

    form({ mode, parent, entry, source }) {
      const { t, config } = this;
      const f = { mode, parent, key: null };
      const ids = { body: this.id("body"), hint: this.id("hint"), count: this.id("count"), err: this.id("err") };
      const draftKey = mode === "edit" ? null : "draft:" + this.o.site + ":" + this.o.url + ":" + (parent ? parent.c.id : 0);
      const labelText =
        mode === "new"
          ? this.o.prompt || config.prompt || t("compose.prompt")
          : mode === "reply"
            ? t("compose.replyLabel", { name: this.nameOf(parent.c) })
            : t("compose.editLabel");
      const textarea = h("textarea", {
        id: ids.body,
        name: "body",
        rows: mode === "new" ? "4" : "3",
        "aria-describedby": ids.hint + " " + ids.count,
      });
      textarea.value = mode === "edit" ? source : (draftKey && store.get(draftKey, "")) || "";
      const counter = h("span", { class: "f-count", id: ids.count });
      const preview = h("div", { class: "f-preview", hidden: true, tabindex: "0", "aria-label": t("compose.preview") });
      const previewButton = h("button", {
        type: "button",
        class: "btn btn--ghost",
        "aria-pressed": "false",
        text: t("compose.preview"),
      });
      const bodyError = h("p", { class: "f-error", id: ids.err, hidden: true });
      const formError = h("p", { class: "f-alert", role: "alert" });
      const submit = h("button", {
        type: "submit",
        class: "btn btn--primary",
        text: t(mode === "edit" ? "compose.save" : mode === "reply" ? "compose.submitReply" : "compose.submit"),
      });
      const buttons = h("div", { class: "f-buttons" }, previewButton);
      if (mode !== "new") {
        buttons.append(h("button", { type: "button", class: "btn btn--ghost", text: t("compose.cancel"), onclick: () => f.cancel() }));
      }
      buttons.append(submit);
      const label = h("label", { class: mode === "new" ? "f-label f-prompt" : "f-label", for: ids.body, text: labelText });
      const form = h(
        "form",
        { class: "f f--" + mode, novalidate: true },
        label,
        h("div", { class: "f-box" }, textarea, preview),
        h("div", { class: "f-tools" }, h("span", { class: "f-hint", id: ids.hint, text: t("compose.hint") }), counter),
        bodyError,
      );
      f.identity = mode === "edit" ? null : this.identity(f);
      if (f.identity) form.append(f.identity.node);
      form.append(formError, buttons);
      Object.assign(f, { form, textarea, submit, buttons, label });
      this.forms.add(f);

      const count = () => {
        const n = chars(textarea.value);
        const over = n - config.max_body_chars;
        counter.textContent =
          over > 0 ? t("compose.over", { count: over }) : t("compose.counter", { count: n, max: config.max_body_chars });
        counter.classList.toggle("f-count--over", over > 0);
        // The new-comment form stays compact until the reader starts writing.
        form.classList.toggle("f--idle", mode === "new" && !textarea.value);
        return over;
      };
      f.count = count;
      count();
      let saveTimer = null;
      textarea.addEventListener("input", () => {
        f.key = null; // a changed text is a new submission
        count();
        if (draftKey) {
          clearTimeout(saveTimer);
          saveTimer = setTimeout(() => store.set(draftKey, textarea.value), 250);
        }
      });
      previewButton.addEventListener("click", () => {
        const on = previewButton.getAttribute("aria-pressed") !== "true";
        previewButton.setAttribute("aria-pressed", String(on));
        preview.replaceChildren(
          h("span", { class: "f-preview-note", text: t("compose.previewNote") }),
          h("span", { class: "f-preview-text", text: textarea.value.trim() ? textarea.value : t("compose.previewEmpty") }),
        );
        preview.hidden = !on;
        textarea.hidden = on;
      });
      const showError = (node, input, message) => {
        node.textContent = message;
        node.hidden = !message;
        if (input) {
          if (message) input.setAttribute("aria-invalid", "true");
          else input.removeAttribute("aria-invalid");
          const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== node.id);
          if (message) described.push(node.id);
          input.setAttribute("aria-describedby", described.join(" "));
        }
      };
      f.clearErrors = () => {
        formError.textContent = "";
        showError(bodyError, textarea, "");
        if (f.identity) f.identity.clear();
      };
      f.fail = (error) => {
        let focus = null;
        let said = false; // the form's message is already next to a field ("You have posted this comment already.")
        for (const { field, message } of error.errors || []) {
          if (field === "body") {
            showError(bodyError, textarea, message);
            focus = focus || textarea;
            said = said || message === error.message;
          } else if (f.identity && f.identity.fieldError(field, message)) {
            focus = focus || f.identity.input(field);
          }
        }
        // Said once, next to its field; the server's summary ("Invalid value for: author.email") is for developers.
        // Offline, the reader also learns that the text is safe.
        const summary = focus ? (said ? "" : t("error.fields")) : error.status === 0 ? t("error.network") : error.message;
        formError.textContent = summary;
        if (focus) focus.focus();
      };
      f.cancel = () => {
        if (f.onCancel) f.onCancel();
      };
      form.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && mode !== "new") {
          event.preventDefault();
          f.cancel();
        }
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target === textarea) {
          event.preventDefault();
          form.requestSubmit(submit);
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (f.busy) return;
        f.clearErrors();
        if (textarea.hidden) previewButton.click(); // back to writing, so errors sit next to the text
        const body = textarea.value;
        if (!body.trim()) {
          showError(bodyError, textarea, t("error.empty"));
          return textarea.focus();
        }
        const over = count();
        if (over > 0) {
          showError(bodyError, textarea, t("error.tooLong", { count: over }));
          return textarea.focus();
        }
        // null: the reader must fix the name (or sign in first); undefined: signed in, the server knows who.
        const author = f.identity ? f.identity.value() : undefined;
        if (author === null) return;
        f.busy = true;
        submit.disabled = true;
        submit.setAttribute("aria-busy", "true");
        const label = submit.textContent;
        submit.textContent = t(mode === "edit" ? "compose.saving" : "compose.sending");
        f.key = f.key || randomKey(); // the same key for a retry of the same text: never a double post
        try {
          if (mode === "edit") await this.saveEdit(entry, body, f);
          else if (await this.nudge(f, body)) return; // the reader chooses: revise, or post as it is
          else await this.post(f, body, author);
          this.clearNudge(f);
          clearTimeout(saveTimer);
          if (draftKey) store.set(draftKey, null);
          textarea.value = "";
          f.key = null;
          count();
        } catch (error) {
          if (error.name === "AbortError") return;
          if (error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) f.key = null;
          f.fail(error);
        } finally {
          f.busy = false;
          submit.disabled = false;
          submit.removeAttribute("aria-busy");
          submit.textContent = label;
        }
      });
      return f;
    }

    // Name and optional e-mail, remembered; once known, a short "Posting as Ann (Change)". A reader signed in
    // through the publisher posts as themselves; where the site requires it, others are asked to sign in.
    identity(f) {
      const { t, config } = this;
      if (this.session) {
        const who = h("strong", { text: this.session.reader.name });
        const mine = h("button", { type: "button", class: "btn-link", text: t("profile.open") });
        mine.addEventListener("click", () => this.openProfile(mine));
        const node = h("div", { class: "f-identity" }, h("p", { class: "f-as" }, t("compose.postingAs") + " ", who, " ", mine));
        return { node, clear() {}, input: () => f.textarea, fieldError: () => false, value: () => undefined };
      }
      if (config.sign_in_required) {
        const button = h("button", { type: "button", class: "btn-link", text: t("signin.button") });
        button.addEventListener("click", () => this.requestLogin());
        const node = h("div", { class: "f-identity" }, h("p", { class: "f-as" }, t("signin.required") + " ", button));
        return {
          node,
          clear() {},
          input: () => button,
          fieldError: () => false,
          value: () => {
            this.requestLogin();
            return null;
          },
        };
      }
      const saved = store.get("author", {});
      const ids = { name: this.id("name"), email: this.id("email"), nameErr: this.id("nerr"), emailErr: this.id("eerr") };
      const name = h("input", {
        id: ids.name,
        name: "name",
        type: "text",
        autocomplete: "name",
        maxlength: String(config.max_name_chars),
        required: true,
        "aria-required": "true",
      });
      const email = h("input", { id: ids.email, name: "email", type: "email", autocomplete: "email" });
      name.value = saved.name || "";
      email.value = saved.email || "";
      const nameErr = h("p", { class: "f-error", id: ids.nameErr, hidden: true });
      const emailErr = h("p", { class: "f-error", id: ids.emailErr, hidden: true });
      const fields = h(
        "div",
        { class: "f-fields" },
        h("div", { class: "f-field" }, h("label", { for: ids.name, text: t("compose.name") }), name, nameErr),
        h("div", { class: "f-field" }, h("label", { for: ids.email, text: t("compose.email") }), email, emailErr),
      );
      const who = h("strong", { text: saved.name || "" });
      const change = h("button", { type: "button", class: "btn-link", text: t("compose.change") });
      const summary = h("p", { class: "f-as" }, t("compose.postingAs") + " ", who, " ", change);
      const node = h("div", { class: "f-identity" }, summary, fields);
      const open = (focus) => {
        summary.hidden = true;
        fields.hidden = false;
        if (focus) name.focus();
      };
      if (saved.name) fields.hidden = true;
      else summary.hidden = true;
      change.addEventListener("click", () => open(true));
      const set = (input, err, message) => {
        err.textContent = message;
        err.hidden = !message;
        if (message) {
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", err.id);
        } else {
          input.removeAttribute("aria-invalid");
          input.removeAttribute("aria-describedby");
        }
      };
      return {
        node,
        clear() {
          set(name, nameErr, "");
          set(email, emailErr, "");
        },
        input: (field) => (field === "author.email" ? email : name),
        fieldError(field, message) {
          if (!field.startsWith("author")) return false;
          open(false);
          if (field === "author.email") set(email, emailErr, t("error.email")); // the server's words are for developers
          else set(name, nameErr, message);
          return true;
        },
        value() {
          const author = { name: name.value.trim() };
          if (!author.name) {
            open(false);
            set(name, nameErr, t("error.name"));
            name.focus();
            return null;
          }
          if (email.value.trim()) author.email = email.value.trim();
          store.set("author", author);
          who.textContent = author.name;
          return author;
        },
      };
    }

    // The nudge, once per draft: when the site's rules or the model would hold or flag it, show the words that
    // would and let the writer revise it or post it as it is. The check is advice: if it fails, posting goes on.
    async nudge(f, body) {
      if (f.nudged !== undefined) {
        f.nudgeOutcome = body === f.nudged ? "ignored" : "revised";
        return false;
      }
      let check;
      try {
        check = await this.api("POST", "/comments:check", { body: { site: this.o.site, body } });
      } catch (error) {
        if (error.name === "AbortError") throw error;
        return false;
      }
      // Held or refused only: a flag publishes at once and a moderator looks later, no reason to stop the writer.
      if (check.decision === "publish" || check.decision === "flag") return false;
      f.nudged = body;
      this.showNudge(f, check);
      return true;
    }

    showNudge(f, check) {
      const { t } = this;
      const quote = h("p", { class: "f-nudge-text" });
      let at = 0;
      for (const [start, end] of mergedSpans(check.highlights)) {
        if (start > at) quote.append(document.createTextNode(check.text.slice(at, start)));
        quote.append(h("mark", { text: check.text.slice(start, end) }));
        at = end;
      }
      quote.append(document.createTextNode(check.text.slice(at)));
      const revise = h("button", { type: "button", class: "btn btn--ghost", text: t("nudge.revise") });
      const anyway = h("button", { type: "submit", class: "btn btn--primary", text: t("nudge.postAnyway") });
      const message = t(check.decision === "reject" ? "nudge.reject" : "nudge.hold");
      const panel = h(
        "div",
        { class: "f-nudge", role: "alert" },
        h("p", { class: "f-nudge-title", text: message }),
        quote,
        h("div", { class: "f-buttons" }, revise, anyway),
      );
      revise.addEventListener("click", () => {
        this.clearNudge(f, { keep: true }); // the draft stays nudged: the next post goes through, as revised
        f.textarea.focus();
      });
      this.clearNudge(f, { keep: true });
      f.nudgePanel = panel;
      f.buttons.hidden = true;
      f.form.insertBefore(panel, f.buttons);
      anyway.focus();
    }

    clearNudge(f, { keep = false } = {}) {
      if (f.nudgePanel) f.nudgePanel.remove();
      f.nudgePanel = null;
      if (f.buttons) f.buttons.hidden = false;
      if (!keep) {
        f.nudged = undefined;
        f.nudgeOutcome = undefined;
      }
    }

    async post(f, body, author) {
      const request = { site: this.o.site, url: this.o.url, body, author };
      if (f.parent) request.parent_id = f.parent.c.id;
      if (f.nudgeOutcome) request.nudge = f.nudgeOutcome;
      // The stream may announce this comment before the response arrives: hold its events until then.
      this.posting = (this.posting || 0) + 1;
      let created;
      try {
        created = await this.api("POST", "/comments", { body: request, headers: { "Idempotency-Key": f.key } });
        this.mine.add(created.id);
      } finally {
        this.later(() => {
          if (--this.posting === 0) for (const event of this.held.splice(0)) this.onComment(event);
        }, 0);
      }
      const c = { ...created.comment, status: created.status, replies: [], more_replies: null };
      const posted = { u: c.editable_until, url: this.o.url, s: created.status, p: Date.now() };
      // Signed in, the session proves authorship: no token is kept for the next user of this browser to find.
      Object.assign(posted, this.session ? { a: 1 } : { t: created.edit_token });
      this.remember(created.id, posted);
      if (!this.story) this.story = { id: null };
      const entry = this.add(c, f.parent || null, "start");
      if (created.status === "approved") this.setCount(this.total + 1);
      this.renderFoot();
      if (f.onPosted) f.onPosted();
      this.announce(this.t(created.status === "pending" ? "status.pending" : "status.posted"));
      this.reveal(created.id, { announce: false });
      return entry;
    }

    openReply(entry, opener) {
      if (entry.replyForm) return entry.replyForm.textarea.focus();
      const f = this.form({ mode: "reply", parent: entry });
      entry.replyForm = f;
      const close = () => {
        f.form.remove();
        entry.replyForm = null;
      };
      f.onCancel = () => {
        close();
        opener.focus();
      };
      f.onPosted = close;
      entry.slot.append(f.form);
      f.textarea.focus();
    }

    async openEdit(entry, opener) {
      if (entry.editForm) return entry.editForm.textarea.focus();
      const own = this.own(entry.c.id);
      if (!own) return;
      let source;
      try {
        const found = await this.api("GET", "/comments/" + entry.c.id, this.proof(entry.c.id));
        source = found.comment.body;
      } catch (error) {
        if (error.name !== "AbortError") this.flash(opener, error.message);
        return;
      }
      const f = this.form({ mode: "edit", entry, source });
      entry.editForm = f;
      entry.body.hidden = true;
      entry.actions.hidden = true;
      const close = () => {
        f.form.remove();
        entry.editForm = null;
        entry.body.hidden = false;
        entry.actions.hidden = false;
      };
      f.onCancel = () => {
        close();
        opener.focus();
      };
      f.onSaved = () => {
        close();
        const edit = [...entry.actions.querySelectorAll(".act")].find((b) => b.textContent === this.t("action.edit"));
        (edit || entry.node).focus();
      };
      entry.slot.prepend(f.form);
      f.textarea.focus();
    }

    async saveEdit(entry, body, f) {
      const updated = await this.api("PATCH", "/comments/" + entry.c.id, { body: { body }, ...this.proof(entry.c.id) });
      this.remember(entry.c.id, { u: updated.editable_until, s: updated.status });
      Object.assign(entry.c, updated, { replies: [], more_replies: entry.c.more_replies });
      this.fillMain(entry);
      f.onSaved();
      this.announce(this.t("status.saved"));
    }

    confirmDelete(entry, opener) {
      const { t } = this;
      const error = h("p", { class: "f-alert", role: "alert" });
      const cancel = h("button", { type: "button", class: "btn btn--ghost", text: t("compose.cancel") });
      const confirm = h("button", { type: "submit", class: "btn btn--danger", text: t("delete.confirm") });
      const form = h(
        "form",
        { class: "d-form", novalidate: true },
        h("p", { text: t("delete.body") }),
        error,
        h("div", { class: "f-buttons" }, cancel, confirm),
      );
      const dialog = this.modal(t("delete.title"), form, opener, cancel);
      cancel.addEventListener("click", () => dialog.close());
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        confirm.disabled = true;
        try {
          await this.api("DELETE", "/comments/" + entry.c.id, this.proof(entry.c.id));
        } catch (err) {
          confirm.disabled = false;
          error.textContent = err.message;
          return;
        }
        this.remember(entry.c.id, null);
        const wasListed = entry.c.status === "approved";
        let next = entry.node;
        if (entry.replies.querySelector(".c") || entry.c.reply_count > 0) {
          entry.c = { ...entry.c, status: "deleted", author: null, html: "" };
          this.fillMain(entry);
        } else {
          const sibling = entry.node.nextElementSibling;
          const parent = this.removeEntry(entry);
          next = sibling && sibling.matches(".c") ? sibling : (parent && parent.node.isConnected && parent.node) || this.countHeading;
        }
        dialog.returnFocus = next;
        dialog.close();
        if (wasListed) this.setCount(this.total - 1);
        this.renderFoot();
        this.announce(t("status.deleted"));
      });
    }

    // Take a comment off the page; a tombstone left without replies goes too, as it does on the server.
    removeEntry(entry) {
      const parent = this.byId.get(entry.c.parent_id);
      entry.node.remove();
      this.byId.delete(entry.c.id);
      for (const inner of entry.node.querySelectorAll(".c")) this.byId.delete(Number(inner.dataset.id));
      if (!parent) return null;
      parent.c.reply_count = Math.max(0, (parent.c.reply_count || 1) - 1);
      if (!parent.replies.querySelector(".c, .c-more")) parent.replies.hidden = true;
      if (this.gone(parent.c) && !parent.replies.querySelector(".c") && !parent.c.more_replies) {
        return this.removeEntry(parent);
      }
      return parent;
    }

    // ------------------------------------------------------------ share, report, dialogs

    async share(entry, button) {
      const { t } = this;
      const link = this.o.url + "#comment-" + entry.c.id;
      try {
        await navigator.clipboard.writeText(link);
        this.flash(button, t("action.copied"), true);
      } catch (_) {
        // No clipboard (insecure page, denied permission): offer the link to copy by hand.
        const input = h("input", { type: "url", readonly: true, class: "d-link", "aria-label": t("action.copyPrompt") });
        input.value = link;
        const close = h("button", { type: "button", class: "btn btn--primary", text: t("dialog.close") });
        const body = h("div", { class: "d-form" }, input, h("div", { class: "f-buttons" }, close));
        const dialog = this.modal(t("action.copyPrompt"), body, button, input);
        close.addEventListener("click", () => dialog.close());
        input.select();
      }
    }

    openReport(entry, opener) {
      const { t } = this;
      const name = this.id("reason");
      const reasons = ["spam", "abuse", "off-topic", "other"].map((value) =>
        h("label", { class: "d-radio" }, h("input", { type: "radio", name, value }), h("span", { text: t("report." + value) })),
      );
      const messageId = this.id("msg");
      const message = h("textarea", { id: messageId, rows: "3", maxlength: "1000" });
      const errorId = this.id("report-err");
      const error = h("p", { class: "f-alert", role: "alert", id: errorId });
      const cancel = h("button", { type: "button", class: "btn btn--ghost", text: t("compose.cancel") });
      const send = h("button", { type: "submit", class: "btn btn--primary", text: t("report.submit") });
      const choices = h("fieldset", { class: "d-reasons" }, h("legend", { text: t("report.legend") }), ...reasons);
      const form = h(
        "form",
        { class: "d-form", novalidate: true },
        choices,
        h("label", { class: "f-label", for: messageId, text: t("report.message") }),
        message,
        error,
        h("div", { class: "f-buttons" }, cancel, send),
      );
      const dialog = this.modal(t("report.title"), form, opener, reasons[0].firstChild);
      cancel.addEventListener("click", () => dialog.close());
      const done = (text) => {
        entry.reported = true;
        opener.textContent = t("action.reported");
        opener.disabled = true;
        dialog.returnFocus = entry.node;
        dialog.close();
        this.announce(text);
      };
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = form.querySelector("input[type=radio]:checked");
        if (!chosen) {
          error.textContent = t("report.choose");
          choices.setAttribute("aria-describedby", errorId); // read out with the choices it is about
          choices.setAttribute("aria-invalid", "true");
          return reasons[0].firstChild.focus();
        }
        choices.removeAttribute("aria-describedby");
        choices.removeAttribute("aria-invalid");
        send.disabled = true;
        try {
          const body = { reason: chosen.value };
          if (message.value.trim()) body.message = message.value.trim();
          await this.api("POST", "/comments/" + entry.c.id + "/reports", { body });
          done(t("report.sent"));
        } catch (err) {
          send.disabled = false;
          if (err.status === 409) done(t("report.already"));
          else if (err.name !== "AbortError") error.textContent = err.message;
        }
      });
    }

    // A modal <dialog>: labelled by its title, focus kept inside, Escape closes, focus returns to the opener.
    modal(title, content, opener, first) {
      const titleId = this.id("dialog");
      const dialog = h(
        "dialog",
        { class: "d", "aria-labelledby": titleId },
        h("h2", { class: "d-title", id: titleId, text: title }),
        content,
      );
      dialog.returnFocus = opener;
      dialog.addEventListener("keydown", (event) => {
        if (event.key !== "Tab") return;
        // Tabbable controls; of a radio group only the checked radio (or the first, when none is).
        const items = [...dialog.querySelectorAll("button, input, textarea, a[href]")].filter((x) => {
          if (x.disabled || !x.getClientRects().length) return false;
          if (x.type !== "radio") return true;
          const group = [...dialog.querySelectorAll("input[type=radio]")].filter((r) => r.name === x.name);
          return x.checked || (!group.some((r) => r.checked) && group[0] === x);
        });
        if (!items.length) return;
        const active = this.root.activeElement;
        const [start, end] = [items[0], items[items.length - 1]];
        if (event.shiftKey && (active === start || !dialog.contains(active))) {
          event.preventDefault();
          end.focus();
        } else if (!event.shiftKey && (active === end || !dialog.contains(active))) {
          event.preventDefault();
          start.focus();
        }
      });
      dialog.addEventListener("close", () => {
        dialog.remove();
        const back = dialog.returnFocus;
        if (back && back.isConnected) back.focus();
      });
      this.frame.append(dialog);
      dialog.showModal();
      (first || dialog.querySelector("button, input, textarea")).focus();
      return dialog;
    }

    // A short message shown next to a control, and said by the live region.
    flash(anchor, text, good) {
      const note = h("span", { class: good ? "p-flash p-flash--ok" : "p-flash", text });
      anchor.after(note);
      this.announce(text);
      this.later(() => note.remove(), 4000);
    }

    announce(text) {
      this.live.textContent = "";
      this.later(() => (this.live.textContent = text), 50);
    }

    // ------------------------------------------------------------ permalinks

    followHash() {
      const match = /^#comment-(\d+)$/.exec(location.hash);
      if (match) this.reveal(Number(match[1]));
    }

    // Show a comment: load it and its ancestors when it is not on the page, open collapsed branches, scroll, focus.
    async reveal(id, { announce = true } = {}) {
      let entry = this.byId.get(id);
      if (!entry) {
        try {
          const found = await this.api("GET", "/comments/" + id, this.proof(id));
          if (!this.story || (this.story.id && found.story.id !== this.story.id)) return; // another article's
          this.story = { ...found.story, ...this.story, id: found.story.id };
          entry = this.insertChain(found.ancestors, found.comment);
        } catch (error) {
          if (announce && error.name !== "AbortError") this.announce(this.t("thread.linked"));
          return;
        }
      }
      for (let node = entry.node; node; node = node.parentElement && node.parentElement.closest(".c")) {
        const up = this.byId.get(Number(node.dataset.id));
        if (up !== entry && up.collapsed) this.collapse(up, false);
        if (up !== entry && up.replies.hidden && up.replies.contains(entry.node)) this.continueThread(up, false);
      }
      entry.node.scrollIntoView({ block: "center", behavior: reducedMotion() ? "auto" : "smooth" });
      entry.node.focus({ preventScroll: true });
      for (const old of this.root.querySelectorAll(".c--target")) old.classList.remove("c--target");
      entry.node.classList.add("c--target");
      return entry;
    }

    // Insert ancestors (top-level first) that are not shown, then the comment itself.
    insertChain(ancestors, comment) {
      let parent = null;
      for (const item of [...ancestors, comment]) {
        const known = this.byId.get(item.id);
        if (known) {
          parent = known;
          continue;
        }
        const rest = item === comment ? item.more_replies || null : null;
        const shown = item === comment ? 0 : 1;
        const c = { ...item, replies: [], more_replies: rest };
        if (item !== comment && item.reply_count > shown) c.more_replies = { count: item.reply_count - shown, cursor: null };
        parent = this.add(c, parent, "start");
      }
      this.renderFoot();
      return parent;
    }

    // ------------------------------------------------------------ live updates

    connect() {
      if (this.dead || typeof EventSource !== "function") return;
      const source = new EventSource(API + "/stream?" + new URLSearchParams({ site: this.o.site, url: this.o.url }));
      this.es = source;
      let failures = 0;
      source.addEventListener("open", () => {
        failures = 0;
        this.backoff = 0;
        if (this.dropped) this.refresh(); // catch up on what happened while disconnected
        this.dropped = false;
      });
      source.addEventListener("comment", (event) => this.onComment(event));
      source.addEventListener("changed", (event) => {
        let data = {};
        try {
          data = JSON.parse(event.data);
        } catch (_) {
          // an old server's event: the refresh below is all there is
        }
        if (data.comment_id && this.byId.has(data.comment_id)) this.recheck(data.comment_id);
        clearTimeout(this.refreshTimer);
        // Every open page of the story hears the same event: spread their reads over a few seconds.
        this.refreshTimer = this.later(() => this.refresh(), 1500 + Math.random() * 3000);
      });
      source.addEventListener("error", () => {
        this.dropped = true;
        // EventSource retries by itself; when it gives up (CLOSED) or keeps failing, back off exponentially.
        if (source.readyState === EventSource.CLOSED || ++failures >= 3) {
          source.close();
          const delay = Math.min(300000, 2000 * 2 ** this.backoff++) * (0.75 + Math.random() / 2);
          this.later(() => this.connect(), delay);
        }
      });
    }

    onComment(event) {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (this.posting) return this.held.push(event);
      if (this.story && this.story.id && data.story_id !== this.story.id) return;
      if (this.mine.has(data.id) || this.byId.has(data.id) || this.own(data.id)) return;
      this.fresh.add(data.id);
      const count = this.fresh.size;
      this.newBar.textContent = this.t("live.show", { count });
      this.newBar.hidden = false;
      clearTimeout(this.announceTimer);
      this.announceTimer = this.later(() => this.announce(this.t("live.announce", { count: this.fresh.size })), 1500);
    }

    async showFresh() {
      const ids = [...this.fresh].filter((id) => !this.byId.has(id));
      this.fresh.clear();
      this.newBar.hidden = true;
      if (ids.length > 20) {
        await this.reload(); // many at once: start over with the first page
        this.announce(this.t("live.shown", { count: ids.length }));
        return;
      }
      const found = await Promise.all(
        ids.map((id) => this.api("GET", "/comments/" + id).catch(() => null)),
      );
      const shown = [];
      for (const item of found) {
        if (!item || (this.story && this.story.id && item.story.id !== this.story.id)) continue;
        if (!this.story || !this.story.id) this.story = item.story;
        const entry = this.insertChain(item.ancestors, item.comment);
        entry.node.classList.add("c--new");
        shown.push(entry);
      }
      this.refresh(); // the count, from the server
      if (shown.length) {
        this.announce(this.t("live.shown", { count: shown.length }));
        const first = shown[0];
        first.node.scrollIntoView({ block: "nearest", behavior: reducedMotion() ? "auto" : "smooth" });
        first.node.focus({ preventScroll: true });
      }
    }

    // A comment on screen was edited, deleted or moderated: wherever it is shown (a later page, a branch opened
    // with "more replies"), show it as it is now, or take it away when readers may no longer see it.
    async recheck(id) {
      let found;
      try {
        found = await this.api("GET", "/comments/" + id, { cache: "no-cache", ...this.proof(id) });
      } catch (error) {
        const entry = this.byId.get(id);
        if (error.status === 404 && entry && !entry.editForm) this.removeEntry(entry);
        return;
      }
      const entry = this.byId.get(id);
      if (entry) this.update(entry, found.comment);
    }

    // After an edit, deletion or reaction elsewhere: update the comments on screen in place, never reorder.
    async refresh() {
      let page;
      try {
        page = await this.fetchPage(null, "no-cache");
      } catch (_) {
        return;
      }
      if (page.story) {
        this.story = { ...this.story, ...page.story };
        this.setCount(page.total);
      }
      const walk = (list) => {
        for (const c of list) {
          const entry = this.byId.get(c.id);
          if (entry) this.update(entry, c);
          walk(c.replies || []);
        }
      };
      walk(page.comments);
    }

    update(entry, c) {
      const old = entry.c;
      if (old.reaction_count !== c.reaction_count && entry.reactButton) {
        old.reaction_count = c.reaction_count;
        entry.reactButton.setAttribute("aria-label", this.t("action.like", { count: c.reaction_count }));
        entry.reactButton.lastChild.textContent = c.reaction_count ? this.t.number(c.reaction_count) : "";
      }
      const changed = old.status !== c.status || old.html !== c.html || old.edited_at !== c.edited_at;
      if (changed && !entry.editForm && !entry.node.querySelector(".c-head").contains(this.root.activeElement)) {
        Object.assign(old, { status: c.status, html: c.html, edited_at: c.edited_at, author: c.author, featured: c.featured });
        this.fillMain(entry);
      }
    }

    tick() {
      for (const time of this.root.querySelectorAll("time[datetime]")) {
        time.textContent = this.t.relative(new Date(time.getAttribute("datetime")));
      }
    }
  }

  // An identicon from the server's salted hash of the author (avatar_seed): 5×5 cells mirrored left to right,
  // one colour; built as SVG elements, so no request, no image URL and nothing a strict CSP forbids.
  function identicon(seed) {
    const bits = parseInt(seed.slice(0, 8), 16);
    const fill = `hsl(${parseInt(seed.slice(8, 11), 16) % 360} 55% 42%)`;
    const svg = document.createElementNS(SVG, "svg");
    for (const [key, value] of [["viewBox", "-0.5 -0.5 6 6"], ["class", "c-identicon"], ["focusable", "false"]]) {
      svg.setAttribute(key, value);
    }
    for (let cell = 0; cell < 15; cell++) {
      if (!((bits >>> cell) & 1)) continue;
      const column = Math.floor(cell / 5);
      for (const x of column === 2 ? [2] : [column, 4 - column]) {
        const square = document.createElementNS(SVG, "rect");
        for (const [key, value] of [["x", x], ["y", cell % 5], ["width", 1], ["height", 1], ["fill", fill]]) {
          square.setAttribute(key, String(value));
        }
        svg.append(square);
      }
    }
    return svg;
  }

  // The publisher's picture of a signed-in reader, sent without a referrer; if it cannot load, the identicon
  // (or the initial) takes its place.
  function avatarImage(url, seed, name) {
    const img = h("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer", decoding: "async" });
    img.addEventListener("error", () => {
      const parent = img.parentNode;
      if (!parent) return;
      parent.classList.remove("c-avatar--picture");
      if (seed) parent.classList.add("c-avatar--identicon");
      img.replaceWith(seed ? identicon(seed) : Array.from(name)[0].toUpperCase());
    });
    return img;
  }

  function hue(text) {
    let n = 0;
    for (const ch of text) n = (n * 31 + ch.codePointAt(0)) % 360;
    return n;
  }

  // ---------------------------------------------------------------- public API

  function canonicalUrl() {
    const link = document.querySelector('link[rel="canonical"]');
    return (link && link.href) || location.href.split("#")[0];
  }

  function render(element, options = {}) {
    if (!(element instanceof Element)) throw new TypeError("Parlour.render needs an element");
    const from = (name) => element.getAttribute("data-parlour-" + name) || (SCRIPT && SCRIPT.getAttribute("data-parlour-" + name));
    const pick = (name) => (options[name] != null ? options[name] : from(name));
    const site = pick("site");
    if (!site) throw new Error("Parlour: no site (data-parlour-site)");
    const sort = pick("sort");
    const stored = store.get("sort", null);
    const o = {
      site,
      url: pick("url") || canonicalUrl(),
      lang: pickLang(pick("lang") || document.documentElement.lang),
      theme: pick("theme") || "auto",
      sort: SORTS.includes(stored) ? stored : SORTS.includes(sort) ? sort : "top",
      prompt: pick("prompt"),
      sso: pick("sso"),
      // "pictures": show signed-in readers' pictures from the publisher. Off by default: a page whose CSP
      // limits img-src would block them (and log errors); identicons need nothing.
      avatars: pick("avatars") === "pictures" ? "pictures" : "identicons",
      onLoginRequest: typeof options.onLoginRequest === "function" ? options.onLoginRequest : null,
      limit: Math.min(100, Math.max(1, Number(options.limit) || PAGE)),
    };
    if (options.sort && SORTS.includes(options.sort)) o.sort = options.sort;
    const old = instances.get(element);
    if (old) old.destroy();
    const thread = new Thread(element, o);
    instances.set(element, thread);
    thread.start().catch((error) => {
      if (error.name !== "AbortError") console.error("Parlour:", error); // eslint-disable-line no-console
    });
    return { destroy: () => thread.destroy() };
  }

  function destroy(element) {
    const thread = instances.get(element);
    if (thread) thread.destroy();
    instances.delete(element);
  }

  // The host page signs its reader in with a token its server signed (or signs them out); every thread of the
  // site follows. Resolves to the reader as Parlour sees them, or null when the token was refused.
  async function login(token, options = {}) {
    const sites = options.site ? [options.site] : [...new Set([...threads].map((thread) => thread.o.site))];
    const results = await Promise.all(sites.map((site) => exchange(site, token)));
    for (const thread of threads) {
      const index = sites.indexOf(thread.o.site);
      if (index >= 0) thread.signedIn(results[index]);
    }
    const first = results.find(Boolean);
    return first ? first.reader : null;
  }

  async function logout() {
    const ended = [...sessions.entries()];
    sessions.clear();
    for (const thread of threads) thread.signedIn(null);
    await Promise.all(
      ended.map(async ([, pending]) => {
        const session = await pending;
        if (!session) return;
        await fetch(API + "/reader/session", {
          method: "DELETE",
          credentials: "omit",
          headers: { Authorization: "Bearer " + session.token },
        }).catch(() => null);
      }),
    );
  }

  function onLoginRequest(handler) {
    loginHandler = typeof handler === "function" ? handler : null;
  }

  window.Parlour = Object.freeze({ render, destroy, login, logout, onLoginRequest, version: "1" });

  function auto() {
    const element = document.getElementById("parlour-thread");
    if (element && !instances.has(element) && (element.getAttribute("data-parlour-site") || (SCRIPT && SCRIPT.getAttribute("data-parlour-site")))) {
      render(element);
    }
  }
  // The documented snippet puts the element before the script: start at once rather than after the rest of a long
  // page has been parsed.
  if (document.readyState !== "loading" || document.getElementById("parlour-thread")) auto();
  else document.addEventListener("DOMContentLoaded", auto, { once: true });
})();
