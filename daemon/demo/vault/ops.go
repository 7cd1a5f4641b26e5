package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys/fake"
)

// reqInfo carries the error message of a failed operation from the fake
// server's callbacks to the HTTP front, which writes Azure's error body.
type reqInfo struct{ msg string }

type reqInfoKey struct{}

func fail(ctx context.Context, e *azfake.ErrorResponder, status int, code, format string, a ...any) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.msg = fmt.Sprintf(format, a...)
	}
	e.SetResponseError(status, code)
}

var nameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// splitName works around the fake's path parsing, which puts "name/version"
// into the name.
func splitName(name, version string) (string, string) {
	if version == "" {
		if n, v, ok := strings.Cut(name, "/"); ok {
			return n, strings.TrimSuffix(v, "/")
		}
	}
	return strings.TrimSuffix(name, "/"), version
}

// fakeServer builds the azkeys fake server whose callbacks act on the state.
func (s *Server) fakeServer() *fake.Server {
	st := s.st
	return &fake.Server{
		CreateKey: func(ctx context.Context, name string, p azkeys.CreateKeyParameters, _ *azkeys.CreateKeyOptions) (resp azfake.Responder[azkeys.CreateKeyResponse], e azfake.ErrorResponder) {
			if !nameRE.MatchString(name) {
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name: %s", name)
				return
			}
			v := &version{enabled: true}
			if p.Kty == nil {
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "Property kty is required")
				return
			}
			v.kty = strings.TrimSuffix(string(*p.Kty), "-HSM")
			switch v.kty {
			case "RSA":
				v.size = 2048
				if p.KeySize != nil {
					v.size = int(*p.KeySize)
				}
				if v.size != 2048 && v.size != 3072 && v.size != 4096 {
					fail(ctx, &e, http.StatusBadRequest, "BadParameter", "Invalid key size %d", v.size)
					return
				}
			case "EC":
				v.curve = "P-256"
				if p.Curve != nil {
					v.curve = string(*p.Curve)
				}
				if curveSize(v.curve) == 0 {
					fail(ctx, &e, http.StatusBadRequest, "BadParameter", "Invalid curve name %s", v.curve)
					return
				}
				v.size = curveSize(v.curve)
			default:
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "Key type %s is not supported by this vault", *p.Kty)
				return
			}
			if err := v.ensureMaterial(); err != nil {
				fail(ctx, &e, http.StatusInternalServerError, "InternalError", "%v", err)
				return
			}
			b, err := s.add(name, v, p.KeyAttributes, p.Tags)
			return answer(ctx, azkeys.CreateKeyResponse{KeyBundle: b}, err)
		},
		ImportKey: func(ctx context.Context, name string, p azkeys.ImportKeyParameters, _ *azkeys.ImportKeyOptions) (resp azfake.Responder[azkeys.ImportKeyResponse], e azfake.ErrorResponder) {
			if !nameRE.MatchString(name) {
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name: %s", name)
				return
			}
			v, err := fromJWK(p.Key)
			if err != nil {
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "%v", err)
				return
			}
			v.enabled = true
			b, err := s.add(name, v, p.KeyAttributes, p.Tags)
			return answer(ctx, azkeys.ImportKeyResponse{KeyBundle: b}, err)
		},
		GetKey: func(ctx context.Context, name, ver string, _ *azkeys.GetKeyOptions) (azfake.Responder[azkeys.GetKeyResponse], azfake.ErrorResponder) {
			name, ver = splitName(name, ver)
			return onLive(ctx, st, name, ver, func(k *key, v *version) (azkeys.GetKeyResponse, error) {
				err := v.ensureMaterial()
				return azkeys.GetKeyResponse{KeyBundle: s.bundle(k, v)}, err
			})
		},
		UpdateKey: func(ctx context.Context, name, ver string, p azkeys.UpdateKeyParameters, _ *azkeys.UpdateKeyOptions) (azfake.Responder[azkeys.UpdateKeyResponse], azfake.ErrorResponder) {
			name, ver = splitName(name, ver)
			return onLive(ctx, st, name, ver, func(k *key, v *version) (azkeys.UpdateKeyResponse, error) {
				applyAttrs(v, p.KeyAttributes)
				if p.Tags != nil {
					v.tags = fromPtrTags(p.Tags)
				}
				v.updated = st.clock()
				_ = v.ensureMaterial()
				return azkeys.UpdateKeyResponse{KeyBundle: s.bundle(k, v)}, nil
			})
		},
		RotateKey: func(ctx context.Context, name string, _ *azkeys.RotateKeyOptions) (azfake.Responder[azkeys.RotateKeyResponse], azfake.ErrorResponder) {
			return onLive(ctx, st, name, "", func(k *key, _ *version) (azkeys.RotateKeyResponse, error) {
				v, err := st.rotate(k)
				if err != nil {
					return azkeys.RotateKeyResponse{}, refuse(http.StatusBadRequest, "BadParameter", err)
				}
				return azkeys.RotateKeyResponse{KeyBundle: s.bundle(k, v)}, nil
			})
		},
		DeleteKey: func(ctx context.Context, name string, _ *azkeys.DeleteKeyOptions) (azfake.Responder[azkeys.DeleteKeyResponse], azfake.ErrorResponder) {
			return onLive(ctx, st, name, "", func(k *key, _ *version) (azkeys.DeleteKeyResponse, error) {
				st.softDelete(k)
				return azkeys.DeleteKeyResponse{DeletedKey: s.deletedKey(k)}, nil
			})
		},
		GetDeletedKey: func(ctx context.Context, name string, _ *azkeys.GetDeletedKeyOptions) (azfake.Responder[azkeys.GetDeletedKeyResponse], azfake.ErrorResponder) {
			return onDeleted(ctx, st, name, "", http.StatusOK, func(k *key) azkeys.GetDeletedKeyResponse {
				return azkeys.GetDeletedKeyResponse{DeletedKey: s.deletedKey(k)}
			})
		},
		RecoverDeletedKey: func(ctx context.Context, name string, _ *azkeys.RecoverDeletedKeyOptions) (azfake.Responder[azkeys.RecoverDeletedKeyResponse], azfake.ErrorResponder) {
			return onDeleted(ctx, st, name, "", http.StatusOK, func(k *key) azkeys.RecoverDeletedKeyResponse {
				st.recover(k)
				return azkeys.RecoverDeletedKeyResponse{KeyBundle: s.bundle(k, k.current())}
			})
		},
		PurgeDeletedKey: func(ctx context.Context, name string, _ *azkeys.PurgeDeletedKeyOptions) (azfake.Responder[azkeys.PurgeDeletedKeyResponse], azfake.ErrorResponder) {
			return onDeleted(ctx, st, name, " (only a soft-deleted key can be purged)", http.StatusNoContent, func(k *key) azkeys.PurgeDeletedKeyResponse {
				st.purge(k)
				return azkeys.PurgeDeletedKeyResponse{}
			})
		},
		BackupKey: func(ctx context.Context, name string, _ *azkeys.BackupKeyOptions) (azfake.Responder[azkeys.BackupKeyResponse], azfake.ErrorResponder) {
			return onLive(ctx, st, name, "", func(k *key, _ *version) (azkeys.BackupKeyResponse, error) {
				blob, err := s.backup(k)
				return azkeys.BackupKeyResponse{BackupKeyResult: azkeys.BackupKeyResult{Value: blob}}, err
			})
		},
		RestoreKey: func(ctx context.Context, p azkeys.RestoreKeyParameters, _ *azkeys.RestoreKeyOptions) (resp azfake.Responder[azkeys.RestoreKeyResponse], e azfake.ErrorResponder) {
			k, err := s.restore(p.KeyBackup)
			if err != nil {
				fail(ctx, &e, http.StatusBadRequest, "BadParameter", "%v", err)
				return
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			if _, ok := st.keys[k.name]; ok {
				fail(ctx, &e, http.StatusConflict, "Conflict", "Key %s already exists (or is soft-deleted); purge it before restoring", k.name)
				return
			}
			st.keys[k.name] = k
			st.gen++
			resp.SetResponse(http.StatusOK, azkeys.RestoreKeyResponse{KeyBundle: s.bundle(k, k.current())}, nil)
			return
		},
		GetKeyRotationPolicy: func(ctx context.Context, name string, _ *azkeys.GetKeyRotationPolicyOptions) (azfake.Responder[azkeys.GetKeyRotationPolicyResponse], azfake.ErrorResponder) {
			return onLive(ctx, st, name, "", func(k *key, _ *version) (azkeys.GetKeyRotationPolicyResponse, error) {
				return azkeys.GetKeyRotationPolicyResponse{KeyRotationPolicy: s.policyOut(k)}, nil
			})
		},
		UpdateKeyRotationPolicy: func(ctx context.Context, name string, p azkeys.KeyRotationPolicy, _ *azkeys.UpdateKeyRotationPolicyOptions) (azfake.Responder[azkeys.UpdateKeyRotationPolicyResponse], azfake.ErrorResponder) {
			return onLive(ctx, st, name, "", func(k *key, _ *version) (azkeys.UpdateKeyRotationPolicyResponse, error) {
				pol, err := policyIn(p)
				if err != nil {
					return azkeys.UpdateKeyRotationPolicyResponse{}, refuse(http.StatusBadRequest, "BadParameter", err)
				}
				now := st.clock()
				pol.updated = now
				pol.created = now
				if k.policy != nil {
					pol.created = k.policy.created
				}
				k.policy = pol
				return azkeys.UpdateKeyRotationPolicyResponse{KeyRotationPolicy: s.policyOut(k)}, nil
			})
		},
	}
}

