package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
)

// The operator commands: tenants and the import and export of users. Each
// embeds the configuration serve reads, so it works on the same data.

type tenantCreateCmd struct {
	config.Config `embed:""`
	Name          string `arg:"" help:"The tenant's name: lower-case letters, digits, '-' and '_'." env:"-"`
}

type tenantListCmd struct {
	config.Config `embed:""`
}

type tenantShowCmd struct {
	config.Config `embed:""`
	Tenant        string `arg:"" optional:"" help:"The tenant's name or id (default: the default tenant)." env:"-"`
}

type tenantRotateCmd struct {
	config.Config `embed:""`
	Tenant        string        `arg:"" help:"The tenant's name or id." env:"-"`
	Overlap       time.Duration `default:"24h" help:"How long the old public key keeps working (0s: it stops now)." env:"-"`
}

type tenantDeleteCmd struct {
	config.Config `embed:""`
	Tenant        string `arg:"" help:"The tenant's name or id." env:"-"`
	Force         bool   `help:"Delete the tenant's users, sessions and queued email with it." env:"-"`
}

type usersImportCmd struct {
	config.Config `embed:""`
	File          string `arg:"" help:"A JSON-lines file, one user a line; - for standard input." env:"-"`
	InTenant      string `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
	OnConflict    string `name:"on-conflict" enum:"skip,update,fail" default:"skip" help:"What a line whose email exists does: skip, update or fail." env:"-"`

	FirebaseSignerKey     string `name:"firebase-signer-key" help:"Firebase project: base64_signer_key, for Firebase scrypt hashes."`
	FirebaseSaltSeparator string `name:"firebase-salt-separator" help:"Firebase project: base64_salt_separator."`
	FirebaseRounds        int    `name:"firebase-rounds" help:"Firebase project: rounds."`
	FirebaseMemCost       int    `name:"firebase-mem-cost" help:"Firebase project: mem_cost."`
}

type usersExportCmd struct {
	config.Config `embed:""`
	InTenant      string `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
	Output        string `short:"o" default:"-" help:"The file to write; - for standard output." env:"-"`
	WithHashes    bool   `name:"with-hashes" help:"Include password hashes (treat the file as a secret)." env:"-"`
}

func printTenant(w io.Writer, t usher.Tenant) {
	fmt.Fprintf(w, "id:         %s\nname:       %s\npublic key: %s\ncreated:    %s\n", t.ID, t.Name, t.PublicKey, t.CreatedAt.Format(time.RFC3339))
	if t.PreviousKey != "" {
		fmt.Fprintf(w, "previous key: %s (until %s)\n", t.PreviousKey, t.PreviousKeyUntil.Format(time.RFC3339))
	}
}

func (c *tenantCreateCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	t, err := k.Accounts.CreateTenant(ctx, c.Name)
	if err != nil {
		return err
	}
	printTenant(os.Stdout, t)
	return nil
}

