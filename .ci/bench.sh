#!/usr/bin/env bash
# bench.sh: move the ../shared/bench corpus with movewizard and with Dovecot's
# own dsync (doveadm backup via imapc) on the same servers in the same run,
# verify both byte for byte, and print msgs/s, MB/s and peak RSS.
# Env: N users (20), M messages per user (300), P parallel moves (4),
# DIR server state (/tmp/mw-bench), BENCH (../shared/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
DIR=${DIR:-/tmp/mw-bench}
N=${N:-20} M=${M:-300} P=${P:-4}
export DIR N

"$BENCH/servers.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"; mkdir -p "$DIR"
N=$N "$BENCH/servers.sh" start "$DIR"
trap '"$BENCH/servers.sh" stop "$DIR" >/dev/null 2>&1 || true' EXIT
"$BENCH/seed.py" --users "$N" --msgs-per-user "$M"
"$BENCH/verify.py" manifest --server src --users "$N" --out "$DIR/src-manifest.json"
read -r MSGS BYTES < <("$BENCH/verify.py" totals --manifest "$DIR/src-manifest.json" --users "$N")

# Baseline: doveadm backup, P at a time (its script resets dst and verifies).
/usr/bin/time -f "%M" -o "$DIR/doveadm.rss" "$BENCH/baseline-doveadm.sh" "$P" | tee "$DIR/doveadm.txt"

# movewizard: same servers, dst reset, keep the source so the run can repeat.
go build -o "$DIR/movewizard" "$ROOT/cmd/movewizard"
cat >"$DIR/mw.toml" <<TOML
database = "$DIR/mw.db"
[directory]
url = "ldap://127.0.0.1:3389"
bind_dn = "cn=admin,dc=example,dc=org"
bind_password = "adminpw"
base_dn = "ou=people,dc=example,dc=org"
[[servers]]
name = "src"
address = "127.0.0.1:10143"
home = "src.example.org"
login = "master-user"
admin_user = "admin"
admin_password = "adminpw"
[[servers]]
name = "dst"
address = "127.0.0.1:20143"
home = "dst.example.org"
login = "master-user"
admin_user = "admin"
admin_password = "adminpw"
TOML
# mw_run TAG: reset dst, move every user, verify, print a RESULT line.
mw_run() {
  local tag=$1
  "$BENCH/servers.sh" reset-dst "$DIR" >/dev/null
  if [ "$tag" = fsync-never ]; then
    # doveadm writes with mail_fsync=never (baseline-doveadm.sh); give the
    # target IMAP server the same setting for a like-for-like number.
    echo "mail_fsync = never" >>"$DIR/dst/dovecot.conf"
    kill -HUP "$(cat "$DIR/dst/run/master.pid")"; sleep 1
  fi
  rm -f "$DIR/mw.db"*
  # Home everyone on src again (a previous run moved them).
  for i in $(seq 1 "$N"); do
    printf 'dn: uid=user%03d,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: mailHost\nmailHost: src.example.org\n\n' "$i"
  done | ldapmodify -x -H ldap://127.0.0.1:3389 -D cn=admin,dc=example,dc=org -w adminpw >/dev/null
  USERS=$(seq -f 'user%03g' 1 "$N" | paste -sd,)
  sync
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$DIR/mw.rss" "$DIR/movewizard" move -config "$DIR/mw.toml" -target dst \
    -users "$USERS" -parallel "$P" -keep-source >"$DIR/mw-$tag.log"
  sync
  t1=$(date +%s.%N)
  verdict=PASS
  "$BENCH/verify.py" check --manifest "$DIR/src-manifest.json" --server dst --users "$N" >"$DIR/mw-verify-$tag.txt" 2>&1 || verdict=FAIL
  python3 - "$t0" "$t1" "$MSGS" "$BYTES" "$(cat "$DIR/mw.rss")" "$verdict" "$P" "$N" "$tag" <<'PY'
import sys
t0, t1, msgs, nbytes, rss, verdict, p, n, tag = sys.argv[1:]
wall = float(t1) - float(t0); mb = int(nbytes) / 1e6
print("RESULT tool=movewizard(%s) P=%s users=%s msgs=%s MB=%.1f wall=%.1fs msgs/s=%.1f MB/s=%.2f peakRSS=%.0fMB verify=%s"
      % (tag, p, n, msgs, mb, wall, int(msgs) / wall, mb / wall, int(rss) / 1024, verdict))
PY
}
mw_run dst-default-fsync
mw_run fsync-never
echo "$(grep RESULT "$DIR/doveadm.txt") peakRSS(largest process)=$(( $(cat "$DIR/doveadm.rss") / 1024 ))MB"
