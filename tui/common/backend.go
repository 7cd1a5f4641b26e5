package common

import (
	"context"
	"errors"
	"strings"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/engine/schedule"
)

// The TUI's contract with the daemon, area by area: every method the panes
// call, with the exact signatures of *api.Client. Backend is all of them;
// the assertion below makes a renamed or changed client method a compile
// error instead of a menu action that silently disappears. What a source
// can do is not found out from the backend's type but announced by the
// daemon: a cloud source's capabilities in GET /v1/sources and GET
// /v1/cloud/sources; a route an older daemon does not serve answers 404
// (Unserved).
type (
	// Inventory is the keys, the sources, the status and the event stream.
	Inventory interface {
		Status(ctx context.Context) (*api.Status, error)
		Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error)
		Key(ctx context.Context, id string) (*api.KeyDetail, error)
		Sources(ctx context.Context) ([]api.SourceInfo, error)
		Watch(ctx context.Context, fn func(api.Notification)) error
	}

	// Syncer asks the daemon to sync a source ("" every source) now.
	Syncer interface {
		Sync(ctx context.Context, source string) (*api.SyncResult, error)
	}

	// CloudKeys is the life cycle of keys in cloud vaults and their
	// stored backups; each source's capabilities say which apply.
	CloudKeys interface {
		CloudSources(ctx context.Context) ([]api.CloudSourceInfo, error)
		CloudKeyOp(ctx context.Context, source, name, op, confirm string) (*api.CloudKeyResult, error)
		// CloudVersionOp is delete, recover or make-primary of one version.
		CloudVersionOp(ctx context.Context, source, name, op, version, confirm string) (*api.CloudKeyResult, error)
		UpdateCloudKey(ctx context.Context, source, name string, r api.UpdateKeyRequest) (*api.CloudKeyResult, error)
		CreateCloudKey(ctx context.Context, source string, r api.CreateKeyRequest) (*api.CloudKeyResult, error)
		UploadCloudKey(ctx context.Context, source string, r api.UploadKeyRequest) (*api.CloudKeyResult, error)
		BackupCloudKey(ctx context.Context, source, name string) (*api.BackupInfo, error)
		CloudBackups(ctx context.Context) ([]api.BackupInfo, error)
		RestoreCloudBackup(ctx context.Context, id string, r api.RestoreRequest) (*api.CloudKeyResult, error)
		DeleteCloudBackup(ctx context.Context, id string) error
		CloudRotationPolicy(ctx context.Context, source, name string) (*api.RotationPolicy, error)
		SetCloudRotationPolicy(ctx context.Context, source, name string, p api.RotationPolicy) (*api.RotationPolicy, error)
	}

	// KMIPCerts is the client identity a KMIP source presents.
	KMIPCerts interface {
		KMIPCert(ctx context.Context, source string) (*api.CertInfo, error)
		KMIPCSR(ctx context.Context, source string, req api.CSRRequest) (*api.CSRResponse, error)
		KMIPInstallCert(ctx context.Context, source string, req api.InstallCertRequest) (*api.CertInfo, error)
		KMIPImportKeystore(ctx context.Context, source string, req api.ImportKeystoreRequest) (*api.CertInfo, error)
		// RotateApp makes a KMIP application's next generation (admin).
		RotateApp(ctx context.Context, source, app string) (*api.AppRotation, error)
	}

	// Reports are the Aging, Activity and Usage panes' reports.
	Reports interface {
		AgingReport(ctx context.Context, q api.ReportQuery) (*api.AgingReport, error)
		ActivityReport(ctx context.Context, q api.ReportQuery) (*api.ActivityReport, error)
		UsageReport(ctx context.Context, q api.ReportQuery) (*report.Usage, error)
	}

	// Proxies is every proxied application's status at once.
	Proxies interface {
		Proxy(ctx context.Context) ([]api.ProxyStatus, error)
	}

	// Schedules are the daemon's schedules: read, run now, pause and
	// resume, and the dry run.
	Schedules interface {
		Schedules(ctx context.Context) ([]api.ScheduleInfo, error)
		Schedule(ctx context.Context, name string, run int64) (*api.ScheduleDetail, error)
		DryRunSchedule(ctx context.Context, name string) (*api.DryRun, error)
		RunSchedule(ctx context.Context, name string) (*schedule.Run, error)
		ScheduleAction(ctx context.Context, name, op string) error
	}

	// Backend is what the TUI needs from the daemon. *api.Client satisfies
	// it; tests use fixtures.
	Backend interface {
		Inventory
		Syncer
		CloudKeys
		KMIPCerts
		Reports
		Proxies
		Schedules
	}
)

var _ Backend = (*api.Client)(nil)

// Unserved reports that err is the daemon's answer to a route it does not
// serve (an older daemon): the pane offers nothing there rather than an
// error.
func Unserved(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == api.CodeNotFound && strings.HasPrefix(ae.Message, "no such endpoint")
}