// refusal is an error the vault answers with an HTTP status and an Azure
// error code; any other error an operation returns is an InternalError.
type refusal struct {
	status int
	code   string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }

func refuse(status int, code string, err error) error { return &refusal{status, code, err} }

// onLive answers a callback that acts on version ver ("" = current) of the
// live key called name: under the state lock, a key or version missing (or
// the key soft-deleted) is refused as Key Vault does, otherwise op's answer
// (or its error) is sent.
func onLive[T any](ctx context.Context, st *state, name, ver string, op func(*key, *version) (T, error)) (resp azfake.Responder[T], e azfake.ErrorResponder) {
	st.mu.Lock()
	defer st.mu.Unlock()
	k, v := st.live(name, ver)
	if v == nil {
		id := name
		if ver != "" {
			id += "/" + ver
		}
		fail(ctx, &e, http.StatusNotFound, "KeyNotFound", "A key with (name/id) %s was not found in this key vault.", id)
		return
	}
	out, err := op(k, v)
	return answer(ctx, out, err)
}

// answer ends a callback: out with 200 OK, or err as its refusal says (an
// InternalError for any other error).
func answer[T any](ctx context.Context, out T, err error) (resp azfake.Responder[T], e azfake.ErrorResponder) {
	if err != nil {
		r := &refusal{http.StatusInternalServerError, "InternalError", err}
		errors.As(err, &r)
		fail(ctx, &e, r.status, r.code, "%v", r.err)
		return
	}
	resp.SetResponse(http.StatusOK, out, nil)
	return
}

