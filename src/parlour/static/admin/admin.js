/* The moderation dashboard's behaviour: keyboard shortcuts, the selected item, claims, live updates and toasts.
 *
 * Plain ES2020 with the vendored htmx, loaded by templates/admin/base.html. The page CSP allows no inline script,
 * style or eval, so everything behavioural lives here. Server HTML is inserted as the server rendered it; this file
 * builds its own nodes with textContent only. Without this script every action still works as a plain form post.
 */
(() => {
  "use strict";

  const body = document.body;
  if (!body || !body.dataset.staffId) return; // the sign-in page: nothing to drive

  const staffId = body.dataset.staffId;
  const undoSeconds = Number(body.dataset.undoSeconds) || 15;
  const csrfToken = readCsrfToken();
  const queue = document.getElementById("queue"); // null outside a queue page
  const queueName = queue ? queue.dataset.queue : "";
  const siteFilter = queue ? queue.dataset.site || "" : "";
  const params = new URLSearchParams(location.search);
  // Live items go on top of the first page only; a later page is a fixed window the moderator scrolled to.
  const firstPage = !Number(params.get("offset") || 0);
  // The page's filters: a card fetched alone is asked for as this page would show it (or not at all).
  const filters = Object.fromEntries(["story", "author", "reason", "q"].map((name) => [name, params.get(name) || ""]));
  // Claims mark work in progress: work queues, and a comment opened on its own page.
  const claims = Boolean(document.querySelector(".items--single")) || (queue && queue.dataset.work === "true");

  const CLAIM_DELAY_MS = 600; // passing over an item with j/k does not claim it
  const CLAIM_RENEW_MS = 60000; // the server holds a claim for 120 s
  const COUNTS_DELAY_MS = 250; // a burst of events asks for the counts once
  const RECONNECT_MIN_MS = 2000;
  const RECONNECT_MAX_MS = 60000;
  const KEYS_WHILE_TYPING = new Set(["Escape"]);
  const TEXT_INPUTS = new Set(["text", "search", "email", "password", "number", "url", "tel", "date", "time"]);
  const POPOVER_FIELDS = { reject: "input[name=reason]", ban: "input[name=reason]", suspend: "input[name=days]" };

  let selectedId = null;
  let order = []; // the card ids in page order, as last seen
  let itemsElement = document.getElementById("items");
  let lastActed = []; // the ids of the last action, to select again after an undo
  let claimTimer = 0;
  const claimedAt = new Map();
  let live = null; // the event stream, once started
  let started = false;

  // ---------------------------------------------------------------------------------------------------------
  // Helpers

  function readCsrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function cards() {
    return Array.from(document.querySelectorAll(".items > li.card"));
  }

  function cardById(id) {
    const card = id ? document.getElementById(`item-${id}`) : null;
    return card && card.matches(".items > li.card") ? card : null;
  }

  function selectedCard() {
    return cardById(selectedId);
  }

  function announce(text) {
    const region = document.getElementById("announcer");
    if (!region) return;
    // Emptied first so that the same words twice are announced twice.
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  /** A query string of the fields that have a value: the server refuses an empty site slug. */
  function query(fields) {
    return new URLSearchParams(Object.entries(fields).filter(([, value]) => value)).toString();
  }

  function fragment(html) {
    return new DOMParser().parseFromString(html, "text/html").body;
  }

  function activate(node) {
    if (window.htmx) window.htmx.process(node);
  }

  async function request(url, options = {}) {
    const headers = { "HX-Request": "true", ...(options.headers || {}) };
    const response = await fetch(url, { credentials: "same-origin", ...options, headers });
    if (response.status === 401) {
      sessionEnded();
      return null;
    }
    if (response.status === 204) return "";
    if (!response.ok) throw new Error(await problemDetail(response));
    return response.text();
  }

  function post(url, fields = {}) {
    return request(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }

  async function problemDetail(response) {
    try {
      const problem = await response.json();
      return problem.detail || problem.title || `Error ${response.status}`;
    } catch (error) {
      return `Error ${response.status}`;
    }
  }

  function isTyping(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable || target.matches("textarea, select")) return true;
    if (target.matches("input")) return TEXT_INPUTS.has((target.getAttribute("type") || "text").toLowerCase());
    // Inside a card's open form (a reason's radio buttons), letters belong to the form.
    return Boolean(target.closest("details.popover[open] form"));
  }

  // ---------------------------------------------------------------------------------------------------------
  // The selected item

  function select(card, { focus = true, claim = true, scroll = true } = {}) {
    if (!card) return;
    const previous = selectedCard();
    if (previous && previous !== card) previous.removeAttribute("aria-current");
    card.setAttribute("aria-current", "true");
    selectedId = card.dataset.id;
    if (focus) {
      const target = card.querySelector(".card-body") || card;
      target.focus({ preventScroll: true });
      if (scroll) card.scrollIntoView({ block: "nearest" });
    }
    if (claim) scheduleClaim(card);
  }

  function move(step) {
    const list = cards();
    if (!list.length) return;
    const index = list.indexOf(selectedCard());
    let next;
    if (index === -1) next = step > 0 ? 0 : list.length - 1;
    else next = Math.min(list.length - 1, Math.max(0, index + step));
    select(list[next]);
  }

  /** The card the keys act on: the selected one, as long as the moderator can see it.
   *
   * After scrolling away from it (with the wheel, say), a key does not act on an item out of sight: it selects the
   * first card in view instead, without scrolling, and does nothing else, so the next key acts on what is seen. */
  function target() {
    const card = selectedCard();
    if (card && inView(card)) return card;
    const seen = firstCardInView();
    if (seen) {
      select(seen, { scroll: false });
      const who = seen.querySelector(".card-title a");
      announce(`Selected the comment${who ? ` by ${who.textContent.trim()}` : ""} in view. Press the key again to act on it.`);
    } else if (card) {
      announce("The selected comment is out of view. Press j or k to move to one.");
    }
    return null;
  }

  function inView(card) {
    const box = (card.querySelector(".card-body") || card).getBoundingClientRect();
    return box.height > 0 && box.bottom > 0 && box.top < window.innerHeight;
  }

  /** The first card whose top is in view, or else the first one partly in view. */
  function firstCardInView() {
    const seen = cards().filter(inView);
    return seen.find((card) => card.getBoundingClientRect().top >= 0) || seen[0] || null;
  }

  function firstFreeCard() {
    const list = cards();
    return list.find((card) => !card.querySelector(".claim--other")) || list[0] || null;
  }

  /** After cards come and go: keep a selection, move it to the next item when its card left, update totals.
   *
   * `counted`: the list's total was just set from the server's count, so cards that came or went are in it. */
  function reconcile({ counted = false } = {}) {
    const list = cards();
    const ids = list.map((card) => card.dataset.id);
    const items = document.getElementById("items");
    if (items && items !== itemsElement) {
      itemsElement = items; // a fresh list from the server: its total is current
    } else if (items && started && !counted) {
      // Cards that left (decided here or elsewhere) left the queue; one that arrives comes with a server count.
      const before = new Set(order);
      const now = new Set(ids);
      const delta = ids.filter((id) => !before.has(id)).length - order.filter((id) => !now.has(id)).length;
      items.dataset.total = String(Math.max(0, Number(items.dataset.total || 0) + delta));
    }
    const lostFocus = !document.activeElement || document.activeElement === body;
    if (selectedId && !ids.includes(selectedId)) {
      const next = successor(ids);
      selectedId = null;
      if (next) select(cardById(next), { focus: lostFocus });
      else if (!ids.length) queueCleared(lostFocus);
    } else if (selectedId) {
      const card = selectedCard();
      if (card.getAttribute("aria-current") !== "true") {
        // The server sent a new card for the same item (an action that kept it here): select it again.
        card.setAttribute("aria-current", "true");
        if (lostFocus) (card.querySelector(".card-body") || card).focus({ preventScroll: true });
      }
    } else if (list.length && !order.length) {
      // On arrival the first item free to take is outlined; the focus stays where the browser put it, and the
      // item is claimed only once the moderator moves to it (a comment opened on its own page is claimed at once).
      select(firstFreeCard(), { focus: false, claim: !queue });
    }
    order = ids;
    started = true;
    updateTotals(list.length);
    updateSelectionCount();
  }

  /** The item after the one that left (in the order before it left), or else the one before it. */
  function successor(ids) {
    const present = new Set(ids);
    const index = order.indexOf(selectedId);
    if (index === -1) return ids[0] || null;
    for (let i = index + 1; i < order.length; i += 1) if (present.has(order[i])) return order[i];
    for (let i = index - 1; i >= 0; i -= 1) if (present.has(order[i])) return order[i];
    return ids[0] || null;
  }

  function queueCleared(lostFocus) {
    const items = document.getElementById("items");
    if (items && Number(items.dataset.total || 0) > 0) {
      refreshItems(); // more items wait on later pages: bring them in
      return;
    }
    announce("The queue is empty.");
    if (lostFocus) {
      const main = document.getElementById("main");
      if (main) main.focus({ preventScroll: true });
    }
  }

  function updateTotals(shown) {
    const items = document.getElementById("items");
    const empty = document.getElementById("queue-empty");
    if (empty && empty.hidden !== shown > 0) empty.hidden = shown > 0;
    const total = queue ? queue.querySelector("#queue-title .total") : null;
    if (total && items) setText(total, items.dataset.total || "0");
  }

  /** Text written only when it changes: the observer that calls this would otherwise wake itself forever. */
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Actions on the selected item

  function press(card, selector, missing) {
    const button = card.querySelector(selector);
    if (!button || button.disabled) {
      announce(missing);
      return;
    }
    if (card.classList.contains("card--busy")) return; // the previous action on it is still on its way
    button.click();
  }

  function openPopover(card, name) {
    const details = card.querySelector(`details.popover[data-action="${name}"]`);
    if (!details) {
      announce(`This comment has no ${name} action.`);
      return;
    }
    closePopovers(details);
    details.open = true;
    focusPopoverField(details);
  }

  function focusPopoverField(details) {
    const field = details.querySelector(POPOVER_FIELDS[details.dataset.action] || "input, button");
    if (field && !details.querySelector("form").contains(document.activeElement)) field.focus();
  }

  function closePopovers(except = null) {
    for (const details of document.querySelectorAll("details.popover[open]")) {
      if (details !== except) details.open = false;
    }
  }

  function toggleForBulk(card) {
    const box = card.querySelector(".card-select");
    if (!box) return;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    announce(box.checked ? "Selected for a bulk action." : "Removed from the bulk selection.");
  }

  function checkedIds() {
    return Array.from(document.querySelectorAll(".items .card-select:checked"), (box) => box.value);
  }

  function bulk(action) {
    const form = document.getElementById("bulk");
    if (!form) return;
    if (!checkedIds().length) {
      showError("Select comments with x first.");
      return;
    }
    const button = form.querySelector(`button[name=action][value="${action}"]`);
    if (button) button.click();
  }

  function updateSelectionCount() {
    const count = document.querySelector("[data-selected-count]");
    const all = document.querySelector("[data-select-all]");
    const boxes = document.querySelectorAll(".items .card-select");
    const checked = checkedIds().length;
    if (count) setText(count, checked ? `${checked} selected` : "");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }

  function undo() {
    const button = document.querySelector("#toasts .toast[data-undo] button[type=submit]");
    if (button) button.click();
    else announce("Nothing to undo.");
  }

  function openComment(card) {
    const link = card.querySelector("a.permalink");
    if (link) location.assign(link.href);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Help

  const help = document.getElementById("help");
  let helpOpener = null;

  function openHelp() {
    if (!help || help.open) return;
    helpOpener = document.activeElement;
    closePopovers();
    help.showModal();
  }

  if (help) {
    help.addEventListener("close", () => {
      // Back to what opened it; opened from nowhere (the page itself, on arrival) or gone: the selected item.
      const opener = helpOpener;
      helpOpener = null;
      if (opener && opener.isConnected && opener !== body && opener !== document.documentElement) {
        opener.focus({ preventScroll: true });
        return;
      }
      const card = selectedCard() || cards()[0];
      if (card) select(card, { scroll: false });
      else (document.getElementById("main") || body).focus({ preventScroll: true });
    });
  }
  for (const button of document.querySelectorAll("[data-open-help]")) {
    button.addEventListener("click", openHelp);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Keys

  const ACTIONS = {
    j: () => move(1),
    k: () => move(-1),
    a: (card) => press(card, "button[data-action=approve]", "This comment cannot be approved here."),
    f: (card) => press(card, "button[data-action=feature]", "Only a published comment can be featured."),
    d: (card) => press(card, "button[data-action=dismiss]", "This comment has no open reports."),
    p: (card) => press(card, "button[data-action=premoderate]", "Not available here."),
    r: (card) => openPopover(card, "reject"),
    b: (card) => openPopover(card, "ban"),
    s: (card) => openPopover(card, "suspend"),
    x: (card) => toggleForBulk(card),
    o: (card) => openComment(card),
  };
  const NEEDS_CARD = new Set(["a", "f", "d", "p", "r", "b", "s", "x", "o"]);

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const key = event.key;
    if (key === "Escape") {
      if (escape()) event.preventDefault();
      return;
    }
    if (help && help.open) return; // the dialog is modal: its own keys only
    if (isTyping(event.target) && !KEYS_WHILE_TYPING.has(key)) return;
    let handled = true;
    if (key === "?") openHelp();
    else if (key === "u") undo();
    else if (key === "A") bulk("approve");
    else if (key === "R") bulk("reject");
    else if (ACTIONS[key]) {
      if (NEEDS_CARD.has(key)) {
        const card = target();
        if (card) ACTIONS[key](card);
        else if (!cards().length) announce("No comment here.");
      } else {
        ACTIONS[key]();
      }
    } else handled = false;
    // A handled letter must not also be typed into the field the key has just focused.
    if (handled) event.preventDefault();
  });

  /** Close the innermost open thing: a card's form (focus back on its card), or nothing. */
  function escape() {
    const open = document.querySelectorAll("details.popover[open]");
    if (!open.length) return false;
    const card = open[0].closest("li.card");
    closePopovers();
    if (card) select(card);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Pointer and form events

  document.addEventListener("click", (event) => {
    const inside = event.target instanceof Element ? event.target : null;
    for (const details of document.querySelectorAll("details.popover[open]")) {
      if (!inside || !details.contains(inside)) details.open = false;
    }
    const card = inside ? inside.closest(".items > li.card") : null;
    if (card && card.dataset.id !== selectedId) select(card, { focus: false });
  });

  // Opened with the mouse too: close the others and put the cursor where the reason goes.
  document.addEventListener(
    "toggle",
    (event) => {
      const details = event.target;
      if (!(details instanceof HTMLDetailsElement) || !details.matches(".popover") || !details.open) return;
      closePopovers(details);
      focusPopoverField(details);
    },
    true,
  );

  document.addEventListener("focusin", (event) => {
    const card = event.target instanceof Element ? event.target.closest(".items > li.card") : null;
    if (card && card.dataset.id !== selectedId) select(card, { focus: false });
  });

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.matches("[data-select-all]")) {
      for (const each of document.querySelectorAll(".items .card-select")) each.checked = box.checked;
    }
    if (box.matches("[data-select-all], .card-select")) updateSelectionCount();
  });

  // htmx: mark the item an action is on its way for, remember it for undo, and say what went wrong.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const element = event.detail.elt;
    if (element.id === "bulk") {
      const ids = checkedIds();
      if (!ids.length) {
        event.preventDefault();
        showError("Select comments with x first.");
        return;
      }
      lastActed = ids;
      return;
    }
    const card = element.closest("li.card");
    if (!card) return;
    lastActed = [card.dataset.id];
    card.classList.add("card--busy");
    card.setAttribute("aria-busy", "true");
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const card = event.detail.elt.closest("li.card");
    if (card) {
      card.classList.remove("card--busy");
      card.removeAttribute("aria-busy");
    }
  });

  // A refused action (409: someone else's claim, 422: a bad field…) is said in a toast, in the problem's words; htmx
  // is told it was handled, so it neither swaps the answer in nor logs it as a script error.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    if (xhr.status === 401) {
      sessionEnded();
      return;
    }
    let detail = `The server answered ${xhr.status}.`;
    try {
      const problem = JSON.parse(xhr.responseText);
      detail = problem.detail || problem.title || detail;
    } catch (error) {
      // not a problem+json body: the status says enough
    }
    showError(detail);
  });

  document.addEventListener("htmx:sendError", () => showError("The server could not be reached. Try again."));

  // After an undo the server asks for a refresh: the undone item comes back, selected.
  document.addEventListener("parlour-refresh", async () => {
    await refreshItems();
    const back = lastActed.map(cardById).find(Boolean);
    if (back) select(back);
    scheduleCounts();
  });

  // ---------------------------------------------------------------------------------------------------------
  // Toasts

  const toasts = document.getElementById("toasts");
  let toastTimer = 0;

  function armToast() {
    window.clearTimeout(toastTimer);
    const toast = toasts && toasts.querySelector(".toast");
    if (!toast) return;
    const seconds = Number(toast.dataset.expiresIn) || (toast.hasAttribute("data-undo") ? undoSeconds : 4);
    // Undo is offered exactly as long as the server accepts it.
    toastTimer = window.setTimeout(() => {
      if (toast.isConnected) toast.remove();
    }, seconds * 1000);
  }

  function showError(message) {
    if (!toasts) return;
    const toast = document.createElement("div");
    toast.className = "toast toast--error";
    toast.dataset.expiresIn = "8";
    const text = document.createElement("span");
    text.className = "toast-message";
    text.textContent = message;
    toast.append(text);
    toasts.replaceChildren(toast);
  }

  function sessionEnded() {
    if (!toasts || toasts.querySelector("[data-session-ended]")) return;
    const toast = document.createElement("div");
    toast.className = "toast toast--error";
    toast.dataset.sessionEnded = "";
    toast.dataset.expiresIn = "3600";
    const text = document.createElement("span");
    text.textContent = "Your session has ended. ";
    const link = document.createElement("a");
    link.href = `/admin/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    link.textContent = "Sign in again";
    toast.append(text, link);
    toasts.replaceChildren(toast);
    if (live) live.stop();
  }

  if (toasts) new MutationObserver(armToast).observe(toasts, { childList: true });

  // ---------------------------------------------------------------------------------------------------------
  // Claims: the item a moderator is on shows as theirs to the others

  function scheduleClaim(card) {
    if (!claims) return;
    window.clearTimeout(claimTimer);
    claimTimer = window.setTimeout(() => claim(card.dataset.id), CLAIM_DELAY_MS);
  }

  async function claim(id) {
    if (!id || Date.now() - (claimedAt.get(id) || 0) < CLAIM_RENEW_MS) return;
    claimedAt.set(id, Date.now());
    let html;
    try {
      html = await post(`/admin/comments/${id}/claim`);
    } catch (error) {
      claimedAt.delete(id);
      return; // the item has gone (decided, deleted): the live update removes its card
    }
    const badge = document.getElementById(`claim-${id}`);
    const fresh = html ? fragment(html).querySelector(`#claim-${id}`) : null;
    if (badge && fresh) {
      badge.replaceWith(fresh);
      if (fresh.classList.contains("claim--other")) announce(fresh.textContent.trim());
    }
  }

  if (claims) {
    // Keep the claim while the moderator is at work on the item; a tab left open does not hold it for ever.
    let active = Date.now();
    for (const name of ["keydown", "pointerdown", "focusin"]) {
      document.addEventListener(name, () => (active = Date.now()), { capture: true, passive: true });
    }
    window.setInterval(() => {
      if (document.visibilityState === "visible" && Date.now() - active < 2 * CLAIM_RENEW_MS) claim(selectedId);
    }, CLAIM_RENEW_MS / 2);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Live updates: /admin/events (SSE) for the open queue and the counts in the navigation

  let countsTimer = 0;

  function scheduleCounts() {
    if (!document.getElementById("queue-nav")) return;
    window.clearTimeout(countsTimer);
    countsTimer = window.setTimeout(refreshCounts, COUNTS_DELAY_MS);
  }

  async function refreshCounts() {
    const html = await request(`/admin/counts?${query({ site: siteFilter, current: queueName })}`).catch(() => null);
    const nav = document.getElementById("queue-nav");
    const fresh = html ? fragment(html).querySelector("#queue-nav") : null;
    if (nav && fresh) {
      nav.replaceWith(fresh);
      activate(fresh);
    }
  }

  async function refreshSurges() {
    const html = await request(`/admin/surges?${query({ site: siteFilter })}`).catch(() => null);
    const old = document.getElementById("surges");
    const fresh = html ? fragment(html).querySelector("#surges") : null;
    if (old && fresh) old.replaceWith(fresh);
  }

  async function itemsFragment() {
    const html = queue ? await request(queue.dataset.itemsUrl).catch(() => null) : null;
    return html ? fragment(html).querySelector("#items") : null;
  }

  /** The whole first list again (after an undo, a reconnection or an emptied page). */
  async function refreshItems() {
    const fresh = await itemsFragment();
    const items = document.getElementById("items");
    if (!fresh || !items) return;
    const keep = new Set(checkedIds());
    for (const box of fresh.querySelectorAll(".card-select")) box.checked = keep.has(box.value);
    items.replaceWith(fresh);
    activate(fresh);
    reconcile();
  }

  /** New items in the open queue go on top, as the server renders them for this page's filters.
   *
   * New means the item the event names (it has just entered this queue), or, catching up after the stream was
   * down, an item created after the list was drawn. Other cards the server now has on the first page only slid up
   * from the next one (items above them left): they go at the end, in order, and are not announced. The heading's
   * total is the server's count for this page's filters. */
  async function addNewItems(id) {
    const items = document.getElementById("items");
    if (!items || !firstPage) return;
    const fresh = await itemsFragment();
    if (!fresh) return;
    const drawnAt = Date.parse(items.dataset.drawnAt || "") || Infinity;
    const isNew = (card) => (id ? card.dataset.id === String(id) : createdAt(card) > drawnAt);
    const present = new Set(cards().map((card) => card.dataset.id));
    const incoming = Array.from(fresh.querySelectorAll(":scope > li.card")).filter(
      (card) => !present.has(card.dataset.id),
    );
    const arrived = incoming.filter(isNew);
    const slid = incoming.filter((card) => !isNew(card));
    if (id && !present.has(String(id)) && !arrived.length) {
      // Past the first page of an oldest-first queue: the card alone, if the server finds it in this filtered queue.
      const alone = await cardIn(id);
      if (alone) arrived.push(alone);
    }
    if (!document.getElementById("items") || items !== document.getElementById("items")) return; // replaced meanwhile
    items.dataset.total = fresh.dataset.total || items.dataset.total;
    for (const card of slid) {
      if (cardById(card.dataset.id)) continue;
      items.append(card);
      activate(card);
    }
    for (const card of [...arrived].reverse()) {
      if (cardById(card.dataset.id)) continue;
      card.classList.add("card--new");
      items.prepend(card);
      activate(card);
    }
    reconcile({ counted: true });
    if (arrived.length) {
      const who = arrived[0].querySelector(".card-title a");
      announce(`New comment${who ? ` by ${who.textContent.trim()}` : ""} in this queue.`);
    }
  }

  function createdAt(card) {
    const time = card.querySelector(".permalink time");
    return time ? Date.parse(time.getAttribute("datetime") || "") || 0 : 0;
  }

  /** One item's card as this page shows it, or null when it is not (or no longer) in the queue with its filters. */
  async function cardIn(id) {
    const url = `/admin/comments/${id}/card?${query({ queue: queueName, site: siteFilter, ...filters })}`;
    const html = await request(url).catch(() => null);
    const card = html ? fragment(html).querySelector("li.card") : null;
    if (card && siteFilter) {
      // The card alone does not know this page's site filter; its forms need it for the counts they return.
      for (const form of card.querySelectorAll("form[hx-post]")) {
        if (form.querySelector("input[name=site]")) continue;
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "site";
        input.value = siteFilter;
        form.append(input);
      }
    }
    return card;
  }

  /** Someone else decided on, edited or deleted an item shown here: show its new card, or take it away. */
  async function refreshCard(id) {
    const old = cardById(id);
    if (!old) return;
    const card = await cardIn(id);
    const current = cardById(id);
    if (!current) return;
    if (!card) {
      current.remove();
      return;
    }
    // Someone typing a reason in this card keeps their form; the item is still here, so nothing is lost.
    if (current.querySelector("details.popover[open]") || current.classList.contains("card--busy")) return;
    const focused = current.contains(document.activeElement);
    const box = current.querySelector(".card-select");
    const freshBox = card.querySelector(".card-select");
    if (box && freshBox) freshBox.checked = box.checked;
    current.replaceWith(card);
    activate(card);
    if (focused && selectedId === String(id)) (card.querySelector(".card-body") || card).focus({ preventScroll: true });
  }


  function liveUpdates() {
    let source = null;
    let delay = RECONNECT_MIN_MS;
    let missed = false;
    let timer = 0;
    const read = (event) => {
      try {
        return JSON.parse(event.data);
      } catch (error) {
        return {};
      }
    };
    const handlers = {
      item: (data) => addNewItems(data.id),
      decided: (data) => {
        // One's own decisions came back with the action's answer already.
        if (String(data.by) === staffId) return;
        // Decided elsewhere: its card here changes or goes, or it enters this queue (the Rejected queue, say).
        if (cardById(data.id)) refreshCard(data.id);
        else addNewItems(data.id);
      },
      changed: (data) => refreshCard(data.id),
      gone: (data) => refreshCard(data.id),
      surge: () => {
        refreshSurges();
        announce("The surge guard switched a story to pre-moderation.");
      },
    };

    function connect() {
      source = new EventSource("/admin/events");
      source.addEventListener("open", () => {
        delay = RECONNECT_MIN_MS;
        body.dataset.live = "connected"; // for the stylesheet and for tests: updates are flowing
        if (missed) {
          // Events sent while the stream was down are gone: catch up from the server.
          missed = false;
          addNewItems(null);
          scheduleCounts();
        }
      });
      source.addEventListener("error", () => {
        missed = true;
        body.dataset.live = "reconnecting";
        // The browser retries a dropped stream by itself; a refused one (signed out, server down) is ours to retry.
        if (source.readyState === EventSource.CLOSED) {
          window.clearTimeout(timer);
          timer = window.setTimeout(connect, delay);
          delay = Math.min(RECONNECT_MAX_MS, delay * 2);
        }
      });
      for (const [name, handle] of Object.entries(handlers)) {
        source.addEventListener(name, (event) => {
          handle(read(event));
          scheduleCounts();
        });
      }
    }

    function stop() {
      window.clearTimeout(timer);
      if (source) source.close();
    }

    // Leaving the page closes the stream at once rather than as an error mid-navigation.
    window.addEventListener("pagehide", stop);
    connect();
    return { stop };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Start

  new MutationObserver(() => reconcile()).observe(document.getElementById("main") || body, {
    childList: true,
    subtree: true,
  });
  reconcile();
  if (queue && window.EventSource) live = liveUpdates();
})();
