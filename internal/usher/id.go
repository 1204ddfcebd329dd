package usher

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a UUIDv7 string (RFC 9562): 48 bits of Unix milliseconds, then
// random bits, so IDs sort by creation time and index well.
func NewID(now time.Time) string {
	var b [16]byte
	rand.Read(b[6:]) // never fails (crypto/rand panics rather than return short)
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return FormatID(b)
}

// FormatID returns the canonical lower-case text of a 16-byte UUID.
func FormatID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ValidID reports whether s is a UUID in canonical lower-case form, the only
// form Usher issues. Anything else can never name a user.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// ParseID returns the 16 bytes of an ID in the form ValidID accepts.
func ParseID(s string) (b [16]byte, ok bool) {
	if !ValidID(s) {
		return b, false
	}
	var h [32]byte
	copy(h[0:8], s[0:8])
	copy(h[8:12], s[9:13])
	copy(h[12:16], s[14:18])
	copy(h[16:20], s[19:23])
	copy(h[20:32], s[24:36])
	if _, err := hex.Decode(b[:], h[:]); err != nil {
		return b, false // unreachable: ValidID admits only hex digits
	}
	return b, true
}

// FirstIDAt returns the smallest UUIDv7 of the millisecond of t: every id
// made at t or later sorts at or after it, every id made earlier before it.
func FirstIDAt(t time.Time) string {
	var b [16]byte
	ms := uint64(max(0, t.UnixMilli())) // no id is older than 1970
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	b[6], b[8] = 0x70, 0x80
	return FormatID(b)
}
