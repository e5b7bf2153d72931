// The "verified in your browser" badge and its list of checks, shared by the pages.

const TEXT = {
  checking: "Checking in your browser…",
};

export class Badge {
  constructor(root) {
    this.badge = root.querySelector("#badge");
    this.checks = root.querySelector("#checks");
  }

  // state: checking | valid | partial | invalid | pending
  set(state, text) {
    this.badge.className = `badge badge-${state}`;
    this.badge.dataset.state = state;
    this.badge.textContent = text || TEXT[state] || "";
  }

  clear() {
    this.checks.replaceChildren();
  }

  // ok: true (passed), false (failed), null (not checked)
  add(ok, text) {
    const item = document.createElement("li");
    item.className = ok === true ? "ok" : ok === false ? "failed" : "skipped";
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = ok === true ? "✓" : ok === false ? "✗" : "–";
    const label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = ok === true ? "Passed: " : ok === false ? "Failed: " : "Not checked: ";
    item.append(mark, label, document.createTextNode(text));
    this.checks.append(item);
  }
}

export async function fetchOk(url, options = {}) {
  const response = await fetch(url, { cache: "no-store", ...options });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      if (problem.detail) detail = `${response.status}: ${problem.detail}`;
    } catch {
      // not a problem document
    }
    const error = new Error(`${url} answered ${detail}`);
    error.status = response.status;
    error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
    throw error;
  }
  return response;
}

export const UNSUPPORTED_ED25519 =
  "This browser cannot check Ed25519 signatures, so the checkpoint's signature was not " +
  "checked here: use a current browser, or `rs log audit`.";
