package api

import (
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"
)

// The access log's line, written straight into the log buffer. Through
// slog a line cost about 2.4 µs of CPU (a record of eight attributes,
// their walk, the JSON handler's general escaping); written here it is the
// same JSON, the same keys in the same order as slog's JSON handler writes
// them, for a fraction of that (BENCHMARKS.md). Only a logger made by
// NewLogger, with no attributes or groups added, takes this path: any
// other keeps the slog one.

// accessWriter returns the buffer the access log may write to directly, or
// nil when lines must go through log's handler.
func accessWriter(log *slog.Logger) *LogWriter {
	if h, ok := log.Handler().(LogHandler); ok && h.out != nil && !h.derived {
		return h.out
	}
	return nil
}

// accessEntry is what one access-log line says.
type accessEntry struct {
	surface, method, path, remote, requestID string
	status                                   int
	elapsed                                  time.Duration
}

// writeAccess appends e's line to the buffer.
func (l *LogWriter) writeAccess(e *accessEntry) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		l.timer.Reset(logFlushEvery)
	}
	b := l.buf
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"`+accessLogMsg+`","event":"http_request","surface":`...)
	b = appendJSONString(b, e.surface)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.elapsed.Microseconds())/1000, 'g', -1, 64)
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, e.remote)
	if e.requestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, e.requestID)
	}
	b = append(b, "}\n"...)
	l.buf = b
	if len(l.buf) >= logBufferSize {
		l.flushLocked()
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as slog's JSON
// handler escapes it: quotes, backslashes and control characters; invalid
// UTF-8 as U+FFFD; U+2028 and U+2029 (JavaScript's line separators)
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
