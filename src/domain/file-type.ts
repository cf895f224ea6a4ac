/**
 * What an uploaded file is, read from its first bytes (its "magic number"), never from the name or the
 * type the client declares: a renamed HTML page stays HTML whatever it calls itself. Pure, no I/O.
 */
export const ACCEPTED_FILE_TYPES = ["image/jpeg", "image/png", "image/webp", "application/pdf"] as const;
export type AcceptedFileType = (typeof ACCEPTED_FILE_TYPES)[number];

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0) =>
  bytes.length >= at + signature.length && signature.every((b, i) => bytes[at + i] === b);

const JPEG = [0xff, 0xd8, 0xff];
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const RIFF = [0x52, 0x49, 0x46, 0x46]; // "RIFF", then a 4-byte size, then "WEBP"
const WEBP = [0x57, 0x45, 0x42, 0x50];
const PDF = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

/** The accepted type these bytes are, or null when they are none of JPEG, PNG, WebP or PDF. */
export function sniffFileType(bytes: Uint8Array): AcceptedFileType | null {
  if (startsWith(bytes, JPEG)) return "image/jpeg";
  if (startsWith(bytes, PNG)) return "image/png";
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return "image/webp";
  if (startsWith(bytes, PDF)) return "application/pdf";
  return null;
}

export const isImage = (type: AcceptedFileType) => type.startsWith("image/");

/** Names clients use for the accepted types besides the canonical one. */
const ALIASES: Record<string, AcceptedFileType> = { "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg" };

/**
 * Whether the type a client declared for the part says something other than what the bytes are.
 * Declaring nothing, or the generic `application/octet-stream`, contradicts nothing.
 */
export function contradictsContent(declared: string, sniffed: AcceptedFileType): boolean {
  const type = declared.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "" || type === "application/octet-stream") return false;
  return (ALIASES[type] ?? type) !== sniffed;
}

const MAX_FILENAME_CHARS = 100;

/**
 * The client's filename reduced to something safe to show and to put in a Content-Disposition header:
 * the last path segment only (so `../../etc/passwd` or `C:\x\y.pdf` name nothing but a file), letters,
 * digits and `._-` and spaces, at most 100 characters. Null when nothing displayable is left.
 * It is only ever shown: the storage key is random and never derived from it.
 */
export function sanitiseFilename(name: string): string | null {
  const base = name.split(/[/\\]/).pop() ?? "";
  const cleaned = base
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // accents split off by NFKD: "é" keeps its "e"
    .replace(/[^A-Za-z0-9._ -]/g, "_")
    .replace(/^[.\s]+/, "")
    .trim()
    .slice(-MAX_FILENAME_CHARS);
  return /[A-Za-z0-9]/.test(cleaned) ? cleaned : null;
}
