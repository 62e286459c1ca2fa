#!/bin/sh
# The supervisor of one Conveyor task: the task's parent, so that the task outlives the server and
# its exit status is still recorded. The local engine starts it (in a session of its own) before a
# task needs it, as a "standby", so that a launch does not wait for processes to start.
#
#   supervisor.sh SHELL SETSID RESET CGROUP...   the supervisor
#   supervisor.sh task CGROUP...                 the task side, started by the supervisor
#
# The supervisor starts the task side at once with SETSID (so it leads its own session and
# process group, apart from the supervisor) through RESET (`env --default-signal=INT,QUIT`, or
# empty: a background job of a non-interactive shell ignores SIGINT and SIGQUIT), and reports its
# pid. The task side joins the task's cgroups (already made; moving a process between cgroups can
# take milliseconds, better spent now than at launch), closes its copy of the report pipe (the
# engine takes the standby as ready at end-of-file) and waits for its launch script.
# Handing over a task is: the engine renames the standby's directory to the task's sandbox and
# writes its path to the supervisor, and writes the task's launch script to the task side. The
# script applies rlimits, sets the environment and execs the task, which keeps the pid. The
# supervisor, which has been waiting for the task side all along, then records "$dir/exit":
# "STATUS TIME", STATUS being the exit code or -N for death by signal N, written to a temporary
# file and renamed.
#
# File descriptors from the engine: 0 the supervisor's end of the hand-over (the sandbox path),
# 1 where the supervisor reports the task side's pid (then closes it; the task side keeps a copy
# as 6 until it is ready), 3 the task side's end of the hand-over (the launch script), 4 and 5
# the task's stdout and stderr files, already open so that the directory can be renamed at any
# time. A standby never handed a task sees end-of-file on both ends and exits.

if [ "${1-}" = task ]; then
    shift
    for cgroup in "$@"; do
        echo 0 >"$cgroup/cgroup.procs"
    done
    exec 6>&-
    . /dev/fd/3
    exit 127
fi

shell=$1
setsid=$2
reset=$3
shift 3
# $reset is split into words on purpose: it is a command and its options
( exec "$setsid" $reset "$shell" "$0" task "$@" 6>&1 >&4 2>&5 4>&- 5>&- ) &
task=$!
echo "$task"
exec >/dev/null 3<&- 4>&- 5>&-

wait "$task"
status=$?
# The sandbox path was written at the hand-over (long before, as a rule: reading it only now
# leaves the supervisor asleep when a launch wakes the task side); none: there was no task.
IFS= read -r dir || exit 0
if [ "$status" -gt 128 ]; then
    # `wait` says 128+N both for death by signal N and for `exit 128+N`; the job table does not
    # ("Killed" against "Done(137)").
    jobs >"$dir/exit.tmp"
    IFS= read -r job <"$dir/exit.tmp" || job=
    case $job in
        *Done* | *Exit*) ;;
        *) status=$((128 - status)) ;;
    esac
fi
printf '%s %s\n' "$status" "$(date +%s.%N)" >"$dir/exit.tmp"
exec mv -f "$dir/exit.tmp" "$dir/exit"
