// Détente console: local times beside UTC ones, live refresh of the regions
// marked data-live (and, on a timer, of those marked data-live-every), an
// audible alert for FLASH messages and alarms, and the emergency line's
// deadlines and the close approaches' times counting down.
// Loaded with defer; nothing inline (the Content-Security-Policy forbids it).
"use strict";

(function () {
  const body = document.body;
  const lang = document.documentElement.lang || "en";
  // On an exercise clock the node's time runs ahead of this browser's.
  const offset = Number(body.dataset.clockOffset || "0");
  const nodeNow = () => Date.now() + offset;

  function localTimes(root) {
    for (const el of root.querySelectorAll("time.when")) {
      if (el.querySelector(".local")) continue;
      const moment = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(moment.getTime())) continue;
      const local = document.createElement("span");
      local.className = "local";
      local.textContent = "(" + moment.toLocaleString(lang, {
        hour: "2-digit", minute: "2-digit", day: "2-digit", month: "short",
      }) + " " + (lang === "ru" ? "местн." : "local") + ")";
      el.appendChild(local);
    }
  }

  function tickClock() {
    const el = document.querySelector("[data-clock-utc]");
    if (el) el.textContent = new Date(nodeNow()).toISOString().slice(11, 19);
  }

  // A deadline on the line (data-deadline, RFC 3339): the time left, or how
  // long it is overdue, each second; the words come with the element in the
  // page's language (data-left, data-over: "{time} left", "overdue by {time}").
  function span(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    return hours > 0
      ? hours + ":" + String(minutes).padStart(2, "0") + ":" + seconds
      : minutes + ":" + seconds;
  }

  function tickDeadlines() {
    const now = nodeNow();
    for (const el of document.querySelectorAll("[data-deadline]")) {
      const due = Date.parse(el.dataset.deadline);
      if (Number.isNaN(due)) continue;
      const over = now >= due;
      const words = (over ? el.dataset.over : el.dataset.left) || "{time}";
      el.textContent = words.replace("{time}", span(due - now));
      el.classList.toggle("overdue", over);
    }
  }

  // The alert tone: made here with Web Audio, so no sound file is needed.
  let audio = null;
  function unlockAudio() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    if (audio && audio.state === "suspended") audio.resume();
  }
  document.addEventListener("keydown", unlockAudio, { once: true });
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  function alertTone() {
    body.dataset.alerted = String(Number(body.dataset.alerted || "0") + 1);
    if (!audio) return;
    const now = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, now + i * 0.3);
      gain.gain.setValueAtTime(0, now + i * 0.3 + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.3);
      osc.stop(now + i * 0.3 + 0.2);
    }
  }

  // A region is left alone while the officer is in it or has typed into it.
  function busy(region) {
    if (region.contains(document.activeElement)) return true;
    for (const field of region.querySelectorAll("input, textarea")) {
      if (field.type !== "hidden" && field.value !== field.defaultValue) return true;
    }
    return false;
  }

  // Regions that change by themselves (the map's moving units) say every how
  // many seconds to refresh them (data-live-every; 0 for never). The pages of
  // the track picture (their stream counts it: tracks=1) are refreshed at
  // most once a second, however busy the feeds.
  const timedEvery = () => {
    const el = document.querySelector("[data-live-every]");
    return el ? Number(el.dataset.liveEvery) || 0 : 0;
  };
  const tracksPage = /[?&]tracks=1(&|$)/.test(body.dataset.liveEvents || "");
  let running = false;
  let pending = null; // "all" or "timed": what to refresh once the current one ends
  let lastRefresh = Date.now();

  function refresh(scope = "all") {
    if (!tracksPage) {
      // Every other page: at once, as each change comes (a FLASH message).
      swap(scope).catch(() => {});
      return;
    }
    if (running) {
      pending = pending === "all" || scope === "all" ? "all" : "timed";
      return;
    }
    running = true;
    setTimeout(() => {
      lastRefresh = Date.now();
      swap(scope).catch(() => {}).finally(() => {
        running = false;
        const next = pending;
        pending = null;
        if (next) refresh(next);
      });
    }, Math.max(1000 - (Date.now() - lastRefresh), 0));
  }

  function tickTimed() {
    const every = timedEvery();
    if (every > 0 && !document.hidden && Date.now() - lastRefresh >= every * 1000) {
      refresh("timed");
    }
  }

  async function swap(scope) {
    // The page as it is now, without re-running a verification it showed.
    const url = new URL(location.href);
    url.searchParams.delete("verify");
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const regions = scope === "timed" ? "[data-live][data-live-every]" : "[data-live]";
    for (const fresh of doc.querySelectorAll(regions)) {
      const name = fresh.getAttribute("data-live");
      const current = document.querySelector('[data-live="' + name + '"]');
      if (current && current.innerHTML !== fresh.innerHTML && !busy(current)) {
        // The element stays (a live region is announced only if it persists).
        current.innerHTML = fresh.innerHTML;
        for (const attr of fresh.attributes) current.setAttribute(attr.name, attr.value);
        localTimes(current);
        tickDeadlines();
      }
    }
    body.dataset.refreshed = String(Number(body.dataset.refreshed || "0") + 1);
  }

  function listen() {
    const url = body.dataset.liveEvents;
    if (!url || !window.EventSource) return;
    // The snapshot the page was rendered from: the first event differs from
    // it if anything changed since, and the page then refreshes.
    let version = body.dataset.version || null;
    const banner = document.getElementById("alarm-banner");
    let alarms = banner ? Number(banner.dataset.alarms || "0") : null;
    const source = new EventSource(url);
    source.addEventListener("open", () => { body.dataset.live = "connected"; });
    source.addEventListener("error", () => {
      // A closed stream (the session ended) does not come back by itself.
      body.dataset.live = source.readyState === EventSource.CLOSED ? "stopped" : "reconnecting";
      const status = document.getElementById("live-status");
      if (status && source.readyState === EventSource.CLOSED) status.hidden = false;
    });
    source.addEventListener("change", (event) => {
      const data = JSON.parse(event.data);
      if (data.flash || (alarms !== null && data.alarms > alarms)) {
        body.classList.add("flash");
        alertTone();
      }
      alarms = data.alarms;
      if (version !== null && data.version !== version) refresh();
      version = data.version;
      body.dataset.live = "connected";
    });
  }

  // The officer has seen the alert once they touch the page.
  for (const kind of ["keydown", "pointerdown"]) {
    document.addEventListener(kind, () => body.classList.remove("flash"));
  }

  localTimes(document);
  tickClock();
  tickDeadlines();
  setInterval(() => { tickClock(); tickDeadlines(); tickTimed(); }, 1000);
  listen();
})();
