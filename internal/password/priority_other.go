//go:build !linux

package password

import "errors"

// LowerPriority is only implemented on Linux, where priorities are per
// thread; elsewhere Usher hashes in its own process.
func LowerPriority(idle bool) error {
	return errors.New("lowering the hashing process's priority is only supported on Linux")
}
