package password

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// LowerPriority gives every thread of this process the lowest priority:
// nice 19 steps below the process's own (at most 19, the lowest there is;
// so 19 when Usher runs at the usual 0), or with idle also the SCHED_IDLE
// policy, which runs a thread only when no other thread wants the CPU. Linux keeps priorities per thread
// and a new thread inherits its creator's, so once every thread is lowered
// the threads the Go runtime starts later are too; the walk is repeated
// until it finds no thread it has not lowered, for those started during it.
// Lowering needs no privilege; raising again would.
func LowerPriority(idle bool) error {
	// getpriority's system call answers 20 - nice, so that it is never
	// negative; syscall.Getpriority returns it as is.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return err
	}
	nice := min(19, 20-p+19)
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		lowered := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := lowerThread(tid, nice, idle); err != nil && err != syscall.ESRCH {
				return err
			}
			done[tid], lowered = true, true
		}
		if !lowered {
			return nil
		}
	}
}

func lowerThread(tid, nice int, idle bool) error {
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
		return err
	}
	if !idle {
		return nil
	}
	const schedIdle = 5 // SCHED_IDLE, linux/sched.h
	var param struct{ priority int32 }
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param)))
	switch errno {
	case 0:
		return nil
	case syscall.EPERM, syscall.EINVAL, syscall.ENOSYS:
		// A sandbox that refuses the policy (some seccomp profiles,
		// gVisor): the thread keeps nice 19 alone, as hash-priority low.
		return nil
	}
	return errno
}
