// Helpers shared by the peer benchmarks (llama_cpp_bench.mjs, llama_cpp_load.mjs).

// `count` deterministic token ids in [1000, vocab - 1000) from `seed` (no
// tokenizer involved; the same seed gives the same ids).
export function tokenIds(count, seed, vocab) {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Array.from({length: count}, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 1000 + (x % (vocab - 2000));
  });
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
