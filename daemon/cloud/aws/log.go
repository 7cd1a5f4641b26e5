package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// AppID is in the User-Agent of every request keyward sends ("app/keyward"):
// CloudTrail records it, and the CloudTrail reader leaves keyward's own
// calls out (keyward recorded them already, with the admin who made them).
const AppID = "keyward"

// trailSettle is how long CloudTrail may take to show an event in
// LookupEvents: a window is read only once it is this old.
const trailSettle = 15 * time.Minute

// trailWindow is the span one CloudTrail read covers; a read waits until
// at least trailMinWindow has settled.
const (
	trailWindow    = time.Hour
	trailMinWindow = 5 * time.Minute
)

// maxTrailPages bounds one window's read (50 events a page): a CloudTrail
// whose pages never end fails the read instead of looping, and the
// window's events, held until the last page, stay bounded.
var maxTrailPages = 2000

// logCursor is where the account's log was read to. It is the source's
// memory (kept across restarts, never key material).
type logCursor struct {
	// Trail: CloudTrail was read up to this time (exclusive).
	Trail time.Time `json:"trail,omitzero"`
	// Rotations: the newest rotation recorded per key ID.
	Rotations map[string]time.Time `json:"rotations,omitempty"`
}

var _ cloud.LogReader = (*Account)(nil)

// ReadLog reads, in this order, the rotation history (ListKeyRotations)
// of keys whose material changed since the last read (or that were seen
// for the first time with automatic rotation on), then one hour of
// CloudTrail's KMS events (with cloudtrail = true), oldest hour first.
func (a *Account) ReadLog(ctx context.Context, raw []byte) (cloud.LogPage, error) {
	var cur logCursor
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &cur); err != nil {
			cur = logCursor{} // unreadable: start again rather than stop
		}
	}
	if cur.Rotations == nil {
		cur.Rotations = map[string]time.Time{}
	}
	var page cloud.LogPage
	moved, err := a.rotationHistory(ctx, &cur, &page)
	if err != nil {
		return cloud.LogPage{}, err
	}
	if a.trail != nil {
		was := cur.Trail
		more, err := a.readTrail(ctx, &cur, &page)
		if err != nil {
			return cloud.LogPage{}, err
		}
		moved = moved || !cur.Trail.Equal(was)
		page.More = more
	}
	if moved || raw == nil {
		b, err := json.Marshal(cur)
		if err != nil {
			return cloud.LogPage{}, err
		}
		page.Cursor = b
	} else {
		page.Cursor = raw
	}
	return page, nil
}

// rotationHistory turns the rotations of the keys due (view.rotationsDue)
// that are newer than the cursor into events; keyward's own on-demand
// rotations are left out (the manager recorded them).
func (a *Account) rotationHistory(ctx context.Context, cur *logCursor, page *cloud.LogPage) (bool, error) {
	v := a.view
	v.mu.Lock()
	due := slices.Sorted(maps.Keys(v.rotationsDue))
	clear(v.rotationsDue)
	self := maps.Clone(v.selfRotated)
	v.mu.Unlock()
	moved := false
	for i, id := range due {
		entries, err := v.rotations(ctx, id)
		if err != nil {
			v.mu.Lock()
			for _, again := range due[i:] {
				v.rotationsDue[again] = true // read them next time
			}
			v.mu.Unlock()
			return false, classify("rotation history of "+id, err)
		}
		last := cur.Rotations[id]
		newest := last
		for _, r := range entries {
			if r.RotationDate == nil || !r.RotationDate.After(last) {
				continue
			}
			at := r.RotationDate.UTC()
			if at.After(newest) {
				newest = at
			}
			if r.RotationType == types.RotationTypeOnDemand && nearAny(at, self[id], 10*time.Minute) {
				continue
			}
			how := "automatically"
			if r.RotationType == types.RotationTypeOnDemand {
				how = "on demand"
			}
			details := "rotated " + how + " in AWS (the key's rotation history)"
			if m := sdkaws.ToString(r.KeyMaterialId); m != "" {
				details += ": key material " + shortMaterial(m)
			}
			page.Events = append(page.Events, cloud.LogEvent{Key: id, Version: Version, Event: engine.Event{Time: at,
				Operation: engine.OpRotated, Actor: "aws", Origin: engine.OriginSource, Severity: engine.SeverityInfo, Details: details}})
		}
		if newest.After(last) {
			cur.Rotations[id] = newest
			moved = true
		}
	}
	return moved, nil
}

