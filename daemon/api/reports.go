package api

import (
	"context"
	"net/http"
	"net/url"

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
	comparison := ""
	if q.Comparison {
		comparison = "true"
	}
	return query("from", q.From, "to", q.To, "source", q.Source, "key", q.Key, "operation", q.Operation,
		"actor", q.Actor, "origin", q.Origin, "app", q.App, "cursor", q.Cursor, "comparison", comparison,
		"limit", positive(q.Limit))
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
