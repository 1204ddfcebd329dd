package backend

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
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
// the next stretch of its body before the connection is given up.
const batchDeadline = time.Minute

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
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-ndjson" && mt != "application/jsonl" {
		return usher.Errorf(usher.MediaType, "Content-Type must be application/x-ndjson: one user a line.")
	}
	q := r.URL.Query()
	if err := onlyParams(q, "on_conflict"); err != nil {
		return err
	}
	opts := account.ImportOptions{OnConflict: account.ConflictSkip, Firebase: firebaseOf(r.Header)}
	if q.Has("on_conflict") {
		opts.OnConflict = account.OnConflict(q.Get("on_conflict"))
	}
	var body struct {
		account.ImportSummary
		Errors    []lineError `json:"errors"`
		Truncated bool        `json:"errors_truncated,omitempty"`
	}
	body.Errors = []lineError{}
	extend(w)
	sum, err := h.transfer.Import(r.Context(), tid, r.Body, opts, func(res account.ImportResult) {
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
	_, err = h.transfer.Export(r.Context(), tid, out, withHashes != nil && *withHashes)
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
