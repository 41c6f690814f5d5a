#!/usr/bin/env python3
"""Makes CLIP tokenizer reference lines {"text", "ids"} with OpenAI's own tokenizer (clip/simple_tokenizer.py).

    /usr/bin/python3 tools/make-clip-reference.py CLIP_DIR INPUT... > OUT.jsonl

CLIP_DIR holds simple_tokenizer.py and bpe_simple_vocab_16e6.txt.gz from github.com/openai/CLIP (folder clip/);
they are imported from there, not copied into this repository. Each INPUT is read in order:
  .txt    one prompt a line, taken as it is (the line break removed);
  .jsonl  one JSON string a line, or an object with a "text" field (so a reference file can be remade).
The ids are whole: <|startoftext|> first, <|endoftext|> last, not cut to 77 tokens, not padded.

ftfy's fix_text is replaced by the identity, as in tests/data/clip/reference.jsonl, so only the regex package is
needed (Debian: apt-get install python3-regex). The test suite does not run this: its output is committed.
"""
import importlib.util
import json
import os
import sys
import types


def load_tokenizer(clip_dir):
    # simple_tokenizer imports ftfy at the top; an identity stand-in leaves text fixing out.
    ftfy = types.ModuleType("ftfy")
    ftfy.fix_text = lambda text: text
    sys.modules["ftfy"] = ftfy
    spec = importlib.util.spec_from_file_location("simple_tokenizer", os.path.join(clip_dir, "simple_tokenizer.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer(os.path.join(clip_dir, "bpe_simple_vocab_16e6.txt.gz"))


def read_texts(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            line = line[:-1] if line.endswith("\n") else line
            if path.endswith(".jsonl"):
                if line.strip() == "":
                    continue
                value = json.loads(line)
                yield value["text"] if isinstance(value, dict) else value
            else:
                yield line


def main(clip_dir, inputs):
    tokenizer = load_tokenizer(clip_dir)
    sot = tokenizer.encoder["<|startoftext|>"]
    eot = tokenizer.encoder["<|endoftext|>"]
    out = sys.stdout
    for path in inputs:
        for text in read_texts(path):
            ids = [sot] + tokenizer.encode(text) + [eot]
            out.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    main(sys.argv[1], sys.argv[2:])
