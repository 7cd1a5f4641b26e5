// Package kms is a small KMIP key server for the demo and for tests, built on
// ovh/kmip-go's kmipserver: mutual TLS on 127.0.0.1, an in-memory object
// store, and the operations keyward's poller and an administrator use
// (Create, Register, Locate, Get, Get Attributes, Activate, Revoke, Destroy,
// Discover Versions, in batches).
package kms

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipserver"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/engine"
)

// App seeds the KMS with one application's key generations: Prefix+"1" ..
// Prefix+N, the newest Active and the older ones Deactivated.
type App struct {
	Name        string // e.g. "crm"
	Prefix      string // e.g. "acme.crm.key."
	Generations int
}

// DemoApps are the two applications the demo seeds.
var DemoApps = []App{
	{Name: "crm", Prefix: "acme.crm.key.", Generations: 5},
	{Name: "hr", Prefix: "acme.hr.key.", Generations: 3},
}

// Options configure Start.
type Options struct {
	// Dir receives ca.pem, server.pem/server.key, client.pem/client.key
	// (keys mode 0600); created if missing.
	Dir string
	// Addr to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// Apps to seed.
	Apps []App
	// ClientCN is the common name of the client certificate (default "keyward").
	ClientCN string
	// Logger for the server (default: discard).
	Logger *slog.Logger
	// ExactNames makes Locate match Name exactly, without wildcards, like
	// PyKMIP and many commercial servers.
	ExactNames bool
	// LooseLocate makes Locate also return one object whose Name does not
	// match, like servers that have returned the wrong object for a Name.
	LooseLocate bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AfterLocate, when set, runs after each Locate is answered and before
	// the answer is sent: a test changes the KMS there (a rotation between
	// a poll's Locate and its reads).
	AfterLocate func()
	// AfterCreate, when set, runs after each Create is done and before its
	// answer is sent: a test cuts the connection there (an answer lost).
	AfterCreate func()
	// AfterGetAttributes, when set, runs after each Get Attributes is
	// done and before its answer is sent.
	AfterGetAttributes func()
}

// Server is a running embedded KMS.
type Server struct {
	opts     Options
	addr     string
	tlsCfg   *tls.Config
	CA       *pki.CA
	CAFile   string // PEM root that signed the server and client certificates
	CertFile string // client certificate for keyward
	KeyFile  string // client key for keyward

	// rotMu makes Rotate one at a time: two reading the same highest
	// version would both create the next.
	rotMu   sync.Mutex
	mu      sync.Mutex
	objects map[string]*object
	nextID  int
	counts  map[kmip.Operation]int
	byName  []*object // objects sorted by name; nil when stale
	// locateLimit caps every Locate answer, as servers with a limit of
	// their own do; locateTotal then reports the full count in Located
	// Items (KMIP 1.3+), or else only what was returned.
	locateLimit int
	locateTotal bool
	// ignoreOffset answers every Locate from its first item; noWildcards
	// refuses a Name holding * or ? (Invalid Field), as some servers do.
	ignoreOffset, noWildcards bool
	// duplicates answers every identifier of a Locate twice, as servers
	// that join several indexes without removing repeats do.
	duplicates bool
	// refuseFilters are attributes a Locate may not filter on (an error),
	// as servers that support only a few filters answer.
	refuseFilters map[kmip.AttributeName]bool
	refusals      map[refusal]bool
	srv           *kmipserver.Server
	unhook        func()
	// rewrite, when set, changes every answer before it is sent (a KMS
	// that answers what a client does not expect).
	rewrite func(req *kmip.RequestMessage, resp *kmip.ResponseMessage)
}

// RewriteAnswers has f change every answer before it is sent (nil: none
// again): tests make of the KMS one that answers what keyward does not
// expect (an item too many, a payload of another operation, a key of
// another length than its attributes say).
func (s *Server) RewriteAnswers(f func(req *kmip.RequestMessage, resp *kmip.ResponseMessage)) {
	s.mu.Lock()
	s.rewrite = f
	s.mu.Unlock()
}

