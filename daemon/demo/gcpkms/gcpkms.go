// Package gcpkms is keyward's own stateful fake of the Google Cloud KMS
// gRPC service (google.cloud.kms.v1.KeyManagementService, and the Locations
// mixin), written for keyward's tests and demo. It is not Google's and not
// an emulator Google publishes: it implements, on the generated server
// interface, what keyward calls — key rings, crypto keys of every purpose
// and protection level, versions and their states, rotation, destruction
// scheduling and restore, import jobs with real cryptography
// (RSA-OAEP-3072/4096-SHA-256 + AES-256 key wrap with padding), Encrypt
// and Decrypt — with Cloud KMS's resource-name rules and its error codes
// (NotFound, FailedPrecondition, PermissionDenied, InvalidArgument,
// AlreadyExists). It also records Cloud Audit Logs entries of cloudkms,
// served by the Logging fake in logging.go.
//
// Generated material is of the algorithm's kind and size: RSA of the
// modulus the algorithm names, ECDSA on P-256 or P-384, AES-256, HMAC
// keys of their digest's size. What differs from Google: it does not
// generate secp256k1, Ed25519, post-quantum or RAW_ENCRYPT_DECRYPT (AES_*)
// versions (InvalidArgument "not supported by this fake"); versions are
// ENABLED at once (no PENDING_GENERATION for asymmetric keys); HSM and
// SOFTWARE keys are alike, without attestations; it serves no
// GetPublicKey, signing, MAC or asymmetric decryption; and filter and
// order_by in list requests are ignored.
package gcpkms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Server is the fake Cloud KMS. Its zero value is not usable: call New.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer
	locationpb.UnimplementedLocationsServer

	mu sync.Mutex
	// Now is the fake's clock; a version scheduled for destruction is
	// destroyed when Now passes its destroy time.
	Now func() time.Time
	// Locations are the locations the fake serves.
	Locations []string
	// Principal is the caller written into audit log entries.
	Principal string

	projects map[string]bool
	denied   map[string]bool
	rings    map[string]*kmspb.KeyRing
	keys     map[string]*cryptoKey
	jobs     map[string]*importJob
	calls    map[string]int
	audit    []AuditEntry
	// pendingJobs: Get answers PENDING_GENERATION this many more times.
	pendingJobs int
	wrapKeys    map[int]*rsa.PrivateKey
	// failAt: the call of an RPC that fails (FailAfter): 1 = the next.
	failAt map[string]int
	// scheduled are the versions scheduled for destruction, which expire
	// walks (not every key: every call runs it).
	scheduled map[*version]bool
	// keyPage and betweenKeyPages: see KeyPages.
	keyPage         int32
	betweenKeyPages func()
}

type cryptoKey struct {
	pb       *kmspb.CryptoKey
	versions []*version
}

type version struct {
	pb  *kmspb.CryptoKeyVersion
	key *cryptoKey
	// material: the raw AES key (symmetric, MAC) or PKCS#8 DER private key.
	material []byte
	// pendingGets: Get answers PENDING_IMPORT this many more times.
	pendingGets int
}

type importJob struct {
	pb   *kmspb.ImportJob
	priv *rsa.PrivateKey
}

// New returns a fake serving the given projects (any other project is
// PermissionDenied, as Google answers for a project the caller cannot see)
// in the usual locations.
func New(projects ...string) *Server {
	s := &Server{Now: time.Now, Principal: "keyward@keyward-test.iam.gserviceaccount.com",
		Locations: []string{"global", "europe-west1", "us-central1", "us", "europe"},
		projects:  map[string]bool{}, denied: map[string]bool{}, rings: map[string]*kmspb.KeyRing{},
		keys: map[string]*cryptoKey{}, jobs: map[string]*importJob{}, calls: map[string]int{}, wrapKeys: map[int]*rsa.PrivateKey{},
		failAt: map[string]int{}, scheduled: map[*version]bool{}}
	for _, p := range projects {
		s.projects[p] = true
	}
	return s
}

// Deny makes every call needing the IAM permission perm (e.g.
// "cloudkms.cryptoKeyVersions.destroy") fail with PermissionDenied.
func (s *Server) Deny(perm string) { s.mu.Lock(); s.denied[perm] = true; s.mu.Unlock() }

// FailAfter lets ok more calls of the RPC rpc (e.g.
// "UpdateCryptoKeyPrimaryVersion") through and makes the one after fail
// with Internal before it changes anything: a fault injected between the
// calls of an operation of several, as a daemon killed or a connection
// lost between them would leave it. Internal is not among the codes
// Google's client retries by itself.
func (s *Server) FailAfter(rpc string, ok int) { s.mu.Lock(); s.failAt[rpc] = ok + 1; s.mu.Unlock() }

// KeyPages makes ListCryptoKeys answer at most n keys a page (0: as many
// as asked) and call between, outside the fake's lock, before it answers
// any page but the first: there a test changes the key ring, as another
// client may between two pages of a listing. Pages go by position, so a
// key created before the next page shifts the rest right.
func (s *Server) KeyPages(n int32, between func()) {
	s.mu.Lock()
	s.keyPage, s.betweenKeyPages = n, between
	s.mu.Unlock()
}

// Allow undoes Deny.
func (s *Server) Allow(perm string) { s.mu.Lock(); delete(s.denied, perm); s.mu.Unlock() }

// PendingImportJobs makes the next n CreateImportJob or GetImportJob
// answers about an HSM job say PENDING_GENERATION, as an HSM import job
// does while its key is made.
func (s *Server) PendingImportJobs(n int) { s.mu.Lock(); s.pendingJobs = n; s.mu.Unlock() }

// Calls returns how many calls of each RPC the fake answered.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCalls zeroes the call counts.
func (s *Server) ResetCalls() { s.mu.Lock(); s.calls = map[string]int{}; s.mu.Unlock() }

// Register adds the fake's services to a gRPC server.
func (s *Server) Register(g *grpc.Server) {
	kmspb.RegisterKeyManagementServiceServer(g, s)
	locationpb.RegisterLocationsServer(g, s)
}