// add stores v, with the attributes and tags asked for, as the new current
// version of the key called name; a Conflict while a deleted key holds the
// name.
func (s *Server) add(name string, v *version, a *azkeys.KeyAttributes, tags map[string]*string) (azkeys.KeyBundle, error) {
	applyAttrs(v, a)
	v.tags = fromPtrTags(tags)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k, err := s.st.addVersion(name, v)
	if err != nil {
		return azkeys.KeyBundle{}, refuse(http.StatusConflict, "Conflict", err)
	}
	return s.bundle(k, v), nil
}

// onDeleted answers a callback that acts on the soft-deleted key called
// name: under the state lock, a key missing or not deleted is refused as
// Key Vault does (hint added to the message), otherwise op's answer is sent
// with status.
func onDeleted[T any](ctx context.Context, st *state, name, hint string, status int, op func(*key) T) (resp azfake.Responder[T], e azfake.ErrorResponder) {
	st.mu.Lock()
	defer st.mu.Unlock()
	k := st.keys[name]
	if k == nil || k.deleted == nil {
		fail(ctx, &e, http.StatusNotFound, "KeyNotFound", "Deleted Key not found: %s%s", name, hint)
		return
	}
	resp.SetResponse(status, op(k), nil)
	return
}

// live returns a live key and one of its versions ("" = current).
func (st *state) live(name, ver string) (*key, *version) {
	k := st.keys[name]
	if k == nil || k.deleted != nil {
		return nil, nil
	}
	return k, k.version(ver)
}

