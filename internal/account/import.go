package account

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// OnConflict is what an import does with a line whose email exists.
type OnConflict string

// The conflict policies.
const (
	ConflictSkip   OnConflict = "skip"   // leave the existing user as it is
	ConflictUpdate OnConflict = "update" // give the existing user the line's fields
	ConflictFail   OnConflict = "fail"   // refuse the line
)

// ImportUser is one user to import. Exactly one of Password (plain, hashed
// now) and Hash (kept as it is) is set.
type ImportUser struct {
	Line      int
	ID        string // "": a new id
	Email     string
	Password  string
	Hash      string
	Confirmed bool
	Enabled   bool
	Data      []byte
	CreatedAt time.Time // zero: now
}

// Outcome is what an import did with a line.
type Outcome string

// The outcomes.
const (
	Created Outcome = "created"
	Updated Outcome = "updated"
	Skipped Outcome = "skipped"
	Refused Outcome = "refused"
)

// ImportResult is the outcome of one line; Err says why it was refused.
type ImportResult struct {
	Line    int
	Outcome Outcome
	Err     error
}

// pending is a line on its way in.
type pending struct {
	in  ImportUser
	u   usher.User
	res *ImportResult
}

func refuse(res *ImportResult, code usher.Code, format string, args ...any) {
	res.Outcome, res.Err = Refused, usher.Errorf(code, format, args...)
}

// Import brings a batch of users into a tenant in one transaction. Each
// line is decided on its own: a line that cannot be imported is refused
// with its reason and changes nothing, and the others go on. Imported
// passwords are not held to the password policy (they are the users'
// passwords already), only to its maximum length; a plain password is
// hashed now, through the hashing pool, and a kept hash must be a format
// Usher verifies (it is replaced by an argon2id hash at the first
// successful sign-in). Running the same batch again changes nothing more.
func (s *Service) Import(ctx context.Context, tenantID string, batch []ImportUser, on OnConflict) ([]ImportResult, error) {
	switch on {
	case ConflictSkip, ConflictUpdate, ConflictFail:
	default:
		return nil, usher.Errorf(usher.Invalid, "on-conflict must be skip, update or fail.")
	}
	results := make([]ImportResult, len(batch))
	lines := s.prepareImport(batch, results)
	if err := s.hashImports(ctx, tenantID, lines, on); err != nil {
		return nil, err
	}
	err := s.importLines(ctx, tenantID, lines, on)
	if code := usher.ErrorCode(err); code == usher.EmailTaken || code == usher.Internal && ctx.Err() == nil {
		// A concurrent writer took an address or id between the reads and
		// the insert, or the database refused a row: decide each line
		// alone, so that only the line at fault is refused.
		failed := 0
		var last error
		for _, p := range lines {
			err := s.importLines(ctx, tenantID, []*pending{p}, on)
			switch usher.ErrorCode(err) {
			case "":
			case usher.EmailTaken:
				refuse(p.res, usher.EmailTaken, "A user with this email address or id was created meanwhile.")
			case usher.Internal:
				s.c.Log.WarnContext(ctx, "an import line could not be stored", "event", "import_line_failed", "line", p.in.Line, "error", err)
				refuse(p.res, usher.Invalid, "The database refused the line.")
				failed, last = failed+1, err
			default:
				return nil, err
			}
		}
		err = nil
		if failed == len(lines) && failed > 1 {
			err = last // not the lines: the database refuses every write
		}
	}
	if err != nil {
		return nil, err
	}
	created, updated := 0, 0
	for _, r := range results {
		switch r.Outcome {
		case Created:
			created++
			s.event(evUserCreated, outImported)
		case Updated:
			updated++
		}
	}
	if created+updated > 0 {
		s.c.Log.InfoContext(ctx, "users imported", "event", "users_imported", "created", created, "updated", updated)
	}
	return results, nil
}