// LoseNextCreateAnswer has the KMS carry out the next Create and lose its
// answer (the payload dropped, as a connection cut after the KMS made the
// key leaves the client without one): the key is on the KMS, Pre-Active,
// and the client never heard of it. The made key's identifier is sent on
// the returned channel; the answers after it are the KMS's own. It
// replaces any RewriteAnswers.
func (s *Server) LoseNextCreateAnswer() <-chan string {
	made := make(chan string, 1)
	var once sync.Once
	s.RewriteAnswers(func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if cr, ok := resp.BatchItem[i].ResponsePayload.(*payloads.CreateResponsePayload); ok && cr != nil {
				once.Do(func() {
					made <- cr.UniqueIdentifier
					resp.BatchItem[i].ResponsePayload = nil
				})
			}
		}
	})
	return made
}

// rewritten is the middleware that applies RewriteAnswers.
func (s *Server) rewritten(next kmipserver.Next, ctx context.Context, req *kmip.RequestMessage) (*kmip.ResponseMessage, error) {
	resp, err := next(ctx, req)
	s.mu.Lock()
	f := s.rewrite
	s.mu.Unlock()
	if f != nil && resp != nil {
		f(req, resp)
	}
	return resp, err
}

type object struct {
	uid        string
	name       string
	state      kmip.State
	alg        kmip.CryptographicAlgorithm
	length     int32
	usage      kmip.CryptographicUsageMask
	material   []byte
	initial    time.Time
	activation *time.Time
	deactivate *time.Time
	compromise *time.Time
	destroy    *time.Time
}

// Start creates the certificates, seeds the store and serves KMIP until ctx
// ends or Stop is called.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("kms: Options.Dir is required (certificates are written there)")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ClientCN == "" {
		o.ClientCN = "keyward"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	ca, err := pki.NewCA("keyward demo KMS root")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, CA: ca, objects: map[string]*object{}, counts: map[kmip.Operation]int{},
		CAFile: filepath.Join(o.Dir, "ca.pem"), CertFile: filepath.Join(o.Dir, "client.pem"), KeyFile: filepath.Join(o.Dir, "client.key")}
	srvCert, srvKey, err := ca.Issue(pki.IssueOptions{CommonName: "localhost", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		return nil, err
	}
	cliCert, cliKey, err := ca.Issue(pki.IssueOptions{CommonName: o.ClientCN, Client: true})
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"ca.pem", ca.PEM, 0o644}, {"server.pem", srvCert, 0o644}, {"server.key", srvKey, 0o600},
		{"client.pem", cliCert, 0o644}, {"client.key", cliKey, 0o600}}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(o.Dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("kms: %w", err)
		}
	}
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	for _, a := range o.Apps {
		for i := 1; i <= a.Generations; i++ {
			st := kmip.StateDeactivated
			if i == a.Generations {
				st = kmip.StateActive
			}
			age := time.Duration(a.Generations-i) * 30 * 24 * time.Hour
			if _, err := s.put(a.Prefix+strconv.Itoa(i), st, o.Now().Add(-age)); err != nil {
				return nil, err
			}
		}
	}
	if err := s.listen(o.Addr); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, s.Stop)
	s.unhook = func() { stop() }
	return s, nil
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("kms: listen %s: %w", addr, err)
	}
	exec := kmipserver.NewBatchExecutor()
	exec.Use(s.rewritten)
	s.routes(exec)
	// guardListener: see guard.go (a client leaving mid-request must not
	// crash the process the KMS runs in).
	srv := kmipserver.NewServer(guardListener{Listener: ln, cfg: s.tlsCfg}, exec).WithMaxMessageSize(maxMessage)
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve() }()
	return nil
}

// Addr is host:port the KMS listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every connection. Objects are kept, so
// Stop stops serving; Resume brings the same KMS back on the same address.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Shutdown()
	}
}

