package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
)

// fakeAccounts records the batches an import hands over and creates every
// line (or fails a batch with err); it exports users.
type fakeAccounts struct {
	mu      sync.Mutex
	batches [][]account.ImportUser
	failAt  int   // the batch (1-based) that fails with err; 0: none
	err     error // what failAt's batch answers
	on      []account.OnConflict
	users   []usher.User
}

func (f *fakeAccounts) Import(_ context.Context, _ string, batch []account.ImportUser, on account.OnConflict) ([]account.ImportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, append([]account.ImportUser(nil), batch...))
	f.on = append(f.on, on)
	if len(f.batches) == f.failAt {
		return nil, f.err
	}
	out := make([]account.ImportResult, len(batch))
	for i, in := range batch {
		out[i] = account.ImportResult{Line: in.Line, Outcome: account.Created}
	}
	return out, nil
}

func (f *fakeAccounts) EachUser(_ context.Context, _ string, fn func(usher.User) error) error {
	for _, u := range f.users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// imported returns every line handed over, as "line email".
func (f *fakeAccounts) imported() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, b := range f.batches {
		for _, in := range b {
			out = append(out, fmt.Sprintf("%d %s", in.Line, in.Email))
		}
	}
	return out
}

// refusal is a refused line as a test compares it.
type refusal struct {
	Line int
	Code usher.Code
}

