/* Parlour comment counts for listing pages: fills every [data-parlour-count-url] element with its story's count,
   using one request per 100 URLs. Embed once per page:
     <a href="/story" data-parlour-count-url="https://www.example.com/story">Comments</a>
     <script src="https://COMMENTS_HOST/count.js" data-parlour-site="SLUG" async></script>
   Each element gets the count as text ("12 comments", from the widget's catalog in the page's language; just
   the number when the catalog cannot be had) and as data-parlour-count="12" for styling. */
(() => {
  "use strict";
  const script = document.currentScript; // only set while the script first runs
  const src = (script && script.src) || location.href;
  const site = script && script.getAttribute("data-parlour-site");
  const api = new URL(src).origin + "/api/v1/counts";
  const placed = "__PARLOUR_ASSETS__";
  const assets = (/^https?:\/\//.test(placed) ? placed : new URL(".", src).href).replace(/\/?$/, "/");
  const CHUNK = 100;

  async function words() {
    const wanted = (script.getAttribute("data-parlour-lang") || document.documentElement.lang || "en").toLowerCase();
    const lang = ["en", "de"].includes(wanted.split(/[-_]/)[0]) ? wanted.split(/[-_]/)[0] : "en";
    const number = new Intl.NumberFormat(lang);
    try {
      const response = await fetch(assets + "i18n/" + lang + ".json");
      const forms = (await response.json())["header.count"];
      const plural = new Intl.PluralRules(lang);
      return (n) => (forms[plural.select(n)] || forms.other).replace("{count}", number.format(n));
    } catch (_) {
      return (n) => number.format(n);
    }
  }

  async function run() {
    if (!site) return;
    const elements = [...document.querySelectorAll("[data-parlour-count-url]")];
    const urls = [...new Set(elements.map((el) => el.getAttribute("data-parlour-count-url")).filter(Boolean))];
    if (!urls.length) return;
    const format = words();
    const counts = {};
    const chunks = [];
    for (let i = 0; i < urls.length; i += CHUNK) chunks.push(urls.slice(i, i + CHUNK));
    await Promise.all(
      chunks.map(async (chunk) => {
        const query = new URLSearchParams({ site });
        for (const url of chunk) query.append("url", url);
        try {
          const response = await fetch(api + "?" + query, { credentials: "omit" });
          if (response.ok) Object.assign(counts, (await response.json()).counts);
        } catch (_) {
          /* offline: leave the elements as they are */
        }
      }),
    );
    const text = await format;
    for (const el of elements) {
      const n = counts[el.getAttribute("data-parlour-count-url")];
      if (typeof n !== "number") continue;
      el.textContent = text(n);
      el.setAttribute("data-parlour-count", String(n));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run, { once: true });
  else run();
})();
