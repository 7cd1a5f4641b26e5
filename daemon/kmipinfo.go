package daemon

import (
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources/kmip"
)

// kmipDetails fills a KMIP source's part of its GET /v1/sources entry,
// translating the source's own terms to the wire's: its rings (metadata
// only), its client identity and TLS settings, and its latest poll.
func kmipDetails(s *kmip.Source) func(*api.SourceInfo) {
	return func(info *api.SourceInfo) {
		for _, r := range s.Rings() {
			wire := api.RingInfo{Application: r.Application, Pattern: r.Pattern, Capacity: r.Capacity, Generations: r.Generations,
				LastChange: r.LastChange, Rule: r.Rule}
			if r.NextOut != nil {
				no := api.NextOut(*r.NextOut)
				wire.NextOut = &no
			}
			info.Rings = append(info.Rings, wire)
		}
		client := api.KMIPClient(s.Client())
		info.Client = &client
		if p := s.LastPoll(); !p.Started.IsZero() {
			poll := api.KMIPPoll(p)
			info.Poll = &poll
		}
	}
}
