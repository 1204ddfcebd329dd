package api

import (
	"io"
	"log/slog"
	"sync"
	"time"
)

// Log lines go through a buffer: with the access log on, a request's line
// written straight to stderr cost a system call of its own (and, on a pipe,
// a wake-up of the reader), more than the rest of the line. Access-log lines
// wait in the buffer for at most logFlushEvery or until it holds
// logBufferSize; any other line (start-up, warnings, errors) is written at
// once, with the access lines before it, so nothing an operator waits for
// is held back and the order of lines is kept. Close (Usher's exit)
// writes what is left.
const (
	logBufferSize = 64 << 10
	logFlushEvery = 100 * time.Millisecond
)

// LogWriter is the buffer between the log handler and its output.
type LogWriter struct {
	mu    sync.Mutex
	out   io.Writer
	buf   []byte
	timer *time.Timer // armed while the buffer holds lines
	err   error       // the first write error, returned by Flush
}

// NewLogWriter returns a LogWriter writing to out.
func NewLogWriter(out io.Writer) *LogWriter {
	l := &LogWriter{out: out, buf: make([]byte, 0, logBufferSize)}
	l.timer = time.AfterFunc(time.Hour, func() { _ = l.Flush() })
	l.timer.Stop()
	return l
}

// Write buffers p (one log line: slog's handlers write a line per call).
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf)+len(p) > logBufferSize {
		l.flushLocked()
	}
	if len(l.buf) == 0 {
		l.timer.Reset(logFlushEvery)
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Flush writes what the buffer holds.
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.err
}

func (l *LogWriter) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	if _, err := l.out.Write(l.buf); err != nil && l.err == nil {
		l.err = err
	}
	l.buf = l.buf[:0]
	l.timer.Stop()
}

// NewLogger returns Usher's logger: JSON lines at level and above, each
// with the request id of its context, through w's buffer.
func NewLogger(w *LogWriter, level slog.Level) *slog.Logger {
	return slog.New(LogHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), out: w})
}
