package backend

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Transfer streams users in and out as JSON lines.
type Transfer interface {
	// Import reads users from r into a tenant; report gets each line that
	// was not created, updated or skipped.
	Import(ctx context.Context, tenantID string, r io.Reader, opts account.ImportOptions, report func(account.ImportResult)) (account.ImportSummary, error)
	// Export writes every user of a tenant to w, from one snapshot.
	Export(ctx context.Context, tenantID string, w io.Writer, withHashes bool) (int, error)
}

// maxReported bounds the refused lines an import answer lists; the counts
// cover them all.
const maxReported = 1000

// batchDeadline is how long a streamed import or export may take to move
// the next stretch of its body (a MiB, or a batch of lines) before the
// connection is given up; exportDeadline bounds a whole export, whose
// snapshot holds back the database's cleanup while it is read.
const (
	batchDeadline  = time.Minute
	exportDeadline = 30 * time.Minute
)

// maxImports bounds the imports one node runs at once (each holds a few
// MiB of lines); one more is answered 503.
const maxImports = 2

// extendingReader pushes the connection's deadlines back as an import's
// body is read.
type extendingReader struct {
	r io.Reader
	w http.ResponseWriter
	n int
}

func (e *extendingReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if e.n += n; e.n >= 1<<20 {
		e.n = 0
		extend(e.w)
	}
	return n, err
}

// extend pushes the connection's deadlines back for a long stream.
func extend(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	d := time.Now().Add(batchDeadline)
	_ = rc.SetReadDeadline(d) // not every writer has deadlines (tests)
	_ = rc.SetWriteDeadline(d)
}

type lineError struct {
	Line    int        `json:"line"`
	Code    usher.Code `json:"code"`
	Message string     `json:"message"`
}

// importUsers is POST /users/import: a JSON-lines body of any length, read
// a batch at a time.
func (h *Handler) importUsers(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if cs, ok := mp["charset"]; err != nil || mt != "application/x-ndjson" && mt != "application/jsonl" || ok && !strings.EqualFold(cs, "utf-8") {
		return usher.Errorf(usher.MediaType, "Content-Type must be application/x-ndjson (UTF-8): one user a line.")
	}
	q := r.URL.Query()
	if err := onlyParams(q, "on_conflict"); err != nil {
		return err
	}
	opts := account.ImportOptions{OnConflict: account.ConflictSkip, Firebase: firebaseOf(r.Header)}
	if q.Has("on_conflict") {
		opts.OnConflict = account.OnConflict(q.Get("on_conflict"))
		switch opts.OnConflict {
		case account.ConflictSkip, account.ConflictUpdate, account.ConflictFail:
		default:
			return usher.Errorf(usher.Invalid, "on_conflict must be skip, update or fail.")
		}
	}
	select {
	case h.imports <- struct{}{}:
		defer func() { <-h.imports }()
	default:
		e := usher.Errorf(usher.Overloaded, "Other imports are running on this node; try again shortly.")
		e.RetryAfter = 5 * time.Second
		return e
	}
	var body struct {
		account.ImportSummary
		Errors    []lineError `json:"errors"`
		Truncated bool        `json:"errors_truncated,omitempty"`
	}
	body.Errors = []lineError{}
	extend(w)
	sum, err := h.transfer.Import(r.Context(), tid, &extendingReader{r: r.Body, w: w}, opts, func(res account.ImportResult) {
		extend(w)
		if len(body.Errors) == maxReported {
			body.Truncated = true
			return
		}
		body.Errors = append(body.Errors, lineError{Line: res.Line, Code: usher.ErrorCode(res.Err), Message: usher.ErrorMessage(res.Err)})
	})
	if err != nil {
		return err
	}
	body.ImportSummary = sum
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

// firebaseOf reads the Firebase project's hash parameters from headers.
func firebaseOf(h http.Header) *account.FirebaseKeys {
	if h.Get("Usher-Firebase-Signer-Key") == "" {
		return nil
	}
	rounds, _ := strconv.Atoi(h.Get("Usher-Firebase-Rounds"))
	mem, _ := strconv.Atoi(h.Get("Usher-Firebase-Mem-Cost"))
	return &account.FirebaseKeys{
		SignerKey: h.Get("Usher-Firebase-Signer-Key"), SaltSeparator: h.Get("Usher-Firebase-Salt-Separator"),
		Rounds: rounds, MemCost: mem,
	}
}

// exportUsers is GET /users/export: every user of the tenant as JSON
// lines, in the import's format; password hashes only with
// ?with_hashes=true.
func (h *Handler) exportUsers(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "with_hashes"); err != nil {
		return err
	}
	p := params{q: q}
	withHashes := p.bool("with_hashes")
	if p.err != nil {
		return p.err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	extend(w)
	out := &extending{w: w}
	ctx, cancel := context.WithTimeout(r.Context(), exportDeadline)
	defer cancel()
	_, err = h.transfer.Export(ctx, tid, out, withHashes != nil && *withHashes)
	if err != nil && out.wrote {
		// The status line has gone: the stream ends abruptly (no final
		// chunk), which a client sees as a failed download, never as a
		// complete export.
		panic(http.ErrAbortHandler)
	}
	return err
}

// extending pushes the deadlines back as the export is written.
type extending struct {
	w     http.ResponseWriter
	n     int
	wrote bool
}

func (e *extending) Write(p []byte) (int, error) {
	e.wrote = true
	if e.n += len(p); e.n >= 1<<20 {
		e.n = 0
		extend(e.w)
	}
	return e.w.Write(p)
}