// addVersion adds v as the new current version of name (creating the key).
func (st *state) addVersion(name string, v *version) (*key, error) {
	k := st.keys[name]
	if k != nil && k.deleted != nil {
		return nil, fmt.Errorf("Key %s is currently in a deleted but recoverable state, and its name cannot be reused; recover or purge it", name)
	}
	now := st.clock()
	v.id = newVersionID()
	if v.created.IsZero() {
		v.created = now
	}
	if v.updated.IsZero() {
		v.updated = v.created
	}
	if k == nil {
		k = &key{name: name}
		st.keys[name] = k
		st.gen++
	}
	k.versions = append(k.versions, v)
	return k, nil
}

func (st *state) rotate(k *key) (*version, error) {
	cur := k.current()
	v := &version{kty: cur.kty, curve: cur.curve, size: cur.size, enabled: true, tags: cloneVersion(cur).tags}
	if v.kty == "oct" {
		return nil, fmt.Errorf("imported symmetric key %s cannot be rotated by the vault", k.name)
	}
	if err := v.ensureMaterial(); err != nil {
		return nil, err
	}
	if k.policy != nil && k.policy.expiryTime != "" {
		if d, err := parseISODuration(k.policy.expiryTime); err == nil {
			exp := st.clock().Add(d)
			v.expires = &exp
		}
	}
	if _, err := st.addVersion(k.name, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (st *state) softDelete(k *key) {
	now := st.clock()
	purge := now.Add(st.retention)
	k.deleted, k.purgeAt = &now, &purge
	st.gen++
}

// recover brings a soft-deleted key back.
func (st *state) recover(k *key) {
	k.deleted, k.purgeAt = nil, nil
	st.gen++
}

// purge removes a soft-deleted key for good.
func (st *state) purge(k *key) {
	delete(st.keys, k.name)
	st.gen++
}

func applyAttrs(v *version, a *azkeys.KeyAttributes) {
	if a == nil {
		return
	}
	if a.Enabled != nil {
		v.enabled = *a.Enabled
	}
	if a.Expires != nil {
		t := a.Expires.UTC().Truncate(time.Second)
		v.expires = &t
	}
	if a.NotBefore != nil {
		t := a.NotBefore.UTC().Truncate(time.Second)
		v.notBefore = &t
	}
}

func fromPtrTags(t map[string]*string) map[string]string {
	if t == nil {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func toPtrTags(t map[string]string) map[string]*string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]*string, len(t))
	for k, v := range t {
		out[k] = to.Ptr(v)
	}
	return out
}

func (s *Server) kid(k *key, v *version) *azkeys.ID {
	id := azkeys.ID(s.URL + "/keys/" + k.name + "/" + v.id)
	return &id
}

func (s *Server) attrs(v *version) *azkeys.KeyAttributes {
	return &azkeys.KeyAttributes{
		Enabled:         to.Ptr(v.enabled),
		Created:         to.Ptr(v.created),
		Updated:         to.Ptr(v.updated),
		Expires:         v.expires,
		NotBefore:       v.notBefore,
		RecoverableDays: to.Ptr[int32](90),
		RecoveryLevel:   to.Ptr("Recoverable+Purgeable"),
	}
}

// bundle is a version as Azure returns it: attributes, tags and the public
// part of the key (never private material).
func (s *Server) bundle(k *key, v *version) azkeys.KeyBundle {
	jwk := &azkeys.JSONWebKey{KID: s.kid(k, v), Kty: to.Ptr(azkeys.KeyType(v.kty))}
	switch p := v.priv.(type) {
	case *rsa.PrivateKey:
		jwk.N = p.N.Bytes()
		jwk.E = big.NewInt(int64(p.E)).Bytes()
		jwk.KeyOps = []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationEncrypt), to.Ptr(azkeys.KeyOperationDecrypt),
			to.Ptr(azkeys.KeyOperationWrapKey), to.Ptr(azkeys.KeyOperationUnwrapKey), to.Ptr(azkeys.KeyOperationSign), to.Ptr(azkeys.KeyOperationVerify)}
	case *ecdsa.PrivateKey:
		jwk.Crv = to.Ptr(azkeys.CurveName(v.curve))
		size := (p.Curve.Params().BitSize + 7) / 8
		jwk.X = p.X.FillBytes(make([]byte, size))
		jwk.Y = p.Y.FillBytes(make([]byte, size))
		jwk.KeyOps = []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationSign), to.Ptr(azkeys.KeyOperationVerify)}
	}
	if v.kty == "oct" {
		jwk.Kty = to.Ptr(azkeys.KeyTypeOctHSM)
		jwk.KeyOps = []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationWrapKey), to.Ptr(azkeys.KeyOperationUnwrapKey)}
	}
	return azkeys.KeyBundle{Key: jwk, Attributes: s.attrs(v), Tags: toPtrTags(v.tags)}
}

