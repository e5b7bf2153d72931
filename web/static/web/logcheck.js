// Checks of the transparency log in the browser, with the Web Crypto API only.
//
// - RFC 6962 §2.1 hashing: leaf SHA-256(0x00 || entry), node SHA-256(0x01 || left || right).
// - RFC 9162 §2.1.3.2: the root an inclusion proof leads to (resolution.merkle's
//   root_from_inclusion_proof, step for step).
// - C2SP signed-note: verifier keys "<name>+<hex key ID>+<base64(0x01 || Ed25519 key)>", the
//   key ID being SHA-256(name || 0x0A || 0x01 || key)[:4]; signature lines
//   "— <name> <base64(key ID || signature)>" over the note's text (resolution.note).
// - C2SP tlog-checkpoint: "<origin>\n<size>\n<base64 root>\n" (resolution.checkpoint).
// - C2SP tlog-cosignature: witness keys "<name>+<hex key ID>+<base64(0x04 || Ed25519 key)>",
//   the key ID being SHA-256(name || 0x0A || 0x04 || key)[:4]; a cosignature is
//   u64 time || Ed25519 over "cosignature/v1\ntime <time>\n" || the note's text
//   (resolution.protocol.cosignature).
// - Witness policies, "witness <name> <key> [<url>]", "group <name> <k>|any|all <member>...",
//   "quorum <name>|none", whose quorum is counted as resolution.protocol.witnessed counts it:
//   only cosignatures that verify with a policy witness's key.
//
// Ed25519 in Web Crypto is recent (Chrome 137, Firefox 129, Safari 17): where the browser
// lacks it, verifyNoteSignature says so ("unsupported") instead of pretending.

export class CheckError extends Error {}

const encoder = new TextEncoder();

function subtle() {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new CheckError(
      "This browser offers no Web Crypto here (it does only on HTTPS pages and on localhost), " +
        "so nothing can be checked in it.",
    );
  }
  return globalThis.crypto.subtle;
}

export function base64Decode(text, what = "value") {
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw new CheckError(`The ${what} is not base64.`);
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function base64Encode(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export async function sha256(...parts) {
  return new Uint8Array(await subtle().digest("SHA-256", concat(parts)));
}

export function leafHash(entry) {
  return sha256(Uint8Array.of(0), entry);
}

export function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

// RFC 9162 §2.1.3.2. index and size are BigInts (tree sizes go up to 2**63 - 1).
export async function rootFromInclusionProof(leaf, index, size, proof) {
  if (leaf.length !== 32) throw new CheckError("The leaf hash is not 32 bytes.");
  if (index < 0n || index >= size) {
    throw new CheckError(`Leaf ${index} is not in a tree of size ${size}.`);
  }
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const [i, p] of proof.entries()) {
    if (p.length !== 32) throw new CheckError(`Proof hash ${i + 1} is not 32 bytes.`);
    if (sn === 0n) throw new CheckError(`The proof has too many hashes (${proof.length}).`);
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        // A lone right-edge node: no sibling on the levels until it is a right child.
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new CheckError(`The proof has too few hashes (${proof.length}).`);
  return r;
}

// A signed note: its text (up to and with the newline before the blank line) and signatures.
export function parseSignedNote(note) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new CheckError("The checkpoint has no blank line before its signatures.");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new CheckError("The checkpoint does not end with a newline.");
  const signatures = block
    .slice(0, -1)
    .split("\n")
    .map((line, i) => {
      if (!line.startsWith("\u2014 ")) {
        throw new CheckError(`Signature line ${i + 1} does not start with an em dash.`);
      }
      const [name, blob, extra] = line.slice(2).split(" ");
      if (!name || !blob || extra !== undefined) {
        throw new CheckError(`Signature line ${i + 1} is malformed.`);
      }
      const bytes = base64Decode(blob, "signature");
      if (bytes.length < 5) throw new CheckError(`Signature line ${i + 1} is too short.`);
      return { name, keyId: bytes.slice(0, 4), signature: bytes.slice(4) };
    });
  return { text, signatures };
}

// tlog-checkpoint: origin, decimal size (no leading zeroes), base64 root, extension lines.
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") {
    throw new CheckError("The checkpoint text is not three lines and a newline.");
  }
  const [origin, sizeLine, rootLine] = lines;
  if (!origin) throw new CheckError("The checkpoint has no origin.");
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeLine)) {
    throw new CheckError("The checkpoint's tree size is not a number.");
  }
  const root = base64Decode(rootLine, "checkpoint's root hash");
  if (root.length !== 32) throw new CheckError("The checkpoint's root hash is not 32 bytes.");
  return { origin, size: BigInt(sizeLine), root };
}

