package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// AgingReport is GET /v1/reports/aging: the summary (on the first page) and
// one page of dated milestones.
type AgingReport struct {
	Range      report.Range         `json:"range"`
	Summary    *report.AgingSummary `json:"summary,omitempty"`
	Entries    []report.AgingEntry  `json:"entries"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// ActivityReport is GET /v1/reports/activity.
type ActivityReport struct {
	Range      report.Range      `json:"range"`
	PerDay     []report.DayCount `json:"per_day,omitempty"`
	Events     []engine.Event    `json:"events"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// ReportQuery holds the filters the report endpoints share. Times are
// "2026-11-23", RFC 3339, or relative to now: "now", "-90d", "+30d".
type ReportQuery struct {
	From, To  string
	Source    string
	Key       string
	Operation string
	Actor     string
	Origin    string
	App       string
	// Comparison limits activity to what happened in a KMS or cloud
	// without going through keyward.
	Comparison bool
	Limit      int
	Cursor     string
}

func (q ReportQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("from", q.From)
	set("to", q.To)
	set("source", q.Source)
	set("key", q.Key)
	set("operation", q.Operation)
	set("actor", q.Actor)
	set("origin", q.Origin)
	set("app", q.App)
	set("cursor", q.Cursor)
	if q.Comparison {
		v.Set("comparison", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// AgingReport fetches one page of the aging report.
func (c *Client) AgingReport(ctx context.Context, q ReportQuery) (*AgingReport, error) {
	var r AgingReport
	return &r, c.Do(ctx, http.MethodGet, "/reports/aging", q.values(), nil, &r)
}

// AgingSummary fetches only the bucket counts.
func (c *Client) AgingSummary(ctx context.Context, source string) (*report.AgingSummary, error) {
	var s report.AgingSummary
	v := url.Values{}
	if source != "" {
		v.Set("source", source)
	}
	return &s, c.Do(ctx, http.MethodGet, "/reports/aging/summary", v, nil, &s)
}

// ActivityReport fetches one page of the activity report.
func (c *Client) ActivityReport(ctx context.Context, q ReportQuery) (*ActivityReport, error) {
	var r ActivityReport
	return &r, c.Do(ctx, http.MethodGet, "/reports/activity", q.values(), nil, &r)
}

// UsageReport fetches the service/usage report.
func (c *Client) UsageReport(ctx context.Context, q ReportQuery) (*report.Usage, error) {
	var r report.Usage
	return &r, c.Do(ctx, http.MethodGet, "/reports/usage", q.values(), nil, &r)
}
