// llama.cpp, run the way pagoda_engine_bench runs Pagoda's CPU backend, so the
// two can be compared on one machine in one sitting (scripts/peer_bench.sh
// alternates them). llama.cpp comes prebuilt from npm (node-llama-cpp: its
// libllama/libggml with per-CPU ggml backends chosen at run time); the model is
// the same checkpoint written as GGUF by to_gguf.mjs.
//
//   node bench/peer/llama_cpp_bench.mjs --model M.gguf [--threads 2]
//        [--prompt-len 512] [--context 128] [--steps 8] [--batches 1,8,32]
//        [--no-mmap]
//   node bench/peer/llama_cpp_bench.mjs --model M.gguf --greedy 1,2,3 --max-tokens 16
//
// Prefill: one prompt of --prompt-len tokens, best of 3. Decode at batch B:
// B sequences each holding --context tokens step together (llama.cpp puts
// every sequence's next token into one llama_decode); the median time
// between one sequence's tokens over --steps steps is the step time.
// --greedy prints the greedy continuation of the given token ids as JSON.
// --no-mmap reads the weights into memory instead of mapping the file
// (llama.cpp's --no-mmap; here 3-5 % faster at batch 1 than its default).

import {getLlama, LlamaLogLevel} from 'node-llama-cpp';

import {median, tokenIds} from './bench_util.mjs';

function parseArgs(argv) {
  const opts = {model: null, threads: 2, promptLen: 512, context: 128, steps: 8, batches: [1, 8, 32], greedy: null, maxTokens: 16, mmap: true};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--no-mmap') {
      opts.mmap = false;
      --i;
      continue;
    }
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${value}: a positive integer`);
      return n;
    };
    const ints = () => value.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} ${value}: comma-separated integers`);
      return n;
    });
    if (flag === '--model') opts.model = value;
    else if (flag === '--threads') opts.threads = int();
    else if (flag === '--prompt-len') opts.promptLen = int();
    else if (flag === '--context') opts.context = int();
    else if (flag === '--steps') opts.steps = int();
    else if (flag === '--batches') opts.batches = ints();
    else if (flag === '--greedy') opts.greedy = ints();
    else if (flag === '--max-tokens') opts.maxTokens = int();
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!opts.model) throw new Error('--model M.gguf is required');
  return opts;
}

const now = () => performance.now();

async function greedy(model, opts) {
  const context = await model.createContext({contextSize: opts.greedy.length + opts.maxTokens + 8, threads: opts.threads});
  const out = [];
  for await (const t of context.getSequence().evaluate(opts.greedy, {temperature: 0})) {
    out.push(t);
    if (out.length >= opts.maxTokens) break;
  }
  console.log(JSON.stringify({token_ids: out}));
  await context.dispose();
}

async function prefill(model, opts, vocab) {
  const context = await model.createContext({contextSize: opts.promptLen + 8, batchSize: opts.promptLen, threads: opts.threads});
  const sequence = context.getSequence();
  let best = 0;
  for (let rep = 0; rep < 3; ++rep) {
    await sequence.clearHistory();
    const t = now();
    await sequence.evaluateWithoutGeneratingNewTokens(tokenIds(opts.promptLen, rep, vocab));
    best = Math.max(best, opts.promptLen / ((now() - t) / 1e3));
  }
  console.log(`prefill ${opts.promptLen} tokens: ${best.toFixed(1)} tokens/s`);
  await context.dispose();
}

async function decode(model, opts, vocab, batch) {
  const context = await model.createContext({
    contextSize: opts.context + opts.steps + 16,
    sequences: batch,
    batchSize: Math.max(512, batch),
    threads: opts.threads,
  });
  const sequences = Array.from({length: batch}, () => context.getSequence());
  const prompts = sequences.map((_, i) => tokenIds(opts.context, 100 + i, vocab));
  for (let i = 0; i < batch; ++i) await sequences[i].evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1));
  // Each sequence's generator yields once per decode step; all step together.
  const stamps = [];
  const run = async (i) => {
    let n = 0;
    for await (const _ of sequences[i].evaluate(prompts[i].slice(-1), {temperature: 0})) {
      if (i === 0) stamps.push(now());
      if (++n > opts.steps + 1) break;  // one warm-up step, then the measured ones
    }
  };
  await Promise.all(sequences.map((_, i) => run(i)));
  const intervals = stamps.slice(1).map((t, k) => t - stamps[k]).slice(1);
  const stepMs = median(intervals);
  console.log(`decode batch ${String(batch).padStart(2)}: ${((batch / stepMs) * 1e3).toFixed(1).padStart(7)} tokens/s, ${stepMs.toFixed(1)} ms/step (median of ${intervals.length} steps)`);
  await context.dispose();
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const llama = await getLlama({gpu: false, build: 'never', maxThreads: opts.threads, logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: opts.model, useMmap: opts.mmap});
  const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  if (opts.greedy) {
    await greedy(model, opts);
  } else {
    console.log(`llama.cpp ${llama.llamaCppRelease?.release ?? ''} (node-llama-cpp prebuilt), threads: ${opts.threads}, ` +
        `weights ${opts.mmap ? 'mmapped' : 'read in (--no-mmap)'}, model: ${opts.model}`);
    await prefill(model, opts, vocab);
    for (const b of opts.batches) await decode(model, opts, vocab, b);
  }
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  console.error(`llama_cpp_bench: ${e.message}`);
  process.exit(1);
});
