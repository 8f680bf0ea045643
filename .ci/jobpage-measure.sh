#!/bin/sh
# The job page at scale (issue 11): server time and HTML size per page
# (BenchmarkJobPage), then what headless Chromium sees while the job's
# moves publish 2,000 updates a second (TestJobPageBrowserMeasure: longest
# task, timer lag, events and rows per second). Figures, not assertions.
set -e
cd "$(dirname "$0")/.."
go test -count=1 -run '^$' -bench 'BenchmarkJobPage' -benchtime 50x ./handlers/
MOVEWIZARD_MEASURE=1 go test -count=1 -v -run 'TestJobPageBrowserMeasure' ./handlers/ | grep -E 'job of|^(ok|FAIL|---)'