func (c *tenantListCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	ts, err := k.Accounts.Tenants(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%-36s  %-20s  %s\n", "ID", "NAME", "PUBLIC KEY")
	for _, t := range ts {
		fmt.Printf("%-36s  %-20s  %s\n", t.ID, t.Name, t.PublicKey)
	}
	return nil
}

func (c *tenantShowCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	t := k.Tenant
	if c.Tenant != "" {
		var err error
		if t, err = k.Accounts.Tenant(ctx, c.Tenant); err != nil {
			return err
		}
	}
	printTenant(os.Stdout, t)
	return nil
}

func (c *tenantRotateCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	t, err := k.Accounts.RotateTenantKey(ctx, c.Tenant, c.Overlap)
	if err != nil {
		return err
	}
	printTenant(os.Stdout, t)
	fmt.Println("Running nodes accept the new key at once, and stop accepting the old one at the end of the overlap (within a minute).")
	return nil
}

func (c *tenantDeleteCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	if err := k.Accounts.DeleteTenant(ctx, c.Tenant, c.Force); err != nil {
		return err
	}
	fmt.Printf("deleted tenant %s\n", c.Tenant)
	return nil
}

// tenantID resolves a --tenant flag: the default tenant when empty.
func tenantID(ctx context.Context, k *core, ref string) (string, error) {
	if ref == "" {
		return k.Tenant.ID, nil
	}
	t, err := k.Accounts.Tenant(ctx, ref)
	return t.ID, err
}

// errRefused makes the import exit non-zero when a line was refused.
var errRefused = fmt.Errorf("some lines were refused")

func (c *usersImportCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	in, size := io.Reader(os.Stdin), int64(-1)
	if c.File != "-" {
		f, err := os.Open(c.File)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	opts := account.ImportOptions{OnConflict: account.OnConflict(c.OnConflict)}
	if c.FirebaseSignerKey != "" {
		opts.Firebase = &account.FirebaseKeys{SignerKey: c.FirebaseSignerKey, SaltSeparator: c.FirebaseSaltSeparator,
			Rounds: c.FirebaseRounds, MemCost: c.FirebaseMemCost}
	}
	p := newProgress(os.Stderr, size)
	// The planner's statistics are refreshed as the table grows tenfold
	// (10k, 100k, 1M lines...), not only at the end: on a server whose
	// autovacuum has not analyzed the table yet, the import's own look-ups
	// were planned for an empty table and slowed ninefold by 1M users.
	// A failure here only costs speed; the last refresh reports its own.
	nextAnalyze := 10000
	tr := &transfer.Transfer{Accounts: k.Accounts, Progress: func(lines int, read int64) {
		p.update(lines, read)
		if lines >= nextAnalyze {
			_ = k.Store.AfterImport(ctx)
			nextAnalyze *= 10
		}
	}}
	start := time.Now()
	sum, err := tr.Import(ctx, tid, in, opts, func(r account.ImportResult) {
		p.clear()
		fmt.Fprintf(os.Stderr, "line %d: refused: %s\n", r.Line, usher.ErrorMessage(r.Err))
	})
	p.finish()
	if sum.Created+sum.Updated > 0 {
		if err := k.Store.AfterImport(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "usher: the users were imported; refreshing the planner's statistics failed: %v\n", err)
		}
	}
	fmt.Printf("created %d, updated %d, skipped %d, refused %d in %s\n", sum.Created, sum.Updated, sum.Skipped, sum.Refused,
		time.Since(start).Round(time.Millisecond))
	if err != nil {
		return err
	}
	if sum.Refused > 0 {
		return errRefused
	}
	return nil
}

func (c *usersExportCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	out := io.Writer(os.Stdout)
	if c.Output != "-" {
		// 0600: with --with-hashes the file holds every password hash.
		f, err := os.OpenFile(c.Output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	start := time.Now()
	n, err := (&transfer.Transfer{Accounts: k.Accounts}).Export(ctx, tid, out, c.WithHashes)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "exported %d users in %s\n", n, time.Since(start).Round(time.Millisecond))
	if f, ok := out.(*os.File); ok && f != os.Stdout {
		return f.Sync()
	}
	return nil
}

// progress shows an import's progress: a bar with rate and time left on a
// terminal, a line every few seconds otherwise.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	last  time.Time
	start time.Time
}

const progressEvery = 5 * time.Second

func newProgress(w *os.File, size int64) *progress {
	p := &progress{w: w, start: time.Now(), last: time.Now()}
	if isatty.IsTerminal(w.Fd()) {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) update(lines int, read int64) {
	if p.bar != nil {
		_ = p.bar.Set64(read)
		p.bar.Describe(fmt.Sprintf("importing: %d lines", lines))
		return
	}
	if time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "imported %d lines (%.0f lines/s, %s read)\n", lines, float64(lines)/secs, sizeOf(read))
}

func (p *progress) clear() {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
