// The entry page: check the entry's inclusion proof up to the latest checkpoint's root, and
// that checkpoint's signature, in the browser (logcheck.js), and show the result as a badge.

import {
  CheckError,
  base64Decode,
  base64Encode,
  checkCheckpoint,
  equalBytes,
  leafHash,
  rootFromInclusionProof,
} from "./logcheck.js";
import { Badge, UNSUPPORTED_ED25519, fetchOk } from "./badge.js";

const section = document.getElementById("verification");
const badge = new Badge(section);
const keyInput = section.querySelector("#verifier-key");
const index = BigInt(section.dataset.index);
const entry = base64Decode(section.dataset.entry, "entry");
const PENDING_RETRIES = 20;

function showProof(size, hashes) {
  const list = document.getElementById("proof");
  list.replaceChildren(
    ...hashes.map((hash) => {
      const item = document.createElement("li");
      const code = document.createElement("code");
      code.className = "hash";
      code.textContent = base64Encode(hash);
      item.append(code);
      return item;
    }),
  );
  const about = document.getElementById("proof-about");
  about.textContent =
    `RFC 9162 inclusion proof of entry ${index} in the tree of size ${size}, as ` +
    `${section.dataset.proofUrl} served it to your browser: ${hashes.length} ` +
    `hash${hashes.length === 1 ? "" : "es"}, leaf to root (base64).`;
}

async function verify(attempt = 0) {
  badge.clear();
  badge.set("checking");
  try {
    const note = await (await fetchOk(section.dataset.checkpointUrl)).text();
    const { checkpoint, signature } = await checkCheckpoint(note, keyInput.value);
    if (index >= checkpoint.size) {
      badge.set(
        "pending",
        `Not in a checkpoint yet: the latest has ${checkpoint.size} entries. Checking again shortly…`,
      );
      if (attempt < PENDING_RETRIES) setTimeout(() => verify(attempt + 1), 1500);
      return;
    }
    const leaf = await leafHash(entry);
    badge.add(true, `Leaf hash SHA-256(0x00 ‖ entry) of the ${entry.length} bytes shown: ${base64Encode(leaf)}`);
    const url = `${section.dataset.proofUrl}?index=${index}&size=${checkpoint.size}`;
    const answer = await (await fetchOk(url)).json();
    if (BigInt(answer.index) !== index || BigInt(answer.size) !== checkpoint.size) {
      throw new CheckError("The proof served is for another entry or tree size.");
    }
    const hashes = answer.proof.map((h) => base64Decode(h, "proof hash"));
    showProof(checkpoint.size, hashes);
    const root = await rootFromInclusionProof(leaf, index, checkpoint.size, hashes);
    if (!equalBytes(root, checkpoint.root)) {
      badge.add(false, `The ${hashes.length}-hash inclusion proof leads to ${base64Encode(root)}, not to the checkpoint's root ${base64Encode(checkpoint.root)}.`);
      badge.set("invalid", "Verification FAILED: the inclusion proof does not lead to the checkpoint's root.");
      return;
    }
    badge.add(true, `The ${hashes.length}-hash inclusion proof leads to the root of the checkpoint of size ${checkpoint.size}: ${base64Encode(root)}`);
    if (signature === "valid") {
      badge.add(true, "The checkpoint's Ed25519 signature is valid for the verifier key.");
      badge.set("valid", `Verified in your browser: entry ${index} is in the log's signed checkpoint of size ${checkpoint.size}.`);
    } else {
      badge.add(null, UNSUPPORTED_ED25519);
      badge.set("partial", `Inclusion verified in your browser (checkpoint of size ${checkpoint.size}); this browser cannot check Ed25519 signatures, so the checkpoint's signature was not checked.`);
    }
  } catch (error) {
    badge.add(false, error.message);
    badge.set("invalid", `Verification FAILED: ${error.message}`);
  }
}

section.querySelector("#verifier-form").addEventListener("submit", (event) => {
  event.preventDefault();
  verify();
});
verify();
