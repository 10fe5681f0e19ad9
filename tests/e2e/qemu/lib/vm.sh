# shellcheck shell=bash
# Boots the guest, serves host steps while it runs, and makes sure QEMU is gone afterwards.

QPID=
RSS_PID=
VM_OUTCOME=
BOOT_MS=
VM_MS=

# KVM when it works (E2E_ACCEL=auto): the CPU has hardware virtualisation (vmx or svm in
# /proc/cpuinfo), /dev/kvm is a character device this process can open, and QEMU starts an empty
# machine with it; else TCG. E2E_ACCEL=kvm or tcg forces one. The CPU flag matters: some virtual
# machines (Firecracker's, for one) offer a /dev/kvm that opens and starts an empty machine, but a
# guest's vCPUs never run on it, and the boot would only end at E2E_BOOT_TIMEOUT.
accelerator() {
    local accel=$E2E_ACCEL
    if [[ $accel == auto ]]; then
        accel=tcg
        if grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -c /dev/kvm ]] && (exec 3<> /dev/kvm) 2>/dev/null \
            && echo quit | timeout 30 qemu-system-x86_64 -accel kvm -machine none -nodefaults -display none \
                -monitor stdio -S > /dev/null 2>&1; then
            accel=kvm
        fi
    fi
    if [[ $accel == kvm ]]; then
        echo kvm
    else
        echo "tcg,thread=multi,tb-size=$E2E_TB_SIZE"
    fi
}

# The guest RAM the e820 shape needs: the pc machine keeps 3G below 4G once the RAM reaches 3.5G and
# puts the rest from 4G up, so the RAM must be the end of the last memmap= range minus 1G (and no
# range may start below 4G, where the PCI hole is).
e820_mem_bytes() {
    local range size start end=0 mem
    for range in "${E2E_E820_RANGES[@]}"; do
        size=$(to_bytes "${range%%!*}")
        start=$(to_bytes "${range#*!}")
        (( start >= 1 << 32 )) || { echo "memmap=$range starts below 4G, in or below the PCI hole" >&2; return 1; }
        (( start + size > end )) && end=$(( start + size ))
    done
    mem=$(( end - (1 << 30) ))
    (( mem > $(to_bytes "$E2E_MEM") )) || mem=$(to_bytes "$E2E_MEM")
    echo "$mem"
}

qemu_args() {
    local i mem_bytes maxmem_g label='' kernel_args range
    kernel_args="console=ttyS0 panic=-1 loglevel=4 mitigations=off tsc=reliable e2e.share=$E2E_SHARE e2e.main=$E2E_QEMU_DIR/guest/main.sh e2e.moddir=$KMODDIR e2e.kver=$KVER"
    if [[ $E2E_SHAPE == e820 ]]; then
        mem_bytes=$(e820_mem_bytes)
        QEMU_ARGS=(-machine pc -accel "$(accelerator)" -cpu max -smp "$E2E_SMP" -m "$(( mem_bytes >> 20 ))M")
        for range in "${E2E_E820_RANGES[@]}"; do
            kernel_args+=" memmap=$range"
        done
    elif [[ $E2E_SHAPE == cxl ]]; then
        cxl_qemu_args
    else
        mem_bytes=$(to_bytes "$E2E_MEM")
        maxmem_g=$(( (mem_bytes + E2E_NVDIMMS * NVDIMM_FILE_BYTES) / (1 << 30) + 2 ))
        # QEMU's own option syntax separates with commas.
        # shellcheck disable=SC2054
        QEMU_ARGS=(
            -machine pc,nvdimm=on
            -accel "$(accelerator)"
            -cpu max -smp "$E2E_SMP"
            -m "$E2E_MEM,slots=$(( E2E_NVDIMMS > 0 ? E2E_NVDIMMS : 1 )),maxmem=${maxmem_g}G"
        )
        # Without a label area QEMU's NVDIMMs are label-less: one namespace over each whole region.
        [[ $E2E_SHAPE == labelled ]] && label=",label-size=$E2E_LABEL_SIZE"
        for (( i = 0; i < E2E_NVDIMMS; i++ )); do
            # shellcheck disable=SC2054
            QEMU_ARGS+=(
                -object "memory-backend-file,id=mem$i,share=on,mem-path=$E2E_IMAGES/nvdimm$i.img,size=$NVDIMM_FILE_BYTES"
                -device "nvdimm,id=nvdimm$i,memdev=mem$i$label"
            )
        done
    fi
    # -virtfs and a bare -device put the share and the NIC on the machine's default bus; with the CXL
    # host bridge on q35 they must name the root complex (pcie.0) instead, so the cxl shape spells
    # out each share as -fsdev plus -device.
    local bus=''
    [[ $E2E_SHAPE == cxl ]] && bus=',bus=pcie.0'
    # shellcheck disable=SC2054
    QEMU_ARGS+=(
        -kernel "$KERNEL" -initrd "$INITRD"
        -append "$kernel_args"
        -fsdev "local,id=fs0,path=/,security_model=none,readonly=on,multidevs=remap"
        -device "virtio-9p-pci,fsdev=fs0,mount_tag=hostroot$bus"
        -fsdev "local,id=fs1,path=$E2E_SHARE,security_model=none,multidevs=remap"
        -device "virtio-9p-pci,fsdev=fs1,mount_tag=e2eshare$bus"
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$E2E_PORT-:$E2E_GUEST_PORT"
        -device "virtio-net-pci,netdev=n0$bus"
        -display none -monitor none -serial "file:$E2E_OUT/console.log" -no-reboot
    )
}

