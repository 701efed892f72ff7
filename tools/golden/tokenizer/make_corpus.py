# Writes tests/data/tokenizer/corpus.jsonl, the inputs of the tokenizer golden
# tests (see make_golden.mjs for the format). Run: python3 make_corpus.py
import json
import os
C = []
def add(*xs):
    C.extend(xs)
# --- English and contractions
add("Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "I'm sure you're right; we've seen they'll go, and she'd agree.",
    "I'M SURE YOU'RE RIGHT; WE'VE SEEN THEY'LL GO, AND SHE'D AGREE.",
    "Don't, DON'T, dOn'T, it's, IT'S, It'S",
    "'S 'T 'RE 'VE 'M 'LL 'D 's 't 're 've 'm 'll 'd",
    "'Ll 'lL 'Re 'rE 'Ve 'vE",
    "rock'n'roll O'Neill's 'twas ''s x'sy 'steve",
    "he said 'hello' and 'goodbye'",
    "Mixed CASE words LIKE iPhone and eBay and McDonald's",
    "a", "A", "I", " ", "", "!", "?!", "...", "—", "…",
)
# --- numbers
add("0", "7", "42", "123", "2024", "12345", "1234567890", "3.14159", "1,000,000", "-273.15", "1e10", "0x1F",
    "v1.2.3-rc4", "Call 555-0123 or +1 (800) 555-0199.",
    "9" * 100, "In 1969, 3 astronauts flew 384,400 km.",
    "٣٤٥ ١٢", "१२३४", "½ ¼ ²³ ⁴", "Ⅻ ⅷ", "①②③", "１２３４５", "𝟏𝟐𝟑")
# --- whitespace
add("a  b", "a   b", "   leading", "trailing   ", "\t\tx", "x\t\ty", "\n", "\n\n\n", "a\nb", "a\r\nb",
    "a\r\n\r\nb", "\r", "\r\r\n\n", "  \n  \n  ", " \t \n \t x", " " * 40, " " * 200 + "x", "\n" * 50,
    "\t" * 30, "\t \t \t", "line1\r\nline2\r\nline3", "end with space ", "x \n", "x  \n  y",
    " !", "  !", "!\n\n", "a \n\tb", "  hello  world  ", "\v\f mixed control spaces \v")
# --- Unicode whitespace
add("\u00a0", "a\u00a0b", "x\u00a0\u00a0y", "\u3000", "a\u3000b", "\u3000\u3000a", "a\u2028b", "\u2029",
    "a\u2003b\u2009c", "\u202f\u205f\u1680", "zero\u200bwidth", "a\u200d\u200cb", "tab\u000bvt")
# --- CJK and other scripts
add("你好，世界！", "我爱自然语言处理。今天天气很好，我们去公园散步吧。", "機器學習與深度學習的區別是什麼？",
    "中文English混合text測試123", "日本語のテキストです。ひらがなとカタカナ、そして漢字。",
    "東京は日本の首都です。「こんにちは」と言いました。", "한국어 텍스트입니다. 안녕하세요!", "서울특별시 강남구",
    "𠀀𠀁𪚥𰻞", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ", "，！？：；（）【】",
    "مرحبا بالعالم! هذا نص عربي.", "שלום עולם", "नमस्ते दुनिया! हिन्दी पाठ।", "ভাষা বাংলা",
    "Привет, мир! Это русский текст.", "Γειά σου Κόσμε", "Xin chào thế giới! Tiếng Việt có dấu.",
    "สวัสดีครับ ภาษาไทย", "İstanbul ıi İI", "Straße GROSSE ß ẞ", "Ça va? Où êtes-vous? Naïve café.",
    "ქართული ენა", "Հայերեն", "ኢትዮጵያ", "தமிழ் மொழி", "ᠮᠣᠩᠭᠣᠯ", "ꦗꦮ", "a\u0300\u0301\u0302b",
    "Zalgo: Z̴̡̛a̶͎͝l̷̨̇g̵̣͐o̸̢͋")
# --- emoji
add("😀", "Hello 😀 world", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇯🇵🇫🇷", "❤️", "1️⃣", "🧑🏿‍💻",
    "I ❤️ NY 🗽🍎", "😀" * 40, "🙂🙃😉😊😇🥰😍🤩😘😗☺️😚😙🥲", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "✌🏻✌🏼✌🏽✌🏾✌🏿")
# --- code
add('def fib(n):\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
    '#include <vector>\n\ntemplate <typename T>\nT sum(const std::vector<T>& v) {\n  T s{};\n  for (const auto& x : v) s += x;\n  return s;\n}\n',
    'fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
    'const add = (a, b) => a + b;\nconsole.log(`sum: ${add(1, 2)}`);\n// TODO: fix\n',
    "SELECT u.id, COUNT(*) AS n\nFROM users u\nJOIN orders o ON o.user_id = u.id\nWHERE o.total > 100.50\nGROUP BY u.id\nORDER BY n DESC;",
    '#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  echo "$f" | tr \'a-z\' \'A-Z\' >> out.log 2>&1\ndone\n',
    '{"name": "pagoda", "version": "0.1.0", "tags": ["llm", "qwen"], "nested": {"a": [1, 2.5, null, true]}}',
    '<html>\n<body>\n  <div class="x">&amp; &lt;tag&gt;</div>\n</body>\n</html>',
    "all:\n\tgcc -O2 -o main main.c\n\nclean:\n\trm -f main\n",
    r"\begin{equation} E = mc^2 \quad \int_0^\infty e^{-x^2} dx = \frac{\sqrt{\pi}}{2} \end{equation}",
    "| col1 | col2 |\n|------|------|\n| a    | b    |\n",
    "    indented four\n        indented eight\n\t\ttabbed\n",
    "x+=1;y-=2;z*=3;w/=4;a%=5;b<<=1;c>>=2;d&&=e||f",
    "regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@example\\.com$",
    "https://example.com/path?query=1&other=two#frag",
    "user@example.com, first.last+tag@sub.domain.org",
    "C:\\Users\\name\\Documents\\file.txt")