// Listen serves the fake (KMS and the Logging fake) over plaintext gRPC on
// a loopback port; it returns the address and a stop function.
func (s *Server) Listen() (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	g := grpc.NewServer()
	s.Register(g)
	RegisterLogging(g, s)
	go func() { _ = g.Serve(lis) }()
	return lis.Addr().String(), g.Stop, nil
}

// --- errors, as Cloud KMS words them ---

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func notFound(kind, name string) error {
	return status.Errorf(codes.NotFound, "%s %s not found.", kind, name)
}

func precondition(format string, args ...any) error {
	return status.Errorf(codes.FailedPrecondition, format, args...)
}

// lookup finds the resource name of a kind (gcpname.KindKeyRing, …) in m:
// InvalidArgument for a malformed name, NotFound naming the resource as
// Cloud KMS does (what: "KeyRing") for one m does not hold.
func lookup[V any](m map[string]V, kind, what, name string) (V, error) {
	var zero V
	if _, err := gcpname.ParseName(kind, name); err != nil {
		return zero, invalid("%v", err)
	}
	v, ok := m[name]
	if !ok {
		return zero, notFound(what, name)
	}
	return v, nil
}

// child is the name a create call gives the resource id under parent in
// collection ("cryptoKeys"): InvalidArgument for an id Cloud KMS refuses
// (field names it, hint says what an id may be), AlreadyExists for a name
// m holds.
func child[V any](m map[string]V, parent, collection, what, field, id, hint string) (string, error) {
	if !gcpname.ValidID(id) {
		return "", invalid("Invalid %s %q%s.", field, id, hint)
	}
	name := parent + "/" + collection + "/" + id
	if _, ok := m[name]; ok {
		return "", status.Errorf(codes.AlreadyExists, "%s %s already exists.", what, name)
	}
	return name, nil
}

// idHint is what Cloud KMS says a key ring's or crypto key's id may be.
const idHint = ": 1 to 63 letters, digits, underscores or hyphens"

// call is the frame of every RPC: begin's checks, then body, both under
// the lock.
func call[T any](s *Server, rpc, perm, resource string, body func() (T, error)) (T, error) {
	err := s.begin(rpc, perm, resource)
	defer s.mu.Unlock()
	if err != nil {
		var zero T
		return zero, err
	}
	return body()
}

// rpc is call for an RPC on resource that find must resolve (the
// resource itself, or the parent a list or create call names) before
// body runs on what it found.
func rpc[R, T any](s *Server, method, perm, resource string, find func(string) (R, error), body func(R) (T, error)) (T, error) {
	return call(s, method, perm, resource, func() (T, error) {
		found, err := find(resource)
		if err != nil {
			var zero T
			return zero, err
		}
		return body(found)
	})
}

// begin counts a call, takes the lock, finishes lazy destructions, and
// checks the project and the permission the call needs. The caller must
// unlock.
func (s *Server) begin(rpc, perm, resource string) error {
	s.mu.Lock()
	s.calls[rpc]++
	s.expire()
	if s.failAt[rpc] > 0 {
		if s.failAt[rpc]--; s.failAt[rpc] == 0 {
			return status.Errorf(codes.Internal, "%s: fault injected by the test.", rpc)
		}
	}
	proj, _, _ := strings.Cut(strings.TrimPrefix(resource, "projects/"), "/")
	if !strings.HasPrefix(resource, "projects/") || !s.projects[proj] || s.denied[perm] {
		return status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource '%s' (or it may not exist).", perm, resource)
	}
	return nil
}

func (s *Server) location(name string) (gcpname.Name, error) {
	n, err := gcpname.ParseName(gcpname.KindLocation, name)
	if err != nil {
		return n, invalid("%v", err)
	}
	if !slices.Contains(s.Locations, n.Location) {
		return n, invalid("Invalid location %q: Cloud KMS is not available there.", n.Location)
	}
	return n, nil
}

// expire destroys the versions whose scheduled destruction came due.
func (s *Server) expire() {
	now := s.Now()
	for v := range s.scheduled {
		if v.pb.State != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
			delete(s.scheduled, v)
			continue
		}
		if v.pb.DestroyTime != nil && !now.Before(v.pb.DestroyTime.AsTime()) {
			v.pb.State = kmspb.CryptoKeyVersion_DESTROYED
			v.pb.DestroyEventTime = timestamppb.New(v.pb.DestroyTime.AsTime())
			clear(v.material)
			v.material = nil
			delete(s.scheduled, v)
		}
	}
}

// --- pagination ---

