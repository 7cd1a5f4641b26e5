package localapi

import (
	"math"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
)

// maxPage is the largest page a list endpoint answers (limit).
const maxPage = 5000

// Query parameters several routes share.
var (
	limitParam  = api.IntParam("limit", 1, maxPage)
	rangeParams = []api.Param{api.TextParam("from"), api.TextParam("to"), limitParam}
	eventParams = join(api.TextParams("source", "key", "operation", "actor", "origin", "cursor"), []api.Param{api.BoolParam("comparison")})
	appParam    = api.TextParam("app")
)

// join makes one parameter list of several (never sharing their arrays).
func join(lists ...[]api.Param) []api.Param {
	var out []api.Param
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
)

var (
	user  = api.RoleUser
	admin = api.RoleAdmin
)

// table is the socket API: one line per route, grouped by area as the
// files that serve them (status.go, keys.go, reports.go, cloud.go,
// identities.go, schedules.go, proxy.go) and as the Go client's methods.
func (h *Handler) table() []Route {
	decrypt := Route{Method: post, Pattern: "/v1/decrypt", Role: admin, Params: []api.Param{appParam}, needs: proxyService, Serve: h.crypt,
		Refused: "an admin may set proxy.allow_user_decrypt = true to let users decrypt"}
	if h.s.Proxy != nil && h.s.Proxy.AllowUserDecrypt() {
		decrypt.Role, decrypt.Why = user, "proxy.allow_user_decrypt = true lets users decrypt"
	}
	return []Route{
		// status, sources, sync, the event stream
		{Method: get, Pattern: "/v1/status", Role: user, Serve: h.getStatus},
		{Method: get, Pattern: "/v1/metrics", Role: user, Serve: h.getMetrics},
		{Method: get, Pattern: "/v1/sources", Role: user, Serve: h.getSources},
		{Method: post, Pattern: "/v1/sync", Role: admin, Params: api.TextParams("source"), Serve: h.sync},
		{Method: get, Pattern: "/v1/events", Role: user, Serve: h.events},

		// the inventory
		{Method: get, Pattern: "/v1/keys", Role: user, Params: join(keyFilters, api.TextParams("cursor"), []api.Param{limitParam}), Serve: h.keys},
		{Method: get, Pattern: "/v1/keys/{id...}", Role: user, Serve: h.key},
		{Method: get, Pattern: "/v1/export/keys", Role: user, Params: join(keyFilters, api.TextParams("format"), []api.Param{api.IntParam("limit", 1, math.MaxInt32)}), Serve: h.exportKeys},

		// activity and reports
		{Method: get, Pattern: "/v1/activity", Role: user, Params: join(eventParams, rangeParams), Serve: h.activityLog},
		{Method: get, Pattern: "/v1/reports/aging", Role: user, Params: join(api.TextParams("source", "key", "cursor"), rangeParams), Serve: h.agingReport},
		{Method: get, Pattern: "/v1/reports/aging/summary", Role: user, Params: api.TextParams("source"), Serve: h.agingSummary},
		{Method: get, Pattern: "/v1/reports/activity", Role: user, Params: join(eventParams, rangeParams), Serve: h.activityReport},
		{Method: get, Pattern: "/v1/reports/usage", Role: user, Params: join(api.TextParams("app", "key", "source"), rangeParams), Serve: h.usageReport},

		// cloud key life cycles, every connector kind
		{Method: get, Pattern: "/v1/cloud/sources", Role: user, Serve: h.cloudSources},
		{Method: post, Pattern: "/v1/cloud/{source}/keys", Role: admin, needs: cloudService, Serve: h.cloudCreate},
		{Method: post, Pattern: "/v1/cloud/{source}/upload", Role: admin, needs: cloudService, Serve: h.cloudUpload},
		{Method: post, Pattern: "/v1/cloud/{source}/keys/{name}/{op}", Role: admin, needs: cloudService, Serve: h.cloudKeyOp},
		{Method: get, Pattern: "/v1/cloud/{source}/keys/{name}/policy", Role: user, needs: cloudService, Serve: h.cloudPolicy},
		{Method: get, Pattern: "/v1/cloud/backups", Role: user, needs: backupService, Serve: h.cloudBackups},
		{Method: post, Pattern: "/v1/cloud/backups/{id}/restore", Role: admin, needs: backupService, Serve: h.cloudRestore},
		{Method: del, Pattern: "/v1/cloud/backups/{id}", Role: admin, needs: backupService, Serve: h.cloudDeleteBackup},

		// KMIP client identities
		{Method: get, Pattern: "/v1/kmip/{source}/cert", Role: user, needs: identityService, Serve: h.clientCert},
		{Method: post, Pattern: "/v1/kmip/{source}/csr", Role: admin, needs: identityService, Serve: h.clientCSR},
		{Method: post, Pattern: "/v1/kmip/{source}/install", Role: admin, needs: identityService, Serve: h.clientInstall},
		{Method: post, Pattern: "/v1/kmip/{source}/import", Role: admin, needs: identityService, Serve: h.clientImport},
		{Method: post, Pattern: "/v1/kmip/{source}/apps/{app}/rotate", Role: admin, needs: appService, Serve: h.rotateApp},

		// schedules
		{Method: get, Pattern: "/v1/schedules", Role: user, needs: scheduleService, Serve: h.schedules},
		{Method: get, Pattern: "/v1/schedules/{name}", Role: user, Params: []api.Param{api.IntParam("run", 1, 1<<53)}, needs: scheduleService, Serve: h.scheduleDetail},
		{Method: get, Pattern: "/v1/schedules/{name}/dry-run", Role: user, needs: scheduleService, Serve: h.scheduleDryRun},
		{Method: post, Pattern: "/v1/schedules", Role: admin, needs: scheduleService, Serve: h.scheduleCreate},
		{Method: put, Pattern: "/v1/schedules/{name}", Role: admin, needs: scheduleService, Serve: h.scheduleEdit},
		{Method: post, Pattern: "/v1/schedules/{name}/{op}", Role: admin, needs: scheduleService, Serve: h.scheduleOp},
		{Method: del, Pattern: "/v1/schedules/{name}", Role: admin, needs: scheduleService, Serve: h.scheduleDelete},

		// the encryption proxy
		{Method: get, Pattern: "/v1/proxy", Role: user, needs: proxyService, Serve: h.proxyStatus},
		{Method: post, Pattern: "/v1/encrypt", Role: user, Params: []api.Param{appParam, api.BoolParam("deterministic")}, needs: proxyService, Serve: h.crypt,
			Why: "encrypting reads the ring and changes nothing; any user may make a token"},
		decrypt,
		{Method: post, Pattern: "/v1/rewrap", Role: admin, Params: []api.Param{appParam}, needs: proxyService, Serve: h.crypt},
	}
}
