package password

import (
	"os"
	"syscall"
)

// PollableStdio returns the hashing process's standard input and output
// as files Go's network poller waits on. Inherited pipes are blocking, and
// a goroutine blocked reading one holds its thread in the system call:
// when the next computation arrives, the worker it is handed to waits for
// the runtime to notice (up to its 10 ms monitor tick) and take the
// processor back from that thread, and its CPU sits idle meanwhile. On the
// 2-CPU machine this was 13 % of the CPU while the hashing process had a
// hash queued for every worker (BENCHMARKS.md, "The hashing process's
// idle CPU"). The descriptors are the process's own (the pipes' ends it
// was given), so changing their mode affects nobody else.
// Anything but a pipe or a socket (a terminal, when someone runs the
// command by hand) is left as it is.
func PollableStdio() (in, out *os.File, err error) {
	for _, fd := range []int{0, 1} {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return nil, nil, err
		}
		if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFIFO && kind != syscall.S_IFSOCK {
			return os.Stdin, os.Stdout, nil
		}
	}
	for _, fd := range []int{0, 1} {
		if err := syscall.SetNonblock(fd, true); err != nil {
			return nil, nil, err
		}
	}
	// NewFile registers a descriptor that is already non-blocking with the
	// poller (os.Stdin and os.Stdout were made before, as blocking files).
	return os.NewFile(0, "stdin"), os.NewFile(1, "stdout"), nil
}
