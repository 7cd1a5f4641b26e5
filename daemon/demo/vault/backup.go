package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/keyward/keyward/daemon/cloud"
)

// backupMagic starts every emulator backup blob. Like Azure's, a blob is
// opaque and sealed: it restores only into a vault of the same geography.
var backupMagic = []byte("KWVAULTBK1")

type backupVersion struct {
	ID        string            `json:"id"`
	Kty       string            `json:"kty"`
	Curve     string            `json:"crv,omitempty"`
	Size      int               `json:"size"`
	PKCS8     []byte            `json:"pkcs8,omitempty"`
	Sym       []byte            `json:"k,omitempty"`
	Enabled   bool              `json:"enabled"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	NotBefore *time.Time        `json:"nbf,omitempty"`
	Expires   *time.Time        `json:"exp,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
}

type backupKey struct {
	Name     string          `json:"name"`
	Versions []backupVersion `json:"versions"`
	Policy   *backupPolicy   `json:"policy,omitempty"`
}

type backupPolicy struct {
	RotateAfter, RotateBefore, NotifyBefore, ExpiryTime string
}

func (s *Server) geoAEAD() (cipher.AEAD, error) {
	k := sha256.Sum256([]byte("keyward vault emulator backup key\x00" + s.opts.Geography))
	b, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// backup seals a key with all its versions.
func (s *Server) backup(k *key) ([]byte, error) {
	bk := backupKey{Name: k.name}
	if p := k.policy; p != nil {
		bk.Policy = &backupPolicy{p.rotateAfter, p.rotateBefore, p.notifyBefore, p.expiryTime}
	}
	for _, v := range k.versions {
		if err := v.ensureMaterial(); err != nil && v.kty != "oct" {
			return nil, err
		}
		bv := backupVersion{ID: v.id, Kty: v.kty, Curve: v.curve, Size: v.size, Enabled: v.enabled, Created: v.created,
			Updated: v.updated, NotBefore: v.notBefore, Expires: v.expires, Tags: v.tags, Sym: v.sym}
		if v.priv != nil {
			der, err := x509.MarshalPKCS8PrivateKey(v.priv)
			if err != nil {
				return nil, err
			}
			bv.PKCS8 = der
		}
		bk.Versions = append(bk.Versions, bv)
	}
	plain, err := json.Marshal(bk)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	aead, err := s.geoAEAD()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append(append([]byte{}, backupMagic...), nonce...)
	return aead.Seal(out, nonce, plain, backupMagic), nil
}

// restore opens a blob sealed by a vault of the same geography.
func (s *Server) restore(blob []byte) (*key, error) {
	if !bytes.HasPrefix(blob, backupMagic) {
		return nil, errors.New("the backup blob is not a Key Vault key backup")
	}
	aead, err := s.geoAEAD()
	if err != nil {
		return nil, err
	}
	rest := blob[len(backupMagic):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("the backup blob is truncated")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], backupMagic)
	if err != nil {
		return nil, errors.New("the backup blob was taken in another geography or is corrupt; it can only be restored into a vault of the same geography and subscription")
	}
	defer clear(plain)
	var bk backupKey
	if err := json.Unmarshal(plain, &bk); err != nil || bk.Name == "" || len(bk.Versions) == 0 {
		return nil, errors.New("the backup blob holds no key")
	}
	k := &key{name: bk.Name}
	if p := bk.Policy; p != nil {
		now := s.st.clock()
		k.policy = &policy{rotateAfter: p.RotateAfter, rotateBefore: p.RotateBefore, notifyBefore: p.NotifyBefore, expiryTime: p.ExpiryTime, created: now, updated: now}
	}
	for _, bv := range bk.Versions {
		v := &version{id: bv.ID, kty: bv.Kty, curve: bv.Curve, size: bv.Size, enabled: bv.Enabled, created: bv.Created,
			updated: bv.Updated, notBefore: bv.NotBefore, expires: bv.Expires, tags: bv.Tags, sym: bv.Sym}
		if len(bv.PKCS8) > 0 {
			priv, err := x509.ParsePKCS8PrivateKey(bv.PKCS8)
			if err != nil {
				return nil, fmt.Errorf("the backup blob holds a damaged key: %v", err)
			}
			switch priv.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey:
				v.priv = priv
			default:
				return nil, errors.New("the backup blob holds an unsupported key type")
			}
		}
		k.versions = append(k.versions, v)
	}
	return k, nil
}

