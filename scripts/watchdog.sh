#!/usr/bin/env bash
# Runs a command (the test suite) and passes its exit status on. When the command's whole
# process tree has used no CPU for WATCHDOG_IDLE seconds (default 300), it prints, once, to
# stderr: the process tree, the test process's open pipes with every process holding their
# other end, and each of its threads' stacks (gdb, when installed). A hung run then says where
# it hangs instead of only running into CI's time limit.
set -uo pipefail
limit=${WATCHDOG_IDLE:-300}
poll=15

"$@" &
top=$!

descendants() {
    local frontier=("$1") found=() next
    while ((${#frontier[@]})); do
        next=()
        for p in "${frontier[@]}"; do
            for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do next+=("$c"); done
        done
        found+=("${next[@]}")
        frontier=("${next[@]}")
    done
    echo "${found[@]}"
}

cpu_ticks() {
    local total=0 fields
    for p in "$1" $(descendants "$1"); do
        fields=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        # After "comm)": state is field 1, utime 12, stime 13, cutime 14, cstime 15.
        total=$((total + $(awk '{print $12 + $13 + $14 + $15}' <<<"$fields")))
    done
    echo "$total"
}

report() {
    echo "watchdog: no CPU used below pid $top for ${limit}s; the run looks hung" >&2
    # Without kernel threads (pid 2 and its children).
    ps -eo pid,ppid,pgid,stat,etime,wchan:24,args --forest | awk '$1 != 2 && $2 != 2' >&2
    for p in $(descendants "$top"); do
        case "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)" in
        *PackageTests* | *swiftpm-testing-helper*) ;;
        *) continue ;;
        esac
        echo "watchdog: test process $p, its pipes and who else holds them:" >&2
        for fd in /proc/"$p"/fd/*; do
            target=$(readlink "$fd" 2>/dev/null) || continue
            [[ $target == pipe:* ]] || continue
            holders=$(find /proc/[0-9]*/fd -lname "$(sed 's/[][]/\\&/g' <<<"$target")" 2>/dev/null | cut -d/ -f3 | sort -u |
                grep -vx "$p" | while read -r h; do echo -n "$h($(cat /proc/"$h"/comm 2>/dev/null)) "; done)
            echo "  fd ${fd##*/} $target: $holders" >&2
        done
        if command -v gdb >/dev/null; then
            gdb -p "$p" -batch -ex "thread apply all bt 16" 2>&1 | grep -E '^(Thread|#)' >&2
        fi
    done
}

idle=0 last="" reported=""
while kill -0 "$top" 2>/dev/null; do
    sleep "$poll"
    ticks=$(cpu_ticks "$top")
    if [[ $ticks == "$last" ]]; then idle=$((idle + poll)); else idle=0; fi
    last=$ticks
    if ((idle >= limit)) && [[ -z $reported ]]; then
        report
        reported=1
    fi
done
wait "$top"
