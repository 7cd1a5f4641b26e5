package aws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Trail is a stand-in for AWS CloudTrail's LookupEvents — a fake, written
// here, because local-kms has no CloudTrail. It speaks CloudTrail's real
// JSON 1.1 protocol (X-Amz-Target CloudTrail_20131101.LookupEvents,
// epoch-second times, NextToken paging, newest first) to the real
// aws-sdk-go-v2 cloudtrail client, and answers from the events a test
// adds.
type Trail struct {
	URL string

	mu      sync.Mutex
	events  []TrailEvent
	lookups int
	// windows are the [StartTime, EndTime] of every first-page request.
	windows [][2]time.Time
}

// TrailEvent is one CloudTrail record of a KMS call.
type TrailEvent struct {
	Time      time.Time
	Name      string
	KeyID     string
	ARN       string // userIdentity.arn
	InvokedBy string // userIdentity.invokedBy (an AWS service)
	UserAgent string
	SourceIP  string
	ErrorCode string
}

// StartTrail serves the stand-in on a loopback port.
func StartTrail(t testing.TB) *Trail {
	tr := &Trail{}
	srv := httptest.NewServer(http.HandlerFunc(tr.serve))
	t.Cleanup(srv.Close)
	tr.URL = srv.URL
	return tr
}

// Add makes CloudTrail hold events.
func (tr *Trail) Add(evs ...TrailEvent) {
	tr.mu.Lock()
	tr.events = append(tr.events, evs...)
	tr.mu.Unlock()
}

// Lookups counts LookupEvents requests.
func (tr *Trail) Lookups() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.lookups
}

func (tr *Trail) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	}
	if r.Header.Get("X-Amz-Target") != "CloudTrail_20131101.LookupEvents" {
		fail("UnknownOperationException", "stand-in knows only LookupEvents, got "+r.Header.Get("X-Amz-Target"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct {
		StartTime, EndTime *float64
		MaxResults         int
		NextToken          string
		LookupAttributes   []struct{ AttributeKey, AttributeValue string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		fail("InvalidParameterException", err.Error())
		return
	}
	if in.StartTime == nil || in.EndTime == nil || in.MaxResults < 1 || in.MaxResults > 50 {
		fail("InvalidParameterException", "the stand-in wants StartTime, EndTime and MaxResults 1..50")
		return
	}
	from, to := time.Unix(int64(*in.StartTime), 0), time.Unix(int64(*in.EndTime), 0)
	source := ""
	for _, a := range in.LookupAttributes {
		if a.AttributeKey == "EventSource" {
			source = a.AttributeValue
		}
	}
	tr.mu.Lock()
	tr.lookups++
	if in.NextToken == "" {
		tr.windows = append(tr.windows, [2]time.Time{from, to})
	}
	var match []TrailEvent
	for _, e := range tr.events {
		if !e.Time.Before(from) && !e.Time.After(to) && (source == "" || source == "kms.amazonaws.com") {
			match = append(match, e)
		}
	}
	tr.mu.Unlock()
	slices.SortStableFunc(match, func(a, b TrailEvent) int { return b.Time.Compare(a.Time) }) // newest first
	start, _ := strconv.Atoi(in.NextToken)
	end := min(len(match), start+in.MaxResults)
	var out []map[string]any
	for i, e := range match[min(start, end):end] {
		rec := map[string]any{"eventVersion": "1.08", "eventTime": e.Time.UTC().Format(time.RFC3339), "eventSource": "kms.amazonaws.com",
			"eventName": e.Name, "awsRegion": TestRegion, "sourceIPAddress": e.SourceIP, "userAgent": e.UserAgent, "readOnly": true,
			"userIdentity": map[string]any{"type": "AssumedRole", "arn": e.ARN, "invokedBy": e.InvokedBy, "accountId": TestAccount},
			"resources":    []map[string]any{{"accountId": TestAccount, "type": "AWS::KMS::Key", "ARN": keyARN(e.KeyID)}}}
		if e.ErrorCode != "" {
			rec["errorCode"] = e.ErrorCode
		}
		b, _ := json.Marshal(rec)
		out = append(out, map[string]any{"EventId": fmt.Sprintf("ev-%d", start+i), "EventName": e.Name, "EventSource": "kms.amazonaws.com",
			"EventTime": float64(e.Time.Unix()), "ReadOnly": "true", "Username": e.ARN, "CloudTrailEvent": string(b),
			"Resources": []map[string]any{{"ResourceType": "AWS::KMS::Key", "ResourceName": keyARN(e.KeyID)}}})
	}
	resp := map[string]any{"Events": out}
	if end < len(match) {
		resp["NextToken"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

func keyARN(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", TestRegion, TestAccount, id)
}

// Windows lists the [StartTime, EndTime] of every first-page request.
func (tr *Trail) Windows() [][2]time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.windows)
}