func nearAny(t time.Time, times []time.Time, within time.Duration) bool {
	for _, x := range times {
		if d := t.Sub(x); d < within && d > -within {
			return true
		}
	}
	return false
}

func shortMaterial(m string) string {
	if len(m) > 12 {
		return m[:12] + "…"
	}
	return m
}

// readTrail reads one window of CloudTrail's KMS events after the cursor
// (the first read starts cloudtrail_lookback ago) and reports whether a
// later window is ready too.
func (a *Account) readTrail(ctx context.Context, cur *logCursor, page *cloud.LogPage) (bool, error) {
	now := a.view.now().UTC().Truncate(time.Second)
	settled := now.Add(-trailSettle)
	from := cur.Trail
	if from.IsZero() {
		from = now.Add(-a.cfg.Lookback()).Truncate(time.Second)
	}
	if settled.Sub(from) < trailMinWindow {
		return false, nil // too little to be worth a request of a 2-a-second quota
	}
	to := from.Add(trailWindow)
	if to.After(settled) {
		to = settled
	}
	in := &cloudtrail.LookupEventsInput{StartTime: sdkaws.Time(from), EndTime: sdkaws.Time(to.Add(-time.Second)), MaxResults: sdkaws.Int32(50),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: sdkaws.String("kms.amazonaws.com")}}}
	use := map[useKey]*engine.Usage{}
	p := cloudtrail.NewLookupEventsPaginator(a.trail, in)
	tokens := map[string]bool{}
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxTrailPages {
			return false, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "read CloudTrail",
				Reason: fmt.Sprintf("the window %s to %s is still paging after %d pages of %d events; nothing of it is applied, and the next sync reads it again",
					from.Format(time.RFC3339), to.Format(time.RFC3339), maxTrailPages, 50)}
		}
		a.view.count("LookupEvents")
		out, err := p.NextPage(ctx)
		if err != nil {
			return false, classifyTrail(err)
		}
		if t := sdkaws.ToString(out.NextToken); t != "" {
			if tokens[t] {
				return false, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "read CloudTrail",
					Reason: fmt.Sprintf("LookupEvents gave the same NextToken twice for the window %s to %s (a paging loop); nothing of it is applied",
						from.Format(time.RFC3339), to.Format(time.RFC3339))}
			}
			tokens[t] = true
		}
		for _, e := range out.Events {
			a.trailEvent(e, page, use)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(use), func(x, y useKey) int { return strings.Compare(x.String(), y.String()) }) {
		page.Usage = append(page.Usage, cloud.LogUse{Key: k.key, Version: Version, Usage: *use[k]})
	}
	slices.SortStableFunc(page.Events, func(x, y cloud.LogEvent) int { return x.Event.Time.Compare(y.Event.Time) })
	cur.Trail = to
	return settled.Sub(to) >= trailMinWindow, nil
}

type useKey struct {
	hour     time.Time
	who, key string
}

func (k useKey) String() string { return k.hour.Format(time.RFC3339) + "|" + k.who + "|" + k.key }

