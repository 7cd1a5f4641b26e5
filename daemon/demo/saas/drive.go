package saas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

var (
	first = []string{"Ann", "Bob", "Chloé", "Dev", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Lars", "Mei", "Nora", "Omar", "Pia"}
	last  = []string{"Lee", "Martin", "Okafor", "Schmidt", "Rossi", "Tanaka", "Novak", "Silva", "Dubois", "Khan"}
)

// Record makes one fake customer record with sensitive fields (test card
// numbers and made-up social security numbers only).
func Record(r *rand.Rand) map[string]any {
	f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
	return map[string]any{
		"name":  f + " " + l,
		"email": fmt.Sprintf("%s.%s@example.com", lower(f), lower(l)),
		"ssn":   fmt.Sprintf("%03d-%02d-%04d", 100+r.IntN(800), 1+r.IntN(98), 1+r.IntN(9998)),
		"card":  map[string]any{"number": fmt.Sprintf("4111 1111 1111 %04d", r.IntN(10000)), "expiry": fmt.Sprintf("%02d/%02d", 1+r.IntN(12), 27+r.IntN(4))},
		"plan":  []string{"free", "team", "enterprise"}[r.IntN(3)],
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	if s == "Chloé" {
		return "chloe"
	}
	return string(b)
}

// DriveStats counts what the driver did.
type DriveStats struct {
	Requests, Failures atomic.Int64
}

// Drive sends gentle traffic to the application through proxyURL (the
// keyward proxy) at about rate requests per second until ctx ends: creates
// (30%), gets of a known record (40%), lists (20%) and searches by email
// (10%). It returns nil when ctx ends; failures are counted, not fatal (the
// demo may rotate keys or stop the KMS under it).
func Drive(ctx context.Context, proxyURL string, rate float64) error {
	return DriveWith(ctx, proxyURL, rate, nil)
}

// DriveWith is Drive reporting into st (may be nil).
func DriveWith(ctx context.Context, proxyURL string, rate float64, st *DriveStats) error {
	if rate <= 0 {
		return fmt.Errorf("traffic rate must be positive, got %v", rate)
	}
	if _, err := url.Parse(proxyURL); err != nil {
		return fmt.Errorf("proxy URL: %w", err)
	}
	if st == nil {
		st = &DriveStats{}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var ids, emails []string
	remember := func(b []byte) {
		var v struct{ ID, Email string }
		if json.Unmarshal(b, &v) == nil && v.ID != "" {
			ids = append(ids, v.ID)
			emails = append(emails, v.Email)
			if len(ids) > 200 {
				ids, emails = ids[1:], emails[1:]
			}
		}
	}
	do := func(req *http.Request) []byte {
		st.Requests.Add(1)
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			if ctx.Err() == nil { // not the driver being stopped
				st.Failures.Add(1)
			}
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 != 2 {
			st.Failures.Add(1)
			return nil
		}
		return b
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		p := rng.IntN(10)
		switch {
		case p < 3 || len(ids) == 0:
			body, _ := json.Marshal(Record(rng))
			req, _ := http.NewRequest(http.MethodPost, proxyURL+"/records", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if b := do(req); b != nil {
				remember(b)
			}
		case p < 7:
			req, _ := http.NewRequest(http.MethodGet, proxyURL+"/records/"+ids[rng.IntN(len(ids))], nil)
			do(req)
		case p < 9:
			req, _ := http.NewRequest(http.MethodGet, proxyURL+"/records?limit=20", nil)
			do(req)
		default:
			req, _ := http.NewRequest(http.MethodGet, proxyURL+"/records?email="+url.QueryEscape(emails[rng.IntN(len(emails))]), nil)
			do(req)
		}
	}
}