// prepareImport validates each line and builds its user; lines refused
// here get their result now.
func (s *Service) prepareImport(batch []ImportUser, results []ImportResult) []*pending {
	now := s.now()
	byKey, byID := map[string]int{}, map[string]int{}
	var lines []*pending
	for i, in := range batch {
		res := &results[i]
		res.Line = in.Line
		email, key, err := NormalizeEmail(in.Email)
		if err != nil {
			res.Outcome, res.Err = Refused, err
			continue
		}
		switch {
		case (in.Password == "") == (in.Hash == ""):
			refuse(res, usher.Invalid, "A line needs exactly one of password and password_hash.")
			continue
		case in.Password != "":
			if err := s.checkLength(in.Password); err != nil {
				res.Outcome, res.Err = Refused, err
				continue
			}
		default:
			if err := password.Check(in.Hash); err != nil {
				refuse(res, usher.Invalid, "password_hash: %s", err.Error())
				continue
			}
		}
		data, err := NormalizeData(in.Data)
		if err != nil {
			res.Outcome, res.Err = Refused, err
			continue
		}
		id := strings.ToLower(in.ID)
		if id == "" {
			id = usher.NewID(now)
		} else if !usher.ValidID(id) {
			refuse(res, usher.Invalid, "id must be a UUID.")
			continue
		}
		created := in.CreatedAt.UTC().Truncate(time.Millisecond)
		if created.IsZero() {
			created = now
		} else if created.Before(time.UnixMilli(0)) || created.After(now.Add(time.Minute)) {
			refuse(res, usher.Invalid, "created_at must be after 1970 and not in the future.")
			continue
		}
		if j, dup := byKey[key]; dup {
			refuse(res, usher.EmailTaken, "The same email address as line %d.", batch[j].Line)
			continue
		}
		if j, dup := byID[id]; dup {
			refuse(res, usher.Invalid, "The same id as line %d.", batch[j].Line)
			continue
		}
		byKey[key], byID[id] = i, i
		lines = append(lines, &pending{in: in, res: res, u: usher.User{
			ID: id, Email: email, EmailKey: key, Hash: in.Hash, Confirmed: in.Confirmed, Enabled: in.Enabled,
			Data: data, CreatedAt: created, UpdatedAt: now,
		}})
	}
	return lines
}

// hashImports hashes the plain passwords of lines that may be written, as
// many at once as the hashing pool has workers. A line whose address
// exists is hashed only when it may update that user.
func (s *Service) hashImports(ctx context.Context, tenantID string, lines []*pending, on OnConflict) error {
	var plain []*pending
	var keys []string
	for _, p := range lines {
		if p.in.Password != "" {
			plain = append(plain, p)
			keys = append(keys, p.u.EmailKey)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	existing, err := s.c.Store.UsersByEmailKeys(ctx, tenantID, keys)
	if err != nil {
		return err
	}
	current := map[string]string{} // email key -> hash
	for _, u := range existing {
		current[u.EmailKey] = u.Hash
	}
	if on != ConflictUpdate {
		plain = slices.DeleteFunc(plain, func(p *pending) bool { _, taken := current[p.u.EmailKey]; return taken })
	}
	work := make(chan *pending)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range max(1, s.c.Hasher.Stats().Workers) {
		wg.Go(func() {
			for p := range work {
				// A password the user already has keeps its hash (a new
				// salt would be an update): an import run again changes
				// nothing and ends no session.
				if cur, ok := current[p.u.EmailKey]; ok {
					if match, _, err := s.c.Hasher.Verify(ctx, p.in.Password, cur); err == nil && match {
						p.u.Hash = cur
						continue
					}
				}
				h, err := s.hash(ctx, p.in.Password)
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					continue
				}
				p.u.Hash = h
			}
		})
	}
	for _, p := range plain {
		work <- p
	}
	close(work)
	wg.Wait()
	return first
}

// importLines writes the lines not yet decided in one transaction.
func (s *Service) importLines(ctx context.Context, tenantID string, lines []*pending, on OnConflict) error {
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var keys, ids []string
		for _, p := range lines {
			*p.res = ImportResult{Line: p.in.Line} // afresh: a lost conflict runs this again
			keys, ids = append(keys, p.u.EmailKey), append(ids, p.u.ID)
		}
		byKey, byID := map[string]usher.User{}, map[string]usher.User{}
		existing, err := tx.UsersByEmailKeys(ctx, tenantID, keys)
		if err != nil {
			return err
		}
		for _, u := range existing {
			byKey[u.EmailKey] = u
		}
		if existing, err = tx.UsersByIDs(ctx, ids); err != nil {
			return err
		}
		for _, u := range existing {
			byID[u.ID] = u
		}
		var inserts []*usher.User
		for _, p := range lines {
			p.u.TenantID = tenantID
			cur, exists := byKey[p.u.EmailKey]
			switch {
			case exists && p.in.ID != "" && !strings.EqualFold(p.in.ID, cur.ID):
				refuse(p.res, usher.Conflict, "The user with this email address has another id.")
			case exists && on == ConflictSkip:
				p.res.Outcome = Skipped
			case exists && on == ConflictFail:
				refuse(p.res, usher.EmailTaken, "A user with this email address already exists.")
			case exists:
				if err := s.updateImported(ctx, tx, cur, p); err != nil {
					return err
				}
			case byID[p.u.ID].ID != "":
				refuse(p.res, usher.Conflict, "A user with this id already exists.")
			case p.u.Hash == "": // not hashed: its address was taken when read
				refuse(p.res, usher.Conflict, "The user with this email address was deleted during the import; import the line again.")
			default:
				p.res.Outcome = Created
				inserts = append(inserts, &p.u)
			}
		}
		if err := tx.CreateUsers(ctx, inserts); err != nil {
			return err
		}
		var created, updated []string
		for _, p := range lines {
			switch p.res.Outcome {
			case Created:
				created = append(created, p.u.ID)
			case Updated:
				updated = append(updated, p.u.ID)
			}
		}
		if len(created)+len(updated) == 0 {
			return nil
		}
		// One entry per batch (at most 500 lines): an import of a million
		// users writes two thousand entries, not a million, each naming
		// its users.
		return s.audit(ctx, tx, tenantID, AuditUserImported, "", detail{
			"created": len(created), "updated": len(updated), "created_ids": created, "updated_ids": updated})
	})
}

