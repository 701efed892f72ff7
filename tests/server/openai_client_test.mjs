// Drives `pagoda serve` with the official `openai` npm client (a client no one
// here wrote): makes a tiny model, starts the binary on port 0, then runs chat
// and completions, streaming and not, and checks errors map to the client's
// exception types. Usage: node openai_client_test.mjs path/to/pagoda
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../third_party/npm/package.json'));
const OpenAI = require('openai').default ?? require('openai');

const pagoda = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), 'pagoda-openai-'));
const model = join(dir, 'tiny');
execFileSync(pagoda, ['make-model', '--preset', 'tiny', '--seed', '0', '--out', model], { stdio: 'ignore' });

const server = spawn(pagoda, ['serve', '--model', model, '--served-model-name', 'tiny', '--grpc-port', '0',
  '--http-port', '0', '--metrics-port', '0', '--num-kv-blocks', '256', '--num-threads', '2',
  '--max-model-len', '2048', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PAGODA_API_KEYS: 'sk-node:node' } });

let failed = false;
const fail = (e) => { failed = true; console.error(e); };
const ports = {};
let buffered = '';
const ready = new Promise((resolve, reject) => {
  server.stdout.on('data', (chunk) => {
    buffered += chunk.toString();
    for (const m of buffered.matchAll(/^(grpc|http|metrics) listening on 127\.0\.0\.1:(\d+)$/gm)) ports[m[1]] = Number(m[2]);
    if (ports.http && ports.grpc && ports.metrics) resolve();
  });
  server.on('exit', (code) => reject(new Error(`pagoda serve exited with ${code}`)));
});

async function waitHealthy(base) {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(base + '/health')).status === 200) return; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server never became healthy');
}

try {
  await ready;
  const base = `http://127.0.0.1:${ports.http}`;
  await waitHealthy(base);
  const client = new OpenAI({ apiKey: 'sk-node', baseURL: base + '/v1', maxRetries: 0 });

  const models = await client.models.list();
  assert.equal(models.data[0].id, 'tiny');

  const chat = await client.chat.completions.create({
    model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_completion_tokens: 8, temperature: 0,
    logprobs: true, top_logprobs: 2,
  });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(chat.usage.completion_tokens >= 1 && chat.usage.completion_tokens <= 8);
  assert.equal(chat.choices[0].logprobs.content[0].top_logprobs.length, 2);

  const stream = await client.chat.completions.create({
    model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 10, stream: true, seed: 5,
    stream_options: { include_usage: true }, ignore_eos: true,
  });
  let text = '', usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += (c.delta.content ?? '') + (c.delta.reasoning_content ?? '');
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 10);
  assert.ok(text.length > 0);

  const completion = await client.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 6, temperature: 0 });
  assert.equal(completion.object, 'text_completion');
  const cstream = await client.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 6, temperature: 0, stream: true });
  let streamed = '';
  for await (const chunk of cstream) streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, completion.choices[0].text);

  await assert.rejects(
    client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], temperature: -1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /temperature/.test(e.message));
  const anonymous = new OpenAI({ apiKey: 'wrong', baseURL: base + '/v1', maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), (e) => e instanceof OpenAI.AuthenticationError);

  // A client that aborts mid-stream: the server frees everything.
  const controller = new AbortController();
  const long = await client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 1500, ignore_eos: true, stream: true },
    { signal: controller.signal });
  try { for await (const _ of long) { controller.abort(); } } catch {}
  let running = -1;
  for (let i = 0; i < 100 && running !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    running = Number(/^pagoda_num_requests_running (\S+)/m.exec(m)?.[1] ?? -1);
  }
  assert.equal(running, 0);
  console.log('openai client test: all checks passed');
} catch (e) {
  fail(e);
} finally {
  const exited = new Promise((r) => server.on('exit', (code) => r(code)));
  server.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30000))]);
  if (code !== 0) fail(new Error(`pagoda serve exit code after SIGTERM: ${code}`));
  rmSync(dir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
