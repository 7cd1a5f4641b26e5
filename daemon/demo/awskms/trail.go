package awskms

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Trail is a small CloudTrail of KMS events: the LookupEvents call of
// AWS CloudTrail, in its real JSON 1.1 protocol (X-Amz-Target
// CloudTrail_20131101.LookupEvents, epoch-second times, newest first,
// NextToken paging), answering from the events added to it. The demo's
// AWS account serves one beside its KMS; the AWS connector's tests use
// it as their CloudTrail.
type Trail struct {
	mu      sync.Mutex
	events  []TrailEvent
	lookups int
	windows [][2]time.Time
	// calls are the SDK's invocation IDs seen (amz-sdk-invocation-id):
	// the SDK sends the same one again when it retries a request.
	calls map[string]bool
}

// TrailEvent is one CloudTrail record of a KMS call.
type TrailEvent struct {
	Time      time.Time
	Name      string // eventName: Decrypt, DisableKey, …
	KeyID     string
	ARN       string // userIdentity.arn
	InvokedBy string // userIdentity.invokedBy: an AWS service acting for the principal
	UserAgent string
	SourceIP  string
	ErrorCode string
}

// Add records events, at whole seconds as CloudTrail records them.
func (tr *Trail) Add(evs ...TrailEvent) {
	tr.mu.Lock()
	for _, e := range evs {
		e.Time = e.Time.UTC().Truncate(time.Second)
		tr.events = append(tr.events, e)
	}
	tr.mu.Unlock()
}

// Lookups counts LookupEvents requests.
func (tr *Trail) Lookups() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.lookups
}

// Calls counts LookupEvents calls as the client made them: an SDK's
// retry of a request (same amz-sdk-invocation-id, a later attempt) is
// the same call; Lookups counts both.
func (tr *Trail) Calls() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.calls)
}

// Windows lists the [StartTime, EndTime] of every first-page request.
func (tr *Trail) Windows() [][2]time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.windows)
}

// ServeHTTP answers LookupEvents.
func (tr *Trail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "CloudTrail_20131101.LookupEvents" {
		awsError(w, "UnknownOperationException", "this CloudTrail answers only LookupEvents, not "+r.Header.Get("X-Amz-Target"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		awsError(w, "InvalidParameterException", err.Error())
		return
	}
	var in struct {
		StartTime, EndTime *float64
		MaxResults         int
		NextToken          string
		LookupAttributes   []struct{ AttributeKey, AttributeValue string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awsError(w, "InvalidParameterException", err.Error())
		return
	}
	if in.StartTime == nil || in.EndTime == nil || in.MaxResults < 1 || in.MaxResults > 50 {
		awsError(w, "InvalidParameterException", "StartTime, EndTime and MaxResults 1..50 are required here")
		return
	}
	from, to := time.Unix(int64(*in.StartTime), 0), time.Unix(int64(*in.EndTime), 0)
	kmsOnly := true
	for _, a := range in.LookupAttributes {
		if a.AttributeKey == "EventSource" && a.AttributeValue != "kms.amazonaws.com" {
			kmsOnly = false // no other service's events here
		}
	}
	tr.mu.Lock()
	tr.lookups++
	call := r.Header.Get("Amz-Sdk-Invocation-Id")
	if call == "" {
		call = strconv.Itoa(tr.lookups) // a client that does not say: each request is a call
	}
	retry := tr.calls[call]
	if tr.calls == nil {
		tr.calls = map[string]bool{}
	}
	tr.calls[call] = true
	if in.NextToken == "" && !retry {
		tr.windows = append(tr.windows, [2]time.Time{from, to})
	}
	var match []TrailEvent
	for _, e := range tr.events {
		if kmsOnly && !e.Time.Before(from) && !e.Time.After(to) {
			match = append(match, e)
		}
	}
	tr.mu.Unlock()
	slices.SortStableFunc(match, func(a, b TrailEvent) int { return b.Time.Compare(a.Time) })
	start, _ := strconv.Atoi(in.NextToken)
	end := min(len(match), start+in.MaxResults)
	out := []map[string]any{}
	for i, e := range match[min(start, end):end] {
		arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, e.KeyID)
		rec := map[string]any{"eventVersion": "1.08", "eventTime": e.Time.UTC().Format(time.RFC3339), "eventSource": "kms.amazonaws.com",
			"eventName": e.Name, "awsRegion": Region, "sourceIPAddress": e.SourceIP, "userAgent": e.UserAgent, "readOnly": true,
			"userIdentity": map[string]any{"type": "AssumedRole", "arn": e.ARN, "invokedBy": e.InvokedBy, "accountId": Account},
			"resources":    []map[string]any{{"accountId": Account, "type": "AWS::KMS::Key", "ARN": arn}}}
		if e.ErrorCode != "" {
			rec["errorCode"] = e.ErrorCode
		}
		b, _ := json.Marshal(rec)
		out = append(out, map[string]any{"EventId": fmt.Sprintf("ev-%d", start+i), "EventName": e.Name, "EventSource": "kms.amazonaws.com",
			"EventTime": float64(e.Time.Unix()), "ReadOnly": "true", "Username": e.ARN, "CloudTrailEvent": string(b),
			"Resources": []map[string]any{{"ResourceType": "AWS::KMS::Key", "ResourceName": arn}}})
	}
	resp := map[string]any{"Events": out}
	if end < len(match) {
		resp["NextToken"] = strconv.Itoa(end)
	}
	writeJSON(w, resp)
}