// A key string "<name>+<hex key ID>+<base64(type || Ed25519 key)>" of signature type ``type``
// (0x01: a log's note key, 0x04: a witness's cosigner key).
async function parseKeyString(vkey, type, what) {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first <= 0 || second < 0) {
    throw new CheckError(`The ${what} is not <name>+<key ID>+<key>.`);
  }
  const name = vkey.slice(0, first);
  const keyIdHex = vkey.slice(first + 1, second);
  if (!/^[0-9a-fA-F]{8}$/.test(keyIdHex)) {
    throw new CheckError(`The ${what}'s ID is not 8 hex digits.`);
  }
  const raw = base64Decode(vkey.slice(second + 1), what);
  if (raw.length !== 33 || raw[0] !== type) {
    throw new CheckError(`The ${what} is not an Ed25519 key.`);
  }
  const publicKey = raw.slice(1);
  const keyId = (await sha256(encoder.encode(name), Uint8Array.of(0x0a, type), publicKey)).slice(
    0,
    4,
  );
  if (hex(keyId) !== keyIdHex.toLowerCase()) {
    throw new CheckError(`The ${what}'s ID does not match its name and key.`);
  }
  return { name, keyId, publicKey };
}

export async function parseVerifierKey(vkey) {
  return parseKeyString(vkey, 0x01, "verifier key");
}

