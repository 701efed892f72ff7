// Writes a Hugging Face Qwen 3 checkpoint directory (config.json,
// *.safetensors, tokenizer.json, tokenizer_config.json) as one GGUF v3 file
// that llama.cpp loads, so llama.cpp can run the very same weights as Pagoda.
//
//   node bench/peer/to_gguf.mjs MODEL_DIR OUT.gguf
// or, from another script: import {writeGguf} from '.../to_gguf.mjs'.
//
// Weights keep their dtype (bf16 matrices stay bf16: no conversion error
// between the two engines); 1-D norm weights are widened to f32 exactly, as
// llama.cpp's own convert_hf_to_gguf.py does. Qwen 2/3 use rotate-half
// (NEOX) RoPE in both programs, so Q and K are copied unpermuted.
// Dense Qwen 3 only (model_type 'qwen3').

import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

const kAlignment = 32;
const GgufValue = {u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10};
const GgmlType = {F32: 0, F16: 1, BF16: 30};
const kFileTypeMostlyBf16 = 32;  // llama_ftype LLAMA_FTYPE_MOSTLY_BF16
// llama.cpp's token types (llama_token_type).
const TokenType = {normal: 1, unused: 5, control: 3, user_defined: 4};

function fail(message) {
  throw new Error(`to_gguf: ${message}`);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
}

// Hugging Face tensor name -> GGUF tensor name (llama.cpp's qwen3 layout).
const kLayerNames = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

function ggufName(hfName) {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  if (m && kLayerNames[m[2]]) return `blk.${m[1]}.${kLayerNames[m[2]]}`;
  return null;
}

// Every tensor of every *.safetensors file: {name, file, dtype, shape, begin, end}
// with begin/end absolute byte offsets in the file.
function listTensors(modelDir) {
  const files = fs.readdirSync(modelDir).filter((f) => f.endsWith('.safetensors')).sort();
  if (files.length === 0) fail(`${modelDir}: no *.safetensors file`);
  const tensors = [];
  for (const f of files) {
    const file = path.join(modelDir, f);
    const fd = fs.openSync(file, 'r');
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    const header = Buffer.alloc(headerLen);
    fs.readSync(fd, header, 0, headerLen, 8);
    fs.closeSync(fd);
    const entries = JSON.parse(header.toString('utf8'));
    for (const [name, t] of Object.entries(entries)) {
      if (name === '__metadata__') continue;
      const [begin, end] = t.data_offsets;
      tensors.push({name, file, dtype: t.dtype, shape: t.shape, begin: 8 + headerLen + begin, end: 8 + headerLen + end});
    }
  }
  return tensors;
}