func page[T any](items []T, size int32, token string) ([]T, string, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalid("Invalid page token.")
		}
		start = n
	}
	if size < 0 {
		return nil, "", invalid("page_size must not be negative.")
	}
	if size == 0 || size > 1000 {
		size = 1000
	}
	end := min(start+int(size), len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// pager is what a list request says of the page it wants.
type pager interface {
	GetPageSize() int32
	GetPageToken() string
}

// listed is the page r asks for of items, each shown by view (nil for an
// empty page, as a list answer leaves its repeated field).
func listed[T, V any](items []T, r pager, view func(T) V) ([]V, string, error) {
	got, next, err := page(items, r.GetPageSize(), r.GetPageToken())
	if err != nil {
		return nil, "", err
	}
	var out []V
	for _, it := range got {
		out = append(out, view(it))
	}
	return out, next, nil
}

// capped is a list request whose page size is at most max (0: no cap).
type capped struct {
	pager
	max int32
}

func (c capped) GetPageSize() int32 {
	if n := c.pager.GetPageSize(); c.max == 0 || (n > 0 && n <= c.max) {
		return n
	}
	return c.max
}

func sortedNames[V any](m map[string]V, prefix string) []string {
	var out []string
	for n := range m {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// --- locations ---

// ListLocations lists the fake's locations of a project.
func (s *Server) ListLocations(_ context.Context, r *locationpb.ListLocationsRequest) (*locationpb.ListLocationsResponse, error) {
	return call(s, "ListLocations", "cloudkms.locations.list", r.GetName(), func() (*locationpb.ListLocationsResponse, error) {
		var all []*locationpb.Location
		for _, l := range s.Locations {
			all = append(all, &locationpb.Location{Name: gcpname.LocationName(strings.TrimPrefix(r.GetName(), "projects/"), l), LocationId: l})
		}
		got, next, err := page(all, r.GetPageSize(), r.GetPageToken())
		if err != nil {
			return nil, err
		}
		return &locationpb.ListLocationsResponse{Locations: got, NextPageToken: next}, nil
	})
}

// --- key rings ---

// ListKeyRings lists the key rings of a location.
func (s *Server) ListKeyRings(_ context.Context, r *kmspb.ListKeyRingsRequest) (*kmspb.ListKeyRingsResponse, error) {
	return rpc(s, "ListKeyRings", "cloudkms.keyRings.list", r.GetParent(), s.location, func(_ gcpname.Name) (*kmspb.ListKeyRingsResponse, error) {
		names := sortedNames(s.rings, r.GetParent()+"/keyRings/")
		got, next, err := listed(names, r, func(n string) *kmspb.KeyRing { return proto.Clone(s.rings[n]).(*kmspb.KeyRing) })
		if err != nil {
			return nil, err
		}
		return &kmspb.ListKeyRingsResponse{KeyRings: got, NextPageToken: next, TotalSize: int32(len(names))}, nil
	})
}

// GetKeyRing returns a key ring.
func (s *Server) GetKeyRing(_ context.Context, r *kmspb.GetKeyRingRequest) (*kmspb.KeyRing, error) {
	return rpc(s, "GetKeyRing", "cloudkms.keyRings.get", r.GetName(), s.ring, func(kr *kmspb.KeyRing) (*kmspb.KeyRing, error) {
		return proto.Clone(kr).(*kmspb.KeyRing), nil
	})
}

// CreateKeyRing creates a key ring; key rings are never deleted.
func (s *Server) CreateKeyRing(_ context.Context, r *kmspb.CreateKeyRingRequest) (*kmspb.KeyRing, error) {
	return rpc(s, "CreateKeyRing", "cloudkms.keyRings.create", r.GetParent(), s.location, func(_ gcpname.Name) (*kmspb.KeyRing, error) {
		name, err := child(s.rings, r.GetParent(), "keyRings", "KeyRing", "key_ring_id", r.GetKeyRingId(), idHint)
		if err != nil {
			return nil, err
		}
		kr := &kmspb.KeyRing{Name: name, CreateTime: timestamppb.New(s.Now())}
		s.rings[name] = kr
		s.log(false, "CreateKeyRing", name)
		return proto.Clone(kr).(*kmspb.KeyRing), nil
	})
}

// --- crypto keys ---

func (s *Server) key(name string) (*cryptoKey, error) {
	return lookup(s.keys, gcpname.KindCryptoKey, "CryptoKey", name)
}

// ring is the key ring name, which must exist.
func (s *Server) ring(name string) (*kmspb.KeyRing, error) {
	return lookup(s.rings, gcpname.KindKeyRing, "KeyRing", name)
}

// job is the import job name, which must exist.
func (s *Server) job(name string) (*importJob, error) {
	return lookup(s.jobs, gcpname.KindImportJob, "ImportJob", name)
}

func (s *Server) keyView(k *cryptoKey) *kmspb.CryptoKey {
	out := proto.Clone(k.pb).(*kmspb.CryptoKey)
	out.Primary = nil
	if k.pb.Purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT {
		if p := k.primary(); p != nil {
			out.Primary = proto.Clone(p.pb).(*kmspb.CryptoKeyVersion)
		}
	}
	return out
}

func (k *cryptoKey) primary() *version {
	if k.pb.Primary == nil {
		return nil
	}
	for _, v := range k.versions {
		if v.pb.Name == k.pb.Primary.Name {
			return v
		}
	}
	return nil
}

// ListCryptoKeys lists the crypto keys of a key ring, with their primary
// version.
func (s *Server) ListCryptoKeys(_ context.Context, r *kmspb.ListCryptoKeysRequest) (*kmspb.ListCryptoKeysResponse, error) {
	s.mu.Lock()
	between := s.betweenKeyPages
	s.mu.Unlock()
	if between != nil && r.GetPageToken() != "" {
		between()
	}
	return rpc(s, "ListCryptoKeys", "cloudkms.cryptoKeys.list", r.GetParent(), s.ring, func(_ *kmspb.KeyRing) (*kmspb.ListCryptoKeysResponse, error) {
		names := sortedNames(s.keys, r.GetParent()+"/cryptoKeys/")
		got, next, err := listed(names, capped{r, s.keyPage}, func(n string) *kmspb.CryptoKey { return s.keyView(s.keys[n]) })
		if err != nil {
			return nil, err
		}
		return &kmspb.ListCryptoKeysResponse{CryptoKeys: got, NextPageToken: next, TotalSize: int32(len(names))}, nil
	})
}

// GetCryptoKey returns a crypto key with its primary version.
func (s *Server) GetCryptoKey(_ context.Context, r *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	return rpc(s, "GetCryptoKey", "cloudkms.cryptoKeys.get", r.GetName(), s.key, func(k *cryptoKey) (*kmspb.CryptoKey, error) {
		return s.keyView(k), nil
	})
}

// purposeOf is the purpose an algorithm belongs to.
func purposeOf(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) kmspb.CryptoKey_CryptoKeyPurpose {
	n := a.String()
	switch {
	case a == kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, a == kmspb.CryptoKeyVersion_EXTERNAL_SYMMETRIC_ENCRYPTION:
		return kmspb.CryptoKey_ENCRYPT_DECRYPT
	case strings.HasPrefix(n, "RSA_SIGN_"), strings.HasPrefix(n, "EC_SIGN_"), strings.HasPrefix(n, "PQ_SIGN_"):
		return kmspb.CryptoKey_ASYMMETRIC_SIGN
	case strings.HasPrefix(n, "RSA_DECRYPT_"):
		return kmspb.CryptoKey_ASYMMETRIC_DECRYPT
	case strings.HasPrefix(n, "HMAC_"):
		return kmspb.CryptoKey_MAC
	case strings.HasPrefix(n, "AES_"):
		return kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT
	}
	return kmspb.CryptoKey_CRYPTO_KEY_PURPOSE_UNSPECIFIED
}

// CreateCryptoKey creates a crypto key and, unless asked not to, its
// first version (primary for ENCRYPT_DECRYPT).
func (s *Server) CreateCryptoKey(_ context.Context, r *kmspb.CreateCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	return rpc(s, "CreateCryptoKey", "cloudkms.cryptoKeys.create", r.GetParent(), s.ring, func(_ *kmspb.KeyRing) (*kmspb.CryptoKey, error) {
		name, err := child(s.keys, r.GetParent(), "cryptoKeys", "CryptoKey", "crypto_key_id", r.GetCryptoKeyId(), idHint)
		if err != nil {
			return nil, err
		}
		in := r.GetCryptoKey()
		if in == nil {
			return nil, invalid("crypto_key is required.")
		}
		pb := proto.Clone(in).(*kmspb.CryptoKey)
		pb.Name, pb.Primary, pb.CreateTime = name, nil, timestamppb.New(s.Now())
		if pb.VersionTemplate == nil {
			pb.VersionTemplate = &kmspb.CryptoKeyVersionTemplate{}
		}
		t := pb.VersionTemplate
		if t.ProtectionLevel == kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED {
			t.ProtectionLevel = kmspb.ProtectionLevel_SOFTWARE
		}
		if t.Algorithm == kmspb.CryptoKeyVersion_CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED {
			if pb.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
				return nil, invalid("crypto_key.version_template.algorithm is required for purpose %s.", pb.Purpose)
			}
			t.Algorithm = kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION
		}
		switch pb.Purpose {
		case kmspb.CryptoKey_ENCRYPT_DECRYPT, kmspb.CryptoKey_ASYMMETRIC_SIGN, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kmspb.CryptoKey_MAC:
		default:
			return nil, invalid("crypto_key.purpose %s is not supported by this fake (ENCRYPT_DECRYPT, ASYMMETRIC_SIGN, ASYMMETRIC_DECRYPT, MAC).", pb.Purpose)
		}
		if purposeOf(t.Algorithm) != pb.Purpose {
			return nil, invalid("Algorithm %s is not compatible with purpose %s.", t.Algorithm, pb.Purpose)
		}
		if _, ok := pb.RotationSchedule.(*kmspb.CryptoKey_RotationPeriod); ok && pb.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return nil, invalid("Automatic rotation is only supported for ENCRYPT_DECRYPT keys.")
		}
		if err := checkRotation(pb); err != nil {
			return nil, err
		}
		if pb.DestroyScheduledDuration == nil {
			pb.DestroyScheduledDuration = durationpb.New(30 * 24 * time.Hour)
		} else if d := pb.DestroyScheduledDuration.AsDuration(); d < 24*time.Hour || d > 120*24*time.Hour {
			return nil, invalid("destroy_scheduled_duration must be between 1 and 120 days.")
		}
		if !r.GetSkipInitialVersionCreation() && pb.ImportOnly {
			return nil, invalid("skip_initial_version_creation must be true for an import_only CryptoKey.")
		}
		k := &cryptoKey{pb: pb}
		s.keys[name] = k
		if !r.GetSkipInitialVersionCreation() {
			v, err := s.newVersion(k)
			if err != nil {
				delete(s.keys, name)
				return nil, err
			}
			if pb.Purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT {
				pb.Primary = &kmspb.CryptoKeyVersion{Name: v.pb.Name}
			}
		}
		s.log(false, "CreateCryptoKey", name)
		return s.keyView(k), nil
	})
}

func checkRotation(pb *kmspb.CryptoKey) error {
	if rp := pb.GetRotationPeriod(); rp != nil {
		if d := rp.AsDuration(); d < 24*time.Hour || d > 100*365*24*time.Hour {
			return invalid("rotation_period must be at least 1 day and at most 100 years.")
		}
		if pb.NextRotationTime == nil {
			return invalid("next_rotation_time is required with rotation_period.")
		}
	}
	return nil
}

// UpdateCryptoKey changes labels, rotation_period and next_rotation_time
// (the fields update_mask names).
func (s *Server) UpdateCryptoKey(_ context.Context, r *kmspb.UpdateCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	in := r.GetCryptoKey()
	return rpc(s, "UpdateCryptoKey", "cloudkms.cryptoKeys.update", in.GetName(), s.key, func(k *cryptoKey) (*kmspb.CryptoKey, error) {
		paths := r.GetUpdateMask().GetPaths()
		if len(paths) == 0 {
			return nil, invalid("update_mask is required.")
		}
		next := proto.Clone(k.pb).(*kmspb.CryptoKey)
		for _, p := range paths {
			switch p {
			case "labels":
				for lk, lv := range in.Labels {
					if !labelRE(lk, true) || !labelRE(lv, false) {
						return nil, invalid("Invalid label %q=%q: keys start with a lowercase letter; keys and values are up to 63 lowercase letters, digits, underscores and hyphens.", lk, lv)
					}
				}
				next.Labels = maps.Clone(in.Labels)
			case "rotation_period":
				if in.GetRotationPeriod() == nil {
					next.RotationSchedule = nil
				} else {
					if k.pb.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
						return nil, invalid("Automatic rotation is only supported for ENCRYPT_DECRYPT keys.")
					}
					next.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: in.GetRotationPeriod()}
				}
			case "next_rotation_time":
				next.NextRotationTime = in.NextRotationTime
			default:
				return nil, invalid("update_mask path %q is not supported.", p)
			}
		}
		if err := checkRotation(next); err != nil {
			return nil, err
		}
		k.pb = next
		s.log(false, "UpdateCryptoKey", k.pb.Name)
		return s.keyView(k), nil
	})
}