// Resume serves again on the address used before Stop.
func (s *Server) Resume() error {
	s.mu.Lock()
	running := s.srv != nil
	addr := s.addr
	s.mu.Unlock()
	if running {
		return nil
	}
	return s.listen(addr)
}

// Counts returns how many operations of each kind the KMS has served.
func (s *Server) Counts() map[kmip.Operation]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[kmip.Operation]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounts zeroes the operation counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// put stores a new AES-256 key (caller must not hold mu).
func (s *Server) put(name string, st kmip.State, created time.Time) (string, error) {
	m := make([]byte, 32)
	if _, err := rand.Read(m); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	o := &object{uid: strconv.Itoa(s.nextID), name: name, state: st, alg: kmip.CryptographicAlgorithmAES, length: 256,
		usage: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt, material: m, initial: created.UTC()}
	if st == kmip.StateActive || st == kmip.StateDeactivated {
		t := created.UTC()
		o.activation = &t
	}
	if st == kmip.StateDeactivated {
		t := created.Add(30 * 24 * time.Hour).UTC()
		o.deactivate = &t
	}
	s.objects[o.uid] = o
	s.byName = nil
	return o.uid, nil
}

// Rotate creates app's next generation (highest version + 1) as Active,
// then deactivates the previously Active ones, as a KMS administrator
// rotating a key would: the application is never without an Active key.
// It returns the new key's name.
func (s *Server) Rotate(app string) (string, error) {
	var prefix string
	for _, a := range s.opts.Apps {
		if a.Name == app {
			prefix = a.Prefix
		}
	}
	if prefix == "" {
		return "", fmt.Errorf("kms: unknown application %q", app)
	}
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	s.mu.Lock()
	high := 0
	for _, o := range s.objects {
		if p, n, ok := engine.SplitVersion(o.name); ok && p == prefix && n > high {
			high = n
		}
	}
	s.mu.Unlock()
	now := s.opts.Now().UTC()
	name := prefix + strconv.Itoa(high+1)
	uid, err := s.put(name, kmip.StateActive, now)
	if err != nil {
		return name, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.objects {
		if p, _, ok := engine.SplitVersion(o.name); ok && p == prefix && o.state == kmip.StateActive && o.uid != uid {
			o.state = kmip.StateDeactivated
			o.deactivate = &now
		}
	}
	return name, nil
}

// Rename gives object uid another name, as a KMS administrator's Modify
// Attribute of its Name would.
func (s *Server) Rename(uid, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[uid]
	if o == nil {
		return fmt.Errorf("kms: no object %q", uid)
	}
	o.name, s.byName = name, nil // the name index is rebuilt at the next Locate
	return nil
}

func (s *Server) count(op kmip.Operation) {
	s.mu.Lock()
	s.counts[op]++
	s.mu.Unlock()
}

func (s *Server) routes(exec *kmipserver.BatchExecutor) {
	exec.Route(kmip.OperationCreate, answered(s.create, s.opts.AfterCreate))
	exec.Route(kmip.OperationRegister, kmipserver.HandleFunc(s.register))
	exec.Route(kmip.OperationLocate, answered(s.locate, s.opts.AfterLocate))
	exec.Route(kmip.OperationGet, kmipserver.HandleFunc(s.get))
	exec.Route(kmip.OperationGetAttributes, answered(s.getAttributes, s.opts.AfterGetAttributes))
	exec.Route(kmip.OperationActivate, kmipserver.HandleFunc(s.activate))
	exec.Route(kmip.OperationRevoke, kmipserver.HandleFunc(s.revoke))
	exec.Route(kmip.OperationDestroy, kmipserver.HandleFunc(s.destroy))
}

// answered serves an operation with h, then runs hook (one of the
// Options' After* moments, when set) once h is done and before its answer
// is sent.
func answered[Req, Resp kmip.OperationPayload](h func(context.Context, Req) (Resp, error), hook func()) kmipserver.OperationHandler {
	return kmipserver.HandleFunc(func(ctx context.Context, req Req) (Resp, error) {
		resp, err := h(ctx, req)
		if hook != nil {
			hook()
		}
		return resp, err
	})
}

func nameOf(attrs []kmip.Attribute, names []kmip.Name) string {
	for _, n := range names {
		return n.NameValue
	}
	for _, a := range attrs {
		if a.AttributeName == kmip.AttributeNameName {
			if n, ok := a.AttributeValue.(kmip.Name); ok {
				return n.NameValue
			}
		}
	}
	return ""
}

// putPreActive stores a new pre-active object named by the template, lets
// set adjust it (its material) under the lock, and makes it the batch's
// placeholder.
func (s *Server) putPreActive(ctx context.Context, t kmip.TemplateAttribute, set func(o *object)) (string, error) {
	uid, err := s.put(nameOf(t.Attribute, t.Name), kmip.StatePreActive, s.opts.Now())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	o := s.objects[uid]
	o.activation, o.deactivate = nil, nil
	set(o)
	s.mu.Unlock()
	kmipserver.SetIdPlaceholder(ctx, uid)
	return uid, nil
}

func (s *Server) create(ctx context.Context, req *payloads.CreateRequestPayload) (*payloads.CreateResponsePayload, error) {
	s.count(kmip.OperationCreate)
	if req.ObjectType != kmip.ObjectTypeSymmetricKey {
		return nil, kmipserver.Errorf(kmip.ResultReasonFeatureNotSupported, "this KMS only creates symmetric keys")
	}
	length := int32(256)
	for _, a := range req.TemplateAttribute.Attribute {
		if a.AttributeName == kmip.AttributeNameCryptographicLength {
			if l, ok := a.AttributeValue.(int32); ok {
				length = l
			}
		}
	}
	if length%8 != 0 || length < 128 || length > 256 {
		return nil, kmipserver.Errorf(kmip.ResultReasonInvalidField, "cryptographic length %d not supported", length)
	}
	uid, err := s.putPreActive(ctx, req.TemplateAttribute, func(o *object) {
		if length != 256 {
			clear(o.material)
			o.material = o.material[:length/8]
			_, _ = rand.Read(o.material)
			o.length = length
		}
	})
	if err != nil {
		return nil, err
	}
	return &payloads.CreateResponsePayload{ObjectType: kmip.ObjectTypeSymmetricKey, UniqueIdentifier: uid}, nil
}

func (s *Server) register(ctx context.Context, req *payloads.RegisterRequestPayload) (*payloads.RegisterResponsePayload, error) {
	s.count(kmip.OperationRegister)
	sk, ok := req.Object.(*kmip.SymmetricKey)
	if !ok {
		return nil, kmipserver.Errorf(kmip.ResultReasonFeatureNotSupported, "this KMS only registers symmetric keys")
	}
	m, err := sk.KeyMaterial()
	if err != nil {
		return nil, kmipserver.Errorf(kmip.ResultReasonInvalidField, "key material: %v", err)
	}
	uid, err := s.putPreActive(ctx, req.TemplateAttribute, func(o *object) {
		clear(o.material)
		o.material = append([]byte(nil), m...)
		o.length = int32(8 * len(m))
	})
	if err != nil {
		return nil, err
	}
	return &payloads.RegisterResponsePayload{UniqueIdentifier: uid}, nil
}

// SetLocateLimit makes every Locate return at most n identifiers (0: no
// limit), whatever Maximum Items asks, reporting the full count in Located
// Items when reportTotal is set.
func (s *Server) SetLocateLimit(n int, reportTotal bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locateLimit, s.locateTotal = n, reportTotal
}

// SetLocateQuirks makes Locate ignore Offset Items (answering the first
// page again) and refuse wildcards in a Name, each as some servers do.
func (s *Server) SetLocateQuirks(ignoreOffset, refuseWildcards bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreOffset, s.noWildcards = ignoreOffset, refuseWildcards
}

// SetLocateDuplicates makes every Locate answer each identifier twice (or
// once again).
func (s *Server) SetLocateDuplicates(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicates = on
}

// RefuseLocateBy makes Locate refuse (or accept again) a request that
// filters on the attribute name, as a server that supports few filters does.
func (s *Server) RefuseLocateBy(name kmip.AttributeName, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseFilters == nil {
		s.refuseFilters = map[kmip.AttributeName]bool{}
	}
	s.refuseFilters[name] = refuse
}

// SetExactNames turns wildcard matching in Locate off (or back on) while the
// server runs, as when a failover KMS of another make takes over.
func (s *Server) SetExactNames(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ExactNames = on
}

func (s *Server) locate(ctx context.Context, req *payloads.LocateRequestPayload) (*payloads.LocateResponsePayload, error) {
	s.count(kmip.OperationLocate)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range req.Attribute {
		if s.refuseFilters[a.AttributeName] {
			return nil, kmipserver.Errorf(kmip.ResultReasonInvalidField, "Locate by %s is not supported", a.AttributeName)
		}
		if n, ok := a.AttributeValue.(kmip.Name); ok && s.noWildcards && strings.ContainsAny(n.NameValue, "*?") {
			return nil, kmipserver.Errorf(kmip.ResultReasonInvalidField, "wildcards in a Name are not supported")
		}
	}
	var out []*object
	var stray *object
	for _, o := range s.candidates(req.Attribute) {
		if s.matches(o, req.Attribute) {
			out = append(out, o)
		}
	}
	if s.opts.LooseLocate {
		for _, o := range s.objects {
			if !s.matches(o, req.Attribute) {
				stray = o
				break
			}
		}
	}
	if s.opts.LooseLocate && stray != nil {
		out = append(out, stray)
	}
	slices.SortFunc(out, func(a, b *object) int {
		ai, _ := strconv.Atoi(a.uid)
		bi, _ := strconv.Atoi(b.uid)
		return ai - bi
	})
	total := len(out)
	if off := int(req.OffsetItems); off > 0 && !s.ignoreOffset {
		out = out[min(off, len(out)):]
	}
	if mx := int(req.MaximumItems); mx > 0 && len(out) > mx {
		out = out[:mx]
	}
	if s.locateLimit > 0 && len(out) > s.locateLimit {
		out = out[:s.locateLimit]
	}
	resp := &payloads.LocateResponsePayload{}
	for _, o := range out {
		resp.UniqueIdentifier = append(resp.UniqueIdentifier, o.uid)
		if s.duplicates {
			resp.UniqueIdentifier = append(resp.UniqueIdentifier, o.uid)
		}
	}
	n := int32(len(resp.UniqueIdentifier))
	if s.locateTotal {
		n = int32(total)
	}
	resp.LocatedItems = &n
	return resp, nil
}

func (s *Server) matches(o *object, attrs []kmip.Attribute) bool {
	for _, a := range attrs {
		switch a.AttributeName {
		case kmip.AttributeNameName:
			n, _ := a.AttributeValue.(kmip.Name)
			if s.opts.ExactNames {
				if n.NameValue != o.name {
					return false
				}
			} else if ok, _ := path.Match(n.NameValue, o.name); !ok {
				return false
			}
		case kmip.AttributeNameObjectType:
			if t, _ := a.AttributeValue.(kmip.ObjectType); t != kmip.ObjectTypeSymmetricKey {
				return false
			}
		case kmip.AttributeNameState:
			if st, _ := a.AttributeValue.(kmip.State); st != o.state {
				return false
			}
		case kmip.AttributeNameCryptographicAlgorithm:
			if al, _ := a.AttributeValue.(kmip.CryptographicAlgorithm); al != o.alg {
				return false
			}
		}
	}
	return true
}

func (s *Server) lookup(ctx context.Context, id string) (*object, error) {
	uid, err := kmipserver.GetIdOrPlaceholder(ctx, id)
	if err != nil {
		return nil, kmipserver.ErrMissingData
	}
	o := s.objects[uid]
	if o == nil {
		return nil, kmipserver.Errorf(kmip.ResultReasonItemNotFound, "no object %q", uid)
	}
	return o, nil
}

// onObject counts op and runs do on the object id names (the batch's
// placeholder when empty) under the server lock; an unknown object is
// refused as lookup says.
// refusal is one operation on one object that the server denies.
type refusal struct {
	op  kmip.Operation
	uid string
}

// SetRefusal makes the server deny op on the object uid (or allow it
// again), as a KMS whose policy forbids one key, or a failing disk, does.
func (s *Server) SetRefusal(op kmip.Operation, uid string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusals == nil {
		s.refusals = map[refusal]bool{}
	}
	s.refusals[refusal{op, uid}] = deny
}

func onObject[R any](ctx context.Context, s *Server, op kmip.Operation, id string, do func(o *object) (R, error)) (R, error) {
	s.count(op)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusals[refusal{op, id}] {
		var none R
		return none, kmipserver.Errorf(kmip.ResultReasonPermissionDenied, "%s of object %s is denied by policy", ttlv.EnumStr(op), id)
	}
	o, err := s.lookup(ctx, id)
	if err != nil {
		var none R
		return none, err
	}
	return do(o)
}

func (s *Server) get(ctx context.Context, req *payloads.GetRequestPayload) (*payloads.GetResponsePayload, error) {
	return onObject(ctx, s, kmip.OperationGet, req.UniqueIdentifier, func(o *object) (*payloads.GetResponsePayload, error) {
		if o.material == nil {
			return nil, kmipserver.Errorf(kmip.ResultReasonPermissionDenied, "object %s is destroyed", o.uid)
		}
		m := append([]byte(nil), o.material...)
		return &payloads.GetResponsePayload{ObjectType: kmip.ObjectTypeSymmetricKey, UniqueIdentifier: o.uid,
			Object: &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{KeyFormatType: kmip.KeyFormatTypeRaw, CryptographicAlgorithm: o.alg,
				CryptographicLength: o.length, KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &m}}}}}}, nil
	})
}

