#!/usr/bin/env bash
# `logify serve` counts template novelty: every classified line (JSON
# answers, NDJSON streams, CSV uploads) is mined for its template, and a
# line that matches no known template adds one to logify_new_templates_total
# on /metrics (docs/templates.md). JSON answers always carry template_id; the
# prototype's CSV upload answer only with --templates.
source "$(dirname "$0")/../lib.sh"
PY_=/usr/bin/python3
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
clean_llm_env
SERVER=
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
# start_server [ARGS]: a server on a free port (the previous one stopped); sets URL
start_server() {
  [[ -z $SERVER ]] || { kill $SERVER; wait $SERVER 2>/dev/null || true; }
  "$LOGIFY" serve --host 127.0.0.1 --port 0 "$@" 2>"$TMP/server.log" &
  SERVER=$!
  local port=
  for _ in $(seq 1 200); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$TMP/server.log" 2>/dev/null | sed 's/.*://' || true)
    [[ -n $port ]] && break
    kill -0 $SERVER 2>/dev/null || fail "server exited: $(cat "$TMP/server.log")"
    sleep 0.05
  done
  [[ -n $port ]] || fail "no port announced"
  URL=http://127.0.0.1:$port
}
start_server
new_templates() { curl -sf "$URL/metrics" | sed -n 's/^logify_new_templates_total \([0-9]*\)$/\1/p'; }
[[ $(new_templates) == 0 ]] || fail "not 0 at start: $(curl -s "$URL/metrics" | grep new_templates)"
ok
post() { curl -sf -H 'Content-Type: application/json' -d "$1" "$URL/v1/classify" >"$TMP/answer" || fail "POST $1"; }
post '{"logs":[{"source":"ModernCRM","log_message":"Disk quota exceeded on sda1 by 512 MB"}]}'
[[ $(new_templates) == 1 ]] || fail "a new line: $(new_templates)"
post '{"logs":[{"source":"ModernCRM","log_message":"Disk quota exceeded on sdb2 by 1024 MB"},{"source":"ModernCRM","log_message":"Disk quota exceeded on sdc3 by 7 MB"}]}'
[[ $(new_templates) == 1 ]] || fail "the same kind of line counted again: $(new_templates)"
grep -q '"label"' "$TMP/answer" && grep -q '"template_id":"[0-9a-f]\{16\}"' "$TMP/answer" ||
  fail "JSON answers carry template_id: $(cat "$TMP/answer")"
ok
printf 'source,log_message\nModernCRM,Backup of volume vol7 finished in 12 s\nModernCRM,Backup of volume vol9 finished in 40 s\n' >"$TMP/up.csv"
curl -sf -F "file=@$TMP/up.csv" "$URL/classify/" >"$TMP/up.out" || fail "upload"
head -1 "$TMP/up.out" | grep -qx 'source,log_message,target_label' || fail "upload answer changed: $(head -1 "$TMP/up.out")"
[[ $(new_templates) == 2 ]] || fail "upload lines: $(new_templates)"
ok
printf '{"log_message":"Backup of volume vol3 finished in 2 s"}\n{"log_message":"Cache warmed in 3 s"}\n' |
  curl -sf -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/classify/stream" >"$TMP/stream" ||
  fail "stream"
[[ $(wc -l <"$TMP/stream") -eq 2 ]] || fail "stream answer: $(cat "$TMP/stream")"
[[ $(new_templates) == 3 ]] || fail "stream lines: $(new_templates)"
ok
# --templates: the CSV upload answer too; one id per kind of line
start_server --templates
post '{"logs":[{"log_message":"Disk quota exceeded on sda1 by 512 MB"},{"log_message":"Disk quota exceeded on sdb2 by 7 MB"},{"log_message":"Cache warmed in 3 s"}]}'
$PY_ - "$TMP/answer" <<'P' || fail "template_id in answers: $(cat "$TMP/answer")"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ids = [x["template_id"] for x in r]
assert all(len(i) == 16 for i in ids) and ids[0] == ids[1] != ids[2], ids
P
printf '{"log_message":"Cache warmed in 9 s"}\n' |
  curl -sf -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/classify/stream" | grep -q '"template_id":"[0-9a-f]\{16\}"' ||
  fail "stream template_id"
curl -sf -F "file=@$TMP/up.csv" "$URL/classify/" | head -1 | grep -qx 'source,log_message,target_label,template_id' ||
  fail "upload template_id column"
ok
done_checks
