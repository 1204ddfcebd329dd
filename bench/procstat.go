package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// which Linux fixes at 100 for user space).
const clockTick = 10 * time.Millisecond

// cpuTime returns the user+system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(3) ... utime(14) stime(15), so indexes 11 and 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// statusKB returns a "kB" field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func statusKB(pid int, field string) (uint64, error) {
	v, err := statusKBs(pid, field)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// statusKBs returns "kB" fields of /proc/PID/status in bytes, all from one
// reading of the file, so that they describe the same moment.
func statusKBs(pid int, fields ...string) ([]uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	want := map[string]int{} // field → its place in out
	for i, f := range fields {
		want[f] = i
	}
	out := make([]uint64, len(fields))
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		i, wanted := want[name]
		if !ok || !wanted {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		out[i] = kb * 1024
		delete(want, name)
	}
	for name := range want {
		return nil, fmt.Errorf("/proc/%d/status has no %s", pid, name)
	}
	return out, nil
}

// resetPeakRSS resets the process's peak RSS (VmHWM) to its current RSS by
// writing 5 to /proc/PID/clear_refs (Linux 4.0 and later).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procWindow measures a process and its children over a phase: their CPU
// time and peak RSS. Usher hashes passwords in a child process of its own
// (hash-priority), so its CPU and memory are both processes'. The peak is
// the process's peak plus each child's peak less its file-backed pages at
// the end (the child is the same binary: those pages are the parent's
// too), an upper bound, since the peaks need not fall at the same moment.
// When a peak cannot be reset it falls back to the larger of VmRSS at the
// start and at the end, and says so.
type procWindow struct {
	pids     []int
	cpu0     time.Duration
	resetOK  bool
	rssStart uint64
}

// processTree is pid and its children (/proc/PID/task/TID/children).
func processTree(pid int) []int {
	pids := []int{pid}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// treeCPU is the CPU time of pids together.
func treeCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, p := range pids {
		c, _ := cpuTime(p)
		sum += c
	}
	return sum
}

// treeKB sums a "kB" field of /proc/PID/status over pids, less the
// children's file-backed pages (see procWindow).
func treeKB(pids []int, field string) (uint64, error) {
	var sum uint64
	for i, p := range pids {
		v, err := statusKBs(p, field, "RssFile")
		if err != nil && i > 0 {
			continue // a child that has exited: its figures went with it
		}
		if err != nil {
			return 0, err
		}
		sum += v[0]
		if i > 0 {
			sum -= min(v[0], v[1])
		}
	}
	return sum, nil
}

func beginWindow(pid int) *procWindow {
	w := &procWindow{pids: processTree(pid)}
	w.cpu0 = treeCPU(w.pids)
	w.resetOK = true
	for _, p := range w.pids {
		w.resetOK = resetPeakRSS(p) == nil && w.resetOK
	}
	w.rssStart, _ = treeKB(w.pids, "VmRSS")
	return w
}

// end returns the CPU time used since begin and the peak RSS (bytes). A
// child started during the window (Usher starts its hashing process again
// after an idle one exited) counts with all its CPU and its whole peak.
func (w *procWindow) end() (cpu time.Duration, peak uint64, exact bool) {
	for _, p := range processTree(w.pids[0]) {
		if !slices.Contains(w.pids, p) {
			w.pids = append(w.pids, p)
		}
	}
	cpu = treeCPU(w.pids) - w.cpu0
	if w.resetOK {
		if hwm, err := treeKB(w.pids, "VmHWM"); err == nil {
			return cpu, hwm, true
		}
	}
	rss, _ := treeKB(w.pids, "VmRSS")
	return cpu, max(rss, w.rssStart), false
}

// loadAvg is the machine's 1-minute load average (0 when unreadable).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
