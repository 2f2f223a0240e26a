# Sourced (scripts/run-tests.sh, soak.sh, kprobe-churn.sh): the known QEMU TCG
# defects that can end a guest with nothing wrong in the guest, each told by
# a signature that the guest's own code cannot produce.
#
#   qemu_defect CONSOLE_LOG   prints one line naming the defect and where
#                             it struck, and returns 0; returns 1 if the
#                             console shows none of them.

# QEMU's AP start crash: a vCPU that accepted a STARTUP IPI while it already
# ran in long mode (CS = the SIPI vector << 8, RIP 0, an instruction fetch
# at 0 in start_secondary of a CPU coming online). Only the kernel's AP
# bring-up sends SIPIs (csdwatch sends fixed-vector IPIs and NMIs, and only
# to online CPUs). Seen under TCG (QEMU 10.0) in 2 of about 1000 CPU onlines
# of the suite, both in churn's offline/online loop, on the test kernel
# and on Debian's stock kernel.
qemu_ap_start_crash() {
	local rip
	# awk reads the file itself: no pipeline whose early-exiting reader
	# would fail it under pipefail (a big console, SIGPIPE upstream)
	rip=$(awk '{ sub(/\r$/, "") }
		/RIP: [0-9a-f][0-9a-f]00:0x0$/ { rip = $NF; left = 30; next }
		left > 0 && / start_secondary\+/ { print rip; exit }
		left > 0 { left-- }' "$1")
	[ -n "$rip" ] || return 1
	echo "QEMU's AP start crash (RIP $rip in start_secondary)"
}

# A stale translation: an x86 "Oops: int3" whose own Code: dump shows that
# memory does not hold an int3 (0xcc) at the trapping address (the byte
# before the <..> one, RIP - 1). The CPU ran an int3 that the text no
# longer had. The kernel restores a kprobe's byte, then serializes every
# CPU (an IPI each) and only then forgets the probe, so on an x86 CPU a
# trap after the restore cannot happen. Multi-threaded TCG (QEMU 10.0.2)
# breaks that rule: selftests/investigations/qemu-xmc.sh shows a vCPU running the old code
# after the writer's store and its own serializing instruction in about 3
# of 100 (rewrite, reader) pairs, and never with one TCG thread. It struck csdwatch's
# unload 4 times on 2026-12-04 (sched_tick+0x1 twice and
# __smp_call_single_queue+0x1 once in the suite,
# __flush_smp_call_function_queue+0x1 in the soak): the CPUs then trapped
# at the same restored function entry.
qemu_stale_int3() {
	local found
	found=$(awk '
		{ sub(/\r$/, "") }
		# the CPU tag of a line, "C2" or "T123"
		function tag(l) { return match(l, /\]\[ *[CT][0-9]+\]/) ? substr(l, RSTART + 2, RLENGTH - 3) : "" }
		/Oops: int3: / { cpu[tag($0)] = 1; next }
		/RIP: [0-9a-f]+:[^ ]/ { t = tag($0); if (t in cpu) { r = $NF; sub(/^[0-9a-f]+:/, "", r); rip[t] = r } }
		/ Code: / {
			t = tag($0)
			if (!(t in cpu)) next
			delete cpu[t]
			if (match($0, / [0-9a-f][0-9a-f] <[0-9a-f][0-9a-f]>/) && substr($0, RSTART + 1, 2) != "cc") {
				r = rip[t]
				gsub(/ /, "", t)
				print r " on " t ": memory holds " substr($0, RSTART + 1, 2) ", not cc"
				exit
			}
		}' "$1")
	[ -n "$found" ] || return 1
	echo "QEMU's stale translation: int3 at $found"
}

qemu_defect() {
	qemu_ap_start_crash "$1" || qemu_stale_int3 "$1"
}
