//go:build !linux

package password

import (
	"errors"
	"os"
)

// LowerPriority is only implemented on Linux, where priorities are per
// thread; elsewhere Usher hashes in its own process.
func LowerPriority(idle bool) error {
	return errors.New("lowering the hashing process's priority is only supported on Linux")
}

// PollableStdio returns the standard input and output as they are; the
// hashing process only runs on Linux.
func PollableStdio() (in, out *os.File, err error) { return os.Stdin, os.Stdout, nil }
