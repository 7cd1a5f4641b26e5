package tuitest

import (
	"context"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/common"
)

// Unserved answers every method of common.Backend but the inventory's as a
// daemon that does not serve the route does (404, "no such endpoint"). A
// test backend embeds it and implements the rest: the TUI offers nothing
// where the daemon serves nothing.
type Unserved struct{}

var _ common.Backend = struct {
	common.Inventory
	Unserved
}{}

func unserved() error {
	return &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound, Message: "no such endpoint (the test backend does not serve it)"}
}

func (Unserved) Sync(context.Context, string) (*api.SyncResult, error)       { return nil, unserved() }
func (Unserved) CloudSources(context.Context) ([]api.CloudSourceInfo, error) { return nil, unserved() }
func (Unserved) CloudKeyOp(context.Context, string, string, string, string) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) CloudVersionOp(context.Context, string, string, string, string, string) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) UpdateCloudKey(context.Context, string, string, api.UpdateKeyRequest) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) CreateCloudKey(context.Context, string, api.CreateKeyRequest) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) UploadCloudKey(context.Context, string, api.UploadKeyRequest) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) BackupCloudKey(context.Context, string, string) (*api.BackupInfo, error) {
	return nil, unserved()
}
func (Unserved) CloudBackups(context.Context) ([]api.BackupInfo, error) { return nil, unserved() }
func (Unserved) RestoreCloudBackup(context.Context, string, api.RestoreRequest) (*api.CloudKeyResult, error) {
	return nil, unserved()
}
func (Unserved) DeleteCloudBackup(context.Context, string) error { return unserved() }
func (Unserved) CloudRotationPolicy(context.Context, string, string) (*api.RotationPolicy, error) {
	return nil, unserved()
}
func (Unserved) SetCloudRotationPolicy(context.Context, string, string, api.RotationPolicy) (*api.RotationPolicy, error) {
	return nil, unserved()
}
func (Unserved) KMIPCert(context.Context, string) (*api.CertInfo, error) { return nil, unserved() }
func (Unserved) KMIPCSR(context.Context, string, api.CSRRequest) (*api.CSRResponse, error) {
	return nil, unserved()
}
func (Unserved) KMIPInstallCert(context.Context, string, api.InstallCertRequest) (*api.CertInfo, error) {
	return nil, unserved()
}
func (Unserved) KMIPImportKeystore(context.Context, string, api.ImportKeystoreRequest) (*api.CertInfo, error) {
	return nil, unserved()
}
func (Unserved) AgingReport(context.Context, api.ReportQuery) (*api.AgingReport, error) {
	return nil, unserved()
}
func (Unserved) ActivityReport(context.Context, api.ReportQuery) (*api.ActivityReport, error) {
	return nil, unserved()
}
func (Unserved) UsageReport(context.Context, api.ReportQuery) (*report.Usage, error) {
	return nil, unserved()
}
func (Unserved) Proxy(context.Context) ([]api.ProxyStatus, error) { return nil, unserved() }

func (Unserved) Schedules(context.Context) ([]api.ScheduleInfo, error) { return nil, unserved() }
func (Unserved) Schedule(context.Context, string, int64) (*api.ScheduleDetail, error) {
	return nil, unserved()
}
func (Unserved) DryRunSchedule(context.Context, string) (*api.DryRun, error) { return nil, unserved() }
func (Unserved) RotateApp(context.Context, string, string) (*api.AppRotation, error) {
	return nil, unserved()
}
func (Unserved) RunSchedule(context.Context, string) (*schedule.Run, error) { return nil, unserved() }
func (Unserved) ScheduleAction(context.Context, string, string) error       { return unserved() }
