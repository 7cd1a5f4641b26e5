package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/logging"
	"cloud.google.com/go/logging/logadmin"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/engine"
)

// Use is how often one principal used one key version in one hour, as
// Cloud Audit Logs' data-access entries of cloudkms record it.
type Use struct {
	Hour      time.Time
	Principal string
	Key       string // location/ring/key
	Version   string
	Encrypts  int64
	Decrypts  int64
	Other     int64 // sign, MAC, asymmetric decrypt, ...
	Last      time.Time
}

// AdminCall is one change recorded in the admin-activity log: who did
// what to which key, for comparing with what keyward did itself.
type AdminCall struct {
	Time      time.Time
	Principal string
	Method    string // CreateCryptoKeyVersion, UpdateCryptoKey, ...
	Key       string // location/ring/key ("" for a key ring)
	Version   string
}

// auditFilter is the Logging query of cloudkms entries of one log in
// [from, to).
func (p *Project) auditFilter(log string, from, to time.Time) string {
	return fmt.Sprintf(`logName="projects/%s/logs/cloudaudit.googleapis.com%%2F%s" AND protoPayload.serviceName="cloudkms.googleapis.com" AND timestamp >= "%s" AND timestamp < "%s"`,
		p.cfg.Project, log, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}

// entries calls each for every audit entry of log in [from, to).
func (p *Project) entries(ctx context.Context, log string, from, to time.Time, each func(t time.Time, al *audit.AuditLog)) error {
	op := "read the " + log + " audit log of project " + p.cfg.Project
	if !p.cfg.AuditLogs() {
		return nil
	}
	c, err := p.logClient(ctx)
	if err != nil {
		return classify(op, err)
	}
	// Page by page (bounded, a repeated page token refused); an entry
	// outside the window asked for (no time, or a time Logging's filter
	// should have left out) is not counted.
	err = pages(ctx, p.view, "ListLogEntries", 1000, func(ctx context.Context) iterator.Pageable {
		return c.Entries(ctx, logadmin.Filter(p.auditFilter(log, from, to)), logadmin.PageSize(1000))
	}, func(es []*logging.Entry) error {
		for _, e := range es {
			al, ok := e.Payload.(*audit.AuditLog)
			if !ok || e.Timestamp.Before(from) || !e.Timestamp.Before(to) {
				continue // not an audit entry of the window: nothing keyward reads
			}
			each(e.Timestamp, al)
		}
		return nil
	})
	if err != nil {
		var ce *cloud.Error
		if errors.As(err, &ce) && ce.Kind == cloud.ErrBadAnswer {
			ce.Op = op
		}
		if unreadableEntry(err) {
			return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Err: err,
				Reason: "Cloud Logging sent an entry its own client cannot read (" + err.Error() + "); nothing of the hour is counted, it is read again at the next sync"}
		}
		return classify(op, err)
	}
	return nil
}

// unreadableEntry says whether err is the Logging client's refusal of an
// entry it received (a time out of range or missing, a payload that does
// not decode), not a failure to reach Logging.
func unreadableEntry(err error) bool {
	if _, isStatus := status.FromError(err); isStatus {
		return false
	}
	m := err.Error()
	return strings.Contains(strings.ToLower(m), "timestamp") || strings.HasPrefix(m, "logging: ") || strings.HasPrefix(m, "proto: ")
}

// keyOf reads location/ring/key and the version from a resource name of
// this project ("" when it is no key of it).
func (p *Project) keyOf(resource string) (key, version string) {
	if n, err := gcpname.ParseName(gcpname.KindVersion, resource); err == nil && n.Project == p.cfg.Project {
		return n.Location + "/" + n.KeyRing + "/" + n.CryptoKey, n.Version
	}
	if n, err := gcpname.ParseName(gcpname.KindCryptoKey, resource); err == nil && n.Project == p.cfg.Project {
		return n.Location + "/" + n.KeyRing + "/" + n.CryptoKey, ""
	}
	return "", ""
}

