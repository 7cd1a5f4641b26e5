package render

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keyward/keyward/engine/schedule"
)

// ScheduleSelection says in words what a schedule selects and keeps:
// "sources kms-prod, vault-emu; names acme.*; tags env=prod; aging
// expiring-30d; keeping 3" ("" when it selects everything). The CLI's
// schedule show and the Schedules pane both say it so.
func ScheduleSelection(s schedule.Spec) string {
	var parts []string
	if len(s.Sources) > 0 {
		parts = append(parts, "sources "+strings.Join(s.Sources, ", "))
	}
	if s.Pattern != "" {
		parts = append(parts, "names "+s.Pattern)
	}
	if len(s.Tags) > 0 {
		tags := make([]string, 0, len(s.Tags))
		for k, v := range s.Tags {
			tags = append(tags, k+"="+v)
		}
		sort.Strings(tags)
		parts = append(parts, "tags "+strings.Join(tags, ", "))
	}
	if s.Aging != "" {
		parts = append(parts, "aging "+s.Aging)
	}
	if s.Report != "" {
		parts = append(parts, fmt.Sprintf("%s report to %s", s.Report, s.Dir))
	}
	if s.Kind == schedule.KindBackup || s.Kind == schedule.KindReport {
		parts = append(parts, fmt.Sprintf("keeping %d", max(s.Keep, 1)))
	}
	return strings.Join(parts, "; ")
}
