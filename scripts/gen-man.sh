#!/usr/bin/env bash
# gen-man.sh LOGIFY OUT.1 - the man page logify(1), generated from the
# binary's own --help and --version (help2man) with a COMMANDS section made
# of every command's --help, so the page never drifts from the program.
# CMake runs it at build time (target `man`); `make install` installs it.
set -euo pipefail
logify=${1:?usage: gen-man.sh LOGIFY OUT.1}
out=${2:?usage: gen-man.sh LOGIFY OUT.1}
command -v help2man >/dev/null ||
  { echo "gen-man.sh: help2man is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
# roff: a leading . or ' would start a request, \ an escape
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
  echo "[COMMANDS]"
  # the commands as the top-level --help lists them
  "$logify" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && $1 != "commands:" {print $1}' |
    while read -r cmd; do
      echo ".SS \"logify $cmd\""
      echo ".nf"
      "$logify" "$cmd" --help | roff
      echo ".fi"
    done
  cat <<'ROFF'
[FILES]
.TP
.I /usr/share/logify/models/default
the default model bundle (found next to the binary: \fIBINDIR/../share/logify/models/default\fR; \fBLOGIFY_MODEL\fR overrides)
.TP
.I /usr/share/logify/rules/default.yaml
the built-in rules (compiled in; this copy is to start your own from)
.TP
.I /etc/default/logify
the environment of logify.service (\fBLOGIFY_SERVE_ARGS\fR, \fBLOGIFY_API_KEY\fR, ...)
.TP
.I /lib/systemd/system/logify.service
\fBlogify serve\fR as a hardened systemd service
[ENVIRONMENT]
.TP
.B LOGIFY_MODEL
the default model bundle's directory
.TP
.B LOGIFY_API_KEY
\fBserve\fR: the API key (as \fB\-\-api\-key\fR)
.TP
.BR GROQ_API_KEY ", " LOGIFY_LLM_API_KEY ", " LOGIFY_LLM_BASE_URL
the LLM stage's endpoint and key
[EXIT STATUS]
0 success, 1 failure, 2 usage error; \fBserve\fR: 3 when requests were cut off at shutdown.
ROFF
} >"$inc"
help2man --no-info --no-discard-stderr --section 1 \
  --name "hybrid log classification: rules, model and LLM; train, eval, cluster, serve" \
  --include "$inc" --output "$out.tmp" "$logify"
mv "$out.tmp" "$out"
