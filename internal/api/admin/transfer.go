package admin

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Import (a JSON-lines upload, read as it arrives) and export (a download).

// maxShown bounds the refused lines an import lists; the counts cover all.
const maxShown = 1000

// maxCSRFPart bounds each form field before the file, and maxParts
// their number.
const (
	maxCSRFPart = 1 << 10
	maxParts    = 8
)

type importView struct {
	Done    bool
	Summary account.ImportSummary
	Refused []refusedLine
	More    int // refused lines not listed
	Error   string
}

type refusedLine struct {
	Line    int    `json:"line"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (c *Console) importPage(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "import", view{Title: "Import and export", Nav: "import", Tenant: t, PerTenant: true, Data: importView{}})
}

// importUsers reads a multipart form whose parts come in the page's order:
// csrf, on_conflict, then the file, which is imported as it streams in.
func (c *Console) importUsers(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return usher.Errorf(usher.MediaType, "Upload the file with the import form (multipart/form-data).")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return usher.Errorf(usher.Invalid, "The upload is malformed.")
	}
	fields := map[string]string{}
	var file io.Reader
	for parts := 0; file == nil; parts++ {
		part, err := mr.NextPart()
		if parts == maxParts {
			return usher.Errorf(usher.Invalid, "The upload has too many fields.")
		}
		if err != nil {
			return usher.Errorf(usher.Invalid, "The upload has no file.")
		}
		if part.FormName() == "file" {
			file = part
			break
		}
		b, err := io.ReadAll(io.LimitReader(part, maxCSRFPart))
		if err != nil {
			return usher.Errorf(usher.Invalid, "The upload is malformed.")
		}
		fields[part.FormName()] = string(b)
	}
	who := whoOf(r)
	if !equal(fields["csrf"], who.Session.CSRF) {
		c.c.Log.WarnContext(r.Context(), "console request refused", "event", "admin_csrf_refused", "reason", "token",
			"admin_id", who.Admin.ID, "path", r.URL.Path)
		return errCSRF
	}
	var on account.OnConflict
	switch fields["on_conflict"] {
	case "", "skip":
		on = account.ConflictSkip
	case "update":
		on = account.ConflictUpdate
	case "fail":
		on = account.ConflictFail
	default:
		return usher.Errorf(usher.Invalid, "on_conflict is skip, update or fail.")
	}
	select {
	case c.imports <- struct{}{}:
		defer func() { <-c.imports }()
	default:
		return usher.Errorf(usher.Overloaded, "Another import is running on this node; try again when it is done.")
	}
	// An import may take longer than a request's usual deadline.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	v := importView{Done: true}
	sum, err := c.c.Transfer.Import(r.Context(), t.ID, file, account.ImportOptions{OnConflict: on}, func(res account.ImportResult) {
		if len(v.Refused) >= maxShown {
			v.More++
			return
		}
		v.Refused = append(v.Refused, refusedLine{Line: res.Line, Code: string(usher.ErrorCode(res.Err)), Message: usher.ErrorMessage(res.Err)})
	})
	v.Summary = sum
	c.logAction(r, "users_import", t.ID, err)
	if err != nil {
		if api.Status(usher.ErrorCode(err)) >= 500 {
			return err
		}
		v.Error = usher.ErrorMessage(err)
	}
	c.c.Log.InfoContext(r.Context(), "console import", "event", "admin_import", "admin_id", who.Admin.ID, "tenant_id", t.ID,
		"created", sum.Created, "updated", sum.Updated, "skipped", sum.Skipped, "refused", sum.Refused)
	status := http.StatusOK
	if v.Error != "" {
		status = http.StatusBadRequest
	}
	if r.Header.Get("Accept") == "application/json" {
		api.WriteJSON(w, status, struct {
			Summary account.ImportSummary `json:"summary"`
			Refused []refusedLine         `json:"refused"`
			More    int                   `json:"more"`
			Error   string                `json:"error,omitempty"`
		}{sum, v.Refused, v.More, v.Error})
		return nil
	}
	return c.render(w, r, status, "import", view{Title: "Import and export", Nav: "import", Tenant: t, PerTenant: true, Data: v})
}

// exportUsers downloads a tenant's users as JSON lines (no password hashes:
// the CLI's --with-hashes is for moving servers, not for a browser).
func (c *Console) exportUsers(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	name := "usher-" + t.Name + "-" + c.c.Now().UTC().Format("20060102-150405") + ".jsonl"
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", "attachment; filename=\""+url.PathEscape(name)+"\"")
	n, err := c.c.Transfer.Export(r.Context(), t.ID, w, false)
	if err == nil {
		err = c.c.Accounts.UsersExported(r.Context(), t.ID, n)
	}
	c.logAction(r, "users_export", t.ID, err)
	if err != nil {
		// Headers are gone: a cut-off download is all that can tell.
		c.c.Log.ErrorContext(r.Context(), "console export failed", "event", "admin_export_failed", "error", err, "written", n)
		panic(http.ErrAbortHandler)
	}
	return nil
}
