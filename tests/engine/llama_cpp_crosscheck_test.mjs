// Pagoda's CPU forward pass against an implementation no one here wrote:
// llama.cpp (prebuilt, through node-llama-cpp), running the very same random
// checkpoint written as GGUF by bench/peer/to_gguf.mjs. For several shapes
// (tied and untied lm_head, GQA groups 1/2/4, head_dim 32/64/128, heads x
// head_dim != hidden, YaRN RoPE scaling; one also with Pagoda at --tp 2) and
// prompts, both engines decode greedily; at every step where llama.cpp's
// top-1 leads its top-2 clearly, Pagoda must pick the same token, and the
// chosen tokens' log-probabilities must agree within bf16 tolerance. Where
// the two pick different tokens at a near tie, the sequences legitimately
// part, so that prompt's comparison stops there.
//
// Usage: node llama_cpp_crosscheck_test.mjs path/to/pagoda
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, dirname} from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const peer = join(here, '../../bench/peer');
const peerModule = (name) => pathToFileURL(createRequire(join(peer, 'package.json')).resolve(name)).href;
const {getLlama, LlamaLogLevel} = await import(peerModule('node-llama-cpp'));
const {writeGguf} = await import(pathToFileURL(join(peer, 'to_gguf.mjs')).href);

// A lead (top-1 minus top-2 logprob, in nats) this large cannot be reversed
// by the two engines' rounding differences (measured: |Δ logprob| ≤ 0.07 here).
const kClearLead = 0.25;
const kLogprobTolerance = 0.12;
const kMaxTokens = 16;

const shapes = [
  {
    name: 'tiny',  // hidden 128, 4/2 heads x 64, tied
    args: ['--preset', 'tiny'],
    // Also with prompts prefilled in chunks of 64 tokens into one-token blocks.
    runs: [[], ['--max-num-batched-tokens', '64', '--block-size', '1']],
  },
  {
    name: 'gqa4-untied-hd128',
    args: ['--preset', 'tiny', '--hidden-size', '256', '--num-layers', '3', '--num-heads', '8',
      '--num-kv-heads', '2', '--head-dim', '128', '--intermediate-size', '512', '--no-tie'],
    runs: [[], ['--tp', '2']],  // tensor-parallel ranks as threads, same weights
  },
  {
    name: 'mha-hd32',
    args: ['--preset', 'tiny', '--hidden-size', '192', '--num-heads', '4', '--num-kv-heads', '4',
      '--head-dim', '32', '--intermediate-size', '320'],
  },
  {
    // YaRN x4 over an original 256 positions with theta 1e4: most of the
    // rotary pairs fall in or past the correction ramp at these prompt lengths.
    name: 'yarn4',
    args: ['--preset', 'tiny', '--max-position-embeddings', '256', '--rope-theta', '10000', '--yarn-factor', '4'],
  },
];

// Deterministic prompts of awkward lengths (one token, a block and a bit, several blocks, many).
function prompt(length, seed) {
  let x = seed >>> 0;
  return Array.from({length}, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 1000 + (x % 140000);
  });
}
const prompts = [prompt(1, 1), prompt(7, 2), prompt(19, 3), prompt(130, 4), prompt(600, 5)];

function pagodaGreedy(pagoda, modelDir, dir, extraArgs) {
  const file = join(dir, 'prompts.jsonl');
  writeFileSync(file, prompts.map((ids) => JSON.stringify(
      {prompt_ids: ids, max_tokens: kMaxTokens, temperature: 0, ignore_eos: true, logprobs: 1})).join('\n') + '\n');
  const out = execFileSync(pagoda, ['generate', '--model', modelDir, '--prompts-file', file, '--json',
    '--threads', '2', '--kv-cache-bytes', String(256 << 20), '--logprobs', '1', ...extraArgs], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']});
  return out.trim().split('\n').map((line) => JSON.parse(line));
}

async function llamaGreedy(llama, ggufFile) {
  const model = await llama.loadModel({modelPath: ggufFile});
  const results = [];
  for (const ids of prompts) {
    const context = await model.createContext({contextSize: ids.length + kMaxTokens + 8, threads: 2});
    const steps = [];
    const run = context.getSequence().evaluateWithMetadata(ids, {probabilities: true}, {temperature: 0});
    for await (const r of run) {
      const top = [...r.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2);
      steps.push({token: r.token, logprob: Math.log(r.probabilities.get(r.token)),
        lead: Math.log(top[0][1]) - Math.log(top[1][1])});
      if (steps.length >= kMaxTokens) break;
    }
    results.push(steps);
    await context.dispose();
  }
  await model.dispose();
  return results;
}

const pagoda = process.argv[2];
assert.ok(pagoda, 'usage: node llama_cpp_crosscheck_test.mjs path/to/pagoda');
const dir = mkdtempSync(join(tmpdir(), 'pagoda-llama-cpp-'));
const llama = await getLlama({gpu: false, build: 'never', maxThreads: 2, logLevel: LlamaLogLevel.error});
let compared = 0;
let worst = 0;
let parted = 0;
let total = 0;
try {
  for (const [i, shape] of shapes.entries()) {
    const modelDir = join(dir, shape.name);
    execFileSync(pagoda, ['make-model', ...shape.args, '--seed', String(10 + i), '--out', modelDir], {stdio: 'ignore'});
    const gguf = join(dir, `${shape.name}.gguf`);
    writeGguf(modelDir, gguf);
    const theirs = await llamaGreedy(llama, gguf);
    for (const extraArgs of shape.runs ?? [[]]) {
      const run = [shape.name, ...extraArgs].join(' ');
      const ours = pagodaGreedy(pagoda, modelDir, dir, extraArgs);
      assert.equal(ours.length, prompts.length, `${run}: one result per prompt`);
      for (const [p, steps] of theirs.entries()) {
        for (const [k, step] of steps.entries()) {
          const where = `${run}, prompt ${p} (${prompts[p].length} tokens), step ${k}`;
          if (ours[p].token_ids[k] !== step.token) {
            // Only a near tie may part the two sequences; nothing after it compares.
            assert.ok(step.lead < kClearLead,
                `${where}: Pagoda chose ${ours[p].token_ids[k]}, llama.cpp ${step.token} (lead ${step.lead.toFixed(3)} nats)`);
            ++parted;
            break;
          }
          const diff = Math.abs(ours[p].logprobs[k] - step.logprob);
          assert.ok(diff <= kLogprobTolerance,
              `${where}: logprob ${ours[p].logprobs[k].toFixed(4)} vs llama.cpp ${step.logprob.toFixed(4)}`);
          worst = Math.max(worst, diff);
          ++compared;
        }
      }
      total += prompts.length * kMaxTokens;
    }
  }
  // Random-weight models with real logit spread rarely meet near ties; far
  // fewer compared steps would mean the check went vacuous.
  assert.ok(compared >= total / 2, `only ${compared} of ${total} steps compared before the sequences parted`);
  console.log(`llama.cpp cross-check: ${compared} of ${total} greedy steps equal, ${parted} prompts parted ` +
      `at a near tie, largest logprob difference ${worst.toFixed(4)} nats`);
} finally {
  await llama.dispose();
  rmSync(dir, {recursive: true, force: true});
}
