#!/usr/bin/env bash
# demo-check.sh: what a newcomer does. Clone the repository to a temporary
# folder, run the README's demo command, sign in over HTTP with the admin
# login the demo prints, start a job of three demo users through the
# wizard's forms, wait for it to finish and check the report.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
DEMO_PID=
cleanup() {
  if [ -n "$DEMO_PID" ]; then kill -- -"$DEMO_PID" 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "demo-check: FAIL: $*" >&2; echo "--- demo output:" >&2; cat "$WORK/demo.out" >&2 || true; exit 1; }

git clone -q "$ROOT" "$WORK/repo"
cd "$WORK/repo"
# The first command of README.md's first code block is the demo command.
DEMO_CMD=$(awk '/^```/{n++; next} n==1 && NF {print; exit}' README.md | sed 's/[[:space:]]*#.*$//')
case "$DEMO_CMD" in *" demo"*) ;; *) fail "README's first command is not the demo: $DEMO_CMD" ;; esac
echo "demo-check: running: $DEMO_CMD"
# setsid: the demo (go run and its child) gets its own process group to stop.
setsid bash -c "exec $DEMO_CMD" >"$WORK/demo.out" 2>&1 &
DEMO_PID=$!
for _ in $(seq 600); do
  grep -q 'admin login:' "$WORK/demo.out" 2>/dev/null && break
  kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo exited"
  sleep 0.5
done
grep -q 'admin login:' "$WORK/demo.out" || fail "the demo printed no admin login"
URL=$(grep -o 'http://[0-9.:]*/' "$WORK/demo.out" | head -1)
LOGIN=$(sed -n 's/.*admin login: *\([^ ]*\) \/ \([^ ]*\).*/\1/p' "$WORK/demo.out")
PASSWORD=$(sed -n 's/.*admin login: *\([^ ]*\) \/ \([^ ]*\).*/\2/p' "$WORK/demo.out")
echo "demo-check: $URL as $LOGIN"
JAR="$WORK/cookies"
post() { # path form... -> prints "status location"
  local path=$1; shift
  local args=()
  for f in "$@"; do args+=(--data-urlencode "$f"); done
  [ ${#args[@]} -gt 0 ] || args=(--data "")
  curl -s -o "$WORK/last.html" -w '%{http_code} %{redirect_url}' -b "$JAR" -c "$JAR" \
    -H "Origin: ${URL%/}" "${args[@]}" "${URL%/}$path"
}
expect303() { # what result
  case "$2" in 303*) ;; *) fail "$1: got '$2' (page: $(sed 's/<[^>]*>//g' "$WORK/last.html" | tr -s ' \n' ' ' | head -c 400))" ;; esac
}
expect303 "sign in" "$(post /signin "login=$LOGIN" "password=$PASSWORD")"
expect303 "select users" "$(post /wizard/users action=import 'paste=ann bob carol')"
expect303 "users next" "$(post /wizard/users action=next)"
expect303 "target" "$(post /wizard/target target=west)"
expect303 "policy" "$(post /wizard/policy policy=skip max_bad=5 source=remove)"
expect303 "schedule" "$(post /wizard/schedule when=now parallel=3 cancel_after=)"
RES=$(post /wizard/start)
expect303 "start" "$RES"
JOB=$(echo "$RES" | grep -o '/jobs/[0-9]*' | grep -o '[0-9]*$')
[ -n "$JOB" ] || fail "start did not lead to a job page: $RES"
echo "demo-check: job $JOB started"
for _ in $(seq 600); do
  curl -s -b "$JAR" "${URL%/}/jobs/$JOB/report.json" >"$WORK/report.json"
  python3 - "$WORK/report.json" <<'PY' && break
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["job"]["state"] not in ("queued", "running") else 1)
PY
  sleep 0.5
done
python3 - "$WORK/report.json" <<'PY' || fail "report check"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["job"]["state"] == "done", r["job"]
got = {m["uid"]: m for m in r["mailboxes"]}
assert sorted(got) == ["ann", "bob", "carol"], sorted(got)
for uid, m in got.items():
    assert m["outcome"] == "done", (uid, m["outcome"], m.get("error"))
    assert m["messages_copied"] == m["messages_total"] > 0, (uid, m)
    assert m["source"] == "east" and m["target"] == "west", (uid, m)
clients = {c["uid"] for c in r["client_settings"]}
assert clients == {"ann", "bob", "carol"}, clients
print("demo-check: report OK:", ", ".join("%s %d msgs" % (u, m["messages_copied"]) for u, m in sorted(got.items())))
PY
curl -s -b "$JAR" "${URL%/}/jobs/$JOB/report.csv" | grep -q '^.*mailbox.*ann' || fail "CSV report lacks ann"
echo "demo-check: PASS"