// policyOut renders a key's rotation policy as Azure does (a default
// notify-30-days-before-expiry policy when none was set).
func (s *Server) policyOut(k *key) azkeys.KeyRotationPolicy {
	p := k.policy
	out := azkeys.KeyRotationPolicy{ID: to.Ptr(s.URL + "/keys/" + k.name + "/rotationpolicy"), Attributes: &azkeys.KeyRotationPolicyAttributes{}}
	if p == nil {
		out.LifetimeActions = []*azkeys.LifetimeAction{{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionNotify)},
			Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr("P30D")}}}
		return out
	}
	out.Attributes.Created, out.Attributes.Updated = to.Ptr(p.created), to.Ptr(p.updated)
	if p.expiryTime != "" {
		out.Attributes.ExpiryTime = to.Ptr(p.expiryTime)
	}
	if p.rotateAfter != "" || p.rotateBefore != "" {
		t := &azkeys.LifetimeActionTrigger{}
		if p.rotateAfter != "" {
			t.TimeAfterCreate = to.Ptr(p.rotateAfter)
		} else {
			t.TimeBeforeExpiry = to.Ptr(p.rotateBefore)
		}
		out.LifetimeActions = append(out.LifetimeActions, &azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)}, Trigger: t})
	}
	if p.notifyBefore != "" {
		out.LifetimeActions = append(out.LifetimeActions, &azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionNotify)},
			Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr(p.notifyBefore)}})
	}
	return out
}

// policyIn validates a rotation policy sent by a client.
func policyIn(in azkeys.KeyRotationPolicy) (*policy, error) {
	p := &policy{}
	check := func(s *string) (string, error) {
		if s == nil {
			return "", nil
		}
		if _, err := cloud.ParseISODuration(*s); err != nil {
			return "", err
		}
		return *s, nil
	}
	var err error
	if in.Attributes != nil {
		if p.expiryTime, err = check(in.Attributes.ExpiryTime); err != nil {
			return nil, err
		}
	}
	for _, a := range in.LifetimeActions {
		if a == nil || a.Action == nil || a.Action.Type == nil || a.Trigger == nil {
			return nil, errors.New("a lifetime action needs an action type and a trigger")
		}
		switch {
		case equalFoldAction(*a.Action.Type, azkeys.KeyRotationPolicyActionRotate):
			if p.rotateAfter, err = check(a.Trigger.TimeAfterCreate); err != nil {
				return nil, err
			}
			if p.rotateBefore, err = check(a.Trigger.TimeBeforeExpiry); err != nil {
				return nil, err
			}
			if p.rotateAfter != "" && p.rotateBefore != "" {
				return nil, errors.New("a rotate action takes timeAfterCreate or timeBeforeExpiry, not both")
			}
		case equalFoldAction(*a.Action.Type, azkeys.KeyRotationPolicyActionNotify):
			if p.notifyBefore, err = check(a.Trigger.TimeBeforeExpiry); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown lifetime action %q", *a.Action.Type)
		}
	}
	if p.rotateBefore != "" && p.expiryTime == "" {
		return nil, errors.New("timeBeforeExpiry needs an expiryTime in the policy attributes")
	}
	return p, nil
}

func equalFoldAction(a, b azkeys.KeyRotationPolicyAction) bool {
	return bytes.EqualFold([]byte(a), []byte(b))
}

func parseISODuration(s string) (time.Duration, error) { return cloud.ParseISODuration(s) }
