// Package transfer streams users in and out of Usher as JSON lines: the
// import of users from another system (their password hashes kept) and the
// export of a tenant in the same format. Memory stays bounded whatever the
// length of the stream.
package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// Line is one user in the import and export format.
type Line struct {
	ID           string          `json:"id,omitempty"`
	Email        string          `json:"email"`
	Password     string          `json:"password,omitempty"`
	PasswordHash string          `json:"password_hash,omitempty"`
	PasswordSalt string          `json:"password_salt,omitempty"` // Firebase's per-user salt
	Confirmed    *bool           `json:"confirmed,omitempty"`
	Enabled      *bool           `json:"enabled,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	CreatedAt    *time.Time      `json:"created_at,omitempty"`
}

// MaxLine bounds one line: the largest custom data with room for the rest.
const MaxLine = account.MaxDataBytes + 64<<10

// BatchSize is how many lines go into one transaction, and batchBytes how
// many bytes of lines at most: a batch holds 500 small lines, or fewer
// large ones, so that an import's memory stays a few MiB whatever it reads.
const (
	BatchSize  = 500
	batchBytes = 4 << 20
)

// Accounts are the use cases transfer runs.
type Accounts interface {
	Import(ctx context.Context, tenantID string, batch []account.ImportUser, on account.OnConflict) ([]account.ImportResult, error)
	EachUser(ctx context.Context, tenantID string, fn func(usher.User) error) error
}

// Transfer imports and exports over the account use cases.
type Transfer struct {
	Accounts Accounts
	// Progress, when set, is called after each batch of an import with the
	// lines read so far and the bytes consumed.
	Progress func(lines int, bytes int64)
}

// Import reads JSON lines from r into a tenant. Every line is decided on
// its own; report gets each refused line with its number and reason. A
// line that cannot be read (bad JSON, too long) is refused and the rest go
// on. The returned error is one that stops the import (the database, a
// cancelled context); the summary counts what was done before it.
func (t *Transfer) Import(ctx context.Context, tenantID string, r io.Reader, opts account.ImportOptions, report func(account.ImportResult)) (account.ImportSummary, error) {
	var sum account.ImportSummary
	var fb *password.FirebaseParams
	if opts.Firebase != nil {
		p, err := password.NewFirebaseParams(opts.Firebase.SignerKey, opts.Firebase.SaltSeparator, opts.Firebase.Rounds, opts.Firebase.MemCost)
		if err != nil {
			return sum, usher.Errorf(usher.Invalid, "Firebase parameters: %s", err.Error())
		}
		fb = &p
	}
	// One goroutine reads and parses the lines while this one writes the
	// batch before: on two CPUs the reading no longer waits for the
	// database, nor the database for the reading.
	batches := make(chan readBatch, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	var panicked any // the reading goroutine's panic, the caller's to recover
	go func() {
		defer close(done)
		defer close(batches)
		defer func() { panicked = recover() }()
		readBatches(ctx, r, fb, batches, stop)
	}()
	defer func() {
		close(stop)
		<-done // r is the caller's: nothing reads it after Import returns
		if panicked != nil {
			panic(panicked)
		}
	}()
	for b := range batches {
		if len(b.batch) > 0 || b.final {
			results, err := t.Accounts.Import(ctx, tenantID, b.batch, opts.OnConflict)
			if err != nil {
				return sum, err
			}
			b.refused = append(b.refused, results...)
		}
		sortByLine(b.refused)
		for _, res := range b.refused {
			sum.Add(res)
			if res.Outcome == account.Refused && report != nil {
				report(res)
			}
		}
		if b.err != nil {
			return sum, b.err
		}
		if t.Progress != nil {
			t.Progress(b.lines, b.bytes)
		}
		// A context ended while the batch was written stops the import
		// before the next batch, read meanwhile, is written.
		if err := ctx.Err(); err != nil && !b.final {
			return sum, err
		}
	}
	return sum, nil
}

// readBatch is a batch of parsed lines, with the lines refused while
// reading them, and where the stream stood after them.
type readBatch struct {
	batch   []account.ImportUser
	refused []account.ImportResult
	lines   int   // lines read so far
	bytes   int64 // bytes of the stream consumed so far
	final   bool  // the stream ended after this batch
	err     error // what stops the import once this batch is written
}

// readBatches reads r's lines into batches and sends them on out until
// the stream ends, ctx ends, or stop is closed.
func readBatches(ctx context.Context, r io.Reader, fb *password.FirebaseParams, out chan<- readBatch, stop <-chan struct{}) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	var b readBatch
	held := 0 // bytes of the lines in b.batch
	send := func() bool {
		b.bytes = cr.n - int64(br.Buffered())
		select {
		case out <- b:
		case <-stop:
			return false
		}
		b = readBatch{lines: b.lines}
		held = 0
		return true
	}
	for {
		raw, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			b.err = usher.Wrap(usher.Invalid, "The import stream could not be read.", err)
			// A broken stream writes nothing of its last batch, and
			// reports nothing of it either.
			b.batch, b.refused = nil, nil
			send()
			return
		}
		switch blank := !tooLong && len(bytes.TrimSpace(raw)) == 0; {
		case !blank:
			b.lines++
			if in, lerr := parseLine(raw, tooLong, fb); lerr != nil {
				b.refused = append(b.refused, account.ImportResult{Line: b.lines, Outcome: account.Refused, Err: lerr})
			} else {
				in.Line = b.lines
				b.batch = append(b.batch, in)
				held += len(raw)
			}
		case len(raw) > 0 || err == nil:
			b.lines++ // a blank line is skipped, and keeps the numbering of the file
		}
		eof := errors.Is(err, io.EOF)
		if len(b.batch)+len(b.refused) >= BatchSize || held >= batchBytes || eof {
			b.final = eof
			if !send() || eof {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			b.err, b.batch, b.refused = err, nil, nil
			send()
			return
		}
		select { // the import has stopped: read no further line
		case <-stop:
			return
		default:
		}
	}
}

// readLine reads one line without its end. A line longer than MaxLine is
// read through and dropped: tooLong reports it.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxLine+2 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		// The bound above leaves room for the line's end; the line
		// itself may not use it.
		if line = bytes.TrimRight(line, "\r\n"); len(line) > MaxLine {
			return nil, true, err
		}
		return line, tooLong, err
	}
}

func parseLine(raw []byte, tooLong bool, fb *password.FirebaseParams) (account.ImportUser, error) {
	if tooLong {
		return account.ImportUser{}, usher.Errorf(usher.TooLarge, "The line is longer than %d bytes.", MaxLine)
	}
	// As a request body: valid UTF-8, no key twice (in any case), bounded
	// nesting. Its messages name keys, never values.
	if _, err := strictjson.Check(raw, account.MaxDataDepth+1); err != nil {
		return account.ImportUser{}, usher.Errorf(usher.InvalidJSON, "The line is not acceptable: %s",
			strings.Replace(err.Error(), "Request body", "The line", 1))
	}
	var l Line
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return account.ImportUser{}, usher.Errorf(usher.InvalidJSON, "The line is not a user object: %s", jsonProblem(err))
	}
	// Only JSON whitespace may follow the value (dec.More would let a
	// stray '}' or ']' through).
	if len(bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n")) > 0 {
		return account.ImportUser{}, usher.Errorf(usher.InvalidJSON, "The line holds more than one JSON value.")
	}
	in := account.ImportUser{ID: l.ID, Email: l.Email, Password: l.Password, Hash: l.PasswordHash, Enabled: true, Data: l.Data}
	if l.Confirmed != nil {
		in.Confirmed = *l.Confirmed
	}
	if l.Enabled != nil {
		in.Enabled = *l.Enabled
	}
	if l.CreatedAt != nil {
		in.CreatedAt = *l.CreatedAt
	}
	if l.PasswordSalt != "" {
		if fb == nil {
			return account.ImportUser{}, usher.Errorf(usher.Invalid, "password_salt is for Firebase hashes: give the Firebase project's hash parameters.")
		}
		h, err := fb.Encode(l.PasswordSalt, l.PasswordHash)
		if err != nil {
			return account.ImportUser{}, usher.Errorf(usher.Invalid, "password_hash: %s", err.Error())
		}
		in.Hash = h
	}
	return in, nil
}

// jsonProblem says what is wrong with a line without quoting it: a line
// holds a password or a hash.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te) && te.Field == "":
		return "a line must be a JSON object"
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, jsonKind(te.Type.Kind()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	msg := err.Error()
	if len(msg) > 80 || bytes.ContainsAny([]byte(msg), "\"") && !bytes.Contains([]byte(msg), []byte("unknown field")) {
		return "invalid JSON"
	}
	return msg
}

func sortByLine(rs []account.ImportResult) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Line < rs[j-1].Line; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Export writes every user of a tenant to w as JSON lines, in creation
// order, from one snapshot. Password hashes are written only withHashes.
// It returns how many users it wrote.
func (t *Transfer) Export(ctx context.Context, tenantID string, w io.Writer, withHashes bool) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := t.Accounts.EachUser(ctx, tenantID, func(u usher.User) error {
		l := exported{ID: u.ID, Email: u.Email, Confirmed: u.Confirmed, Enabled: u.Enabled, Data: u.Data,
			CreatedAt: u.CreatedAt.UTC().Format(timeFormat)}
		if withHashes {
			l.PasswordHash = u.Hash
		}
		n++
		return enc.Encode(l)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// exported is a Line as the export writes it: every field, and times with
// milliseconds always, as the APIs write them.
type exported struct {
	ID           string          `json:"id"`
	Email        string          `json:"email"`
	PasswordHash string          `json:"password_hash,omitempty"`
	Confirmed    bool            `json:"confirmed"`
	Enabled      bool            `json:"enabled"`
	Data         json.RawMessage `json:"data"`
	CreatedAt    string          `json:"created_at"`
}

// timeFormat is RFC 3339 in UTC with milliseconds, the APIs' format.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// jsonKind names what a field of a line must be, in JSON's words.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return "an RFC 3339 time"
	}
	return "of another type"
}