func (s *Server) deletedKey(k *key) azkeys.DeletedKey {
	b := s.bundle(k, k.current())
	return azkeys.DeletedKey{Key: b.Key, Attributes: b.Attributes, Tags: b.Tags,
		RecoveryID: to.Ptr(s.URL + "/deletedkeys/" + k.name), DeletedDate: k.deleted, ScheduledPurgeDate: k.purgeAt}
}

// fromJWK turns an imported JSON web key into a version holding material.
func fromJWK(j *azkeys.JSONWebKey) (*version, error) {
	if j == nil || j.Kty == nil {
		return nil, fmt.Errorf("the key to import has no kty")
	}
	v := &version{kty: strings.TrimSuffix(string(*j.Kty), "-HSM")}
	switch v.kty {
	case "RSA":
		if len(j.N) == 0 || len(j.E) == 0 || len(j.D) == 0 || len(j.P) == 0 || len(j.Q) == 0 {
			return nil, fmt.Errorf("an RSA key to import needs n, e, d, p and q")
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(j.N), E: int(new(big.Int).SetBytes(j.E).Int64())},
			D: new(big.Int).SetBytes(j.D), Primes: []*big.Int{new(big.Int).SetBytes(j.P), new(big.Int).SetBytes(j.Q)}}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("the RSA key to import is not valid: %v", err)
		}
		k.Precompute()
		v.priv, v.size = k, k.N.BitLen()
		if v.size != 2048 && v.size != 3072 && v.size != 4096 {
			return nil, fmt.Errorf("RSA key size %d is not supported (2048, 3072, 4096)", v.size)
		}
	case "EC":
		if j.Crv == nil {
			return nil, fmt.Errorf("an EC key to import needs crv")
		}
		c, err := curve(string(*j.Crv))
		if err != nil {
			return nil, err
		}
		d := new(big.Int).SetBytes(j.D)
		if d.Sign() == 0 || d.Cmp(c.Params().N) >= 0 {
			return nil, fmt.Errorf("the EC key to import has no valid private scalar d")
		}
		k := &ecdsa.PrivateKey{D: d}
		k.Curve = c
		k.X, k.Y = c.ScalarBaseMult(d.Bytes()) //nolint:staticcheck // public point for validation only
		if new(big.Int).SetBytes(j.X).Cmp(k.X) != 0 || new(big.Int).SetBytes(j.Y).Cmp(k.Y) != 0 {
			return nil, fmt.Errorf("the EC key to import: x, y do not match d")
		}
		v.priv, v.curve, v.size = k, string(*j.Crv), curveSize(string(*j.Crv))
	case "oct":
		if n := len(j.K); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("a symmetric key to import must be 128, 192 or 256 bits, not %d", n*8)
		}
		v.sym, v.size = append([]byte(nil), j.K...), len(j.K)*8
	default:
		return nil, fmt.Errorf("key type %s cannot be imported", *j.Kty)
	}
	return v, nil
}

// randomVersion is used by the seeding helpers.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
