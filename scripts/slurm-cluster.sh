#!/usr/bin/env bash
# A real single-node Slurm (Debian's slurm-wlm + munge) for gitxp's tests, every daemon kept on 127.0.0.1.
#
#   scripts/slurm-cluster.sh start    # idempotent: installs the packages when missing (root), starts munged,
#                                     # slurmctld and slurmd, waits until the node is idle; prints `export` lines
#   scripts/slurm-cluster.sh env      # the `export` lines only (SLURM_CONF, LD_PRELOAD)
#   scripts/slurm-cluster.sh stop     # idempotent: stops the daemons (munged stays: other users may need it)
#   scripts/slurm-cluster.sh status
#
# Slurm's daemons have no bind-address option and listen on every interface. A tiny LD_PRELOAD shim (compiled here
# with the machine's cc) rewrites a wildcard bind() (0.0.0.0 / ::) to loopback in slurmctld, slurmd, the steps they
# start and every srun of a job that inherits the environment printed by `env`. `status` lists the listening sockets.
# (A loopback-only network namespace does not work: getaddrinfo with AI_ADDRCONFIG ignores loopback.)
#
# Everything lives under $GITXP_SLURM_DIR (default /tmp/gitxp-slurm): slurm.conf, state, spool, logs, pid files.
set -euo pipefail

DIR="${GITXP_SLURM_DIR:-/tmp/gitxp-slurm}"
CTLD_PORT="${GITXP_SLURM_PORT:-6817}"
SLURMD_PORT=$((CTLD_PORT + 1))
SHIM="$DIR/loopback-bind.so"
CONF="$DIR/slurm.conf"

say() { echo "slurm-cluster: $*" >&2; }

install_packages() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null && return 0
    if [ "$(id -u)" != 0 ]; then
        say "slurm-wlm and munge are not installed and this is not root: cannot install them"
        exit 3
    fi
    say "installing slurm-wlm and munge with apt-get"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
}

build_shim() {
    [ -f "$SHIM" ] && return 0
    cat >"$DIR/loopback-bind.c" <<'EOF'
/* bind() of a wildcard address (0.0.0.0 or ::) becomes a bind to loopback: keeps Slurm's daemons off the network. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, addr, sizeof in4);
        if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in4, sizeof in4);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof in6);
        if (memcmp(&in6.sin6_addr, &in6addr_any, sizeof in6addr_any) == 0) {
            in6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&in6, sizeof in6);
        }
    }
    return real_bind(fd, addr, len);
}
EOF
    cc -shared -fPIC -O2 -o "$SHIM.tmp" "$DIR/loopback-bind.c" -ldl
    mv "$SHIM.tmp" "$SHIM"
}

write_conf() {
    local cpus mem
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF.tmp" <<EOF
# written by gitxp's scripts/slurm-cluster.sh
ClusterName=gitxp
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$CONF.tmp" "$CONF"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || create-munge-key -f >/dev/null; }
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    if [ "$(id -u)" = 0 ]; then runuser -u munge -- /usr/sbin/munged; else /usr/sbin/munged; fi
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "munged did not start"
    exit 1
}

print_env() {
    echo "export SLURM_CONF=$CONF"
    echo "export LD_PRELOAD=$SHIM"
}

start() {
    install_packages
    mkdir -p "$DIR"
    build_shim
    write_conf
    start_munge
    export SLURM_CONF="$CONF"
    if ! alive "$DIR/slurmctld.pid"; then
        # -i: ignore state files of an earlier cluster in this directory (no stale jobs)
        LD_PRELOAD="$SHIM" setsid /usr/sbin/slurmctld -D -i -f "$CONF" >>"$DIR/log/slurmctld.out" 2>&1 </dev/null &
        echo $! >"$DIR/slurmctld.pid"
    fi
    if ! alive "$DIR/slurmd.pid"; then
        LD_PRELOAD="$SHIM" setsid /usr/sbin/slurmd -D -N localhost -f "$CONF" >>"$DIR/log/slurmd.out" 2>&1 </dev/null &
        echo $! >"$DIR/slurmd.pid"
    fi
    for _ in $(seq 200); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
        case "$state" in
        idle | mixed | allocated) print_env; return 0 ;;
        down* | drain*) scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 0.2
    done
    say "the node did not become idle (state: ${state:-none}); logs in $DIR/log"
    tail -5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    exit 1
}

stop() {
    for daemon in slurmd slurmctld; do
        if alive "$DIR/$daemon.pid"; then
            pid=$(cat "$DIR/$daemon.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$DIR/$daemon.pid"
    done
}

status() {
    for daemon in slurmctld slurmd; do
        if alive "$DIR/$daemon.pid"; then echo "$daemon: running (pid $(cat "$DIR/$daemon.pid"))"; else echo "$daemon: stopped"; fi
    done
    SLURM_CONF="$CONF" sinfo 2>/dev/null || true
    echo "listening sockets of the daemons:"
    ss -Hltnp 2>/dev/null | grep -E 'slurm' || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
status) status ;;
*) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