// Growing little-endian byte buffer for the GGUF header.
class Writer {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }
  push(buf) {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  string(s) {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  // One metadata entry: key, value type, value.
  kv(key, type, value) {
    this.string(key);
    this.u32(type);
    if (type === GgufValue.u32) this.u32(value);
    else if (type === GgufValue.i32) this.i32(value);
    else if (type === GgufValue.f32) this.f32(value);
    else if (type === GgufValue.bool) this.push(Buffer.from([value ? 1 : 0]));
    else if (type === GgufValue.string) this.string(value);
    else throw new Error(`kv ${key}: scalar type ${type}`);
  }
  array(key, elementType, values) {
    this.string(key);
    this.u32(GgufValue.array);
    this.u32(elementType);
    this.u64(values.length);
    for (const v of values) {
      if (elementType === GgufValue.string) this.string(v);
      else if (elementType === GgufValue.i32) this.i32(v);
      else throw new Error(`array ${key}: element type ${elementType}`);
    }
  }
  bytes() {
    return Buffer.concat(this.chunks, this.length);
  }
}

// config.json's rope_scaling as llama.cpp's rope.scaling.* keys. Linear and
// YaRN as Hugging Face defines them for Qwen 3 (YaRN: beta_fast 32, beta_slow
// 1, truncated correction range, attention factor 0.1 ln(factor) + 1, which
// llama.cpp applies by itself). Anything else (an explicit attention_factor
// too) is refused rather than converted wrongly.
function ropeScaling(config, where) {
  const r = config.rope_scaling ?? config.rope_parameters;
  const type = r?.rope_type ?? r?.type ?? 'default';
  if (type === 'default') return [];
  if (typeof r.factor !== 'number' || r.factor < 1) fail(`${where}: rope_scaling.factor must be a number >= 1`);
  if (type === 'linear') return [['rope.scaling.type', GgufValue.string, 'linear'], ['rope.scaling.factor', GgufValue.f32, r.factor]];
  if (type !== 'yarn') fail(`${where}: rope_scaling type '${type}' is not converted (linear and yarn are)`);
  for (const [key, value] of [['beta_fast', 32], ['beta_slow', 1], ['truncate', true]]) {
    if (r[key] !== undefined && r[key] !== value) fail(`${where}: rope_scaling.${key} ${r[key]} is not converted (only ${value})`);
  }
  for (const key of ['mscale', 'mscale_all_dim', 'attention_factor']) {
    if (r[key] !== undefined) fail(`${where}: rope_scaling.${key} is not converted`);
  }
  const original = r.original_max_position_embeddings;
  if (!Number.isInteger(original) || original < 1) fail(`${where}: rope_scaling.original_max_position_embeddings is required`);
  const keys = [
    ['rope.scaling.type', GgufValue.string, 'yarn'],
    ['rope.scaling.factor', GgufValue.f32, r.factor],
    ['rope.scaling.original_context_length', GgufValue.u32, original],
  ];
  return keys;
}

function alignUp(n) {
  return Math.ceil(n / kAlignment) * kAlignment;
}

// tokenizer.json + tokenizer_config.json -> llama.cpp's 'gpt2' BPE vocabulary,
// padded with unused entries up to the model's vocab_size.
function vocabulary(modelDir, vocabSize) {
  const tok = readJson(path.join(modelDir, 'tokenizer.json'));
  const tokens = new Array(vocabSize).fill(null);
  const types = new Array(vocabSize).fill(TokenType.normal);
  for (const [text, id] of Object.entries(tok.model.vocab)) tokens[id] = text;
  for (const added of tok.added_tokens ?? []) {
    tokens[added.id] = added.content;
    // As convert_hf_to_gguf.py: special, or shaped like <|...|>, is control.
    const control = added.special || /^<\|.*\|>$/.test(added.content);
    types[added.id] = control ? TokenType.control : TokenType.user_defined;
  }
  if (tokens.length > vocabSize) {
    fail(`${modelDir}: tokenizer.json has ids up to ${tokens.length - 1}, past config.json's vocab_size ${vocabSize}`);
  }
  for (let id = 0; id < vocabSize; ++id) {
    if (tokens[id] === null) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TokenType.unused;
    }
  }
  const merges = tok.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  return {tokens, types, merges};
}

function tokenId(tokens, text) {
  const id = tokens.indexOf(text);
  return id >= 0 ? id : null;
}

