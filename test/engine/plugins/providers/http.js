// The one HTTP helper the stand-ins' invokes share. Loopback only: a stand-in must never reach a real service, so a
// URL that is not 127.0.0.1/localhost (e.g. the real provider's default api.github.com) fails before any request.
"use strict";

/** `method url` with a timeout; the response, or an error naming the request. */
async function request(method, url, headers = {}) {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) {
    throw new Error(`stand-in plugin: refusing ${method} ${url}: only local fakes on 127.0.0.1 are reachable; point the base URL env var at a fake`);
  }
  try {
    return await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`${method} ${url}: ${err.message}`);
  }
}

module.exports = { request };
