#!/usr/bin/env bash
# The console of `logify serve` (GET /) in headless Chromium: upload of
# resources/test.csv (the 20 rows, the charts' counts, the downloads byte for
# byte against `logify classify`), filters and sort, a malformed file's error
# as the CLI prints it, hostile log lines, keyboard-only upload, the live
# view, the API key flow, a 100,000-row table (tests/browser/console.test.mjs).
exec bash "$(dirname "$0")/../browser/run.sh" console