# The cxl shape (QEMU 7.2): q35 with CXL, a CXL host bridge (pxb-cxl) with TWO root ports and one
# type-3 device on the first, whose memory and label storage area are files; a fixed memory window of
# 4G routes to the host bridge. With a single root port the kernel programs no decoder that reaches
# the device and writes never land in its memory. QEMU 7.2's cxl-type3 has memdev= (always
# persistent) and no persistent-memdev=. The kernel sees no PMEM until setup assembles a region
# (cxl create-region).
cxl_qemu_args() {
    local mem_bytes
    mem_bytes=$(to_bytes "$E2E_MEM")
    # shellcheck disable=SC2054
    QEMU_ARGS=(
        -machine q35,cxl=on
        -accel "$(accelerator)"
        -cpu max -smp "$E2E_SMP"
        -m "$E2E_MEM,slots=1,maxmem=$(( (mem_bytes >> 30) + 2 ))G"
        -object "memory-backend-file,id=cxlmem0,share=on,mem-path=$E2E_IMAGES/cxl0.img,size=$E2E_CXL_SIZE"
        -object "memory-backend-file,id=cxllsa0,share=on,mem-path=$E2E_IMAGES/cxl0-lsa.img,size=$E2E_CXL_LSA_SIZE"
        -device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1
        -device cxl-rp,port=0,bus=cxl.1,id=cxlrp0,chassis=0,slot=2
        -device cxl-rp,port=1,bus=cxl.1,id=cxlrp1,chassis=0,slot=3
        -device cxl-type3,bus=cxlrp0,memdev=cxlmem0,lsa=cxllsa0,id=cxlpmem0
        -M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G
    )
}

vm_start() {
    if (exec 3<> "/dev/tcp/127.0.0.1/$E2E_PORT") 2>/dev/null; then
        echo "127.0.0.1:$E2E_PORT is already in use; choose another E2E_PORT" >&2
        return 1
    fi
    qemu_args
    log "accelerator: ${QEMU_ARGS[3]%%,*}"
    printf '%q ' qemu-system-x86_64 "${QEMU_ARGS[@]}" > "$E2E_OUT/qemu.cmdline"
    VM_T0=$(now_ms)
    qemu-system-x86_64 "${QEMU_ARGS[@]}" < /dev/null > "$E2E_OUT/qemu.stderr" 2>&1 &
    QPID=$!
    echo "$QPID" > "$E2E_OUT/qemu.pid"
    log "QEMU started (pid $QPID; console: $E2E_OUT/console.log)"
    # Peak resident set of QEMU, sampled until it exits.
    (
        while kill -0 "$QPID" 2>/dev/null; do
            awk '/^VmHWM/ {print $2}' "/proc/$QPID/status" > "$E2E_OUT/qemu-rss-kb.tmp" 2>/dev/null \
                && [[ -s $E2E_OUT/qemu-rss-kb.tmp ]] && mv "$E2E_OUT/qemu-rss-kb.tmp" "$E2E_OUT/qemu-rss-kb"
            sleep 1
        done
        rm -f "$E2E_OUT/qemu-rss-kb.tmp"
    ) &
    RSS_PID=$!
}

