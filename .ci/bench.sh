#!/usr/bin/env bash
# bench.sh: move the ../shared/bench corpus with movewizard and with Dovecot's
# own dsync (doveadm backup via imapc) on the same servers in the same run, at
# each parallelism in PS, verify every copy byte for byte, and print msgs/s,
# MB/s, peak RSS, CPU per message and the movewizard/doveadm speed ratio.
# Then a memory case: BIG_USERS mailboxes holding one BIG_MIB MiB message each
# (plus 3 small ones), moved all at once, and movewizard's peak RSS against
# its 64 MiB goal. Exits 1 if any copy fails verification or a move fails.
#
# Env: N users (20), M messages per user (300), PS parallelisms ("1 4"),
# FSYNC_NEVER=1 adds both tools with the target writing mail_fsync=never,
# BIG=0 skips the memory case, BIG_USERS (30; -parallel allows at most 30),
# BIG_MIB (50), CUTOVER=0 skips the staged cut-over case (BenchmarkStagedCutover:
# 20 staged mailboxes of 300 messages completed together while mail is
# delivered, p50/p95/max of the cut-over windows), DIR server state (/tmp/mw-bench, wiped), BENCH (../shared/bench),
# SETTLE seconds waited after each wipe of the target before timing (35).
#
# Why SETTLE: ext4 does not reuse an inode freed less than ~30 s ago; each file
# created meanwhile scans past every such inode (perf: recently_deleted and
# find_get_block_common were a quarter of all CPU samples). Without the wait,
# whichever tool runs right after the previous tool's 6,000 files were wiped
# pays that scan, and in this script that was always movewizard.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
DIR=${DIR:-/tmp/mw-bench}
N=${N:-20} M=${M:-300} PS=${PS:-"1 4"} FSYNC_NEVER=${FSYNC_NEVER:-0} SETTLE=${SETTLE:-35}
CUTOVER=${CUTOVER:-1} BIG=${BIG:-1} BIG_USERS=${BIG_USERS:-30} BIG_MIB=${BIG_MIB:-50}
RSS_GOAL_MIB=64
export DIR N BENCH
case $DIR in /tmp/?*) ;; *) echo "DIR must be under /tmp (it is wiped)" >&2; exit 2 ;; esac
if [ "$BIG" = 1 ] && { [ "$BIG_USERS" -lt 1 ] || [ "$BIG_USERS" -gt 30 ]; }; then
  echo "BIG_USERS must be 1..30 (movewizard move -parallel's range)" >&2; exit 2
fi

"$BENCH/servers.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"; mkdir -p "$DIR"

# Build before minutes of seeding. Other engineers edit this tree while the
# bench runs: a tree that does not compile at this moment is retried.
for try in 1 2 3 4 5; do
  if (cd "$ROOT" && go build -o "$DIR/movewizard" ./cmd/movewizard); then break; fi
  if [ "$try" = 5 ]; then echo "go build failed 5 times" >&2; exit 1; fi
  echo "go build failed (try $try); retrying in 60s" >&2; sleep 60
done
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no | grep -q . && echo "+uncommitted" || true)
echo "bench: movewizard at $(git -C "$ROOT" rev-parse --short HEAD)$dirty, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The memory case uses its own users, user(N+1)..user(N+BIG_USERS), so the
# main corpus and the big mailboxes never mix: start that many users.
NS=$N
if [ "$BIG" = 1 ]; then NS=$((N + BIG_USERS)); fi
N=$NS "$BENCH/servers.sh" start "$DIR" >/dev/null
trap '"$BENCH/servers.sh" stop "$DIR" >/dev/null 2>&1 || true' EXIT
ulist() { seq -f 'user%03g' "$1" "$2" | paste -sd,; }  # FROM TO -> user001,user002,...
MAIN_USERS=$(ulist 1 "$N")
"$BENCH/seed.py" --users "$N" --msgs-per-user "$M" | tail -n 1
"$BENCH/verify.py" manifest --server src --users "$N" --out "$DIR/src-manifest.json"

# baseline-doveadm.sh runs one doveadm per user. This wrapper, first on its
# PATH, records each doveadm's own peak RSS and CPU: timing the whole script
# would also count verify.py, which run_baseline runs inside it.
mkdir -p "$DIR/bin"
cat >"$DIR/bin/doveadm" <<EOF
#!/bin/sh
exec /usr/bin/time -f '%M %U %S' -o "\$(mktemp "$DIR/dvtime/XXXXXX")" $(command -v doveadm) "\$@"
EOF
chmod +x "$DIR/bin/doveadm"

cat >"$DIR/mw.toml" <<TOML
database = "$DIR/mw.db"
# the memory case runs 30 moves at once; no per-server max_parallel (no cap)
max_parallel = 30
[directory]
url = "ldap://127.0.0.1:3389"
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "adminpw"
base_dn = "ou=people,dc=example,dc=org"
[[servers]]
name = "src"
address = "127.0.0.1:10143"
tls = "none"
home = "src.example.org"
login = "master-user"
admin_user = "admin"
admin_password = "adminpw"
[[servers]]
name = "dst"
address = "127.0.0.1:20143"
tls = "none"
home = "dst.example.org"
login = "master-user"
admin_user = "admin"
admin_password = "adminpw"
TOML