// Returns {tensors, metadata, bytes} of the file written.
export function writeGguf(modelDir, outFile) {
  const config = readJson(path.join(modelDir, 'config.json'));
  if (config.model_type !== 'qwen3') fail(`${modelDir}/config.json: model_type '${config.model_type}' (only dense 'qwen3')`);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    if (!fs.existsSync(path.join(modelDir, f))) fail(`${modelDir}: no ${f} (llama.cpp needs the vocabulary; pagoda make-model writes it)`);
  }
  const tokConfig = readJson(path.join(modelDir, 'tokenizer_config.json'));
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  const vocab = vocabulary(modelDir, config.vocab_size);

  const tensors = [];
  for (const t of listTensors(modelDir)) {
    const name = ggufName(t.name);
    if (name === null) fail(`${t.file}: tensor '${t.name}' has no llama.cpp counterpart`);
    if (t.dtype !== 'BF16' && t.dtype !== 'F32') fail(`${t.file}: tensor '${t.name}' dtype ${t.dtype} (BF16 or F32)`);
    const widen = t.shape.length === 1 && t.dtype === 'BF16';
    const type = widen || t.dtype === 'F32' ? GgmlType.F32 : GgmlType.BF16;
    const bytes = (t.end - t.begin) * (widen ? 2 : 1);
    tensors.push({...t, ggufName: name, type, widen, bytes});
  }

  const w = new Writer();
  w.push(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(tensors.length);
  const meta = new Writer();
  let numKv = 0;
  const kv = (key, type, value) => {
    meta.kv(key, type, value);
    ++numKv;
  };
  const arr = (key, type, values) => {
    meta.array(key, type, values);
    ++numKv;
  };
  const a = 'qwen3';
  kv('general.architecture', GgufValue.string, a);
  kv('general.name', GgufValue.string, path.basename(path.resolve(modelDir)));
  kv('general.file_type', GgufValue.u32, kFileTypeMostlyBf16);
  kv('general.alignment', GgufValue.u32, kAlignment);
  kv(`${a}.block_count`, GgufValue.u32, config.num_hidden_layers);
  kv(`${a}.context_length`, GgufValue.u32, config.max_position_embeddings);
  kv(`${a}.embedding_length`, GgufValue.u32, config.hidden_size);
  kv(`${a}.feed_forward_length`, GgufValue.u32, config.intermediate_size);
  kv(`${a}.attention.head_count`, GgufValue.u32, config.num_attention_heads);
  kv(`${a}.attention.head_count_kv`, GgufValue.u32, config.num_key_value_heads);
  kv(`${a}.attention.key_length`, GgufValue.u32, headDim);
  kv(`${a}.attention.value_length`, GgufValue.u32, headDim);
  kv(`${a}.attention.layer_norm_rms_epsilon`, GgufValue.f32, config.rms_norm_eps);
  const theta = config.rope_theta ?? config.rope_parameters?.rope_theta;
  if (typeof theta !== 'number') fail(`${modelDir}/config.json: no rope_theta`);
  kv(`${a}.rope.freq_base`, GgufValue.f32, theta);
  for (const [key, type, value] of ropeScaling(config, `${modelDir}/config.json`)) kv(`${a}.${key}`, type, value);
  kv('tokenizer.ggml.model', GgufValue.string, 'gpt2');
  kv('tokenizer.ggml.pre', GgufValue.string, 'qwen2');
  arr('tokenizer.ggml.tokens', GgufValue.string, vocab.tokens);
  arr('tokenizer.ggml.token_type', GgufValue.i32, vocab.types);
  arr('tokenizer.ggml.merges', GgufValue.string, vocab.merges);
  const eos = tokenId(vocab.tokens, tokConfig.eos_token ?? '<|im_end|>');
  if (eos !== null) kv('tokenizer.ggml.eos_token_id', GgufValue.u32, eos);
  if (config.bos_token_id != null) kv('tokenizer.ggml.bos_token_id', GgufValue.u32, config.bos_token_id);
  const pad = tokenId(vocab.tokens, tokConfig.pad_token ?? '<|endoftext|>');
  if (pad !== null) kv('tokenizer.ggml.padding_token_id', GgufValue.u32, pad);
  kv('tokenizer.ggml.add_bos_token', GgufValue.bool, false);
  if (typeof tokConfig.chat_template === 'string') kv('tokenizer.chat_template', GgufValue.string, tokConfig.chat_template);
  w.u64(numKv);
  w.push(meta.bytes());

  // Tensor infos: GGUF lists dimensions innermost first (the reverse of safetensors).
  let offset = 0;
  for (const t of tensors) {
    w.string(t.ggufName);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    t.offset = offset;
    offset = alignUp(offset + t.bytes);
  }
  const header = w.bytes();
  const dataStart = alignUp(header.length);

  const out = fs.openSync(outFile, 'w');
  fs.writeSync(out, header, 0, header.length, 0);
  for (const t of tensors) {
    const fd = fs.openSync(t.file, 'r');
    const raw = Buffer.alloc(t.end - t.begin);
    fs.readSync(fd, raw, 0, raw.length, t.begin);
    fs.closeSync(fd);
    let data = raw;
    if (t.widen) {  // bf16 -> f32 is exact: the bf16 bits are the f32's top half.
      data = Buffer.alloc(raw.length * 2);
      for (let i = 0; i < raw.length / 2; ++i) data.writeUInt16LE(raw.readUInt16LE(2 * i), 4 * i + 2);
    }
    fs.writeSync(out, data, 0, data.length, dataStart + t.offset);
  }
  const total = dataStart + offset;
  fs.ftruncateSync(out, total);
  fs.closeSync(out);
  return {tensors: tensors.length, metadata: numKv, bytes: total};
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [modelDir, outFile] = process.argv.slice(2);
  try {
    if (!modelDir || !outFile) fail('usage: node to_gguf.mjs MODEL_DIR OUT.gguf');
    const r = writeGguf(modelDir, outFile);
    console.log(`${outFile}: ${r.tensors} tensors, ${r.metadata} metadata entries, ${(r.bytes / 1e9).toFixed(3)} GB`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
