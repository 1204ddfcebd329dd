package password

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// LowerPriority gives every thread of this process the lowest priority:
// nice 19, or with idle the SCHED_IDLE policy, which runs a thread only
// when no other thread wants the CPU. Linux keeps priorities per thread
// and a new thread inherits its creator's, so once every thread is lowered
// the threads the Go runtime starts later are too; the walk is repeated
// until it finds no thread it has not lowered, for those started during it.
// Lowering needs no privilege; raising again would.
func LowerPriority(idle bool) error {
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
			if err := lowerThread(tid, idle); err != nil && err != syscall.ESRCH {
				return err
			}
			done[tid], lowered = true, true
		}
		if !lowered {
			return nil
		}
	}
}

func lowerThread(tid int, idle bool) error {
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19); err != nil {
		return err
	}
	if !idle {
		return nil
	}
	const schedIdle = 5 // SCHED_IDLE, linux/sched.h
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
		return errno
	}
	return nil
}