func labelRE(s string, isKey bool) bool {
	if len(s) > 63 || (isKey && (s == "" || s[0] < 'a' || s[0] > 'z')) {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// UpdateCryptoKeyPrimaryVersion makes an ENABLED version the primary.
func (s *Server) UpdateCryptoKeyPrimaryVersion(_ context.Context, r *kmspb.UpdateCryptoKeyPrimaryVersionRequest) (*kmspb.CryptoKey, error) {
	return rpc(s, "UpdateCryptoKeyPrimaryVersion", "cloudkms.cryptoKeys.update", r.GetName(), s.key, func(k *cryptoKey) (*kmspb.CryptoKey, error) {
		if k.pb.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return nil, precondition("CryptoKey %s has purpose %s: only ENCRYPT_DECRYPT keys have a primary version.", k.pb.Name, k.pb.Purpose)
		}
		v, err := k.version(r.GetCryptoKeyVersionId())
		if err != nil {
			return nil, err
		}
		if v.pb.State != kmspb.CryptoKeyVersion_ENABLED {
			return nil, precondition("CryptoKeyVersion %s is not in state ENABLED (it is %s).", v.pb.Name, v.pb.State)
		}
		k.pb.Primary = &kmspb.CryptoKeyVersion{Name: v.pb.Name}
		s.log(false, "UpdateCryptoKeyPrimaryVersion", k.pb.Name)
		return s.keyView(k), nil
	})
}

// --- versions ---

func (k *cryptoKey) version(id string) (*version, error) {
	name := k.pb.Name + "/cryptoKeyVersions/" + id
	if !gcpname.ValidVersion(id) {
		return nil, invalid("Invalid crypto key version ID %q in %s.", id, name)
	}
	for _, v := range k.versions {
		if v.pb.Name == name {
			return v, nil
		}
	}
	return nil, notFound("CryptoKeyVersion", name)
}

// add makes v the key's next version, named by its number.
func (k *cryptoKey) add(v *version) {
	v.key = k
	v.pb.Name = fmt.Sprintf("%s/cryptoKeyVersions/%d", k.pb.Name, len(k.versions)+1)
	k.versions = append(k.versions, v)
}

func (s *Server) versionByName(name string) (*version, error) {
	n, err := gcpname.ParseName(gcpname.KindVersion, name)
	if err != nil {
		return nil, invalid("%v", err)
	}
	k, err := s.key(gcpname.CryptoKeyName(n.Project, n.Location, n.KeyRing, n.CryptoKey))
	if err != nil {
		return nil, err
	}
	return k.version(n.Version)
}

// encrypter is the version an Encrypt request's name chooses: the version
// it names, or the primary of the key it names.
func (s *Server) encrypter(name string) (*version, error) {
	if strings.Contains(name, "/cryptoKeyVersions/") {
		return s.versionByName(name)
	}
	k, err := s.key(name)
	if err != nil {
		return nil, err
	}
	if v := k.primary(); v != nil {
		return v, nil
	}
	return nil, precondition("CryptoKey %s has no primary version.", k.pb.Name)
}

// newVersion generates a version with the key's template.
func (s *Server) newVersion(k *cryptoKey) (*version, error) {
	t := k.pb.VersionTemplate
	mat, err := generate(t.Algorithm)
	if err != nil {
		return nil, err
	}
	now := timestamppb.New(s.Now())
	v := &version{material: mat, pb: &kmspb.CryptoKeyVersion{
		State:           kmspb.CryptoKeyVersion_ENABLED,
		ProtectionLevel: t.ProtectionLevel, Algorithm: t.Algorithm,
		CreateTime: now, GenerateTime: now}}
	k.add(v)
	return v, nil
}

// generate makes key material for an algorithm: raw bytes for symmetric
// and MAC keys, PKCS#8 DER for asymmetric ones.
func generate(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) ([]byte, error) {
	n := a.String()
	switch {
	case a == kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, strings.HasPrefix(n, "HMAC_"):
		b := make([]byte, hmacBytes(n))
		_, _ = rand.Read(b)
		return b, nil
	case a == kmspb.CryptoKeyVersion_EXTERNAL_SYMMETRIC_ENCRYPTION:
		return nil, nil // held by the external key manager
	case strings.HasPrefix(n, "RSA_"):
		bits := rsaBits(n)
		if bits == 0 {
			return nil, invalid("Algorithm %s is not supported by this fake.", a)
		}
		// The size the algorithm names (a 4096-bit key takes about a
		// second to make on a loaded machine; the demo and tests make
		// few).
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case strings.HasPrefix(n, "EC_SIGN_P256"), strings.HasPrefix(n, "EC_SIGN_P384"):
		c := elliptic.P256()
		if strings.HasPrefix(n, "EC_SIGN_P384") {
			c = elliptic.P384()
		}
		priv, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	}
	return nil, invalid("Algorithm %s is not supported by this fake.", a)
}

// hmacBytes is the length of the key the fake generates for an HMAC
// algorithm: its digest's size, the length RFC 2104 recommends (Google
// does not publish the length of the HMAC keys it generates); 32 bytes
// for GOOGLE_SYMMETRIC_ENCRYPTION (AES-256).
func hmacBytes(alg string) int {
	switch alg {
	case "HMAC_SHA1":
		return 20
	case "HMAC_SHA224":
		return 28
	case "HMAC_SHA384":
		return 48
	case "HMAC_SHA512":
		return 64
	}
	return 32
}

func rsaBits(alg string) int {
	for _, b := range []int{2048, 3072, 4096} {
		if strings.Contains(alg, "_"+strconv.Itoa(b)) {
			return b
		}
	}
	return 0
}

// ListCryptoKeyVersions lists a key's versions.
func (s *Server) ListCryptoKeyVersions(_ context.Context, r *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	return rpc(s, "ListCryptoKeyVersions", "cloudkms.cryptoKeyVersions.list", r.GetParent(), s.key, func(k *cryptoKey) (*kmspb.ListCryptoKeyVersionsResponse, error) {
		got, next, err := listed(k.versions, r, func(v *version) *kmspb.CryptoKeyVersion { return proto.Clone(v.pb).(*kmspb.CryptoKeyVersion) })
		if err != nil {
			return nil, err
		}
		return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: got, NextPageToken: next, TotalSize: int32(len(k.versions))}, nil
	})
}