func (s *Server) getAttributes(ctx context.Context, req *payloads.GetAttributesRequestPayload) (*payloads.GetAttributesResponsePayload, error) {
	return onObject(ctx, s, kmip.OperationGetAttributes, req.UniqueIdentifier, func(o *object) (*payloads.GetAttributesResponsePayload, error) {
		all := []kmip.Attribute{
			{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: o.uid},
			{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeSymmetricKey},
			{AttributeName: kmip.AttributeNameState, AttributeValue: o.state},
			{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: o.alg},
			{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: o.length},
			{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: o.usage},
			{AttributeName: kmip.AttributeNameInitialDate, AttributeValue: o.initial},
		}
		if o.name != "" {
			all = append(all, kmip.Attribute{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{NameValue: o.name, NameType: kmip.NameTypeUninterpretedTextString}})
		}
		for _, d := range []struct {
			n kmip.AttributeName
			t *time.Time
		}{{kmip.AttributeNameActivationDate, o.activation}, {kmip.AttributeNameDeactivationDate, o.deactivate},
			{kmip.AttributeNameCompromiseDate, o.compromise}, {kmip.AttributeNameDestroyDate, o.destroy}} {
			if d.t != nil {
				all = append(all, kmip.Attribute{AttributeName: d.n, AttributeValue: *d.t})
			}
		}
		resp := &payloads.GetAttributesResponsePayload{UniqueIdentifier: o.uid}
		for _, a := range all {
			if len(req.AttributeName) == 0 || slices.Contains(req.AttributeName, a.AttributeName) {
				resp.Attribute = append(resp.Attribute, a)
			}
		}
		return resp, nil
	})
}

