"""The prototype's FastAPI server, reproduced for `make bench` (bench venv):
POST /classify/ takes a multipart CSV upload, reads it with pandas, labels
every row with the prototype's classify() (prototype.py: regexes, MiniLM +
logistic regression per row, the LLM for LegacyCRM) and answers the CSV with
target_label, written to a file first and sent as a FileResponse, as the
prototype did.
Run: PROTO_MODEL_DIR=... PROTO_CLF=... uvicorn --app-dir bench/prototype server:app"""
import os
import tempfile

import pandas as pd
from fastapi import FastAPI, HTTPException, UploadFile
from fastapi.responses import FileResponse

import prototype

app = FastAPI()
BERT = prototype.BertStage(os.environ["PROTO_MODEL_DIR"], os.environ["PROTO_CLF"])
OUT = os.path.join(tempfile.mkdtemp(prefix="proto-"), "output.csv")


@app.post("/classify/")
async def classify_logs(file: UploadFile):
    if not file.filename.endswith(".csv"):
        raise HTTPException(status_code=400, detail="File must be a CSV.")
    try:
        df = pd.read_csv(file.file, skipinitialspace=True)
        if "source" not in df.columns or "log_message" not in df.columns:
            raise HTTPException(status_code=400, detail="CSV must contain 'source' and 'log_message' columns.")
        df["target_label"] = prototype.classify(list(zip(df["source"], df["log_message"])), BERT)
        df.to_csv(OUT, index=False)
        return FileResponse(OUT, media_type="text/csv")
    except HTTPException:
        raise
    except Exception as e:
        raise HTTPException(status_code=500, detail=str(e))
    finally:
        file.file.close()