// GetCryptoKeyVersion returns one version. A version just imported says
// PENDING_IMPORT once before its outcome, as Google's import is
// asynchronous.
func (s *Server) GetCryptoKeyVersion(_ context.Context, r *kmspb.GetCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return rpc(s, "GetCryptoKeyVersion", "cloudkms.cryptoKeyVersions.get", r.GetName(), s.versionByName, func(v *version) (*kmspb.CryptoKeyVersion, error) {
		out := proto.Clone(v.pb).(*kmspb.CryptoKeyVersion)
		if v.pendingGets > 0 {
			v.pendingGets--
			out.State, out.ImportFailureReason, out.ImportTime = kmspb.CryptoKeyVersion_PENDING_IMPORT, "", nil
		}
		return out, nil
	})
}

// CreateCryptoKeyVersion generates a new version (not made primary).
func (s *Server) CreateCryptoKeyVersion(_ context.Context, r *kmspb.CreateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return rpc(s, "CreateCryptoKeyVersion", "cloudkms.cryptoKeyVersions.create", r.GetParent(), s.key, func(k *cryptoKey) (*kmspb.CryptoKeyVersion, error) {
		if k.pb.ImportOnly {
			return nil, precondition("CryptoKey %s is import_only: new versions can only be imported.", k.pb.Name)
		}
		v, err := s.newVersion(k)
		if err != nil {
			return nil, err
		}
		s.log(false, "CreateCryptoKeyVersion", v.pb.Name)
		return proto.Clone(v.pb).(*kmspb.CryptoKeyVersion), nil
	})
}