// Usage sums the data-access audit entries of cloudkms in [from, to) per
// hour, principal and key version, oldest first.
func (p *Project) Usage(ctx context.Context, from, to time.Time) ([]Use, error) {
	type k struct {
		hour                  time.Time
		principal, key, versn string
	}
	sums := map[k]*Use{}
	err := p.entries(ctx, "data_access", from, to, func(t time.Time, al *audit.AuditLog) {
		key, ver := p.keyOf(al.GetResourceName())
		if key == "" {
			return
		}
		id := k{t.UTC().Truncate(time.Hour), al.GetAuthenticationInfo().GetPrincipalEmail(), key, ver}
		u := sums[id]
		if u == nil {
			u = &Use{Hour: id.hour, Principal: id.principal, Key: key, Version: ver}
			sums[id] = u
		}
		switch strings.TrimPrefix(al.GetMethodName(), "google.cloud.kms.v1.KeyManagementService.") {
		case "Encrypt":
			u.Encrypts++
		case "Decrypt":
			u.Decrypts++
		case "AsymmetricSign", "AsymmetricDecrypt", "MacSign", "MacVerify", "RawEncrypt", "RawDecrypt":
			u.Other++
		default:
			return // a read of attributes, not a use of the key
		}
		if t.After(u.Last) {
			u.Last = t.UTC()
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]Use, 0, len(sums))
	for _, u := range sums {
		if u.Encrypts+u.Decrypts+u.Other > 0 {
			out = append(out, *u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		if a.Key+"/"+a.Version != b.Key+"/"+b.Version {
			return a.Key+"/"+a.Version < b.Key+"/"+b.Version
		}
		return a.Principal < b.Principal
	})
	return out, nil
}

// AdminActivity lists the changes to keys in [from, to) that the
// admin-activity log records, oldest first, for comparison with keyward's
// own record: a change whose principal is not keyward's identity was made
// behind keyward's back, and says who made it.
func (p *Project) AdminActivity(ctx context.Context, from, to time.Time) ([]AdminCall, error) {
	var out []AdminCall
	err := p.entries(ctx, "activity", from, to, func(t time.Time, al *audit.AuditLog) {
		key, ver := p.keyOf(al.GetResourceName())
		out = append(out, AdminCall{Time: t.UTC(), Principal: al.GetAuthenticationInfo().GetPrincipalEmail(),
			Method: strings.TrimPrefix(al.GetMethodName(), "google.cloud.kms.v1.KeyManagementService."), Key: key, Version: ver})
	})
	return out, err
}

// logClient is the project's Cloud Logging client, made on first use.
func (p *Project) logClient(ctx context.Context) (*logadmin.Client, error) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.logs != nil {
		return p.logs, nil
	}
	c, err := logadmin.NewClient(ctx, p.cfg.Project, p.logOpt...)
	if err != nil {
		return nil, err
	}
	p.logs = c
	return c, nil
}

var _ cloud.Attributor = (*Project)(nil)

// Attribute names who made the changes a sync found (the admin-activity
// log's principal of the latest call on the key, and on the version when
// the log names one): activity compared with what Google recorded.
func (p *Project) Attribute(ctx context.Context, evs []*engine.Event, from, to time.Time) error {
	if !p.cfg.AuditLogs() {
		return nil
	}
	calls, err := p.AdminActivity(ctx, from, to)
	if err != nil || len(calls) == 0 {
		return err
	}
	for _, ev := range evs {
		path := strings.TrimPrefix(ev.KeyID, ev.Source+"/")
		parts := strings.Split(path, "/")
		if len(parts) < 3 {
			continue
		}
		key, ver := strings.Join(parts[:3], "/"), ""
		if len(parts) == 4 {
			ver = parts[3]
		}
		// The latest call on the version itself, else on the key, else
		// on another of its versions.
		rank := func(c *AdminCall) int {
			switch {
			case ver != "" && c.Version == ver:
				return 3
			case c.Version == "":
				return 2
			}
			return 1
		}
		var best *AdminCall
		for i := range calls {
			c := &calls[i]
			if c.Key != key || c.Principal == "" {
				continue
			}
			if best == nil || rank(c) > rank(best) || rank(c) == rank(best) && !c.Time.Before(best.Time) {
				best = c
			}
		}
		if best != nil {
			ev.Actor = best.Principal
			ev.Details += " (by " + best.Principal + ", Cloud Audit Logs: " + best.Method + ")"
		}
	}
	return nil
}

var _ cloud.LogReader = (*Project)(nil)

// logDelay is how long Cloud Logging may still add entries of a past
// moment; an hour is read once it ended this long ago.
const logDelay = 10 * time.Minute

// logCursor is where the data-access log was read to: the next hour.
type logCursor struct {
	Hour time.Time `json:"hour"`
}

// ReadLog reads one settled hour of the data-access audit log of cloudkms
// into usage per principal and key version (cloud.LogReader); the first
// read starts a day back. A use Google logged against the key, not a
// version (Encrypt and Decrypt name the key), counts for the key's
// primary version, or its newest when it has none.
func (p *Project) ReadLog(ctx context.Context, raw []byte) (cloud.LogPage, error) {
	now := time.Now().UTC()
	var cur logCursor
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &cur); err != nil {
			cur = logCursor{} // unreadable: start again rather than stop
		}
	}
	if cur.Hour.IsZero() {
		cur.Hour = now.Add(-24 * time.Hour).Truncate(time.Hour)
	}
	settled := now.Add(-logDelay)
	if !p.cfg.AuditLogs() || cur.Hour.Add(time.Hour).After(settled) {
		b, err := json.Marshal(cur)
		return cloud.LogPage{Cursor: b}, err
	}
	uses, err := p.Usage(ctx, cur.Hour, cur.Hour.Add(time.Hour))
	if err != nil {
		return cloud.LogPage{}, err
	}
	var page cloud.LogPage
	for _, u := range uses {
		ver := u.Version
		if ver == "" {
			ver = p.currentVersion(ctx, u.Key)
			if ver == "" {
				continue // the key is gone: no row to count against
			}
		}
		app := u.Principal
		if app == "" {
			app = "unknown principal"
		}
		page.Usage = append(page.Usage, cloud.LogUse{Key: u.Key, Version: ver, Usage: engine.Usage{Hour: u.Hour, Application: app,
			Encrypts: u.Encrypts, Decrypts: u.Decrypts + u.Other, Last: u.Last}})
	}
	cur.Hour = cur.Hour.Add(time.Hour)
	page.More = !cur.Hour.Add(time.Hour).After(settled)
	page.Cursor, err = json.Marshal(cur)
	return page, err
}

// currentVersion is the key's primary version, or its newest live one.
func (p *Project) currentVersion(ctx context.Context, key string) string {
	kv, err := p.Get(ctx, key, "")
	if err != nil {
		return ""
	}
	return kv.Version
}
