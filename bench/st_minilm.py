"""sentence-transformers anchor for bench_bert.sh: the real all-MiniLM-L6-v2
(SentenceTransformer(DIR).encode, batch 32, its own Normalize module) over the
lines of a text file with torch.set_num_threads(THREADS); tokens are counted
with the model's own tokenizer (truncated to max_seq_length, [CLS]/[SEP]
included), as `logify embed --stats` counts them. Tokenization is inside the
timed part, as it is in Logify's. cpu_secs: the process's CPU time (all
threads) over the encode, as `logify embed --stats` reports its own. Usage: st_minilm.py MODEL_DIR LINES.txt THREADS"""
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model_dir, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
model = SentenceTransformer(model_dir, device="cpu")
tok = model.tokenizer
tokens = sum(len(tok(l, truncation=True, max_length=model.max_seq_length)["input_ids"]) for l in lines)
model.encode(lines[:32], batch_size=32)  # warm-up
t, c = time.perf_counter(), time.process_time()
model.encode(lines, batch_size=32)
dt, dc = time.perf_counter() - t, time.process_time() - c
print(f"st_minilm threads={threads} texts={len(lines)} tokens={tokens} secs={dt:.3f} "
      f"tok_per_s={tokens / dt:.0f} cpu_secs={dc:.3f} tok_per_cpu_s={tokens / dc:.0f} "
      f"torch={torch.__version__}")