FAILS=0  # runs whose copy failed verification (or whose move failed)
: >"$DIR/bench.tsv"  # one row per run, for the ratio lines and the final table

# dv_run P VARIANT DOVEADM_OPTS: doveadm backup of the main users, P at a time
# (baseline-doveadm.sh resets dst, times to a final sync and verifies); prints
# its RESULT line with peak RSS and CPU added, and a CPU line.
dv_run() {
  local p=$1 variant=$2 out=$DIR/doveadm-$2-P$1.txt line rss cpu
  rm -rf "$DIR/dvtime"; mkdir -p "$DIR/dvtime"
  # wipe the target now and let it settle (see SETTLE): the script's own
  # reset then finds it empty
  N=$NS "$BENCH/servers.sh" reset-dst "$DIR" >/dev/null
  sleep "$SETTLE"
  PATH="$DIR/bin:$PATH" DOVEADM_OPTS=$3 TAG="-$variant" "$BENCH/baseline-doveadm.sh" "$p" >"$out"
  line=$(grep '^RESULT' "$out" | sed "s/tool=doveadm-$variant /tool=doveadm($variant) /")
  # /usr/bin/time writes "Command exited with non-zero status" before the numbers
  read -r rss cpu < <(cat "$DIR"/dvtime/* | awk '/^[0-9]/ { if ($1 > m) m = $1; c += $2 + $3 } END { print m + 0, c + 0 }')
  python3 - "$line" "$rss" "$cpu" "$DIR/bench.tsv" <<'PY'
import re, sys
line, rss, cpu, tsv = sys.argv[1:]
kv = dict(re.findall(r"(\S+?)=(\S+)", line))
rss, cpu, msgs = int(rss) / 1024, float(cpu), int(kv["msgs"])
print("%s peakRSS(largest process)=%.0fMB cpu/msg=%.2fms" % (line, rss, cpu * 1000 / msgs))
print("CPU tool=%s P=%s user+sys=%.1fs cpu/msg=%.2fms (doveadm processes; they also write the "
      "target's maildir)" % (kv["tool"], kv["P"], cpu, cpu * 1000 / msgs))
with open(tsv, "a") as fh:
    fh.write("\t".join([kv["tool"], kv["P"], kv["msgs/s"], kv["MB/s"], "%.0f" % rss,
                        "%.2f" % (cpu * 1000 / msgs), kv["verify"]]) + "\n")
PY
  case $line in *verify=PASS*) ;; *) FAILS=$((FAILS + 1)); grep -m3 FAIL "$DIR/logs/doveadm-$variant-P$p/verify.txt" >&2 || true ;; esac
}

# home_on_src USERS: point the users' mailHost at src again (a previous run
# moved them, and movewizard skips users already homed on the target).
home_on_src() {
  tr , '\n' <<<"$1" | while read -r u; do
    printf 'dn: uid=%s,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: mailHost\nmailHost: src.example.org\n\n' "$u"
  done | ldapmodify -x -H ldap://127.0.0.1:3389 -D cn=admin,dc=example,dc=org -w adminpw >/dev/null
}

# mw_run VARIANT P USERS MANIFEST [verify args]: reset dst, move USERS with
# movewizard at -parallel P (keeping the source, so the next run can repeat),
# verify against MANIFEST; prints RESULT and CPU lines.
mw_run() {
  local variant=$1 p=$2 users=$3 manifest=$4; shift 4
  local log=$DIR/mw-$variant-P$p t0 t1 rc=0 verdict=PASS rss usr sys msgs bytes
  # reset-dst rewrites dst's user list from N: give it the big case's users too
  N=$NS "$BENCH/servers.sh" reset-dst "$DIR" >/dev/null
  if [ "$variant" = dst-fsync-never ]; then
    # doveadm's fsync-never variant writes with mail_fsync=never; give the
    # target IMAP server the same setting for a like-for-like number
    # (reset-dst rewrites the config, so the next run has the default again).
    echo "mail_fsync = never" >>"$DIR/dst/dovecot.conf"
    kill -HUP "$(cat "$DIR/dst/run/master.pid")"; sleep 1
  fi
  rm -f "$DIR/mw.db"*
  home_on_src "$users"
  sleep "$SETTLE"  # as for doveadm: no freshly freed inodes on the target
  sync  # keep the writeback of the previous run (and the wipe) out of this timing
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$log.time" "$DIR/movewizard" move -config "$DIR/mw.toml" \
    -target dst -users "$users" -parallel "$p" -keep-source >"$log.log" 2>&1 || rc=$?
  sync  # until the copy is on disk, as for doveadm
  t1=$(date +%s.%N)
  "$BENCH/verify.py" check --manifest "$manifest" --server dst --users "$users" "$@" \
    >"$log.verify" 2>&1 || verdict=FAIL
  if [ "$rc" != 0 ]; then verdict="FAIL(exit=$rc)"; tail -n 5 "$log.log" >&2; fi
  [ "$verdict" = PASS ] || { FAILS=$((FAILS + 1)); grep -m3 FAIL "$log.verify" >&2 || true; }
  read -r rss usr sys < <(grep '^[0-9]' "$log.time" | tail -n 1)
  read -r msgs bytes < <("$BENCH/verify.py" totals --manifest "$manifest" --users "$users")
  python3 - "$variant" "$p" "$users" "$msgs" "$bytes" "$t0" "$t1" "$rss" "$usr" "$sys" "$verdict" \
    "$DIR/bench.tsv" <<'PY'
import sys
variant, p, users, msgs, nbytes, t0, t1, rss, usr, sys_, verdict, tsv = sys.argv[1:]
wall, msgs, mb = float(t1) - float(t0), int(msgs), int(nbytes) / 1e6
rss, cpu = int(rss) / 1024, float(usr) + float(sys_)
tool = "movewizard(%s)" % variant
print("RESULT tool=%s P=%s users=%d msgs=%d MB=%.1f wall=%.1fs msgs/s=%.1f MB/s=%.2f peakRSS=%.0fMB "
      "verify=%s cpu/msg=%.2fms" % (tool, p, len(users.split(",")), msgs, mb, wall, msgs / wall,
                                    mb / wall, rss, verdict, cpu * 1000 / msgs))
print("CPU tool=%s P=%s user=%.1fs sys=%.1fs cpu/msg=%.2fms" % (tool, p, float(usr), float(sys_),
                                                              cpu * 1000 / msgs))
with open(tsv, "a") as fh:
    fh.write("\t".join([tool, p, "%.1f" % (msgs / wall), "%.2f" % (mb / wall), "%.0f" % rss,
                        "%.2f" % (cpu * 1000 / msgs), verdict]) + "\n")
PY
}

VARIANTS=dst-default-fsync
if [ "$FSYNC_NEVER" = 1 ]; then VARIANTS="$VARIANTS dst-fsync-never"; fi
for p in $PS; do
  for v in $VARIANTS; do
    opts=""  # doveadm with the target's default mail_fsync
    if [ "$v" = dst-fsync-never ]; then opts="-o mail_fsync=never"; fi
    dv_run "$p" "$v" "$opts"
    mw_run "$v" "$p" "$MAIN_USERS" "$DIR/src-manifest.json"
  done
done

if [ "$BIG" = 1 ]; then
  # Memory case: every mailbox has one big message, all moved at once, so
  # the peak RSS shows whether movewizard streams messages or buffers them.
  BIG_LIST=$(ulist $((N + 1)) $((N + BIG_USERS)))
  "$ROOT/.ci/bench-seed-big.py" --users "$BIG_LIST" --mib "$BIG_MIB"
  # verify.py holds a FETCH batch in memory: small batches for 50 MiB messages
  "$BENCH/verify.py" manifest --server src --users "$BIG_LIST" --out "$DIR/big-manifest.json" -j 2 --batch 2
  mw_run "big-${BIG_MIB}MiB" "$BIG_USERS" "$BIG_LIST" "$DIR/big-manifest.json" -j 2 --batch 2
  rss_kb=$(grep '^[0-9]' "$DIR/mw-big-${BIG_MIB}MiB-P$BIG_USERS.time" | tail -n 1 | cut -d' ' -f1)
  awk -v kb="$rss_kb" -v n="$BIG_USERS" -v mib="$BIG_MIB" -v goal="$RSS_GOAL_MIB" 'BEGIN {
    r = kb / 1024
    printf "RSS movewizard %d mailboxes x %s MiB message, -parallel %d: peak %.1f MiB (goal <= %d MiB: %s)\n",
      n, mib, n, r, goal, (r <= goal ? "met" : "MISSED") }'
fi

# Ratio lines per P (and variant), then a short table of every run.
python3 - "$DIR/bench.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
speed = {(r[0], r[1]): float(r[2]) for r in rows}
for tool, p in speed:
    if tool.startswith("movewizard(") and ("doveadm" + tool[10:], p) in speed:
        variant = tool[11:-1]
        label = "" if variant == "dst-default-fsync" else " (%s)" % variant
        print("RATIO P=%s%s movewizard/doveadm msgs/s = %.2f"
              % (p, label, speed[tool, p] / speed["doveadm" + tool[10:], p]))
fmt = "%-34s %3s %9s %8s %12s %11s  %s"
print(fmt % ("tool", "P", "msgs/s", "MB/s", "peakRSS MiB", "cpu/msg ms", "verify"))
for r in rows:
    print(fmt % tuple(r))
PY
if [ "$CUTOVER" = 1 ]; then
  # Its own Dovecots and slapd on loopback (migrate/testserver), after the
  # bench servers are done with.
  (cd "$ROOT" && go test ./migrate -run '^$' -bench StagedCutover -benchtime 1x -timeout 20m) | grep -E 'window|delivered|Benchmark|FAIL' || FAILS=$((FAILS + 1))
fi
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FAILS" -gt 0 ]; then echo "FAIL: $FAILS run(s) did not verify" >&2; exit 1; fi