// importAll runs an import of input and returns what it reported.
func importAll(t *testing.T, f *fakeAccounts, input string) (account.ImportSummary, []account.ImportResult) {
	t.Helper()
	tr := &transfer.Transfer{Accounts: f}
	var reported []account.ImportResult
	sum, err := tr.Import(t.Context(), "tenant", strings.NewReader(input), account.ImportOptions{OnConflict: account.ConflictSkip}, func(r account.ImportResult) {
		reported = append(reported, r)
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return sum, reported
}

func refusals(rs []account.ImportResult) []refusal {
	out := []refusal{}
	for _, r := range rs {
		if r.Outcome != account.Refused {
			continue
		}
		out = append(out, refusal{Line: r.Line, Code: usher.ErrorCode(r.Err)})
	}
	return out
}

// user is an import line for email.
func user(email string) string {
	return `{"email":"` + email + `","password":"correct-Horse-7"}`
}

// padded is user(email) padded with spaces inside the object to exactly n
// bytes.
func padded(t *testing.T, email string, n int) string {
	t.Helper()
	head := `{"email":"` + email + `","password":"correct-Horse-7"`
	if n < len(head)+1 {
		t.Fatalf("padded: %d bytes is too short", n)
	}
	return head + strings.Repeat(" ", n-len(head)-1) + "}"
}

func TestImportLines(t *testing.T) {
	tests := []struct {
		name        string
		input       string
		wantLines   []string // "line email" of every line handed over
		wantRefused []refusal
	}{
		{name: "empty", input: ""},
		{name: "one line", input: user("a@x.test") + "\n", wantLines: []string{"1 a@x.test"}},
		{name: "a final line without a newline", input: user("a@x.test") + "\n" + user("b@x.test"), wantLines: []string{"1 a@x.test", "2 b@x.test"}},
		{name: "blank lines keep the numbering", input: "\n" + user("a@x.test") + "\n\n\n" + user("b@x.test") + "\n\n", wantLines: []string{"2 a@x.test", "5 b@x.test"}},
		{name: "CRLF endings", input: user("a@x.test") + "\r\n\r\n" + user("b@x.test") + "\r\n", wantLines: []string{"1 a@x.test", "3 b@x.test"}},
		{name: "a CRLF line last without a newline", input: "\r\n" + user("a@x.test") + "\r", wantLines: []string{"2 a@x.test"}},
		{name: "whitespace around the object", input: " \t" + user("a@x.test") + " \t\r\n", wantLines: []string{"1 a@x.test"}},
		{name: "a line of spaces is skipped", input: "   \n" + user("a@x.test") + "\n", wantLines: []string{"2 a@x.test"}},
		{
			name:      "two values on a line",
			input:     user("a@x.test") + user("b@x.test") + "\n" + user("c@x.test") + " " + user("d@x.test") + "\n" + user("e@x.test") + "\n",
			wantLines: []string{"3 e@x.test"}, wantRefused: []refusal{{1, usher.InvalidJSON}, {2, usher.InvalidJSON}},
		},
		{
			name:      "a stray closing bracket or brace after the value",
			input:     user("a@x.test") + "}\n" + user("b@x.test") + "]\n" + user("c@x.test") + " x\n" + user("d@x.test") + "\n",
			wantLines: []string{"4 d@x.test"}, wantRefused: []refusal{{1, usher.InvalidJSON}, {2, usher.InvalidJSON}, {3, usher.InvalidJSON}},
		},
		{
			name:      "bad JSON, then good",
			input:     `{"email":"a@x.test",` + "\n" + `{"email":}` + "\n" + "not json\n" + user("b@x.test") + "\n",
			wantLines: []string{"4 b@x.test"}, wantRefused: []refusal{{1, usher.InvalidJSON}, {2, usher.InvalidJSON}, {3, usher.InvalidJSON}},
		},
		{
			name:      "not an object",
			input:     "[1]\n\"a@x.test\"\n42\n" + user("b@x.test") + "\n",
			wantLines: []string{"4 b@x.test"}, wantRefused: []refusal{{1, usher.InvalidJSON}, {2, usher.InvalidJSON}, {3, usher.InvalidJSON}},
		},
		{
			name:      "an unknown field",
			input:     `{"email":"a@x.test","password":"correct-Horse-7","role":"admin"}` + "\n" + user("c@x.test") + "\n",
			wantLines: []string{"2 c@x.test"}, wantRefused: []refusal{{1, usher.InvalidJSON}},
		},
		{
			name:        "a field of the wrong type",
			input:       `{"email":"a@x.test","password":"correct-Horse-7","confirmed":"yes"}` + "\n" + `{"email":"b@x.test","password":"correct-Horse-7","created_at":"last year"}` + "\n",
			wantRefused: []refusal{{1, usher.InvalidJSON}, {2, usher.InvalidJSON}},
		},
		{name: "exactly MaxLine bytes", input: padded(t, "a@x.test", transfer.MaxLine) + "\n", wantLines: []string{"1 a@x.test"}},
		{name: "exactly MaxLine bytes and CRLF", input: padded(t, "a@x.test", transfer.MaxLine) + "\r\n", wantLines: []string{"1 a@x.test"}},
		{name: "exactly MaxLine bytes, last", input: padded(t, "a@x.test", transfer.MaxLine), wantLines: []string{"1 a@x.test"}},
		{
			name:      "one byte over MaxLine, then a good line",
			input:     padded(t, "a@x.test", transfer.MaxLine+1) + "\n" + user("b@x.test") + "\n",
			wantLines: []string{"2 b@x.test"}, wantRefused: []refusal{{1, usher.TooLarge}},
		},
		{
			name:        "one byte over MaxLine, last",
			input:       user("b@x.test") + "\n" + padded(t, "a@x.test", transfer.MaxLine+1),
			wantLines:   []string{"1 b@x.test"},
			wantRefused: []refusal{{2, usher.TooLarge}},
		},
		{
			name:      "far over MaxLine, then blank and good lines",
			input:     user("a@x.test") + "\n" + padded(t, "b@x.test", 5*transfer.MaxLine) + "\n\n" + user("c@x.test") + "\n",
			wantLines: []string{"1 a@x.test", "4 c@x.test"}, wantRefused: []refusal{{2, usher.TooLarge}},
		},
		{
			name:      "a long line of newlines only is many blank lines",
			input:     strings.Repeat("\n", 70000) + user("a@x.test") + "\n",
			wantLines: []string{"70001 a@x.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAccounts{}
			sum, reported := importAll(t, f, tt.input)
			if diff := cmp.Diff(tt.wantLines, f.imported(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("lines handed over (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRefused, refusals(reported), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("refused lines (-want +got):\n%s", diff)
			}
			if len(reported) != len(refusals(reported)) {
				t.Errorf("reported %d results, %d of them refusals: only refusals are reported", len(reported), len(refusals(reported)))
			}
			for _, r := range reported {
				if usher.ErrorMessage(r.Err) == "" || usher.ErrorMessage(r.Err) == "An internal error occurred." {
					t.Errorf("line %d: message %q, want a safe message of its own", r.Line, usher.ErrorMessage(r.Err))
				}
			}
			want := account.ImportSummary{Created: len(tt.wantLines), Refused: len(tt.wantRefused)}
			if sum != want {
				t.Errorf("summary: got %+v, want %+v", sum, want)
			}
		})
	}
}

// TestImportFields: a line's fields reach the use case as given, with the
// defaults of what it leaves out.
func TestImportFields(t *testing.T) {
	f := &fakeAccounts{}
	input := `{"id":"01ba1b28-0000-7000-8000-000000000001","email":"a@x.test","password_hash":"$2a$04$abc","confirmed":true,"enabled":false,"data":{"k":[1]},"created_at":"2029-01-02T03:04:05.678+01:00"}` + "\n" +
		`{"email":"b@x.test","password":"correct-Horse-7"}` + "\n"
	importAll(t, f, input)
	created := time.Date(2029, 1, 2, 2, 4, 5, 678e6, time.UTC)
	want := []account.ImportUser{
		{Line: 1, ID: "01ba1b28-0000-7000-8000-000000000001", Email: "a@x.test", Hash: "$2a$04$abc", Confirmed: true, Enabled: false, Data: []byte(`{"k":[1]}`), CreatedAt: created},
		{Line: 2, Email: "b@x.test", Password: "correct-Horse-7", Enabled: true},
	}
	if len(f.batches) != 1 {
		t.Fatalf("batches: got %d, want 1", len(f.batches))
	}
	if diff := cmp.Diff(want, f.batches[0], cmpopts.EquateEmpty(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if f.on[0] != account.ConflictSkip {
		t.Errorf("conflict policy: got %q, want skip", f.on[0])
	}
}

// TestImportErrorsHoldNoSecret: what an import says of a refused line
// never quotes its password or hash, however the line is broken.
func TestImportErrorsHoldNoSecret(t *testing.T) {
	const pw, hash = "Pa55-Secret-Word", "$2a$04$SecretHashSecretHashSecretHashSecretHashSecretHashSe"
	lines := []string{
		`{"email":"a@x.test","password":"` + pw,                                            // ends inside the password
		`{"email":"a@x.test","password":"` + pw + `"`,                                      // ends after it
		`{"email":"a@x.test","password":"` + pw + "\x01" + `"}`,                            // a control character in it
		`{"email":"a@x.test","password":"` + pw + `\q"}`,                                   // a bad escape in it
		`{"email":"a@x.test","password":"` + pw + `",}`,                                    // a trailing comma
		`{"email":"a@x.test","password":"` + pw + `" "x"}`,                                 // a missing colon
		`{"email":"a@x.test","password":["` + pw + `"]}`,                                   // the wrong type
		`{"email":"a@x.test","confirmed":"` + pw + `"}`,                                    // the password in a bool
		`{"email":"a@x.test","created_at":"` + pw + `"}`,                                   // the password as a time
		`{"email":"a@x.test","created_at":"` + hash + `"}`,                                 // the hash as a time
		`{"email":"a@x.test","pw":"` + pw + `"}`,                                           // under an unknown key
		`{"email":"a@x.test","password_hash":"` + hash + `","password_salt":"` + pw + `"}`, // a salt without Firebase keys
		`{"email":"a@x.test","password_hash":"` + hash + `"}{"password":"` + pw + `"}`,     // two values
		`{"email":"a@x.test","password_hash":"` + hash + `"}}`,                             // a stray brace
		`{"email":"a@x.test","data":{"x":"` + pw + `"},"password_hash":"` + hash + `",`,    // ends early
		`{"email":"a@x.test","password":"` + pw + `","data":` + strings.Repeat(`[`, 10000), // too deep to read
		`{"email":"a@x.test","password":"` + pw + `","x":"` + strings.Repeat("y", transfer.MaxLine) + `"}`,
	}
	f := &fakeAccounts{}
	sum, reported := importAll(t, f, strings.Join(lines, "\n")+"\n")
	if sum.Refused != len(lines) || len(reported) != len(lines) {
		t.Fatalf("refused %d, reported %d; want every one of the %d lines refused (handed over: %v)", sum.Refused, len(reported), len(lines), f.imported())
	}
	for i, r := range reported {
		if r.Line != i+1 {
			t.Errorf("report %d: line %d, want %d", i, r.Line, i+1)
		}
		for _, text := range []string{usher.ErrorMessage(r.Err), r.Err.Error(), fmt.Sprintf("%+v", r.Err)} {
			for _, s := range []string{pw, hash, "SecretHash", "Secret-Word"} {
				if strings.Contains(text, s) {
					t.Errorf("line %d: error %q repeats the line's secret", r.Line, text)
				}
			}
		}
	}
}

// TestImportBatches: lines go to the use case BatchSize at a time,
// refused lines counting toward the batch, and Progress follows.
func TestImportBatches(t *testing.T) {
	var b strings.Builder
	var ends []int64 // the byte offset after each line
	n := 2*transfer.BatchSize + 201
	bad := 0 // lines 51, 151, …, 1151
	for i := range n {
		if i%100 == 50 {
			bad++
			b.WriteString("{bad\n")
		} else {
			b.WriteString(user(fmt.Sprintf("u%04d@x.test", i)) + "\n")
		}
		ends = append(ends, int64(b.Len()))
	}
	input := b.String()

	type progress struct {
		lines int
		bytes int64
	}
	var got []progress
	f := &fakeAccounts{}
	tr := &transfer.Transfer{Accounts: f, Progress: func(lines int, bytes int64) { got = append(got, progress{lines, bytes}) }}
	var reported []int
	sum, err := tr.Import(t.Context(), "tenant", strings.NewReader(input), account.ImportOptions{OnConflict: account.ConflictUpdate}, func(r account.ImportResult) {
		reported = append(reported, r.Line)
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if want := (account.ImportSummary{Created: n - bad, Refused: bad}); sum != want {
		t.Errorf("summary: got %+v, want %+v", sum, want)
	}
	var sizes []int
	for _, batch := range f.batches {
		sizes = append(sizes, len(batch))
	}
	// Each batch of 500 lines holds 5 refused ones, which never reach
	// the use case.
	if diff := cmp.Diff([]int{495, 495, 199}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	for i, on := range f.on {
		if on != account.ConflictUpdate {
			t.Errorf("batch %d: conflict policy %q, want update", i+1, on)
		}
	}
	if len(reported) != bad || !isSorted(reported) {
		t.Errorf("reported lines %v: want the %d refused ones in order", reported, bad)
	}

	if len(got) != 3 {
		t.Fatalf("Progress calls: got %v, want one after each of 3 batches", got)
	}
	for i, wantLines := range []int{transfer.BatchSize, 2 * transfer.BatchSize, n} {
		if got[i].lines != wantLines {
			t.Errorf("Progress call %d: %d lines, want %d", i+1, got[i].lines, wantLines)
		}
		if got[i].bytes < ends[wantLines-1] || got[i].bytes > int64(len(input)) {
			t.Errorf("Progress call %d: %d bytes, want at least the %d its lines take and at most the input's %d", i+1, got[i].bytes, ends[wantLines-1], len(input))
		}
	}
	if last := got[len(got)-1].bytes; last != int64(len(input)) {
		t.Errorf("last Progress call: %d bytes, want the input's %d", last, len(input))
	}
}

func isSorted(xs []int) bool {
	for i := 1; i < len(xs); i++ {
		if xs[i] <= xs[i-1] {
			return false
		}
	}
	return true
}

// TestImportStops: an error of the use case or a cancelled context stops
// the import; the summary counts what was done before.
func TestImportStops(t *testing.T) {
	input := strings.Repeat(user("a@x.test")+"\n", transfer.BatchSize*3)
	errDown := usher.Errorf(usher.Unavailable, "The database is unavailable.")
	f := &fakeAccounts{failAt: 2, err: errDown}
	tr := &transfer.Transfer{Accounts: f}
	sum, err := tr.Import(t.Context(), "tenant", strings.NewReader(input), account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
	if !errors.Is(err, errDown) {
		t.Errorf("Import with the database down at batch 2: got %v, want %v", err, errDown)
	}
	if want := (account.ImportSummary{Created: transfer.BatchSize}); sum != want {
		t.Errorf("summary: got %+v, want %+v", sum, want)
	}
	if len(f.batches) != 2 {
		t.Errorf("batches: got %d, want 2", len(f.batches))
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	f = &fakeAccounts{}
	tr = &transfer.Transfer{Accounts: f}
	if _, err := tr.Import(ctx, "tenant", strings.NewReader(input), account.ImportOptions{OnConflict: account.ConflictSkip}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Import with a cancelled context: got %v, want context.Canceled", err)
	}
	if len(f.batches) != 0 {
		t.Errorf("batches with a cancelled context: got %d, want 0", len(f.batches))
	}
}

// watchedReader notes a Read that comes after the import returned.
type watchedReader struct {
	r        io.Reader
	returned atomic.Bool
	late     atomic.Int32
}

func (w *watchedReader) Read(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	return w.r.Read(p)
}

// TestImportReadsNothingAfterItReturns: the lines are read on a goroutine
// of their own while the batch before is written; when the import stops
// early, that goroutine has stopped reading the caller's stream (a request
// body, say) before Import returns.
func TestImportReadsNothingAfterItReturns(t *testing.T) {
	errDown := usher.Errorf(usher.Unavailable, "The database is unavailable.")
	for _, failAt := range []int{1, 2} {
		r := &watchedReader{r: strings.NewReader(strings.Repeat(user("a@x.test")+"\n", transfer.BatchSize*20))}
		f := &fakeAccounts{failAt: failAt, err: errDown}
		_, err := (&transfer.Transfer{Accounts: f}).Import(t.Context(), "tenant", r, account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
		r.returned.Store(true)
		if !errors.Is(err, errDown) {
			t.Fatalf("Import failing at batch %d: got %v, want %v", failAt, err, errDown)
		}
		time.Sleep(20 * time.Millisecond) // a stray reader would read on meanwhile
		if n := r.late.Load(); n != 0 {
			t.Errorf("failing at batch %d: the stream was read %d times after Import returned", failAt, n)
		}
	}
}

// failingReader fails after its data.
type failingReader struct{ data *strings.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	if r.data.Len() == 0 {
		return 0, errors.New("connection reset by peer")
	}
	return r.data.Read(p)
}

func TestImportUnreadable(t *testing.T) {
	f := &fakeAccounts{}
	tr := &transfer.Transfer{Accounts: f}
	_, err := tr.Import(t.Context(), "tenant", failingReader{strings.NewReader(user("a@x.test") + "\n")}, account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
	if usher.ErrorCode(err) != usher.Invalid {
		t.Errorf("Import of a stream that breaks: got %v, want invalid_request", err)
	}
}

func TestExport(t *testing.T) {
	created := time.Date(2029, 1, 2, 3, 4, 5, 678e6, time.FixedZone("CET", 3600))
	f := &fakeAccounts{users: []usher.User{
		{ID: "01ba1b28-0000-7000-8000-000000000001", Email: "A@x.test", Hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5", Confirmed: true, Enabled: true, Data: []byte(`{"s":"<&>"}`), CreatedAt: created},
		{ID: "01ba1b28-0000-7000-8000-000000000002", Email: "b@x.test", Hash: "$2a$04$abc", Enabled: false, Data: []byte(`{}`), CreatedAt: created},
	}}
	tr := &transfer.Transfer{Accounts: f}
	for _, withHashes := range []bool{false, true} {
		var out bytes.Buffer
		n, err := tr.Export(t.Context(), "tenant", &out, withHashes)
		if err != nil || n != 2 {
			t.Fatalf("Export: got %d, %v; want 2, nil", n, err)
		}
		hash := func(h string) string {
			if !withHashes {
				return ""
			}
			return `,"password_hash":"` + h + `"`
		}
		want := `{"id":"01ba1b28-0000-7000-8000-000000000001","email":"A@x.test"` + hash("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5") + `,"confirmed":true,"enabled":true,"data":{"s":"<&>"},"created_at":"2029-01-02T02:04:05.678Z"}` + "\n" +
			`{"id":"01ba1b28-0000-7000-8000-000000000002","email":"b@x.test"` + hash("$2a$04$abc") + `,"confirmed":false,"enabled":false,"data":{},"created_at":"2029-01-02T02:04:05.678Z"}` + "\n"
		if got := out.String(); got != want {
			t.Errorf("export, with hashes %t:\ngot  %s\nwant %s", withHashes, got, want)
		}
		// What is exported imports again, line for line.
		g := &fakeAccounts{}
		if sum, _ := importAll(t, g, out.String()); sum.Created != 2 {
			t.Errorf("import of the export: got %+v, want 2 created", sum)
		}
	}

	f.users = nil
	var out bytes.Buffer
	if n, err := tr.Export(t.Context(), "tenant", &out, true); n != 0 || err != nil || out.Len() != 0 {
		t.Errorf("export of no users: got %d, %v, %q; want nothing", n, err, out.String())
	}
}

// hookAccounts is fakeAccounts with a hook run inside each batch's Import.
type hookAccounts struct {
	fakeAccounts
	hook func(batch int) error
}

func (h *hookAccounts) Import(ctx context.Context, tenantID string, batch []account.ImportUser, on account.OnConflict) ([]account.ImportResult, error) {
	h.mu.Lock()
	n := len(h.batches) + 1
	h.mu.Unlock()
	if err := h.hook(n); err != nil {
		h.mu.Lock()
		h.batches = append(h.batches, batch)
		h.mu.Unlock()
		return nil, err
	}
	return h.fakeAccounts.Import(ctx, tenantID, batch, on)
}

// notifyingReader closes eof when its reader has ended.
type notifyingReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (n *notifyingReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if err != nil {
		n.once.Do(func() { close(n.eof) })
	}
	return k, err
}

// TestImportStopsWhenCancelledDuringABatch: a context cancelled while a
// batch is written stops the import there, as it did before the lines
// were read ahead: the next batch, already read, is not written, and the
// import answers the context's error.
func TestImportStopsWhenCancelledDuringABatch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &notifyingReader{r: strings.NewReader(strings.Repeat(user("a@x.test")+"\n", transfer.BatchSize+10)), eof: make(chan struct{})}
	f := &hookAccounts{hook: func(batch int) error {
		if batch == 1 {
			select { // let a reader that reads ahead read the rest
			case <-r.eof:
			case <-time.After(time.Second):
			}
			cancel() // the batch is written all the same
		}
		return nil
	}}
	sum, err := (&transfer.Transfer{Accounts: f}).Import(ctx, "tenant", r, account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Import cancelled during batch 1: got %v, want context.Canceled", err)
	}
	if len(f.batches) != 1 {
		t.Errorf("batches: got %d, want 1", len(f.batches))
	}
	if want := (account.ImportSummary{Created: transfer.BatchSize}); sum != want {
		t.Errorf("summary: got %+v, want %+v", sum, want)
	}
}

// TestImportBreakReportsNothingOfItsBatch: a stream that breaks stops the
// import with nothing of the unfinished batch written or reported, its
// refused lines included (the summary counts the batches written).
func TestImportBreakReportsNothingOfItsBatch(t *testing.T) {
	f := &fakeAccounts{}
	var reported []account.ImportResult
	sum, err := (&transfer.Transfer{Accounts: f}).Import(t.Context(), "tenant",
		failingReader{strings.NewReader("{bad\n" + user("a@x.test") + "\n")}, account.ImportOptions{OnConflict: account.ConflictSkip},
		func(r account.ImportResult) { reported = append(reported, r) })
	if usher.ErrorCode(err) != usher.Invalid {
		t.Errorf("Import of a stream that breaks: got %v, want invalid_request", err)
	}
	if len(reported) != 0 || sum != (account.ImportSummary{}) || len(f.batches) != 0 {
		t.Errorf("the broken batch: reported %v, summary %+v, %d batches written; want nothing", refusals(reported), sum, len(f.batches))
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	reported = nil
	sum, err = (&transfer.Transfer{Accounts: f}).Import(ctx, "tenant", strings.NewReader("{bad\n"+user("a@x.test")+"\n"+user("b@x.test")+"\n"),
		account.ImportOptions{OnConflict: account.ConflictSkip}, func(r account.ImportResult) { reported = append(reported, r) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Import with a cancelled context: got %v, want context.Canceled", err)
	}
	if len(reported) != 0 || sum != (account.ImportSummary{}) {
		t.Errorf("a cancelled import: reported %v, summary %+v; want nothing", refusals(reported), sum)
	}
}

// gatedReader serves one line a Read; at line gate it waits for release.
// Once failed is set, each Read is slow and counted in late.
type gatedReader struct {
	line    []byte
	served  int
	gate    int
	reached chan struct{}
	release chan struct{}
	failed  atomic.Bool
	late    atomic.Int32
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.served == transfer.BatchSize*4 {
		return 0, io.EOF
	}
	if g.served == g.gate {
		close(g.reached)
		<-g.release
	}
	if g.failed.Load() {
		g.late.Add(1)
		time.Sleep(time.Millisecond)
	}
	g.served++
	return copy(p, g.line), nil
}

// TestImportStopsReadingWhenAWriteFails: when a batch cannot be written,
// the import returns without reading the rest of the next batch from the
// caller's stream first (a slow client's body, or a terminal's stdin, kept
// the error waiting for up to 500 more lines).
func TestImportStopsReadingWhenAWriteFails(t *testing.T) {
	errDown := usher.Errorf(usher.Unavailable, "The database is unavailable.")
	g := &gatedReader{line: []byte(user("a@x.test") + "\n"), gate: transfer.BatchSize + 10,
		reached: make(chan struct{}), release: make(chan struct{})}
	f := &hookAccounts{hook: func(int) error {
		select { // a reader that reads ahead is in the next batch now
		case <-g.reached:
		case <-time.After(time.Second):
		}
		g.failed.Store(true)
		close(g.release)
		return errDown
	}}
	_, err := (&transfer.Transfer{Accounts: f}).Import(t.Context(), "tenant", g, account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
	if !errors.Is(err, errDown) {
		t.Fatalf("Import failing at batch 1: got %v, want %v", err, errDown)
	}
	if n := g.late.Load(); n > 50 {
		t.Errorf("the stream was read %d times after the write failed, want a line's reads at most", n)
	}
}

// panickyReader panics when read.
type panickyReader struct{}

func (panickyReader) Read([]byte) (int, error) { panic("panickyReader") }

// TestImportPanicReachesTheCaller: a panic while reading or parsing (on
// the reading goroutine) is the caller's to recover, as it was when the
// lines were read on the caller's goroutine (an HTTP server recovers a
// handler's panic; a goroutine's would end the process).
func TestImportPanicReachesTheCaller(t *testing.T) {
	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = (&transfer.Transfer{Accounts: &fakeAccounts{}}).Import(t.Context(), "tenant", panickyReader{},
			account.ImportOptions{OnConflict: account.ConflictSkip}, nil)
	}()
	if got == nil || !strings.Contains(fmt.Sprint(got), "panickyReader") {
		t.Errorf("Import reading a stream that panics: recovered %v, want the reader's panic", got)
	}
}