# Idempotent; used by the EXIT trap as well.
vm_stop() {
    local i
    if [[ -n $QPID ]] && kill -0 "$QPID" 2>/dev/null; then
        log "stopping QEMU (pid $QPID)"
        kill -TERM "$QPID" 2>/dev/null || true
        for (( i = 0; i < 20; i++ )); do
            kill -0 "$QPID" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$QPID" 2>/dev/null || true
    fi
    if [[ -n $RSS_PID ]]; then
        kill "$RSS_PID" 2>/dev/null || true
        wait "$RSS_PID" 2>/dev/null || true
        RSS_PID=
    fi
}

serve_host_step() {
    local request=$1 name rc=0
    name=$(basename "$request" .request)
    mv "$request" "$E2E_SHARE/sync/$name.running"
    log "host step $name (log: $E2E_HOST_LOGS/$name.log)"
    timeout --kill-after=10 "$E2E_HOST_STEP_TIMEOUT" bash "$E2E_QEMU_DIR/host-steps.sh" "$name" \
        < /dev/null > "$E2E_HOST_LOGS/$name.log" 2>&1 || rc=$?
    echo "$rc" > "$E2E_SHARE/sync/$name.rc.tmp"
    mv "$E2E_SHARE/sync/$name.rc.tmp" "$E2E_SHARE/sync/$name.rc"
}

print_new_progress() {
    local total
    [[ -f $E2E_SHARE/progress.log ]] || return 0
    total=$(wc -l < "$E2E_SHARE/progress.log")
    if (( total > PROGRESS_SHOWN )); then
        tail -n "+$(( PROGRESS_SHOWN + 1 ))" "$E2E_SHARE/progress.log" | head -n "$(( total - PROGRESS_SHOWN ))" \
            | sed 's/^/  guest: /'
        PROGRESS_SHOWN=$total
        PROGRESS_AT=$(now_ms)
    fi
}

# A guest step runs for minutes without a progress line; say every E2E_HEARTBEAT seconds that it
# is still running, with how far its log has grown.
print_heartbeat() {
    local step lines=0
    (( E2E_HEARTBEAT > 0 )) || return 0
    (( $(now_ms) - PROGRESS_AT >= E2E_HEARTBEAT * 1000 )) || return 0
    step=$(last_started_step)
    [[ -f $E2E_SHARE/logs/$step.log ]] && lines=$(wc -l < "$E2E_SHARE/logs/$step.log")
    log "guest step $step still running ($(( ($(now_ms) - VM_T0) / 1000 )) s into the run, $lines lines of log)"
    PROGRESS_AT=$(now_ms)
}

vm_supervise() {
    local elapsed request qemu_rc=0
    PROGRESS_SHOWN=0
    PROGRESS_AT=$(now_ms)
    VM_OUTCOME=running
    while kill -0 "$QPID" 2>/dev/null; do
        elapsed=$(( $(now_ms) - VM_T0 ))
        if [[ -z $BOOT_MS && -f $E2E_SHARE/guest-started ]]; then
            BOOT_MS=$elapsed
            log "guest main script running after ${BOOT_MS} ms"
        fi
        if [[ -z $BOOT_MS ]] && (( elapsed > E2E_BOOT_TIMEOUT * 1000 )); then
            VM_OUTCOME=boot-timeout
            log "the guest did not start its main script within ${E2E_BOOT_TIMEOUT}s"
            vm_stop
            break
        fi
        if (( elapsed > E2E_TIMEOUT * 1000 )); then
            VM_OUTCOME=timeout
            log "the guest run exceeded E2E_TIMEOUT=${E2E_TIMEOUT}s"
            vm_stop
            break
        fi
        print_new_progress
        [[ -n $BOOT_MS ]] && print_heartbeat
        for request in "$E2E_SHARE"/sync/*.request; do
            [[ -e $request ]] && serve_host_step "$request"
        done
        sleep 0.5
    done
    wait "$QPID" 2>/dev/null || qemu_rc=$?
    VM_MS=$(( $(now_ms) - VM_T0 ))
    print_new_progress
    vm_stop
    if [[ -f $E2E_SHARE/guest-done ]]; then
        VM_OUTCOME="done"
    elif [[ $VM_OUTCOME == running ]]; then
        VM_OUTCOME=died
    fi
    log "QEMU exited (status $qemu_rc) after ${VM_MS} ms: $VM_OUTCOME"
}
