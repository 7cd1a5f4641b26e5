package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/engine"
)

// Cloud key life-cycle API (admin only except the GETs):
//
//	GET  /v1/cloud/sources                          []CloudSourceInfo
//	POST /v1/cloud/{source}/keys                    CreateKeyRequest  -> CloudKeyResult
//	POST /v1/cloud/{source}/upload                  UploadKeyRequest  -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/rotate                        -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/update      UpdateKeyRequest  -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/delete      ConfirmRequest    -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/recover     [ConfirmRequest]  -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/purge       ConfirmRequest    -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/backup                        -> BackupInfo
//	POST /v1/cloud/{source}/keys/{name}/delete-material ConfirmRequest -> CloudKeyResult
//	POST /v1/cloud/{source}/keys/{name}/make-primary {"version"}      -> CloudKeyResult
//	GET  /v1/cloud/{source}/keys/{name}/policy                        -> RotationPolicy
//	POST /v1/cloud/{source}/keys/{name}/policy      RotationPolicy    -> RotationPolicy
//	GET  /v1/cloud/backups                                            -> {"backups": []BackupInfo}
//	POST /v1/cloud/backups/{id}/restore             RestoreRequest    -> CloudKeyResult
//	DELETE /v1/cloud/backups/{id}                                     -> {"deleted": id}
//	POST /v1/sync?source=S (served by the daemon)                     -> SyncResult

// CloudSourceInfo describes one cloud source and what it supports.
type CloudSourceInfo struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Address   string `json:"address"`
	Geography string `json:"geography,omitempty"`
	// Capabilities are engine.Cap* values.
	Capabilities []string `json:"capabilities"`
	// Creates are the key specs the source can create ("oct", "RSA 3072",
	// "EC P-384", "HMAC 256"), where its connector declares them.
	Creates []string `json:"creates,omitempty"`
	// CreateOptions are the choices a create request makes by tag beside
	// its spec (Google: purpose, algorithm, protection level), where its
	// connector declares them.
	CreateOptions []CreateOption `json:"create_options,omitempty"`
	// PrimaryTag is the tag whose value "true" marks the primary version
	// of a key, where the source announces version-primary (Google:
	// "gcp:primary").
	PrimaryTag string `json:"primary_tag,omitempty"`
}

// CreateOption is one choice a create request makes by a tag: left empty
// the tag is not sent (the source's default); else one of Values, or any
// value the source accepts when Values is empty.
type CreateOption struct {
	Tag    string   `json:"tag"`
	Name   string   `json:"name"`
	Hint   string   `json:"hint,omitempty"`
	Values []string `json:"values,omitempty"`
}