func (s *Server) activate(ctx context.Context, req *payloads.ActivateRequestPayload) (*payloads.ActivateResponsePayload, error) {
	return onObject(ctx, s, kmip.OperationActivate, req.UniqueIdentifier, func(o *object) (*payloads.ActivateResponsePayload, error) {
		if o.state != kmip.StatePreActive {
			return nil, kmipserver.Errorf(kmip.ResultReasonPermissionDenied, "object %s is not pre-active", o.uid)
		}
		now := s.opts.Now().UTC()
		o.state, o.activation = kmip.StateActive, &now
		return &payloads.ActivateResponsePayload{UniqueIdentifier: o.uid}, nil
	})
}

func (s *Server) revoke(ctx context.Context, req *payloads.RevokeRequestPayload) (*payloads.RevokeResponsePayload, error) {
	return onObject(ctx, s, kmip.OperationRevoke, req.UniqueIdentifier, func(o *object) (*payloads.RevokeResponsePayload, error) {
		now := s.opts.Now().UTC()
		switch req.RevocationReason.RevocationReasonCode {
		case kmip.RevocationReasonCodeKeyCompromise, kmip.RevocationReasonCodeCACompromise:
			if o.state == kmip.StateDestroyed {
				o.state = kmip.StateDestroyedCompromised
			} else {
				o.state = kmip.StateCompromised
			}
			o.compromise = &now
		default:
			if o.state != kmip.StateActive {
				return nil, kmipserver.Errorf(kmip.ResultReasonPermissionDenied, "object %s is not active", o.uid)
			}
			o.state, o.deactivate = kmip.StateDeactivated, &now
		}
		return &payloads.RevokeResponsePayload{UniqueIdentifier: o.uid}, nil
	})
}

