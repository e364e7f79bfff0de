// Shared by the staff pages: boot data, strings, the API client and the realtime client.
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("boot").textContent);

  function t(key, values) {
    let text = boot.strings[key] || key;
    if (values) {
      for (const [name, value] of Object.entries(values)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function esc(value) {
    const div = document.createElement("div");
    div.textContent = value == null ? "" : String(value);
    return div.innerHTML;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || ("HTTP " + status));
      this.status = status;
      this.errorId = body && body.error_id;
    }
  }

  async function api(method, path, body) {
    const headers = { "accept": "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (boot.csrf && method !== "GET") headers["x-csrf-token"] = boot.csrf;
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // One socket with resume: the last event id survives reloads in sessionStorage, so a reconnect
  // (or a page reload) asks the server for everything after it.
  class Realtime {
    constructor(path, onEvent, opts) {
      this.path = path;
      this.onEvent = onEvent;
      this.opts = opts || {};
      this.storageKey = "mdg.last_event_id." + path + "." + (boot.user ? boot.user.id : "anon");
      this.lastId = Number(sessionStorage.getItem(this.storageKey)) || null;
      this.pending = new Map();
      this.refCounter = 0;
      this.delay = 500;
      this.connect();
    }
    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return scheme + "//" + location.host + this.path;
    }
    connect() {
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify({ op: "hello", last_event_id: this.lastId, batch: true }));
      ws.onmessage = (msg) => {
        const received = JSON.parse(msg.data);
        for (const frame of received.op === "batch" ? received.frames : [received]) this.receive(frame);
      };
      ws.onclose = () => {
        this.ready = false;
        if (this.opts.onStatus) this.opts.onStatus(false);
        for (const [, p] of this.pending) p.reject(new Error("connection closed"));
        this.pending.clear();
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 8000);
      };
    }
    remember(id) {
      if (id != null && (this.lastId == null || id > this.lastId)) {
        this.lastId = id;
        sessionStorage.setItem(this.storageKey, String(id));
      }
    }
    receive(frame) {
      if (frame.op === "ready") {
        this.remember(frame.last_event_id);
        this.ready = true;
        this.delay = 500;
        if (this.opts.onStatus) this.opts.onStatus(true);
        if (this.opts.onReady) this.opts.onReady();
      } else if (frame.op === "event") {
        this.remember(frame.id);
        this.onEvent(frame);
      } else if (frame.ref != null && this.pending.has(frame.ref)) {
        const p = this.pending.get(frame.ref);
        this.pending.delete(frame.ref);
        if (frame.op === "error") p.reject(new Error(frame.message || frame.error_id)); else p.resolve(frame);
      }
    }
    send(op) {
      const ref = "r" + (++this.refCounter);
      return new Promise((resolve, reject) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.ready) {
          reject(new Error("not connected"));
          return;
        }
        this.pending.set(ref, { resolve, reject });
        this.ws.send(JSON.stringify({ ...op, ref }));
      });
    }
    cast(op) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN && this.ready) this.ws.send(JSON.stringify(op));
    }
  }

  function fmtTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(boot.lang === "ja" ? "ja-JP" : "en-GB",
      { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function uid() {
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await api("POST", "/api/v1/auth/logout").catch(() => null);
      location.href = "/login";
    });
  }

  window.Mdg = { boot, t, esc, api, ApiError, Realtime, fmtTime, uid };
})();