// CreateKeyRequest creates a key generated inside the cloud vault.
type CreateKeyRequest struct {
	Name string `json:"name"`
	// Type is RSA or EC.
	Type string `json:"type"`
	// Size is the RSA modulus size (2048, 3072, 4096).
	Size int `json:"size,omitempty"`
	// Curve is P-256, P-384 or P-521 for EC keys.
	Curve     string            `json:"curve,omitempty"`
	NotBefore *time.Time        `json:"not_before,omitempty"`
	Expires   *time.Time        `json:"expires,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Disabled  bool              `json:"disabled,omitempty"`
}

// UploadKeyRequest imports a key into the vault (bring your own key):
// generated locally (Type/Size/Curve), taken from a KMIP source's ring
// (FromSource + FromApplication: its newest active generation), or a key
// file's material (Material).
type UploadKeyRequest struct {
	CreateKeyRequest
	FromSource      string `json:"from_source,omitempty"`
	FromApplication string `json:"from_application,omitempty"`
	// Material is a key file as read (base64 in JSON): a PEM or PKCS#8
	// DER private key, or 16/32 bytes of symmetric material (or their
	// hex). Sent only by an admin, over the socket; never answered.
	Material []byte `json:"material,omitempty"`
}

// UpdateKeyRequest edits one version (latest when Version is empty). Nil
// fields are left unchanged; Tags, when non-nil, replace all tags.
type UpdateKeyRequest struct {
	Version   string            `json:"version,omitempty"`
	Enabled   *bool             `json:"enabled,omitempty"`
	NotBefore *time.Time        `json:"not_before,omitempty"`
	Expires   *time.Time        `json:"expires,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// ConfirmRequest carries the key's name typed again, required for delete
// and purge.
type ConfirmRequest struct {
	Confirm string `json:"confirm"`
	// Version, on delete and recover, names one version to delete or
	// recover instead of the whole key (Google Cloud KMS sources); on
	// make-primary, the version to make primary (Confirm stays empty).
	Version string `json:"version,omitempty"`
}

// RestoreRequest names the source to restore a backup into ("" = the
// source it was taken from) and, for a source whose imported material
// expires (engine.CapMaterialExpiry: AWS), the expiry the re-imported
// material gets instead of the one kept at upload: Expires, or NoExpiry
// (not both; neither: as kept, refused once that date has passed).
type RestoreRequest struct {
	Source   string     `json:"source,omitempty"`
	Expires  *time.Time `json:"expires,omitempty"`
	NoExpiry bool       `json:"no_expiry,omitempty"`
}

// BackupInfo describes one stored cloud backup: the domain's
// (engine/backup.go), whose JSON is also the sealed record's in SQLite.
type BackupInfo = engine.BackupInfo

// RotationPolicy is a key's automatic rotation policy. Zero durations are
// unset.
type RotationPolicy struct {
	// RotateAfter rotates the key this long after its creation.
	RotateAfter engine.Duration `json:"rotate_after,omitempty"`
	// RotateBeforeExpiry rotates the key this long before it expires.
	RotateBeforeExpiry engine.Duration `json:"rotate_before_expiry,omitempty"`
	// ExpireAfter is the expiry given to new versions.
	ExpireAfter engine.Duration `json:"expire_after,omitempty"`
	// NotifyBefore raises a near-expiry notification this long before expiry.
	NotifyBefore engine.Duration `json:"notify_before,omitempty"`
}

// CloudKeyResult is the answer to a life-cycle operation: the inventory
// rows of the key after it (one per version) and the activity recorded.
type CloudKeyResult struct {
	Keys  []engine.Key  `json:"keys"`
	Event *engine.Event `json:"event,omitempty"`
	// Recovered says the vault's answer was lost and what keyward found
	// it had done ("the answer to CreateKey was lost; keyward found the
	// key it made: …"): the operation was done once.
	Recovered string `json:"recovered,omitempty"`
}

// SyncResult is the answer to POST /v1/sync[?source=S]: the sources synced.
type SyncResult struct {
	Synced []string `json:"synced"`
}

// CloudSources lists the cloud sources and their capabilities.
func (c *Client) CloudSources(ctx context.Context) ([]CloudSourceInfo, error) {
	var out struct {
		Sources []CloudSourceInfo `json:"sources"`
	}
	return out.Sources, c.Do(ctx, http.MethodGet, "/cloud/sources", nil, nil, &out)
}

func cloudKeyPath(source, name, op string) string {
	return "/cloud/" + url.PathEscape(source) + "/keys/" + url.PathEscape(name) + "/" + op
}

// CreateCloudKey creates a key in a cloud source.
func (c *Client) CreateCloudKey(ctx context.Context, source string, r CreateKeyRequest) (*CloudKeyResult, error) {
	return call[CloudKeyResult](ctx, c, http.MethodPost, "/cloud/"+url.PathEscape(source)+"/keys", nil, r)
}

// UploadCloudKey imports a locally generated or KMIP-sourced key.
func (c *Client) UploadCloudKey(ctx context.Context, source string, r UploadKeyRequest) (*CloudKeyResult, error) {
	return call[CloudKeyResult](ctx, c, http.MethodPost, "/cloud/"+url.PathEscape(source)+"/upload", nil, r)
}

// CloudKeyOp runs rotate, recover, delete, purge or delete-material on a key. confirm is the
// key's name typed again (needed for delete and purge).
func (c *Client) CloudKeyOp(ctx context.Context, source, name, op, confirm string) (*CloudKeyResult, error) {
	return c.CloudVersionOp(ctx, source, name, op, "", confirm)
}

// CloudVersionOp runs delete, recover or make-primary on one version of a
// key (version "" = the whole key, as CloudKeyOp; make-primary needs one).
func (c *Client) CloudVersionOp(ctx context.Context, source, name, op, version, confirm string) (*CloudKeyResult, error) {
	return call[CloudKeyResult](ctx, c, http.MethodPost, cloudKeyPath(source, name, op), nil, ConfirmRequest{Confirm: confirm, Version: version})
}

// UpdateCloudKey edits a key version's attributes.
func (c *Client) UpdateCloudKey(ctx context.Context, source, name string, r UpdateKeyRequest) (*CloudKeyResult, error) {
	return call[CloudKeyResult](ctx, c, http.MethodPost, cloudKeyPath(source, name, "update"), nil, r)
}

// BackupCloudKey stores a backup of the key in the keyward database.
func (c *Client) BackupCloudKey(ctx context.Context, source, name string) (*BackupInfo, error) {
	return call[BackupInfo](ctx, c, http.MethodPost, cloudKeyPath(source, name, "backup"), nil, nil)
}

// CloudBackups lists the stored backups, newest first.
func (c *Client) CloudBackups(ctx context.Context) ([]BackupInfo, error) {
	var out struct {
		Backups []BackupInfo `json:"backups"`
	}
	return out.Backups, c.Do(ctx, http.MethodGet, "/cloud/backups", nil, nil, &out)
}

// RestoreCloudBackup restores a backup as r says (r.Source "" = where it
// came from).
func (c *Client) RestoreCloudBackup(ctx context.Context, id string, r RestoreRequest) (*CloudKeyResult, error) {
	return call[CloudKeyResult](ctx, c, http.MethodPost, "/cloud/backups/"+url.PathEscape(id)+"/restore", nil, r)
}

// DeleteCloudBackup removes a stored backup.
func (c *Client) DeleteCloudBackup(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/cloud/backups/"+url.PathEscape(id), nil, nil, nil)
}

// CloudRotationPolicy shows a key's rotation policy.
func (c *Client) CloudRotationPolicy(ctx context.Context, source, name string) (*RotationPolicy, error) {
	return call[RotationPolicy](ctx, c, http.MethodGet, cloudKeyPath(source, name, "policy"), nil, nil)
}

// SetRotationPolicy is the body of POST …/policy: the policy that replaces
// the key's, flat ({"rotate_after": "90d", …}). A policy with no setting
// would clear every one, so the daemon refuses it unless Clear says that
// is meant: {} alone never wipes a policy.
type SetRotationPolicy struct {
	RotationPolicy
	// Clear removes every setting; it must be the only field.
	Clear bool `json:"clear,omitempty"`
}

// SetCloudRotationPolicy replaces a key's rotation policy; a zero policy
// clears it (sent as {"clear": true}).
func (c *Client) SetCloudRotationPolicy(ctx context.Context, source, name string, p RotationPolicy) (*RotationPolicy, error) {
	body := SetRotationPolicy{RotationPolicy: p, Clear: p == RotationPolicy{}}
	return call[RotationPolicy](ctx, c, http.MethodPost, cloudKeyPath(source, name, "policy"), nil, body)
}