func (s *Server) destroy(ctx context.Context, req *payloads.DestroyRequestPayload) (*payloads.DestroyResponsePayload, error) {
	return onObject(ctx, s, kmip.OperationDestroy, req.UniqueIdentifier, func(o *object) (*payloads.DestroyResponsePayload, error) {
		if o.state == kmip.StateActive {
			return nil, kmipserver.Errorf(kmip.ResultReasonPermissionDenied, "object %s is active: revoke it first", o.uid)
		}
		now := s.opts.Now().UTC()
		if o.state == kmip.StateCompromised {
			o.state = kmip.StateDestroyedCompromised
		} else {
			o.state = kmip.StateDestroyed
		}
		o.destroy = &now
		clear(o.material)
		o.material = nil
		return &payloads.DestroyResponsePayload{UniqueIdentifier: o.uid}, nil
	})
}

// candidates narrows a Locate to the objects whose name starts with the
// literal prefix of a Name pattern, using the name-sorted index (rebuilt
// after changes), so locating one application among thousands of keys does
// not scan them all.
func (s *Server) candidates(attrs []kmip.Attribute) []*object {
	prefix, ok := "", false
	for _, a := range attrs {
		if a.AttributeName == kmip.AttributeNameName {
			n, _ := a.AttributeValue.(kmip.Name)
			prefix, ok = n.NameValue, true
			if !s.opts.ExactNames {
				if i := strings.IndexAny(prefix, "*?[\\"); i >= 0 {
					prefix = prefix[:i]
				}
			}
		}
	}
	if s.byName == nil {
		s.byName = make([]*object, 0, len(s.objects))
		for _, o := range s.objects {
			s.byName = append(s.byName, o)
		}
		slices.SortFunc(s.byName, func(a, b *object) int { return strings.Compare(a.name, b.name) })
	}
	if !ok {
		return s.byName
	}
	lo, _ := slices.BinarySearchFunc(s.byName, prefix, func(o *object, p string) int { return strings.Compare(o.name, p) })
	hi := lo
	for hi < len(s.byName) && strings.HasPrefix(s.byName[hi].name, prefix) {
		hi++
	}
	return s.byName[lo:hi]
}
