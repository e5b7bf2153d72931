// The explorer page: check the latest checkpoint's signature in the browser, and its witnesses'
// cosignatures under the witness policy the log serves; and the label box (a number's label,
// asked with the visitor's API key, then every entry under it).

import { base64Decode, checkCheckpoint, checkCosignatures } from "./logcheck.js";
import { Badge, UNSUPPORTED_ED25519, fetchOk } from "./badge.js";

const PAGE = 1000; // /v1/log/entries answers at most this many a request

// --- The checkpoint -------------------------------------------------------------------------

const card = document.getElementById("checkpoint");
if (card) {
  const badge = new Badge(card);
  const keyInput = card.querySelector("#verifier-key");
  const note = new TextDecoder().decode(base64Decode(card.dataset.note, "checkpoint"));

  // The policy the log serves (404: it has no witnesses), fetched once.
  const policy = (async () => {
    const answer = await fetch(card.dataset.policyUrl);
    if (answer.status === 404) return "quorum none\n";
    if (!answer.ok) throw new Error(`The witness policy could not be read (HTTP ${answer.status}).`);
    return answer.text();
  })();

  // Adds a line per witness; returns the quorum's verdict (true, false, or null: unknown).
  const witnessed = async () => {
    const { quorum, witnesses, met } = await checkCosignatures(note, await policy);
    for (const w of witnesses) {
      const when = w.time === undefined ? "" : ` at ${new Date(w.time * 1000).toISOString()}`;
      if (w.status === "valid") badge.add(true, `Witness ${w.name} cosigned this checkpoint${when}.`);
      else if (w.status === "invalid") badge.add(false, `Witness ${w.name}'s cosignature is not valid.`);
      else if (w.status === "missing") badge.add(null, `No cosignature from witness ${w.name}.`);
      else badge.add(null, `Witness ${w.name}'s cosignature was not checked: ${UNSUPPORTED_ED25519}`);
    }
    if (quorum === "none") {
      badge.add(null, "The log's witness policy asks for no quorum: this checkpoint is unwitnessed.");
    } else if (met === true) {
      badge.add(true, `The witness policy's quorum (${quorum}) is met.`);
    } else if (met === false) {
      badge.add(false, `The witness policy's quorum (${quorum}) is NOT met.`);
    }
    return { quorum, met };
  };

  const check = async () => {
    badge.clear();
    badge.set("checking");
    try {
      const { checkpoint, signature } = await checkCheckpoint(note, keyInput.value);
      if (signature === "valid") {
        badge.add(true, "The checkpoint's Ed25519 signature is valid for the verifier key.");
        const { quorum, met } = await witnessed();
        const size = `checkpoint of size ${checkpoint.size}`;
        if (met === false) {
          badge.set("invalid", `Verification FAILED: the ${size} misses its witness quorum (${quorum}).`);
        } else if (met === null) {
          badge.set("partial", `Signature verified in your browser: ${size}; its cosignatures were not all checked.`);
        } else if (quorum === "none") {
          badge.set("valid", `Signature verified in your browser: ${size} (unwitnessed).`);
        } else {
          badge.set("valid", `Signature verified in your browser: ${size}, cosigned by its witness quorum.`);
        }
      } else {
        badge.add(null, UNSUPPORTED_ED25519);
        badge.set("partial", "This browser cannot check Ed25519 signatures: the checkpoint's signature was not checked.");
      }
    } catch (error) {
      badge.add(false, error.message);
      badge.set("invalid", `Verification FAILED: ${error.message}`);
    }
  };
  card.querySelector("#verifier-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });
  check();
}

// --- The label box --------------------------------------------------------------------------

const box = document.getElementById("label-box");
const form = document.getElementById("label-form");
const status = document.getElementById("label-status");
const stop = document.getElementById("label-stop");
const submit = document.getElementById("label-submit");
const table = document.getElementById("label-entries");
let running = null; // { stopped: bool } of the search under way

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function entryRow(index, fields) {
  const row = document.createElement("tr");
  const link = document.createElement("a");
  link.href = `${box.dataset.entryUrl}${index}`;
  link.textContent = String(index);
  // Version 2 shows a commitment (and a reason); version 1 its fields in the clear.
  const details = ["service", "serial", "reason", "not_after", "revoked_at", "commitment"]
    .filter((name) => fields[name] !== undefined)
    .map((name) => `${name} ${fields[name]}`)
    .join(", ");
  const cells = [link, fields.kind || "", fields.provider || "", details].map((content) => {
    const cell = document.createElement("td");
    cell.append(content);
    return cell;
  });
  row.append(...cells);
  return row;
}

async function readPage(start, end, search) {
  for (;;) {
    try {
      const url = `${box.dataset.entriesUrl}?start=${start}&end=${end}`;
      return await (await fetchOk(url)).json();
    } catch (error) {
      if (error.status !== 429 || search.stopped) throw error;
      status.textContent = `Slowed down by the service: waiting ${error.retryAfter || 5} s…`;
      await sleep((error.retryAfter || 5) * 1000);
    }
  }
}

async function findEntries(apiKey, number, search) {
  status.textContent = "Asking for the number's label…";
  const url = box.dataset.labelUrl.replace("NUMBER", encodeURIComponent(number));
  const answer = await (
    await fetchOk(url, { headers: { Authorization: `Bearer ${apiKey}` }, credentials: "omit" })
  ).json();
  document.getElementById("label-value").textContent = answer.label;
  document.getElementById("label-proof").textContent = answer.vrf_proof;
  document.getElementById("label-result").hidden = false;

  const needle = `"label":"${answer.label}"`;
  const body = table.querySelector("tbody");
  const decoder = new TextDecoder();
  const size = Number(box.dataset.size);
  let found = 0;
  for (let start = 0; start < size && !search.stopped; start += PAGE) {
    status.textContent = `Reading the log for label ${answer.label.slice(0, 12)}…: ${start} of ${size} entries, ${found} found.`;
    const page = await readPage(start, Math.min(start + PAGE, size), search);
    for (const item of page.entries) {
      const text = decoder.decode(base64Decode(item.entry, "entry"));
      // Entries are canonical JSON (no spaces, no escapes in hex): the label appears verbatim.
      if (!text.includes(needle)) continue;
      body.append(entryRow(item.index, JSON.parse(text)));
      found += 1;
    }
    table.hidden = found === 0;
  }
  const read = search.stopped ? "Stopped" : `Read all ${size} entries of the latest checkpoint`;
  status.textContent = `${read}: ${found} entr${found === 1 ? "y" : "ies"} under this number's label.`;
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (running) return;
    const apiKey = document.getElementById("label-api-key").value.trim();
    const number = document.getElementById("label-number").value.trim();
    table.querySelector("tbody").replaceChildren();
    table.hidden = true;
    document.getElementById("label-result").hidden = true;
    running = { stopped: false };
    submit.disabled = true;
    stop.hidden = false;
    try {
      await findEntries(apiKey, number, running);
    } catch (error) {
      status.textContent = `Could not search: ${error.message}`;
    } finally {
      running = null;
      submit.disabled = false;
      stop.hidden = true;
    }
  });
  stop.addEventListener("click", () => {
    if (running) running.stopped = true;
  });
}
