#!/usr/bin/env bash
# The console's clusters view in headless Chromium on the seed data
# (../shared/datasets/synthetic_logs.csv): the cluster job with progress, the
# map against `logify cluster` on the same rows, hover, a cluster's rule
# copied as YAML and checked with `logify rules check`
# (tests/browser/console.test.mjs).
source "$(dirname "$0")/../lib.sh"
need_shared
exec bash "$(dirname "$0")/../browser/run.sh" clusters