// updateImported gives cur the fields of an imported line. A line that
// changes nothing is skipped, so an import run twice updates nothing the
// second time.
func (s *Service) updateImported(ctx context.Context, tx Tx, cur usher.User, p *pending) error {
	// The user keeps its created_at: the store never changes it (the
	// account is the same account), so a line's is not compared either.
	next := cur
	next.Email, next.Confirmed, next.Enabled, next.Data = p.u.Email, p.u.Confirmed, p.u.Enabled, p.u.Data
	hashChanged := p.u.Hash != "" && p.u.Hash != cur.Hash
	if hashChanged {
		setHash(&next, p.u.Hash)
	}
	if next.Email == cur.Email && next.Confirmed == cur.Confirmed && next.Enabled == cur.Enabled &&
		bytes.Equal(next.Data, cur.Data) && !hashChanged {
		p.res.Outcome = Skipped
		return nil
	}
	next.UpdatedAt = s.now()
	if err := tx.UpdateUser(ctx, &next); err != nil {
		return err
	}
	p.res.Outcome = Updated
	p.u.ID = cur.ID // the line named the user by its address
	r := keep
	if hashChanged || cur.Enabled && !next.Enabled {
		r = revokeCredentials
	}
	return revoke(ctx, tx, next, r)
}

// ImportOptions are an import's choices.
type ImportOptions struct {
	OnConflict OnConflict
	// Firebase holds the Firebase project's password hash parameters, for
	// lines with Firebase's scrypt hashes; nil when the import has none.
	Firebase *FirebaseKeys
}

// FirebaseKeys are a Firebase project's password hash parameters, as its
// console shows them (base64).
type FirebaseKeys struct {
	SignerKey     string
	SaltSeparator string
	Rounds        int
	MemCost       int
}

// ImportSummary counts what an import did.
type ImportSummary struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	Refused int `json:"refused"`
}

// Add counts one result.
func (s *ImportSummary) Add(r ImportResult) {
	switch r.Outcome {
	case Created:
		s.Created++
	case Updated:
		s.Updated++
	case Skipped:
		s.Skipped++
	default:
		s.Refused++
	}
}

// EachUser calls fn with every user of a tenant in creation order, from one
// snapshot of the database (an export).
func (s *Service) EachUser(ctx context.Context, tenantID string, fn func(usher.User) error) error {
	return s.c.Store.EachUser(ctx, tenantID, fn)
}