// "valid" | "invalid" | "unsupported": an Ed25519 signature checked with Web Crypto.
async function ed25519Verify(publicKey, signature, message) {
  let cryptoKey;
  try {
    cryptoKey = await subtle().importKey("raw", publicKey, { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch (error) {
    if (error && (error.name === "NotSupportedError" || error instanceof TypeError)) {
      return "unsupported";
    }
    throw new CheckError(`The key cannot be used: ${error}`);
  }
  const valid = await subtle().verify({ name: "Ed25519" }, cryptoKey, signature, message);
  return valid ? "valid" : "invalid";
}

// { status: "valid" | "invalid" | "missing" | "unsupported" } for the key's signature.
export async function verifyNoteSignature(note, key) {
  const line = note.signatures.find(
    (s) => s.name === key.name && equalBytes(s.keyId, key.keyId),
  );
  if (!line) return { status: "missing" };
  if (line.signature.length !== 64) return { status: "invalid" };
  return { status: await ed25519Verify(key.publicKey, line.signature, encoder.encode(note.text)) };
}

// The checkpoint note checked against a verifier key: its fields and the signature's status.
export async function checkCheckpoint(noteText, verifierKey) {
  const key = await parseVerifierKey(verifierKey.trim());
  const note = parseSignedNote(noteText);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== key.name) {
    throw new CheckError(
      `The checkpoint is from the log "${checkpoint.origin}", the key is for "${key.name}".`,
    );
  }
  const signature = await verifyNoteSignature(note, key);
  if (signature.status === "missing") {
    throw new CheckError("The checkpoint carries no signature by this key.");
  }
  if (signature.status === "invalid") {
    throw new CheckError("The checkpoint's signature is not valid for this key.");
  }
  return { checkpoint, signature: signature.status };
}

// A witness policy (resolution.protocol.policy): its witnesses' keys by name, its groups, and
// its quorum. Names must be defined before they are used, as the Python parser requires.
export function parsePolicy(text) {
  const witnesses = new Map();
  const groups = new Map();
  let quorum = null;
  text.split("\n").forEach((raw, i) => {
    const fields = raw.split("#")[0].split(/\s+/).filter(Boolean);
    if (fields.length === 0) return;
    const [keyword, ...args] = fields;
    const fail = (why) => {
      throw new CheckError(`The witness policy's line ${i + 1} ${why}.`);
    };
    const defined = (name) => witnesses.has(name) || groups.has(name);
    if (keyword === "log") {
      if (args.length < 1 || args.length > 2) fail("is not 'log <key> [<url>]'");
    } else if (keyword === "witness") {
      if (args.length < 2 || args.length > 3) fail("is not 'witness <name> <key> [<url>]'");
      if (defined(args[0]) || args[0] === "none") fail(`defines ${args[0]} again`);
      witnesses.set(args[0], args[1]);
    } else if (keyword === "group") {
      const [name, spelling, ...members] = args;
      if (members.length === 0) fail("is not 'group <name> <k>|any|all <member>...'");
      if (defined(name) || name === "none") fail(`defines ${name} again`);
      if (!members.every(defined)) fail("names a member not defined above");
      const threshold =
        spelling === "any" ? 1 : spelling === "all" ? members.length : Number(spelling);
      if (!Number.isInteger(threshold) || threshold < 1 || threshold > members.length) {
        fail(`has a threshold ${spelling} that is not k|any|all`);
      }
      groups.set(name, { threshold, members });
    } else if (keyword === "quorum") {
      if (args.length !== 1 || quorum !== null) fail("is a second or malformed quorum line");
      if (args[0] !== "none" && !defined(args[0])) fail(`names ${args[0]}, not defined above`);
      quorum = args[0];
    } else {
      fail(`has an unknown keyword ${keyword}`);
    }
  });
  if (quorum === null) throw new CheckError("The witness policy has no quorum line.");
  return { witnesses, groups, quorum };
}

// The checkpoint's cosignatures under the policy: for each of its witnesses, whether its
// cosignature verifies ("valid", with its time), does not ("invalid"), is absent ("missing")
// or cannot be checked here ("unsupported"); and whether the quorum is met ("met": true,
// false, or null when the browser could not check enough to tell).
export async function checkCosignatures(noteText, policyText) {
  const policy = parsePolicy(policyText);
  const note = parseSignedNote(noteText);
  const witnesses = [];
  for (const [name, vkey] of policy.witnesses) {
    const key = await parseKeyString(vkey, 0x04, `key of witness ${name}`);
    // As resolution.protocol.note: only a key's first line counts.
    const line = note.signatures.find(
      (s) => s.name === key.name && equalBytes(s.keyId, key.keyId),
    );
    if (!line) {
      witnesses.push({ name, status: "missing" });
      continue;
    }
    if (line.signature.length !== 72) {
      witnesses.push({ name, status: "invalid" });
      continue;
    }
    const view = new DataView(line.signature.buffer, line.signature.byteOffset, 8);
    const time = view.getBigUint64(0);
    const message = encoder.encode(`cosignature/v1\ntime ${time}\n${note.text}`);
    const status = await ed25519Verify(key.publicKey, line.signature.slice(8), message);
    witnesses.push({ name, status, time: Number(time) });
  }
  const status = new Map(witnesses.map((w) => [w.name, w.status]));
  // true, false, or null (unknown: a cosignature that could not be checked might count).
  const satisfied = (name) => {
    if (name === "none") return true;
    if (policy.witnesses.has(name)) {
      const s = status.get(name);
      return s === "valid" ? true : s === "unsupported" ? null : false;
    }
    const group = policy.groups.get(name);
    const verdicts = group.members.map(satisfied);
    const yes = verdicts.filter((v) => v === true).length;
    const maybe = verdicts.filter((v) => v === null).length;
    if (yes >= group.threshold) return true;
    return yes + maybe >= group.threshold ? null : false;
  };
  return { quorum: policy.quorum, witnesses, met: satisfied(policy.quorum) };
}
