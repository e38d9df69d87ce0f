"""The prototype's stack, for bench/bench_http.sh: a FastAPI app (Debian's
python3-fastapi, python3-uvicorn, python3-multipart) doing the prototype's
regex stage per row (the 18 patterns of ../shared/anchors/seed_regex.py, tried
one by one with re.search, as the prototype did), behind the same two routes
as Logify: POST /classify/ (multipart CSV -> CSV with target_label) and
POST /v1/classify (JSON). Differences that favour it: no pandas, and the answer
is not written to resources/output.csv first.
Run: LOGIFY_SHARED=../shared uvicorn --app-dir bench fastapi_proto:app"""
import ast
import csv
import io
import os
import re
from typing import List, Optional

from fastapi import FastAPI, HTTPException, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel


def _load_patterns():
    path = os.path.join(os.environ.get("LOGIFY_SHARED", "../shared"), "anchors", "seed_regex.py")
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PATTERNS":
            return ast.literal_eval(node.value)
    raise RuntimeError("no PATTERNS in " + path)


PATTERNS = _load_patterns()


def classify(msg):
    for p, label in PATTERNS.items():
        if re.search(p, msg, re.IGNORECASE):
            return label
    return "Unclassified"


app = FastAPI()


@app.post("/classify/")
async def classify_csv(file: UploadFile):
    if not file.filename.endswith(".csv"):
        raise HTTPException(status_code=400, detail="File must be a CSV.")
    text = (await file.read()).decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = next(reader, None)
    if not header or "source" not in header or "log_message" not in header:
        raise HTTPException(status_code=400, detail="CSV must contain 'source' and 'log_message' columns.")
    mi = header.index("log_message")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header + ["target_label"])
    for row in reader:
        w.writerow(row + [classify(row[mi])])
    return Response(out.getvalue(), media_type="text/csv")


class Log(BaseModel):
    source: Optional[str] = ""
    log_message: str


class Logs(BaseModel):
    logs: List[Log]


@app.post("/v1/classify")
def classify_json(body: Logs):
    res = []
    for lg in body.logs:
        label = classify(lg.log_message)
        hit = label != "Unclassified"
        res.append({"label": label, "stage": "rules" if hit else "none",
                    "confidence": 1.0 if hit else None, "detail": ""})
    return {"results": res}
