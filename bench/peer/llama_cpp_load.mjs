// llama.cpp under a serving load, without a server: the load `pagoda bench
// serve --dataset random --max-concurrency C` puts on a server, applied to
// llama.cpp's engine in-process (node-llama-cpp). C slots are C sequences of
// one context; a request takes a free slot, evaluates its prompt and generates
// --output-len tokens; node-llama-cpp puts every slot's pending tokens (new
// prompts and next tokens alike) into one llama_decode per step — continuous
// batching, as llama-server's slots do. There is no HTTP, JSON or tokenizer in
// the way, but slots are driven from JavaScript: a stand-in for llama-server
// on this machine, not a measurement of it.
//
//   node bench/peer/llama_cpp_load.mjs --model M.gguf [--threads 2]
//        [--input-len 128] [--output-len 32] [--num-prompts 32]
//        [--max-concurrency 16] [--seed 1] [--no-mmap]
//
// Prints output tokens/s and the median TTFT and TPOT (as vLLM defines them:
// TTFT from the request's start, TPOT over the tokens after the first).

import {getLlama, LlamaLogLevel} from 'node-llama-cpp';

import {median, tokenIds} from './bench_util.mjs';

function parseArgs(argv) {
  const opts = {model: null, threads: 2, inputLen: 128, outputLen: 32, numPrompts: 32, maxConcurrency: 16, seed: 1, mmap: true};
  const names = {'--threads': 'threads', '--input-len': 'inputLen', '--output-len': 'outputLen',
    '--num-prompts': 'numPrompts', '--max-concurrency': 'maxConcurrency', '--seed': 'seed'};
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    if (flag === '--no-mmap') {
      opts.mmap = false;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--model') {
      opts.model = value;
    } else if (names[flag]) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (flag === '--seed' ? 0 : 1)) throw new Error(`${flag} ${value}: a positive integer`);
      opts[names[flag]] = n;
    } else {
      throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!opts.model) throw new Error('--model M.gguf is required');
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const llama = await getLlama({gpu: false, build: 'never', maxThreads: opts.threads, logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: opts.model, useMmap: opts.mmap});
  const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  const context = await model.createContext({
    contextSize: opts.inputLen + opts.outputLen + 16,
    sequences: opts.maxConcurrency,
    threads: opts.threads,
  });
  const free = Array.from({length: opts.maxConcurrency}, () => context.getSequence());
  let next = 0;
  const records = [];
  const start = performance.now();
  // One worker per slot: takes the next request until none are left.
  const slot = async (sequence) => {
    while (next < opts.numPrompts) {
      const id = next++;
      const sent = performance.now();
      const stamps = [];
      for await (const _ of sequence.evaluate(tokenIds(opts.inputLen, opts.seed * 100003 + id, vocab), {temperature: 0})) {
        stamps.push(performance.now());
        if (stamps.length >= opts.outputLen) break;
      }
      records.push({ttft: stamps[0] - sent, tpot: (stamps.at(-1) - stamps[0]) / Math.max(1, stamps.length - 1), tokens: stamps.length});
      await sequence.clearHistory();
    }
  };
  await Promise.all(free.map(slot));
  const seconds = (performance.now() - start) / 1e3;
  const tokens = records.reduce((a, r) => a + r.tokens, 0);
  console.log(`llama.cpp ${llama.llamaCppRelease?.release ?? ''} in-process, ${opts.numPrompts} requests ` +
      `(${opts.inputLen} in, ${opts.outputLen} out), ${opts.maxConcurrency} slots, ${opts.threads} threads, ` +
      `weights ${opts.mmap ? 'mmapped' : 'read in'}`);
  console.log(`duration ${seconds.toFixed(2)} s, output ${(tokens / seconds).toFixed(2)} tok/s, ` +
      `median TTFT ${median(records.map((r) => r.ttft)).toFixed(0)} ms, ` +
      `median TPOT ${median(records.map((r) => r.tpot)).toFixed(1)} ms`);
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  console.error(`llama_cpp_load: ${e.message}`);
  process.exit(1);
});
