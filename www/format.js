// Payload rendering for the message table: text, pretty JSON or hex.

const decoder = new TextDecoder("utf-8", { fatal: true });

export function asText(bytes) {
  try {
    return decoder.decode(bytes);
  } catch {
    return null; // not UTF-8
  }
}

export function asHex(bytes, max = 512) {
  const parts = [];
  for (let i = 0; i < Math.min(bytes.length, max); i++) parts.push(bytes[i].toString(16).padStart(2, "0"));
  return parts.join(" ") + (bytes.length > max ? ` … (${bytes.length} bytes)` : "");
}

/** The payload in `format` ("text" | "json" | "hex"); falls back to hex when it is not text. */
export function formatPayload(bytes, format) {
  if (format === "hex") return asHex(bytes);
  const text = asText(bytes);
  if (text === null) return asHex(bytes);
  if (format === "json") {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }
  return text;
}

export function clock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
