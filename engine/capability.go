package engine

import "fmt"

// What a key source can do with its keys: a cloud connector declares its
// set, the daemon announces it per source (GET /v1/sources,
// GET /v1/cloud/sources), and front ends offer those actions and no
// others.
const (
	CapCreate         = "create"
	CapUpload         = "upload"
	CapUploadOct      = "upload-symmetric" // symmetric key import (Managed HSM)
	CapRotate         = "rotate"
	CapUpdate         = "update"
	CapDelete         = "delete"
	CapRecover        = "recover"
	CapPurge          = "purge"
	CapBackup         = "backup"
	CapRestore        = "restore"
	CapRotationPolicy = "rotation-policy"
	// CapDeleteMaterial deletes a key's imported material, leaving the
	// key to be imported into again (AWS DeleteImportedKeyMaterial).
	CapDeleteMaterial = "delete-material"
	// CapDates: keys carry an activation (not before) and an expiry date
	// that keyward can set (Azure Key Vault; AWS and Google keys have
	// neither).
	CapDates = "dates"
	// CapMaterialExpiry: imported key material expires at a date given
	// at each import, and a re-import (restore of the copy kept at
	// upload) can give it a new one or none (AWS ImportKeyMaterial's
	// ValidTo); the key itself has no dates (no CapDates).
	CapMaterialExpiry = "material-expiry"

	// Actions on one version of a key, announced apart from the key's own
	// because a cloud that versions keys need not act on versions alone
	// (Azure deletes whole keys; an AWS key has one version in keyward,
	// acted on through the key's actions). Front ends offer a version's
	// actions from these and the daemon refuses the others.
	//
	// CapVersionEnable enables or disables one version (Azure key
	// versions, Google CryptoKeyVersions).
	CapVersionEnable = "version-enable"
	// CapVersionDelete schedules one version's destruction (Google).
	CapVersionDelete = "version-delete"
	// CapVersionRecover restores one version scheduled for destruction
	// (Google).
	CapVersionRecover = "version-recover"
	// CapVersionPrimary makes one version the key's primary, the one that
	// encrypts (Google symmetric keys).
	CapVersionPrimary = "version-primary"
)

// VersionCapabilities are the capabilities that act on one version.
var VersionCapabilities = []string{CapVersionEnable, CapVersionDelete, CapVersionRecover, CapVersionPrimary}

// NoMaterialExpiry is why a restore into source cannot give the material
// a new expiry (or none): front ends leave the choice out, and the daemon
// refuses the request with these words before it sends anything.
func NoMaterialExpiry(source string) string {
	return fmt.Sprintf("source %q cannot give restored key material an expiry (only AWS KMS imports material with one): restore without --expires or --no-expiry", source)
}

// NoDates is why a key of source, which lacks CapDates, cannot be given
// an expiry or activation date: front ends leave the fields out or refuse
// the flags with these words, and the daemon refuses the request with
// them.
func NoDates(source string) string {
	return fmt.Sprintf("source %q keeps no activation or expiry date on its keys (only Azure Key Vault keys have them)", source)
}

// TagUnsupported prefixes a tag a connector sets on one key for a
// capability its source declares but that key cannot do, with the reason
// as its value ("keyward:unsupported:backup" = "not supported: AWS cannot
// export key material"): front ends leave the action out and say why,
// and the daemon refuses it with the same words.
const TagUnsupported = "keyward:unsupported:"

// Unsupported is why this key cannot do capability although its source
// declares it ("" when it can).
func (k Key) Unsupported(capability string) string {
	return k.Tags[TagUnsupported+capability]
}