# --- added tokens alone and embedded
specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
            "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>",
            "</tool_response>", "<think>", "</think>"]
add(*specials)
add("hello<|im_end|>world", "<|im_start|><|im_end|>", "<|im_start", "<|im_start|", "<<|im_start|>>",
    "a <|endoftext|> b", "<|endoftext|><|endoftext|><|endoftext|>", "<think></think>", "<think>\n\n</think>\n\n",
    "<think>\nThe user asks for 2+2. That is 4.\n</think>\n\nThe answer is 4.",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nParis.<|im_end|>\n",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "東京"}}\n</tool_call>',
    "<tool_response>\n{\"temp\": 21}\n</tool_response>",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe this image.",
    "<|repo_name|>pagoda\n<|file_sep|>main.cc\nint main() {}",
    "text<think>inner</think>text", "<THINK> is not <think>", "<|im_end|>\n", "\n<|im_start|>",
    "<|endoftext|>" + "x" * 10)
# --- normalization
add("e\u0301", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "\u1100\u1161\u11a8", "ﬁ ﬂ ﬃ", "Å vs A\u030a",
    "o\u0308\u0304", "\u0915\u093c", "q\u0307\u0323", "\u00e9 vs e\u0301 vs \u0065\u0301", "\u0041\u0308\u0301",
    "ñ n\u0303 N\u0303", "\u1e9b\u0323", "\uac00\u11a8", "Ǆ ǅ ǆ")
# --- long
lorem = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex "
         "ea commodo consequat. ")
add(lorem * 3, "a" * 300, "ab" * 200, "supercalifragilisticexpialidocious" * 5,
    "自然语言处理是计算机科学领域与人工智能领域中的一个重要方向它研究能实现人与计算机之间用自然语言进行有效通信的各种理论和方法",
    "=" * 80, "-" * 120 + "\n", "Ω" * 70, ".-" * 50)
# --- malformed UTF-8 (raw bytes as hex)
for h, note in [("ff", "invalid byte"), ("80", "lone continuation"), ("bf41", "continuation then ASCII"),
                ("c3", "truncated 2-byte at end"), ("c328", "bad continuation"), ("e0a0", "truncated 3-byte"),
                ("e080af", "overlong"), ("eda080", "surrogate"), ("f4908080", "above U+10FFFF"),
                ("f8888080", "5-byte form"), ("41ff42", "invalid in the middle"), ("e4b8ade6", "CJK then truncated"),
                ("f09f98", "truncated emoji"), ("c0c1f5ff", "never-valid bytes"), ("3c7c696d5f7374617274ff7c3e", "invalid inside a special token"),
                ("48656c6c6f20e4bd", "Hello + truncated CJK"), ("e282ac20e282", "euro + truncated euro")]:
    C.append({"hex": h, "note": note})
# --- known divergences between the JS reference and HF tokenizers (hf_pieces: HF's pre-tokenization)
C.append({"text": "x\ufeff\ufeffy", "hf_pieces": ["x", "\ufeff\ufeff", "y"],
          "note": "U+FEFF is \\s in JavaScript but not in Oniguruma (HF): HF keeps the two BOMs together"})
C.append({"text": "a\u0085\u0085b", "hf_pieces": ["a", "\u0085", "\u0085b"],
          "note": "U+0085 (NEL) is \\s in Oniguruma (HF) but not in JavaScript"})
C.append({"text": "it'\u017fa", "hf_pieces": ["it", "'\u017f", "a"],
          "note": "(?i:'s) matches 'ſ (U+017F folds to s) in HF; the JS port expands (?i:) to [sS]"})
C.append({"text": "漢\U0002EBF0字", "hf_pieces": ["漢", "\U0002EBF0字"],
          "note": "U+2EBF0 (CJK Ext. I, Unicode 15.1) is a letter to node (Unicode 17) but unassigned to HF (Unicode 15.0)"})
C.append({"text": "a \ufeffb", "hf_pieces": ["a", " \ufeff", "b"],
          "note": "U+FEFF is \\s in JavaScript but not in Oniguruma (HF): HF keeps ' \\ufeff' as one piece"})
C.append({"text": "a \u0085b", "hf_pieces": ["a", " ", "\u0085b"],
          "note": "U+0085 (NEL) is \\s in Oniguruma (HF) but not in JavaScript: HF splits the space off"})
C.append({"text": "a  \u0085b", "hf_pieces": ["a", "  ", "\u0085b"],
          "note": "U+0085 (NEL) is \\s in Oniguruma (HF) but not in JavaScript: HF splits the spaces off"})
out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests/data/tokenizer/corpus.jsonl")
with open(out_path, "w") as f:
    for x in C:
        f.write(json.dumps(x, ensure_ascii=False) + "\n")
print(len(C))
