// The customer simulator: remembers who you are, posts what you write, polls what the shop sent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KEY = "potok-demo-customer";
  const fields = ["channel", "name", "contact", "phone"];

  function randomContact(channel) {
    const digits = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join("");
    if (channel === "whatsapp") return "7913" + digits(7);
    if (channel === "site_chat") return "visitor-" + digits(6);
    return "5" + digits(8);
  }

  function load() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { saved = {}; }
    for (const f of fields) if (saved[f]) $("demo-" + f).value = saved[f];
    if (!$("demo-contact").value) $("demo-contact").value = randomContact($("demo-channel").value);
    save();
  }

  function who() {
    const data = {};
    for (const f of fields) data[f] = $("demo-" + f).value.trim();
    return data;
  }

  function save() { localStorage.setItem(KEY, JSON.stringify(who())); }

  function linkify(text) {
    const out = document.createDocumentFragment();
    const re = /(https?:\/\/[^\s]+)/g;
    let last = 0, match;
    while ((match = re.exec(text)) !== null) {
      out.append(text.slice(last, match.index));
      const a = document.createElement("a");
      a.href = match[1]; a.textContent = match[1]; a.target = "_blank"; a.rel = "noopener";
      out.append(a);
      last = match.index + match[1].length;
    }
    out.append(text.slice(last));
    return out;
  }

  function show(list, items, empty, cls) {
    const signature = JSON.stringify(items);
    if (list.dataset.signature === signature) return;
    list.dataset.signature = signature;
    list.replaceChildren();
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "muted demo-empty"; li.textContent = empty; list.append(li);
      return;
    }
    for (const item of items) {
      const li = document.createElement("li");
      li.className = cls(item);
      li.append(linkify(item.text));
      if (item.at) {
        const t = document.createElement("time");
        t.dateTime = item.at; t.textContent = new Date(item.at).toLocaleTimeString("ru-RU");
        li.append(t);
      }
      list.append(li);
    }
    list.scrollTop = list.scrollHeight;
  }

  async function refresh() {
    const c = who();
    const query = new URLSearchParams({ channel: c.channel, contact: c.contact, phone: c.phone });
    try {
      const answer = await fetch("/demo/feed?" + query.toString(), { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const data = await answer.json();
      show($("demo-messages"), data.messages, "Напишите магазину, например: «Здравствуйте, нужен бампер».",
        (m) => (m.from === "me" ? "from-me" : "from-shop"));
      show($("demo-sms"), data.sms, "SMS пока нет.", () => "sms");
    } catch (e) { /* the server restarts: try again on the next tick */ }
  }

  async function say(event) {
    event.preventDefault();
    const input = $("demo-text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    save();
    await fetch("/demo/say", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...who(), text }),
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    load();
    $("demo-say").addEventListener("submit", say);
    for (const f of fields) $("demo-" + f).addEventListener("change", () => { save(); refresh(); });
    $("demo-channel").addEventListener("change", () => {
      $("demo-contact").value = randomContact($("demo-channel").value); save(); refresh();
    });
    $("demo-new").addEventListener("click", () => {
      $("demo-contact").value = randomContact($("demo-channel").value); save(); refresh();
    });
    refresh();
    setInterval(refresh, 1500);
  });
})();
