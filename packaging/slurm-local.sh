#!/usr/bin/env bash
# A one-machine Slurm cluster (Debian's slurmctld, slurmd and munge, no systemd) for the sweep
# tests and for trying `quench-cli sweep run --slurm` without a cluster.
#   slurm-local.sh start    starts munged (unless one answers), slurmctld and slurmd; waits until
#                           the node is idle; prints `export SLURM_CONF=...` on its last line
#   slurm-local.sh stop     cancels every job, waits for the queue to empty, then stops the daemons
#                           it started, by the PIDs in its state folder (never by name)
#   slurm-local.sh status   says what runs
# State, configuration and logs live in $QUENCH_SLURM_DIR (default /tmp/quench-slurm). The daemons
# run as root: run by another user, it runs itself through `sudo -n` (jobs still run as the user who
# submits them). Starting again while it runs does nothing.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || { echo "slurm-local: needs root or passwordless sudo (the Slurm daemons run as root)" >&2; exit 1; }
  exec sudo -n --preserve-env=QUENCH_SLURM_DIR bash "$0" "$@"
fi
DIR=${QUENCH_SLURM_DIR:-/tmp/quench-slurm}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

# A PID file is trusted only when that process is still the program it names (PIDs are reused).
alive() {  # pidfile program
  [ -s "$1" ] || return 1
  local pid
  pid=$(tr -dc 0-9 < "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

stop_pid() {  # pidfile program
  alive "$1" "$2" || { rm -f "$1"; return 0; }
  local pid
  pid=$(tr -dc 0-9 < "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do alive "$1" "$2" || break; sleep 0.2; done
  if alive "$1" "$2"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$1"
}

wait_queue_empty() {
  for _ in $(seq 150); do
    [ -z "$(squeue -h -o %A 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  echo "slurm-local: jobs still listed after 30 s: $(squeue -h 2>&1 | tr '\n' ';')" >&2
  return 1
}

start() {
  for c in slurmctld slurmd munged sbatch squeue sinfo; do
    command -v "$c" >/dev/null || { echo "slurm-local: $c is missing; install slurmctld slurmd slurm-client munge (packaging/setup-debian.sh)" >&2; exit 1; }
  done
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  if alive "$DIR/slurmctld.pid" slurmctld && alive "$DIR/slurmd.pid" slurmd; then
    echo "slurm-local: already running ($DIR)"
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  stop_pid "$DIR/slurmd.pid" slurmd
  stop_pid "$DIR/slurmctld.pid" slurmctld
  rm -rf "$DIR/state" "$DIR/spool" && mkdir -p "$DIR/state" "$DIR/spool"

  if ! munge -n >/dev/null 2>&1; then
    # The package made the key; the runtime folder is ours to make.
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    runuser -u munge -- munged
    cp /run/munge/munged.pid "$DIR/munged.pid" 2>/dev/null || true
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n >/dev/null 2>&1 || { echo "slurm-local: munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
  fi

  local node
  node=$(slurmd -C | head -n 1)
  case "$node" in NodeName=*) ;; *) echo "slurm-local: slurmd -C printed no node line: $node" >&2; exit 1 ;; esac
  cat > "$CONF" <<CONF
ClusterName=quench-local
SlurmctldHost=$(hostname)(127.0.0.1)
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
CONF
  slurmctld -c -f "$CONF"
  slurmd -f "$CONF"
  for _ in $(seq 150); do
    case "$(sinfo -h -o %T 2>/dev/null)" in idle*|mixed*|allocated*) break ;; esac
    sleep 0.2
  done
  local state
  state=$(sinfo -h -o %T 2>/dev/null || true)
  case "$state" in
    idle*|mixed*|allocated*) ;;
    *) echo "slurm-local: the node is '$state' after 30 s; logs in $DIR/log/" >&2; exit 1 ;;
  esac
  name=${node%% *}; echo "slurm-local: running, node ${name#NodeName=} idle ($DIR)"
  echo "export SLURM_CONF=$CONF"
}

stop() {
  if alive "$DIR/slurmctld.pid" slurmctld; then
    # Jobs outlive the daemons (slurmstepd ignores SIGTERM): end them first.
    squeue -h -o %A | sort -u | xargs -r scancel --quiet 2>/dev/null || true
    wait_queue_empty || true
  fi
  stop_pid "$DIR/slurmd.pid" slurmd
  stop_pid "$DIR/slurmctld.pid" slurmctld
  stop_pid "$DIR/munged.pid" munged
  echo "slurm-local: stopped"
}

status() {
  for p in slurmctld slurmd munged; do
    if alive "$DIR/$p.pid" "$p"; then echo "$p running (pid $(cat "$DIR/$p.pid"))"; else echo "$p not started here"; fi
  done
  if alive "$DIR/slurmctld.pid" slurmctld; then sinfo; squeue; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