// UpdateCryptoKeyVersion moves a version between ENABLED and DISABLED.
func (s *Server) UpdateCryptoKeyVersion(_ context.Context, r *kmspb.UpdateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	in := r.GetCryptoKeyVersion()
	return rpc(s, "UpdateCryptoKeyVersion", "cloudkms.cryptoKeyVersions.update", in.GetName(), s.versionByName, func(v *version) (*kmspb.CryptoKeyVersion, error) {
		if !slices.Equal(r.GetUpdateMask().GetPaths(), []string{"state"}) {
			return nil, invalid("update_mask must be [\"state\"]: only a version's state can be updated.")
		}
		if in.State != kmspb.CryptoKeyVersion_ENABLED && in.State != kmspb.CryptoKeyVersion_DISABLED {
			return nil, invalid("A version's state can only be set to ENABLED or DISABLED (got %s).", in.State)
		}
		if v.pb.State != kmspb.CryptoKeyVersion_ENABLED && v.pb.State != kmspb.CryptoKeyVersion_DISABLED {
			return nil, precondition("CryptoKeyVersion %s is in state %s: only ENABLED and DISABLED versions can be enabled or disabled.", v.pb.Name, v.pb.State)
		}
		v.pb.State = in.State
		s.log(false, "UpdateCryptoKeyVersion", v.pb.Name)
		return proto.Clone(v.pb).(*kmspb.CryptoKeyVersion), nil
	})
}

// DestroyCryptoKeyVersion schedules a version's destruction the key's
// destroy_scheduled_duration out.
func (s *Server) DestroyCryptoKeyVersion(_ context.Context, r *kmspb.DestroyCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return rpc(s, "DestroyCryptoKeyVersion", "cloudkms.cryptoKeyVersions.destroy", r.GetName(), s.versionByName, func(v *version) (*kmspb.CryptoKeyVersion, error) {
		k := v.key
		switch v.pb.State {
		case kmspb.CryptoKeyVersion_ENABLED, kmspb.CryptoKeyVersion_DISABLED, kmspb.CryptoKeyVersion_IMPORT_FAILED:
		default:
			return nil, precondition("CryptoKeyVersion %s is in state %s and cannot be destroyed.", v.pb.Name, v.pb.State)
		}
		if p := k.primary(); p == v {
			// Google lets a primary be scheduled; the key then has no
			// primary and Encrypt fails.
			k.pb.Primary = nil
		}
		v.pb.State = kmspb.CryptoKeyVersion_DESTROY_SCHEDULED
		v.pb.DestroyTime = timestamppb.New(s.Now().Add(k.pb.DestroyScheduledDuration.AsDuration()))
		s.scheduled[v] = true
		s.log(false, "DestroyCryptoKeyVersion", v.pb.Name)
		return proto.Clone(v.pb).(*kmspb.CryptoKeyVersion), nil
	})
}

// RestoreCryptoKeyVersion cancels a scheduled destruction; the version
// comes back DISABLED, as on Google.
func (s *Server) RestoreCryptoKeyVersion(_ context.Context, r *kmspb.RestoreCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return rpc(s, "RestoreCryptoKeyVersion", "cloudkms.cryptoKeyVersions.restore", r.GetName(), s.versionByName, func(v *version) (*kmspb.CryptoKeyVersion, error) {
		if v.pb.State != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
			return nil, precondition("CryptoKeyVersion %s is in state %s: only a DESTROY_SCHEDULED version can be restored.", v.pb.Name, v.pb.State)
		}
		v.pb.State, v.pb.DestroyTime = kmspb.CryptoKeyVersion_DISABLED, nil
		s.log(false, "RestoreCryptoKeyVersion", v.pb.Name)
		return proto.Clone(v.pb).(*kmspb.CryptoKeyVersion), nil
	})
}

// DestroyNow destroys a version scheduled for destruction at once, as if
// its destroy time had come (the fake's back door for seeding the demo
// and tests with DESTROYED versions).
func (s *Server) DestroyNow(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.versionByName(name)
	if err != nil {
		return err
	}
	if v.pb.State != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
		return precondition("%s is %s, not DESTROY_SCHEDULED", name, v.pb.State)
	}
	v.pb.DestroyTime = timestamppb.New(s.Now())
	s.expire()
	return nil
}

// --- import jobs ---

