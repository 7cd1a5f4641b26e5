package engine

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
)