// trailRecord is what keyward reads of a CloudTrail event's JSON.
type trailRecord struct {
	EventName    string `json:"eventName"`
	UserAgent    string `json:"userAgent"`
	SourceIP     string `json:"sourceIPAddress"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		InvokedBy   string `json:"invokedBy"`
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
}

// uses are the KMS calls that use a key, as encrypting (protecting) or
// decrypting (opening) for the usage report: signing counts as the
// first, verifying as the second.
var uses = map[string]bool{
	"Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true, "GenerateDataKeyPair": true,
	"GenerateDataKeyPairWithoutPlaintext": true, "ReEncrypt": true, "Sign": true, "GenerateMac": true,
	"Decrypt": false, "Verify": false, "VerifyMac": false,
}

// changes are the KMS calls that change a key, and the activity they are.
var changes = map[string]string{
	"CreateKey": engine.OpCreated, "EnableKey": engine.OpEnabled, "DisableKey": engine.OpDisabled,
	"ScheduleKeyDeletion": engine.OpDeleted, "CancelKeyDeletion": engine.OpRecovered, "RotateKeyOnDemand": engine.OpRotated,
	"ImportKeyMaterial": engine.OpUploaded, "DeleteImportedKeyMaterial": engine.OpEdited, "EnableKeyRotation": engine.OpEdited,
	"DisableKeyRotation": engine.OpEdited, "PutKeyPolicy": engine.OpEdited, "UpdateKeyDescription": engine.OpEdited,
	"TagResource": engine.OpEdited, "UntagResource": engine.OpEdited, "CreateAlias": engine.OpEdited, "DeleteAlias": engine.OpEdited,
	"UpdateAlias": engine.OpEdited, "CreateGrant": engine.OpEdited, "RetireGrant": engine.OpEdited, "RevokeGrant": engine.OpEdited,
	"ReplicateKey": engine.OpEdited, "UpdatePrimaryRegion": engine.OpEdited,
}

// trailEvent turns one CloudTrail event into usage or an activity event;
// keyward's own calls, failed calls and reads of metadata are left out.
func (a *Account) trailEvent(e cttypes.Event, page *cloud.LogPage, use map[useKey]*engine.Usage) {
	var rec trailRecord
	if e.CloudTrailEvent != nil {
		_ = json.Unmarshal([]byte(*e.CloudTrailEvent), &rec) // a record that does not parse: what the listing says
	}
	name := sdkaws.ToString(e.EventName)
	if rec.EventName != "" {
		name = rec.EventName
	}
	if strings.Contains(rec.UserAgent, "app/"+AppID) || rec.ErrorCode != "" || e.EventTime == nil {
		return
	}
	var keyIDs []string
	for _, r := range e.Resources {
		if sdkaws.ToString(r.ResourceType) == "AWS::KMS::Key" {
			n := sdkaws.ToString(r.ResourceName)
			if id := n[strings.LastIndex(n, "/")+1:]; isKeyID(id) || strings.HasPrefix(id, "mrk-") {
				keyIDs = append(keyIDs, id)
			}
		}
	}
	if len(keyIDs) == 0 {
		return
	}
	who := rec.UserIdentity.InvokedBy // an AWS service on a principal's behalf
	if who == "" {
		who = Principal(rec.UserIdentity.ARN)
	}
	if who == "" {
		who = sdkaws.ToString(e.Username)
	}
	if who == "" {
		who = "unknown principal"
	}
	at := e.EventTime.UTC()
	if enc, ok := uses[name]; ok {
		for _, id := range keyIDs {
			k := useKey{hour: at.Truncate(time.Hour), who: who, key: id}
			u := use[k]
			if u == nil {
				u = &engine.Usage{Hour: k.hour, Application: who}
				use[k] = u
			}
			if enc {
				u.Encrypts++
			} else {
				u.Decrypts++
			}
			if at.After(u.Last) {
				u.Last = at
			}
		}
		return
	}
	op, ok := changes[name]
	if !ok {
		return // DescribeKey, ListKeys, GetKeyPolicy…: reads, not changes
	}
	details := fmt.Sprintf("CloudTrail: %s by %s", name, who)
	if rec.SourceIP != "" {
		details += " from " + rec.SourceIP
	}
	sev := engine.SeverityInfo
	if op == engine.OpDeleted || op == engine.OpDisabled || name == "PutKeyPolicy" || name == "DeleteImportedKeyMaterial" {
		sev = engine.SeverityWarn
	}
	for _, id := range keyIDs {
		page.Events = append(page.Events, cloud.LogEvent{Key: id, Version: Version, Event: engine.Event{Time: at,
			Operation: op, Actor: who, Origin: engine.OriginSource, Severity: sev, Details: details}})
	}
}

// Principal names an IAM principal for the reports, its kind and name
// first (they survive a narrow column) and its account after:
// "role/orders-api@111122223333". An assumed role's session (an instance
// ID, a user's name) is dropped, so the use of a role is one row however
// many sessions made it. Anything else is returned as it is.
func Principal(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") || parts[4] == "" {
		return arn
	}
	account, res := parts[4], parts[5]
	if rest, ok := strings.CutPrefix(res, "assumed-role/"); ok {
		role, _, _ := strings.Cut(rest, "/")
		if role == "" {
			return arn
		}
		res = "role/" + role
	}
	if i := strings.LastIndexByte(res, '/'); i > 0 && (strings.HasPrefix(res, "role/") || strings.HasPrefix(res, "user/")) {
		res = res[:strings.IndexByte(res, '/')+1] + res[i+1:] // a path (role/service/x) keeps its last part
	}
	if res == "root" {
		return "root@" + account
	}
	return res + "@" + account
}

// classifyTrail is classify for CloudTrail, naming its permission.
func classifyTrail(err error) error {
	e := classify("read CloudTrail", err)
	if ce, ok := e.(*cloud.Error); ok && ce.Kind == cloud.ErrAccess {
		ce.Reason = "the identity lacks cloudtrail:LookupEvents (grant it, or set cloudtrail = false)"
	}
	return e
}