// CreateImportJob creates an import job; SOFTWARE jobs are ACTIVE at once,
// HSM jobs after PendingImportJobs' answers. Only the RSA-OAEP-SHA-256
// methods with AES-256 key wrap are served.
func (s *Server) CreateImportJob(_ context.Context, r *kmspb.CreateImportJobRequest) (*kmspb.ImportJob, error) {
	return rpc(s, "CreateImportJob", "cloudkms.importJobs.create", r.GetParent(), s.ring, func(_ *kmspb.KeyRing) (*kmspb.ImportJob, error) {
		name, err := child(s.jobs, r.GetParent(), "importJobs", "ImportJob", "import_job_id", r.GetImportJobId(), "")
		if err != nil {
			return nil, err
		}
		in := r.GetImportJob()
		bits := 0
		switch in.GetImportMethod() {
		case kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256:
			bits = 3072
		case kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256:
			bits = 4096
		default:
			return nil, invalid("import_method %s is not supported by this fake (RSA_OAEP_3072_SHA256_AES_256, RSA_OAEP_4096_SHA256_AES_256).", in.GetImportMethod())
		}
		switch in.GetProtectionLevel() {
		case kmspb.ProtectionLevel_SOFTWARE, kmspb.ProtectionLevel_HSM:
		default:
			return nil, invalid("An import job's protection_level must be SOFTWARE or HSM.")
		}
		priv, err := s.wrappingKey(bits)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "generate the wrapping key: %v", err)
		}
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		now := s.Now()
		j := &importJob{priv: priv, pb: &kmspb.ImportJob{Name: name, ImportMethod: in.GetImportMethod(), ProtectionLevel: in.GetProtectionLevel(),
			CreateTime: timestamppb.New(now), GenerateTime: timestamppb.New(now), ExpireTime: timestamppb.New(now.Add(72 * time.Hour)),
			State:     kmspb.ImportJob_ACTIVE,
			PublicKey: &kmspb.ImportJob_WrappingPublicKey{Pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}}
		s.jobs[name] = j
		s.log(false, "CreateImportJob", name)
		return s.jobView(j, true), nil
	})
}

// wrappingKey is the fake's RSA wrapping key of a size, made once per
// fake: Google makes one per job, but a 4096-bit key takes seconds to
// generate, and nothing keyward does depends on two jobs' keys differing.
func (s *Server) wrappingKey(bits int) (*rsa.PrivateKey, error) {
	if k := s.wrapKeys[bits]; k != nil {
		return k, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	s.wrapKeys[bits] = k
	return k, nil
}

func (s *Server) jobView(j *importJob, get bool) *kmspb.ImportJob {
	out := proto.Clone(j.pb).(*kmspb.ImportJob)
	if !s.Now().Before(j.pb.ExpireTime.AsTime()) {
		j.pb.State = kmspb.ImportJob_EXPIRED
		out.State = j.pb.State
	}
	if get && s.pendingJobs > 0 && j.pb.ProtectionLevel == kmspb.ProtectionLevel_HSM {
		s.pendingJobs--
		out.State, out.PublicKey = kmspb.ImportJob_PENDING_GENERATION, nil
	}
	return out
}

// GetImportJob returns an import job (with its wrapping public key once
// ACTIVE).
func (s *Server) GetImportJob(_ context.Context, r *kmspb.GetImportJobRequest) (*kmspb.ImportJob, error) {
	return rpc(s, "GetImportJob", "cloudkms.importJobs.get", r.GetName(), s.job, func(j *importJob) (*kmspb.ImportJob, error) {
		return s.jobView(j, true), nil
	})
}

// ImportCryptoKeyVersion unwraps material with the job's private key and
// makes it a new version. The answer says PENDING_IMPORT; the outcome
// (ENABLED, or IMPORT_FAILED with the reason) shows on the next Get, as
// Google's import is asynchronous.
func (s *Server) ImportCryptoKeyVersion(_ context.Context, r *kmspb.ImportCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return rpc(s, "ImportCryptoKeyVersion", "cloudkms.cryptoKeyVersions.import", r.GetParent(), s.key, func(k *cryptoKey) (*kmspb.CryptoKeyVersion, error) {
		if r.GetCryptoKeyVersion() != "" {
			return nil, invalid("Re-import into an existing version is not supported by this fake.")
		}
		j, err := s.job(r.GetImportJob())
		if err != nil {
			return nil, err
		}
		if st := s.jobView(j, false).State; st != kmspb.ImportJob_ACTIVE {
			return nil, precondition("ImportJob %s is in state %s, not ACTIVE.", j.pb.Name, st)
		}
		if purposeOf(r.GetAlgorithm()) != k.pb.Purpose {
			return nil, invalid("Algorithm %s is not compatible with CryptoKey %s of purpose %s.", r.GetAlgorithm(), k.pb.Name, k.pb.Purpose)
		}
		if j.pb.ProtectionLevel != k.pb.VersionTemplate.GetProtectionLevel() {
			return nil, precondition("ImportJob protection level %s does not match the CryptoKey's %s.", j.pb.ProtectionLevel, k.pb.VersionTemplate.GetProtectionLevel())
		}
		wrapped := r.GetWrappedKey()
		if len(wrapped) == 0 {
			wrapped = r.GetRsaAesWrappedKey()
		}
		if len(wrapped) == 0 {
			return nil, invalid("wrapped_key is required.")
		}
		now := timestamppb.New(s.Now())
		v := &version{pendingGets: 1, pb: &kmspb.CryptoKeyVersion{
			State: kmspb.CryptoKeyVersion_ENABLED, ProtectionLevel: j.pb.ProtectionLevel, Algorithm: r.GetAlgorithm(),
			CreateTime: now, ImportJob: j.pb.Name}}
		mat, reason := unwrap(j.priv, wrapped)
		if reason == "" {
			reason = checkMaterial(r.GetAlgorithm(), mat)
		}
		if reason != "" {
			clear(mat)
			v.pb.State, v.pb.ImportFailureReason = kmspb.CryptoKeyVersion_IMPORT_FAILED, reason
		} else {
			v.material, v.pb.ImportTime, v.pb.GenerateTime = mat, now, now
		}
		k.add(v)
		s.log(false, "ImportCryptoKeyVersion", v.pb.Name)
		out := proto.Clone(v.pb).(*kmspb.CryptoKeyVersion)
		out.State, out.ImportFailureReason, out.ImportTime = kmspb.CryptoKeyVersion_PENDING_IMPORT, "", nil
		return out, nil
	})
}

// unwrap undoes CKM_RSA_AES_KEY_WRAP: RSA-OAEP-SHA-256 of an ephemeral
// AES-256 key, then that key's AES key wrap with padding (RFC 5649) of the
// material. The reason says what failed ("" on success).
func unwrap(priv *rsa.PrivateKey, wrapped []byte) ([]byte, string) {
	n := priv.Size()
	if len(wrapped) <= n {
		return nil, fmt.Sprintf("The wrapped key is %d bytes: it must be the %d-byte RSA-OAEP wrapped AES key followed by the AES-KWP wrapped material.", len(wrapped), n)
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped[:n], nil)
	if err != nil {
		return nil, "The RSA-OAEP wrapped AES key could not be unwrapped with the import job's private key (wrapped for another job, or not with OAEP SHA-256)."
	}
	defer clear(aesKey)
	w, err := kwp.NewKWP(aesKey)
	if err != nil || len(aesKey) != 32 {
		return nil, "The RSA-OAEP wrapped key is not a 256-bit AES key."
	}
	mat, err := w.Unwrap(wrapped[n:])
	if err != nil {
		return nil, "The AES-KWP wrapped material failed its integrity check."
	}
	return mat, ""
}

// checkMaterial says why material does not fit an algorithm ("" if it
// does): 32 raw bytes for symmetric and MAC keys, a PKCS#8 private key of
// the right type and size otherwise.
func checkMaterial(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, mat []byte) string {
	n := a.String()
	switch {
	case a == kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION:
		if len(mat) != 32 {
			return fmt.Sprintf("The imported key material is %d bytes; GOOGLE_SYMMETRIC_ENCRYPTION requires 32 bytes.", len(mat))
		}
		return ""
	case strings.HasPrefix(n, "HMAC_"):
		if len(mat) < 16 || len(mat) > 64 {
			return fmt.Sprintf("The imported key material is %d bytes; HMAC keys must be 16 to 64 bytes.", len(mat))
		}
		return ""
	}
	k, err := x509.ParsePKCS8PrivateKey(mat)
	if err != nil {
		return "The imported key material is not a DER-encoded PKCS#8 private key."
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if !strings.HasPrefix(n, "RSA_") {
			return fmt.Sprintf("The imported key is an RSA key; %s needs another key type.", a)
		}
		if k.N.BitLen() != rsaBits(n) {
			return fmt.Sprintf("The imported RSA key has %d bits; %s requires %d.", k.N.BitLen(), a, rsaBits(n))
		}
	case *ecdsa.PrivateKey:
		want := map[string]string{"EC_SIGN_P256_SHA256": "P-256", "EC_SIGN_P384_SHA384": "P-384"}[n]
		if want == "" || k.Curve.Params().Name != want {
			return fmt.Sprintf("The imported EC key is on curve %s; %s needs %s.", k.Curve.Params().Name, a, cmpOr(want, "another key type"))
		}
	default:
		return fmt.Sprintf("The imported key type %T is not supported for %s.", k, a)
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// --- cryptography ---

// Encrypt encrypts with the primary version (or the named ENABLED
// version) of an ENCRYPT_DECRYPT key: AES-256-GCM, the version's name
// carried in the ciphertext so Decrypt finds it, as Google's does.
func (s *Server) Encrypt(_ context.Context, r *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	return rpc(s, "Encrypt", "cloudkms.cryptoKeyVersions.useToEncrypt", r.GetName(), s.encrypter, func(v *version) (*kmspb.EncryptResponse, error) {
		k := v.key
		if k.pb.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return nil, precondition("CryptoKey %s has purpose %s, not ENCRYPT_DECRYPT.", k.pb.Name, k.pb.Purpose)
		}
		if v.pb.State != kmspb.CryptoKeyVersion_ENABLED {
			return nil, precondition("CryptoKeyVersion %s is not enabled (it is %s).", v.pb.Name, v.pb.State)
		}
		if len(r.GetPlaintext()) > 64*1024 {
			return nil, invalid("The plaintext exceeds 64 KiB.")
		}
		ct, err := seal(v.material, []byte(v.pb.Name), r.GetPlaintext(), r.GetAdditionalAuthenticatedData())
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		s.log(true, "Encrypt", r.GetName()) // Google logs the name asked for
		return &kmspb.EncryptResponse{Name: v.pb.Name, Ciphertext: ct, VerifiedPlaintextCrc32C: false,
			CiphertextCrc32C: wrapperspb.Int64(0), ProtectionLevel: v.pb.ProtectionLevel}, nil
	})
}

// Decrypt decrypts with the version that made the ciphertext, which must
// be ENABLED.
func (s *Server) Decrypt(_ context.Context, r *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	return rpc(s, "Decrypt", "cloudkms.cryptoKeyVersions.useToDecrypt", r.GetName(), s.key, func(k *cryptoKey) (*kmspb.DecryptResponse, error) {
		ct := r.GetCiphertext()
		if len(ct) < 2 {
			return nil, invalid("Decryption failed: the ciphertext is invalid.")
		}
		nl := int(ct[0])<<8 | int(ct[1])
		if len(ct) < 2+nl {
			return nil, invalid("Decryption failed: the ciphertext is invalid.")
		}
		vname := string(ct[2 : 2+nl])
		if !strings.HasPrefix(vname, k.pb.Name+"/cryptoKeyVersions/") {
			return nil, invalid("Decryption failed: the ciphertext was not made by %s.", k.pb.Name)
		}
		v, err := s.versionByName(vname)
		if err != nil {
			return nil, invalid("Decryption failed: the ciphertext is invalid.")
		}
		if v.pb.State != kmspb.CryptoKeyVersion_ENABLED {
			return nil, precondition("The request was made with a CryptoKeyVersion %s that is in state %s.", v.pb.Name, v.pb.State)
		}
		pt, err := open(v.material, ct[2+nl:], r.GetAdditionalAuthenticatedData())
		if err != nil {
			return nil, invalid("Decryption failed: the ciphertext is invalid.")
		}
		s.log(true, "Decrypt", r.GetName())
		return &kmspb.DecryptResponse{Plaintext: pt, UsedPrimary: k.primary() == v, ProtectionLevel: v.pb.ProtectionLevel}, nil
	})
}

func seal(key, vname, pt, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{byte(len(vname) >> 8), byte(len(vname))}, vname...)
	out = append(out, nonce...)
	return g.Seal(out, nonce, pt, aad), nil
}

func open(key, ct, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(ct) < g.NonceSize() {
		return nil, fmt.Errorf("short ciphertext")
	}
	return g.Open(nil, ct[:g.NonceSize()], ct[g.NonceSize():], aad)
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
